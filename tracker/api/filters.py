"""Run filters and orders in the form W&B's public API takes them.

Filters are MongoDB-style dicts::

    {"state": "finished"}
    {"config.lr": {"$gt": 1e-3}, "tags": {"$in": ["baseline"]}}
    {"$or": [{"summary.val/acc": {"$gte": 0.9}}, {"name": {"$regex": "^exp"}}]}

Fields: ``id``, ``name``, ``state``, ``tags``, ``notes``, ``group``, ``job_type``, ``host``,
``user``, ``created_at``, ``heartbeat_at``, ``duration``, ``config.<key>`` and ``summary.<key>``
(``summary_metrics.<key>`` too). Operators: ``$eq $ne $gt $gte $lt $lte $in $nin $exists $regex
$and $or $nor $not``. Orders: ``"+created_at"``, ``"-summary.val/acc"``, ``"config.lr"``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from tracker.errors import QueryError

_MISSING = object()
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}


def lookup(doc: Mapping[str, Any], field: str) -> Any:
    """The value of ``field`` in a run document, or a sentinel when absent.

    ``config.a.b`` first tries the key ``"a.b"``, then ``config["a"]["b"]``.
    """
    if field.startswith("summary_metrics."):
        field = "summary." + field[len("summary_metrics."):]
    for prefix in ("config.", "summary."):
        if field.startswith(prefix):
            base = doc.get(prefix[:-1]) or {}
            rest = field[len(prefix):]
            return _nested(base, rest)
    return doc.get(field, _MISSING)


def _nested(base: Any, path: str) -> Any:
    if not isinstance(base, Mapping):
        return _MISSING
    if path in base:
        return base[path]
    head, dot, tail = path.partition(".")
    if dot and head in base:
        return _nested(base[head], tail)
    return _MISSING


def matches(doc: Mapping[str, Any], flt: Mapping[str, Any] | None) -> bool:
    """Whether a run document passes a filter.

    Raises:
        QueryError: an unknown operator, naming it.
    """
    if not flt:
        return True
    if not isinstance(flt, Mapping):
        raise QueryError(f"a filter must be a dict, not {type(flt).__name__}")
    for key, cond in flt.items():
        if key == "$and":
            ok = all(matches(doc, c) for c in _list(cond, key))
        elif key == "$or":
            ok = any(matches(doc, c) for c in _list(cond, key))
        elif key == "$nor":
            ok = not any(matches(doc, c) for c in _list(cond, key))
        elif key.startswith("$"):
            raise QueryError(f"unknown filter operator {key!r} at the top level")
        else:
            ok = _field_matches(lookup(doc, key), cond, key)
        if not ok:
            return False
    return True


def _list(cond: Any, op: str) -> list[Any]:
    if not isinstance(cond, (list, tuple)):
        raise QueryError(f"{op} takes a list of filters, not {type(cond).__name__}")
    return list(cond)


def _field_matches(value: Any, cond: Any, field: str) -> bool:
    if isinstance(cond, Mapping) and cond and all(str(k).startswith("$") for k in cond):
        return all(_op(value, op, arg, field) for op, arg in cond.items())
    return _equal(value, cond)


def _equal(value: Any, arg: Any) -> bool:
    if value is _MISSING:
        return arg is None
    if isinstance(value, (list, tuple)) and not isinstance(arg, (list, tuple)):
        return arg in value  # a tag equals "x" when "x" is among the tags
    return bool(value == arg)


def _op(value: Any, op: str, arg: Any, field: str) -> bool:
    if op == "$eq":
        return _equal(value, arg)
    if op == "$ne":
        return not _equal(value, arg)
    if op in _COMPARE:
        if value is _MISSING or value is None:
            return False
        try:
            return _COMPARE[op](value, arg)
        except TypeError:
            return False
    if op in ("$in", "$nin"):
        if not isinstance(arg, (list, tuple, set)):
            raise QueryError(f"{field}: {op} takes a list, not {type(arg).__name__}")
        if isinstance(value, (list, tuple)):
            hit = any(v in arg for v in value)
        else:
            hit = value is not _MISSING and value in arg
        return hit if op == "$in" else not hit
    if op == "$exists":
        return (value is not _MISSING and value is not None) == bool(arg)
    if op == "$regex":
        if not isinstance(value, str):
            return False
        try:
            return re.search(str(arg), value) is not None
        except re.error as exc:
            raise QueryError(f"{field}: bad $regex {arg!r}: {exc}") from None
    if op == "$not":
        return not _field_matches(value, arg, field)
    raise QueryError(
        f"{field}: unknown filter operator {op!r}; use one of $eq $ne $gt $gte $lt $lte $in $nin "
        "$exists $regex $not"
    )


def sort_key(order: str) -> tuple[str, bool]:
    """``"-summary.acc"`` -> ``("summary.acc", True)`` (field, descending)."""
    if not isinstance(order, str) or not order.strip("+-"):
        raise QueryError(f"order {order!r} must be a field name, optionally prefixed by + or -")
    if order[0] in "+-":
        return order[1:], order[0] == "-"
    return order, False


def order_docs(docs: list[Any], order: str | None, doc_of: Callable[[Any], Mapping[str, Any]]) -> list[Any]:
    """Sort items by a field of their document: numbers, then text, then items missing the field."""
    if not order:
        return docs
    field, desc = sort_key(order)
    numbers: list[tuple[Any, Any]] = []
    texts: list[tuple[str, Any]] = []
    absent: list[Any] = []
    for item in docs:  # one lookup per item
        v = lookup(doc_of(item), field)
        if v is _MISSING or v is None:
            absent.append(item)
        elif isinstance(v, (bool, int, float)):
            numbers.append((v, item))
        else:
            texts.append((str(v), item))
    numbers.sort(key=lambda t: t[0], reverse=desc)
    texts.sort(key=lambda t: t[0], reverse=desc)
    return [i for _, i in numbers] + [i for _, i in texts] + absent


# --- the filter expression language (magics, REST endpoints, the run table's filter box) ---------
_OPS = {"==": "$eq", "!=": "$ne", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "~": "$regex"}
_TOKEN = re.compile(r"""\s*(?:
    (?P<num>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![A-Za-z_./-]))
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>==|!=|<=|>=|<|>|~|\(|\)|\[|\]|,)
  | (?P<word>[A-Za-z_][A-Za-z0-9_./:-]*)
)""", re.VERBOSE)
_WORDS = {"true": True, "false": False, "none": None, "null": None}


def parse_expression(text: str) -> dict[str, Any]:
    """A filter written as an expression, as a MongoDB-style filter (see :func:`matches`)::

        config.lr < 0.5
        state == "finished" and summary.val/acc >= 0.9
        (tags == "baseline" or name ~ "^exp") and not config.model.depth in [2, 4]

    Comparisons ``== != < <= > >=``, ``~`` (a regular expression), ``in [...]`` and ``not in
    [...]``, joined by ``and``, ``or``, ``not`` and parentheses. Fields as in :func:`lookup`
    (``summary.val/acc`` is one field: ``/`` is part of a name). Values: numbers, quoted strings,
    ``true``, ``false``, ``none``.

    Raises:
        QueryError: what was expected, and where.
    """
    tokens: list[tuple[str, Any, int]] = []
    pos = 0
    text = str(text)
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise QueryError(f"filter {text!r}: cannot read {text[pos:].strip()[:20]!r} at position {pos}")
        kind = m.lastgroup or ""
        raw = m.group(kind)
        value: Any = raw
        if kind == "num":
            value = float(raw) if any(c in raw for c in ".eE") else int(raw)
        elif kind == "str":
            value = re.sub(r"\\(.)", r"\1", raw[1:-1])
        tokens.append((kind, value, m.start(kind)))
        pos = m.end()
    if not tokens:
        raise QueryError("an empty filter: write a comparison such as config.lr < 0.5")
    parser = _Parser(text, tokens)
    out = parser.expr()
    if parser.i < len(tokens):
        parser.fail("'and', 'or' or the end")
    return out


class _Parser:
    def __init__(self, text: str, tokens: list[tuple[str, Any, int]]) -> None:
        self.text, self.tokens, self.i = text, tokens, 0

    def peek(self) -> tuple[str, Any, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def fail(self, wanted: str) -> Any:
        tok = self.peek()
        where = f"{tok[1]!r} at position {tok[2]}" if tok else "the end"
        raise QueryError(f"filter {self.text!r}: expected {wanted}, found {where}")

    def word(self, w: str) -> bool:
        tok = self.peek()
        if tok is not None and tok[0] == "word" and str(tok[1]).lower() == w:
            self.i += 1
            return True
        return False

    def op(self, o: str) -> bool:
        tok = self.peek()
        if tok is not None and tok[0] == "op" and tok[1] == o:
            self.i += 1
            return True
        return False

    def expr(self) -> dict[str, Any]:
        parts = [self.conj()]
        while self.word("or"):
            parts.append(self.conj())
        return parts[0] if len(parts) == 1 else {"$or": parts}

    def conj(self) -> dict[str, Any]:
        parts = [self.neg()]
        while self.word("and"):
            parts.append(self.neg())
        return parts[0] if len(parts) == 1 else {"$and": parts}

    def neg(self) -> dict[str, Any]:
        if self.word("not"):
            return {"$nor": [self.neg()]}
        if self.op("("):
            inner = self.expr()
            if not self.op(")"):
                self.fail("')'")
            return inner
        return self.comparison()

    def value(self) -> Any:
        tok = self.peek()
        if tok is None or tok[0] not in ("num", "str", "word"):
            return self.fail("a value (a number, a quoted string, true, false or none)")
        self.i += 1
        if tok[0] == "word":
            low = str(tok[1]).lower()
            if low not in _WORDS:
                raise QueryError(f"filter {self.text!r}: {tok[1]!r} at position {tok[2]} is not a value; "
                                 f"quote a string: \"{tok[1]}\"")
            return _WORDS[low]
        return tok[1]

    def listing(self) -> list[Any]:
        if not self.op("["):
            self.fail("'[' starting a list")
        items = [self.value()]
        while self.op(","):
            items.append(self.value())
        if not self.op("]"):
            self.fail("',' or ']'")
        return items

    def comparison(self) -> dict[str, Any]:
        tok = self.peek()
        if tok is None or tok[0] != "word" or str(tok[1]).lower() in ("and", "or", "not", "in"):
            return self.fail("a field such as config.lr, summary.val/acc or state")
        self.i += 1
        field = str(tok[1])
        if self.word("in"):
            return {field: {"$in": self.listing()}}
        if self.word("not"):
            if not self.word("in"):
                self.fail("'in' after 'not'")
            return {field: {"$nin": self.listing()}}
        nxt = self.peek()
        if nxt is None or nxt[0] != "op" or nxt[1] not in _OPS:
            return self.fail("a comparison (== != < <= > >= ~ in)")
        self.i += 1
        value = self.value()
        if nxt[1] == "~" and not isinstance(value, str):
            raise QueryError(f"filter {self.text!r}: '~' takes a quoted regular expression")
        return {field: {_OPS[nxt[1]]: value}}
