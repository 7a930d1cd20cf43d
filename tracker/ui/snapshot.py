"""Static snapshots of run pages: what stays in a saved notebook when the kernel is gone.

A snapshot is a display bundle with ``image/png`` (the charts, drawn with Pillow from the same
reduced series the live charts use), ``text/html`` (the run card of :mod:`tracker.ui.static` and
that image; escaped, no script) and ``text/plain``. nbconvert shows the HTML, GitHub (which strips
scripts and styles) the HTML or the image, JupyterLab without a kernel the HTML. While the live
panel is on screen, the lab extension's stylesheet hides the snapshot that follows it.
"""

from __future__ import annotations

import base64
import io

from tracker.ui import static
from tracker.ui.html import escape as _e

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Charts drawn in a snapshot, their size and how many per row.
MAX_CHARTS = 12
CHART_W, CHART_H, COLUMNS = 320, 190, 3


def _nice(v: float) -> str:
    return f"{v:.4g}"


def charts_png(run: Any, keys: list[str] | None = None) -> bytes | None:
    """A PNG of the run's first :data:`MAX_CHARTS` metrics (None when it logged none)."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    from tracker.ui import series

    all_keys = list(series.scalar_keys(run))
    keys = (keys or all_keys)[:MAX_CHARTS]
    if not keys:
        return None
    data = series.chart_series(run, keys, CHART_W)
    rows = (len(keys) + COLUMNS - 1) // COLUMNS
    img = Image.new("RGB", (CHART_W * min(COLUMNS, len(keys)), CHART_H * rows), "white")
    draw = ImageDraw.Draw(img)
    try:
        font = ImageFont.load_default(size=11)
    except TypeError:  # Pillow < 10.1 has one bitmap size
        font = ImageFont.load_default()
    for i, key in enumerate(keys):
        ox, oy = (i % COLUMNS) * CHART_W, (i // COLUMNS) * CHART_H
        left, top, right, bottom = ox + 48, oy + 22, ox + CHART_W - 10, oy + CHART_H - 22
        draw.text((ox + 8, oy + 4), key, fill="#222", font=font)
        draw.rectangle((left, top, right, bottom), outline="#bbb")
        x = np.asarray(data[key]["x"], dtype=float)
        y = np.asarray(data[key]["y"], dtype=float)
        ok = np.isfinite(x) & np.isfinite(y)
        x, y = x[ok], y[ok]
        if len(x) == 0:
            draw.text((left + 6, top + 6), "no finite values", fill="#888", font=font)
            continue
        x0, x1, y0, y1 = float(x.min()), float(x.max()), float(y.min()), float(y.max())
        xs = left + (x - x0) / ((x1 - x0) or 1.0) * (right - left)
        ys = bottom - (y - y0) / ((y1 - y0) or 1.0) * (bottom - top)
        points = list(zip(xs.tolist(), ys.tolist(), strict=True))
        if len(points) == 1:
            draw.ellipse((points[0][0] - 2, points[0][1] - 2, points[0][0] + 2, points[0][1] + 2), fill="#1f77b4")
        else:
            draw.line(points, fill="#1f77b4", width=2)
        draw.text((ox + 2, top - 2), _nice(y1), fill="#555", font=font)
        draw.text((ox + 2, bottom - 10), _nice(y0), fill="#555", font=font)
        draw.text((left, bottom + 4), _nice(x0), fill="#555", font=font)
        draw.text((right - 40, bottom + 4), _nice(x1), fill="#555", font=font)
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()


def run_snapshot(run: Any) -> dict[str, Any]:
    """The display bundle of a run's static snapshot."""
    png = charts_png(run)
    card = static.run_html(run)
    img = ""
    if png is not None:
        img = (f'<img alt="charts of {_e(run.path)}" src="data:image/png;base64,'
               f'{base64.b64encode(png).decode()}" style="max-width:100%"/>')
    bundle: dict[str, Any] = {
        "text/plain": f"<tracker run {run.path} ({run.state}): snapshot>",
        "text/html": f'<div class="tracker-snapshot">{card}{img}</div>',
    }
    if png is not None:
        bundle["image/png"] = base64.b64encode(png).decode()
    return bundle


def runs_snapshot(runs: Any) -> dict[str, Any]:
    """The display bundle of a run table's static snapshot."""
    return {
        "text/plain": f"<tracker runs: {len(runs)}>",
        "text/html": f'<div class="tracker-snapshot">{static.runs_html(runs)}</div>',
    }
