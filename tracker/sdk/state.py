"""The process-wide run registry behind ``tracker.run``, ``tracker.log`` and the exit hooks.

The one piece of module-level mutable state in the package: which runs this process has open,
and which one the module-level functions act on (W&B's ``wandb.run``).
"""

from __future__ import annotations

import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_lock = threading.Lock()
current: Any = None  # the run that tracker.log / tracker.config / tracker.summary act on
active: list[Any] = []  # every unfinished run of this process, oldest first


def add(run: Any, make_current: bool) -> None:
    global current
    with _lock:
        active.append(run)
        if make_current:
            current = run


def forget(run: Any) -> None:
    """Called when a run ends: it is no longer active nor current."""
    global current
    with _lock:
        if run in active:
            active.remove(run)
        if current is run:
            current = None


def newest_active() -> Any:
    with _lock:
        return active[-1] if active else None
