"""Artifact benchmarks: one large file, and many small ones.

    python bench/bench_artifacts.py                       # 1 GB file, 100,000 small files
    python bench/bench_artifacts.py --mb 200 --files 10000   # a quicker look

Prints, for a large file: hashing + copying into the store (MB/s), re-adding the same file (hash
only), and downloading it; for many small files: add_dir, log, listing the committed version,
download, verify. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tracker  # noqa: E402


def timed(label: str, fn, size_mb: float | None = None):
    t0 = time.perf_counter()
    result = fn()
    dt = time.perf_counter() - t0
    rate = f", {size_mb / dt:,.0f} MB/s" if size_mb else ""
    print(f"{label}: {dt:.2f} s{rate}")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=1024)
    ap.add_argument("--files", type=int, default=100_000)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bench-artifacts-")
    try:
        big = os.path.join(work, "weights.bin")
        block = os.urandom(1 << 20)
        with open(big, "wb") as fh:
            for _ in range(args.mb):
                fh.write(block)
        t0 = time.perf_counter()
        with open(big, "rb") as fh:
            while fh.read(8 << 20):
                pass
        print(f"reading the file once (page cache): {args.mb / (time.perf_counter() - t0):,.0f} MB/s; "
              f"hashlib.sha256 alone: ", end="")
        t0 = time.perf_counter()
        hashlib.sha256(block * 64).hexdigest()
        print(f"{64 / (time.perf_counter() - t0):,.0f} MB/s")
        store = os.path.join(work, "store")
        run = tracker.init(project="bench", dir=store, settings={"quiet": True, "disable_stats": True,
                                                                 "console": "off", "disable_meta": True})
        art = tracker.Artifact("weights", "model")
        timed(f"add_file, {args.mb} MB (hash)", lambda: art.add_file(big), args.mb)
        timed("log_artifact (copy into the store)", lambda: run.log_artifact(art), args.mb)
        again = tracker.Artifact("weights", "model")
        timed("re-adding the same file (hash only) and logging it (no new version)",
              lambda: run.log_artifact(again.add_file(big) and again), args.mb)
        logged = tracker.Api(dir=store).artifact("bench/weights:latest")
        timed("download", lambda: logged.download(os.path.join(work, "out")), args.mb)

        small = os.path.join(work, "small")
        for i in range(args.files):
            d = os.path.join(small, f"shard{i // 1000:03d}")
            if i % 1000 == 0:
                os.makedirs(d)
            with open(os.path.join(d, f"item{i:06d}.json"), "w") as fh:
                fh.write(f'{{"id": {i}}}\n')
        many = tracker.Artifact("items", "dataset")
        timed(f"add_dir, {args.files} small files", lambda: many.add_dir(small))
        timed("log_artifact", lambda: run.log_artifact(many))
        read = timed("Api().artifact(...) and listing its files",
                     lambda: tracker.Api(dir=store).artifact("bench/items:latest").files())
        print(f"  {len(read)} entries")
        committed = tracker.Api(dir=store).artifact("bench/items:latest")
        target = os.path.join(work, "items-out")
        timed("download", lambda: committed.download(target))
        timed("verify", lambda: committed.verify(target))
        run.finish()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
