"""System metrics, sampled on a background thread from ``init`` to ``finish``.

Names follow W&B's system metrics reference, so charts and queries port as they are:

- process: ``cpu`` (process CPU %, normalised by the number of CPUs), ``proc.cpu.threads``,
  ``proc.memory.rssMB``, ``proc.memory.percent``;
- system: ``memory_percent``, ``proc.memory.availableMB``, ``disk.{path}.usagePercent``,
  ``disk.{path}.usageGB``, ``disk.in`` / ``disk.out`` (MB read / written since the run started),
  ``network.sent`` / ``network.recv`` (bytes since the run started);
- NVIDIA GPUs (NVML): ``gpu.{i}.gpu``, ``gpu.{i}.memory``, ``gpu.{i}.memoryAllocated``,
  ``gpu.{i}.memoryAllocatedBytes``, ``gpu.{i}.temp``, ``gpu.{i}.powerWatts``,
  ``gpu.{i}.powerPercent``, ``gpu.{i}.smClock``, ``gpu.{i}.memoryClock``,
  ``gpu.{i}.graphicsClock``, ``gpu.{i}.correctedMemoryErrors``,
  ``gpu.{i}.unCorrectedMemoryErrors``, ``gpu.{i}.encoderUtilization``, and the same under
  ``gpu.process.{i}.`` for the GPUs this process (or its children) uses;
- OpenMetrics / Prometheus endpoints: ``openmetrics.{name}.{metric}`` (labels appended).

Every probe degrades alone: no NVML, no driver, a query a GPU does not support, a disk path that
disappears, a /proc entry that cannot be read: that metric is skipped and said once at debug level
(logger ``tracker.system``); the others go on. The sampler never raises into training.
"""

from __future__ import annotations

import os
import sys
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_MB = 1024 * 1024
#: Seconds between init() and the first sample: long enough for init() to return and the first
#: log() to pass without competing for the GIL with psutil's import, short enough to be "at init".
START_DELAY = 0.05
_GB = 1024**3


class _Once:
    """Says each skipped probe once, at debug level."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def skip(self, what: str, why: object) -> None:
        if what not in self.seen:
            self.seen.add(what)
            import logging  # only when something is skipped: logging costs init ~5 ms to import

            logging.getLogger("tracker.system").debug("system metrics: skipping %s (%s)", what, why)


class ProcessProbe:
    """psutil metrics of this process (optionally its whole tree) and of the machine."""

    def __init__(self, pid: int, disk_paths: list[str], track_tree: bool, once: _Once) -> None:
        import psutil

        self.psutil = psutil
        self.proc = psutil.Process(pid)
        self.disk_paths = disk_paths
        self.track_tree = track_tree
        self.once = once
        self.ncpu = psutil.cpu_count() or 1
        self.proc.cpu_percent(None)  # the first call starts the measurement window
        self._children_cpu: dict[int, Any] = {}
        self.disk0 = self._disk_io()
        self.net0 = self._net_io()

    def _disk_io(self) -> Any:
        try:
            return self.psutil.disk_io_counters()
        except (OSError, RuntimeError) as exc:
            self.once.skip("disk.in/disk.out", exc)
            return None

    def _net_io(self) -> Any:
        try:
            return self.psutil.net_io_counters()
        except (OSError, RuntimeError) as exc:
            self.once.skip("network.sent/network.recv", exc)
            return None

    def _tree(self) -> list[Any]:
        if not self.track_tree:
            return [self.proc]
        try:
            children = self.proc.children(recursive=True)
        except self.psutil.Error as exc:
            self.once.skip("process tree", exc)
            children = []
        return [self.proc, *children]

    def sample(self, out: dict[str, float]) -> None:
        ps = self.psutil
        totals: dict[str, float] = {}
        for p in self._tree():
            proc = p if p is self.proc else self._children_cpu.setdefault(p.pid, p)
            # each reading on its own: an unreadable /proc entry costs only its own metric
            for key, read in (
                ("cpu", lambda q=proc: q.cpu_percent(None) / self.ncpu),
                ("proc.cpu.threads", lambda q=proc: float(q.num_threads())),
                ("proc.memory.rssMB", lambda q=proc: q.memory_info().rss / _MB),
                ("proc.memory.percent", lambda q=proc: q.memory_percent()),
            ):
                try:
                    totals[key] = totals.get(key, 0.0) + read()
                except ps.Error as exc:  # AccessDenied, NoSuchProcess (a child that just ended)
                    self.once.skip(f"{key} of process {p.pid}", exc)
        out.update(totals)
        try:
            vm = ps.virtual_memory()
            out["memory_percent"] = vm.percent
            out["proc.memory.availableMB"] = vm.available / _MB
        except (OSError, RuntimeError) as exc:
            self.once.skip("memory_percent", exc)
        for path in self.disk_paths:
            try:
                usage = ps.disk_usage(path)
            except OSError as exc:
                self.once.skip(f"disk {path}", exc)
                continue
            out[f"disk.{path}.usagePercent"] = usage.percent
            out[f"disk.{path}.usageGB"] = usage.used / _GB
        disk = self._disk_io()
        if disk is not None and self.disk0 is not None:
            out["disk.in"] = (disk.read_bytes - self.disk0.read_bytes) / _MB
            out["disk.out"] = (disk.write_bytes - self.disk0.write_bytes) / _MB
        net = self._net_io()
        if net is not None and self.net0 is not None:
            out["network.sent"] = float(net.bytes_sent - self.net0.bytes_sent)
            out["network.recv"] = float(net.bytes_recv - self.net0.bytes_recv)


#: The NVIDIA driver's NVML library, by platform, as pynvml loads it.
NVML_LIBRARY = {"linux": "libnvidia-ml.so.1"}


def load_nvml() -> Any:
    """The NVML bindings (``pynvml`` from nvidia-ml-py), or None when they cannot be loaded:
    pynvml is missing, or (on Linux) the driver's library is not there. The library is looked for
    first, with one ``dlopen`` (well under a millisecond), so a machine without an NVIDIA driver
    does not import pynvml (~30 ms of Python, paid inside ``finish`` by a short run)."""
    if sys.platform == "darwin":
        return None  # no NVIDIA driver for macOS since CUDA 10.2
    library = NVML_LIBRARY.get(sys.platform)
    if library is not None:
        import ctypes

        try:
            ctypes.CDLL(library)
        except OSError:
            return None
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


class GpuProbe:
    """NVML metrics of every GPU, and of those this process uses."""

    def __init__(self, nvml: Any, pid: int, once: _Once, track_tree: bool) -> None:
        self.nvml = nvml
        self.pid = pid
        self.once = once
        self.track_tree = track_tree
        nvml.nvmlInit()
        self.handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())]

    def close(self) -> None:
        try:
            self.nvml.nvmlShutdown()
        except Exception as exc:  # noqa: BLE001 - NVML raises its own error classes; nothing to do
            self.once.skip("nvmlShutdown", exc)

    def _our_pids(self) -> set[int]:
        pids = {self.pid}
        if self.track_tree:
            try:
                import psutil

                pids.update(c.pid for c in psutil.Process(self.pid).children(recursive=True))
            except Exception as exc:  # noqa: BLE001 - psutil.Error and friends: the tree is optional
                self.once.skip("process tree for GPU use", exc)
        return pids

    def _query(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        if what in self.once.seen:
            return None
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - NVMLError_NotSupported and kin: skip that metric
            self.once.skip(what, exc)
            return None

    def sample(self, out: dict[str, float]) -> None:
        nv = self.nvml
        ours = self._our_pids()
        for i, h in enumerate(self.handles):
            values: dict[str, float] = {}
            util = self._query(f"gpu.{i}.utilization", nv.nvmlDeviceGetUtilizationRates, h)
            if util is not None:
                values["gpu"] = float(util.gpu)
                values["memory"] = float(util.memory)
            mem = self._query(f"gpu.{i}.memoryInfo", nv.nvmlDeviceGetMemoryInfo, h)
            if mem is not None and mem.total:
                values["memoryAllocated"] = 100.0 * mem.used / mem.total
                values["memoryAllocatedBytes"] = float(mem.used)
            temp = self._query(f"gpu.{i}.temp", nv.nvmlDeviceGetTemperature, h, nv.NVML_TEMPERATURE_GPU)
            if temp is not None:
                values["temp"] = float(temp)
            power = self._query(f"gpu.{i}.power", nv.nvmlDeviceGetPowerUsage, h)
            if power is not None:
                values["powerWatts"] = power / 1000.0
                limit = self._query(f"gpu.{i}.powerLimit", nv.nvmlDeviceGetEnforcedPowerLimit, h)
                if limit:
                    values["powerPercent"] = 100.0 * power / limit
            for name, clock in (("smClock", "NVML_CLOCK_SM"), ("memoryClock", "NVML_CLOCK_MEM"),
                                ("graphicsClock", "NVML_CLOCK_GRAPHICS")):
                v = self._query(f"gpu.{i}.{name}", nv.nvmlDeviceGetClockInfo, h, getattr(nv, clock))
                if v is not None:
                    values[name] = float(v)
            for name, kind in (("correctedMemoryErrors", "NVML_MEMORY_ERROR_TYPE_CORRECTED"),
                               ("unCorrectedMemoryErrors", "NVML_MEMORY_ERROR_TYPE_UNCORRECTED")):
                v = self._query(f"gpu.{i}.{name}", nv.nvmlDeviceGetTotalEccErrors, h, getattr(nv, kind),
                                nv.NVML_VOLATILE_ECC)
                if v is not None:
                    values[name] = float(v)
            enc = self._query(f"gpu.{i}.encoder", nv.nvmlDeviceGetEncoderUtilization, h)
            if enc is not None:
                values["encoderUtilization"] = float(enc[0])
            for k, v in values.items():
                out[f"gpu.{i}.{k}"] = v
            procs = self._query(f"gpu.{i}.processes", nv.nvmlDeviceGetComputeRunningProcesses, h)
            if procs and any(getattr(p, "pid", None) in ours for p in procs):
                for k, v in values.items():
                    out[f"gpu.process.{i}.{k}"] = v


class SystemSampler:
    """The sampling thread: a first sample at once, then one every ``interval`` seconds.

    Args:
        append: appends ``(index, time, {metric: value})`` to the run's ``system`` stream.
        interval: seconds between samples.
        disk_paths: file systems whose usage is sampled.
        track_tree: include child processes (their CPU, memory, threads, GPU use).
        openmetrics: ``{name: url}`` of OpenMetrics/Prometheus endpoints to scrape.
        openmetrics_filters: regular expressions; only metric names matching one are kept.
        nvml: the NVML module to use (default: ``pynvml`` if it loads); tests pass a fake.
    """

    def __init__(
        self,
        append: Callable[[tuple[int, float, dict[str, Any]]], None],
        interval: float,
        disk_paths: list[str] | tuple[str, ...] = ("/",),
        track_tree: bool = False,
        openmetrics: dict[str, str] | None = None,
        openmetrics_filters: list[str] | tuple[str, ...] = (),
        nvml: Any = None,
        pid: int | None = None,
    ) -> None:
        self.append = append
        self.interval = interval
        self.disk_paths = list(disk_paths)
        self.track_tree = track_tree
        self.openmetrics = dict(openmetrics or {})
        self.openmetrics_filters = list(openmetrics_filters)
        self.nvml = nvml
        self.pid = pid or os.getpid()
        self.once = _Once()
        self.samples = 0
        self.seconds_spent = 0.0  # CPU time of the sampling itself, for the benchmark
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tracker-system-metrics", daemon=True)
        self._probes: list[Any] = []

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop sampling; returns once the thread has ended (or ``timeout`` passed)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _setup(self) -> None:
        try:
            self._probes.append(ProcessProbe(self.pid, self.disk_paths, self.track_tree, self.once))
        except Exception as exc:  # noqa: BLE001 - psutil missing or broken: the other probes go on
            self.once.skip("process and system metrics (psutil)", exc)
        nvml = self.nvml if self.nvml is not None else load_nvml()
        if nvml is None:
            self.once.skip("GPU metrics", "no NVIDIA driver library (NVML) or no pynvml")
        else:
            try:
                self._probes.append(GpuProbe(nvml, self.pid, self.once, self.track_tree))
            except Exception as exc:  # noqa: BLE001 - no driver, no GPU: NVMLError_* classes
                self.once.skip("GPU metrics", exc)
        if self.openmetrics:
            from tracker.context.openmetrics import OpenMetricsProbe

            self._probes.append(OpenMetricsProbe(self.openmetrics, self.openmetrics_filters, self.once))

    def sample_once(self) -> dict[str, float]:
        """Take one sample (the thread calls this; tests may too)."""
        if not self._probes:
            self._setup()
        out: dict[str, float] = {}
        for probe in self._probes:
            try:
                probe.sample(out)
            except Exception as exc:  # noqa: BLE001 - one failing probe must not stop the others
                self.once.skip(type(probe).__name__, exc)
        return out

    def sample_and_append(self) -> None:
        """One sample into the stream (and its CPU cost into ``seconds_spent``)."""
        t0 = time.thread_time()
        values = self.sample_once()
        if values:
            self.append((self.samples, time.time(), values))
            self.samples += 1
        self.seconds_spent += time.thread_time() - t0

    def _loop(self) -> None:
        while True:
            self.sample_and_append()
            if self._stop.wait(self.interval):
                break
        for probe in self._probes:
            close = getattr(probe, "close", None)
            if close is not None:
                close()
