"""The Media tab (W&B's media panels, ClearML's debug samples): per key, newest step first, a slider
over the logged items with previous / next, and a viewer for each kind.

Images are drawn in a Bokeh figure (wheel zoom, pan, and the pixel's coordinates and value on
hover); audio and video get players; tables a sortable grid; histograms the selected step's bars and a
heat map over steps; logged HTML a sandboxed iframe; matplotlib figures their PNG; Bokeh figures
themselves (unless they carry JavaScript callbacks, which are never run outside a sandbox).
"""

from __future__ import annotations

import threading

from tracker.ui.html import escape as _e

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

#: Rows of a logged table shown in the grid.
TABLE_ROWS = 10_000



class MediaView:
    def __init__(self, run: Any, on_error: Callable[[BaseException], None] | None = None) -> None:
        import ipywidgets as w

        self.run = run
        self._on_error = on_error
        self.lock = threading.RLock()
        self.items: dict[str, list[Any]] = {}   # key -> items, newest step first
        self._count = -1
        self.key = w.Dropdown(description="key", layout=w.Layout(width="300px"))
        self.slider = w.IntSlider(value=0, min=0, max=0, description="newest →", continuous_update=False,
                                  layout=w.Layout(width="420px"))
        self.prev = w.Button(description="previous", icon="chevron-left", layout=w.Layout(width="110px"))
        self.next = w.Button(description="next", icon="chevron-right", layout=w.Layout(width="110px"))
        self.caption = w.HTML()
        self.area = w.VBox([])
        self.prev.on_click(lambda _b: self.step(+1))
        self.next.on_click(lambda _b: self.step(-1))
        self.key.observe(lambda _c: self._on_key(), "value")
        self.slider.observe(lambda _c: self.show(), "value")
        self._image_fig: Any = None
        self.image_source: Any = None  # the shown image's Bokeh data source (None until one shows)
        self._image_model: Any = None
        self.widget = w.VBox([w.HBox([self.key, self.prev, self.slider, self.next]), self.caption, self.area])
        self.refresh()

    def refresh(self, only_if_new: bool = False) -> None:
        """Re-read the media index (when ``only_if_new``, only if items were added)."""
        items = self.run.media()
        if only_if_new and len(items) == self._count:
            return
        with self.lock:
            self._count = len(items)
            by_key: dict[str, list[Any]] = {}
            for item in items:
                by_key.setdefault(item.key, []).append(item)
            self.items = {k: v[::-1] for k, v in sorted(by_key.items())}
            current = self.key.value
            self.key.options = list(self.items)
            self.key.value = current if current in self.items else next(iter(self.items), None)
            self._on_key(keep_position=current == self.key.value)

    def _on_key(self, keep_position: bool = False) -> None:
        items = self.items.get(self.key.value) or []
        self.slider.max = max(0, len(items) - 1)
        if not keep_position:
            self.slider.value = 0
        self.show()

    def step(self, delta: int) -> None:
        """Move to an older (+1) or newer (-1) item."""
        self.slider.value = min(self.slider.max, max(0, self.slider.value + delta))

    def current(self) -> Any:
        items = self.items.get(self.key.value) or []
        return items[self.slider.value] if items else None

    def show(self) -> None:
        import ipywidgets as w

        item = self.current()
        if item is None:
            self.caption.value = "<i>no media logged</i>"
            self.area.children = []
            return
        rec = item.record
        facts = ", ".join(f"{k} {v}" for k, v in rec.items()
                          if k in ("width", "height", "channels", "format", "sample_rate", "duration", "rows", "fps",
                                   "frames", "points", "library") and v is not None)
        self.caption.value = (f"<b>{_e(item.key)}</b> step {item.step}"
                              + (f" #{rec['index']}" if "index" in rec else "")
                              + (f": {_e(rec['caption'])}" if rec.get("caption") else "")
                              + f" <span style='color:#888'>{_e(facts)}</span>")
        try:
            self.area.children = [self._view(item)]
        except Exception as exc:  # noqa: BLE001 - an unreadable file shows why, the tab stays usable
            self.area.children = [w.HTML(f"<i>cannot show this item: {_e(exc)}</i>")]
            if self._on_error is not None:
                self._on_error(exc)

    def _view(self, item: Any) -> Any:
        import ipywidgets as w

        kind = item.kind
        if kind == "image":
            return self._image(item.load())
        if kind == "audio":
            return w.Audio(value=item.read_bytes(), format=item.record.get("format", "wav"), autoplay=False)
        if kind == "video":
            fmt = item.record.get("format", "mp4")
            if fmt == "gif":
                return w.Image(value=item.read_bytes(), format="gif")
            return w.Video(value=item.read_bytes(), format=fmt, autoplay=False, loop=False)
        if kind == "html":
            from tracker.api.media import sandboxed_iframe

            return w.HTML(sandboxed_iframe(item.read_bytes().decode("utf-8", "replace"), height=360))
        if kind == "table":
            return self._table(item.load())
        if kind == "histogram":
            return self._histogram(item)
        if kind == "object3d":
            return self._points(item)
        if kind == "figure":
            return self._figure(item)
        return w.HTML(f"<pre>{_e(item.record)}</pre>")

    # --- viewers ------------------------------------------------------------------------------
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

    def _table(self, df: Any) -> Any:
        from bokeh.models import ColumnDataSource, DataTable, TableColumn

        from tracker.ui.bokeh import bokeh_widget

        df = df.head(TABLE_ROWS)
        data = {str(c): [v if isinstance(v, (int, float, str, bool)) or v is None else str(v) for v in df[c].tolist()]
                for c in df.columns}
        src = ColumnDataSource(data)
        cols = [TableColumn(field=str(c), title=str(c), sortable=True) for c in df.columns]
        return bokeh_widget(DataTable(source=src, columns=cols, sortable=True, width=760, height=320,
                                    index_position=None))

    def _histogram(self, item: Any) -> Any:
        import numpy as np
        from bokeh.layouts import row
        from bokeh.models import LinearColorMapper
        from bokeh.plotting import figure

        from tracker.ui.bokeh import bokeh_widget

        rec = item.record
        bins = np.asarray(rec["bins"], dtype=float)
        counts = np.asarray(rec["counts"], dtype=float)
        bars = figure(width=380, height=260, title=f"{item.key} at step {item.step}", tools="pan,wheel_zoom,reset,save")
        bars.quad(top=counts, bottom=0, left=bins[:-1], right=bins[1:], fill_alpha=0.7, line_color="white")
        # over steps: each step's counts on a common grid of bins
        hist = list(self.items.get(item.key, []))[::-1]
        lo = min(float(i.record["bins"][0]) for i in hist)
        hi = max(float(i.record["bins"][-1]) for i in hist)
        grid = np.linspace(lo, hi, 65)
        mat = np.zeros((len(hist), 64))
        for r, it in enumerate(hist):
            b = np.asarray(it.record["bins"], dtype=float)
            c = np.asarray(it.record["counts"], dtype=float)
            centres = (b[:-1] + b[1:]) / 2
            mat[r] = np.histogram(centres, bins=grid, weights=c)[0]
        steps = [i.step for i in hist]
        heat = figure(width=380, height=260, title="over steps", x_axis_label="value", y_axis_label="step",
                      tools="pan,wheel_zoom,reset,save")
        heat.image(image=[mat], x=lo, y=min(steps), dw=hi - lo, dh=max(1, max(steps) - min(steps)),
                   color_mapper=LinearColorMapper(palette="Viridis256", low=0, high=float(mat.max() or 1)))
        return bokeh_widget(row(bars, heat))

    def _points(self, item: Any) -> Any:
        import ipywidgets as w

        if item.record.get("format") != "npy":
            return w.HTML(f"<i>3D file {_e(item.record.get('format'))}: {_e(item.path)}</i>")
        import numpy as np
        from bokeh.plotting import figure

        from tracker.ui.bokeh import bokeh_widget

        pts = np.asarray(item.load(), dtype=float)
        from bokeh.models import ColumnDataSource
        from bokeh.transform import linear_cmap

        z = pts[:, 2] if pts.shape[1] > 2 else np.zeros(len(pts))
        src = ColumnDataSource({"x": pts[:, 0], "y": pts[:, 1], "z": z})
        fig = figure(width=420, height=380, title="x / y projection (colour: z)", match_aspect=True,
                     tools="pan,wheel_zoom,box_zoom,reset,save")
        hi = float(z.max()) if z.max() > z.min() else float(z.min()) + 1.0
        fig.scatter("x", "y", source=src, size=3, color=linear_cmap("z", "Viridis256", float(z.min()), hi))
        return bokeh_widget(fig)

    def _figure(self, item: Any) -> Any:
        import ipywidgets as w

        lib = item.record.get("library")
        if lib == "matplotlib":
            return w.Image(value=item.read_bytes(), format="png")
        text = item.read_bytes().decode("utf-8")
        if "CustomJS" in text or '"code"' in text:
            return w.HTML("<i>this Bokeh figure carries JavaScript callbacks, which tracker does not run in the "
                          "notebook; open it with run.media(key)[i].load()</i>")
        import json

        from bokeh.document import Document

        from tracker.ui.bokeh import bokeh_widget

        doc = Document.from_json(json.loads(text)["doc"])
        return bokeh_widget(doc.roots[0])
