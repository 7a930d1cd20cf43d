"""``display()`` outside a kernel (a script, a plain ``python`` REPL, CI): a short text summary,
never widgets. Building widgets there printed ~30 KB of widget text and the process often aborted
(exit code 134) at exit."""

from __future__ import annotations

import subprocess

import pytest

import tracker
from tests.conftest import PYTHON, python_env
from tracker.ui import entry

SCRIPT = """
import tracker
run = tracker.init(project="p", name="script-run", dir={store!r}, config={{"lr": 0.1}})
for i in range(20):
    run.log({{"loss": 1.0 / (i + 1), "acc": i / 20, "val/acc": 0.5}})
print("LIVE", run.display())
run._ipython_display_()
run.finish()
read = tracker.Api({store!r}).run(run.path)
print("READ", read.display())
read._ipython_display_()
runs = tracker.Api({store!r}).runs("p")
print("RUNS", runs.display())
runs._ipython_display_()
print("DONE")
"""


def test_display_in_a_script_prints_a_summary_and_exits_cleanly(tmp_path):
    """Five times: the abort was intermittent (4 runs in 5)."""
    for attempt in range(5):
        store = str(tmp_path / f"store{attempt}")
        done = subprocess.run([PYTHON, "-c", SCRIPT.format(store=store)], env=python_env(),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (attempt, done.returncode, done.stderr[-3000:])
        out = done.stdout
        assert len(out) + len(done.stderr) < 4000, out[:3000]  # a summary, not widget dumps
        assert "Widget" not in out and "VBox" not in out and "<bokeh" not in out.lower()
        assert out.count("tracker run script-run (p/") == 4  # display() and _ipython_display_, live and read
        assert "LIVE None" in out and "READ None" in out and "RUNS None" in out and out.rstrip().endswith("DONE")
        assert ": running" in out and ": finished" in out
        assert "last step: 19" in out and "loss = 0.05" in out and "val/acc = 0.5" in out
        assert out.count("tracker runs of p: 1 run") == 2 and "script-run" in out.split("RUNS")[0]
        assert f"dir:       {store}/p/" in out


def test_the_summary_says_what_a_run_holds(tmp_path):
    run = tracker.init(project="p", name="many", dir=tmp_path / "s", settings={"quiet": True, "strict": True})
    run.log({f"m{i:02d}": float(i) for i in range(12)} | {"text": "not a metric"})
    text = entry.render(run, "text")
    lines = text.splitlines()
    assert lines[0] == f"tracker run many ({run.path}): running"
    assert "m00 = 0" in text and "m07 = 7" in text and "m08" not in text  # up to 8 metrics
    assert "(4 more in run.summary)" in text and "not a metric" not in text
    run.finish()
    read = tracker.Api(tmp_path / "s").run(run.path)
    assert entry.render(read, "text").splitlines()[0] == f"tracker run many ({run.path}): finished"


def test_a_run_table_prints_its_first_rows(tmp_path, capsys):
    for i in range(13):
        r = tracker.init(project="t", name=f"r{i:02d}", dir=tmp_path / "s", reinit="create_new",
                         settings={"quiet": True, "strict": True})
        r.log({"score": float(i)})
        r.finish()
    runs = tracker.Api(tmp_path / "s").runs("t")
    assert runs.display() is None
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "tracker runs of t: 13 runs"
    assert lines[1].split() == ["name", "state", "duration", "last_step", "summary.score"]
    assert lines[2].split()[:2] == ["r00", "finished"] and lines[2].split()[-1] == "0"
    assert len(lines) == 2 + entry.TEXT_RUNS + 1 and "(3 more" in lines[-1]


@pytest.mark.parametrize("how", ["display", "ipython"])
def test_nothing_builds_widgets_outside_a_kernel(tmp_path, monkeypatch, how):
    import tracker.ui.panel as panel
    import tracker.ui.project as project

    def no_widgets(*args, **kwargs):
        raise AssertionError("a widget was built outside a kernel")

    monkeypatch.setattr(panel, "display_run", no_widgets)
    monkeypatch.setattr(project, "display_runs", no_widgets)
    run = tracker.init(project="p", dir=tmp_path / "s", settings={"quiet": True, "strict": True})
    run.log({"loss": 1.0})
    assert entry.render(run, how) is None
    run.finish()
    assert entry.render(tracker.Api(tmp_path / "s").run(run.path), how) is None
    assert entry.render(tracker.Api(tmp_path / "s").runs("p"), how) is None
