"""Importers against files written by the real tools: W&B (offline mode), tensorboardX and MLflow
(file store and SQLite), compared value by value with what was logged; an interrupted W&B file and
a truncated event file; importing twice; the command line; a run exported back to TensorBoard."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import tracker
from tracker import cli
from tracker.importers import import_mlflow, import_tensorboard, import_wandb

WANDB_SCRIPT = r"""
import json, sys, time
import numpy as np
import wandb
run = wandb.init(project="ported", name="wandb-run", config={"lr": 0.01, "model": {"depth": 3}}, tags=["a", "b"],
                 notes="from wandb", settings=wandb.Settings(x_stats_sampling_interval=0.2))
logged = []
for i in range(6):
    row = {"train/loss": 1.0 / (i + 1), "acc": i / 10}
    run.log(row)
    logged.append(row)
    print(f"epoch {i} done")
print("to stderr", file=sys.stderr)
run.log({"img": wandb.Image(np.full((6, 5, 3), 200, dtype=np.uint8), caption="grey"),
         "hist": wandb.Histogram(np_histogram=([1, 2, 3], [0.0, 1.0, 2.0, 3.0]))}, step=9)
run.summary["best"] = 0.75
time.sleep(0.8)
run.finish()
print(json.dumps({"id": run.id, "logged": logged}))
"""


@pytest.fixture(scope="module")
def wandb_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wandb-src")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "TRACKER_"))}
    env.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DIR=str(folder))
    out = subprocess.run([sys.executable, "-c", WANDB_SCRIPT], cwd=folder, env=env, capture_output=True, text=True,
                         timeout=240, check=True)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    return folder, info


def _reads_crashed(run):
    """A run that never ended (no exit record): running with no process and a heartbeat at its last
    record, so it reads as crashed once that is older than the heartbeat timeout (at once for an old
    source; a source still being written reads as running until then)."""
    import time

    from tracker.store.states import derive_state

    assert run.status["state"] == "running" and run.status["pid"] is None and run.status["finished_at"] is None
    assert derive_state(run.status, now=time.time() + 180) == "crashed"


def test_wandb_offline_run_imports_with_history_config_summary_console_system_and_media(wandb_dir, store):
    folder, info = wandb_dir
    (result,) = import_wandb(folder / "wandb", dir=store, progress=False)
    assert result.status == "imported" and result.path == f"ported/{info['id']}"
    run = tracker.Api(dir=store).run(result.path)
    assert run.name == "wandb-run" and run.state == "finished" and run.tags == ["a", "b"] and run.notes == "from wandb"
    assert run.config == {"lr": 0.01, "model": {"depth": 3}}
    history = run.history(keys=["train/loss", "acc"])
    assert history["_step"].tolist() == list(range(6))
    assert history["train/loss"].tolist() == [row["train/loss"] for row in info["logged"]]
    assert history["acc"].tolist() == [row["acc"] for row in info["logged"]]
    assert run.summary["best"] == 0.75 and run.summary["train/loss"] == pytest.approx(1 / 6)
    assert 0 < history["_runtime"].iloc[0] < 60  # the source's wall times, not the import's
    (image,) = run.media(key="img")
    assert image.step == 9 and image.caption == "grey" and image.load().shape[:2] == (6, 5)
    (hist,) = run.media(key="hist")
    assert hist.load()["counts"] == [1, 2, 3]
    lines = [(r["stream"], r["text"]) for r in run.logs()]
    assert ("stdout", "epoch 0 done") in lines and ("stdout", "epoch 5 done") in lines
    assert ("stderr", "to stderr") in lines
    system = tracker.Api(dir=store).sql("SELECT count(*) AS n FROM system WHERE run_id = ?", [info["id"]])
    assert system["n"][0] > 0
    assert run.metadata["imported_from"]["tool"] == "wandb"
    assert "requirements.txt" in {f["name"] for f in run.files()}


def test_importing_twice_skips_and_force_replaces(wandb_dir, store):
    folder, _ = wandb_dir
    first = import_wandb(folder / "wandb", dir=store, progress=False)
    again = import_wandb(folder / "wandb", dir=store, progress=False)
    assert [r.status for r in first] == ["imported"] and [r.status for r in again] == ["skipped"]
    assert len(tracker.Api(dir=store).runs("ported")) == 1
    forced = import_wandb(folder / "wandb", dir=store, progress=False, force=True)
    assert [r.status for r in forced] == ["replaced"] and len(tracker.Api(dir=store).runs("ported")) == 1


def test_an_interrupted_wandb_file_keeps_every_whole_record_and_reads_crashed(wandb_dir, store, tmp_path):
    from tracker.importers.wandb import read_records

    folder, info = wandb_dir
    (path,) = glob.glob(str(folder / "wandb" / "offline-run-*" / "run-*.wandb"))
    data = open(path, "rb").read()
    whole, _ = read_records(path)
    cut = tmp_path / "offline-run-cut" / os.path.basename(path)
    cut.parent.mkdir()
    # cut inside the history record of step 3 (a run killed while writing it)
    marker = data.find(b"epoch 3 done")
    cut.write_bytes(data[:marker + 5])
    records, tail = read_records(str(cut))
    assert 0 < len(records) < len(whole) and tail and "partial record" in tail
    (result,) = import_wandb(cut, dir=store, progress=False, project="cut")
    assert result.notes and "partial record" in result.notes[0]
    run = tracker.Api(dir=store).run(result.path)
    _reads_crashed(run)
    steps = run.history(keys=["train/loss"])["_step"].tolist()
    assert steps == list(range(len(steps))) and 3 <= len(steps) <= 4


def test_tensorboard_log_folder_imports_one_run_per_subfolder(store, tmp_path):
    from tensorboardX import SummaryWriter

    logdir = tmp_path / "logs"
    for name, scale in (("baseline", 1.0), ("wide", 0.5)):
        writer = SummaryWriter(str(logdir / name))
        for step in range(0, 50, 5):
            writer.add_scalar("train/loss", scale / (step + 1), step)
        writer.add_histogram("weights", np.random.default_rng(0).normal(size=500), 10)
        writer.add_image("sample", np.full((3, 4, 6), 90, dtype=np.uint8), 20)
        writer.add_text("notes", "first **run**", 0)
        writer.add_hparams({"lr": 0.1 * scale, "opt": "sgd"}, {"hparam/acc": 0.9 * scale})
        writer.close()
    results = import_tensorboard(logdir, dir=store, progress=False)
    assert sorted(r.status for r in results) == ["imported", "imported"]  # the hparams subfolders are merged
    api = tracker.Api(dir=store)
    runs = {r.name: r for r in api.runs("logs")}
    assert set(runs) == {"baseline", "wide"}
    wide = runs["wide"]
    history = wide.history(keys=["train/loss"])
    assert history["_step"].tolist() == list(range(0, 50, 5))
    assert history["train/loss"].tolist() == pytest.approx([0.5 / (s + 1) for s in range(0, 50, 5)], rel=1e-6)
    assert wide.config == {"lr": 0.05, "opt": "sgd"} and wide.summary["hparam/acc"] == pytest.approx(0.45)
    (hist,) = wide.media(key="weights")
    assert sum(hist.load()["counts"]) == 500
    (image,) = wide.media(key="sample")
    assert image.step == 20 and image.load().shape[:2] == (4, 6)
    assert wide.history(keys=["notes"])["notes"].tolist() == ["first **run**"]
    assert wide.state == "finished"
    again = import_tensorboard(logdir, dir=store, progress=False)
    assert [r.status for r in again] == ["skipped", "skipped"]


def test_a_truncated_event_file_keeps_what_came_before(store, tmp_path):
    from tensorboardX import SummaryWriter

    logdir = tmp_path / "live"
    writer = SummaryWriter(str(logdir))
    for step in range(20):
        writer.add_scalar("loss", float(step), step)
    writer.close()
    (path,) = glob.glob(str(logdir / "events.out.tfevents.*"))
    data = open(path, "rb").read()
    open(path, "wb").write(data[:-7])  # the last record cut short, as a writer killed mid-write leaves it
    (result,) = import_tensorboard(logdir, dir=store, progress=False)
    run = tracker.Api(dir=store).run(result.path)
    assert run.history(keys=["loss"])["loss"].tolist() == [float(s) for s in range(19)]
    _reads_crashed(run)
    assert result.notes


MLFLOW_SCRIPT = r"""
import json, sys
import mlflow
uri = sys.argv[1]
mlflow.set_tracking_uri(uri)
mlflow.set_experiment("churn")
ids = []
for lr in (0.1, 0.01):
    with mlflow.start_run(run_name=f"lr-{lr}", tags={"team": "ml"}, description="a note") as run:
        mlflow.log_params({"lr": lr, "layers": 3, "opt": "adam", "use_bn": True})
        for step in range(5):
            mlflow.log_metric("loss", lr / (step + 1), step=step)
        mlflow.log_metric("auc", 0.8, step=4)
        for sample in range(3):  # what log_system_metrics=True writes
            mlflow.log_metric("system/cpu_utilization_percentage", 10.0 + sample, step=sample)
        with open("model.txt", "w") as fh:
            fh.write("weights")
        mlflow.log_artifact("model.txt", artifact_path="model")
        ids.append(run.info.run_id)
with mlflow.start_run(run_name="broken"):
    mlflow.log_metric("loss", 1.0, step=0)
    mlflow.end_run(status="FAILED")
print(json.dumps(ids))
"""


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_mlflow_runs_import_from_a_file_store_and_a_sqlite_database(kind, store, tmp_path):
    uri = f"file:{tmp_path / 'mlruns'}" if kind == "file" else f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "TRACKER_"))}
    env["MLFLOW_ALLOW_FILE_STORE"] = "true"
    out = subprocess.run([sys.executable, "-c", MLFLOW_SCRIPT, uri], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=240, check=True)
    ids = json.loads(out.stdout.strip().splitlines()[-1])
    source = str(tmp_path / "mlruns") if kind == "file" else uri
    results = import_mlflow(source, dir=store, progress=False)
    assert sorted(r.status for r in results) == ["imported"] * 3
    api = tracker.Api(dir=store)
    run = api.run(f"churn/{ids[0]}")
    assert run.name == "lr-0.1" and run.state == "finished" and run.notes == "a note"
    assert run.config["lr"] == 0.1 and run.config["layers"] == 3 and run.config["use_bn"] is True
    assert run.config["opt"] == "adam" and "team:ml" in run.tags
    history = run.history(keys=["loss"])
    assert history["_step"].tolist() == [0, 1, 2, 3, 4]
    assert history["loss"].tolist() == pytest.approx([0.1 / (s + 1) for s in range(5)])
    assert run.summary["auc"] == 0.8 and run.summary["loss"] == pytest.approx(0.02)
    assert "system/cpu_utilization_percentage" not in run.history().columns
    cpu = api.sql("SELECT step, value FROM system WHERE run_id = ? AND key = 'cpu_utilization_percentage' "
                  "ORDER BY step", [ids[0]])
    assert cpu["value"].tolist() == [10.0, 11.0, 12.0]
    assert "model/model.txt" in {f["name"] for f in run.files()}
    broken = [r for r in api.runs("churn") if r.name == "broken"]
    assert broken and broken[0].state == "failed"
    assert [r.status for r in import_mlflow(source, dir=store, progress=False)] == ["skipped"] * 3


def test_the_command_line_imports_and_exports_tensorboard(store, tmp_path, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboardX import SummaryWriter

    logdir = tmp_path / "tb"
    writer = SummaryWriter(str(logdir / "one"))
    for step in range(10):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
    writer.close()
    assert cli.main(["import", "tensorboard", str(logdir), "--project", "imported", "--dir", str(store),
                     "--no-progress"]) == 0
    assert "1 imported" in capsys.readouterr().out
    # a tracker run back out as an event file TensorBoard reads
    run = tracker.init(project="native", dir=store, settings={"strict": True, "quiet": True, "disable_stats": True})
    for step in range(8):
        run.log({"val/acc": step / 8, "note": "text is left out"}, step=step * 2)
    run.finish()
    out = tmp_path / "exported"
    assert cli.main(["export", "--format", "tensorboard", run.path, str(out), "--dir", str(store)]) == 0
    (path,) = glob.glob(str(out / "*" / "events.out.tfevents.*"))
    acc = EventAccumulator(os.path.dirname(path))
    acc.Reload()
    events = acc.Scalars("val/acc")
    assert [e.step for e in events] == list(range(0, 16, 2))
    assert [e.value for e in events] == pytest.approx([s / 8 for s in range(8)])
    history = tracker.Api(dir=store).run(run.path).history(keys=["val/acc"])
    assert [e.wall_time for e in events] == pytest.approx(history["_timestamp"].tolist())


def test_a_missing_wandb_package_is_named_with_its_extra(wandb_dir, store, monkeypatch):
    from tracker.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "wandb.proto.wandb_internal_pb2", None)
    folder, _ = wandb_dir
    (path,) = glob.glob(str(folder / "wandb" / "offline-run-*" / "run-*.wandb"))
    with pytest.raises(MissingDependencyError, match=r"tracker\[import\]"):
        import_wandb(path, dir=store, progress=False)
