"""jupyter_bokeh's widget, closed once however often it is asked to (its own ``close`` raises the
second time, e.g. when a replaced chart is garbage-collected after being closed)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_cls: Any = None


def bokeh_widget(model: Any, **kwargs: Any) -> Any:
    """A ``jupyter_bokeh.BokehModel`` showing a Bokeh layout or figure."""
    global _cls
    if _cls is None:
        from jupyter_bokeh import BokehModel

        class TrackerBokehModel(BokehModel):  # type: ignore[misc]
            _closed_once = False

            def close(self) -> None:
                if self._closed_once:
                    return
                self._closed_once = True
                try:
                    super().close()
                except KeyError:  # already detached from its document
                    pass

        _cls = TrackerBokehModel
    return _cls(model, **kwargs)
