"""Turning whatever a user logs into the plain values the store keeps.

``Run.log`` takes a fast path when every key is a ``str`` and every value is a ``float``, ``int``,
``bool``, ``str`` or ``None``. Everything else comes here: nested dicts are flattened to ``a/b``,
numpy scalars, 0-d tensors (torch, TensorFlow, JAX: recognised by class, never imported) and
objects with ``__float__`` become numbers, lists and arrays become JSON text, and anything that
cannot be stored is reported (key and type) and left out while the rest of the row is kept.
"""

from __future__ import annotations

from collections.abc import Mapping

from tracker.convert import PLAIN_TYPES, Unsupported, is_media, to_data
from tracker.store.codec import JsonText, MediaText

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

RESERVED_KEYS = frozenset({"_step", "_timestamp", "_runtime"})


def to_plain(value: Any, max_text: int, media: Callable[[Any], str] | None = None) -> Any:
    """Convert one logged value to what the store keeps: a plain value, :class:`JsonText` for a
    list or an array, :class:`MediaText` for a media object (see :func:`tracker.convert.to_data`).

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
    if is_media(value) or (isinstance(value, (list, tuple)) and value and all(is_media(v) for v in value)):
        if media is None:
            raise Unsupported(f"a {cls.__name__} can only be logged by a run")
        return MediaText(media(value))
    data = to_data(value, max_text)
    if isinstance(data, list):
        import json

        return JsonText(json.dumps(data, allow_nan=True))
    return data


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
