"""Property tests: whatever goes into log comes out of the store, per key and step."""

from __future__ import annotations

import math
import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tracker
from tracker import TrackerWarning

keys = st.text(min_size=1, max_size=30).filter(lambda k: k not in ("_step", "_timestamp", "_runtime"))
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.text(max_size=50),
    st.none(),
)
rows = st.lists(st.dictionaries(keys, values, max_size=8), min_size=1, max_size=20)


def same(a, b):
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=rows)
def test_log_round_trips(tmp_path_factory, data):
    store = tmp_path_factory.mktemp("prop")
    run = tracker.init(project="p", dir=store, reinit="create_new",
                       settings={"quiet": True, "strict": True, "flush_interval": 0.05})
    for row in data:
        run.log(row)
    run.finish()
    back = list(tracker.Api(dir=store).run(run.path).scan_history())
    logged = [(i, r) for i, r in enumerate(data) if r]  # an empty row logs no point
    assert [b["_step"] for b in back] == [i for i, _ in logged]
    for (_, sent), got in zip(logged, back, strict=True):
        got = {k: v for k, v in got.items() if k not in ("_step", "_timestamp", "_runtime")}
        assert set(got) == set(sent)
        for k, v in sent.items():
            assert same(v, got[k]), (k, v, got[k])


bad_values = st.one_of(
    st.sets(st.integers(), max_size=3),
    st.builds(object),
    st.binary(max_size=5),
    st.complex_numbers(allow_nan=False),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(good=st.dictionaries(keys, st.floats(allow_nan=False), min_size=1, max_size=4),
       bad=st.dictionaries(keys, bad_values, min_size=1, max_size=3))
def test_bad_values_never_raise_and_never_cost_the_good_ones(tmp_path_factory, good, bad):
    store = tmp_path_factory.mktemp("bad")
    run = tracker.init(project="p", dir=store, reinit="create_new", settings={"quiet": True})
    row = {**bad, **good}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.log(row)
        run.finish()
    dropped = {k for k in bad if k not in good}
    assert len([w for w in caught if issubclass(w.category, TrackerWarning)]) >= (1 if dropped else 0)
    (back,) = list(tracker.Api(dir=store).run(run.path).scan_history())
    for k, v in good.items():
        assert back[k] == v
    assert not dropped & set(back)


class _NotADict(dict):
    """A dict that is not exactly ``dict``: ``log`` takes its general path for it."""


calls = st.lists(st.tuples(
    st.dictionaries(st.sampled_from(["a", "b", "c", "train/loss"]), st.floats(allow_nan=False), max_size=3),
    st.one_of(st.none(), st.integers(-2, 3)),  # step: none, or relative to the current step
    st.sampled_from([None, True, False]),
), min_size=1, max_size=25)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=calls)
def test_the_fast_path_keeps_the_general_paths_semantics(tmp_path_factory, ops):
    """Any mix of ``step=`` (below, at and past the current step), ``commit`` and none: the fast path
    (a plain dict) stores exactly what the general path stores, step by step."""
    store = tmp_path_factory.mktemp("paths")
    histories = []
    for kind in (dict, _NotADict):
        run = tracker.init(project="p", dir=store, reinit="create_new", settings={"quiet": True})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TrackerWarning)  # past steps are dropped with a warning
            for data, rel, commit in ops:
                step = None if rel is None else max(0, run.step + rel)
                run.log(kind(data), step=step, commit=commit)
            run.finish()
        histories.append([{k: v for k, v in row.items() if k not in ("_timestamp", "_runtime")}
                          for row in tracker.Api(dir=store).run(run.path).scan_history()])
    assert histories[0] == histories[1]


class _Key(str):
    """A str subclass: the fast path leaves such keys to the general path, even once the same
    text was seen as a plain key."""


keyed_calls = st.lists(st.dictionaries(
    st.sampled_from(["a", "b", "é", "bad\udc80", "train/loss", _Key("a"), _Key("z")]),
    st.one_of(st.floats(allow_nan=False), st.integers(-5, 5), st.text("xyz", max_size=3), st.none(), st.booleans()),
    max_size=4,
), min_size=1, max_size=20)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=keyed_calls)
def test_the_fast_paths_key_memory_keeps_the_general_paths_semantics(tmp_path_factory, monkeypatch, ops):
    """Keys the fast path remembers as plain (and forgets past its limit: 2 here), non-ASCII keys,
    str-subclass keys and every plain value type: a plain dict stores what the general path stores."""
    from tracker.sdk import run as run_module

    monkeypatch.setattr(run_module, "_KNOWN_KEYS", 2)
    store = tmp_path_factory.mktemp("keys")
    histories = []
    for kind in (dict, _NotADict):
        run = tracker.init(project="p", dir=store, reinit="create_new", settings={"quiet": True})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TrackerWarning)
            for data in ops:
                run.log(kind(data))
            run.finish()
        histories.append([{k: v for k, v in row.items() if k not in ("_timestamp", "_runtime")}
                          for row in tracker.Api(dir=store).run(run.path).scan_history()])
    assert histories[0] == histories[1]
