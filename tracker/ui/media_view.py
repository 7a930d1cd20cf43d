"""The Media tab (W&B's media panels, ClearML's debug samples): per key, newest step first, a slider
over the logged steps with previous / next, and a viewer for each kind. A list logged under one key
at one step shows whole: images as a grid, each with its caption below it, other kinds side by side.

An image alone is drawn in a Bokeh figure (wheel zoom, pan, and the pixel's coordinates and value on
hover); audio and video get players; tables a sortable grid; histograms the selected step's bars and a
heat map over steps; logged HTML a sandboxed iframe; matplotlib figures their PNG; Bokeh figures
themselves (unless they carry JavaScript callbacks, which are never run outside a sandbox).
"""

from __future__ import annotations

import os
import threading

from tracker.ui.html import escape as _e

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

#: Keys of the histograms ``run.watch`` logs: shown on the Model tab, not here, in a run that watched.
WATCHED = ("gradients/", "parameters/")
#: Rows of a logged table shown in the grid.
TABLE_ROWS = 10_000
#: Items of one step shown side by side (a list logged under one key); the rest are counted.
GRID_ITEMS = 64
#: A grid's images are drawn at their own width, small ones scaled up to at least TILE_MIN pixels
#: (whole multiples, pixels kept sharp), large ones down to TILE_MAX; never wider than the panel.
TILE_MIN, TILE_MAX = 96, 320
#: Image formats a browser shows as they are stored (others are sent as PNG).
_WEB_IMAGES = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg", "gif": "gif", "webp": "webp", "bmp": "bmp"}
_MUTED = "color:var(--jp-ui-font-color2, #888)"


#: Rows of a logged table whose image cells are drawn as thumbnails.
THUMB_ROWS = 200
THUMB_PX = 56


def _thumbnail(item: Any) -> str | None:
    """A media image as a small PNG data URI (None when its file cannot be read)."""
    import base64
    import io

    try:
        from PIL import Image as PILImage

        with PILImage.open(item.path) as src:
            thumb = src.convert("RGBA")
        scale = THUMB_PX / max(thumb.size)
        if scale < 1:
            thumb = thumb.resize((max(1, round(thumb.width * scale)), max(1, round(thumb.height * scale))))
        out = io.BytesIO()
        thumb.save(out, format="PNG")
    except (OSError, ValueError):
        return None
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


#: Bytes of a file a download link carries (larger ones: their path).
DOWNLOAD_BYTES = 50 * 2**20


def sample_name(item: Any) -> str:
    """A media item's file name for a download: its key (``/`` as ``_``), step and place in the
    step's list, and its extension (``val_samples_step12_3.png``)."""
    import re

    ext = os.path.splitext(item.path or "")[1] or ".bin"
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.key).strip("_") or "sample"
    index = f"_{item.index}" if item.record.get("index") is not None else ""  # one of a list logged at one step
    return f"{base}_step{item.step}{index}{ext}"


def histogram_heat(items: list[Any], title: str, width: int = 380, height: int = 260) -> Any:
    """A Bokeh heat map of histograms over steps (``items``: histogram media items in step order):
    each step's counts put on one grid of 64 bins spanning every step's range."""
    import numpy as np
    from bokeh.models import LinearColorMapper
    from bokeh.plotting import figure

    lo = min(float(i.record["bins"][0]) for i in items)
    hi = max(float(i.record["bins"][-1]) for i in items)
    if hi <= lo:
        hi = lo + 1.0
    grid = np.linspace(lo, hi, 65)
    mat = np.zeros((len(items), 64))
    for r, it in enumerate(items):
        b = np.asarray(it.record["bins"], dtype=float)
        c = np.asarray(it.record["counts"], dtype=float)
        centres = (b[:-1] + b[1:]) / 2
        mat[r] = np.histogram(centres, bins=grid, weights=c)[0]
    steps = [i.step for i in items]
    heat = figure(width=width, height=height, title=title, x_axis_label="value", y_axis_label="step",
                  tools="pan,wheel_zoom,reset,save")
    heat.image(image=[mat], x=lo, y=min(steps), dw=hi - lo, dh=max(1, max(steps) - min(steps)),
               color_mapper=LinearColorMapper(palette="Viridis256", low=0, high=float(mat.max() or 1)))
    heat.background_fill_color = heat.border_fill_color = None
    heat.toolbar.logo = None
    return heat


def tile_width(width: int, height: int, count: int = 2) -> int:
    """The width an image of ``width`` x ``height`` pixels is drawn at in a grid of ``count``."""
    if width <= 0:
        return TILE_MIN
    if width < TILE_MIN:
        return width * -(-TILE_MIN // width)  # whole multiples: every pixel the same size
    return width if count == 1 else min(width, TILE_MAX)


def natural_layout(width: Any = None) -> Any:
    """A media widget's layout: its own width (when known) up to the panel's, never stretched."""
    import ipywidgets as w

    px = f"{int(width)}px" if isinstance(width, (int, float)) and width > 0 else "auto"
    return w.Layout(width=px, max_width="100%", height="auto", align_self="flex-start")


class MediaView:
    def __init__(self, run: Any, on_error: Callable[[BaseException], None] | None = None) -> None:
        import ipywidgets as w

        self.run = run
        self._on_error = on_error
        self.lock = threading.RLock()
        self.items: dict[str, list[Any]] = {}   # key -> items, newest step first
        #: key -> the items of each step (a list logged at one step: in its order), newest step first
        self.steps: dict[str, list[list[Any]]] = {}
        self._count = -1
        self.key = w.Dropdown(description="key", layout=w.Layout(width="300px"))
        self.slider = w.IntSlider(value=0, min=0, max=0, description="newest →", continuous_update=False,
                                  layout=w.Layout(width="420px", max_width="100%"))
        self.prev = w.Button(description="previous", icon="chevron-left", layout=w.Layout(width="110px"))
        self.next = w.Button(description="next", icon="chevron-right", layout=w.Layout(width="110px"))
        self.caption = w.HTML()
        self.area = w.VBox([], layout=w.Layout(width="100%"))
        self.prev.on_click(lambda _b: self.step(+1))
        self.next.on_click(lambda _b: self.step(-1))
        self.key.observe(lambda _c: self._on_key(), "value")
        self.slider.observe(lambda _c: self.show(), "value")
        self._image_fig: Any = None
        self.image_source: Any = None  # the shown image's Bokeh data source (None until one shows)
        self.plot_fig: Any = None  # the shown plot helper's Bokeh figure (None until one shows)
        self.overlay: Any = None  # the shown image with boxes or masks (tracker.ui.image_overlay)
        self.table_data: Any = None  # the shown table's cells as sent to the page
        self.points_view: Any = None  # the shown point cloud or molecule (tracker.ui.points_view)
        self._image_model: Any = None
        self.download = w.Button(description="download", icon="download", layout=w.Layout(width="120px"),
                                 tooltip="save the shown item's file under its key and step")
        self.download_link = w.HTML()
        self.download.on_click(lambda _b: self.make_download())
        controls = w.Box([self.key, self.prev, self.slider, self.next, self.download, self.download_link],
                         layout=w.Layout(display="flex", flex_flow="row wrap", align_items="center", width="100%"))
        self.widget = w.VBox([controls, self.caption, self.area], layout=w.Layout(width="100%"))
        self.refresh()

    def refresh(self, only_if_new: bool = False) -> None:
        """Re-read the media index (when ``only_if_new``, only if items were added)."""
        items = self.run.media()
        total = len(items)
        if only_if_new and total == self._count:
            return
        if hasattr(self.run, "model_graphs") and self.run.model_graphs():  # run.watch's histograms: the Model tab's
            items = [i for i in items if not (i.kind == "histogram" and i.key.startswith(WATCHED))]
        with self.lock:
            self._count = total
            by_key: dict[str, list[Any]] = {}
            for item in items:
                by_key.setdefault(item.key, []).append(item)
            self.items = {k: v[::-1] for k, v in sorted(by_key.items())}
            self.steps = {}
            for k, v in sorted(by_key.items()):
                groups: list[list[Any]] = []
                for item in v:  # in step order, a step's list in its order
                    if groups and groups[-1][0].step == item.step:
                        groups[-1].append(item)
                    else:
                        groups.append([item])
                self.steps[k] = [sorted(g, key=lambda i: i.index) for g in groups[::-1]]
            current = self.key.value
            self.key.options = list(self.items)
            self.key.value = current if current in self.items else next(iter(self.items), None)
            self._on_key(keep_position=current == self.key.value)

    def _on_key(self, keep_position: bool = False) -> None:
        steps = self.steps.get(self.key.value) or []
        self.slider.max = max(0, len(steps) - 1)
        if not keep_position:
            self.slider.value = 0
        self.show()

    def step(self, delta: int) -> None:
        """Move to an older (+1) or newer (-1) step."""
        self.slider.value = min(self.slider.max, max(0, self.slider.value + delta))

    def current_items(self) -> list[Any]:
        """The items of the step shown (one, or the list logged under the key at that step)."""
        steps = self.steps.get(self.key.value) or []
        return steps[min(self.slider.value, len(steps) - 1)] if steps else []

    def current(self) -> Any:
        """The (first) item of the step shown; None when the key has none."""
        items = self.current_items()
        return items[0] if items else None

    def make_download(self) -> None:
        """Links that save the shown step's files under their own names: ``<key>_step<step>[_<n>].<ext>``
        (ClearML's debug-sample download); an item over DOWNLOAD_BYTES gives its path instead."""
        import base64

        links = []
        for item in self.current_items():
            path = item.path
            if path is None:
                continue
            name = sample_name(item)
            size = os.path.getsize(path)
            if size > DOWNLOAD_BYTES:
                links.append(f"<span title='{_e(path)}'>{_e(name)}: {size // 2**20} MB, in the run's folder</span>")
                continue
            href = "data:application/octet-stream;base64," + base64.b64encode(item.read_bytes()).decode()
            links.append(f"<a download='{_e(name)}' href='{href}'>save {_e(name)}</a>")
        self.download_link.value = " · ".join(links) or f"<i style='{_MUTED}'>nothing to download</i>"

    def show(self) -> None:
        import ipywidgets as w

        self.download_link.value = ""
        items = self.current_items()
        if not items:
            self.caption.value = f"<i style='{_MUTED}'>no media logged</i>"
            self.area.children = []
            return
        item = items[0]
        rec = item.record
        if len(items) == 1:
            facts = ", ".join(f"{k} {v}" for k, v in rec.items()
                              if k in ("width", "height", "channels", "format", "sample_rate", "duration", "rows",
                                       "fps", "frames", "points", "library") and v is not None)
            what = ((f" #{rec['index']}" if "index" in rec else "")
                    + (f": {_e(rec['caption'])}" if rec.get("caption") else ""))
        else:
            facts = f"{len(items)} items"
            what = ""
        self.caption.value = (f"<span style='color:var(--jp-ui-font-color1, inherit)'><b>{_e(item.key)}</b> "
                              f"step {item.step}{what} <span style='{_MUTED}'>{_e(facts)}</span></span>")
        try:
            if len(items) == 1:
                view = self._view(item)
            elif all(i.kind == "image" for i in items):
                view = self._image_grid(items)
            else:
                view = self._gallery(items)
            self.area.children = [view]
        except Exception as exc:  # noqa: BLE001 - an unreadable file shows why, the tab stays usable
            self.area.children = [w.HTML(f"<i>cannot show this item: {_e(exc)}</i>")]
            if self._on_error is not None:
                self._on_error(exc)

    def _view(self, item: Any) -> Any:
        import ipywidgets as w

        kind = item.kind
        if kind == "image" and (item.record.get("boxes") or item.record.get("masks")):
            from tracker.ui.image_overlay import ImageOverlay

            self.overlay = ImageOverlay(item)  # boxes and masks over the image, with their filters
            return self.overlay.widget
        if kind == "image":
            return self._image(item.load())
        if kind == "audio":
            return w.Audio(value=item.read_bytes(), format=item.record.get("format", "wav"), autoplay=False)
        if kind == "video":
            return self._video(item)
        if kind == "html":
            from tracker.api.media import sandboxed_iframe

            return w.HTML(sandboxed_iframe(item.read_bytes().decode("utf-8", "replace"), height=360))
        if kind == "table":
            return self._table(item.load(), item)
        if kind == "histogram":
            return self._histogram(item)
        if kind in ("object3d", "molecule"):
            return self._points(item)
        if kind == "figure":
            return self._figure(item)
        if kind == "plot":
            return self._plot(item)
        return w.HTML(f"<pre>{_e(item.record)}</pre>")

    # --- viewers ------------------------------------------------------------------------------
    def _video(self, item: Any) -> Any:
        """A player at the video's own size, never wider than the panel (a GIF as an image)."""
        import ipywidgets as w

        fmt = item.record.get("format", "mp4")
        layout = natural_layout(item.record.get("width"))
        if fmt == "gif":
            return w.Image(value=item.read_bytes(), format="gif", layout=layout)
        return w.Video(value=item.read_bytes(), format=fmt, autoplay=False, loop=False, layout=layout)

    def _image_grid(self, items: list[Any]) -> Any:
        """A step's images side by side, each with its caption below it, in rows that wrap."""
        import base64

        import ipywidgets as w

        tiles = []
        for item in items[:GRID_ITEMS]:
            rec = item.record
            data, mime = self._web_image(item)
            wid, hei = int(rec.get("width") or 0), int(rec.get("height") or 0)
            shown = tile_width(wid, hei, len(items))
            sharp = ";image-rendering:pixelated" if wid and shown > wid else ""
            caption = rec.get("caption")
            label = _e(caption) if caption else f"<span style='{_MUTED}'>#{item.index}</span>"
            size = f" width='{wid}' height='{hei}'" if wid and hei else ""
            tiles.append(
                "<figure class='tracker-media-tile' style='margin:0 12px 12px 0;display:flex;flex-direction:column;"
                f"align-items:center;max-width:100%'><img src='data:image/{mime};base64,"
                f"{base64.b64encode(data).decode('ascii')}'{size} alt='{_e(caption or f'#{item.index}')}' "
                f"style='width:{shown}px;max-width:100%;height:auto{sharp}'>"
                f"<figcaption style='font-size:12px;color:var(--jp-ui-font-color1, inherit);margin-top:3px;"
                f"max-width:{max(shown, 120)}px;text-align:center;word-break:break-word'>{label}</figcaption></figure>")
        more = (f"<div style='{_MUTED};font-size:12px'>{len(items) - GRID_ITEMS} more at this step, not shown</div>"
                if len(items) > GRID_ITEMS else "")
        return w.HTML("<div class='tracker-media-grid' style='display:flex;flex-flow:row wrap;"
                      f"align-items:flex-start'>{''.join(tiles)}</div>{more}", layout=w.Layout(width="100%"))

    @staticmethod
    def _web_image(item: Any) -> tuple[bytes, str]:
        """An image's bytes as a browser shows them, and their MIME subtype."""
        fmt = str(item.record.get("format") or "").lower()
        if fmt in _WEB_IMAGES:
            return item.read_bytes(), _WEB_IMAGES[fmt]
        import io

        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(item.load()).save(buf, format="PNG")
        return buf.getvalue(), "png"

    def _gallery(self, items: list[Any]) -> Any:
        """A step's items of other kinds (audio, video, ...) side by side, each with its caption."""
        import ipywidgets as w

        cells = []
        for item in items[:GRID_ITEMS]:
            caption = item.record.get("caption")
            label = _e(caption) if caption else f"<span style='{_MUTED}'>#{item.index}</span>"
            view = self._video(item) if item.kind == "video" else self._view(item)
            cells.append(w.VBox([view, w.HTML(f"<span style='font-size:12px;color:var(--jp-ui-font-color1, "
                                              f"inherit)'>{label}</span>")],
                                layout=w.Layout(margin="0 12px 12px 0", max_width="100%", width="auto")))
        return w.Box(cells, layout=w.Layout(display="flex", flex_flow="row wrap", align_items="flex-start",
                                            width="100%"))

    def _image(self, arr: Any) -> Any:
        import numpy as np
        from bokeh.models import ColumnDataSource, HoverTool
        from bokeh.plotting import figure

        from tracker.ui.bokeh import bokeh_widget

        a = np.asarray(arr)
        if a.ndim == 2:
            a = np.stack([a] * 3, axis=-1)
        if a.shape[-1] == 3:
            a = np.concatenate([a, np.full(a.shape[:2] + (1,), 255, dtype=a.dtype)], axis=-1)
        a = np.ascontiguousarray(a.astype(np.uint8)[::-1])  # Bokeh's y axis points up
        h, wid = a.shape[:2]
        rgba = a.view(dtype=np.uint32).reshape(h, wid)
        data = {"image": [rgba], "x": [0], "y": [0], "dw": [wid], "dh": [h]}
        if self._image_fig is None:
            self.image_source = ColumnDataSource(data)
            fig = figure(width=min(720, max(240, wid * 2)), height=min(520, max(200, h * 2)),
                         match_aspect=True, tools="pan,wheel_zoom,box_zoom,reset,save", active_scroll="wheel_zoom",
                         x_range=(0, wid), y_range=(0, h))
            fig.background_fill_color = fig.border_fill_color = None  # the notebook's theme shows through
            fig.toolbar.logo = None
            fig.image_rgba(image="image", x="x", y="y", dw="dw", dh="dh", source=self.image_source)
            fig.add_tools(HoverTool(tooltips=[("x", "$x{0}"), ("y", "$y{0}")]))
            fig.xaxis.visible = fig.yaxis.visible = False
            self._image_fig = fig
            self._image_model = bokeh_widget(fig)
        else:
            self.image_source.data = data
            self._image_fig.x_range.start, self._image_fig.x_range.end = 0, wid
            self._image_fig.y_range.start, self._image_fig.y_range.end = 0, h
        return self._image_model

    def _table(self, df: Any, item: Any = None) -> Any:
        """A logged table as a sortable grid; image cells as thumbnails (the first THUMB_ROWS rows;
        later ones as their size), other media cells by their kind."""
        from bokeh.models import ColumnDataSource, DataTable, HTMLTemplateFormatter, TableColumn

        from tracker.ui.bokeh import bokeh_widget

        df = df.head(TABLE_ROWS)
        cells = {}
        if item is not None:  # a table's media cells are logged under "<key>/cells", by id
            cells = {c.record.get("id"): c for c in self.items.get(f"{item.key}/cells", []) if c.step == item.step}
        data: dict[str, list[Any]] = {}
        thumbs: set[str] = set()
        for c in df.columns:
            values: list[Any] = []
            for row, v in enumerate(df[c].tolist()):
                if isinstance(v, dict) and v.get("_type") == "image":
                    thumbs.add(str(c))
                    cell = cells.get(v.get("id"))
                    uri = _thumbnail(cell) if cell is not None and row < THUMB_ROWS else None
                    values.append(uri or f"image {v.get('width')}x{v.get('height')}")
                elif isinstance(v, dict) and "_type" in v:
                    values.append(str(v["_type"]))
                else:
                    values.append(v if isinstance(v, (int, float, str, bool)) or v is None else str(v))
            data[str(c)] = values
        src = ColumnDataSource(data)
        # only a PNG data URI of base64 characters becomes an <img> (a logged string never does)
        image = HTMLTemplateFormatter(template="<% if (/^data:image\\/png;base64,[A-Za-z0-9+\\/=]+$/.test(value)) { %>"
                                               "<img src='<%= value %>' style='height:56px;image-rendering:pixelated'>"
                                               "<% } else { %><%- value %><% } %>")
        cols = [TableColumn(field=str(c), title=str(c), sortable=True,
                            **({"formatter": image} if str(c) in thumbs else {})) for c in df.columns]
        self.table_data = data
        return bokeh_widget(DataTable(source=src, columns=cols, sortable=True, width=760, height=420 if thumbs else 320,
                                    row_height=62 if thumbs else 25, index_position=None))

    def _histogram(self, item: Any) -> Any:
        import numpy as np
        from bokeh.layouts import row
        from bokeh.plotting import figure

        from tracker.ui.bokeh import bokeh_widget

        rec = item.record
        bins = np.asarray(rec["bins"], dtype=float)
        counts = np.asarray(rec["counts"], dtype=float)
        bars = figure(width=380, height=260, title=f"{item.key} at step {item.step}", tools="pan,wheel_zoom,reset,save")
        bars.quad(top=counts, bottom=0, left=bins[:-1], right=bins[1:], fill_alpha=0.7, line_color=None)
        heat = histogram_heat(list(self.items.get(item.key, []))[::-1], "over steps", width=380, height=260)
        for fig in (bars, heat):
            fig.background_fill_color = fig.border_fill_color = None
            fig.toolbar.logo = None
        return bokeh_widget(row(bars, heat))

    def _points(self, item: Any) -> Any:
        """A point cloud or a molecule in a rotatable view (tracker.ui.points_view)."""
        import ipywidgets as w

        from tracker.ui.points_view import PointsView, read_points

        fmt = item.record.get("format")
        title = item.record.get("caption") or f"{item.key} at step {item.step}"
        try:
            if fmt == "npy":
                points, elements = item.load(), None
            else:
                points, elements = read_points(str(fmt), item.read_bytes())
        except ValueError as exc:
            return w.HTML(f"<i>{_e(exc)}: {_e(item.path)}</i>")
        self.points_view = PointsView(points, elements, title)
        return self.points_view.widget

    def _plot(self, item: Any) -> Any:
        """A plot helper's chart (``tracker.plot.*``), drawn from its table and spec: lines (one per
        ``stroke`` value, PR and ROC curves with their AP / AUC in the legend and ROC's chance line),
        scatter, bars, a histogram of a column, a confusion matrix as a heat map with its counts."""
        from bokeh.plotting import figure

        from tracker.ui.bokeh import bokeh_widget

        spec = item.record.get("spec") or {}
        df = item.load()
        title = item.record.get("title") or f"{item.key} at step {item.step}"
        kind = spec.get("type")
        tools = "pan,wheel_zoom,box_zoom,reset,save"
        if kind == "confusion_matrix":
            fig = self._confusion(df, spec, title, tools)
        elif kind in ("line", "scatter"):
            fig = figure(width=560, height=380, title=title, tools=tools, x_axis_label=str(spec.get("x")),
                         y_axis_label=str(spec.get("y")))
            self._lines(fig, df, spec, kind)
        elif kind == "bar" and spec.get("group") in df:
            fig = self._grouped_bars(df, spec, title, tools)
        elif kind == "bar":
            labels = [str(v) for v in df[spec["label"]].tolist()]
            values = [float(v) for v in df[spec["value"]].tolist()]
            fig = figure(width=560, height=380, title=title, tools=tools, x_range=list(dict.fromkeys(labels)),
                         y_axis_label=str(spec["value"]), tooltips=[("label", "@x"), (str(spec["value"]), "@top")])
            fig.vbar(x=labels, top=values, width=0.8, fill_alpha=0.8, line_color=None)
            fig.xaxis.major_label_orientation = 0.8 if len(labels) > 8 else 0
        elif kind == "histogram":
            import numpy as np

            data = np.asarray(df[spec["value"]].tolist(), dtype=float)
            data = data[np.isfinite(data)]
            counts, edges = np.histogram(data, bins=min(50, max(1, int(np.sqrt(len(data))))))
            fig = figure(width=560, height=380, title=title, tools=tools, x_axis_label=str(spec["value"]),
                         y_axis_label="count", tooltips=[("from", "@left"), ("to", "@right"), ("count", "@top")])
            fig.quad(top=counts, bottom=0, left=edges[:-1], right=edges[1:], fill_alpha=0.7, line_color=None)
        else:
            import ipywidgets as w

            return w.HTML(f"<i>a plot of an unknown type {_e(kind)}</i>")
        fig.background_fill_color = fig.border_fill_color = None
        fig.toolbar.logo = None
        self.plot_fig = fig
        return bokeh_widget(fig)

    @staticmethod
    def _grouped_bars(df: Any, spec: dict[str, Any], title: str, tools: str) -> Any:
        """Bars side by side per label, one colour per group (``spec["group"]``: a column), with a legend
        (``tracker.sklearn.plot_class_proportions``: train and test counts per class)."""
        from bokeh.models import ColumnDataSource, FactorRange
        from bokeh.palettes import Category10_10
        from bokeh.plotting import figure
        from bokeh.transform import factor_cmap

        labels = [str(v) for v in df[spec["label"]].tolist()]
        groups = [str(v) for v in df[spec["group"]].tolist()]
        names = list(dict.fromkeys(groups))
        factors = list(zip(labels, groups, strict=True))
        source = ColumnDataSource({"x": factors, "top": [float(v) for v in df[spec["value"]].tolist()],
                                   "group": groups})
        fig = figure(width=560, height=380, title=title, tools=tools, x_range=FactorRange(*dict.fromkeys(factors)),
                     y_axis_label=str(spec["value"]),
                     tooltips=[("label", "@x"), (str(spec["value"]), "@top")])
        fig.vbar(x="x", top="top", width=0.9, source=source, line_color=None, fill_alpha=0.85, legend_field="group",
                 fill_color=factor_cmap("x", palette=Category10_10[: max(3, len(names))][: len(names)] or ["#1f77b4"],
                                        factors=names, start=1, end=2))
        fig.xaxis.major_label_orientation = 0.8 if len(set(labels)) > 8 else 0
        fig.legend.location = "top_right"
        return fig

    @staticmethod
    def _lines(fig: Any, df: Any, spec: dict[str, Any], kind: str) -> None:
        from bokeh.models import ColumnDataSource, Legend, LegendItem
        from bokeh.palettes import Category10_10

        x, y, stroke = spec["x"], spec["y"], spec.get("stroke")
        groups = list(dict.fromkeys(df[stroke].tolist())) if stroke and stroke in df else [None]
        scores = spec.get("auc") or {}
        ap = spec.get("average_precision") or {}
        items = []
        for i, group in enumerate(groups):
            part = df if group is None else df[df[stroke] == group]
            src = ColumnDataSource({"x": [float(v) for v in part[x].tolist()], "y": [float(v) for v in part[y].tolist()]})
            colour = Category10_10[i % 10]
            if kind == "scatter":
                glyph = fig.scatter("x", "y", source=src, size=6, color=colour, alpha=0.7)
            else:
                glyph = fig.line("x", "y", source=src, line_width=2, color=colour)
            if group is not None:
                label = str(group)
                if group in scores:
                    label += f" (AUC {scores[group]:.3f})"
                elif group in ap:
                    label += f" (AP {ap[group]:.3f})"
                items.append(LegendItem(label=label, renderers=[glyph]))
        if "auc" in spec:  # ROC: the chance line
            fig.line([0, 1], [0, 1], line_dash="dashed", color="#888888", line_width=1)
        if "auc" in spec or "average_precision" in spec:
            from bokeh.models import Range1d

            fig.x_range, fig.y_range = Range1d(-0.02, 1.02), Range1d(-0.02, 1.02)
        if items:
            fig.add_layout(Legend(items=items, click_policy="hide", label_text_font_size="11px"), "right")
        from bokeh.models import HoverTool

        fig.add_tools(HoverTool(tooltips=[(str(x), "@x{0.000}"), (str(y), "@y{0.000}")]))

    @staticmethod
    def _confusion(df: Any, spec: dict[str, Any], title: str, tools: str) -> Any:
        from bokeh.models import ColumnDataSource, LinearColorMapper
        from bokeh.palettes import Blues256
        from bokeh.plotting import figure

        xs = [str(v) for v in df[spec["x"]].tolist()]
        ys = [str(v) for v in df[spec["y"]].tolist()]
        counts = [float(v) for v in df[spec["value"]].tolist()]
        classes = list(dict.fromkeys(ys + xs))
        top = max(counts) if counts else 1
        src = ColumnDataSource({"x": xs, "y": ys, "n": counts,
                                "label": [(str(int(c)) if c.is_integer() else f"{c:.3g}") if c else "" for c in counts],
                                "ink": ["#ffffff" if c > top * 0.55 else "#222222" for c in counts]})
        side = max(240, min(640, 56 * len(classes)))  # the cells' square, in pixels
        fig = figure(frame_width=side, frame_height=side, title=title, tools=tools, x_range=classes,
                     y_range=list(reversed(classes)), x_axis_label=str(spec["x"]), y_axis_label=str(spec["y"]),
                     tooltips=[(str(spec["y"]), "@y"), (str(spec["x"]), "@x"), ("count", "@n")])
        mapper = LinearColorMapper(palette=list(reversed(Blues256)), low=0, high=max(1, top))
        fig.rect("x", "y", 1, 1, source=src, fill_color={"field": "n", "transform": mapper}, line_color="#ffffff")
        if len(classes) <= 30:
            fig.text("x", "y", text="label", source=src, text_align="center", text_baseline="middle",
                     text_font_size="11px", text_color="ink")
        fig.xaxis.major_label_orientation = 0.8 if len(classes) > 8 else 0
        fig.grid.grid_line_color = None
        return fig

    def _figure(self, item: Any) -> Any:
        import ipywidgets as w

        lib = item.record.get("library")
        if lib == "matplotlib":
            return w.Image(value=item.read_bytes(), format="png", layout=natural_layout())  # its PNG's own size
        text = item.read_bytes().decode("utf-8")
        if lib == "plotly":
            import json

            from tracker.ui.bokeh import bokeh_widget
            from tracker.ui.plotly_view import to_bokeh

            fig, skipped = to_bokeh(json.loads(text))
            self.plot_fig = fig
            note = w.HTML(f"<i>not drawn here: {_e(', '.join(skipped))} (the figure's JSON is in the run)</i>"
                          if skipped else "")
            return w.VBox([bokeh_widget(fig), note])
        if "CustomJS" in text or '"code"' in text:
            return w.HTML("<i>this Bokeh figure carries JavaScript callbacks, which tracker does not run in the "
                          "notebook; open it with run.media(key)[i].load()</i>")
        import json

        from bokeh.document import Document

        from tracker.ui.bokeh import bokeh_widget

        doc = Document.from_json(json.loads(text)["doc"])
        return bokeh_widget(doc.roots[0])
