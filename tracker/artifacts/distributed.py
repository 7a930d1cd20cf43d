"""Distributed artifacts: several processes (DDP ranks, a sweep's workers) add files to one
version with ``upsert_artifact``; ``finish_artifact`` merges their parts and commits it.

Parts live under ``<collection>/drafts/<distributed_id>/<run_id>.json``; each upsert stores its
files in the object store at once, so the finishing process needs nothing but the part documents.
After ``finish``, the drafts are gone: the next upsert with the same id starts a new version.
"""

from __future__ import annotations

import os
import shutil

from tracker.artifacts import registry
from tracker.artifacts.objects import ObjectStore
from tracker.store import layout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _drafts(root: str, project: str, name: str, distributed_id: str) -> str:
    registry.check_artifact_name(distributed_id, "distributed_id")
    return os.path.join(registry.collection_dir(root, project, name), "drafts", distributed_id)


def upsert(artifact: Any, root: str, project: str, distributed_id: str, run_id: str) -> Any:
    """Store the artifact's files and record them as this run's part of the draft version."""
    store = ObjectStore(root)
    entries = {}
    for entry in artifact.files():
        if entry.ref is None and entry._source is not None and not store.has(entry.digest):
            store.put_file(entry._source)
        entries[entry.path] = entry.to_json()
    folder = _drafts(root, project, artifact.collection, distributed_id)
    os.makedirs(folder, exist_ok=True)
    layout.write_json_atomic(os.path.join(folder, f"{run_id}.json"),
                             {"type": artifact.type, "entries": entries, "metadata": artifact.metadata})
    return artifact


def finish(artifact: Any, root: str, project: str, distributed_id: str, run_id: str, run_path: str,
           history_step: int | None, aliases: list[str] | None) -> Any:
    """Merge every part (this run's last) into the artifact and commit it."""
    from tracker.artifacts.artifact import ManifestEntry

    upsert(artifact, root, project, distributed_id, run_id)
    folder = _drafts(root, project, artifact.collection, distributed_id)
    parts = []
    for n in os.listdir(folder):
        if n.endswith(".json"):
            path = os.path.join(folder, n)
            parts.append((n == f"{run_id}.json", os.path.getmtime(path), layout.read_json(path) or {}))
    parts.sort(key=lambda p: (p[0], p[1]))  # this run's part last: its files win a clash
    merged: dict[str, Any] = {}
    for _, _, part in parts:
        for path, e in (part.get("entries") or {}).items():
            merged[path] = ManifestEntry(path, e["digest"], e["size"], ref=e.get("ref"), artifact=artifact,
                                         checksum=e.get("checksum", True) is not False)
        artifact.metadata = {**(part.get("metadata") or {}), **artifact.metadata}
    artifact._entries = merged
    committed = artifact._commit(root, project, run_path, history_step, aliases)
    shutil.rmtree(folder, ignore_errors=True)
    return committed
