"""Progress bars for artifact transfers over a few MB (hashing, storing, downloading, verifying).

tqdm's bar when tqdm is installed (``tqdm.auto``: a widget in notebooks); otherwise a text bar on
stderr, redrawn in place with a carriage return at most four times a second (Jupyter redraws it
in place too, and the console capture stores only its final state).
"""

from __future__ import annotations

import sys
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Transfers smaller than this show no bar.
THRESHOLD = 8 * 1024 * 1024


class Progress:
    """A byte-counting bar; ``update(n)`` may be called from several threads."""

    def __init__(self, total: int, desc: str, stream: Any = None) -> None:
        self.total = max(total, 1)
        self.desc = desc
        self.done = 0
        self._lock = threading.Lock()
        self._last = 0.0
        self._start = time.monotonic()
        self._stream = stream
        self._tqdm: Any = None
        if stream is None:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._tqdm = tqdm(total=total, desc=desc, unit="B", unit_scale=True, leave=False)

    def update(self, n: int) -> None:
        with self._lock:
            self.done += n
            if self._tqdm is not None:
                self._tqdm.update(n)
                return
            now = time.monotonic()
            if now - self._last >= 0.25 or self.done >= self.total:
                self._last = now
                self._draw(now)

    def _draw(self, now: float) -> None:
        stream = self._stream or sys.stderr
        frac = min(self.done / self.total, 1.0)
        width = 24
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        rate = self.done / max(now - self._start, 1e-9) / 1e6
        stream.write(f"\r{self.desc} [{bar}] {frac:4.0%} {self.done / 1e6:,.0f}/{self.total / 1e6:,.0f} MB {rate:,.0f} MB/s")
        stream.flush()

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()
            return
        self._draw(time.monotonic())
        (self._stream or sys.stderr).write("\n")


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def bar(total: int, desc: str, enabled: bool = True) -> Progress | _NoBar:
    """A bar for ``total`` bytes, or one that shows nothing for small transfers."""
    if not enabled or total < THRESHOLD:
        return _NoBar()
    return Progress(total, desc)
