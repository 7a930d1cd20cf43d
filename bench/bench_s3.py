"""Object-store benchmarks: a store whose root is s3://, on a moto S3 server on loopback.

    python bench/bench_s3.py                    # 200,000 log calls, 10,000 runs listed
    python bench/bench_s3.py --calls 50000 --runs 2000   # a quicker look

Prints, side by side for a local folder and an s3:// root:

1. the training loop's cost per ``run.log`` call (a fresh dict each call, 4 metrics; with and
   without ``step=``), and what ``finish`` then takes (the last upload included);
2. a live run's panel refresh over s3://: requests and bytes each refresh fetches, against the
   bytes the run's segments hold (what a refresh would cost if it read everything again);
3. listing a project of ``--runs`` runs from the bucket: cold (an empty mirror), warm in a new
   process (the mirror of an earlier one), and warm in the same process after new runs appeared.

moto is a Python server: its requests are slower than S3's or MinIO's, so the s3:// figures are
upper bounds. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def server() -> tuple[object, str]:
    from moto.server import ThreadedMotoServer

    s = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    s.start()
    host, port = s.get_host_and_port()
    return s, f"http://{host}:{port}"


def log_loop(root: str, calls: int, step: bool) -> tuple[float, float]:
    import tracker

    run = tracker.init(dir=root, project="bench", reinit="create_new", settings={"quiet": True})
    t0 = time.perf_counter()
    for i in range(calls):
        if step:
            run.log({"loss": 1.0 / (i + 1), "acc": i / calls, "lr": 0.001, "epoch": i // 1000}, step=i)
        else:
            run.log({"loss": 1.0 / (i + 1), "acc": i / calls, "lr": 0.001, "epoch": i // 1000})
    loop = time.perf_counter() - t0
    t1 = time.perf_counter()
    run.finish()
    return loop / calls * 1e6, time.perf_counter() - t1


def live_refresh(uri: str) -> None:
    import tracker
    from tracker.store import mirror

    run = tracker.init(dir=uri, project="live", settings={"quiet": True, "flush_interval": 0.1})
    api = tracker.Api(uri)
    remote = api.query.remote
    rows = 0
    print("refresh  rows    GETs  LISTs  bytes fetched  bytes of the run's segments")
    for refresh in range(6):
        for _ in range(2000):
            run.log({"loss": 1.0 / (rows + 1), "acc": rows / 1e4})
            rows += 1
        run.flush()
        run.uploader.pass_once()  # what the uploader thread does on its own within a second
        time.sleep(mirror.MIN_INTERVAL)
        before = dict(remote.bucket.requests)
        bytes_before = remote.bucket.bytes_in
        got = len(api.run(f"live/{run.id}").history(keys=["loss"]))
        seg_dir = os.path.join(api.root, "live", run.id, "scalars")
        total = sum(os.path.getsize(os.path.join(seg_dir, n)) for n in os.listdir(seg_dir) if n.endswith(".parquet"))
        print(f"{refresh:7d}  {got:6d}  {remote.bucket.requests['get'] - before['get']:4d}  "
              f"{remote.bucket.requests['list'] - before['list']:5d}  {remote.bucket.bytes_in - bytes_before:13,d}  {total:,d}")
    run.finish()


def make_runs(uri: str, n: int) -> None:
    """``n`` finished runs written straight into the bucket (side files and markers, as the uploader
    writes them; no history), 16 at a time."""
    from tracker.store import layout
    from tracker.store.bucket import Bucket

    b = Bucket(uri)
    now = time.time()

    def one(i: int) -> None:
        rid = f"r{i:06d}"
        b.put(f"many/{rid}/run.json", layout.dumps({"id": rid, "project": "many", "name": f"run-{i}",
                                                    "created_at": now - n + i, "config": {"lr": 0.1 * (i % 7)},
                                                    "tags": [], "schema_version": layout.SCHEMA_VERSION}).encode())
        b.put(f"many/{rid}/status.json", layout.dumps({"state": "finished", "heartbeat_at": now,
                                                       "last_step": 99, "exit_code": 0}).encode())
        b.put(f"many/{rid}/summary.json", layout.dumps({"loss": 1.0 / (i + 1)}).encode())
        # a team's bucket fills over weeks: one run a minute, the newest now
        b.put(f"many/{layout.CHANGES_DIR}/{time.time_ns() - (n - i) * 60 * 10**9:020d}.{rid}", b"")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(n)))


LIST_CHILD = """
import sys, time
sys.path.insert(0, {repo!r})
t0 = time.perf_counter()
import tracker
import pyarrow, pandas  # what a run table loads anyway: timed apart
api = tracker.Api({uri!r})
t1 = time.perf_counter()
n = len(api.runs("many"))
print(f"{{n}} {{time.perf_counter() - t1:.3f}} {{t1 - t0:.3f}} {{api.query.remote.bucket.requests}}")
"""


def listing(uri: str, n: int, env: dict[str, str]) -> None:
    t0 = time.perf_counter()
    make_runs(uri, n)
    print(f"{n:,} runs put into the bucket in {time.perf_counter() - t0:.1f} s")
    child = LIST_CHILD.format(repo=str(Path(__file__).resolve().parents[1]), uri=uri)
    for label in ("cold (empty mirror, new process)", "warm (the mirror of an earlier process, new process)"):
        out = subprocess.run([sys.executable, "-c", child], env=env, capture_output=True, text=True, check=True).stdout
        count, secs, imports, reqs = out.split(" ", 3)
        print(f"list {count} runs, {label}: {float(secs):.3f} s (imports before it: {float(imports):.2f} s); "
              f"requests {reqs.strip()}")
    import tracker
    from tracker.store import mirror

    api = tracker.Api(uri)
    api.runs("many")
    make_runs_extra = 10
    from tracker.store import layout
    from tracker.store.bucket import Bucket

    b = Bucket(uri)
    for i in range(make_runs_extra):
        rid = f"x{i:03d}"
        b.put(f"many/{rid}/run.json", layout.dumps({"id": rid, "project": "many", "name": rid, "created_at": time.time(),
                                                    "config": {}, "schema_version": layout.SCHEMA_VERSION}).encode())
        b.put(f"many/{layout.CHANGES_DIR}/{time.time_ns():020d}.{rid}", b"")
    time.sleep(mirror.MIN_INTERVAL)
    before = dict(api.query.remote.bucket.requests)
    t0 = time.perf_counter()
    count = len(api.runs("many"))
    dt = time.perf_counter() - t0
    after = api.query.remote.bucket.requests
    print(f"list {count} runs, warm, same process, {make_runs_extra} new runs: {dt:.3f} s; requests "
          f"{ {k: after[k] - before.get(k, 0) for k in after} }")


def loop_part(uri: str, tmp: str, calls: int) -> None:
    print(f"== 1. the training loop: {calls:,} log calls, a fresh dict of 4 metrics each")
    print("root     step=   us/call  finish s")
    for step in (False, True):
        for label, root in (("local", f"{tmp}/local"), ("s3://", uri)):
            us, fin = log_loop(root, calls, step)
            print(f"{label:7s}  {'yes' if step else 'no ':5s}  {us:7.2f}  {fin:8.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--parts", default="123", help="which parts to run (default all: 123)")
    args = ap.parse_args()
    srv, endpoint = server()
    tmp = tempfile.mkdtemp(prefix="bench-s3-")
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "AWS_DEFAULT_REGION": "us-east-1", "TRACKER_SPOOL": f"{tmp}/spool", "TRACKER_CACHE": f"{tmp}/cache"}
    os.environ.update(env)
    import boto3

    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
    uri = "s3://bench/store"
    try:
        if "1" in args.parts:
            loop_part(uri, tmp, args.calls)
        if "2" in args.parts:
            print("\n== 2. a live run's refresh over s3:// (2,000 new rows between refreshes)")
            live_refresh(uri)
        if "3" in args.parts:
            print(f"\n== 3. listing {args.runs:,} runs from the bucket")
            listing(uri, args.runs, {**os.environ, **env})
    finally:
        srv.stop()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
