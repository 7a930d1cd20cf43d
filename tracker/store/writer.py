"""The writer of one run: a background thread that turns logged rows into Parquet segments.

The user's thread only appends ``(step, time, row)`` tuples to a deque (thread-safe, ~50 ns).
Every ``flush_interval`` seconds the writer thread drains the deque into column arrays, writes
them as one immutable segment per stream, merges small segments (``compaction_fanin`` of one size
into one of the next), and rewrites the small JSON side files. Nothing here holds a lock that
another process could wait on: each run's files are written by its own process only.
"""

from __future__ import annotations

import os
import threading
from collections import deque

from tracker.store import layout, m4, segments

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from tracker._report import Reporter
    from tracker.store.layout import RunPaths

#: Points per segment written at a flush, and per batch when merging: bounds the writer's memory.
SEGMENT_POINTS = 1 << 18
#: Seconds the logging thread waits at most for the writer thread's imports (see RunWriter.relieve).
WARM_UP_WAIT = 10.0
SEQ_BLOCK = 10**7  # sequence numbers a writer of a shared run claims for itself (see StreamWriter.claim_block)


class StreamWriter:
    """Rows of one stream (``scalars`` or ``system``) on their way to segment files."""

    def __init__(self, stream_dir: str, writer_id: str, fanin: int) -> None:
        self.dir = stream_dir
        self.writer_id = writer_id
        self.fanin = fanin
        # numeric streams keep M4 pyramids beside their merged segments (see store/m4.py)
        self.pyramids = os.path.basename(stream_dir) in ("scalars", "system")
        self.queue: deque[tuple[int, float, dict[str, Any]]] = deque()
        self.keys = segments.KeyTable()
        self.last: dict[str, Any] = {}
        self.pending: list[dict[str, Any]] = []
        self.pending_points = 0
        self.written_points = 0
        self.next_seq = self._first_free_seq()
        self.shared = False  # see claim_block
        # own segments by level: level L holds merges of fanin**L level-0 segments
        self.levels: list[list[tuple[int, int, str]]] = [[]]
        self.on_batch: Callable[[dict[str, Any], segments.KeyTable], None] | None = None
        #: Told of a value that has no stored form (``(kind...), message``): RunWriter reports it.
        self.on_problem: Callable[[tuple[str, ...], str], None] | None = None
        #: merge only this writer's segments at the end (a shared run: other processes write the
        #: same stream now, and their segments are theirs to merge)
        self.own_only = False

    def claim_block(self) -> None:
        """In a shared run: take a block of sequence numbers of this writer's own, so that its
        segments' ranges never overlap another live writer's (a reader takes a segment whose range
        lies inside another's as merged into it). Blocks of ``SEQ_BLOCK`` numbers are claimed by
        creating ``.seqblock-<n>`` exclusively (no lock: a clash takes the next block)."""
        os.makedirs(self.dir, exist_ok=True)
        n = max(1, -(-self._first_free_seq() // SEQ_BLOCK))
        root = os.path.dirname(os.path.dirname(os.path.dirname(self.dir)))  # <root>/<project>/<run>/<stream>
        while not layout.claim_name(root, os.path.join(self.dir, f".seqblock-{n}")):
            n += 1
        self.next_seq = n * SEQ_BLOCK

    def _first_free_seq(self) -> int:
        seqs = [p[1] for n in layout.list_segments(self.dir) if (p := layout.parse_segment(n))]
        return max(seqs) + 1 if seqs else 0

    def drain(self) -> int:
        """Move queued rows into column batches; returns the number of rows moved."""
        q = self.queue
        if not q:
            return 0
        items: list[tuple[int, float, dict[str, Any]]] = []
        pop = q.popleft
        append = items.append
        while q:
            append(pop())
        cols = segments.rows_to_columns(items, self.keys, self.last, self.on_problem)
        self.pending.append(cols)
        self.pending_points += len(cols["step"])
        if self.on_batch is not None:
            self.on_batch(cols, self.keys)
        return len(items)

    def write_pending(self, durable: bool = False) -> None:
        """Write the pending batches as segments of at most ``SEGMENT_POINTS`` points each.

        Raises OSError when the store cannot be written; the unwritten batches then stay pending.
        Bounded segments bound the memory a write needs, however far a fast loop ran ahead.
        """
        while self.pending:
            group: list[dict[str, Any]] = []
            points = 0
            while self.pending and (not group or points + len(self.pending[0]["step"]) <= SEGMENT_POINTS):
                batch = self.pending.pop(0)
                group.append(batch)
                points += len(batch["step"])
            try:
                self._write_group(group, durable)
            except BaseException:
                self.pending[:0] = group
                raise
            self.pending_points -= points
            self.written_points += points

    def _write_group(self, group: list[dict[str, Any]], durable: bool) -> None:
        cols = segments.concat_columns(group)
        table = segments.columns_to_table(cols, self.keys.names)
        seq = self.next_seq
        name = layout.segment_name(seq, seq, self.writer_id)
        if self.pyramids and table.num_rows >= m4.MIN_POINTS:  # a big flush: readers skip its raw rows
            pyramid = m4.PyramidBuilder(m4.pyramid_path(self.dir, name))
            try:
                pyramid.add_columns(self.keys.names, cols["key"], cols["kind"], cols["step"], cols["time"],
                                    cols["value"])
                pyramid.finish()
            except BaseException:
                pyramid.abort()
                raise
        segments.write_segment(table, self.dir, name, durable=durable)
        self.next_seq += 1
        self.levels[0].append((seq, seq, name))

    def drop_oldest(self, keep_points: int) -> int:
        """Drop the oldest pending batches beyond ``keep_points``; returns points dropped."""
        dropped = 0
        while self.pending and self.pending_points > keep_points:
            cols = self.pending.pop(0)
            n = len(cols["step"])
            self.pending_points -= n
            dropped += n
        return dropped

    def compact_levels(self) -> None:
        """Merge ``fanin`` segments of one level into one of the next, as often as possible."""
        level = 0
        while level < len(self.levels):
            files = self.levels[level]
            if len(files) >= self.fanin:
                merged = self._merge(files)
                self.levels[level] = []
                if level + 1 == len(self.levels):
                    self.levels.append([])
                self.levels[level + 1].append(merged)
            level += 1

    def compact_all(self) -> None:
        """At the end of a run: merge the stream's small segments (earlier writers' too) into one
        file, unless the stream is already a handful of files (``fanin`` or fewer). Segments that are
        merges already (covering ``fanin`` or more numbers) stay as they are: the end of a long run
        rewrites its last few small segments, never the whole run, so finishing costs time and
        memory bounded by a segment's size, not by the run's length."""
        names = layout.list_segments(self.dir)
        if self.own_only:
            names = [n for n in names if (p := layout.parse_segment(n)) and p[2] == self.writer_id]
        else:
            m4.remove_orphan_pyramids(self.dir, names)
        if len(names) <= self.fanin:
            return
        parsed = sorted((p[0], p[1], n) for n in names if (p := layout.parse_segment(n)))
        # runs of small segments next to each other: a merge is named by its whole range, and readers
        # take a range as covering every segment inside it, so a merge must never span a segment it
        # does not contain (an earlier session's merge between two sessions' small segments)
        groups: list[list[tuple[int, int, str]]] = [[]]
        for seg in parsed:
            if seg[1] - seg[0] + 1 < self.fanin:
                groups[-1].append(seg)
            elif groups[-1]:
                groups.append([])
        merged = [self._merge(g) for g in groups if len(g) >= 2]
        if merged:
            self.levels = [[], merged]

    def _merge(self, files: list[tuple[int, int, str]]) -> tuple[int, int, str]:
        """Stream ``files`` into one segment named by their whole range, then delete them.

        Readers listing the folder in between see the new file cover the old ones, so they read
        either the old set or the new file, never both.
        """
        import pyarrow.parquet as pq

        lo = min(f[0] for f in files)
        hi = max(f[1] for f in files)
        name = layout.segment_name(lo, hi, self.writer_id)
        final = os.path.join(self.dir, name)
        tmp = os.path.join(self.dir, f".{name}.tmp")
        writer = None
        pyramid = m4.PyramidBuilder(m4.pyramid_path(self.dir, name)) if self.pyramids else None
        try:
            for _, _, fname in sorted(files):
                pf = pq.ParquetFile(os.path.join(self.dir, fname))
                own = m4.pyramid_path(self.dir, fname)
                from_points = pyramid is not None and not os.path.exists(own)
                if pyramid is not None and not from_points:
                    pyramid.add_pyramid(own)
                # a row group at a time, on this thread: memory bounded by a row group, whatever
                # the size of the files merged
                for batch in pf.iter_batches(batch_size=segments.ROW_GROUP, use_threads=False):
                    if writer is None:
                        writer = pq.ParquetWriter(
                            tmp,
                            batch.schema,
                            compression="snappy",
                            use_dictionary=["key", "kind", "step", "time", "text"],
                            write_statistics=segments.STATISTICS,
                        )
                    writer.write_batch(batch, row_group_size=segments.ROW_GROUP)
                    if from_points:
                        pyramid.add(batch)  # type: ignore[union-attr]
            if writer is not None:
                writer.close()
                writer = None
            else:  # every input held no rows (steps logged with no values): an empty segment
                schema = pq.read_schema(os.path.join(self.dir, sorted(files)[0][2]))
                pq.write_table(schema.empty_table(), tmp)
            if pyramid is not None:  # published first: a reader that sees the segment sees its pyramid
                pyramid.finish()
            os.replace(tmp, final)
        except BaseException:
            if writer is not None:
                writer.close()
            if pyramid is not None:
                pyramid.abort()
            _unlink(tmp)
            raise
        for _, _, fname in files:
            if fname != name:
                _unlink(os.path.join(self.dir, fname))
                _unlink(m4.pyramid_path(self.dir, fname))
        release_memory()
        return (lo, hi, name)


def warm_up() -> None:
    """Import what the first flush needs (numpy, pyarrow, its Parquet writer: ~0.1 s) as soon as
    the writer thread starts, while the training loop runs, rather than inside the first flush or
    the first backpressure drain, which the logging thread would wait for. A failure is left for
    that flush to report, with what it was writing."""
    try:
        import numpy  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except Exception:  # noqa: BLE001, S110 - said by the flush that needs them
        pass


def release_memory() -> None:
    """Give back the memory Arrow's allocator kept from a merge's buffers: mimalloc and jemalloc keep
    freed pages for reuse, and the next merge is minutes away, so a long run would otherwise carry
    its largest merge's buffers as resident memory to its end (~0.1 ms)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class RunWriter:
    """Owns the writer thread of one run and every stream it writes.

    Args:
        paths: the run's files.
        flush_interval: seconds between flushes.
        fanin: compaction fan-in.
        max_buffered_points: points kept in memory while the store cannot be written.
        reporter: where problems are said.
        side_files: called on the writer thread after each flush to rewrite the JSON side files.
    """

    def __init__(
        self,
        paths: RunPaths,
        *,
        flush_interval: float,
        fanin: int,
        max_buffered_points: int,
        reporter: Reporter,
        side_files: Callable[[bool], None],
        shared: bool = False,
    ) -> None:
        self.paths = paths
        self.writer_id = layout.new_writer_id()
        self.flush_interval = flush_interval
        self.max_buffered_points = max_buffered_points
        self.reporter = reporter
        self.side_files = side_files
        self.lock = threading.RLock()
        self.streams = {
            name: StreamWriter(paths.stream_dir(name), self.writer_id, fanin)
            for name in layout.STREAMS
        }
        for stream in self.streams.values():
            stream.on_problem = reporter.background_problem
            stream.own_only = shared
            if shared:
                try:
                    stream.claim_block()
                except OSError as exc:  # an unwritable store: said once by the first write too
                    reporter.background_problem(("seq-block",), f"no sequence block claimed in {stream.dir} "
                                                f"({exc.strerror or exc}): segments of other processes may hide "
                                                "this one's")
        self.dropped_points = 0
        self._wake = threading.Event()
        #: set once the writer thread has imported what it writes with (or the run is closing)
        self.ready = threading.Event()
        self._closing = False
        self._closed_ok: bool | None = None  # what the thread's last flush and merges returned
        self._store_ok = True
        self._thread = threading.Thread(
            target=self._loop, name=f"tracker-writer-{paths.run_id}", daemon=True
        )

    def start(self) -> None:
        """Start the writer thread (once; not after close, whose flush already wrote everything)."""
        with self.lock:
            if self._closing or self._thread.is_alive() or self._thread.ident is not None:
                return
            self._thread.start()

    def queue(self, stream: str = "scalars") -> deque[tuple[int, float, dict[str, Any]]]:
        """The deque that rows of ``stream`` are appended to."""
        return self.streams[stream].queue

    def _loop(self) -> None:
        try:
            warm_up()
        finally:
            self.ready.set()
        while not self._closing:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            if self._closing:
                break
            self.flush()
        # the last flush and merges on this thread too: its allocator arena already holds buffers of
        # that size (on the thread that calls close, they took ~20 MB more at the end of a long run)
        self._closed_ok = self._finish()

    def relieve(self) -> None:
        """Called by the logging thread when its queue is long: convert the queued rows here.

        Before the writer thread has its imports, start it if it is not yet (the run's context
        starts it ~50 ms after ``init``) and wait for them instead (at most :data:`WARM_UP_WAIT`
        seconds, once): alone, numpy and pyarrow import in ~0.15 s, but with a logging loop
        competing for the GIL it takes several times that, and rows converted meanwhile pile up as
        columns that nothing can write yet (the start of a fast run was its peak of memory).
        """
        if not self.ready.is_set():
            self.start()
            if self._thread.is_alive():
                self.ready.wait(WARM_UP_WAIT)
            self.ready.set()  # waited once: never again
        self.drain()

    def drain(self) -> None:
        """Convert queued rows to columns now (so summaries are current); no file is written.

        When a segment's worth of points is waiting, the writer thread is woken at once rather
        than at its next interval: a loop that logs faster than the interval expects must not
        pile up points in memory.
        """
        with self.lock:
            for stream in self.streams.values():
                self._guarded(stream.drain, "convert logged rows")
            if any(s.pending_points >= SEGMENT_POINTS for s in self.streams.values()):
                self._wake.set()

    def flush(self, durable: bool = False) -> bool:
        """Write everything logged so far; returns False when the store could not be written."""
        with self.lock:
            ok = True
            for stream in self.streams.values():
                self._guarded(stream.drain, "convert logged rows")
                try:
                    stream.write_pending(durable)
                    stream.compact_levels()
                except OSError as exc:
                    ok = False
                    self._store_failed(exc)
                    self._enforce_buffer_cap(stream)
                except Exception as exc:  # noqa: BLE001 - a bug or odd data: said, and only that batch dropped
                    n = stream.drop_oldest(0)
                    self.dropped_points += n
                    self.reporter.background_problem(
                        ("write-bug", type(exc).__name__),
                        f"could not write {n} points of stream {os.path.basename(stream.dir)!r} "
                        f"({type(exc).__name__}: {exc}); they were dropped",
                    )
            try:
                self.side_files(durable)
            except OSError as exc:
                ok = False
                self._store_failed(exc)
            if ok and not self._store_ok:
                self._store_ok = True
                self.reporter.background_problem(
                    "store-recovered", f"the store at {self.paths.dir} is writable again; "
                    "buffered points were written"
                )
            return ok

    def _guarded(self, fn: Callable[[], Any], what: str) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - the writer thread must never die silently
            self.reporter.background_problem(
                ("drain-bug", type(exc).__name__),
                f"failed to {what} ({type(exc).__name__}: {exc}); those rows were dropped",
            )

    def _store_failed(self, exc: OSError) -> None:
        self._store_ok = False
        pending = sum(s.pending_points for s in self.streams.values())
        self.reporter.background_problem(
            "store-write",
            f"cannot write to the store at {self.paths.dir} ({exc.strerror or exc}); training goes "
            f"on, {pending} points are kept in memory and written when the store is writable again",
        )

    def _enforce_buffer_cap(self, stream: StreamWriter) -> None:
        dropped = stream.drop_oldest(self.max_buffered_points)
        if dropped:
            self.dropped_points += dropped
            self.reporter.background_problem(
                "buffer-full",
                f"the store stayed unwritable and the memory buffer reached "
                f"{self.max_buffered_points} points: the oldest {dropped} points were dropped",
            )

    def close(self) -> bool:
        """Stop the thread, write everything, and merge each stream's small segments (see
        :meth:`StreamWriter.compact_all`); the thread does that last work itself when it runs."""
        self._closing = True
        self.ready.set()
        self._wake.set()
        ok = None
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
            ok = self._closed_ok
        if ok is None:  # no thread ran (a run shorter than its start), or it died
            return self._finish()
        if any(stream.queue for stream in self.streams.values()):  # appended while it finished
            ok = self.flush() and ok
        return ok

    def _finish(self) -> bool:
        ok = self.flush()
        if ok:
            with self.lock:
                for stream in self.streams.values():
                    try:
                        stream.compact_all()
                    except OSError as exc:
                        self._store_failed(exc)
                        ok = False
        return ok
