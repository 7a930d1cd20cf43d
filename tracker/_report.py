"""How a tracking problem reaches the user: one clear warning per kind of problem, never a crash.

Training must never stop because tracking failed. Each problem is reported once per run (with a
count of repeats at ``finish``); with the ``strict`` setting it is raised instead, which is what the
test-suite uses. Problems found on the writer thread are re-raised on the user's next call when
strict, because an exception on a background thread reaches nobody.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from collections import Counter
from collections.abc import Callable, Hashable

from tracker.errors import TrackerWarning, TrackingFailure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _outside_stacklevel(fallback: int) -> int:
    """The ``stacklevel`` (for a ``warnings.warn`` in :meth:`Reporter.problem`) of the first frame
    outside this package: the user's line, however deep inside the tracker the problem was found.
    ``fallback`` when every frame is the tracker's own."""
    frame: FrameType | None = sys._getframe(2)  # the caller of Reporter.problem: stacklevel 2
    level = 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    return fallback if frame is None else level


def warn_user(text: str) -> None:
    """``warnings.warn(text, TrackerWarning)`` pointing at the user's line: the first frame of the
    stack outside this package (for warnings given before a run exists, e.g. by ``init``)."""
    warnings.warn(text, TrackerWarning, stacklevel=_outside_stacklevel(2))


class Reporter:
    """Reports tracking problems for one run.

    Args:
        strict: raise :class:`TrackingFailure` instead of warning.
        label: names the run in every message (``"run abc123"``).
    """

    def __init__(self, strict: bool, label: str) -> None:
        self.strict = strict
        self.label = label
        self._lock = threading.Lock()
        self._counts: Counter[Hashable] = Counter()
        self._messages: dict[Hashable, str] = {}
        self._pending: TrackingFailure | None = None
        #: called when a background failure is kept (strict): the run leaves its fast path so the
        #: next log() raises it
        self.on_pending: Callable[[], None] | None = None

    def problem(self, kind: Hashable, message: str, *, stacklevel: int = 3) -> None:
        """Report a problem found on the caller's thread.

        Args:
            kind: identifies the problem; the same kind is warned about once.
            message: says what was dropped or skipped, and why.
            stacklevel: for :func:`warnings.warn` when no frame of the stack is outside the
                tracker; otherwise the warning points at the first frame that is (user code).

        Raises:
            TrackingFailure: when strict.
        """
        text = f"tracker ({self.label}): {message}"
        if self.strict:
            raise TrackingFailure(text)
        with self._lock:
            self._counts[kind] += 1
            if self._counts[kind] > 1:
                return
            self._messages[kind] = message
        warnings.warn(text, TrackerWarning, stacklevel=_outside_stacklevel(stacklevel))

    def background_problem(self, kind: Hashable, message: str) -> None:
        """Report a problem found on a background thread (the writer, a sampler).

        When strict, the failure is kept and raised by the next :meth:`raise_pending` call on the
        user's thread; otherwise it is warned about once.
        """
        text = f"tracker ({self.label}): {message}"
        with self._lock:
            self._counts[kind] += 1
            first = self._counts[kind] == 1
            if first:
                self._messages[kind] = message
            newly_pending = self.strict and self._pending is None
            if newly_pending:
                self._pending = TrackingFailure(text)
        if newly_pending and self.on_pending is not None:
            self.on_pending()
        if first and not self.strict:
            warnings.warn(text, TrackerWarning, stacklevel=2)

    def raise_pending(self) -> None:
        """Raise a failure kept from a background thread (strict mode only)."""
        if self._pending is not None:
            failure, self._pending = self._pending, None
            raise failure

    def count(self, kind: Hashable) -> int:
        """How many times a problem of this kind was reported."""
        return self._counts[kind]

    def repeats_summary(self) -> list[str]:
        """One line per problem that happened more than once, for the message at ``finish``."""
        with self._lock:
            return [
                f"{self._messages[k]} (happened {n} times in all)"
                for k, n in self._counts.items()
                if n > 1
            ]
