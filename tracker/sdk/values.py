"""Turning whatever a user logs into the plain values the store keeps.

``Run.log`` takes a fast path when every key is a ``str`` and every value is a ``float``, ``int``,
``bool``, ``str`` or ``None``. Everything else comes here: nested dicts are flattened to ``a/b``,
numpy scalars, 0-d tensors (torch, TensorFlow, JAX: recognised by class, never imported) and
objects with ``__float__`` become numbers, lists and arrays become JSON text, and anything that
cannot be stored is reported (key and type) and left out while the rest of the row is kept.

Whatever a value does (its ``repr``, ``__len__``, ``__iter__``, ``__float__`` raising, a dict that
contains itself, nesting deeper than Python's stack), only that key is dropped, with a warning
(see "Bad values" in docs/logging.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from tracker.convert import (
    MAX_DEPTH,
    PASS_THROUGH,
    PLAIN_TYPES,
    Unsupported,
    check_key,
    check_plain,
    class_module,
    describe_exception,
    is_media,
    safe_repr,
    to_data,
    type_name,
)
from tracker.store.codec import JsonText, MediaText

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

RESERVED_KEYS = frozenset({"_step", "_timestamp", "_runtime"})
_NONE = type(None)
_EXACT = 2**64  # ints below this in size need no check of their digits


def to_plain(value: Any, max_text: int, media: Callable[[Any], str] | None = None, key: str | None = None) -> Any:
    """Convert one logged value to what the store keeps: a plain value, :class:`JsonText` for a
    list or an array, :class:`MediaText` for a media object (see :func:`tracker.convert.to_data`).

    ``media(obj)`` turns a media object (or a list of them) into its stored reference; ``key``
    names the value in messages.

    Raises:
        Unsupported: the value has no stored form; the message names its type.
    """
    cls = type(value)
    if cls in PLAIN_TYPES:
        return check_plain(value, cls, max_text)
    if media is not None and (class_module(value) in ("matplotlib", "bokeh", "plotly")
                              or getattr(value, "__name__", None) == "matplotlib.pyplot"):
        from tracker.media.types import as_media

        figure = as_media(value)
        if figure is not None:  # a figure logged as it is: kept as a Figure
            return MediaText(media(figure))
    if is_media(value) or (isinstance(value, (list, tuple)) and _gallery(value)):
        if media is None:
            raise Unsupported(f"a {type_name(value)} can only be logged by a run")
        return MediaText(media(value))
    data = to_data(value, max_text, key)
    if isinstance(data, (list, dict)):
        import json

        text = json.dumps(data, allow_nan=True)
        if len(text) > max_text:
            raise Unsupported(f"its JSON text of {len(text)} characters is over max_text_bytes={max_text}")
        return JsonText(text)
    return data


def _gallery(value: Any) -> bool:
    """Whether a list or tuple holds media objects only (and at least one)."""
    try:
        return len(value) > 0 and all(is_media(v) for v in value)
    except Exception:  # noqa: BLE001 - a list whose __len__/__iter__ raises: to_data says so
        return False


def flatten_row(
    data: Mapping[Any, Any],
    max_text: int,
    problem: Callable[[tuple[Any, ...], str], None],
    media: Callable[[Any, str], str] | None = None,
) -> dict[str, Any]:
    """Flatten nested dicts to ``a/b`` keys and convert every value.

    ``problem(kind, message)`` is called for each key that is left out; the rest of the row is kept.
    ``media(obj, key)`` stores a media object and returns its reference. A dict that contains itself
    is cut where it repeats; a key given twice (``{"a/b": 1, "a": {"b": 2}}``) keeps its first value.
    """
    out: dict[str, Any] = {}
    _flatten_into(data, "", out, max_text, problem, media, set(), 0)
    return out


def _flatten_into(
    data: Mapping[Any, Any],
    prefix: str,
    out: dict[str, Any],
    max_text: int,
    problem: Callable[[tuple[Any, ...], str], None],
    media: Callable[[Any, str], str] | None,
    ancestors: set[int],
    depth: int,
) -> None:
    try:
        pairs = list(data.items())
    except PASS_THROUGH:
        raise
    except Exception as exc:  # noqa: BLE001 - a Mapping whose items() raises: its values are dropped
        where = f"under key {safe_repr(prefix[:-1])}" if prefix else "logged"
        problem(("mapping", prefix, type_name(data)),
                f"reading the {type_name(data)} {where} raised {describe_exception(exc)}: its values were dropped")
        return
    ancestors.add(id(data))
    try:
        for k, v in pairs:
            if type(k) is str and k.isascii():  # the common key, checked inline
                key = prefix + k if prefix else k
            else:
                name = check_key(k, "log", problem, escape=False)
                if name is None:
                    continue
                key = prefix + name
            if key in RESERVED_KEYS:
                problem(
                    ("reserved", key),
                    f"key {key!r} is reserved for the tracker's own column: its value was dropped",
                )
                continue
            cls = type(v)
            if key not in out and (
                cls is float or cls is bool or cls is _NONE or (cls is int and -_EXACT < v < _EXACT)
                or (cls is str and len(v) <= max_text and v.isascii())
            ):  # the common value, kept as it is
                out[key] = v
                continue
            if isinstance(v, Mapping):
                if id(v) in ancestors:
                    problem(("cycle", key),
                            f"cycle at key {safe_repr(key)}: a {type_name(v)} that contains itself; that "
                            "reference was cut (the rest was logged)")
                elif depth + 1 >= MAX_DEPTH:
                    problem(("too-deep", key),
                            f"key {safe_repr(key)} is nested deeper than {MAX_DEPTH} levels: what lies below "
                            "was dropped")
                else:
                    _flatten_into(v, key + "/", out, max_text, problem, media, ancestors, depth + 1)
                continue
            if key in out:
                problem(("duplicate", key),
                        f"key {safe_repr(key)} was given twice in one log call (as 'a/b' and as a nested "
                        f"dict): the later value, a {type_name(v)}, was dropped")
                continue
            try:
                out[key] = to_plain(v, max_text, None if media is None else _bind_key(media, key), key)
            except PASS_THROUGH:
                raise
            except Unsupported as exc:
                problem(("value", key, type_name(v)),
                        f"value for key {safe_repr(key)} ({type_name(v)}) was dropped: {exc}")
            except Exception as exc:  # noqa: BLE001 - whatever the object does, the rest of the row is kept
                problem(("value", key, type_name(v)),
                        f"value for key {safe_repr(key)} ({type_name(v)}) was dropped: converting it raised "
                        f"{describe_exception(exc)}")
    finally:
        ancestors.discard(id(data))


def _bind_key(media: Callable[[Any, str], str], key: str) -> Callable[[Any], str]:
    def store(obj: Any) -> str:
        return media(obj, key)

    return store
