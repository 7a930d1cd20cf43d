"""Project views: a run table (Bokeh DataTable), and a comparison of the selected runs (overlaid
charts, grouped mean with a band, parallel coordinates of config against summary, config diff).

The table and the parallel-coordinates chart share one data source in one Bokeh document, so a
selection in either highlights in the other in the browser at once; the comparison charts follow
the selection from the kernel.
"""

from __future__ import annotations

import re
import threading

from tracker.ui.html import escape as _e

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Columns shown at first, besides name, state, tags, created and duration.
DEFAULT_COLUMNS = 12
FIXED = ("name", "state", "tags", "created", "duration")
_QUALIFIED = re.compile(r"\b((?:config|summary)\.[A-Za-z0-9_./-]*[A-Za-z0-9_])")



def filter_frame(df: Any, expression: str) -> Any:
    """Rows of the run frame matching a filter expression such as
    ``config.lr > 1e-3 and state == "finished"`` (pandas query syntax; ``config.*`` and ``summary.*``
    names are written as they are)."""
    expression = expression.strip()
    if not expression:
        return df
    quoted = _QUALIFIED.sub(lambda m: f"`{m.group(1)}`", expression)
    return df.query(quoted, engine="python")


def run_frame(runs: Any) -> Any:
    """One row per run: the fixed columns, then ``config.*`` and ``summary.*`` (scalars only)."""
    import pandas as pd

    df = runs.to_pandas()
    if df.empty:
        return pd.DataFrame(columns=["path", *FIXED])
    out = pd.DataFrame({
        "path": df["project"] + "/" + df["id"] if "project" in df else df["id"],
        "name": df["name"].astype(str),
        "state": df["state"].astype(str),
        "tags": df["tags"].map(lambda t: ", ".join(t) if isinstance(t, (list, tuple)) else ("" if t is None else str(t))),
        "created": pd.to_datetime(df["created_at"], utc=True).dt.tz_localize(None),
        "duration": df["duration"].astype(float) if "duration" in df else 0.0,
    })
    for col in df.columns:
        if col.startswith(("config.", "summary.")):
            series = df[col]
            if series.map(lambda v: isinstance(v, (dict, list))).any():
                series = series.map(lambda v: v if not isinstance(v, (dict, list)) else str(v))
            out[col] = series
    return out.reset_index(drop=True)


def parallel_lines(df: Any, columns: list[str]) -> tuple[list[list[float]], list[list[float]], list[tuple[float, float]]]:
    """Per run, the polyline of a parallel-coordinates chart over ``columns`` (each axis scaled to
    0..1 by its min and max; strings placed by their sorted order); and each axis's range."""
    import numpy as np
    import pandas as pd

    scaled, ranges = [], []
    for col in columns:
        s = df[col]
        if not pd.api.types.is_numeric_dtype(s):
            cats = sorted({str(v) for v in s.dropna()})
            s = s.map(lambda v, c=cats: c.index(str(v)) if v is not None and str(v) in c else np.nan)
        v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
        lo, hi = (np.nanmin(v), np.nanmax(v)) if np.isfinite(v).any() else (0.0, 1.0)
        ranges.append((float(lo), float(hi)))
        scaled.append((v - lo) / (hi - lo) if hi > lo else np.full(len(v), 0.5))
    xs = [[float(i) for i in range(len(columns))]] * len(df)
    ys = [[float(scaled[j][i]) if np.isfinite(scaled[j][i]) else float("nan") for j in range(len(columns))]
          for i in range(len(df))]
    return xs, ys, ranges


#: Table cells (BokehJS underscore templates): numbers to 4 significant digits, in exponent form
#: when very large or small, so a nonzero value never reads as 0; durations with units; states as
#: badges in the colours of the run pages.
_NUMBER_TEMPLATE = ('<%= (value === null || value === undefined || (typeof value === "number" && isNaN(value))) ? "" : '
                    '(typeof value !== "number" ? value : (value !== 0 && (Math.abs(value) >= 1e6 || Math.abs(value) < 1e-3)'
                    ' ? value.toExponential(2) : String(Number(value.toPrecision(4))))) %>')
_DURATION_TEMPLATE = ('<%= (value === null || isNaN(value)) ? "" : (value < 60 ? value.toFixed(1) + " s" : '
                      '(value < 3600 ? Math.floor(value / 60) + " min " + Math.round(value % 60) + " s" : '
                      'Math.floor(value / 3600) + " h " + Math.floor(value % 3600 / 60) + " min")) %>')
_STATE_TEMPLATE = ('<span style="background:<%= ({running: "#1f77b4", finished: "#2ca02c", failed: "#d62728", '
                   'crashed: "#d62728", killed: "#ff7f0e", preempting: "#9467bd", preempted: "#9467bd"})[value] '
                   '|| "#7f7f7f" %>;color:white;border-radius:8px;padding:0 6px"><%- value %></span>')


class RunTable:
    """A project's runs: table, filter, grouping, column chooser, and a comparison of the selection.

    Args:
        runs: a :class:`tracker.api.public.Runs` list.
    """

    def __init__(self, runs: Any, height: int = 360) -> None:
        import ipywidgets as w

        self.runs = runs
        self.by_path = {r.path: r for r in runs}
        self.lock = threading.RLock()
        self.frame = run_frame(runs)
        self.view = self.frame
        self.height = int(height)
        self.shown = False  # displayed in an output already
        extra = [c for c in self.frame.columns if c.startswith(("config.", "summary."))]
        self.columns = list(FIXED) + _default_columns(extra)
        self.filter_box = w.Text(placeholder='filter, e.g. config.lr > 1e-3 and state == "finished"',
                                 layout=w.Layout(width="420px"), continuous_update=False)
        self.filter_msg = w.HTML()
        self.group_select = w.Dropdown(options=["(none)"] + [c for c in extra if c.startswith("config.")],
                                       description="group by", layout=w.Layout(width="280px"))
        self.column_select = w.SelectMultiple(options=list(FIXED) + extra, value=self.columns, description="columns",
                                              layout=w.Layout(width="360px", height="90px"))
        self.band_select = w.Dropdown(options=[("min-max band", "minmax"), ("std band", "std")], value="minmax",
                                      description="band", layout=w.Layout(width="220px"))
        self.filter_box.observe(lambda c: self.set_filter(c["new"]), "value")
        self.group_select.observe(lambda _c: self._regroup(), "value")
        self.column_select.observe(lambda c: self.set_columns(list(c["new"])), "value")
        self.band_select.observe(lambda _c: self._update_compare(), "value")
        self.count = w.HTML()
        self.compare_box = w.VBox([])
        self.diff = w.HTML()
        self._build_bokeh()
        self.widget = w.VBox([
            w.HBox([self.filter_box, self.group_select, self.band_select]), self.filter_msg,
            w.HBox([self.column_select, self.count]), self.model,
            w.HTML("<b>Comparison of the selected runs</b> <span style='color:#888'>(select rows, or lines "
                   "in the parallel coordinates)</span>"),
            self.diff, self.compare_box,
        ])
        self.widget.add_class("tracker-panel")
        self.compare_grid: Any = None

    # --- the table and parallel coordinates (one Bokeh document) ------------------------------
    def _data(self) -> dict[str, Any]:
        import numpy as np

        df = self.view
        data: dict[str, Any] = {"path": df["path"].tolist()}
        for col in df.columns:
            if col == "path":
                continue
            s = df[col]
            if col == "created":
                data[col] = (s.astype("int64") // 10**6).to_numpy()  # ms for the date formatter
            elif s.dtype.kind in "fiub":
                data[col] = s.to_numpy(dtype=float)
            else:
                data[col] = [("" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)) for v in s]
        pcols = self._parallel_columns()
        xs, ys, _ = parallel_lines(df, pcols) if pcols else ([[]] * len(df), [[]] * len(df), [])
        data["_xs"], data["_ys"] = xs, ys
        group = self.group_select.value
        data["_colour"] = _colours(df[group].tolist() if group in df else df["path"].tolist())
        return data

    def _parallel_columns(self) -> list[str]:
        chosen = [c for c in self.columns if c.startswith(("config.", "summary."))]
        return [c for c in chosen if c in self.view and self.view[c].notna().any()][:12]

    def _table_columns(self) -> list[Any]:
        from bokeh.models import DateFormatter, HTMLTemplateFormatter, TableColumn

        cols = []
        for c in self.columns:
            if c not in self.view:
                continue
            if c == "created":
                fmt: Any = DateFormatter(format="%Y-%m-%d %H:%M")
            elif c == "state":
                fmt = HTMLTemplateFormatter(template=_STATE_TEMPLATE)
            elif c == "duration":
                fmt = HTMLTemplateFormatter(template=_DURATION_TEMPLATE)
            elif self.view[c].dtype.kind in "fiu":
                fmt = HTMLTemplateFormatter(template=_NUMBER_TEMPLATE)
            else:
                fmt = None
            cols.append(TableColumn(field=c, title=c, sortable=True, **({"formatter": fmt} if fmt else {})))
        return cols

    def _parallel_figure(self) -> Any:
        from bokeh.models import Label, TapTool
        from bokeh.plotting import figure

        pcols = self._parallel_columns()
        fig = figure(width=900, height=300, title="parallel coordinates (config and summary)",
                     tools="tap,box_select,reset,save", x_range=(-0.5, max(1, len(pcols)) - 0.5), y_range=(-0.12, 1.1),
                     toolbar_location="above")
        fig.multi_line("_xs", "_ys", source=self.source, line_color="_colour", line_alpha=0.6, line_width=1.5,
                       selection_line_alpha=1.0, selection_line_width=3, nonselection_line_alpha=0.12)
        fig.xaxis.ticker = list(range(len(pcols)))
        fig.xaxis.major_label_overrides = {i: c for i, c in enumerate(pcols)}
        fig.yaxis.visible = False
        fig.xgrid.grid_line_color = "#999"
        fig.ygrid.visible = False
        _, _, ranges = parallel_lines(self.view, pcols) if pcols else ([], [], [])
        for i, (lo, hi) in enumerate(ranges):
            fig.add_layout(Label(x=i, y=1.02, text=f"{hi:.4g}", text_font_size="9px", x_offset=2))
            fig.add_layout(Label(x=i, y=-0.1, text=f"{lo:.4g}", text_font_size="9px", x_offset=2))
        fig.select(type=TapTool).behavior = "select"
        return fig

    def _build_bokeh(self) -> None:
        from bokeh.layouts import column
        from bokeh.models import ColumnDataSource, DataTable

        from tracker.ui.bokeh import bokeh_widget

        self.source = ColumnDataSource(self._data())
        self.table = DataTable(source=self.source, columns=self._table_columns(), sortable=True, selectable="checkbox",
                               width=900, height=self.height, index_position=None)
        self.parallel = self._parallel_figure()
        self.root = column(self.table, self.parallel)
        self.source.selected.on_change("indices", lambda _a, _o, _n: self._update_compare())
        self.model = bokeh_widget(self.root)
        self._count()

    def _count(self) -> None:
        self.count.value = f"<span style='color:#666'>{len(self.view)} of {len(self.frame)} runs</span>"

    def _refresh_bokeh(self) -> None:
        with self.lock:
            self.source.selected.indices = []
            self.source.data = self._data()
            self.table.columns = self._table_columns()
            self.root.children = [self.table, self._parallel_figure()]
            self._count()

    # --- controls -----------------------------------------------------------------------------
    def set_filter(self, expression: str) -> None:
        try:
            self.view = filter_frame(self.frame, expression).reset_index(drop=True)
            self.filter_msg.value = ""
        except Exception as exc:  # noqa: BLE001 - a typo in the box says why; the table stays as it was
            self.filter_msg.value = f"<span style='color:#d62728'>filter not applied: {_e(exc)}</span>"
            return
        self._refresh_bokeh()

    def set_columns(self, columns: list[str]) -> None:
        self.columns = [c for c in columns if c in self.frame.columns] or list(FIXED)
        self._refresh_bokeh()

    def sort(self, column: str, ascending: bool = True) -> None:
        """Sort the rows (the table's headers sort in the browser too)."""
        self.view = self.view.sort_values(column, ascending=ascending, kind="stable").reset_index(drop=True)
        self._refresh_bokeh()

    def _regroup(self) -> None:
        group = self.group_select.value
        if group in self.view:
            self.view = self.view.sort_values(group, kind="stable").reset_index(drop=True)
        self._refresh_bokeh()

    def select(self, paths: list[str]) -> None:
        """Select runs by path (what ticking rows does)."""
        index = {p: i for i, p in enumerate(self.source.data["path"])}
        self.source.selected.indices = [index[p] for p in paths if p in index]

    def selected(self) -> list[str]:
        paths = self.source.data["path"]
        return [paths[i] for i in self.source.selected.indices if i < len(paths)]

    # --- comparison ---------------------------------------------------------------------------
    def _update_compare(self) -> None:
        import ipywidgets as w

        from tracker.ui.charts import ChartGrid

        paths = self.selected()
        runs = [self.by_path[p] for p in paths if p in self.by_path]
        if self.compare_grid is not None:
            self.compare_grid.close()
            self.compare_grid = None
        if not runs:
            self.compare_box.children = []
            self.diff.value = ""
            return
        self.diff.value = config_diff_html(runs)
        group = self.group_select.value
        colours = dict(zip([r.path for r in runs], _colours(
            [self.view.set_index("path").get(group, {}).get(r.path, r.path) if group in self.view else r.path
             for r in runs]), strict=True))
        self.compare_grid = ChartGrid(runs, "default", "prefix", colours=colours)
        children: list[Any] = [self.compare_grid.widget]
        if group in self.view and len(runs) > 1:
            children.insert(0, w.HTML(f"<b>grouped by {_e(group)}</b>"))
            children.insert(1, self._grouped_charts(runs, group))
        self.compare_box.children = children

    def _grouped_charts(self, runs: list[Any], group: str) -> Any:
        """Per metric, each group's mean over its runs (on common steps) with a min-max or std band."""
        import numpy as np
        from bokeh.layouts import gridplot
        from bokeh.plotting import figure

        from tracker.ui import series
        from tracker.ui.bokeh import bokeh_widget

        values = self.view.set_index("path")[group]
        groups: dict[str, list[Any]] = {}
        for r in runs:
            groups.setdefault(str(values.get(r.path)), []).append(r)
        keys = sorted(set().union(*(series.scalar_keys(r) for r in runs)))[:12]
        colours = dict(zip(groups, _colours(list(groups)), strict=True))
        figs = []
        for key in keys:
            fig = figure(width=300, height=220, title=key, tools="pan,wheel_zoom,box_zoom,reset,save")
            for name, members in groups.items():
                curves = [series.chart_series(r, [key], 300)[key] for r in members]
                curves = [c for c in curves if len(c["x"])]
                if not curves:
                    continue
                grid = np.unique(np.concatenate([c["x"] for c in curves]))
                if len(grid) > 600:
                    grid = np.linspace(grid[0], grid[-1], 600)
                stack = np.vstack([np.interp(grid, c["x"], c["y"], left=np.nan, right=np.nan) for c in curves])
                mean = np.nanmean(stack, axis=0)
                if self.band_select.value == "std":
                    sd = np.nanstd(stack, axis=0)
                    lo, hi = mean - sd, mean + sd
                else:
                    lo, hi = np.nanmin(stack, axis=0), np.nanmax(stack, axis=0)
                fig.varea(x=grid, y1=lo, y2=hi, fill_color=colours[name], fill_alpha=0.2)
                fig.line(grid, mean, line_color=colours[name], line_width=2, legend_label=f"{name} ({len(curves)})")
            fig.legend.label_text_font_size = "9px"
            fig.legend.click_policy = "hide"
            figs.append(fig)
        return bokeh_widget(gridplot(figs, ncols=3, merge_tools=False))

    def close(self) -> None:
        if self.compare_grid is not None:
            self.compare_grid.close()
        self.model.close()
        self.widget.close()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        """As a cell's last value: the table, unless ``display()`` showed it already."""
        if self.shown:
            return
        from IPython.display import display

        self.shown = True
        display(self.widget)


def config_diff_html(runs: list[Any]) -> str:
    """The config keys whose values differ between the runs (a row per key, a column per run)."""
    from tracker.ui.static import flat_items, fmt

    flat = [dict(flat_items(r.config)) for r in runs]
    keys = sorted(set().union(*flat))
    differing = [k for k in keys if len({repr(f.get(k)) for f in flat}) > 1]
    if not differing:
        return "<i>the selected runs have the same config</i>" if len(runs) > 1 else ""
    head = "".join(f"<th style='padding:2px 8px'>{_e(r.name)}</th>" for r in runs)
    rows = "".join(f"<tr><th style='text-align:left;padding:2px 8px'>{_e(k)}</th>"
                   + "".join(f"<td style='padding:2px 8px'>{_e(fmt(f.get(k)))}</td>" for f in flat) + "</tr>"
                   for k in differing)
    return (f"<div><b>config diff</b><table style='font-size:12px;border-collapse:collapse'>"
            f"<tr><th></th>{head}</tr>{rows}</table></div>")


def config_diff(runs: list[Any]) -> dict[str, list[Any]]:
    """The config keys (dotted) whose values differ between the runs: key -> a value per run
    (None where a run lacks the key). What :func:`config_diff_html` shows, as data."""
    from tracker.ui.static import flat_items

    flat = [dict(flat_items(r.config)) for r in runs]
    keys = sorted(set().union(*flat))
    return {k: [f.get(k) for f in flat] for k in keys if len({repr(f.get(k)) for f in flat}) > 1}


class Comparison:
    """Runs side by side, as W&B's run comparer shows them: one chart per metric with a line per
    run and a legend (a :class:`~tracker.ui.charts.ChartGrid` over the runs, with its smoothing,
    x-axis, zoom and hover), and the config keys whose values differ (a row per key, a column per
    run). Outside a kernel it prints the same as text: the config differences and each metric's last
    value per run.

    Args:
        runs: read-side runs (``tracker.Api().run(...)``).
        metrics: chart only these keys (the charts' filter box holds them; clear it to see every
            metric); default every scalar metric of any of the runs.

    Raises:
        UsageError: no runs, or a metric none of the runs logged.
    """

    def __init__(self, runs: list[Any], metrics: list[str] | None = None) -> None:
        from tracker.errors import UsageError
        from tracker.ui import series

        self.runs = list(runs)
        if not self.runs:
            raise UsageError("nothing to compare: give at least one run")
        logged = sorted(set().union(*(series.scalar_keys(r) for r in self.runs)))
        unknown = [m for m in metrics or [] if m not in logged]
        if unknown:
            shown = ", ".join(logged[:20]) + (", ..." if len(logged) > 20 else "")
            raise UsageError(f"no run of {', '.join(r.path for r in self.runs)} logged "
                             f"{', '.join(map(repr, unknown))} (logged: {shown or 'no metrics'})")
        #: The metrics charted, in section order.
        self.metrics: list[str] = list(dict.fromkeys(metrics)) if metrics else logged
        self._chosen = bool(metrics)
        #: Config key -> its value in each run, for the keys whose values differ.
        self.config_diff = config_diff(self.runs)
        self.grid: Any = None
        self.widget: Any = None

    def build(self, wait: bool = True) -> Any:
        """Make the widget (once): a title, the config differences, the overlaid charts; drawn now
        (``wait``), or by a thread so the widget shows at once. Returns the widget."""
        if self.widget is not None:
            return self.widget
        import ipywidgets as w

        from tracker.ui.charts import ChartGrid

        self.grid = ChartGrid(self.runs, "default", "prefix", build=False)
        if self._chosen:
            self.grid.filter_text.value = "^(?:" + "|".join(re.escape(m) for m in self.metrics) + ")$"
        names = ", ".join(_e(r.name) for r in self.runs)
        self.widget = w.VBox([
            w.HTML(f"<b>Comparison of {len(self.runs)} runs</b> <span style='color:#888'>({names})</span>"),
            w.HTML(config_diff_html(self.runs)), self.grid.widget,
        ])
        self.widget.add_class("tracker-panel")
        if wait:
            self.grid.build()
        else:
            self.grid.build_async()
        return self.widget

    def text(self) -> str:
        """The comparison as text: the config differences and each metric's last value per run."""
        from tracker.ui.static import flat_items, fmt

        names = [r.name for r in self.runs]
        rows: list[list[str]] = [["", *names]]
        rows += [[f"config.{k}", *(fmt(v) for v in values)] for k, values in self.config_diff.items()]
        summaries = [dict(flat_items(r.summary)) for r in self.runs]
        rows += [[m, *(fmt(s.get(m)) for s in summaries)] for m in self.metrics]
        widths = [min(40, max(len(r[i]) for r in rows)) for i in range(len(rows[0]))]
        lines = [f"tracker comparison of {len(self.runs)} runs ({', '.join(r.path for r in self.runs)})"]
        lines += ["  " + "  ".join(c[:w].ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        if not self.config_diff and len(self.runs) > 1:
            lines.append("  (the runs have the same config)")
        return "\n".join(lines)

    def _ipython_display_(self) -> None:
        from tracker.ui.panel import in_kernel

        if not in_kernel():
            print(self.text())
            return
        from IPython.display import display

        display(self.build(wait=False))

    def close(self) -> None:
        if self.grid is not None:
            self.grid.close()
        if self.widget is not None:
            self.widget.close()

    def __repr__(self) -> str:
        return f"<tracker comparison of {', '.join(r.path for r in self.runs)}>"


def compare_runs(runs: list[Any], metrics: list[str] | None = None) -> Comparison:
    """A :class:`Comparison` of the runs (what ``%tracker compare`` returns): shown at the end of a
    cell, or with ``IPython.display.display``; ``.build()`` makes its widget."""
    return Comparison(runs, metrics)


def _default_columns(extra: list[str]) -> list[str]:
    config = [c for c in extra if c.startswith("config.")][: DEFAULT_COLUMNS // 2]
    summary = [c for c in extra if c.startswith("summary.")][: DEFAULT_COLUMNS - len(config)]
    return config + summary


def _colours(labels: list[Any]) -> list[str]:
    from tracker.ui.charts import PALETTE

    order: dict[str, int] = {}
    for label in labels:
        order.setdefault(str(label), len(order))
    return [PALETTE[order[str(label)] % len(PALETTE)] for label in labels]


def display_runs(runs: Any, height: int = 360) -> RunTable:
    """Show a project's run table below the cell, and its static snapshot after it."""
    from IPython.display import display

    from tracker.ui import snapshot

    table = RunTable(runs, height=height)
    display(table.widget)
    table.shown = True
    display(snapshot.runs_snapshot(runs), raw=True)
    return table
