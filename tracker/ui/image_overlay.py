"""An image with its bounding boxes and segmentation masks drawn over it (W&B's image overlays).

Boxes (``Image(boxes={group: {"box_data": [...], "class_labels": {...}}})``) are drawn as outlines in
their class's colour, labelled with the class name (or ``box_caption``) and their scores; the
controls keep the boxes of chosen classes whose score reaches a threshold, per group. Masks
(``Image(masks={group: {"mask_data": ..., "class_labels": {...}}})``) are drawn as a translucent
layer: a colour per class, a toggle per class, and the layer's opacity. The filtering is done in the
kernel: the page receives only what is shown.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Colours of classes, by class id (cycled).
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def colour_of(class_id: Any) -> str:
    try:
        return PALETTE[int(class_id) % len(PALETTE)]
    except (TypeError, ValueError):
        return PALETTE[hash(str(class_id)) % len(PALETTE)]


def box_rows(group: dict[str, Any], width: int, height: int, classes: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """A box group's boxes in pixels (Bokeh's y axis points up): left, right, top, bottom, class
    id and name, score (the first score, or None), label and colour. Positions are fractions of the
    image unless the box says ``"domain": "pixel"``; ``minX/maxX/minY/maxY`` or ``middle`` with
    ``width``/``height``, as W&B takes them."""
    labels = {str(k): str(v) for k, v in (group.get("class_labels") or classes or {}).items()}
    rows = []
    for box in group.get("box_data") or []:
        if not isinstance(box, dict) or not isinstance(box.get("position"), dict):
            continue
        pos = box["position"]
        sx, sy = (1.0, 1.0) if box.get("domain") == "pixel" else (float(width), float(height))
        try:
            if "middle" in pos:
                mx, my = (float(v) for v in pos["middle"])
                bw, bh = float(pos["width"]), float(pos["height"])
                x0, x1, y0, y1 = mx - bw / 2, mx + bw / 2, my - bh / 2, my + bh / 2
            else:
                x0, x1, y0, y1 = (float(pos[k]) for k in ("minX", "maxX", "minY", "maxY"))
        except (KeyError, TypeError, ValueError):
            continue
        cid = box.get("class_id")
        name = labels.get(str(cid), str(cid) if cid is not None else "")
        raw = box.get("scores")
        scores: dict[str, Any] = raw if isinstance(raw, dict) else {}
        score = next((float(v) for v in scores.values() if isinstance(v, (int, float))), None)
        caption = box.get("box_caption") or name
        label = caption + "".join(f" {k} {float(v):.2f}" for k, v in scores.items() if isinstance(v, (int, float)))
        rows.append({"left": x0 * sx, "right": x1 * sx, "top": height - y0 * sy, "bottom": height - y1 * sy,
                     "class_id": cid, "class": name, "score": score, "label": label, "colour": colour_of(cid)})
    return rows


def mask_layer(mask: Any, shown: set[int], opacity: float) -> Any:
    """An RGBA layer (Bokeh's uint32 view, rows bottom-up) colouring the shown classes of a mask."""
    import numpy as np

    m = np.asarray(mask)
    h, w = m.shape[:2]
    rgba = np.zeros((h, w, 4), dtype=np.uint8)
    for cid in np.unique(m).tolist():
        if cid not in shown:
            continue
        r, g, b = _rgb(colour_of(cid))
        hit = m == cid
        rgba[hit] = (r, g, b, int(round(255 * opacity)))
    return np.ascontiguousarray(rgba[::-1]).view(dtype=np.uint32).reshape(h, w)


class ImageOverlay:
    """One image with its boxes and masks, and the controls that filter them."""

    def __init__(self, item: Any) -> None:
        import ipywidgets as w
        import numpy as np
        from bokeh.models import ColumnDataSource, HoverTool
        from bokeh.plotting import figure

        from tracker.ui.bokeh import bokeh_widget

        rec = item.record
        classes = {str(c.get("id")): str(c.get("name")) for c in rec.get("classes") or [] if isinstance(c, dict)}
        a = np.asarray(item.load())
        if a.ndim == 2:
            a = np.stack([a] * 3, axis=-1)
        if a.shape[-1] == 3:
            a = np.concatenate([a, np.full(a.shape[:2] + (1,), 255, dtype=a.dtype)], axis=-1)
        a = np.ascontiguousarray(a.astype(np.uint8)[::-1])
        h, wid = a.shape[:2]
        self.height, self.width = h, wid
        fig = figure(width=min(760, max(320, wid * 2)), height=min(560, max(240, h * 2)), match_aspect=True,
                     tools="pan,wheel_zoom,box_zoom,reset,save", active_scroll="wheel_zoom",
                     x_range=(0, wid), y_range=(0, h), title=rec.get("caption") or None)
        fig.background_fill_color = fig.border_fill_color = None
        fig.toolbar.logo = None
        fig.xaxis.visible = fig.yaxis.visible = False
        fig.image_rgba(image=[a.view(dtype=np.uint32).reshape(h, wid)], x=0, y=0, dw=wid, dh=h)
        self.fig = fig
        controls: list[Any] = []
        # masks: one translucent layer per group, under the boxes
        self.masks: dict[str, Any] = {}
        self.mask_sources: dict[str, Any] = {}
        self.mask_classes: dict[str, Any] = {}
        files = item.files
        for name, spec in (rec.get("masks") or {}).items():
            path = files.get(f"{name}.mask.png")
            if path is None:
                continue
            from PIL import Image as PILImage

            with PILImage.open(path) as im:
                mask = np.asarray(im)
            self.masks[name] = mask
            labels = {int(k): str(v) for k, v in (spec.get("class_labels") or classes).items()
                      if str(k).lstrip("-").isdigit()}
            present = [int(c) for c in np.unique(mask).tolist() if c != 0 or 0 in labels]
            self.mask_classes[name] = w.SelectMultiple(
                options=[(f"{labels.get(c, c)}", c) for c in present], value=tuple(present),
                description=f"{name}", rows=min(6, max(2, len(present))), layout=w.Layout(width="260px"))
            src = ColumnDataSource({"image": [mask_layer(mask, set(present), 0.5)]})
            fig.image_rgba(image="image", x=0, y=0, dw=wid, dh=h, source=src)
            self.mask_sources[name] = src
            self.mask_classes[name].observe(lambda _c: self.update(), "value")
            controls.append(self.mask_classes[name])
        self.opacity = w.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="mask opacity",
                                     layout=w.Layout(width="300px", display="" if self.masks else "none"))
        self.opacity.observe(lambda _c: self.update(), "value")
        # boxes: per group, outlines and labels from one source each
        self.boxes: dict[str, list[dict[str, Any]]] = {}
        self.box_sources: dict[str, Any] = {}
        names: dict[str, None] = {}  # the classes of the boxes, in order of appearance
        for group, spec in (rec.get("boxes") or {}).items():
            rows = box_rows(spec if isinstance(spec, dict) else {}, wid, h, classes)
            self.boxes[group] = rows
            for r in rows:
                names[r["class"]] = None
            src = ColumnDataSource(self._columns(rows))
            quads = fig.quad(left="left", right="right", top="top", bottom="bottom", source=src, fill_alpha=0.0,
                             line_color="colour", line_width=2)
            fig.text(x="left", y="top", text="label", source=src, text_font_size="11px", text_color="#ffffff",
                     text_baseline="bottom", background_fill_color="colour", background_fill_alpha=0.85)
            fig.add_tools(HoverTool(renderers=[quads], tooltips=[("group", group), ("box", "@label")]))
            self.box_sources[group] = src
        scores = [r["score"] for rows in self.boxes.values() for r in rows if r["score"] is not None]
        self.box_classes = w.SelectMultiple(options=list(names), value=tuple(names), description="classes",
                                            rows=min(6, max(2, len(names))), layout=w.Layout(width="260px"))
        self.threshold = w.FloatSlider(value=min(scores) if scores else 0.0, min=min(scores) if scores else 0.0,
                                       max=max(scores) if scores else 1.0, step=0.01, description="min score",
                                       layout=w.Layout(width="300px", display="" if scores else "none"))
        self.groups = w.SelectMultiple(options=list(self.boxes), value=tuple(self.boxes), description="box groups",
                                       rows=min(4, max(2, len(self.boxes))), layout=w.Layout(width="260px"))
        for control in (self.box_classes, self.threshold, self.groups):
            control.observe(lambda _c: self.update(), "value")
        if self.boxes:
            controls[:0] = [self.groups, self.box_classes]
        self.widget = w.VBox([w.HBox(controls, layout=w.Layout(flex_flow="row wrap")),
                              w.HBox([self.threshold, self.opacity]), bokeh_widget(fig)])

    @staticmethod
    def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
        keys = ("left", "right", "top", "bottom", "label", "colour")
        return {k: [r[k] for r in rows] for k in keys}

    def shown_boxes(self, group: str) -> list[dict[str, Any]]:
        """The boxes of a group that the controls keep."""
        if group not in self.groups.value:
            return []
        keep = set(self.box_classes.value)
        limit = self.threshold.value if self.threshold.layout.display != "none" else None
        return [r for r in self.boxes[group]
                if r["class"] in keep and (limit is None or r["score"] is None or r["score"] >= limit - 1e-9)]

    def update(self) -> None:
        """Send the page what the controls keep."""
        for group, src in self.box_sources.items():
            src.data = self._columns(self.shown_boxes(group))
        for name, src in self.mask_sources.items():
            src.data = {"image": [mask_layer(self.masks[name], set(self.mask_classes[name].value), self.opacity.value)]}
