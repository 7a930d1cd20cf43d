"""Chart grids: one Bokeh chart per metric, in sections, with the controls of a run page.

A :class:`ChartGrid` draws the scalar series of one stream (``default``: the logged metrics;
``system``: the sampler's) of one or more runs. Every series holds at most about two points per
horizontal pixel (:func:`tracker.ui.series.chart_series`, exact per-bucket min/max in DuckDB); a zoom or
pan asks for that window afresh; a live run's new points are reduced the same way and streamed
(``ColumnDataSource.stream``), and a series is reduced again from the store when its range doubles.

Everything here runs in the kernel; the browser gets Bokeh document patches through jupyter_bokeh.
"""

from __future__ import annotations

import re
import threading

from tracker.ui import series as _series
from tracker.ui.html import escape as _e

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

#: Colours of runs in comparisons (and of the single run's line).
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
#: A series is reduced again from the store once it holds this many points (two per pixel at most).
MAX_POINTS = 2_000

#: The CSV download's icon (the toolbar's own save is the PNG): "CSV" on a page.
_CSV_ICON = ("data:image/svg+xml;base64,"
             "PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHZpZXdCb3g9IjAgMCAyNCAyNCI+PHBhdGggZD0iTTUgMmgxMGw0IDR2"
             "MTZINXoiIGZpbGw9Im5vbmUiIHN0cm9rZT0iIzY2NiIgc3Ryb2tlLXdpZHRoPSIxLjUiLz48dGV4dCB4PSIxMiIgeT0iMTciIGZvbnQtc2l6"
             "ZT0iNyIgZm9udC1mYW1pbHk9InNhbnMtc2VyaWYiIHRleHQtYW5jaG9yPSJtaWRkbGUiIGZpbGw9IiM2NjYiPkNTVjwvdGV4dD48L3N2Zz4=")

_CSV_JS = """
const d = source.data, cols = Object.keys(d).filter(c => c !== 'index');
const n = d[cols[0]] ? d[cols[0]].length : 0;
let text;
if (fmt === 'csv') {
  const rows = [cols.join(',')];
  for (let i = 0; i < n; i++) rows.push(cols.map(c => d[c][i]).join(','));
  text = rows.join('\\n') + '\\n';
} else {
  const out = {};
  for (const c of cols) out[c] = Array.from(d[c]);
  text = JSON.stringify(out);
}
const blob = new Blob([text], {type: fmt === 'csv' ? 'text/csv' : 'application/json'});
const a = document.createElement('a');
a.href = URL.createObjectURL(blob);
a.download = name + '.' + fmt;
document.body.appendChild(a); a.click(); a.remove();
"""

_MAXIMISE_JS = """
if (fig.width === big_w) { fig.width = small_w; fig.height = small_h; }
else { fig.width = big_w; fig.height = big_h; }
"""


#: System metrics as W&B's System tab names them: key -> (title, unit). Units: "%", "MB", "GB",
#: "bytes" (drawn humanised: 1.4 MB), "W", "MHz", "°C", "" (a count).
SYSTEM_LABELS: dict[str, tuple[str, str]] = {
    "cpu": ("Process CPU utilization", "%"),
    "proc.cpu.threads": ("Process CPU threads in use", ""),
    "proc.memory.rssMB": ("Process memory in use (non-swap)", "MB"),
    "proc.memory.percent": ("Process memory in use (non-swap)", "%"),
    "proc.memory.availableMB": ("Process memory available (non-swap)", "MB"),
    "memory_percent": ("System memory utilization", "%"),
    "disk.in": ("Disk I/O read", "MB"),
    "disk.out": ("Disk I/O written", "MB"),
    "network.sent": ("Network traffic sent", "bytes"),
    "network.recv": ("Network traffic received", "bytes"),
}
_GPU_LABELS: dict[str, tuple[str, str]] = {
    "gpu": ("utilization", "%"), "memory": ("time spent accessing memory", "%"),
    "memoryAllocated": ("memory allocated", "%"), "memoryAllocatedBytes": ("memory allocated", "bytes"),
    "temp": ("temperature", "°C"), "powerWatts": ("power usage", "W"), "powerPercent": ("power usage", "%"),
    "smClock": ("SM clock speed", "MHz"), "memoryClock": ("memory clock speed", "MHz"),
    "graphicsClock": ("graphics clock speed", "MHz"), "correctedMemoryErrors": ("corrected memory errors", ""),
    "unCorrectedMemoryErrors": ("uncorrected memory errors", ""), "encoderUtilization": ("encoder utilization", "%"),
}


def system_label(key: str) -> tuple[str, str]:
    """A system metric's readable title (with its unit) and its unit, e.g. ``("Disk I/O read (MB)",
    "MB")``; an unknown key is its own title."""
    title, unit = SYSTEM_LABELS.get(key, ("", ""))
    if not title and key.startswith("gpu."):
        parts = key.split(".")
        proc = parts[1] == "process"
        index, name = (parts[2], ".".join(parts[3:])) if proc else (parts[1], ".".join(parts[2:]))
        what, unit = _GPU_LABELS.get(name, (name, ""))
        title = f"GPU {index} {what}" + (" (this process)" if proc else "")
    elif not title and key.startswith("disk.") and key.endswith((".usagePercent", ".usageGB")):
        path = key[len("disk."):key.rindex(".")]
        unit = "%" if key.endswith("Percent") else "GB"
        title = f"Disk utilization {path}"
    if not title:
        return key, ""
    return (f"{title} ({unit})" if unit and unit != "bytes" else title), unit


def system_group(key: str) -> str:
    """The System tab's section of a system metric: CPU, Memory, Disk, Network, GPU i, or Other."""
    if key.startswith("gpu.process."):
        return "GPU " + key.split(".")[2] + " (this process)"
    if key.startswith("gpu."):
        return "GPU " + key.split(".")[1]
    if key == "cpu" or key.startswith("proc.cpu") or key.startswith("cpu."):
        return "CPU"
    if "memory" in key.lower():
        return "Memory"
    if key.startswith("disk"):
        return "Disk"
    if key.startswith("network"):
        return "Network"
    if key.startswith("openmetrics."):
        return "OpenMetrics"
    return "Other"


def metric_sections(keys: list[str]) -> dict[str, list[str]]:
    return {(k or "Charts"): v for k, v in _series.sections(keys).items()}


def _as_float(a: Any) -> Any:
    import numpy as np

    return np.asarray(a, dtype=float)


class _Chart:
    """One metric's figure and, per run, its data source."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.figure: Any = None
        self.sources: dict[str, Any] = {}     # run path -> ColumnDataSource (x, y, ys)
        self.last_step: dict[str, int] = {}   # run path -> last step drawn
        self.width: dict[str, float] = {}     # run path -> M4 bucket width in drawn x units (0: whole)
        self.extent: dict[str, tuple[float, float]] = {}  # run path -> first and last x of the whole series
        self.zoomed: tuple[float, float] | None = None
        self.reset_at = 0.0  # monotonic time of the last reset


class ChartGrid:
    """The charts of one stream of one or more runs, with their controls.

    Args:
        runs: read-side runs (``tracker.Api().run(...)``); more than one overlays them per metric.
        stream: ``"default"`` (metrics) or ``"system"``.
        grouping: ``"prefix"`` (sections by the text before the last ``/``), ``"system"``
            (CPU, Memory, Disk, Network, GPU i) or ``"none"``.
        x_axis: ``_step``, ``_runtime``, ``_timestamp`` or a metric; default: the first
            ``define_metric`` step metric, else ``_step``.
        chart_width / chart_height / columns: the size of each chart and charts per row.
    """

    def __init__(self, runs: list[Any], stream: str = "default", grouping: str = "prefix",
                 x_axis: str | None = None, chart_width: int = 380, chart_height: int = 240,
                 columns: int = 3, colours: dict[str, str] | None = None,
                 on_error: Callable[[BaseException], None] | None = None, build: bool = True) -> None:
        import ipywidgets as w

        self.runs = list(runs)
        self.stream = stream
        self.grouping = grouping
        self.chart_width = int(chart_width)
        self.chart_height = int(chart_height)
        self.columns = int(columns)
        self.colours = colours or {r.path: PALETTE[i % len(PALETTE)] for i, r in enumerate(self.runs)}
        self.smoothing = "none"
        self.weight = 0.6
        self.log_y = False
        self.hover_mode = "mouse"
        self.pattern = ""
        self.hidden: set[str] = set()
        self.sent_points = 0          # points sent to the browser (for tests and benchmarks)
        self.lock = threading.RLock()
        self._on_error = on_error
        self.charts: dict[str, _Chart] = {}
        self.closed = False
        self.x_axis = x_axis or self._default_x_axis()

        keys = self._keys()
        x_options = ["_step", "_runtime", "_timestamp"] + [k for k in keys if k not in _series.X_AXES]
        if self.x_axis not in x_options:
            x_options.append(self.x_axis)
        self.x_select = w.Dropdown(options=x_options, value=self.x_axis, description="x-axis",
                                   layout=w.Layout(width="220px"))
        self.smooth_select = w.Dropdown(options=list(_series.SMOOTHING), value="none", description="smoothing",
                                        layout=w.Layout(width="240px"))
        self.weight_slider = w.FloatSlider(value=0.6, min=0.0, max=0.999, step=0.001, readout_format=".3f",
                                           description="factor", continuous_update=False,
                                           layout=w.Layout(width="280px"))
        self.log_box = w.Checkbox(value=False, description="log y", indent=False, layout=w.Layout(width="80px"))
        self.hover_select = w.Dropdown(options=[("closest point", "mouse"), ("all at x", "vline")], value="mouse",
                                       description="hover", layout=w.Layout(width="200px"))
        self.group_select = w.Dropdown(options=[("sections", grouping), ("none", "none")], value=grouping,
                                       description="group", layout=w.Layout(width="180px"))
        self.filter_text = w.Text(placeholder="show metrics matching (regex)", layout=w.Layout(width="260px"),
                                  continuous_update=False)
        self.hide_select = w.SelectMultiple(options=keys, value=[], description="hide",
                                            layout=w.Layout(width="320px", height="70px"))
        self.x_select.observe(lambda ch: self.set_x_axis(ch["new"]), "value")
        self.smooth_select.observe(lambda ch: self.set_smoothing(ch["new"], self.weight), "value")
        self.weight_slider.observe(lambda ch: self.set_smoothing(self.smoothing, ch["new"]), "value")
        self.log_box.observe(lambda ch: self.set_log(ch["new"]), "value")
        self.hover_select.observe(lambda ch: self.set_hover(ch["new"]), "value")
        self.group_select.observe(lambda ch: self.set_grouping(ch["new"]), "value")
        self.filter_text.observe(lambda ch: self.set_filter(ch["new"]), "value")
        self.hide_select.observe(lambda ch: self.set_hidden(ch["new"]), "value")
        self.controls = w.VBox([
            w.HBox([self.x_select, self.smooth_select, self.weight_slider, self.log_box]),
            w.HBox([self.hover_select, self.group_select, self.filter_text, self.hide_select]),
        ])
        self.sections: dict[str, tuple[Any, Any]] = {}   # name -> (Bokeh column, BokehModel)
        self.status = w.HTML("")
        self.section_box = w.VBox([])
        self.widget = w.VBox([self.controls, self.status, self.section_box])
        self._pending = keys
        #: Set once every chart known at construction is built (see :meth:`build_async`).
        self.built = threading.Event()
        self.first_row_seconds: float | None = None  # time to the first row of every section
        if build:
            self.build()

    def build(self) -> None:
        """Make the charts of every metric known now: first the first row of every section (what
        is on screen first), then the rest, section by section, each sent to the browser as soon as
        it is ready, each section's series read in one query."""
        import time

        t0 = time.perf_counter()
        try:
            with self.lock:
                keys, self._pending = self._pending, []
            groups = self._groups(keys)
            if not groups or not keys:
                self.status.value = "<i>no metrics logged yet</i>"
            heads = [skeys[: self.columns] for skeys in groups.values()]
            tails = [skeys[self.columns:] for skeys in groups.values()]
            for part in (heads, tails):
                for skeys in part:
                    if self.closed:
                        return
                    with self.lock:
                        made = [k for k in skeys if k not in self.charts]
                        for key in made:
                            self._make_figure(key)
                        if made:
                            self._load(made)
                            self._relayout()
                if self.first_row_seconds is None:
                    self.first_row_seconds = time.perf_counter() - t0
            if keys:
                self.status.value = ""
        finally:
            self.built.set()

    def build_async(self) -> threading.Thread:
        """:meth:`build` on a thread of its own: the page shows at once and its charts arrive
        (widget updates from a thread reach the browser while a cell runs)."""

        def run() -> None:
            try:
                self.build()
            except Exception as exc:  # noqa: BLE001 - a panel never raises into the user's loop
                self._error(exc)

        self.status.value = "<i>drawing the charts...</i>"
        thread = threading.Thread(target=run, name="tracker-charts", daemon=True)
        thread.start()
        return thread

    def wait_built(self, timeout: float = 60.0) -> bool:
        """Block until :meth:`build` has finished (True), or ``timeout`` seconds passed (False)."""
        return self.built.wait(timeout)

    # --- reading ------------------------------------------------------------------------------
    def _default_x_axis(self) -> str:
        if self.stream != "default" or not self.runs:
            return "_runtime" if self.stream == "system" else "_step"
        for m in self.runs[0].metrics:
            if m.get("step_metric"):
                return str(m["step_metric"])
        return "_step"

    def _keys(self) -> list[str]:
        keys: set[str] = set()
        for run in self.runs:
            keys.update(_series.scalar_keys(run, self.stream))
        return sorted(keys)

    def _groups(self, keys: list[str]) -> dict[str, list[str]]:
        if self.grouping == "none":
            return {"": keys}
        if self.grouping == "system":
            out: dict[str, list[str]] = {}
            for k in keys:
                out.setdefault(system_group(k), []).append(k)
            order = ["CPU", "Memory", "Disk", "Network"]
            return dict(sorted(out.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else 9, kv[0])))
        return metric_sections(keys)

    def visible_keys(self) -> list[str]:
        try:
            rx = re.compile(self.pattern) if self.pattern else None
        except re.error:
            rx = None
        return [k for k in self.charts if k not in self.hidden and (rx is None or rx.search(k))]

    # --- building -----------------------------------------------------------------------------
    def _x_units(self) -> float:
        return 1000.0 if self.x_axis == "_timestamp" else 1.0  # Bokeh's datetime axis is in ms

    def _make_figure(self, key: str) -> Any:
        from bokeh.models import ColumnDataSource, CustomAction, CustomJS, DatetimeTickFormatter, HoverTool
        from bokeh.plotting import figure

        chart = _Chart(key)
        # the wheel scrolls the notebook; a drag zooms the x range (as in W&B); Reset or a double
        # click return to the whole run; the toolbar shows when the pointer is over the chart
        title, unit = system_label(key) if self.stream == "system" else (key, "")
        fig = figure(width=self.chart_width, height=self.chart_height, title=title,
                     tools="xbox_zoom,xpan,wheel_zoom,reset,save", active_drag="xbox_zoom", active_scroll=None,
                     y_axis_type="log" if self.log_y else "linear",
                     x_axis_label=self.x_axis, name=key, toolbar_location="above")
        fig.toolbar.logo = None
        fig.toolbar.autohide = True
        if unit == "bytes":
            from bokeh.models import NumeralTickFormatter

            fig.yaxis.formatter = NumeralTickFormatter(format="0.[0] b")  # 1.4 MB, not 1.400e+6
        elif not self.log_y:
            from bokeh.models import BasicTickFormatter

            fig.yaxis.formatter = BasicTickFormatter(precision="auto", power_limit_low=-4, power_limit_high=6)
        fig.title.text_font_size = "12px"
        if self.x_axis == "_timestamp":
            fig.xaxis.formatter = DatetimeTickFormatter()
        multi = len(self.runs) > 1  # one run: no legend (a model less per chart)
        for run in self.runs:
            src = ColumnDataSource({"x": [], "y": [], "ys": []}, name=f"{key}@{run.path}")
            colour = self.colours.get(run.path, PALETTE[0])
            extra = {"legend_label": run.name} if multi else {}
            raw = fig.line("x", "y", source=src, color=colour, line_alpha=1.0, line_width=1.5, name="raw", **extra)
            raw.tags = [run.path]
            chart.sources[run.path] = src
        if self.smoothing != "none":
            self._add_smooth(chart)
        if multi:
            fig.legend.click_policy = "hide"
            fig.legend.label_text_font_size = "10px"
        fig.add_tools(HoverTool(renderers=[r for r in fig.renderers if r.name == "raw"],
                                tooltips=[(self.x_axis, "@x{0,0.[000]}"), (key, "@y{0.[0000]}")],
                                mode=self.hover_mode))
        big_w, big_h = self.chart_width * self.columns, self.chart_height * 2
        fig.add_tools(CustomAction(icon="maximize", description="Maximise / restore",
                                   callback=CustomJS(args=dict(fig=fig, big_w=big_w, big_h=big_h,
                                                               small_w=self.chart_width, small_h=self.chart_height),
                                                     code=_MAXIMISE_JS)))
        first = next(iter(chart.sources.values()))
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", key)
        fig.add_tools(CustomAction(icon=_CSV_ICON, description="Download the drawn data as CSV",
                                   callback=CustomJS(args=dict(source=first, fmt="csv", name=safe), code=_CSV_JS)))
        from bokeh.events import DoubleTap, RangesUpdate, Reset

        fig.on_event(RangesUpdate, lambda ev, k=key: self._on_range(k, ev))
        fig.on_event(Reset, lambda ev, k=key: self.reset_zoom(k))
        fig.js_on_event(DoubleTap, CustomJS(args=dict(p=fig), code="p.reset.emit()"))
        chart.figure = fig
        self.charts[key] = chart
        return fig

    def _add_smooth(self, chart: _Chart) -> None:
        """The smoothed line of each run, made the first time smoothing is turned on (a chart
        without smoothing is two models lighter)."""
        fig = chart.figure
        if any(r.name == "smooth" for r in fig.renderers):
            return
        multi = len(self.runs) > 1
        for run in self.runs:
            extra = {"legend_label": run.name} if multi else {}
            fig.line("x", "ys", source=chart.sources[run.path], color=self.colours.get(run.path, PALETTE[0]),
                     line_width=2, visible=self.smoothing != "none", name="smooth", **extra)

    def _relayout(self) -> None:
        """Put the visible charts in their sections (a section is one Bokeh document, one widget)."""
        import ipywidgets as w
        from bokeh.layouts import column, row
        from bokeh.models import Div

        from tracker.ui.bokeh import bokeh_widget

        with self.lock:
            visible = set(self.visible_keys())
            shown = []
            for section, keys in self._groups(list(self.charts)).items():
                figs = [self.charts[k].figure for k in keys if k in visible]
                children: list[Any] = []
                if section:
                    children.append(Div(text=f"<b>{_e(section)}</b> <span style='color:#888'>({len(figs)})</span>",
                                        styles={"font-size": "13px", "margin-top": "6px"}))
                children += [row(*figs[i:i + self.columns]) for i in range(0, len(figs), self.columns)]
                if section not in self.sections:
                    root = column(*children, name=f"section-{section}")
                    model = bokeh_widget(root, layout=w.Layout(display="" if figs else "none"))
                    self.sections[section] = (root, model)
                else:
                    root, model = self.sections[section]
                    root.children = children
                    model.layout.display = "" if figs else "none"
                shown.append(model)
            if [m.model_id for m in shown] != [m.model_id for m in self.section_box.children]:
                self.section_box.children = shown

    # --- data ---------------------------------------------------------------------------------
    def _smoothed(self, x: Any, y: Any) -> Any:
        if self.smoothing == "none":
            return _as_float(y)
        return _series.smooth(y, self.smoothing, self.weight, x=x)

    def _set_source(self, chart: _Chart, run: Any, got: dict[str, Any], last_step: int) -> None:
        """Draw a series read by :func:`~tracker.ui.series.chart_series` (whole or a zoom window)."""
        x = _as_float(got["x"]) * self._x_units()
        y = _as_float(got["y"])
        if self.log_y:
            y = _positive(y)
        chart.sources[run.path].data = {"x": x, "y": y, "ys": self._smoothed(x, y)}
        chart.last_step[run.path] = last_step
        reduced = got["n"] > len(x) > 1  # reduced by M4: live points are bucketed alike
        chart.width[run.path] = (float(x[-1]) - float(x[0])) / max(1, self.chart_width // 2) if reduced else 0.0
        if chart.zoomed is None and len(x):
            chart.extent[run.path] = (float(x[0]), float(x[-1]))
        self.sent_points += len(x)

    def _load(self, keys: list[str], x_range: tuple[float, float] | None = None) -> None:
        """(Re)load whole series of ``keys`` for every run, reduced to the chart's width."""
        for run in self.runs:
            try:
                got = _series.chart_series(run, keys, self.chart_width, self.x_axis, x_range, self.stream)
                last = _series.scalar_keys(run, self.stream)
            except Exception as exc:  # noqa: BLE001 - a panel never raises into the user's loop
                self._error(exc)
                continue
            for key in keys:
                data = got.get(key)
                if data is None or key not in self.charts:
                    continue
                self._set_source(self.charts[key], run, data, last.get(key, -1))

    def refresh(self, unwritten: list[tuple[int, float, dict[str, Any]]] | None = None) -> int:
        """Append what the runs logged since the last call (new metrics get a chart); returns the
        number of points sent. Called by the live updater thread, at most a few times a second.

        Args:
            unwritten: rows of the (single) run not yet in the store, from this process's live run
                (``Run.unwritten_rows()``): drawn now, when they follow the store's last step
                without a gap, instead of after the writer's next flush.
        """
        sent = 0
        with self.lock:
            known = set(self.charts)
            building = not self.built.is_set()  # the builder makes the charts known at the start
            new_keys = [] if building else [k for k in self._keys() if k not in known]
            if new_keys:
                self.status.value = ""  # "no metrics logged yet" no longer true
                for key in new_keys:
                    self._make_figure(key)
                self._load(new_keys)
                self.hide_select.options = sorted(self.charts)
                self._relayout()
            keys = [k for k in self.charts if k not in new_keys]
            for run in self.runs:
                after = min((self.charts[k].last_step.get(run.path, -1) for k in keys), default=-1)
                try:
                    tails = _series.tail_points(run, keys, after, self.x_axis, self.stream)
                except Exception as exc:  # noqa: BLE001
                    self._error(exc)
                    continue
                for key in keys:
                    sent += self._append(self.charts[key], run, tails[key])
            if unwritten and len(self.runs) == 1 and self.x_axis in _series.X_AXES:
                sent += self._append_unwritten(self.runs[0], keys, unwritten)
        self.sent_points += sent
        return sent

    def _append_unwritten(self, run: Any, keys: list[str], rows: list[tuple[int, float, dict[str, Any]]]) -> int:
        import numpy as np

        stored = run.max_step(self.stream)
        if stored is not None and rows[0][0] > stored + 1:
            return 0  # rows between the store and these are being written: wait for them
        created = float(run.created_at)
        sent = 0
        for key in keys:
            pts = [(s, t, v) for s, t, d in rows if (v := d.get(key)).__class__ in (float, int, bool)]
            if not pts:
                continue
            step = np.fromiter((p[0] for p in pts), dtype=np.int64, count=len(pts))
            time_ = np.fromiter((p[1] for p in pts), dtype=np.float64, count=len(pts))
            y = np.fromiter((p[2] for p in pts), dtype=np.float64, count=len(pts))
            x = (step.astype(np.float64) if self.x_axis == "_step" else
                 time_ if self.x_axis == "_timestamp" else time_ - created)
            sent += self._append(self.charts[key], run, {"x": x, "y": y, "step": step})
        return sent

    def _append(self, chart: _Chart, run: Any, tail: dict[str, Any]) -> int:
        import numpy as np

        last = chart.last_step.get(run.path, -1)
        fresh = tail["step"] > last
        if not fresh.any() or chart.zoomed is not None:
            if fresh.any():
                chart.last_step[run.path] = int(tail["step"][-1])
            return 0
        x = _as_float(tail["x"][fresh]) * self._x_units()
        y = _as_float(tail["y"][fresh])
        chart.last_step[run.path] = int(tail["step"][fresh][-1])
        src = chart.sources[run.path]
        have = len(src.data["x"])
        width = chart.width.get(run.path, 0.0)
        if width > 0:  # a reduced series has points, the first being its buckets' origin
            x, y = _series.m4(x, y, float(src.data["x"][0]), width)
        if have + len(x) > MAX_POINTS or (have and len(x) and x[0] < src.data["x"][-1]):
            # the range grew past the budget (or x is not monotonic): reduce again from the store
            got = _series.chart_series(run, [chart.key], self.chart_width, self.x_axis, None, self.stream)
            self._set_source(chart, run, got[chart.key], chart.last_step[run.path])
            return len(src.data["x"])
        if self.log_y:
            y = _positive(y)
        chart.extent[run.path] = (float(src.data["x"][0]) if have else float(x[0]), float(x[-1]))
        if self.smoothing == "none":
            ys = y
        else:
            old_x = np.asarray(src.data["x"], dtype=float)
            old_y = np.asarray(src.data["y"], dtype=float)
            ys = self._smoothed(np.r_[old_x, x], np.r_[old_y, y])[have:]
        src.stream({"x": x, "y": y, "ys": ys})
        return len(x)

    def reset_zoom(self, key: str) -> None:
        """Reset (the toolbar's, or a double click): the whole run again. The ranges the browser
        then reports are those of the zoomed data it still holds: the next second's range updates
        are taken as this reset's, not as a zoom."""
        import time

        chart = self.charts.get(key)
        if chart is None:
            return
        chart.reset_at = time.monotonic()
        with self.lock:
            chart.zoomed = None
            for run in self.runs:
                try:
                    got = _series.chart_series(run, [key], self.chart_width, self.x_axis, None, self.stream)[key]
                except Exception as exc:  # noqa: BLE001 - a panel never raises into the user's loop
                    self._error(exc)
                    return
                self._set_source(chart, run, got, chart.last_step.get(run.path, -1))

    def _on_range(self, key: str, event: Any) -> None:
        """A zoom or pan in the browser: reduce that window afresh from the store."""
        import time

        chart = self.charts.get(key)
        if chart is None or event.x0 is None or event.x1 is None:
            return
        if time.monotonic() - chart.reset_at < 1.0:
            return  # the ranges of a reset, reported before the whole run's data arrived
        x0, x1 = float(event.x0), float(event.x1)
        window = (x0 / self._x_units(), x1 / self._x_units())
        with self.lock:
            for run in self.runs:
                extent = chart.extent.get(run.path)
                whole = extent is None or (x0 <= extent[0] and x1 >= extent[1])
                chart.zoomed = None if whole else window
                try:
                    got = _series.chart_series(run, [key], self.chart_width, self.x_axis,
                                               None if whole else window, self.stream)[key]
                except Exception as exc:  # noqa: BLE001 - a panel never raises into the user's loop
                    self._error(exc)
                    return
                self._set_source(chart, run, got, chart.last_step.get(run.path, -1))

    def zoom(self, key: str, x0: float, x1: float) -> None:
        """What a zoom in the browser does, from Python (tests, scripted views)."""
        from bokeh.events import RangesUpdate

        fig = self.charts[key].figure
        self._on_range(key, RangesUpdate(fig, x0=x0 * self._x_units(), x1=x1 * self._x_units()))

    # --- controls -----------------------------------------------------------------------------
    def set_x_axis(self, x_axis: str) -> None:
        from bokeh.models import BasicTickFormatter, DatetimeTickFormatter

        with self.lock:
            self.x_axis = x_axis
            for chart in self.charts.values():
                chart.figure.xaxis.axis_label = x_axis
                chart.figure.xaxis.formatter = DatetimeTickFormatter() if x_axis == "_timestamp" else BasicTickFormatter()
                chart.zoomed = None
            self._load(list(self.charts))

    def set_smoothing(self, kind: str, weight: float) -> None:
        if kind not in _series.SMOOTHING:
            raise ValueError(f"smoothing is one of {_series.SMOOTHING}, not {kind!r}")
        with self.lock:
            self.smoothing, self.weight = kind, float(weight)
            on = kind != "none"
            for chart in self.charts.values():
                if on:
                    self._add_smooth(chart)
                for r in chart.figure.renderers:
                    if r.name == "raw":
                        r.glyph.line_alpha = 0.25 if on else 1.0
                    elif r.name == "smooth":
                        r.visible = on
                for src in chart.sources.values():
                    x = _as_float(src.data["x"])
                    y = _as_float(src.data["y"])
                    src.data = {"x": x, "y": y, "ys": self._smoothed(x, y)}

    def set_log(self, on: bool) -> None:
        from bokeh.models import (
            BasicTicker,
            BasicTickFormatter,
            LinearScale,
            LogScale,
            LogTicker,
            LogTickFormatter,
        )

        with self.lock:
            self.log_y = bool(on)
            for chart in self.charts.values():
                fig = chart.figure
                fig.y_scale = LogScale() if on else LinearScale()
                fig.yaxis.ticker = LogTicker() if on else BasicTicker()
                fig.yaxis.formatter = LogTickFormatter() if on else BasicTickFormatter()
            self._load(list(self.charts))

    def set_hover(self, mode: str) -> None:
        from bokeh.models import HoverTool

        with self.lock:
            self.hover_mode = mode
            for chart in self.charts.values():
                for tool in chart.figure.select(type=HoverTool):
                    tool.mode = mode

    def set_grouping(self, grouping: str) -> None:
        self.grouping = grouping
        self._relayout()

    def set_filter(self, pattern: str) -> None:
        self.pattern = pattern
        self._relayout()

    def set_hidden(self, keys: Any) -> None:
        self.hidden = set(keys)
        self._relayout()

    def _error(self, exc: BaseException) -> None:
        if self._on_error is not None:
            self._on_error(exc)
        else:
            raise exc

    def close(self) -> None:
        self.closed = True
        for _, model in self.sections.values():
            model.close()
        self.widget.close()


def _positive(y: Any) -> Any:
    import numpy as np

    y = np.asarray(y, dtype=float).copy()
    y[~(y > 0)] = np.nan
    return y


