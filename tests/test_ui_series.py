"""The data behind chart panels: sections, smoothing, pixel-bounded M4 series, zoom windows."""

from __future__ import annotations

import numpy as np
import pytest

import tracker
from tracker.ui.series import chart_series, sections, smooth


def test_sections_group_by_the_text_before_the_last_slash():
    assert sections(["train/loss", "val/acc", "train/acc", "lr", "a/b/c"]) == {
        "a/b": ["a/b/c"], "train": ["train/loss", "train/acc"], "val": ["val/acc"], "": ["lr"]}


def test_smoothing_kinds():
    y = np.array([1.0, 1.0, 1.0, 5.0, 1.0, np.nan, 1.0])
    ema = smooth(y, "ema", 0.5)
    assert ema[0] == 1.0 and ema[1] == 1.0  # debiased: the start is not pulled towards 0
    assert 1 < ema[3] < 5 and np.isnan(ema[5])
    assert smooth(y, "none", 0.9).tolist()[:5] == y.tolist()[:5]
    ra = smooth(np.arange(10.0), "running_average", 0.02)  # a window of 3
    assert ra.tolist()[:4] == [0.0, 0.5, 1.0, 2.0]
    g = smooth(np.r_[np.zeros(50), 10.0, np.zeros(50)], "gaussian", 0.2)
    assert g.max() < 10 and g[50] == g.max() and abs(g.sum() - 10) < 0.5  # spread, mass kept
    assert smooth(y, "ema", 0).tolist()[:5] == y.tolist()[:5]
    with pytest.raises(ValueError, match="not one of"):
        smooth(y, "median", 0.5)
    with pytest.raises(ValueError, match=r"\[0, 0.999\]"):
        smooth(y, "ema", 1.0)


@pytest.fixture
def long_run(make_run, store):
    run = make_run()
    values = np.sin(np.linspace(0, 30, 50_000))
    values[31_337] = 99.0  # a spike
    for i, v in enumerate(values):
        run.log({"loss": float(v), "epoch": i // 1000, "flat": 1.0})
    run.finish()
    return tracker.Api(dir=store).run(run.path)


def test_series_are_bounded_by_the_width_and_keep_spikes(long_run):
    series = chart_series(long_run, ["loss", "flat"], width_px=400)
    loss = series["loss"]
    assert loss["n"] == 50_000 and len(loss["x"]) <= 4 * 200 and len(loss["x"]) >= 200
    assert loss["y"].max() == 99.0 and loss["x"][0] == 0 and loss["x"][-1] == 49_999
    assert np.all(np.diff(loss["x"]) >= 0)
    assert set(series["flat"]["y"].tolist()) == {1.0}


def test_zoom_windows_and_other_x_axes(long_run):
    zoom = chart_series(long_run, ["loss"], width_px=400, x_range=(31_000, 31_500))["loss"]
    assert zoom["x"].min() >= 31_000 and zoom["x"].max() <= 31_500 and 99.0 in zoom["y"].tolist()
    assert len(zoom["x"]) == 501  # a window narrower than the chart is drawn whole
    by_epoch = chart_series(long_run, ["loss"], width_px=100, x_axis="epoch")["loss"]
    assert by_epoch["x"].min() == 0 and by_epoch["x"].max() == 49
    runtime = chart_series(long_run, ["loss"], width_px=100, x_axis="_runtime")["loss"]
    assert runtime["x"][0] >= 0 and np.all(np.diff(runtime["x"]) >= 0)
    assert chart_series(long_run, ["nope"], width_px=100)["nope"]["n"] == 0
    with pytest.raises(ValueError, match="x_range"):
        chart_series(long_run, ["loss"], x_range=(5, 1))
