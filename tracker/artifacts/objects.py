"""The content-addressed object store under ``<root>/_artifacts/objects``.

Every file an artifact holds is stored once, under its SHA-256: ``objects/sha256/ab/cdef...``.
A file identical to one already stored costs only its hash. Objects are written under a temporary
name and renamed into place, so a reader never sees half an object, and they are never modified
(they are made read-only), so a stored object is always the content of its name.
"""

from __future__ import annotations

import hashlib
import os
import stat

from tracker.errors import UsageError
from tracker.store.layout import Publish

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
CHUNK = 8 * 1024 * 1024
SMALL = 1024 * 1024


class FileChangedError(UsageError):
    """A file changed while it was being hashed or copied."""


def sha256_file(path: str, progress: Callable[[int], None] | None = None) -> tuple[str, int]:
    """``(hex digest, size)`` of a file, read once in large chunks.

    Raises:
        FileChangedError: the file's size or modification time changed during the read.
    """
    before = os.stat(path)
    h = hashlib.sha256()
    size = 0
    with open(path, "rb", buffering=0) as fh:
        if before.st_size <= SMALL:  # most files: one read, no buffer to allocate
            data = fh.read()
            h.update(data)
            size = len(data)
            if progress is not None:
                progress(size)
        else:
            buf = bytearray(CHUNK)
            view = memoryview(buf)
            while True:
                n = fh.readinto(buf)
                if not n:
                    break
                h.update(view[:n])
                size += n
                if progress is not None:
                    progress(n)
        after = os.fstat(fh.fileno())
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or size != after.st_size:
        raise FileChangedError(f"{path} changed while it was being read; add it again once it is written")
    return h.hexdigest(), size


class ObjectStore:
    """Blobs by SHA-256 under one folder.

    Args:
        root: the store root (``<root>/_artifacts/objects`` holds the blobs).
    """

    def __init__(self, root: str) -> None:
        self.dir = os.path.join(root, "_artifacts", "objects", "sha256")

    def path(self, digest: str) -> str:
        """Where the object with this hex digest lives (whether or not it exists)."""
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise UsageError(f"{digest!r} is not a SHA-256 hex digest")
        return os.path.join(self.dir, digest[:2], digest[2:])

    def has(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def put_file(
        self, source: str, progress: Callable[[int], None] | None = None,
        known: tuple[str, int] | None = None,
    ) -> tuple[str, int, bool]:
        """Store a file; returns ``(digest, size, was_new)``.

        The file is hashed first (unless ``known`` gives the ``(digest, size)`` the caller just
        computed and checked); when an object with that digest exists, nothing is copied. A new
        object is copied (the kernel's copy path: ``copy_file_range``, reflinks where the file
        system makes them) to a temporary name, checked, and renamed into place.
        """
        digest, size = known if known is not None else sha256_file(source, progress)
        final = self.path(digest)
        if os.path.exists(final):
            return digest, size, False
        os.makedirs(os.path.dirname(final), exist_ok=True)
        with Publish(final, hidden=False) as tmp:
            copy_file(source, tmp)
            if os.path.getsize(tmp) != size:
                raise FileChangedError(f"{source} changed while it was being copied; add it again")
            os.chmod(tmp, READ_ONLY)
        return digest, size, True

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store bytes; returns ``(digest, size)``."""
        digest = hashlib.sha256(data).hexdigest()
        final = self.path(digest)
        if not os.path.exists(final):
            os.makedirs(os.path.dirname(final), exist_ok=True)
            with Publish(final, hidden=False) as tmp:
                with open(tmp, "wb") as fh:
                    fh.write(data)
                os.chmod(tmp, READ_ONLY)
        return digest, len(data)

    def _names(self) -> list[tuple[str, str]]:
        """``(prefix folder, file name)`` of everything in the store."""
        try:
            prefixes = os.listdir(self.dir)
        except FileNotFoundError:
            return []
        out: list[tuple[str, str]] = []
        for prefix in prefixes:
            try:
                out.extend((prefix, n) for n in os.listdir(os.path.join(self.dir, prefix)))
            except NotADirectoryError:
                continue
        return out

    def temporary_files(self) -> list[str]:
        """Paths of temporary files (a copy cut short by a kill) in the store."""
        return [os.path.join(self.dir, p, n) for p, n in self._names() if n.endswith(".tmp")]

    def all_digests(self) -> list[str]:
        """Every stored object's digest (for garbage collection)."""
        return [p + n for p, n in self._names() if len(n) == 62 and not n.endswith(".tmp")]


def copy_file(source: str, dest: str) -> None:
    """Copy a file's bytes to ``dest`` (created or truncated) with the kernel doing the work
    (reflink on btrfs/xfs through ``copy_file_range``); small files in one read and one write."""
    with open(source, "rb") as src, open(dest, "wb") as dst:
        if os.fstat(src.fileno()).st_size <= SMALL:  # one read and one write beat the kernel loop
            dst.write(src.read())
            return
        copy_range = getattr(os, "copy_file_range", None)
        if copy_range is not None:
            try:
                while copy_range(src.fileno(), dst.fileno(), 1 << 30):
                    pass
                return
            except OSError:
                src.seek(0)
                dst.seek(0)
                dst.truncate()
        import shutil

        shutil.copyfileobj(src, dst, CHUNK)
