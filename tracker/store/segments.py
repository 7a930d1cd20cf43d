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
Reading segments back is :mod:`tracker.store.query`'s job.
"""

from __future__ import annotations

import os

from tracker.store import layout
from tracker.store.codec import (  # noqa: F401 - the kinds are part of the segment schema
    EXACT_INT_LIMIT,
    KIND_BOOL,
    KIND_FLOAT,
    KIND_INT,
    KIND_JSON,
    KIND_MEDIA,
    KIND_NAMES,
    KIND_NULL,
    KIND_OF,
    KIND_STR,
    JsonText,
    MediaText,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    import numpy as np
    import pyarrow as pa


COLUMNS = ("step", "key", "kind", "value", "text", "time")
#: Columns with statistics: ``step`` and ``time`` let readers skip row groups and turn a time
#: window into a step window; ``kind`` and ``text`` (its null count) tell whether a segment holds text.
STATISTICS = ["step", "kind", "time", "text"]
#: Rows per Parquet row group: a reader of a step window decodes at most this many rows too many
#: at each end (row groups are skipped by their step statistics).
ROW_GROUP = 1 << 16


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
    items: list[tuple[int, float, dict[str, Any]]], keys: KeyTable, last: dict[str, Any],
    problem: Callable[[tuple[str, ...], str], None] | None = None,
) -> dict[str, Any]:
    """Turn committed rows ``(step, time, {key: plain value})`` into column arrays.

    Also updates ``last`` with each key's latest value. Values must already be plain
    (float, int, bool, str, None, :class:`JsonText`, :class:`MediaText`): ``Run.log`` makes them so.

    Consecutive rows with the same keys and value types form a run; codes and kinds are computed
    once per run, so the per-point work is only copying values (1M points in ~0.1 s).

    An int with more digits than Python turns into text (``sys.get_int_max_str_digits()``; ``log``'s
    fast path does not look at ints) has no stored form: it is dropped (as the slow path drops it),
    left out of ``last``, and ``problem((kind...), message)`` says so; the other values of its row
    stay.
    """
    import numpy as np

    fast = _uniform_numeric(items, keys, last)
    if fast is not None:
        return fast
    runs: list[tuple[tuple[str, ...], tuple[type, ...], int, dict[str, Any]]] = []
    vals: list[Any] = []
    prev_k: tuple[str, ...] | None = None
    prev_t: tuple[type, ...] | None = None
    prev_d: dict[str, Any] = {}
    count = 0
    extend = vals.extend
    for _, _, d in items:
        vs = d.values()
        kt = tuple(d)
        tt = tuple(map(type, vs))
        if kt != prev_k or tt != prev_t:
            if count:
                runs.append((prev_k, prev_t, count, prev_d))  # type: ignore[arg-type]
            prev_k, prev_t, count = kt, tt, 0
        count += 1
        prev_d = d
        extend(vs)
    if count:
        runs.append((prev_k, prev_t, count, prev_d))  # type: ignore[arg-type]

    code_parts = []
    kind_parts = []
    lens = []
    counts = []
    classes: set[type] = set()
    for kt, tt, c, final_row in runs:
        last.update(final_row)  # the run's last row holds the latest value of each of its keys
        code_parts.append(np.tile(keys.codes_for(kt), c))
        kind_parts.append(np.tile(np.fromiter(map(KIND_OF.__getitem__, tt), dtype=np.int8, count=len(tt)), c))
        lens.append(len(kt))
        counts.append(c)
        classes.update(tt)
    n = len(vals)
    codes = np.concatenate(code_parts) if code_parts else np.empty(0, np.int32)
    kind = np.concatenate(kind_parts) if kind_parts else np.empty(0, np.int8)
    row_lens = np.repeat(np.array(lens, dtype=np.int64), counts)
    step = np.repeat(np.fromiter((it[0] for it in items), dtype=np.int64, count=len(items)), row_lens)
    time_ = np.repeat(np.fromiter((it[1] for it in items), dtype=np.float64, count=len(items)), row_lens)

    text = None
    null = None
    if classes <= {float, int, bool}:
        value = _to_float64(vals) if n else np.empty(0, np.float64)
    else:
        numeric = kind <= KIND_BOOL
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
            lost = []
            for i in big:
                try:
                    text[i] = str(vals[i])
                except ValueError:  # more digits than Python turns into text
                    lost.append(i)
            if lost:
                for i in lost:
                    name = keys.names[codes[i]]
                    if last.get(name) is vals[i]:
                        del last[name]
                    if problem is not None:
                        problem(("int-too-long", name),
                                f"{name}: an int of {int.bit_length(vals[i])} bits has more digits than Python "
                                "turns into text (sys.get_int_max_str_digits()), so it has no stored form: "
                                f"dropped at step {int(step[i])}")
                keep = np.ones(n, dtype=bool)
                keep[lost] = False
                step, codes, kind, value, time_ = step[keep], codes[keep], kind[keep], value[keep], time_[keep]
                null = None if null is None else null[keep]
                text = text[keep]
    return {"step": step, "key": codes, "kind": kind, "value": value, "null": null, "text": text, "time": time_}


def _uniform_numeric(
    items: list[tuple[int, float, dict[str, Any]]], keys: KeyTable, last: dict[str, Any]
) -> dict[str, Any] | None:
    """The common batch, with no Python code per row: every row has the same keys, in the same
    order, and only float/int/bool values. Returns None for any other batch."""
    from itertools import chain
    from operator import itemgetter

    import numpy as np

    if not items:
        return None
    dicts = list(map(itemgetter(2), items))
    first = tuple(dicts[0])
    width = len(first)
    if width == 0 or any(map(first.__ne__, map(tuple, dicts))):
        return None
    n = width * len(dicts)
    classes = set(map(type, chain.from_iterable(map(dict.values, dicts))))
    if not classes <= {float, int, bool}:
        return None
    try:
        value = np.fromiter(chain.from_iterable(map(dict.values, dicts)), dtype=np.float64, count=n)
    except OverflowError:
        return None
    if classes == {float}:
        kind = np.zeros(n, dtype=np.int8)
    else:
        types = np.fromiter(map(type, chain.from_iterable(map(dict.values, dicts))), dtype=object, count=n)
        ints = types == int  # noqa: E721 - an elementwise test on an object array
        if ints.any() and np.abs(value[ints]).max() >= EXACT_INT_LIMIT:
            return None  # ints too big for float64: the general path keeps their exact text
        kind = ints.astype(np.int8) + (types == bool).astype(np.int8) * KIND_BOOL  # noqa: E721
    last.update(dicts[-1])
    codes = np.tile(keys.codes_for(first), len(dicts))
    step = np.repeat(np.fromiter(map(itemgetter(0), items), dtype=np.int64, count=len(items)), width)
    time_ = np.repeat(np.fromiter(map(itemgetter(1), items), dtype=np.float64, count=len(items)), width)
    return {"step": step, "key": codes, "kind": kind, "value": value, "null": None, "text": None, "time": time_}


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
    """Build the Arrow table of a segment.

    Arrays are made from their buffers: ``pa.array`` would import pandas (300 ms, 40 MB) on the
    writer thread of every training process just to check for pandas types.
    """
    import numpy as np
    import pyarrow as pa

    n = len(cols["step"])
    keys = pa.DictionaryArray.from_arrays(
        numpy_array(cols["key"].astype(np.int32, copy=False), pa.int32()), string_array(key_names)
    )
    valid = None if cols["null"] is None else ~cols["null"]
    text = string_array(cols["text"]) if cols["text"] is not None else null_strings(n)
    return pa.Table.from_arrays(
        [
            numpy_array(cols["step"].astype(np.int64, copy=False), pa.int64()),
            keys,
            numpy_array(cols["kind"].astype(np.int8, copy=False), pa.int8()),
            numpy_array(cols["value"].astype(np.float64, copy=False), pa.float64(), valid),
            text,
            numpy_array(cols["time"].astype(np.float64, copy=False), pa.float64()),
        ],
        names=list(COLUMNS),
    )


def array_numpy(arr: Any, dtype: Any, null: float | None = None) -> np.ndarray:
    """A primitive Arrow array (or chunked array) as numpy, read from its buffers: ``to_numpy``
    imports pandas (~0.4 s and 40 MB on the writer thread of every training process). Slots that
    are null read as ``null`` (required when the array has nulls)."""
    import numpy as np

    if hasattr(arr, "chunks"):  # a ChunkedArray
        parts = [array_numpy(c, dtype, null) for c in arr.chunks]
        return np.concatenate(parts) if parts else np.empty(0, dtype)
    dtype = np.dtype(dtype)
    n = len(arr)
    out = np.frombuffer(arr.buffers()[1], dtype=dtype, count=n, offset=arr.offset * dtype.itemsize) if n \
        else np.empty(0, dtype)
    if arr.null_count:
        if null is None:
            raise ValueError(f"a {arr.type} array with {arr.null_count} nulls and no value for them")
        bits = np.unpackbits(np.frombuffer(arr.buffers()[0], dtype=np.uint8), bitorder="little")
        valid = bits[arr.offset:arr.offset + n].astype(bool)
        out = np.where(valid, out, dtype.type(null))
    return out


def _validity(valid: Any) -> tuple[Any, int]:
    import numpy as np
    import pyarrow as pa

    if valid is None:
        return None, 0
    nulls = int(len(valid) - np.count_nonzero(valid))
    if not nulls:
        return None, 0
    return pa.py_buffer(np.packbits(valid, bitorder="little")), nulls


def numpy_array(arr: Any, typ: pa.DataType, valid: Any = None) -> pa.Array:
    """A fixed-width Arrow array over a numpy array's memory (``valid``: bool mask of non-nulls)."""
    import numpy as np
    import pyarrow as pa

    arr = np.ascontiguousarray(arr)
    bitmap, nulls = _validity(valid)
    return pa.Array.from_buffers(typ, len(arr), [bitmap, pa.py_buffer(arr)], null_count=nulls)


def null_strings(n: int) -> pa.Array:
    """An all-null string array of length ``n`` (no per-element work)."""
    import numpy as np
    import pyarrow as pa

    bitmap = pa.py_buffer(np.zeros((n + 7) // 8, dtype=np.uint8))
    offsets = pa.py_buffer(np.zeros(n + 1, dtype=np.int32))
    return pa.Array.from_buffers(pa.string(), n, [bitmap, offsets, pa.py_buffer(b"")], null_count=n)


def string_array(items: Any) -> pa.Array:
    """A utf-8 Arrow string array from a sequence of ``str`` or None."""
    import numpy as np
    import pyarrow as pa

    n = len(items)
    valid = np.fromiter((x is not None for x in items), dtype=bool, count=n)
    encoded = [x.encode("utf-8", "surrogatepass") if x is not None else b"" for x in items]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=n), out=offsets[1:])
    if offsets[-1] >= 2**31:
        raise ValueError(f"{offsets[-1]} bytes of text in one segment is over Arrow's 2 GiB string limit")
    bitmap, nulls = _validity(valid)
    return pa.Array.from_buffers(
        pa.string(),
        n,
        [bitmap, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(b"".join(encoded))],
        null_count=nulls,
    )


def write_segment(table: pa.Table, stream_dir: str, name: str, *, durable: bool = False) -> str:
    """Write ``table`` as ``stream_dir/name`` under a temporary name, then rename it into place."""
    import pyarrow.parquet as pq

    os.makedirs(stream_dir, exist_ok=True)
    final = os.path.join(stream_dir, name)
    with layout.Publish(final) as tmp:
        pq.write_table(
            table,
            tmp,
            compression="snappy",
            use_dictionary=["key", "kind", "step", "time", "text"],
            write_statistics=STATISTICS,
            row_group_size=ROW_GROUP,
        )
        if durable:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    return final
