"""run.log: W&B's step and commit rules, value types, and bad input inside the training loop."""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np
import pytest

import tracker
from tracker import TrackerWarning, TrackingFailure, UsageError


def rows(run):
    """Every history row of a finished run, exact types, only logged keys."""
    return [
        {k: v for k, v in r.items() if not k.startswith("_") or k == "_step"}
        for r in tracker.Api(dir=run.settings.root()).run(run.path).scan_history()
    ]


def test_equivalent_ways_to_log_two_steps(make_run):
    """The three forms the W&B reference calls equivalent give identical histories."""
    a = make_run()
    a.log({"train-loss": 0.5, "accuracy": 0.8})
    a.log({"train-loss": 0.4, "accuracy": 0.9})
    a.finish()
    b = make_run()
    b.log({"train-loss": 0.5}, commit=False)
    b.log({"accuracy": 0.8})
    b.log({"train-loss": 0.4}, commit=False)
    b.log({"accuracy": 0.9})
    b.finish()
    c = make_run()
    step = 0
    c.log({"train-loss": 0.5}, step=step)
    c.log({"accuracy": 0.8}, step=step)
    step += 1
    c.log({"train-loss": 0.4}, step=step)
    c.log({"accuracy": 0.9}, step=step)
    c.finish()
    expected = [
        {"_step": 0, "train-loss": 0.5, "accuracy": 0.8},
        {"_step": 1, "train-loss": 0.4, "accuracy": 0.9},
    ]
    assert rows(a) == rows(b) == rows(c) == expected


def test_explicit_steps_may_skip_and_commit_true_ends_the_step(make_run):
    run = make_run()
    run.log({"a": 1}, step=5)
    assert run.step == 5
    run.log({"b": 2}, step=5, commit=True)
    assert run.step == 6
    run.log({"c": 3})  # implicit: the current step (6)
    run.log({"d": 4}, step=10)
    run.finish()  # commits step 10
    assert rows(run) == [
        {"_step": 5, "a": 1, "b": 2},
        {"_step": 6, "c": 3},
        {"_step": 10, "d": 4},
    ]


def test_step_below_current_is_dropped_with_a_warning_naming_it(store):
    run = tracker.init(dir=store, project="p", settings={"quiet": True})
    run.log({"a": 1.0})
    run.log({"a": 2.0})
    with pytest.warns(TrackerWarning, match=r"step 0 is below the current step 2.*'a'"):
        run.log({"a": 9.0}, step=0)
    run.log({"a": 3.0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the finish summary repeats it
        run.finish()
    assert [r["a"] for r in rows(run)] == [1.0, 2.0, 3.0]


def test_strict_mode_raises_instead_of_warning(make_run):
    run = make_run()
    run.log({"a": 1.0})
    with pytest.raises(TrackingFailure, match="below the current step"):
        run.log({"a": 0.0}, step=0)


def test_nested_dicts_flatten_with_slashes(make_run):
    run = make_run()
    run.log({"val": {"loss": 0.2, "acc": {"top1": 0.9, "top5": 0.99}}, "lr": 1e-3})
    run.finish()
    assert rows(run) == [{"_step": 0, "val/loss": 0.2, "val/acc/top1": 0.9, "val/acc/top5": 0.99, "lr": 1e-3}]


class FakeTensor:
    """Stands in for a 0-d torch tensor, recognised by class module without importing torch."""

    __module__ = "torch"

    def __init__(self, value):
        self.value = value

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return np.asarray(self.value)


class HasFloat:
    def __float__(self):
        return 2.5


def test_value_types_round_trip(make_run):
    run = make_run()
    run.log(
        {
            "f": 1.5,
            "i": 7,
            "big": 2**62 + 1,
            "b": True,
            "s": "héllo wörld ✓",
            "none": None,
            "nan": float("nan"),
            "inf": float("inf"),
            "ninf": -math.inf,
            "np_f32": np.float32(0.25),
            "np_i64": np.int64(-3),
            "np_bool": np.bool_(False),
            "np_0d": np.array(4.5),
            "tensor": FakeTensor(0.75),
            "list": [1, 2.5, "x"],
            "array": np.arange(3),
            "has_float": HasFloat(),
        }
    )
    run.finish()
    (row,) = rows(run)
    assert row["f"] == 1.5 and type(row["f"]) is float
    assert row["i"] == 7 and type(row["i"]) is int
    assert row["big"] == 2**62 + 1
    assert row["b"] is True
    assert row["s"] == "héllo wörld ✓"
    assert row["none"] is None
    assert math.isnan(row["nan"]) and row["inf"] == math.inf and row["ninf"] == -math.inf
    assert row["np_f32"] == 0.25 and row["np_i64"] == -3 and row["np_bool"] is False
    assert row["np_0d"] == 4.5 and row["tensor"] == 0.75
    assert row["list"] == [1, 2.5, "x"] and row["array"] == [0, 1, 2]
    assert row["has_float"] == 2.5


def test_unserialisable_value_warns_with_key_and_type_and_keeps_the_rest(store):
    run = tracker.init(dir=store, project="p", settings={"quiet": True})
    with pytest.warns(TrackerWarning) as caught:
        run.log({"ok": 1.0, "bad": {1, 2}, "obj": object(), 3: 4.0, "also_ok": "x"})
    messages = " | ".join(str(w.message) for w in caught)
    assert "'bad'" in messages and "set" in messages
    assert "'obj'" in messages and "object" in messages
    assert "key 3 is a int" in messages
    run.finish()
    assert rows(run) == [{"_step": 0, "ok": 1.0, "also_ok": "x"}]


def test_reserved_keys_are_refused(make_run):
    run = make_run()
    with pytest.raises(TrackingFailure, match="'_step' is reserved"):
        run.log({"_step": 3, "a": 1})


def test_awkward_keys_work(make_run):
    long_key = "k" * 5000
    run = make_run()
    run.log({"a b/c d": 1, "ünï/cødé ✓": 2, long_key: 3, "": 4})
    run.finish()
    (row,) = rows(run)
    assert row["a b/c d"] == 1 and row["ünï/cødé ✓"] == 2 and row[long_key] == 3 and row[""] == 4


def test_ten_thousand_keys_in_one_call(make_run):
    run = make_run()
    data = {f"layer{i}/grad_norm": float(i) for i in range(10_000)}
    run.log(data)
    run.log(data)
    run.finish()
    frame = tracker.Api(dir=run.settings.root()).run(run.path).history()
    assert frame.shape == (2, 10_003)
    assert frame["layer9999/grad_norm"].tolist() == [9999.0, 9999.0]


def test_log_after_finish_warns_and_drops(store):
    run = tracker.init(dir=store, project="p", settings={"quiet": True})
    run.log({"a": 1})
    run.finish()
    with pytest.warns(TrackerWarning, match=r"after the run ended \(finished\)"):
        run.log({"a": 2})


def test_non_dict_data_and_bad_step_warn(store):
    run = tracker.init(dir=store, project="p", settings={"quiet": True})
    with pytest.warns(TrackerWarning, match="takes a dict"):
        run.log([1, 2, 3])
    with pytest.warns(TrackerWarning, match="not a non-negative integer"):
        run.log({"a": 1.0}, step="three")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run.finish()
    assert rows(run) == [{"_step": 0, "a": 1.0}]


def test_the_logged_dict_may_be_reused_after_log(make_run):
    run = make_run()
    d = {"a": 1.0}
    run.log(d)
    d["a"] = 2.0
    run.log(d)
    run.finish()
    assert [r["a"] for r in rows(run)] == [1.0, 2.0]


def test_module_level_functions_follow_the_current_run(store):
    with pytest.raises(UsageError, match=r"tracker.log\(\) was called before tracker.init"):
        tracker.log({"a": 1})
    assert tracker.run is None
    run = tracker.init(dir=store, project="p", settings={"quiet": True, "strict": True})
    assert tracker.run is run
    tracker.config.update({"lr": 0.1})
    tracker.log({"a": 1.0})
    tracker.summary["best"] = 3
    tracker.define_metric("a", summary="max")
    tracker.finish()
    assert tracker.run is None
    read = tracker.Api(dir=store).run(run.path)
    assert read.config == {"lr": 0.1}
    assert read.summary == {"a": 1.0, "best": 3}


def test_two_runs_in_one_process_warns_by_default_in_scripts(store):
    first = tracker.init(dir=store, project="p", settings={"quiet": True})
    with pytest.warns(TrackerWarning, match="returning that run"):
        again = tracker.init(dir=store, project="p", settings={"quiet": True})
    assert again is first
    other = tracker.init(dir=store, project="p", reinit="create_new", settings={"quiet": True})
    assert other is not first and tracker.run is first
    other.log({"x": 1.0})
    first.log({"y": 2.0})
    third = tracker.init(dir=store, project="p", reinit="finish_previous", settings={"quiet": True})
    assert first.state == "finished" and other.state == "finished" and tracker.run is third


def test_disabled_mode_accepts_everything_and_writes_nothing(store):
    run = tracker.init(dir=store, project="p", mode="disabled", config={"a": 1})
    run.log({"a": 1.0, "bad": object()})
    run.config.update({"b": 2})
    run.summary["c"] = 3
    run.define_metric("a", summary="min")
    run.log_artifact("anything")
    run.finish()
    assert run.config["b"] == 2 and run.summary["c"] == 3
    assert not store.exists()


def test_a_real_run_after_a_finished_disabled_one_is_a_real_run(store):
    """W&B's pattern: a disabled run in a quick check, then the real one; finishing the disabled
    run ends it (before, the next init() returned it, and all that followed was lost)."""
    off = tracker.init(dir=store, project="p", mode="disabled")
    off.finish()
    run = tracker.init(dir=store, project="p", settings={"quiet": True})
    assert run is not off and not getattr(run, "disabled", False)
    run.log({"a": 1.0})
    run.finish()
    assert [r["a"] for r in tracker.Api(dir=store).run(run.path).scan_history()] == [1.0]
    with tracker.init(dir=store, project="p", mode="disabled") as off:  # a with block ends it too
        off.log({"a": 2.0})
    run = tracker.init(dir=store, project="p", settings={"quiet": True})
    assert run is not off and not getattr(run, "disabled", False)
    run.finish()


def test_a_call_whose_values_were_all_dropped_spends_no_step(store):
    run = tracker.init(dir=store, project="p", settings={"quiet": True})
    with pytest.warns(tracker.TrackerWarning, match="bad"):
        run.log({"bad": object()})  # dropped, said
    assert run.step == 0
    run.log({"a": 1.0})
    run.log({})  # an empty dict is a step, as in W&B
    run.log({"a": 2.0})
    run.finish()
    rows = list(tracker.Api(dir=store).run(run.path).scan_history())
    assert [(r["_step"], r["a"]) for r in rows] == [(0, 1.0), (2, 2.0)]


def test_warnings_point_at_the_users_line(store):
    """Not at tracker's own code: log, config and init's warnings name the caller's file and line."""
    import warnings

    run = tracker.init(dir=store, project="p", settings={"quiet": True})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.log({"bad": object()}); line_log = sys._getframe().f_lineno  # noqa: E702
        run.config.update({"x": object()}); line_config = sys._getframe().f_lineno  # noqa: E702
        tracker.init(dir=store, project="p"); line_init = sys._getframe().f_lineno  # noqa: E702
    assert [(w.filename, w.lineno) for w in caught] == [(__file__, line_log), (__file__, line_config),
                                                         (__file__, line_init)]
    run.finish()


def test_log_with_no_data_commits_the_gathered_step(store):
    """W&B's metrics-at-different-steps example: log(..., commit=False) a few times, then log()."""
    run = tracker.init(dir=store, project="p", settings={"quiet": True, "strict": True})
    for i in range(3):
        run.log({"loss": float(i)}, commit=False)
        if i % 2 == 0:
            run.log({"val": float(i)}, commit=False)
        run.log()
    tracker.log()  # the module function too: an empty step
    run.finish()
    rows = list(tracker.Api(dir=store).run(run.path).scan_history())
    assert [(r["_step"], r.get("loss"), r.get("val")) for r in rows] == [(0, 0.0, 0.0), (1, 1.0, None), (2, 2.0, 2.0)]
    assert run.step == 4
