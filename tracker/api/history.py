"""A run's history: long segments read back as a wide frame, a row stream, or a downsampled frame.

The wide frame is a pivot of the long table (one row per step, one column per key), done with
numpy on the Arrow buffers: 1M points pivot in ~15 ms, several times faster than a SQL PIVOT.
Downsampling (``samples=``) runs inside DuckDB: per key and step bucket it keeps the first, last,
minimum and maximum point (M4), so no spike is ever hidden by the sampling.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from tracker.errors import UsageError
from tracker.sdk.values import decode_value
from tracker.store import segments
from tracker.store.segments import KIND_BOOL, KIND_FLOAT, KIND_INT, KIND_NULL

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

INDEX_COLUMNS = ("_step", "_timestamp", "_runtime")


def read_long(
    stream_dir: str,
    keys: Sequence[str] | None = None,
    min_step: int | None = None,
    max_step: int | None = None,
) -> pa.Table | None:
    """The long table of a stream, optionally only some keys and a step range."""
    import pyarrow.compute as pc

    table = segments.read_stream(stream_dir, min_step=min_step, max_step=max_step)
    if table is None or keys is None:
        return table
    mask = pc.is_in(table.column("key").cast("string"), value_set=_str_array(keys))
    return table.filter(mask)


def _str_array(values: Sequence[str]) -> pa.Array:
    import pyarrow as pa

    return pa.array(list(values), type=pa.string())


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


def m4_steps_sql(files: list[str], keys: Sequence[str] | None, buckets: int,
                 min_step: int | None, max_step: int | None, x_col: str = "step") -> tuple[str, list[Any]]:
    """SQL that picks, per key and bucket of ``x_col``, the steps of the first, last, min and max point."""
    where = ["kind <= 2"]
    params: list[Any] = [files]
    if keys is not None:
        where.append("key IN (SELECT unnest(?))")
        params.append(list(keys))
    if min_step is not None:
        where.append("step >= ?")
        params.append(int(min_step))
    if max_step is not None:
        where.append("step < ?")
        params.append(int(max_step))
    sql = f"""
        WITH h AS (
            SELECT step, CAST(key AS VARCHAR) AS key, value, {x_col} AS x
            FROM read_parquet(?) WHERE {' AND '.join(where)}
        ),
        lim AS (SELECT min(x) AS lo, max(x) AS hi FROM h),
        b AS (
            SELECT h.*, least(CAST(floor((h.x - lim.lo) * {int(buckets)} / greatest(lim.hi - lim.lo, 1e-300)) AS BIGINT),
                              {int(buckets) - 1}) AS bucket
            FROM h, lim
        ),
        picked AS (
            SELECT arg_min(step, value) AS s_min, arg_max(step, value) AS s_max,
                   min(step) AS s_first, max(step) AS s_last
            FROM b GROUP BY key, bucket
        )
        SELECT DISTINCT s FROM (
            SELECT s_min AS s FROM picked UNION ALL SELECT s_max FROM picked
            UNION ALL SELECT s_first FROM picked UNION ALL SELECT s_last FROM picked
        ) ORDER BY s
    """
    return sql, params


def arrow_table(result: Any) -> pa.Table:
    """The Arrow table of a DuckDB result (the method's name changed in DuckDB 2.0)."""
    fetch = getattr(result, "to_arrow_table", None) or result.fetch_arrow_table
    return fetch()


def downsampled(
    con: Any,
    stream_dir: str,
    samples: int,
    keys: Sequence[str] | None,
    min_step: int | None,
    max_step: int | None,
) -> pa.Table | None:
    """The long rows of the steps that M4 sampling keeps (about ``samples`` rows per key)."""

    if samples < 4:
        raise UsageError(f"samples={samples!r} must be at least 4")
    for _ in range(10):
        files = [str(p) for p in segments.segment_files(stream_dir)]
        if not files:
            return None
        sql, params = m4_steps_sql(files, keys, max(1, samples // 4), min_step, max_step)
        try:
            picked = con.execute(sql, params).fetchnumpy()["s"]
            rows = arrow_table(con.sql(
                "SELECT step, key, kind, value, text, time FROM read_parquet(?) "
                "WHERE step IN (SELECT unnest(?)) ORDER BY step",
                params=[files, picked.tolist()],
            ))
        except Exception as exc:  # a segment compacted away mid-query: list again
            if "No files found" in str(exc) or "No such file" in str(exc) or "IO Error" in str(exc):
                continue
            raise
        if keys is not None:
            import pyarrow.compute as pc

            rows = rows.filter(pc.is_in(rows.column("key").cast("string"), value_set=_str_array(keys)))
        return rows
    raise OSError(f"segments in {stream_dir} kept changing while being read")
