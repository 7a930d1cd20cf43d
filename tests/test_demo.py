"""The demo store the README's main command writes."""

from __future__ import annotations

import tracker
from tracker.demo import make_demo_store


def test_the_demo_is_written_once_however_often_it_runs(tmp_path):
    store = str(tmp_path / "store")
    first = make_demo_store(dir=store, runs=3, steps=60)
    second = make_demo_store(dir=store, runs=3, steps=60)
    assert first == second == ["demo/demo-1", "demo/demo-2"]  # the third fails on purpose
    runs = tracker.Api(dir=store).runs("demo")
    assert sorted(r.id for r in runs) == ["demo-1", "demo-2", "demo-3"]
    assert sorted(r.state for r in runs) == ["failed", "finished", "finished"]
    assert len(runs[0].history()) == 60
