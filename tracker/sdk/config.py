"""``run.config``: the run's hyperparameters, persisted as soon as they change."""

from __future__ import annotations

from collections.abc import Mapping

from tracker.convert import (
    DROPPED,
    PASS_THROUGH,
    check_key,
    describe_exception,
    group_config,
    is_instance_without_import,
    safe_repr,
    to_jsonable,
    type_name,
)
from tracker.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    Problem = Callable[[tuple[Any, ...], str], None]


def _as_mapping(data: Any, what: str) -> Mapping[str, Any]:
    """A dict, an ``argparse.Namespace`` or a dataclass instance as a mapping (``tracker.init``'s
    ``config=``).

    Raises:
        ConfigError: ``data`` is none of these.
    """
    if data is None:
        return {}
    if isinstance(data, Mapping):
        return data
    if is_instance_without_import(data, "argparse", "Namespace") or _simple_namespace(data):
        return vars(data)
    import dataclasses

    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        return dataclasses.asdict(data)
    raise ConfigError(
        f"{what} takes a dict, an argparse.Namespace, a types.SimpleNamespace or a dataclass instance, "
        f"not a {type_name(data)}"
    )


def _simple_namespace(data: Any) -> bool:
    """A ``types.SimpleNamespace`` (W&B's examples pass their defaults as one)."""
    import types

    return isinstance(data, types.SimpleNamespace)


def _pairs(data: Any, what: str, problem: Problem) -> list[tuple[Any, Any]]:
    """The ``(key, value)`` pairs of a dict, an ``argparse.Namespace`` or a dataclass instance
    (its fields as they are: nested values are converted by ``to_jsonable``). One whose reading
    raises gives none, after ``problem``.

    Raises:
        ConfigError: ``data`` is none of these.
    """
    if data is None:
        return []
    read: Callable[[], list[tuple[Any, Any]]]
    if isinstance(data, Mapping):
        read = lambda: list(data.items())  # noqa: E731
    elif is_instance_without_import(data, "argparse", "Namespace") or _simple_namespace(data):
        read = lambda: list(vars(data).items())  # noqa: E731
    else:
        import dataclasses

        if not (dataclasses.is_dataclass(data) and not isinstance(data, type)):
            raise ConfigError(
                f"{what} takes a dict, an argparse.Namespace, a types.SimpleNamespace or a dataclass instance, "
                f"not a {type_name(data)}"
            )
        fields = dataclasses.fields(data)
        read = lambda: [(f.name, getattr(data, f.name)) for f in fields]  # noqa: E731
    try:
        return read()
    except PASS_THROUGH:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever was passed, training goes on
        problem(("config-read", what, type_name(data)),
                f"{what}: reading the {type_name(data)} it was given raised {describe_exception(exc)}: "
                "nothing was set from it")
        return []


def _same(a: Any, b: Any) -> bool:
    """Equality of JSON data, where NaN equals NaN (setting a key to NaN twice is no change)."""
    if a is b:
        return True
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (a != a and b != b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_same, a, b))
    return bool(a == b)


class Config:
    """Hyperparameters with attribute and item access.

    ``config.lr``, ``config["lr"]``, ``config.update({...})``, ``config.setdefaults({...})``.
    A key, once set, keeps its value: setting it to a different value raises
    :class:`~tracker.errors.ConfigError` unless ``allow_val_change`` is on (per call or as a setting).
    Nested dicts are kept as dicts. Every change is written to the run's ``run.json`` at once.
    """

    def __init__(
        self,
        items: Mapping[str, Any] | None = None,
        *,
        allow_val_change: bool = False,
        on_change: Callable[[dict[str, Any]], None] | None = None,
        problem: Problem | None = None,
    ) -> None:
        object.__setattr__(self, "_items", dict(items or {}))
        #: ClearML-style groups: group name -> keys (keys in no group read as "General")
        object.__setattr__(self, "groups", {})
        object.__setattr__(self, "_allow", allow_val_change)
        object.__setattr__(self, "_on_change", on_change)
        object.__setattr__(self, "_problem", problem or (lambda kind, msg: None))

    # --- mapping protocol -------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._set_many([(key, value)], None)

    def __delitem__(self, key: str) -> None:
        del self._items[key]
        self._changed()

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Config({self._items!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Config):
            return self._items == other._items
        return isinstance(other, Mapping) and self._items == dict(other)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._items[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            raise AttributeError(f"config keys may not start with '_' ({name!r}): use config[{name!r}]")
        self._set_many([(name, value)], None)

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

    def keys(self) -> Any:
        return self._items.keys()

    def values(self) -> Any:
        return self._items.values()

    def items(self) -> Any:
        return self._items.items()

    def get(self, key: str, default: Any = None) -> Any:
        return self._items.get(key, default)

    def as_dict(self) -> dict[str, Any]:
        """A deep-enough copy of the config as a plain dict."""
        import copy

        return copy.deepcopy(self._items)

    # --- updates ----------------------------------------------------------------------------
    def update(
        self, data: Any = None, allow_val_change: bool | None = None, group: str | None = None, **kwargs: Any
    ) -> None:
        """Set several keys from a dict, an ``argparse.Namespace`` or a dataclass (and kwargs).

        Args:
            data: the values.
            allow_val_change: let keys that are set change (default: the setting).
            group: the configuration group the keys belong to (an ``argparse.Namespace`` goes to
                ``"Args"`` unless another group is named).

        Raises:
            ConfigError: a key already holds a different value and changes are not allowed;
                ``data`` is not one of the above; ``group`` is not a non-empty string.

        A key that is not a string, and a value that cannot be stored, are left out with a warning
        (see "Bad values" in docs/logging.md); the other keys are set.
        """
        if group is None and is_instance_without_import(data, "argparse", "Namespace"):
            group = "Args"
        self._set_many([*_pairs(data, "config.update()", self._problem), *kwargs.items()], allow_val_change, group)

    def setdefaults(self, data: Any) -> None:
        """Set only the keys that are not set yet."""
        self._set_many(_pairs(data, "config.setdefaults()", self._problem), None, only_new=True)

    def _set_many(self, pairs: list[tuple[Any, Any]], allow_val_change: bool | None, group: str | None = None,
                  only_new: bool = False) -> None:
        allow = self._allow if allow_val_change is None else allow_val_change
        if group is not None and (not isinstance(group, str) or not group):
            raise ConfigError(f"a configuration group is a non-empty string, not {safe_repr(group)}")
        named: dict[str, Any] = {}
        for key, value in pairs:
            name = check_key(key, "config", self._problem, escape=True)
            if name is not None and not (only_new and name in self._items):
                named[name] = value  # a later value for a key wins, as in dict.update
        new: dict[str, Any] = {}
        for name, value in named.items():
            plain = to_jsonable(value, f"config[{safe_repr(name)}]", self._problem, dropped=DROPPED)
            if plain is DROPPED:
                continue
            if name in self._items and not allow and not _same(self._items[name], plain):
                raise ConfigError(
                    f"config key {safe_repr(name)} is already {safe_repr(self._items[name], 200)}; setting it to "
                    f"{safe_repr(plain, 200)} needs allow_val_change=True (config.update({{...}}, "
                    "allow_val_change=True) or tracker.init(..., allow_val_change=True))"
                )
            new[name] = plain
        if not new:
            return
        changed = any(k not in self._items or not _same(self._items[k], v) for k, v in new.items())
        self._items.update(new)
        if group is not None:
            for members in self.groups.values():
                for key in new:
                    if key in members:
                        members.remove(key)
            self.groups.setdefault(group, []).extend(new)
            changed = True
        if changed:
            self._changed()

    def grouped(self) -> dict[str, dict[str, Any]]:
        """The config by group: named groups first, then ``"General"`` for keys in no group
        (see :func:`tracker.convert.group_config`)."""
        return group_config(self._items, self.groups)

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self._items)



class ConfigStatic:
    """A read-only view of a config (W&B's ``ConfigStatic``): values by attribute or by key."""

    __slots__ = ("_items",)

    def __init__(self, items: dict[str, Any]) -> None:
        object.__setattr__(self, "_items", dict(items))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._items[name]
        except KeyError:
            raise AttributeError(f"the config has no key {name!r}") from None

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("config_static is read-only: set values on run.config")

    __setitem__ = __setattr__

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Any:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> Any:
        return self._items.keys()

    def items(self) -> Any:
        return self._items.items()

    def __repr__(self) -> str:
        return f"ConfigStatic({self._items!r})"
