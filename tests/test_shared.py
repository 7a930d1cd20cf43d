"""mode="shared": one run written by several processes (W&B's shared mode, DDP ranks): each writes
its own history, system metrics and console lines, labelled; the primary owns config, summary and
the final state."""

from __future__ import annotations

import subprocess
import textwrap

import pytest

import tracker
from tests.conftest import PYTHON, python_env

SCRIPT = textwrap.dedent("""
    import sys, time
    import tracker as wandb
    rank, store = int(sys.argv[1]), sys.argv[2]
    settings = wandb.Settings(mode="shared", x_primary=rank == 0, x_label=f"rank_{rank}", quiet=True, strict=True,
                              flush_interval=0.05, x_stats_sampling_interval=0.2)
    run = wandb.init(project="ddp", id="shared1", dir=store, settings=settings,
                     config={"lr": 0.1, "world": 4} if rank == 0 else None)
    assert run.primary == (rank == 0)
    for step in range(20 + 7 * rank):  # each process its own number of segments (a flush a step)
        run.log({f"rank{rank}/loss": 1.0 / (step + 1) + rank, "epoch": step // 5})
        print(f"rank {rank} step {step}")
        run.flush()
        time.sleep(0.01)
    if rank == 0:
        run.summary["best"] = 0.5
        time.sleep(1.0)  # the others finish first, as DDP ranks usually do
    else:
        run.summary["ignored"] = 1  # a worker's summary stays in that process
    run.finish()
""")


def test_four_processes_write_one_run_with_labels(tmp_path):
    script = tmp_path / "rank.py"
    script.write_text(SCRIPT)
    store = tmp_path / "store"
    env = python_env()
    # the workers start first and wait for the primary to create the run
    procs = [subprocess.Popen([PYTHON, str(script), str(rank), str(store)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for rank in (3, 2, 1, 0)]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
    run = tracker.Api(dir=store).run("ddp/shared1")
    assert run.state == "finished" and run.config == {"lr": 0.1, "world": 4}
    assert run.summary["best"] == 0.5 and "ignored" not in run.summary
    history = run.history()
    for rank in range(4):
        n = 20 + 7 * rank
        points = history.dropna(subset=[f"rank{rank}/loss"])
        assert points["_step"].tolist() == list(range(n)), rank  # every process's own steps, none lost
        assert points[f"rank{rank}/loss"].tolist() == pytest.approx([1 / (s + 1) + rank for s in range(n)])
    system = tracker.Api(dir=store).sql("SELECT DISTINCT key FROM system WHERE run_id = 'shared1'")["key"].tolist()
    for rank in range(4):
        assert any(k.startswith(f"rank_{rank}/") for k in system), (rank, system)
    lines = run.logs(n=None)
    for rank in range(4):
        mine = [r["text"] for r in lines if r["stream"] == f"rank_{rank}/stdout"]
        assert mine == [f"rank {rank} step {s}" for s in range(20 + 7 * rank)], rank
    assert run.metadata.get("label") == "rank_0"  # the primary's own facts


def test_a_worker_without_its_primary_says_so(tmp_path):
    with pytest.raises(tracker.errors.RunNotFoundError, match="was not created by its primary"):
        tracker.init(project="ddp", id="nobody", dir=tmp_path / "store", mode="shared",
                     settings={"primary": False, "shared_wait": 0.3, "quiet": True})
    with pytest.raises(tracker.UsageError, match="pass its id"):
        tracker.init(project="ddp", dir=tmp_path / "store", mode="shared", settings={"primary": False, "quiet": True})


def test_the_system_tab_keeps_each_process_apart():
    from tracker.ui.charts import system_group, system_label

    assert system_group("rank_1/cpu") == "CPU [rank_1]" and system_group("cpu") == "CPU"
    assert system_label("rank_2/proc.cpu.threads")[0].endswith("[rank_2]")
