"""Reading runs from the store: their JSON files, their derived state, their segment statistics."""

from __future__ import annotations

import os

from tracker.store import layout
from tracker.store.states import derive_state

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tracker.store.layout import RunPaths

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
