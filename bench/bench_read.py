"""Read-side benchmarks: a project of many runs as a table, and a long series downsampled.

    python bench/bench_read.py                     # 10,000 runs; a 10 M-point series
    python bench/bench_read.py --runs 2000 --points 1000000

The runs are written as a real store would hold them (run.json, status.json, summary.json with a
config and a summary of a dozen keys each), directly, so making them takes seconds, not hours.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tracker  # noqa: E402
from tracker.store import layout  # noqa: E402


def make_runs(root: str, n: int) -> None:
    layout.ensure_store(root)
    now = time.time()
    for i in range(n):
        run_id = f"r{i:07d}"
        d = os.path.join(root, "sweep", run_id)
        os.makedirs(d)
        layout.write_json_atomic(os.path.join(d, "run.json"), {
            "schema_version": 1, "id": run_id, "project": "sweep", "name": f"run-{i}", "tags": ["sweep"],
            "created_at": now - n + i, "host": "elsewhere", "user": "bench",
            "config": {"lr": 10 ** -(1 + i % 4), "batch": 32 * (1 + i % 3), "model": {"depth": 2 + i % 6, "width": 64}},
            "metrics": [],
        })
        layout.write_json_atomic(os.path.join(d, "status.json"), {
            "schema_version": 1, "state": "finished", "pid": 1, "host": "elsewhere", "heartbeat_at": now,
            "finished_at": now, "exit_code": 0, "last_step": 999,
        })
        layout.write_json_atomic(os.path.join(d, "summary.json"), {
            **{f"train/metric_{k}": (i * 7 + k) % 100 / 100 for k in range(10)}, "val/acc": i % 97 / 97,
        })


def timed(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--points", type=int, default=10_000_000)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="bench-read-")
    try:
        t0 = time.perf_counter()
        make_runs(root, args.runs)
        print(f"wrote {args.runs} runs in {time.perf_counter() - t0:.1f} s")
        api = tracker.Api(dir=root)
        import pandas  # noqa: F401  (not timed)

        t = timed(lambda: api.runs("sweep").to_pandas())
        frame = api.runs("sweep").to_pandas()
        print(f"Api().runs('sweep').to_pandas(), {args.runs} runs: {t * 1e3:.0f} ms ({frame.shape[1]} columns)")
        t = timed(lambda: api.runs("sweep", filters={"config.lr": {"$gt": 1e-3}}, order="-summary.val/acc"))
        print(f"the same filtered and ordered (without pandas): {t * 1e3:.0f} ms")
        t = timed(lambda: api.sql("select count(*) from runs where state = 'finished'"))
        print(f"tracker.sql over the runs view: {t * 1e3:.0f} ms")

        run = tracker.init(project="long", dir=root, settings={"quiet": True, "disable_stats": True,
                                                               "console": "off", "disable_meta": True})
        steps = args.points
        import numpy as np

        values = np.sin(np.linspace(0, 200, steps)) + np.random.default_rng(0).normal(0, 0.1, steps)
        t0 = time.perf_counter()
        log = run.log
        for v in values.tolist():
            log({"loss": v})
        run.finish()
        print(f"logged a {steps}-point series in {time.perf_counter() - t0:.1f} s")
        read = api.run(run.path)
        for samples in (2000, 500):
            t = timed(lambda s=samples: read.history(keys=["loss"], samples=s))
            n = len(read.history(keys=["loss"], samples=samples))
            print(f"history(samples={samples}) of {steps} points: {t * 1e3:.0f} ms, {n} rows (M4 in DuckDB)")
        t = timed(lambda: read.history(keys=["loss"], samples=2000, min_step=steps // 2, max_step=steps // 2 + steps // 100))
        print(f"the same for a 1% zoom window: {t * 1e3:.0f} ms")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
