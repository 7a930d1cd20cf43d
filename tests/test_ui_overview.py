"""The run page's header and Overview tab, in-process (no browser): tags as coloured chips and the
notes' first line in the header, the edit fields, config and summary first as searchable tables,
theme colours, and the failure box of a run that failed."""

from __future__ import annotations

import re
import subprocess
import textwrap

import pytest

import tracker
from tests.conftest import PYTHON, python_env
from tracker.ui import static
from tracker.ui.panel import CELL_CHARS, RunPanel, search_table


def _store(tmp_path):
    return str(tmp_path / "store")


def _run(tmp_path, **kwargs):
    kwargs.setdefault("config", {"lr": 0.1, "optimizer": {"name": "adam", "betas": [0.9, 0.99]}, "batch_size": 32})
    kwargs.setdefault("settings", tracker.Settings(strict=True, quiet=True))
    return tracker.init(project="p", dir=_store(tmp_path), reinit="create_new", **kwargs)


def _read(tmp_path, run):
    return tracker.Api(_store(tmp_path)).run(run.path)


def _notes_line(header: str) -> str:
    found = re.search(r"class='tracker-notes'[^>]*>(.*?)</div>", header)
    return found.group(1) if found else ""


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def test_the_header_shows_tags_as_escaped_chips_and_the_notes_first_line(tmp_path):
    run = _run(tmp_path, tags=["baseline", "<script>"], notes="smaller lr <b>\nsecond line")
    run.log({"loss": 1.0})
    run.finish()
    panel = RunPanel(_read(tmp_path, run), build=False)
    header = panel.header.value
    assert run.name in header and "finished" in header and run.path in header
    assert "<script>" not in header and "&lt;script&gt;" in header
    for tag in ("baseline", "<script>"):
        background, colour = static.tag_colours(tag)
        assert f"background:{background};color:{colour}" in header
    assert header.count("class=\"tracker-tag\"") == 2
    assert _notes_line(header) == "smaller lr &lt;b&gt;"  # the first line alone, escaped
    assert "second line" in header  # ... the whole notes in its tooltip


def test_tag_colours_are_stable_and_readable():
    assert static.tag_colours("baseline") == static.tag_colours("baseline")
    seen = {static.tag_colours(f"tag-{i}")[0] for i in range(200)}
    assert seen == set(static.TAG_PALETTE)  # the hash spreads over the whole palette
    for background in static.TAG_PALETTE:
        tag = next(f"t{i}" for i in range(10_000) if static.tag_colours(f"t{i}")[0] == background)
        _, text = static.tag_colours(tag)
        lum_bg = static._luminance(background)
        lum_fg = static._luminance(text)
        ratio = (max(lum_bg, lum_fg) + 0.05) / (min(lum_bg, lum_fg) + 0.05)
        assert ratio >= 4.0, (background, text, ratio)


def test_the_edit_fields_have_explicit_sizes_and_saving_updates_the_header(tmp_path):
    run = _run(tmp_path, tags=["old"])
    run.finish()
    panel = RunPanel(_read(tmp_path, run), build=False)
    inside = list(_walk(panel.overview))
    assert panel.tags in inside and panel.notes in inside and panel.save_button in inside
    for field in (panel.tags, panel.notes):
        assert field.layout.min_width == "240px" and field.layout.flex == "1 1 auto" and field.layout.width == "auto"
    assert panel.save_button.layout.width == panel.save_button.layout.min_width == "190px"
    assert panel.overview.layout.max_height is None  # no scrolling box of its own
    assert panel.tags.value == ("old",) or list(panel.tags.value) == ["old"]
    panel.tags.value = ["new-tag", "<img>"]
    panel.notes.value = "retry with warmup\nmore"
    panel.save_edits()
    again = tracker.Api(_store(tmp_path)).run(run.path)
    assert again.tags == ["new-tag", "<img>"] and again.notes == "retry with warmup\nmore"
    assert "new-tag" in panel.header.value and "&lt;img&gt;" in panel.header.value and ">old<" not in panel.header.value
    assert _notes_line(panel.header.value) == "retry with warmup"


def test_saving_while_the_run_is_live_goes_through_the_run(tmp_path):
    run = _run(tmp_path)
    panel = RunPanel(_read(tmp_path, run), live=run, build=False)
    assert "(live)" in panel.header.value
    panel.tags.value = ["live-tag"]
    panel.save_edits()
    assert run.tags == ("live-tag",) and "live-tag" in panel.header.value
    run.finish()


def test_config_and_summary_come_first_then_the_run_details(tmp_path):
    run = _run(tmp_path)
    run.log({"train/loss": 0.25})
    run.finish()
    html = RunPanel(_read(tmp_path, run), build=False).overview_html.value
    config, summary = html.index(">Config"), html.index(">Summary")
    host, artifacts = html.index(">host<"), html.index(">Artifacts<")
    assert config < summary < host < artifacts
    assert "optimizer.name" in html and "adam" in html and "train/loss" in html  # flattened with dots
    assert "color:#" not in html and "background:#" not in html  # theme variables, never fixed colours
    assert "var(--jp-ui-font-color2" in html and "var(--jp-border-color2" in html


def test_the_search_filters_both_tables_by_key_or_value(tmp_path):
    run = _run(tmp_path)
    run.log({"val/acc": 0.75, "train/loss": 0.25})
    run.finish()
    panel = RunPanel(_read(tmp_path, run), build=False)
    panel.search.value = "OPTIM"  # a key, any case
    html = panel.overview_html.value
    assert "optimizer.name" in html and "optimizer.betas" in html
    assert "batch_size" not in html and "train/loss" not in html
    assert "2 of 4" in html  # config: 2 of its 4 keys
    assert "host" in html  # the run details are not filtered
    panel.search.value = "0.75"  # a value
    html = panel.overview_html.value
    assert "val/acc" in html and "train/loss" not in html and "optimizer.name" not in html
    panel.search.value = "nothing-like-this"
    assert panel.overview_html.value.count("no key or value holds nothing-like-this") == 2
    panel.search.value = ""
    assert "batch_size" in panel.overview_html.value and "train/loss" in panel.overview_html.value


def test_long_values_are_cut_with_the_whole_in_a_tooltip_and_everything_is_escaped():
    long = "y" * 500
    html = search_table("Config", [("long", long), ("<k>", "<v>")])
    assert long not in html.split("title='")[0]  # the cell shows it cut ...
    assert "y" * (CELL_CHARS - 1) + "\u2026" in html
    assert f"title='{long}'" in html  # ... and whole in its tooltip
    assert "<k>" not in html and "<v>" not in html and "&lt;k&gt;" in html and "&lt;v&gt;" in html
    assert "max-height" in html and "overflow:auto" in html  # a long table scrolls in its own area
    assert "no config" in search_table("Config", [], "", "no config")
    evil = search_table("Config", [("a", "b")], "<script>")
    assert "<script>" not in evil and "&lt;script&gt;" in evil


def _failed_script(tmp_path, body):
    store = _store(tmp_path)
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(f"""
        import sys, tracker
        run = tracker.init(project="p", dir={store!r}, settings={{"quiet": True}})
        sys.__stdout__.write("PATH " + run.path + "\\n")
        sys.__stdout__.flush()
    """) + textwrap.dedent(body))
    proc = subprocess.run([PYTHON, str(script)], env=python_env(), capture_output=True, text=True, timeout=120)
    path = proc.stdout.splitlines()[0][5:]
    return tracker.Api(store).run(path)


def test_a_failed_run_shows_its_exception_traceback_exit_code_and_output(tmp_path):
    run = _failed_script(tmp_path, """
        print("step 1 fine")
        print("step 2 fine")
        run.log({"loss": 1.0})
        raise ValueError("boom <b>bold</b>")
    """)
    assert run.state == "failed"
    panel = RunPanel(run, build=False)
    box = panel.failure.value
    assert "tracker-failure" in box and "var(--jp-error-color1" in box
    assert "<b>ValueError</b>" in box and "boom &lt;b&gt;bold&lt;/b&gt;" in box and "<b>bold</b>" not in box
    assert "exit code 1" in box
    pre = re.search(r"<pre class='tracker-traceback'[^>]*>(.*?)</pre>", box, re.S)
    assert pre is not None and "overflow:auto" in box
    assert "Traceback (most recent call last)" in pre.group(1)
    assert "raise ValueError(&quot;boom &lt;b&gt;bold&lt;/b&gt;&quot;)" in pre.group(1)
    assert list(panel.overview.children).index(panel.failure) == 0
    logs = "".join(c.value for c in panel.log_box.children)
    assert "step 1 fine" in logs and "step 2 fine" in logs and "ValueError: boom" in logs
    assert "no console output" not in logs
    overview = panel.overview_html.value
    assert ">exit code<" in overview


def test_a_run_failed_with_an_exit_code_alone(tmp_path):
    run = _run(tmp_path)
    run.finish(exit_code=3)
    panel = RunPanel(_read(tmp_path, run), build=False)
    box = panel.failure.value
    assert "exit code 3" in box and "no exception was recorded" in box and "<pre" not in box


def test_a_finished_or_running_run_has_no_failure_box(tmp_path):
    running = _run(tmp_path)
    running.flush()
    assert RunPanel(_read(tmp_path, running), build=False).failure.value == ""
    running.finish()
    assert RunPanel(_read(tmp_path, running), build=False).failure.value == ""


def test_a_failed_run_that_printed_nothing_says_what_it_failed_with_on_the_logs_tab(tmp_path):
    with pytest.raises(RuntimeError):
        with _run(tmp_path, settings=tracker.Settings(strict=True, quiet=True, console="off")) as run:
            raise RuntimeError("diverged")
    panel = RunPanel(_read(tmp_path, run), build=False)
    logs = "".join(c.value for c in panel.log_box.children)
    assert "no console output" in logs and "RuntimeError" in logs and "diverged" in logs
    assert "RuntimeError" in panel.failure.value and "diverged" in panel.failure.value


def test_alerts_show_as_a_header_badge_and_a_list_on_the_overview(tmp_path):
    run = _run(tmp_path)
    run.log({"loss": 1.0})
    run.alert("slow <epoch>", "epoch 3 took 12 s", level="WARN")
    run.log({"loss": float("nan")})
    run.alert("loss is nan", "at step 1", level=tracker.AlertLevel.ERROR)
    run.alert("loss is nan", "still nan")  # a repeat within a minute: recorded, not sent
    run.finish()
    panel = RunPanel(_read(tmp_path, run), build=False)
    header = panel.header.value
    assert "3 alerts" in header and "var(--jp-error-color1" in header  # the worst level's colour
    box = panel.failure.value
    titles = re.findall(r"class='tracker-alert'.*?<b>(.*?)</b>", box)
    assert titles == ["loss is nan", "loss is nan", "slow &lt;epoch&gt;"]  # newest first, escaped
    assert box.count("(a repeat: recorded, not sent)") == 1
    assert "step 1" in box and "epoch 3 took 12 s" in box
    quiet = _run(tmp_path)
    quiet.finish()
    quiet_panel = RunPanel(_read(tmp_path, quiet), build=False)
    assert "alert" not in quiet_panel.header.value and quiet_panel.failure.value == ""


def test_tag_colours_chosen_in_the_table_show_on_run_pages(tmp_path):
    from tracker.ui.project import RunTable

    run = _run(tmp_path, tags=["baseline", "<b>x</b>"])
    run.log({"loss": 1.0})
    run.finish()
    api = tracker.Api(_store(tmp_path))
    table = RunTable(api.runs("p"))
    assert list(table.tag_select.options) == ["<b>x</b>", "baseline"]
    own = static.tag_colours("baseline")[0]
    assert f"background:{own}" in table.source.data["_tag_chips"][0]
    table.tag_select.value = "baseline"
    table.set_tag_colour("baseline", "#AA0000")
    assert api.tag_colours("p") == {"baseline": "#aa0000"}
    chips = table.source.data["_tag_chips"][0]
    assert "background:#aa0000;color:#ffffff" in chips and "&lt;b&gt;x&lt;/b&gt;" in chips and "<b>x" not in chips
    header = RunPanel(api.run(run.path), build=False).header.value  # every run page of the project
    assert "background:#aa0000" in header
    table.set_tag_colour("baseline", None)
    assert api.tag_colours("p") == {} and f"background:{own}" in table.source.data["_tag_chips"][0]
    with pytest.raises(tracker.UsageError, match="#rrggbb"):
        api.set_tag_colour("p", "baseline", "red;background:url(x)")
    assert static.tag_colours("baseline", {"baseline": "#'><img"})[0] == own  # never inserted unchecked
