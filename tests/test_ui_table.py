"""The project run table in-process (no browser): column widths and escaped titles, the pinned
name, theme stylesheets, the tag column chooser, filter errors in the user's terms, and brushing
the parallel coordinates."""

from __future__ import annotations

import re

import pytest

import tracker
from tracker.errors import QueryError
from tracker.ui import project
from tracker.ui.html import escape
from tracker.ui.project import RunTable

#: Pixels a header needs in Chromium (the table's 12 px semi-bold Helvetica/Arial text, 8 px of
#: padding, the sort indicator): measured in a standalone page of this table.
MEASURED_HEADER_PX = {
    "name": 51, "state": 48, "created": 63, "duration": 68, "config.lr": 67, "config.batch_size": 121,
    "config.model.depth": 131, "config.optimizer.name": 147, "summary.train/loss": 129, "summary.val/acc": 116,
}
CONFIGS = [  # lr, batch, depth, optimizer
    (0.1, 32, 2, "adam"), (0.01, 64, 4, "adam"), (0.001, 64, 8, "sgd"), (0.0001, 128, 8, "sgd"), (0.05, 32, 4, "adam"),
]
LONG_NAME = "a-rather-long-run-name-that-tells-all"


def _table(tmp_path, extra_config=None):
    for i, (lr, batch, depth, opt) in enumerate(CONFIGS):
        config = {"lr": lr, "batch_size": batch, "model": {"depth": depth}, "optimizer": {"name": opt}}
        config.update(extra_config or {})
        run = tracker.init(project="tbl", dir=str(tmp_path / "store"), name=LONG_NAME if i == 0 else f"run-{i}",
                           config=config, settings=tracker.Settings(strict=True, quiet=True))
        for step in range(4):
            run.log({"train/loss": (i + 1) / (step + 1), "val/acc": 0.5 + i / 10})
        run.finish()
    return RunTable(tracker.Api(str(tmp_path / "store")).runs("tbl"))


def _lr_of(table, paths):
    frame = table.frame.set_index("path")
    return sorted(float(frame.loc[p, "config.lr"]) for p in paths)


def _shown(table):
    """The paths the browser's table shows: the source rows through the table's view filter."""
    indices = table.table.view.filter.indices
    paths = list(table.source.data["path"])
    return paths if indices is None else [paths[i] for i in indices]


# --- columns --------------------------------------------------------------------------------------
def test_columns_are_as_wide_as_their_headers_and_cells_need(tmp_path):
    table = _table(tmp_path)
    widths = {c.field: c.width for c in table.table.columns}
    for field, need in MEASURED_HEADER_PX.items():
        assert widths[field] >= need, (field, widths[field], need)
    # the cells whole: the longest name (189 px of 12 px text in Chromium) and a date-time
    # ("2026-12-01 14:45", 95 px), each with the cell's 8 px of padding
    assert widths["name"] >= 189 + 8 and widths["created"] >= 95 + 8
    assert all(project.MIN_WIDTH <= w <= project.MAX_WIDTH for w in widths.values())


def test_a_header_past_the_cap_is_cut_with_its_full_name_on_hover(tmp_path):
    key = "a_really_long_configuration_key_name_that_cannot_fit_in_any_column"
    table = _table(tmp_path, {key: 1})
    table.set_columns(["name", f"config.{key}"])
    column = table.table.columns[1]
    assert column.width == project.MAX_WIDTH < project.header_width(f"config.{key}")
    assert f'title="config.{key}"' in column.title and f">config.{key}<" in column.title
    # text cells carry their full value on hover too (the name, cut only past the cap)
    assert 'title="<%- value %>"' in table.table.columns[0].formatter.template


def test_titles_are_escaped(tmp_path):
    table = _table(tmp_path, {"<b>bold</b>": 1, 'q"uote': 2})
    titles = {c.field: c.title for c in table.table.columns}
    assert "<b>" not in titles["config.<b>bold</b>"]
    assert titles["config.<b>bold</b>"] == ('<span title="config.&lt;b&gt;bold&lt;/b&gt;">'
                                            'config.&lt;b&gt;bold&lt;/b&gt;</span>')
    assert 'title="config.q&quot;uote"' in titles['config.q"uote']


def test_the_name_is_pinned_first_beside_the_checkboxes(tmp_path):
    table = _table(tmp_path)
    assert table.table.selectable == "checkbox" and table.table.frozen_columns == 2  # checkbox + name
    assert table.table.columns[0].field == "name"
    table.set_columns(["config.lr", "state"])  # name left out: still first
    assert [c.field for c in table.table.columns] == ["name", "config.lr", "state"]
    assert table.table.sizing_mode == "stretch_width" and table.parallel.sizing_mode == "stretch_width"
    assert table.table.reorderable


def test_narrow_column_sets_fill_the_width_and_wide_ones_scroll(tmp_path):
    table = _table(tmp_path)
    assert table.table.autosize_mode == "none"  # 12+ columns: their widths, scrolling sideways
    table.set_columns(["name", "state", "config.lr"])
    assert table.table.autosize_mode == "force_fit"


# --- theme ----------------------------------------------------------------------------------------
def test_the_table_takes_its_colours_from_the_jupyterlab_theme(tmp_path):
    table = _table(tmp_path)
    css = "".join(s.css for s in table.table.stylesheets)
    for selector in (".slick-header-column", ".slick-row.odd", ".slick-row.selected", ".slick-cell", ".slick-viewport"):
        assert selector in css, selector
    for variable in ("--jp-layout-color0", "--jp-layout-color1", "--jp-ui-font-color1", "--jp-border-color2",
                     "--jp-brand-color1"):
        assert f"var({variable}" in css, variable
    # every colour is a theme variable, a fixed colour only as its fallback
    declarations = re.findall(r"(?:^|[;{\s])(color|background(?:-color)?|border[a-z-]*)\s*:\s*([^;}]+)", css)
    assert declarations
    for prop, value in declarations:
        assert "var(--jp-" in value, (prop, value)
    # the widgets' inline HTML: theme colours, no fixed grey on white
    table.brush("config.lr", 0, 1)
    table.set_filter("config.nope > 1")
    for html in (table.count.value, table.filter_msg.value, table.widget.children[-3].value):
        assert "var(--jp-" in html and not re.search(r"color:\s*#", html), html


# --- the column chooser ---------------------------------------------------------------------------
def test_the_tag_chooser_sets_and_orders_the_columns(tmp_path):
    import ipywidgets as w

    table = _table(tmp_path)
    chooser = table.column_select
    assert isinstance(chooser, w.TagsInput) and not chooser.allow_duplicates
    assert set(chooser.allowed_tags) == set(table.frame.columns) - {"path"}
    chooser.value = ["name", "summary.val/acc", "config.lr"]
    assert [c.field for c in table.table.columns] == ["name", "summary.val/acc", "config.lr"]
    chooser.value = ["name", "config.lr", "summary.val/acc"]  # a tag dragged to another place
    assert [c.field for c in table.table.columns] == ["name", "config.lr", "summary.val/acc"]
    table.set_columns(["state", "config.optimizer.name", "nope"])  # the chooser follows set_columns
    assert list(chooser.value) == ["name", "state", "config.optimizer.name"]
    assert [c.field for c in table.table.columns] == list(chooser.value)


# --- filter errors --------------------------------------------------------------------------------
@pytest.mark.parametrize("expression, said", [
    ("config.lrr > 1", 'unknown column "config.lrr" — did you mean "config.lr"?'),
    ("lr > 1", 'unknown column "lr" — did you mean "config.lr"?'),
    ("conf.lr > 1", 'unknown column "conf.lr" — did you mean "config.lr"?'),
    ("summary.val/acx > 0.5", 'unknown column "summary.val/acx" — did you mean "summary.val/acc"?'),
    ("config.optimizer.name == adam", 'unknown column "adam" (to compare with a text, quote it: "adam")'),
    ("config.lr > > 1", 'syntax error at "> 1"'),
    ("config.lr < 1 extra", 'syntax error at "extra"'),
    ("config.lr >", 'syntax error at the end of "config.lr >"'),
    ("(config.lr < 1", "was never closed"),
    ("config.lr", "is not a condition"),
])
def test_filter_errors_speak_the_users_terms(tmp_path, expression, said):
    table = _table(tmp_path)
    table.set_filter("config.lr < 0.02")
    before = list(table.source.data["path"])
    table.set_filter(expression)
    assert escape(said) in table.filter_msg.value
    assert "BACKTICK" not in table.filter_msg.value and "_tc" not in table.filter_msg.value
    assert list(table.source.data["path"]) == before and len(table.view) == 3  # the table stays as it was
    with pytest.raises(QueryError, match=re.escape(said)):
        project.filter_frame(table.frame, expression)


def test_filters_read_dotted_backticked_and_quoted_names(tmp_path):
    table = _table(tmp_path)
    df = table.frame
    assert len(project.filter_frame(df, "`config.lr` < 0.02 and config.model.depth == 8")) == 2
    assert len(project.filter_frame(df, 'name == "config.lr"')) == 0  # a string is not a name
    # val/acc 0.5 + i/10 against the last train/loss (i + 1)/4: runs 0 and 1
    assert len(project.filter_frame(df, "summary.val/acc - summary.train/loss > 0")) == 2
    table.set_filter('config.optimizer.name == "adam"')
    assert table.filter_msg.value == "" and len(table.view) == 3


# --- brushing the parallel coordinates ------------------------------------------------------------
def test_brushing_an_axis_keeps_the_runs_in_its_range_and_axes_combine(tmp_path):
    from bokeh.events import Reset

    table = _table(tmp_path)
    all_paths = list(table.frame["path"])
    table.brush("config.lr", 0.005, 0.2)
    assert _lr_of(table, table.visible()) == [0.01, 0.05, 0.1]
    assert _shown(table) == table.visible()
    assert "3 of 5 runs" in table.count.value
    assert table.brush_source.data["left"] and len(table.brush_source.data["left"]) == 1  # drawn on its axis
    table.brush("config.batch_size", 50, 200)  # and: lr in range and batch >= 50
    assert _lr_of(table, _shown(table)) == [0.01]
    assert "1 of 5 runs" in table.count.value and len(table.brush_source.data["left"]) == 2
    table.brush("config.optimizer.name", "adam", "adam")  # a text axis, by its texts
    assert _lr_of(table, _shown(table)) == [0.01]
    table.clear_brushes()
    assert table.table.view.filter.indices is None and sorted(_shown(table)) == sorted(all_paths)
    assert "5 of 5 runs" in table.count.value and table.brush_source.data["left"] == []
    table.brush("config.lr", 0, 0.02)
    table.parallel._trigger_event(Reset(table.parallel))  # the chart's Reset clears the brushes too
    assert table.brushes == {} and len(_shown(table)) == 5


def test_a_box_drawn_across_axes_brushes_each_axis_it_crosses(tmp_path):
    from bokeh.events import SelectionGeometry

    table = _table(tmp_path)
    axes = list(table.axis_ranges)
    i = axes.index("config.lr")
    lo, hi = table.axis_ranges["config.lr"]
    y_at = [project.scale(v, lo, hi) for v in (0.005, 0.2)]
    geometry = {"type": "rect", "x0": i - 0.2, "x1": i + 0.2, "y0": y_at[0], "y1": y_at[1]}
    table.parallel._trigger_event(SelectionGeometry(table.parallel, geometry=geometry, final=True))
    assert _lr_of(table, _shown(table)) == [0.01, 0.05, 0.1]
    # a band between two axes crosses neither; a wide one crosses both, with its height on each
    assert table.brush_box(i + 0.3, i + 0.7, 0, 1) == []
    assert axes.index("config.batch_size") == i + 1
    assert set(table.brush_box(i - 0.1, i + 1.1, 0.5, 0.0)) == {"config.lr", "config.batch_size"}
    # the lower half of both: lr <= 0.05005 (not 0.1) and batch <= 80 (not 128, the lr 0.0001 run)
    assert _lr_of(table, _shown(table)) == [0.001, 0.01, 0.05]
    # the filter box still applies on top of the brushes
    table.clear_brushes()
    table.brush("config.lr", 0.005, 0.2)
    table.set_filter('config.optimizer.name == "adam"')
    assert _lr_of(table, _shown(table)) == [0.01, 0.05, 0.1] and "3 of 5 runs" in table.count.value
    table.set_filter("config.lr > 0.02")
    assert _lr_of(table, _shown(table)) == [0.05, 0.1] and "2 of 5 runs" in table.count.value


def test_brushing_unticks_the_runs_it_hides_and_ticking_still_compares(tmp_path):
    table = _table(tmp_path)
    table.select(list(table.source.data["path"]))
    assert len(table.selected()) == 5 and table.compare_grid is not None
    table.brush("config.lr", 0.005, 0.2)
    assert sorted(table.selected()) == sorted(table.visible())
    assert set(table.compare_grid.charts["train/loss"].sources) == set(table.visible())


def test_parallel_axis_labels_are_short_distinct_and_staggered(tmp_path):
    columns = ["config.model.depth", "config.model.width", "config.encoder.depth", "summary.val/acc",
               "config.acc", "summary.evaluation/accuracy_top5_of_the_validation_set", "config.lr"]
    labels = project.axis_labels(columns)
    assert labels[:5] == ["model.depth", "width", "encoder.depth", "val/acc", "config.acc"]
    assert labels[-1] == "lr" and "…" in labels[5] and len(labels[5]) <= 18
    assert all(labels) and len(set(labels)) == len(labels)
    table = _table(tmp_path, {"encoder": {"depth": 3}})
    overrides = table.parallel.xaxis[0].major_label_overrides
    shown = [overrides[i] for i in range(len(table.axis_ranges))]
    assert all(s.strip() for s in shown) and len({s.strip() for s in shown}) == len(shown)
    assert "model.depth" in [s.strip() for s in shown] and "encoder.depth" in [s.strip() for s in shown]
    if len(shown) > 4:  # alternate labels on a second line, so neighbours never overlap
        assert all(s.startswith("\n") == bool(i % 2) for i, s in enumerate(shown))


def test_media_summaries_read_as_their_kind_and_are_no_axis(tmp_path):
    import numpy as np

    store = str(tmp_path / "store")
    for i in range(3):
        run = tracker.init(project="m", dir=store, config={"lr": 0.1 * (i + 1)},
                           settings=tracker.Settings(strict=True, quiet=True))
        run.log({"loss": 1.0 / (i + 1)})
        if i < 2:  # the third run logged no media: its cells are missing values
            run.log({"sample": tracker.Image(np.zeros((4, 4, 3), dtype=np.uint8)),
                     "grid": [tracker.Image(np.zeros((4, 4, 3), dtype=np.uint8)) for _ in range(3)]})
        run.finish()
    table = RunTable(tracker.Api(store).runs("m"))
    by_lr = table.frame.sort_values("config.lr")
    assert by_lr["summary.sample"].tolist()[:2] == ["image", "image"]
    assert by_lr["summary.grid"].tolist()[:2] == ["3 images", "3 images"]
    axes = table._parallel_columns()
    assert "summary.loss" in axes and "config.lr" in axes
    assert "summary.sample" not in axes and "summary.grid" not in axes


def test_metric_summaries_come_before_media_summaries_in_the_default_columns(tmp_path):
    store = str(tmp_path / "store")
    run = tracker.init(project="m2", dir=store, settings=tracker.Settings(strict=True, quiet=True))
    hists = {f"gradients/layer{i:02d}": tracker.Histogram([1.0, 2.0, float(i)]) for i in range(12)}
    run.log({**hists, "train/loss": 0.5, "val/acc": 0.9})
    run.finish()
    table = RunTable(tracker.Api(store).runs("m2"))
    assert "summary.train/loss" in table.columns and "summary.val/acc" in table.columns
    assert table.columns.index("summary.train/loss") < table.columns.index("summary.gradients/layer00")
