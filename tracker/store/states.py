"""Run states: which exist, which a writer writes, which mean "still being written", and the state
a reader derives from a status record.

``crashed`` and ``preempted`` are never written: a ``running`` (``preempting``) run whose writer is
gone reads as ``crashed`` (``preempted``).
"""

from __future__ import annotations

import time

from tracker.store import layout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Every state a reader can see.
STATES = ("running", "finished", "failed", "crashed", "killed", "preempting", "preempted")
#: The states a writer writes into ``status.json``.
WRITTEN_STATES = ("running", "finished", "failed", "killed", "preempting")
#: The states of a run whose writer is still writing it.
LIVE_STATES = ("running", "preempting")


def is_live(state: str | None) -> bool:
    """True for a run that is still being written (``running`` or ``preempting``)."""
    return state in LIVE_STATES


def derive_state(status: dict[str, Any], now: float | None = None, timeout: float | None = None) -> str:
    """The state a reader reports for a run's status record.

    A ``running`` (or ``preempting``) run whose writer is gone reads as ``crashed`` (``preempted``):
    on this host when its pid is dead (or now belongs to another process); elsewhere when its
    heartbeat is older than ``timeout`` (default: the larger of 120 s and 6 heartbeats).
    """
    written = status.get("state") or "running"
    if not is_live(written):
        return written
    gone_state = "crashed" if written == "running" else "preempted"
    pid = status.get("pid")
    if status.get("host") == layout.HOSTNAME and isinstance(pid, int):
        alive = layout.process_alive(pid, status.get("pid_start"))
        if alive is not None:
            return written if alive else gone_state
    beat = status.get("heartbeat_at")
    if not isinstance(beat, (int, float)):
        return gone_state
    if timeout is None:
        timeout = max(120.0, 6 * float(status.get("heartbeat_interval") or 10.0))
    now = time.time() if now is None else now
    return written if now - beat <= timeout else gone_state
