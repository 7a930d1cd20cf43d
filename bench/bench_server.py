"""REST endpoint benchmarks: what the Lab sidebar's requests cost through a real Jupyter Server.

    python bench/bench_server.py                        # 10,000 runs; a 10 M-point series
    python bench/bench_server.py --runs 2000 --points 1000000

The runs are written as ``bench/bench_read.py`` writes them (``make_runs``: a config and a summary
of a dozen keys each); the long series is logged through ``tracker.init``/``log`` as training code
does. A Jupyter Server is started in a subprocess on a loopback port with a token, its tracker
extension reading the store (``--TrackerExtension.store_dir``); every figure is the whole round trip
of a ``urllib`` request from this process (HTTP, the query, JSON encoding), the median of 5 after
one warm-up. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_read import log_long_series, make_runs  # noqa: E402

from tracker.store import layout  # noqa: E402


class Server:
    """``jupyter server`` with the tracker extension over ``store``, on a free loopback port."""

    def __init__(self, store: str, workdir: str) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}/"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "WANDB_", "JUPYTER_"))}
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        env["JUPYTER_CONFIG_DIR"] = os.path.join(workdir, "config")
        env["JUPYTER_RUNTIME_DIR"] = os.path.join(workdir, "runtime")
        self.log = open(os.path.join(workdir, "server.log"), "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
             "--ServerApp.port_retries=0", "--allow-root", f"--IdentityProvider.token={self.token}",
             f"--ServerApp.root_dir={workdir}", "--ServerApp.jpserver_extensions=tracker.server=True",
             f"--TrackerExtension.store_dir={store}"],
            cwd=workdir, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                self.get("api/status")
                return
            except (urllib.error.URLError, ConnectionError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    with open(self.log.name, "rb") as fh:
                        tail = fh.read()[-3000:].decode(errors="replace")
                    raise RuntimeError(f"the server did not start:\n{tail}") from None
                time.sleep(0.1)

    def get(self, path: str, **params: object) -> bytes:
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        request = urllib.request.Request(self.base + path + query, headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.read()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def timed(fn, repeat: int = 5) -> tuple[float, int]:
    """Median seconds of ``fn()`` after one warm-up call, and the size of its answer in bytes."""
    size = len(fn())
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), size


def row(what: str, seconds: float, size: int, target: str = "") -> None:
    shown = f"{size:,} B" if size < 10_000 else f"{size / 1e6:.2f} MB" if size > 1e6 else f"{size / 1e3:.1f} KB"
    print(f"  {what:<62} {seconds * 1e3:8.1f} ms {shown:>10}   target {target}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--points", type=int, default=10_000_000)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bench-server-")
    store = os.path.join(work, "store")
    server = None
    try:

        t0 = time.perf_counter()
        make_runs(store, args.runs)
        print(f"wrote {args.runs:,} runs in {time.perf_counter() - t0:.1f} s")
        n = args.points
        t0 = time.perf_counter()
        run = log_long_series(store, n)
        print(f"logged a {n:,}-point series in {time.perf_counter() - t0:.1f} s")
        time.sleep(2.1)  # past the index's "changed too recently to trust a coarse clock" window

        t0 = time.perf_counter()
        server = Server(store, work)
        print(f"started a Jupyter Server in {time.perf_counter() - t0:.1f} s (port {server.port})")
        get = server.get

        print(f"\nThe run list of a project of {args.runs:,} runs")
        t0 = time.perf_counter()
        first = get("tracker/api/projects/sweep/runs")
        row("first request (loads the runs index)", time.perf_counter() - t0, len(first))
        row("projects/sweep/runs (every run, config and summary)",
            *timed(lambda: get("tracker/api/projects/sweep/runs")), "<= 200 ms")
        row("... filter, sort by a summary metric, limit=100",
            *timed(lambda: get("tracker/api/projects/sweep/runs", filter="config.lr < 0.05",
                               sort="-summary.val/acc", limit=100)))
        row("projects (counts and last activity of each project)", *timed(lambda: get("tracker/api/projects")))

        since = time.time()
        row("runs?since=T, nothing changed", *timed(lambda: get("tracker/api/projects/sweep/runs", since=since)),
            "<= 20 ms, < 1 KB")
        paths = layout.RunPaths(store, "sweep", "r0000042")
        layout.write_run_file(paths, paths.status_file, {"state": "finished", "last_step": 1000, "host": "elsewhere"})
        answer = json.loads(get("tracker/api/projects/sweep/runs", since=since))
        assert [r["id"] for r in answer["runs"]] == ["r0000042"], answer
        row("runs?since=T, one run changed", *timed(lambda: get("tracker/api/projects/sweep/runs", since=since)),
            "<= 20 ms")

        print(f"\nHistory of a {n:,}-point series (samples=1000: 250 buckets of x, M4)")
        path = f"tracker/api/runs/{run.path}/history"
        got = json.loads(get(path, keys="loss"))["series"]["loss"]
        assert max(got["y"]) == 50.0 and got["n"] == n  # the spike survives
        row("full extent", *timed(lambda: get(path, keys="loss")), "<= 50 ms + JSON")
        for label, frac in (("10% zoom", 10), ("1% zoom", 100), ("0.1% zoom", 1000), ("0.01% zoom (exact rows)", 10000)):
            lo, hi = n // 2, n // 2 + n // frac
            row(label, *timed(lambda lo=lo, hi=hi: get(path, keys="loss", x_min=lo, x_max=hi)), "<= 50 ms + JSON")
        row("full extent, samples=4000", *timed(lambda: get(path, keys="loss", samples=4000)))
        row("full extent against _runtime", *timed(lambda: get(path, keys="loss", x="_runtime")), "<= 50 ms + JSON")
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
