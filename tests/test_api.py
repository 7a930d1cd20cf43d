"""The read API: Api, Runs, history options, filters, SQL views."""

from __future__ import annotations

import math
import subprocess

import numpy as np
import pandas as pd
import pytest

import tracker
from tests.conftest import PYTHON, python_env
from tracker import RunNotFoundError, UsageError
from tracker.errors import QueryError


@pytest.fixture
def three_runs(make_run, store):
    specs = [("a", 1e-3, 4, ["baseline"]), ("b", 3e-3, 8, ["sweep"]), ("c", 1e-2, 8, ["sweep", "best"])]
    paths = []
    for name, lr, depth, tags in specs:
        run = make_run(name=name, config={"lr": lr, "model": {"depth": depth}}, tags=tags, group="g")
        run.define_metric("val/acc", summary="max")
        for i in range(100):
            run.log({"train/loss": 1 / (i + 1) + lr, "val/acc": i * lr})
        run.finish()
        paths.append(run.path)
    failing = make_run(name="d", config={"lr": 0.1})
    failing.finish(exit_code=1)
    return tracker.Api(dir=store), paths


def test_runs_table(three_runs):
    api, _ = three_runs
    runs = api.runs("test")
    assert len(runs) == 4 and [r.name for r in runs] == ["a", "b", "c", "d"]
    frame = runs.to_pandas()
    assert list(frame.columns[:5]) == ["project", "id", "name", "state", "created_at"]
    assert frame["state"].tolist() == ["finished"] * 3 + ["failed"]
    assert frame["config.model.depth"].tolist()[:3] == [4, 8, 8]
    assert frame["summary.val/acc"].tolist()[:3] == pytest.approx([99e-3, 99 * 3e-3, 99e-2])
    assert pd.api.types.is_datetime64_any_dtype(frame["created_at"])
    assert runs.to_arrow().num_rows == 4
    assert len(runs[1:3]) == 2 and runs[0].name == "a"


def test_filters_and_order(three_runs):
    api, _ = three_runs
    names = lambda rs: [r.name for r in rs]  # noqa: E731
    assert names(api.runs("test", filters={"state": "finished", "config.lr": {"$gt": 2e-3}})) == ["b", "c"]
    assert names(api.runs("test", filters={"tags": "sweep"})) == ["b", "c"]
    assert names(api.runs("test", filters={"tags": {"$in": ["best", "baseline"]}})) == ["a", "c"]
    assert names(api.runs("test", filters={"config.model.depth": {"$ne": 8}})) == ["a", "d"]
    assert names(api.runs("test", filters={"$or": [{"name": "a"}, {"summary.val/acc": {"$gte": 0.5}}]})) == ["a", "c"]
    assert names(api.runs("test", filters={"name": {"$regex": "^[bc]$"}})) == ["b", "c"]
    assert names(api.runs("test", filters={"summary_metrics.val/acc": {"$exists": False}})) == ["d"]
    assert names(api.runs("test", order="-config.lr")) == ["d", "c", "b", "a"]
    assert names(api.runs("test", order="-summary.val/acc")) == ["c", "b", "a", "d"]  # missing last
    with pytest.raises(QueryError, match=r"unknown filter operator '\$near'"):
        api.runs("test", filters={"config.lr": {"$near": 1}})


def test_run_lookup(three_runs):
    api, paths = three_runs
    run = api.run(paths[0])
    assert api.run("someone/" + paths[0]).id == run.id
    assert run.project == "test" and run.path == paths[0] and run.group == "g"
    assert run.metadata["python"] and run.metadata["host"] and run.duration >= 0
    with pytest.raises(RunNotFoundError, match="no run test/missing"):
        api.run("test/missing")
    with pytest.raises(UsageError, match="'project/run_id'"):
        api.run("justone")


def test_history_options(make_run, store):
    run = make_run()
    run.define_metric("epoch")
    run.define_metric("val/loss", step_metric="epoch")
    for i in range(1000):
        row = {"train/loss": 1.0 / (i + 1), "epoch": i // 100}
        if i % 100 == 99:
            row["val/loss"] = i / 1000
        run.log(row)
    run.finish()
    r = tracker.Api(dir=store).run(run.path)
    full = r.history()
    assert list(full.columns) == ["_step", "_timestamp", "_runtime", "train/loss", "epoch", "val/loss"]
    assert len(full) == 1000 and full["epoch"].dtype == np.int64
    only_val = r.history(keys=["val/loss"])
    assert list(only_val.columns) == ["_step", "_timestamp", "_runtime", "val/loss"]
    assert only_val["_step"].tolist() == list(range(99, 1000, 100))
    by_epoch = r.history(keys=["val/loss"], x_axis="epoch")
    assert by_epoch.columns[0] == "epoch" and by_epoch["epoch"].tolist() == list(range(10))
    window = r.history(min_step=100, max_step=200)
    assert window["_step"].tolist() == list(range(100, 200))
    rows = r.history(keys=["val/loss"], pandas=False)
    assert [r["_step"] for r in rows] == list(range(99, 1000, 100))
    assert rows[0]["val/loss"] == 0.099 and set(rows[0]) == {"_step", "_timestamp", "_runtime", "val/loss"}
    assert len(list(r.scan_history(keys=["val/loss"]))) == 10
    assert (full["_runtime"] >= 0).all() and full["_timestamp"].is_monotonic_increasing
    long = r.to_arrow(wide=False)
    assert long.num_rows == 2010 and long.column_names == ["step", "key", "kind", "value", "text", "time"]
    assert r.to_arrow().num_rows == 1000
    with pytest.raises(UsageError, match="x_axis='nope'"):
        r.history(x_axis="nope")
    with pytest.raises(UsageError, match="stream='gpu'"):
        r.history(stream="gpu")


def test_samples_keep_every_spike(make_run, store):
    run = make_run()
    values = np.sin(np.linspace(0, 20, 20_000))
    values[12_345] = 50.0  # a spike the sampling must keep
    values[777] = -50.0
    for v in values:
        run.log({"y": float(v), "z": 1.0})
    run.finish()
    r = tracker.Api(dir=store).run(run.path)
    small = r.history(samples=200)
    assert len(small) <= 2 * 200  # about `samples` rows per key (two keys)
    assert small["y"].max() == 50.0 and small["y"].min() == -50.0
    assert small["_step"].iloc[0] == 0 and small["_step"].iloc[-1] == 19_999
    assert small["_step"].is_monotonic_increasing
    keyed = r.history(samples=100, keys=["y"])
    assert list(keyed.columns) == ["_step", "_timestamp", "_runtime", "y"] and 50.0 in keyed["y"].tolist()


def test_history_of_a_run_without_points_and_mixed_kinds(make_run, store):
    empty = make_run()
    empty.finish()
    r = tracker.Api(dir=store).run(empty.path)
    assert len(r.history()) == 0 and list(r.scan_history()) == []
    mixed = make_run()
    mixed.log({"m": 1, "flag": True, "note": "a"})
    mixed.log({"m": 2.5, "flag": False, "note": None})
    mixed.log({"m": None, "flag": True, "note": [1, 2]})
    mixed.finish()
    frame = tracker.Api(dir=store).run(mixed.path).history()
    assert frame["m"].tolist()[:2] == [1.0, 2.5] and math.isnan(frame["m"].iloc[2])
    assert frame["flag"].dtype == bool and frame["flag"].tolist() == [True, False, True]
    assert frame["note"].tolist() == ["a", None, [1, 2]]


def test_sql_views(three_runs):
    api, paths = three_runs
    acc = tracker.sql(
        "select run_id, max(value) as best from history where key = 'val/acc' group by all order by best",
        dir=api.root,
    )
    assert len(acc) == 3 and acc["best"].iloc[-1] == pytest.approx(0.99)
    runs = api.sql("select name, state, config->>'lr' as lr, tags from runs order by name")
    assert runs["name"].tolist() == ["a", "b", "c", "d"]
    assert runs["state"].iloc[3] == "failed" and list(runs["tags"].iloc[2]) == ["sweep", "best"]
    joined = api.sql(
        "select r.name, count(*) as n from history h join runs r on r.id = h.run_id group by all order by r.name"
    )
    assert joined["n"].tolist() == [200, 200, 200]
    system = api.sql("select run_id, count(distinct key) as n from system group by all")
    assert len(system) == 4 and (system["n"] > 5).all()  # a first sample at init, whatever the run's length
    assert list(api.sql("select * from console limit 0").columns) == list(joined.columns[:0]) + [
        "project", "run_id", "step", "key", "kind", "value", "text", "time"]
    with pytest.raises(QueryError):
        api.sql("select * from no_such_table")


def test_edit_a_finished_run(three_runs):
    api, paths = three_runs
    run = api.run(paths[0])
    run.set(name="renamed", tags=["kept"], notes="good one")
    again = api.run(paths[0])
    assert (again.name, again.tags, again.notes) == ("renamed", ["kept"], "good one")


def test_edit_of_a_live_run_is_refused(make_run, store):
    live = make_run()
    with pytest.raises(UsageError, match="still being written"):
        tracker.Api(dir=store).run(live.path).set(notes="x")


def test_cli(three_runs, tmp_path):
    api, paths = three_runs

    def cli(*args):
        return subprocess.run([PYTHON, "-m", "tracker", *args, "--dir", str(api.root)], env=python_env(),
                              capture_output=True, text=True)

    out = cli("ls")
    assert out.returncode == 0 and "test\t4 runs\t1 failed, 3 finished" in out.stdout
    out = cli("ls", "test")
    assert out.returncode == 0 and "finished" in out.stdout and " c " in out.stdout
    out = cli("show", paths[1])
    assert out.returncode == 0 and '"lr": 0.003' in out.stdout
    out = cli("show", "test/nope")
    assert out.returncode == 2 and "no run test/nope" in out.stderr
    out = cli("sql", "select count(*) as n from runs")
    assert out.returncode == 0 and "4" in out.stdout
    for fmt in ("parquet", "csv"):
        dest = tmp_path / f"out-{fmt}"
        out = cli("export", "test", "--format", fmt, "--out", str(dest))
        assert out.returncode == 0, out.stderr
        history = pd.read_parquet(dest / "history.parquet") if fmt == "parquet" else pd.read_csv(dest / "history.csv")
        assert len(history) == 600
        assert (dest / f"runs.{fmt}").exists()
