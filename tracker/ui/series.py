"""What chart panels draw, computed without widgets: sections, x-axes, smoothing, and series bounded
by the chart's width (exact per-bucket min/max in the DuckDB query, recomputed for a zoom window).

The notebook panels (``run.display()``) are built on these functions; they are kept apart so they
can be tested, and reused by the Jupyter server's endpoints, without a browser. They read only
through the read API's public methods (``run.series``, ``run.numeric_keys``, ``run.tail``).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    import numpy as np

X_AXES = ("_step", "_runtime", "_timestamp")
SMOOTHING = ("none", "ema", "running_average", "gaussian")


def sections(keys: Iterable[str]) -> dict[str, list[str]]:
    """Keys grouped by the text before their last ``/`` (W&B's sections); ``""`` for the rest."""
    out: dict[str, list[str]] = {}
    for key in keys:
        prefix = key.rsplit("/", 1)[0] if "/" in key else ""
        out.setdefault(prefix, []).append(key)
    return dict(sorted(out.items(), key=lambda kv: (kv[0] == "", kv[0])))


def smooth(y: Any, kind: str = "ema", weight: float = 0.6, x: Any = None) -> np.ndarray:
    """Smoothed values of a series (NaNs stay NaN and are skipped by the smoother).

    Args:
        y: the values.
        kind: ``"ema"`` (exponential moving average, debiased as TensorBoard does: early points
            are not pulled towards 0), ``"running_average"`` (the mean of the last
            ``1 + round(weight * 100)`` points), ``"gaussian"`` (a kernel over x with a standard
            deviation of ``weight * span / 20``), or ``"none"``.
        weight: 0 to 0.999: how strong (0 is no smoothing).
        x: the x values (for ``gaussian``; default 0, 1, 2, ...).

    Raises:
        ValueError: an unknown kind or a weight outside [0, 0.999].
    """
    import numpy as np

    if kind not in SMOOTHING:
        raise ValueError(f"smoothing {kind!r} is not one of {SMOOTHING}")
    if not 0 <= weight <= 0.999:
        raise ValueError(f"smoothing weight {weight!r} must be in [0, 0.999]")
    values = np.asarray(y, dtype=np.float64)
    if kind == "none" or weight == 0 or values.size == 0:
        return values.copy()
    finite = np.isfinite(values)
    out = np.full_like(values, np.nan)
    v = values[finite]
    if kind == "ema":
        acc, debias = 0.0, 0.0
        res = np.empty_like(v)
        for i, val in enumerate(v.tolist()):  # a recurrence: cheap for the <= 2 points a pixel drawn
            acc = acc * weight + (1 - weight) * val
            debias = debias * weight + (1 - weight)
            res[i] = acc / debias
    elif kind == "running_average":
        window = 1 + int(round(weight * 100))
        csum = np.cumsum(np.r_[0.0, v])
        idx = np.arange(1, len(v) + 1)
        lo = np.maximum(idx - window, 0)
        res = (csum[idx] - csum[lo]) / (idx - lo)
    else:
        xs = np.arange(len(values), dtype=np.float64) if x is None else np.asarray(x, dtype=np.float64)
        xs = xs[finite]
        span = (xs.max() - xs.min()) if len(xs) > 1 else 1.0
        sigma = max(weight * span / 20, 1e-12)
        res = np.empty_like(v)
        for i in range(len(v)):  # windowed to 3 sigma: linear in practice for sorted x
            lo_i = np.searchsorted(xs, xs[i] - 3 * sigma)
            hi_i = np.searchsorted(xs, xs[i] + 3 * sigma, side="right")
            w = np.exp(-0.5 * ((xs[lo_i:hi_i] - xs[i]) / sigma) ** 2)
            res[i] = float(np.dot(w, v[lo_i:hi_i]) / w.sum())
    out[finite] = res
    return out


def chart_series(
    run: Any,
    keys: list[str],
    width_px: int = 800,
    x_axis: str = "_step",
    x_range: tuple[float, float] | None = None,
    stream: str = "default",
) -> dict[str, dict[str, Any]]:
    """Per key, the points a chart ``width_px`` wide needs: ``{"x", "y", "step", "time", "n"}``.

    The x range is cut into ``width_px / 2`` buckets and, per key and bucket, the first, last,
    smallest and largest points are kept (M4, by the store's one downsampler): at most ~2 points per
    pixel, every spike kept, the first and last point always there. A series of at most 2 points
    per pixel is returned whole. With ``x_range`` (a zoom or pan), only that window is read and
    bucketed afresh (long series through their pyramid, so any zoom reads O(pixels) rows).

    Args:
        run: a read-side run (``tracker.Api().run(...)``).
        keys: the metrics to draw.
        width_px: the chart's width in pixels.
        x_axis: ``_step``, ``_runtime`` (seconds since the run was created), ``_timestamp`` (Unix
            seconds), or a logged metric (its value at each step becomes x).
        x_range: ``(lo, hi)`` in x units, inclusive.
    """
    return run.series(list(keys), max(1, int(width_px) // 2), x_axis=x_axis, x_range=x_range, stream=stream)


def scalar_keys(run: Any, stream: str = "default") -> dict[str, int]:
    """The numeric keys of a stream and the last step each was logged at (hidden ``_`` keys left out)."""
    return {k: s for k, s in run.numeric_keys(stream).items() if not k.startswith("_")}


def tail_points(run: Any, keys: list[str], after_step: int, x_axis: str = "_step",
                stream: str = "default") -> dict[str, dict[str, Any]]:
    """Per key, the points logged after ``after_step``, in step order: ``{"x", "y", "step"}``
    (what a live chart appends). Only the newest segments are read."""
    return run.tail(list(keys), after_step, x_axis=x_axis, stream=stream)


def m4(x: Any, y: Any, lo: float, bucket_width: float) -> tuple[np.ndarray, np.ndarray]:
    """The same per-bucket first/last/min/max reduction as :func:`chart_series` (the store's
    :func:`tracker.store.m4.reduce`), for the points a live chart appends (buckets of
    ``bucket_width`` x units counted from ``lo``)."""
    import numpy as np

    from tracker.store import m4 as m4_

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) <= 4 or not bucket_width > 0:
        return x, y
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    rank = np.arange(len(x))
    b = np.floor((x - lo) / bucket_width).astype(np.int64)
    agg = m4_.reduce(m4_.from_points(np.zeros(len(x), np.int64), rank, x, y, b))
    idx = m4_.points(agg)["step"]
    return x[idx], y[idx]
