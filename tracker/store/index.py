"""Run documents and the runs index.

A :class:`RunDoc` is one run as readers see it: ``run.json`` (identity, config, tags, notes,
context), ``status.json`` (state, pid, heartbeat, last step) and ``summary.json``, read together,
with the state derived (a dead writer reads as ``crashed``).

The runs index keeps a table of 10,000 runs from costing 30,000 file reads per call. Every writer
republishes ``<project>/.changed/<run_id>.<time_ns>`` after writing a side file: when neither the
project folder nor ``.changed`` moved, nothing changed (two ``stat`` calls); otherwise the markers'
names tell which runs changed and when, and only those are read again. A run without a marker
(written before markers existed) is checked by its folder's mtime, since every side file is
replaced by a rename inside the folder. The index is kept in memory per process and persisted as
Parquet files under ``<root>/.index/<project>/`` (``runs-<time>-<random>.parquet``: id, when it
last changed, and the three JSON texts), so a fresh process starts from it instead of from every file.
Each update adds a small file of the changed runs; past :data:`MAX_FILES` files, they are merged
into one (like segments: a reader that finds a file gone lists again). It is a cache: deleting
``.index`` loses nothing, and a store it cannot be written to (read-only) is read without it.
"""

from __future__ import annotations

import os
import threading
import time

from tracker import _json
from tracker.errors import SchemaError
from tracker.store import layout
from tracker.store.states import derive_state, is_live

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

INDEX_DIR = ".index"
#: Index files of a project before they are merged into one.
MAX_FILES = 8
#: A folder changed this recently (ns) is read again even if its mtime looks unchanged: file
#: systems with coarse timestamps can hide a second change within one tick.
_RECENT_NS = 2_000_000_000
#: The fields of a run table, in order (then ``config.*`` and ``summary.*``).
FIXED_FIELDS = (
    "project", "id", "name", "state", "created_at", "heartbeat_at", "duration", "tags", "notes",
    "group", "job_type", "host", "user", "last_step", "alerts",
)


class RunDoc:
    """One run's side files read together: ``record`` (run.json), ``status`` and ``summary``."""

    __slots__ = ("project", "id", "dir", "record", "status", "summary", "changed_ns", "texts", "_fields", "_flat")

    def __init__(self, project: str, run_id: str, run_dir: str, record: dict[str, Any], status: dict[str, Any],
                 summary: dict[str, Any], changed_ns: int = 0) -> None:
        self.project = project
        self.id = run_id
        self.dir = run_dir
        self.record = record
        self.status = status
        self.summary = summary
        self.changed_ns = changed_ns
        #: The JSON texts the document was parsed from (run, status, summary), when known.
        self.texts: tuple[str | None, str | None, str | None] | None = None
        self._fields: dict[str, Any] | None = None
        self._flat: dict[str, Any] | None = None

    @property
    def written_state(self) -> str:
        return str(self.status.get("state") or "running")

    @property
    def state(self) -> str:
        """running, finished, failed, crashed, killed, preempting or preempted (derived now)."""
        return derive_state(self.status)

    @property
    def created_at(self) -> float:
        return float(self.record.get("created_at") or 0.0)

    def fields(self) -> dict[str, Any]:
        """The run table's fixed fields plus ``config`` and ``summary`` (nested dicts), as of now
        (a live run's state and duration are worked out at each call; an ended run's once)."""
        if self._fields is not None:
            return self._fields
        rec, st = self.record, self.status
        state = self.state
        created = self.created_at
        beat = st.get("heartbeat_at")
        end = st.get("finished_at")
        if not isinstance(end, (int, float)):
            end = time.time() if is_live(state) else beat
        step = st.get("last_step")
        out = {
            "project": str(rec.get("project") or self.project),
            "id": str(rec.get("id") or self.id),
            "name": str(rec.get("name") or rec.get("id") or self.id),
            "state": state,
            "created_at": created,
            "heartbeat_at": float(beat) if isinstance(beat, (int, float)) else None,
            "duration": max(0.0, float(end or created) - created),
            "tags": list(rec.get("tags") or []),
            "notes": rec.get("notes"),
            "group": rec.get("group"),
            "job_type": rec.get("job_type"),
            "host": rec.get("host"),
            "user": rec.get("user"),
            "last_step": step if isinstance(step, int) and step >= 0 else None,
            "alerts": _alert_count(st.get("alerts")),
            "config": rec.get("config") or {},
            "summary": self.summary,
        }
        if not is_live(state):
            self._fields = out
        return out

    def flat(self) -> dict[str, Any]:
        """One flat row: the fixed fields, then ``config.<dotted key>`` and ``summary.<dotted key>``."""
        if self._flat is not None:
            return self._flat
        f = self.fields()
        out = {k: f[k] for k in FIXED_FIELDS}
        flatten("config.", f["config"], out)
        flatten("summary.", f["summary"], out)
        if self._fields is not None:  # an ended run: cache it too
            self._flat = out
        return out


def flatten(prefix: str, d: Any, out: dict[str, Any]) -> dict[str, Any]:
    """Nested dicts as dotted keys (``prefix`` + ``a.b``); a media reference (``{"_type": ...}``)
    stays one value. Returns ``out``."""
    for k, v in d.items():
        if isinstance(v, dict) and v and "_type" not in v:
            flatten(f"{prefix}{k}.", v, out)
        else:
            out[f"{prefix}{k}"] = v
    return out


def _alert_count(status_alerts: Any) -> int:
    """The number of alerts a run raised (``status.json``'s ``alerts``; 0 for none, or an older run)."""
    count = status_alerts.get("count") if isinstance(status_alerts, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else 0


def _read_text(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _parse(text: str | None, floats: bool = False) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        data = _json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if floats and ('"NaN"' in text or 'Infinity"' in text):
        data = layout.decode_floats(data)
    return data


def doc_from_texts(project: str, run_id: str, run_dir: str, texts: tuple[str | None, str | None, str | None],
                   changed_ns: int = 0) -> RunDoc | None:
    """A document from the three JSON texts (run, status, summary); None without a valid run.json.

    Raises:
        SchemaError: the run was written by a newer tracker.
    """
    record = _parse(texts[0])
    if record is None:
        return None
    layout.check_schema(record, os.path.join(run_dir, layout.RUN_FILE))
    doc = RunDoc(project, run_id, run_dir, record, _parse(texts[1]) or {}, _parse(texts[2], floats=True) or {},
                 changed_ns)
    doc.texts = texts
    return doc


class RunsIndex:
    """The runs of every project of a root, kept up to date by folder modification times."""

    def __init__(self, root: str, retry: Callable[..., Any]) -> None:
        self.root = root
        self._retry = retry
        self._projects: dict[str, ProjectIndex] = {}
        self._lock = threading.Lock()

    def projects(self) -> list[str]:
        try:
            entries = os.scandir(self.root)
        except FileNotFoundError:
            return []
        with entries:
            return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith((".", "_")))

    def project(self, name: str) -> ProjectIndex:
        with self._lock:
            p = self._projects.get(name)
            if p is None:
                p = self._projects[name] = ProjectIndex(self.root, name, self._retry)
            return p

    def read_project(self, project: str) -> list[RunDoc]:
        """Every run of a project read now from its files, without the index (a writer's look-up
        at ``init``: no Parquet, nothing written)."""
        folder = os.path.join(self.root, project)
        try:
            entries = os.scandir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return []
        with entries:
            ids = sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))
        return [d for d in (self.read_doc(project, i) for i in ids) if d is not None]

    def read_doc(self, project: str, run_id: str) -> RunDoc | None:
        """One run read now from its files (not from the index)."""
        run_dir = os.path.join(self.root, project, run_id)
        try:
            mtime = os.stat(run_dir).st_mtime_ns
        except OSError:
            return None
        return read_doc(project, run_id, run_dir, mtime)

    def note_change(self, project: str, run_id: str) -> None:
        """Say that a run's side files were rewritten (see :func:`tracker.store.layout.note_change`)."""
        layout.note_change(self.root, project, run_id)


def read_doc(project: str, run_id: str, run_dir: str, changed_ns: int = 0) -> RunDoc | None:
    texts = (_read_text(os.path.join(run_dir, layout.RUN_FILE)),
             _read_text(os.path.join(run_dir, layout.STATUS_FILE)),
             _read_text(os.path.join(run_dir, layout.SUMMARY_FILE)))
    return doc_from_texts(project, run_id, run_dir, texts, changed_ns)


class ProjectIndex:
    """The runs of one project."""

    def __init__(self, root: str, project: str, retry: Callable[..., Any]) -> None:
        self.root = root
        self.project = project
        self.dir = os.path.join(root, project)
        self.index_dir = os.path.join(root, INDEX_DIR, project)  # not in the project folder: writing
        # it must not move the project folder's mtime
        self._retry = retry
        self._docs: dict[str, RunDoc] = {}
        self._loaded = False
        self._lock = threading.RLock()
        self._dead_seen: dict[str, float] = {}
        self._seen_stamp: tuple[int, int] | None = None
        self._seen_project: int | None = None
        self._marked: dict[str, int] = {}  # run -> its newest marker seen
        self._last_marker = 0
        self._ids: list[str] | None = None
        #: Incremented whenever a run is added, changed or removed.
        self.version = 0

    # --- reading ----------------------------------------------------------------------------------
    def docs(self) -> list[RunDoc]:
        """Every run of the project, by id, up to date."""
        with self._lock:
            self.refresh()
            return [self._docs[k] for k in sorted(self._docs)]

    def count(self) -> int:
        """How many runs the index holds now (as of its last refresh; no file is read)."""
        with self._lock:
            return len(self._docs)

    def changed_since(self, since: float) -> list[RunDoc]:
        """Runs changed after ``since``: their files, or their derived state (a writer found dead)."""
        with self._lock:
            self.refresh()
            cut = int(since * 1e9)
            out = []
            now = time.time()
            for run_id in sorted(self._docs):
                doc = self._docs[run_id]
                if doc.changed_ns > cut:
                    out.append(doc)
                    continue
                if is_live(doc.written_state) and not is_live(doc.state):
                    seen = self._dead_seen.setdefault(run_id, now)  # the first time it was found dead
                    if seen >= since:
                        out.append(doc)
            return out

    def refresh(self) -> None:
        """Bring the index up to date. Nothing is read when neither the project folder nor its
        ``.changed`` folder moved; otherwise the ``.changed`` markers' names say which runs changed
        (a run without a marker, written before markers existed, by one ``stat`` of its folder),
        and only those runs' files are read."""
        with self._lock:
            if not self._loaded:
                self._load()
                self._loaded = True
            stamp = self._stamp()
            if stamp is not None and stamp == self._seen_stamp:
                return  # no run was added, removed or changed since the last look
            project_mtime = self._trusted_mtime(self.dir)
            if project_mtime is not None and project_mtime == self._seen_project and self._ids is not None:
                ids = self._ids  # no run folder added or removed: only markers to look at
            else:
                try:
                    with os.scandir(self.dir) as entries:
                        ids = [e.name for e in entries if not e.name.startswith(".") and e.is_dir()]
                except (FileNotFoundError, NotADirectoryError):
                    if self._docs:
                        self._docs.clear()
                        self.version += 1
                    return
                self._ids = ids
                self._seen_project = project_mtime
            fresh = layout.read_changes(self.root, self.project, self._last_marker)
            if fresh is None:
                fresh = {}
            self._marked.update(fresh)
            self._last_marker = max(fresh.values(), default=self._last_marker)
            recent = time.time_ns() - _RECENT_NS
            changed: list[str] = []
            # runs whose marker moved, runs the index does not hold, and runs without a marker
            look = set(fresh) | {k for k in ids if k not in self._docs or k not in self._marked}
            present = set(ids)
            for run_id in sorted(look):
                if run_id not in present:
                    continue
                doc = self._docs.get(run_id)
                when = self._marked.get(run_id)
                if when is not None:
                    if doc is not None and doc.changed_ns >= when:
                        continue
                else:  # no marker: its folder's mtime (every side file is renamed into it)
                    try:
                        when = os.stat(os.path.join(self.dir, run_id)).st_mtime_ns
                    except OSError:
                        continue
                    if doc is not None and doc.changed_ns == when and when <= recent:
                        continue
                new = read_doc(self.project, run_id, os.path.join(self.dir, run_id), when)
                if new is None:
                    if doc is not None:
                        del self._docs[run_id]
                        changed.append(run_id)
                    continue
                if doc is None or doc.texts != new.texts:
                    changed.append(run_id)
                elif doc.changed_ns == when:
                    continue
                self._docs[run_id] = new
            gone = [k for k in self._docs if k not in present]
            for run_id in gone:
                del self._docs[run_id]
            if changed or gone:
                self.version += 1
                self._persist([k for k in changed if k in self._docs])
            self._seen_stamp = stamp

    @staticmethod
    def _trusted_mtime(path: str) -> int | None:
        """A folder's mtime, or None when it is missing or too recent to trust."""
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            return None
        return None if mtime > time.time_ns() - _RECENT_NS else mtime

    def _stamp(self) -> tuple[int, int] | None:
        """The mtimes of the project folder (runs added or removed) and of its ``.changed`` folder
        (a run's side files rewritten); None when they cannot be trusted: no ``.changed`` folder
        (a store written before it existed), or a change too recent for a coarse clock."""
        try:
            changes = os.stat(os.path.join(self.dir, layout.CHANGES_DIR)).st_mtime_ns
            project = os.stat(self.dir).st_mtime_ns
        except OSError:
            return None
        if max(changes, project) > time.time_ns() - _RECENT_NS:
            return None
        return changes, project

    # --- persistence ------------------------------------------------------------------------------
    def _files(self) -> list[str]:
        try:
            names = os.listdir(self.index_dir)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(os.path.join(self.index_dir, n) for n in names
                      if n.startswith("runs-") and n.endswith(".parquet"))

    def _load(self) -> None:
        """Start from the persisted index (the newest row of each run wins)."""
        import pyarrow.parquet as pq

        def read() -> list[Any]:
            return [pq.read_table(f) for f in self._files()]

        try:
            tables = self._retry(read, self.index_dir)
        except (OSError, ValueError):  # unreadable index: rebuilt from the runs' files
            return
        best: dict[str, tuple[int, tuple[Any, Any, Any]]] = {}
        for t in tables:
            cols = [t.column(c).to_pylist() for c in ("id", "changed_ns", "run", "status", "summary")]
            for run_id, mtime, run, status, summary in zip(*cols, strict=True):
                if run_id not in best or mtime >= best[run_id][0]:
                    best[run_id] = (mtime, (run, status, summary))
        for run_id, (mtime, texts) in best.items():
            try:
                doc = doc_from_texts(self.project, run_id, os.path.join(self.dir, run_id), texts, mtime)
            except SchemaError:
                continue  # a newer tracker wrote it: read (and refused) from its files
            if doc is not None:
                self._docs[run_id] = doc

    def _persist(self, changed: list[str]) -> None:
        """Add a file of the changed runs; merge the files when there are too many. A store that
        cannot be written is read without a persisted index."""
        try:
            files = self._files()
            if not files or len(files) >= MAX_FILES:
                self._write(sorted(self._docs), files)
            elif changed:
                self._write(changed, [])
        except OSError:
            pass

    def _write(self, ids: list[str], replaces: list[str]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        os.makedirs(self.index_dir, exist_ok=True)
        rows = [(k, self._docs[k].changed_ns, *(self._docs[k].texts or (None, None, None))) for k in ids]
        table = pa.table({
            "id": pa.array([r[0] for r in rows], pa.string()),
            "changed_ns": pa.array([r[1] for r in rows], pa.int64()),
            "run": pa.array([r[2] for r in rows], pa.string()),
            "status": pa.array([r[3] for r in rows], pa.string()),
            "summary": pa.array([r[4] for r in rows], pa.string()),
        })
        name = f"runs-{time.time_ns():020d}-{os.urandom(3).hex()}.parquet"
        with layout.Publish(os.path.join(self.index_dir, name)) as tmp:
            pq.write_table(table, tmp, compression="zstd")
        for path in replaces:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
