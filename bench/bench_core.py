"""Core benchmarks: tracker beside the floor and the peers, each figure from fresh processes.

    python bench/bench_core.py                      # tracker + floor + peers importable here
    python bench/bench_core.py --peers-python /path/to/venv/bin/python   # peers from another venv
    python bench/bench_core.py --steps 20000 --repeat 1 --tools tracker,floor   # a quick look

Prints a table (medians of --repeat runs) and, with --json, writes the raw figures. Figures are
printed, never asserted: machines are noisy. See docs/benchmarks.md for the latest results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS = ["tensorboardX", "trackio", "wandb", "mlflow", "dvclive", "aim"]
IMPORT_NAME = {"tracker": "tracker", "tensorboardX": "tensorboardX", "trackio": "trackio", "wandb": "wandb",
               "mlflow": "mlflow", "dvclive": "dvclive", "aim": "aim"}
READABLE = {"tracker", "dvclive"}


def python_for(tool: str, args: argparse.Namespace) -> str:
    return sys.executable if tool in ("tracker", "floor") else (args.peers_python or sys.executable)


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    for k in list(e):
        if k.startswith(("TRACKER_", "WANDB_")):
            del e[k]
    e["WANDB_MODE"] = "offline"
    # Installed packages run from cached bytecode; so must this checkout, or every import of
    # tracker would be timed with its compilation.
    e.pop("PYTHONDONTWRITEBYTECODE", None)
    return e


def available(tool: str, args: argparse.Namespace) -> bool:
    if tool == "floor":
        return True
    code = f"import {IMPORT_NAME[tool]}"
    return subprocess.run([python_for(tool, args), "-c", code], env=env(), capture_output=True).returncode == 0


def make_checkout() -> str | None:
    """A small git checkout (one commit, a script, an uncommitted change) that every measurement
    runs in, as training runs do: context capture then records the commit and the diff, for every
    tool that does that. None (and the workers run in their output folder) without git."""
    where = tempfile.mkdtemp(prefix="bench-checkout-")
    script = Path(where) / "train.py"
    script.write_text("".join(f"# line {i}: the training script of this benchmark\n" for i in range(200)))
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "-c", "init.defaultBranch=main"]
    try:
        for cmd in (["init", "-q"], ["add", "train.py"], ["commit", "-qm", "a commit to record"]):
            subprocess.run([*git, *cmd], cwd=where, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        shutil.rmtree(where, ignore_errors=True)
        return None
    with script.open("a") as fh:
        fh.write("# an uncommitted change, recorded as the run's diff\n")
    return where


CHECKOUT: str | None = None


def worker(tool: str, task: str, steps: int, keys: int, args: argparse.Namespace, out: str | None = None) -> dict:
    own = out is None
    out = out or tempfile.mkdtemp(prefix=f"bench-{tool}-")
    try:
        try:
            proc = subprocess.run(
                [python_for(tool, args), str(HERE / "workers.py"), tool, task, str(steps), str(keys), out],
                env=env(), capture_output=True, text=True, timeout=args.timeout, cwd=CHECKOUT or out,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"over {args.timeout:.0f} s"}
        if proc.returncode != 0:
            return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1][:160]}
        return json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        if own:
            shutil.rmtree(out, ignore_errors=True)


def import_ms(tool: str, args: argparse.Namespace, n: int = 7) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([python_for(tool, args), "-c", f"import {IMPORT_NAME[tool]}"], env=env(), check=True)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def med(results: list[dict], key: str) -> float | None:
    vals = [r[key] for r in results if key in r and r[key] is not None]
    return statistics.median(vals) if vals else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--keys", type=int, default=10)
    ap.add_argument("--calls", type=int, default=20_000, help="calls timed per per-call figure")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--peer-repeat", type=int, default=None, help="repeats for peers (default --repeat)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds one measurement may take")
    ap.add_argument("--tools", default=",".join(["tracker", "floor", *PEERS]))
    ap.add_argument("--peers-python", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--merge", action="store_true",
                    help="keep the figures of tools not measured this time from the --json file")
    args = ap.parse_args()

    global CHECKOUT
    CHECKOUT = make_checkout()
    tools = [t for t in args.tools.split(",") if t]
    missing = [t for t in tools if not available(t, args)]
    tools = [t for t in tools if t not in missing]
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"workload: {args.steps} steps x {args.keys} keys; per-call figures over {args.calls} calls; "
          f"medians of {args.repeat} fresh processes")
    print("each measurement runs inside a git checkout (context capture records its commit and diff)"
          if CHECKOUT else "git is missing: measurements run outside a git checkout")
    if missing:
        print(f"not installed here (skipped): {', '.join(missing)}")
    figures: dict[str, dict] = {}
    if args.merge and args.json and Path(args.json).exists():
        kept = json.loads(Path(args.json).read_text()).get("figures", {})
        figures.update({t: f for t, f in kept.items() if t not in tools})
    for tool in tools:
        repeat = args.repeat if tool in ("tracker", "floor") or args.peer_repeat is None else args.peer_repeat
        f: dict = {}
        for task in ("call2", "call2_step", "call20", "call20_step", "call2_same", "init"):
            if tool == "floor" and task == "init":
                continue
            steps = args.calls if task.startswith("call") else 0
            rs = [worker(tool, task, steps, args.keys, args) for _ in range(repeat)]
            errors = [r["error"] for r in rs if "error" in r]
            if errors:
                f[task] = {"error": errors[0]}
                continue
            f[task] = {k: med(rs, k) for k in rs[0]}
        rs = []
        reads = []
        stepped = [worker(tool, "e2e_step", args.steps, args.keys, args) for _ in range(repeat)]
        errors = [r["error"] for r in stepped if "error" in r]
        f["e2e_step"] = {"error": errors[0]} if errors else {k: med(stepped, k) for k in stepped[0]}
        for _ in range(repeat):
            out = tempfile.mkdtemp(prefix=f"bench-{tool}-")
            try:
                rs.append(worker(tool, "e2e", args.steps, args.keys, args, out))
                if tool in READABLE and "error" not in rs[-1]:
                    reads.append(worker(tool, "read", args.steps, args.keys, args, out))
            finally:
                shutil.rmtree(out, ignore_errors=True)
        errors = [r["error"] for r in rs if "error" in r]
        f["e2e"] = {"error": errors[0]} if errors else {k: med(rs, k) for k in rs[0]}
        if reads:
            f["read"] = {k: med(reads, k) for k in reads[0]} if "error" not in reads[0] else reads[0]
        if tool == "tracker":
            stalls = [worker(tool, "stall", args.steps * 3, args.keys, args) for _ in range(repeat)]
            f["stall"] = {k: med(stalls, k) for k in stalls[0]} if "error" not in stalls[0] else stalls[0]
            grown = [worker(tool, "rss", args.steps * 10, args.keys, args) for _ in range(repeat)]
            f["rss_growth"] = {k: med(grown, k) for k in grown[0]} if "error" not in grown[0] else grown[0]
            warm = [worker(tool, "e2e_warm", args.steps, args.keys, args) for _ in range(repeat)]
            f["e2e_warm"] = {k: med(warm, k) for k in warm[0]} if "error" not in warm[0] else warm[0]
        if tool != "floor":
            f["import_ms"] = import_ms(tool, args)
        figures[tool] = f
        print(f"  measured {tool} ({repeat}x)", flush=True)
        if args.json:  # kept as it goes: a long run that is stopped keeps what it measured
            Path(args.json).write_text(json.dumps({"args": vars(args), "figures": figures}, indent=2))
    baseline = statistics.median(
        [(lambda t0: (subprocess.run([sys.executable, "-c", "pass"]), time.perf_counter() - t0)[1])(time.perf_counter())
         for _ in range(7)]
    ) * 1e3

    def value(tool: str, task: str, key: str) -> float | None:
        v = figures[tool].get(task, {})
        x = v.get(key) if isinstance(v, dict) and "error" not in v else None
        return None if x is None else (x / 1e6 if key == "disk_bytes" else x)  # MB, kept in bytes

    def cell(tool: str, task: str, key: str, fmt: str) -> str:
        v = figures[tool].get(task, {})
        if not isinstance(v, dict):
            return fmt.format(v)
        if "error" in v:
            return "error"
        x = value(tool, task, key)
        if x is None:
            return "n/a"
        text = fmt.format(x)
        ours = value("tracker", task, key) if "tracker" in figures and tool != "tracker" else None
        if ours and x and tool != "floor":  # how many times tracker is ahead (below 1: behind)
            ratio = (ours / x) if key == "points_per_s" else (x / ours)
            text += f" ({ratio:.1f}x)"
        return text

    rows = [
        ("log, 2 keys, fresh dict: median µs", "call2", "median_us", "{:.2f}"),
        ("log, 2 keys, fresh dict: p99 µs", "call2", "p99_us", "{:.2f}"),
        ("log, 2 keys, fresh dict: µs/call incl. finish", "call2", "with_finish_us", "{:.2f}"),
        ("log, 2 keys, fresh dict, step=: median µs", "call2_step", "median_us", "{:.2f}"),
        ("log, 2 keys, fresh dict, step=: µs/call incl. finish", "call2_step", "with_finish_us", "{:.2f}"),
        ("log, 2 keys, same dict each call: µs/call incl. finish", "call2_same", "with_finish_us", "{:.2f}"),
        ("log, 20 keys, fresh dict: median µs", "call20", "median_us", "{:.2f}"),
        ("log, 20 keys, fresh dict: p99 µs", "call20", "p99_us", "{:.2f}"),
        ("log, 20 keys, fresh dict: µs/call incl. finish", "call20", "with_finish_us", "{:.2f}"),
        ("log, 20 keys, fresh dict, step=: µs/call incl. finish", "call20_step", "with_finish_us", "{:.2f}"),
        (f"e2e {args.steps}x{args.keys}: points/s", "e2e", "points_per_s", "{:,.0f}"),
        (f"e2e {args.steps}x{args.keys}, step=: points/s", "e2e_step", "points_per_s", "{:,.0f}"),
        ("e2e: seconds", "e2e", "seconds", "{:.3f}"),
        ("e2e, numpy+pyarrow already loaded: points/s", "e2e_warm", "points_per_s", "{:,.0f}"),
        ("e2e: peak RSS MB", "e2e", "peak_rss_mb", "{:.0f}"),
        ("e2e: disk MB", "e2e", "disk_bytes", "{:.1f}"),
        ("read into pandas: ms (warm median)", "read", "ms", "{:.1f}"),
        ("read into pandas: ms (first read)", "read", "first_ms", "{:.1f}"),
        ("init to first log returned: ms", "init", "ms", "{:.2f}"),
    ]
    width = max(len(r[0]) for r in rows) + 2
    print()
    print("(x: how many times tracker is ahead of that peer on the figure; below 1, behind)")
    print("figure".ljust(width) + "".join(t.rjust(20) for t in figures))
    for label, task, key, fmt in rows:
        print(label.ljust(width) + "".join(cell(t, task, key, fmt).rjust(20) for t in figures))
    print("import (python -c, ms)".ljust(width) + "".join(
        (f"{figures[t]['import_ms']:.0f}" if "import_ms" in figures[t] else "-").rjust(20) for t in figures))
    print(f"(python -c pass: {baseline:.0f} ms on this machine)")
    if "tracker" in figures:
        g = figures["tracker"]["rss_growth"]
        if "error" not in g:
            short = value("tracker", "e2e", "peak_rss_mb")
            print(f"tracker RSS as the run grows ({args.steps * 10} steps x {args.keys} keys): "
                  f"{g['rss_at_10pct_mb']:.0f} MB at 10%, {g['peak_rss_mb']:.0f} MB at 100% "
                  f"({g['points_per_s']:,.0f} points/s, {g['disk_bytes'] / 1e6:.1f} MB on disk)"
                  + (f"; its peak is {g['peak_rss_mb'] / short:.2f}x the {args.steps}-step run's" if short else ""))
        st = figures["tracker"].get("stall", {})
        if st and "error" not in st:
            print(f"tracker's longest log calls ({args.steps * 3} steps x {args.keys} keys, every call timed): "
                  f"99.9th percentile {st['p999_us']:.0f} µs, longest {st['max_ms']:.0f} ms, "
                  f"{st['over_10ms']:.0f} calls over 10 ms")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "figures": figures, "python_pass_ms": baseline}, indent=2))
    if CHECKOUT:
        shutil.rmtree(CHECKOUT, ignore_errors=True)


if __name__ == "__main__":
    main()
