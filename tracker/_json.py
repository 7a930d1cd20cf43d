"""JSON for the side files, without importing :mod:`json` on the path of ``tracker.init``.

``import json`` imports ``re`` (and with it ``enum``): ~8 ms, more than the whole budget of
``init``. CPython's C accelerators (``_json.make_encoder``, ``_json.make_scanner``) do the real
work for :mod:`json` anyway; this module drives them directly and falls back to :mod:`json` on an
interpreter without them. Output is standard JSON: NaN and infinities must be replaced by the
caller (see ``layout.dumps``).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

try:
    from _json import encode_basestring as _encode_str
    from _json import make_encoder as _make_encoder
    from _json import make_scanner as _make_scanner
except ImportError:  # pragma: no cover - not CPython
    _make_encoder = _make_scanner = _encode_str = None  # type: ignore[assignment,misc]


def _default(obj: Any) -> Any:
    return str(obj)


def _floatstr(o: float, _repr: Any = float.__repr__) -> str:
    if o != o or o in (float("inf"), float("-inf")):
        raise ValueError(f"JSON cannot hold {o!r}: replace NaN and infinities first")
    return _repr(o)


def dumps(obj: Any) -> str:
    """``json.dumps(obj, ensure_ascii=False, allow_nan=False, default=str)``."""
    if _make_encoder is None:  # pragma: no cover
        import json

        return json.dumps(obj, ensure_ascii=False, allow_nan=False, default=str)
    encode = _make_encoder({}, _default, _encode_str, None, ": ", ", ", False, False, False)
    return "".join(encode(obj, 0))


class _Context:
    """What ``_json.make_scanner`` reads from a ``json.JSONDecoder``."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict[str, str] = {}

    @staticmethod
    def parse_constant(name: str) -> float:
        return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


def loads(text: str | bytes) -> Any:
    """``json.loads(text)``; raises ValueError on anything that is not one JSON document."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if _make_scanner is None:  # pragma: no cover
        import json

        return json.loads(text)
    scan = _make_scanner(_Context())  # type: ignore[arg-type]
    i = len(text) - len(text.lstrip())
    try:
        obj, end = scan(text, i)
    except StopIteration:
        raise ValueError("not a JSON document") from None
    if text[end:].strip():
        raise ValueError(f"extra data after the JSON document at {end}")
    return obj
