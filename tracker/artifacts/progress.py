"""Progress bars: bytes of artifact transfers over a few MB (hashing, storing, downloading,
verifying, ``tracker sync``), and items (runs an importer writes).

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
    """A counting bar; ``update(n)`` may be called from several threads.

    Args:
        total: bytes (``unit="B"``) or items (any other unit, e.g. ``"run"``).
        desc: what is being done.
        stream: draw the text bar there (tqdm is not used).
        unit: ``"B"`` (shown in MB with a rate) or the name of an item.
        leave: keep tqdm's bar after :meth:`close`.
    """

    def __init__(self, total: int, desc: str, stream: Any = None, unit: str = "B", leave: bool = False) -> None:
        self.total = max(total, 1)
        self.desc = desc
        self.unit = unit
        self.done = 0
        self.label = ""
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
                self._tqdm = tqdm(total=total, desc=desc, unit=unit, unit_scale=unit == "B", leave=leave)

    def update(self, n: int, label: str | None = None) -> None:
        """Count ``n`` more; ``label`` names the item just done (shown beside the bar)."""
        with self._lock:
            self.done += n
            if label is not None:
                self.label = label[-40:]
            if self._tqdm is not None:
                if label is not None:
                    self._tqdm.set_postfix_str(self.label, refresh=False)
                self._tqdm.update(n)
                return
            now = time.monotonic()
            if now - self._last >= 0.25 or self.done >= self.total or self.unit != "B":
                self._last = now
                self._draw(now)

    def _draw(self, now: float) -> None:
        stream = self._stream or sys.stderr
        frac = min(self.done / self.total, 1.0)
        width = 24
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        if self.unit == "B":
            rate = self.done / max(now - self._start, 1e-9) / 1e6
            figures = f"{frac:4.0%} {self.done / 1e6:,.0f}/{self.total / 1e6:,.0f} MB {rate:,.0f} MB/s"
        else:
            figures = f"{self.done}/{self.total} {self.label:<40}"
        stream.write(f"\r{self.desc} [{bar}] {figures}")
        stream.flush()

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()
            return
        self._draw(time.monotonic())
        (self._stream or sys.stderr).write("\n")


class _NoBar:
    def update(self, n: int, label: str | None = None) -> None:
        pass

    def close(self) -> None:
        pass


def bar(total: int, desc: str, enabled: bool = True) -> Progress | _NoBar:
    """A bar for ``total`` bytes, or one that shows nothing for small transfers."""
    if not enabled or total < THRESHOLD:
        return _NoBar()
    return Progress(total, desc)


def items_bar(total: int, desc: str, unit: str, enabled: bool = True) -> Progress | _NoBar:
    """A bar over ``total`` items (runs), kept on screen when done; nothing for none."""
    if not enabled or total <= 0:
        return _NoBar()
    return Progress(total, desc, unit=unit, leave=True)
