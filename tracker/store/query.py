"""The one door for reading a store: everything that reads (the read API, the panels, the CLI, SQL
views, the Jupyter endpoints and magics) reads through a :class:`Query`.

A ``Query`` belongs to one store root (:meth:`Query.at` hands out one per root and process). It owns

- the DuckDB connection of that root (:meth:`connection`, :meth:`sql`);
- the listing of a run's segment files per stream, with their pyramids (:meth:`stream_files`);
- the one retry policy for a file that vanishes because compaction replaced it mid-read
  (:meth:`retry`): list again and read again, up to :data:`RETRIES` times;
- the one downsampler (:meth:`series`): per series and bucket of x, the exact first, last, lowest
  and highest point (M4), x being the step, the wall time, the time since the run began, or any
  logged metric. Large segments are read through their pyramid of M4 rows (``store/m4.py``), so a
  chart reads O(pixels) rows at any zoom, and exact rows once the window is small;
- run documents (:class:`~tracker.store.index.RunDoc`: identity, status, config and summary as one
  record) and the runs index behind a run table (:mod:`tracker.store.index`).

Nothing here imports pandas: readers get Arrow tables, numpy arrays and plain dicts.
"""

from __future__ import annotations

import functools
import math
import operator
import os
import threading

from tracker import _json
from tracker.errors import UsageError
from tracker.store import bucket, layout, m4, segments
from tracker.store.index import ProjectIndex, RunDoc, RunsIndex

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, TypeVar

    import numpy as np
    import pyarrow as pa

    from tracker.store.mirror import Mirror

    T = TypeVar("T")

#: Reads retried when a listed segment vanished (a merge replaced it) before it was read.
RETRIES = 20
#: The x-axes every run has; any other x-axis is a logged metric.
X_AXES = ("_step", "_runtime", "_timestamp")
#: Stream names as callers say them, and their folders.
STREAMS = {"default": "scalars", "scalars": "scalars", "system": "system", "console": "console",
           "media": "media"}
#: Pyramid buckets per display bucket before a coarser level is read.
_LEVEL_DETAIL = 2


class Footer:
    """A segment's footer: rows, step range, whether any row holds text, and per row group the
    step and time ranges (what turns a time window into a step window without reading data)."""

    __slots__ = ("rows", "step_lo", "step_hi", "may_hold_text", "groups")

    def __init__(self, path: str) -> None:
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(path).metadata
        names = meta.schema.names
        col = {n: names.index(n) for n in ("step", "time", "text") if n in names}
        self.rows = meta.num_rows
        self.groups: list[tuple[int, int, int, float, float] | None] = []  # (index, s0, s1, t0, t1)
        self.may_hold_text = "text" in col and meta.num_rows > 0
        lo: int | None = None
        hi: int | None = None
        text_nulls = 0
        text_known = "text" in col
        for rg in range(meta.num_row_groups):
            group = meta.row_group(rg)
            if group.num_rows == 0:
                continue
            st = group.column(col["step"]).statistics
            if st is None or not st.has_min_max:  # no statistics: every step possible
                lo, hi = -(2**62), 2**62
                self.groups.append(None)
                text_known = False
                continue
            lo = st.min if lo is None else min(lo, st.min)
            hi = st.max if hi is None else max(hi, st.max)
            tt = group.column(col["time"]).statistics if "time" in col else None
            if tt is not None and tt.has_min_max:
                self.groups.append((rg, int(st.min), int(st.max), float(tt.min), float(tt.max)))
            else:
                self.groups.append(None)
            if text_known:
                ts = group.column(col["text"]).statistics
                if ts is None or ts.null_count is None:
                    text_known = False
                else:
                    text_nulls += ts.null_count
        if text_known:  # text (strings, JSON, media, exact big ints) only where the column is not all null
            self.may_hold_text = text_nulls < self.rows
        self.step_lo = -1 if lo is None else int(lo)
        self.step_hi = -1 if hi is None else int(hi)


class StreamFiles:
    """The live segments of one stream, in sequence order, and the pyramid of each that has one."""

    def __init__(self, segments: list[str], pyramids: dict[str, str]) -> None:
        self.segments = segments
        self.pyramids = pyramids

    @property
    def raw(self) -> list[str]:
        """Segments read row by row (no pyramid)."""
        return [s for s in self.segments if s not in self.pyramids]


def stream_dir(run_dir: str, stream: str) -> str:
    """The folder of a stream (``default`` is ``scalars``).

    Raises:
        UsageError: an unknown stream name.
    """
    try:
        return os.path.join(run_dir, STREAMS[stream])
    except KeyError:
        raise UsageError(f"stream={stream!r} is not one of {sorted(STREAMS)}") from None


def vanished(exc: BaseException) -> bool:
    """Whether an error means "a listed file is gone" (compaction replaced it), whoever raised it:
    the OS, pyarrow or DuckDB."""
    if isinstance(exc, FileNotFoundError):
        return True
    text = str(exc)
    return "No files found that match" in text or "No such file or directory" in text


class Query:
    """Reads one store. Get it with :meth:`Query.at`; it is safe to share between threads."""

    _by_root: dict[str, Query] = {}
    _by_root_lock = threading.Lock()

    def __init__(self, root: str, remote: Mirror | None = None) -> None:
        self.root = root
        #: For an ``s3://`` root: the mirror that ``root`` (a local folder) is the copy of.
        self.remote = remote
        self._con: Any = None
        self._lock = threading.Lock()
        self._meta: dict[str, Footer] = {}  # immutable segment -> its footer
        self._pyramid_top: dict[str, int] = {}
        self._keys_of: dict[str, dict[str, int]] = {}  # immutable segment -> its numeric keys
        self.index = RunsIndex(root, self.retry)

    @classmethod
    def at(cls, root: str | os.PathLike[str]) -> Query:
        """The query object of a store root (one per root and process): a folder, or
        ``s3://bucket/prefix`` (read through a local :class:`~tracker.store.mirror.Mirror`)."""
        remote = bucket.is_uri(root)
        key = bucket.normalize(os.fspath(root)) if remote else os.path.realpath(os.fspath(root))
        with cls._by_root_lock:
            q = cls._by_root.get(key)
            if q is None:
                if remote:
                    from tracker.store.mirror import Mirror

                    mirror = Mirror(key)
                    q = cls._by_root[key] = cls(mirror.root, mirror)
                    cls._by_root[os.path.realpath(mirror.root)] = q
                else:
                    q = cls._by_root[key] = cls(key)
            return q

    @property
    def uri(self) -> str:
        """The root as given: ``s3://...`` for an object store, else the folder."""
        return self.remote.uri if self.remote is not None else self.root

    def refresh_files(self, run_dir: str) -> None:
        """Bring a run's files (media, saved files, model trees) up to date before they are opened:
        for an ``s3://`` root, fetch into the mirror what is new; nothing for a folder."""
        if self.remote is not None and (ids := self.remote.run_of(run_dir)) is not None:
            self.remote.refresh_files(*ids)

    def write_run_file(self, paths: layout.RunPaths, path: str, obj: Any) -> None:
        """Replace a run's side file from a reader (an edit of a finished run's name, notes, tags):
        in the folder, or for an ``s3://`` root in the bucket (and the mirror), with the run's
        change marker after it."""
        layout.write_run_file(paths, path, obj)
        if self.remote is not None:
            self.remote.publish_run_file(paths.project, paths.run_id, os.path.basename(path))

    def refresh_artifacts(self) -> None:
        """Bring the artifact registry up to date (an ``s3://`` root: fetch what is new)."""
        if self.remote is not None:
            self.remote.refresh_prefix("_artifacts")

    # --- DuckDB -----------------------------------------------------------------------------------
    def connection(self) -> Any:
        """A cursor on the root's DuckDB connection (close it when done; cursors are cheap)."""
        import duckdb

        with self._lock:
            if self._con is None:
                self._con = duckdb.connect()
            return self._con.cursor()

    def sql(self, query: str, params: Any = None, prepare: Callable[[Any], None] | None = None) -> pa.Table:
        """Run SQL on a fresh cursor and return an Arrow table; ``prepare(cursor)`` runs first (it
        creates views over the files listed now) and again on each retry."""

        def attempt() -> pa.Table:
            con = self.connection()
            try:
                if prepare is not None:
                    prepare(con)
                rel = con.sql(query, params=params)
                if rel is None:  # a statement without a result (SET, CREATE VIEW, ...)
                    import pyarrow as pa

                    return pa.table({})
                return arrow_table(rel)
            finally:
                con.close()

        return self.retry(attempt)

    # --- the one retry policy ---------------------------------------------------------------------
    def retry(self, read: Callable[[], T], what: str = "the store") -> T:
        """Call ``read()``; when it fails because a listed file vanished (a merge replaced it),
        call it again, up to :data:`RETRIES` times. ``read`` must list the files itself."""
        for _ in range(RETRIES - 1):
            try:
                return read()
            except Exception as exc:  # noqa: BLE001 - OSError, pyarrow's and DuckDB's errors alike
                if not vanished(exc):
                    raise
        try:
            return read()
        except Exception as exc:  # noqa: BLE001
            if vanished(exc):
                raise OSError(f"files in {what} kept changing while being read") from exc
            raise

    # --- listing ----------------------------------------------------------------------------------
    def stream_files(self, run_dir: str, stream: str = "scalars") -> StreamFiles:
        """The live segments of a run's stream (full paths) and their pyramids."""
        folder = stream_dir(run_dir, stream)
        if self.remote is not None and (ids := self.remote.run_of(run_dir)) is not None:
            self.remote.refresh_stream(*ids, os.path.basename(folder))
            if os.path.basename(folder) == "media":
                self.remote.refresh_files(*ids)  # the media files the rows point at
        try:
            names = os.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return StreamFiles([], {})
        live = layout.live_segments(names)
        pyramids = {}
        if m4.PYRAMID_DIR in names:
            try:
                present = set(os.listdir(os.path.join(folder, m4.PYRAMID_DIR)))
            except (FileNotFoundError, NotADirectoryError):
                present = set()
            for name in live:
                if name in present:
                    pyramids[os.path.join(folder, name)] = m4.pyramid_path(folder, name)
        return StreamFiles([os.path.join(folder, n) for n in live], pyramids)

    def _footer(self, path: str) -> Footer:
        """What a segment's footer says (cached by name: segments never change)."""
        foot = self._meta.get(path)
        if foot is None:
            foot = Footer(path)
            if len(self._meta) > 100_000:
                self._meta.clear()
            self._meta[path] = foot
        return foot

    def _facts(self, path: str) -> tuple[int, int, int]:
        """Rows and step range of a segment (``-1, -1`` for a segment of no rows)."""
        f = self._footer(path)
        return f.rows, f.step_lo, f.step_hi

    def _top_level(self, pyramid: str) -> int:
        top = self._pyramid_top.get(pyramid)
        if top is None:
            import pyarrow.parquet as pq

            meta = pq.ParquetFile(pyramid).metadata
            col = meta.schema.names.index("level")
            top = 0
            for rg in range(meta.num_row_groups):
                st = meta.row_group(rg).column(col).statistics
                if st is not None and st.has_min_max:
                    top = max(top, int(st.max))
            self._pyramid_top[pyramid] = top
        return top

    # --- raw reads --------------------------------------------------------------------------------
    def read_stream(
        self,
        run_dir: str,
        stream: str = "scalars",
        keys: Sequence[str] | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table | None:
        """Every live row of a stream (optionally only some keys, ``min_step <= step < max_step``)
        as one Arrow table in sequence order; None when the stream has no segment."""
        import pyarrow.dataset as ds

        wanted = list(columns or segments.COLUMNS)
        expr = _step_filter(min_step, max_step)
        if keys is not None:
            key_expr = ds.field("key").isin(list(keys))
            expr = key_expr if expr is None else expr & key_expr

        if keys is not None and not list(keys):
            return None  # no key asked for: no rows

        def read() -> pa.Table | None:
            files = self.stream_files(run_dir, stream).segments
            if min_step is not None or max_step is not None:
                files = [f for f in files if _overlaps(self._facts(f), min_step, max_step)]
            if not files:
                return None
            skip_text = "text" in wanted and not any(self._footer(p).may_hold_text for p in files)
            read_cols = [c for c in wanted if not (skip_text and c == "text")]
            table = ds.dataset(files, format="parquet").to_table(columns=read_cols, filter=expr)
            if skip_text:
                table = table.add_column(wanted.index("text"), "text", segments.null_strings(table.num_rows))
            if "key" in table.column_names:
                table = table.unify_dictionaries()
            return table.combine_chunks()

        return self.retry(read, run_dir)

    def max_step(self, run_dir: str, stream: str = "scalars") -> int | None:
        """The largest step of a stream, from the segments' statistics (no data read)."""

        def read() -> int | None:
            steps = [self._facts(f)[2] for f in self.stream_files(run_dir, stream).segments]
            steps = [s for s in steps if s >= 0]
            return max(steps) if steps else None

        return self.retry(read, run_dir)

    def numeric_keys(self, run_dir: str, stream: str = "scalars") -> dict[str, int]:
        """The keys holding numbers (kinds 0-2) and the last step each was logged at, by name.
        Each segment is read once per process (segments never change): a live panel asking four
        times a second reads only the segments written since."""

        def read() -> dict[str, int]:
            files = self.stream_files(run_dir, stream)
            out: dict[str, int] = {}
            for seg in files.segments:
                for name, step in self._segment_keys(seg, files.pyramids.get(seg)).items():
                    if step > out.get(name, -1):
                        out[name] = step
            return dict(sorted(out.items()))

        return self.retry(read, run_dir)

    def _segment_keys(self, seg: str, pyramid: str | None) -> dict[str, int]:
        """Numeric keys of one segment and their last step (from its pyramid's top level when it
        has one), cached by name."""
        import numpy as np
        import pyarrow.dataset as ds

        found = self._keys_of.get(seg)
        if found is not None:
            return found
        found = {}
        if pyramid is not None:
            top = self._top_level(pyramid)
            t = ds.dataset(pyramid, format="parquet").to_table(columns=["key", "s1"], filter=ds.field("level") == top)
            _merge_last(found, t.column("key"), t.column("s1").to_numpy())
        else:
            t = ds.dataset(seg, format="parquet").to_table(columns=["key", "step"], filter=ds.field("kind") <= 2)
            if t.num_rows:
                codes, names = _codes(t.column("key"))
                last = np.full(len(names), -1, dtype=np.int64)
                np.maximum.at(last, codes, t.column("step").to_numpy())
                found = {n: s for n, s in zip(names, last.tolist(), strict=True) if s >= 0}
        if len(self._keys_of) > 100_000:
            self._keys_of.clear()
        self._keys_of[seg] = found
        return found

    # --- the downsampler --------------------------------------------------------------------------
    def series(
        self,
        run_dir: str,
        keys: Sequence[str],
        buckets: int,
        *,
        x_axis: str = "_step",
        x_range: tuple[float, float] | None = None,
        created_at: float = 0.0,
        stream: str = "scalars",
        whole: bool = True,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Per key, the points that draw it exactly at ``buckets`` buckets of x: the first, last,
        lowest and highest point of each bucket (M4). ``{"x", "y", "step", "time", "n"}`` with ``n``
        the number of points in the window.

        Args:
            run_dir: the run's folder.
            keys: the series.
            buckets: how many buckets of x (a chart ``w`` pixels wide wants ``w / 2``).
            x_axis: ``_step``, ``_runtime`` (seconds since ``created_at``), ``_timestamp``, or a
                logged metric (its value at each step is x; read from the raw rows).
            x_range: only ``lo <= x <= hi`` (a zoom), bucketed afresh.
            whole: a series with at most 4 points a bucket comes back whole (only from raw rows).
            min_step, max_step: only ``min_step <= step < max_step``.
        """

        buckets = max(1, int(buckets))
        keys = list(dict.fromkeys(keys))
        if x_range is not None:
            lo, hi = float(x_range[0]), float(x_range[1])
            if not (math.isfinite(lo) and math.isfinite(hi) and hi >= lo):
                raise ValueError(f"x_range {x_range!r} is not a finite (lo, hi) with lo <= hi")
        if not keys:
            return {}
        if x_axis not in X_AXES:
            return self._series_by_metric(run_dir, keys, buckets, x_axis, x_range, stream, min_step, max_step)

        def read() -> dict[str, dict[str, Any]]:
            files = self.stream_files(run_dir, stream)
            step_lo, step_hi = _step_window(x_axis, x_range, created_at, min_step, max_step)
            time_window = _time_window(x_axis, x_range, created_at)
            if time_window[0] is not None:  # time grows with the step: a time window is a step window
                steps = self._time_steps(files.segments, *time_window)
                if steps is not None:
                    step_lo = steps[0] if step_lo is None else max(step_lo, steps[0])
                    step_hi = steps[1] if step_hi is None else min(step_hi, steps[1])
                    time_window = (None, None)
            agg, names = self._window_aggregates(files, keys, buckets, time_window, step_lo, step_hi)
            return _bucketed(agg, names, keys, buckets, x_axis, x_range, created_at, whole)

        return self.retry(read, run_dir)

    def _time_steps(self, segs: list[str], lo: float, hi: float) -> tuple[int, int] | None:
        """The steps of a time window: the first step logged at ``lo`` or later and the last at
        ``hi`` or earlier, from the row groups' time statistics and two row groups read. None when
        a segment has no time statistics (written before they were kept)."""
        import numpy as np
        import pyarrow.parquet as pq

        first: tuple[int, str, int] | None = None
        last: tuple[int, str, int] | None = None
        for seg in segs:
            for g in self._footer(seg).groups:
                if g is None:
                    return None
                rg, s0, s1, t0, t1 = g
                if t1 >= lo and (first is None or s0 < first[0]):
                    first = (s0, seg, rg)
                if t0 <= hi and (last is None or s1 > last[0]):
                    last = (s1, seg, rg)
        if first is None or last is None:
            return 1, 0  # nothing in the window
        t = pq.ParquetFile(first[1]).read_row_group(first[2], columns=["step", "time"])
        step, time = t.column("step").to_numpy(), t.column("time").to_numpy()
        after = step[time >= lo]
        t = pq.ParquetFile(last[1]).read_row_group(last[2], columns=["step", "time"])
        step2, time2 = t.column("step").to_numpy(), t.column("time").to_numpy()
        before = step2[time2 <= hi]
        if len(after) == 0 or len(before) == 0:
            return 1, 0
        return int(np.min(after)), int(np.max(before))

    def _window_aggregates(
        self, files: StreamFiles, keys: list[str], buckets: int, time_window: tuple[Any, Any],
        step_lo: int | None, step_hi: int | None,
    ) -> tuple[dict[str, np.ndarray], list[str]]:
        """M4 rows covering the window: pyramid rows at a level with about ``_LEVEL_DETAIL`` rows a
        bucket for segments that have one, raw points for the rest (and when the window is small)."""
        import pyarrow.dataset as ds

        names = list(keys)
        code = {k: i for i, k in enumerate(names)}
        parts: list[dict[str, Any]] = []
        raw = list(files.raw)
        pyramids = dict(files.pyramids)
        time_lo, time_hi = time_window
        if pyramids:
            lo_s, hi_s = step_lo, step_hi
            if lo_s is None or hi_s is None:
                facts = [self._facts(s) for s in pyramids]
                lo_s = min(f[1] for f in facts) if lo_s is None else lo_s
                hi_s = max(f[2] for f in facts) if hi_s is None else hi_s
            if time_lo is not None:  # a time window: its steps, from the coarsest rows
                lo_s, hi_s = self._steps_of_times(list(pyramids.values()), keys, time_lo, time_hi)
            span = max(0, hi_s - lo_s) + 1
            level = -1
            while span // m4.bucket_width(level + 1) >= _LEVEL_DETAIL * buckets:
                level += 1
            if level < 0:  # a small window: exact rows
                raw.extend(pyramids)
                pyramids = {}
            by_level: dict[int, list[tuple[str, str]]] = {}
            for seg, pyr in pyramids.items():
                by_level.setdefault(min(level, self._top_level(pyr)), []).append((seg, pyr))
            for lv, group in by_level.items():  # one read of the pyramids, one of the edges' raw rows
                pieces = cover(0 if step_lo is None else step_lo, _FAR if step_hi is None else step_hi, lv)
                whole = [(ds.field("level") == p[0]) & (ds.field("bucket") >= p[1]) & (ds.field("bucket") <= p[2])
                         for p in pieces if p[0] >= 0]
                ends = [_step_filter(p[1], p[2] + 1) for p in pieces if p[0] < 0]
                if whole:
                    expr = functools.reduce(operator.or_, whole) & ds.field("key").isin(keys)
                    if time_lo is not None:
                        expr = expr & (ds.field("t1") >= time_lo) & (ds.field("t0") <= time_hi)
                    t = ds.dataset([g[1] for g in group], format="parquet").to_table(filter=expr)
                    if t.num_rows:
                        parts.append(_agg_from_table(t, code))
                if ends:
                    expr = (ds.field("kind") <= 2) & ds.field("key").isin(keys) & functools.reduce(operator.or_, ends)
                    if time_lo is not None:
                        expr = expr & (ds.field("time") >= time_lo) & (ds.field("time") <= time_hi)
                    segs = [g[0] for g in group]
                    t = ds.dataset(segs, format="parquet").to_table(columns=["step", "key", "value", "time"], filter=expr)
                    if t.num_rows:
                        parts.append(_agg_from_points(t, code))
        if raw:
            if step_lo is not None or step_hi is not None:
                raw = [f for f in raw if _overlaps(self._facts(f), step_lo, None if step_hi is None else step_hi + 1)]
            expr = (ds.field("kind") <= 2) & ds.field("key").isin(keys)
            step_expr = _step_filter(step_lo, None if step_hi is None else step_hi + 1)
            if step_expr is not None:
                expr = expr & step_expr
            if time_lo is not None:
                expr = expr & (ds.field("time") >= time_lo) & (ds.field("time") <= time_hi)
            if raw:
                t = ds.dataset(raw, format="parquet").to_table(columns=["step", "key", "value", "time"], filter=expr)
                if t.num_rows:
                    parts.append(_agg_from_points(t, code))
        return m4.concat(parts), names

    def _steps_of_times(self, pyramids: list[str], keys: list[str], lo: float, hi: float) -> tuple[int, int]:
        import pyarrow.dataset as ds

        top = min(self._top_level(p) for p in pyramids)
        expr = (ds.field("level") == top) & ds.field("key").isin(keys) & (ds.field("t1") >= lo) & (ds.field("t0") <= hi)
        t = ds.dataset(pyramids, format="parquet").to_table(columns=["s0", "s1"], filter=expr)
        if t.num_rows == 0:
            return 0, 0
        import pyarrow.compute as pc

        return int(pc.min(t.column("s0")).as_py()), int(pc.max(t.column("s1")).as_py())

    def _series_by_metric(
        self, run_dir: str, keys: list[str], buckets: int, x_key: str, x_range: tuple[float, float] | None,
        stream: str, min_step: int | None, max_step: int | None,
    ) -> dict[str, dict[str, Any]]:
        """Series against another logged metric: x is that metric's value at each step (raw rows,
        joined by step in numpy; then the same M4 over x)."""
        import numpy as np

        table = self.read_stream(run_dir, stream, keys=[*keys, x_key], min_step=min_step, max_step=max_step,
                                 columns=["step", "key", "kind", "value", "time"])
        out = {k: _empty_series() for k in keys}
        if table is None or table.num_rows == 0:
            return out
        codes, names = _codes(table.column("key"))
        numeric = table.column("kind").to_numpy() <= 2
        step = table.column("step").to_numpy()
        value = table.column("value").to_numpy(zero_copy_only=False).astype(np.float64)
        time = table.column("time").to_numpy()
        if x_key not in names:
            return out
        xc = names.index(x_key)
        xm = (codes == xc) & numeric
        xs, xv = step[xm], value[xm]
        order = np.argsort(xs, kind="stable")
        xs, xv = xs[order], xv[order]
        for k in keys:
            if k not in names:
                continue
            m = (codes == names.index(k)) & numeric
            s, y, t = step[m], value[m], time[m]
            pos = np.searchsorted(xs, s)
            ok = (pos < len(xs)) & (xs[np.minimum(pos, len(xs) - 1)] == s) if len(xs) else np.zeros(len(s), bool)
            s, y, t, x = s[ok], y[ok], t[ok], xv[pos[ok]]
            drawable = np.isfinite(x)  # a point whose x is NaN or infinite has no place on the axis
            s, y, t, x = s[drawable], y[drawable], t[drawable], x[drawable]
            if x_range is not None:
                inside = (x >= x_range[0]) & (x <= x_range[1])
                s, y, t, x = s[inside], y[inside], t[inside], x[inside]
            x_order = np.argsort(x, kind="stable")
            s, y, t, x = s[x_order], y[x_order], t[x_order], x[x_order]
            n = len(x)
            if n <= 4 * buckets:
                out[k] = {"x": x, "y": y, "step": s, "time": t, "n": n}
                continue
            lo, hi = (float(x[0]), float(x[-1])) if x_range is None else x_range
            b = _bucket_of(x, lo, hi, buckets)
            rank = np.arange(n)  # M4 in x order: the rank plays the step's part
            agg = m4.reduce(m4.from_points(np.zeros(n, np.int64), rank, rank.astype(np.float64), y, b))
            pts = m4.points(agg)
            idx = pts["step"]
            out[k] = {"x": x[idx], "y": y[idx], "step": s[idx], "time": t[idx], "n": n}
        return out

    def tail(
        self,
        run_dir: str,
        keys: Sequence[str],
        after_step: int,
        *,
        x_axis: str = "_step",
        created_at: float = 0.0,
        stream: str = "scalars",
    ) -> dict[str, dict[str, Any]]:
        """Per key, the points logged after ``after_step`` in step order (what a live chart appends):
        ``{"x", "y", "step", "time"}``. Only segments holding later steps are opened."""
        import numpy as np
        import pyarrow.dataset as ds

        keys = list(keys)
        wanted = keys if x_axis in X_AXES else [*keys, x_axis]

        def read() -> pa.Table | None:
            files = [f for f in self.stream_files(run_dir, stream).segments if self._facts(f)[2] > after_step]
            if not files or not keys:
                return None
            expr = (ds.field("step") > int(after_step)) & (ds.field("kind") <= 2) & ds.field("key").isin(wanted)
            return ds.dataset(files, format="parquet").to_table(columns=["step", "key", "value", "time"], filter=expr)

        table = self.retry(read, run_dir)
        out = {k: {"x": np.empty(0), "y": np.empty(0), "step": np.empty(0, dtype=np.int64), "time": np.empty(0)}
               for k in keys}
        if table is None or table.num_rows == 0:
            return out
        codes, names = _codes(table.column("key"))
        step = table.column("step").to_numpy()
        value = table.column("value").to_numpy(zero_copy_only=False).astype(np.float64)
        time = table.column("time").to_numpy()
        xmap = None
        if x_axis not in X_AXES and x_axis in names:
            xm = codes == names.index(x_axis)
            xmap = dict(zip(step[xm].tolist(), value[xm].tolist(), strict=True))
        for k in keys:
            if k not in names:
                continue
            m = codes == names.index(k)
            s, y, t = step[m], value[m], time[m]
            order = np.argsort(s, kind="stable")
            s, y, t = s[order], y[order], t[order]
            if x_axis == "_step":
                x = s.astype(np.float64)
            elif x_axis == "_timestamp":
                x = t
            elif x_axis == "_runtime":
                x = t - created_at
            else:
                if xmap is None:
                    continue
                ok = np.fromiter((st in xmap for st in s.tolist()), dtype=bool, count=len(s))
                s, y, t = s[ok], y[ok], t[ok]
                x = np.fromiter((xmap[st] for st in s.tolist()), dtype=np.float64, count=len(s))
            out[k] = {"x": x, "y": y, "step": s, "time": t}
        return out

    # --- run documents ----------------------------------------------------------------------------
    def projects(self) -> list[str]:
        """Project names in the store, sorted."""
        if self.remote is not None:
            self.remote.refresh_projects()
        return self.index.projects()

    def tag_colours(self, project: str) -> dict[str, str]:
        """The colours set for a project's tags (``{tag: "#rrggbb"}``; empty when none were set)."""
        data = layout.read_json(os.path.join(self.root, project, layout.TAG_COLOURS_FILE)) or {}
        return {str(k): v for k, v in data.items() if isinstance(v, str) and is_colour(v)}

    def set_tag_colour(self, project: str, tag: str, colour: str | None) -> dict[str, str]:
        """Set (or with None, forget) the colour of a project's tag; returns the project's colours.

        Raises:
            UsageError: ``colour`` is not ``#rrggbb``, or the project does not exist.
        """
        if colour is not None and not is_colour(colour):
            raise UsageError(f"a tag colour is written #rrggbb, not {colour!r}")
        folder = os.path.join(self.root, layout.check_name(project, "project name"))
        if not os.path.isdir(folder):
            raise UsageError(f"no project {project!r} in {self.root}")
        colours = self.tag_colours(project)
        if colour is None:
            colours.pop(str(tag), None)
        else:
            colours[str(tag)] = colour.lower()
        if self.remote is not None:
            self.remote.put(f"{project}/{layout.TAG_COLOURS_FILE}", layout.dumps(colours).encode())
        else:
            layout.write_json_atomic(os.path.join(folder, layout.TAG_COLOURS_FILE), colours)
        return colours

    def run_doc(self, project: str, run_id: str) -> RunDoc | None:
        """One run's document, read now from its side files; None when there is no such run."""
        if self.remote is not None:
            self.remote.refresh_run(project, run_id)
        return self.index.read_doc(project, run_id)

    def status(self, run_dir: str) -> dict[str, Any] | None:
        """A run's ``status.json`` read now (None when unreadable)."""
        if self.remote is not None and (ids := self.remote.run_of(run_dir)) is not None:
            self.remote.refresh_run(*ids)
        return layout.read_json(os.path.join(run_dir, layout.STATUS_FILE))

    def metadata(self, run_dir: str) -> dict[str, Any]:
        """A run's captured context (``metadata.json``: host, program, git, packages)."""
        self.refresh_files(run_dir)
        return layout.read_json(os.path.join(run_dir, "metadata.json")) or {}

    def model_graphs(self, run_dir: str) -> list[dict[str, Any]]:
        """The module trees of the models a run watched (``files/model/graph_<idx>.json``), by index."""
        self.refresh_files(run_dir)
        folder = os.path.join(run_dir, "files", "model")
        try:
            names = sorted(n for n in os.listdir(folder) if n.startswith("graph_") and n.endswith(".json"))
        except OSError:
            return []
        out = [g for n in names if (g := layout.read_json(os.path.join(folder, n))) is not None]
        return sorted(out, key=lambda g: g["index"] if isinstance(g.get("index"), int) else 0)

    def alerts(self, run_dir: str) -> list[dict[str, Any]]:
        """A run's alerts (``alerts.jsonl``), oldest first; a line still being written is skipped."""
        self.refresh_files(run_dir)
        try:
            with open(os.path.join(run_dir, layout.ALERTS_FILE), encoding="utf-8") as fh:
                lines = fh.read().split("\n")
        except OSError:
            return []
        out = []
        for line in lines:
            if not line.strip():
                continue
            try:
                rec = _json.loads(line)
            except ValueError:
                continue  # the last line, half written
            if isinstance(rec, dict):
                out.append(rec)
        return out

    def runs(self, project: str | None = None) -> list[RunDoc]:
        """The documents of a project's runs (every project's with None), in run-id order, from
        the runs index: only runs changed since the index was last brought up to date are re-read."""
        projects = self.projects() if project is None else [project]
        out: list[RunDoc] = []
        for name in projects:
            out.extend(self._project_index(name).docs())
        return out

    def poll(self, since: float, project: str) -> tuple[list[RunDoc], int]:
        """What a poller of one project needs from one look at the store: the runs changed after
        ``since`` (see :meth:`changed_since`) and how many runs the project holds (a client that
        sees the count drop knows runs were deleted)."""
        index = self._project_index(project)
        changed = index.changed_since(since)
        return changed, index.count()

    def changed_since(self, since: float, project: str | None = None) -> list[RunDoc]:
        """The runs whose files changed after ``since`` (Unix seconds), or whose derived state did
        (a writer that died): what a poller asks for."""
        projects = self.projects() if project is None else [project]
        out: list[RunDoc] = []
        for name in projects:
            out.extend(self._project_index(name).changed_since(since))
        return out

    def _project_index(self, project: str) -> ProjectIndex:
        """The runs index of a project; for an ``s3://`` root, after the mirror fetched what changed."""
        if self.remote is not None:
            self.remote.refresh_project(project)
        return self.index.project(project)


# --- helpers --------------------------------------------------------------------------------------
def arrow_table(result: Any) -> pa.Table:
    """The Arrow table of a DuckDB result (the method's name changed in DuckDB 2.0)."""
    fetch = getattr(result, "to_arrow_table", None) or result.fetch_arrow_table
    return fetch()


#: Past any step (a power of two, so it ends every bucket at every level).
_FAR = (1 << 62) - 1


def cover(lo: int, hi: int, level: int) -> list[tuple[int, int, int]]:
    """Steps ``lo..hi`` (inclusive) as whole pyramid buckets, coarsest first: ``(level, first
    bucket, last bucket)``, descending a level at each end that no whole bucket covers, down to
    ``(-1, first step, last step)`` pieces of fewer than 64 steps read as raw rows. A window then
    holds exactly its own points, from O(levels) pieces."""
    if lo > hi:
        return []
    if level < 0:
        return [(-1, lo, hi)]
    w = m4.bucket_width(level)
    a = -(-lo // w)
    b = (hi + 1) // w - 1
    if a > b:
        return cover(lo, hi, level - 1)
    return [(level, a, b), *cover(lo, a * w - 1, level - 1), *cover((b + 1) * w, hi, level - 1)]


def _step_filter(min_step: int | None, max_step: int | None) -> Any:
    import pyarrow.dataset as ds

    expr = None
    if min_step is not None:
        expr = ds.field("step") >= int(min_step)
    if max_step is not None:
        upper = ds.field("step") < int(max_step)
        expr = upper if expr is None else expr & upper
    return expr


def _overlaps(facts: tuple[int, int, int], min_step: int | None, max_step: int | None) -> bool:
    _, lo, hi = facts
    if lo < 0 and hi < 0:
        return False  # an empty segment
    return (min_step is None or hi >= min_step) and (max_step is None or lo < max_step)


def _step_window(x_axis: str, x_range: tuple[float, float] | None, created_at: float,
                 min_step: int | None, max_step: int | None) -> tuple[int | None, int | None]:
    lo = min_step
    hi = None if max_step is None else int(max_step) - 1
    if x_axis == "_step" and x_range is not None:
        a, b = int(math.ceil(x_range[0])), int(math.floor(x_range[1]))
        lo = a if lo is None else max(lo, a)
        hi = b if hi is None else min(hi, b)
    return lo, hi


def _time_window(x_axis: str, x_range: tuple[float, float] | None, created_at: float) -> tuple[Any, Any]:
    if x_range is None or x_axis == "_step":
        return None, None
    shift = created_at if x_axis == "_runtime" else 0.0
    return x_range[0] + shift, x_range[1] + shift


def _codes(col: Any) -> tuple[np.ndarray, list[str]]:
    """Codes (numpy) and names of a key column, dictionary-encoding it if needed."""
    import pyarrow as pa

    if isinstance(col, pa.ChunkedArray):
        col = col.unify_chunks() if hasattr(col, "unify_chunks") else col
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    if not pa.types.is_dictionary(col.type):
        col = col.dictionary_encode()
    return col.indices.to_numpy(zero_copy_only=False), col.dictionary.to_pylist()


def _merge_last(out: dict[str, int], keycol: Any, s1: np.ndarray) -> None:
    import numpy as np

    if len(s1) == 0:
        return
    codes, names = _codes(keycol)
    last = np.full(len(names), -1, dtype=np.int64)
    np.maximum.at(last, codes, s1)
    for name, s in zip(names, last.tolist(), strict=True):
        if s >= 0:
            out[name] = max(out.get(name, -1), s)


def _agg_from_table(t: pa.Table, code: dict[str, int]) -> dict[str, np.ndarray]:
    import numpy as np

    codes, names = _codes(t.column("key"))
    remap = np.array([code.get(n, -1) for n in names], dtype=np.int64) if names else np.empty(0, np.int64)
    out = {c: t.column(c).to_numpy(zero_copy_only=False) for c in m4.AGG_COLUMNS if c != "key"}
    out["key"] = remap[codes]
    return out


def _agg_from_points(t: pa.Table, code: dict[str, int]) -> dict[str, np.ndarray]:
    import numpy as np

    codes, names = _codes(t.column("key"))
    remap = np.array([code.get(n, -1) for n in names], dtype=np.int64) if names else np.empty(0, np.int64)
    step = t.column("step").to_numpy()
    value = t.column("value").to_numpy(zero_copy_only=False).astype(np.float64)
    return m4.from_points(remap[codes], step, t.column("time").to_numpy(), value, np.zeros(len(step), np.int64))


def _x_of(step: np.ndarray, time: np.ndarray, x_axis: str, created_at: float) -> np.ndarray:
    import numpy as np

    if x_axis == "_step":
        return step.astype(np.float64)
    if x_axis == "_timestamp":
        return time
    return time - created_at


def _bucket_of(x: np.ndarray, lo: float, hi: float, buckets: int) -> np.ndarray:
    import numpy as np

    width = max(hi - lo, 1e-300)
    b = np.floor((x - lo) * (buckets / width))
    return np.clip(np.nan_to_num(b, nan=0.0), 0, buckets - 1).astype(np.int64)


def _empty_series() -> dict[str, Any]:
    import numpy as np

    return {"x": np.empty(0), "y": np.empty(0), "step": np.empty(0, dtype=np.int64), "time": np.empty(0), "n": 0}


def _bucketed(
    agg: dict[str, np.ndarray], names: list[str], keys: list[str], buckets: int, x_axis: str,
    x_range: tuple[float, float] | None, created_at: float, whole: bool,
) -> dict[str, dict[str, Any]]:
    """Reduce window rows to ``buckets`` buckets of x per key, and split them by key."""
    import numpy as np

    out = {k: _empty_series() for k in keys}
    if len(agg["n"]) == 0:
        return out
    x0 = _x_of(agg["s0"], agg["t0"], x_axis, created_at)
    if x_range is not None:
        lo, hi = float(x_range[0]), float(x_range[1])
    else:
        x1 = _x_of(agg["s1"], agg["t1"], x_axis, created_at)
        lo, hi = float(np.nanmin(x0)), float(np.nanmax(x1))
    totals = np.bincount(agg["key"], weights=agg["n"], minlength=len(names)).astype(np.int64)
    single = bool((agg["n"] == 1).all())
    keep_whole = np.zeros(len(names), dtype=bool)
    if whole and single:
        keep_whole = totals <= 4 * buckets
    reduced = m4.reduce(agg, _bucket_of(x0, lo, hi, buckets))
    pts = m4.points(reduced)
    if keep_whole.any():
        m = keep_whole[agg["key"]]
        raw = {"key": agg["key"][m], "step": agg["s0"][m], "time": agg["t0"][m], "value": agg["v0"][m]}
        order = np.lexsort((raw["step"], raw["key"]))
        raw = {c: v[order] for c, v in raw.items()}
        drop = keep_whole[pts["key"]]
        pts = {c: np.concatenate([pts[c][~drop], raw[c]]) for c in pts}
        order = np.lexsort((pts["step"], pts["key"]))
        pts = {c: v[order] for c, v in pts.items()}
    x = _x_of(pts["step"], pts["time"], x_axis, created_at)
    bounds = np.searchsorted(pts["key"], np.arange(len(names) + 1))
    for i, k in enumerate(names):
        a, b = bounds[i], bounds[i + 1]
        if k in out:
            out[k] = {"x": x[a:b], "y": pts["value"][a:b], "step": pts["step"][a:b], "time": pts["time"][a:b],
                      "n": int(totals[i])}
    return out


def is_colour(value: str) -> bool:
    """Whether ``value`` is a colour written ``#rrggbb``."""
    return len(value) == 7 and value[0] == "#" and all(c in "0123456789abcdefABCDEF" for c in value[1:])
