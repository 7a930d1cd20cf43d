"""What the run ran on: host, OS, CPU, memory, GPUs, driver, versions, author."""

from __future__ import annotations

import os
import platform

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def host_info(nvml: Any = None, problems: list[str] | None = None) -> dict[str, Any]:
    """Host facts as ``metadata.json`` keys: ``host``, ``os``, ``cpu``, ``memory``, ``gpu``,
    ``python_implementation``, ``tracker_version``. What cannot be read is left out and named in
    ``problems``."""
    from tracker.store.layout import HOSTNAME
    from tracker.version import __version__

    problems = problems if problems is not None else []
    info: dict[str, Any] = {
        "host": HOSTNAME,
        "os": {
            "system": platform.system(),
            "release": platform.release(),
            "version": platform.version(),
            "platform": platform.platform(),
            "architecture": platform.machine(),
        },
        "cpu": {"model": _cpu_model(), "count_logical": os.cpu_count()},
        "python_implementation": platform.python_implementation(),
        "tracker_version": __version__,
    }
    try:
        import psutil

        info["cpu"]["count_physical"] = psutil.cpu_count(logical=False)
        info["memory"] = {"total_bytes": psutil.virtual_memory().total}
    except Exception as exc:  # noqa: BLE001 - psutil missing or /proc unreadable: facts left out
        problems.append(f"cpu/memory facts: {exc}")
    info["gpu"] = gpu_info(nvml, problems)
    return info


def gpu_info(nvml: Any = None, problems: list[str] | None = None) -> dict[str, Any]:
    """GPU count, names and memory, NVIDIA driver and CUDA driver versions (empty without NVML)."""
    from tracker.context.system import load_nvml

    problems = problems if problems is not None else []
    nv = nvml if nvml is not None else load_nvml()
    if nv is None:
        return {"count": 0}
    try:
        nv.nvmlInit()
    except Exception as exc:  # noqa: BLE001 - NVMLError_LibraryNotFound / DriverNotLoaded: no GPUs
        problems.append(f"GPU facts: {exc}")
        return {"count": 0}
    out: dict[str, Any] = {}
    try:
        count = nv.nvmlDeviceGetCount()
        gpus = []
        for i in range(count):
            h = nv.nvmlDeviceGetHandleByIndex(i)
            name = nv.nvmlDeviceGetName(h)
            mem = nv.nvmlDeviceGetMemoryInfo(h)
            gpus.append({"name": name.decode() if isinstance(name, bytes) else str(name), "memory_total_bytes": int(mem.total)})
        out["count"] = count
        out["devices"] = gpus
        if gpus:
            out["type"] = gpus[0]["name"]
        driver = nv.nvmlSystemGetDriverVersion()
        out["driver_version"] = driver.decode() if isinstance(driver, bytes) else str(driver)
        cuda = nv.nvmlSystemGetCudaDriverVersion()
        out["cuda_driver_version"] = f"{cuda // 1000}.{(cuda % 1000) // 10}"
    except Exception as exc:  # noqa: BLE001 - a query this driver does not support
        problems.append(f"GPU facts: {exc}")
    finally:
        try:
            nv.nvmlShutdown()
        except Exception as exc:  # noqa: BLE001
            problems.append(f"nvmlShutdown: {exc}")
    return out
