"""The value codec of a segment row: how a logged Python value is stored in the ``kind``, ``value``
and ``text`` columns (see docs/store.md), and how it is read back.

=====  ======  =========================================================
kind   name    stored as
=====  ======  =========================================================
0      float   ``value``
1      int     ``value``; ``text`` holds the exact digits beyond 2**53
2      bool    ``value`` as 0/1
3      str     ``text``
4      null    nothing
5      json    ``text``: a list, tuple or array as JSON
6      media   ``text``: a media reference as JSON (``{"_type": ...}``)
=====  ======  =========================================================
"""

from __future__ import annotations

import math

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

KIND_FLOAT, KIND_INT, KIND_BOOL, KIND_STR, KIND_NULL, KIND_JSON, KIND_MEDIA = range(7)
KIND_NAMES = ("float", "int", "bool", "str", "null", "json", "media")
#: Integers at or beyond this magnitude keep their exact digits in ``text``.
EXACT_INT_LIMIT = 2**53


class JsonText(str):
    """A value stored as JSON text (a list, a tuple, an array), decoded again on read."""


class MediaText(str):
    """A media reference stored as JSON text (kind 6)."""


KIND_OF: dict[type, int] = {
    float: KIND_FLOAT,
    int: KIND_INT,
    bool: KIND_BOOL,
    str: KIND_STR,
    type(None): KIND_NULL,
    JsonText: KIND_JSON,
    MediaText: KIND_MEDIA,
}


def decode_value(kind: int, value: float | None, text: str | None) -> Any:
    """The Python value of one stored point."""
    if kind == KIND_FLOAT:
        return value
    if kind == KIND_INT:
        if text is not None:
            return int(text)
        return int(value) if value is not None and math.isfinite(value) else value
    if kind == KIND_BOOL:
        return bool(value)
    if kind == KIND_STR:
        return text
    if kind == KIND_NULL:
        return None
    if text is None:
        return None
    import json

    return json.loads(text)
