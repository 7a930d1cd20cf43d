"""Reading runs from the store: their JSON files, their derived state, their segment statistics."""

from __future__ import annotations

import os
import time

from tracker.store import layout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tracker.store.layout import RunPaths

#: Every state a reader can see. ``crashed`` and ``preempted`` are derived, never written.
STATES = ("running", "finished", "failed", "crashed", "killed", "preempting", "preempted")


class RunFiles:
    """The JSON side files of one run as read from disk."""

    def __init__(self, paths: RunPaths, record: dict[str, Any], status: dict[str, Any], summary: dict[str, Any]) -> None:
        self.paths = paths
        self.record = record
        self.status = status
        self.summary = summary

    @property
    def state(self) -> str:
        return derive_state(self.status)


def derive_state(status: dict[str, Any], now: float | None = None, timeout: float | None = None) -> str:
    """The state a reader reports for a run's status record.

    A ``running`` (or ``preempting``) run whose writer is gone reads as ``crashed`` (``preempted``):
    on this host when its pid is dead (or now belongs to another process); elsewhere when its
    heartbeat is older than ``timeout`` (default: the larger of 120 s and 6 heartbeats).
    """
    written = status.get("state") or "running"
    if written not in ("running", "preempting"):
        return written
    gone_state = "crashed" if written == "running" else "preempted"
    pid = status.get("pid")
    if status.get("host") == layout.HOSTNAME and isinstance(pid, int):
        alive = layout.process_alive(pid, status.get("pid_start"))
        if alive is not None:
            return written if alive else gone_state
    beat = status.get("heartbeat_at")
    if not isinstance(beat, (int, float)):
        return gone_state
    if timeout is None:
        timeout = max(120.0, 6 * float(status.get("heartbeat_interval") or 10.0))
    now = time.time() if now is None else now
    return written if now - beat <= timeout else gone_state


def read_run(paths: RunPaths) -> RunFiles | None:
    """Read a run's side files; None when the folder holds no ``run.json``."""
    record = layout.read_json(paths.run_file)
    if record is None:
        return None
    layout.check_schema(record, paths.run_file)
    status = layout.read_json(paths.status_file) or {}
    summary = layout.read_json(paths.summary_file, floats=True) or {}
    return RunFiles(paths, record, status, summary)


def list_projects(root: str | os.PathLike[str]) -> list[str]:
    """Project names in the store, sorted."""
    try:
        entries = os.scandir(root)
    except FileNotFoundError:
        return []
    with entries:
        return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith((".", "_")))


def list_run_ids(root: str | os.PathLike[str], project: str) -> list[str]:
    """Run ids of a project (folders holding a ``run.json``)."""
    try:
        entries = os.scandir(os.path.join(root, project))
    except FileNotFoundError:
        return []
    with entries:
        # folders only: one without a run.json (a run being created) reads as no run later
        return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))


def max_step(stream_dir: str) -> int | None:
    """The largest step in a stream's segments, from Parquet statistics (no data is read)."""
    import pyarrow.parquet as pq

    best: int | None = None
    for _ in range(20):
        try:
            for path in [os.path.join(stream_dir, n) for n in layout.list_segments(stream_dir)]:
                meta = pq.ParquetFile(path).metadata
                col = meta.schema.names.index("step")
                for rg in range(meta.num_row_groups):
                    stats = meta.row_group(rg).column(col).statistics
                    if stats is not None and stats.has_min_max:
                        best = stats.max if best is None else max(best, stats.max)
            return best
        except FileNotFoundError:
            best = None
            continue
    return best
