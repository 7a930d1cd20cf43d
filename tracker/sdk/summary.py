"""``run.summary`` and ``run.define_metric``.

By default a key's summary is its last logged value. ``define_metric(name, summary="min")`` (also
``max``, ``mean``, ``first``, ``last``, ``none``, or several: ``"min,max"``) changes that for the
keys it matches (names may hold ``*`` globs, as ``train/*``). A value assigned by hand
(``run.summary["best"] = 7``) sticks: later logs of that key no longer change it.

Aggregates are updated on the writer's drain with numpy, so they cost the training loop nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, MutableMapping

from tracker.convert import (
    DROPPED,
    PASS_THROUGH,
    check_key,
    class_module,
    describe_exception,
    is_text,
    safe_repr,
    to_jsonable,
    type_name,
)
from tracker.errors import UsageError
from tracker.store.codec import KIND_BOOL, KIND_INT, JsonText, MediaText

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    from tracker.store.segments import KeyTable

SUMMARY_KINDS = ("min", "max", "mean", "first", "last", "none", "best", "copy")
GOALS = ("minimize", "maximize")


class Metric:
    """What ``define_metric`` recorded for one name or glob.

    Attributes:
        name: a key or a glob (``train/*``).
        step_metric: another key to use as this metric's x-axis.
        step_sync: insert the step metric's last value into rows that lack it.
        hidden: hide from automatic charts.
        summary: the summary aggregations (a tuple of ``SUMMARY_KINDS``).
        goal: ``minimize`` or ``maximize`` (used by ``summary="best"``).
    """

    FIELDS = ("name", "step_metric", "step_sync", "hidden", "summary", "goal")

    def __init__(
        self,
        name: str,
        step_metric: str | None = None,
        step_sync: bool | None = None,
        hidden: bool | None = None,
        summary: tuple[str, ...] | None = None,
        goal: str | None = None,
    ) -> None:
        self.name = name
        self.step_metric = step_metric
        self.step_sync = step_sync
        self.hidden = hidden
        self.summary = summary
        self.goal = goal

    def __repr__(self) -> str:
        return "Metric(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in self.FIELDS) + ")"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Metric) and self.to_json() == other.to_json()

    def to_json(self) -> dict[str, Any]:
        d = {f: getattr(self, f) for f in self.FIELDS}
        d["summary"] = list(self.summary) if self.summary is not None else None
        return d

    def aggregations(self) -> tuple[str, ...]:
        """The summary kinds with ``best`` resolved by the goal."""
        out = []
        for kind in self.summary or ():
            if kind == "best":
                out.append("max" if self.goal == "maximize" else "min")
            elif kind == "copy":
                out.append("last")
            else:
                out.append(kind)
        return tuple(out)


def parse_summary(summary: str | None) -> tuple[str, ...] | None:
    """``"min,max"`` -> ``("min", "max")``, checked against :data:`SUMMARY_KINDS`.

    Raises:
        UsageError: not a string, or a kind that is not one of :data:`SUMMARY_KINDS`.
    """
    if summary is None:
        return None
    if not isinstance(summary, str):
        raise UsageError(f"define_metric summary must be a string such as 'min' or 'min,max', "
                         f"not a {type_name(summary)}")
    kinds = tuple(s.strip() for s in str.__str__(summary).split(",") if s.strip())
    for kind in kinds:
        if kind not in SUMMARY_KINDS:
            raise UsageError(f"define_metric summary={safe_repr(summary)}: {safe_repr(kind)} is not one of {SUMMARY_KINDS}")
    return kinds


def _name(value: Any, what: str) -> str:
    """A metric name argument as a plain ``str``; raises UsageError for anything else."""
    if not isinstance(value, str) or not value:
        raise UsageError(f"define_metric {what} must be a non-empty string, got {safe_repr(value)} ({type_name(value)})")
    text = str.__str__(value)
    if not is_text(text):
        raise UsageError(f"define_metric {what} {safe_repr(text)} holds lone surrogates: it is not valid Unicode text")
    return text


def _flag(value: Any, what: str) -> bool | None:
    """``True``, ``False`` (a numpy bool too) or None; raises UsageError for anything else."""
    if value is None or value is True or value is False:
        return value
    if class_module(value) == "numpy" and type_name(value) in ("bool_", "bool"):
        return bool(value)
    raise UsageError(f"define_metric {what} must be True, False or None, got {safe_repr(value)} ({type_name(value)})")


def _glob_match(key: str, pattern: str) -> bool:
    import fnmatch  # only runs that define glob metrics pay for fnmatch and re

    return fnmatch.fnmatchcase(key, pattern)


class MetricTable:
    """The run's metric definitions, and which definition each key falls under."""

    def __init__(self) -> None:
        self.metrics: dict[str, Metric] = {}
        self._resolved: dict[str, Metric | None] = {}

    def define(
        self,
        name: str,
        step_metric: str | Metric | None,
        step_sync: bool | None,
        hidden: bool | None,
        summary: str | None,
        goal: str | None,
        overwrite: bool | None,
    ) -> Metric:
        name = _name(name, "name")
        if goal is not None and not (isinstance(goal, str) and str.__str__(goal) in GOALS):
            raise UsageError(f"define_metric goal={safe_repr(goal)} is not one of {GOALS}")
        goal = None if goal is None else str.__str__(goal)
        if step_metric is not None and not isinstance(step_metric, str):
            try:
                step_metric = getattr(step_metric, "name", None)  # a Metric from define_metric
            except Exception:  # noqa: BLE001 - a property that raises: not a Metric
                step_metric = None
            if not isinstance(step_metric, str):
                raise UsageError("define_metric step_metric must be a metric name or a Metric")
        if step_metric is not None:
            step_metric = _name(step_metric, "step_metric")
        step_sync, hidden, overwrite = (_flag(step_sync, "step_sync"), _flag(hidden, "hidden"),
                                        _flag(overwrite, "overwrite"))
        if step_metric is not None and step_sync is None:
            step_sync = True
        new = Metric(name, step_metric, step_sync, hidden, parse_summary(summary), goal)
        old = self.metrics.get(name)
        if old is not None and not overwrite:
            for field in ("step_metric", "step_sync", "hidden", "summary", "goal"):
                if getattr(new, field) is None:
                    setattr(new, field, getattr(old, field))
        self.metrics[name] = new
        self._resolved.clear()
        return new

    def resolve(self, key: str) -> Metric | None:
        """The definition for ``key``: an exact name first, else the last matching glob."""
        try:
            return self._resolved[key]
        except KeyError:
            pass
        found = self.metrics.get(key)
        if found is None:
            for name, metric in reversed(self.metrics.items()):
                if any(c in name for c in "*?[") and _glob_match(key, name):
                    found = metric
                    break
        self._resolved[key] = found
        return found

    def sync_pairs(self) -> list[tuple[Metric, str]]:
        """Metrics whose step metric is inserted into rows automatically."""
        return [(m, m.step_metric) for m in self.metrics.values() if m.step_metric and m.step_sync]

    def to_json(self) -> list[dict[str, Any]]:
        return [m.to_json() for m in self.metrics.values()]

    def load(self, items: list[dict[str, Any]]) -> None:
        for d in items or []:
            summary = d.get("summary")
            m = Metric(
                d["name"],
                d.get("step_metric"),
                d.get("step_sync"),
                d.get("hidden"),
                tuple(summary) if summary is not None else None,
                d.get("goal"),
            )
            self.metrics[m.name] = m
        self._resolved.clear()


class Summary(MutableMapping):  # type: ignore[type-arg]
    """The run's summary: last values, aggregates from ``define_metric``, and manual values.

    Reading it first converts rows still queued on the writer, so a value logged just before is
    always seen.
    """

    def __init__(
        self,
        metrics: MetricTable,
        last: dict[str, Any],
        drain: Callable[[], None],
        problem: Callable[[tuple[Any, ...], str], None],
    ) -> None:
        self._metrics = metrics
        self._last = last
        self._drain = drain
        self._problem = problem
        self._manual: dict[str, Any] = {}
        self._removed: set[str] = set()
        self._agg: dict[str, list[float]] = {}  # key -> [count, sum, min, max, first]
        self._lock = threading.Lock()
        self.version = 0

    # --- called on the writer's drain ------------------------------------------------------
    def on_batch(self, cols: dict[str, Any], keys: KeyTable) -> None:
        """Update aggregates of keys with aggregated summaries from one batch of columns."""
        import numpy as np

        self.version += 1
        if not self._metrics.metrics:
            return
        codes = cols["key"]
        present = np.unique(codes)
        numeric = cols["kind"] <= KIND_BOOL
        huge = (cols["kind"] == KIND_INT) & np.isinf(cols["value"])
        if huge.any():  # ints beyond float range (kept exactly in the history) have no float to aggregate
            numeric = numeric & ~huge
        for code in present.tolist():
            key = keys.names[code]
            metric = self._metrics.resolve(key)
            if metric is None or not metric.summary:
                continue
            aggs = metric.aggregations()
            if not any(a in ("min", "max", "mean", "first") for a in aggs):
                continue
            v = cols["value"][(codes == code) & numeric]
            v = v[~np.isnan(v)]
            if not len(v):
                continue
            with self._lock:
                state = self._agg.get(key)
                if state is None:
                    state = self._agg[key] = [0, 0.0, float(v.min()), float(v.max()), float(v[0])]
                state[0] += len(v)
                state[1] += float(v.sum())
                state[2] = min(state[2], float(v.min()))
                state[3] = max(state[3], float(v.max()))

    def seed(self) -> list[tuple[tuple[Any, ...], str]]:
        """Start aggregates of keys logged before their ``define_metric`` from their last value.

        Returns:
            The problems found, ``(kind, message)``, for the caller to report once it is done: a
            last value that is an int beyond float range starts no aggregate.
        """
        problems = []
        for key, value in list(self._last.items()):
            metric = self._metrics.resolve(key)
            if metric is None or key in self._agg or type(value) not in (int, float, bool):
                continue
            if any(a in ("min", "max", "mean", "first") for a in metric.aggregations()):
                try:
                    v = float(value)
                except OverflowError:
                    problems.append((
                        ("aggregate-int", key),
                        f"summary of {safe_repr(key)}: its last value, an int of {int.bit_length(value)} bits, is "
                        "beyond float range: it was left out of min/max/mean/first (the history keeps it exactly)",
                    ))
                    continue
                if v == v:  # not NaN
                    self._agg[key] = [1, v, v, v, v]
        return problems

    # --- the mapping the user sees ---------------------------------------------------------
    def _computed(self) -> dict[str, Any]:
        self._drain()
        out: dict[str, Any] = {}
        for key, value in list(self._last.items()):
            if key in self._removed:
                continue
            metric = self._metrics.resolve(key)
            aggs = metric.aggregations() if metric is not None and metric.summary else ("last",)
            if "none" in aggs:
                continue
            values = {}
            state = self._agg.get(key)
            for agg in aggs:
                if agg == "last":
                    values[agg] = _decode(value)
                elif state is not None:
                    values[agg] = {
                        "min": state[2],
                        "max": state[3],
                        "mean": state[1] / state[0] if state[0] else None,
                        "first": state[4],
                    }[agg]
                else:
                    # defined after the key was logged (or no numeric value yet): the last value
                    # stands in until the next numeric value arrives
                    values[agg] = _decode(value)
            if not values:
                continue
            out[key] = next(iter(values.values())) if len(values) == 1 else values
        out.update(self._manual)
        return out

    def __getitem__(self, key: str) -> Any:
        return self._computed()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        name = check_key(key, "summary", self._problem, escape=True)
        if name is None:
            return
        plain = to_jsonable(value, f"summary[{safe_repr(name)}]", self._problem, dropped=DROPPED)
        if plain is DROPPED:
            return
        self._manual[name] = plain
        self._removed.discard(name)
        self.version += 1

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """Set several keys: from a mapping, an object with ``keys()``, or ``(key, value)`` pairs,
        and from keyword arguments. What cannot be read is reported, not raised."""
        try:
            if isinstance(other, Mapping):
                pairs = list(other.items())
            elif hasattr(other, "keys"):
                pairs = [(k, other[k]) for k in other.keys()]
            else:
                pairs = [(k, v) for k, v in other]
        except PASS_THROUGH:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever was passed, training goes on
            self._problem(("summary-update", type_name(other)),
                          f"summary.update(): reading the {type_name(other)} it was given raised "
                          f"{describe_exception(exc)}: nothing was set from it")
            pairs = []
        for k, v in [*pairs, *kwargs.items()]:
            self[k] = v

    def __delitem__(self, key: str) -> None:
        computed = self._computed()
        if key not in computed:
            raise KeyError(key)
        self._manual.pop(key, None)
        self._removed.add(key)
        self.version += 1

    def __iter__(self) -> Iterator[str]:
        return iter(self._computed())

    def __len__(self) -> int:
        return len(self._computed())

    def __repr__(self) -> str:
        return f"Summary({self._computed()!r})"

    def as_dict(self) -> dict[str, Any]:
        """The summary as a plain dict."""
        return self._computed()

    # --- persistence ------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """What a resumed run needs to carry the summary on."""
        return {
            "manual": self._manual,
            "removed": sorted(self._removed),
            "agg": self._agg,
            "last": {k: _decode(v) for k, v in self._last.items()},
        }

    def restore(self, state: dict[str, Any]) -> None:
        self._manual.update(state.get("manual") or {})
        self._removed.update(state.get("removed") or [])
        self._agg.update(state.get("agg") or {})
        for k, v in (state.get("last") or {}).items():
            self._last.setdefault(k, v)


def _decode(value: Any) -> Any:
    if isinstance(value, (JsonText, MediaText)):
        import json

        return json.loads(value)
    return value
