"""Reading logged media back: ``Api().run(path).media(key, step)``.

The media index is one more stream of segments (``media``: key, step, and the record as JSON text);
the files it names live under the run's ``files/media`` folder.
"""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tracker.store.query import Query


class MediaItem:
    """One logged media object: where and when it was logged, its facts, and its file."""

    def __init__(self, run_dir: str, key: str, step: int, time: float, text: str) -> None:
        self.key = key
        self.step = step
        self.time = time
        self.run_dir = run_dir
        #: The stored record as JSON text (parsed into :attr:`record` when first asked).
        self.text = text
        self._record: dict[str, Any] | None = None

    @property
    def record(self) -> dict[str, Any]:
        """Everything stored about it (parsed when first asked: listing 10,000 items stays fast)."""
        if self._record is None:
            self._record = json.loads(self.text)
        return self._record

    @property
    def kind(self) -> str:
        """``image``, ``audio``, ``video``, ``html``, ``table``, ``histogram``, ``object3d``,
        ``figure`` or ``plot``."""
        return _kind_of(self.text)

    @property
    def id(self) -> str | None:
        return self.record.get("id")

    @property
    def caption(self) -> str | None:
        return self.record.get("caption")

    @property
    def index(self) -> int:
        """The position in a list of media logged under one key at one step (0 for a single one)."""
        return int(self.record.get("index", 0)) if '"index": ' in self.text else 0

    @property
    def path(self) -> str | None:
        file = self.record.get("file")
        return os.path.join(self.run_dir, file) if file else None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self.record[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return f"<MediaItem {self.kind} {self.key!r} step {self.step}>"

    def _repr_html_(self) -> str | None:
        """Logged HTML shows in a sandboxed iframe in notebooks; other kinds show their repr."""
        if self.kind == "html" and self.path is not None:
            return sandboxed_iframe(self.load())
        return None

    @property
    def files(self) -> dict[str, str]:
        """Every stored file of this item by extension (a matplotlib figure: ``png`` and ``svg``)."""
        out = {}
        if self.path is not None:
            out[os.path.splitext(self.path)[1].lstrip(".")] = self.path
        for ext, rel in (self.record.get("also") or {}).items():
            out[ext] = os.path.join(self.run_dir, rel)
        return out

    def read_bytes(self) -> bytes:
        if self.path is None:
            raise ValueError(f"a {self.kind} has no file: its data is in the record")
        with open(self.path, "rb") as fh:
            return fh.read()

    def load(self) -> Any:
        """The data: an image as a numpy array (H x W x C), audio as ``(samples, sample_rate)``,
        HTML as text, a table (or a plot's data) as a pandas DataFrame, a histogram as
        ``{"bins", "counts"}``."""
        if self.kind == "histogram":
            return {"bins": self.record["bins"], "counts": self.record["counts"]}
        if self.kind == "image" or (self.kind == "figure" and self.record.get("library") == "matplotlib"):
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
        if self.kind == "object3d" and self.record.get("format") == "npy":
            import io

            import numpy as np

            return np.load(io.BytesIO(self.read_bytes()), allow_pickle=False)
        if self.kind == "figure" and self.record.get("library") == "bokeh":
            return json.loads(self.read_bytes())
        if self.kind == "html":
            return self.read_bytes().decode("utf-8")
        if self.kind in ("table", "plot"):  # a plot loads as its data; its spec is in the record
            import pyarrow.parquet as pq

            return pq.read_table(self.path).to_pandas()
        return self.read_bytes()


def read_index(query: Query, run_dir: str, key: str | None, step: int | None, kind: str | None) -> list[MediaItem]:
    """The media items of a run, in step order (a gallery's items in the order they were logged)."""
    table = query.read_stream(run_dir, "media", keys=[key] if key else None,
                              min_step=step, max_step=None if step is None else step + 1)
    if table is None:
        return []
    out = []
    keys = table.column("key").cast("string").to_pylist()
    for k, s, t, text in zip(keys, table.column("step").to_pylist(), table.column("time").to_pylist(),
                             table.column("text").to_pylist(), strict=True):
        if kind is None or _kind_of(text) == kind:
            out.append(MediaItem(run_dir, k, s, t, text))
    out.sort(key=lambda m: (m.step, m.key, m.index))
    return out


def _kind_of(text: str) -> str:
    """The ``_type`` of a record, read from its start: records are written ``{"_type": ...``."""
    if text.startswith('{"_type": "'):
        return text[11:text.index('"', 11)]
    return str(json.loads(text).get("_type", "media"))


def sandboxed_iframe(html: str, height: int = 300) -> str:
    """Markup that shows logged HTML inside a sandboxed iframe.

    ``sandbox="allow-scripts"`` without ``allow-same-origin``: the logged page's scripts run in an
    opaque origin of their own, so they cannot read or change the notebook or Lab page (its DOM,
    cookies, storage, kernel), open pop-ups, submit forms or navigate the top window.
    """
    import html as html_lib

    return (
        f'<iframe sandbox="allow-scripts" referrerpolicy="no-referrer" '
        f'style="width:100%;height:{int(height)}px;border:1px solid #ddd" '
        f'srcdoc="{html_lib.escape(html, quote=True)}"></iframe>'
    )
