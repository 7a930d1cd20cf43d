"""Read-side benchmarks: what the run table, a chart and a sidebar poll cost, warm and cold, each
beside the way it was read before the query module (measured in the same run).

    python bench/bench_read.py                      # 10,000 runs; a 10 M-point series; 1 M-point history
    python bench/bench_read.py --runs 2000 --points 1000000

The runs are written as a real store holds them (run.json, status.json, summary.json with a config
and a summary of a dozen keys each, and the project's ``.changed`` marker), directly, so making them
takes seconds, not hours. The long series is logged through ``tracker.init``/``log`` as training
code does. "warm" is the median of 5 calls in this process; "cold" is the first call in a fresh
process whose imports (tracker, pandas, pyarrow) are already done. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tracker  # noqa: E402
from tracker.store import layout  # noqa: E402


def make_runs(root: str, n: int, project: str = "sweep") -> None:
    layout.ensure_store(root)
    now = time.time()
    for i in range(n):
        run_id = f"r{i:07d}"
        paths = layout.RunPaths(root, project, run_id)
        os.makedirs(paths.dir)
        layout.write_run_file(paths, paths.run_file, {
            "schema_version": 1, "id": run_id, "project": project, "name": f"run-{i}", "tags": ["sweep"],
            "created_at": now - n + i, "host": "elsewhere", "user": "bench",
            "config": {"lr": 10 ** -(1 + i % 4), "batch": 32 * (1 + i % 3), "model": {"depth": 2 + i % 6, "width": 64}},
            "metrics": [],
        })
        layout.write_run_file(paths, paths.status_file, {
            "schema_version": 1, "state": "finished", "pid": 1, "host": "elsewhere", "heartbeat_at": now,
            "finished_at": now, "exit_code": 0, "last_step": 999,
        })
        layout.write_run_file(paths, paths.summary_file, {
            **{f"train/metric_{k}": (i * 7 + k) % 100 / 100 for k in range(10)}, "val/acc": i % 97 / 97,
        })


def log_long_series(root: str, n: int):
    """Log an ``n``-point series ``loss`` (a noisy sine with one spike of 50.0 at n // 3) as training
    code does, one fresh dict a step; returns the finished run."""
    import numpy as np

    run = tracker.init(project="long", dir=root, settings={"quiet": True, "disable_stats": True,
                                                           "console": "off", "disable_meta": True})
    values = np.sin(np.linspace(0, 200, n)) + np.random.default_rng(0).normal(0, 0.1, n)
    values[n // 3] = 50.0
    log = run.log
    for v in values.tolist():
        log({"loss": v})
    run.finish()
    return run


def timed(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cold(code: str, setup: str = "") -> float:
    """Seconds of the first ``code`` in a fresh process (imports done before the clock starts)."""
    script = (
        "import sys, time, json\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "import tracker, pandas, pyarrow, pyarrow.dataset, pyarrow.parquet, numpy\n"
        f"{setup}\n"
        "t0 = time.perf_counter()\n"
        f"{code}\n"
        "print(json.dumps(time.perf_counter() - t0))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=_ENV)
    return float(out.stdout.strip().splitlines()[-1])


# Fresh processes run with compiled bytecode, as an installed package does (this machine sets
# PYTHONDONTWRITEBYTECODE, which would make every cold figure include compiling tracker's sources).
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
_ENV["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "tracker-bench-pycache")


def cold_median(code: str, setup: str = "", repeat: int = 5) -> float:
    cold(code, setup)  # once to compile the bytecode cache and fill the OS file cache
    return statistics.median(cold(code, setup) for _ in range(repeat))


# --- the way each figure was read before store.query (kept here as the baseline) ---------------
def old_runs_table(root: str, project: str):
    """Three JSON reads per run, one Python record per run, then pandas (what Api.runs did)."""
    import pandas as pd

    from tracker.store.index import FIXED_FIELDS, flatten, read_doc

    pdir = os.path.join(root, project)
    records = []
    for run_id in sorted(os.listdir(pdir)):
        if run_id.startswith("."):
            continue
        doc = read_doc(project, run_id, os.path.join(pdir, run_id))
        if doc is not None:
            f = doc.fields()
            rec = {k: f[k] for k in FIXED_FIELDS}
            flatten("config.", f["config"], rec)
            flatten("summary.", f["summary"], rec)
            records.append(rec)
    return pd.DataFrame.from_records(records)


def old_m4(run_dir: str, key: str, samples: int, min_step=None, max_step=None):
    """M4 in one DuckDB query over every raw row (what history(samples=) and the charts ran)."""
    import duckdb

    from tracker.store import layout as lay

    folder = os.path.join(run_dir, "scalars")
    files = [os.path.join(folder, n) for n in lay.live_segments(os.listdir(folder))]
    where, params = ["kind <= 2", "CAST(key AS VARCHAR) = ?"], [files, key]
    if min_step is not None:
        where += ["step >= ?", "step < ?"]
        params += [min_step, max_step]
    buckets = samples // 4
    sql = f"""
        WITH h AS (SELECT step, value, step AS x FROM read_parquet(?) WHERE {' AND '.join(where)}),
        lim AS (SELECT min(x) AS lo, max(x) AS hi FROM h),
        b AS (SELECT h.*, least(CAST(floor((h.x - lim.lo) * {buckets} / greatest(lim.hi - lim.lo, 1e-300)) AS BIGINT),
                                {buckets - 1}) AS bucket FROM h, lim)
        SELECT arg_min(step, value), arg_max(step, value), min(step), max(step) FROM b GROUP BY bucket
    """
    con = duckdb.connect()
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def row(what: str, new: float, old: float | str | None = None, target: str = "") -> None:
    """One figure; ``old``: the way it was read before (seconds, measured in this run), or a
    figure quoted from issue 10 (text)."""
    old_s = f"{old * 1e3:9.1f} ms" if isinstance(old, float) else (old or "")
    print(f"  {what:<58} {new * 1e3:9.1f} ms   before: {old_s:<22} target {target}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--points", type=int, default=10_000_000)
    ap.add_argument("--history-points", type=int, default=1_000_000)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="bench-read-")
    try:
        import pandas  # noqa: F401  (not timed)

        t0 = time.perf_counter()
        make_runs(root, args.runs)
        print(f"wrote {args.runs} runs in {time.perf_counter() - t0:.1f} s")
        time.sleep(2.1)  # past the index's "changed too recently to trust a coarse clock" window
        api = tracker.Api(dir=root)
        print(f"\nRun table ({args.runs} runs, config + summary columns, into pandas)")
        first = cold("tracker.Api(dir=ROOT).runs('sweep').to_pandas()", f"ROOT = {root!r}")
        row("cold, first process ever (builds the runs index)", first)
        api.runs("sweep").to_pandas()
        t_old = timed(lambda: old_runs_table(root, "sweep"), 3)
        row("cold, fresh process (reads the persisted index)",
            cold_median("tracker.Api(dir=ROOT).runs('sweep').to_pandas()", f"ROOT = {root!r}"), t_old, "<= 1000 ms")
        row("warm", timed(lambda: api.runs("sweep").to_pandas()), t_old, "<= 200 ms")
        row("warm, filtered and ordered, no pandas",
            timed(lambda: api.runs("sweep", filters={"config.lr": {"$gt": 1e-3}}, order="-summary.val/acc")))
        since = time.time()
        row("'which runs changed since T', nothing changed", timed(lambda: api.query.changed_since(since, "sweep")),
            t_old, "<= 20 ms")
        paths = layout.RunPaths(root, "sweep", "r0000042")
        layout.write_run_file(paths, paths.status_file, {"state": "finished", "last_step": 1000, "host": "elsewhere"})
        t = timed(lambda: api.query.changed_since(since, "sweep"), 1)
        row("the same, one run changed", t, t_old, "<= 20 ms")
        row("tracker.sql over the runs view", timed(lambda: api.sql("select count(*) from runs where state = 'finished'"), 3))

        print(f"\nA {args.points:,}-point series downsampled to ~2,000 points (M4)")
        n = args.points
        t0 = time.perf_counter()
        run = log_long_series(root, n)
        print(f"  (logged in {time.perf_counter() - t0:.1f} s; files: "
              f"{sorted(os.listdir(os.path.join(run.dir, 'scalars')))})")
        read = api.run(run.path)
        windows = [("full extent", None), ("10% zoom", (n // 2, n // 2 + n // 10)),
                   ("1% zoom", (n // 2, n // 2 + n // 100)), ("0.1% zoom", (n // 2, n // 2 + n // 1000)),
                   ("0.01% zoom (exact rows)", (n // 2, n // 2 + n // 10000))]
        for label, window in windows:
            def new(w=window):
                return read.history(keys=["loss"], samples=2000, min_step=None if w is None else w[0],
                                    max_step=None if w is None else w[1])
            t_old = timed(lambda w=window: old_m4(read.dir, "loss", 2000, *(w or (None, None))), 3)
            got = new()
            assert got["loss"].max() == 50.0 or window is not None  # the spike survives
            row(f"history(samples=2000), {label}: {len(got)} rows", timed(new), t_old, "<= 50 ms")
        t_old = timed(lambda: old_m4(read.dir, "loss", 1600), 3)
        row("chart series (run.series, 400 buckets), full extent", timed(lambda: read.series(["loss"], 400)),
            t_old, "<= 50 ms")
        row("the same against _runtime", timed(lambda: read.series(["loss"], 400, x_axis="_runtime")), None, "<= 50 ms")
        setup = f"ROOT = {root!r}; PATH = {run.path!r}"
        row("history(samples=2000), full extent, cold",
            cold_median("tracker.Api(dir=ROOT).run(PATH).history(keys=['loss'], samples=2000)", setup))

        m = args.history_points
        print(f"\nA {m:,}-point history (10 keys x {m // 10:,} steps) into pandas")
        run = tracker.init(project="hist", dir=root, settings={"quiet": True, "disable_stats": True,
                                                               "console": "off", "disable_meta": True})
        for i in range(m // 10):
            run.log({f"k{j}": i * 0.5 + j for j in range(10)})
        run.finish()
        read = api.run(run.path)
        read.history()
        row("warm", timed(read.history), "32 ms (issue 10)", "<= 50 ms")
        setup = f"ROOT = {root!r}; PATH = {run.path!r}"
        row("first read in a fresh process", cold_median("tracker.Api(dir=ROOT).run(PATH).history()", setup),
            "100 ms (issue 10)", "<= 50 ms")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
