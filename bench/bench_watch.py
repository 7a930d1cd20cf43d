"""What run.watch costs a training step: a small MLP trained on CPU (about 1 ms a step, so the
hooks' cost shows), without watch, with W&B's defaults (gradients every 1000 passes), with
log="all" every 1000 passes (hooks that mostly only count) and every 10.

    python bench/bench_watch.py [--steps 2000] [--repeat 3]

Prints the median time per step of each variant and its ratio to the unwatched loop (each variant
in a fresh process, so no hook or cache carries over). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one(variant: str, steps: int) -> float:
    """Seconds per step of one variant (run in this process)."""
    import torch

    import tracker

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(128, 64), torch.randint(0, 10, (128,))
    run = tracker.init(project="bench", dir=tempfile.mkdtemp(), settings={"quiet": True})
    if variant != "none":
        log, freq = variant.split(":")
        run.watch(model, log=log, log_freq=int(freq))
    for step in range(steps + 50):
        if step == 50:  # warmed up
            t0 = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.log({"loss": loss.item()})
    seconds = (time.perf_counter() - t0) / steps
    run.finish()
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--variant", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.variant:
        print(json.dumps(one(args.variant, args.steps)))
        return
    results: dict[str, float] = {}
    for variant in ("none", "gradients:1000", "all:1000", "all:10"):
        times = []
        for _ in range(args.repeat):
            out = subprocess.run([sys.executable, __file__, "--variant", variant, "--steps", str(args.steps)],
                                 capture_output=True, text=True, check=True, cwd=ROOT)
            times.append(json.loads(out.stdout.strip().splitlines()[-1]))
        results[variant] = statistics.median(times)
    base = results["none"]
    names = {"none": "no watch", "gradients:1000": "watch(model) (W&B's defaults)",
             "all:1000": 'watch(log="all", log_freq=1000)', "all:10": 'watch(log="all", log_freq=10)'}
    print(f"{'variant':<36} {'ms/step':>8} {'vs no watch':>12}")
    for variant, seconds in results.items():
        print(f"{names[variant]:<36} {seconds * 1e3:8.3f} {seconds / base:11.2f}x")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
