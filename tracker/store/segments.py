"""Logged rows to columns, columns to Parquet segments, segments back to Arrow.

The segment schema (long format, one row per logged point; see docs/store.md):

=====  ==========================  ==================================================
step   int64                       the run's step
key    dictionary<int32, string>   metric name, nested dicts flattened with ``/``
kind   int8                        0 float, 1 int, 2 bool, 3 str, 4 null, 5 json, 6 media
value  float64 (nullable)          the number for kinds 0-2 (bool as 0/1), else null
text   string (nullable)           the string (3), JSON text (5, 6), or an exact int too
                                   large for float64 (1)
time   float64                     wall-clock time of the step, seconds since the epoch
=====  ==========================  ==================================================

pyarrow and numpy load only here, on the writer thread or the reader, never at ``import tracker``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from tracker.store import layout

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

KIND_FLOAT, KIND_INT, KIND_BOOL, KIND_STR, KIND_NULL, KIND_JSON, KIND_MEDIA = range(7)
KIND_NAMES = ("float", "int", "bool", "str", "null", "json", "media")
EXACT_INT_LIMIT = 2**53
COLUMNS = ("step", "key", "kind", "value", "text", "time")


class JsonText(str):
    """A value stored as JSON text (a list, a tuple, an array), decoded again on read."""


class MediaText(str):
    """A media reference stored as JSON text (kind 6)."""


KIND_OF: dict[type, int] = {
    float: KIND_FLOAT,
    int: KIND_INT,
    bool: KIND_BOOL,
    str: KIND_STR,
    type(None): KIND_NULL,
    JsonText: KIND_JSON,
    MediaText: KIND_MEDIA,
}


class KeyTable:
    """The run's metric names and their dictionary codes, in order of first appearance."""

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self.names: list[str] = []
        self.codes: dict[str, int] = {}
        self._tuples: dict[tuple[str, ...], Any] = {}
        for k in keys:
            self.code(k)

    def code(self, key: str) -> int:
        c = self.codes.get(key)
        if c is None:
            c = self.codes[key] = len(self.names)
            self.names.append(key)
        return c

    def codes_for(self, keys: tuple[str, ...]) -> np.ndarray:
        """Codes of a row's keys, cached by the key tuple (rows usually repeat their keys)."""
        arr = self._tuples.get(keys)
        if arr is None:
            import numpy as np

            arr = np.fromiter((self.code(k) for k in keys), dtype=np.int32, count=len(keys))
            if len(self._tuples) > 4096:
                self._tuples.clear()
            self._tuples[keys] = arr
        return arr


def rows_to_columns(
    items: list[tuple[int, float, dict[str, Any]]], keys: KeyTable, last: dict[str, Any]
) -> dict[str, Any]:
    """Turn committed rows ``(step, time, {key: plain value})`` into column arrays.

    Also updates ``last`` with each key's latest value. Values must already be plain
    (float, int, bool, str, None, :class:`JsonText`, :class:`MediaText`): ``Run.log`` makes them so.
    """
    import numpy as np

    run_keys: list[np.ndarray] = []
    run_counts: list[int] = []
    vals: list[Any] = []
    prev: tuple[str, ...] | None = None
    count = 0
    extend = vals.extend
    update = last.update
    for _, _, d in items:
        kt = tuple(d)
        if kt != prev:
            if count:
                run_keys.append(keys.codes_for(prev))  # type: ignore[arg-type]
                run_counts.append(count)
            prev, count = kt, 0
        count += 1
        extend(d.values())
        update(d)
    if count:
        run_keys.append(keys.codes_for(prev))  # type: ignore[arg-type]
        run_counts.append(count)

    row_lens = np.repeat(
        np.fromiter((len(k) for k in run_keys), dtype=np.int64, count=len(run_keys)), run_counts
    )
    codes = np.concatenate([np.tile(k, c) for k, c in zip(run_keys, run_counts)]) if run_keys else (
        np.empty(0, np.int32)
    )
    step = np.repeat(np.fromiter((it[0] for it in items), dtype=np.int64, count=len(items)), row_lens)
    time_ = np.repeat(np.fromiter((it[1] for it in items), dtype=np.float64, count=len(items)), row_lens)

    n = len(vals)
    classes = set(map(type, vals))
    text = None
    null = None
    if classes <= {float}:
        kind = np.zeros(n, dtype=np.int8)
        value = np.array(vals, dtype=np.float64) if n else np.empty(0, np.float64)
    else:
        kind = np.fromiter(map(KIND_OF.__getitem__, map(type, vals)), dtype=np.int8, count=n)
        numeric = kind <= KIND_BOOL
        if numeric.all():
            value = _to_float64(vals)
        else:
            obj = np.array(vals, dtype=object)
            value = np.full(n, np.nan)
            idx = np.flatnonzero(numeric)
            value[idx] = _to_float64(obj[idx].tolist())
            null = ~numeric
            tidx = np.flatnonzero(~numeric & (kind != KIND_NULL))
            if len(tidx):
                text = np.full(n, None, dtype=object)
                text[tidx] = obj[tidx]
        if int in classes:
            big = np.flatnonzero((kind == KIND_INT) & (np.abs(value) >= EXACT_INT_LIMIT))
            if len(big):
                if text is None:
                    text = np.full(n, None, dtype=object)
                for i in big:
                    text[i] = str(vals[i])
    return {"step": step, "key": codes, "kind": kind, "value": value, "null": null, "text": text, "time": time_}


def _to_float64(vals: list[Any]) -> np.ndarray:
    """Numbers to float64; an int beyond float range becomes +-inf (its exact text is kept)."""
    import numpy as np

    try:
        return np.array(vals, dtype=np.float64)
    except OverflowError:
        return np.array([_float_or_inf(v) for v in vals], dtype=np.float64)


def _float_or_inf(v: Any) -> float:
    try:
        return float(v)
    except OverflowError:
        return float("inf") if v > 0 else float("-inf")


def concat_columns(batches: list[dict[str, Any]]) -> dict[str, Any]:
    """Join column batches into one."""
    import numpy as np

    if len(batches) == 1:
        return batches[0]
    n = sum(len(b["step"]) for b in batches)
    out: dict[str, Any] = {}
    for name in ("step", "key", "kind", "value", "time"):
        out[name] = np.concatenate([b[name] for b in batches])
    if any(b["null"] is not None for b in batches):
        out["null"] = np.concatenate(
            [b["null"] if b["null"] is not None else np.zeros(len(b["step"]), bool) for b in batches]
        )
    else:
        out["null"] = None
    if any(b["text"] is not None for b in batches):
        out["text"] = np.concatenate(
            [b["text"] if b["text"] is not None else np.full(len(b["step"]), None, object) for b in batches]
        )
    else:
        out["text"] = None
    assert len(out["step"]) == n
    return out


def columns_to_table(cols: dict[str, Any], key_names: list[str]) -> pa.Table:
    """Build the Arrow table of a segment."""
    import pyarrow as pa

    n = len(cols["step"])
    keys = pa.DictionaryArray.from_arrays(
        pa.array(cols["key"], type=pa.int32()), pa.array(key_names, type=pa.string())
    )
    text = (
        pa.array(cols["text"], type=pa.string()) if cols["text"] is not None else pa.nulls(n, pa.string())
    )
    return pa.table(
        {
            "step": pa.array(cols["step"], type=pa.int64()),
            "key": keys,
            "kind": pa.array(cols["kind"], type=pa.int8()),
            "value": pa.array(cols["value"], type=pa.float64(), mask=cols["null"]),
            "text": text,
            "time": pa.array(cols["time"], type=pa.float64()),
        }
    )


def write_segment(table: pa.Table, stream_dir: Path, name: str, *, durable: bool = False) -> Path:
    """Write ``table`` as ``stream_dir/name`` under a temporary name, then rename it into place."""
    import pyarrow.parquet as pq

    stream_dir.mkdir(parents=True, exist_ok=True)
    final = stream_dir / name
    tmp = stream_dir / f".{name}.{secrets.token_hex(3)}.tmp"
    try:
        pq.write_table(
            table,
            tmp,
            compression="snappy",
            use_dictionary=["key", "kind", "step", "time", "text"],
            write_statistics=["step"],
        )
        if durable:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, final)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return final


def read_stream(
    stream_dir: Path,
    columns: list[str] | None = None,
    min_step: int | None = None,
    max_step: int | None = None,
) -> pa.Table | None:
    """Read every live segment of a stream as one Arrow table (None when there is none).

    Safe while a writer writes: a segment compacted away between listing and reading makes the
    listing start over, so the result is always one consistent set of segments.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    filters = []
    if min_step is not None:
        filters.append(("step", ">=", int(min_step)))
    if max_step is not None:
        filters.append(("step", "<", int(max_step)))
    for _ in range(20):
        names = layout.list_segments(stream_dir)
        if not names:
            return None
        try:
            tables = [
                pq.read_table(stream_dir / n, columns=columns, filters=filters or None)
                for n in names
            ]
        except FileNotFoundError:
            continue
        table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        if "key" in table.column_names:
            table = table.unify_dictionaries()
        return table.combine_chunks()
    raise OSError(f"segments in {stream_dir} kept changing while being read")


def segment_files(stream_dir: Path) -> list[Path]:
    """Paths of the live segments of a stream."""
    return [stream_dir / n for n in layout.list_segments(stream_dir)]
