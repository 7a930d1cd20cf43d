"""``run.alert``: alerts recorded with the run, rate-limited per title, and handed to the user's hooks.

An alert is one JSON line of the run's ``alerts.jsonl`` (``title``, ``text``, ``level``, ``time``,
``step``, ``notified``), appended by the run's own process. As in W&B, an alert whose title was
alerted less than ``wait_duration`` ago (default one minute) is not sent again: here it is still
recorded, with ``notified: false``, so nothing is lost, but no hook runs for it.

Sending is local: every callable registered with :func:`on_alert` is called, and the
``alert_command`` setting (a shell command) runs with the alert in its environment
(``TRACKER_ALERT_TITLE``, ``_TEXT``, ``_LEVEL``, ``_RUN``, ``_RUN_DIR``, ``_STEP``), e.g.
``notify-send "$TRACKER_ALERT_TITLE" "$TRACKER_ALERT_TEXT"`` for a desktop notification. Both run on
a background thread: a slow hook never stalls training; a failing one is reported, once per kind.
"""

from __future__ import annotations

import enum
import os
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class AlertLevel(str, enum.Enum):
    """How serious an alert is (W&B's names and values)."""

    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


#: Characters of a title (W&B: "less than 64 characters").
MAX_TITLE = 63
#: Seconds between two notified alerts of one title when ``wait_duration`` is not given (W&B's).
DEFAULT_WAIT = 60.0

_hooks: list[Callable[[dict[str, Any]], Any]] = []


def on_alert(callback: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
    """Call ``callback(alert)`` for every alert sent from now on, in any run of this process
    (``alert``: the recorded dict plus ``run``, the run's path, and ``run_dir``). Usable as a
    decorator; returns ``callback``. It runs on a background thread."""
    if not callable(callback):
        from tracker.errors import UsageError

        raise UsageError(f"on_alert() takes a callable, not {type(callback).__name__}")
    _hooks.append(callback)
    return callback


def remove_alert_hook(callback: Callable[[dict[str, Any]], Any]) -> None:
    """Stop calling a hook registered with :func:`on_alert` (no error when it is not registered)."""
    while callback in _hooks:
        _hooks.remove(callback)


def level_of(level: Any) -> str | None:
    """``AlertLevel`` or its name (any case) -> the level's name; None for anything else."""
    if level is None:
        return AlertLevel.INFO.value
    if isinstance(level, AlertLevel):
        return level.value
    if isinstance(level, str) and level.upper() in AlertLevel.__members__:
        return level.upper()
    if isinstance(level, str) and level.upper() == "WARNING":
        return AlertLevel.WARN.value
    return None


def wait_seconds(wait_duration: Any) -> float | None:
    """``wait_duration`` (seconds as int/float, or a ``timedelta``) in seconds; None when invalid."""
    if wait_duration is None:
        return DEFAULT_WAIT
    if isinstance(wait_duration, bool):
        return None
    if isinstance(wait_duration, (int, float)):
        return float(wait_duration) if wait_duration >= 0 else None
    total = getattr(wait_duration, "total_seconds", None)
    if callable(total):
        seconds = total()
        return float(seconds) if isinstance(seconds, (int, float)) and seconds >= 0 else None
    return None


class Alerts:
    """The alerts of one run: its ``alerts.jsonl``, the last notified time of each title, and sending.

    Args:
        path: the run's ``alerts.jsonl``.
        run_path: ``project/id``, given to hooks.
        run_dir: the run's folder, given to hooks.
        command: the ``alert_command`` setting (a shell command), or None.
        problem: reports what could not be done (``(kind...), message``).
    """

    def __init__(self, path: str, run_path: str, run_dir: str, command: str | None,
                 problem: Callable[[tuple[str, ...], str], None]) -> None:
        self.path = path
        self.run_path = run_path
        self.run_dir = run_dir
        self.command = command
        self.problem = problem
        self.last_sent: dict[str, float] = {}
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}  # by level, this run's earlier sessions' alerts included
        try:
            from tracker import _json

            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        level = _json.loads(line).get("level")
                    except (ValueError, AttributeError):
                        continue  # a line cut by a crash
                    self.counts[str(level)] = self.counts.get(str(level), 0) + 1
        except OSError:
            pass

    def status(self) -> dict[str, Any] | None:
        """``{"count": n, "worst": level}`` for the run's status record (None before any alert)."""
        total = sum(self.counts.values())
        if not total:
            return None
        worst = next((lv for lv in ("ERROR", "WARN") if self.counts.get(lv)), "INFO")
        return {"count": total, "worst": worst}

    def add(self, title: str, text: str, level: str, wait: float, step: int) -> dict[str, Any]:
        """Record an alert, and send it unless its title was sent less than ``wait`` seconds ago."""
        from tracker.store import layout

        now = time.time()
        with self.lock:
            last = self.last_sent.get(title)
            notified = last is None or now - last >= wait
            if notified:
                self.last_sent[title] = now
        record = {"title": title, "text": text, "level": level, "time": now, "step": step, "notified": notified}
        self.counts[level] = self.counts.get(level, 0) + 1
        try:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(layout.dumps(record) + "\n")
        except OSError as exc:
            self.problem(("alert-write",), f"alert {title!r} could not be recorded ({exc.strerror or exc}); "
                         "it is still sent")
        if notified and (_hooks or self.command):
            payload = {**record, "run": self.run_path, "run_dir": self.run_dir}
            threading.Thread(target=self._send, args=(payload, list(_hooks)), name="tracker-alert",
                             daemon=True).start()
        return record

    def _send(self, alert: dict[str, Any], hooks: list[Callable[[dict[str, Any]], Any]]) -> None:
        for hook in hooks:
            try:
                hook(dict(alert))
            except Exception as exc:  # noqa: BLE001 - a user's hook must not stop the run
                name = getattr(hook, "__qualname__", repr(hook))
                self.problem(("alert-hook", name), f"the alert hook {name} failed ({type(exc).__name__}: {exc})")
        if self.command:
            import subprocess

            env = {**os.environ, "TRACKER_ALERT_TITLE": alert["title"], "TRACKER_ALERT_TEXT": alert["text"],
                   "TRACKER_ALERT_LEVEL": alert["level"], "TRACKER_ALERT_RUN": alert["run"],
                   "TRACKER_ALERT_RUN_DIR": alert["run_dir"], "TRACKER_ALERT_STEP": str(alert["step"])}
            try:  # the command is the user's own setting; the alert reaches it only through env
                proc = subprocess.run(self.command, shell=True, env=env, capture_output=True,  # noqa: S602
                                      timeout=60, check=False)
                if proc.returncode != 0:
                    err = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
                    self.problem(("alert-command", str(proc.returncode)),
                                 f"alert_command exited with {proc.returncode}: {err[0][:200]}")
            except (OSError, subprocess.TimeoutExpired) as exc:
                self.problem(("alert-command", type(exc).__name__), f"alert_command could not run ({exc})")
