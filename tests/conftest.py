"""Shared fixtures: an isolated store per test, strict runs, and no state leaking between tests."""

from __future__ import annotations

import os
import sys
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
                run._end("finished", 0, quiet=True)
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
