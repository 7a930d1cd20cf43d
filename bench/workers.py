"""One measurement in a fresh process: ``python workers.py TOOL TASK STEPS KEYS OUTDIR``.

Prints one JSON object. Tools: tracker, floor (append the dict to a list), and the peers that are
importable in this interpreter: tensorboardX, wandb (offline), mlflow (local file store), trackio,
dvclive, aim. Tasks:

- ``call2`` / ``call20``: per-call cost of logging a dict of 2 / 20 floats (median, p99, in µs),
- ``e2e``: init -> STEPS x KEYS points -> finish (seconds, points/s, peak RSS, bytes on disk),
- ``e2e_warm``: the same in a process that has already imported numpy and pyarrow,
- ``init``: from before init to the first log returning (ms), after the library is imported,
- ``read``: reading the run written by ``e2e`` back into a pandas DataFrame (ms),
- ``rss``: peak RSS after 10% and after 100% of the steps (is memory flat as the run grows?),
- ``stall``: every call of an e2e-like loop timed: the 99.9th percentile and the longest call.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dir_bytes(path: str) -> int:
    total = 0
    for base, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(base, f))
            except OSError:
                pass
    return total


class Tool:
    """One tracker under test. ``load`` imports it (not timed); ``init``..``finish`` are timed."""

    name = "?"

    def __init__(self, out: str) -> None:
        self.out = out

    def load(self) -> None:
        pass

    def init(self) -> None:
        raise NotImplementedError

    def log(self, step: int, data: dict) -> None:
        raise NotImplementedError

    def log_step(self, step: int, data: dict) -> None:
        """Log with the step passed explicitly, as Lightning and most loops call it (tools whose
        API always takes a step do the same as ``log``)."""
        self.log(step, data)

    def finish(self) -> None:
        raise NotImplementedError

    def read(self):  # -> DataFrame
        raise NotImplementedError


class Tracker(Tool):
    name = "tracker"

    def load(self):
        import tracker

        self.tracker = tracker

    def init(self):
        self.run = self.tracker.init(project="bench", dir=self.out, settings={"quiet": True})
        self._log = self.run.log

    def log(self, step, data):
        self._log(data)

    def log_step(self, step, data):
        self._log(data, step=step)

    def finish(self):
        self.run.finish()

    def read(self):
        import tracker

        runs = tracker.Api(dir=self.out).runs("bench")
        return runs[-1].history()


class Floor(Tool):
    name = "floor"

    def init(self):
        self.rows = []
        self._append = self.rows.append

    def log(self, step, data):
        self._append(data)

    def finish(self):
        pass


class TensorboardX(Tool):
    name = "tensorboardX"

    def load(self):
        from tensorboardX import SummaryWriter

        self.cls = SummaryWriter

    def init(self):
        self.w = self.cls(self.out)

    def log(self, step, data):
        add = self.w.add_scalar
        for k, v in data.items():
            add(k, v, step)

    def finish(self):
        self.w.close()


class Wandb(Tool):
    name = "wandb"

    def load(self):
        os.environ["WANDB_SILENT"] = "true"
        import wandb

        self.wandb = wandb

    def init(self):
        self.run = self.wandb.init(project="bench", mode="offline", dir=self.out)

    def log(self, step, data):
        self.run.log(data)

    def log_step(self, step, data):
        self.run.log(data, step=step)

    def finish(self):
        self.run.finish()


class Mlflow(Tool):
    name = "mlflow"

    def load(self):
        import mlflow

        self.mlflow = mlflow

    def init(self):
        # the local store MLflow recommends now that its file store is in maintenance mode
        self.mlflow.set_tracking_uri("sqlite:///" + os.path.join(os.path.abspath(self.out), "mlflow.db"))
        self.active = self.mlflow.start_run()

    def log(self, step, data):
        self.mlflow.log_metrics(data, step=step)

    def finish(self):
        self.mlflow.end_run()


class Trackio(Tool):
    name = "trackio"

    def load(self):
        os.environ["TRACKIO_DIR"] = self.out
        import trackio

        self.trackio = trackio

    def init(self):
        self.run = self.trackio.init(project="bench")

    def log(self, step, data):
        self.trackio.log(data)

    def log_step(self, step, data):
        self.trackio.log(data, step=step)

    def finish(self):
        self.trackio.finish()


class Dvclive(Tool):
    name = "dvclive"

    def load(self):
        from dvclive import Live

        self.cls = Live

    def init(self):
        self.live = self.cls(self.out, save_dvc_exp=False)

    def log(self, step, data):
        for k, v in data.items():
            self.live.log_metric(k, v)
        self.live.next_step()

    def finish(self):
        self.live.end()

    def read(self):
        import pandas as pd

        frames = []
        base = os.path.join(self.out, "plots", "metrics")
        for root, _, files in os.walk(base):
            for f in files:
                frames.append(pd.read_csv(os.path.join(root, f), sep="\t"))
        return pd.concat(frames, axis=1)


class Aim(Tool):
    name = "aim"

    def load(self):
        from aim import Run

        self.cls = Run

    def init(self):
        self.run = self.cls(repo=self.out)

    def log(self, step, data):
        for k, v in data.items():
            self.run.track(v, name=k, step=step)

    def finish(self):
        self.run.close()


TOOLS = {t.name: t for t in (Tracker, Floor, TensorboardX, Wandb, Mlflow, Trackio, Dvclive, Aim)}


def per_call(tool: Tool, nkeys: int, calls: int, mode: str = "fresh") -> dict:
    """``calls`` calls of ``log`` as training code makes them: a fresh dict each call (``fresh``),
    the same with ``step=`` (``fresh_step``), or one dict object logged again and again (``same``:
    the flattering figure this benchmark used to print, kept as a labelled variant). Per call: the
    median and p99 of the call alone; amortised: the whole loop (building each dict, the call, the
    timer around it, ~0.1 µs, the same for every tool) plus ``finish``, divided by ``calls``."""
    tool.init()
    keys = [f"metric_{i}" for i in range(nkeys)]
    pc = time.perf_counter_ns
    log = tool.log_step if mode == "fresh_step" else tool.log
    samples = []
    append = samples.append
    start = time.perf_counter()
    if mode == "same":
        data = {k: 0.5 + i for i, k in enumerate(keys)}
        for step in range(calls):
            t0 = pc()
            log(step, data)
            append(pc() - t0)
    elif nkeys == 2:  # what a loop writes: a literal
        for step in range(calls):
            t0 = pc()
            log(step, {"metric_0": step * 0.001, "metric_1": 1.0 - step * 0.001})
            append(pc() - t0)
    else:
        for step in range(calls):
            t0 = pc()
            log(step, {k: step * 0.001 + j for j, k in enumerate(keys)})
            append(pc() - t0)
    loop_s = time.perf_counter() - start
    t0 = time.perf_counter()
    tool.finish()
    finish_s = time.perf_counter() - t0
    samples.sort()
    return {
        "median_us": samples[len(samples) // 2] / 1e3,
        "p99_us": samples[int(len(samples) * 0.99)] / 1e3,
        "with_finish_us": (loop_s + finish_s) * 1e6 / calls,
    }


def e2e(tool: Tool, steps: int, nkeys: int, rss_checkpoints: bool = False, with_step: bool = False) -> dict:
    keys = [f"train/metric_{i}" for i in range(nkeys)]
    t0 = time.perf_counter()
    tool.init()
    log = tool.log_step if with_step else tool.log
    rss_at_10 = None
    for step in range(steps):
        log(step, {k: step * 0.001 + j for j, k in enumerate(keys)})
        if rss_checkpoints and step == steps // 10:
            rss_at_10 = rss_mb()
    tool.finish()
    seconds = time.perf_counter() - t0
    out = {
        "seconds": seconds,
        "points_per_s": steps * nkeys / seconds,
        "peak_rss_mb": rss_mb(),
        "disk_bytes": dir_bytes(tool.out),
    }
    if rss_checkpoints:
        out["rss_at_10pct_mb"] = rss_at_10
    return out


def stall(tool: Tool, steps: int, nkeys: int) -> dict:
    """The longest waits a fast loop meets: every call of an e2e-like loop timed (what the
    backpressure, the writer's imports and merges cost the caller at the worst moment)."""
    keys = [f"train/metric_{i}" for i in range(nkeys)]
    pc = time.perf_counter_ns
    samples = []
    append = samples.append
    tool.init()
    log = tool.log
    for step in range(steps):
        data = {k: step * 0.001 + j for j, k in enumerate(keys)}
        t0 = pc()
        log(step, data)
        append(pc() - t0)
    tool.finish()
    samples.sort()
    n = len(samples)
    return {"p999_us": samples[int(n * 0.999)] / 1e3, "max_ms": samples[-1] / 1e6,
            "over_10ms": sum(x > 10_000_000 for x in samples)}


def main() -> None:
    name, task, steps, nkeys, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    tool = TOOLS[name](out)
    tool.load()  # the library's import is measured separately (python -c "import ...")
    if task in ("call2", "call20"):
        result = per_call(tool, int(task[4:]), steps)
    elif task in ("call2_step", "call20_step"):
        result = per_call(tool, int(task[4:].split("_")[0]), steps, "fresh_step")
    elif task == "call2_same":
        result = per_call(tool, 2, steps, "same")
    elif task == "e2e":
        result = e2e(tool, steps, nkeys)
    elif task == "e2e_step":
        result = e2e(tool, steps, nkeys, with_step=True)
    elif task == "e2e_warm":
        # as in a notebook or a script that already uses pandas: numpy and pyarrow are loaded
        import numpy  # noqa: F401
        import pyarrow.parquet  # noqa: F401

        result = e2e(tool, steps, nkeys)
    elif task == "stall":
        result = stall(tool, steps, nkeys)
    elif task == "rss":
        result = e2e(tool, steps, nkeys, rss_checkpoints=True)
    elif task == "init":
        t0 = time.perf_counter()
        tool.init()
        tool.log(0, {"a": 1.0})
        result = {"ms": (time.perf_counter() - t0) * 1e3}
        tool.finish()
    elif task == "read":
        import pandas  # noqa: F401  (imported before timing: we time the read, not pandas' import)

        t0 = time.perf_counter()
        tool.read()  # the first read: lazy imports (pyarrow, ...) and a cold file cache
        first_ms = (time.perf_counter() - t0) * 1e3
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            frame = tool.read()
            times.append(time.perf_counter() - t0)
        times.sort()
        result = {"ms": times[len(times) // 2] * 1e3, "first_ms": first_ms, "rows": len(frame)}
    else:
        raise SystemExit(f"unknown task {task}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
