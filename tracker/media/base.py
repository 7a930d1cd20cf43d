"""What every media type shares, and the encoder that writes media files off the training path.

At ``run.log`` a media object is *prepared* on the user's thread: its input is checked and copied
(a 256x256 image: ~0.1 ms), and it gets an id; the history value is a small JSON reference
(``{"_type": "image", "id": ..., "width": ...}``). Encoding (PNG, WAV, Parquet, ...) happens on the
run's encoder thread, which stores each file once by content under ``<run>/files/media/`` and
appends a row to the run's ``media`` stream (the index ``run.media()`` and ``tracker.sql`` read).
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class MediaError(ValueError):
    """A media object whose input cannot be stored; the message names type and shape."""


class Prepared:
    """A media object's data, checked and copied, waiting to be encoded."""

    def __init__(self, kind: str, meta: dict[str, Any],
                 encode: Callable[[], tuple[bytes, str] | list[tuple[bytes, str]]] | None,
                 nbytes: int = 0) -> None:
        self.kind = kind
        self.meta = meta          # cheap facts kept in the history value and the index
        self.encode = encode      # () -> (bytes, ext), or a list of them (the first is the main
        #                           file, the others are kept beside it); None: nothing to store
        self.nbytes = nbytes      # memory held until encoded (for backpressure)


class Media:
    """Base class of the media types: subclasses implement :meth:`_prepare`."""

    kind = "media"
    _tracker_media = True  # how run.log recognises media without importing this module (tracker.convert.is_media)

    def _prepare(self) -> Prepared:
        raise NotImplementedError

    def artifact_files(self) -> tuple[str, dict[str, Any], list[tuple[bytes, str]]]:
        """What ``Artifact.add(obj, name)`` stores: the kind, the facts (caption, size, ...) and the
        encoded files (the first is the main one, as logged). Media inside a Table's cells cannot be
        added this way (log the table, or add the cells one by one).

        Raises:
            MediaError: the input cannot be stored, or a table holds media cells.
        """

        def refuse(cell: Any) -> Any:
            raise MediaError(f"{type(self).__name__}: a table whose cells hold media ({type(cell).__name__}) "
                             "cannot be added to an artifact: add the media objects one by one")

        with_stored_cells(self, refuse)
        prepared = prepare(self)
        encoded = prepared.encode() if prepared.encode is not None else []
        files = encoded if isinstance(encoded, list) else [encoded]
        return prepared.kind, dict(prepared.meta), files


def prepare(media: Media) -> Prepared:
    """Check and copy a media object's input now (on the caller's thread), for encoding later.

    Whatever the input does while it is read (a ``__array__``, ``__len__`` or ``__float__`` that
    raises, an int too large for a float, a structure that contains itself), the failure is a
    :class:`MediaError` naming the media type and what went wrong.

    Raises:
        MediaError: the input cannot be stored; the message names type and shape.
    """
    from tracker.convert import describe_exception, type_name

    try:
        prepared = media._prepare()
    except MediaError:
        raise
    except Exception as exc:  # noqa: BLE001 - junk input may raise anything: it is this media's failure
        raise MediaError(f"{type_name(media)}: its input could not be read ({describe_exception(exc)})") from None
    if not isinstance(prepared, Prepared) or not isinstance(prepared.meta, dict):
        raise MediaError(f"{type_name(media)}._prepare() returned a {type_name(prepared)}, not a Prepared")
    return prepared


def with_stored_cells(media: Any, store: Callable[[Any], Any]) -> Any:
    """``media`` with the media objects it holds (a Table's cells) replaced by ``store(cell)``, the
    stored cell's reference; ``media`` itself when it holds none."""
    with_media = getattr(media, "_with_media", None)
    return media if with_media is None else with_media(store)


class MediaEncoder:
    """Encodes prepared media on one background thread; ``close()`` waits for all of it.

    Args:
        run_dir: the run's folder; files go to ``files/media/<kind>/<sha256>.<ext>`` in it.
        index: appends ``(step, time, {key: json_record})`` to the run's ``media`` stream.
        problem: reports a failure (``(kind, message)``), never raises into training.
        max_pending_bytes: beyond this much data waiting, ``submit`` encodes on the caller's thread.
    """

    def __init__(self, run_dir: str, index: Callable[[tuple[int, float, dict[str, Any]]], None],
                 problem: Callable[[Any, str], None], max_pending_bytes: int = 512 * 1024 * 1024) -> None:
        self.run_dir = run_dir
        self.index = index
        self.problem = problem
        self.max_pending_bytes = max_pending_bytes
        self.pending_bytes = 0
        self._lock = threading.Lock()
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None

    def submit(self, prepared: Prepared, key: str, step: int, time_: float, record: dict[str, Any]) -> None:
        job = (prepared, key, step, time_, record)
        with self._lock:
            inline = self.pending_bytes + prepared.nbytes > self.max_pending_bytes
            if not inline:
                self.pending_bytes += prepared.nbytes
        if inline:  # backpressure: the loop makes media faster than they are encoded
            self._encode(job)
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="tracker-media", daemon=True)
            self._thread.start()
        self._queue.put(job)

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                self._encode(job)
            finally:
                with self._lock:
                    self.pending_bytes -= job[0].nbytes

    def _encode(self, job: tuple[Prepared, str, int, float, dict[str, Any]]) -> None:
        prepared, key, step, time_, record = job
        try:
            if prepared.encode is not None:
                encoded = prepared.encode()
                files = encoded if isinstance(encoded, list) else [encoded]
                stored = [self._store(prepared.kind, data, ext) for data, ext in files]
                rel, digest, size = stored[0]
                record = {**record, "file": rel, "sha256": digest, "bytes": size}
                if len(stored) > 1:
                    record["also"] = {ext: s[0] for (_, ext), s in zip(files[1:], stored[1:], strict=True)}
            from tracker.store.codec import MediaText
            from tracker.store.layout import dumps

            self.index((step, time_, {key: MediaText(dumps(record))}))
        except Exception as exc:  # noqa: BLE001 - an encoder bug or a full disk: said, training goes on
            from tracker.convert import describe_exception

            self.problem(("media", key, type(exc).__name__),
                         f"could not store the {prepared.kind} logged as {key!r} at step {step}: "
                         f"{describe_exception(exc)}")

    def _store(self, kind: str, data: bytes, ext: str) -> tuple[str, str, int]:
        """Write ``data`` once by content; returns (path relative to the run, sha256, size)."""
        digest = hashlib.sha256(data).hexdigest()
        rel = f"files/media/{kind}/{digest}.{ext}"
        path = os.path.join(self.run_dir, rel)
        if not os.path.exists(path):  # the same content is stored once
            from tracker.store.layout import Publish

            os.makedirs(os.path.dirname(path), exist_ok=True)
            with Publish(path) as tmp, open(tmp, "wb") as fh:
                fh.write(data)
        return rel, digest, len(data)

    def close(self) -> None:
        """Wait until everything submitted is stored."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
