"""Artifact references to objects in S3-compatible storage (``s3://bucket/key`` or a prefix).

Read through ``pyarrow.fs.S3FileSystem`` (pyarrow is a dependency already, so no other client is
needed): credentials from the standard AWS settings (environment, profiles), the endpoint from
``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` (MinIO, Ceph, R2, a local test server), the region
from ``AWS_REGION`` / ``AWS_DEFAULT_REGION``. A prefix adds every object under it (``max_objects``
caps how many). With ``checksum=True`` each object is read once for its SHA-256; with
``checksum=False`` only listed: the digest names the object, its size and modification time. A
bucket that cannot be reached is recorded all the same (one entry, without checksum), with one
warning. ``download`` reads the objects again.
"""

from __future__ import annotations

import hashlib

from tracker.store.remote import s3_filesystem

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

CHUNK = 1 << 20


def split(uri: str) -> str:
    """``bucket/key`` of ``s3://bucket/key``."""
    return uri.split("://", 1)[1].strip("/")


def list_objects(fs: Any, uri: str, max_objects: int | None) -> list[tuple[str, int, Any]]:
    """``(path, size, mtime)`` of the object at ``uri``, or of every object under it as a prefix."""
    import pyarrow.fs as pafs

    path = split(uri)
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.File:
        return [(path, int(info.size), info.mtime)]
    selector = pafs.FileSelector(path, recursive=True, allow_not_found=True)
    out = []
    for item in fs.get_file_info(selector):
        if item.type == pafs.FileType.File:
            out.append((item.path, int(item.size), item.mtime))
            if max_objects is not None and len(out) > max_objects:
                from tracker.errors import UsageError

                raise UsageError(f"{uri} holds more than max_objects={max_objects} objects")
    return sorted(out)


def digest(fs: Any, path: str, size: int, mtime: Any, checksum: bool,
           progress: Callable[[int], None] | None = None) -> str:
    if not checksum:
        return hashlib.sha256(f"s3://{path}\0{size}\0{mtime}".encode()).hexdigest()
    h = hashlib.sha256()
    with fs.open_input_stream(path) as stream:
        while chunk := stream.read(CHUNK):
            h.update(chunk)
            if progress is not None:
                progress(len(chunk))
    return h.hexdigest()


def fetch(uri: str, dest: str) -> str:
    """Copy the object at ``uri`` to the path ``dest``; the SHA-256 of what was written."""
    fs = s3_filesystem()
    h = hashlib.sha256()
    with fs.open_input_stream(split(uri)) as stream, open(dest, "wb") as out:
        while chunk := stream.read(CHUNK):
            out.write(chunk)
            h.update(chunk)
    return h.hexdigest()
