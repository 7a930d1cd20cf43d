"""``tracker sync``: copy runs and artifacts between stores (a laptop's folder and a team's bucket),
resumable and incremental.

``sync(src, dst, project=None)`` makes ``dst`` hold what ``src`` holds: every file that is missing
at ``dst`` or differs there is copied; nothing else is. Segments, pyramids, artifact objects and
logged media never change once written (unique or content-addressed names): the same size is the
same file. Small files (side files, up to 1 MB) are compared by content; larger ones by size and
modification time. Files are written so that a reader of ``dst`` never sees half of one (a local destination gets
a temporary name and a rename; an object store shows an object only once it is whole), in an order
that keeps every state a reader may see consistent: artifact objects and run data first, then
artifact versions and aliases, then each run's side files (``run.json``, ``summary.json``,
``status.json``). Segments that ``src`` no longer has (merged into a bigger one, or set aside by
``resume_from``) are removed from ``dst``'s run folders after the copy, so no point is read twice.
An interrupted sync is resumed by running it again: what was copied is skipped.

Not copied: the runs index (``.index``, a cache each reader rebuilds), temporary files, and version
claims being written. With ``project``, only that project's runs and artifact collections (and the
objects its versions use) are synced.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from tracker.store import layout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SMALL = 1 << 20  # files up to this size are compared by content


@dataclass
class SyncResult:
    """What a sync did: files and bytes copied, files already there, files removed."""

    copied: int = 0
    bytes: int = 0
    unchanged: int = 0
    removed: int = 0
    runs: set[str] = field(default_factory=set)


def _skip(rel: str) -> bool:
    parts = rel.split("/")
    name = parts[-1]
    return (parts[0] == ".index" or name.endswith(".tmp") or name.endswith(".claim")
            or any(p.startswith(".") and p != ".changed" for p in parts))


def _listing(fs: Any, base: str, roots: list[str]) -> dict[str, tuple[int, float]]:
    """``{relative path: (size, mtime)}`` of the files under ``base/<root>`` for each root."""
    import pyarrow.fs as pafs

    out: dict[str, tuple[int, float]] = {}
    for root in roots:
        top = f"{base}/{root}".rstrip("/") if root else base
        info = fs.get_file_info(top)
        if info.type == pafs.FileType.File:
            out[root] = (int(info.size), info.mtime.timestamp() if info.mtime else 0.0)
            continue
        if info.type != pafs.FileType.Directory:
            continue
        for item in fs.get_file_info(pafs.FileSelector(top, recursive=True, allow_not_found=True)):
            if item.type != pafs.FileType.File:
                continue
            rel = item.path[len(base):].lstrip("/")
            if not _skip(rel):
                out[rel] = (int(item.size), item.mtime.timestamp() if item.mtime else 0.0)
    return out


def _project_objects(fs: Any, base: str, rels: dict[str, tuple[int, float]], project: str) -> list[str]:
    """The object files the project's artifact versions use."""
    import json

    out = []
    for rel in rels:
        parts = rel.split("/")
        if len(parts) >= 6 and parts[:3] == ["_artifacts", "collections", project] and parts[-2] == "versions":
            with fs.open_input_stream(f"{base}/{rel}") as fh:
                doc = json.loads(fh.read())
            for entry in ((doc.get("manifest") or {}).get("entries") or {}).values():
                digest = entry.get("digest")
                if isinstance(digest, str) and len(digest) == 64 and not entry.get("ref"):
                    out.append(f"_artifacts/objects/sha256/{digest[:2]}/{digest[2:]}")
    return out


def sync(src: str | os.PathLike[str], dst: str | os.PathLike[str], project: str | None = None,
         delete: bool = True, progress: bool = True) -> SyncResult:
    """Copy what changed from the store ``src`` to the store ``dst`` (a folder, ``file://`` or
    ``s3://bucket/prefix``); see the module. ``delete``: remove from ``dst``'s run folders the files
    ``src``'s no longer has (merged segments)."""
    from tracker.artifacts.progress import bar
    from tracker.store.remote import filesystem

    sfs, sbase, _ = filesystem(src)
    dfs, dbase, dst_local = filesystem(dst)
    roots = [project, f"_artifacts/collections/{project}"] if project else [""]
    source = _listing(sfs, sbase, roots + (["tracker-store.json"] if project else []))
    if project:
        for rel in _project_objects(sfs, sbase, source, project):
            source.update(_listing(sfs, sbase, [rel]))
    target = _listing(dfs, dbase, roots + (["tracker-store.json"] if project else []))
    result = SyncResult()
    todo = []
    for rel, (size, mtime) in source.items():
        have = target.get(rel)
        if have is not None and _same(sfs, f"{sbase}/{rel}", dfs, f"{dbase}/{rel}", rel, size, mtime, have):
            result.unchanged += 1
        else:
            todo.append((layout.copy_order(rel), rel, size, mtime))
    todo.sort()
    made: set[str] = set()
    with _bar(bar, sum(t[2] for t in todo), f"syncing to {os.fspath(dst)}", progress) as update:
        for _, rel, size, mtime in todo:
            _copy(sfs, f"{sbase}/{rel}", dfs, f"{dbase}/{rel}", dst_local, mtime, made)
            result.copied += 1
            result.bytes += size
            update(size)
            parts = rel.split("/")
            if len(parts) >= 3 and not parts[0].startswith(("_", ".")) and not parts[1].startswith("."):
                result.runs.add(f"{parts[0]}/{parts[1]}")
    if delete:
        for rel in target:
            parts = rel.split("/")
            in_run = len(parts) >= 4 and not parts[0].startswith(("_", ".")) and parts[2] in (
                "scalars", "system", "console", "media")
            if in_run and rel not in source and f"{parts[0]}/{parts[1]}/run.json" in source:
                dfs.delete_file(f"{dbase}/{rel}")
                result.removed += 1
    return result


def _same(sfs: Any, src: str, dfs: Any, dst: str, rel: str, size: int, mtime: float,
          have: tuple[int, float]) -> bool:
    """Whether ``dst`` already holds what ``src`` holds."""
    if have[0] != size:
        return False
    if layout.immutable(rel):
        return True
    if size <= SMALL:  # side files and other small ones: their bytes (a heartbeat keeps the size)
        with sfs.open_input_stream(src) as a, dfs.open_input_stream(dst) as b:
            return bool(a.read() == b.read())
    return have[1] >= mtime - 1.0  # an object store keeps whole seconds


class _bar:
    """The artifacts' byte bar as a context manager yielding its ``update``."""

    def __init__(self, make: Any, total: int, desc: str, enabled: bool) -> None:
        self.progress = make(total, desc, enabled)

    def __enter__(self) -> Any:
        return self.progress.update

    def __exit__(self, *exc: Any) -> None:
        self.progress.close()


def _copy(sfs: Any, src: str, dfs: Any, dst: str, dst_local: bool, mtime: float, made: set[str]) -> None:
    folder = dst.rsplit("/", 1)[0]
    if folder not in made:
        dfs.create_dir(folder, recursive=True)
        made.add(folder)
    target = f"{folder}/.{dst.rsplit('/', 1)[1]}.sync.tmp" if dst_local else dst
    with sfs.open_input_stream(src) as reader, dfs.open_output_stream(target) as writer:
        while chunk := reader.read(1 << 20):
            writer.write(chunk)
    if dst_local:
        os.utime(target, (mtime, mtime))  # the next sync sees it as up to date
        os.replace(target, dst)
