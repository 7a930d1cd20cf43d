"""A run's history: long segments read back as a wide frame, a row stream, or a downsampled frame.

The wide frame is a pivot of the long table (one row per step, one column per key), done with
numpy on the Arrow buffers: 1M points pivot in ~15 ms, several times faster than a SQL PIVOT.
Downsampling (``samples=``) is the store's one downsampler (:meth:`tracker.store.query.Query.series`):
per key and step bucket it keeps the first, last, minimum and maximum point (M4), so no spike is ever
hidden by the sampling, and long series are read through their pyramid of M4 rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from tracker.errors import UsageError
from tracker.store.codec import decode_value
from tracker.store.segments import KIND_BOOL, KIND_FLOAT, KIND_INT, KIND_NULL

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

INDEX_COLUMNS = ("_step", "_timestamp", "_runtime")


def points_table(series: dict[str, dict[str, Any]]) -> pa.Table | None:
    """The long table (step, key, kind, value, text, time) of downsampled points per key, in step
    order (what ``history(samples=...)`` pivots)."""
    import numpy as np
    import pyarrow as pa

    from tracker.store.segments import null_strings, numpy_array

    names = [k for k, v in series.items() if len(v["step"])]
    if not names:
        return None
    step = np.concatenate([series[k]["step"] for k in names]).astype(np.int64)
    code = np.concatenate([np.full(len(series[k]["step"]), i, dtype=np.int32) for i, k in enumerate(names)])
    value = np.concatenate([series[k]["y"] for k in names]).astype(np.float64)
    time_ = np.concatenate([series[k]["time"] for k in names]).astype(np.float64)
    order = np.argsort(step, kind="stable")
    n = len(step)
    keys = pa.DictionaryArray.from_arrays(numpy_array(code[order], pa.int32()), pa.array(names, pa.string()))
    return pa.Table.from_arrays(
        [numpy_array(step[order], pa.int64()), keys, numpy_array(np.zeros(n, np.int8), pa.int8()),
         numpy_array(value[order], pa.float64()), null_strings(n), numpy_array(time_[order], pa.float64())],
        names=["step", "key", "kind", "value", "text", "time"],
    )


def _dict_column(table: pa.Table) -> tuple[Any, list[str]]:
    """Key codes (numpy) and names of a table's key column, dictionary-encoding it if needed."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = table.column("key")
    if not pa.types.is_dictionary(col.type):
        col = pc.dictionary_encode(col)
    col = col.unify_dictionaries() if isinstance(col, pa.ChunkedArray) else col
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return arr.indices.to_numpy(zero_copy_only=False), arr.dictionary.to_pylist()


def pivot(
    table: pa.Table | None,
    created_at: float,
    keys: Sequence[str] | None = None,
    x_axis: str = "_step",
) -> pd.DataFrame:
    """The wide history frame: ``_step``, ``_timestamp``, ``_runtime`` and one column per key.

    With ``keys``, only rows where every one of those keys was logged are kept (W&B's rule).
    With an ``x_axis`` other than ``_step``, only rows holding it are kept and it comes first.
    """
    import numpy as np
    import pandas as pd

    if table is None or table.num_rows == 0:
        cols = list(INDEX_COLUMNS) + list(keys or [])
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in cols})
    table = table.combine_chunks()
    step = table.column("step").to_numpy()
    codes, names = _dict_column(table)
    kind = table.column("kind").to_numpy()
    value = table.column("value").to_numpy(zero_copy_only=False)
    time_ = table.column("time").to_numpy()
    if len(step) > 1 and (step[1:] < step[:-1]).any():
        order = np.argsort(step, kind="stable")
        step, codes, kind, value, time_ = step[order], codes[order], kind[order], value[order], time_[order]
        table = table.take(order)
    n = len(step)
    newrow = np.empty(n, dtype=bool)
    newrow[0] = True
    np.not_equal(step[1:], step[:-1], out=newrow[1:])
    steps = step[newrow]
    nrows, nkeys = len(steps), len(names)
    index_type = np.int32 if nrows * max(nkeys, 1) < 2**31 else np.int64
    uniform = n == nrows * nkeys and nkeys > 0
    if uniform:  # dense logging: every row holds every key in one order, so a reshape pivots
        first = codes[:nkeys]
        grid = codes.reshape(nrows, nkeys)
        uniform = bool((grid == first).all())
    row: Any = None
    if uniform:
        out = np.empty((nrows, nkeys))
        out[:, first] = value.reshape(nrows, nkeys)
        counts = np.full(nkeys, nrows)
    else:
        row = np.cumsum(newrow, dtype=index_type) - 1
        flat = row * nkeys + codes.astype(index_type, copy=False)
        out = np.full((nrows, nkeys), np.nan)
        out.ravel()[flat] = value  # a null (None) reads as NaN in a numeric column
        counts = np.bincount(codes, minlength=nkeys)

    def rows_of_points() -> Any:
        nonlocal row
        if row is None:
            row = np.cumsum(newrow, dtype=index_type) - 1
        return row

    # which kinds each key holds (a bincount, not ufunc.at: 1M points in ~3 ms)
    kinds_per_key = np.zeros((nkeys, 8), dtype=np.int64)
    other = np.flatnonzero(kind)  # points that are not floats (usually few)
    if len(other):
        kinds_per_key += np.bincount(codes[other] * 8 + kind[other], minlength=nkeys * 8).reshape(nkeys, 8)
    kinds_per_key[:, KIND_FLOAT] = counts - kinds_per_key.sum(axis=1)
    numeric_kinds = (KIND_FLOAT, KIND_INT, KIND_BOOL)

    data: dict[str, Any] = {
        "_step": steps,
        "_timestamp": time_[newrow],
        "_runtime": time_[newrow] - created_at,
    }
    text_col = None
    for code, name in enumerate(names):
        held = kinds_per_key[code]
        if counts[code] == 0:
            continue
        col = out[:, code]
        complete = counts[code] == nrows
        only = [k for k in range(8) if held[k]]
        if all(k in numeric_kinds or k == KIND_NULL for k in only):
            if only == [KIND_INT] and complete and np.isfinite(col).all() and np.abs(col).max(initial=0) < 2**53:
                data[name] = col.astype(np.int64)
            elif only == [KIND_BOOL] and complete:
                data[name] = col.astype(bool)
            else:
                data[name] = col  # numbers, perhaps with None: None reads as NaN in a wide frame
            continue
        if text_col is None:
            text_col = table.column("text").to_pylist()
        objs = np.full(nrows, None, dtype=object)
        idx = np.flatnonzero(codes == code)
        rows_idx = rows_of_points()
        for i in idx.tolist():
            objs[rows_idx[i]] = decode_value(int(kind[i]), None if np.isnan(value[i]) else float(value[i]), text_col[i])
        data[name] = objs
    frame = pd.DataFrame(data, copy=False)
    if keys is not None:
        missing = [k for k in keys if k not in frame.columns]
        if missing:
            return frame.iloc[0:0].reindex(columns=list(frame.columns) + missing)
        hits = np.zeros(nrows, dtype=np.int64)
        rows_idx = rows_of_points()
        for k in keys:
            hits[rows_idx[codes == names.index(k)]] += 1
        mask = hits == len(keys)
        frame = frame[mask].reset_index(drop=True)
    if x_axis != "_step":
        if x_axis not in frame.columns:
            raise UsageError(f"x_axis={x_axis!r} is not a logged key of this run nor one of {INDEX_COLUMNS}")
        frame = frame[frame[x_axis].notna()].reset_index(drop=True)
        frame = frame[[x_axis] + [c for c in frame.columns if c != x_axis]]
    return frame


def iter_rows(table: pa.Table | None, created_at: float, page_size: int = 4096) -> Iterator[dict[str, Any]]:
    """Rows as dicts ``{"_step", "_timestamp", "_runtime", key: value, ...}``, in step order.

    Only keys logged at a step appear in its row, with their exact logged type (None stays None).
    """
    if table is None:
        return
    current: dict[str, Any] | None = None
    for batch in table.to_batches(max_chunksize=page_size):
        steps = batch.column("step").to_pylist()
        keys = batch.column("key").cast("string").to_pylist() if not _is_dict(batch) else (
            batch.column("key").dictionary.to_pylist()
        )
        codes = batch.column("key").indices.to_pylist() if _is_dict(batch) else None
        kinds = batch.column("kind").to_pylist()
        values = batch.column("value").to_pylist()
        texts = batch.column("text").to_pylist()
        times = batch.column("time").to_pylist()
        for i, step in enumerate(steps):
            if current is None or current["_step"] != step:
                if current is not None:
                    yield current
                current = {"_step": step, "_timestamp": times[i], "_runtime": times[i] - created_at}
            key = keys[codes[i]] if codes is not None else keys[i]
            current[key] = decode_value(kinds[i], values[i], texts[i])
    if current is not None:
        yield current


def _is_dict(batch: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_dictionary(batch.column("key").type)
