"""Run pages and project views in-process (no browser): the tabs, the controls and the data sent."""

from __future__ import annotations

import base64

import numpy as np
import pytest

import tracker
from tests.conftest import wait_until
from tracker.ui import live, project, snapshot
from tracker.ui.charts import MAX_POINTS, system_group
from tracker.ui.panel import TABS, RunPanel, diff_html


def _store(tmp_path):
    return str(tmp_path / "store")


def _finished_run(tmp_path, steps=3000, **config):
    run = tracker.init(project="p", dir=_store(tmp_path), config=config or {"lr": 0.1, "opt": "adam"},
                       settings=tracker.Settings(strict=True))
    for i in range(steps):
        run.log({"train/loss": 1.0 / (i + 1), "train/acc": i / steps, "val/loss": 0.5 + (i == 1234) * 100})
    print("hello from the run")
    run.log({"img": tracker.Image(np.full((8, 6, 3), 200, dtype=np.uint8))}, commit=False)
    run.log({"tbl": tracker.Table(columns=["a", "b"], data=[[2, "y"], [1, "x"]]),
             "page": tracker.Html("<script>parent.x=1</script><b>hi</b>"),
             "hist": tracker.Histogram(np.arange(100.0))})
    run.finish()
    return tracker.Api(_store(tmp_path)).run(run.path)


def _data(grid, key, run):
    return grid.charts[key].sources[run.path].data


def test_every_tab_is_built_from_the_store(tmp_path):
    run = _finished_run(tmp_path)
    panel = RunPanel(run)
    assert panel.wait_ready()
    assert [panel.tabs.get_title(i) for i in range(len(TABS))] == list(TABS)
    assert "tracker-panel" in panel.widget._dom_classes
    assert "finished" in panel.header.value and run.name in panel.header.value
    overview = panel.overview_html.value
    for field in ("run path", "start time", "duration", "host", "Python", "tracker version", "lr", "adam",
                  "train/loss"):
        assert field in overview, field
    # charts: sections by prefix, at most ~2 points per pixel, the spike kept
    assert set(panel.charts.charts) == {"train/loss", "train/acc", "val/loss"}
    assert list(panel.charts.sections) == ["train", "val"]
    val = _data(panel.charts, "val/loss", run)
    assert len(val["x"]) <= 2 * panel.charts.chart_width
    assert max(val["y"]) == pytest.approx(100.5) and val["x"][0] == 0 and val["x"][-1] == 2999
    # logs, files, execution, media
    assert "hello from the run" in "".join(c.value for c in panel.logs.children[1].children)
    assert "requirements.txt" in panel.files_html.value
    assert "Installed packages" in panel.execution_html.value
    assert set(panel.media.items) == {"img", "tbl", "page", "hist"}
    assert panel.errors == []


def test_chart_controls_change_what_is_drawn(tmp_path):
    run = _finished_run(tmp_path)
    grid = RunPanel(run).charts
    assert grid.wait_built()
    raw = np.asarray(_data(grid, "train/loss", run)["y"])
    grid.smooth_select.value = "ema"
    grid.weight_slider.value = 0.9
    smoothed = np.asarray(_data(grid, "train/loss", run)["ys"])
    assert not np.allclose(raw, smoothed) and np.allclose(_data(grid, "train/loss", run)["y"], raw)
    smooth_renderer = [r for r in grid.charts["train/loss"].figure.renderers if r.name == "smooth"][0]
    assert smooth_renderer.visible
    grid.log_box.value = True
    assert type(grid.charts["train/loss"].figure.y_scale).__name__ == "LogScale"
    grid.hover_select.value = "vline"
    hover = [t for t in grid.charts["train/loss"].figure.toolbar.tools if type(t).__name__ == "HoverTool"][0]
    assert hover.mode == "vline"
    grid.x_select.value = "_runtime"
    assert grid.charts["train/loss"].figure.xaxis[0].axis_label == "_runtime"
    assert max(_data(grid, "train/loss", run)["x"]) < 120  # seconds, not steps
    grid.x_select.value = "train/acc"  # any logged metric as x
    assert max(_data(grid, "train/loss", run)["x"]) == pytest.approx(2999 / 3000)
    grid.filter_text.value = "^val"
    assert [m.layout.display for _, m in grid.sections.values()] == ["none", ""]
    grid.filter_text.value = ""
    grid.hide_select.value = ("val/loss",)
    assert grid.sections["val"][1].layout.display == "none"
    tools = {t.description for t in grid.charts["train/loss"].figure.toolbar.tools if hasattr(t, "description")}
    assert {"Maximise / restore", "Download the drawn data as CSV"} <= tools  # PNG: the toolbar's save


def test_a_zoom_reads_that_window_again_at_full_detail(tmp_path):
    run = tracker.init(project="p", dir=_store(tmp_path), settings=tracker.Settings(strict=True))
    for i in range(50_000):
        run.log({"y": float(np.sin(i / 50.0)) + (10.0 if i == 25_003 else 0.0)})
    run.finish()
    read = tracker.Api(_store(tmp_path)).run(run.path)
    grid = RunPanel(read).charts
    assert grid.wait_built()
    whole = _data(grid, "y", read)
    assert len(whole["x"]) <= 2 * grid.chart_width and max(whole["y"]) > 8.5
    grid.zoom("y", 25_000, 25_100)
    window = _data(grid, "y", read)
    assert window["x"][0] >= 25_000 and window["x"][-1] <= 25_100
    assert len(window["x"]) == 101  # 101 points fit in the width: drawn whole
    assert grid.charts["y"].zoomed == (25_000, 25_100)
    grid.zoom("y", -10, 60_000)  # reset: the whole range again
    assert grid.charts["y"].zoomed is None and len(_data(grid, "y", read)["x"]) == len(whole["x"])
    grid.zoom("y", 25_000, 25_100)
    grid.reset_zoom("y")  # the toolbar's Reset or a double click: the whole run again
    grid.zoom("y", 25_000, 25_100)  # the zoomed data's ranges, reported by the browser right after
    assert grid.charts["y"].zoomed is None and len(_data(grid, "y", read)["x"]) == len(whole["x"])
    tools = {type(t).__name__ for t in grid.charts["y"].figure.toolbar.tools}
    assert grid.charts["y"].figure.toolbar.logo is None and "XWheelZoomTool" not in tools
    assert grid.charts["y"].figure.toolbar.active_scroll is None  # the wheel scrolls the notebook


def test_the_page_of_this_processs_run_draws_rows_before_the_writer_flushes(tmp_path):
    settings = tracker.Settings(strict=True, flush_interval=3600.0, console="off", disable_stats=True)
    run = tracker.init(project="p", dir=_store(tmp_path), settings=settings)
    run.log({"loss": 1.0})
    panel = run.display(hidden=True)  # display() flushes once: the first point is in the store
    assert panel.wait_ready()
    src = panel.charts.charts["loss"].sources[run.path]
    for i in range(1, 50):
        run.log({"loss": 1.0 / (i + 1)})
    assert len(run.unwritten_rows()) == 49  # nothing written: the writer flushes once an hour
    assert panel.refresh() is True
    assert list(src.data["x"]) == [float(i) for i in range(50)]  # drawn from the live run's own rows
    run.flush()
    panel.refresh()  # the same rows from the store now: not drawn twice
    assert list(src.data["x"]) == [float(i) for i in range(50)]
    run.finish()
    assert panel.errors == []


def test_a_live_run_streams_new_points_and_stays_bounded(tmp_path):
    run = tracker.init(project="p", dir=_store(tmp_path), settings=tracker.Settings(strict=True))
    for i in range(10):
        run.log({"loss": 1.0 / (i + 1)})
    panel = run.display(hidden=True)
    assert panel.wait_ready()
    src = panel.charts.charts["loss"].sources[run.path]
    assert len(src.data["x"]) == 10
    for i in range(10, 200):
        run.log({"loss": 1.0 / (i + 1), "new/metric": float(i)})
    run.flush()
    assert panel.refresh() is True
    assert len(src.data["x"]) == 200 and src.data["x"][-1] == 199  # appended with stream()
    assert "new/metric" in panel.charts.charts and "new" in panel.charts.sections
    for i in range(200, 100_000):
        run.log({"loss": float(np.cos(i / 1000.0))})
    run.flush()
    panel.refresh()
    assert len(src.data["x"]) <= MAX_POINTS and src.data["x"][-1] == 99_999
    assert "running" in panel.header.value
    run.finish()
    assert panel.refresh() is False and "finished" in panel.header.value
    assert panel.errors == []


def test_the_live_updater_refreshes_from_its_own_thread(tmp_path):
    run = tracker.init(project="p", dir=_store(tmp_path), settings=tracker.Settings(strict=True))
    run.log({"loss": 1.0})
    panel = run.display(hidden=True)
    assert panel.wait_ready()
    live.register(panel)
    try:
        for i in range(1, 50):
            run.log({"loss": 1.0 / (i + 1)})
        src = panel.charts.charts["loss"].sources[run.path]
        wait_until(lambda: len(src.data["x"]) >= 50, message="the live updater to bring all 50 points")
        assert len(src.data["x"]) == 50
        run.finish()
        # a finished run leaves the updater
        wait_until(lambda: panel not in live.active(), message="the finished run's panel to leave the updater")
    finally:
        live.unregister(panel)


def test_edits_on_the_overview_and_execution_tabs_are_saved(tmp_path):
    run = _finished_run(tmp_path)
    panel = RunPanel(run)
    assert panel.wait_ready()
    panel.notes.value = "tried a smaller lr"
    panel.tags.value = ["baseline", "v2"]
    panel.save_edits()
    panel.set_property("owner", "ana")
    again = tracker.Api(_store(tmp_path)).run(run.path)
    assert again.notes == "tried a smaller lr" and again.tags == ["baseline", "v2"]
    assert again.user_properties == {"owner": "ana"}
    assert "owner" in panel.execution_html.value


def test_media_tab_viewers_and_slider(tmp_path):
    run = tracker.init(project="p", dir=_store(tmp_path), settings=tracker.Settings(strict=True))
    for step in range(3):
        run.log({"img": tracker.Image(np.full((4, 5), step * 100, dtype=np.uint8)),
                 "sound": tracker.Audio(np.zeros(800), sample_rate=8000),
                 "page": tracker.Html("<script>alert(1)</script>"),
                 "hist": tracker.Histogram(np.random.default_rng(step).normal(size=100)),
                 "tbl": tracker.Table(columns=["a"], data=[[step]])})
    run.finish()
    view = RunPanel(tracker.Api(_store(tmp_path)).run(run.path)).media
    assert view.key.value == "hist" and view.current().step == 2  # the first key shows at once
    view.key.value = "img"
    assert view.current().step == 2  # newest first
    first = view.image_source.data["image"][0].copy()
    view.step(+1)
    assert view.current().step == 1 and not np.array_equal(first, view.image_source.data["image"][0])
    view.step(-1)
    assert view.current().step == 2
    kinds = {}
    for key in ("sound", "page", "hist", "tbl"):
        view.key.value = key
        kinds[key] = type(view.area.children[0]).__name__
    assert kinds == {"sound": "Audio", "page": "HTML", "hist": "TrackerBokehModel", "tbl": "TrackerBokehModel"}
    view.key.value = "page"
    markup = view.area.children[0].value
    assert 'sandbox="allow-scripts"' in markup and "<script>" not in markup  # escaped into srcdoc


def test_system_metrics_are_grouped():
    assert [system_group(k) for k in ("cpu", "proc.cpu.threads", "memory_percent", "proc.memory.rssMB",
                                      "disk./.usagePercent", "network.sent", "gpu.0.temp", "gpu.process.1.gpu")] == [
        "CPU", "CPU", "Memory", "Memory", "Disk", "Network", "GPU 0", "GPU 1 (this process)"]


def test_diff_is_escaped_and_coloured():
    out = diff_html("--- a\n+++ b\n@@ -1 +1 @@\n-old <b>\n+new")
    assert "&lt;b&gt;" in out and "#cb2431" in out and "#22863a" in out


def test_snapshot_has_an_image_and_no_script(tmp_path):
    run = _finished_run(tmp_path)
    bundle = snapshot.run_snapshot(run)
    png = base64.b64decode(bundle["image/png"])
    assert png.startswith(b"\x89PNG")
    assert 'class="tracker-snapshot"' in bundle["text/html"] and "<script" not in bundle["text/html"].lower()
    assert "data:image/png;base64," in bundle["text/html"]


def _project(tmp_path):
    for i, (lr, opt) in enumerate([(0.1, "adam"), (0.01, "adam"), (0.001, "sgd"), (0.1, "sgd")]):
        run = tracker.init(project="proj", dir=_store(tmp_path), config={"lr": lr, "opt": opt},
                           settings=tracker.Settings(strict=True))
        for s in range(20):
            run.log({"loss": (i + 1) / (s + 1)})
        run.finish()
    return tracker.Api(_store(tmp_path)).runs("proj")


def test_run_table_filters_sorts_groups_and_compares(tmp_path):
    runs = _project(tmp_path)
    table = project.RunTable(runs)
    assert len(table.source.data["path"]) == 4
    assert {"name", "state", "config.lr", "config.opt", "summary.loss"} <= set(table.source.data)
    table.filter_box.value = 'config.lr > 0.005 and state == "finished"'
    assert len(table.source.data["path"]) == 3 and table.filter_msg.value == ""
    table.filter_box.value = "config.lr >"  # a typo says why and keeps the table
    assert "not applied" in table.filter_msg.value and len(table.source.data["path"]) == 3
    table.filter_box.value = ""
    table.sort("config.lr")
    assert list(table.source.data["config.lr"]) == sorted(table.source.data["config.lr"])
    table.column_select.value = ("name", "state", "config.lr")
    assert [c.field for c in table.table.columns] == ["name", "state", "config.lr"]
    table.column_select.value = ("name", "state", "config.lr", "config.opt", "summary.loss")
    # parallel coordinates: one line per run over the chosen config and summary columns
    assert len(table.source.data["_xs"]) == 4 and len(table.source.data["_ys"][0]) == 3
    # selecting runs builds the comparison: overlaid charts, config diff
    paths = list(table.source.data["path"])[:3]
    table.select(paths)
    assert table.selected() == paths
    grid = table.compare_grid
    assert set(grid.charts["loss"].sources) == set(paths)
    assert "config diff" in table.diff.value and "lr" in table.diff.value
    table.group_select.value = "config.opt"
    table.select(list(table.source.data["path"]))
    assert "grouped by config.opt" in table.compare_box.children[0].value


def test_filter_expression_names():
    import pandas as pd

    df = pd.DataFrame({"config.lr": [0.1, 0.001], "state": ["finished", "crashed"], "summary.val/loss": [1.0, 2.0]})
    assert len(project.filter_frame(df, 'config.lr > 1e-2 and state == "finished"')) == 1
    assert len(project.filter_frame(df, "summary.val/loss >= 2")) == 1


def test_a_page_that_cannot_show_warns_and_the_run_goes_on(tmp_path, monkeypatch):
    import tracker.ui.bokeh
    import tracker.ui.panel as panel_mod

    def broken(*args, **kwargs):
        raise ImportError("No module named 'jupyter_bokeh'")

    monkeypatch.setattr(panel_mod, "display_run", broken)
    monkeypatch.setattr(tracker.ui.bokeh, "in_kernel", lambda: True)  # outside a kernel display() only prints text
    run = tracker.init(project="p", dir=_store(tmp_path), settings=tracker.Settings(strict=True))
    with pytest.raises(tracker.TrackingFailure, match="jupyter_bokeh"):  # strict: raised
        run.display()
    run.finish()
    lenient = tracker.init(project="p", dir=_store(tmp_path))
    with pytest.warns(tracker.errors.TrackerWarning, match="run page could not be shown.*jupyter_bokeh"):
        assert lenient.display() is None
    lenient.log({"loss": 1.0})  # training goes on
    lenient.finish()


def test_display_at_the_end_of_a_cell_draws_one_page(tmp_path, monkeypatch):
    """``run.display()`` as a cell's last line: the returned panel is the cell's value too, and is
    not drawn a second time (the same for a run table)."""
    import IPython.display

    import tracker.ui.bokeh

    shown: list[object] = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.extend(objs))
    monkeypatch.setattr(tracker.ui.bokeh, "in_kernel", lambda: True)
    run = tracker.init(project="p", dir=_store(tmp_path), settings=tracker.Settings(strict=True))
    run.log({"loss": 1.0})
    panel = run.display()
    assert panel is not None and panel.wait_ready()
    drawn = len(shown)
    panel._ipython_display_()  # what IPython does with the cell's value
    assert len(shown) == drawn
    run.finish()
    table = tracker.Api(_store(tmp_path)).runs("p").display()
    drawn = len(shown)
    table._ipython_display_()
    assert len(shown) == drawn
    fresh = RunPanel(tracker.Api(_store(tmp_path)).run(run.path))
    fresh._ipython_display_()  # a page never shown: shown once
    assert shown[-1] is fresh.widget


def test_the_system_tab_names_metrics_with_units(tmp_path):
    from tracker.ui.charts import system_label

    assert system_label("disk.in") == ("Disk I/O read (MB)", "MB")
    assert system_label("gpu.0.powerWatts") == ("GPU 0 power usage (W)", "W")
    assert system_label("network.recv") == ("Network traffic received", "bytes")
    assert system_label("custom.metric") == ("custom.metric", "")
    run = tracker.init(project="p", dir=_store(tmp_path), settings=tracker.Settings(strict=True))
    run.log({"loss": 1.0})
    run.finish()
    panel = RunPanel(tracker.Api(_store(tmp_path)).run(run.path))
    assert panel.wait_ready()
    panel.tabs.selected_index = 2  # System: built when first opened
    titles = {c.figure.title.text for c in panel.system.charts.values()}
    assert "Process CPU utilization (%)" in titles
    net = panel.system.charts.get("network.sent")
    if net is not None:  # bytes drawn humanised
        assert type(net.figure.yaxis[0].formatter).__name__ == "NumeralTickFormatter"
