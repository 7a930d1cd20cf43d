"""The failure record: how a run ended (exit code; exception type, message and traceback), from
real processes, the ``with`` block and ``finish(exit_code=)``, read back through the read API and
the CLI; and a failed script's console output kept to its last line."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

import tracker
from tests.conftest import PYTHON, python_env
from tracker.sdk.run import TRACEBACK_CHARS, TRACEBACK_LINES, failure_record


def run_script(tmp_path: Path, store: Path, body: str, console: str = "wrap") -> tuple[subprocess.CompletedProcess[str], str]:
    """Run ``body`` as a script after ``run = tracker.init(...)`` (in ``store``); returns the
    finished process and the run's path (the script's first output line)."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(
        f"""
        import sys, tracker
        run = tracker.init(project="p", dir={str(store)!r}, config={{"lr": 0.1}},
                           settings={{"quiet": True, "console": {console!r}, "flush_interval": 0.1}})
        sys.__stdout__.write("PATH " + run.path + "\\n")
        sys.__stdout__.flush()
        """
    ) + textwrap.dedent(body))
    proc = subprocess.run([PYTHON, str(script)], env=python_env(), capture_output=True, text=True, timeout=120)
    first = proc.stdout.splitlines()[0] if proc.stdout else ""
    assert first.startswith("PATH "), (proc.stdout, proc.stderr)
    return proc, first[5:]


@pytest.mark.parametrize("console", ["wrap", "redirect"])
def test_an_uncaught_exception_records_type_message_traceback_and_exit_code(tmp_path, store, console):
    body = """
    print("epoch 1 done")
    print("epoch 2 done")
    print("to stderr", file=sys.stderr)
    run.log({"loss": 0.5})
    raise ValueError("boom")  # the raising line
    """
    proc, path = run_script(tmp_path, store, body, console)
    assert proc.returncode == 1
    assert "ValueError: boom" in proc.stderr  # the terminal still shows the traceback, once
    assert proc.stderr.count("Traceback (most recent call last)") == 1
    run = tracker.Api(dir=store).run(path)
    assert run.state == "failed"
    assert run.exit_code == 1
    exc = run.exception
    assert exc is not None
    assert exc["type"] == "ValueError" and exc["message"] == "boom"
    assert 'raise ValueError("boom")  # the raising line' in exc["traceback"]
    assert exc["traceback"].startswith("Traceback (most recent call last)")
    assert exc["traceback"].rstrip().endswith("ValueError: boom")
    assert run.history()["loss"].tolist() == [0.5]
    # the console: the printed lines (stdout was a pipe: block-buffered) and the traceback
    logs = run.logs_text(None)
    for line in ("epoch 1 done", "epoch 2 done", "to stderr", 'raise ValueError("boom")', "ValueError: boom"):
        assert line in logs, (line, logs)
    stderr_lines = [r["text"] for r in run.logs(None, stream="stderr")]
    assert "ValueError: boom" in stderr_lines


def test_an_exception_leaving_the_with_block_in_a_script(tmp_path, store):
    body = f"""
    run.finish()
    with tracker.init(project="p", dir={str(store)!r}, settings={{"quiet": True}}) as inner:
        sys.__stdout__.write("INNER " + inner.path + "\\n")
        sys.__stdout__.flush()
        print("inside the block")
        raise KeyError("missing")
    """
    proc, _ = run_script(tmp_path, store, body)
    assert proc.returncode == 1
    assert proc.stderr.count("Traceback (most recent call last)") == 1  # not printed twice
    inner = [ln[6:] for ln in proc.stdout.splitlines() if ln.startswith("INNER ")][0]
    run = tracker.Api(dir=store).run(inner)
    assert run.state == "failed" and run.exit_code == 1
    assert run.exception is not None and run.exception["type"] == "KeyError"
    assert run.exception["message"] == "'missing'"
    assert 'raise KeyError("missing")' in run.exception["traceback"]
    logs = run.logs_text(None)
    # printed after the block ended (by the exit hook), the traceback would be lost: it is put
    # into the run's console when the block ends, exactly once
    assert "inside the block" in logs
    assert logs.count('raise KeyError("missing")') == 1 and "KeyError: 'missing'" in logs


def test_finish_with_an_exit_code_records_the_code_alone(make_run, store):
    run = make_run()
    run.finish(exit_code=3)
    read = tracker.Api(dir=store).run(run.path)
    assert read.state == "failed" and read.exit_code == 3 and read.exception is None
    ok = make_run()
    ok.finish()
    read = tracker.Api(dir=store).run(ok.path)
    assert read.state == "finished" and read.exit_code == 0 and read.exception is None


def test_sys_exit_records_its_code_without_an_exception(tmp_path, store):
    proc, path = run_script(tmp_path, store, "sys.exit(4)\n")
    assert proc.returncode == 4
    run = tracker.Api(dir=store).run(path)
    assert run.state == "failed" and run.exit_code == 4 and run.exception is None


def test_the_with_block_marks_failed_records_and_reraises(make_run, store):
    with pytest.raises(ZeroDivisionError) as caught:
        with make_run() as run:
            run.log({"a": 1})
            print("before the error")
            1 / 0  # noqa: B018 - the failure under test
    assert caught.value.__traceback__ is not None  # the very exception, not swallowed nor replaced
    read = tracker.Api(dir=store).run(run.path)
    assert read.state == "failed" and read.exit_code == 1
    exc = read.exception
    assert exc is not None and exc["type"] == "ZeroDivisionError" and exc["message"] == "division by zero"
    assert "1 / 0" in exc["traceback"]
    assert "before the error" in read.logs_text(None) and "ZeroDivisionError" in read.logs_text(None)


def test_a_running_run_and_a_killed_one_have_no_exception(make_run, store):
    running = make_run()
    running.flush()
    read = tracker.Api(dir=store).run(running.path)
    assert read.state == "running" and read.exit_code is None and read.exception is None
    with pytest.raises(KeyboardInterrupt):
        with make_run() as interrupted:
            raise KeyboardInterrupt
    read = tracker.Api(dir=store).run(interrupted.path)
    assert read.state == "killed" and read.exit_code == 255 and read.exception is None


def test_an_exception_recorded_then_a_normal_finish_leaves_none(make_run, store):
    run = make_run()
    try:
        raise RuntimeError("handled")
    except RuntimeError as exc:
        run.record_exception(exc)
    run.finish()
    assert tracker.Api(dir=store).run(run.path).exception is None


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")

    def __repr__(self) -> str:
        raise RuntimeError("no repr either")


def test_an_unprintable_exception_is_recorded_without_raising(make_run, store):
    with pytest.raises(Unprintable):
        with make_run() as run:
            raise Unprintable()
    read = tracker.Api(dir=store).run(run.path)
    assert read.state == "failed"
    exc = read.exception
    assert exc is not None and exc["type"] == "Unprintable"
    assert "str raised" in exc["message"]
    assert "raise Unprintable()" in exc["traceback"]


def test_a_huge_exception_is_cut_to_size(make_run, store):
    with pytest.raises(ValueError):
        with make_run() as run:
            raise ValueError("x" * 5_000_000 + "\udc80")  # 5 MB and a lone surrogate
    exc = tracker.Api(dir=store).run(run.path).exception
    assert exc is not None and exc["type"] == "ValueError"
    assert len(exc["message"]) <= 4000 and exc["message"].startswith("xxx")
    assert len(exc["traceback"]) <= TRACEBACK_CHARS + 200
    assert "traceback was cut" in exc["traceback"]


def _deep(n: int) -> None:
    if n == 0:
        raise OverflowError("deep")
    _deeper(n - 1)


def _deeper(n: int) -> None:
    _deep(n)


def test_a_long_traceback_keeps_its_last_lines():
    try:
        _deep(400)  # alternating frames: Python does not fold them
    except OverflowError as exc:
        record = failure_record(exc)
    lines = record["traceback"].splitlines()
    assert len(lines) == TRACEBACK_LINES + 1 and "lines of the traceback were cut" in lines[0]
    assert lines[-1] == "OverflowError: deep"
    assert record["type"] == "OverflowError" and record["message"] == "deep"


def test_failure_record_never_raises_on_odd_input():
    class Odd(Exception):
        pass

    exc = Odd()
    exc.__traceback__ = None
    record = failure_record(exc, tb=None)
    assert record["type"] == "Odd" and record["message"] == ""
    assert record["traceback"].rstrip().endswith("Odd")


def test_a_disabled_run_and_an_uncaught_exception(tmp_path, store):
    script = tmp_path / "disabled.py"
    script.write_text("import tracker\nrun = tracker.init(mode='disabled')\nraise ValueError('boom')\n")
    proc = subprocess.run([PYTHON, str(script)], env=python_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and proc.stderr.rstrip().endswith("ValueError: boom")
    assert "tracker" not in proc.stderr.split("ValueError: boom")[-1]


def test_the_cli_shows_how_a_failed_run_ended(tmp_path, store):
    _, path = run_script(tmp_path, store, "raise ValueError('boom')\n")
    out = subprocess.run([PYTHON, "-m", "tracker", "show", path, "--dir", str(store)], env=python_env(),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["state"] == "failed" and doc["exit_code"] == 1
    assert doc["exception"] == {"type": "ValueError", "message": "boom"}
    assert f"{path} failed, exit code 1: ValueError: boom" in out.stderr


def test_the_cli_says_nothing_more_of_a_finished_run(make_run, store):
    run = make_run()
    run.finish()
    out = subprocess.run([PYTHON, "-m", "tracker", "show", run.path, "--dir", str(store)], env=python_env(),
                         capture_output=True, text=True, timeout=120)
    doc = json.loads(out.stdout)
    assert doc["exit_code"] == 0 and doc["exception"] is None and out.stderr == ""

