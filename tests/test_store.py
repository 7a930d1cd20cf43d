"""The store: segment naming, compaction, readers during writes, faults, schema versions."""

from __future__ import annotations

import errno
import json
import os
import threading
import time
import warnings
from pathlib import Path

import pytest

import tracker
from tests.conftest import wait_until
from tracker import TrackerWarning
from tracker.errors import SchemaError
from tracker.store import layout, segments


def test_live_segments_skip_what_a_merge_covers():
    names = [
        layout.segment_name(0, 0, "a"),
        layout.segment_name(1, 1, "a"),
        layout.segment_name(0, 7, "a"),  # a merge of 0..7 (0 and 1 not yet deleted)
        layout.segment_name(8, 8, "a"),
        layout.segment_name(9, 9, "b"),
        ".seg-0000000010-0000000010-a.parquet.x.tmp",  # being written: never read
        "notes.txt",
    ]
    assert layout.live_segments(names) == [
        layout.segment_name(0, 7, "a"),
        layout.segment_name(8, 8, "a"),
        layout.segment_name(9, 9, "b"),
    ]
    assert layout.live_segments([layout.segment_name(3, 3, "a"), layout.segment_name(3, 3, "b")]) == [
        layout.segment_name(3, 3, "a"),
        layout.segment_name(3, 3, "b"),
    ]


def test_a_long_run_stays_a_few_files(make_run, store):
    run = make_run(settings={"compaction_fanin": 4})
    for i in range(200):
        run.log({"i": i})
        run.flush()  # one segment per flush: 200 segments before compaction
    scalars = layout.RunPaths(run.settings.root(), run.project, run.id).stream_dir("scalars")
    live = os.listdir(scalars)
    assert len(live) <= 3 * 4  # at most fanin-1 files per level, 4 levels for 200 segments
    run.finish()
    spans = [hi - lo + 1 for lo, hi, _ in filter(None, map(layout.parse_segment, os.listdir(scalars)))]
    # finishing merges the small segments only: at most fanin-1 files of each size, one small one
    assert all(spans.count(n) <= 3 for n in set(spans)) and sum(n < 4 for n in spans) <= 1, spans
    assert len(spans) <= 5
    assert tracker.Api(dir=store).run(run.path).history()["i"].tolist() == list(range(200))


def test_reader_never_sees_torn_or_duplicated_data_while_the_writer_compacts(make_run, store):
    run = make_run(settings={"compaction_fanin": 3, "flush_interval": 0.01})
    api = tracker.Api(dir=store)
    stop = threading.Event()
    errors: list[BaseException] = []
    reads = [0]

    def reader():
        read_run = api.run(run.path)
        while not stop.is_set():
            try:
                frame = read_run.history()
                if len(frame):
                    steps = frame["_step"].tolist()
                    assert steps == list(range(len(steps))), "gap or duplicate"
                    assert (frame["v"] == frame["_step"] * 2).all()
                reads[0] += 1
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)
                return

    t = threading.Thread(target=reader)
    t.start()
    # at least 3000 rows, and on until the reader has read several times while the writer compacts
    # (on a loaded machine the reader thread may get little time: wait for it rather than assume)
    i = 0
    deadline = time.monotonic() + 30
    while i < 3000 or (reads[0] <= 5 and not errors and time.monotonic() < deadline):
        run.log({"v": i * 2})
        if i % 10 == 0:
            time.sleep(0.001)
        i += 1
    run.finish()
    stop.set()
    t.join()
    assert not errors, errors[0]
    assert reads[0] > 5, f"the reader read only {reads[0]} times while {i} rows were written"


def test_a_store_that_cannot_be_written_warns_once_and_catches_up(tmp_path):
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the store's folder should be")
    root = blocker / "store"
    with pytest.warns(TrackerWarning) as caught:
        run = tracker.init(project="p", dir=root, settings={"quiet": True, "flush_interval": 0.05})
        for i in range(100):
            run.log({"i": i})
        time.sleep(0.3)  # failed flushes on the writer thread (as many as it gets to) ...
        for _ in range(3):
            assert run.flush() is False  # ... and surely several here
    assert len(caught) == 1 and "cannot write to the store" in str(caught[0].message)
    blocker.unlink()  # the disk is writable again
    with warnings.catch_warnings(record=True) as later:
        warnings.simplefilter("always")
        for i in range(100, 150):
            run.log({"i": i})
        run.finish()
    assert any("writable again" in str(w.message) for w in later)
    read = tracker.Api(dir=root).run(run.path)
    assert read.history()["i"].tolist() == list(range(150))
    assert read.state == "finished"


def test_a_full_disk_keeps_flushed_data_and_buffers_the_rest(make_run, store, monkeypatch):
    run = make_run(settings={"strict": False})
    for i in range(10):
        run.log({"i": i})
    assert run.flush()
    real = segments.write_segment
    full = threading.Event()
    full.set()

    def write_segment(*args, **kwargs):
        if full.is_set():
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(segments, "write_segment", write_segment)
    with pytest.warns(TrackerWarning, match="No space left on device"):
        for i in range(10, 20):
            run.log({"i": i})
        assert run.flush() is False
    assert tracker.Api(dir=store).run(run.path).history()["i"].tolist() == list(range(10))
    full.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run.finish()
    assert tracker.Api(dir=store).run(run.path).history()["i"].tolist() == list(range(20))


def test_buffer_cap_drops_oldest_points_and_says_so(make_run, store, monkeypatch):
    run = make_run(settings={"strict": False, "max_buffered_points": 10})

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(segments, "write_segment", no_space)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for batch in range(3):
            for i in range(8):
                run.log({"i": batch * 8 + i})
            run.flush()
    assert any("oldest" in str(w.message) and "dropped" in str(w.message) for w in caught)
    assert run.status()["dropped_points"] >= 8


def test_newer_schema_is_refused(store):
    store.mkdir(parents=True)
    (store / layout.STORE_FILE).write_text(json.dumps({"schema_version": layout.SCHEMA_VERSION + 1}))
    with pytest.raises(SchemaError, match="upgrade the tracker package"):
        tracker.init(project="p", dir=store, settings={"quiet": True})


def test_segments_are_plain_parquet_any_engine_reads(make_run, store):
    import duckdb
    import pyarrow.parquet as pq

    run = make_run()
    run.log({"a": 1.5, "s": "text"})
    run.finish()
    (path,) = Path(run.dir, "scalars").glob("*.parquet")
    table = pq.read_table(path)
    assert table.column_names == ["step", "key", "kind", "value", "text", "time"]
    got = duckdb.sql(f"select key, value, text from read_parquet('{path}') order by key").fetchall()
    assert got == [("a", 1.5, None), ("s", None, "text")]
    assert json.loads(Path(run.dir, "run.json").read_text())["schema_version"] == layout.SCHEMA_VERSION


def test_strict_mode_raises_a_writer_failure_at_the_next_log(make_run, monkeypatch):
    run = make_run()

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(segments, "write_segment", no_space)
    run.log({"a": 1.0})  # the writer thread's next flush fails: the failure is kept for the user's thread ...

    def log_raises_it() -> bool:
        try:
            run.log({"a": 2.0})  # ... and the fast path hands it over
        except tracker.TrackingFailure as exc:
            assert "No space left on device" in str(exc)
            return True
        return False

    wait_until(log_raises_it, message="a log() that raises the writer thread's failure")


def test_the_finish_compaction_never_spans_a_segment_it_does_not_merge(tmp_path):
    """A resumed run: the first session left a merge and two small segments, the second a merge and
    one small one; the finish merges only small segments next to each other (a merge named 4..14
    would have hidden the second session's 6..13 from every reader)."""
    import os

    settings = {"quiet": True, "strict": True, "disable_stats": True, "console": "off", "compaction_fanin": 4}
    store = tmp_path / "store"
    for steps, resume in ((6, None), (9, "allow")):
        run = tracker.init(project="p", id="r", dir=store, resume=resume, settings=settings, reinit="create_new")
        for i in range(steps):
            run.log({"x": float(i)})
            run.flush()
        run.finish()
    names = sorted(os.listdir(store / "p" / "r" / "scalars"))
    history = tracker.Api(dir=store).run("p/r").history(keys=["x"])
    assert history["_step"].tolist() == list(range(15)), names
    assert history["x"].tolist() == [float(i) for i in range(6)] + [float(i) for i in range(9)]


def test_a_pyramid_is_built_in_bounded_pieces_and_each_level_covers_every_point(tmp_path, monkeypatch):
    """However many points a segment has, the pyramid builder holds a bounded number of M4 rows per
    level (it writes them in pieces); each written level, reduced, is the M4 of all the points at
    that level's bucket width (pieces of a bucket merge), and the top level has at most
    TOP_BUCKETS buckets per key."""
    import numpy as np
    import pyarrow.parquet as pq

    from tracker.store import m4

    monkeypatch.setattr(m4, "HOLD_ROWS", 64)
    monkeypatch.setattr(m4, "POINT_CHUNK", 1000)
    rng = np.random.default_rng(7)
    n, keys = 90_000, 3
    step = np.repeat(np.arange(n // keys), keys)
    key = np.tile(np.arange(keys), n // keys)
    value = rng.normal(size=n)
    value[rng.random(n) < 0.01] = np.nan
    time_ = step * 0.5
    held_most = 0
    spill = m4.PyramidBuilder._spill

    def watching(self, level):
        nonlocal held_most
        held_most = max(held_most, *self.held_rows)
        return spill(self, level)

    monkeypatch.setattr(m4.PyramidBuilder, "_spill", watching)
    path = str(tmp_path / "m4" / "seg.parquet")
    builder = m4.PyramidBuilder(path)
    builder.add_columns(["a", "b", "c"], key, np.zeros(n, np.int8), step, time_, value)
    assert builder.finish()
    # a spill happens at 64 rows: the level held at most that plus one chunk's rows
    assert held_most < 64 + 1000 // m4.bucket_width(0) * keys + keys
    t = pq.read_table(path)
    level = t.column("level").to_numpy()
    assert pq.ParquetFile(path).metadata.num_row_groups > level.max() + 1  # levels written in pieces
    names = t.column("key").to_pylist()
    for lv in range(int(level.max()) + 1):
        at = np.flatnonzero(level == lv)
        got = {c: t.column(c).to_numpy()[at] for c in m4.AGG_COLUMNS if c != "key"}
        got["key"] = np.array([["a", "b", "c"].index(names[i]) for i in at])
        got = m4.reduce(got)
        want = m4.reduce(m4.from_points(key, step, time_, value, step // m4.bucket_width(lv)))
        for c in m4.AGG_COLUMNS:
            np.testing.assert_array_equal(got[c], want[c], err_msg=f"level {lv}, {c}")
        if lv == level.max():
            assert np.bincount(got["key"]).max() <= m4.TOP_BUCKETS


def test_the_logging_thread_waits_for_the_writer_imports_rather_than_pile_up_columns(make_run, monkeypatch):
    """A loop that fills the queue before the writer thread has imported numpy and pyarrow waits
    for it (once), instead of converting rows that nothing can write yet."""
    from tracker.store import writer

    warm = writer.warm_up

    def slow_warm_up():
        time.sleep(0.3)
        warm()

    monkeypatch.setattr(writer, "warm_up", slow_warm_up)
    converted_before_ready = []
    to_columns = segments.rows_to_columns
    run_writer: list[writer.RunWriter] = []

    def watching(items, *args, **kwargs):
        if run_writer and not run_writer[0].ready.is_set():
            converted_before_ready.append(len(items))
        return to_columns(items, *args, **kwargs)

    monkeypatch.setattr(segments, "rows_to_columns", watching)
    make = writer.RunWriter.__init__

    def remember(self, *args, **kwargs):
        make(self, *args, **kwargs)
        run_writer.append(self)

    monkeypatch.setattr(writer.RunWriter, "__init__", remember)
    run = make_run(settings={"flush_interval": 60.0})
    t0 = time.perf_counter()
    for i in range(30_000):
        run.log({"a": i * 0.5, "b": 1.0})
    assert time.perf_counter() - t0 > 0.2  # it waited for the imports
    assert converted_before_ready == []
    run.finish()
    assert len(tracker.Api(dir=run.settings.root()).run(run.path).history()) == 30_000
