"""The Model tab (W&B's model panel): for each model the run watched (``run.watch``), its module tree
(name indented by depth, type, own and total parameters, the output shape of the first forward
pass) and, for a chosen parameter or gradient, its histograms over steps as a heat map with the
selected step's bars beside it."""

from __future__ import annotations

import threading

from tracker.ui.html import escape as _e

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Rows of a module tree shown (a model with more modules is cut, with a count).
TREE_ROWS = 2000
MUTED = "color:var(--jp-ui-font-color2, #666)"
BORDER = "var(--jp-border-color2, #ddd)"


def _count(n: Any) -> str:
    if not isinstance(n, int):
        return ""
    for unit, size in (("B", 10**9), ("M", 10**6), ("k", 10**3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def _shape(shape: Any) -> str:
    if shape is None:
        return ""
    if isinstance(shape, list) and all(isinstance(x, int) or x is None for x in shape):
        # a dimension not known until the data comes (Keras's batch): None, as Keras's summary shows it
        return "(" + ", ".join("None" if x is None else str(x) for x in shape) + ")"
    if isinstance(shape, list):
        return "[" + ", ".join(_shape(s) for s in shape) + "]"
    if isinstance(shape, dict):
        return "{" + ", ".join(f"{k}: {_shape(v)}" for k, v in shape.items()) + "}"
    return str(shape)


def tree_html(graph: dict[str, Any]) -> str:
    """One watched model: a summary line and its module tree as a table (escaped)."""
    modules = [m for m in graph.get("modules") or [] if isinstance(m, dict)]
    top = modules[0] if modules else {}
    total, trainable = top.get("total_params"), top.get("trainable_params")
    what = {"gradients": "gradient histograms", "parameters": "parameter histograms",
            "all": "gradient and parameter histograms"}.get(graph.get("log") or "", "no histograms")
    head = (f"<div style='margin:4px 0'><b>{_e(graph.get('type'))}</b> <span style='{MUTED}'>graph_{_e(graph.get('index'))}"
            f" · {_e(_count(total))} parameters ({_e(_count(trainable))} trainable) · {_e(what)}"
            + ((" every pass" if graph.get("log_freq") == 1 else f" every {_e(graph.get('log_freq'))} passes")
               if graph.get("log") else "") + "</span></div>")
    cell = f"padding:2px 10px 2px 0;border-bottom:1px solid {BORDER};text-align:left;white-space:nowrap"
    rows = []
    for m in modules[:TREE_ROWS]:
        raw = m.get("depth")
        depth = raw if isinstance(raw, int) else 0
        name = str(m.get("name") or "").rsplit(".", 1)[-1] if depth else str(m.get("name") or "")
        rows.append(
            f"<tr><td style='{cell};padding-left:{6 + 16 * depth}px' title='{_e(m.get('name'))}'>{_e(name)}</td>"
            f"<td style='{cell}'>{_e(m.get('type'))}</td>"
            f"<td style='{cell};text-align:right'>{_e(_count(m.get('params')) if m.get('params') else '')}</td>"
            f"<td style='{cell};text-align:right;{MUTED}'>{_e(_count(m.get('total_params')))}</td>"
            f"<td style='{cell};font-family:var(--jp-code-font-family, monospace)'>{_e(_shape(m.get('output_shape')))}</td></tr>")
    more = (f"<div style='{MUTED};font-size:12px'>{len(modules) - TREE_ROWS} more modules</div>"
            if len(modules) > TREE_ROWS else "")
    th = f"{cell};{MUTED};font-weight:normal"
    return (f"<div class='tracker-model-tree' style='font-family:sans-serif;font-size:13px'>{head}"
            f"<div style='max-height:420px;overflow:auto'><table style='border-collapse:collapse'>"
            f"<tr><th style='{th}'>module</th><th style='{th}'>type</th><th style='{th};text-align:right'>parameters</th>"
            f"<th style='{th};text-align:right'>with children</th><th style='{th}'>output shape</th></tr>"
            f"{''.join(rows)}</table></div>{more}</div>")


class ModelView:
    """The Model tab of a run page: what ``run.watch`` recorded, re-read on :meth:`refresh`."""

    def __init__(self, run: Any) -> None:
        import ipywidgets as w

        self.run = run
        self.lock = threading.RLock()
        self.trees = w.HTML()
        self.key = w.Dropdown(description="histogram", layout=w.Layout(width="480px"))
        self.key.observe(lambda _c: self._draw(), "value")
        self.area = w.Box(layout=w.Layout(width="100%", flex_flow="row wrap"))
        self.heat_fig: Any = None  # the shown heat map (None until one shows)
        self.items: dict[str, list[Any]] = {}
        self.widget = w.VBox([self.trees, self.key, self.area])

    def refresh(self) -> None:
        """Read the watched models and their histograms again."""
        with self.lock:
            graphs = self.run.model_graphs()
            if not graphs:
                self.trees.value = ("<i style='color:var(--jp-ui-font-color2, #666)'>no model watched: call "
                                    "run.watch(model) (PyTorch) to see its modules and its gradient and "
                                    "parameter histograms here</i>")
            else:
                self.trees.value = "".join(tree_html(g) for g in graphs)
            by_key: dict[str, list[Any]] = {}
            for item in self.run.media(kind="histogram"):
                if item.key.startswith(("gradients/", "parameters/")):
                    by_key.setdefault(item.key, []).append(item)
            self.items = dict(sorted(by_key.items()))
            current = self.key.value
            self.key.options = list(self.items)
            self.key.layout.display = "" if self.items else "none"
            self.key.value = current if current in self.items else next(iter(self.items), None)
            self._draw()

    def _draw(self) -> None:
        from bokeh.layouts import row
        from bokeh.plotting import figure

        from tracker.ui.bokeh import bokeh_widget
        from tracker.ui.media_view import histogram_heat

        items = self.items.get(self.key.value) if self.key.value else None
        if not items:
            self.area.children = []
            self.heat_fig = None
            return
        last = items[-1]
        bins, counts = last.record["bins"], last.record["counts"]
        bars = figure(width=380, height=280, title=f"step {last.step}", x_axis_label="value", y_axis_label="count",
                      tools="pan,wheel_zoom,reset,save")
        bars.quad(top=counts, bottom=0, left=bins[:-1], right=bins[1:], fill_alpha=0.7, line_color=None)
        bars.background_fill_color = bars.border_fill_color = None
        bars.toolbar.logo = None
        self.heat_fig = histogram_heat(items, f"{self.key.value} over steps", width=480, height=280)
        self.area.children = [bokeh_widget(row(self.heat_fig, bars))]
