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
#: The grid's status line while it has no chart, and once every chart is filtered out.
#: Line widths (a highlighted run's are doubled) and the alpha of the other runs' lines then.
RAW_WIDTH, SMOOTH_WIDTH, FADED = 1.5, 2.0, 0.2
DASHES = ("solid", "dashed", "dotted", "dotdash", "dashdot")  # a variant's line, when colours name the runs
NO_METRICS = "<i style='color:var(--jp-ui-font-color2, #888)'>no metrics logged yet</i>"
DRAWING = "<i style='color:var(--jp-ui-font-color2, #888)'>drawing the charts...</i>"
NO_MATCH = "<i style='color:var(--jp-ui-font-color2, #888)'>no chart matches the filter</i>"

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

#: Maximise / restore: as wide as the charts' row allows (never past the panel's edge).
_MAXIMISE_JS = """
if (fig.width !== small_w) { fig.width = small_w; fig.height = small_h; return; }
let avail = big_w;
try {
  const view = Bokeh.index.get(fig);
  const box = view && view.el.parentElement && view.el.parentElement.closest('.widget-box, .jp-OutputArea-output');
  if (box && box.clientWidth > 0) avail = box.clientWidth - 12;
} catch (e) {}
fig.width = Math.max(small_w, Math.min(big_w, avail)); fig.height = big_h;
"""

#: Tick labels with as few digits as tell the ticks apart: 0.003 (not 3.000e-3), 0.0029 / 0.003 /
#: 0.0031, 1.5e-5 only below 1e-4 (1e-3 on a log axis), 12k / 1.2M from 10,000 up. A log axis formats
#: each tick alone (1e-4, 0.001, 0.01, 0.1, 1). ``this`` is one formatting pass's cache (Bokeh's).
TICK_FORMAT_JS = """
if (this.f === undefined) {
  const trim = (s) => {
    let [m, e] = s.split('e');
    if (m.includes('.')) m = m.replace(/0+$/, '').replace(/[.]$/, '');
    if (m === '-0') m = '0';
    return e === undefined ? m : m + 'e' + e.replace('+', '');
  };
  const exact = (s, v, tol) => Math.abs(parseFloat(s) - v) <= tol;
  const sci = (v, tol) => {
    for (let p = 0; p < 12; p++) { const s = v.toExponential(p); if (exact(s, v, tol)) return trim(s); }
    return trim(v.toExponential(12));
  };
  const UNITS = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  const unit = (a) => { for (const [u, s] of UNITS) if (a >= u) return [u, s]; return [1, '']; };
  const vals = Array.from(ticks).filter((t) => Number.isFinite(t));
  const amax = vals.reduce((a, t) => Math.max(a, Math.abs(t)), 0);
  if (log) {
    this.f = (v) => {
      const a = Math.abs(v);
      if (!(a > 0)) return '0';
      const tol = a * 1e-6;
      if (a < 1e-3 || a >= 1e15) return sci(v, tol);
      const [u, s] = a >= 1e4 ? unit(a) : [1, ''];
      for (let d = 0; d < 13; d++) { const t = (v / u).toFixed(d); if (exact(t, v / u, tol / u)) return trim(t) + s; }
      return trim((v / u).toFixed(13)) + s;
    };
  } else {
    let step = Infinity;
    for (let i = 1; i < vals.length; i++) { const d = Math.abs(vals[i] - vals[i - 1]); if (d > 0) step = Math.min(step, d); }
    if (!Number.isFinite(step)) step = amax > 0 ? amax : 1;
    const tol = step * 1e-3;
    if (!(amax > 0)) {
      this.f = (v) => '0';
    } else if (amax < 1e-4 || amax >= 1e15) {
      this.f = (v) => (v === 0 ? '0' : sci(v, tol));
    } else {
      const [u, s] = amax >= 1e4 ? unit(amax) : [1, ''];
      let d = Math.max(0, -Math.floor(Math.log10(step / u)));
      while (d < 15 && !vals.every((v) => exact((v / u).toFixed(d), v / u, tol / u))) d++;
      this.f = (v) => { const t = trim((v / u).toFixed(d)); return t === '0' ? '0' : t + s; };
    }
  }
}
return this.f(tick);
"""

#: Ticks of a log axis: every decade (every k-th past 8), else 1-2-5 of each decade, else 1..9,
#: else plain linear ticks: a narrow range (0.05-1, a constant 0.003) still gets labels.
LOG_TICKS_JS = """
const a = Math.min(cb_data.start, cb_data.end), hi = Math.max(cb_data.start, cb_data.end);
if (!(hi > 0) || !Number.isFinite(hi)) return [];
const lo = a > 0 ? a : hi / 1e6;
const inside = (v) => v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9);
const e0 = Math.floor(Math.log10(lo)), e1 = Math.ceil(Math.log10(hi));
const at = (m, e) => Number(m + 'e' + e);
const decades = [];
for (let e = e0; e <= e1; e++) if (inside(at(1, e))) decades.push(e);
if (decades.length >= 3) {
  const k = Math.ceil(decades.length / 8);
  return decades.filter((e) => e % k === 0).map((e) => at(1, e));
}
for (const ms of [[1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]]) {
  const t = [];
  for (let e = e0 - 1; e <= e1; e++) for (const m of ms) { const v = at(m, e); if (inside(v)) t.push(v); }
  if (t.length >= 3) return t;
}
const span = hi - lo;
const mag = Math.pow(10, Math.floor(Math.log10(span / 4)));
const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => span / s <= 6) || 10 * mag;
const out = [];
for (let v = Math.ceil(lo / step) * step; v <= hi * (1 + 1e-12); v += step) out.push(Number(v.toPrecision(12)));
return out;
"""

#: Minor ticks of a log axis: 2..9 of each decade when the major ticks are decades.
LOG_MINOR_TICKS_JS = """
const majors = cb_data.major_ticks;
const a = Math.min(cb_data.start, cb_data.end), hi = Math.max(cb_data.start, cb_data.end);
if (!majors.length || !(hi > 0) || !majors.every((v) => Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9)) return [];
const lo = a > 0 ? a : hi / 1e6;
const e0 = Math.floor(Math.log10(lo)), e1 = Math.ceil(Math.log10(hi));
const dense = e1 - e0 <= 8, out = [];
for (let e = e0; e <= e1; e++) for (let m = 1; m <= 9; m++) {
  if (m > 1 && !dense) break;
  const v = Number(m + 'e' + e);
  if (v >= lo && v <= hi && !majors.includes(v)) out.push(v);
}
return out;
"""


def tick_formatter(log: bool = False) -> Any:
    """A new axis tick formatter (a Bokeh model belongs to one document: one per axis) that labels
    ticks with as few digits as tell them apart (see :data:`TICK_FORMAT_JS`)."""
    from bokeh.models import CustomJSTickFormatter

    return CustomJSTickFormatter(code=TICK_FORMAT_JS, args={"log": bool(log)})


def log_ticker() -> Any:
    """A new log-axis ticker that labels every decade, and a narrow range too (see :data:`LOG_TICKS_JS`)."""
    from bokeh.models import CustomJSTicker

    return CustomJSTicker(major_code=LOG_TICKS_JS, minor_code=LOG_MINOR_TICKS_JS)


def y_limits(lo: float, hi: float, log: bool = False) -> tuple[float, float]:
    """The y range drawn for data from ``lo`` to ``hi``: 5 % more each side; a constant series
    centred on its value with 10 % of it each side (0.003: 0.0027 to 0.0033; 0: -1 to 1), never
    Bokeh's ±1 around it, where 0.003 reads as 0. On a log axis (positive ``lo``), the same in
    decades."""
    import math

    if log:
        if hi / lo <= 1 + 1e-9:
            return lo / 1.1, hi * 1.1
        pad = (hi / lo) ** 0.05
        return lo / pad, hi * pad
    span = hi - lo
    scale = max(abs(lo), abs(hi))
    if span <= scale * 1e-12:
        mid = (lo + hi) / 2
        half = abs(mid) * 0.1 if mid else 1.0
        half = max(half, 1e-300) if math.isfinite(half) else 1.0
        return mid - half, mid + half
    return lo - span * 0.05, hi + span * 0.05


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


def _split_label(key: str) -> tuple[str, str]:
    """``("rank_1", "cpu")`` for a labelled system key of a shared run (``rank_1/cpu``); ``("", key)``."""
    label, sep, rest = key.partition("/")
    if sep and label and rest and re.fullmatch(r"[A-Za-z0-9_-]+", label):  # not disk./ (a mount point's key)
        return label, rest
    return "", key


def system_label(key: str) -> tuple[str, str]:
    """A system metric's readable title (with its unit) and its unit, e.g. ``("Disk I/O read (MB)",
    "MB")``; an unknown key is its own title. A process's label (a shared run's ``rank_1/cpu``)
    ends the title: ``Process CPU utilization (%) [rank_1]``."""
    label, key = _split_label(key)
    if label:
        title, unit = system_label(key)
        return f"{title} [{label}]", unit
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
    """The System tab's section of a system metric: CPU, Memory, Disk, Network, GPU i, or Other;
    a labelled process's metrics (a shared run) in sections of their own, ``CPU [rank_1]``."""
    label, key = _split_label(key)
    if label:
        return f"{system_group(key)} [{label}]"
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


def metric_name(key: str) -> str:
    """The metric a key is a variant of, for ClearML's "group by metric": the text after its last
    ``/`` (``train/loss`` and ``val/loss`` are two variants of ``loss``)."""
    return key.rsplit("/", 1)[-1] if "/" in key else key


class _Chart:
    """One chart's figure and its lines: one a run, or (grouped by metric) one a run and variant.

    A line is named by its id: the run's path for a chart of one key, ``<path>\x1f<key>`` for a
    chart of several (``members``); ``line_run`` and ``line_key`` say whose and which it is."""

    def __init__(self, key: str, members: list[str] | None = None) -> None:
        self.key = key                        # the chart's id: the metric key, or (by metric) the metric's name
        self.members = members or [key]       # the data keys drawn in it
        self.figure: Any = None
        self.sources: dict[str, Any] = {}     # line id -> ColumnDataSource (x, y, ys)
        self.line_run: dict[str, str] = {}    # line id -> run path
        self.line_key: dict[str, str] = {}    # line id -> data key
        self.last_step: dict[str, int] = {}   # line id -> last step drawn
        self.width: dict[str, float] = {}     # line id -> M4 bucket width in drawn x units (0: whole)
        self.extent: dict[str, tuple[float, float]] = {}  # line id -> first and last x of the whole series
        self.zoomed: tuple[float, float] | None = None
        self.reset_at = 0.0  # monotonic time of the last reset
        self.model: Any = None  # its widget (one Bokeh document a chart: they wrap as the panel's width allows)
        self.dots: dict[str, Any] = {}  # line id -> a marker renderer, shown while the line has one point

    def line_id(self, path: str, key: str) -> str:
        return path if len(self.members) == 1 else f"{path}\x1f{key}"


class ChartGrid:
    """The charts of one stream of one or more runs, with their controls.

    Args:
        runs: read-side runs (``tracker.Api().run(...)``); more than one overlays them per metric.
        stream: ``"default"`` (metrics) or ``"system"``.
        grouping: ``"prefix"`` (sections by the text before the last ``/``), ``"metric"``
            (ClearML's "group by metric": one chart a metric name with every variant of it, e.g.
            ``train/loss`` and ``val/loss`` on one chart ``loss``), ``"system"`` (CPU, Memory,
            Disk, Network, GPU i) or ``"none"``.
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
        self.charts: dict[str, _Chart] = {}  # chart id -> chart
        self._chart_of: dict[str, list[str]] = {}  # data key -> the charts drawing it
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
        groupings = ([("by prefix", "prefix"), ("by metric", "metric"), ("none", "none")] if stream == "default"
                     else [("sections", grouping), ("none", "none")])
        if grouping not in [g for _, g in groupings]:
            groupings.insert(0, (grouping, grouping))
        self.group_select = w.Dropdown(options=groupings, value=grouping, description="group",
                                       layout=w.Layout(width="190px"))
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
        def wrap() -> Any:  # a row of controls that wraps at the panel's edge
            return w.Layout(display="flex", flex_flow="row wrap", align_items="center", width="100%")

        self.controls = w.VBox([
            w.Box([self.x_select, self.smooth_select, self.weight_slider, self.log_box], layout=wrap()),
            w.Box([self.hover_select, self.group_select, self.filter_text, self.hide_select], layout=wrap()),
        ], layout=w.Layout(width="100%"))
        #: The run highlighted in every chart (its path; None: none), and the runs the legend's
        #: search leaves out (their lines are hidden).
        self.highlighted: str | None = None
        self.run_query = ""
        self.filtered_runs: set[str] = set()
        self.legend: Any = None
        self.legend_entries: dict[str, Any] = {}   # run path -> its entry (a colour swatch and a toggle)
        self.legend_buttons: dict[str, Any] = {}   # run path -> its ToggleButton
        if len(self.runs) > 1:
            self._make_legend()
        self.sections: dict[str, tuple[Any, Any]] = {}   # name -> (the charts' wrapping Box, the section's widget)
        self._section_heads: dict[str, Any] = {}
        self.status = w.HTML("")
        self.section_box = w.VBox([], layout=w.Layout(width="100%"))
        parts = [self.controls] + ([self.legend] if self.legend is not None else []) + [self.status, self.section_box]
        self.widget = w.VBox(parts, layout=w.Layout(width="100%"))
        self._pending = keys
        self._unfitted: set[str] = set()  # charts whose y range is to fit their data again
        #: Set once every chart known at construction is built (see :meth:`build_async`).
        self.built = threading.Event()
        self.first_row_seconds: float | None = None  # time to the first row of every section
        if build:
            self.build()

    def _make_legend(self) -> None:
        """One legend for every chart of a comparison, above them: a search box (narrows the list
        and the lines drawn) and an entry a run (its colour and name); a click highlights that run
        in every chart, a second click clears it."""
        import ipywidgets as w

        self.legend_search = w.Text(placeholder="search runs", continuous_update=True,
                                    layout=w.Layout(width="220px"))
        self.legend_search.observe(lambda ch: self.search_runs(ch["new"]), "value")
        self.legend_count = w.HTML(self._legend_count_html())
        for run in self.runs:
            colour = _e(self.colours.get(run.path, PALETTE[0]))
            swatch = w.HTML(f"<span style='display:inline-block;width:16px;height:4px;border-radius:2px;"
                            f"background:{colour};vertical-align:middle'></span>",
                            layout=w.Layout(width="auto", margin="0 2px 0 0"))
            button = w.ToggleButton(value=False, description=run.name, tooltip=f"{run.name} ({run.path}): "
                                    "click to highlight in every chart", layout=w.Layout(width="auto", height="26px"))
            button.observe(lambda ch, p=run.path: self._on_legend_click(p, ch["new"]), "value")
            self.legend_buttons[run.path] = button
            self.legend_entries[run.path] = w.HBox([swatch, button], layout=w.Layout(
                align_items="center", margin="0 10px 4px 0", width="auto", flex="0 0 auto"))
        self.legend_list = w.Box(list(self.legend_entries.values()), layout=w.Layout(
            display="flex", flex_flow="row wrap", align_items="center", width="100%", max_height="140px",
            overflow="auto"))
        self.legend = w.VBox([
            w.Box([self.legend_count, self.legend_search], layout=w.Layout(
                display="flex", flex_flow="row wrap", align_items="center", width="100%")),
            self.legend_list,
        ], layout=w.Layout(width="100%", margin="4px 0"))
        self.legend.add_class("tracker-legend")

    def _legend_count_html(self) -> str:
        shown = len(self.runs) - len(self.filtered_runs)
        count = f"{shown} of {len(self.runs)}" if self.filtered_runs else f"{len(self.runs)}"
        return (f"<span style='color:var(--jp-ui-font-color1, inherit);font-size:13px;margin-right:8px'>"
                f"<b>runs</b> <span style='color:var(--jp-ui-font-color2, #888)'>({count})</span></span>")

    def build(self) -> None:
        """Make the charts of every metric known now: first the first row of every section (what
        is on screen first), then the rest, section by section, each sent to the browser as soon as
        it is ready, each section's series read in one query."""
        import time

        t0 = time.perf_counter()
        try:
            with self.lock:
                keys, self._pending = self._pending, []
                layout = self._chart_layout(keys)
            groups = self._groups(list(layout))
            if not keys and not self.charts:
                self.status.value = NO_METRICS
            heads = [skeys[: self.columns] for skeys in groups.values()]
            tails = [skeys[self.columns:] for skeys in groups.values()]
            for part in (heads, tails):
                for skeys in part:
                    if self.closed:
                        return
                    with self.lock:
                        made = [k for k in skeys if k not in self.charts]
                        for key in made:
                            self._make_figure(key, layout[key])
                        if made:
                            self._load(made)
                            self._relayout()
                if self.first_row_seconds is None:
                    self.first_row_seconds = time.perf_counter() - t0
            with self.lock:
                if list(self.hide_select.options) != sorted(self.charts):
                    self.hide_select.options = sorted(self.charts)
            self._set_status()
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

        self.status.value = DRAWING
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

    def _chart_layout(self, keys: list[str]) -> dict[str, list[str]]:
        """The charts for data ``keys``: chart id -> its keys. One chart a key, or grouped by
        metric one chart a metric name with its variants (those of charts already made included)."""
        if self.grouping != "metric":
            return {k: [k] for k in keys}
        out: dict[str, list[str]] = {}
        for key in keys:
            name = metric_name(key)
            if name not in out:
                out[name] = list(self.charts[name].members) if name in self.charts else []
            if key not in out[name]:
                out[name].append(key)
        return {name: sorted(members) for name, members in out.items()}

    def _groups(self, keys: list[str]) -> dict[str, list[str]]:
        if self.grouping in ("none", "metric"):
            return {"": sorted(keys)}
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

    def _make_figure(self, key: str, members: list[str] | None = None) -> Any:
        from bokeh.models import (
            ColumnDataSource,
            CustomAction,
            CustomJS,
            DatetimeTickFormatter,
            HoverTool,
            Range1d,
        )
        from bokeh.plotting import figure

        old = self.charts.get(key)
        if old is not None and old.model is not None:  # a metric's chart remade with a new variant
            old.model.close()
        chart = _Chart(key, members)
        for member in chart.members:
            charts_of = self._chart_of.setdefault(member, [])
            if key not in charts_of:
                charts_of.append(key)
        # the wheel scrolls the notebook; a drag zooms the x range (as in W&B); Reset or a double
        # click return to the whole run; the toolbar shows when the pointer is over the chart. The
        # y range is the kernel's: it fits the drawn data (all runs', the zoomed window's) each time
        # they change (see _fit_y), so the wheel zoom, when chosen, zooms x only.
        title = system_label(key)[0] if self.stream == "system" else key
        fig = figure(width=self.chart_width, height=self.chart_height, title=title,
                     tools="xbox_zoom,xpan,xwheel_zoom,reset,save", active_drag="xbox_zoom", active_scroll=None,
                     y_axis_type="log" if self.log_y else "linear",
                     y_range=Range1d(0.1, 1.0) if self.log_y else Range1d(0.0, 1.0),
                     x_axis_label=self.x_axis, name=key, toolbar_location="above")
        fig.toolbar.logo = None
        fig.toolbar.autohide = True
        # transparent: the notebook's theme shows through (no white box on a dark theme)
        fig.background_fill_color = None
        fig.border_fill_color = None
        if self.log_y:
            fig.yaxis.ticker = log_ticker()
        fig.yaxis.formatter = self._y_formatter(key)
        fig.title.text_font_size = "12px"
        fig.xaxis.formatter = DatetimeTickFormatter() if self.x_axis == "_timestamp" else tick_formatter()
        multi = len(self.runs) > 1  # the grid's one legend names the runs (see _make_legend)
        variants = len(chart.members) > 1
        y_tip = "@y{%.6g}"
        raws = []
        legend_items: list[tuple[str, list[Any]]] = []
        for v, member in enumerate(chart.members):
            drawn = []
            for run in self.runs:
                line = chart.line_id(run.path, member)
                src = ColumnDataSource({"x": [], "y": [], "ys": []}, name=f"{member}@{run.path}")
                # variants of one run: a colour each; of several runs: the run's colour, a dash a variant
                colour = (PALETTE[v % len(PALETTE)] if variants and not multi
                          else self.colours.get(run.path, PALETTE[0]))
                dash = DASHES[v % len(DASHES)] if variants and multi else "solid"
                raw = fig.line("x", "y", source=src, color=colour, line_alpha=1.0, line_width=RAW_WIDTH,
                               line_dash=dash, name="raw")
                raw.tags = [run.path, line]
                raws.append(raw)
                drawn.append(raw)
                chart.sources[line] = src
                chart.line_run[line] = run.path
                chart.line_key[line] = member
                # a single point draws no line: a dot shows it until a second point arrives
                chart.dots[line] = fig.scatter("x", "y", source=src, size=6, color=colour, visible=False, name="dot")
                if multi:  # a tooltip a line, titled with its run's name (and the variant)
                    title_ = f"{run.name} {member}" if variants else run.name
                    fig.add_tools(HoverTool(renderers=[raw], tooltips=[(title_, y_tip), (self.x_axis, "@x{0,0.[000]}")],
                                            formatters={"@y": "printf"}, mode=self.hover_mode))
                elif variants:
                    fig.add_tools(HoverTool(renderers=[raw], tooltips=[(member, y_tip), (self.x_axis, "@x{0,0.[000]}")],
                                            formatters={"@y": "printf"}, mode=self.hover_mode))
            if multi:  # the colours name the runs: the legend shows the variant's dash in grey
                drawn = [fig.line([], [], color="#888888", line_width=RAW_WIDTH, line_dash=DASHES[v % len(DASHES)],
                                  name="legend")]
            legend_items.append((member, drawn[:1]))
        if not multi and not variants:
            fig.add_tools(HoverTool(renderers=raws, tooltips=[(self.x_axis, "@x{0,0.[000]}"), (key, y_tip)],
                                    formatters={"@y": "printf"}, mode=self.hover_mode))
        if variants:  # which line is which variant: a small legend in the chart
            from bokeh.models import Legend, LegendItem

            legend = Legend(items=[LegendItem(label=m, renderers=r) for m, r in legend_items],
                            location="top_right", label_text_font_size="10px", glyph_height=8, glyph_width=16,
                            spacing=0, padding=4, margin=4, background_fill_alpha=0.0, border_line_alpha=0.0)
            fig.add_layout(legend)
        chart.figure = fig
        if self.smoothing != "none":
            self._add_smooth(chart)
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
        self.charts[key] = chart
        self._style_runs([chart])  # the highlight, the search and the smoothing of the charts there
        return fig

    def _y_formatter(self, key: str) -> Any:
        if self.log_y:
            return tick_formatter(log=True)
        if self.stream == "system" and system_label(key)[1] == "bytes":
            from bokeh.models import NumeralTickFormatter

            return NumeralTickFormatter(format="0.[0] b")  # 1.4 MB, not 1.400e+6
        return tick_formatter()

    def _add_smooth(self, chart: _Chart) -> None:
        """The smoothed line of each run, made the first time smoothing is turned on (a chart
        without smoothing is two models lighter)."""
        fig = chart.figure
        if any(r.name == "smooth" for r in fig.renderers):
            return
        for r in [r for r in fig.renderers if r.name == "raw"]:
            path, line_id = r.tags[0], r.tags[1]
            line = fig.line("x", "ys", source=chart.sources[line_id], color=r.glyph.line_color,
                            line_dash=r.glyph.line_dash, line_width=SMOOTH_WIDTH, visible=self.smoothing != "none",
                            name="smooth")
            line.tags = [path, line_id]

    # --- runs: highlight and search -----------------------------------------------------------
    def _line_style(self, path: str, kind: str) -> tuple[bool, float, float]:
        """(visible, line width, line alpha) of a run's raw or smoothed line now."""
        smoothing = self.smoothing != "none"
        visible = path not in self.filtered_runs and (kind == "raw" or smoothing)
        width = RAW_WIDTH if kind == "raw" else SMOOTH_WIDTH
        alpha = 0.25 if kind == "raw" and smoothing else 1.0
        if self.highlighted is not None:
            if path == self.highlighted:
                width *= 2
                alpha = 0.4 if kind == "raw" and smoothing else 1.0
            else:
                width, alpha = 1.0, alpha * FADED
        return visible, width, alpha

    def _style_runs(self, charts: Any = None) -> None:
        """Apply the highlight, the search and the smoothing to the lines of ``charts`` (all)."""
        with self.lock:
            for chart in (self.charts.values() if charts is None else charts):
                for r in chart.figure.renderers:
                    if r.name not in ("raw", "smooth") or not r.tags:
                        continue
                    visible, width, alpha = self._line_style(r.tags[0], r.name)
                    if r.visible != visible:
                        r.visible = visible
                    if r.glyph.line_width != width:
                        r.glyph.line_width = width
                    if r.glyph.line_alpha != alpha:
                        r.glyph.line_alpha = alpha

    def highlight(self, path: str | None) -> None:
        """Highlight one run (its path) in every chart: its lines thicker, the others faded; None
        clears it. The legend's click does this."""
        if path is not None and all(r.path != path for r in self.runs):
            raise ValueError(f"no run {path!r} in these charts")
        with self.lock:
            self.highlighted = path
            for p, button in self.legend_buttons.items():
                if button.value != (p == path):
                    button.value = p == path  # its observer sees the same highlight: nothing more
            self._style_runs()

    def _on_legend_click(self, path: str, on: bool) -> None:
        if on and self.highlighted != path:
            self.highlight(path)
        elif not on and self.highlighted == path:
            self.highlight(None)

    def search_runs(self, query: str) -> None:
        """Narrow the legend to the runs whose name or path holds ``query`` (any case); the other
        runs' lines are hidden until the search is cleared."""
        query = query.strip()
        with self.lock:
            self.run_query = query
            q = query.lower()
            self.filtered_runs = {r.path for r in self.runs
                                  if q and q not in r.name.lower() and q not in r.path.lower()}
            for path, entry in self.legend_entries.items():
                entry.layout.display = "none" if path in self.filtered_runs else ""
            if self.legend is not None:
                self.legend_count.value = self._legend_count_html()
            if self.highlighted in self.filtered_runs:
                self.highlight(None)
            self._style_runs()
            self._unfitted.update(self.charts)
            self._fit_pending()

    def legend_names(self, shown_only: bool = True) -> list[str]:
        """The run names the legend lists (those the search leaves, unless ``shown_only`` is False)."""
        return [r.name for r in self.runs if r.path in self.legend_entries
                and not (shown_only and r.path in self.filtered_runs)]

    # --- layout -------------------------------------------------------------------------------
    def _chart_widget(self, chart: _Chart) -> Any:
        import ipywidgets as w

        from tracker.ui.bokeh import bokeh_widget

        if chart.model is None:
            chart.model = bokeh_widget(chart.figure, layout=w.Layout(margin="0 8px 8px 0", flex="0 0 auto",
                                                                     max_width="100%"))
        return chart.model

    def _relayout(self) -> None:
        """Put the visible charts in their sections: a section is a heading and a row of charts
        that wraps at the panel's edge (each chart its own widget, in a flex-wrap Box)."""
        import ipywidgets as w

        with self.lock:
            visible = set(self.visible_keys())
            shown = []
            for section, keys in self._groups(list(self.charts)).items():
                models = [self._chart_widget(self.charts[k]) for k in keys if k in visible]
                display = "" if models else "none"
                if section not in self.sections:
                    box = w.Box(models, layout=w.Layout(display="flex", flex_flow="row wrap",
                                                        align_items="flex-start", width="100%"))
                    box.add_class("tracker-chart-row")
                    parts = [box]
                    if section:
                        self._section_heads[section] = w.HTML(layout=w.Layout(margin="6px 0 2px 0"))
                        parts.insert(0, self._section_heads[section])
                    outer = w.VBox(parts, layout=w.Layout(display=display, width="100%"))
                    outer.add_class("tracker-section")
                    self.sections[section] = (box, outer)
                else:
                    box, outer = self.sections[section]
                    if not _same_widgets(models, box.children):
                        box.children = models
                    outer.layout.display = display
                if section:
                    self._section_heads[section].value = (
                        f"<span style='font-size:13px;color:var(--jp-ui-font-color1, inherit)'><b>{_e(section)}</b> "
                        f"<span style='color:var(--jp-ui-font-color2, #888)'>({len(models)})</span></span>")
                shown.append(outer)
            if not _same_widgets(shown, self.section_box.children):
                self.section_box.children = shown
            if self.status.value != DRAWING or self.built.is_set():
                self._set_status()

    def _set_status(self) -> None:
        value = NO_METRICS if not self.charts else NO_MATCH if not self.visible_keys() else ""
        if self.status.value != value:
            self.status.value = value

    # --- data ---------------------------------------------------------------------------------
    def _smoothed(self, x: Any, y: Any) -> Any:
        if self.smoothing == "none":
            return _as_float(y)
        return _series.smooth(y, self.smoothing, self.weight, x=x)

    def _set_source(self, chart: _Chart, run: Any, got: dict[str, Any], last_step: int, key: str | None = None) -> None:
        """Draw a series read by :func:`~tracker.ui.series.chart_series` (whole or a zoom window)
        as the line of ``run`` and data ``key`` (the chart's own key by default)."""
        line = chart.line_id(run.path, key or chart.members[0])
        x = _as_float(got["x"]) * self._x_units()
        y = _as_float(got["y"])
        if self.log_y:
            y = _positive(y)
        chart.sources[line].data = {"x": x, "y": y, "ys": self._smoothed(x, y)}
        self._show_dot(chart, line, len(x))
        chart.last_step[line] = last_step
        reduced = got["n"] > len(x) > 1  # reduced by M4: live points are bucketed alike
        chart.width[line] = (float(x[-1]) - float(x[0])) / max(1, self.chart_width // 2) if reduced else 0.0
        if chart.zoomed is None and len(x):
            chart.extent[line] = (float(x[0]), float(x[-1]))
        self.sent_points += len(x)
        self._unfitted.add(chart.key)

    def _fit_y(self, chart: _Chart) -> None:
        """Fit the y range to the drawn data of every run shown (see :func:`y_limits`); the range's
        reset values too, so the toolbar's Reset keeps it."""
        import numpy as np

        parts = [np.asarray(src.data["y"], dtype=float) for line, src in chart.sources.items()
                 if chart.line_run[line] not in self.filtered_runs]
        y = np.concatenate(parts) if parts else np.empty(0)
        y = y[np.isfinite(y) & (y > 0)] if self.log_y else y[np.isfinite(y)]
        if not y.size:
            return
        start, end = y_limits(float(y.min()), float(y.max()), self.log_y)
        rng = chart.figure.y_range
        if (rng.start, rng.end, rng.reset_start, rng.reset_end) != (start, end, start, end):
            rng.update(start=start, end=end, reset_start=start, reset_end=end)

    def _fit_pending(self) -> None:
        with self.lock:
            keys, self._unfitted = self._unfitted, set()
            for key in keys:
                if key in self.charts:
                    self._fit_y(self.charts[key])

    def _load(self, chart_ids: list[str], x_range: tuple[float, float] | None = None) -> None:
        """(Re)load the whole series of the charts ``chart_ids`` for every run, reduced to the chart's width."""
        charts = [self.charts[c] for c in chart_ids if c in self.charts]
        keys = list(dict.fromkeys(k for c in charts for k in c.members))
        for run in self.runs:
            try:
                got = _series.chart_series(run, keys, self.chart_width, self.x_axis, x_range, self.stream)
                last = _series.scalar_keys(run, self.stream)
            except Exception as exc:  # noqa: BLE001 - a panel never raises into the user's loop
                self._error(exc)
                continue
            for chart in charts:
                for key in chart.members:
                    data = got.get(key)
                    if data is not None:
                        self._set_source(chart, run, data, last.get(key, -1), key)
        self._fit_pending()

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
            known = set(self._chart_of)
            building = not self.built.is_set()  # the builder makes the charts known at the start
            new_keys = [] if building else [k for k in self._keys() if k not in known]
            if new_keys:
                self.status.value = ""  # "no metrics logged yet" no longer true
                layout = self._chart_layout(new_keys)
                for chart_id, members in layout.items():
                    self._make_figure(chart_id, members)  # a metric's chart with a new variant is made anew
                self._load(list(layout))
                self.hide_select.options = sorted(self.charts)
                self._relayout()
                new_keys = [k for members in layout.values() for k in members]
            keys = [k for k in self._chart_of if k not in new_keys]
            for run in self.runs:
                after = min((c.last_step.get(c.line_id(run.path, k), -1) for k in keys
                             for c in (self.charts[i] for i in self._chart_of[k])), default=-1)
                try:
                    tails = _series.tail_points(run, keys, after, self.x_axis, self.stream)
                except Exception as exc:  # noqa: BLE001
                    self._error(exc)
                    continue
                for key in keys:
                    for chart_id in self._chart_of[key]:
                        sent += self._append(self.charts[chart_id], run, tails[key], key)
            if unwritten and len(self.runs) == 1 and self.x_axis in _series.X_AXES:
                sent += self._append_unwritten(self.runs[0], keys, unwritten)
            self._fit_pending()
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
            for chart_id in self._chart_of.get(key, []):
                sent += self._append(self.charts[chart_id], run, {"x": x, "y": y, "step": step}, key)
        return sent

    def _append(self, chart: _Chart, run: Any, tail: dict[str, Any], key: str | None = None) -> int:
        import numpy as np

        key = key or chart.members[0]
        line = chart.line_id(run.path, key)
        last = chart.last_step.get(line, -1)
        fresh = tail["step"] > last
        if not fresh.any() or chart.zoomed is not None:
            if fresh.any():
                chart.last_step[line] = int(tail["step"][-1])
            return 0
        x = _as_float(tail["x"][fresh]) * self._x_units()
        y = _as_float(tail["y"][fresh])
        chart.last_step[line] = int(tail["step"][fresh][-1])
        src = chart.sources[line]
        have = len(src.data["x"])
        width = chart.width.get(line, 0.0)
        if width > 0:  # a reduced series has points, the first being its buckets' origin
            x, y = _series.m4(x, y, float(src.data["x"][0]), width)
        if have + len(x) > MAX_POINTS or (have and len(x) and x[0] < src.data["x"][-1]):
            # the range grew past the budget (or x is not monotonic): reduce again from the store
            got = _series.chart_series(run, [key], self.chart_width, self.x_axis, None, self.stream)
            self._set_source(chart, run, got[key], chart.last_step[line], key)
            return len(src.data["x"])
        if self.log_y:
            y = _positive(y)
        chart.extent[line] = (float(src.data["x"][0]) if have else float(x[0]), float(x[-1]))
        if self.smoothing == "none":
            ys = y
        else:
            old_x = np.asarray(src.data["x"], dtype=float)
            old_y = np.asarray(src.data["y"], dtype=float)
            ys = self._smoothed(np.r_[old_x, x], np.r_[old_y, y])[have:]
        src.stream({"x": x, "y": y, "ys": ys})
        self._show_dot(chart, line, have + len(x))
        self._unfitted.add(chart.key)
        return len(x)

    @staticmethod
    def _show_dot(chart: _Chart, line: str, points: int) -> None:
        dot = chart.dots.get(line)
        if dot is not None and dot.visible != (points == 1):
            dot.visible = points == 1

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
                    got = _series.chart_series(run, chart.members, self.chart_width, self.x_axis, None, self.stream)
                except Exception as exc:  # noqa: BLE001 - a panel never raises into the user's loop
                    self._error(exc)
                    return
                for member in chart.members:
                    if member in got:
                        self._set_source(chart, run, got[member],
                                         chart.last_step.get(chart.line_id(run.path, member), -1), member)
            self._fit_pending()

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
            extents = [e for e in chart.extent.values()]
            whole = not extents or (x0 <= min(e[0] for e in extents) and x1 >= max(e[1] for e in extents))
            chart.zoomed = None if whole else window
            for run in self.runs:
                try:
                    got = _series.chart_series(run, chart.members, self.chart_width, self.x_axis,
                                               None if whole else window, self.stream)
                except Exception as exc:  # noqa: BLE001 - a panel never raises into the user's loop
                    self._error(exc)
                    return
                for member in chart.members:
                    if member in got:
                        self._set_source(chart, run, got[member],
                                         chart.last_step.get(chart.line_id(run.path, member), -1), member)
            self._fit_pending()

    def zoom(self, key: str, x0: float, x1: float) -> None:
        """What a zoom in the browser does, from Python (tests, scripted views)."""
        from bokeh.events import RangesUpdate

        fig = self.charts[key].figure
        self._on_range(key, RangesUpdate(fig, x0=x0 * self._x_units(), x1=x1 * self._x_units()))

    # --- controls -----------------------------------------------------------------------------
    def set_x_axis(self, x_axis: str) -> None:
        from bokeh.models import DatetimeTickFormatter

        with self.lock:
            was_time = self.x_axis == "_timestamp"
            self.x_axis = x_axis
            for chart in self.charts.values():
                chart.figure.xaxis.axis_label = x_axis
                if was_time != (x_axis == "_timestamp"):
                    chart.figure.xaxis.formatter = DatetimeTickFormatter() if x_axis == "_timestamp" else tick_formatter()
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
                self._style_runs([chart])
                for src in chart.sources.values():
                    x = _as_float(src.data["x"])
                    y = _as_float(src.data["y"])
                    src.data = {"x": x, "y": y, "ys": self._smoothed(x, y)}

    def set_log(self, on: bool) -> None:
        """Log y (every decade labelled, and a narrow range too: see :func:`log_ticker`) or linear."""
        from bokeh.models import BasicTicker, LinearScale, LogScale

        with self.lock:
            self.log_y = bool(on)
            for key, chart in self.charts.items():
                fig = chart.figure
                fig.y_scale = LogScale() if on else LinearScale()
                fig.yaxis.ticker = log_ticker() if on else BasicTicker()
                fig.yaxis.formatter = self._y_formatter(key)
                if on and not (fig.y_range.start or 0) > 0:
                    fig.y_range.update(start=0.1, end=1.0, reset_start=0.1, reset_end=1.0)
            self._load(list(self.charts))

    def set_hover(self, mode: str) -> None:
        from bokeh.models import HoverTool

        with self.lock:
            self.hover_mode = mode
            for chart in self.charts.values():
                for tool in chart.figure.select(type=HoverTool):
                    tool.mode = mode

    def set_grouping(self, grouping: str) -> None:
        """Sections by prefix, none, or (``"metric"``) one chart a metric with all its variants:
        changing to or from ``"metric"`` makes the charts anew (each chart draws other keys)."""
        with self.lock:
            remake = (grouping == "metric") != (self.grouping == "metric")
            self.grouping = grouping
            if self.group_select.value != grouping:
                self.group_select.value = grouping  # its observer finds nothing more to do
            if not remake:
                self._relayout()
                return
            for chart in self.charts.values():
                if chart.model is not None:
                    chart.model.close()
            self.charts, self._chart_of = {}, {}
            self._pending = self._keys()
            self.built.clear()
        self.build()
        with self.lock:
            self.hide_select.options = sorted(self.charts)

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
        for chart in self.charts.values():
            if chart.model is not None:
                chart.model.close()
        for box, outer in self.sections.values():
            box.close()
            outer.close()
        if self.legend is not None:
            self.legend.close()
        self.widget.close()


def _same_widgets(a: Any, b: Any) -> bool:
    """The same widgets in the same order (by identity: a closed widget has no model id any more)."""
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


def _positive(y: Any) -> Any:
    import numpy as np

    y = np.asarray(y, dtype=float).copy()
    y[~(y > 0)] = np.nan
    return y


