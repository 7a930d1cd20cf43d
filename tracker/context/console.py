"""Console capture: stdout and stderr lines, timestamped and tagged with their stream.

Modes (setting ``console``):

- ``"wrap"`` (default): ``sys.stdout`` and ``sys.stderr`` are wrapped; what Python code prints
  (in scripts and in notebooks, where they are ipykernel's streams) is captured and still shown.
- ``"redirect"``: file descriptors 1 and 2 are redirected through pipes, so output of C
  extensions and of child processes is captured too; everything is passed on to the real output.
- ``"off"``: nothing is captured.

Carriage returns collapse: a progress bar that redraws itself with ``\\r`` is stored as the line it
ends as, not as thousands of redraws.
"""

from __future__ import annotations

import os
import sys
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

MAX_LINE = 10_000  # characters kept of one line; longer lines are cut with a marker


def visible(text: str) -> str:
    """What a terminal shows of one line after its carriage returns."""
    text = text.rstrip("\r")
    cut = text.rfind("\r")
    return text[cut + 1 :] if cut >= 0 else text


def _compress(rest: str) -> str:
    body = rest.rstrip("\r")
    cut = body.rfind("\r")
    return (body[cut:] if cut >= 0 else body) + rest[len(body):]


class LineSink:
    """Assembles written text into lines and hands each finished line over."""

    def __init__(self, emit: Callable[[str, str], None]) -> None:
        self.emit = emit
        self.partial: dict[str, str] = {}
        self.lock = threading.Lock()
        self.failure: BaseException | None = None
        self.closed = False  # after close, a stray reference to the tee only passes text through

    def feed(self, stream: str, text: str) -> None:
        if not text or self.closed:
            return
        with self.lock:
            buf = self.partial.get(stream, "") + text
            *lines, rest = buf.split("\n")
            # keep only what the terminal would still show of the unfinished line (with a trailing
            # carriage return, so the next write still overwrites it)
            self.partial[stream] = _compress(rest) if "\r" in rest else rest[-MAX_LINE * 2 :]
        for line in lines:
            self._emit(stream, visible(line))

    def _emit(self, stream: str, line: str) -> None:
        if len(line) > MAX_LINE:
            line = line[:MAX_LINE] + f" [tracker: line cut at {MAX_LINE} of {len(line)} characters]"
        self.emit(stream, line)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            rest = {k: v for k, v in self.partial.items() if v}
            self.partial.clear()
        for stream, text in rest.items():
            self._emit(stream, visible(text))


class _Tee:
    """Stands in for ``sys.stdout``/``sys.stderr``: writes through, and copies to the sink."""

    def __init__(self, stream: Any, name: str, sink: LineSink) -> None:
        self._tracker_stream = stream
        self._tracker_name = name
        self._tracker_sink = sink

    def write(self, text: str) -> int:
        n = self._tracker_stream.write(text)
        try:
            self._tracker_sink.feed(self._tracker_name, text if isinstance(text, str) else str(text))
        except Exception as exc:  # noqa: BLE001 - capture must never break printing
            self._tracker_sink.failure = exc  # the text was printed; the run says at finish what was lost
        return n

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tracker_stream, name)


class ConsoleCapture:
    """Captures the process's console into ``append((line_no, time, {stream: line}))`` rows."""

    def __init__(self, append: Callable[[tuple[int, float, dict[str, Any]]], None], mode: str = "wrap") -> None:
        self.append = append
        self.mode = mode
        self.lines = 0
        self._count_lock = threading.Lock()
        self.sink = LineSink(self._line)
        self._wrapped: list[tuple[str, Any, _Tee]] = []
        self._redirects: list[tuple[int, int, int, threading.Thread]] = []

    def _line(self, stream: str, line: str) -> None:
        with self._count_lock:
            n = self.lines
            self.lines += 1
        self.append((n, time.time(), {stream: line}))

    def start(self) -> None:
        if self.mode == "wrap":
            for name in ("stdout", "stderr"):
                current = getattr(sys, name)
                if current is None:
                    continue
                tee = _Tee(current, name, self.sink)
                setattr(sys, name, tee)
                self._wrapped.append((name, current, tee))
        elif self.mode == "redirect":
            for name, fd in (("stdout", 1), ("stderr", 2)):
                self._redirect(name, fd)

    def _redirect(self, name: str, fd: int) -> None:
        stream = getattr(sys, name)
        if stream is not None:
            stream.flush()
        saved = os.dup(fd)
        r, w = os.pipe()
        os.dup2(w, fd)
        os.close(w)

        def pump() -> None:
            decoder_buf = b""
            while True:
                try:
                    chunk = os.read(r, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                os.write(saved, chunk)
                decoder_buf += chunk
                try:
                    text = decoder_buf.decode("utf-8")
                    decoder_buf = b""
                except UnicodeDecodeError:
                    continue  # a multi-byte character split across reads: wait for the rest
                self.sink.feed(name, text)
            os.close(r)

        t = threading.Thread(target=pump, name=f"tracker-console-{name}", daemon=True)
        t.start()
        self._redirects.append((fd, saved, r, t))

    def detach(self) -> None:
        """In a forked child: put the original streams back without flushing into the run."""
        for name, original, tee in self._wrapped:
            if getattr(sys, name) is tee:
                setattr(sys, name, original)
        self._wrapped.clear()
        self._redirects.clear()

    def stop(self) -> None:
        """Restore the streams (where nobody replaced them since) and flush unfinished lines."""
        for name, original, tee in self._wrapped:
            if getattr(sys, name) is tee:
                setattr(sys, name, original)
        self._wrapped.clear()
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if stream is not None and self._redirects:
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
        for fd, saved, _r, t in self._redirects:
            os.dup2(saved, fd)  # closes the pipe's write end: the pump sees EOF
            t.join(timeout=5)
            os.close(saved)
        self._redirects.clear()
        self.sink.close()
