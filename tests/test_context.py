"""Run context: system metrics (psutil, a fake NVML, OpenMetrics), host and program facts, git,
packages, saved code, console capture."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import textwrap
import threading
import time
import types
from pathlib import Path

import pytest

import tracker
from tests.conftest import PYTHON, python_env, wait_until
from tracker.context import console as console_mod
from tracker.context.openmetrics import parse, series_key
from tracker.context.system import SystemSampler

PROCESS_KEYS = {
    "cpu", "proc.cpu.threads", "proc.memory.rssMB", "proc.memory.percent", "memory_percent",
    "proc.memory.availableMB", "disk./.usagePercent", "disk./.usageGB", "disk.in", "disk.out",
    "network.sent", "network.recv",
}
GPU_FIELDS = {
    "gpu", "memory", "memoryAllocated", "memoryAllocatedBytes", "temp", "powerWatts", "powerPercent",
    "smClock", "memoryClock", "graphicsClock", "correctedMemoryErrors", "unCorrectedMemoryErrors",
    "encoderUtilization",
}


class NVMLError(Exception):
    pass


def fake_nvml(pids_on_gpu1=(), fail=()):
    """A stand-in for pynvml with two GPUs and known values; queries named in ``fail`` raise."""
    nv = types.SimpleNamespace()
    nv.NVML_TEMPERATURE_GPU = 0
    nv.NVML_CLOCK_GRAPHICS, nv.NVML_CLOCK_SM, nv.NVML_CLOCK_MEM = 0, 1, 2
    nv.NVML_MEMORY_ERROR_TYPE_CORRECTED, nv.NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 0, 1
    nv.NVML_VOLATILE_ECC = 0
    nv.calls = {"init": 0, "shutdown": 0}

    def maybe_fail(name):
        if name in fail:
            raise NVMLError(f"{name}: Not Supported")

    def init():
        nv.calls["init"] += 1

    def shutdown():
        nv.calls["shutdown"] += 1

    nv.nvmlInit = init
    nv.nvmlShutdown = shutdown
    nv.nvmlDeviceGetCount = lambda: 2
    nv.nvmlDeviceGetHandleByIndex = lambda i: i
    nv.nvmlDeviceGetName = lambda h: b"NVIDIA Fake 80GB"
    nv.nvmlSystemGetDriverVersion = lambda: "555.42"
    nv.nvmlSystemGetCudaDriverVersion = lambda: 12040

    def util(h):
        maybe_fail("util")
        return types.SimpleNamespace(gpu=50 + h, memory=20 + h)

    def mem(h):
        return types.SimpleNamespace(total=80 * 2**30, used=(10 + h) * 2**30, free=0)

    def temp(h, sensor):
        maybe_fail("temp")
        return 60 + h

    def power(h):
        return 300_000 + 1000 * h

    def limit(h):
        return 600_000

    def clock(h, kind):
        maybe_fail("clock")
        return {0: 1700, 1: 1800, 2: 2600}[kind] + h

    def ecc(h, kind, counter):
        maybe_fail("ecc")
        return kind * 3 + h

    def encoder(h):
        maybe_fail("encoder")
        return (5 + h, 1000)

    def procs(h):
        pids = pids_on_gpu1 if h == 1 else ()
        return [types.SimpleNamespace(pid=p, usedGpuMemory=1) for p in pids]

    nv.nvmlDeviceGetUtilizationRates = util
    nv.nvmlDeviceGetMemoryInfo = mem
    nv.nvmlDeviceGetTemperature = temp
    nv.nvmlDeviceGetPowerUsage = power
    nv.nvmlDeviceGetEnforcedPowerLimit = limit
    nv.nvmlDeviceGetClockInfo = clock
    nv.nvmlDeviceGetTotalEccErrors = ecc
    nv.nvmlDeviceGetEncoderUtilization = encoder
    nv.nvmlDeviceGetComputeRunningProcesses = procs
    return nv


class NoNvml:
    def nvmlInit(self):
        raise NVMLError("NVML Shared Library Not Found")


def test_process_metrics_have_the_seeds_names():
    values = SystemSampler(lambda row: None, 1.0, nvml=NoNvml()).sample_once()
    assert PROCESS_KEYS <= set(values)
    assert 0 <= values["memory_percent"] <= 100 and values["proc.memory.rssMB"] > 1
    assert not any(k.startswith("gpu") for k in values)  # no NVML: skipped, no error


def test_gpu_metrics_from_a_fake_nvml():
    nv = fake_nvml(pids_on_gpu1=[os.getpid()])
    sampler = SystemSampler(lambda row: None, 1.0, nvml=nv)
    values = sampler.sample_once()
    for i in (0, 1):
        assert {f"gpu.{i}.{f}" for f in GPU_FIELDS} <= set(values)
    assert values["gpu.1.gpu"] == 51 and values["gpu.0.memory"] == 20
    assert values["gpu.0.memoryAllocated"] == pytest.approx(12.5)
    assert values["gpu.1.memoryAllocatedBytes"] == 11 * 2**30
    assert values["gpu.0.powerWatts"] == 300 and values["gpu.0.powerPercent"] == 50
    assert values["gpu.1.smClock"] == 1801 and values["gpu.0.memoryClock"] == 2600 and values["gpu.0.graphicsClock"] == 1700
    assert values["gpu.1.unCorrectedMemoryErrors"] == 4 and values["gpu.0.encoderUtilization"] == 5
    # this process runs on GPU 1 only
    assert {f"gpu.process.1.{f}" for f in GPU_FIELDS} <= set(values)
    assert not any(k.startswith("gpu.process.0.") for k in values)


def test_an_unsupported_gpu_query_skips_only_that_metric():
    nv = fake_nvml(fail={"temp", "encoder"})
    values = SystemSampler(lambda row: None, 1.0, nvml=nv).sample_once()
    assert "gpu.0.temp" not in values and "gpu.0.encoderUtilization" not in values
    assert values["gpu.0.gpu"] == 50 and values["gpu.1.smClock"] == 1801


def test_a_disk_path_that_does_not_exist_is_skipped(tmp_path):
    gone = str(tmp_path / "gone")
    values = SystemSampler(lambda row: None, 1.0, disk_paths=["/", gone], nvml=NoNvml()).sample_once()
    assert "disk./.usagePercent" in values and f"disk.{gone}.usagePercent" not in values


def test_openmetrics_text_format():
    text = textwrap.dedent("""
        # HELP dcgm_gpu_temp GPU temperature
        # TYPE dcgm_gpu_temp gauge
        dcgm_gpu_temp{gpu="0",UUID="GPU-1"} 61
        dcgm_power_usage{gpu="0"} 251.5 1700000000000
        up 1
        bad line here
    """)
    got = parse(text)
    assert got == [
        ("dcgm_gpu_temp", {"gpu": "0", "UUID": "GPU-1"}, 61.0),
        ("dcgm_power_usage", {"gpu": "0"}, 251.5),
        ("up", {}, 1.0),
    ]
    assert series_key("node", "up", {}) == "openmetrics.node.up"
    assert series_key("dcgm", "t", {"b": "2", "a": "1"}) == 'openmetrics.dcgm.t{a="1",b="2"}'


@pytest.fixture
def metrics_server():
    body = b'# TYPE requests_total counter\nrequests_total{code="200"} 42\nqueue_depth 3\n'

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    server.shutdown()


def test_openmetrics_endpoint_is_scraped_with_filters(metrics_server):
    sampler = SystemSampler(lambda row: None, 1.0, nvml=NoNvml(),
                            openmetrics={"app": metrics_server}, openmetrics_filters=["^requests"])
    values = sampler.sample_once()
    assert values['openmetrics.app.requests_total{code="200"}'] == 42
    assert "openmetrics.app.queue_depth" not in values
    dead = SystemSampler(lambda row: None, 1.0, nvml=NoNvml(), openmetrics={"dead": "http://127.0.0.1:9/metrics"})
    assert "cpu" in dead.sample_once()  # an endpoint that does not answer costs only its metrics


def test_system_metrics_land_in_the_system_stream_and_stop_at_finish(make_run, store):
    run = make_run(settings={"stats_sampling_interval": 0.05})

    def samples_in_store() -> int:
        run.flush()
        return len(tracker.Api(dir=store).run(run.path).history(stream="system"))

    wait_until(lambda: samples_in_store() >= 3, message="3 system samples written while the run is live")
    run.log({"a": 1.0})
    samplers = [t for t in threading.enumerate() if t.name == "tracker-system-metrics"]
    assert samplers  # this run's sampler thread
    run.finish()
    assert not any(t.is_alive() for t in samplers)
    read = tracker.Api(dir=store).run(run.path)
    frame = read.history(stream="system")
    assert len(frame) >= 3 and PROCESS_KEYS <= set(frame.columns)
    assert frame["_step"].tolist() == list(range(len(frame)))
    counts = tracker.Api(dir=store).sql("select count(distinct key) as n from system")
    assert counts["n"].iloc[0] >= len(PROCESS_KEYS)


@pytest.mark.parametrize(
    ("setting", "value", "gone"),
    [
        ("disable_stats", True, {"system"}),
        ("disable_meta", True, {"host facts", "requirements.txt"}),
        ("disable_git", True, {"git"}),
        ("save_requirements", False, {"requirements.txt"}),
        ("console", "off", {"console"}),
    ],
)
def test_each_capture_can_be_switched_off(make_run, store, tmp_path, setting, value, gone):
    git(tmp_path, "init", "-q")
    (tmp_path / "f.txt").write_text("x")
    git(tmp_path, "add", "f.txt")
    git(tmp_path, "commit", "-q", "-m", "one")
    (tmp_path / "f.txt").write_text("changed")
    run = make_run(settings={setting: value, "stats_sampling_interval": 0.05})
    print("some output")  # captured as it is written (console "wrap")
    run.log({"a": 1.0})  # however short the run, it gets a system sample
    run.finish()
    read = tracker.Api(dir=store).run(run.path)
    present = {
        "system": len(read.history(stream="system")) > 0,
        "host facts": {"os", "cpu", "memory", "gpu"} <= set(read.metadata),
        "git": "git" in read.metadata and any(f["name"] == "diff.patch" for f in read.files()),
        "requirements.txt": any(f["name"] == "requirements.txt" for f in read.files()),
        "console": "some output" in [r["text"] for r in read.logs()],
    }
    assert not any(present[k] for k in gone), present
    assert all(v for k, v in present.items() if k not in gone), present


def test_process_tree_includes_children(make_run):
    child = subprocess.Popen(
        [PYTHON, "-c", "import time; x = bytearray(50_000_000); print('ready', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout.readline().strip() == "ready"  # its 50 MB are allocated
        alone = SystemSampler(lambda row: None, 1.0, nvml=NoNvml()).sample_once()
        tree = SystemSampler(lambda row: None, 1.0, nvml=NoNvml(), track_tree=True).sample_once()
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    assert tree["proc.memory.rssMB"] > alone["proc.memory.rssMB"] + 40  # the child's 50 MB
    assert tree["proc.cpu.threads"] > alone["proc.cpu.threads"]


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})


def run_script(tmp_path, body, store, **env):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(body))
    out = subprocess.run([PYTHON, str(script), "--lr", "0.1"], cwd=tmp_path, capture_output=True, text=True,
                         env=python_env(TRACKER_DIR=str(store), **env))
    assert out.returncode == 0, out.stderr
    return tracker.Api(dir=store).run(out.stdout.strip().splitlines()[-1]), out


SCRIPT = """
import sys, tracker
run = tracker.init(project="ctx", settings={"quiet": True, "save_code": True, "max_diff_bytes": 5000})
print("hello from the script")
print("a" * 20000)
for i in range(5):
    print(f"progress {i * 25}%", end="\\r", flush=True)
print()
print("warning!", file=sys.stderr)
run.log({"x": 1})
print(run.path)
run.finish()
"""


def test_execution_facts_git_diff_requirements_code_and_console(tmp_path, store):
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "model.py").write_text("depth = 4\n")
    git(tmp_path, "add", "model.py")
    git(tmp_path, "commit", "-q", "-m", "first")
    git(tmp_path, "remote", "add", "origin", "https://example.invalid/repo.git")
    (tmp_path / "model.py").write_text("depth = 8\n" + "# padding\n" * 2000)  # uncommitted, > 5000 bytes
    run, _ = run_script(tmp_path, SCRIPT, store)
    meta = run.metadata
    assert meta["git"]["root"] == str(tmp_path.resolve()) and meta["git"]["branch"] == "main"
    assert meta["git"]["dirty"] is True and len(meta["git"]["commit"]) == 40
    assert meta["git"]["remote_url"] == "https://example.invalid/repo.git"
    assert meta["git"]["diff_truncated"] is True and any("git diff" in s for s in meta["skipped"])
    names = {f["name"] for f in run.files()}
    assert {"diff.patch", "requirements.txt", "code/train.py"} <= names
    diff = Path(run.file("diff.patch")).read_text()
    assert "+depth = 8" in diff and "diff truncated" in diff
    requirements = Path(run.file("requirements.txt")).read_text().splitlines()
    assert any(r.lower().startswith("pyarrow==") for r in requirements)
    assert meta["program"].endswith("train.py") and meta["args"] == ["--lr", "0.1"]
    assert meta["command"].endswith("train.py --lr 0.1") and meta["cwd"] == str(tmp_path)
    assert meta["host"] and meta["os"]["system"] and meta["cpu"]["count_logical"] >= 1
    assert meta["memory"]["total_bytes"] > 0 and meta["gpu"] == {"count": 0}
    assert meta["tracker_version"] == tracker.__version__ and meta["executable"] and meta["python"]
    with pytest.raises(tracker.UsageError):
        run.file("../run.json")
    lines = run.logs()
    texts = [r["text"] for r in lines]
    assert "hello from the script" in texts and "progress 100%" in texts and "progress 0%" not in texts
    assert {r["stream"] for r in lines} == {"stdout", "stderr"}
    assert any(t.startswith("a" * 100) and "line cut" in t for t in texts)
    assert "warning!" in run.logs_text()
    assert run.logs(n=2)[-1]["text"] == lines[-1]["text"]


def test_no_git_and_detached_head(tmp_path, store):
    run, _ = run_script(tmp_path, SCRIPT, store)
    assert "git" not in run.metadata
    git(tmp_path, "init", "-q")
    (tmp_path / "f.txt").write_text("x")
    git(tmp_path, "add", "f.txt")
    git(tmp_path, "commit", "-q", "-m", "one")
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    git(tmp_path, "checkout", "-q", sha)
    run, _ = run_script(tmp_path, SCRIPT, store)
    assert run.metadata["git"]["detached"] is True and run.metadata["git"]["branch"] is None


def test_redirect_mode_captures_child_processes(tmp_path, store):
    body = """
    import os, subprocess, sys, tracker
    run = tracker.init(project="ctx", settings={"quiet": True, "console": "redirect"})
    subprocess.run([sys.executable, "-c", "print('from a child process')"], check=True)
    os.write(1, b"straight to fd 1\\n")
    print(run.path, flush=True)
    run.finish()
    """
    run, out = run_script(tmp_path, body, store)
    texts = [r["text"] for r in run.logs()]
    assert "from a child process" in texts and "straight to fd 1" in texts
    assert "from a child process" in out.stdout  # still shown


def test_line_assembly_and_carriage_returns():
    got = []
    sink = console_mod.LineSink(lambda stream, line: got.append((stream, line)))
    sink.feed("stdout", "par")
    sink.feed("stdout", "tial\nnext ")
    for pct in range(0, 101, 10):
        sink.feed("stderr", f"\r{pct}%")
    sink.feed("stderr", "\n")
    sink.feed("stdout", "line\n")
    sink.close()
    assert got == [("stdout", "partial"), ("stderr", "100%"), ("stdout", "next line")]


def test_wrap_mode_in_process_restores_the_streams(make_run, store, capsys):
    original = sys.stdout
    run = make_run(settings={"console": "wrap"})
    assert sys.stdout is not original
    print("captured line")
    run.finish()
    assert sys.stdout is original
    assert "captured line" in [r["text"] for r in tracker.Api(dir=store).run(run.path).logs()]


def test_trackers_own_lines_are_not_the_runs_output(store, capsys):
    """The "started run" line (and the closing one) are shown, not stored as the program's output."""
    run = tracker.init(project="ctx", dir=store, settings={"quiet": False, "strict": True, "console": "wrap"})
    print("the program's line")
    run.finish()
    assert "tracker: started run" in capsys.readouterr().err
    texts = [r["text"] for r in tracker.Api(dir=store).run(run.path).logs()]
    assert texts == ["the program's line"]


def test_host_gpu_facts_from_a_fake_nvml():
    from tracker.context.host import host_info

    problems = []
    info = host_info(fake_nvml(), problems)
    assert info["gpu"]["count"] == 2 and info["gpu"]["type"] == "NVIDIA Fake 80GB"
    assert info["gpu"]["driver_version"] == "555.42" and info["gpu"]["cuda_driver_version"] == "12.4"
    assert info["gpu"]["devices"][1]["memory_total_bytes"] == 80 * 2**30 and problems == []
    assert host_info(NoNvml(), problems)["gpu"] == {"count": 0} and "NVML Shared Library" in problems[0]


def test_configuration_groups_objects_properties_and_environment(make_run, store, tmp_path, monkeypatch):
    import argparse
    import dataclasses

    monkeypatch.setenv("DATA_ROOT", "/data")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    monkeypatch.setenv("SECRET_TOKEN", "do-not-record")

    @dataclasses.dataclass
    class Model:
        depth: int = 4
        width: int = 64

    class Optim:
        def __init__(self):
            self.momentum = 0.9
            self._private = 1

        def step(self):
            pass

    args = argparse.Namespace(lr=0.1, epochs=3)
    run = make_run(config=args, settings={"env_vars": ["DATA_ROOT", "CUDA_*"]})
    run.config.update({"seed": 0})
    run.connect(Model(), name="Model")
    assert run.connect(Optim(), name="Optimizer").momentum == 0.9
    yaml_file = tmp_path / "augment.yaml"
    yaml_file.write_text("flip: true\ncrop: 224\n")
    assert run.connect_configuration(yaml_file, name="augment") == "flip: true\ncrop: 224\n"
    run.connect_configuration({"layers": [64, 64]}, name="net", description="the network")
    run.set_user_properties(owner="ana", note="first try")
    run.finish()
    read = tracker.Api(dir=store).run(run.path)
    groups = read.config_groups
    assert groups["Args"] == {"lr": 0.1, "epochs": 3}
    assert groups["Model"] == {"depth": 4, "width": 64} and groups["Optimizer"] == {"momentum": 0.9}
    assert groups["General"] == {"seed": 0}
    assert groups["Environment"] == {"CUDA_VISIBLE_DEVICES": "0,1", "DATA_ROOT": "/data"}
    assert read.config == {"lr": 0.1, "epochs": 3, "seed": 0, "depth": 4, "width": 64, "momentum": 0.9}
    assert read.config_objects == {"augment": "flip: true\ncrop: 224\n", "net": {"layers": [64, 64]}}
    assert read.user_properties == {"owner": "ana", "note": "first try"}
    read.set(user_properties={"note": None, "verdict": "keep"})
    assert tracker.Api(dir=store).run(run.path).user_properties == {"owner": "ana", "verdict": "keep"}


def test_argparse_update_goes_to_the_args_group(make_run, store):
    import argparse

    run = make_run(config={"a": 1})
    run.config.update(argparse.Namespace(batch=32))
    run.finish()
    assert tracker.Api(dir=store).run(run.path).config_groups == {"Args": {"batch": 32}, "General": {"a": 1}}


def test_a_repository_with_thousands_of_files(tmp_path, store):
    for i in range(3000):
        (tmp_path / f"data_{i}.txt").write_text(f"{i}\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "many files")
    (tmp_path / "data_7.txt").write_text("changed\n")
    t0 = time.perf_counter()
    run, _ = run_script(tmp_path, SCRIPT, store)
    assert time.perf_counter() - t0 < 60  # not a speed check (bench/ has those): git capture must not hang
    assert run.metadata["git"]["dirty"] is True
    assert "+changed" in Path(run.file("diff.patch")).read_text()


def test_unreadable_process_entries_are_skipped(monkeypatch):
    import psutil

    def denied(self):
        raise psutil.AccessDenied(self.pid)

    monkeypatch.setattr(psutil.Process, "num_threads", denied)
    values = SystemSampler(lambda row: None, 1.0, nvml=NoNvml()).sample_once()
    assert "memory_percent" in values and "disk./.usagePercent" in values  # the rest goes on
    assert "proc.memory.rssMB" in values and "proc.cpu.threads" not in values  # only that one is lost


def test_init_save_code_argument_saves_the_script(tmp_path, store):
    """``tracker.init(save_code=True)`` as W&B scripts pass it (before, only the setting worked)."""
    run, _ = run_script(tmp_path, """
        import tracker
        run = tracker.init(project="ctx", save_code=True, settings={"quiet": True, "disable_git": True})
        print(run.path)
        run.finish()
    """, store)
    assert "code/train.py" in {f["name"] for f in run.files()}
    assert "save_code=True" in Path(run.file("code/train.py")).read_text()


RESUMED = """
import sys, tracker
run = tracker.init(project="ctx", id="again", resume="allow", settings={{"quiet": True, "disable_git": True}})
for i in range(3):
    print("session {session} line", i)
run.log({{"x": {session}}})
run.finish()
print(run.path)
"""


def test_a_resumed_run_numbers_its_console_lines_and_system_samples_after_the_first_session(tmp_path, store):
    """W&B's resume example: the second session's console lines and system samples follow the
    first's (before, both started again at 0: half the samples hidden, lines interleaved)."""
    for session in (1, 2):
        run, _ = run_script(tmp_path, RESUMED.format(session=session), store)
    texts = [r["text"] for r in run.logs(None)]
    first = [t for t in texts if t.startswith("session 1")]
    second = [t for t in texts if t.startswith("session 2")]
    assert len(first) == 3 and len(second) == 3
    assert texts.index(second[0]) > texts.index(first[-1])  # in order, none overwritten
    numbers = [r["line"] for r in run.logs(None)]
    assert len(numbers) == len(set(numbers))
    steps = [row["_step"] for row in run.history(stream="system", pandas=False)]
    assert len(steps) >= 2 and len(steps) == len(set(steps))  # a sample a session at least, none overwritten


def test_without_an_nvidia_driver_pynvml_is_not_imported():
    """No driver library: NVML is known absent with one dlopen, before ~30 ms of pynvml import
    (paid inside finish by a short run)."""
    import ctypes

    try:
        ctypes.CDLL("libnvidia-ml.so.1")
        pytest.skip("this machine has an NVIDIA driver")
    except OSError:
        pass
    code = ("import sys; from tracker.context.system import load_nvml; "
            "assert load_nvml() is None; assert 'pynvml' not in sys.modules; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=python_env(), timeout=60)
    assert out.stdout.strip() == "ok", out.stderr
