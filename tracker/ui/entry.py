"""The one door from the layers below into the notebook layer.

The logging API (``tracker.sdk``) and the read API (``tracker.api``) never import the panels. Their
``display()``, ``_ipython_display_`` and ``_repr_html_`` methods call :func:`render`, and nothing
else below ``tracker.ui`` calls up; the import-linter contracts in ``pyproject.toml`` name these
calls as the only exceptions to "layers only point down".

Outside a Jupyter kernel (a script, a plain ``python`` REPL, terminal IPython, CI) nothing builds
widgets: ``display()`` and ``_ipython_display_`` print a short text summary (:func:`summary_text`)
and return None.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HOW = ("display", "ipython", "html", "text")
#: Metrics of the summary a text summary shows, and runs of a run list.
TEXT_METRICS = 8
TEXT_RUNS = 10


def render(obj: Any, how: str, **kwargs: Any) -> Any:
    """Show ``obj`` (a read-side run, a run list, or this process's live run) in the notebook.

    Args:
        obj: :class:`tracker.api.public.Run`, :class:`tracker.api.public.Runs`, or the live
            :class:`tracker.sdk.run.Run`.
        how: ``"display"`` (build the page and show it below the cell; returns the panel),
            ``"ipython"`` (what the object shows at the end of a cell: its page), ``"html"``
            (static HTML, returned as a string), ``"text"`` (the text summary, returned as a
            string). Outside a kernel ``"display"`` and ``"ipython"`` print the text summary and
            return None (widgets need a kernel and a browser); ``hidden=True`` still builds the
            page without showing it, anywhere.
        kwargs: passed to the page (``height``, ``hidden``).
    """
    from tracker.ui import panel
    from tracker.ui.bokeh import in_kernel

    if how not in HOW:
        raise ValueError(f"how={how!r} is not one of {HOW}")
    if how == "text":
        return summary_text(obj)
    if how != "html" and not kwargs.get("hidden") and not in_kernel():
        print(summary_text(obj))  # hidden=True still builds the page: it is asked for, not shown
        return None

    from tracker.api.public import Run, Runs

    if isinstance(obj, Runs):
        from tracker.ui import project, static

        if how == "html":
            return static.runs_html(obj)
        return project.display_runs(obj, **kwargs)
    if isinstance(obj, Run):
        from tracker.ui import static

        if how == "html":
            return static.run_html(obj)
        return panel.display_run(obj, **kwargs)
    return _render_live(obj, how, **kwargs)


def _render_live(live: Any, how: str, **kwargs: Any) -> Any:
    """The page of a run this process is writing: read back through the read API, with ``live``
    taking the edits (notes, tags, properties) while it runs."""
    from tracker.api.public import Api
    from tracker.store import layout
    from tracker.ui import panel

    # <root>/<project>/<run_id>; a run spooled for an s3:// store is read from the bucket (its
    # spool goes away once uploaded)
    root = layout.source_of(os.path.dirname(os.path.dirname(live.dir)))
    if how == "ipython":
        return live.display()  # flushes first, and a page that cannot show only warns
    run = Api(dir=root).run(live.path)
    if how == "html":
        from tracker.ui import static

        return static.run_html(run)
    return panel.display_run(run, live=live, **kwargs)


# --- text summaries: what a run or a run list says outside a kernel -------------------------------
def summary_text(obj: Any) -> str:
    """A few lines about a run (name, state, path, duration, last step, the last values of up to
    :data:`TEXT_METRICS` metrics of its summary) or a run list (its first :data:`TEXT_RUNS` rows).

    Args:
        obj: a read-side run or run list, or a live run of this process.
    """
    if hasattr(obj, "records") and hasattr(obj, "project"):  # tracker.api.public.Runs
        return _runs_text(obj)
    if hasattr(obj, "last_step"):  # a read-side run
        summary, last, seconds = obj.summary, obj.last_step, obj.duration
    else:  # the live run: its own state, nothing read back from the store
        import time

        status = obj.status()
        summary = obj.summary.as_dict()
        last = status.get("last_step")
        end = status.get("finished_at")
        seconds = (end if isinstance(end, (int, float)) else time.time()) - float(status.get("started_at") or 0)
    from tracker.ui.static import duration

    lines = [
        f"tracker run {obj.name} ({obj.path}): {obj.state}",
        f"  dir:       {obj.dir}",
        f"  duration:  {duration(seconds)}",
        f"  last step: {last if isinstance(last, int) and last >= 0 else 'none logged'}",
    ]
    metrics = _metrics(summary)
    for i, (key, value) in enumerate(metrics[:TEXT_METRICS]):
        lines.append(f"  {'summary:' if i == 0 else '':<10} {key} = {value}")
    if len(metrics) > TEXT_METRICS:
        lines.append(f"  {'':<10} ({len(metrics) - TEXT_METRICS} more in run.summary)")
    return "\n".join(lines)


def _metrics(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary's numbers, flattened (``val/acc``, ``val.loss``), formatted."""
    from tracker.ui.static import flat_items, fmt

    return [(k, fmt(v)) for k, v in flat_items(summary)
            if isinstance(v, (int, float)) and not isinstance(v, bool)]


def _runs_text(runs: Any) -> str:
    from tracker.ui.static import duration, fmt

    records = runs.records()
    head = f"tracker runs of {runs.project or 'every project'}: {len(records)} run{'s' * (len(records) != 1)}"
    if not records:
        return head
    counts: dict[str, int] = {}
    for rec in records:
        for k, v in rec.items():
            if k.startswith("summary.") and isinstance(v, (int, float)) and not isinstance(v, bool):
                counts[k] = counts.get(k, 0) + 1
    metrics = sorted(counts, key=lambda k: -counts[k])[:3]  # the metrics most runs have
    columns = ["name", "state", "duration", "last_step", *metrics]
    rows = [[str(c) for c in columns]]
    for rec in records[:TEXT_RUNS]:
        cells = [str(rec.get("name") or rec.get("id")), str(rec.get("state")),
                 duration(rec.get("duration")), fmt(rec.get("last_step"))]
        rows.append(cells + [fmt(rec.get(k)) for k in metrics])
    widths = [min(40, max(len(r[i]) for r in rows)) for i in range(len(columns))]
    lines = [head] + ["  " + "  ".join(c[:w].ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                      for r in rows]
    if len(records) > TEXT_RUNS:
        lines.append(f"  ({len(records) - TEXT_RUNS} more: runs.to_pandas() has the whole table)")
    return "\n".join(lines)
