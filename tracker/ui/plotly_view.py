"""A logged plotly figure (its JSON) drawn in Bokeh, with no plotly.js: the page cannot fetch it, and
the kernel may not have plotly installed.

Drawn: ``scatter`` / ``scattergl`` traces (lines, markers or both, with their colours, dashes and
names), ``bar`` (vertical or horizontal, grouped), ``histogram`` (binned here) and ``heatmap``; the
layout's title, axis titles and log axes. Other trace types are named under the chart, never
dropped silently; the figure's JSON stays in the run (``run.media(key)[i].path``).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PALETTE = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692", "#b6e880",
           "#ff97ff", "#fecb52")  # plotly's own default colours, so a figure looks as its author saw it
DASHES = {"dash": "dashed", "dot": "dotted", "dashdot": "dashdot", "longdash": "dashed", "solid": "solid"}


def values(v: Any) -> list[Any]:
    """A trace's array as a list: plain JSON lists, or plotly's typed arrays (``{"dtype", "bdata"}``)."""
    if v is None:
        return []
    if isinstance(v, dict) and "bdata" in v:
        import base64

        import numpy as np

        arr = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v.get("dtype", "f8")))
        shape = v.get("shape")
        if shape:
            dims = [int(s) for s in str(shape).split(",")] if isinstance(shape, str) else list(shape)
            arr = arr.reshape(dims)
        return arr.tolist()
    if isinstance(v, (list, tuple)):
        return list(v)
    return [v]


def _title(obj: Any) -> str | None:
    if isinstance(obj, dict):
        obj = obj.get("text")
    return str(obj) if obj is not None else None


def to_bokeh(spec: dict[str, Any]) -> tuple[Any, list[str]]:
    """``(Bokeh figure, names of traces not drawn)`` for a plotly figure's JSON."""
    import numpy as np
    from bokeh.models import ColumnDataSource, LinearColorMapper
    from bokeh.plotting import figure

    layout = spec.get("layout") or {}
    traces = [t for t in spec.get("data") or [] if isinstance(t, dict)]
    xaxis, yaxis = layout.get("xaxis") or {}, layout.get("yaxis") or {}
    categorical_x = any(t.get("type") in ("bar",) and t.get("orientation") != "h" and
                        any(isinstance(x, str) for x in values(t.get("x"))) for t in traces)
    categorical_y = any(t.get("type") == "bar" and t.get("orientation") == "h" for t in traces)
    kwargs: dict[str, Any] = {"width": 640, "height": 400, "tools": "pan,wheel_zoom,box_zoom,reset,save,hover",
                              "title": _title(layout.get("title")), "x_axis_label": _title(xaxis.get("title")),
                              "y_axis_label": _title(yaxis.get("title"))}
    if xaxis.get("type") == "log":
        kwargs["x_axis_type"] = "log"
    if yaxis.get("type") == "log":
        kwargs["y_axis_type"] = "log"
    if categorical_x:
        kwargs["x_range"] = list(dict.fromkeys(str(x) for t in traces if t.get("type") == "bar" for x in values(t.get("x"))))
    if categorical_y:
        kwargs["y_range"] = list(dict.fromkeys(str(y) for t in traces if t.get("type") == "bar" for y in values(t.get("y"))))
    fig = figure(**{k: v for k, v in kwargs.items() if v is not None})
    skipped: list[str] = []
    bars = [t for t in traces if t.get("type") == "bar"]
    width = 0.8 / max(1, len(bars))
    for i, t in enumerate(traces):
        kind = t.get("type") or "scatter"
        name = str(t.get("name") or f"trace {i}")
        marker: dict[str, Any] = t["marker"] if isinstance(t.get("marker"), dict) else {}
        line: dict[str, Any] = t["line"] if isinstance(t.get("line"), dict) else {}
        colour = line.get("color") if isinstance(line.get("color"), str) else (
            marker.get("color") if isinstance(marker.get("color"), str) else PALETTE[i % len(PALETTE)])
        legend = {"legend_label": name} if t.get("name") else {}
        if kind in ("scatter", "scattergl"):
            x, y = values(t.get("x")), values(t.get("y"))
            if not x and y:
                x = list(range(len(y)))
            src = ColumnDataSource({"x": x, "y": y})
            mode = str(t.get("mode") or ("lines" if len(y) > 20 else "lines+markers"))
            if "lines" in mode:
                fig.line("x", "y", source=src, color=colour, line_width=float(line.get("width") or 2),
                         line_dash=DASHES.get(str(line.get("dash") or "solid"), "solid"), **legend)
            if "markers" in mode:
                size = marker.get("size")
                fig.scatter("x", "y", source=src, color=colour, size=float(size) if isinstance(size, (int, float)) else 6,
                            **({} if "lines" in mode else legend))
        elif kind == "bar":
            x, y = values(t.get("x")), values(t.get("y"))
            offset = (len([b for b in bars[: bars.index(t)]]) - (len(bars) - 1) / 2) * width
            if t.get("orientation") == "h":
                from bokeh.transform import dodge

                fig.hbar(y=dodge("y", offset, range=fig.y_range), right="x", height=width * 0.95, color=colour,
                         source=ColumnDataSource({"x": x, "y": [str(v) for v in y]}), **legend)
            elif categorical_x:
                from bokeh.transform import dodge

                fig.vbar(x=dodge("x", offset, range=fig.x_range), top="y", width=width * 0.95, color=colour,
                         source=ColumnDataSource({"x": [str(v) for v in x], "y": y}), **legend)
            else:
                fig.vbar(x=[float(v) + offset for v in x], top=y, width=width * 0.95, color=colour, **legend)
        elif kind == "histogram":
            data = np.asarray([v for v in values(t.get("x")) if isinstance(v, (int, float))], dtype=float)
            data = data[np.isfinite(data)]
            if data.size:
                counts, edges = np.histogram(data, bins=int(t.get("nbinsx") or min(50, max(5, int(np.sqrt(data.size))))))
                fig.quad(top=counts, bottom=0, left=edges[:-1], right=edges[1:], color=colour, fill_alpha=0.7,
                         line_color=None, **legend)
        elif kind == "heatmap":
            z = np.asarray(values(t.get("z")), dtype=float)
            if z.ndim == 2 and z.size:
                finite = z[np.isfinite(z)]
                mapper = LinearColorMapper(palette="Viridis256", low=float(finite.min()) if finite.size else 0.0,
                                           high=float(finite.max()) if finite.size else 1.0)
                fig.image(image=[z], x=0, y=0, dw=z.shape[1], dh=z.shape[0], color_mapper=mapper)
        else:
            skipped.append(f"{name} ({kind})")
    if fig.legend:
        fig.legend.click_policy = "hide"
        fig.legend.label_text_font_size = "11px"
    fig.background_fill_color = fig.border_fill_color = None
    fig.toolbar.logo = None
    return fig, skipped
