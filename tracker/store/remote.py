"""File systems for store roots and references given as URIs: a local path, ``file://``, or
``s3://bucket/prefix`` (pyarrow's S3 file system, configured from the standard AWS settings:
credentials from the environment or a profile, the endpoint from ``AWS_ENDPOINT_URL_S3`` /
``AWS_ENDPOINT_URL`` for MinIO, Ceph, R2 or a local server, the region from ``AWS_REGION`` /
``AWS_DEFAULT_REGION``)."""

from __future__ import annotations

import os
from urllib.parse import urlparse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def s3_filesystem() -> Any:
    """An S3 file system configured from the standard AWS environment."""
    import pyarrow.fs as pafs

    from tracker.store.bucket import aws_endpoint_and_region

    kwargs: dict[str, Any] = {}
    endpoint, region = aws_endpoint_and_region()
    if endpoint:
        parsed = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
        kwargs["endpoint_override"] = parsed.netloc + parsed.path.rstrip("/")
        kwargs["scheme"] = parsed.scheme or "https"
    if region:
        kwargs["region"] = region
    return pafs.S3FileSystem(**kwargs)


def filesystem(uri: str | os.PathLike[str]) -> tuple[Any, str, bool]:
    """``(file system, base path in it, is local)`` for a local path, ``file://...`` or ``s3://...``."""
    import pyarrow.fs as pafs

    from tracker.errors import UsageError

    text = os.fspath(uri)
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme == "s3":
        return s3_filesystem(), text.split("://", 1)[1].strip("/"), False
    if scheme in ("", "file"):
        path = text.split("://", 1)[1] if scheme else text
        return pafs.LocalFileSystem(), os.path.abspath(path), True
    raise UsageError(f"{text!r}: a store is a local folder, file://... or s3://bucket/prefix")
