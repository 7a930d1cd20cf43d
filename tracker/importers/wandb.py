"""W&B offline runs: ``wandb/offline-run-*/run-*.wandb`` (and synced ``run-*`` folders) into the store.

A ``.wandb`` file is a log of protobuf records in 32 KiB blocks (LevelDB's log format: each record
framed with a CRC-32, its length and whether it is whole or a first / middle / last part). The
framing is read here; the records are parsed with wandb's own classes
(``wandb.proto.wandb_internal_pb2.Record``), so wandb must be installed (``tracker[import]``). A run
still being written, or killed, ends in a partial block or record: everything up to the last whole
record is kept, and the run reads as ``crashed`` (it has no exit record).

Kept: the run's id, project, name, notes, tags, group, job type, config, start time and host; the
history with its steps and wall times, media (images, image lists, histograms, tables, audio,
video, HTML) from the run's ``files/media``; the summary; system metrics; console output (stdout and
stderr, whole lines); the exit code (``finished`` for 0, ``failed`` otherwise); the run's other
saved files (``requirements.txt``, files given to ``wandb.save``). Artifacts logged by the run are
not imported (W&B keeps their content on its servers, not in the offline folder).
"""

from __future__ import annotations

import glob
import json
import os
import struct
import zlib

from tracker.importers._common import SourceRun, write_all

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tracker.importers._common import Imported

HEADER = struct.Struct("<4sHB")  # ":W&B", magic 0xBEE1, version
FRAME = struct.Struct("<IHB")  # crc32, length, type
BLOCK = 32768
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
SKIP_SUMMARY = {"_wandb", "_runtime", "_step", "_timestamp"}
SKIP_FILES = {"output.log", "wandb-summary.json", "wandb-metadata.json", "config.yaml", "diff.patch"}


def read_records(path: str) -> tuple[list[bytes], str | None]:
    """The whole records of a ``.wandb`` file, and what was left out at its end (None when it
    ended cleanly): a run still being written ends in part of a record."""
    with open(path, "rb") as fh:
        buf = fh.read()
    if len(buf) < HEADER.size:
        return [], "the file is shorter than its header"
    ident, _magic, _version = HEADER.unpack_from(buf)
    if ident != b":W&B":
        raise ValueError(f"{path} is not a W&B run file (it starts with {ident!r})")
    records: list[bytes] = []
    parts: list[bytes] | None = None
    pos = HEADER.size
    while pos < len(buf):
        left = BLOCK - pos % BLOCK
        if left < FRAME.size:  # a block's tail too short for a frame is padding
            pos += left
            continue
        if pos + FRAME.size > len(buf):
            return records, "a partial record header at the end"
        crc, length, kind = FRAME.unpack_from(buf, pos)
        if crc == 0 and length == 0 and kind == 0:  # zero padding to the end of the block
            pos += left
            continue
        data = buf[pos + FRAME.size: pos + FRAME.size + length]
        if len(data) < length:
            return records, f"a partial record at the end ({len(data)} of {length} bytes)"
        if zlib.crc32(data, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF != crc:
            return records, f"a record whose checksum does not match at byte {pos}"
        pos += FRAME.size + length
        if kind == FULL:
            records.append(data)
        elif kind == FIRST:
            parts = [data]
        elif kind in (MIDDLE, LAST) and parts is not None:
            parts.append(data)
            if kind == LAST:
                records.append(b"".join(parts))
                parts = None
    return records, "a record split over blocks whose last part is missing" if parts is not None else None


def find_runs(source: str) -> list[str]:
    """The ``.wandb`` files under ``source``: a file, a run folder, a ``wandb/`` folder, or a
    folder holding one."""
    if os.path.isfile(source):
        return [source]
    found = sorted(glob.glob(os.path.join(source, "run-*.wandb")))
    for pattern in ("*-run-*/run-*.wandb", "run-*/run-*.wandb", "wandb/*-run-*/run-*.wandb", "wandb/run-*/run-*.wandb"):
        found += sorted(glob.glob(os.path.join(source, pattern)))
    return list(dict.fromkeys(found))


def _time(ts: Any) -> float:
    return ts.seconds + ts.nanos / 1e9


def _items(updates: Any) -> list[tuple[list[str], Any]]:
    out = []
    for item in updates:
        path = list(item.nested_key) or [item.key]
        try:
            value = json.loads(item.value_json)
        except ValueError:
            continue
        out.append((path, value))
    return out


def _set(out: dict[str, Any], path: list[str], value: Any) -> None:
    node = out
    for part in path[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = node[part] = {}
        node = nxt
    node[path[-1]] = value


def _nest(pairs: list[tuple[list[str], Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in pairs:
        _set(out, path, value)
    return out


class _Media:
    """W&B's media records (``{"_type": ..., "path": ...}``) as tracker media, from the run's files."""

    def __init__(self, files_dir: str, notes: list[str]) -> None:
        self.files_dir = files_dir
        self.notes = notes
        self.unknown: dict[str, int] = {}

    def convert(self, value: Any) -> Any:
        """A history value: media records made tracker media, nested dicts walked; None to drop."""
        if isinstance(value, dict):
            kind = value.get("_type")
            if kind is None:
                return {k: v for k, v in ((k, self.convert(v)) for k, v in value.items()) if v is not None}
            return self.media(kind, value)
        return value

    def _path(self, rel: Any) -> str | None:
        if not isinstance(rel, str):
            return None
        path = os.path.normpath(os.path.join(self.files_dir, rel))
        if not path.startswith(os.path.normpath(self.files_dir) + os.sep) or not os.path.isfile(path):
            return None
        return path

    def media(self, kind: str, record: dict[str, Any]) -> Any:
        import tracker.media as m

        caption = record.get("caption")
        path = self._path(record.get("path"))
        if kind == "histogram" and "values" in record and "bins" in record:
            return m.Histogram(np_histogram=(record["values"], record["bins"]))
        if kind == "image-file" and path:
            return m.Image(path, caption=caption)
        if kind == "images/separated":
            names = record.get("filenames") or []
            captions = record.get("captions") or [None] * len(names)
            images = []
            for rel, cap in zip(names, captions, strict=False):
                p = self._path(rel)
                if p:
                    images.append(m.Image(p, caption=cap or None))
            return images or None
        if kind == "table-file" and path:
            with open(path, encoding="utf-8") as fh:
                table = json.load(fh)
            return m.Table(columns=table.get("columns"), data=table.get("data"))
        if kind == "audio-file" and path:
            return m.Audio(path, caption=caption)
        if kind == "video-file" and path:
            return m.Video(path, caption=caption)
        if kind == "html-file" and path:
            with open(path, encoding="utf-8") as fh:
                return m.Html(fh.read())
        if kind == "object3D-file" and path:
            return m.Object3D(path)
        self.unknown[kind] = self.unknown.get(kind, 0) + 1
        return None


def read_run(path: str, project: str | None = None, name: str | None = None) -> SourceRun:
    """One W&B run file as a :class:`SourceRun`."""
    from tracker.integrations._common import require

    pb = require("wandb.proto.wandb_internal_pb2", "import", "importing W&B runs (their records are wandb's protobufs)")
    records, tail = read_records(path)
    run_dir = os.path.dirname(os.path.abspath(path))
    files_dir = os.path.join(run_dir, "files")
    src = SourceRun("wandb", path, run_id=os.path.basename(path)[4:-6] or "run", project=project or "uncategorized")
    notes = src.notes_for_user
    if tail:
        notes.append(f"{os.path.basename(path)} ends in {tail}: everything up to the last whole record was kept")
    media = _Media(files_dir, notes)
    history: list[tuple[int, float, dict[str, Any]]] = []
    summary: dict[str, Any] = {}
    config: dict[str, Any] = {}
    streams: dict[str, list[Any]] = {"stdout": ["", 0.0], "stderr": ["", 0.0]}
    line_no = 0
    sample = 0
    for data in records:
        record = pb.Record()
        try:
            record.ParseFromString(data)
        except Exception:  # noqa: BLE001 - protobuf's DecodeError: a record of a newer wandb, skipped
            continue
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
            src.run_id = run.run_id or src.run_id
            src.project = project or run.project or src.project
            src.name = name or run.display_name or None
            src.notes = run.notes or None
            src.tags = list(run.tags)
            src.group = run.run_group or None
            src.job_type = run.job_type or None
            if run.HasField("start_time"):
                src.started_at = _time(run.start_time)
            src.origin["host"] = run.host or None
            for path_, value in _items(run.config.update):
                config[path_[0]] = value
        elif kind == "config":
            for path_, value in _items(record.config.update):
                config[path_[0]] = value
            for item in record.config.remove:
                config.pop(item.key, None)
        elif kind == "environment":
            env = record.environment
            for field_ in ("program", "python", "executable"):
                if getattr(env, field_, ""):
                    src.origin[field_] = getattr(env, field_)
            if getattr(env, "host", ""):
                src.origin["host"] = env.host
        elif kind == "history":
            row = _nest(_items(record.history.item))
            step = row.pop("_step", None)
            if record.history.HasField("step"):
                step = record.history.step.num if step is None else step
            at = row.pop("_timestamp", None)
            row.pop("_runtime", None)
            row.pop("_wandb", None)
            if isinstance(step, int) and isinstance(at, (int, float)):
                history.append((step, float(at), row))
        elif kind == "summary":
            for path_, value in _items(record.summary.update):
                if path_[0] not in SKIP_SUMMARY:
                    _set(summary, path_, value)
            for item in record.summary.remove:
                summary.pop(item.key or (item.nested_key[0] if item.nested_key else ""), None)
        elif kind == "stats":
            at = _time(record.stats.timestamp)
            values = {}
            for item in record.stats.item:
                try:
                    value = json.loads(item.value_json)
                except ValueError:
                    continue
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    values[item.key] = float(value)
            if values:
                src.system.append((sample, at, values))
                sample += 1
        elif kind in ("output_raw", "output"):
            out = getattr(record, kind)
            stream = "stderr" if out.output_type == 0 else "stdout"
            at = _time(out.timestamp)
            buffer = streams[stream]
            if not buffer[0]:
                buffer[1] = at
            text = buffer[0] + out.line
            *lines, rest = text.replace("\r\n", "\n").split("\n")
            for line in lines:
                src.console.append((line_no, buffer[1], {stream: line.rsplit("\r", 1)[-1]}))
                line_no += 1
                buffer[1] = at
            buffer[0] = rest
        elif kind == "exit":
            src.exit_code = int(record.exit.exit_code)
            src.state = "finished" if src.exit_code == 0 else "failed"
            if src.started_at is not None and record.exit.runtime:
                src.ended_at = src.started_at + record.exit.runtime
    for stream, (rest, at) in streams.items():
        if rest:
            src.console.append((line_no, at, {stream: rest}))
            line_no += 1
    src.config = config
    src.config.pop("_wandb", None)
    src.config = {k: (v["value"] if isinstance(v, dict) and set(v) <= {"value", "desc"} and "value" in v else v)
                  for k, v in src.config.items()}
    src.summary = {k: v for k, v in summary.items() if not (isinstance(v, dict) and "_type" in v)}
    history.sort(key=lambda r: r[0])

    def rows() -> Any:
        for step, at, row in history:
            yield step, at, media.convert(row)
        if media.unknown:
            notes.append("W&B media types not imported: " + ", ".join(f"{k} ({n})" for k, n in sorted(media.unknown.items())))

    src.rows = rows
    if src.state is None and history and src.ended_at is None:
        src.ended_at = history[-1][1]
    if os.path.isdir(files_dir):
        for base, _dirs, names in os.walk(files_dir):
            rel_base = os.path.relpath(base, files_dir)
            if rel_base.split(os.sep)[0] == "media":
                continue
            for n in names:
                rel = n if rel_base == "." else os.path.join(rel_base, n)
                if rel not in SKIP_FILES:
                    src.files.append((files_dir, rel))
    return src


def import_wandb(source: str | os.PathLike[str], project: str | None = None, name: str | None = None,
                 dir: str | os.PathLike[str] | None = None, force: bool = False, progress: bool = True) -> list[Imported]:
    """Import W&B offline runs (a ``.wandb`` file, a run folder, or a whole ``wandb/`` folder).

    Args:
        source: the file or folder.
        project: put every run in this project (default: each run's own W&B project).
        name: the display name (for a single run).
        dir: the store root (default: the settings' / ``TRACKER_DIR``).
        force: import again a run already in the store (it is replaced); default: skipped.
        progress: show a progress bar.

    Returns:
        One :class:`~tracker.importers.Imported` per run found.
    """
    from tracker.api.public import Api

    files = find_runs(os.fspath(source))
    root = Api(dir=dir).root
    return write_all(files, root, "importing W&B runs", force, progress, lambda f: read_run(f, project, name))
