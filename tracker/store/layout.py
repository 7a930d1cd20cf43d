"""Where things live in the store, and how small files are written so readers never see them torn.

::

    <root>/tracker-store.json                  {"schema_version": 1}
    <root>/<project>/<run_id>/run.json         identity, config, tags, notes, metric definitions
    <root>/<project>/<run_id>/status.json      state, pid, host, heartbeat, last step
    <root>/<project>/<run_id>/summary.json     the run's summary (plain JSON)
    <root>/<project>/<run_id>/summary-state.json  aggregates behind the summary (for resume)
    <root>/<project>/<run_id>/<stream>/seg-<lo>-<hi>-<writer>.parquet   immutable segments

Every JSON file is replaced whole by an atomic rename; every segment is written under a temporary
name and renamed into place, then never changed. A segment covering sequence numbers ``lo..hi``
replaces (logically) every segment whose range it contains: that is how compaction stays invisible
to a reader that lists the folder while the writer merges.
"""

from __future__ import annotations

import math
import os
import time

from tracker import _json
from tracker.errors import SchemaError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

#: Version of the on-disk layout and segment schema; see docs/store.md for upgrades.
SCHEMA_VERSION = 1
STORE_FILE = "tracker-store.json"
#: A project's tag colours set by hand (``{tag: "#rrggbb"}``), beside its runs.
TAG_COLOURS_FILE = ".tag-colours.json"
#: Alerts of a run (``run.alert``): one JSON object per line, appended by the run's process.
ALERTS_FILE = "alerts.jsonl"
RUN_FILE = "run.json"
STATUS_FILE = "status.json"
SUMMARY_FILE = "summary.json"
SUMMARY_STATE_FILE = "summary-state.json"
STREAMS = ("scalars", "system", "console", "media")
#: ``<root>/<project>/.changed/<time_ns, 20 digits>.<run_id>``: republished after each write of a run's side
#: files, so a reader learns from one ``stat`` of this folder whether any run of the project changed,
#: and from its names alone (no ``stat`` per run) which runs changed and when.
CHANGES_DIR = ".changed"
_NAME_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_NAME_CHARS = _NAME_FIRST | frozenset("_.-")


def _hostname() -> str:
    try:
        return os.uname().nodename
    except AttributeError:  # Windows
        import socket

        return socket.gethostname()


HOSTNAME = _hostname()


def check_name(value: str, what: str) -> str:
    """Validate a project name or run id.

    Raises:
        UsageError: naming the value and the allowed characters.
    """
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= 128
        or value[0] not in _NAME_FIRST
        or not _NAME_CHARS.issuperset(value)
    ):
        raise UsageError(
            f"{what} {value!r} is not valid: use 1-128 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    return value


def parse_run_path(path: str) -> tuple[str, str]:
    """``(project, run_id)`` of ``project/run_id`` or ``entity/project/run_id`` (the entity is
    ignored), both checked.

    Raises:
        UsageError: anything else.
    """
    parts = [p for p in str(path).split("/") if p]
    if len(parts) == 3:
        parts = parts[1:]
    if len(parts) != 2:
        raise UsageError(f"a run path is 'project/run_id', got {path!r}")
    return check_name(parts[0], "project name"), check_name(parts[1], "run id")


class RunPaths:
    """The files of one run (plain string paths: pathlib costs ``init`` 10 ms to import)."""

    def __init__(self, root: str | os.PathLike[str], project: str, run_id: str) -> None:
        self.root = os.fspath(root)
        self.project = project
        self.run_id = run_id
        self.dir = f"{self.root}{os.sep}{project}{os.sep}{run_id}"

    # paths are built when asked for: a table of 10,000 runs needs only three of them
    @property
    def run_file(self) -> str:
        return self.dir + os.sep + RUN_FILE

    @property
    def status_file(self) -> str:
        return self.dir + os.sep + STATUS_FILE

    @property
    def summary_file(self) -> str:
        return self.dir + os.sep + SUMMARY_FILE

    @property
    def summary_state_file(self) -> str:
        return self.dir + os.sep + SUMMARY_STATE_FILE

    @property
    def files_dir(self) -> str:
        return self.dir + os.sep + "files"

    @property
    def alerts_file(self) -> str:
        return self.dir + os.sep + ALERTS_FILE

    def stream_dir(self, stream: str) -> str:
        return self.dir + os.sep + stream


def ensure_store(root: str | os.PathLike[str]) -> None:
    """Create the store root and its version file, or check the version of an existing one.

    Raises:
        SchemaError: the store was written by a newer tracker.
    """
    marker = os.path.join(root, STORE_FILE)
    info = read_json(marker)
    if info is None:
        os.makedirs(root, exist_ok=True)
        if not os.path.exists(marker):
            write_json_atomic(marker, {"schema_version": SCHEMA_VERSION, "created_at": time.time()})
        return
    check_schema(info, marker)


def check_schema(info: dict[str, Any], where: str | os.PathLike[str]) -> None:
    """Refuse a store or run written with a newer schema than this tracker knows."""
    version = info.get("schema_version", 1)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise SchemaError(
            f"{where} has schema version {version!r}; this tracker reads versions up to "
            f"{SCHEMA_VERSION}: upgrade the tracker package"
        )


def new_writer_id() -> str:
    """A short random id naming one writer session (one process writing one run)."""
    return os.urandom(4).hex()


def segment_name(lo: int, hi: int, writer: str) -> str:
    return f"seg-{lo:010d}-{hi:010d}-{writer}.parquet"


def parse_segment(name: str) -> tuple[int, int, str] | None:
    """``(lo, hi, writer)`` for a segment file name, or None for anything else."""
    if not (name.startswith("seg-") and name.endswith(".parquet")):
        return None
    parts = name[4:-8].split("-")
    if len(parts) != 3 or len(parts[0]) != 10 or len(parts[1]) != 10 or not parts[2].isalnum():
        return None
    if not (parts[0].isdigit() and parts[1].isdigit()):
        return None
    return int(parts[0]), int(parts[1]), parts[2]


def live_segments(names: list[str]) -> list[str]:
    """The segment files a reader should read, in sequence order.

    A segment whose ``lo..hi`` range lies inside another's is superseded by that one (it was
    compacted into it and is about to be deleted), so it is skipped.
    """
    parsed = [(p[0], p[1], n) for n in names if (p := parse_segment(n)) is not None]
    parsed.sort(key=lambda t: (t[0], -t[1], t[2]))
    out: list[str] = []
    best: tuple[int, int] | None = None
    for lo, hi, name in parsed:
        if best is not None and best[1] >= hi and best != (lo, hi):
            continue
        if best is None or hi > best[1]:
            best = (lo, hi)
        out.append(name)
    return out


def list_segments(stream_dir: str | os.PathLike[str]) -> list[str]:
    """Live segment names of a stream folder (empty when the folder does not exist)."""
    try:
        names = os.listdir(stream_dir)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return live_segments(names)


def _encode_floats(obj: Any) -> Any:
    """Replace NaN and infinities by strings so the file stays standard JSON for other engines."""
    if isinstance(obj, float):
        if math.isnan(obj):
            return "NaN"
        if math.isinf(obj):
            return "Infinity" if obj > 0 else "-Infinity"
        return obj
    if isinstance(obj, dict):
        return {k: _encode_floats(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode_floats(v) for v in obj]
    return obj


_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def decode_floats(obj: Any) -> Any:
    """Undo :func:`_encode_floats` (used for summaries, where values are mostly numbers)."""
    if isinstance(obj, str):
        return _SPECIAL.get(obj, obj)
    if isinstance(obj, dict):
        return {k: decode_floats(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode_floats(v) for v in obj]
    return obj


def dumps(obj: Any) -> str:
    return _json.dumps(_encode_floats(obj))


class Publish:
    """``with Publish(final) as tmp:`` write ``tmp``; on success it is renamed to ``final`` (a
    reader sees the old file or the new one, never part of one), on failure it is removed.

    The one way this package writes a file that others may read while it is written: JSON side
    files, segments, artifact objects, downloads.
    """

    def __init__(self, final: str | os.PathLike[str], hidden: bool = True) -> None:
        self.final = os.fspath(final)
        head, tail = os.path.split(self.final)
        name = f".{tail}" if hidden else tail
        self.tmp = os.path.join(head, f"{name}.{os.getpid()}.{os.urandom(3).hex()}.tmp")

    def __enter__(self) -> str:
        return self.tmp

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()

    def commit(self) -> None:
        """Rename the written ``tmp`` to ``final`` (for a file written over several calls)."""
        os.replace(self.tmp, self.final)

    def discard(self) -> None:
        """Remove ``tmp`` if it was written."""
        try:
            os.unlink(self.tmp)
        except OSError:
            pass


def write_json_atomic(path: str | os.PathLike[str], obj: Any, *, durable: bool = False) -> None:
    """Replace ``path`` with ``obj`` as JSON; a reader sees the old or the new file, never a mix."""
    data = dumps(obj).encode("utf-8")
    with Publish(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())


def write_run_file(paths: RunPaths, path: str, obj: Any, *, durable: bool = False) -> None:
    """Replace one of a run's side files (``run.json``, ``status.json``, ``summary.json``) and say
    so in the project's ``.changed`` folder (see :data:`CHANGES_DIR`)."""
    write_json_atomic(path, obj, durable=durable)
    note_change(paths.root, paths.project, paths.run_id)


#: The marker each run of this process last published (so the next replaces it).
_markers: dict[tuple[str, str, str], str] = {}


def note_change(root: str, project: str, run_id: str) -> None:
    """Publish ``<root>/<project>/.changed/<time_ns>.<run_id>`` (empty; the time in 20 digits, so
    names sort by time) and remove the run's previous marker: the folder's mtime moves, and its names
    say which runs changed and when. A crash between the two leaves two markers of a run; readers
    take the newest."""
    folder = os.path.join(root, project, CHANGES_DIR)
    key = (root, project, run_id)
    previous = _markers.get(key)
    if previous is None:  # first change of this run in this process: earlier processes' markers
        try:
            previous_names = [n for n in os.listdir(folder) if n[21:] == run_id and n[:20].isdigit()]
        except FileNotFoundError:
            previous_names = []
    else:
        previous_names = [previous]
    name = f"{time.time_ns():020d}.{run_id}"
    for _ in range(2):
        try:
            with Publish(os.path.join(folder, name)) as tmp, open(tmp, "wb"):
                pass
            break
        except FileNotFoundError:
            os.makedirs(folder, exist_ok=True)
    _markers[key] = name
    for old in previous_names:
        if old != name:
            try:
                os.unlink(os.path.join(folder, old))
            except FileNotFoundError:
                pass


def read_changes(root: str, project: str, after_ns: int = 0) -> dict[str, int] | None:
    """Per run of a project changed after ``after_ns``, when it last changed (ns), from its
    ``.changed`` markers (only the names newer than ``after_ns`` are parsed); None when the project
    has no ``.changed`` folder (a store written before markers existed)."""
    try:
        names = os.listdir(os.path.join(root, project, CHANGES_DIR))
    except (FileNotFoundError, NotADirectoryError):
        return None
    cut = f"{after_ns:020d}."
    out: dict[str, int] = {}
    for n in names:
        if n > cut and n[:20].isdigit() and n[20:21] == ".":
            t = int(n[:20])
            run_id = n[21:]
            if t > out.get(run_id, 0):
                out[run_id] = t
    return out


#: Store roots whose names are claimed elsewhere (a spool of an ``s3://`` root claims in the bucket).
_claimers: dict[str, Callable[[str], bool]] = {}


def set_claimer(root: str, claim: Callable[[str], bool] | None) -> None:
    """Have names under ``root`` claimed by ``claim(key relative to root)`` (True: claimed, False:
    taken) instead of by creating the file exclusively (None: back to local files)."""
    key = os.path.realpath(root)
    if claim is None:
        _claimers.pop(key, None)
    else:
        _claimers[key] = claim


#: Spool folders of ``s3://`` roots: spool -> the root's URI (what readers of the spool's run read).
_sources: dict[str, str] = {}


def set_source(spool: str, uri: str) -> None:
    """Say that ``spool`` is a local spool of the store ``uri`` (see :func:`source_of`)."""
    _sources[os.path.realpath(spool)] = uri


def source_of(root: str) -> str:
    """The store a root stands for: for a spool, the ``s3://`` URI it is uploaded to; else the root."""
    return _sources.get(os.path.realpath(root), root) if _sources else root


#: A run's JSON side files: each replaced whole by the run's one writer.
SIDE_FILES = (RUN_FILE, SUMMARY_FILE, SUMMARY_STATE_FILE, STATUS_FILE, "metadata.json")


def copy_order(key: str) -> int:
    """In what order a file (its path relative to the root, with ``/``) is copied to another store
    so that a reader of that store never sees a file before what it refers to: data (0: artifact
    objects, segments, media, saved files), artifact versions and aliases (1), side files and
    ``.jsonl`` logs (2), change markers (3)."""
    parts = key.split("/")
    if len(parts) > 1 and parts[1] == CHANGES_DIR:
        return 3
    if parts[0] == "_artifacts" and len(parts) > 1 and parts[1] == "collections":
        return 1
    return 2 if parts[-1] in SIDE_FILES or parts[-1].endswith(".jsonl") else 0


def immutable(key: str) -> bool:
    """Whether a file (its path relative to the root) never changes once written: segments and their
    pyramids (unique names), artifact objects and logged media (named by their SHA-256)."""
    parts = key.split("/")
    return (parse_segment(parts[-1]) is not None or parts[:2] == ["_artifacts", "objects"]
            or (len(parts) > 4 and parts[2:4] == ["files", "media"]))


#: Mirrors of ``s3://`` roots: mirror -> how a file written in it reaches the bucket.
_publishers: dict[str, Callable[[str, bytes | None], None]] = {}


def set_publisher(root: str, publish: Callable[[str, bytes | None], None]) -> None:
    """Have files written under ``root`` by :func:`published` sent on with ``publish(key, bytes)``
    (``None``: the file was removed): a reader's edits to a mirror go to its bucket."""
    _publishers[os.path.realpath(root)] = publish


def published(root: str, path: str) -> None:
    """Say that ``path`` under ``root`` was just written (or removed): for a mirror of an ``s3://``
    root, send it to the bucket; nothing for a local store.

    Raises:
        OSError: the bucket did not take it (the edit is not saved there).
    """
    publish = _publishers.get(os.path.realpath(root)) if _publishers else None
    if publish is None:
        return
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    try:
        with open(path, "rb") as fh:
            data: bytes | None = fh.read()
    except FileNotFoundError:
        data = None
    try:
        publish(rel, data)
    except Exception as exc:  # noqa: BLE001 - the client's errors, as an OSError for the caller
        raise OSError(f"cannot save {rel} to the bucket: {exc}") from exc


def claim_name(root: str, path: str) -> bool:
    """Claim a name once among every process writing the store: True when this call took it,
    False when another already had. Locally an exclusive create; for a spool, the claimer set
    with :func:`set_claimer` (a conditional write in the bucket).

    Raises:
        OSError: the name could not be claimed either way (an unwritable store, an unreachable bucket).
    """
    claim = _claimers.get(os.path.realpath(root)) if _claimers else None
    if claim is not None:
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        try:
            return claim(rel)
        except Exception as exc:  # noqa: BLE001 - the client's errors, as an OSError for the caller
            raise OSError(f"cannot claim {rel}: {exc}") from exc
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def read_json(path: str | os.PathLike[str], floats: bool = False) -> dict[str, Any] | None:
    """Read a JSON object, or None if the file does not exist or is not a JSON object.

    With ``floats``, the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` become floats again
    (see :func:`dumps`); the check is skipped when the file holds none of them.
    """
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        data = _json.loads(raw)
    except (ValueError, OSError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    if floats and (b'"NaN"' in raw or b'Infinity"' in raw):
        data = decode_floats(data)
    return data


def process_start_ticks(pid: int) -> int | None:
    """The start time of a process in clock ticks since boot (Linux), to tell pid reuse apart."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        if fields[0] == b"Z":  # a zombie has exited; its parent has not reaped it yet
            return -1
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def process_alive(pid: int, start_ticks: int | None) -> bool | None:
    """Whether ``pid`` on this host is still the process that wrote a run.

    Returns True or False when this can be told, None when it cannot (no /proc and no psutil).
    """
    if pid <= 0:
        return False
    ticks = process_start_ticks(pid)
    if ticks == -1:
        return False
    if ticks is not None:
        return start_ticks is None or ticks == start_ticks
    if os.path.exists("/proc/self/stat"):
        return False  # /proc exists and this pid is not in it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return None
    return True
