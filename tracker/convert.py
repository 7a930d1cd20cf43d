"""Generic conversions shared by the write side, media, artifacts and the read API.

A base module: it imports nothing of the tracker but :mod:`tracker.errors`, and no heavy package
at import (numpy, ``json`` and friends load inside the functions that need them), so the logging
API can use it on its hot path and every layer above may import it.

- :func:`is_instance_without_import`, :func:`class_module`, :func:`tensor_to_numpy`: recognise and
  convert numpy values and tensors (torch, TensorFlow, JAX, ...) by class, never importing them;
- :func:`to_data`: one logged value as plain data (a number, string, bool, None, or nested lists);
- :func:`to_jsonable`: a config, summary or metadata value as JSON-compatible data;
- :func:`check_tags`: the rule for run tags;
- :func:`group_config`: a config split into its ClearML-style groups.
"""

from __future__ import annotations

from collections.abc import Mapping

from tracker.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

#: The classes the store keeps as they are.
PLAIN_TYPES = frozenset({float, int, bool, str, type(None)})
#: The most elements an array (or list) may have to be kept as one history value.
MAX_ARRAY_ELEMENTS = 10_000
#: Top-level packages whose objects are tensors: recognised by class, never imported.
TENSOR_MODULES = ("torch", "tensorflow", "jax", "jaxlib", "cupy", "mxnet", "paddle")


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


def is_media(value: Any) -> bool:
    """Whether ``value`` is a tracker media object (``tracker.Image``, ``tracker.Table``, ...),
    told by its class's ``_tracker_media`` marker without importing :mod:`tracker.media`."""
    return bool(getattr(type(value), "_tracker_media", False))


def tensor_to_numpy(value: Any) -> Any:
    """A tensor (torch, TensorFlow, JAX, CuPy, ...: recognised by class, never imported), or
    anything array-like, as a numpy array in host memory, detached from autograd."""
    import numpy as np

    if class_module(value) in TENSOR_MODULES:
        for step in ("detach", "cpu"):
            fn = getattr(value, step, None)
            if callable(fn):
                value = fn()
        to_numpy = getattr(value, "numpy", None)
        if callable(to_numpy):
            value = to_numpy()
    return np.asarray(value)


def to_data(value: Any, max_text: int) -> Any:
    """One logged value as plain data: a ``float``, ``int``, ``bool``, ``str`` or ``None``, or (for
    a list, a tuple, or an array or tensor of more than one element) a list of plain data, where
    nested dicts have ``str`` keys.

    numpy scalars, 0-d tensors and objects with ``__float__`` (``__index__``) become numbers.

    Raises:
        Unsupported: the value has no stored form (a set, bytes, an array over
            :data:`MAX_ARRAY_ELEMENTS`, a string over ``max_text`` characters, a media object, an
            unknown class); the message names its type and what would work.
    """
    cls = type(value)
    if cls in PLAIN_TYPES:
        if cls is str and len(value) > max_text:
            raise Unsupported(f"a string of {len(value)} characters is over max_text_bytes={max_text}")
        return value
    if is_media(value):
        raise Unsupported(f"a {cls.__name__} can only be logged by a run")
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return to_data(str(value), max_text)
    module = class_module(value)
    if module == "numpy" or module in TENSOR_MODULES:
        return _array_data(value, module, max_text)
    if isinstance(value, (list, tuple)):
        return _items(value)
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


def _array_data(value: Any, module: str, max_text: int) -> Any:
    if module != "numpy":
        value = tensor_to_numpy(value)
    size = getattr(value, "size", 1)
    if size == 1 and hasattr(value, "item"):
        item = value.item()
        if type(item) in PLAIN_TYPES:
            return to_data(item, max_text)
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
    return _items(tolist())


def _items(items: Any) -> Any:
    if isinstance(items, (list, tuple)):
        return [_items(v) for v in items]
    if isinstance(items, dict):
        return {str(k): _items(v) for k, v in items.items()}
    if type(items) in PLAIN_TYPES:
        return items
    return to_data(items, 1 << 30)


def to_jsonable(value: Any, where: str, problem: Callable[[tuple[Any, ...], str], None]) -> Any:
    """Convert a config, summary or metadata value to JSON-compatible data.

    Mappings, lists, tuples and sets (sorted), enums, paths, dataclasses, ``argparse.Namespace``,
    numpy values and tensors are converted; any other object is stored as its ``str()`` after
    ``problem(kind, message)`` is called with a message naming ``where`` and the type.
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
    if module == "numpy" or module in TENSOR_MODULES:
        try:
            return _array_data(value, module, 1 << 30)
        except Unsupported:
            pass
    text = str(value)
    problem(
        ("jsonable", where, cls.__name__),
        f"{where}: a {cls.__module__}.{cls.__qualname__} is not JSON data; stored as its text {text[:80]!r}",
    )
    return text


def check_tags(value: Any) -> list[str]:
    """Run tags as stored: a string is one tag, None none; duplicates are dropped, order is kept.

    Raises:
        UsageError: a tag is not a non-empty string of at most 256 characters.
    """
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    tags = list(value)
    for t in tags:
        if not isinstance(t, str) or not t or len(t) > 256:
            raise UsageError(f"tags must be non-empty strings of at most 256 characters, got {t!r}")
    return list(dict.fromkeys(tags))


def group_config(config: Mapping[str, Any], groups: Mapping[str, list[str]]) -> dict[str, dict[str, Any]]:
    """A config by ClearML-style group: each named group (in ``groups``' order) with its keys
    that are set, then ``"General"`` for the keys in no group. Groups with no set key are left out.

    Args:
        config: the run's config (``run.json``'s ``config``).
        groups: group name -> keys (``run.json``'s ``config_groups``).
    """
    out: dict[str, dict[str, Any]] = {}
    placed: set[str] = set()
    for name, keys in groups.items():
        members = {k: config[k] for k in keys if k in config}
        if members:
            out.setdefault(name, {}).update(members)
            placed.update(members)
    rest = {k: v for k, v in config.items() if k not in placed}
    if rest:
        out.setdefault("General", {}).update(rest)
    return out
