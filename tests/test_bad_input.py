"""Bad input never crashes training (issue 13, item 4; "Bad values" in docs/logging.md).

Hypothesis builds values from the bad inputs that let exceptions through before (dicts and lists
that contain themselves, objects whose ``repr``/``str``/``__len__``/``__iter__``/``__float__``/
``__array__`` raise, ints too large for a float or for text, bytes, sets, NaN, NUL characters,
lone surrogates, keys that are not strings, numpy object arrays, media built from junk), nested in
dicts, lists and tuples beside good values, and feeds them to every entry point: ``run.log``,
``run.config`` (item and attribute assignment, ``update``, ``setdefaults``), ``run.summary`` (item
assignment, ``update``), ``run.define_metric`` and the media constructors (with ``tracker.plot``).

For each example, with its own run:

- no exception reaches the caller but the documented ones (``UsageError`` from a bad
  ``define_metric`` argument, ``MediaError`` from ``Table`` and the plot helpers);
- each value left out (or stored changed) is named by a warning, and every good value logged
  beside a bad one is read back through ``tracker.Api`` exactly;
- with ``strict=True`` the failure is a ``TrackingFailure``, raised at the call, exactly when a
  warning is due.

Each property runs a few hundred examples by default and 10,000 in its ``slow`` twin
(``pytest -m slow tests/test_bad_input.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import json
import math
import re
import tempfile
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tracker
from tracker import TrackerWarning, TrackingFailure, UsageError
from tracker import plot as tplot
from tracker.convert import MAX_DEPTH, safe_repr, safe_str, to_jsonable
from tracker.media import MediaError
from tracker.sdk.summary import GOALS, SUMMARY_KINDS

MAX_TEXT = 1000
RUN_SETTINGS = {
    "quiet": True, "flush_interval": 0.05, "disable_stats": True, "disable_meta": True, "disable_git": True,
    "save_requirements": False, "console": "off", "max_text_bytes": MAX_TEXT,
}
RESERVED = ("_step", "_timestamp", "_runtime")
FAST = settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
SLOW = settings(max_examples=10_000, deadline=None, database=None, suppress_health_check=list(HealthCheck))
BACKGROUND_FAILURES = ("could not store", "could not write", "failed to convert", "internal error")


# --- objects that misbehave -----------------------------------------------------------------------
class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr")

    def __str__(self) -> str:
        raise RuntimeError("str")


class BadKey(BadRepr):
    """A hashable key whose text cannot be read."""

    def __hash__(self) -> int:
        return 7


class BadFloat:
    def __float__(self) -> float:
        raise RuntimeError("float")


class BadLen(list):
    def __len__(self) -> int:
        raise RuntimeError("len")


class BadIter(list):
    def __iter__(self) -> Any:
        raise RuntimeError("iter")


class BadArray:
    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("array")


class BadBool:
    def __bool__(self) -> bool:
        raise RuntimeError("bool")


class BadIndex:
    def __index__(self) -> int:
        raise RuntimeError("index")


class BadEq:
    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    __hash__ = object.__hash__


class StrSub(str):
    def __str__(self) -> str:
        raise RuntimeError("str")

    def __repr__(self) -> str:
        raise RuntimeError("repr")


class FloatSub(float):
    def __repr__(self) -> str:
        raise RuntimeError("repr")


def cyclic_list() -> list[Any]:
    items: list[Any] = [1]
    items.append(items)
    return items


def deep_list(depth: int) -> list[Any]:
    out: list[Any] = [1.0]
    for _ in range(depth):
        out = [out]
    return out


def deep_dict(depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {"leaf": 1.0}
    for _ in range(depth):
        out = {"k": out}
    return out


class Case:
    """One example, shown by hypothesis with ``safe_repr`` (the values' own ``repr`` may raise)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Case({_show(self.value)})"


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_show(k)}: {_show(v)}" for k, v in value.items()) + "}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = ", ".join(f"{f.name}={_show(getattr(value, f.name))}" for f in dataclasses.fields(value))
        return f"{type(value).__name__}({fields})"
    return safe_repr(value, 120)


# --- the values, each with what each entry point does with it -----------------------------------
KEEP, DROP = "keep", "drop"
# to_jsonable (config, summary): keep, silent (kept changed, no warning), warn (kept changed or
# stored as its text, with a warning), drop (left out, with a warning)
SILENT, WARN = "silent", "warn"


@dataclasses.dataclass(eq=False)
class Leaf:
    value: Any
    log: str  # KEEP or DROP
    json: str  # KEEP, SILENT, WARN or DROP
    log_value: Any = None  # what the history reads back (KEEP); default: value
    json_value: Any = None  # what config/summary read back (KEEP); default: value
    fast_path_gap: bool = False  # a plain value the store cannot take from log's fast path


@dataclasses.dataclass(eq=False)
class Seq:
    items: list[Any]
    as_tuple: bool


@dataclasses.dataclass(eq=False)
class Key:
    kind: str  # name, surrogate, strsub, reserved, nonstr, badkey
    extra: Any = None
    name: str = ""  # a unique name, given once the tree is built

    def text(self) -> str:
        if self.kind == "surrogate":
            return self.name + "\udc80"
        if self.kind == "reserved":
            return self.extra
        return self.name + (self.extra or "") if self.kind == "name" else self.name

    def build(self) -> Any:
        if self.kind == "nonstr":
            return self.extra
        if self.kind == "badkey":
            return BadKey()
        return StrSub(self.name) if self.kind == "strsub" else self.text()

    @property
    def is_str(self) -> bool:
        return self.kind in ("name", "surrogate", "strsub", "reserved")


@dataclasses.dataclass(eq=False)
class Obj:
    entries: list[tuple[Key, Any]]
    cyclic: bool
    self_key: Key | None = None


def leaf(log: str, json: str, **kw: Any) -> Any:
    return lambda value: Leaf(value, log, json, **kw)


text_ok = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20).filter(
    lambda s: s not in ("NaN", "Infinity", "-Infinity"))  # the side files' own spelling of NaN

good_leaves = st.one_of(
    st.floats().map(leaf(KEEP, KEEP)),
    st.integers(min_value=-(2**70), max_value=2**70).map(leaf(KEEP, KEEP)),
    st.integers(min_value=10**300, max_value=10**1000).map(leaf(KEEP, KEEP)),  # beyond float range: exact
    st.booleans().map(leaf(KEEP, KEEP)),
    st.none().map(leaf(KEEP, KEEP)),
    text_ok.map(leaf(KEEP, KEEP)),
    text_ok.map(lambda s: Leaf(s + "\x00" + s, KEEP, KEEP)),  # NUL characters are kept
)

odd_but_kept = st.one_of(
    st.floats().map(lambda v: Leaf(np.float64(v), KEEP, KEEP, v, v)),
    st.integers(-(2**62), 2**62).map(lambda v: Leaf(np.int64(v), KEEP, KEEP, v, v)),
    st.booleans().map(lambda b: Leaf(np.bool_(b), KEEP, KEEP, b, b)),
    st.lists(st.floats(allow_nan=False), min_size=2, max_size=4).map(
        lambda xs: Leaf(np.array(xs), KEEP, KEEP, xs, xs)),
    st.lists(st.one_of(st.integers(-5, 5), text_ok, st.none()), min_size=2, max_size=4).map(
        lambda xs: Leaf(np.array(xs + [None], dtype=object)[:-1], KEEP, KEEP, xs, xs)),  # an object array
    text_ok.map(lambda s: Leaf(StrSub(s), KEEP, KEEP, s, s)),
    st.floats().map(lambda v: Leaf(FloatSub(v), KEEP, KEEP, v, v)),
)

BROKEN_MEDIA = [
    lambda: tracker.Image("no-such-file.png"),
    lambda: tracker.Image(np.zeros((0, 3))),
    lambda: tracker.Image(BadArray()),
    lambda: tracker.Image(np.zeros((2, 2)), caption=BadRepr()),
    lambda: tracker.Image(np.zeros((2, 2)), file_type=BadRepr()),
    lambda: tracker.Image(np.zeros((2, 2), dtype=object)),
    lambda: tracker.Histogram(BadRepr()),
    lambda: tracker.Histogram([2**20000]),
    lambda: tracker.Histogram(np_histogram=BadIter([1])),
    lambda: tracker.Audio(np.zeros(0), sample_rate=8000),
    lambda: tracker.Audio(np.zeros(8), sample_rate=BadRepr()),
    lambda: tracker.Html(BadRepr()),
    lambda: tracker.Html("a\udc80"),
    lambda: tracker.Table(data=[[BadRepr()]]),
    lambda: tracker.Table(data=[[cyclic_list()]]),
    lambda: tracker.Table(columns=["a\udc80"], data=[[1]]),
    lambda: tracker.Video(np.zeros((2, 2))),
    lambda: tracker.Video(np.zeros((1, 3, 2, 2)), fps=float("nan")),
    lambda: tracker.Video(np.zeros((1, 1, 1, 1), np.uint8), fps=1e-37),  # a GIF frame longer than 655 s
    lambda: tracker.Object3D("x.xyz"),
    lambda: tracker.Object3D(np.full((3, 3), np.nan)),
    lambda: tracker.Figure(BadRepr()),
]

bad_leaves = st.one_of(
    st.sets(st.integers(-3, 3), max_size=3).map(leaf(DROP, SILENT)),
    st.frozensets(st.integers(-3, 3), max_size=3).map(leaf(DROP, SILENT)),
    st.binary(max_size=4).map(leaf(DROP, WARN)),
    st.binary(max_size=4).map(lambda b: Leaf(bytearray(b), DROP, WARN)),
    st.builds(BadRepr).map(leaf(DROP, DROP)),
    st.builds(BadFloat).map(leaf(DROP, WARN)),
    st.builds(lambda: BadLen([1, 2])).map(leaf(DROP, DROP)),
    st.builds(lambda: BadIter([1])).map(leaf(DROP, DROP)),
    st.builds(BadArray).map(leaf(DROP, WARN)),
    st.complex_numbers(max_magnitude=10).map(leaf(DROP, WARN)),
    st.integers(14_400, 16_000).map(lambda bits: Leaf(2**bits, DROP, DROP, fast_path_gap=True)),  # > 4300 digits
    text_ok.map(lambda s: Leaf(s + "\udc80", DROP, WARN)),  # a lone surrogate (log's fast path leaves it to the general one)
    st.integers(1, 20).map(lambda n: Leaf("x" * (MAX_TEXT + n), DROP, KEEP)),  # over max_text_bytes
    st.builds(lambda: np.array([1, BadRepr()], dtype=object)).map(leaf(DROP, WARN)),
    st.builds(lambda: np.array(["2020-01-01", "2021-01-01"], dtype="datetime64[D]")).map(leaf(DROP, WARN)),
    st.sampled_from(BROKEN_MEDIA).map(lambda make: Leaf(make(), DROP, WARN)),
    st.builds(cyclic_list).map(leaf(DROP, WARN)),
    st.integers(MAX_DEPTH + 1, MAX_DEPTH + 40).map(lambda d: Leaf(deep_list(d), DROP, WARN)),
    st.integers(MAX_DEPTH + 1, MAX_DEPTH + 40).map(lambda d: Leaf(deep_dict(d), DROP, WARN)),
)

leaves = st.one_of(good_leaves, odd_but_kept, bad_leaves)

inner_keys = st.one_of(
    st.sampled_from(["", "", "", "\x00", " é", "✓"]).map(lambda sfx: Key("name", sfx)),
    st.just(Key("surrogate")) | st.just(Key("strsub")),
    st.integers(1000, 1999).map(lambda i: Key("nonstr", i)),
    st.integers(1000, 1999).map(lambda i: Key("nonstr", (i, i))),
    st.sampled_from([None, float("nan")]).map(lambda k: Key("nonstr", k)),
    st.just(Key("badkey")),
)


def trees(keys: Any = inner_keys) -> Any:
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.builds(Seq, st.lists(children, max_size=4), st.booleans()),
            st.builds(Obj, st.lists(st.tuples(keys, children), max_size=4), st.booleans()),
        ),
        max_leaves=10,
    )


def rows(top_keys: Any) -> Any:
    """A row: a few good top-level values, and entries of any kind beside them."""
    good = st.lists(good_leaves, min_size=1, max_size=3)
    entries = st.lists(st.tuples(top_keys, trees()), min_size=1, max_size=5)
    return st.builds(lambda g, e: Obj([(Key("name"), v) for v in g] + e, False), good, entries).map(_named)


def _named(row: Obj) -> Obj:
    """Give every key a unique name; drop entries whose key repeats one seen in the same dict."""
    counter = iter(range(10**6))

    def walk(node: Any) -> None:
        if isinstance(node, Seq):
            for item in node.items:
                walk(item)
        elif isinstance(node, Obj):
            seen: set[Any] = set()
            entries = []
            for key, child in node.entries:
                if key.kind in ("nonstr", "badkey", "reserved"):
                    ident = ("badkey",) if key.kind == "badkey" else (key.kind, safe_repr(key.extra))
                    if ident in seen:
                        continue
                    seen.add(ident)
                key = dataclasses.replace(key, name=f"k{next(counter)}")
                entries.append((key, child))
                walk(child)
            node.entries = entries
            if node.cyclic:
                node.self_key = Key("name", "", f"k{next(counter)}")

    walk(row)
    return row


def build(node: Any) -> Any:
    if isinstance(node, Leaf):
        return node.value
    if isinstance(node, Seq):
        items = [build(i) for i in node.items]
        return tuple(items) if node.as_tuple else items
    out: dict[Any, Any] = {}
    for key, child in node.entries:
        out[key.build()] = build(child)
    if node.cyclic:
        out[node.self_key.text()] = out
    return out


top_log_keys = st.one_of(inner_keys, st.sampled_from(RESERVED).map(lambda r: Key("reserved", r)))


# --- what should happen ---------------------------------------------------------------------------
class Expect:
    def __init__(self) -> None:
        self.keep: dict[str, Any] = {}  # key -> value read back
        self.present: set[str] = set()  # keys read back, changed
        self.absent: set[str] = set()  # keys (or key prefixes) not read back
        self.named: set[str] = set()  # names some warning must mention
        self.phrases: set[str] = set()  # phrases some warning must hold
        self.gap = False  # the row holds a value log's fast path cannot take

    @property
    def warns(self) -> bool:
        return bool(self.named or self.phrases)


def log_value(node: Any) -> tuple[str, Any]:
    """(KEEP, value read back) or (DROP, None) for a value logged under one key."""
    if isinstance(node, Leaf):
        return (KEEP, node.value if node.log_value is None else node.log_value) if node.log == KEEP else (DROP, None)
    if isinstance(node, Seq):
        out = [log_value(i) for i in node.items]
        return (KEEP, [v for _, v in out]) if all(s == KEEP for s, _ in out) else (DROP, None)
    if node.cyclic:
        return DROP, None
    out_d = {}
    for key, child in node.entries:
        if key.kind in ("badkey", "surrogate"):
            return DROP, None
        status, value = log_value(child)
        if status == DROP:
            return DROP, None
        out_d[str(key.extra) if key.kind == "nonstr" else key.text()] = value
    return KEEP, out_d


def expect_log(node: Obj, prefix: str, ex: Expect) -> None:
    for key, child in node.entries:
        if key.kind in ("nonstr", "badkey"):
            ex.phrases.add(f"is a {type(key.build()).__name__}, not a str")
            continue
        if key.kind == "surrogate":
            ex.named.add(key.name)
            continue
        full = prefix + key.text()
        if full in RESERVED:
            ex.named.add(full)
            ex.absent.add(full)
            continue
        if isinstance(child, Leaf) and child.fast_path_gap and not prefix:
            ex.gap = True
        if isinstance(child, Obj):
            if child.cyclic:
                ex.named.add(child.self_key.name)
                ex.absent.add(full + "/" + child.self_key.text())
            expect_log(child, full + "/", ex)
            continue
        status, value = log_value(child)
        if status == KEEP and isinstance(value, (list, dict)) and len(json.dumps(value)) > MAX_TEXT:
            status = DROP  # a list is kept as its JSON text: no longer than max_text_bytes
        if status == KEEP:
            ex.keep[full] = value
        else:
            ex.absent.add(full)
            ex.named.add(key.name)


def json_value(node: Any) -> tuple[str, Any, bool]:
    """(status, value, warns) of a config/summary value: status KEEP (value read back) or
    PRESENT (kept changed) or DROP."""
    if isinstance(node, Leaf):
        if node.json == KEEP:
            return KEEP, (node.value if node.json_value is None else node.json_value), False
        return (DROP, None, True) if node.json == DROP else ("present", None, node.json == WARN)
    if isinstance(node, Seq):
        out = [json_value(i) for i in node.items]
        if all(s == KEEP for s, _, _ in out):
            return KEEP, [v for _, v, _ in out], False
        return "present", None, any(w for _, _, w in out)
    warns = node.cyclic
    keep = not node.cyclic
    out_d = {}
    for key, child in node.entries:
        if key.kind == "badkey":
            warns, keep = True, False
            continue
        status, value, w = json_value(child)
        warns = warns or w or key.kind == "surrogate"
        if status != KEEP or key.kind == "surrogate":
            keep = False
        out_d[str(key.extra) if key.kind == "nonstr" else key.text()] = value
    return (KEEP, out_d, False) if keep else ("present", None, warns)


def expect_json(row: Obj, what: str) -> Expect:
    ex = Expect()
    for key, child in row.entries:
        if key.kind in ("nonstr", "badkey"):
            ex.phrases.add(f"({what} keys must be strings)")
            continue
        name = key.text()
        if key.kind == "surrogate":
            name = name.encode("utf-8", "backslashreplace").decode("utf-8")
            ex.named.add(key.name)
        status, value, warns = json_value(child)
        if status == KEEP:
            ex.keep[name] = value
        elif status == DROP:
            ex.absent.add(name)
            ex.named.add(key.name)
        else:
            ex.present.add(name)
            if warns:
                ex.named.add(key.name)
    return ex


# --- checking -------------------------------------------------------------------------------------
def same(sent: Any, got: Any) -> bool:
    """Equal as stored: types kept (bool is not int), NaN equals NaN, and the side files' spelling
    of NaN and the infinities ("NaN", "Infinity", "-Infinity") stands for them."""
    if isinstance(sent, float) and math.isnan(sent):
        return (isinstance(got, float) and math.isnan(got)) or got == "NaN"
    if isinstance(sent, float) and math.isinf(sent):
        return got == sent or got == ("Infinity" if sent > 0 else "-Infinity")
    if isinstance(sent, (list, tuple)):
        return isinstance(got, list) and len(sent) == len(got) and all(map(same, sent, got))
    if isinstance(sent, dict):
        return isinstance(got, dict) and sent.keys() == got.keys() and all(same(sent[k], got[k]) for k in sent)
    return type(sent) is type(got) and sent == got


def mentioned(name: str, messages: list[str]) -> bool:
    pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![0-9])")
    return any(pattern.search(m) for m in messages)


def check_messages(ex: Expect, messages: list[str]) -> None:
    for name in ex.named:
        assert mentioned(name, messages), (name, messages)
    for phrase in ex.phrases:
        assert any(phrase in m for m in messages), (phrase, messages)
    assert not [m for m in messages if any(f in m for f in BACKGROUND_FAILURES)], messages


def check_read(ex: Expect, got: dict[str, Any], extra: tuple[str, ...] = ()) -> None:
    for key, value in ex.keep.items():
        assert key in got, (key, sorted(got))
        assert same(value, got[key]), (key, value, got[key])
    for key in ex.present:
        assert key in got, (key, sorted(got))
    for key in ex.absent:
        assert not [k for k in got if k == key or k.startswith(key + "/")], (key, sorted(got))
    unexpected = set(got) - set(ex.keep) - ex.present - set(extra)
    assert not unexpected, unexpected  # nothing but what was meant to be kept


class Session:
    """A run in a store of its own, with the tracker warnings it gave."""

    def __init__(self, strict: bool) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.strict = strict
        self.caught: list[warnings.WarningMessage] = []
        self._catch = warnings.catch_warnings(record=True)

    def __enter__(self) -> Session:
        self.caught = self._catch.__enter__()
        warnings.simplefilter("always")
        self.run = tracker.init(project="p", dir=self.tmp.name, reinit="create_new",
                                settings={**RUN_SETTINGS, "strict": self.strict})
        return self

    def finish(self) -> None:
        self.run.finish()

    def __exit__(self, *exc: Any) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    self.run.finish()
                except TrackingFailure:
                    pass
        finally:
            self._catch.__exit__(*exc)
            self.tmp.cleanup()

    @property
    def messages(self) -> list[str]:
        return [str(w.message) for w in self.caught if issubclass(w.category, TrackerWarning)]

    def read(self) -> Any:
        return tracker.Api(dir=self.tmp.name).run(self.run.path)


# --- run.log --------------------------------------------------------------------------------------
log_calls = st.one_of(
    st.just(("plain", None)), st.just(("step", None)), st.just(("commit", None)),
    st.sampled_from([BadIndex(), -1, 2**70, "three", float("nan"), 1.5, BadRepr(), True]).map(lambda s: ("badstep", s)),
    st.just(("badcommit", BadBool())),
)


def takes_fast_path(data: dict[Any, Any]) -> bool:
    plain = (float, int, bool, str, type(None))
    return all(k.__class__ is str and v.__class__ in plain for k, v in data.items()) and not set(data) & set(RESERVED)


def check_log(case: Case, strict: bool) -> None:
    row, (how, arg) = case.value
    ex = Expect()
    expect_log(row, "", ex)
    data = build(row)
    if how == "plain" and ex.gap and takes_fast_path(data):
        how = "step"  # see test_fast_path_gaps_of_the_store: the store's own limits
    if how == "badstep":
        ex.phrases.add("is not a non-negative integer")
    if how == "badcommit":
        ex.phrases.add("has no truth value")
    with Session(strict) as s:
        run = s.run

        def call() -> None:
            if how in ("plain", "badstep", "badcommit"):
                kwargs = {"step": arg} if how == "badstep" else {"commit": arg} if how == "badcommit" else {}
                run.log(data, **kwargs)
            elif how == "step":
                run.log(data, step=0)
            else:
                run.log(data, commit=False)
                run.log({"zz_commit": 1.0})

        if strict:
            if ex.warns:
                with pytest.raises(TrackingFailure):
                    call()
            else:
                call()
            return
        call()
        s.finish()
        check_messages(ex, s.messages)
        history = list(s.read().scan_history())
        assert len(history) == 1, history
        got = {k: v for k, v in history[0].items() if k not in RESERVED}
        check_read(ex, got, extra=("zz_commit",))


log_cases = st.tuples(rows(top_log_keys), log_calls).map(Case)


@FAST
@given(log_cases)
def test_log_keeps_good_values_and_names_bad_ones(case):
    check_log(case, strict=False)


@FAST
@given(log_cases)
def test_log_strict_raises_tracking_failure_exactly_when_a_warning_is_due(case):
    check_log(case, strict=True)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@SLOW
@given(log_cases)
def test_log_bad_values_10k(case):
    check_log(case, strict=False)


# --- run.config and run.summary -------------------------------------------------------------------
config_calls = st.sampled_from(["update", "update_allow", "item", "attribute", "setdefaults", "namespace"])
summary_calls = st.sampled_from(["item", "update", "update_pairs", "update_kwargs"])


def set_config(config: Any, data: dict[Any, Any], how: str) -> None:
    if how == "update":
        config.update(data)
    elif how == "update_allow":
        config.update(data, allow_val_change=True)
    elif how == "setdefaults":
        config.setdefaults(data)
    elif how == "namespace" and all(isinstance(k, str) for k in data):
        config.update(argparse.Namespace(**data))
    else:
        for k, v in data.items():
            if how == "attribute" and isinstance(k, str):
                setattr(config, k, v)
            else:
                config[k] = v


def set_summary(summary: Any, data: dict[Any, Any], how: str) -> None:
    if how == "update":
        summary.update(data)
    elif how == "update_pairs":
        summary.update(list(data.items()))
    elif how == "update_kwargs" and all(type(k) is str for k in data):
        summary.update(**data)
    else:
        for k, v in data.items():
            summary[k] = v


def check_json(case: Case, what: str, strict: bool) -> None:
    row, how = case.value
    ex = expect_json(row, what)
    if what == "config" and how == "namespace" and not all(isinstance(k, str) for k in build(row)):
        how = "update"
    data = build(row)
    with Session(strict) as s:
        target = s.run.config if what == "config" else s.run.summary

        def call() -> None:
            (set_config if what == "config" else set_summary)(target, data, how)

        if strict:
            if ex.warns:
                with pytest.raises(TrackingFailure):
                    call()
            else:
                call()
            return
        call()
        s.finish()
        check_messages(ex, s.messages)
        read = s.read()
        check_read(ex, read.config if what == "config" else read.summary)


config_cases = st.tuples(rows(inner_keys), config_calls).map(Case)
summary_cases = st.tuples(rows(inner_keys), summary_calls).map(Case)


@FAST
@given(config_cases)
def test_config_keeps_good_values_and_names_bad_ones(case):
    check_json(case, "config", strict=False)


@FAST
@given(config_cases)
def test_config_strict(case):
    check_json(case, "config", strict=True)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@SLOW
@given(config_cases)
def test_config_bad_values_10k(case):
    check_json(case, "config", strict=False)


@FAST
@given(summary_cases)
def test_summary_keeps_good_values_and_names_bad_ones(case):
    check_json(case, "summary", strict=False)


@FAST
@given(summary_cases)
def test_summary_strict(case):
    check_json(case, "summary", strict=True)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@SLOW
@given(summary_cases)
def test_summary_bad_values_10k(case):
    check_json(case, "summary", strict=False)


# --- run.define_metric ----------------------------------------------------------------------------
junk = st.one_of(
    st.builds(BadRepr), st.builds(BadEq), st.builds(BadBool), st.integers(), st.floats(),
    st.lists(st.integers(), max_size=2), st.binary(max_size=2), st.sets(st.integers(), max_size=2),
    st.integers(14_400, 15_000).map(lambda b: 2**b),
)
metric_names = st.one_of(
    st.sampled_from(["m", "m*", "*", "g", "x/y", "k\x00", "[", "m?", "", "m\udc80"]),
    text_ok, st.builds(StrSub, st.sampled_from(["m", "g"])),
)
flags = st.one_of(st.none(), st.booleans(), st.booleans().map(np.bool_), junk)
summaries = st.one_of(st.none(), st.sampled_from(
    ["min", "max", "mean", "first", "last", "none", "best", "copy", "min,max", " max , last ", "", "median",
     "min,median", "MIN"]), junk)
goals = st.one_of(st.none(), st.sampled_from(["minimize", "maximize", "up", ""]), junk)
metric_args = st.fixed_dictionaries(
    {"name": st.one_of(metric_names, junk, st.none())},
    optional={"step_metric": st.one_of(metric_names, junk), "step_sync": flags, "hidden": flags,
              "summary": summaries, "goal": goals, "overwrite": flags},
)
first_values = st.sampled_from([10**400, -(10**400), float("nan"), 2.5, "text", 7, True])


def _valid_name(v: Any) -> bool:
    return isinstance(v, str) and bool(v) and "\udc80" not in v


def _valid(args: dict[str, Any]) -> bool:
    flag_ok = all(args.get(f) is None or isinstance(args[f], (bool, np.bool_))
                  for f in ("step_sync", "hidden", "overwrite"))
    summary = args.get("summary")
    summary_ok = summary is None or (isinstance(summary, str) and all(
        k.strip() in SUMMARY_KINDS for k in summary.split(",") if k.strip()))
    goal = args.get("goal")
    goal_ok = goal is None or (isinstance(goal, str) and goal in GOALS)
    step = args.get("step_metric")
    return _valid_name(args["name"]) and (step is None or _valid_name(step)) and flag_ok and summary_ok and goal_ok


def check_define_metric(case: Case, strict: bool) -> None:
    args, first = case.value
    valid = _valid(args)
    name = str.__str__(args["name"]) if valid else ""
    matches = valid and (name == "m" or (any(c in name for c in "*?[") and fnmatch.fnmatchcase("m", name)))
    kinds = {k.strip() for k in str(args.get("summary") or "").split(",")} if valid else set()
    aggregates = {"min", "max", "mean", "first", "best"} & kinds
    seed_warns = matches and bool(aggregates) and isinstance(first, int) and abs(first) > 2**1100
    with Session(strict) as s:
        run = s.run
        run.log({"m": first, "g": 1.0})
        if not valid:
            with pytest.raises(UsageError):
                run.define_metric(**args)
        elif strict and seed_warns:
            with pytest.raises(TrackingFailure):
                run.define_metric(**args)
            return
        else:
            assert run.define_metric(**args).name == name
        run.log({"m": 3.5, "g": 2.0})
        summary = run.summary.as_dict()
        assert "g" in summary or (valid and fnmatch.fnmatchcase("g", name))
        if strict:
            return
        s.finish()
        messages = s.messages
        assert any("beyond float range" in m for m in messages) == seed_warns, messages
        assert not [m for m in messages if any(f in m for f in BACKGROUND_FAILURES)], messages
        history = list(s.read().scan_history())
        assert [same(first, h["m"]) and h["g"] == 1.0 for h in history[:1]] == [True]
        assert [(h["m"], h["g"]) for h in history[1:]] == [(3.5, 2.0)]


metric_cases = st.tuples(metric_args, first_values).map(Case)


@FAST
@given(metric_cases)
def test_define_metric_raises_only_usage_errors(case):
    check_define_metric(case, strict=False)


@FAST
@given(metric_cases)
def test_define_metric_strict(case):
    check_define_metric(case, strict=True)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@SLOW
@given(metric_cases)
def test_define_metric_10k(case):
    check_define_metric(case, strict=False)


# --- media constructors and plot helpers ----------------------------------------------------------
small_arrays = hnp.arrays(
    dtype=st.sampled_from([np.uint8, np.int16, np.float32, np.float64, np.bool_, np.int64]),
    shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4),
)
media_junk = st.one_of(
    st.none(), small_arrays, st.builds(BadRepr), st.builds(BadFloat), st.builds(lambda: BadLen([1])),
    st.builds(lambda: BadIter([[1, 2]])), st.builds(BadArray), st.integers(), st.floats(),
    st.integers(14_400, 15_000).map(lambda b: 2**b), st.just(10**400), text_ok,
    text_ok.map(lambda t: t + "\udc80"), st.binary(max_size=4), st.sets(st.integers(), max_size=2),
    st.builds(cyclic_list), st.lists(st.lists(st.integers(0, 3), min_size=2, max_size=2), max_size=3),
    st.dictionaries(text_ok, st.integers(), max_size=2), st.builds(lambda: np.array([BadRepr()], dtype=object)),
    st.just("no-such-file.png"), st.builds(BadEq), st.builds(BadBool),
)
kw = media_junk
# input that is good (or nearly): so that some media are stored beside the refused ones


def or_junk(good: Any) -> Any:
    """``good`` half of the time, junk the other half (``good | media_junk`` would be one branch of
    twenty: hypothesis flattens the alternatives)."""
    return st.booleans().flatmap(lambda ok: good if ok else media_junk)


side = st.integers(1, 4)
images = st.one_of(
    hnp.arrays(np.uint8, st.tuples(side, side, st.sampled_from([1, 3, 4]))),
    hnp.arrays(np.float32, st.tuples(side, side), elements=st.floats(0, 1, width=32)),
    hnp.arrays(np.float64, st.tuples(st.just(3), side, side), elements=st.floats(-1e6, 1e6)),
    hnp.arrays(np.float64, st.tuples(side, side), elements=st.floats(allow_nan=True, allow_infinity=True)),
)
sounds = hnp.arrays(np.float64, st.integers(1, 40), elements=st.floats(-3, 3))
videos = hnp.arrays(np.uint8, st.tuples(st.integers(1, 3), side, side, st.sampled_from([1, 3])))
points = hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.sampled_from([3, 4, 6])),
                    elements=st.floats(-10, 10))
samples = st.one_of(st.lists(st.floats(), max_size=20), hnp.arrays(np.float64, st.integers(0, 20)))
histograms = st.integers(1, 5).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 9), min_size=n, max_size=n), st.lists(st.floats(-5, 5), min_size=n + 1, max_size=n + 1)))
labels = st.integers(2, 8).flatmap(lambda n: st.tuples(
    hnp.arrays(np.int64, n, elements=st.integers(0, 2)), hnp.arrays(np.float64, (n, 3), elements=st.floats(0, 1))))


@dataclasses.dataclass
class Maker:
    make: Any
    args: Any  # a strategy of (args, kwargs)
    may_refuse: bool = False  # documented to raise MediaError when called


def call_args(*positional: Any, **optional: Any) -> Any:
    return st.tuples(st.tuples(*positional), st.fixed_dictionaries({}, optional=optional))


tables = st.one_of(media_junk, st.just(None).map(lambda _: tracker.Table(columns=["x", "y"], data=[[1, 2], [3, 4]])))
columns = st.one_of(st.sampled_from(["x", "y", "z"]), media_junk)
MAKERS = [
    Maker(tracker.Image, call_args(
        or_junk(images), caption=or_junk(text_ok), file_type=or_junk(st.sampled_from(["png", "JPEG", ""])),
        mode=kw, boxes=or_junk(st.none()), masks=or_junk(st.none()), normalize=or_junk(st.booleans()),
        grouping=kw, classes=kw)),
    Maker(tracker.Audio, call_args(or_junk(sounds), or_junk(st.integers(-5, 48_000)), caption=or_junk(text_ok))),
    Maker(tracker.Video, call_args(or_junk(videos), caption=or_junk(text_ok), fps=or_junk(st.integers(-1, 30)),
                                   format=or_junk(st.sampled_from(["gif", "avi", None])))),
    Maker(tracker.Html, call_args(or_junk(st.sampled_from(["<b>hi</b>", "", "\x00"])), inject=kw)),
    Maker(tracker.Histogram, call_args(or_junk(samples), np_histogram=or_junk(histograms),
                                       num_bins=or_junk(st.integers(-2, 600)))),
    Maker(tracker.Table, call_args(columns=media_junk, data=media_junk, dataframe=media_junk, rows=media_junk),
          may_refuse=True),
    Maker(tracker.Object3D, call_args(or_junk(points), caption=or_junk(text_ok))),
    Maker(tracker.Figure, call_args(media_junk, caption=kw)),
    Maker(tplot.line, call_args(tables, columns, columns, stroke=columns, title=kw), may_refuse=True),
    Maker(tplot.scatter, call_args(tables, columns, columns, title=kw), may_refuse=True),
    Maker(tplot.bar, call_args(tables, columns, columns, title=kw), may_refuse=True),
    Maker(tplot.histogram, call_args(tables, columns, title=kw), may_refuse=True),
    Maker(tplot.line_series, call_args(media_junk, media_junk, keys=kw, title=kw, xname=kw), may_refuse=True),
    Maker(lambda yp, *a, **k: tplot.pr_curve(*yp, *a, **k),
          call_args(labels | st.tuples(media_junk, media_junk), labels=kw, classes_to_plot=kw, title=kw), may_refuse=True),
    Maker(lambda yp, *a, **k: tplot.roc_curve(*yp, *a, **k),
          call_args(labels | st.tuples(media_junk, media_junk), labels=kw, classes_to_plot=kw, title=kw), may_refuse=True),
    Maker(tplot.confusion_matrix, call_args(probs=media_junk, y_true=media_junk, preds=media_junk,
                                            class_names=kw, title=kw), may_refuse=True),
]


@st.composite
def media_cases(draw: Any) -> Case:
    calls = []
    for _ in range(draw(st.integers(1, 4))):
        maker = draw(st.sampled_from(MAKERS))
        args, kwargs = draw(maker.args)
        calls.append((maker, args, kwargs))
    return Case((calls, draw(st.booleans())))


def check_media(case: Case, strict: bool) -> None:
    calls, gallery = case.value
    made = []
    for maker, args, kwargs in calls:
        try:
            made.append(maker.make(*args, **kwargs))
        except MediaError:
            assert maker.may_refuse, (maker.make, args, kwargs)
    data: dict[str, Any] = {f"m{i}": obj for i, obj in enumerate(made)}
    if gallery and len(made) > 1:
        data["gallery"] = list(made)
    data["good"] = 1.5
    with Session(strict) as s:
        if strict:
            try:
                s.run.log(data)
            except TrackingFailure:
                pass
            try:
                s.finish()
            except TrackingFailure as exc:
                raise AssertionError(f"a media failure surfaced after the call: {exc}") from None
            return
        s.run.log(data)
        s.finish()
        messages = s.messages
        assert not [m for m in messages if any(f in m for f in BACKGROUND_FAILURES)], messages
        (row,) = list(s.read().scan_history())
        assert row["good"] == 1.5
        for key in data:
            if key != "good":
                assert key in row or mentioned(key, messages), (key, messages)
                if key in row:
                    refs = row[key] if isinstance(row[key], list) else [row[key]]
                    assert all(isinstance(r, dict) and r.get("_type") for r in refs), row[key]
        items = s.read().media()
        assert {m.key for m in items if "/cells" not in m.key} == {k for k in data if k in row and k != "good"}


@FAST
@given(media_cases())
def test_media_constructors_raise_only_media_errors_and_log_warns(case):
    check_media(case, strict=False)


@FAST
@given(media_cases())
def test_media_strict(case):
    check_media(case, strict=True)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@SLOW
@given(media_cases())
def test_media_10k(case):
    check_media(case, strict=False)


# --- single cases worth reading -------------------------------------------------------------------
def test_safe_repr_and_safe_str_never_raise_and_stay_short():
    cyc: dict[str, Any] = {}
    cyc["self"] = cyc
    for obj in (BadRepr(), BadKey(), StrSub("x"), 2**20000, "a\udc80" * 500, cyc, list(range(10**5)),
                np.array([BadRepr()], dtype=object), BadIter([1]), BadLen([1])):
        assert len(safe_repr(obj)) <= 80 and len(safe_str(obj)) <= 200
        safe_repr(obj).encode("utf-8")  # always printable and writable
    assert safe_repr("lr") == "'lr'" and safe_repr(2**300) == "<int of 301 bits>"


def test_a_dict_that_contains_itself_is_cut_where_it_repeats(make_run):
    run = make_run(settings={"strict": False})
    cyc: dict[str, Any] = {"a": 1.0}
    cyc["self"] = cyc
    with pytest.warns(TrackerWarning, match=r"cycle at key 'c/self'"):
        run.log({"c": cyc, "x": 2.0})
    with pytest.warns(TrackerWarning, match=r"cycle at key config\['c'\]\['self'\]"):
        run.config.update({"c": cyc})
    with pytest.warns(TrackerWarning, match=r"cycle at key summary\['c'\]\['self'\]"):
        run.summary["c"] = cyc
    run.finish()
    read = tracker.Api(dir=run.settings.root()).run(run.path)
    assert list(read.scan_history())[0]["c/a"] == 1.0
    assert read.config["c"] == {"a": 1.0} and read.summary["c"] == {"a": 1.0}


def test_define_metric_after_a_huge_int_warns_or_raises_when_strict(make_run):
    run = make_run()
    run.log({"h": 10**400})
    with pytest.raises(TrackingFailure, match=r"'h'.*beyond float range"):
        run.define_metric("h", summary="min")
    run.log({"h": 2.0})
    assert run.summary["h"] == 2.0  # the aggregate starts from the next value


def test_config_nan_twice_is_no_change_and_surrogate_keys_are_escaped(make_run):
    run = make_run(settings={"strict": False})
    run.config.x = float("nan")
    run.config.x = float("nan")  # not a ConfigError: NaN is NaN
    with pytest.warns(TrackerWarning, match="held lone surrogates"):
        run.config["a\udc80"] = 1
    assert run.config["a\\udc80"] == 1


def test_table_refuses_junk_with_media_error_only():
    for kwargs in ({"data": 5}, {"data": [[1], 2]}, {"columns": BadIter([1])}, {"dataframe": object()},
                   {"columns": ["a", "a"], "data": [[1, 2]]}, {"data": BadIter([[1]])}):
        with pytest.raises(MediaError):
            tracker.Table(**kwargs)
    table = tracker.Table(columns=["a"], data=[[1]])
    with pytest.raises(MediaError):
        table.add_column("b", BadIter([1]))
    with pytest.raises(MediaError, match="named twice"):
        table.add_column("a", [2])
    assert table.columns == ["a"] and table.data == [[1]]  # unchanged by the refused calls


def test_a_table_column_of_mixed_cells_is_stored_as_json_text(make_run, store):
    run = make_run()
    with pytest.raises(MediaError, match="column 'mixed' holds number cells: row 1 has a str .*allow_mixed_types"):
        tracker.Table(columns=["mixed", "n"], data=[[1, 1.5], ["a", 2.5]])  # W&B's default: one type a column
    run.log({"t": tracker.Table(columns=["mixed", "n"], data=[[1, 1.5], ["a", 2.5], [{}, 3.5], [2**70, None]],
                                allow_mixed_types=True)})
    run.finish()
    (item,) = tracker.Api(dir=store).run(run.path).media(key="t")
    frame = item.load()
    assert frame["mixed"].tolist() == ["1", '"a"', "{}", str(2**70)] and frame["n"].tolist()[:3] == [1.5, 2.5, 3.5]


def test_to_jsonable_passes_a_refusing_problem_through_untouched():
    def refuse(kind: Any, message: str) -> None:
        raise MediaError(message)

    with pytest.raises(MediaError, match=r"^row 0\['a'\]: a .*BadRepr is not JSON data and its str\(\) raised"):
        to_jsonable({"a": BadRepr()}, "row 0", refuse)



@pytest.mark.parametrize(("key", "value"), [("bad", "a\udc80"), ("bad\udc80", 1.0),
                                            ("bad", 2**20000)],
                         ids=["surrogate-value", "surrogate-key", "giant-int"])
def test_fast_path_gaps_of_the_store(store, key, value):
    """Values log's fast path passes on unchecked: the good value beside them arrives, and a warning
    names the key and what was dropped (a giant int: found by the writer, which stores a null)."""
    run = tracker.init(project="p", dir=store, reinit="create_new", settings=RUN_SETTINGS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.log({key: value, "good": 1.0})
        run.finish()
    rows = list(tracker.Api(dir=store).run(run.path).scan_history())
    assert [r["good"] for r in rows] == [1.0]
    said = [str(w.message) for w in caught]
    assert any(("bad" in m or "\\udc80" in m) and ("digits" in m or "surrogate" in m) for m in said), said
    if isinstance(value, int):
        assert rows[0].get("bad") is None
        assert "bad" not in tracker.Api(dir=store).run(run.path).summary
