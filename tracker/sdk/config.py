"""``run.config``: the run's hyperparameters, persisted as soon as they change."""

from __future__ import annotations

from collections.abc import Mapping

from tracker.convert import group_config, is_instance_without_import, to_jsonable
from tracker.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    Problem = Callable[[tuple[Any, ...], str], None]


def _as_mapping(data: Any, what: str) -> Mapping[str, Any]:
    if data is None:
        return {}
    if isinstance(data, Mapping):
        return data
    if is_instance_without_import(data, "argparse", "Namespace"):
        return vars(data)
    import dataclasses

    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        return dataclasses.asdict(data)
    raise ConfigError(
        f"{what} takes a dict, an argparse.Namespace or a dataclass instance, "
        f"not a {type(data).__name__}"
    )


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
        self._set_many({key: value}, None)

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
            raise AttributeError(f"config keys may not start with '_' ({name!r})")
        self._set_many({name: value}, None)

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
            ConfigError: a key already holds a different value and changes are not allowed.
        """
        if group is None and is_instance_without_import(data, "argparse", "Namespace"):
            group = "Args"
        items = dict(_as_mapping(data, "config.update()"))
        items.update(kwargs)
        self._set_many(items, allow_val_change, group)

    def setdefaults(self, data: Any) -> None:
        """Set only the keys that are not set yet."""
        items = _as_mapping(data, "config.setdefaults()")
        self._set_many({k: v for k, v in items.items() if k not in self._items}, None)

    def _set_many(self, items: Mapping[str, Any], allow_val_change: bool | None, group: str | None = None) -> None:
        allow = self._allow if allow_val_change is None else allow_val_change
        new: dict[str, Any] = {}
        for key, value in items.items():
            if not isinstance(key, str):
                raise ConfigError(f"config keys must be strings, got {key!r} ({type(key).__name__})")
            plain = to_jsonable(value, f"config[{key!r}]", self._problem)
            if key in self._items and self._items[key] != plain and not allow:
                raise ConfigError(
                    f"config key {key!r} is already {self._items[key]!r}; setting it to {plain!r} "
                    "needs allow_val_change=True (config.update({...}, allow_val_change=True) or "
                    "tracker.init(..., allow_val_change=True))"
                )
            new[key] = plain
        if not new:
            return
        changed = any(self._items.get(k, _MISSING) != v for k, v in new.items())
        self._items.update(new)
        if group is not None:
            if not isinstance(group, str) or not group:
                raise ConfigError(f"a configuration group is a non-empty string, not {group!r}")
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


_MISSING = object()
