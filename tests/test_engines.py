"""The store read by other engines with no tracker code (docs/scale-out.md's recipes, run as
written there): DuckDB, polars and pyarrow.dataset reading history, runs and system metrics from
the files, and Apache Spark (local mode, a JRE) answering "the best val/acc per config group over
every run" in SQL. Each answer is checked against tracker's own read API."""

from __future__ import annotations

import glob
import json
import os
import time

import pytest

import tracker


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Six finished runs of project mnist, two learning rates, with history and system metrics."""
    root = tmp_path_factory.mktemp("engines") / "store"
    for i, lr in enumerate([0.1, 0.1, 0.1, 0.01, 0.01, 0.01]):
        run = tracker.init(project="mnist", dir=root, config={"lr": lr, "model": {"depth": 2 + i % 2}},
                           reinit="create_new", settings={"quiet": True, "strict": True, "stats_sampling_interval": 0.05})
        for step in range(50):
            run.log({"train/loss": 1.0 / (step + 1) + lr, "val/acc": min(0.99, step / 60 + i / 100)})
        time.sleep(0.2)  # a few system samples
        run.finish()
    return str(root)


def _expected(store):
    """The answer through tracker's own API: the best val/acc per lr."""
    best: dict[float, float] = {}
    for run in tracker.Api(dir=store).runs("mnist"):
        acc = run.history(keys=["val/acc"])["val/acc"].max()
        lr = run.config["lr"]
        best[lr] = max(best.get(lr, 0.0), float(acc))
    return best


def test_duckdb_reads_history_runs_and_system_metrics(store):
    import duckdb

    con = duckdb.connect()
    best = con.execute(f"""
        WITH history AS (
            SELECT regexp_extract(filename, '([^/]+)/scalars/[^/]+$', 1) AS run_id, step, key, value
            FROM read_parquet('{store}/mnist/*/scalars/seg-*.parquet', filename = true)),
        runs AS (
            SELECT json_extract_string(content, '$.id') AS run_id,
                   CAST(json_extract(content, '$.config.lr') AS DOUBLE) AS lr
            FROM read_text('{store}/mnist/*/run.json'))
        SELECT lr, max(value) AS best FROM history JOIN runs USING (run_id)
        WHERE key = 'val/acc' GROUP BY lr ORDER BY lr""").fetchall()
    assert dict(best) == pytest.approx(_expected(store))
    system = con.execute(f"""
        SELECT count(DISTINCT regexp_extract(filename, '([^/]+)/system/[^/]+$', 1)) AS runs, count(*) AS points
        FROM read_parquet('{store}/mnist/*/system/seg-*.parquet', filename = true)
        WHERE key = 'memory_percent'""").fetchone()
    assert system[0] == 6 and system[1] >= 6
    states = con.execute(f"""SELECT json_extract_string(content, '$.state') AS state, count(*)
                         FROM read_text('{store}/mnist/*/status.json') GROUP BY state""").fetchall()
    assert states == [("finished", 6)]


def test_polars_reads_the_history_and_the_runs(store):
    import polars as pl

    history = (pl.scan_parquet(f"{store}/mnist/*/scalars/seg-*.parquet", include_file_paths="path")
               .with_columns(pl.col("path").str.extract(r"([^/]+)/scalars/[^/]+$", 1).alias("run_id"),
                             pl.col("key").cast(pl.String))
               .filter(pl.col("key") == "val/acc")
               .group_by("run_id").agg(pl.col("value").max().alias("best")).collect())
    runs = pl.DataFrame([{"run_id": doc["id"], "lr": doc["config"]["lr"]}
                         for doc in (json.load(open(p)) for p in glob.glob(f"{store}/mnist/*/run.json"))])
    best = history.join(runs, on="run_id").group_by("lr").agg(pl.col("best").max()).sort("lr")
    assert dict(zip(best["lr"].to_list(), best["best"].to_list(), strict=True)) == pytest.approx(_expected(store))
    # one run's history, wide, as tracker's history() gives it
    one = sorted(glob.glob(f"{store}/mnist/*/scalars/seg-*.parquet"))[0]
    wide = pl.read_parquet(os.path.join(os.path.dirname(one), "seg-*.parquet")).with_columns(
        pl.col("key").cast(pl.String)).pivot(on="key", index="step", values="value").sort("step")
    assert wide.height == 50 and {"train/loss", "val/acc"} <= set(wide.columns)


def test_pyarrow_dataset_gets_project_run_and_stream_from_the_paths(store):
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    files = glob.glob(f"{store}/*/*/scalars/seg-*.parquet") + glob.glob(f"{store}/*/*/system/seg-*.parquet")
    dataset = ds.dataset(files, format="parquet", partition_base_dir=store, partitioning=ds.partitioning(
        pa.schema([("project", pa.string()), ("run_id", pa.string()), ("stream", pa.string())])))
    table = dataset.to_table(filter=(ds.field("stream") == "scalars") & (ds.field("key") == "val/acc"),
                             columns=["run_id", "step", "value"])
    assert table.num_rows == 6 * 50
    assert len(pc.unique(table["run_id"])) == 6
    system = dataset.to_table(filter=ds.field("stream") == "system", columns=["run_id", "key"])
    assert system.num_rows > 0 and len(pc.unique(system["run_id"])) == 6


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
def test_spark_sql_best_val_acc_per_config_group(store):
    from pyspark.sql import SparkSession  # the test extra installs pyspark, scripts/test.sh a JRE
    spark = (SparkSession.builder.master("local[1]").appName("tracker-store")
             .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate())
    try:
        spark.read.parquet(f"{store}/mnist/*/scalars/seg-*.parquet").createOrReplaceTempView("points")
        spark.read.option("multiLine", True).json(f"{store}/mnist/*/run.json").createOrReplaceTempView("runs")
        rows = spark.sql("""
            SELECT r.config.lr AS lr, max(p.value) AS best
            FROM (SELECT regexp_extract(input_file_name(), '([^/]+)/scalars/[^/]+$', 1) AS run_id, key, value
                  FROM points) p
            JOIN runs r ON r.id = p.run_id
            WHERE p.key = 'val/acc'
            GROUP BY r.config.lr ORDER BY lr""").collect()
    finally:
        spark.stop()
    assert {row["lr"]: row["best"] for row in rows} == pytest.approx(_expected(store))
