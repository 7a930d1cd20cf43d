"""run.alert: recorded with the run, rate-limited per title, sent to hooks and to alert_command."""

from __future__ import annotations

import datetime
import os
import sys

import pytest

import tracker
from tests.conftest import wait_until


def test_alerts_are_recorded_rate_limited_and_sent(make_run, store, tmp_path):
    got = []
    hook = tracker.on_alert(got.append)
    out = tmp_path / "command.txt"
    cmd = f'{sys.executable} -c "import os; open(r\'{out}\', \'a\').write(os.environ[\'TRACKER_ALERT_TITLE\'] + \'|\' + os.environ[\'TRACKER_ALERT_LEVEL\'] + \'|\' + os.environ[\'TRACKER_ALERT_TEXT\'] + \'\\n\')"'
    try:
        run = make_run(settings={"alert_command": cmd})
        run.log({"loss": 1.0})
        run.alert("loss is nan", "at step 1; $(rm -rf /) stays text", level=tracker.AlertLevel.ERROR)
        run.alert("loss is nan", "again, within a minute")  # recorded, not sent
        run.alert("slow epoch", "epoch took 12 s", level="warn", wait_duration=datetime.timedelta(seconds=0))
        run.alert("slow epoch", "and again", level="WARN", wait_duration=0)
        wait_until(lambda: len(got) == 3 and out.exists() and len(out.read_text().splitlines()) == 3,
                   message="three alerts sent to the hook and the command")
        run.finish()
    finally:
        tracker.remove_alert_hook(hook)
    assert [a["title"] for a in got] == ["loss is nan", "slow epoch", "slow epoch"]
    assert got[0]["run"] == run.path and got[0]["level"] == "ERROR" and got[0]["step"] == 1
    assert sorted(out.read_text().splitlines()) == sorted([
        "loss is nan|ERROR|at step 1; $(rm -rf /) stays text", "slow epoch|WARN|epoch took 12 s",
        "slow epoch|WARN|and again"])
    read = tracker.Api(dir=store).run(run.path)
    assert [(a["title"], a["level"], a["notified"]) for a in read.alerts] == [
        ("loss is nan", "ERROR", True), ("loss is nan", "INFO", False),
        ("slow epoch", "WARN", True), ("slow epoch", "WARN", True)]
    frame = tracker.Api(dir=store).sql("SELECT title, level, notified FROM alerts ORDER BY time")
    assert frame["title"].tolist() == ["loss is nan", "loss is nan", "slow epoch", "slow epoch"]
    assert frame["notified"].tolist() == [True, False, True, True]


def test_bad_alert_arguments(make_run, store):
    run = make_run()
    with pytest.raises(tracker.UsageError, match="str title"):
        run.alert(None, "text")
    with pytest.raises(tracker.UsageError, match="wait_duration"):
        run.alert("t", "text", wait_duration="soon")
    with pytest.raises(tracker.TrackingFailure, match="not one of INFO, WARN, ERROR"):
        run.alert("t", "text", level="PANIC")  # strict: the warning is raised
    with pytest.raises(tracker.TrackingFailure, match="over 63 characters"):
        run.alert("x" * 80, "text")
    run.finish()
    assert [a["title"] for a in tracker.Api(dir=store).run(run.path).alerts] == []


def test_a_failing_hook_is_reported_and_the_run_goes_on(store, recwarn):
    def broken(alert):
        raise RuntimeError("chat server down")

    tracker.on_alert(broken)
    try:
        run = tracker.init(project="p", dir=store, settings={"quiet": True})
        run.alert("done", "training finished")
        wait_until(lambda: any("chat server down" in str(w.message) for w in recwarn.list),
                   message="the hook's failure reported")
        run.log({"a": 1.0})
        run.finish()
    finally:
        tracker.remove_alert_hook(broken)
    assert tracker.Api(dir=store).run(run.path).alerts[0]["title"] == "done"


def test_a_half_written_line_is_skipped(make_run, store):
    run = make_run()
    run.alert("first", "ok")
    run.finish()
    with open(os.path.join(run.dir, "alerts.jsonl"), "a") as fh:
        fh.write('{"title": "sec')
    assert [a["title"] for a in tracker.Api(dir=store).run(run.path).alerts] == ["first"]


def test_module_level_alert_and_disabled_runs(store):
    run = tracker.init(project="p", dir=store, settings={"quiet": True, "strict": True})
    tracker.alert("t", "module level")
    run.finish()
    assert tracker.Api(dir=store).run(run.path).alerts[0]["text"] == "module level"
    off = tracker.init(mode="disabled")
    off.alert("t", "nothing")
    off.finish()


def test_the_run_table_counts_alerts_across_resumes(make_run, store):
    from tracker.ui.project import RunTable

    quiet = make_run()
    quiet.finish()
    noisy = make_run(id="noisy")
    noisy.alert("a", "x", level="WARN")
    noisy.finish()
    again = make_run(id="noisy", resume="allow")
    assert again.status()["alerts"] == {"count": 1, "worst": "WARN"}  # the first session's, still counted
    again.alert("b", "y", level="ERROR")
    assert again.status()["alerts"] == {"count": 2, "worst": "ERROR"}
    again.finish()
    api = tracker.Api(dir=store)
    counts = dict(api.sql("SELECT id, alerts FROM runs").values.tolist())
    assert counts == {quiet.id: 0, "noisy": 2}
    table = RunTable(api.runs("test"))
    assert "alerts" in table.columns
    assert dict(zip(table.frame["name"], table.frame["alerts"], strict=True)) == {quiet.name: 0, again.name: 2}


def test_a_project_without_alerts_has_no_alerts_column(make_run, store):
    from tracker.ui.project import RunTable

    make_run(project="calm").finish()
    table = RunTable(tracker.Api(dir=store).runs("calm"))
    assert "alerts" not in table.columns and "alerts" in table.all_columns
