"""Generic conversions shared by the write side, media, artifacts and the read API.

A base module: it imports nothing of the tracker but :mod:`tracker.errors`, and no heavy package
at import (numpy, ``json`` and friends load inside the functions that need them), so the logging
API can use it on its hot path and every layer above may import it.

- :func:`is_instance_without_import`, :func:`class_module`, :func:`tensor_to_numpy`: recognise and
  convert numpy values and tensors (torch, TensorFlow, JAX, ...) by class, never importing them;
- :func:`to_data`: one logged value as plain data (a number, string, bool, None, or nested lists);
- :func:`to_jsonable`: a config, summary or metadata value as JSON-compatible data;
- :func:`safe_repr`, :func:`safe_str`, :func:`describe_exception`, :func:`type_name`: text about
  an arbitrary object for a message, which never raises whatever the object does;
- :func:`check_key`, :func:`is_text`, :func:`int_too_long`: the rules for keys, strings and
  integers every stored value follows (see "Bad values" in docs/logging.md);
- :func:`check_tags`: the rule for run tags;
- :func:`group_config`: a config split into its ClearML-style groups.

Whatever a user passes, the conversions here end in a value, a problem reported through the
caller's ``problem(kind, message)`` or :class:`Unsupported`: an object whose ``repr``, ``str``,
``__len__``, ``__iter__``, ``__float__`` or ``__array__`` raises, a container that contains itself
(a cycle) or is nested deeper than :data:`MAX_DEPTH`, an int with more digits than Python turns into
text, a string holding lone surrogates. Only :data:`PASS_THROUGH` exceptions (a problem raised on
purpose under ``strict``) go through.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping

from tracker.errors import TrackerWarning, TrackingFailure, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Problem = Callable[[tuple[Any, ...], str], None]

#: The classes the store keeps as they are.
PLAIN_TYPES = frozenset({float, int, bool, str, type(None)})
#: The most elements an array (or list) may have to be kept as one history value.
MAX_ARRAY_ELEMENTS = 10_000
#: Top-level packages whose objects are tensors: recognised by class, never imported.
TENSOR_MODULES = ("torch", "tensorflow", "jax", "jaxlib", "cupy", "mxnet", "paddle")
#: The deepest nesting of dicts, lists and arrays converted; what lies deeper is dropped with a
#: warning (it would exhaust Python's stack: ``RecursionError``).
MAX_DEPTH = 100
#: Exceptions a conversion lets through as they are: a problem raised on purpose (``strict``), or a
#: tracker warning that the warning filters turned into an error. Anything else an object raises
#: while it is converted is caught, and the value dropped with a warning.
PASS_THROUGH = (TrackingFailure, TrackerWarning)

_NONE = type(None)
_NUMBERS = frozenset({float, bool, _NONE})


class Unsupported(Exception):
    """A value that cannot be stored; the message says why and what would work."""


class _Dropped:
    """The marker :func:`to_jsonable` returns (when asked to) for a value it left out."""

    def __repr__(self) -> str:
        return "DROPPED"


#: Returned by :func:`to_jsonable` (``dropped=DROPPED``) for a value that was left out.
DROPPED: Any = _Dropped()


# --- text about arbitrary objects, for messages ----------------------------------------------
def type_name(obj: Any) -> str:
    """``type(obj).__name__``, never raising."""
    try:
        name = type(obj).__name__
        return name if type(name) is str else "object"
    except Exception:  # noqa: BLE001 - a metaclass may do anything
        return "object"


def full_type_name(obj: Any) -> str:
    """``module.QualName`` of ``obj``'s class, never raising."""
    try:
        cls = type(obj)
        module, name = cls.__module__, cls.__qualname__
        if type(module) is str and type(name) is str:
            return f"{module}.{name}"
    except Exception:  # noqa: BLE001 - a metaclass may do anything
        pass
    return type_name(obj)


_REPR: Any = None


def _bounded_repr() -> Any:
    global _REPR
    if _REPR is None:
        import reprlib

        r = reprlib.Repr()
        r.maxlevel = 3
        r.maxdict = r.maxlist = r.maxtuple = r.maxset = r.maxfrozenset = r.maxdeque = r.maxarray = 8
        r.maxstring = r.maxother = 200
        r.maxlong = 60
        _REPR = r
    return _REPR


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 3, 1)] + "..."


def safe_repr(obj: Any, limit: int = 80) -> str:
    """``repr(obj)`` for a message: never raises, whatever ``obj``'s ``__repr__`` does, costs little
    for a large container (``reprlib``: a few items, a few levels), and is at most ``limit``
    characters. Lone surrogates are escaped, so the text can always be printed and written."""
    try:
        if isinstance(obj, int) and not isinstance(obj, bool) and int.bit_length(obj) > 200:
            text = f"<int of {int.bit_length(obj)} bits>"  # repr of a huge int is slow, or refused
        else:
            text = str.__str__(_bounded_repr().repr(obj))
        if not is_text(text):
            text = escape_surrogates(text)
    except Exception:  # noqa: BLE001 - whatever a __repr__ does, the message goes out
        text = f"<{type_name(obj)} object (its repr raised)>"
    return _cap(text, limit)


def safe_str(obj: Any, limit: int = 200) -> str:
    """``str(obj)`` for a message: never raises, at most ``limit`` characters, surrogates escaped."""
    try:
        text = str.__str__(str(obj))
        if not is_text(text):
            text = escape_surrogates(text)
    except Exception:  # noqa: BLE001 - whatever a __str__ does, the message goes out
        text = f"<{type_name(obj)} object (its str raised)>"
    return _cap(text, limit)


def describe_exception(exc: BaseException) -> str:
    """``"TypeName: message"`` for an exception raised by user code, never raising."""
    message = safe_str(exc)
    return f"{type_name(exc)}: {message}" if message else type_name(exc)


# --- the rules every stored value follows ------------------------------------------------------
def is_text(s: str) -> bool:
    """Whether ``s`` is valid Unicode text, i.e. has a UTF-8 form: it holds no lone surrogate
    (``"\\udc80"``, as ``os.fsdecode`` makes of undecodable bytes). NUL characters are fine."""
    if s.isascii():
        return True
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def escape_surrogates(s: str) -> str:
    """``s`` with each lone surrogate written as its escape (the six characters ``\\udc80``)."""
    return s.encode("utf-8", "backslashreplace").decode("utf-8")


def int_too_long(value: int) -> bool:
    """Whether ``value`` has more decimal digits than Python turns into text
    (``sys.get_int_max_str_digits()``, 4300 by default): such an int has no JSON or text form, so
    the store cannot keep it exactly."""
    get_limit = getattr(sys, "get_int_max_str_digits", None)
    limit = get_limit() if get_limit is not None else 0
    if not limit or int.bit_length(value) < 3 * limit:  # 3 bits a digit: safely below the limit
        return False
    try:
        int.__repr__(value)
    except ValueError:
        return True
    return False


def _int_message(value: int) -> str:
    get_limit = getattr(sys, "get_int_max_str_digits", None)
    limit = get_limit() if get_limit is not None else 0
    return (f"an int of {int.bit_length(value)} bits has more than {limit} digits "
            "(sys.get_int_max_str_digits()), so it has no text or JSON form and cannot be stored")


_SURROGATES = ("holds lone surrogates, so it is not valid Unicode text and has no stored form "
               "(decode bytes with errors='replace' or 'backslashreplace')")


def check_key(key: Any, what: str, problem: Problem, *, escape: bool) -> str | None:
    """A top-level key as stored: a ``str`` (a subclass becomes a plain ``str``), or None after
    ``problem`` was told why its value is dropped (a key that is not a string).

    A key holding lone surrogates is stored with them escaped (``escape=True``: config, summary),
    or its value is dropped (``escape=False``: history keys), with a problem either way.
    """
    if type(key) is str:
        text = key
    elif isinstance(key, str):
        text = str.__str__(key)
    else:
        name = type_name(key)
        problem(("key-type", what, name),
                f"key {safe_repr(key)} is a {name}, not a str: its value was dropped ({what} keys must be strings)")
        return None
    if is_text(text):
        return text
    fixed = escape_surrogates(text)
    if escape:
        problem(("key-surrogates", what, fixed),
                f"{what} key {safe_repr(fixed)} held lone surrogates (not valid Unicode text): it was "
                "stored with them escaped (as \\udXXX)")
        return fixed
    problem(("key-surrogates", what, fixed),
            f"{what} key {safe_repr(fixed)} holds lone surrogates (not valid Unicode text): its value was dropped")
    return None


def check_plain(value: Any, cls: type, max_text: int, at: str = "") -> Any:
    """A value of a :data:`PLAIN_TYPES` class as stored; raises :class:`Unsupported` for a string
    over ``max_text`` characters or holding lone surrogates, and an int too long for text."""
    if cls is str:
        if len(value) > max_text:
            raise Unsupported(f"a string of {len(value)} characters{at} is over max_text_bytes={max_text}")
        if not is_text(value):
            raise Unsupported(f"a str{at} {_SURROGATES}")
    elif cls is int and int_too_long(value):
        raise Unsupported(_int_message(value) + at)
    return value


# --- recognising classes -----------------------------------------------------------------------
def class_module(obj: Any) -> str:
    """The top-level package of ``obj``'s class, e.g. ``"numpy"`` or ``"torch"``."""
    try:
        module = type(obj).__module__
    except Exception:  # noqa: BLE001 - a metaclass may do anything
        return ""
    return module.split(".", 1)[0] if type(module) is str else ""


def is_instance_without_import(obj: Any, module: str, name: str) -> bool:
    """Whether ``obj``'s class (or a base) is ``module.name``, without importing ``module``."""
    try:
        for cls in type(obj).__mro__:
            mod = cls.__module__
            if cls.__name__ == name and type(mod) is str and mod.split(".", 1)[0] == module:
                return True
    except Exception:  # noqa: BLE001 - a metaclass may do anything: then it is not that class
        return False
    return False


def is_media(value: Any) -> bool:
    """Whether ``value`` is a tracker media object (``tracker.Image``, ``tracker.Table``, ...),
    told by its class's ``_tracker_media`` marker without importing :mod:`tracker.media`."""
    try:
        return getattr(type(value), "_tracker_media", False) is True
    except Exception:  # noqa: BLE001 - a metaclass may do anything
        return False


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


def _where(base: str, path: list[Any]) -> str:
    text = base + "".join(f"[{p}]" if type(p) is int else f"[{safe_repr(p, 40)}]" for p in path)
    return text if len(text) <= 300 else text[:150] + "..." + text[-147:]


def _text_of(obj: Any) -> str:
    return str.__str__(str(obj))


def _leaves(items: list[Any]) -> int:
    return sum(1 for v in items if type(v) not in (list, tuple, dict))


# --- log values ----------------------------------------------------------------------------------
def to_data(value: Any, max_text: int, key: str | None = None) -> Any:
    """One logged value as plain data: a ``float``, ``int``, ``bool``, ``str`` or ``None``, or (for
    a list, a tuple, or an array or tensor of more than one element) a list of plain data, where
    nested dicts have ``str`` keys (other keys become their ``str()``).

    numpy scalars, 0-d tensors and objects with ``__float__`` (``__index__``) become numbers; a
    numpy object array is converted element by element. A value is kept whole or not at all.

    Args:
        value: the value.
        max_text: the most characters a string (and all the strings of a list) may have.
        key: the key the value is logged under, for messages: a problem inside it says
            ``at key 'key'[2]``.

    Raises:
        Unsupported: the value has no stored form (a set, bytes, an array over
            :data:`MAX_ARRAY_ELEMENTS`, a string over ``max_text`` characters or holding lone
            surrogates, an int too long for text, a media object, an unknown class, an object
            whose ``__float__``, ``__len__``, ``__iter__`` or ``__array__`` raised, a list that
            contains itself or is nested deeper than :data:`MAX_DEPTH`); the message names its
            type and what would work.
    """
    return _Data(max_text, key).convert(value, 0)


class _Inside:
    """While a container is converted: its id among the walk's ancestors (a cycle is one met
    again) and, unless ``slot`` is None, a place on the path for its keys or indices."""

    __slots__ = ("ident", "slot", "walk")

    def __init__(self, walk: Any, ident: int, slot: Any) -> None:
        self.walk, self.ident, self.slot = walk, ident, slot

    def __enter__(self) -> list[Any]:
        self.walk.ancestors.add(self.ident)
        if self.slot is not None:
            self.walk.path.append(self.slot)
        return self.walk.path  # type: ignore[no-any-return]

    def __exit__(self, *exc: object) -> None:
        if self.slot is not None:
            self.walk.path.pop()
        self.walk.ancestors.discard(self.ident)


class _Data:
    """The walk behind :func:`to_data`: the path for messages, the containers being converted
    (a cycle is one of them met again), and the elements and characters so far."""

    def __init__(self, max_text: int, key: str | None) -> None:
        self.max_text = max_text
        self.key = key
        self.path: list[Any] = []
        self.ancestors: set[int] = set()
        self.elements = 0
        self.chars = 0

    def where(self) -> str:
        return _where("" if self.key is None else safe_repr(self.key), self.path)

    def at(self) -> str:
        return f" at key {self.where()}" if self.path else ""

    def convert(self, value: Any, depth: int) -> Any:
        cls = type(value)
        if cls in PLAIN_TYPES:
            return self.plain(value, cls)
        if is_media(value):
            raise Unsupported(f"a {type_name(value)}{self.at()} can only be logged by a run")
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return self.plain(int.__int__(value), int)
        if isinstance(value, float):
            return float.__float__(value)
        if isinstance(value, str):
            return self.plain(str.__str__(value), str)
        module = class_module(value)
        if module == "numpy" or module in TENSOR_MODULES:
            return self.array(value, module, depth)
        if isinstance(value, (list, tuple)):
            return self.sequence(value, value, depth)
        if isinstance(value, Mapping):
            return self.mapping(value, depth)
        if isinstance(value, (set, frozenset, bytes, bytearray)):
            raise Unsupported(f"{type_name(value)}{self.at()} has no stored form; log a list, a number or a string")
        if hasattr(cls, "__float__"):
            try:
                return float.__float__(float(value))
            except Exception as exc:  # noqa: BLE001 - a user's __float__ may raise anything
                raise Unsupported(f"{type_name(value)}.__float__{self.at()} failed: {describe_exception(exc)}") from None
        if hasattr(cls, "__index__"):
            import operator

            try:
                number = int.__int__(operator.index(value))
            except Exception as exc:  # noqa: BLE001 - a user's __index__ may raise anything
                raise Unsupported(f"{type_name(value)}.__index__{self.at()} failed: {describe_exception(exc)}") from None
            return self.plain(number, int)
        raise Unsupported(
            f"{full_type_name(value)}{self.at()} is not a number, string, bool, None, list, array, "
            "tensor or tracker media object"
        )

    def plain(self, value: Any, cls: type) -> Any:
        if cls is str:
            self.chars += len(value)
            if self.chars > self.max_text and self.path:
                raise Unsupported(f"the strings of this value hold over max_text_bytes={self.max_text} characters")
        return check_plain(value, cls, self.max_text, self.at())

    def enter(self, obj: Any, depth: int) -> int:
        if depth >= MAX_DEPTH:
            raise Unsupported(f"it is nested deeper than {MAX_DEPTH} levels{self.at()}")
        ident = id(obj)
        if ident in self.ancestors:
            raise Unsupported(f"cycle at key {self.where()}: a {type_name(obj)} that contains itself")
        return ident

    def read(self, what: Any, read: Callable[[], Any]) -> Any:
        try:
            return read()
        except Exception as exc:  # noqa: BLE001 - a user's __iter__/__len__/items() may raise anything
            raise Unsupported(f"reading the {type_name(what)}{self.at()} raised {describe_exception(exc)}") from None

    def count(self, n: int) -> None:
        self.elements += n
        if self.elements > MAX_ARRAY_ELEMENTS:
            raise Unsupported(
                f"it holds over {MAX_ARRAY_ELEMENTS} elements, the limit for history values; log a "
                "summary statistic or a tracker.Histogram instead"
            )

    def sequence(self, items: Any, owner: Any, depth: int) -> list[Any]:
        ident = self.enter(owner, depth)
        seq: list[Any] = items if type(items) is list else self.read(items, lambda: list(items))
        kinds = set(map(type, seq))
        if kinds <= _NUMBERS:
            self.count(len(seq))
            return list(seq)
        if kinds <= _NUMBERS | {int}:
            self.count(len(seq))
            for v in seq:
                if type(v) is int and int_too_long(v):
                    raise Unsupported(_int_message(v) + self.at())
            return list(seq)
        self.count(_leaves(seq))
        with _Inside(self, ident, 0) as path:
            out = []
            for i, v in enumerate(seq):
                path[-1] = i
                out.append(self.convert(v, depth + 1))
            return out

    def mapping(self, value: Any, depth: int) -> dict[str, Any]:
        ident = self.enter(value, depth)
        pairs = self.read(value, lambda: list(value.items()))
        self.count(_leaves([v for _, v in pairs]))
        with _Inside(self, ident, "") as path:
            out: dict[str, Any] = {}
            for k, v in pairs:
                if type(k) is str:
                    key = k
                elif isinstance(k, str):
                    key = str.__str__(k)
                else:
                    key = self.read(k, functools.partial(_text_of, k))
                if not is_text(key):
                    raise Unsupported(f"a key{self.at()} {_SURROGATES}")
                if key in out:
                    raise Unsupported(f"two keys{self.at()} both read {safe_repr(key)}")
                path[-1] = key
                out[key] = self.convert(v, depth + 1)
            return out

    def array(self, value: Any, module: str, depth: int) -> Any:
        def read() -> tuple[Any, Any, Any]:
            arr = value if module == "numpy" else tensor_to_numpy(value)
            size = getattr(arr, "size", 1)
            if size == 1 and hasattr(arr, "item"):
                return arr, arr.item(), None
            if size > MAX_ARRAY_ELEMENTS:
                shape = getattr(arr, "shape", "?")
                raise Unsupported(
                    f"an array of shape {safe_repr(shape)} ({size} elements){self.at()} is over the "
                    f"{MAX_ARRAY_ELEMENTS}-element limit for history values; log a summary statistic or "
                    "a tracker.Histogram instead"
                )
            tolist = getattr(arr, "tolist", None)
            if not callable(tolist):
                raise Unsupported(f"{type_name(arr)}{self.at()} cannot be converted to a list")
            return arr, None, tolist()

        try:
            arr, item, items = read()
        except Unsupported:
            raise
        except Exception as exc:  # noqa: BLE001 - a tensor's .numpy(), an __array__ may raise anything
            raise Unsupported(f"converting the {type_name(value)}{self.at()} raised {describe_exception(exc)}") from None
        if items is not None:
            return self.sequence(items, arr, depth)
        if type(item) in PLAIN_TYPES:
            return self.plain(item, type(item))
        if isinstance(item, complex):
            raise Unsupported(f"complex numbers{self.at()} have no stored form; log .real and .imag")
        dtype = getattr(arr, "dtype", None)
        if getattr(dtype, "kind", None) == "O":  # an object array's one element: converted as itself
            with _Inside(self, self.enter(arr, depth), None):
                return self.convert(item, depth + 1)
        raise Unsupported(f"a numpy value of dtype {safe_str(dtype)}{self.at()} has no stored form")


# --- config, summary and metadata values -------------------------------------------------------
def to_jsonable(value: Any, where: str, problem: Problem, *, dropped: Any = None) -> Any:
    """Convert a config, summary or metadata value to JSON-compatible data.

    Mappings, lists, tuples and sets (sorted), enums, paths, dataclasses, ``argparse.Namespace``,
    numpy values and tensors are converted; non-string keys of nested mappings become their
    ``str()``; any other object is stored as its ``str()`` after ``problem(kind, message)`` is
    called with a message naming ``where`` and the type.

    What cannot be kept is left out after ``problem`` is called: a reference back to an enclosing
    container (a cycle: the dict key is left out, a list element becomes None), what lies deeper
    than :data:`MAX_DEPTH`, an object whose ``str()`` (or whose conversion) raises, an int too long
    for text. Strings holding lone surrogates are kept with them escaped, after ``problem``.

    Returns:
        The JSON data, or ``dropped`` when ``value`` itself was left out.
    """
    cls = type(value)
    if cls is float or cls is bool or cls is _NONE or (cls is str and value.isascii()) or (
        cls is int and -(1 << 64) < value < 1 << 64
    ):
        return value
    try:
        out = _Json(where, problem).child(value, 0)
    except _Raised as raised:
        raise raised.exc from None
    return dropped if out is DROPPED else out


class _Raised(Exception):
    """Carries what the caller's ``problem`` raised (``strict``, or a caller that refuses) out of
    the walk untouched."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _Json:
    """The walk behind :func:`to_jsonable`; each part is converted on its own, so a bad part costs
    only itself."""

    def __init__(self, base: str, problem: Problem) -> None:
        self.base = base
        self._problem = problem
        self.path: list[Any] = []
        self.ancestors: set[int] = set()

    def problem(self, kind: tuple[Any, ...], message: str) -> None:
        try:
            self._problem(kind, message)
        except BaseException as exc:  # noqa: BLE001 - not ours to handle: carried out of the walk
            raise _Raised(exc) from None

    def where(self) -> str:
        return _where(self.base, self.path)

    def child(self, value: Any, depth: int) -> Any:
        try:
            return self.convert(value, depth)
        except (_Raised, *PASS_THROUGH):
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the object does, the rest is kept
            where = self.where()
            self.problem(("jsonable-failed", where, type_name(value)),
                         f"{where}: converting a {full_type_name(value)} raised {describe_exception(exc)}; "
                         "it was dropped")
            return DROPPED

    def convert(self, value: Any, depth: int) -> Any:
        cls = type(value)
        if cls in PLAIN_TYPES:
            if cls is str:
                return self.text(value)
            if cls is int:
                return self.integer(value)
            return value
        if isinstance(value, Mapping):
            return self.pairs(value, lambda: list(value.items()), depth)
        if isinstance(value, (list, tuple)):
            return self.sequence(value, lambda: list(value), depth, keep_places=True)
        if isinstance(value, (set, frozenset)):
            items = self.sequence(value, lambda: list(value), depth, keep_places=False)
            return items if items is DROPPED else sorted(items, key=repr)
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return self.integer(int.__int__(value))
        if isinstance(value, float):
            return float.__float__(value)
        if isinstance(value, str):
            return self.text(str.__str__(value))
        import dataclasses
        import enum
        import os

        if isinstance(value, enum.Enum):
            return self.inner(value, value.value, depth)
        if isinstance(value, os.PathLike):
            path = os.fspath(value)
            return self.text(str.__str__(path)) if isinstance(path, str) else self.as_text(value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = dataclasses.fields(value)
            return self.pairs(value, lambda: [(f.name, getattr(value, f.name)) for f in fields], depth)
        if is_instance_without_import(value, "argparse", "Namespace"):
            return self.pairs(value, lambda: list(vars(value).items()), depth)
        module = class_module(value)
        if module == "numpy" or module in TENSOR_MODULES:
            return self.array(value, module, depth)
        return self.as_text(value)

    def text(self, s: str) -> str:
        if is_text(s):
            return s
        where = self.where()
        self.problem(("surrogates", where),
                     f"{where}: a str holding lone surrogates (not valid Unicode text) was stored with "
                     "them escaped (as \\udXXX)")
        return escape_surrogates(s)

    def integer(self, v: int) -> Any:
        if not int_too_long(v):
            return v
        where = self.where()
        self.problem(("int-too-long", where), f"{where}: {_int_message(v)}; it was dropped")
        return DROPPED

    def as_text(self, value: Any) -> Any:
        where = self.where()
        name = type_name(value)
        try:
            text = str.__str__(str(value))
        except Exception as exc:  # noqa: BLE001 - a user's __str__ may raise anything
            self.problem(("jsonable", where, name),
                         f"{where}: a {full_type_name(value)} is not JSON data and its str() raised "
                         f"{describe_exception(exc)}; it was dropped")
            return DROPPED
        if not is_text(text):
            text = escape_surrogates(text)
        self.problem(("jsonable", where, name),
                     f"{where}: a {full_type_name(value)} is not JSON data; stored as its text {safe_repr(text)}")
        return text

    def enter(self, obj: Any, depth: int) -> int | None:
        """The id to mark ``obj`` with while it is converted; None (after a problem) for a cycle
        or a container too deep."""
        where = self.where()
        if depth >= MAX_DEPTH:
            self.problem(("too-deep", where),
                         f"{where}: nested deeper than {MAX_DEPTH} levels; what lies below was dropped")
            return None
        ident = id(obj)
        if ident in self.ancestors:
            self.problem(("cycle", where),
                         f"cycle at key {where}: a {type_name(obj)} that contains itself; that reference was cut")
            return None
        return ident

    def inner(self, owner: Any, value: Any, depth: int) -> Any:
        ident = self.enter(owner, depth)
        if ident is None:
            return DROPPED
        with _Inside(self, ident, None):
            return self.convert(value, depth + 1)

    def pairs(self, owner: Any, read: Callable[[], list[tuple[Any, Any]]], depth: int) -> Any:
        ident = self.enter(owner, depth)
        if ident is None:
            return DROPPED
        items = read()
        with _Inside(self, ident, "") as path:
            out: dict[str, Any] = {}
            for k, v in items:
                key = self.key(k)
                if key is DROPPED:
                    continue
                path[-1] = key
                if key in out:
                    where = self.where()
                    self.problem(("key-collision", where),
                                 f"{where}: two keys both read {safe_repr(key)} (a {type_name(k)} among them); "
                                 "the later value was dropped")
                    continue
                converted = self.child(v, depth + 1)
                if converted is not DROPPED:
                    out[key] = converted
            return out

    def key(self, k: Any) -> Any:
        if type(k) is str:
            key = k
        elif isinstance(k, str):
            key = str.__str__(k)
        else:
            try:
                key = str.__str__(str(k))
            except Exception as exc:  # noqa: BLE001 - a user's __str__ may raise anything
                where = self.where()
                self.problem(("key-text", where, type_name(k)),
                             f"{where}: a key of type {type_name(k)} could not be turned into text "
                             f"({describe_exception(exc)}); its value was dropped")
                return DROPPED
        if is_text(key):
            return key
        fixed = escape_surrogates(key)
        where = self.where()
        self.problem(("surrogates", where, fixed),
                     f"{where}: the key {safe_repr(fixed)} held lone surrogates (not valid Unicode text); "
                     "stored with them escaped")
        return fixed

    def sequence(self, owner: Any, read: Callable[[], list[Any]], depth: int, *, keep_places: bool) -> Any:
        ident = self.enter(owner, depth)
        if ident is None:
            return DROPPED
        items = read()
        with _Inside(self, ident, 0) as path:
            out = []
            for i, v in enumerate(items):
                path[-1] = i
                converted = self.child(v, depth + 1)
                if converted is not DROPPED:
                    out.append(converted)
                elif keep_places:
                    out.append(None)
            return out

    def array(self, value: Any, module: str, depth: int) -> Any:
        arr = value if module == "numpy" else tensor_to_numpy(value)
        size = getattr(arr, "size", 1)
        if size == 1 and hasattr(arr, "item"):
            item = arr.item()
            if type(item) in PLAIN_TYPES or getattr(getattr(arr, "dtype", None), "kind", None) == "O":
                return self.inner(arr, item, depth)
            return self.as_text(value)
        tolist = getattr(arr, "tolist", None)
        if size > MAX_ARRAY_ELEMENTS or not callable(tolist):
            return self.as_text(value)
        items = tolist()
        return self.sequence(arr, lambda: items if isinstance(items, list) else [items], depth, keep_places=True)


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
