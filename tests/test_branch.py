"""Runs from other runs: init(fork_from="<id>?_step=N") and init(resume_from="<id>?_step=N")."""

from __future__ import annotations

import os

import pytest

import tracker
from tracker import RunExistsError, RunNotFoundError, UsageError
from tracker.ui.panel import RunPanel


def _parent(make_run):
    run = make_run(config={"lr": 0.1, "depth": 4})
    for i in range(10):
        run.log({"loss": 10.0 - i, "acc": i / 10, "note": f"epoch {i}"})
    run.summary["best"] = 7
    run.finish()
    return run


def test_a_fork_reads_as_its_parents_history_to_the_step_then_its_own(make_run, store):
    parent = _parent(make_run)
    fork = make_run(fork_from=f"{parent.id}?_step=4", config={"lr": 0.01})
    assert fork.id != parent.id and fork.step == 5
    assert fork.summary["loss"] == 6.0 and fork.summary["best"] == 7  # as the parent's at step 4
    for _ in range(3):
        fork.log({"loss": 0.5})
    fork.finish()
    api = tracker.Api(dir=store)
    read = api.run(fork.path)
    history = read.history()
    assert history["_step"].tolist() == list(range(8))
    assert history["loss"].tolist() == [10.0, 9.0, 8.0, 7.0, 6.0, 0.5, 0.5, 0.5]
    assert history["note"].tolist()[:5] == [f"epoch {i}" for i in range(5)]
    assert read.config == {"lr": 0.01, "depth": 4}  # the parent's, with what the fork changed
    assert read.forked_from == {"run": parent.path, "step": 4}
    assert api.run(parent.path).history()["loss"].tolist() == [10.0 - i for i in range(10)]  # untouched
    # SQL sees one history, with no knowledge of forks
    n = api.sql(f"SELECT count(*) AS n FROM history WHERE run_id = '{fork.id}' AND key = 'loss'")["n"][0]
    assert n == 8
    overview = dict(RunPanel(read, build=False)._overview_rows)
    assert overview["forked from"].startswith(f"{parent.path} at step 4")


def test_resume_from_rewinds_a_run_and_keeps_the_later_steps_aside(make_run, store):
    parent = _parent(make_run)
    again = make_run(resume_from=f"{parent.id}?_step=6", config={"epochs": 3})
    assert again.id == parent.id and again.resumed and again.step == 7
    assert again.summary["loss"] == 4.0 and again.summary["best"] == 7
    again.log({"loss": 100.0})
    again.finish()
    read = tracker.Api(dir=store).run(parent.path)
    assert read.history()["loss"].tolist() == [10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 100.0]
    assert read.config == {"lr": 0.1, "depth": 4, "epochs": 3}
    assert [r["step"] for r in read.rewinds] == [6]
    aside = [d for d in os.listdir(os.path.join(parent.dir, "scalars")) if d.startswith("rewound-")]
    assert len(aside) == 1 and os.listdir(os.path.join(parent.dir, "scalars", aside[0]))  # kept, not deleted
    overview = dict(RunPanel(read, build=False)._overview_rows)
    assert overview["rewound"].startswith("to step 6 on ")


def test_bad_branch_arguments(make_run):
    parent = _parent(make_run)
    for bad in (f"{parent.id}", f"{parent.id}?epoch=3", f"{parent.id}?_step=x", f"{parent.id}?_step=-1"):
        with pytest.raises(UsageError):
            make_run(fork_from=bad)
    with pytest.raises(UsageError, match="not both"):
        make_run(fork_from=f"{parent.id}?_step=1", resume_from=f"{parent.id}?_step=1")
    with pytest.raises(RunNotFoundError):
        make_run(fork_from="nosuchrun?_step=1")
    with pytest.raises(RunNotFoundError):
        make_run(resume_from="nosuchrun?_step=1")
    live = make_run()
    live.log({"a": 1.0})
    with pytest.raises(RunExistsError, match="still being written"):
        make_run(resume_from=f"{live.id}?_step=0")
    live.finish()


def test_wandb_settings_fork_from_is_taken_by_init(make_run, store, capsys):
    parent = _parent(make_run)
    fork = tracker.init(project="test", dir=store, settings=tracker.Settings(fork_from=f"{parent.id}?_step=2"))
    assert fork.step == 3 and fork.summary["loss"] == 8.0
    fork.finish(quiet=True)
    assert "no meaning in a local store" not in capsys.readouterr().err
