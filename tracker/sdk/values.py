"""Turning whatever a user logs into the plain values the store keeps.

``Run.log`` takes a fast path when every key is a ``str`` and every value is a ``float``, ``int``,
``bool``, ``str`` or ``None``. Everything else comes here: nested dicts are flattened to ``a/b``,
numpy scalars, 0-d tensors (torch, TensorFlow, JAX: recognised by class, never imported) and
objects with ``__float__`` become numbers, lists and arrays become JSON text, and anything that
cannot be stored is reported (key and type) and left out while the rest of the row is kept.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from tracker.store.segments import JsonText, MediaText

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

PLAIN_TYPES = frozenset({float, int, bool, str, type(None)})
RESERVED_KEYS = frozenset({"_step", "_timestamp", "_runtime"})
MAX_ARRAY_ELEMENTS = 10_000
_TENSOR_MODULES = ("torch", "tensorflow", "jax", "jaxlib", "cupy", "mxnet", "paddle")


class Unsupported(Exception):
    """A value that cannot be stored; the message says why and what would work."""


def class_module(obj: Any) -> str:
    """The top-level package of ``obj``'s class, e.g. ``"numpy"`` or ``"torch"``."""
    return (type(obj).__module__ or "").split(".", 1)[0]


def is_instance_without_import(obj: Any, module: str, name: str) -> bool:
    """Whether ``obj``'s class (or a base) is ``module.name``, without importing ``module``."""
    for cls in type(obj).__mro__:
        if cls.__name__ == name and (cls.__module__ or "").split(".", 1)[0] == module:
            return True
    return False


def to_plain(value: Any, max_text: int, media: Callable[[Any], str] | None = None) -> Any:
    """Convert one logged value to what the store keeps.

    ``media(obj)`` turns a media object (or a list of them) into its stored reference.

    Raises:
        Unsupported: the value has no stored form; the message names its type.
    """
    cls = type(value)
    if cls in PLAIN_TYPES:
        if cls is str and len(value) > max_text:
            raise Unsupported(f"a string of {len(value)} characters is over max_text_bytes={max_text}")
        return value
    if media is not None and (cls.__module__ or "").startswith(("matplotlib", "bokeh")):
        from tracker.media.types import as_media

        figure = as_media(value)
        if figure is not None:  # a figure logged as it is: kept as a Figure
            return MediaText(media(figure))
    if getattr(cls, "_tracker_media", False) or (
        isinstance(value, (list, tuple)) and value and all(getattr(type(v), "_tracker_media", False) for v in value)
    ):
        if media is None:
            raise Unsupported(f"a {cls.__name__} can only be logged by a run")
        return MediaText(media(value))
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return to_plain(str(value), max_text)
    module = class_module(value)
    if module == "numpy" or module in _TENSOR_MODULES:
        return _array_like(value, module, max_text)
    if isinstance(value, (list, tuple)):
        return JsonText(_json_text(value))
    if isinstance(value, (set, frozenset, bytes, bytearray)):
        raise Unsupported(f"{cls.__name__} has no stored form; log a list, a number or a string")
    if hasattr(cls, "__float__"):
        try:
            return float(value)
        except (TypeError, ValueError, OverflowError) as exc:
            raise Unsupported(f"{cls.__name__}.__float__ failed: {exc}") from None
    if hasattr(cls, "__index__"):
        return int(value.__index__())
    raise Unsupported(
        f"{cls.__module__}.{cls.__qualname__} is not a number, string, bool, None, list, array, "
        "tensor or tracker media object"
    )


def tensor_to_numpy(value: Any) -> Any:
    """A tensor (torch, TensorFlow, JAX, CuPy, ...: recognised by class, never imported), or
    anything array-like, as a numpy array in host memory, detached from autograd."""
    import numpy as np

    if class_module(value) in _TENSOR_MODULES:
        for step in ("detach", "cpu"):
            fn = getattr(value, step, None)
            if callable(fn):
                value = fn()
        to_numpy = getattr(value, "numpy", None)
        if callable(to_numpy):
            value = to_numpy()
    return np.asarray(value)


def _array_like(value: Any, module: str, max_text: int) -> Any:
    if module != "numpy":
        value = tensor_to_numpy(value)
    size = getattr(value, "size", 1)
    if size == 1 and hasattr(value, "item"):
        item = value.item()
        if type(item) in PLAIN_TYPES:
            return to_plain(item, max_text)
        if isinstance(item, complex):
            raise Unsupported("complex numbers have no stored form; log .real and .imag")
        raise Unsupported(f"a numpy value of dtype {getattr(value, 'dtype', '?')} has no stored form")
    if size > MAX_ARRAY_ELEMENTS:
        shape = getattr(value, "shape", "?")
        raise Unsupported(
            f"an array of shape {shape} ({size} elements) is over the {MAX_ARRAY_ELEMENTS}-element "
            "limit for history values; log a summary statistic or a tracker.Histogram instead"
        )
    tolist = getattr(value, "tolist", None)
    if not callable(tolist):
        raise Unsupported(f"{type(value).__name__} cannot be converted to a list")
    return JsonText(_json_text(tolist()))


def _json_text(items: Any) -> str:
    import json

    return json.dumps(_json_items(items), allow_nan=True)


def _json_items(items: Any) -> Any:
    if isinstance(items, (list, tuple)):
        return [_json_items(v) for v in items]
    if isinstance(items, dict):
        return {str(k): _json_items(v) for k, v in items.items()}
    if type(items) in PLAIN_TYPES:
        return items
    plain = to_plain(items, 1 << 30)
    if isinstance(plain, JsonText):
        import json

        return json.loads(plain)
    return plain


def flatten_row(
    data: Mapping[Any, Any],
    max_text: int,
    problem: Callable[[tuple[Any, ...], str], None],
    media: Callable[[Any, str], str] | None = None,
) -> dict[str, Any]:
    """Flatten nested dicts to ``a/b`` keys and convert every value.

    ``problem(kind, message)`` is called for each key that is left out; the rest of the row is kept.
    ``media(obj, key)`` stores a media object and returns its reference.
    """
    out: dict[str, Any] = {}
    _flatten_into(data, "", out, max_text, problem, media)
    return out


def _flatten_into(
    data: Mapping[Any, Any],
    prefix: str,
    out: dict[str, Any],
    max_text: int,
    problem: Callable[[tuple[Any, ...], str], None],
    media: Callable[[Any, str], str] | None = None,
) -> None:
    for k, v in data.items():
        if not isinstance(k, str):
            problem(
                ("key-type", type(k).__name__),
                f"key {k!r} is a {type(k).__name__}, not a str: its value was dropped "
                "(log keys must be strings)",
            )
            continue
        key = prefix + k
        if key in RESERVED_KEYS:
            problem(
                ("reserved", key),
                f"key {key!r} is reserved for the tracker's own column: its value was dropped",
            )
            continue
        if isinstance(v, Mapping):
            _flatten_into(v, key + "/", out, max_text, problem, media)
            continue
        try:
            out[key] = to_plain(v, max_text, None if media is None else _bind_key(media, key))
        except Unsupported as exc:
            problem(("value", key, type(v).__name__), f"value for key {key!r} was dropped: {exc}")


def _bind_key(media: Callable[[Any, str], str], key: str) -> Callable[[Any], str]:
    def store(obj: Any) -> str:
        return media(obj, key)

    return store


def to_jsonable(value: Any, where: str, problem: Callable[[tuple[Any, ...], str], None]) -> Any:
    """Convert a config or summary value to JSON-compatible data.

    Unknown objects are stored as their ``str()`` with a warning naming ``where`` and the type.
    """
    cls = type(value)
    if cls in PLAIN_TYPES:
        return value
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, f"{where}.{k}", problem) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, f"{where}[{i}]", problem) for i, v in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        return sorted((to_jsonable(v, where, problem) for v in value), key=repr)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    import dataclasses
    import enum
    import os

    if isinstance(value, enum.Enum):
        return to_jsonable(value.value, where, problem)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value), where, problem)
    if is_instance_without_import(value, "argparse", "Namespace"):
        return to_jsonable(vars(value), where, problem)
    module = class_module(value)
    if module == "numpy" or module in _TENSOR_MODULES:
        try:
            plain = _array_like(value, module, 1 << 30)
        except Unsupported:
            pass
        else:
            if isinstance(plain, JsonText):
                import json

                return json.loads(plain)
            return plain
    text = str(value)
    problem(
        ("jsonable", where, cls.__name__),
        f"{where}: a {cls.__module__}.{cls.__qualname__} is not JSON data; stored as its text {text[:80]!r}",
    )
    return text


def decode_value(kind: int, value: float | None, text: str | None) -> Any:
    """The Python value of one stored point (see the segment schema)."""
    if kind == 0:
        return value
    if kind == 1:
        if text is not None:
            return int(text)
        return int(value) if value is not None and math.isfinite(value) else value
    if kind == 2:
        return bool(value)
    if kind == 3:
        return text
    if kind == 4:
        return None
    if text is None:
        return None
    import json

    return json.loads(text)
