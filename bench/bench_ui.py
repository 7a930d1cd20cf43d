"""Notebook panel figures (issue 6's targets), printed; no assertion.

    python bench/bench_ui.py [--runs 10000] [--metrics 20] [--steps 100000]

- display(): a finished run with 20 metrics x 100k steps: the page ready to send with its first tab
  (imports warm), the first row of charts of every section, every chart (drawn from a thread while
  the page shows), and the points per series on the wire;
- log-to-pixel: a loop logging ~10,000 steps/s with a live panel; the delay between logging a step
  and that step being in the chart's data source (what the next comm message carries), and the
  loop's slowdown against the same loop with no panel;
- run table: 10,000 runs into the RunTable (table + parallel coordinates built, ready to send).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402

import tracker  # noqa: E402


def make_run(root: str, metrics: int, steps: int) -> str:
    run = tracker.init(project="ui", dir=root, settings=tracker.Settings(console="off", disable_stats=True))
    keys = [f"{'train' if i % 2 else 'val'}/m{i}" for i in range(metrics)]
    rng = np.random.default_rng(0)
    vals = rng.normal(size=(steps // 100 + 1, metrics))
    for s in range(steps):
        run.log(dict(zip(keys, vals[s // 100] + s * 1e-5, strict=True)))
    run.finish(quiet=True)
    return run.path


def loop(run, seconds: float, rate: float, probe=None):
    """Log at ~rate steps/s for seconds; returns steps/s achieved and probe delays."""
    t0 = time.perf_counter()
    i = 0
    delays = []
    period = 1.0 / rate
    while time.perf_counter() - t0 < seconds:
        run.log({"loss": 1.0 / (i + 1), "acc": i})
        i += 1
        if probe is not None and i % 2000 == 0:
            probe(i - 1, delays)
        target = t0 + i * period
        while time.perf_counter() < target:
            pass
    return i / (time.perf_counter() - t0), delays


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--metrics", type=int, default=20)
    ap.add_argument("--steps", type=int, default=100_000)
    args = ap.parse_args()
    import bokeh.plotting  # noqa: F401 - warm imports: the figure is the panel, not the import
    import ipywidgets  # noqa: F401
    import jupyter_bokeh  # noqa: F401

    from tracker.ui import live
    from tracker.ui.panel import RunPanel
    from tracker.ui.project import RunTable

    root = tempfile.mkdtemp(prefix="bench-ui-")
    path = make_run(root, args.metrics, args.steps)
    run = tracker.Api(root).run(path)
    RunPanel(run).wait_ready()  # warm caches (Bokeh models, file footers)
    ready, first, every, points = [], [], [], 0
    for _ in range(3):
        t = time.perf_counter()
        panel = RunPanel(run)
        ready.append(time.perf_counter() - t)  # the first tab is on screen; charts are being drawn
        panel.wait_ready()
        every.append(time.perf_counter() - t)
        first.append(ready[-1] + (panel.charts.first_row_seconds or 0.0))
        points = max(len(c.sources[path].data["x"]) for c in panel.charts.charts.values())
        panel.close()
    print(f"display() of {args.metrics} metrics x {args.steps} steps (median of 3; before this change the whole "
          f"page took 1,070-1,500 ms):\n"
          f"  page ready to send, first tab on screen: {statistics.median(ready) * 1000:.0f} ms (target <= 300 ms)\n"
          f"  + the first row of charts of every section: {statistics.median(first) * 1000:.0f} ms\n"
          f"  + every chart: {statistics.median(every) * 1000:.0f} ms (drawn from a thread while the page is shown)\n"
          f"  max points per series {points} (target <= 2000)")

    # log-to-pixel and loop slowdown
    base_rate, _ = loop(tracker.init(project="ui", dir=root, settings=tracker.Settings(console="off")), 4, 10_000)
    tracker.finish()
    lrun = tracker.init(project="ui", dir=root, settings=tracker.Settings(console="off"))
    lrun.log({"loss": 1.0, "acc": 0})
    lp = lrun.display(hidden=True)
    lp.wait_ready()
    live.register(lp)
    src = lp.charts.charts["loss"].sources[lrun.path]

    def probe(step, delays):
        t = time.perf_counter()
        import threading

        def wait():
            while time.perf_counter() - t < 5:
                xs = src.data["x"]
                if len(xs) and xs[-1] >= step:
                    delays.append(time.perf_counter() - t)
                    return
                time.sleep(0.01)
        threading.Thread(target=wait, daemon=True).start()

    rate, delays = loop(lrun, 6, 10_000, probe)
    time.sleep(1.5)
    lrun.finish(quiet=True)
    live.unregister(lp)
    print(f"log-to-pixel at ~10k steps/s: median {statistics.median(delays) * 1000:.0f} ms, "
          f"max {max(delays) * 1000:.0f} ms over {len(delays)} probes (target <= 1000 ms); "
          f"loop {rate:.0f} steps/s with the panel vs {base_rate:.0f} without "
          f"({(1 - rate / base_rate) * 100:.1f}% slower, target <= 5%)")

    # run table
    from bench_read import make_runs

    troot = tempfile.mkdtemp(prefix="bench-ui-table-")
    make_runs(troot, args.runs)
    runs = tracker.Api(troot).runs("sweep")
    t = time.perf_counter()
    table = RunTable(runs)
    built = time.perf_counter() - t
    print(f"run table of {len(table.frame)} runs: {built * 1000:.0f} ms (target <= 1000 ms)")


if __name__ == "__main__":
    main()
