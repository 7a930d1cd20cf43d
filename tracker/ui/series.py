"""What chart panels draw, computed without widgets: sections, x-axes, smoothing, and series bounded
by the chart's width (exact per-bucket min/max in the DuckDB query, recomputed for a zoom window).

The notebook panels (``run.display()``) are built on these functions; they are kept apart so they
can be tested, and reused by the Jupyter server's endpoints, without a browser.
"""

from __future__ import annotations

import math

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
    """Per key, the points a chart ``width_px`` wide needs: ``{"x": array, "y": array, "n": total}``.

    In the DuckDB query, the x range is cut into ``width_px / 2`` buckets and, per key and bucket,
    the first, last, smallest and largest points are kept (M4): at most ~2 points per pixel, every
    spike kept, the first and last point always there. A series of at most 2 points per pixel is
    returned whole. With ``x_range`` (a zoom or pan), only that
    window is read (row groups outside it are skipped) and bucketed afresh.

    Args:
        run: a read-side run (``tracker.Api().run(...)``).
        keys: the metrics to draw.
        width_px: the chart's width in pixels.
        x_axis: ``_step``, ``_runtime`` (seconds since the run was created), ``_timestamp`` (Unix
            seconds), or a logged metric (its value at each step becomes x).
        x_range: ``(lo, hi)`` in x units, inclusive.
    """
    import numpy as np

    from tracker.store import segments

    files = segments.segment_files(run._stream_dir(stream))
    if not files or not keys:
        return {k: {"x": np.empty(0), "y": np.empty(0), "n": 0} for k in keys}
    buckets = max(1, int(width_px) // 2)
    created = float(run.created_at)
    if x_axis == "_step":
        x_expr = "CAST(step AS DOUBLE)"
    elif x_axis == "_timestamp":
        x_expr = "time"
    elif x_axis == "_runtime":
        x_expr = f"(time - {created!r})"
    else:
        x_expr = "xv.value"
    where = ["h.kind <= 2", "h.key IN (SELECT unnest($keys))"]
    params: dict[str, Any] = {"files": files, "keys": list(keys)}
    join = ""
    if x_axis not in X_AXES:
        join = ("JOIN (SELECT step AS xstep, value FROM read_parquet($files) WHERE key = $xkey AND kind <= 2) xv "
                "ON xv.xstep = h.step")
        params["xkey"] = x_axis
    if x_range is not None:
        lo, hi = float(x_range[0]), float(x_range[1])
        if not (math.isfinite(lo) and math.isfinite(hi) and hi >= lo):
            raise ValueError(f"x_range {x_range!r} is not a finite (lo, hi) with lo <= hi")
        where.append(f"{x_expr} BETWEEN $lo AND $hi")
        params.update(lo=lo, hi=hi)
        if x_axis == "_step":  # prune row groups by the step statistics
            where.append("h.step BETWEEN $slo AND $shi")
            params.update(slo=int(math.floor(lo)), shi=int(math.ceil(hi)))
    sql = f"""
        WITH pts AS (
            SELECT CAST(h.key AS VARCHAR) AS key, h.step AS step, {x_expr} AS x, h.value AS y
            FROM read_parquet($files) h {join}
            WHERE {' AND '.join(where)}
        ),
        lim AS (SELECT min(x) AS lo, max(x) AS hi FROM pts),
        b AS (
            SELECT pts.*, least(CAST(floor((x - lim.lo) * {buckets} / greatest(lim.hi - lim.lo, 1e-300)) AS BIGINT),
                                {buckets - 1}) AS bucket
            FROM pts, lim
        ),
        g AS (
            SELECT key, bucket, count(*) AS c,
                min(x) AS x_first, arg_min(y, x) AS y_first,
                max(x) AS x_last, arg_max(y, x) AS y_last,
                arg_min(x, y) AS x_min, min(y) AS y_min,
                arg_max(x, y) AS x_max, max(y) AS y_max
            FROM b GROUP BY key, bucket
        )
        SELECT key, c, x_first, y_first, x_last, y_last, x_min, y_min, x_max, y_max FROM g
    """
    small_sql = f"""
        SELECT CAST(h.key AS VARCHAR) AS key, {x_expr} AS x, h.value AS y
        FROM read_parquet($files) h {join}
        WHERE {' AND '.join(where)} AND h.key IN (SELECT unnest($small))
        ORDER BY key, x, h.step
    """
    con = run._api._duck()
    try:
        from tracker.api.history import arrow_table

        groups = arrow_table(con.sql(sql, params=params))
        cols = {name: groups.column(name).to_numpy(zero_copy_only=False) for name in groups.column_names if name != "key"}
        gkeys = np.asarray(groups.column("key").to_pylist(), dtype=object)
        totals = {k: int(cols["c"][gkeys == k].sum()) for k in keys}
        small = [k for k in keys if 0 < totals[k] <= 2 * int(width_px)]
        whole = None
        if small:  # few enough points: drawn whole
            whole = arrow_table(con.sql(small_sql, params={**params, "small": small}))
    finally:
        con.close()
    out: dict[str, dict[str, Any]] = {k: {"x": np.empty(0), "y": np.empty(0), "n": totals[k]} for k in keys}
    if whole is not None:
        wkeys = np.asarray(whole.column("key").to_pylist(), dtype=object)
        wx = whole.column("x").to_numpy()
        wy = whole.column("y").to_numpy(zero_copy_only=False)
        for k in small:
            m = wkeys == k
            out[k] = {"x": wx[m], "y": wy[m], "n": totals[k]}
    for k in keys:
        if k in small or totals[k] == 0:
            continue
        m = gkeys == k
        xs = np.concatenate([cols[f"x_{p}"][m] for p in ("first", "min", "max", "last")])
        ys = np.concatenate([cols[f"y_{p}"][m] for p in ("first", "min", "max", "last")])
        order = np.lexsort((ys, xs))
        xs, ys = xs[order], ys[order]
        keep = np.ones(len(xs), dtype=bool)  # a point picked twice (the first is also the minimum) once
        keep[1:] = (xs[1:] != xs[:-1]) | ~((ys[1:] == ys[:-1]) | (np.isnan(ys[1:]) & np.isnan(ys[:-1])))
        out[k] = {"x": xs[keep], "y": ys[keep], "n": totals[k]}
    return out


def scalar_keys(run: Any, stream: str = "default") -> dict[str, int]:
    """The numeric keys of a stream and the last step each was logged at (hidden ``_`` keys left out)."""
    from tracker.store import segments

    files = segments.segment_files(run._stream_dir(stream))
    if not files:
        return {}
    con = run._api._duck()
    try:
        rows = con.sql(
            "SELECT CAST(key AS VARCHAR) AS k, max(step) FROM read_parquet($files) WHERE kind <= 2 GROUP BY k",
            params={"files": files},
        ).fetchall()
    finally:
        con.close()
    return {k: int(s) for k, s in sorted(rows) if not k.startswith("_")}


def tail_points(run: Any, keys: list[str], after_step: int, x_axis: str = "_step",
                stream: str = "default") -> dict[str, dict[str, Any]]:
    """Per key, the points logged after ``after_step``, in step order: ``{"x", "y", "step"}``
    (what a live chart appends). Only the newest segments' row groups are read."""
    import numpy as np

    from tracker.store import segments

    empty = {k: {"x": np.empty(0), "y": np.empty(0), "step": np.empty(0, dtype=np.int64)} for k in keys}
    files = segments.segment_files(run._stream_dir(stream))
    if not files or not keys:
        return empty
    created = float(run.created_at)
    x_expr = {"_step": "CAST(h.step AS DOUBLE)", "_timestamp": "h.time",
              "_runtime": f"(h.time - {created!r})"}.get(x_axis, "xv.value")
    join = ""
    params: dict[str, Any] = {"files": files, "keys": list(keys), "after": int(after_step)}
    if x_axis not in X_AXES:
        join = ("JOIN (SELECT step AS xstep, value FROM read_parquet($files) WHERE key = $xkey AND kind <= 2 "
                "AND step > $after) xv ON xv.xstep = h.step")
        params["xkey"] = x_axis
    sql = f"""
        SELECT CAST(h.key AS VARCHAR) AS key, h.step AS step, {x_expr} AS x, h.value AS y
        FROM read_parquet($files) h {join}
        WHERE h.step > $after AND h.kind <= 2 AND h.key IN (SELECT unnest($keys))
        ORDER BY key, h.step
    """
    from tracker.api.history import arrow_table

    con = run._api._duck()
    try:
        table = arrow_table(con.sql(sql, params=params))
    finally:
        con.close()
    if table.num_rows == 0:
        return empty
    tkeys = np.asarray(table.column("key").to_pylist(), dtype=object)
    steps = table.column("step").to_numpy()
    xs = table.column("x").to_numpy(zero_copy_only=False)
    ys = table.column("y").to_numpy(zero_copy_only=False)
    out = dict(empty)
    for k in keys:
        m = tkeys == k
        if m.any():
            out[k] = {"x": xs[m], "y": ys[m], "step": steps[m]}
    return out


def m4(x: Any, y: Any, lo: float, bucket_width: float) -> tuple[np.ndarray, np.ndarray]:
    """The same per-bucket first/last/min/max reduction as :func:`chart_series`, in numpy, for the
    points a live chart appends (buckets of ``bucket_width`` x units counted from ``lo``)."""
    import numpy as np

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) <= 4 or not bucket_width > 0:
        return x, y
    b = np.floor((x - lo) / bucket_width).astype(np.int64)
    order = np.lexsort((x, b))
    x, y, b = x[order], y[order], b[order]
    starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
    ends = np.r_[starts[1:], len(b)] - 1
    keep = np.zeros(len(x), dtype=bool)
    keep[starts] = True
    keep[ends] = True
    yf = np.where(np.isnan(y), np.inf, y)
    keep[starts + np.array([np.argmin(yf[s:e + 1]) for s, e in zip(starts, ends, strict=True)], dtype=np.int64)] = True
    yf = np.where(np.isnan(y), -np.inf, y)
    keep[starts + np.array([np.argmax(yf[s:e + 1]) for s, e in zip(starts, ends, strict=True)], dtype=np.int64)] = True
    return x[keep], y[keep]
