"""Garbage collection of the object store: expired versions, then unreferenced objects."""

from __future__ import annotations

import os
import time

from tracker.artifacts import registry
from tracker.artifacts.objects import ObjectStore
from tracker.store import layout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Objects younger than this are never removed: an artifact being logged right now may have
#: stored them without having committed its manifest yet.
GRACE_SECONDS = 3600.0


def collect(root: str, apply: bool = False, now: float | None = None) -> dict[str, Any]:
    """Find (and with ``apply`` remove) what nothing needs any more.

    1. Versions whose TTL has passed (``created_at + ttl``) and that hold no alias but ``latest``.
    2. Objects that no remaining version's manifest references, older than an hour.
    3. Temporary files left by copies that were cut short (a kill -9), older than an hour.

    Returns:
        ``{"expired_versions": [...], "objects": n, "bytes": n, "temporary_files": n, "applied": bool}``.
    """
    now = time.time() if now is None else now
    expired = []
    referenced: set[str] = set()
    for project, name in registry.list_collections(root):
        cdir = registry.collection_dir(root, project, name)
        held = {v for a, v in registry.aliases(cdir).items() if a != "latest"}
        for version in registry.committed_versions(cdir):
            info = registry.read_version(cdir, version) or {}
            ttl = info.get("ttl")
            created = info.get("created_at") or now
            if isinstance(ttl, (int, float)) and created + ttl < now and version not in held:
                expired.append(f"{project}/{name}:v{version}")
                if apply:
                    registry.delete_version(cdir, version)
                continue
            for entry in ((info.get("manifest") or {}).get("entries") or {}).values():
                if entry.get("ref") is None:
                    referenced.add(entry["digest"])
    store = ObjectStore(root)
    count = 0
    size = 0
    for digest in store.all_digests():
        if digest in referenced:
            continue
        path = store.path(digest)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            continue
        if now - st.st_mtime < GRACE_SECONDS:
            continue
        count += 1
        size += st.st_size
        if apply:
            os.unlink(path)
            layout.published(root, path)  # a mirror of an s3:// root: removed from the bucket too
    temps = 0
    for path in store.temporary_files():  # copies cut short by a kill, older than the grace period
        try:
            if now - os.stat(path).st_mtime >= GRACE_SECONDS:
                temps += 1
                if apply:
                    os.unlink(path)
        except FileNotFoundError:
            continue
    return {"expired_versions": expired, "objects": count, "bytes": size, "temporary_files": temps,
            "applied": apply}
