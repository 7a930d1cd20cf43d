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
steps, per key, for the numeric points (kinds 0-2) of the segment. A level is written in pieces
(row groups of one level each, see :class:`PyramidBuilder`), so a bucket may be two rows: readers
reduce them like any M4 rows.
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
#: M4 rows a pyramid builder holds per level before writing them, and points reduced at a time:
#: what bounds its memory (see :class:`PyramidBuilder`).
HOLD_ROWS = 1 << 12
POINT_CHUNK = 1 << 16
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


def reduce_points(key: Any, step: Any, time: Any, value: Any, shift: int = BASE_SHIFT) -> dict[str, np.ndarray]:
    """``reduce(from_points(key, step, time, value, step >> shift))``, in a few passes over the points
    when each key's steps only increase, as in a segment the writer wrote: one stable sort by key
    (a radix sort for small codes) puts every series in step order, so buckets are runs of equal
    bucket numbers and a bucket's first and last points are its ends. Anything else (a step that
    repeats or goes back within a key) takes the general :func:`reduce`: the answers are the same."""
    import numpy as np

    key = np.asarray(key, dtype=np.int64)
    step = np.asarray(step, dtype=np.int64)
    n = len(step)
    if n == 0:
        return reduce(from_points(key, step, time, value, step >> shift))
    small = 0 <= int(key.min()) and int(key.max()) < 1 << 16
    order = np.argsort(key.astype(np.uint16) if small else key, kind="stable")
    k = key[order]
    s = step[order]
    same = k[1:] == k[:-1]
    if n > 1 and np.logical_and(s[1:] <= s[:-1], same).any():
        return reduce(from_points(key, step, time, value, step >> shift))
    t = np.asarray(time, dtype=np.float64)[order]
    v = np.asarray(value, dtype=np.float64)[order]
    b = s >> shift
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.logical_not(same, out=new[1:])
    new[1:] |= b[1:] != b[:-1]
    starts = np.flatnonzero(new)
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:] - 1
    ends[-1] = n - 1
    out: dict[str, Any] = {"key": k[starts], "bucket": b[starts], "n": (ends - starts + 1).astype(np.int64)}
    nan = np.isnan(v)
    low = _arg_reduce(np.where(nan, np.inf, v), starts, np.minimum, np.inf)
    high = _arg_reduce(np.where(nan, -np.inf, v), starts, np.maximum, -np.inf)
    for p, idx in (("0", starts), ("1", ends), ("l", low), ("h", high)):
        out[f"s{p}"], out[f"t{p}"], out[f"v{p}"] = s[idx], t[idx], v[idx]
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
    """Writes a segment's pyramid to ``path`` as its points (or its inputs' pyramids) stream in, in
    memory bounded whatever the segment's size: each level holds at most :data:`HOLD_ROWS` M4 rows
    (or 8 a key, with many keys); past that they are written, as row groups of that level, and reduced into the level above. So
    a level's rows may span several row groups, and a bucket cut between two of them is two rows,
    which readers merge as they merge any M4 rows. Row groups hold one level each (readers skip them
    by the level's statistics).

    ``finish()`` completes every level up to the first with at most :data:`TOP_BUCKETS` buckets per
    key (and every level already written) and publishes the file; a segment with fewer than
    :data:`MIN_POINTS` numeric points gets none. ``abort()`` removes what was written.
    """

    def __init__(self, path: str) -> None:
        from tracker.store import layout

        self.path = path
        self._publish = layout.Publish(path)
        self.names: list[str] = []
        self.codes: dict[str, int] = {}
        self.held: list[list[dict[str, Any]]] = [[]]  # per level: rows not written yet
        self.held_rows: list[int] = [0]
        self.per_key: list[Any] = [None]  # per level: buckets written per key code (an upper bound)
        self.points = 0
        self.top_written = -1  # the highest level with rows in the file
        self._writer: Any = None

    def add(self, batch: pa.RecordBatch) -> None:
        """A record batch of segment rows (only kinds 0-2 are drawn)."""
        import numpy as np
        import pyarrow as pa

        from tracker.store.segments import array_numpy  # to_numpy would import pandas (see there)

        col = batch.schema.get_field_index
        keycol = batch.column(col("key"))
        if not pa.types.is_dictionary(keycol.type):
            keycol = keycol.dictionary_encode()
        self.add_columns(
            keycol.dictionary.to_pylist(), array_numpy(keycol.indices, np.int32, 0),
            array_numpy(batch.column(col("kind")), np.int8, -1), array_numpy(batch.column(col("step")), np.int64, 0),
            array_numpy(batch.column(col("time")), np.float64, np.nan),
            array_numpy(batch.column(col("value")), np.float64, np.nan),  # None logged: NaN
        )

    def add_columns(self, names: list[str], codes: np.ndarray, kind: np.ndarray, step: np.ndarray,
                    time: np.ndarray, value: np.ndarray) -> None:
        """Points as segment columns (``codes`` index ``names``; only kinds 0-2 are drawn), e.g. a
        flush's columns before they are a table. Reduced :data:`POINT_CHUNK` points at a time."""
        import numpy as np

        numeric = (kind <= 2) & (kind >= 0)
        if not numeric.all():
            idx = np.flatnonzero(numeric)
            codes, step, time, value = codes[idx], step[idx], time[idx], value[idx]
        if len(step) == 0:
            return
        remap = self._remap(names)
        self.points += len(step)
        for lo in range(0, len(step), POINT_CHUNK):
            hi = lo + POINT_CHUNK
            self._push(0, reduce_points(remap[codes[lo:hi]], step[lo:hi], time[lo:hi], value[lo:hi]))

    def add_pyramid(self, path: str) -> None:
        """The level-0 rows of an input segment's own pyramid instead of its points (M4 rows merge):
        a merge of large segments costs their pyramids' rows, not their points again. Read in
        batches, so an input of any size takes bounded memory."""
        import numpy as np
        import pyarrow.parquet as pq

        from tracker.store.segments import array_numpy  # to_numpy would import pandas (see there)

        pf = pq.ParquetFile(path)
        level_col = pf.schema_arrow.get_field_index("level")
        groups = [i for i in range(pf.metadata.num_row_groups)
                  if (st := pf.metadata.row_group(i).column(level_col).statistics) is None
                  or not st.has_min_max or st.min <= 0]
        for batch in pf.iter_batches(batch_size=HOLD_ROWS, row_groups=groups, use_threads=False):
            level = array_numpy(batch.column(level_col), np.int8, -1)
            keep = np.flatnonzero(level == 0)
            if len(keep) == 0:
                continue
            keycol = batch.column(batch.schema.get_field_index("key"))
            if not hasattr(keycol, "dictionary"):
                keycol = keycol.dictionary_encode()
            remap = self._remap(keycol.dictionary.to_pylist())
            agg = {c: array_numpy(batch.column(batch.schema.get_field_index(c)),
                                  np.float64 if c[0] in "tv" else np.int64, np.nan if c[0] in "tv" else 0)[keep]
                   for c in AGG_COLUMNS if c != "key"}
            agg["key"] = remap[array_numpy(keycol.indices, np.int32, 0)[keep]]
            self.points += int(agg["n"].sum())
            self._push(0, agg)

    def _remap(self, names: list[str]) -> np.ndarray:
        """This pyramid's code of each of ``names`` (a segment's or an input pyramid's key table)."""
        import numpy as np

        return np.fromiter(map(self._code, names), dtype=np.int64, count=len(names))

    def _code(self, name: str) -> int:
        code = self.codes.get(name)
        if code is None:
            code = self.codes[name] = len(self.names)
            self.names.append(name)
        return code

    def _push(self, level: int, agg: dict[str, Any]) -> None:
        if not len(agg["n"]):
            return
        self.held[level].append(agg)
        self.held_rows[level] += len(agg["n"])
        # and 8 rows a key: the level above then holds fewer rows than this one, so spills end
        if self.held_rows[level] >= max(HOLD_ROWS, len(self.names) << LEVEL_SHIFT):
            self._spill(level)

    def _spill(self, level: int) -> None:
        """Write the rows ``level`` holds and hand their reduction to the level above."""
        import numpy as np

        rows = reduce(concat(self.held[level]))
        self.held[level] = []
        self.held_rows[level] = 0
        if not len(rows["n"]):
            return
        self._write(level, rows)
        count = np.bincount(rows["key"], minlength=len(self.names))
        seen = self.per_key[level]
        if seen is not None:
            count[: len(seen)] += seen
        self.per_key[level] = count
        if level + 1 == len(self.held):
            self.held.append([])
            self.held_rows.append(0)
            self.per_key.append(None)
        self._push(level + 1, reduce(rows, rows["bucket"] >> LEVEL_SHIFT))

    def _write(self, level: int, rows: dict[str, Any]) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        from tracker.store.segments import numpy_array, string_array

        # from buffers: pa.array() would import pandas on the writer thread (see segments.py)
        keys = pa.DictionaryArray.from_arrays(numpy_array(rows["key"].astype(np.int32), pa.int32()),
                                              string_array(self.names))
        arrays = [numpy_array(np.full(len(rows["n"]), level, dtype=np.int8), pa.int8()), keys] + [
            numpy_array(rows[c], pa.float64() if c[0] in "tv" else pa.int64()) for c in AGG_COLUMNS[1:]]
        table = pa.Table.from_arrays(arrays, names=["level", *AGG_COLUMNS])
        if self._writer is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self._writer = pq.ParquetWriter(
                self._publish.tmp, table.schema, compression="snappy",
                write_statistics=["level", "bucket", "s0", "s1", "t0", "t1"],
            )
        self._writer.write_table(table, row_group_size=1 << 15)
        self.top_written = max(self.top_written, level)

    def finish(self) -> bool:
        """Complete the levels and publish the pyramid; False (and nothing written) below
        :data:`MIN_POINTS` points."""
        if self.points < MIN_POINTS:
            self.abort()
            return False
        level = 0
        while True:
            self._spill(level)
            count = self.per_key[level]
            if level >= self.top_written and (count is None or int(count.max()) <= TOP_BUCKETS):
                break
            level += 1
        self._writer.close()
        self._writer = None
        self._publish.commit()
        return True

    def abort(self) -> None:
        """Drop the pyramid written so far (nothing once it is published)."""
        try:
            if self._writer is not None:
                self._writer.close()
        finally:
            self._writer = None
            self._publish.discard()


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
