"""Run states, with real processes for the ways a process can end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tracker
from tests.conftest import PYTHON, python_env, wait_until
from tracker.store import layout
from tracker.store.states import derive_state


def run_child(store: Path, body: str, wait: bool = True, **kwargs):
    script = textwrap.dedent(
        f"""
        import sys, time, tracker
        run = tracker.init(project="p", dir={str(store)!r}, settings={{"quiet": True, "flush_interval": 0.1}})
        print(run.path, flush=True)
        """
    ) + textwrap.dedent(body)
    proc = subprocess.Popen(
        [PYTHON, "-c", script], env=python_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs
    )
    path = proc.stdout.readline().strip()
    if wait:
        proc.wait(timeout=60)
    return proc, path


def state_of(store, path):
    return tracker.Api(dir=store).run(path).state


def test_with_block_states(make_run, store):
    with make_run() as run:
        run.log({"a": 1})
    assert run.state == "finished" and state_of(store, run.path) == "finished"
    with pytest.raises(ValueError):
        with make_run() as failing:
            raise ValueError("boom")
    assert state_of(store, failing.path) == "failed"
    with pytest.raises(KeyboardInterrupt):
        with make_run() as interrupted:
            raise KeyboardInterrupt
    assert state_of(store, interrupted.path) == "killed"
    r = make_run()
    r.finish(exit_code=3)
    assert state_of(store, r.path) == "failed"
    assert tracker.Api(dir=store).run(r.path).status["exit_code"] == 3


def test_normal_exit_without_finish_is_finished(store):
    proc, path = run_child(store, "run.log({'a': 1.0})\n")
    assert proc.returncode == 0
    assert state_of(store, path) == "finished"


def test_uncaught_exception_is_failed_and_data_kept(store):
    proc, path = run_child(store, "run.log({'a': 1.0})\nraise RuntimeError('diverged')\n")
    assert proc.returncode == 1
    run = tracker.Api(dir=store).run(path)
    assert run.state == "failed" and run.history()["a"].tolist() == [1.0]


def test_sys_exit_code_decides_the_state(store):
    proc, path = run_child(store, "run.log({'a': 1.0})\nsys.exit(3)\n")
    assert proc.returncode == 3 and state_of(store, path) == "failed"
    proc, path = run_child(store, "sys.exit(0)\n")
    assert proc.returncode == 0 and state_of(store, path) == "finished"


def test_keyboard_interrupt_is_killed(store):
    proc, path = run_child(store, "raise KeyboardInterrupt\n")
    assert state_of(store, path) == "killed"


def test_sigterm_is_killed(store):
    proc, path = run_child(store, "print('ready', flush=True)\ntime.sleep(60)\n", wait=False)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGTERM
    assert state_of(store, path) == "killed"


def test_kill_9_reads_as_crashed_and_loses_at_most_the_last_flush(store):
    body = """
    i = 0
    while True:
        run.log({"i": i})
        i += 1
        if i == 2000:
            print("logged", flush=True)
        time.sleep(0.0005)
    """
    proc, path = run_child(store, body, wait=False)
    assert proc.stdout.readline().strip() == "logged"
    time.sleep(1.0)  # let it log and flush a while: the kill comes in the middle of that

    def flushed_lately() -> int:
        now = time.time()
        frame = tracker.Api(dir=store).run(path).history()
        return len(frame) if len(frame) >= 2000 and now - frame["_timestamp"].iloc[-1] < 1.0 else 0

    # while it runs, its rows reach the store every flush interval (0.1 s here), not only at exit;
    # polled, since the child's writer thread may lag for a moment on a loaded machine
    seen = wait_until(flushed_lately, message="rows logged less than 1 s ago to be in the store")
    proc.kill()
    proc.wait(timeout=30)
    run = tracker.Api(dir=store).run(path)
    assert run.state == "crashed"
    frame = run.history()
    assert len(frame) >= seen  # what was flushed before the kill is all there ...
    assert frame["i"].tolist() == list(range(len(frame)))  # ... a prefix, nothing torn


def test_preempting_then_killed_reads_as_preempted(store):
    proc, path = run_child(store, "run.mark_preempting()\nprint('marked', flush=True)\ntime.sleep(60)\n", wait=False)
    assert proc.stdout.readline().strip() == "marked"
    assert state_of(store, path) == "preempting"
    proc.kill()
    proc.wait(timeout=30)
    assert state_of(store, path) == "preempted"


def test_derive_state_rules():
    me = {"state": "running", "host": layout.HOSTNAME, "pid": os.getpid(), "pid_start": layout.process_start_ticks(os.getpid())}
    assert derive_state(me) == "running"
    assert derive_state({**me, "pid_start": 12345}) == "crashed"  # pid reused by another process
    assert derive_state({**me, "pid": 2**22 + 12345}) == "crashed"
    now = time.time()
    remote = {"state": "running", "host": "elsewhere", "pid": 1, "heartbeat_at": now - 10}
    assert derive_state(remote, now=now) == "running"
    assert derive_state({**remote, "heartbeat_at": now - 1000}, now=now) == "crashed"
    assert derive_state({"state": "finished"}) == "finished"


def test_a_forked_child_does_not_write_its_parents_run(make_run, store):
    if not hasattr(os, "fork"):
        pytest.skip("no fork here")
    run = make_run()
    run.log({"a": 1.0})
    pid = os.fork()
    if pid == 0:  # child: its log must be refused and must not touch the parent's files
        code = 0
        try:
            run.log({"a": 99.0})
        except tracker.TrackingFailure as exc:
            code = 7 if "fork" in str(exc) else 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 7
    run.log({"a": 2.0})
    run.finish()
    assert tracker.Api(dir=store).run(run.path).history()["a"].tolist() == [1.0, 2.0]


def test_child_process_python_is_this_checkout():
    out = subprocess.run([PYTHON, "-c", "import tracker; print(tracker.__file__)"], env=python_env(),
                         capture_output=True, text=True, check=True).stdout
    assert str(Path(__file__).resolve().parents[1]) in out
    assert sys.executable == PYTHON
