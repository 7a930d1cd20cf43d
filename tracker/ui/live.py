"""One background thread that keeps every open run page up to date while its run is written.

Panels register when they are shown on a running run; the thread refreshes each at most
``RATE`` times a second (whatever the loop's logging rate), from outside the cell's thread, so the
updates reach the browser while a cell is busy. A panel whose run has ended gets one last refresh
(and its static snapshot refreshed) and leaves the list; the thread ends when the list is empty.
"""

from __future__ import annotations

import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Refreshes per second and panel.
RATE = 4.0

_lock = threading.Lock()
_panels: list[Any] = []
_thread: threading.Thread | None = None
_wake = threading.Event()


def register(panel: Any) -> None:
    global _thread
    with _lock:
        if panel not in _panels:
            _panels.append(panel)
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_loop, name="tracker-panels", daemon=True)
            _thread.start()
    _wake.set()


def unregister(panel: Any) -> None:
    with _lock:
        if panel in _panels:
            _panels.remove(panel)


def active() -> list[Any]:
    with _lock:
        return list(_panels)


def _loop() -> None:
    period = 1.0 / RATE
    while True:
        start = time.monotonic()
        panels = active()
        if not panels:
            return
        for panel in panels:
            try:
                running = panel.refresh()
            except Exception as exc:  # noqa: BLE001 - the updater never dies on one panel's failure
                panel.report_error(exc)
                running = True
            if not running or panel.closed:
                unregister(panel)
                finished(panel)
        _wake.wait(max(0.05, period - (time.monotonic() - start)))
        _wake.clear()


def finished(panel: Any) -> None:
    """The run has ended: refresh the snapshot kept in the notebook."""
    handle = getattr(panel, "snapshot_handle", None)
    if handle is None:
        return
    from tracker.ui import snapshot

    try:
        handle.update(snapshot.run_snapshot(panel.run), raw=True)
    except Exception as exc:  # noqa: BLE001
        panel.report_error(exc)
