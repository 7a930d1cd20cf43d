"""The cost of context capture: the system-metrics sampler's CPU, and its effect on a training loop.

    python bench/bench_context.py                  # 2 s interval, 30 s of sampling
    python bench/bench_context.py --seconds 10     # a quicker look

Prints: the sampler's own CPU time per sample and as % of one core at the chosen interval (target
< 1% at 2 s), and the throughput of a pure-Python loop without a sampler, with one at 2 s, and
with one at 0.1 s (to make any GIL effect visible). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracker.context.system import SystemSampler  # noqa: E402


def sampler_cost(interval: float, seconds: float) -> dict[str, float]:
    rows: list[tuple] = []
    sampler = SystemSampler(rows.append, interval)
    sampler.sample_once()  # set-up (psutil import, NVML init) is not the steady-state cost
    sampler.seconds_spent = 0.0
    t0 = time.perf_counter()
    sampler.start()
    time.sleep(seconds)
    sampler.stop()
    elapsed = time.perf_counter() - t0
    n = max(sampler.samples, 1)
    return {
        "samples": sampler.samples,
        "metrics_per_sample": len(rows[-1][2]) if rows else 0,
        "cpu_ms_per_sample": 1e3 * sampler.seconds_spent / n,
        "core_percent": 100 * sampler.seconds_spent / elapsed,
    }


def loop_rate(seconds: float, interval: float | None) -> float:
    """Iterations per second of a pure-Python loop, with a sampler running at ``interval``."""
    sampler = None
    if interval is not None:
        sampler = SystemSampler(lambda row: None, interval)
        sampler.sample_once()
        sampler.start()
    stop = threading.Event()
    threading.Timer(seconds, stop.set).start()
    n = 0
    x = 0.0
    while not stop.is_set():
        for i in range(1000):
            x += i * 0.5
        n += 1000
    if sampler is not None:
        sampler.stop()
    return n / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--loop-seconds", type=float, default=5.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    cost = sampler_cost(args.interval, args.seconds)
    print(f"sampler at {args.interval:g} s for {args.seconds:g} s: {cost['samples']} samples of "
          f"{cost['metrics_per_sample']} metrics, {cost['cpu_ms_per_sample']:.2f} ms CPU per sample, "
          f"{cost['core_percent']:.3f}% of one core")
    variants = (("no sampler", None), (f"sampler at {args.interval:g} s", args.interval), ("sampler at 0.1 s", 0.1))
    samples: dict[str, list[float]] = {label: [] for label, _ in variants}
    for _ in range(args.repeat):  # interleaved, so drift of the machine hits every variant alike
        for label, interval in variants:
            samples[label].append(loop_rate(args.loop_seconds, interval))
    rates = {label: statistics.median(v) for label, v in samples.items()}
    base = rates["no sampler"]
    for label, rate in rates.items():
        print(f"training loop, {label}: {rate / 1e6:.2f} M iterations/s ({100 * (rate / base - 1):+.2f}%)")


if __name__ == "__main__":
    main()
