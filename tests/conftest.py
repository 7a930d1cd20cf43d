"""Shared fixtures: an isolated store per test, strict runs, and no state leaking between tests;
``wait_until`` for anything a thread or another process does in its own time."""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tracker
from tracker.sdk import state

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """No settings from the developer's machine; every run left open is finished after the test."""
    for name in list(os.environ):
        if name.startswith(("TRACKER_", "WANDB_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # what a test left behind was already reported to it
        for run in list(state.active):
            try:
                run.finish(quiet=True)
            except tracker.TrackingFailure:
                pass
    state.active.clear()
    state.current = None


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def make_run(store: Path) -> Callable[..., Any]:
    """``make_run(**init_kwargs)``: a strict, quiet run in the test's store."""

    def make(**kwargs: Any) -> Any:
        settings = {"strict": True, "quiet": True, "flush_interval": 0.05}
        settings.update(kwargs.pop("settings", {}))
        kwargs.setdefault("project", "test")
        kwargs.setdefault("reinit", "create_new")
        return tracker.init(dir=store, settings=settings, **kwargs)

    return make


def python_env(**extra: str) -> dict[str, str]:
    """Environment for a child Python process that imports this checkout's tracker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "WANDB_"))}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


PYTHON = sys.executable


def wait_until(
    predicate: Callable[[], Any],
    timeout: float = 30.0,
    interval: float = 0.02,
    message: str | None = None,
) -> Any:
    """Poll ``predicate()`` until it returns something truthy, and return that value.

    For what happens asynchronously (a writer or sampler thread, a subprocess, the live updater):
    never sleep a fixed time and then assert. The deadline is generous on purpose (CI runs on two
    loaded cores); it costs nothing when things are fast. On timeout the test fails, saying what
    was awaited (``message``, else the predicate's name) and the last value seen.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            what = message or getattr(predicate, "__name__", repr(predicate))
            seen = repr(value)
            if len(seen) > 500:
                seen = seen[:500] + "..."
            pytest.fail(f"waited {timeout:g} s for {what}; last value seen: {seen}")
        time.sleep(interval)
