"""The media types ``run.log`` accepts: Image, Audio, Html, Histogram, Table.

Names and arguments follow W&B's, so ``wandb.Image(...)`` code ports by changing the import. Each
checks and copies its input when logged (never when built, so a bad input costs one warning that
names the key, not an exception in the training loop) and encodes on the run's media thread.
The one exception is :class:`Table`, which holds its rows as lists from the start: input that is
not rows of the right length is refused at once with :class:`MediaError` (and nothing else).
"""

from __future__ import annotations

import io
import math
import os

from tracker.convert import (
    describe_exception,
    is_instance_without_import,
    is_media,
    safe_repr,
    safe_str,
    tensor_to_numpy,
    type_name,
)
from tracker.media.base import Media, MediaError, Prepared

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_IMAGE_BYTES = 100 * 1024 * 1024
MAX_AUDIO_SECONDS = 3600


def _describe(x: Any) -> str:
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    return f"{type(x).__name__}" + (f" of shape {tuple(shape)}" if shape is not None else "") + (
        f" and dtype {dtype}" if dtype is not None else "")




def _option(value: Any, default: str) -> Any:
    """A text option (``file_type``, ``format``) lower-cased, ``default`` when None or empty;
    anything else is kept as it is, and refused (MediaError) when the media is logged."""
    if value is None:
        return default
    if isinstance(value, str):
        return str.__str__(value).lower() or default
    return value


def _caption(value: Any, what: str) -> str | None:
    """A caption as stored: text (a number becomes its text), or None."""
    if value is None or type(value) is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if type(value) in (int, float, bool):
        return str(value)
    raise MediaError(f"{what} caption must be a string, not a {type_name(value)}")


def _read_file(path: str, what: str) -> bytes:
    if not os.path.isfile(path):
        raise MediaError(f"{what}: {safe_str(path, 300)} is not a file")
    with open(path, "rb") as fh:
        return fh.read()


class Image(Media):
    """An image from a numpy array (HW, HWC, CHW; uint8, or float in 0-1), a PIL image, a file
    path, or a matplotlib figure. Stored as PNG (``file_type="jpeg"`` for JPEG)."""

    kind = "image"

    def __init__(self, data_or_path: Any, mode: str | None = None, caption: str | None = None,
                 grouping: int | None = None, classes: Any = None, boxes: Any = None, masks: Any = None,
                 file_type: str | None = None, normalize: bool = True) -> None:
        self._data = data_or_path
        self._mode = mode
        self.caption = caption
        self._file_type = _option(file_type, "png")
        self._normalize = normalize
        self.boxes = boxes
        self.masks = masks
        self.classes = classes
        del grouping

    def _prepare(self) -> Prepared:
        data = self._data
        if not isinstance(self._file_type, str) or self._file_type not in ("png", "jpeg", "jpg"):
            raise MediaError(f"Image file_type={safe_repr(self._file_type)} is not png or jpeg")
        if isinstance(data, (str, os.PathLike)):
            raw = _read_file(os.fspath(data), "Image")
            from PIL import Image as PILImage

            try:
                with PILImage.open(io.BytesIO(raw)) as im:
                    width, height, fmt = im.width, im.height, (im.format or "png").lower()
                    im.verify()
            except Exception as exc:  # noqa: BLE001 - PIL raises many kinds for a corrupt file
                raise MediaError(f"Image: {safe_str(data, 300)} is not a readable image ({safe_str(exc)})") from None
            ext = {"jpeg": "jpg"}.get(fmt, fmt)
            return Prepared("image", self._meta(width, height, None, ext), lambda: (raw, ext), len(raw))
        if is_instance_without_import(data, "matplotlib", "Figure"):
            buf = io.BytesIO()
            data.savefig(buf, format="png", bbox_inches="tight")  # on the caller's thread: figures are not thread-safe
            raw = buf.getvalue()
            width, height = (int(v) for v in data.get_size_inches() * data.dpi)
            return Prepared("image", self._meta(width, height, 4, "png"), lambda: (raw, "png"), len(raw))
        if is_instance_without_import(data, "PIL", "Image"):
            import numpy as np

            data = np.asarray(data.convert("RGBA") if data.mode not in ("L", "RGB", "RGBA") else data)
        arr = self._as_uint8(tensor_to_numpy(data))
        height, width = arr.shape[:2]
        channels = 1 if arr.ndim == 2 else arr.shape[2]
        ext = "jpg" if self._file_type in ("jpeg", "jpg") else "png"
        meta = self._meta(width, height, channels, ext)
        masks = self._masks(height, width)
        if self.classes is not None:
            meta["classes"] = Classes.of(self.classes).class_set
        if self.boxes is not None:
            meta["boxes"] = self._boxes()
        if masks:
            meta["masks"] = {name: {"class_labels": labels} for name, (_, labels) in masks.items()}

        def encode() -> list[tuple[bytes, str]]:
            from PIL import Image as PILImage

            image = PILImage.fromarray(arr[..., 0] if arr.ndim == 3 and arr.shape[2] == 1 else arr)
            out = io.BytesIO()
            if ext == "jpg":
                image.convert("RGB").save(out, format="JPEG", quality=90)
            else:
                image.save(out, format="PNG", compress_level=4)
            files = [(out.getvalue(), ext)]
            for name, (mask, _) in masks.items():
                buf = io.BytesIO()
                PILImage.fromarray(mask).save(buf, format="PNG")
                files.append((buf.getvalue(), f"{name}.mask.png"))
            return files

        return Prepared("image", meta, encode, arr.nbytes)

    def _boxes(self) -> dict[str, Any]:
        """W&B's box format: ``{group: {"box_data": [...], "class_labels": {id: name}}}``."""
        from tracker.convert import to_jsonable

        def problem(kind: Any, msg: str) -> None:
            raise MediaError(f"Image boxes: {msg}")

        if not isinstance(self.boxes, dict):
            raise MediaError(f"Image boxes must be a dict of groups, not {type(self.boxes).__name__}")
        for group, spec in self.boxes.items():
            if not isinstance(spec, dict) or not isinstance(spec.get("box_data"), list):
                raise MediaError(f"Image boxes[{safe_repr(group)}] needs a 'box_data' list")
            for i, box in enumerate(spec["box_data"]):
                if not isinstance(box, dict) or "position" not in box:
                    raise MediaError(f"Image boxes[{safe_repr(group)}] box {i} has no 'position'")
        out: dict[str, Any] = to_jsonable(self.boxes, "boxes", problem)
        return out

    def _masks(self, height: int, width: int) -> dict[str, tuple[Any, dict[str, Any]]]:
        """W&B's mask format: ``{group: {"mask_data": H x W class ids, "class_labels": {...}}}``."""
        import numpy as np

        if self.masks is None:
            return {}
        if not isinstance(self.masks, dict):
            raise MediaError(f"Image masks must be a dict of groups, not {type(self.masks).__name__}")
        out = {}
        for name, spec in self.masks.items():
            data = spec.get("mask_data") if isinstance(spec, dict) else None
            if data is None:
                raise MediaError(f"Image masks[{safe_repr(name)}] needs 'mask_data'")
            mask = tensor_to_numpy(data)
            if mask.shape != (height, width):
                raise MediaError(f"Image masks[{safe_repr(name)}] of shape {mask.shape} does not match the image's {(height, width)}")
            if mask.size and (mask.min() < 0 or mask.max() > 255):
                raise MediaError(f"Image masks[{safe_repr(name)}] holds class ids outside 0-255")
            labels = {str(k): str(v) for k, v in (spec.get("class_labels") or {}).items()}
            out[str(name)] = (np.ascontiguousarray(mask, dtype=np.uint8), labels)
        return out

    def _as_uint8(self, arr: Any) -> Any:
        import numpy as np

        what = f"Image: a {_describe(arr)}"
        if arr.size == 0:
            raise MediaError(f"{what} is empty")
        if arr.nbytes > MAX_IMAGE_BYTES:
            raise MediaError(f"{what} is {arr.nbytes / 1e6:.0f} MB, over the {MAX_IMAGE_BYTES // 2**20} MB limit for one image")
        if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[2] not in (1, 3, 4):
            arr = np.transpose(arr, (1, 2, 0))  # CHW -> HWC
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
            raise MediaError(f"{what} is not HW, HWC or CHW with 1, 3 or 4 channels")
        if arr.dtype == np.uint8:
            return np.ascontiguousarray(arr)
        if arr.dtype == bool:
            return (arr * 255).astype(np.uint8)
        if not np.issubdtype(arr.dtype, np.number):
            raise MediaError(f"{what} does not hold numbers")
        lo, hi = arr.min(), arr.max()  # NaN propagates into min/max, infinities show in them
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise MediaError(f"{what} holds NaN or infinite values")
        lo, hi = float(lo), float(hi)
        work = np.float32 if arr.dtype.itemsize <= 4 else np.float64
        if np.issubdtype(arr.dtype, np.floating) and lo >= 0 and hi <= 1:  # the usual case: one pass
            return (arr.astype(work, copy=False) * work(255) + work(0.5)).astype(np.uint8)
        a = arr.astype(work)
        if not (lo >= 0 and hi <= 255) and self._normalize:
            a = (a - lo) * work(255 / ((hi - lo) or 1))  # outside 0-255: stretched to it
        return np.clip(a + work(0.5), 0, 255).astype(np.uint8)

    def _meta(self, width: int, height: int, channels: int | None, fmt: str) -> dict[str, Any]:
        return {"width": int(width), "height": int(height), "channels": channels, "format": fmt,
                "caption": _caption(self.caption, "Image")}


class Audio(Media):
    """Sound from a numpy array (samples, or samples x channels; float in -1..1 or int16) with
    its ``sample_rate``, or a file path. Arrays are stored as 16-bit WAV."""

    kind = "audio"

    def __init__(self, data_or_path: Any, sample_rate: int | None = None, caption: str | None = None) -> None:
        self._data = data_or_path
        self.sample_rate = sample_rate
        self.caption = caption

    def _prepare(self) -> Prepared:
        import numpy as np

        data = self._data
        caption = _caption(self.caption, "Audio")
        rate = self.sample_rate
        if rate is not None:
            import operator

            try:
                rate = None if isinstance(rate, bool) else operator.index(rate)  # an int, a numpy int
            except Exception:  # noqa: BLE001 - not an int: refused below
                rate = None
            if rate is None or not 0 < rate < 2**31:
                raise MediaError(f"Audio sample_rate must be a positive int below 2**31, got {safe_repr(self.sample_rate)}")
        if isinstance(data, (str, os.PathLike)):
            raw = _read_file(os.fspath(data), "Audio")
            ext = os.path.splitext(os.fspath(data))[1].lstrip(".").lower() or "bin"
            meta = {"caption": caption, "format": ext, "sample_rate": rate, "duration": None}
            if ext == "wav":
                import wave

                try:
                    with wave.open(io.BytesIO(raw)) as w:
                        meta.update(sample_rate=w.getframerate(), duration=w.getnframes() / w.getframerate())
                except (wave.Error, EOFError) as exc:
                    raise MediaError(f"Audio: {safe_str(data, 300)} is not a readable WAV file ({safe_str(exc)})") from None
            return Prepared("audio", meta, lambda: (raw, ext), len(raw))
        if rate is None:
            raise MediaError("Audio from an array needs sample_rate (a positive int), got None")
        arr = tensor_to_numpy(data)
        what = f"Audio: a {_describe(arr)}"
        if arr.ndim not in (1, 2) or arr.shape[0] == 0 or (arr.ndim == 2 and not 1 <= arr.shape[1] <= 1024):
            raise MediaError(f"{what} is not samples or samples x channels (1 to 1024) with at least one sample")
        if arr.shape[0] / rate > MAX_AUDIO_SECONDS:
            raise MediaError(f"{what} lasts over {MAX_AUDIO_SECONDS} s")
        if arr.dtype != np.int16:
            a = arr.astype(np.float64)
            if not np.isfinite(a).all():
                raise MediaError(f"{what} holds NaN or infinite values")
            peak = float(np.abs(a).max())
            if peak > 1.0:
                a = a / peak
            arr = (a * 32767).astype(np.int16)
        arr = np.ascontiguousarray(arr)
        channels = 1 if arr.ndim == 1 else arr.shape[1]
        rate = int(rate)

        def encode() -> tuple[bytes, str]:
            import wave

            out = io.BytesIO()
            with wave.open(out, "wb") as w:
                w.setnchannels(channels)
                w.setsampwidth(2)
                w.setframerate(rate)
                w.writeframes(arr.tobytes())
            return out.getvalue(), "wav"

        meta = {"caption": caption, "format": "wav", "sample_rate": rate, "channels": channels,
                "duration": arr.shape[0] / rate}
        return Prepared("audio", meta, encode, arr.nbytes)


class Html(Media):
    """HTML text or an HTML file. Panels show it only in a sandboxed iframe: its scripts never
    reach the notebook or Lab page."""

    kind = "html"

    def __init__(self, data: Any, inject: bool = True) -> None:
        self._data = data
        self.inject = inject

    def _prepare(self) -> Prepared:
        data = self._data
        if hasattr(data, "read"):
            data = data.read()
        if isinstance(data, (os.PathLike,)) or (isinstance(data, str) and data.endswith((".html", ".htm")) and os.path.isfile(data)):
            raw = _read_file(os.fspath(data), "Html")
        elif isinstance(data, str):
            raw = data.encode("utf-8")
        else:
            raise MediaError(f"Html takes text or an .html file, not a {type(data).__name__}")
        return Prepared("html", {"bytes": len(raw)}, lambda: (raw, "html"), len(raw))


class Histogram(Media):
    """A histogram of values (``sequence``) or a precomputed ``np_histogram=(counts, edges)``.

    Stored in the history itself (bins and counts), so panels draw it over steps. NaN and
    infinities are left out of the bins and counted (``nan_count``, ``inf_count``).
    """

    kind = "histogram"

    def __init__(self, sequence: Any = None, np_histogram: Any = None, num_bins: int = 64) -> None:
        self._sequence = sequence
        self._np_histogram = np_histogram
        self.num_bins = num_bins

    def _prepare(self) -> Prepared:
        import numpy as np

        meta: dict[str, Any] = {}
        if self._np_histogram is not None:
            try:
                counts, edges = self._np_histogram
            except (TypeError, ValueError):
                raise MediaError("Histogram np_histogram must be (counts, bin_edges)") from None
            counts, edges = np.asarray(counts), np.asarray(edges)
            if counts.ndim != 1 or edges.ndim != 1 or len(edges) != len(counts) + 1:
                raise MediaError(f"Histogram: {len(counts)} counts need {len(counts) + 1} bin edges, got {len(edges)}")
        else:
            if self._sequence is None:
                raise MediaError("Histogram needs a sequence or np_histogram")
            if not isinstance(self.num_bins, int) or not 1 <= self.num_bins <= 512:
                raise MediaError(f"Histogram num_bins={safe_repr(self.num_bins)} must be an int in 1..512")
            values = tensor_to_numpy(self._sequence).astype(np.float64).ravel()
            finite = np.isfinite(values)
            meta["nan_count"] = int(np.isnan(values).sum())
            meta["inf_count"] = int(np.isinf(values).sum())
            values = values[finite]
            if values.size == 0:
                counts, edges = np.zeros(self.num_bins, dtype=np.int64), np.linspace(0, 1, self.num_bins + 1)
            else:
                counts, edges = np.histogram(values, bins=self.num_bins)
        meta["bins"] = [float(e) if math.isfinite(float(e)) else None for e in edges]
        meta["counts"] = [int(c) if float(c).is_integer() else float(c) for c in counts]
        return Prepared("histogram", meta, None)


class Classes:
    """The classes of an image's boxes and masks, as W&B's ``wandb.Classes``:
    ``Classes([{"id": 1, "name": "cat"}, ...])``. Given as ``Image(classes=...)``, they name the class
    ids of box groups and masks that have no ``class_labels`` of their own."""

    def __init__(self, class_set: Any) -> None:
        try:
            items = list(class_set)
            self.class_set: list[dict[str, Any]] = [{"id": int(c["id"]), "name": str(c["name"])} for c in items]
        except Exception as exc:  # noqa: BLE001 - junk input may raise anything: refused as MediaError
            raise MediaError(f"Classes takes a list of {{'id': int, 'name': str}}; reading the {type_name(class_set)} "
                             f"raised {describe_exception(exc)}") from None

    @classmethod
    def of(cls, value: Any) -> Classes:
        """``value`` as Classes (a Classes, or the list a Classes takes)."""
        return value if isinstance(value, Classes) else cls(value)

    def labels(self) -> dict[str, str]:
        """``{str(id): name}``, the form of a box group's ``class_labels``."""
        return {str(c["id"]): str(c["name"]) for c in self.class_set}

    def __repr__(self) -> str:
        return f"Classes({self.class_set!r})"


class Table(Media):
    """Rows and columns: ``Table(columns=[...], data=[[...], ...])`` or ``Table(dataframe=df)``;
    ``add_data(*row)``, ``add_column(name, values)``. Stored as Parquet.

    Unlike the other media types, a table reads its input when built: rows that are not lists of
    one value per column, columns that cannot be read or repeat a name, are refused at once with
    :class:`MediaError` (and no other exception). Cells are checked when the table is logged.
    """

    kind = "table"
    LOG_MODES = ("IMMUTABLE", "MUTABLE", "INCREMENTAL")

    def __init__(self, columns: list[str] | None = None, data: list[list[Any]] | None = None,
                 dataframe: Any = None, rows: list[list[Any]] | None = None, dtype: Any = None,
                 optional: Any = True, allow_mixed_types: bool = False, log_mode: str | None = "IMMUTABLE") -> None:
        self.allow_mixed_types = bool(allow_mixed_types)
        self.optional = optional
        self.dtype = dtype
        if log_mode is not None and log_mode not in self.LOG_MODES:
            raise MediaError(f"Table log_mode={safe_repr(log_mode)} is not one of {self.LOG_MODES}")
        self.log_mode = log_mode or "IMMUTABLE"
        source = dataframe if dataframe is not None else (data if data is not None else rows)
        try:
            if dataframe is not None:
                columns = list(dataframe.columns)
                self.data = [list(r) for r in dataframe.itertuples(index=False, name=None)]
            else:
                self.data = [list(r) for r in (source if source is not None else [])]
        except Exception as exc:  # noqa: BLE001 - junk input may raise anything: refused as MediaError
            raise MediaError(f"Table takes rows (a list of lists) or a pandas DataFrame; reading the "
                             f"{type_name(source)} it was given raised {describe_exception(exc)}") from None
        if columns is None:
            width = len(self.data[0]) if self.data else 0
            columns = [f"col{i}" for i in range(width)]
        self.columns = _column_names(columns)
        for i, row in enumerate(self.data):
            self._check_row(row, i)

    def _check_row(self, row: list[Any], index: int) -> None:
        if len(row) != len(self.columns):
            raise MediaError(f"Table row {index} has {len(row)} values for {len(self.columns)} columns "
                             f"{safe_repr(self.columns, 200)}")
        for j, value in enumerate(row):
            self._check_cell(j, value, index)

    def _check_cell(self, j: int, value: Any, index: int) -> None:
        """W&B's column types: a column holds one type of cell (numbers, bools, text, lists, dicts,
        one kind of media), None where the column is optional; ``allow_mixed_types=True`` lifts it.
        ``dtype`` (a type, or one per column) fixes a column's type from the start."""
        name = self.columns[j] if j < len(self.columns) else str(j)
        optional = self.optional[j] if isinstance(self.optional, (list, tuple)) and j < len(self.optional) \
            else bool(self.optional)
        if value is None or (isinstance(value, float) and value != value):  # None, or NaN: pandas' missing cell
            if not optional:
                raise MediaError(f"Table column {safe_repr(name)} is not optional: row {index} has None")
            return
        cls = _cell_class(value)
        dtype = self.dtype[j] if isinstance(self.dtype, (list, tuple)) and j < len(self.dtype) else self.dtype
        if isinstance(dtype, type):
            kind = getattr(dtype, "kind", None)
            want = _TYPE_CLASSES.get(dtype) or (f"media:{kind}" if isinstance(kind, str) else None)
            if want is not None and cls != want and not self.allow_mixed_types:
                raise MediaError(f"Table column {safe_repr(name)} is typed {dtype.__name__}: row {index} has a "
                                 f"{type_name(value)} (pass allow_mixed_types=True to mix)")
        if self.allow_mixed_types:
            return
        types = self.__dict__.setdefault("_column_classes", {})
        seen = types.setdefault(name, cls)
        if seen != cls:
            raise MediaError(f"Table column {safe_repr(name)} holds {seen} cells: row {index} has a {type_name(value)} "
                             "(pass Table(..., allow_mixed_types=True) to mix types in a column, as in W&B)")

    def add_data(self, *values: Any) -> None:
        """Append a row (one value per column).

        Raises:
            MediaError: the row's length differs from the number of columns.
        """
        self._check_row(list(values), len(self.data))
        self.data.append(list(values))

    def add_column(self, name: str, data: list[Any]) -> None:
        """Append a column (one value per row).

        Raises:
            MediaError: the values cannot be read, their number differs from the number of rows,
                or the name is taken.
        """
        try:
            values = list(data)
        except Exception as exc:  # noqa: BLE001 - junk input may raise anything: refused as MediaError
            raise MediaError(f"Table column values: reading the {type_name(data)} raised {describe_exception(exc)}") from None
        (column,) = _column_names([name], self.columns)
        if len(values) != len(self.data):
            raise MediaError(f"Table column {safe_repr(column)} has {len(values)} values for {len(self.data)} rows")
        self.columns.append(column)
        try:
            for i, value in enumerate(values):
                self._check_cell(len(self.columns) - 1, value, i)
        except MediaError:
            self.columns.pop()
            self.__dict__.get("_column_classes", {}).pop(column, None)
            raise
        for row, value in zip(self.data, values, strict=True):
            row.append(value)

    def _with_media(self, store: Any) -> Table:
        """A copy whose media cells are replaced by ``store(cell)`` (their stored references)."""
        if not any(is_media(v) for row in self.data for v in row):
            return self
        copy = Table(columns=list(self.columns), allow_mixed_types=self.allow_mixed_types, log_mode=self.log_mode)
        copy.data = [[store(v) if is_media(v) else v for v in row] for row in self.data]
        return copy

    def get_column(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [row[i] for row in self.data]

    def get_index(self) -> list[int]:
        """The rows' positions (0, 1, ...), as W&B's ``Table.get_index`` gives them to join tables."""
        return list(range(len(self.data)))

    def add_computed_columns(self, fn: Any) -> Table:
        """Add the columns ``fn(index, row)`` returns for each row (``row``: ``{column: value}``;
        the result a dict of new column -> value, the same keys for every row); returns the table.

        Raises:
            MediaError: ``fn`` raised, returned something else than a dict, returned different keys
                for different rows, or a name that is taken; the table is then as it was.
        """
        computed: list[dict[str, Any]] = []
        for index, row in enumerate(self.data):
            try:
                out = fn(index, dict(zip(self.columns, row, strict=True)))
            except Exception as exc:  # noqa: BLE001 - the user's function: its failure is this call's
                raise MediaError(f"Table.add_computed_columns: the function raised {describe_exception(exc)} "
                                 f"on row {index}") from None
            if not isinstance(out, dict) or (computed and list(out) != list(computed[0])):
                raise MediaError(f"Table.add_computed_columns: row {index} gave {safe_repr(out, 120)}, not a dict "
                                 "with the same keys as the first row's")
            computed.append(out)
        if computed:
            names = _column_names(list(computed[0]), self.columns)
            self.columns.extend(names)
            for row, out in zip(self.data, computed, strict=True):
                row.extend(out.values())
        return self

    def _prepare(self) -> Prepared:
        from tracker.convert import to_jsonable

        def problem(kind: Any, msg: str) -> None:
            raise MediaError(f"Table cell: {msg}")

        columns = _column_names(self.columns)
        for i, row in enumerate(self.data):  # rows changed by hand since they were checked
            self._check_row(row, i)
        rows = [[to_jsonable(v, f"row {i}", problem) for v in row] for i, row in enumerate(self.data)]

        def encode() -> tuple[bytes, str]:
            return _parquet(columns, rows), "parquet"

        meta = {"columns": columns, "rows": len(rows), "log_mode": self.log_mode}
        return Prepared("table", meta, encode, sum(len(r) for r in rows) * 16)


_TYPE_CLASSES = {int: "number", float: "number", bool: "bool", str: "text", list: "list", tuple: "list", dict: "dict"}


def _cell_class(value: Any) -> str:
    """The W&B type class of a table cell: number (int and float alike), bool, text, list, dict,
    ``media:<kind>``, or the Python type's name."""
    import numbers

    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "bool"
    if isinstance(value, numbers.Number):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "dict"
    if is_media(value):
        return f"media:{getattr(value, 'kind', type(value).__name__)}"
    return type(value).__name__


def _column_names(columns: Any, taken: list[str] | None = None) -> list[str]:
    """Column names as text; refuses (MediaError) names that cannot be read or repeat."""
    try:
        names = [str.__str__(c if isinstance(c, str) else str(c)) for c in columns]
    except Exception as exc:  # noqa: BLE001 - junk input may raise anything: refused as MediaError
        raise MediaError(f"Table columns: reading the {type_name(columns)} raised {describe_exception(exc)}") from None
    seen = set(taken or ())
    for name in names:
        if name in seen:
            raise MediaError(f"Table column {safe_repr(name)} is named twice: column names must differ")
        seen.add(name)
    return names


def _parquet(columns: list[str], rows: list[list[Any]]) -> bytes:
    """The table as Parquet. A column whose cells Arrow cannot type together (numbers beside text,
    ints beyond int64, empty dicts) is stored as the JSON text of each cell instead."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    def write(table: Any) -> bytes:
        out = io.BytesIO()
        pq.write_table(table, out)
        return out.getvalue()

    if not rows:
        return write(pa.table({c: pa.array([], type=pa.null()) for c in columns}))
    cols = {c: [r[i] for r in rows] for i, c in enumerate(columns)}
    try:
        return write(pa.table({c: pa.array(values) for c, values in cols.items()}))
    except Exception:  # noqa: BLE001 - Arrow refuses some mixes of cells: those columns go as JSON text
        pass
    arrays = {}
    for c, values in cols.items():
        try:
            arrays[c] = pa.array(values)
            write(pa.table({c: arrays[c]}))
        except Exception:  # noqa: BLE001 - this column is one of them
            arrays[c] = pa.array([None if v is None else json.dumps(v, allow_nan=True) for v in values],
                                 type=pa.string())
    return write(pa.table(arrays))


def _file_input(data: Any, what: str, default_ext: str) -> tuple[bytes, str] | None:
    """``(bytes, extension)`` of a file given as a path or an open file (text or binary; an open
    file without a name takes ``default_ext``); None for anything else."""
    if hasattr(data, "read") and not isinstance(data, (str, os.PathLike)):
        name = getattr(data, "name", "")
        raw = data.read()
        raw = raw.encode("utf-8") if isinstance(raw, str) else raw
        if not isinstance(raw, (bytes, bytearray)):
            raise MediaError(f"{what}: reading the file gave a {type_name(raw)}, not text or bytes")
        ext = os.path.splitext(name)[1].lstrip(".").lower() if isinstance(name, str) and name else default_ext
        return bytes(raw), ext
    if isinstance(data, (str, os.PathLike)):
        return _read_file(os.fspath(data), what), os.path.splitext(os.fspath(data))[1].lstrip(".").lower()
    return None


class Object3D(Media):
    """A 3D object: a numpy point cloud (N x 3 positions, N x 4 with a category, N x 6 with RGB
    colours) stored as ``.npy``, or an ``.obj``, ``.gltf`` or ``.glb`` file stored as it is."""

    kind = "object3d"
    FILE_TYPES = ("obj", "gltf", "glb", "stl", "ply")

    def __init__(self, data_or_path: Any, caption: str | None = None) -> None:
        self._data = data_or_path
        self.caption = caption

    def _prepare(self) -> Prepared:
        import numpy as np

        data = self._data
        given = _file_input(data, "Object3D", "obj")
        if given is not None:
            raw, ext = given
        else:
            arr = tensor_to_numpy(data)
            what = f"Object3D: a {_describe(arr)}"
            if arr.ndim != 2 or arr.shape[1] not in (3, 4, 6) or arr.shape[0] == 0:
                raise MediaError(f"{what} is not N x 3, N x 4 or N x 6 points")
            if not np.isfinite(arr.astype(np.float64)).all():
                raise MediaError(f"{what} holds NaN or infinite values")
            points = np.ascontiguousarray(arr, dtype=np.float32)

            def encode() -> tuple[bytes, str]:
                out = io.BytesIO()
                np.save(out, points, allow_pickle=False)
                return out.getvalue(), "npy"

            meta = {"points": int(points.shape[0]), "columns": int(points.shape[1]), "format": "npy",
                    "caption": _caption(self.caption, "Object3D")}
            return Prepared("object3d", meta, encode, points.nbytes)
        if ext not in self.FILE_TYPES:
            raise MediaError(f"Object3D files are {self.FILE_TYPES}, not {safe_repr(ext)}")
        meta = {"format": ext, "caption": _caption(self.caption, "Object3D")}
        return Prepared("object3d", meta, lambda: (raw, ext), len(raw))


class Molecule(Media):
    """A molecule file (W&B's ``wandb.Molecule``): PDB, PQR, mmCIF, SDF, MOL2, GRO, ... stored as it
    is; the Media tab draws the atoms of PDB/PQR and SDF/MOL files in a rotatable view, coloured by
    element. ``Molecule.from_rdkit`` / ``from_smiles`` need RDKit and are refused without it."""

    kind = "molecule"
    FILE_TYPES = ("pdb", "pqr", "mmcif", "mcif", "cif", "sdf", "sd", "gro", "mol2", "mmtf", "mol")

    def __init__(self, data_or_path: Any, caption: str | None = None, **kwargs: Any) -> None:
        self._data = data_or_path
        self.caption = caption
        del kwargs  # W&B's rendering options

    @classmethod
    def from_rdkit(cls, data_or_path: Any, caption: str | None = None, **kwargs: Any) -> Molecule:
        raise MediaError("Molecule.from_rdkit needs RDKit, which tracker does not bundle: write the molecule "
                         "to an SDF or PDB file (rdkit.Chem.MolToMolFile) and log Molecule(path)")

    @classmethod
    def from_smiles(cls, data: str, caption: str | None = None, **kwargs: Any) -> Molecule:
        raise MediaError("Molecule.from_smiles needs RDKit to place the atoms in 3D, which tracker does not "
                         "bundle: log the 3D structure as an SDF or PDB file with Molecule(path)")

    def _prepare(self) -> Prepared:
        given = _file_input(self._data, "Molecule", "pdb")
        if given is None:
            raise MediaError(f"Molecule takes a file path or an open file, not a {type_name(self._data)}")
        raw, ext = given
        if ext not in self.FILE_TYPES:
            raise MediaError(f"Molecule files are {self.FILE_TYPES}, not {safe_repr(ext)}")
        meta = {"format": ext, "caption": _caption(self.caption, "Molecule")}
        return Prepared("molecule", meta, lambda: (raw, ext), len(raw))


class Figure(Media):
    """A chart figure logged as it is: a matplotlib figure (kept as PNG and SVG), the pyplot
    module (its current figure), a Bokeh figure (kept as its JSON document, for re-rendering), or
    a plotly figure (kept as its JSON, drawn by the Media tab in Bokeh).
    ``run.log({"chart": fig})`` wraps figures in this by itself."""

    kind = "figure"

    def __init__(self, figure: Any, caption: str | None = None) -> None:
        self._figure = figure
        self.caption = caption

    def _prepare(self) -> Prepared:
        fig = self._figure
        if getattr(fig, "__name__", "") == "matplotlib.pyplot":
            fig = fig.gcf()
        if is_instance_without_import(fig, "matplotlib", "Figure"):
            # drawn on the caller's thread: matplotlib figures are not thread-safe
            png, svg = io.BytesIO(), io.BytesIO()
            fig.savefig(png, format="png", bbox_inches="tight")
            fig.savefig(svg, format="svg", bbox_inches="tight")
            files = [(png.getvalue(), "png"), (svg.getvalue(), "svg")]
            width, height = (int(v) for v in fig.get_size_inches() * fig.dpi)
            meta = {"library": "matplotlib", "width": width, "height": height, "caption": _caption(self.caption, "Figure")}
            return Prepared("figure", meta, lambda: files, sum(len(b) for b, _ in files))
        if is_instance_without_import(fig, "bokeh", "Model"):
            import json

            from bokeh.embed import json_item

            doc = json.dumps(json_item(fig)).encode("utf-8")
            meta = {"library": "bokeh", "caption": _caption(self.caption, "Figure")}
            return Prepared("figure", meta, lambda: (doc, "json"), len(doc))
        if is_instance_without_import(fig, "plotly", "Figure") or is_instance_without_import(fig, "plotly", "FigureWidget"):
            doc = fig.to_json().encode("utf-8")
            meta = {"library": "plotly", "caption": _caption(self.caption, "Figure")}
            return Prepared("figure", meta, lambda: (doc, "json"), len(doc))
        raise MediaError(f"Figure takes a matplotlib, Bokeh or plotly figure, not a {type_name(fig)}")


class Plotly(Figure):
    """W&B's ``wandb.Plotly(fig)``: a plotly figure (or a matplotlib one, as W&B converts it), kept
    as a :class:`Figure`."""


def as_media(value: Any) -> Any:
    """A figure logged directly (matplotlib, pyplot, Bokeh, plotly) wrapped as :class:`Figure`; else None."""
    if getattr(value, "__name__", "") == "matplotlib.pyplot" or is_instance_without_import(
        value, "matplotlib", "Figure"
    ) or is_instance_without_import(value, "bokeh", "Model") or is_instance_without_import(value, "plotly", "Figure") \
            or is_instance_without_import(value, "plotly", "FigureWidget"):
        return Figure(value)
    return None


class Video(Media):
    """A video from a numpy array (T x C x H x W, or T x H x W x C; uint8 or floats in 0-1) or a
    file. Arrays are encoded with imageio: ``format="gif"`` (default, with Pillow) or ``"mp4"``
    (with imageio-ffmpeg, which ships its own ffmpeg)."""

    kind = "video"

    def __init__(self, data_or_path: Any, caption: str | None = None, fps: int = 4, format: str | None = None) -> None:
        self._data = data_or_path
        self.caption = caption
        self.fps = fps
        self.format = _option(format, "gif")

    def _prepare(self) -> Prepared:
        import numpy as np

        data = self._data
        caption = _caption(self.caption, "Video")
        if isinstance(data, (str, os.PathLike)):
            raw = _read_file(os.fspath(data), "Video")
            ext = os.path.splitext(os.fspath(data))[1].lstrip(".").lower() or "bin"
            return Prepared("video", {"format": ext, "caption": caption, "fps": None}, lambda: (raw, ext), len(raw))
        if not isinstance(self.format, str) or self.format not in ("gif", "mp4", "webm"):
            raise MediaError(f"Video format={safe_repr(self.format)} is not gif, mp4 or webm")
        if isinstance(self.fps, bool) or not isinstance(self.fps, (int, float)) or not 0.01 <= self.fps <= 1000:
            raise MediaError(f"Video fps={safe_repr(self.fps)} must be a number from 0.01 to 1000")
        arr = tensor_to_numpy(data)
        what = f"Video: a {_describe(arr)}"
        if arr.ndim != 4 or arr.shape[0] == 0:
            raise MediaError(f"{what} is not T x C x H x W (or T x H x W x C) with at least one frame")
        if arr.shape[1] in (1, 3, 4) and arr.shape[3] not in (1, 3, 4):
            arr = np.transpose(arr, (0, 2, 3, 1))  # TCHW -> THWC
        if arr.shape[3] not in (1, 3, 4):
            raise MediaError(f"{what} has no channel axis of 1, 3 or 4")
        if arr.nbytes > MAX_IMAGE_BYTES * 4:
            raise MediaError(f"{what} is {arr.nbytes / 1e6:.0f} MB, over the {MAX_IMAGE_BYTES * 4 // 2**20} MB limit")
        frames = Image(arr[0])._as_uint8(arr.reshape(-1, *arr.shape[2:]))  # validation + conversion
        frames = frames.reshape(arr.shape[0], arr.shape[1], arr.shape[2], -1)
        if frames.shape[3] == 1:
            frames = np.repeat(frames, 3, axis=3)
        fmt, fps = self.format, self.fps

        def encode() -> tuple[bytes, str]:
            try:
                import imageio.v3 as iio
            except ImportError:
                raise MediaError("Video needs imageio: pip install imageio imageio-ffmpeg") from None
            if fmt == "gif":
                return iio.imwrite("<bytes>", frames, extension=".gif", duration=1000 / fps, loop=0), fmt
            return _ffmpeg(frames, fps, fmt), fmt

        meta = {"format": fmt, "fps": fps, "frames": int(frames.shape[0]), "width": int(frames.shape[2]),
                "height": int(frames.shape[1]), "caption": caption, "duration": frames.shape[0] / fps}
        return Prepared("video", meta, encode, frames.nbytes)


def _ffmpeg(frames: Any, fps: float, fmt: str) -> bytes:
    """Encode frames with imageio-ffmpeg's own ffmpeg binary (no system ffmpeg needed)."""
    import tempfile

    import imageio_ffmpeg

    h, w = frames.shape[1], frames.shape[2]
    even = frames[:, : h - h % 2, : w - w % 2, :3]  # yuv420p wants even sizes
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"video.{fmt}")
        codec = "libvpx" if fmt == "webm" else "libx264"
        writer = imageio_ffmpeg.write_frames(path, (even.shape[2], even.shape[1]), fps=fps, codec=codec,
                                             pix_fmt_out="yuv420p", quality=7)
        writer.send(None)
        for frame in even:
            writer.send(frame.tobytes())
        writer.close()
        with open(path, "rb") as fh:
            return fh.read()
