"""Process hooks that give every run a final state, however the process ends.

- normal exit (``atexit``): ``finished``, or ``failed`` when ``sys.exit`` got a non-zero code;
- an uncaught exception (``sys.excepthook``): ``failed``, with the exception (type, message,
  traceback) recorded in ``status.json`` after the traceback is printed (so the run's console has
  it too); ``KeyboardInterrupt``: ``killed``;
- SIGTERM (when nobody else handles it): ``killed``, then the default action;
- kill -9 or a power cut: nothing runs; readers derive ``crashed`` from the dead pid or an old
  heartbeat.

A forked child inherits its parent's runs but must not write them: they are switched off there.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading

from tracker.sdk import state

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

try:  # the C module: `signal` builds enums at import (~4 ms on the path of init)
    import _signal as _sig
except ImportError:  # pragma: no cover - not CPython
    import signal as _sig  # type: ignore[no-redef]

_installed = False
_exit_code: Any = None


def install() -> None:
    """Install the hooks once per process."""
    global _installed
    if _installed:
        return
    _installed = True
    atexit.register(_at_exit)
    previous_hook = sys.excepthook

    def excepthook(exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            previous_hook(exc_type, exc, tb)  # printed first: the run's console capture still sees it
        finally:
            killed = isinstance(exc_type, type) and issubclass(exc_type, KeyboardInterrupt)
            _end_all("killed" if killed else "failed", 255 if killed else 1, None if killed else (exc, tb))

    sys.excepthook = excepthook
    _wrap_sys_exit()
    if threading.current_thread() is threading.main_thread():
        try:
            if _sig.getsignal(_sig.SIGTERM) in (_sig.SIG_DFL, None):
                _sig.signal(_sig.SIGTERM, _on_sigterm)
        except (ValueError, OSError, AttributeError):
            pass  # no signals here (an embedded interpreter): states still come from atexit
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)


def _wrap_sys_exit() -> None:
    original = sys.exit

    def exit(code: Any = None) -> None:
        global _exit_code
        _exit_code = code
        original(code)

    exit.__doc__ = original.__doc__
    sys.exit = exit  # type: ignore[assignment]


def _end_all(run_state: str, code: Any, failure: tuple[Any, Any] | None = None) -> None:
    """End every active run; ``failure`` is ``(exception, traceback)`` to record first."""
    for run in list(state.active):
        if failure is not None and isinstance(failure[0], BaseException):
            run.record_exception(failure[0], failure[1])  # never raises (a disabled run ignores it)
        run.finish_as(run_state, code)


def _at_exit() -> None:
    code = _exit_code
    if code is None or code == 0:
        _end_all("finished", 0)
    else:
        _end_all("failed", code if isinstance(code, int) else 1)


def _on_sigterm(signum: int, frame: Any) -> None:
    _end_all("killed", 128 + signum)
    _sig.signal(_sig.SIGTERM, _sig.SIG_DFL)
    os.kill(os.getpid(), _sig.SIGTERM)


def _after_fork_in_child() -> None:
    for run in list(state.active):
        run.detach_after_fork()  # its log() says why a child's values are dropped; no console capture
    state.active.clear()
    state.current = None
