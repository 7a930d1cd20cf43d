"""Static HTML views of runs: what a run or a run list shows at the end of a cell, and what stays
readable in nbconvert HTML and on GitHub (plain HTML and inline styles: no script, no widget).

Every value is escaped; nothing logged is ever inserted as markup.
"""

from __future__ import annotations

import datetime
import math

from tracker.ui.html import escape as _e

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

STATE_COLOURS = {
    "running": "#1f77b4", "finished": "#2ca02c", "failed": "#d62728", "crashed": "#d62728",
    "killed": "#ff7f0e", "preempting": "#9467bd", "preempted": "#9467bd",
}
_CELL = "padding:2px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top"



#: Tag chip colours (matplotlib's ten): a tag's colour is picked by a hash of its text.
TAG_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def _luminance(colour: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def tag_colours(tag: str, chosen: dict[str, str] | None = None) -> tuple[str, str]:
    """``(background, text colour)`` of a tag's chip: the colour chosen for it in its project
    (``chosen``, see ``Api.set_tag_colour``), else one from a stable hash of the tag's text (the
    same tag has the same colour in every run, process and session); the text white or
    near-black, whichever contrasts more with it."""
    import hashlib

    from tracker.store.query import is_colour

    background = (chosen or {}).get(str(tag)) or ""
    if not (isinstance(background, str) and is_colour(background)):
        digest = hashlib.sha1(str(tag).encode("utf-8", "backslashreplace"), usedforsecurity=False).digest()
        background = TAG_PALETTE[int.from_bytes(digest[:8], "big") % len(TAG_PALETTE)]
    lum = _luminance(background)
    # contrast ratios against white (1.0) and near-black (#111: ~0.0056)
    on_white = 1.05 / (lum + 0.05)
    on_dark = (lum + 0.05) / (0.0056 + 0.05)
    return background, ("#ffffff" if on_white >= on_dark else "#111111")


def tag_chip(tag: str, chosen: dict[str, str] | None = None) -> str:
    """A tag as a coloured chip (escaped; ``chosen``: the project's tag colours)."""
    background, colour = tag_colours(tag, chosen)
    return (f'<span class="tracker-tag" style="background:{background};color:{colour};border-radius:10px;'
            f'padding:1px 8px;margin:0 3px 0 0;font-size:12px;white-space:nowrap;display:inline-block">'
            f'{_e(tag)}</span>')


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: max(limit - 1, 1)] + "\u2026"


def first_line(text: str | None, limit: int = 160) -> str:
    """The first non-empty line of ``text`` (notes), cut to ``limit`` characters."""
    for line in (text or "").splitlines():
        if line.strip():
            return clip(line.strip(), limit)
    return ""


def badge(state: str) -> str:
    colour = STATE_COLOURS.get(state, "#7f7f7f")
    return (f'<span style="background:{colour};color:white;border-radius:8px;padding:0 6px;'
            f'font-size:85%">{_e(state)}</span>')


def fmt(value: Any) -> str:
    """A value as it reads in a table cell (numbers rounded, lists joined)."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v) for v in value)
    if isinstance(value, dict):
        if "_type" in value:
            return f"[{value['_type']}]"
        return ", ".join(f"{k}={fmt(v)}" for k, v in value.items())
    return str(value)


def when(ts: float | None) -> str:
    if not ts:
        return ""
    return datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _table(rows: list[tuple[str, str]], title: str) -> str:
    if not rows:
        return ""
    body = "".join(f'<tr><td style="{_CELL};color:var(--jp-ui-font-color2, #555)">{_e(k)}</td><td style="{_CELL}">{v}</td></tr>'
                   for k, v in rows)
    return (f'<div style="display:inline-block;vertical-align:top;margin-right:24px">'
            f'<b>{_e(title)}</b><table style="border-collapse:collapse">{body}</table></div>')


def flat_items(d: dict[str, Any]) -> list[tuple[str, Any]]:
    """A nested dict as ``(dotted key, value)`` pairs, as the run table flattens it."""
    from tracker.store.index import flatten

    return list(flatten("", d, {}).items())


def _flat(d: dict[str, Any]) -> list[tuple[str, str]]:
    return [(k, _e(fmt(v))) for k, v in flat_items(d)]


def run_html(run: Any) -> str:
    """A run's overview card: identity, state, timing, host, program, config and summary."""
    doc = run.fields()
    meta = run.metadata
    overview = [
        ("state", badge(doc["state"])),
        ("path", _e(doc["id"] and run.path)),
        ("created", _e(when(doc["created_at"]))),
        ("duration", _e(duration(doc["duration"]))),
        ("last step", _e(fmt(doc["last_step"]))),
        ("tags", _e(fmt(doc["tags"]))),
        ("group / job type", _e(" / ".join(x for x in (doc["group"], doc["job_type"]) if x))),
        ("host", _e(fmt(meta.get("host")))),
        ("user", _e(fmt(doc["user"]))),
        ("program", _e(fmt(meta.get("program")))),
        ("python", _e(fmt(meta.get("python")))),
    ]
    git = meta.get("git") or {}
    if git:
        overview.append(("git", _e(f"{git.get('branch') or 'detached'} @ {(git.get('commit') or '')[:10]}"
                                   + (" (dirty)" if git.get("dirty") else ""))))
    if doc["notes"]:
        overview.append(("notes", _e(doc["notes"])))
    overview = [(k, v) for k, v in overview if v]
    config = _flat(doc["config"])
    summary = _flat(doc["summary"])
    return (f'<div style="font-family:sans-serif;font-size:13px">'
            f'<div style="font-size:15px;margin-bottom:6px"><b>{_e(doc["name"])}</b> {badge(doc["state"])}</div>'
            f'{_table(overview, "Overview")}{_table(config[:50], "Config")}{_table(summary[:50], "Summary")}</div>')


def runs_html(runs: Any, max_rows: int = 200, max_columns: int = 8) -> str:
    """A run table: name, state, created, duration, tags, then the most common config and summary keys."""
    from collections import Counter

    records = [r.fields() for r in list(runs)[:max_rows]]
    if not records:
        return "<div><i>no runs</i></div>"
    config_keys = Counter(k for d in records for k, v in d["config"].items() if not isinstance(v, dict))
    summary_keys = Counter(k for d in records for k, v in d["summary"].items() if not isinstance(v, dict))
    ckeys = [k for k, _ in config_keys.most_common(max_columns)]
    skeys = [k for k, _ in summary_keys.most_common(max_columns)]
    head = "".join(f'<th style="{_CELL}">{_e(h)}</th>' for h in
                   ["name", "state", "created", "duration", "tags", *(f"config.{k}" for k in ckeys),
                    *(f"summary.{k}" for k in skeys)])
    rows = []
    for d in records:
        cells = [_e(d["name"]), badge(d["state"]), _e(when(d["created_at"])), _e(duration(d["duration"])),
                 _e(fmt(d["tags"])), *(_e(fmt(d["config"].get(k))) for k in ckeys),
                 *(_e(fmt(d["summary"].get(k))) for k in skeys)]
        rows.append("<tr>" + "".join(f'<td style="{_CELL}">{c}</td>' for c in cells) + "</tr>")
    more = len(list(runs)) - len(records)
    tail = f"<div><i>{more} more runs</i></div>" if more > 0 else ""
    return (f'<div style="font-family:sans-serif;font-size:13px;overflow-x:auto">'
            f'<table style="border-collapse:collapse"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>{tail}</div>')
