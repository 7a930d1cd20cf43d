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

import json
import math
import os
import re
import secrets
import socket
import time
from pathlib import Path
from typing import Any

from tracker.errors import SchemaError, UsageError

#: Version of the on-disk layout and segment schema; see docs/store.md for upgrades.
SCHEMA_VERSION = 1
STORE_FILE = "tracker-store.json"
RUN_FILE = "run.json"
STATUS_FILE = "status.json"
SUMMARY_FILE = "summary.json"
SUMMARY_STATE_FILE = "summary-state.json"
STREAMS = ("scalars", "system")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_SEGMENT_RE = re.compile(r"^seg-(\d{10})-(\d{10})-([a-z0-9]+)\.parquet$")
HOSTNAME = socket.gethostname()


def check_name(value: str, what: str) -> str:
    """Validate a project name or run id.

    Raises:
        UsageError: naming the value and the allowed characters.
    """
    if not isinstance(value, str) or not _NAME_RE.match(value) or value in (".", ".."):
        raise UsageError(
            f"{what} {value!r} is not valid: use 1-128 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    return value


class RunPaths:
    """The files of one run."""

    def __init__(self, root: Path, project: str, run_id: str) -> None:
        self.root = root
        self.project = project
        self.run_id = run_id
        self.dir = root / project / run_id

    @property
    def run_file(self) -> Path:
        return self.dir / RUN_FILE

    @property
    def status_file(self) -> Path:
        return self.dir / STATUS_FILE

    @property
    def summary_file(self) -> Path:
        return self.dir / SUMMARY_FILE

    @property
    def summary_state_file(self) -> Path:
        return self.dir / SUMMARY_STATE_FILE

    def stream_dir(self, stream: str) -> Path:
        return self.dir / stream

    @property
    def files_dir(self) -> Path:
        return self.dir / "files"


def ensure_store(root: Path) -> None:
    """Create the store root and its version file, or check the version of an existing one.

    Raises:
        SchemaError: the store was written by a newer tracker.
    """
    marker = root / STORE_FILE
    info = read_json(marker)
    if info is None:
        root.mkdir(parents=True, exist_ok=True)
        if not marker.exists():
            write_json_atomic(marker, {"schema_version": SCHEMA_VERSION, "created_at": time.time()})
        return
    check_schema(info, marker)


def check_schema(info: dict[str, Any], where: Path) -> None:
    """Refuse a store or run written with a newer schema than this tracker knows."""
    version = info.get("schema_version", 1)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise SchemaError(
            f"{where} has schema version {version!r}; this tracker reads versions up to "
            f"{SCHEMA_VERSION}: upgrade the tracker package"
        )


def new_writer_id() -> str:
    """A short random id naming one writer session (one process writing one run)."""
    return secrets.token_hex(4)


def segment_name(lo: int, hi: int, writer: str) -> str:
    return f"seg-{lo:010d}-{hi:010d}-{writer}.parquet"


def parse_segment(name: str) -> tuple[int, int, str] | None:
    """``(lo, hi, writer)`` for a segment file name, or None for anything else."""
    m = _SEGMENT_RE.match(name)
    if m is None:
        return None
    return int(m.group(1)), int(m.group(2)), m.group(3)


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


def list_segments(stream_dir: Path) -> list[str]:
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
    return json.dumps(_encode_floats(obj), ensure_ascii=False, allow_nan=False, default=str)


def write_json_atomic(path: Path, obj: Any, *, durable: bool = False) -> None:
    """Replace ``path`` with ``obj`` as JSON; a reader sees the old or the new file, never a mix."""
    data = dumps(obj).encode("utf-8")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_json(path: Path) -> dict[str, Any] | None:
    """Read a JSON object, or None if the file does not exist or is not a JSON object."""
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read())
    except FileNotFoundError:
        return None
    except (ValueError, OSError):
        return None
    return data if isinstance(data, dict) else None


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
