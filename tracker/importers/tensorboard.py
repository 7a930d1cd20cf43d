"""TensorBoard event files into the store, and a run back out as event files.

**Import.** A log folder is read as TensorBoard shows it: every folder holding
``events.out.tfevents.*`` files is a run, named by its path under the log folder. Scalars (also
TF2's tensor scalars), histograms, images and text come along at their steps with their wall
times; hparams (the ``hparams`` plugin) become the run's config and the session's metrics its
summary. The folder that ``add_hparams`` of tensorboardX / ``torch.utils.tensorboard`` writes
beside a run (a timestamp-named subfolder holding only the hparams and their metric values) is
merged into that run rather than imported as a run of its own. A truncated last record (a run still
being written, or killed) is normal: everything before it is kept, and the run reads as
``crashed`` until it is imported again with ``force``. Event files are parsed with the
``tensorboard`` package (``tracker[import]``).

**Export.** :func:`export_tensorboard` writes a run's numeric history (and its system metrics under
``system/``) as one event file, so ``tensorboard --logdir DIR`` opens it; it needs no TensorFlow and
no tensorboard package (the record framing and the two protobuf messages involved are written here).
"""

from __future__ import annotations

import glob
import hashlib
import os
import struct

from tracker.importers._common import SourceRun, write_all

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tracker.importers._common import Imported

EVENT_GLOB = "events.out.tfevents.*"


def find_runs(logdir: str) -> list[str]:
    """Every folder under ``logdir`` (itself included) that holds event files, sorted."""
    found = set()
    for path in glob.glob(os.path.join(logdir, "**", EVENT_GLOB), recursive=True):
        found.add(os.path.dirname(path))
    return sorted(found)


def _ends_cleanly(path: str) -> bool:
    """True when the file is whole TFRecords (length, its CRC, data, its CRC) to its last byte."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        pos = 0
        while pos < size:
            head = fh.read(12)
            if len(head) < 12:
                return False
            (length,) = struct.unpack("<Q", head[:8])
            pos += 12 + length + 4
            if pos > size:
                return False
            fh.seek(pos)
    return True


def _accumulator(folder: str) -> Any:
    from tracker.integrations._common import require

    ea_mod = require("tensorboard.backend.event_processing.event_accumulator", "import",
                     "importing TensorBoard event files")
    acc = ea_mod.EventAccumulator(folder, size_guidance={"scalars": 0, "histograms": 0, "images": 0, "tensors": 0,
                                                         "compressedHistograms": 0, "audio": 0})
    acc.Reload()
    return acc


def _hparams(acc: Any) -> tuple[dict[str, Any], list[str]]:
    """The hparams of a run (session start info) and the names of its hparams metrics."""
    try:
        content = acc.PluginTagToContent("hparams")
    except KeyError:
        return {}, []
    from tensorboard.plugins.hparams import plugin_data_pb2

    config: dict[str, Any] = {}
    metrics: list[str] = []
    for raw in content.values():
        data = plugin_data_pb2.HParamsPluginData.FromString(raw)
        kind = data.WhichOneof("data")
        if kind == "session_start_info":
            for key, value in data.session_start_info.hparams.items():
                which = value.WhichOneof("kind")
                config[key] = getattr(value, which) if which else None
        elif kind == "experiment":
            metrics += [m.name.tag for m in data.experiment.metric_infos]
    return config, metrics


def _histogram(hv: Any) -> Any:
    """A TensorBoard histogram (bucket right edges and counts, with min and max) as edges and counts."""
    limits = list(hv.bucket_limit)
    counts = list(hv.bucket)
    if not counts:
        return None
    lo, hi = float(hv.min), float(hv.max)
    edges = [lo] + [min(max(limit, lo), hi) for limit in limits[:-1]] + [hi]
    for i in range(1, len(edges)):
        edges[i] = max(edges[i], edges[i - 1])
    # TensorBoard's buckets are a fixed exponential ladder of ~1,500, nearly all empty: each run of
    # empty buckets becomes one, so the counts stay exact and the histogram small
    out_counts: list[float] = []
    out_edges = [edges[0]]
    for count, right in zip(counts, edges[1:], strict=True):
        if count == 0 and out_counts and out_counts[-1] == 0:
            out_edges[-1] = right
        else:
            out_counts.append(count)
            out_edges.append(right)
    return out_counts, out_edges


def _tensor_value(event: Any, plugin: str) -> Any:
    from tensorboard.util import tensor_util

    array = tensor_util.make_ndarray(event.tensor_proto)
    if plugin == "text":
        flat = array.ravel().tolist() if array.ndim else [array.item()]
        return "\n".join(x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in flat)
    if plugin == "scalars" and array.size == 1:
        return float(array.ravel()[0])
    return None


def _is_hparams_session(acc: Any, metric_names: list[str]) -> bool:
    tags = acc.Tags()
    return (bool(_hparams(acc)[0]) and not tags.get("histograms") and not tags.get("images")
            and set(tags.get("scalars", [])) <= set(metric_names) | {t for t in tags.get("scalars", []) if t.startswith("hparam")})


def read_run(folder: str, logdir: str, project: str | None = None, name: str | None = None) -> SourceRun:
    """One run folder of a log folder as a :class:`SourceRun`."""
    files = sorted(glob.glob(os.path.join(folder, EVENT_GLOB)))
    rel = os.path.relpath(folder, logdir)
    # the run's path and its event files' names (which hold their creation time, host and pid): the
    # same run gets the same id whenever it is imported, wherever the log folder has moved
    digest = hashlib.sha1("\n".join([rel] + [os.path.basename(f) for f in files]).encode()).hexdigest()[:16]
    src = SourceRun("tensorboard", folder, run_id=f"tb-{digest}",
                    project=project or os.path.basename(os.path.abspath(logdir)) or "tensorboard",
                    name=name or (os.path.basename(os.path.abspath(logdir)) if rel == "." else rel))
    acc = _accumulator(folder)
    config, metric_names = _hparams(acc)
    src.config.update(config)
    rows: dict[int, list[Any]] = {}  # step -> [time, data]

    def put(step: int, at: float, key: str, value: Any) -> None:
        row = rows.setdefault(int(step), [at, {}])
        row[0] = min(row[0], at)
        row[1][key] = value

    tags = acc.Tags()
    for tag in tags.get("scalars", []):
        for ev in acc.Scalars(tag):
            put(ev.step, ev.wall_time, tag, float(ev.value))
    import tracker.media as media

    for tag in tags.get("histograms", []):
        for ev in acc.Histograms(tag):
            hist = _histogram(ev.histogram_value)
            if hist is not None:
                put(ev.step, ev.wall_time, tag, media.Histogram(np_histogram=hist))
    for tag in tags.get("images", []):
        for ev in acc.Images(tag):
            put(ev.step, ev.wall_time, tag, ("image", ev.encoded_image_string))
    skipped: dict[str, int] = {}
    for tag in tags.get("tensors", []):
        plugin = acc.SummaryMetadata(tag).plugin_data.plugin_name
        key = tag[: -len("/text_summary")] if tag.endswith("/text_summary") else tag
        for ev in acc.Tensors(tag):
            value = _tensor_value(ev, plugin)
            if value is None:
                skipped[plugin or "tensor"] = skipped.get(plugin or "tensor", 0) + 1
                continue
            put(ev.step, ev.wall_time, key, value)
    if skipped:
        src.notes_for_user.append("tensor summaries not imported: " + ", ".join(f"{k} ({n})" for k, n in skipped.items()))
    # the hparams sessions tensorboardX / torch.utils.tensorboard write in subfolders: merged here
    for sub in sorted(os.listdir(folder)):
        path = os.path.join(folder, sub)
        if os.path.isdir(path) and glob.glob(os.path.join(path, EVENT_GLOB)):
            sub_acc = _accumulator(path)
            sub_config, sub_metrics = _hparams(sub_acc)
            if _is_hparams_session(sub_acc, sub_metrics):
                src.config.update(sub_config)
                for tag in sub_acc.Tags().get("scalars", []):
                    events = sub_acc.Scalars(tag)
                    if events:
                        src.summary[tag] = float(events[-1].value)
    times = [r[0] for r in rows.values()]
    if times:
        src.started_at, src.ended_at = min(times), max(times)
    src.state = "finished" if all(_ends_cleanly(f) for f in files) else None
    if src.state is None:
        src.notes_for_user.append(f"{rel}: an event file ends in a partial record (still being written, or killed); "
                                  "everything before it was kept")
    ordered = sorted(rows.items())

    def history() -> Any:
        for step, (at, data) in ordered:
            yield step, at, {k: _image(v) if isinstance(v, tuple) and v[0] == "image" else v for k, v in data.items()}

    src.rows = history
    return src


def _image(value: tuple[str, bytes]) -> Any:
    import io

    import numpy as np
    from PIL import Image as PILImage

    import tracker.media as media

    with PILImage.open(io.BytesIO(value[1])) as im:
        return media.Image(np.asarray(im.convert("RGBA") if im.mode in ("P", "LA") else im))


def _is_merged_session(folder: str) -> bool:
    parent = os.path.dirname(folder)
    if not glob.glob(os.path.join(parent, EVENT_GLOB)):
        return False
    acc = _accumulator(folder)
    return _is_hparams_session(acc, _hparams(acc)[1])


def import_tensorboard(logdir: str | os.PathLike[str], project: str | None = None, name: str | None = None,
                       dir: str | os.PathLike[str] | None = None, force: bool = False,
                       progress: bool = True) -> list[Imported]:
    """Import a TensorBoard log folder: one run per folder with event files (see the module).

    Args:
        logdir: the log folder (or one run's folder).
        project: the project (default: the log folder's name).
        name: the display name (for a single run; default the run's path under the log folder).
        dir: the store root. force: replace runs already imported. progress: show a bar.
    """
    from tracker.api.public import Api

    logdir = os.fspath(logdir)
    folders = [f for f in find_runs(logdir) if not _is_merged_session(f)]
    root = Api(dir=dir).root
    return write_all(folders, root, "importing TensorBoard runs", force, progress,
                     lambda f: read_run(f, logdir, project, name))


# --- export --------------------------------------------------------------------------------------
def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
        table.append(crc)
    return table


_TABLE: list[int] = []


def _crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), which TFRecord framing uses: google-crc32c's when installed, else a table."""
    try:
        import google_crc32c  # a C implementation, when the environment has it

        return int(google_crc32c.value(data))
    except ImportError:
        pass
    if not _TABLE:
        _TABLE.extend(_crc_table())
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked(data: bytes) -> int:
    crc = _crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _record(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", _masked(length)) + data + struct.pack("<I", _masked(data))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, wire: int, payload: bytes) -> bytes:
    return _varint(number << 3 | wire) + payload


def _bytes_field(number: int, data: bytes) -> bytes:
    return _field(number, 2, _varint(len(data)) + data)


def _event(wall_time: float, step: int, summary: bytes | None = None, file_version: str | None = None) -> bytes:
    """An ``Event`` message: wall_time (1, double), step (2, int64), file_version (3) or summary (5)."""
    out = _field(1, 1, struct.pack("<d", wall_time)) + _field(2, 0, _varint(step & 0xFFFFFFFFFFFFFFFF))
    if file_version is not None:
        out += _bytes_field(3, file_version.encode())
    if summary is not None:
        out += _bytes_field(5, summary)
    return out


def _scalar_summary(tag: str, value: float) -> bytes:
    """A ``Summary`` with one ``Value``: tag (1) and simple_value (2, float)."""
    return _bytes_field(1, _bytes_field(1, tag.encode()) + _field(2, 5, struct.pack("<f", value)))


def export_tensorboard(run_path: str, out_dir: str | os.PathLike[str], dir: str | os.PathLike[str] | None = None) -> str:
    """Write a run's numeric history (its steps and wall times) and system metrics (under
    ``system/``) as a TensorBoard event file in ``out_dir/<run name>``; returns the file's path."""
    import time

    from tracker.api.public import Api

    api = Api(dir=dir)
    run = api.run(run_path)
    folder = os.path.join(os.fspath(out_dir), _safe_folder(run.name or run.id))
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"events.out.tfevents.{int(run.created_at or time.time())}.tracker.{run.id}")
    points = api.sql(
        "SELECT step, key, value, time FROM history WHERE project = ? AND run_id = ? AND kind <= 2 "
        "AND value IS NOT NULL ORDER BY step, key", [run.project, run.id])
    system = api.sql(
        "SELECT step, key, value, time FROM system WHERE project = ? AND run_id = ? AND value IS NOT NULL "
        "ORDER BY step, key", [run.project, run.id])
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(_record(_event(run.created_at or time.time(), 0, file_version="brain.Event:2")))
        for prefix, frame in (("", points), ("system/", system)):
            for step, key, value, at in frame.itertuples(index=False):
                seconds = at.timestamp() if hasattr(at, "timestamp") else float(at)
                fh.write(_record(_event(seconds, int(step), _scalar_summary(prefix + str(key), float(value)))))
    os.replace(tmp, path)
    return path


def _safe_folder(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "run"
