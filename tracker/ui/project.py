"""Project views: a run table (Bokeh DataTable), and a comparison of the selected runs (overlaid
charts, grouped mean with a band, parallel coordinates of config against summary, config diff).

The table and the parallel-coordinates chart share one data source in one Bokeh document, so a
selection in either highlights in the other in the browser at once; the comparison charts follow
the selection from the kernel. Brushing an axis of the parallel coordinates (a box drawn across it)
is handled in the kernel too: the brushed ranges narrow the rows both show, through one shared
``IndexFilter``.

The table's colours are JupyterLab's CSS variables (:data:`TABLE_CSS`), which reach into Bokeh's
shadow DOM, so a theme switch recolours it in the browser with no round trip to the kernel.
"""

from __future__ import annotations

import difflib
import math
import re
import threading

from tracker.ui.html import escape as _e

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Columns shown at first, besides name, state, tags, created and duration.
DEFAULT_COLUMNS = 12
FIXED = ("name", "state", "tags", "created", "duration")
#: Bounds of a column's width (px), which is computed from its header and its cells.
MIN_WIDTH, MAX_WIDTH = 56, 260
#: Columns whose widths sum to at most this (px) are spread over the table's whole width; wider
#: sets keep their widths and the table scrolls sideways (the name column stays pinned).
FIT_WIDTH = 900
_QUALIFIED = re.compile(r"\b((?:config|summary)\.[A-Za-z0-9_./-]*[A-Za-z0-9_])")
_QUOTED = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`""")
_PREFIXES = ("config.", "summary.")

#: The run table's stylesheet: every colour is a JupyterLab theme variable (with the light theme's
#: value as fallback, for pages outside JupyterLab), so the table follows the light and dark themes.
TABLE_CSS = """
:host {
  --special: var(--jp-layout-color2, #f5f5f5);
  --odd: var(--jp-layout-color1, #f7f7f7);
  --muted-text: var(--jp-ui-font-color2, #909090);
  --selected: color-mix(in srgb, var(--jp-brand-color1, #1976d2) 22%, var(--jp-layout-color0, white));
  --border-color: var(--jp-border-color2, #e0e0e0);
  color: var(--jp-ui-font-color1, #000);
  background: var(--jp-layout-color0, white);
}
.slick-pane, .slick-viewport, .grid-canvas, .slick-header, .slick-header-columns {
  background: var(--jp-layout-color0, white);
}
.slick-header-columns { border-bottom: 1px solid var(--jp-border-color1, #bdbdbd); }
.slick-header-column.ui-state-default, .slick-header-column {
  background: var(--jp-layout-color2, #eeeeee);
  color: var(--jp-ui-font-color1, #000);
  font-weight: 600;
  border-right: 1px solid var(--jp-border-color2, #e0e0e0);
}
.slick-header-column:hover, .slick-header-column-active {
  background: var(--jp-layout-color3, #bdbdbd);
}
.slick-row { background: var(--jp-layout-color0, white); color: var(--jp-ui-font-color1, #000); }
.slick-row.odd { background: var(--jp-layout-color1, #f7f7f7); }
.slick-row:hover, .slick-row:hover .slick-cell {
  background: color-mix(in srgb, var(--jp-brand-color1, #1976d2) 12%, var(--jp-layout-color0, white));
}
.slick-row.selected, .slick-cell.selected, .slick-row.ui-state-active {
  background: color-mix(in srgb, var(--jp-brand-color1, #1976d2) 22%, var(--jp-layout-color0, white));
}
.slick-cell {
  color: var(--jp-ui-font-color1, #000);
  border-right: 1px solid var(--jp-border-color3, #eeeeee);
  border-bottom: 1px solid var(--jp-border-color2, #e0e0e0);
}
.slick-cell.active { border-color: var(--jp-brand-color1, #1976d2); }
.bk-cell-select, .slick-cell.bk-cell-select { background: var(--jp-layout-color1, #f7f7f7); }
.slick-resizable-handle:hover { background: var(--jp-brand-color2, #64b5f6); }
input[type="checkbox"] { accent-color: var(--jp-brand-color1, #1976d2); }
"""


def _muted(text: str) -> str:
    """Secondary text (already escaped), in the theme's secondary font colour."""
    return f"<span style='color:var(--jp-ui-font-color2, #666)'>{text}</span>"


# --- the filter expression --------------------------------------------------------------------
def filter_frame(df: Any, expression: str) -> Any:
    """Rows of the run frame matching a filter expression such as
    ``config.lr > 1e-3 and state == "finished"`` (pandas query syntax; ``config.*`` and ``summary.*``
    names are written as they are, or in backticks).

    Raises:
        QueryError: said in the expression's terms: an unknown column with the closest known name
            (``unknown column "config.lrr" — did you mean "config.lr"?``), where the syntax breaks
            (``syntax error at "> 1"``), or why the expression cannot be evaluated.
    """
    import ast

    from tracker.errors import QueryError

    expression = expression.strip()
    if not expression:
        return df
    columns = [str(c) for c in df.columns]
    text, names, origin = _substitute_names(expression, columns)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        # offset 0: the text ended before the expression did
        at = origin[min(exc.offset - 1, len(origin) - 1)] if exc.offset else len(expression)
        raise QueryError(_syntax_message(expression, at, exc.msg)) from None
    parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Name):
            continue
        parent = parents.get(id(node))
        if isinstance(parent, ast.Call) and parent.func is node:
            continue  # a function pandas knows (abs, log...) or says it does not
        name = names.get(node.id, node.id)
        if name in columns or name == "index":
            continue
        if isinstance(parent, ast.Attribute) and node.id not in names:  # conf.lr: say the dotted name
            name = f"{name}.{parent.attr}"
        raise QueryError(unknown_column_message(name, columns))
    renamed = df.rename(columns={c: p for p, c in names.items() if c in columns})
    try:
        result = renamed.eval(text, engine="python")
    except Exception as exc:  # noqa: BLE001 - a type mismatch and the like, said with the user's names
        message = str(exc)
        for p, c in names.items():
            message = message.replace(p, c)
        raise QueryError(f'cannot evaluate "{expression}": {message}') from None
    if getattr(getattr(result, "dtype", None), "kind", "") != "b" or len(result) != len(df):
        raise QueryError(f'"{expression}" is not a condition: write a comparison such as config.lr > 1e-3')
    return df[result.fillna(False).to_numpy(dtype=bool)]


def unknown_column_message(name: str, columns: list[str]) -> str:
    """``unknown column "config.lrr" — did you mean "config.lr"?`` (the closest of ``columns``)."""
    suggestion = _closest(name, columns)
    if suggestion is not None:
        return f'unknown column "{name}" — did you mean "{suggestion}"?'
    if "." not in name:
        return f'unknown column "{name}" (to compare with a text, quote it: "{name}")'
    return f'unknown column "{name}"'


def _closest(name: str, columns: list[str]) -> str | None:
    """The column ``name`` most likely meant: the same key under config./summary., else the closest
    spelling (difflib), with or without the prefix."""
    candidates = [c for c in columns if c != "path"]
    bare = name.split(".", 1)[1] if name.startswith(_PREFIXES) else name
    same_key = [c for c in candidates if c.startswith(_PREFIXES) and c.split(".", 1)[1] == bare and c != name]
    if same_key:
        return same_key[0]
    best = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if best:
        return best[0]
    keys = {c.split(".", 1)[1]: c for c in candidates if c.startswith(_PREFIXES)}
    best = difflib.get_close_matches(bare, list(keys), n=1, cutoff=0.6)
    return keys[best[0]] if best else None


def _substitute_names(expression: str, columns: list[str]) -> tuple[str, dict[str, str], list[int]]:
    """The expression with each ``config.*`` / ``summary.*`` / backticked name replaced by a plain
    identifier (strings left as they are); the identifiers' names; and, per character of the new
    text (and one past its end), where it came from in ``expression``."""
    known = sorted((c for c in columns if c.startswith(_PREFIXES)), key=len, reverse=True)
    ids: dict[str, str] = {}
    out: list[str] = []
    origin: list[int] = []

    def add(piece: str, start: int) -> None:
        out.append(piece)
        origin.extend([start] * len(piece))

    i, n = 0, len(expression)
    while i < n:
        quoted = _QUOTED.match(expression, i) if expression[i] in "\"'`" else None
        if quoted:
            if expression[i] == "`":
                name = quoted.group(0)[1:-1]
                add(ids.setdefault(name, f"_tc{len(ids)}_"), i)
            else:
                add(quoted.group(0), i)
            i = quoted.end()
            continue
        boundary = i == 0 or not (expression[i - 1].isalnum() or expression[i - 1] in "_.")
        qualified = _QUALIFIED.match(expression, i) if boundary else None
        if qualified:
            name = next((c for c in known if expression.startswith(c, i) and not _continues(expression, i + len(c))),
                        qualified.group(1))
            add(ids.setdefault(name, f"_tc{len(ids)}_"), i)
            i += len(name)
            continue
        add(expression[i], i)
        i += 1
    origin.append(n)
    return "".join(out), {v: k for k, v in ids.items()}, origin


def _continues(text: str, j: int) -> bool:
    return j < len(text) and (text[j].isalnum() or text[j] in "_./")


def _syntax_message(expression: str, at: int, why: str = "") -> str:
    why = re.sub(r"\s*\(detected at line \d+\)", "", why)
    why = "" if why in ("", "invalid syntax") else f": {why}"
    rest = expression[at:].strip()
    if not rest:
        return f'syntax error at the end of "{expression}": it stops before the expression is complete{why}'
    return f'syntax error at "{rest if len(rest) <= 30 else rest[:29] + "…"}"{why}'


# --- the frame ----------------------------------------------------------------------------------
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
        "alerts": df["alerts"].fillna(0).astype(int) if "alerts" in df else 0,
    })
    media: list[str] = []
    for col in df.columns:
        if col.startswith(_PREFIXES):
            series = df[col]
            if series.map(lambda v: isinstance(v, (dict, list))).any():
                if series.map(lambda v: _media_label(v) is not None if isinstance(v, (dict, list)) else pd.isna(v)).all():
                    media.append(col)
                series = series.map(lambda v: v if not isinstance(v, (dict, list)) else (_media_label(v) or str(v)))
            out[col] = series
    out = out.reset_index(drop=True)
    out.attrs["media"] = media  # media summaries: shown as "image" / "4 images", never an axis
    return out


def _media_label(value: Any) -> str | None:
    """``image`` for a logged media reference, ``4 images`` for a gallery; None for other values."""
    items = value if isinstance(value, list) else [value]
    kinds = {v.get("_type") for v in items if isinstance(v, dict)}
    if not items or len(kinds) != 1 or not all(isinstance(v, dict) for v in items):
        return None
    kind = next(iter(kinds))
    if not isinstance(kind, str):
        return None
    return kind if len(items) == 1 and not isinstance(value, list) else f"{len(items)} {kind}s"


# --- parallel coordinates -----------------------------------------------------------------------
def axis_values(series: Any) -> tuple[Any, list[str] | None]:
    """A column's values on its parallel-coordinates axis (floats, NaN where missing): numbers as
    they are, strings by their sorted order; and those sorted strings (None for numbers)."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float), None
    cats = sorted({str(v) for v in series.dropna()})
    where = {c: i for i, c in enumerate(cats)}
    return np.array([where.get(str(v), np.nan) if v is not None else np.nan for v in series], dtype=float), cats


def parallel_lines(df: Any, columns: list[str]) -> tuple[list[list[float]], list[list[float]], list[tuple[float, float]]]:
    """Per run, the polyline of a parallel-coordinates chart over ``columns`` (each axis scaled to
    0..1 by its min and max; strings placed by their sorted order); and each axis's range."""
    import numpy as np

    scaled, ranges = [], []
    for col in columns:
        v, _ = axis_values(df[col])
        lo, hi = (np.nanmin(v), np.nanmax(v)) if np.isfinite(v).any() else (0.0, 1.0)
        ranges.append((float(lo), float(hi)))
        scaled.append(scale(v, float(lo), float(hi)))
    xs = [[float(i) for i in range(len(columns))]] * len(df)
    ys = [[float(scaled[j][i]) if np.isfinite(scaled[j][i]) else float("nan") for j in range(len(columns))]
          for i in range(len(df))]
    return xs, ys, ranges


def scale(value: Any, lo: float, hi: float) -> Any:
    """A value (or array) in an axis's units placed on the chart's 0..1 (a constant axis: lo at 0.5)."""
    return (value - lo) / (hi - lo) if hi > lo else value - lo + 0.5


def unscale(y: float, lo: float, hi: float) -> float:
    """The inverse of :func:`scale`: a height on the chart in the axis's units."""
    return lo + y * (hi - lo) if hi > lo else lo + y - 0.5


def axis_labels(columns: list[str], limit: int = 18) -> list[str]:
    """Short, distinct axis labels: each column's last path component (``config.model.depth`` ->
    ``depth``), with as many components before it as it takes to tell it from the others, longer
    ones cut to ``limit`` characters in the middle (``accurac…validation``)."""
    parts = [[p for p in re.split(r"(?<=[./])", c) if p] or [c] for c in columns]
    labels = []
    for i, p in enumerate(parts):
        label = "".join(p)
        for k in range(1, len(p) + 1):
            candidate = "".join(p[-k:])
            if all("".join(q[-k:]) != candidate for j, q in enumerate(parts) if j != i):
                label = candidate
                break
        label = label.lstrip("./") or columns[i]
        head = (limit - 1) // 2
        labels.append(label if len(label) <= limit else label[:head] + "…" + label[-(limit - 1 - head):])
    seen: dict[str, int] = {}
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
    return [f"{label} #{i + 1}" if seen[label] > 1 else label for i, label in enumerate(labels)]


# --- cells and widths ---------------------------------------------------------------------------
#: Table cells (BokehJS underscore templates): numbers to 4 significant digits, in exponent form
#: when very large or small, so a nonzero value never reads as 0, the full value on hover;
#: durations with units; states as badges in the colours of the run pages; text with its full value
#: on hover (for a column narrower than its longest cell).
_NUMBER_TEMPLATE = ('<% var ok = !(value === null || value === undefined || (typeof value === "number" && isNaN(value))); %>'
                    '<span title="<%- ok ? value : "" %>"><%= !ok ? "" : '
                    '(typeof value !== "number" ? value : (value !== 0 && (Math.abs(value) >= 1e6 || Math.abs(value) < 1e-3)'
                    ' ? value.toExponential(2) : String(Number(value.toPrecision(4))))) %></span>')
_DURATION_TEMPLATE = ('<%= (value === null || isNaN(value)) ? "" : (value < 60 ? value.toFixed(1) + " s" : '
                      '(value < 3600 ? Math.floor(value / 60) + " min " + Math.round(value % 60) + " s" : '
                      'Math.floor(value / 3600) + " h " + Math.floor(value % 3600 / 60) + " min")) %>')
_STATE_TEMPLATE = ('<span style="background:<%= ({running: "#1f77b4", finished: "#2ca02c", failed: "#d62728", '
                   'crashed: "#d62728", killed: "#ff7f0e", preempting: "#9467bd", preempted: "#9467bd"})[value] '
                   '|| "#7f7f7f" %>;color:white;border-radius:8px;padding:0 6px"><%- value %></span>')
_TEXT_TEMPLATE = '<span title="<%- value %>"><%- value %></span>'

_NARROW = set("ijlI.,:;'|!()[]{}/\\ -`")
_SEMI = set("frt\"*")
_WIDE = set("mwMW@%")


def text_width(text: str, font_px: float = 12.0) -> int:
    """About how many pixels ``text`` takes in a proportional sans-serif font of ``font_px`` (a
    little over rather than under)."""
    em = 0.0
    for ch in text:
        if ch in _NARROW:
            em += 0.30
        elif ch in _SEMI:
            em += 0.36
        elif ch in _WIDE:
            em += 0.86
        elif ch.isupper():
            em += 0.70
        elif ord(ch) > 0x2e80:  # CJK and the like: a full em
            em += 1.0
        else:
            em += 0.58
    return math.ceil(em * font_px * 1.05)


def header_width(title: str) -> int:
    """The width (px) a header needs to show ``title`` whole: the text (semi-bold), the cell's
    padding and the sort indicator."""
    return text_width(title) + 24


def _number_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    v = float(value)
    if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
        return f"{v:.2e}"
    return f"{v:.4g}"


def _duration_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    v = float(value)
    if v < 60:
        return f"{v:.1f} s"
    if v < 3600:
        return f"{int(v // 60)} min {round(v % 60)} s"
    return f"{int(v // 3600)} h {int(v % 3600 // 60)} min"


class RunTable:
    """A project's runs: table, filter, grouping, column chooser, parallel coordinates with
    brushing, and a comparison of the ticked runs.

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
        #: Brushed ranges of the parallel-coordinates axes: column -> (lo, hi) in the column's
        #: units (a text column's: the index of the text in its sorted values).
        self.brushes: dict[str, tuple[float, float]] = {}
        extra = [c for c in self.frame.columns if c.startswith(_PREFIXES)]
        #: Every column the chooser offers.
        self.all_columns = [*FIXED, "alerts", *extra]
        # the alert count is shown when a run has alerts (W&B's and ClearML's tables have no such
        # column; a project where nothing alerted does not need one)
        alerted = ["alerts"] if "alerts" in self.frame and bool((self.frame["alerts"] > 0).any()) else []
        self.columns = [*FIXED, *alerted, *_default_columns(extra, self.frame.attrs.get("media", ()))]
        self.filter_box = w.Text(placeholder='filter, e.g. config.lr > 1e-3 and state == "finished"',
                                 layout=w.Layout(flex="1 1 420px", min_width="280px"), continuous_update=False)
        self.filter_msg = w.HTML()
        self.group_select = w.Dropdown(options=["(none)"] + [c for c in extra if c.startswith("config.")],
                                       description="group by", layout=w.Layout(width="280px"))
        #: The column chooser: type to complete a column name, drag the tags to reorder the table.
        self.column_select = w.TagsInput(value=list(self.columns), allowed_tags=self.all_columns,
                                         allow_duplicates=False, layout=w.Layout(flex="1 1 auto", width="auto"))
        self.band_select = w.Dropdown(options=[("min-max band", "minmax"), ("std band", "std")], value="minmax",
                                      description="band", layout=w.Layout(width="220px"))
        self.clear_button = w.Button(description="clear brushes", icon="eraser",
                                     tooltip="remove the brushed ranges of the parallel coordinates",
                                     layout=w.Layout(width="auto", display="none"))
        self._syncing = False
        self.filter_box.observe(lambda c: self.set_filter(c["new"]), "value")
        self.group_select.observe(lambda _c: self._regroup(), "value")
        self.column_select.observe(lambda c: None if self._syncing else self.set_columns(list(c["new"])), "value")
        self.band_select.observe(lambda _c: self._update_compare(), "value")
        self.clear_button.on_click(lambda _b: self.clear_brushes())
        # ClearML's tag colours: chosen here, shown in this table and on every run page of the project
        self.tag_colours = self._read_tag_colours()
        tags = sorted({t for row in self.frame.get("tags", []) for t in str(row).split(", ") if t})
        self.tag_select = w.Dropdown(options=tags, description="tag", layout=w.Layout(width="220px"))
        self.tag_picker = w.ColorPicker(concise=True, value=self._tag_colour(tags[0]) if tags else "#1f77b4",
                                        layout=w.Layout(width="40px"))
        self.tag_set = w.Button(description="set colour", icon="tint", layout=w.Layout(width="auto"))
        self.tag_reset = w.Button(description="own colour", layout=w.Layout(width="auto"),
                                  tooltip="back to the colour the tag takes by itself")
        self.tag_select.observe(lambda c: setattr(self.tag_picker, "value", self._tag_colour(c["new"])) if c["new"]
                                else None, "value")
        self.tag_set.on_click(lambda _b: self.set_tag_colour(self.tag_select.value, self.tag_picker.value))
        self.tag_reset.on_click(lambda _b: self.set_tag_colour(self.tag_select.value, None))
        self.tag_box = w.HBox([self.tag_select, self.tag_picker, self.tag_set, self.tag_reset],
                              layout=w.Layout(align_items="center", display="" if tags else "none"))
        self.count = w.HTML()
        self.compare_box = w.VBox([])
        self.diff = w.HTML()
        self._build_bokeh()
        self.widget = w.VBox([
            w.HBox([self.filter_box, self.group_select, self.band_select], layout=w.Layout(flex_flow="row wrap")),
            self.filter_msg,
            w.HBox([w.HTML(_muted("columns"), layout=w.Layout(width="auto", margin="0 8px 0 4px")), self.column_select],
                   layout=w.Layout(align_items="center")),
            w.HBox([self.count, self.clear_button, self.tag_box], layout=w.Layout(align_items="center",
                                                                                 flex_flow="row wrap")),
            self.model,
            w.HTML("<b>Comparison of the selected runs</b> " + _muted(
                "(tick rows, or click lines in the parallel coordinates; draw a box across an axis to "
                "brush its range)")),
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
        if "tags" in df:  # chips in the tags' colours (escaped here: the template inserts them as they are)
            from tracker.ui import static

            data["_tag_chips"] = ["".join(static.tag_chip(t, self.tag_colours) for t in str(v).split(", ") if t)
                                  for v in df["tags"]]
        pcols = self._parallel_columns()
        xs, ys, _ = parallel_lines(df, pcols) if pcols else ([[]] * len(df), [[]] * len(df), [])
        data["_xs"], data["_ys"] = xs, ys
        group = self.group_select.value
        data["_colour"] = _colours(df[group].tolist() if group in df else df["path"].tolist())
        return data

    def _read_tag_colours(self) -> dict[str, str]:
        api, project = getattr(self.runs, "api", None), getattr(self.runs, "project", None)
        if api is None or not project:
            return {}
        try:
            return dict(api.tag_colours(project))
        except Exception:  # noqa: BLE001 - an unreadable file: the tags' own colours
            return {}

    def _tag_colour(self, tag: str) -> str:
        from tracker.ui import static

        return static.tag_colours(tag, self.tag_colours)[0]

    def set_tag_colour(self, tag: str | None, colour: str | None) -> None:
        """Choose a tag's colour for the project (None: back to its own); the table redraws."""
        api, project = getattr(self.runs, "api", None), getattr(self.runs, "project", None)
        if not tag or api is None or not project:
            return
        self.tag_colours = dict(api.set_tag_colour(project, tag, colour))
        self.tag_picker.value = self._tag_colour(tag)
        self._refresh_bokeh()

    def _parallel_columns(self) -> list[str]:
        chosen = [c for c in self.columns if c.startswith(_PREFIXES) and c not in self.frame.attrs.get("media", ())]
        return [c for c in chosen if c in self.view and self.view[c].notna().any()][:12]

    def _cell_texts(self, column: str) -> list[str]:
        """The column's cells as the table shows them (for its width)."""
        s = self.view[column]
        if column == "created":
            return ["2026-12-01 14:45"] if len(s) else []
        if column == "duration":
            return [_duration_text(v) for v in s]
        if column == "state":
            return [f"{v}__" for v in s]  # the badge's padding
        if column == "tags":  # chips: each tag with its padding and margin
            return ["".join(f"{t}___" for t in str(v).split(", ") if t) for v in s]
        if s.dtype.kind in "fiu":
            return [_number_text(v) for v in s]
        return ["" if v is None else str(v) for v in s]

    def column_width(self, column: str) -> int:
        """The column's width (px): what its header and its widest cell need, within
        :data:`MIN_WIDTH` .. :data:`MAX_WIDTH` (a header or cell cut there shows whole on hover)."""
        cells = max((text_width(t) for t in self._cell_texts(column)), default=0) + 12
        return max(MIN_WIDTH, min(MAX_WIDTH, max(header_width(column), cells)))

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
            elif c == "tags":
                fmt = HTMLTemplateFormatter(template='<span title="<%- value %>"><%= _tag_chips %></span>')
            elif self.view[c].dtype.kind in "fiu":
                fmt = HTMLTemplateFormatter(template=_NUMBER_TEMPLATE)
            else:
                fmt = HTMLTemplateFormatter(template=_TEXT_TEMPLATE)
            # SlickGrid puts a title into the header as HTML: escaped, with the full name on hover
            title = f'<span title="{_e(c)}">{_e(c)}</span>'
            cols.append(TableColumn(field=c, title=title, width=self.column_width(c), sortable=True, formatter=fmt))
        return cols

    def _autosize(self, columns: list[Any]) -> str:
        """Spread narrow column sets over the table's width; keep wider ones' widths (scrolling)."""
        return "force_fit" if sum(c.width for c in columns) + 32 <= FIT_WIDTH else "none"

    def _table_height(self) -> int:
        """``height`` at most, less when the rows (at least three) need less: the header, 25 px a
        row and room for a horizontal scroll bar."""
        return min(self.height, 28 + 25 * max(3, len(self.view)) + 18)

    def _parallel_figure(self) -> Any:
        from bokeh.events import DoubleTap, Reset, SelectionGeometry
        from bokeh.models import BoxSelectTool, CDSView, ColumnDataSource, HoverTool, Label, TapTool
        from bokeh.plotting import figure

        pcols = self._parallel_columns()
        _, _, ranges = parallel_lines(self.view, pcols) if pcols else ([], [], [])
        self.axis_ranges = dict(zip(pcols, ranges, strict=True))
        fig = figure(height=320, sizing_mode="stretch_width", min_width=360,
                     title="parallel coordinates (config and summary): draw a box across an axis to brush it",
                     tools="reset,save", x_range=(-0.5, max(1, len(pcols)) - 0.5), y_range=(-0.12, 1.1),
                     toolbar_location="above")
        fig.toolbar.logo = None
        fig.title.text_font_size = "11px"
        fig.title.text_font_style = "normal"
        axes = fig.rect("x", 0.5, width=0.3, height=1.3, source=ColumnDataSource({
            "x": list(range(len(pcols))), "full": pcols,
            "lo": [f"{lo:.4g}" for lo, _ in ranges], "hi": [f"{hi:.4g}" for _, hi in ranges]}),
            fill_alpha=0, line_alpha=0, selection_fill_alpha=0, selection_line_alpha=0,
            nonselection_fill_alpha=0, nonselection_line_alpha=0)
        # every run faint, the brushed ones (all when nothing is brushed) in colour on top
        fig.multi_line("_xs", "_ys", source=self.source, line_color="#9e9e9e", line_alpha=0.15, line_width=1,
                       selection_line_alpha=0.15, nonselection_line_alpha=0.15)
        lines = fig.multi_line("_xs", "_ys", source=self.source, view=CDSView(filter=self.brush_filter),
                               line_color="_colour", line_alpha=0.6, line_width=1.5, selection_line_alpha=1.0,
                               selection_line_width=3, nonselection_line_alpha=0.12)
        self.brush_source = ColumnDataSource(self._brush_boxes())
        fig.quad(left="left", right="right", bottom="bottom", top="top", source=self.brush_source,
                 fill_color="#1976d2", fill_alpha=0.18, line_color="#1976d2", line_alpha=0.8, line_width=1.5)
        labels = axis_labels(pcols)
        stagger = len(pcols) > 4
        fig.xaxis.ticker = list(range(len(pcols)))
        fig.xaxis.major_label_overrides = {i: ("\n" if stagger and i % 2 else "") + label
                                           for i, label in enumerate(labels)}
        fig.xaxis.major_label_text_font_size = "11px"
        fig.yaxis.visible = False
        fig.xgrid.grid_line_color = "#999"
        fig.ygrid.visible = False
        for i, (lo, hi) in enumerate(ranges):
            fig.add_layout(Label(x=i, y=1.02, text=f"{hi:.4g}", text_font_size="9px", x_offset=2))
            fig.add_layout(Label(x=i, y=-0.1, text=f"{lo:.4g}", text_font_size="9px", x_offset=2))
        box = BoxSelectTool(renderers=[axes], dimensions="both", description="brush: draw a box across axes")
        fig.add_tools(box, TapTool(renderers=[lines], behavior="select"),
                      HoverTool(renderers=[axes], tooltips=[("axis", "@full"), ("range", "@lo .. @hi")]))
        fig.toolbar.active_drag = box
        fig.on_event(SelectionGeometry, self._on_selection_geometry)
        fig.on_event(Reset, lambda _e: self.clear_brushes())
        fig.on_event(DoubleTap, lambda _e: self.clear_brushes())
        return fig

    def _build_bokeh(self) -> None:
        import ipywidgets as w
        from bokeh.layouts import column
        from bokeh.models import CDSView, ColumnDataSource, DataTable, IndexFilter, InlineStyleSheet

        from tracker.ui.bokeh import bokeh_widget

        self.source = ColumnDataSource(self._data())
        #: The rows inside every brushed range (all rows when nothing is brushed); shared by the
        #: table's view and the coloured lines' view.
        self.brush_filter = IndexFilter(indices=None)
        columns = self._table_columns()
        self.table = DataTable(source=self.source, columns=columns, view=CDSView(filter=self.brush_filter),
                               sortable=True, selectable="checkbox", index_position=None, reorderable=True,
                               frozen_columns=2,  # the checkbox and the run name stay when scrolling sideways
                               autosize_mode=self._autosize(columns), sizing_mode="stretch_width", min_width=360,
                               height=self._table_height(), stylesheets=[InlineStyleSheet(css=TABLE_CSS)])
        self.parallel = self._parallel_figure()
        self.root = column(self.table, self.parallel, sizing_mode="stretch_width")
        self.source.selected.on_change("indices", lambda _a, _o, _n: self._update_compare())
        self.model = bokeh_widget(self.root, layout=w.Layout(width="100%"))
        self._apply_brushes()

    def _count(self, shown: int) -> None:
        brushed = f", brushed on {len(self.brushes)} {'axes' if len(self.brushes) > 1 else 'axis'}" if self.brushes else ""
        self.count.value = _muted(f"{shown} of {len(self.frame)} runs{_e(brushed)}")
        self.clear_button.layout.display = "" if self.brushes else "none"

    def _refresh_bokeh(self) -> None:
        with self.lock:
            self.source.selected.indices = []
            self.brush_filter.indices = None  # valid for any length, until the new rows are in
            self.source.data = self._data()
            columns = self._table_columns()
            self.table.update(autosize_mode=self._autosize(columns), height=self._table_height(), columns=columns)
            self.parallel = self._parallel_figure()
            self.root.children = [self.table, self.parallel]
            self._apply_brushes()

    # --- brushing -----------------------------------------------------------------------------
    def _brush_mask(self) -> Any:
        import numpy as np

        mask = np.ones(len(self.view), dtype=bool)
        for col, (lo, hi) in self.brushes.items():
            if col in self.view:
                v, _ = axis_values(self.view[col])
                with np.errstate(invalid="ignore"):
                    mask &= (v >= lo) & (v <= hi)
        return mask

    def _brush_boxes(self) -> dict[str, list[float]]:
        boxes: dict[str, list[float]] = {"left": [], "right": [], "bottom": [], "top": []}
        for i, col in enumerate(self.axis_ranges):
            if col in self.brushes:
                lo, hi = self.axis_ranges[col]
                b, t = (float(scale(v, lo, hi)) for v in self.brushes[col])
                boxes["left"].append(i - 0.07)
                boxes["right"].append(i + 0.07)
                boxes["bottom"].append(max(-0.03, min(1.03, b)))
                boxes["top"].append(max(-0.03, min(1.03, t)))
        return boxes

    def _apply_brushes(self) -> None:
        """Show the rows inside every brushed range, draw the ranges, untick the rows left out."""
        with self.lock:
            mask = self._brush_mask()
            keep = [int(i) for i in mask.nonzero()[0]]
            self.brush_filter.indices = keep if self.brushes else None
            self.brush_source.data = self._brush_boxes()
            kept = set(keep)
            ticked = [i for i in self.source.selected.indices if i in kept]
            if ticked != list(self.source.selected.indices):
                self.source.selected.indices = ticked
            self._count(len(keep))

    def brush(self, column: str, lo: Any, hi: Any) -> None:
        """Keep the rows whose ``column`` lies in ``lo`` .. ``hi`` (the column's units; for a text
        column, texts or their indices in its sorted values), as a box drawn across its axis of
        the parallel coordinates does; brushes on several columns combine (and)."""
        from tracker.errors import UsageError

        if column not in self.view:
            raise UsageError(unknown_column_message(column, [str(c) for c in self.view.columns]))
        _, cats = axis_values(self.view[column])
        bounds = [float(cats.index(str(v))) if cats is not None and isinstance(v, str) and str(v) in cats else float(v)
                  for v in (lo, hi)]
        self.brushes[column] = (min(bounds), max(bounds))
        self._apply_brushes()

    def brush_box(self, x0: float, x1: float, y0: float, y1: float) -> list[str]:
        """Brush every axis a box drawn on the parallel coordinates crosses (in the chart's units:
        axes at x = 0, 1, ...; each axis's values from 0 to 1), with the box's height; returns the
        columns brushed (none when the box crosses no axis)."""
        pcols = list(self.axis_ranges)
        left, right = sorted((x0, x1))
        bottom, top = sorted((y0, y1))
        crossed = [c for i, c in enumerate(pcols) if left <= i <= right]
        for col in crossed:
            lo, hi = self.axis_ranges[col]
            self.brushes[col] = (unscale(bottom, lo, hi), unscale(top, lo, hi))
        if crossed:
            self._apply_brushes()
        return crossed

    def _on_selection_geometry(self, event: Any) -> None:
        geometry = event.geometry or {}
        if not getattr(event, "final", True) or geometry.get("type") != "rect":
            return
        self.brush_box(geometry["x0"], geometry["x1"], geometry["y0"], geometry["y1"])

    def clear_brushes(self) -> None:
        """Remove every brushed range (Reset or a double click on the chart, or *clear brushes*)."""
        if self.brushes:
            self.brushes.clear()
            self._apply_brushes()

    def visible(self) -> list[str]:
        """The paths of the rows the table shows (the filter's, inside every brushed range)."""
        return [p for p, keep in zip(self.view["path"], self._brush_mask(), strict=True) if keep]

    # --- controls -----------------------------------------------------------------------------
    def set_filter(self, expression: str) -> None:
        try:
            self.view = filter_frame(self.frame, expression).reset_index(drop=True)
            self.filter_msg.value = ""
        except Exception as exc:  # noqa: BLE001 - a typo in the box says why; the table stays as it was
            self.filter_msg.value = (f"<span style='color:var(--jp-error-color1, #d62728)'>filter not applied: "
                                     f"{_e(exc)}</span>")
            return
        self._refresh_bokeh()

    def set_columns(self, columns: list[str]) -> None:
        """Show these columns, in this order (the run name always first)."""
        chosen = [c for c in dict.fromkeys(columns) if c in self.frame.columns and c != "path"] or list(FIXED)
        self.columns = ["name"] + [c for c in chosen if c != "name"]
        self.brushes = {c: r for c, r in self.brushes.items() if c in self.columns}
        if list(self.column_select.value) != self.columns:
            self._syncing = True
            try:
                self.column_select.value = list(self.columns)
            finally:
                self._syncing = False
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
            w.HTML(f"<b>Comparison of {len(self.runs)} runs</b> {_muted(f'({names})')}"),
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
        from tracker.ui.bokeh import in_kernel

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


def _default_columns(extra: list[str], media: Any = ()) -> list[str]:
    """The config and summary columns shown at first: half config keys, then summaries, numbers
    before media summaries (a watched model's histograms must not push the metrics out)."""
    config = [c for c in extra if c.startswith("config.")][: DEFAULT_COLUMNS // 2]
    summaries = [c for c in extra if c.startswith("summary.")]
    ordered = [c for c in summaries if c not in media] + [c for c in summaries if c in media]
    return config + ordered[: DEFAULT_COLUMNS - len(config)]


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
