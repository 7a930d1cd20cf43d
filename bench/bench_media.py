"""Media benchmarks: the cost of logging an image in the training loop, and listing many images.

    python bench/bench_media.py                 # 256x256 RGB images; 10,000 of them in one run
    python bench/bench_media.py --images 2000

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import tracker  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="bench-media-")
    try:
        run = tracker.init(project="media", dir=root, settings={"quiet": True, "disable_stats": True, "console": "off"})
        rng = np.random.default_rng(0)
        frames = [rng.integers(0, 256, (args.size, args.size, 3), dtype=np.uint8) for _ in range(16)]
        floats = [f.astype(np.float32) / 255 for f in frames]
        per_call = []
        per_call_float = []
        t0 = time.perf_counter()
        for i in range(args.images):
            a = time.perf_counter()
            run.log({"samples": tracker.Image(frames[i % 16] if i % 2 else floats[i % 16])})
            (per_call if i % 2 else per_call_float).append(time.perf_counter() - a)
        logging = time.perf_counter() - t0
        t1 = time.perf_counter()
        run.finish()
        print(f"log one {args.size}x{args.size} RGB image (uint8): median {statistics.median(per_call) * 1e3:.2f} ms, "
              f"p99 {sorted(per_call)[int(len(per_call) * 0.99)] * 1e3:.2f} ms (encoding is on the media thread)")
        print(f"log one {args.size}x{args.size} RGB image (float 0-1): median {statistics.median(per_call_float) * 1e3:.2f} ms")
        print(f"{args.images} images: logging loop {logging:.1f} s, finish (the rest encoded) {time.perf_counter() - t1:.1f} s")
        read = tracker.Api(dir=root).run(run.path)
        times = []
        for _ in range(5):
            a = time.perf_counter()
            items = read.media(key="samples")
            times.append(time.perf_counter() - a)
        print(f"listing one key's {len(items)} images at all steps: median {statistics.median(times) * 1e3:.0f} ms")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
