"""The one HTML-escaping helper of the panels: every logged or user-given value that goes into
markup goes through :func:`escape` (nothing logged is ever inserted as markup)."""

from __future__ import annotations

import html as _html

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def escape(value: Any) -> str:
    """``str(value)`` with ``&``, ``<``, ``>``, ``"`` and ``'`` escaped (safe in text and in quoted
    attributes)."""
    return _html.escape(str(value), quote=True)
