"""The one door from the layers below into the notebook layer.

The logging API (``tracker.sdk``) and the read API (``tracker.api``) never import the panels. Their
``display()``, ``_ipython_display_`` and ``_repr_html_`` methods call :func:`render`, and nothing
else below ``tracker.ui`` calls up; the import-linter contracts in ``pyproject.toml`` name these
calls as the only exceptions to "layers only point down".
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HOW = ("display", "ipython", "html")


def render(obj: Any, how: str, **kwargs: Any) -> Any:
    """Show ``obj`` (a read-side run, a run list, or this process's live run) in the notebook.

    Args:
        obj: :class:`tracker.api.public.Run`, :class:`tracker.api.public.Runs`, or the live
            :class:`tracker.sdk.run.Run`.
        how: ``"display"`` (build the page and show it below the cell; returns the panel),
            ``"ipython"`` (what the object shows at the end of a cell: its page in a kernel, text or
            static HTML elsewhere), ``"html"`` (static HTML, returned as a string).
        kwargs: passed to the page (``height``, ``hidden``).
    """
    from tracker.api.public import Run, Runs

    if how not in HOW:
        raise ValueError(f"how={how!r} is not one of {HOW}")
    if isinstance(obj, Runs):
        from tracker.ui import project, static

        if how == "display":
            return project.display_runs(obj, **kwargs)
        if how == "html":
            return static.runs_html(obj)
        return _show_or_static(obj)
    if isinstance(obj, Run):
        from tracker.ui import panel, static

        if how == "display":
            return panel.display_run(obj, **kwargs)
        if how == "html":
            return static.run_html(obj)
        return _show_or_static(obj)
    return _render_live(obj, how, **kwargs)


def _render_live(live: Any, how: str, **kwargs: Any) -> Any:
    """The page of a run this process is writing: read back through the read API, with ``live``
    taking the edits (notes, tags, properties) while it runs."""
    from tracker.api.public import Api
    from tracker.ui import panel

    root = os.path.dirname(os.path.dirname(live.dir))  # <root>/<project>/<run_id>
    if how == "ipython":
        if panel.in_kernel():
            return live.display()  # flushes first, and a page that cannot show only warns
        print(repr(live))
        return None
    run = Api(dir=root).run(live.path)
    if how == "html":
        from tracker.ui import static

        return static.run_html(run)
    return panel.display_run(run, live=live, **kwargs)


def _show_or_static(obj: Any) -> None:
    from IPython.display import HTML, display

    from tracker.ui import panel

    if panel.in_kernel():
        render(obj, "display")
    else:
        display(HTML(render(obj, "html")))
