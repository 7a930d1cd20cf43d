"""The object-store client behind a store whose root is ``s3://bucket/prefix``.

tracker talks to the bucket through `obstore <https://developmentseed.org/obstore/>`_ (the Rust
``object_store`` crate): it does what a store needs and ``pyarrow.fs`` does not, namely conditional
writes (``If-None-Match: *``, :meth:`Bucket.create`) for names that must be claimed once and
listings that start after a key (``StartAfter``, :meth:`Bucket.list`) so a reader asks only for
what is new. It is one small wheel with no dependencies, releases the GIL and retries on its own
(bounded here: an unreachable bucket is reported within seconds, not minutes). Why not the others:
docs/architecture.md, "The object-store client".

Settings are the standard AWS ones: credentials from the environment (``AWS_ACCESS_KEY_ID``, ...)
or, with boto3 installed, from a profile (``AWS_PROFILE``, ``~/.aws``); the endpoint from
``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` (MinIO, Ceph, R2, a local server); the region from
``AWS_REGION`` / ``AWS_DEFAULT_REGION``.
"""

from __future__ import annotations

import os
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def is_uri(root: str | os.PathLike[str]) -> bool:
    """True for a store root given as ``s3://...``."""
    return os.fspath(root).lower().startswith("s3://")


def split_uri(uri: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket/prefix`` (the prefix without slashes at its ends)."""
    from tracker.errors import UsageError

    rest = uri.split("://", 1)[1] if "://" in uri else uri
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise UsageError(f"{uri!r}: an object-store root is written s3://bucket/prefix")
    return bucket, prefix.strip("/")


def normalize(uri: str) -> str:
    """The canonical spelling of an ``s3://`` root (no trailing slash)."""
    bucket, prefix = split_uri(uri)
    return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"


class Entry:
    """One object of a listing: its key (relative to the root), size and ETag."""

    __slots__ = ("etag", "key", "size")

    def __init__(self, key: str, size: int, etag: str) -> None:
        self.key, self.size, self.etag = key, size, etag

    def __repr__(self) -> str:
        return f"Entry({self.key!r}, {self.size}, {self.etag!r})"


#: Writes made by this process per root URI: a reader of the same process that sees the count move
#: looks again at once instead of waiting out its refresh interval (it reads its own writes).
_writes: dict[str, int] = {}


def writes(uri: str) -> int:
    """How many writes this process made to the root ``uri`` so far."""
    return _writes.get(uri, 0)


class Bucket:
    """A store root in an object store: keys are relative to the root's prefix. Thread-safe."""

    #: Seconds an attempt may take before it counts as failed (connect and request).
    TIMEOUT = 10.0

    def __init__(self, uri: str) -> None:
        self.uri = normalize(uri)
        self.bucket, self.prefix = split_uri(self.uri)
        self._store: Any = None
        self._lock = threading.Lock()
        #: Requests made, by kind (what a benchmark or a test counts).
        self.requests: dict[str, int] = {"get": 0, "put": 0, "list": 0, "delete": 0, "head": 0}
        self.bytes_in = 0
        self.bytes_out = 0

    def _client(self) -> Any:
        with self._lock:
            if self._store is None:
                self._store = _make_store(self.bucket, self.prefix, self.TIMEOUT)
            return self._store

    def _count(self, kind: str, n: int = 1) -> None:
        self.requests[kind] = self.requests.get(kind, 0) + n
        if kind in ("put", "delete"):
            _writes[self.uri] = _writes.get(self.uri, 0) + n

    # --- objects ----------------------------------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        """An object's bytes, or None when there is none."""
        got = self.fetch(key)
        return None if got is None else got[0]

    def fetch(self, key: str, unless_etag: str | None = None) -> tuple[bytes, str] | None:
        """An object's bytes and ETag, or None when there is none; with ``unless_etag``, None also
        when its ETag is that one (``If-None-Match``: the server sends no bytes)."""
        import obstore
        from obstore.exceptions import NotFoundError, NotModifiedError

        self._count("get")
        try:
            result = obstore.get(self._client(), key,
                                 options={"if_none_match": unless_etag} if unless_etag else None)
            data = bytes(result.bytes())
        except (NotFoundError, FileNotFoundError, NotModifiedError):
            return None
        self.bytes_in += len(data)
        return data, str(result.meta.get("e_tag") or "")

    def head(self, key: str) -> Entry | None:
        import obstore
        from obstore.exceptions import NotFoundError

        self._count("head")
        try:
            meta = obstore.head(self._client(), key)
        except (NotFoundError, FileNotFoundError):
            return None
        return Entry(key, int(meta["size"]), str(meta.get("e_tag") or ""))

    def put(self, key: str, data: bytes) -> None:
        """Write an object whole (readers see the old one or the new one, never a part)."""
        import obstore

        self._count("put")
        obstore.put(self._client(), key, data)
        self.bytes_out += len(data)

    def create(self, key: str, data: bytes) -> bool:
        """Write an object only if no object has that key (``If-None-Match: *``); False when one has."""
        import obstore
        from obstore.exceptions import AlreadyExistsError, PreconditionError

        self._count("put")
        try:
            obstore.put(self._client(), key, data, mode="create")
        except (AlreadyExistsError, PreconditionError, FileExistsError):
            return False
        self.bytes_out += len(data)
        return True

    def put_file(self, key: str, path: str) -> int:
        """Upload a local file whole; returns its size."""
        with open(path, "rb") as fh:
            data = fh.read()
        self.put(key, data)
        return len(data)

    def delete(self, key: str) -> None:
        import obstore
        from obstore.exceptions import NotFoundError

        self._count("delete")
        try:
            obstore.delete(self._client(), key)
        except (NotFoundError, FileNotFoundError):
            pass

    # --- listing ----------------------------------------------------------------------------------
    def listing(self, prefix: str, after: str | None = None) -> list[Entry]:
        """Every object under ``prefix/`` (recursively), by key; with ``after``, only keys sorting
        after it (``StartAfter``: a reader asks for what is new)."""
        import obstore

        pre = prefix.strip("/")
        kwargs: dict[str, Any] = {}
        if after:
            kwargs["offset"] = after
        out: list[Entry] = []
        stream = obstore.list(self._client(), pre + "/" if pre else None, chunk_size=1000, **kwargs)
        for chunk in stream:
            self._count("list")
            for m in chunk:
                out.append(Entry(str(m["path"]), int(m["size"]), str(m.get("e_tag") or "")))
        if not out:
            self._count("list")
        return out

    def folders(self, prefix: str = "") -> list[str]:
        """The names of the "folders" right under ``prefix`` (common prefixes)."""
        import obstore

        pre = prefix.strip("/")
        self._count("list")
        res = obstore.list_with_delimiter(self._client(), pre + "/" if pre else None)
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in res["common_prefixes"])


def aws_endpoint_and_region() -> tuple[str | None, str | None]:
    """The S3 endpoint (``AWS_ENDPOINT_URL_S3``, else ``AWS_ENDPOINT_URL``) and region
    (``AWS_REGION``, else ``AWS_DEFAULT_REGION``) from the environment, each None when unset."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return endpoint or None, region or None


def _make_store(bucket: str, prefix: str, timeout: float) -> Any:
    from datetime import timedelta
    from urllib.parse import urlparse

    from obstore.store import S3Store

    config: Any = {}
    endpoint, region = aws_endpoint_and_region()
    if endpoint:
        config["endpoint"] = endpoint.rstrip("/")
    if region:
        config["region"] = region
    client: Any = {"timeout": timedelta(seconds=timeout),
                              "connect_timeout": timedelta(seconds=min(timeout, 5.0))}
    if endpoint and urlparse(endpoint).scheme == "http":
        client["allow_http"] = True
    retry: Any = {"max_retries": 3, "retry_timeout": timedelta(seconds=timeout),
             "backoff": {"init_backoff": timedelta(milliseconds=100), "max_backoff": timedelta(seconds=2),
                         "base": 2.0}}
    kwargs: dict[str, Any] = {}
    if os.environ.get("AWS_PROFILE") and not os.environ.get("AWS_ACCESS_KEY_ID"):
        try:
            import boto3
            from obstore.auth.boto3 import Boto3CredentialProvider

            kwargs["credential_provider"] = Boto3CredentialProvider(boto3.Session())
        except ImportError:
            pass  # environment credentials only
    return S3Store(bucket, prefix=prefix or None, config=config, client_options=client,
                   retry_config=retry, **kwargs)


def missing_client_message() -> str:
    return ("an s3:// store needs the obstore package: pip install 'tracker[s3]' "
            "(or pip install obstore)")
