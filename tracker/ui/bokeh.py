"""jupyter_bokeh's widget, as the panels use it.

- Closed once however often it is asked to (its own ``close`` raises the second time, e.g. when a
  replaced chart is garbage-collected after being closed).
- Closed *late*: a chart replaced in a panel (a new comparison, a new layout) is first taken out of
  the page, and its view in the browser sends a last burst of messages as it goes (sizes, layout);
  closing the kernel's side of the comm at once made each of those an ipykernel "No such comm"
  error (~50 per ticked run in the run table). ``close()`` detaches at once and closes the comm
  when the widget has been quiet for a while (:data:`RETIRE_SECONDS`), on one reaper thread.
- Its root model carries the tag ``tracker-theme``: the lab extension (``nbtheme.ts``) recolours the
  neutral colours of such documents for JupyterLab's dark themes in the page, live.
"""

from __future__ import annotations

import sys
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_cls: Any = None
#: The tag by which the lab extension knows the Bokeh documents to theme.
THEME_TAG = "tracker-theme"
#: A retired widget's comm is closed once no message came from its view for this long.
RETIRE_SECONDS = 3.0

_retiring: list[Any] = []
_lock = threading.Lock()
_reaper: threading.Thread | None = None


def _reap() -> None:
    """Close the retired widgets that have been quiet long enough; end when none is left."""
    global _reaper
    while True:
        time.sleep(RETIRE_SECONDS / 3)
        now = time.monotonic()
        with _lock:
            due = [w for w in _retiring if now - w.last_message >= RETIRE_SECONDS]
            for w in due:
                _retiring.remove(w)
            if not _retiring and not due:
                _reaper = None
                return
        for w in due:
            w.close_now()


def in_kernel() -> bool:
    """True in a Jupyter kernel (where widgets can show), False in a terminal or a script."""
    ip = sys.modules.get("IPython")
    shell = ip.get_ipython() if ip is not None else None
    return getattr(shell, "kernel", None) is not None


def close_retired() -> None:
    """Close every retired widget now (a panel closed for good, or the end of a test)."""
    with _lock:
        due = list(_retiring)
        _retiring.clear()
    for w in due:
        w.close_now()


def bokeh_widget(model: Any, **kwargs: Any) -> Any:
    """A ``jupyter_bokeh.BokehModel`` showing a Bokeh layout or figure."""
    global _cls
    if _cls is None:
        from jupyter_bokeh import BokehModel

        class TrackerBokehModel(BokehModel):  # type: ignore[misc]
            _closed_once = False
            last_message = 0.0

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.on_msg(self._heard)  # the view's messages (jupyter_bokeh sends custom ones)

            def _heard(self, *_args: Any) -> None:
                self.last_message = time.monotonic()

            def close(self) -> None:
                """Close the comm once its view in the browser has gone quiet (see the module)."""
                global _reaper
                if self._closed_once:
                    return
                self._closed_once = True
                if getattr(self, "comm", None) is None:
                    return
                if sys.is_finalizing() or not in_kernel():  # no view to wait for, or no thread to start
                    self.close_now()
                    return
                self.last_message = max(self.last_message, time.monotonic())
                with _lock:
                    _retiring.append(self)
                    if _reaper is None:
                        _reaper = threading.Thread(target=_reap, name="tracker-widget-reaper", daemon=True)
                        _reaper.start()

            def close_now(self) -> None:
                self._closed_once = True
                try:
                    super().close()
                except KeyError:  # already detached from its document
                    pass

        _cls = TrackerBokehModel
    if THEME_TAG not in model.tags:
        model.tags = [*model.tags, THEME_TAG]
    return _cls(model, **kwargs)
