"""run.config, run.summary and define_metric."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path

import pytest

import tracker
from tracker import ConfigError, TrackingFailure, UsageError


def read(run):
    return tracker.Api(dir=run.settings.root()).run(run.path)


def stored_config(run):
    return json.loads(Path(run.dir, "run.json").read_text())["config"]


def test_config_access_styles_and_nesting(make_run):
    run = make_run(config={"lr": 1e-3, "model": {"depth": 4}})
    assert run.config.lr == 1e-3 and run.config["lr"] == 1e-3
    assert run.config.model == {"depth": 4} and run.config["model"]["depth"] == 4
    assert "lr" in run.config and len(run.config) == 2 and sorted(run.config) == ["lr", "model"]
    run.config.batch = 32
    run.config["opt"] = "adam"
    assert run.config.get("missing", 5) == 5
    with pytest.raises(AttributeError, match="no key 'missing'"):
        _ = run.config.missing
    assert stored_config(run) == {"lr": 1e-3, "model": {"depth": 4}, "batch": 32, "opt": "adam"}


def test_config_is_persisted_at_once(make_run):
    run = make_run()
    run.config.update({"epochs": 10})
    assert stored_config(run) == {"epochs": 10}  # no flush, no finish needed
    assert read(run).config == {"epochs": 10}


def test_config_from_argparse_dataclass_and_setdefaults(make_run):
    ns = argparse.Namespace(lr=0.1, layers=[64, 64], name="x")

    @dataclasses.dataclass
    class Opt:
        momentum: float = 0.9

    run = make_run(config=ns)
    run.config.update(Opt())
    run.config.setdefaults({"lr": 99.0, "seed": 1})
    assert run.config.as_dict() == {"lr": 0.1, "layers": [64, 64], "name": "x", "momentum": 0.9, "seed": 1}


def test_changing_a_set_value_raises_unless_allowed(make_run):
    run = make_run(config={"lr": 0.1})
    run.config.lr = 0.1  # the same value is fine
    with pytest.raises(ConfigError, match=r"'lr' is already 0.1; setting it to 0.2 needs allow_val_change"):
        run.config.lr = 0.2
    run.config.update({"lr": 0.2}, allow_val_change=True)
    assert run.config.lr == 0.2
    relaxed = make_run(config={"lr": 0.1}, allow_val_change=True)
    relaxed.config.lr = 0.3
    assert stored_config(relaxed) == {"lr": 0.3}


def test_config_values_that_are_not_json_are_stored_as_text_with_a_warning(make_run):
    run = make_run()
    with pytest.raises(TrackingFailure, match=r"config\['fn'\].*stored as its text"):
        run.config.fn = object()


def test_config_include_exclude_keys(make_run):
    run = make_run(config={"a": 1, "b": 2, "c": 3}, config_exclude_keys=["b"])
    assert run.config.as_dict() == {"a": 1, "c": 3}
    run2 = make_run(config={"a": 1, "b": 2, "c": 3}, config_include_keys=["b"])
    assert run2.config.as_dict() == {"b": 2}


def test_summary_defaults_to_last_value_and_manual_values_stick(make_run):
    run = make_run()
    for i in range(5):
        run.log({"loss": 1.0 / (i + 1), "acc": i / 10})
    assert run.summary["loss"] == 0.2  # read right after logging: queued rows are converted first
    run.summary["acc"] = 0.99
    run.log({"acc": 0.5})
    assert run.summary["acc"] == 0.99
    run.summary.update({"best_epoch": 7})
    del run.summary["loss"]
    run.finish()
    assert read(run).summary == {"acc": 0.99, "best_epoch": 7}


def test_define_metric_aggregations_and_globs(make_run):
    run = make_run()
    run.define_metric("val/loss", summary="min")
    run.define_metric("train/*", summary="mean")
    run.define_metric("val/acc", summary="max,last")
    run.define_metric("first_lr", summary="first")
    run.define_metric("debug", summary="none")
    values = [3.0, 1.0, 2.0, float("nan")]
    for i, v in enumerate(values):
        run.log({"val/loss": v, "train/loss": v, "train/acc": i, "val/acc": v, "first_lr": 10 - i, "debug": 1})
    run.finish()
    s = read(run).summary
    assert s["val/loss"] == 1.0
    assert s["train/loss"] == pytest.approx(2.0)  # NaN ignored by aggregates
    assert s["train/acc"] == pytest.approx(1.5)
    assert s["val/acc"]["max"] == 3.0 and math.isnan(s["val/acc"]["last"])
    assert s["first_lr"] == 10
    assert "debug" not in s


def test_define_metric_after_logging_starts_from_the_last_value(make_run):
    run = make_run()
    run.log({"a": 5.0})
    run.define_metric("a", summary="max")
    run.log({"a": 1.0})
    assert run.summary["a"] == 5.0


def test_define_metric_merge_overwrite_and_bad_arguments(make_run):
    run = make_run()
    m = run.define_metric("loss", summary="min", goal="minimize")
    m2 = run.define_metric("loss", hidden=True)
    assert (m2.summary, m2.goal, m2.hidden) == (("min",), "minimize", True)
    m3 = run.define_metric("loss", hidden=True, overwrite=True)
    assert m3.summary is None and m.name == "loss"
    with pytest.raises(UsageError, match="'median' is not one of"):
        run.define_metric("x", summary="median")
    with pytest.raises(UsageError, match="goal"):
        run.define_metric("x", goal="up")
    run.finish()
    assert read(run).metrics[0]["name"] == "loss"


def test_step_metric_and_step_sync(make_run):
    run = make_run()
    run.define_metric("epoch")
    run.define_metric("val/*", step_metric="epoch")
    run.log({"epoch": 0, "train/loss": 1.0})
    run.log({"val/loss": 0.9})  # epoch inserted: step_sync defaults to True
    run.log({"epoch": 1})
    run.log({"val/loss": 0.7})
    run.finish()
    frame = read(run).history(keys=["val/loss"], x_axis="epoch")
    assert frame["epoch"].tolist() == [0, 1]
    assert frame["val/loss"].tolist() == [0.9, 0.7]
    assert list(frame.columns[:1]) == ["epoch"]


def test_config_static_and_to_html(make_run, store):
    run = make_run(config={"lr": 0.1, "model": {"depth": 4}})
    static = run.config_static
    assert static.lr == 0.1 and static["model"] == {"depth": 4} and "lr" in static and len(static) == 2
    with pytest.raises(AttributeError, match="read-only"):
        static.lr = 1.0
    with pytest.raises(AttributeError, match="no key 'batch'"):
        static.batch  # noqa: B018
    run.config.update({"batch": 32})
    assert "batch" not in static and run.config_static.batch == 32  # a copy as it was
    run.log({"loss": 0.5})
    html = run.to_html(height=300)
    assert html.startswith("<div class='tracker-run-html' style='max-height:300px") and run.name in html
    assert run.to_html(hidden=True) == ""
    run.finish()
    read = tracker.Api(dir=store).run(run.path)
    assert "loss" in read.to_html() and read.to_html(hidden=True) == ""


def test_a_simple_namespace_is_a_config(make_run):
    """W&B's example scripts keep their defaults in a types.SimpleNamespace and pass it as the config."""
    from types import SimpleNamespace

    run = make_run(config=SimpleNamespace(lr=0.1, model="resnet"))
    run.config.update(SimpleNamespace(epochs=3))
    assert dict(run.config) == {"lr": 0.1, "model": "resnet", "epochs": 3}
