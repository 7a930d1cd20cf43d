"""Chart grids without a browser: y ranges that fit the data, readable tick labels (their JavaScript
run by Node), the comparison's one legend (all runs, search, highlight), a wrapping layout, the
status line, and no painted background."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

import tracker
from tracker.ui.charts import (
    FADED,
    LOG_MINOR_TICKS_JS,
    LOG_TICKS_JS,
    NO_METRICS,
    RAW_WIDTH,
    TICK_FORMAT_JS,
    ChartGrid,
    y_limits,
)


def _store(tmp_path):
    return str(tmp_path / "store")


def _run(tmp_path, metrics, steps=50, name=None):
    run = tracker.init(project="p", dir=_store(tmp_path), name=name, reinit="create_new",
                       settings=tracker.Settings(strict=True, quiet=True))
    for i in range(steps):
        run.log({k: f(i) if callable(f) else f for k, f in metrics.items()})
    run.finish()
    return tracker.Api(_store(tmp_path)).run(run.path)


def _node(script: str) -> object:
    node = shutil.which("node")
    if node is None:
        pytest.skip("no Node.js here to run the charts' JavaScript")
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def _labels(ticks: list[float], log: bool = False) -> list[str]:
    """What the axes' CustomJSTickFormatter shows for ``ticks`` (called as Bokeh calls it: one
    cache object as ``this`` for one formatting pass)."""
    return _node(f"""
const f = new Function("tick", "index", "ticks", "log", '"use strict";\\n' + {json.dumps(TICK_FORMAT_JS)});
const ticks = {json.dumps(ticks)}, cache = {{}};
console.log(JSON.stringify(ticks.map((t, i) => String(f.call(cache, t, i, ticks, {json.dumps(log)})))));
""")  # type: ignore[return-value]


def _log_ticks(start: float, end: float) -> dict[str, list[float]]:
    return _node(f"""
const major = new Function("cb_data", '"use strict";\\n' + {json.dumps(LOG_TICKS_JS)});
const minor = new Function("cb_data", '"use strict";\\n' + {json.dumps(LOG_MINOR_TICKS_JS)});
const cb = {{start: {start!r}, end: {end!r}, range: null, cross_loc: null}};
const m = major(cb);
console.log(JSON.stringify({{major: m, minor: minor({{...cb, major_ticks: m}})}}));
""")  # type: ignore[return-value]


# --- y ranges -------------------------------------------------------------------------------------
def test_y_limits_centre_a_constant_and_pad_a_span():
    lo, hi = y_limits(0.003, 0.003)
    assert lo < 0.003 < hi and hi - lo < 0.003 and (lo + hi) / 2 == pytest.approx(0.003)
    assert y_limits(0.0, 0.0) == (-1.0, 1.0)
    lo, hi = y_limits(-2.5, -2.5)
    assert lo < -2.5 < hi and (lo + hi) / 2 == pytest.approx(-2.5)
    assert y_limits(0.0, 10.0) == pytest.approx((-0.5, 10.5))
    lo, hi = y_limits(1e-4, 1.0, log=True)
    assert 0 < lo < 1e-4 and hi > 1.0 and lo * hi == pytest.approx(1e-4)  # symmetric in decades
    lo, hi = y_limits(0.003, 0.003, log=True)
    assert 0 < lo < 0.003 < hi and (lo * hi) ** 0.5 == pytest.approx(0.003)


def test_a_constant_series_is_drawn_centred_on_its_value(tmp_path):
    run = _run(tmp_path, {"lr": 0.003, "zero": 0.0, "loss": lambda i: 1.0 / (i + 1)})
    grid = ChartGrid([run], grouping="none")
    rng = grid.charts["lr"].figure.y_range
    assert type(rng).__name__ == "Range1d"
    assert rng.start < 0.003 < rng.end and 0 < rng.end - rng.start < 0.003  # never -1..1, where it reads 0
    assert (rng.start + rng.end) / 2 == pytest.approx(0.003)
    assert (rng.reset_start, rng.reset_end) == (rng.start, rng.end)  # the toolbar's Reset keeps it
    zero = grid.charts["zero"].figure.y_range
    assert zero.start < 0 < zero.end
    loss = grid.charts["loss"].figure.y_range
    assert loss.start < 1 / 50 and loss.end > 1.0 and loss.end - loss.start < 1.2
    # log y: the range stays positive and around the value
    grid.set_log(True)
    assert 0 < rng.start < 0.003 < rng.end and rng.end / rng.start < 1.5
    assert 0 < loss.start < 1 / 50 and loss.end > 1.0


def test_the_y_range_fits_every_runs_lines_and_zoom_windows(tmp_path):
    a = _run(tmp_path, {"lr": 0.003, "y": lambda i: float(i)}, steps=100)
    b = _run(tmp_path, {"lr": 0.01, "y": lambda i: float(i)}, steps=100)
    grid = ChartGrid([a, b], grouping="none")
    rng = grid.charts["lr"].figure.y_range
    assert rng.start < 0.003 and rng.end > 0.01 and rng.end - rng.start < 0.02
    y = grid.charts["y"].figure.y_range
    assert y.start < 0 and y.end > 99
    grid.zoom("y", 10, 20)  # the window read again: y fits it
    assert 9 < y.start < 10 and 20 < y.end < 21
    grid.reset_zoom("y")
    assert y.start < 0 and y.end > 99


def test_live_appends_refit_the_y_range(tmp_path):
    run = tracker.init(project="p", dir=_store(tmp_path), settings=tracker.Settings(strict=True, quiet=True))
    for _ in range(10):
        run.log({"lr": 0.003})
    panel = run.display(hidden=True)
    assert panel.wait_ready()
    rng = panel.charts.charts["lr"].figure.y_range
    assert rng.start < 0.003 < rng.end and rng.end - rng.start < 0.003
    for _ in range(10):
        run.log({"lr": 0.5})
    run.flush()
    panel.refresh()
    assert rng.start < 0.003 and 0.5 < rng.end < 0.6
    run.finish()
    assert panel.errors == []


# --- tick labels ----------------------------------------------------------------------------------
def test_axes_use_the_compact_tick_formatter(tmp_path):
    run = _run(tmp_path, {"lr": 0.003})
    grid = ChartGrid([run], grouping="none")
    fig = grid.charts["lr"].figure
    for axis in (fig.yaxis[0], fig.xaxis[0]):
        assert type(axis.formatter).__name__ == "CustomJSTickFormatter"
        assert axis.formatter.code == TICK_FORMAT_JS and axis.formatter.args == {"log": False}
    grid.set_x_axis("_timestamp")
    assert type(fig.xaxis[0].formatter).__name__ == "DatetimeTickFormatter"
    grid.set_x_axis("_step")
    assert type(fig.xaxis[0].formatter).__name__ == "CustomJSTickFormatter"
    system = ChartGrid([run], stream="system", grouping="system", build=False)
    system._pending = []
    system._make_figure("network.sent")  # byte counts keep their humanised formatter
    assert type(system.charts["network.sent"].figure.yaxis[0].formatter).__name__ == "NumeralTickFormatter"


def test_tick_labels_are_compact():
    assert _labels([0.0027, 0.0028, 0.0029, 0.003, 0.0031, 0.0032, 0.0033]) == [
        "0.0027", "0.0028", "0.0029", "0.003", "0.0031", "0.0032", "0.0033"]
    assert _labels([0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]) == ["0", "0.2", "0.4", "0.6", "0.8", "1"]
    assert _labels([-1.0, -0.5, 0.0, 0.5, 1.0]) == ["-1", "-0.5", "0", "0.5", "1"]
    assert _labels([1.4e-5, 1.45e-5, 1.5e-5]) == ["1.4e-5", "1.45e-5", "1.5e-5"]
    assert _labels([0, 50_000, 100_000, 150_000]) == ["0", "50k", "100k", "150k"]
    assert _labels([1_000_000, 1_500_000, 2_000_000]) == ["1M", "1.5M", "2M"]
    assert _labels([0, 100, 200, 300]) == ["0", "100", "200", "300"]
    assert _labels([12_340, 12_345, 12_350]) == ["12.34k", "12.345k", "12.35k"]


def test_a_log_axis_labels_every_decade_and_values_below_one_half(tmp_path):
    run = _run(tmp_path, {"loss": lambda i: float(10 ** (-4 * i / 49))})
    grid = ChartGrid([run], grouping="none")
    grid.set_log(True)
    axis = grid.charts["loss"].figure.yaxis[0]
    assert type(grid.charts["loss"].figure.y_scale).__name__ == "LogScale"
    assert type(axis.ticker).__name__ == "CustomJSTicker" and axis.ticker.major_code == LOG_TICKS_JS
    assert type(axis.formatter).__name__ == "CustomJSTickFormatter" and axis.formatter.args == {"log": True}
    rng = grid.charts["loss"].figure.y_range
    ticks = _log_ticks(rng.start, rng.end)
    assert ticks["major"] == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1.0])  # every decade of 1 .. 1e-4
    assert 2e-4 in ticks["minor"] and 0.5 in ticks["minor"]
    assert _labels(ticks["major"], log=True) == ["1e-4", "0.001", "0.01", "0.1", "1"]
    # less than two decades (Bokeh's LogTicker goes linear there: nothing below 0.2 of 0.05 .. 0.9)
    narrow = _log_ticks(0.05, 0.9)["major"]
    assert narrow == pytest.approx([0.05, 0.1, 0.2, 0.5])
    assert _labels(narrow, log=True) == ["0.05", "0.1", "0.2", "0.5"]
    # within one decade, and a constant around 0.003
    assert _log_ticks(0.3, 0.45)["major"] == pytest.approx([0.3, 0.35, 0.4, 0.45])
    tight = _log_ticks(0.003 / 1.1, 0.003 * 1.1)["major"]
    assert len(tight) >= 2 and any(abs(t - 0.003) < 1e-12 for t in tight)
    assert "0.003" in _labels(tight, log=True)
    many = _log_ticks(1e-12, 1.0)["major"]  # 13 decades: every other one, still evenly
    assert 5 <= len(many) <= 8 and _labels(many, log=True)[-1] == "1"
    # back to linear: the compact linear labels
    grid.set_log(False)
    assert type(axis.ticker).__name__ == "BasicTicker" and axis.formatter.args == {"log": False}


# --- the comparison's legend ----------------------------------------------------------------------
def _ten(tmp_path):
    return [_run(tmp_path, {"loss": lambda s, i=i: (i + 1) / (s + 1), "acc": lambda s, i=i: s * i / 100},
                 steps=20, name=f"run-{chr(97 + i)}{i}") for i in range(10)]


def _styles(grid, path):
    return [(r.visible, r.glyph.line_width, r.glyph.line_alpha) for c in grid.charts.values()
            for r in c.figure.renderers if r.name == "raw" and r.tags[0] == path]


def test_the_comparison_has_one_legend_listing_every_run(tmp_path):
    runs = _ten(tmp_path)
    grid = ChartGrid(runs, grouping="none")
    assert grid.legend is not None and grid.legend in grid.widget.children
    assert grid.legend_names() == [r.name for r in runs]  # all 10, not 6
    assert all(e.layout.display != "none" for e in grid.legend_entries.values())
    for run in runs:  # an entry: the run's colour and its name
        swatch, button = grid.legend_entries[run.path].children
        assert grid.colours[run.path] in swatch.value and button.description == run.name
    for chart in grid.charts.values():  # no legend drawn on the curves
        assert not chart.figure.legend and not chart.figure.select(type=__import__("bokeh.models").models.Legend)
    assert grid.legend_list.layout.flex_flow == "row wrap"
    assert "var(--jp-ui-font-color1" in grid.legend_count.value  # text follows the theme
    single = ChartGrid(runs[:1], grouping="none")
    assert single.legend is None and single.legend_entries == {}


def test_the_legend_search_narrows_the_runs(tmp_path):
    runs = _ten(tmp_path)
    grid = ChartGrid(runs, grouping="none")
    grid.legend_search.value = "RUN-C"  # any case
    assert grid.legend_names() == ["run-c2"]
    shown = [p for p, e in grid.legend_entries.items() if e.layout.display != "none"]
    assert shown == [runs[2].path]
    assert "1 of 10" in grid.legend_count.value
    assert all(v is False for v, _, _ in _styles(grid, runs[0].path))  # the others' lines hidden
    assert all(v is True for v, _, _ in _styles(grid, runs[2].path))
    assert grid.charts["loss"].figure.y_range.end < 3.5  # fitted to the run shown (3 / (s + 1))
    grid.legend_search.value = ""
    assert grid.legend_names() == [r.name for r in runs]
    assert all(v is True for r in runs for v, _, _ in _styles(grid, r.path))
    assert grid.charts["loss"].figure.y_range.end > 10


def test_a_legend_click_highlights_the_run_in_every_chart(tmp_path):
    runs = _ten(tmp_path)
    grid = ChartGrid(runs, grouping="none")
    base = _styles(grid, runs[3].path)
    assert base == [(True, RAW_WIDTH, 1.0)] * 2
    grid.legend_buttons[runs[3].path].value = True  # the click
    assert grid.highlighted == runs[3].path
    assert _styles(grid, runs[3].path) == [(True, 2 * RAW_WIDTH, 1.0)] * 2  # in both charts
    for other in runs[:3] + runs[4:]:
        assert _styles(grid, other.path) == [(True, 1.0, FADED)] * 2
    grid.legend_buttons[runs[5].path].value = True  # another run: the first is let go
    assert grid.highlighted == runs[5].path and grid.legend_buttons[runs[3].path].value is False
    assert _styles(grid, runs[5].path) == [(True, 2 * RAW_WIDTH, 1.0)] * 2
    assert _styles(grid, runs[3].path) == [(True, 1.0, FADED)] * 2
    grid.legend_buttons[runs[5].path].value = False  # a second click clears it
    assert grid.highlighted is None
    assert all(_styles(grid, r.path) == base for r in runs)
    # with smoothing on, the smoothed lines are highlighted too
    grid.set_smoothing("ema", 0.6)
    grid.highlight(runs[0].path)
    smooth = [r.glyph.line_width for c in grid.charts.values() for r in c.figure.renderers
              if r.name == "smooth" and r.tags[0] == runs[0].path]
    assert smooth and all(w > 2 for w in smooth)
    grid.highlight(None)
    assert all(b.value is False for b in grid.legend_buttons.values())
    with pytest.raises(ValueError):
        grid.highlight("no/such-run")


def test_a_comparison_hover_names_the_run(tmp_path):
    runs = _ten(tmp_path)[:2]
    grid = ChartGrid(runs, grouping="none")
    tools = [t for t in grid.charts["loss"].figure.toolbar.tools if type(t).__name__ == "HoverTool"]
    assert [t.tooltips[0][0] for t in tools] == [r.name for r in runs]
    grid.hover_select.value = "vline"
    assert all(t.mode == "vline" for t in tools)


# --- layout, status, theme ------------------------------------------------------------------------
def test_charts_wrap_at_the_panels_edge(tmp_path):
    run = _run(tmp_path, {f"train/m{i}": float(i) for i in range(5)} | {"val/loss": 1.0})
    grid = ChartGrid([run])
    box, outer = grid.sections["train"]
    assert type(box).__name__ == "Box"
    assert box.layout.display == "flex" and box.layout.flex_flow == "row wrap"
    assert [m._model for m in box.children] == [grid.charts[f"train/m{i}"].figure for i in range(5)]
    assert outer in grid.section_box.children and box in outer.children
    assert all(m.layout.flex == "0 0 auto" for m in box.children)  # fixed-width charts, wrapped
    for row in grid.controls.children:  # the control rows wrap too
        assert row.layout.flex_flow == "row wrap"
    grid.filter_text.value = "m[13]"
    assert [m._model.name for m in box.children] == ["train/m1", "train/m3"]
    assert grid.sections["val"][1].layout.display == "none"
    assert "(2)" in outer.children[0].value and "var(--jp-" in outer.children[0].value
    grid.filter_text.value = "nothing-matches"
    assert "no chart matches" in grid.status.value
    grid.filter_text.value = ""
    assert grid.status.value == ""


def test_no_placeholder_once_a_chart_is_drawn(tmp_path):
    run = _run(tmp_path, {"loss": 1.0})
    grid = ChartGrid([run])
    assert grid.status.value == ""
    grid.build_async().join(30)  # built again (nothing new): not "no metrics logged yet"
    assert grid.status.value == ""
    # a live run whose page is made before it logs anything
    live = tracker.init(project="p", dir=_store(tmp_path), settings=tracker.Settings(strict=True, quiet=True))
    panel = live.display(hidden=True)
    assert panel.wait_ready()
    assert panel.charts.status.value == NO_METRICS
    live.log({"loss": 0.5})
    live.flush()
    panel.refresh()
    assert "loss" in panel.charts.charts and panel.charts.status.value == ""
    live.finish()
    assert panel.errors == []


def test_figures_paint_no_background(tmp_path):
    run = _run(tmp_path, {"loss": 1.0})
    grid = ChartGrid([run], grouping="none")
    fig = grid.charts["loss"].figure
    assert fig.background_fill_color is None and fig.border_fill_color is None
    assert fig.toolbar.logo is None and fig.toolbar.active_scroll is None
    assert np.isfinite(fig.y_range.start)


def test_a_single_point_shows_as_a_dot_until_a_second_arrives(tmp_path):
    one = _run(tmp_path, {"cpu": 50.0}, steps=1)
    many = _run(tmp_path, {"cpu": 50.0}, steps=5)
    grid = ChartGrid([one], "default", "prefix")
    grid.build()
    assert grid.charts["cpu"].dots[one.path].visible  # one sample: no line to see, so a dot
    grid = ChartGrid([many], "default", "prefix")
    grid.build()
    assert not grid.charts["cpu"].dots[many.path].visible
    # a live run's second point hides the dot
    src = grid.charts["cpu"].sources[many.path]
    grid._set_source(grid.charts["cpu"], many, {"x": [0.0], "y": [1.0], "n": 1}, 0)
    assert grid.charts["cpu"].dots[many.path].visible and len(src.data["x"]) == 1
    grid._append(grid.charts["cpu"], many, {"x": np.array([1.0]), "y": np.array([2.0]), "step": np.array([1])})
    assert not grid.charts["cpu"].dots[many.path].visible


def test_group_by_metric_draws_every_variant_of_a_metric_on_one_chart(tmp_path):
    """ClearML's "group by metric": train/loss and val/loss on one chart "loss", a line each (a
    colour a variant for one run; a run's colour and a dash a variant for several), a legend naming
    the variants; live logging of a new variant remakes its chart; back to sections by prefix."""
    from bokeh.models import GlyphRenderer, Legend

    store = _store(tmp_path)
    live = tracker.init(project="p", dir=store, settings=tracker.Settings(strict=True, quiet=True, flush_interval=0.05))
    for i in range(20):
        live.log({"train/loss": 1.0 / (i + 1), "val/loss": 2.0 / (i + 1), "train/acc": i / 20})
    live.flush()
    run = tracker.Api(store).run(live.path)
    grid = ChartGrid([run], grouping="metric")
    assert sorted(grid.charts) == ["acc", "loss"]
    loss = grid.charts["loss"]
    assert loss.members == ["train/loss", "val/loss"]
    for key, scale in (("train/loss", 1.0), ("val/loss", 2.0)):
        data = loss.sources[loss.line_id(run.path, key)].data
        assert list(data["y"]) == pytest.approx([scale / (i + 1) for i in range(20)])
    legend = loss.figure.select_one(Legend)
    assert [item.label["value"] for item in legend.items] == ["train/loss", "val/loss"]
    colours = {r.glyph.line_color for r in loss.figure.select(GlyphRenderer) if r.name == "raw"}
    assert len(colours) == 2  # one run: a colour a variant
    assert grid.charts["acc"].figure.select_one(Legend) is None  # one variant: no legend needed
    assert list(grid.hide_select.options) == ["acc", "loss"]
    # a new variant logged while the panel is open: its metric's chart is made again with it
    for _ in range(5):
        live.log({"train/loss": 0.01, "val/loss": 0.02, "train/acc": 1.0, "test/loss": 0.5})
    live.flush()
    run.refresh()
    grid.refresh()
    loss = grid.charts["loss"]
    assert loss.members == ["test/loss", "train/loss", "val/loss"]
    assert list(loss.sources[loss.line_id(run.path, "test/loss")].data["y"]) == [0.5] * 5
    assert len(loss.sources[loss.line_id(run.path, "train/loss")].data["y"]) == 25
    live.log({"train/loss": 0.005, "val/loss": 0.01, "test/loss": 0.4})
    live.finish()
    run.refresh()
    grid.refresh()
    assert loss.sources[loss.line_id(run.path, "test/loss")].data["y"][-1] == 0.4  # live appends reach each line
    grid.set_grouping("prefix")
    assert sorted(grid.charts) == ["test/loss", "train/acc", "train/loss", "val/loss"]
    assert len(grid.charts["val/loss"].sources[run.path].data["y"]) == 26


def test_group_by_metric_with_several_runs_keeps_run_colours_and_dashes_variants(tmp_path):
    from bokeh.models import GlyphRenderer

    runs = [_run(tmp_path, {"train/loss": lambda i, s=s: s / (i + 1), "val/loss": lambda i, s=s: 2 * s / (i + 1)},
                 steps=10, name=f"r{s}") for s in (1, 2)]
    grid = ChartGrid(runs, grouping="prefix")
    grid.group_select.value = "metric"  # the dropdown, as a user changes it
    assert sorted(grid.charts) == ["loss"]
    raws = [r for r in grid.charts["loss"].figure.select(GlyphRenderer) if r.name == "raw"]
    assert len(raws) == 4
    by_run: dict[str, set[str]] = {}
    for r in raws:
        by_run.setdefault(r.tags[0], set()).add(r.glyph.line_color)
    assert all(len(c) == 1 for c in by_run.values()) and len({next(iter(c)) for c in by_run.values()}) == 2
    dashes = {key: {tuple(r.glyph.line_dash) for r in raws if r.tags[1].endswith(key)} for key in ("train/loss", "val/loss")}
    assert len(dashes["train/loss"]) == len(dashes["val/loss"]) == 1 and dashes["train/loss"] != dashes["val/loss"]
    grid.highlight(runs[1].path)  # the highlight still works per run
    faded = [r for r in raws if r.tags[0] == runs[0].path]
    assert all(r.glyph.line_alpha == pytest.approx(FADED) for r in faded)
    grid.zoom("loss", 2, 5)
    chart = grid.charts["loss"]
    assert chart.zoomed is not None
    assert all(2 <= x <= 5 for src in chart.sources.values() for x in src.data["x"])
