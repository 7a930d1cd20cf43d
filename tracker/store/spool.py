"""Writing a store whose root is an object store: a local spool and an uploader.

A process writing runs to ``s3://bucket/prefix`` writes them exactly as it would write a local store,
into a spool folder of its own (``<TRACKER_SPOOL>/<hash of the URI>/<host>-<pid>-<random>``, by
default under the user cache directory): segments are published there by rename, side files are
replaced whole. An :class:`Uploader` thread per run copies what is new to the bucket under the same
keys, off the logging path:

- segments, pyramids, media and artifact objects never change once written (unique names): each is
  uploaded once; run files and artifact versions when their size or time moved; side files
  (``run.json``, ``status.json``, ``summary.json``) are whole-object overwrites by the run's one
  writer, after the data they describe; the run's ``.changed`` marker last, so a reader that sees it
  finds everything it announces. An object appears in a listing only once whole: nothing a reader
  lists is partial, and no rename is needed.
- Segments merged away locally are deleted from the bucket after the merged one is there.
- An unreachable or failing bucket is reported once (a warning naming the bucket and the error);
  the run goes on writing to the spool, which holds everything until the bucket answers again; the
  uploader retries with a growing pause and catches up.
- At the end of a run the last pass runs in the foreground (up to ``upload_timeout`` seconds); when
  it succeeds the spool folder is removed.

A process that dies (``kill -9``, a lost node) leaves its spool folder behind with ``owner.json``
naming it; :func:`upload_leftovers` (``tracker sync`` with no arguments, and every ``init`` on that
host for the same bucket, in the background) uploads what such folders hold and removes them. Its
run's ``status.json`` still says ``running`` with its last heartbeat, so every reader, on any host,
derives ``crashed`` once the heartbeat is older than the timeout.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time

from tracker.store import layout
from tracker.store.bucket import Bucket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

OWNER_FILE = "owner.json"
_STREAMS = ("scalars", "system", "console", "media")


def cache_home() -> str:
    return os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")


def spool_base(uri: str) -> str:
    """The folder holding every process's spool for one bucket root."""
    base = os.environ.get("TRACKER_SPOOL") or os.path.join(cache_home(), "tracker", "spool")
    return os.path.join(base, hashlib.sha1(uri.encode()).hexdigest()[:16])


def new_spool(uri: str) -> str:
    """A fresh spool folder for this process (a local store root), with ``owner.json``."""
    folder = os.path.join(spool_base(uri), f"{layout.HOSTNAME}-{os.getpid()}-{os.urandom(3).hex()}")
    os.makedirs(folder, exist_ok=True)
    owner = {"uri": uri, "pid": os.getpid(), "pid_start": layout.process_start_ticks(os.getpid()),
             "host": layout.HOSTNAME, "created_at": time.time()}
    layout.write_json_atomic(os.path.join(folder, OWNER_FILE), owner)
    return folder


def _walk(root: str, top: str) -> dict[str, tuple[int, int]]:
    """``{key: (size, mtime_ns)}`` of the files under ``root/top`` (hidden and temporary ones left out)."""
    out: dict[str, tuple[int, int]] = {}
    base = os.path.join(root, top)
    for folder, dirs, names in os.walk(base):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel_folder = os.path.relpath(folder, root).replace(os.sep, "/")
        for n in names:
            if n.startswith(".") or n.endswith(".tmp") or n.endswith(".claim"):
                continue
            try:
                st = os.stat(os.path.join(folder, n))
            except OSError:
                continue
            out[f"{rel_folder}/{n}"] = (st.st_size, st.st_mtime_ns)
    return out


class Uploader:
    """Copies one run's new files from a spool to the bucket (see the module)."""

    def __init__(self, spool: str, bucket: Bucket, project: str, run_id: str, *,
                 interval: float = 2.0, problem: Callable[[str], None] | None = None) -> None:
        self.spool = spool
        self.bucket = bucket
        self.project = project
        self.run_id = run_id
        self.interval = interval
        self._problem = problem
        self._sent: dict[str, tuple[int, int]] = {}
        self._marker: str | None = None  # the run's change marker this uploader published last
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one pass at a time
        #: Failures since the last pass that got through (the bucket unreachable).
        self.failing = 0
        self.last_error: str | None = None
        self.uploaded_files = 0
        self.uploaded_bytes = 0
        self.started = False

    # --- the thread -------------------------------------------------------------------------------
    def start(self) -> None:
        self.started = True
        self._wake.set()  # a first pass at once: the run shows in the bucket as soon as it starts
        self._thread = threading.Thread(target=self._loop, name=f"tracker-upload-{self.run_id}", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Ask for a pass now (after a flush)."""
        self._wake.set()

    def _loop(self) -> None:
        pause = self.interval
        while not self._stop.is_set():
            self._wake.wait(pause)
            self._wake.clear()
            if self._stop.is_set():
                break
            pause = self.interval if self.pass_once() else min(30.0, max(pause, self.interval) * 2)

    def close(self, timeout: float = 60.0) -> bool:
        """Stop the thread and upload what is left (retrying for up to ``timeout`` seconds); True
        when everything is in the bucket (the spool's run folder is then removed)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=max(1.0, timeout))
        deadline = time.monotonic() + timeout
        pause = 0.2
        while True:
            if self.pass_once():
                self._forget_run()
                return True
            if time.monotonic() + pause > deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 5.0)

    # --- one pass ---------------------------------------------------------------------------------
    def pending(self) -> dict[str, tuple[int, int]]:
        """The files of the run in the spool that are not in the bucket as they are now."""
        return {k: v for k, v in self._local().items() if self._sent.get(k) != v}

    def _local(self) -> dict[str, tuple[int, int]]:
        files = _walk(self.spool, f"{self.project}/{self.run_id}")
        files.update(_walk(self.spool, "_artifacts"))
        store_file = os.path.join(self.spool, "tracker-store.json")
        if os.path.exists(store_file):
            st = os.stat(store_file)
            files["tracker-store.json"] = (st.st_size, st.st_mtime_ns)
        markers = os.path.join(self.spool, self.project, layout.CHANGES_DIR)
        try:
            names = os.listdir(markers)
        except OSError:
            names = []
        for n in names:
            if n[21:] == self.run_id and n[:20].isdigit():
                files[f"{self.project}/{layout.CHANGES_DIR}/{n}"] = (0, 0)
        return files

    def pass_once(self) -> bool:
        """Upload what is new, then remove from the bucket what was merged away; True when the
        bucket took everything (False: it failed, reported once, retried later)."""
        with self._lock:
            try:
                self._pass()
            except Exception as exc:  # noqa: BLE001 - any client error: the bucket is not taking writes
                self.failing += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                if self._problem is not None and self.failing == 1:
                    self._problem(
                        f"cannot upload to {self.bucket.uri} ({self.last_error.splitlines()[0][:300]}); the run "
                        f"goes on in the local spool {self.spool} and is uploaded when the bucket answers again")
                return False
            self.failing = 0
            return True

    def _pass(self) -> None:
        local = self._local()
        todo = sorted((layout.copy_order(k), k) for k, v in local.items() if self._sent.get(k) != v)
        marker_prefix = f"{self.project}/{layout.CHANGES_DIR}/"
        for _, key in todo:
            path = os.path.join(self.spool, *key.split("/"))
            if key.startswith(marker_prefix):
                # the marker is named by the time it reaches the bucket, not the time it was made
                # locally: a reader listing the markers after the newest it saw (less the clock
                # skew) finds one published late (after an outage) all the same
                published = f"{marker_prefix}{time.time_ns():020d}.{self.run_id}"
                self.bucket.put(published, b"")
                if self._marker is not None:
                    self.bucket.delete(self._marker)
                self._marker = published
                self._sent[key] = local[key]
                continue
            if key.startswith("_artifacts/collections/") and key.endswith(".json") and "/versions/v" in key:
                if key not in self._sent and not self._claim_version(key, path):
                    self._sent[key] = local[key]
                    continue
            if key.startswith("_artifacts/objects/") and key not in self._sent:
                there = self.bucket.head(key)  # content-addressed: the same name is the same bytes
                if there is not None and there.size == local[key][0]:
                    self._sent[key] = local[key]
                    continue
            try:
                size = self.bucket.put_file(key, path)
            except FileNotFoundError:
                continue  # merged away (or replaced) since the listing: the next pass sees why
            self._sent[key] = local[key]
            self.uploaded_files += 1
            self.uploaded_bytes += size
        gone = [k for k in self._sent if k not in local]
        for key in sorted(gone, key=layout.copy_order):
            parts = key.split("/")
            stream_file = len(parts) >= 4 and parts[2] in _STREAMS
            alias = key.startswith("_artifacts/collections/") and "/aliases/" in key
            if stream_file or alias:
                self.bucket.delete(key)  # a segment merged into one uploaded above; an alias removed
            del self._sent[key]

    def _claim_version(self, key: str, path: str) -> bool:
        """Publish an artifact version only if no other process published that number."""
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            return False
        if self.bucket.create(key, data):
            return True
        if self.bucket.get(key) == data:
            return True
        if self._problem is not None:
            self._problem(f"artifact version {key} was already published to {self.bucket.uri} by another "
                          f"process; this process's copy stays in {self.spool}")
        return False

    def assume_uploaded(self) -> None:
        """Count the files now in the spool as in the bucket (a run just pulled from it)."""
        self._sent.update(self._local())

    def _forget_run(self) -> None:
        """Remove the run's spool folder (one per run) once the bucket holds all of it."""
        shutil.rmtree(self.spool, ignore_errors=True)


def _owner_gone(folder: str) -> bool:
    owner = layout.read_json(os.path.join(folder, OWNER_FILE))
    if owner is None:
        return False  # being made
    if owner.get("host") != layout.HOSTNAME:
        return False  # another host's folder (a shared cache): its own host uploads it
    pid = owner.get("pid")
    if not isinstance(pid, int):
        return True
    alive = layout.process_alive(pid, owner.get("pid_start"))
    return alive is False


def upload_leftovers(uri: str, progress: bool = False) -> list[str]:
    """Upload what processes that died left in their spools for ``uri``, and remove those spools;
    returns the runs (``project/run_id``) uploaded. Spools of live processes are left alone."""
    base = spool_base(uri)
    try:
        folders = sorted(os.path.join(base, n) for n in os.listdir(base))
    except OSError:
        return []
    bucket = Bucket(uri)
    done: list[str] = []
    for folder in folders:
        if not os.path.isdir(folder) or not _owner_gone(folder):
            continue
        runs = []
        for project in sorted(os.listdir(folder)):
            pdir = os.path.join(folder, project)
            if project.startswith((".", "_")) or not os.path.isdir(pdir):
                continue
            runs += [(project, r) for r in sorted(os.listdir(pdir))
                     if not r.startswith(".") and os.path.isdir(os.path.join(pdir, r))]
        ok = True
        for project, run_id in runs:
            up = Uploader(folder, bucket, project, run_id)  # knows nothing: uploads every file again
            if up.pass_once():
                prune_merged(bucket, folder, project, run_id)
                done.append(f"{project}/{run_id}")
            else:
                ok = False
        if ok:
            shutil.rmtree(folder, ignore_errors=True)
    return done


def prune_merged(bucket: Bucket, spool: str, project: str, run_id: str) -> int:
    """Delete from the bucket the segments of a run that a merged segment covers (a process that
    died between uploading a merge and deleting what it replaced); returns how many."""
    removed = 0
    for stream in _STREAMS:
        keys = [e.key for e in bucket.listing(f"{project}/{run_id}/{stream}")]
        names = [k.rsplit("/", 1)[1] for k in keys if k.count("/") == 3]
        live = set(layout.live_segments(names))
        for k in keys:
            n = k.rsplit("/", 1)[1]
            if k.count("/") == 3 and layout.parse_segment(n) is not None and n not in live:
                bucket.delete(k)
                removed += 1
    return removed


def pull_run(bucket: Bucket, project: str, run_id: str, spool: str) -> bool:
    """Copy a run's folder from the bucket into a spool (to resume it, or fork or rewind from it);
    False when the bucket has no such run."""
    entries = bucket.listing(f"{project}/{run_id}")
    if not any(e.key == f"{project}/{run_id}/{layout.RUN_FILE}" for e in entries):
        return False
    for e in entries:
        target = os.path.join(spool, *e.key.split("/"))
        data = bucket.get(e.key)
        if data is None:
            continue  # merged away meanwhile
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with layout.Publish(target) as tmp, open(tmp, "wb") as fh:
            fh.write(data)
    return True


def claim_run(bucket: Bucket, project: str, run_id: str, record: dict[str, Any]) -> bool:
    """Claim a new run's id in the bucket: create ``<project>/<run_id>/.claim`` (who and when) only if
    no process did; False when one did (that id is taken)."""
    return bucket.create(f"{project}/{run_id}/.claim", layout.dumps({**record, "at": time.time()}).encode())
