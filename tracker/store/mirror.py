"""Reading a store whose root is an object store: a local mirror kept up to date by listings.

A reader of ``s3://bucket/prefix`` reads a local folder laid out exactly like a store
(``<TRACKER_CACHE>/mirror/<hash of the URI>``, by default under the user cache directory) into which
:class:`Mirror` copies what the reader looks at, so every reader (the read API, ``tracker.sql``, the
panels, the CLI, the Jupyter endpoints) runs unchanged on local files. :class:`~tracker.store.query.Query`
calls the mirror before it reads:

- **Runs of a project**: a run's ``.changed`` marker names when its side files last changed
  (``<time_ns>.<run_id>``). One listing of ``<project>/.changed/`` says which runs changed; only their
  side files are fetched. Listings are incremental: they start after the newest marker seen (less
  :data:`SKEW`, for hosts whose clocks run behind), and a full listing every :data:`FULL_EVERY`
  seconds also finds runs that were deleted.
- **A stream's segments** (history, system metrics, console lines): segments and their pyramids are
  immutable (unique names), so each is fetched once and cached by name; a listing asks only for keys
  after the newest of each writer, so a live chart's refresh fetches only what is new. Segments
  merged away in the bucket are dropped from the mirror at the next full listing (a reader never
  counts a point twice meanwhile: a merged segment covers the ones it replaces).
- **A run's other files** (media, saved files, model trees, alerts, metadata): listed and fetched
  when a reader opens them; immutable names once, the rest when their ETag changed.

An unreachable bucket is reported once per root (a warning) and readers go on with what the mirror
holds.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
import warnings

from tracker.store import layout
from tracker.store.bucket import Bucket, Entry
from tracker.store.bucket import writes as bucket_writes
from tracker.store.spool import cache_home

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

#: Seconds of clock difference between hosts tolerated by incremental marker listings (a marker
#: is named by the uploader's clock when it reaches the bucket).
SKEW = 30.0
#: Seconds between full listings (which also see deletions and merges).
FULL_EVERY = 30.0
#: Seconds during which a refresh of the same thing is not repeated.
MIN_INTERVAL = 0.5
#: Downloads made at once.
PARALLEL = 16
_STREAMS = ("scalars", "system", "console")
#: A run's side files a run table reads (the rest come when the run is opened).
_SIDE = (layout.RUN_FILE, layout.STATUS_FILE, layout.SUMMARY_FILE)
#: Every side file of a run, and its alerts: what opening it fetches.
_RUN_FILES = (*layout.SIDE_FILES, layout.ALERTS_FILE)


def mirror_dir(uri: str) -> str:
    base = os.environ.get("TRACKER_CACHE") or os.path.join(cache_home(), "tracker")
    return os.path.join(base, "mirror", hashlib.sha1(uri.encode()).hexdigest()[:16])


class Mirror:
    """The local copy of an ``s3://`` store root that readers read (see the module)."""

    def __init__(self, uri: str) -> None:
        self.bucket = Bucket(uri)
        self.uri = self.bucket.uri
        self.root = mirror_dir(self.uri)
        os.makedirs(self.root, exist_ok=True)
        remote_file = os.path.join(self.root, ".remote")
        if not os.path.exists(remote_file):
            with open(remote_file, "w", encoding="utf-8") as fh:
                fh.write(self.uri + "\n")
        self._lock = threading.RLock()
        self._last: dict[Any, float] = {}  # what was refreshed -> when (monotonic)
        self._seen_writes: dict[Any, int] = {}  # what was refreshed -> this process's writes then
        self._full: dict[Any, float] = {}  # what was last listed whole -> when (Unix time)
        self._newest: dict[str, str] = {}  # project -> newest marker name seen
        self._state_file = os.path.join(self.root, ".mirror-state.json")
        state = layout.read_json(self._state_file) or {}
        if isinstance(state.get("newest"), dict) and isinstance(state.get("full"), dict):
            # what an earlier process of this host listed: a new process starts incremental too
            self._newest = {str(k): str(v) for k, v in state["newest"].items()}
            self._full = {("project", str(k)): float(v) for k, v in state["full"].items()}
        self._etags: dict[str, str] = {}  # key -> ETag of the copy in the mirror (mutable files)
        self._writers: dict[tuple[str, str, str], dict[str, str]] = {}  # stream -> writer -> last key
        self._warned = False
        self._pool: Any = None
        layout.set_publisher(self.root, self._publish)  # a reader's edits go to the bucket

    # --- the guard --------------------------------------------------------------------------------
    def _guard(self, what: Any, fn: Callable[[], Any], interval: float = MIN_INTERVAL) -> None:
        """Run one refresh unless the same one ran less than ``interval`` s ago; a failing bucket is
        warned about once and the mirror's copy is read."""
        now = time.monotonic()
        with self._lock:
            seen = bucket_writes(self.uri)
            if now - self._last.get(what, -1e9) < interval and self._seen_writes.get(what) == seen:
                return  # looked a moment ago, and this process wrote nothing to the bucket since
            self._last[what] = now
            self._seen_writes[what] = seen
            try:
                fn()
            except OSError:
                raise
            except Exception as exc:  # noqa: BLE001 - the client's errors: the bucket did not answer
                self._last[what] = now - interval + 2.0  # try again in 2 s, not at every read
                if not self._warned:
                    self._warned = True
                    from tracker.errors import TrackerWarning

                    warnings.warn(f"tracker: cannot read {self.uri} ({type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0][:300] if str(exc) else ''}); showing the copy "
                                  f"last read into {self.root}", TrackerWarning, stacklevel=4)

    def _due_full(self, what: Any) -> bool:
        return time.time() - self._full.get(what, -1e9) >= FULL_EVERY

    def _save_state(self) -> None:
        state = {"newest": self._newest,
                 "full": {k[1]: v for k, v in self._full.items() if isinstance(k, tuple) and k[0] == "project"}}
        try:
            layout.write_json_atomic(self._state_file, state)
        except OSError:
            pass  # a read-only cache: the next process lists in full

    def _fetch(self, keys: Iterable[str]) -> None:
        """Download objects into the mirror (several at once); one that vanished is skipped."""
        keys = list(keys)
        if not keys:
            return
        if len(keys) == 1:
            self._fetch_one(keys[0])
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(PARALLEL, thread_name_prefix="tracker-mirror")
        for _ in self._pool.map(self._fetch_one, keys):
            pass

    def _fetch_one(self, key: str) -> None:
        """Download one object unless the mirror's copy has its ETag already (a conditional GET)."""
        target = os.path.join(self.root, *key.split("/"))
        known = self._etags.get(key) if os.path.exists(target) else None
        got = self.bucket.fetch(key, unless_etag=known)
        if got is None:
            return
        data, self._etags[key] = got
        for _ in range(2):
            try:
                with layout.Publish(target) as tmp, open(tmp, "wb") as fh:
                    fh.write(data)
                return
            except FileNotFoundError:
                os.makedirs(os.path.dirname(target), exist_ok=True)

    def _wanted(self, entry: Entry) -> bool:
        """Whether a listed object must be fetched: missing from the mirror, or (a file that may
        change) listed with an ETag other than the copy's."""
        if not os.path.exists(os.path.join(self.root, *entry.key.split("/"))):
            return True
        return not layout.immutable(entry.key) and self._etags.get(entry.key) != entry.etag

    # --- projects and runs ------------------------------------------------------------------------
    def refresh_projects(self) -> None:
        def run() -> None:
            for name in self.bucket.folders(""):
                if not name.startswith((".", "_")):
                    os.makedirs(os.path.join(self.root, name), exist_ok=True)
        self._guard("projects", run, interval=2.0)

    def refresh_project(self, project: str) -> None:
        """Fetch the side files of the project's runs that changed since the last look."""
        self._guard(("project", project), lambda: self._refresh_project(project))

    def _refresh_project(self, project: str) -> None:
        prefix = f"{project}/{layout.CHANGES_DIR}"
        full = self._due_full(("project", project)) or project not in self._newest
        after = None
        if not full:
            cut = int(self._newest[project][:20]) - int(SKEW * 1e9)
            after = f"{prefix}/{max(cut, 0):020d}"
        entries = self.bucket.listing(prefix, after=after)
        remote: dict[str, str] = {}  # run -> newest marker
        for e in entries:
            name = e.key.rsplit("/", 1)[1]
            if name[:20].isdigit() and name[20:21] == ".":
                run_id = name[21:]
                if name > remote.get(run_id, ""):
                    remote[run_id] = name
        local_dir = os.path.join(self.root, project, layout.CHANGES_DIR)
        os.makedirs(local_dir, exist_ok=True)
        markers: dict[str, list[str]] = {}  # run -> its markers in the mirror (listed once)
        for n in os.listdir(local_dir):
            if n[:20].isdigit() and n[20:21] == ".":
                markers.setdefault(n[21:], []).append(n)
        have = {run_id: max(names) for run_id, names in markers.items()}
        changed = [r for r, n in remote.items() if n > have.get(r, "")]
        self._fetch(f"{project}/{r}/{f}" for r in changed for f in _SIDE)
        for run_id in changed:  # the marker after the files it announces
            for old in markers.pop(run_id, []):
                _unlink(os.path.join(local_dir, old))
            with open(os.path.join(local_dir, remote[run_id]), "wb"):
                pass
        if remote:
            self._newest[project] = max([self._newest.get(project, ""), *remote.values()])
        elif project not in self._newest:
            self._newest[project] = f"{0:020d}."
        if full:
            self._full[("project", project)] = time.time()
            runs: set[str] = set(self.bucket.folders(project))
            pdir = os.path.join(self.root, project)
            for name in os.listdir(pdir):
                if not name.startswith(".") and name not in runs and os.path.isdir(os.path.join(pdir, name)):
                    shutil.rmtree(os.path.join(pdir, name), ignore_errors=True)  # deleted from the bucket
                    for old in markers.pop(name, []):
                        _unlink(os.path.join(local_dir, old))
            unmarked = [r for r in runs if r not in remote and r not in have and not r.startswith(".")]
            self._fetch(f"{project}/{r}/{f}" for r in unmarked for f in _SIDE)  # a store without markers
        if full or changed:
            self._save_state()

    def refresh_run(self, project: str, run_id: str) -> None:
        """Fetch one run's side files now (a look-up by id)."""
        def run() -> None:
            self._fetch(f"{project}/{run_id}/{f}" for f in _RUN_FILES)
        self._guard(("run", project, run_id), run)

    # --- streams ----------------------------------------------------------------------------------
    def refresh_stream(self, project: str, run_id: str, stream: str) -> None:
        """Fetch the stream's segments (and pyramids) that the mirror does not hold yet."""
        self._guard(("stream", project, run_id, stream), lambda: self._refresh_stream(project, run_id, stream))

    def _refresh_stream(self, project: str, run_id: str, stream: str) -> None:
        what = (project, run_id, stream)
        prefix = f"{project}/{run_id}/{stream}"
        writers = self._writers.setdefault(what, {})
        full = self._due_full(what) or not writers
        after = None if full else min(writers.values())
        entries = self.bucket.listing(prefix, after=after)
        folder = os.path.join(self.root, project, run_id, stream)
        want = []
        for e in entries:
            rel = e.key[len(prefix) + 1:]
            name = rel.rsplit("/", 1)[-1]
            if name.startswith("."):
                continue  # a claim (a shared run's sequence block), not data
            parsed = layout.parse_segment(name)
            if parsed is not None and "/" not in rel:
                if e.key > writers.get(parsed[2], ""):
                    writers[parsed[2]] = e.key
            if self._wanted(e):
                want.append(e.key)
        self._fetch(want)
        if full:
            self._full[what] = time.time()
            present = {e.key[len(prefix) + 1:] for e in entries}
            for base, _, names in os.walk(folder):
                for n in names:
                    rel = os.path.relpath(os.path.join(base, n), folder).replace(os.sep, "/")
                    if rel not in present and not n.startswith("."):
                        _unlink(os.path.join(base, n))  # merged away in the bucket

    # --- everything else of a run -----------------------------------------------------------------
    def refresh_files(self, project: str, run_id: str) -> None:
        """Fetch a run's media, saved files and other files that are new or changed."""
        self._guard(("files", project, run_id), lambda: self._refresh_files(project, run_id), interval=2.0)

    def _refresh_files(self, project: str, run_id: str) -> None:
        prefix = f"{project}/{run_id}"
        want = []
        for e in self.bucket.listing(prefix):
            rel = e.key[len(prefix) + 1:]
            if rel.split("/", 1)[0] in _STREAMS or rel.rsplit("/", 1)[-1].startswith("."):
                continue  # segments: fetched when a stream is read; claims are not data
            if self._wanted(e):
                want.append(e.key)
        self._fetch(want)

    def refresh_prefix(self, prefix: str) -> None:
        """Fetch everything new or changed under a prefix (``_artifacts``: versions, aliases, objects)."""
        def run() -> None:
            self._fetch(e.key for e in self.bucket.listing(prefix) if self._wanted(e))
        self._guard(("prefix", prefix), run, interval=2.0)

    def publish_run_file(self, project: str, run_id: str, name: str) -> None:
        """Send a side file written in the mirror to the bucket, then a new change marker for the
        run (the mirror's own marker of it is the same name)."""
        with open(os.path.join(self.root, project, run_id, name), "rb") as fh:
            self.bucket.put(f"{project}/{run_id}/{name}", fh.read())
        folder = os.path.join(self.root, project, layout.CHANGES_DIR)
        mine = [n for n in os.listdir(folder) if n[21:] == run_id and n[:20].isdigit()]
        newest = max(mine, default=None)
        if newest is not None:
            self.bucket.put(f"{project}/{layout.CHANGES_DIR}/{newest}", b"")

    def _publish(self, key: str, data: bytes | None) -> None:
        """A file a reader wrote in the mirror (an artifact alias, a version's edits) to the bucket."""
        if data is None:
            self.bucket.delete(key)
        else:
            self.bucket.put(key, data)

    def put(self, key: str, data: bytes) -> None:
        """Write an object to the bucket and the mirror (a tag's colour set from a reader)."""
        self.bucket.put(key, data)
        target = os.path.join(self.root, *key.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with layout.Publish(target) as tmp, open(tmp, "wb") as fh:
            fh.write(data)

    def run_of(self, run_dir: str) -> tuple[str, str] | None:
        """``(project, run_id)`` of a run folder in the mirror (None for a folder elsewhere)."""
        rel = os.path.relpath(run_dir, self.root)
        parts = rel.split(os.sep)
        if len(parts) != 2 or parts[0].startswith((".", "_")) or rel.startswith(".."):
            return None
        return parts[0], parts[1]


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
