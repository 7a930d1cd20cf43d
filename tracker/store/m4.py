"""M4 downsampling in numpy, and the pyramid of M4 rows kept beside large segments.

M4 keeps, per series and per bucket of x, the first, last, smallest and largest point: a line drawn
through those points is pixel-identical to one drawn through every point, and no spike is lost.
The reduction is *mergeable*: the M4 of a bucket is the M4 of the M4 rows of its parts. So one
function, :func:`reduce`, serves three readers: the pyramid written at compaction (raw rows ->
fine buckets -> coarser buckets), a chart query (pyramid rows and recent raw rows -> pixel
buckets), and a live chart appending new points.

An M4 row (an "aggregate") is the columns of :data:`AGG_COLUMNS`: the series code ``key``, its
``bucket``, the number of points ``n``, and three points ``(s, t, v)`` = (step, time, value) each for
the first (``0``), last (``1``), lowest (``l``) and highest (``h``) point. A raw point is an aggregate
of one point. NaN values never win the lowest/highest place unless a bucket holds nothing else.

Pyramid files: for ``<stream>/seg-<lo>-<hi>-<writer>.parquet`` the compactor writes
``<stream>/m4/seg-<lo>-<hi>-<writer>.parquet`` *before* the segment is renamed into place, so a reader
that sees a segment also sees its pyramid. Level ``L`` holds buckets of ``2 ** (BASE_SHIFT + LEVEL_SHIFT * L)``
steps, per key, for the numeric points (kinds 0-2) of the segment.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    import numpy as np
    import pyarrow as pa

#: Level 0 buckets hold 64 steps; each level up holds 8 times more.
BASE_SHIFT = 6
LEVEL_SHIFT = 3
#: Levels are built until a level has at most this many buckets per key.
TOP_BUCKETS = 64
#: Segments with fewer numeric points than this get no pyramid: reading them whole is as fast.
MIN_POINTS = 1 << 16
POINTS = ("0", "1", "l", "h")
AGG_COLUMNS = ("key", "bucket", "n", *(f"{c}{p}" for p in POINTS for c in "stv"))
#: Pyramids live in a subfolder of the stream, under their segment's name, so a glob of the
#: stream's ``*.parquet`` (what other engines read) matches segments only.
PYRAMID_DIR = "m4"


def bucket_width(level: int) -> int:
    """Steps per bucket at a pyramid level."""
    return 1 << (BASE_SHIFT + LEVEL_SHIFT * level)


def pyramid_path(stream_dir: str, segment: str) -> str:
    """The pyramid file of a segment (by the segment's file name)."""
    return os.path.join(stream_dir, PYRAMID_DIR, segment)


def from_points(key: Any, step: Any, time: Any, value: Any, bucket: Any) -> dict[str, np.ndarray]:
    """Raw points as one-point aggregates."""
    import numpy as np

    out: dict[str, Any] = {"key": np.asarray(key, dtype=np.int64), "bucket": np.asarray(bucket, dtype=np.int64),
                           "n": np.ones(len(step), dtype=np.int64)}
    step = np.asarray(step, dtype=np.int64)
    time = np.asarray(time, dtype=np.float64)
    value = np.asarray(value, dtype=np.float64)
    for p in POINTS:
        out[f"s{p}"], out[f"t{p}"], out[f"v{p}"] = step, time, value
    return out


def concat(parts: Iterable[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    import numpy as np

    parts = [p for p in parts if len(p["n"])]
    if not parts:
        return empty()
    if len(parts) == 1:
        return parts[0]
    return {c: np.concatenate([p[c] for p in parts]) for c in AGG_COLUMNS}


def empty() -> dict[str, np.ndarray]:
    import numpy as np

    out = {c: np.empty(0, dtype=np.int64) for c in ("key", "bucket", "n")}
    for p in POINTS:
        out[f"s{p}"] = np.empty(0, dtype=np.int64)
        out[f"t{p}"] = np.empty(0, dtype=np.float64)
        out[f"v{p}"] = np.empty(0, dtype=np.float64)
    return out


def reduce(agg: dict[str, np.ndarray], bucket: Any = None) -> dict[str, np.ndarray]:
    """Merge aggregates that share ``(key, bucket)`` (``bucket``: new bucket numbers, else the rows'
    own). The result is sorted by key, then bucket."""
    import numpy as np

    n = len(agg["n"])
    b = agg["bucket"] if bucket is None else np.asarray(bucket, dtype=np.int64)
    if n == 0:
        return {**agg, "bucket": b}
    order = np.lexsort((agg["s0"], b, agg["key"]))
    key, b = agg["key"][order], b[order]
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    new[1:] |= b[1:] != b[:-1]
    starts = np.flatnonzero(new)
    out: dict[str, Any] = {"key": key[starts], "bucket": b[starts],
                           "n": np.add.reduceat(agg["n"][order], starts)}
    first = order[starts]
    for c in "stv":
        out[f"{c}0"] = agg[f"{c}0"][first]
    # the last point is the one with the largest step (buckets of a series never overlap in step)
    s1 = agg["s1"][order]
    pick = _arg_reduce(s1.astype(np.float64), starts, np.maximum, -np.inf)
    for c in "stv":
        out[f"{c}1"] = agg[f"{c}1"][order[pick]]
    vl = agg["vl"][order]
    pick = _arg_reduce(np.where(np.isnan(vl), np.inf, vl), starts, np.minimum, np.inf)
    for c in "stv":
        out[f"{c}l"] = agg[f"{c}l"][order[pick]]
    vh = agg["vh"][order]
    pick = _arg_reduce(np.where(np.isnan(vh), -np.inf, vh), starts, np.maximum, -np.inf)
    for c in "stv":
        out[f"{c}h"] = agg[f"{c}h"][order[pick]]
    return out


def _arg_reduce(values: np.ndarray, starts: np.ndarray, ufunc: Any, fill: float) -> np.ndarray:
    """Per group (``starts``), the index of the first element holding the group's extreme value."""
    import numpy as np

    n = len(values)
    best = ufunc.reduceat(values, starts)
    sizes = np.diff(np.r_[starts, n])
    hit = values == np.repeat(best, sizes)
    idx = np.where(hit, np.arange(n), n)
    return np.minimum.reduceat(idx, starts)


def points(agg: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The distinct points of aggregates, sorted by key then step: ``key``, ``step``, ``time``,
    ``value`` (a point chosen twice, e.g. a bucket's first that is also its lowest, once)."""
    import numpy as np

    key = np.tile(agg["key"], 4)
    step = np.concatenate([agg[f"s{p}"] for p in POINTS])
    time = np.concatenate([agg[f"t{p}"] for p in POINTS])
    value = np.concatenate([agg[f"v{p}"] for p in POINTS])
    order = np.lexsort((step, key))
    key, step, time, value = key[order], step[order], time[order], value[order]
    keep = np.ones(len(step), dtype=bool)
    keep[1:] = (step[1:] != step[:-1]) | (key[1:] != key[:-1])
    return {"key": key[keep], "step": step[keep], "time": time[keep], "value": value[keep]}


# --- pyramids -------------------------------------------------------------------------------------
class PyramidBuilder:
    """Builds a segment's pyramid from its record batches, as the compactor streams them: memory
    holds the level-0 rows (1/16 of the points at most), never the segment."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.codes: dict[str, int] = {}
        self.parts: list[dict[str, Any]] = []
        self.points = 0

    def add(self, batch: pa.RecordBatch) -> None:
        import numpy as np
        import pyarrow as pa

        from tracker.store.segments import array_numpy  # to_numpy would import pandas (see there)

        col = batch.schema.get_field_index
        kind = array_numpy(batch.column(col("kind")), np.int8, -1)
        numeric = np.flatnonzero((kind <= 2) & (kind >= 0))
        if len(numeric) == 0:
            return
        keycol = batch.column(batch.schema.get_field_index("key"))
        if not pa.types.is_dictionary(keycol.type):
            keycol = keycol.dictionary_encode()
        remap = np.fromiter((self._code(k) for k in keycol.dictionary.to_pylist()), dtype=np.int64,
                            count=len(keycol.dictionary))
        key = remap[array_numpy(keycol.indices, np.int32, 0)[numeric]]
        step = array_numpy(batch.column(col("step")), np.int64, 0)[numeric]
        time = array_numpy(batch.column(col("time")), np.float64, np.nan)[numeric]
        value = array_numpy(batch.column(col("value")), np.float64, np.nan)[numeric]  # None logged: NaN
        self.points += len(step)
        self.parts.append(reduce(from_points(key, step, time, value, step >> BASE_SHIFT)))

    def add_pyramid(self, path: str) -> None:
        """The level-0 rows of an input segment's own pyramid instead of its points (M4 rows merge):
        a merge of large segments costs their pyramids' rows, not their points again."""
        import numpy as np
        import pyarrow.parquet as pq

        t = pq.read_table(path, filters=[("level", "==", 0)])
        if t.num_rows == 0:
            return
        keycol = t.column("key").combine_chunks()
        if not hasattr(keycol, "dictionary"):
            keycol = keycol.dictionary_encode()
        remap = np.fromiter((self._code(k) for k in keycol.dictionary.to_pylist()), dtype=np.int64,
                            count=len(keycol.dictionary))
        from tracker.store.segments import array_numpy  # to_numpy would import pandas (see there)

        agg = {c: array_numpy(t.column(c), np.float64 if c[0] in "tv" else np.int64, np.nan if c[0] in "tv" else 0)
               for c in AGG_COLUMNS if c != "key"}
        agg["key"] = remap[array_numpy(keycol.indices, np.int32, 0)]
        self.points += int(agg["n"].sum())
        self.parts.append(agg)

    def _code(self, name: str) -> int:
        code = self.codes.get(name)
        if code is None:
            code = self.codes[name] = len(self.names)
            self.names.append(name)
        return code

    def table(self) -> pa.Table | None:
        """The pyramid as an Arrow table (None below :data:`MIN_POINTS` points)."""
        import numpy as np
        import pyarrow as pa

        if self.points < MIN_POINTS:
            return None
        level = reduce(concat(self.parts))  # rows of one bucket split across batches merge here
        levels = [level]
        while len(level["n"]) and np.bincount(level["key"]).max() > TOP_BUCKETS:
            level = reduce(level, level["bucket"] >> LEVEL_SHIFT)
            levels.append(level)
        cols: dict[str, Any] = {c: np.concatenate([lv[c] for lv in levels]) for c in AGG_COLUMNS}
        lvl = np.concatenate([np.full(len(lv["n"]), i, dtype=np.int8) for i, lv in enumerate(levels)])
        from tracker.store.segments import numpy_array, string_array

        # from buffers: pa.array() would import pandas on the writer thread (see segments.py)
        keys = pa.DictionaryArray.from_arrays(numpy_array(cols.pop("key").astype(np.int32), pa.int32()),
                                              string_array(self.names))
        arrays = [numpy_array(lvl, pa.int8()), keys] + [
            numpy_array(cols[c], pa.float64() if c[0] in "tv" else pa.int64()) for c in AGG_COLUMNS[1:]]
        return pa.Table.from_arrays(arrays, names=["level", *AGG_COLUMNS])


def write_pyramid(table: pa.Table, path: str) -> None:
    """Write a pyramid table (rows sorted by level, key, bucket: readers skip row groups by level)."""
    import pyarrow.parquet as pq

    from tracker.store import layout

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with layout.Publish(path) as tmp:
        pq.write_table(table, tmp, compression="snappy", row_group_size=1 << 15,
                       write_statistics=["level", "bucket", "s0", "s1", "t0", "t1"])


def remove_orphan_pyramids(stream_dir: str, live: list[str]) -> None:
    """Delete pyramids whose segment is gone (a reader may publish one for a segment that a merge
    replaces meanwhile)."""
    keep = set(live)
    folder = os.path.join(stream_dir, PYRAMID_DIR)
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if name.endswith(".parquet") and name not in keep:
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass
