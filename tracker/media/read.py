"""Reading logged media back: ``Api().run(path).media(key, step)``."""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class MediaItem:
    """One logged media object: where and when it was logged, its facts, and its file."""

    def __init__(self, run_dir: str, key: str, step: int, time: float, record: dict[str, Any]) -> None:
        self.key = key
        self.step = step
        self.time = time
        self.record = record
        self.kind: str = record.get("_type", "media")
        self.id: str | None = record.get("id")
        self.caption: str | None = record.get("caption")
        self.path: str | None = os.path.join(run_dir, record["file"]) if record.get("file") else None

    def __getattr__(self, name: str) -> Any:
        try:
            return self.record[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return f"<MediaItem {self.kind} {self.key!r} step {self.step}>"

    def read_bytes(self) -> bytes:
        if self.path is None:
            raise ValueError(f"a {self.kind} has no file: its data is in the record")
        with open(self.path, "rb") as fh:
            return fh.read()

    def load(self) -> Any:
        """The data: an image as a numpy array (H x W x C), audio as ``(samples, sample_rate)``,
        HTML as text, a table as a pandas DataFrame, a histogram as ``{"bins", "counts"}``."""
        if self.kind == "histogram":
            return {"bins": self.record["bins"], "counts": self.record["counts"]}
        if self.kind == "image":
            import io

            import numpy as np
            from PIL import Image

            with Image.open(io.BytesIO(self.read_bytes())) as im:
                return np.asarray(im)
        if self.kind == "audio" and self.record.get("format") == "wav":
            import io
            import wave

            import numpy as np

            with wave.open(io.BytesIO(self.read_bytes())) as w:
                frames = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
                channels = w.getnchannels()
                return (frames.reshape(-1, channels) if channels > 1 else frames), w.getframerate()
        if self.kind == "html":
            return self.read_bytes().decode("utf-8")
        if self.kind == "table":
            import pyarrow.parquet as pq

            return pq.read_table(self.path).to_pandas()
        return self.read_bytes()


def read_index(run: Any, key: str | None, step: int | None, kind: str | None) -> list[MediaItem]:
    from tracker.api import history

    table = history.read_long(run._stream_dir("media"), keys=[key] if key else None,
                              min_step=step, max_step=None if step is None else step + 1)
    if table is None:
        return []
    out = []
    keys = table.column("key").cast("string").to_pylist()
    for k, s, t, text in zip(keys, table.column("step").to_pylist(), table.column("time").to_pylist(),
                             table.column("text").to_pylist(), strict=True):
        record = json.loads(text)
        if kind is None or record.get("_type") == kind:
            out.append(MediaItem(run.dir, k, s, t, record))
    out.sort(key=lambda m: (m.step, m.key, m.record.get("index", 0)))
    return out
