"""Artifact references to ``http://`` and ``https://`` URLs (W&B's ``add_reference`` of a web file).

With ``checksum=True`` the file is read once when the reference is added, and its SHA-256 and size
are recorded: ``download`` fetches it again and says so when its content changed since. With
``checksum=False`` only a ``HEAD`` request is made: the digest is made from the URL and the
server's ``ETag`` / ``Last-Modified`` / size. A URL that cannot be reached is recorded all the same
(its digest made from the URL alone), with one warning: logging an artifact never stops training.
Nothing is cached in the store: a reference is the URL, not a copy.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

TIMEOUT = 30.0
CHUNK = 1 << 20
SCHEMES = ("http", "https")


def _request(url: str, method: str = "GET") -> urllib.request.Request:
    return urllib.request.Request(url, method=method, headers={"User-Agent": "tracker"})


def digest_url(url: str, checksum: bool, progress: Callable[[int], None] | None = None) -> tuple[str, int, str | None]:
    """``(digest, size, problem)`` of the file at ``url``; ``problem`` says why it could not be read
    (the digest is then the URL's own)."""
    try:
        if checksum:
            h = hashlib.sha256()
            size = 0
            with urllib.request.urlopen(_request(url), timeout=TIMEOUT) as resp:  # noqa: S310 - http(s) only
                while chunk := resp.read(CHUNK):
                    h.update(chunk)
                    size += len(chunk)
                    if progress is not None:
                        progress(len(chunk))
            return h.hexdigest(), size, None
        with urllib.request.urlopen(_request(url, "HEAD"), timeout=TIMEOUT) as resp:  # noqa: S310
            headers = resp.headers
            size = int(headers.get("Content-Length") or 0)
            stamp = f"{url}\0{headers.get('ETag')}\0{headers.get('Last-Modified')}\0{size}"
            return hashlib.sha256(stamp.encode()).hexdigest(), size, None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return hashlib.sha256(url.encode()).hexdigest(), 0, f"{type(exc).__name__}: {reason}"


def fetch(url: str, dest: str) -> tuple[str, int]:
    """Download ``url`` to the path ``dest``; ``(sha256, size)`` of what was written."""
    h = hashlib.sha256()
    size = 0
    with urllib.request.urlopen(_request(url), timeout=TIMEOUT) as resp, open(dest, "wb") as out:  # noqa: S310
        while chunk := resp.read(CHUNK):
            out.write(chunk)
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def entry_name(url: str) -> str:
    """The file name a URL's entry gets by default: the last part of its path."""
    from urllib.parse import unquote, urlparse

    return os.path.basename(unquote(urlparse(url).path).rstrip("/")) or "index.html"
