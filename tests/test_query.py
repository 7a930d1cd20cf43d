"""Property tests of the read layer (:class:`tracker.store.query.Query`) against a brute-force reader
of the same files: list the stream folder, skip superseded segments, read every live segment whole
with pyarrow, and answer with plain Python. Small settings (compaction fan-in 2, pyramids from 64
points, row groups of 32 rows) make merges, pyramids and row-group skipping happen on small runs.

The hypothesis tests write a whole run per example (about 0.2 s), so they keep few examples and do
not shrink: a failure prints its plan (a seed and a few blocks), and the small tests after each
property pin down what was found."""

from __future__ import annotations

import math
import os
import random
import re
import shutil
import signal
import subprocess
import textwrap
import time
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import tracker
from tests.conftest import PYTHON, python_env, wait_until
from tracker.store import index as runs_index
from tracker.store import layout, m4, segments
from tracker.store.query import Query

#: Settings of every run written here: no background data, fan-in 2, and (in-process runs) no flush
#: but the test's own.
QUIET = {"quiet": True, "disable_stats": True, "console": "off", "disable_meta": True}
SMALL = {**QUIET, "flush_interval": 60.0, "compaction_fanin": 2}
NUMERIC = 2  # kinds 0-2 hold numbers
SEGMENT = re.compile(r"seg-(\d{10})-(\d{10})-([0-9A-Za-z]+)\.parquet")
HYPOTHESIS = settings(
    max_examples=20, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture
def small_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pyramids for segments of 64 numeric points, built 16 points at a time with 4 rows held per
    level (so levels are written in pieces, as a long run's are), row groups of 32 rows (this
    process's writers)."""
    monkeypatch.setattr(m4, "MIN_POINTS", 64)
    monkeypatch.setattr(m4, "POINT_CHUNK", 16)
    monkeypatch.setattr(m4, "HOLD_ROWS", 4)
    monkeypatch.setattr(segments, "ROW_GROUP", 32)


# --- the brute-force reader -----------------------------------------------------------------------
def brute_live(stream_dir: str) -> list[str]:
    """The live segments of a stream folder: every ``seg-<lo>-<hi>-<writer>.parquet`` whose range is
    not inside another segment's (different) range."""
    try:
        names = os.listdir(stream_dir)
    except FileNotFoundError:
        return []
    segs = [(int(m[1]), int(m[2]), n) for n in names if (m := SEGMENT.fullmatch(n))]
    live = [n for lo, hi, n in segs if not any((a, b) != (lo, hi) and a <= lo and hi <= b for a, b, _ in segs)]
    return [os.path.join(stream_dir, n) for n in sorted(live)]


def _num(v: float | None) -> Any:
    """A float that compares equal to itself inside a tuple (NaN as the string "NaN")."""
    if v is None:
        return None
    return "NaN" if math.isnan(v) else float(v)


def _rows_of(table: Any) -> list[tuple]:
    """A table's rows as ``(step, key, kind, value, text, time)`` tuples (None: no rows)."""
    if table is None:
        return []
    cols = [table.column(c).to_pylist() for c in segments.COLUMNS]
    return [(int(s), str(k), int(kd), _num(v), tx, _num(t)) for s, k, kd, v, tx, t in zip(*cols, strict=True)]


class Brute:
    """Every row of every live segment of a run's stream, read whole (no filter, no statistics, no
    pyramid), and the answers computed from them in Python."""

    def __init__(self, run_dir: str, stream: str = "scalars") -> None:
        import pyarrow.parquet as pq

        self.rows: list[tuple] = []
        for path in brute_live(os.path.join(run_dir, stream)):
            self.rows.extend(_rows_of(pq.ParquetFile(path).read()))
        self._points: dict[str, dict[int, tuple[float, float]]] = {}

    @property
    def top(self) -> int | None:
        return max((r[0] for r in self.rows), default=None)

    def no_time(self) -> Counter:
        return Counter(r[:5] for r in self.rows)

    def points(self, key: str) -> dict[int, tuple[float, float]]:
        """A key's numeric points: step -> (value, time)."""
        if key not in self._points:
            out: dict[int, tuple[float, float]] = {}
            for step, k, kind, value, _, t in self.rows:
                if k == key and kind <= NUMERIC:
                    assert step not in out, f"{key!r} stored twice at step {step}"
                    out[step] = (math.nan if value == "NaN" else value, t)
            self._points[key] = out
        return self._points[key]

    def numeric_keys(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for step, k, kind, *_ in self.rows:
            if kind <= NUMERIC:
                out[k] = max(out.get(k, -1), step)
        return dict(sorted(out.items()))


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


# --- checks of Query against the brute force ------------------------------------------------------
def check_read_stream(q: Query, run_dir: str, b: Brute, keys: list[str] | None, min_step: int | None,
                      max_step: int | None) -> None:
    want = Counter(r for r in b.rows if (keys is None or r[1] in keys) and (min_step is None or r[0] >= min_step)
                   and (max_step is None or r[0] < max_step))
    got = Counter(_rows_of(q.read_stream(run_dir, keys=keys, min_step=min_step, max_step=max_step)))
    assert got == want, (f"read_stream(keys={keys}, min_step={min_step}, max_step={max_step}): "
                         f"extra {list((got - want).elements())[:5]}, missing {list((want - got).elements())[:5]}")


def check_m4(got: dict[str, Any], inside: dict[int, tuple[float, float]], buckets: int, x_of: Any, what: str,
             ends: bool = True) -> None:
    """A downsampled series against the points its window holds (step -> (value, time)): the count,
    only real points of the window, at most 4 a bucket, and the window's lowest and highest value
    kept (its first and last step too with ``ends``)."""
    steps, ys = got["step"].tolist(), got["y"].tolist()
    xs, ts = got["x"].tolist(), got["time"].tolist()
    seen = f"{what}: returned {list(zip(steps, ys, strict=True))[:12]}, the window holds {len(inside)} points"
    assert got["n"] == len(inside), seen
    assert len(set(steps)) == len(steps), seen
    assert len(steps) <= 4 * buckets, seen
    for s, y, x, t in zip(steps, ys, xs, ts, strict=True):
        assert s in inside, f"step {s} is not a logged point inside the window; {seen}"
        value, when = inside[s]
        assert same(y, value), f"step {s}: y {y} but {value} was logged; {seen}"
        assert t == when, f"step {s}: time {t} but {when} was stored; {seen}"
        assert same(x, x_of(s, when)), f"step {s}: x {x}, expected {x_of(s, when)}; {seen}"
    if not inside:
        return
    if ends:
        assert min(inside) in steps and max(inside) in steps, f"first or last point lost; {seen}"
    values = [v for v, _ in inside.values() if not math.isnan(v)]
    if values:
        assert min(values) in ys, f"lowest value {min(values)} lost; {seen}"
        assert max(values) in ys, f"highest value {max(values)} lost; {seen}"


def check_series_steps(q: Query, run_dir: str, b: Brute, keys: list[str], buckets: int,
                       x_range: tuple[float, float] | None, min_step: int | None = None,
                       max_step: int | None = None) -> None:
    got = q.series(run_dir, keys, buckets, x_range=x_range, min_step=min_step, max_step=max_step)
    assert set(got) == set(keys)
    lo, hi = x_range if x_range is not None else (-math.inf, math.inf)
    for k in keys:
        inside = {s: p for s, p in b.points(k).items()
                  if lo <= s <= hi and (min_step is None or s >= min_step) and (max_step is None or s < max_step)}
        check_m4(got[k], inside, buckets, lambda s, t: float(s),
                 f"series({k!r}, buckets={buckets}, x_range={x_range}, min_step={min_step}, max_step={max_step})")
        assert got[k]["step"].tolist() == sorted(got[k]["step"].tolist())


def check_series_time(q: Query, run_dir: str, b: Brute, keys: list[str], buckets: int, x_axis: str,
                      created_at: float, x_range: tuple[float, float] | None = None) -> None:
    got = q.series(run_dir, keys, buckets, x_axis=x_axis, created_at=created_at, x_range=x_range)
    shift = created_at if x_axis == "_runtime" else 0.0
    lo, hi = x_range if x_range is not None else (-math.inf, math.inf)
    for k in keys:
        inside = {s: p for s, p in b.points(k).items() if lo <= p[1] - shift <= hi}
        check_m4(got[k], inside, buckets, lambda s, t: t - shift,
                 f"series({k!r}, buckets={buckets}, x_axis={x_axis}, x_range={x_range})", ends=False)


def check_series_metric(q: Query, run_dir: str, b: Brute, key: str, x_key: str, buckets: int,
                        x_range: tuple[float, float] | None) -> None:
    got = q.series(run_dir, [key], buckets, x_axis=x_key, x_range=x_range)
    # a point whose x is NaN or infinite has no place on the axis: not drawn, not counted
    xs = {s: v for s, (v, _) in b.points(x_key).items() if math.isfinite(v)}
    lo, hi = x_range if x_range is not None else (-math.inf, math.inf)
    inside = {s: p for s, p in b.points(key).items() if s in xs and (x_range is None or lo <= xs[s] <= hi)}
    check_m4(got[key], inside, buckets, lambda s, t: xs[s],
             f"series({key!r}, buckets={buckets}, x_axis={x_key!r}, x_range={x_range})", ends=False)


def check_facts(q: Query, run_dir: str, b: Brute) -> None:
    """max_step and numeric_keys against the brute force."""
    assert q.max_step(run_dir) == b.top
    assert q.numeric_keys(run_dir) == b.numeric_keys()


def check_tail(q: Query, run_dir: str, b: Brute, keys: list[str], after: int) -> None:
    got = q.tail(run_dir, keys, after)
    for k in keys:
        pts = sorted((s, p) for s, p in b.points(k).items() if s > after)
        assert got[k]["step"].tolist() == [s for s, _ in pts], f"tail({k!r}, after {after})"
        ys = got[k]["y"].tolist()
        assert all(same(y, p[0]) for y, (_, p) in zip(ys, pts, strict=True)), f"tail({k!r}, after {after})"


def battery(q: Query, run_dir: str, b: Brute, keys: list[str], seed: int = 0) -> None:
    """A fixed set of reads, each checked against the brute force (for runs written elsewhere)."""
    rng = random.Random(seed)
    top = b.top or 0
    check_read_stream(q, run_dir, b, None, None, None)
    check_facts(q, run_dir, b)
    for _ in range(5):
        lo, hi = sorted(rng.randint(-2, top + 2) for _ in range(2))
        check_read_stream(q, run_dir, b, rng.sample(keys, rng.randint(1, len(keys))), lo, hi)
        buckets = rng.choice([1, 3, 16, 50])
        check_series_steps(q, run_dir, b, keys, buckets, (lo - 0.5, hi + 0.25))
        check_series_steps(q, run_dir, b, keys, buckets, None, min_step=lo)
        check_tail(q, run_dir, b, keys, lo)
    for axis in ("_runtime", "_timestamp"):
        check_series_time(q, run_dir, b, keys, rng.choice([1, 8, 40]), axis, 1000.0)
    check_series_metric(q, run_dir, b, keys[0], keys[-1], 7, None)


# --- logging: random plans, and a model of what log() commits --------------------------------------
KEYS = ("a", "b", "c", "n/x")  # "n/x" is logged as {"n": {"x": value}}


def stored(value: Any) -> tuple[int, Any, Any]:
    """(kind, value, text) of a logged value in a segment."""
    if isinstance(value, bool):
        return 2, float(value), None
    if isinstance(value, int):
        return 1, _num(float(value)), str(value) if abs(value) >= 2**53 else None
    if isinstance(value, float):
        return 0, _num(value), None
    if isinstance(value, str):
        return 3, None, value
    assert value is None
    return 4, None, None


class Model:
    """What ``Run.log`` commits: values for one step gather until a later step (or a log without
    ``step=``) commits them; the step then moves on by one."""

    def __init__(self) -> None:
        self.step = 0
        self.pending: dict[str, Any] | None = None
        self.rows: list[tuple[int, dict[str, Any]]] = []

    def log(self, flat: dict[str, Any], step: int | None) -> None:
        if step is not None and step > self.step:
            self.commit()
            self.step = step
        self.pending = {**(self.pending or {}), **flat}
        if step is None:
            self.commit()

    def commit(self) -> None:
        if self.pending is not None:
            self.rows.append((self.step, self.pending))
            self.pending = None
            self.step += 1

    def points(self) -> Counter:
        return Counter((s, k, *stored(v)) for s, row in self.rows for k, v in row.items())


def make_value(rng: random.Random, flavor: str, i: int) -> Any:
    if flavor == "float":
        return rng.uniform(-1e3, 1e3)
    if flavor == "int":
        return rng.randint(-(10**6), 10**6) if rng.random() > 0.02 else rng.choice([2**60 + 1, -(2**55) - 3])
    if flavor == "ties":
        return float(i % 7) - 3.0
    if flavor == "nan":
        return math.nan if rng.random() < 0.7 else rng.choice([rng.uniform(-1, 1), math.inf, -math.inf])
    return rng.choice([rng.uniform(-5, 5), rng.randint(-5, 5), rng.random() < 0.5, f"s{rng.randint(0, 9)}",
                       None, math.nan, math.inf, -math.inf, -0.0])


#: A block of rows: its keys (none: empty rows), the kind of values, how many rows, the largest step
#: gap of explicit ``step=`` logging (None: log without step), and how often to flush.
blocks = st.tuples(
    st.lists(st.sampled_from(KEYS), max_size=4, unique=True),
    st.sampled_from(["float", "int", "ties", "nan", "mixed"]),
    st.integers(1, 200),
    st.one_of(st.none(), st.integers(0, 3), st.integers(0, 80), st.integers(0, 400)),
    st.integers(1, 60),
)
#: A seed for the values and gaps, and the blocks.
plans = st.tuples(st.integers(0, 2**32 - 1), st.lists(blocks, min_size=1, max_size=6))


def flush_fast(run: Any) -> None:
    """Write what was logged, without the fsync of ``run.flush()`` (a plan flushes up to 200 times)."""
    run.flush(durable=False)


def write_plan(root: str, plan: Any, check: Any) -> None:
    """Log a plan in this process; ``check(run_dir, model_points, created_at)`` runs after the last
    flush (merged and unmerged segments, with and without pyramids) and again after finish."""
    seed, plan_blocks = plan
    rng = random.Random(seed)
    run = tracker.init(project="p", dir=root, settings=SMALL, reinit="create_new")
    model = Model()
    i = 0
    for keys, flavor, n, gap, flush_every in plan_blocks:
        for _ in range(n):
            flat = {k: make_value(rng, flavor, i) for k in keys}
            row = {("n" if k == "n/x" else k): ({"x": v} if k == "n/x" else v) for k, v in flat.items()}
            step = None if gap is None else model.step + rng.randint(0, gap)
            if step is None:
                run.log(row)
            else:
                run.log(row, step=step)
            model.log(flat, step)
            i += 1
            if i % flush_every == 0:
                flush_fast(run)
    flush_fast(run)
    created = float(layout.read_json(os.path.join(run.dir, layout.RUN_FILE))["created_at"])
    check(run.dir, model.points(), created)
    run.finish()
    model.commit()
    check(run.dir, model.points(), created)


def steps_or_none(top: int) -> Any:
    return st.one_of(st.none(), st.integers(-3, top + 3))


# --- 1. read_stream -------------------------------------------------------------------------------
@HYPOTHESIS
@given(plan=plans, data=st.data())
def test_read_stream_is_the_brute_force_rows(tmp_path_factory, small_files, plan, data):
    root = str(tmp_path_factory.mktemp("rs"))
    q = Query(root)  # one instance for both looks: its footer cache must not go stale

    def check(run_dir: str, points: Counter, created_at: float) -> None:
        b = Brute(run_dir)
        assert b.no_time() == points, "the brute-force reader disagrees with what was logged"
        check_read_stream(q, run_dir, b, None, None, None)
        check_facts(q, run_dir, b)
        top = b.top or 0
        for _ in range(5):
            keys = data.draw(st.one_of(st.none(), st.lists(st.sampled_from([*KEYS, "nope"]), unique=True)))
            check_read_stream(q, run_dir, b, keys, data.draw(steps_or_none(top)), data.draw(steps_or_none(top)))
        check_tail(q, run_dir, b, list(KEYS), data.draw(st.integers(-1, top + 1)))

    write_plan(root, plan, check)


def test_a_flush_of_empty_rows_moves_neither_max_step_nor_a_resumed_step(store):
    # run.log({}) commits a step with no point; flushed alone, it is a segment of 0 rows, whose row
    # group has no statistics: max_step must not read that as "any step"
    run = tracker.init(project="p", dir=store, id="r", settings={**QUIET, "flush_interval": 60.0})
    run.log({})
    flush_fast(run)
    run.log({"a": 1.0})
    run.finish()
    b = Brute(run.dir)
    assert b.top == 1 and len(brute_live(os.path.join(run.dir, "scalars"))) == 2
    assert Query(str(store)).max_step(run.dir) == 1
    again = tracker.init(project="p", dir=store, id="r", resume="allow", settings=QUIET)
    assert again.step == 2
    again.finish()


def test_merging_segments_of_only_empty_rows_is_no_store_failure(store):
    # two flushes of nothing but run.log({}): two segments of 0 rows, which fan-in 2 merges
    run = tracker.init(project="p", dir=store, settings=SMALL)
    for _ in range(2):
        run.log({})
        flush_fast(run)
    run.log({"a": 1.0})
    run.finish()
    assert Brute(run.dir).no_time() == Counter([(2, "a", 0, 1.0, None)])


def test_read_stream_of_no_keys_is_no_rows(store):
    run = tracker.init(project="p", dir=store, settings=QUIET)
    run.log({"a": 1.0})
    run.finish()
    assert _rows_of(Query(str(store)).read_stream(run.dir, keys=[])) == []


def test_read_stream_keeps_the_exact_digits_of_big_ints(store):
    # kind 1 keeps the digits of an int beyond 2**53 in `text`: a segment holding no kind >= 3 holds
    # text all the same
    run = tracker.init(project="p", dir=store, settings=QUIET)
    run.log({"big": 2**60 + 1})
    run.finish()
    assert [r[4] for r in Brute(run.dir).rows] == [str(2**60 + 1)]
    assert [r[4] for r in _rows_of(Query(str(store)).read_stream(run.dir))] == [str(2**60 + 1)]


# --- 2. series ------------------------------------------------------------------------------------
@HYPOTHESIS
@given(plan=plans, data=st.data())
def test_series_keeps_real_points_and_the_extremes(tmp_path_factory, small_files, plan, data):
    root = str(tmp_path_factory.mktemp("series"))
    q = Query(root)

    def check(run_dir: str, points: Counter, created_at: float) -> None:
        b = Brute(run_dir)
        assert b.no_time() == points, "the brute-force reader disagrees with what was logged"
        top = b.top or 0
        buckets = st.one_of(st.integers(1, 3), st.integers(1, 40))
        keys = data.draw(st.lists(st.sampled_from([*KEYS, "nope"]), min_size=1, max_size=3, unique=True))
        check_series_steps(q, run_dir, b, keys, data.draw(buckets), None)
        for _ in range(4):
            x_range = None
            if data.draw(st.integers(0, 3)):
                ends = (data.draw(st.integers(-5, top + 5)) + data.draw(st.sampled_from([0, 0.5, -0.25]))
                        for _ in range(2))
                x_range = tuple(sorted(ends))
            check_series_steps(q, run_dir, b, keys, data.draw(buckets), x_range,
                               data.draw(steps_or_none(top)), data.draw(steps_or_none(top)))
        for axis in ("_runtime", "_timestamp"):
            check_series_time(q, run_dir, b, keys, data.draw(buckets), axis, created_at)
        key, x_key = data.draw(st.sampled_from(KEYS)), data.draw(st.sampled_from(KEYS))
        xs = [v for v, _ in b.points(x_key).values() if math.isfinite(v)]
        x_range = None
        if xs and data.draw(st.booleans()):
            x_range = tuple(sorted(data.draw(st.sampled_from(xs)) for _ in range(2)))
        check_series_metric(q, run_dir, b, key, x_key, data.draw(buckets), x_range)

    write_plan(root, plan, check)


@HYPOTHESIS
@given(plan=plans, data=st.data())
def test_series_time_window_holds_only_its_points(tmp_path_factory, small_files, plan, data):
    """``x_range`` on the time axes: only ``lo <= x <= hi``, as the docstring says and as on steps."""
    root = str(tmp_path_factory.mktemp("tw"))
    q = Query(root)

    def check(run_dir: str, points: Counter, created_at: float) -> None:
        b = Brute(run_dir)
        times = sorted({r[5] for r in b.rows})
        if not times:
            return
        for axis in ("_runtime", "_timestamp"):
            shift = created_at if axis == "_runtime" else 0.0
            lo, hi = sorted(data.draw(st.sampled_from(times)) - shift for _ in range(2))
            check_series_time(q, run_dir, b, list(KEYS), data.draw(st.integers(1, 40)), axis, created_at, (lo, hi))

    write_plan(root, plan, check)


def test_series_time_window_over_a_pyramid(store, small_files):
    # 300 steps in merged segments, the larger ones with pyramids (level-0 buckets of 64 steps); a
    # window from step 150's time to the end: whole buckets straddling its start must not come in whole
    run = tracker.init(project="p", dir=store, settings=SMALL)
    for i in range(300):
        run.log({"a": float(i)})
        if i % 10 == 9:
            flush_fast(run)
    run.finish()
    assert os.listdir(os.path.join(run.dir, "scalars", "m4"))  # segments with pyramids
    b = Brute(run.dir)
    lo, hi = b.points("a")[150][1], b.points("a")[299][1]
    got = Query(str(store)).series(run.dir, ["a"], 1, x_axis="_timestamp", x_range=(lo, hi))["a"]
    inside = {s for s, (_, t) in b.points("a").items() if lo <= t <= hi}
    assert got["n"] == len(inside)
    assert set(got["step"].tolist()) <= inside


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3), st.floats(allow_nan=True, allow_infinity=True)),
                  min_size=1, max_size=300),
    sorted_steps=st.booleans(),
    shift=st.sampled_from([0, 2, 6]),
)
def test_m4_of_raw_points_is_the_general_reduction(rows, sorted_steps, shift):
    """The writer's one-sort M4 of a segment's points (each key's steps increasing) gives what the
    general reduction gives; any other order (a repeated or decreasing step) takes the general one."""
    import numpy as np

    key = np.array([r[0] for r in rows])
    gaps = np.array([r[1] for r in rows])
    step = np.cumsum(gaps) if sorted_steps else gaps * 7 % 11
    value = np.array([r[2] for r in rows])
    time_ = np.arange(len(rows), dtype=np.float64) / 3
    want = m4.reduce(m4.from_points(key, step, time_, value, step >> shift))
    got = m4.reduce_points(key, step, time_, value, shift)
    for c in m4.AGG_COLUMNS:
        assert got[c].dtype == want[c].dtype, c
        np.testing.assert_array_equal(got[c], want[c], err_msg=c)


@pytest.mark.parametrize("odd", [math.inf, math.nan])
def test_series_on_a_metric_axis_with_one_odd_x_still_has_buckets(store, odd):
    """A point whose x is not finite is left out (it has no place on the axis); the rest keep
    their buckets."""
    run = tracker.init(project="p", dir=store, settings=QUIET)
    for i in range(1000):
        run.log({"x": float(i) if i != 500 else odd, "y": float(i % 10)})
    run.finish()
    got = Query(str(store)).series(run.dir, ["y"], 100, x_axis="x")["y"]
    assert got["n"] == 999
    assert len(got["x"]) > 100  # 100 buckets of a saw-tooth: about 2 to 4 points each, not 3 in all


def files_under(folder: str) -> dict[str, bytes]:
    out = {}
    for where, _, names in os.walk(folder):
        for n in names:
            with open(os.path.join(where, n), "rb") as fh:
                out[os.path.relpath(os.path.join(where, n), folder)] = fh.read()
    return out


def test_segments_a_merge_left_behind_are_not_read(store, small_files):
    # a writer killed between publishing a merge and deleting its inputs leaves both: put an input
    # (with its pyramid) back beside the merge that covers it, and a stray temporary file
    run = tracker.init(project="p", dir=store, settings=SMALL)
    scalars = os.path.join(run.dir, "scalars")
    for i in range(100):
        run.log({"a": float(i), "b": i % 3, "s": "x"})
    flush_fast(run)
    kept = files_under(scalars)
    assert len(kept) == 2  # a segment and its pyramid
    for i in range(100, 150):
        run.log({"a": float(i), "b": i % 3, "s": "x"})
    flush_fast(run)  # fan-in 2: merged into one segment, the inputs deleted
    assert not set(kept) & set(files_under(scalars))
    for name, data in kept.items():
        with open(os.path.join(scalars, name), "wb") as fh:
            fh.write(data)
    with open(os.path.join(scalars, ".seg-0000000000-0000000009-deadbeef.parquet.1.tmp"), "wb") as fh:
        fh.write(b"torn")
    assert len(brute_live(scalars)) == 1 and len([n for n in os.listdir(scalars) if SEGMENT.fullmatch(n)]) == 2
    b = Brute(run.dir)
    assert b.no_time() == Counter(r for i in range(150) for r in [(i, "a", 0, float(i), None),
                                                                   (i, "b", 1, float(i % 3), None),
                                                                   (i, "s", 3, None, "x")])
    battery(Query(str(store)), run.dir, b, ["a", "b"])
    run.finish()


# --- writer processes -----------------------------------------------------------------------------
CHILD = textwrap.dedent(
    """
    import os, sys, time, tracker
    from tracker.store import m4, segments
    m4.MIN_POINTS = 64
    segments.ROW_GROUP = 32
    root, run_id, proc_no, rows, mode, stop = sys.argv[1:7]
    rows, proc_no = int(rows), int(proc_no)
    run = tracker.init(project="p", dir=root, id=run_id, resume="allow",
                       settings={**%r, "flush_interval": 0.01, "compaction_fanin": 2})
    start = run.step
    print(start, flush=True)

    def row(step):
        return {"a": step, "b": step / 2, "s": f"t{step}", "p": proc_no}

    for i in range(rows):
        run.log(row(start + i))
    run.flush()
    print("ready", flush=True)
    if mode == "finish":
        run.finish()
        sys.exit(0)
    i = rows  # "crash": on until killed; "race": on until the stop file appears
    while (mode == "crash" or not os.path.exists(stop)) and i < 400_000:
        run.log(row(start + i))
        i += 1
        if i %% 10 == 0:
            time.sleep(0.001)
    run.finish()
    """
) % (QUIET,)
CHILD_KEYS = ["a", "b", "p"]  # the numeric ones; "s" is text


def start_child(tmp_path: Any, root: str, run_id: str, proc_no: int, rows: int, mode: str) -> tuple[Any, int]:
    """A writer process; returns it and the step it started at (its first line)."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    args = [root, run_id, str(proc_no), str(rows), mode, str(tmp_path / "stop")]
    proc = subprocess.Popen([PYTHON, str(script), *args], env=python_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.strip().isdigit():
        proc.kill()
        pytest.fail(f"the writer process did not start: {line!r} {proc.communicate()[1]}")
    return proc, int(line)


def child_rows(step: int, proc_no: int) -> list[tuple]:
    """What the writer process stores at a step (no time)."""
    return [(step, "a", 1, float(step), None), (step, "b", 0, step / 2, None), (step, "s", 3, None, f"t{step}"),
            (step, "p", 1, float(proc_no), None)]


def child_prefix(first: int, last: int, proc_no: int) -> Counter:
    return Counter(r for s in range(first, last + 1) for r in child_rows(s, proc_no))


def kill(proc: Any) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    proc.stderr.close()


# --- 3. compaction racing reads -------------------------------------------------------------------
def test_reads_racing_compaction_see_a_prefix(store, tmp_path):
    """A writer process logs 4 keys a step (one of them text) with fan-in 2 and flushes every 10 ms,
    while this thread reads: every answer is the brute-force answer over some prefix of the log
    (whole steps 0..k), and never a shorter prefix than an earlier answer."""
    root = str(store)
    proc, _ = start_child(tmp_path, root, "race", 1, 50, "race")
    run_dir = os.path.join(root, "p", "race")
    q = Query(root)
    rng = random.Random(7)
    floor = -1  # the longest prefix read so far
    times: dict[int, float] = {}  # step -> time, as read
    partial = reads = 0
    started = time.monotonic()

    def prefix(rows: list[tuple], what: str) -> int:
        k = max((r[0] for r in rows), default=-1)
        assert Counter(r[:5] for r in rows) == child_prefix(0, k, 1), f"{what}: not the rows of steps 0..{k}"
        for r in rows:
            assert times.setdefault(r[0], r[5]) == r[5], f"{what}: step {r[0]} read with two times"
        return k

    while proc.poll() is None:
        what = ["read_stream", "window", "series", "numeric_keys", "max_step"][reads % 5]
        if what == "read_stream":
            k = prefix(_rows_of(q.read_stream(run_dir)), what)
        elif what == "window":  # a step window of some keys: exactly that part of a prefix
            lo = rng.randint(0, max(floor, 0))
            rows = _rows_of(q.read_stream(run_dir, keys=["a", "s"], min_step=lo, max_step=lo + 500))
            k = max((r[0] for r in rows), default=lo - 1)
            want = Counter(r for r in child_prefix(lo, k, 1).elements() if r[1] in ("a", "s"))
            assert Counter(r[:5] for r in rows) == want, f"{what} from {lo}: not the rows of {lo}..{k}"
            if k == lo + 499:
                k = floor  # a full window says nothing of where the log ends
        elif what == "series":
            buckets = rng.choice([1, 5, 60])
            got = q.series(run_dir, CHILD_KEYS, buckets)
            ns = {key: got[key]["n"] for key in CHILD_KEYS}
            assert len(set(ns.values())) == 1, f"series: the keys of a step seen apart: {ns}"
            k = ns["a"] - 1
            for key, value in (("a", float), ("b", lambda s: s / 2), ("p", lambda s: 1.0)):
                pts = dict(zip(got[key]["step"].tolist(),
                               zip(got[key]["y"].tolist(), got[key]["time"].tolist(), strict=True), strict=True))
                assert set(pts) <= set(range(k + 1)), f"series {key}: steps past its count {k + 1}"
                assert all(y == value(s) and times.setdefault(s, t) == t for s, (y, t) in pts.items()), (
                    f"series {key}: points that were not logged")
                assert len(pts) <= 4 * buckets
                if k >= 0:
                    assert {0, k} <= set(pts), f"series {key}: first or last point lost"
        elif what == "numeric_keys":
            nk = q.numeric_keys(run_dir)
            assert not nk or (set(nk) == set(CHILD_KEYS) and len(set(nk.values())) == 1), nk
            k = next(iter(nk.values()), -1)
        else:
            m = q.max_step(run_dir)
            k = -1 if m is None else m
        assert k >= floor, f"{what} read steps 0..{k} after a read of 0..{floor}"
        floor = k
        reads += 1
        partial += k >= 0
        if partial >= 40 and time.monotonic() - started > 1.5 and not (tmp_path / "stop").exists():
            (tmp_path / "stop").write_text("")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    b = Brute(run_dir)
    assert b.no_time() == child_prefix(0, b.top, 1)
    assert all(times[r[0]] == r[5] for r in b.rows if r[0] in times), "a racing read saw other times"
    assert partial >= 40, f"only {partial} of {reads} reads overlapped the writer"
    battery(q, run_dir, b, CHILD_KEYS)


# --- 4. a crashed run -----------------------------------------------------------------------------
def test_a_killed_writer_leaves_what_the_brute_force_reads(store, tmp_path):
    root = str(store)
    proc, _ = start_child(tmp_path, root, "crash", 1, 300, "crash")
    assert proc.stdout.readline().strip() == "ready"
    run_dir = os.path.join(root, "p", "crash")
    watcher = Query(root)  # reads while the process writes, then after it died
    wait_until(lambda: (watcher.max_step(run_dir) or 0) > 1500, message="rows written after the flush")
    watcher.runs("p")
    before = time.time()
    kill(proc)
    b = Brute(run_dir)
    assert b.top > 1500 and b.no_time() == child_prefix(0, b.top, 1), "not whole steps 0..k"
    q = Query(root)
    battery(q, run_dir, b, CHILD_KEYS)
    battery(watcher, run_dir, b, CHILD_KEYS, seed=1)
    doc = q.run_doc("p", "crash")
    assert doc is not None and doc.state == "crashed"
    for reader in (q, watcher):
        assert [d.id for d in reader.changed_since(before, "p")] == ["crash"]
        assert [d.state for d in reader.runs("p")] == ["crashed"]


# --- 5. a run resumed by another process ----------------------------------------------------------
@pytest.mark.parametrize("first", ["finish", "crash"])
def test_a_resumed_run_reads_as_the_union_of_both_writers(store, tmp_path, first):
    root = str(store)
    run_dir = os.path.join(root, "p", "resumed")
    proc, start = start_child(tmp_path, root, "resumed", 1, 300, first)
    assert start == 0 and proc.stdout.readline().strip() == "ready"
    if first == "crash":
        wait_until(lambda: (Query(root).max_step(run_dir) or 0) > 600, message="rows written after the flush")
        kill(proc)
    else:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    b1 = Brute(run_dir)
    k1 = b1.top
    assert b1.no_time() == child_prefix(0, k1, 1)
    proc2, start2 = start_child(tmp_path, root, "resumed", 2, 400, "finish")
    assert proc2.stdout.readline().strip() == "ready"
    _, err = proc2.communicate(timeout=60)
    assert proc2.returncode == 0, err
    assert start2 > k1, f"the second writer started at step {start2}, not after the first's last step {k1}"
    if first == "finish":
        assert start2 == k1 + 1
    b = Brute(run_dir)
    assert b.no_time() == child_prefix(0, k1, 1) + child_prefix(start2, start2 + 399, 2)
    assert Counter(r for r in b.rows if r[0] <= k1) == Counter(b1.rows), "the first writer's rows changed"
    q = Query(root)
    battery(q, run_dir, b, CHILD_KEYS)
    assert q.run_doc("p", "resumed").state == "finished"
    assert len(brute_live(os.path.join(run_dir, "scalars"))) <= 2  # merged at finish


# --- 6. the runs index ----------------------------------------------------------------------------
def brute_docs(root: str, project: str) -> dict[str, tuple]:
    """Every run folder's three side files (run, status, summary), read now."""
    folder = os.path.join(root, project)
    out = {}
    for name in sorted(os.listdir(folder)):
        if name.startswith(".") or not os.path.isdir(os.path.join(folder, name)):
            continue
        texts: list[str | None] = []
        for f in (layout.RUN_FILE, layout.STATUS_FILE, layout.SUMMARY_FILE):
            try:
                with open(os.path.join(folder, name, f), encoding="utf-8") as fh:
                    texts.append(fh.read())
            except FileNotFoundError:
                texts.append(None)
        if texts[0] is not None:
            out[name] = tuple(texts)
    return out


def docs_of(q: Query, project: str) -> dict[str, tuple]:
    docs = q.runs(project)
    assert [d.id for d in docs] == sorted(d.id for d in docs)
    return {d.id: d.texts for d in docs}


def mark(root: str, project: str, probe: str) -> float:
    """A time after every change in the project so far, and before any change made next: waits until
    the file system's clock (file times come from a coarse clock) is past every folder time."""
    folder = os.path.join(root, project)
    newest = max(os.stat(p).st_mtime_ns for p in [folder, *(os.path.join(folder, n) for n in os.listdir(folder))])
    # change markers are named by the fine clock, which runs ahead of the coarse one of file times
    changes = os.path.join(folder, ".changed")
    names = os.listdir(changes) if os.path.isdir(changes) else []
    newest = max([newest, *(int(n[:20]) for n in names if n[:20].isdigit())])

    def later() -> bool:
        with open(probe, "w"):
            pass
        return os.stat(probe).st_mtime_ns > newest + 2000

    wait_until(later, message="the file system's clock to move on")
    return (newest + 1000) / 1e9


OPS = st.lists(st.tuples(st.sampled_from(["create", "summary", "notes", "delete", "read"]), st.integers(0, 5)),
               min_size=1, max_size=10)


@pytest.mark.parametrize("recent", ["default", "trusted"])
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(ops=OPS)
def test_runs_index_follows_creates_changes_and_deletes(tmp_path_factory, monkeypatch, recent, ops):
    """Runs created, changed (a real run resumed: its summary; ``Api.run().set(notes=)``), deleted:
    each ``runs()`` is the runs' files read now, ``changed_since`` is exactly the runs changed since
    the last look, and fresh ``Query`` objects (from the persisted index, then from scratch) agree.
    ``recent="trusted"``: folder times are trusted at once (as for runs older than 2 s), so the
    index's shortcuts (unchanged stamps, unchanged folder times, the persisted index) are taken."""
    if recent == "trusted":
        monkeypatch.setattr(runs_index, "_RECENT_NS", 0)
    base = tmp_path_factory.mktemp("idx")
    root, probe = str(base / "store"), str(base / "probe")
    for i in (0, 1, 2):
        tracker.init(project="p", dir=root, id=f"r{i}", settings=SMALL, config={"i": i}).finish()
    q = Query(root)
    assert docs_of(q, "p") == brute_docs(root, "p")
    since = mark(root, "p", probe)
    changed: set[str] = set()

    def look(reader: Query) -> None:
        docs = docs_of(reader, "p")
        assert docs == brute_docs(root, "p"), f"runs() after {ops}"
        got = [d.id for d in reader.changed_since(since, "p")]
        assert got == sorted(changed & set(docs)), f"changed_since after {ops}"

    for op, i in ops:
        rid = f"r{i}"
        exists = os.path.isdir(os.path.join(root, "p", rid))
        if op == "read":
            look(q)
            since, changed = mark(root, "p", probe), set()
        elif op == "delete":
            if exists:
                shutil.rmtree(os.path.join(root, "p", rid))
        elif op == "notes" and exists:
            tracker.Api(dir=root).run(f"p/{rid}").set(notes=f"note {time.time_ns()}")
            changed.add(rid)
        else:  # create, or change the summary of, a run
            run = tracker.init(project="p", dir=root, id=rid, resume="allow", settings=SMALL)
            run.log({"x": random.random()})
            run.summary["best"] = random.random()
            run.finish()
            changed.add(rid)
    look(Query(root))  # from the persisted index, which has not seen the latest changes
    look(q)
    look(Query(root))  # from the persisted index, up to date
    shutil.rmtree(os.path.join(root, "p", runs_index.INDEX_DIR), ignore_errors=True)
    look(Query(root))
