"""ClearML-style configuration of a run: ``connect``, ``connect_configuration``, user properties
(mixed into :class:`~tracker.sdk.run.Run`)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from tracker.errors import UsageError
from tracker.sdk.values import is_instance_without_import, to_jsonable
from tracker.store import layout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tracker.sdk.config import Config
    from tracker.store.layout import RunPaths


class ConfigGroups:
    """Configuration groups, configuration objects and user properties."""

    if TYPE_CHECKING:
        _paths: RunPaths
        _record: dict[str, Any]
        _config: Config

        def _write_record(self) -> None: ...

        def _problem(self, kind: tuple[Any, ...], message: str) -> None: ...

    # --- ClearML-style configuration ---------------------------------------------------------
    def connect(self, obj: Any, name: str = "General") -> Any:
        """Record an object's parameters in the config, under the group ``name``.

        ``obj`` may be a dict, an ``argparse.Namespace``, a dataclass or any object with public
        attributes. Returns ``obj`` unchanged.

        Raises:
            ConfigError: a key already holds a different value and changes are not allowed.
        """
        if isinstance(obj, Mapping) or is_instance_without_import(obj, "argparse", "Namespace"):
            data: Any = obj
        else:
            import dataclasses

            if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
                data = dataclasses.asdict(obj)
            elif hasattr(obj, "__dict__"):
                data = {k: v for k, v in vars(obj).items() if not k.startswith("_") and not callable(v)}
            else:
                raise UsageError(f"connect() takes a dict, Namespace, dataclass or object, not {type(obj).__name__}")
        self._config.update(data, group=name)
        return obj

    def connect_configuration(
        self, configuration: Any, name: str = "General", description: str | None = None
    ) -> Any:
        """Store a configuration object (a YAML/JSON/text blob, a dict, or a file path) by name.

        The content is saved under ``files/configurations/`` and listed in ``run.json``; read it
        back with ``Api().run(path).config_objects``. Returns the configuration as given (a path
        returns its text).
        """
        import os.path as _p

        layout.check_name(name.replace(" ", "_"), "configuration name")
        if isinstance(configuration, (str, os.PathLike)) and _p.isfile(configuration):
            with open(configuration, encoding="utf-8") as fh:
                text, fmt = fh.read(), _p.splitext(str(configuration))[1].lstrip(".") or "txt"
            result: Any = text
        elif isinstance(configuration, str):
            text, fmt, result = configuration, "txt", configuration
        elif isinstance(configuration, Mapping):
            plain = to_jsonable(dict(configuration), f"configuration {name!r}", self._problem)
            text, fmt, result = layout.dumps(plain), "json", configuration
        else:
            raise UsageError(
                f"connect_configuration() takes text, a dict or a file path, not {type(configuration).__name__}"
            )
        rel = f"configurations/{name.replace(' ', '_')}.{fmt}"
        try:
            path = os.path.join(self._paths.files_dir, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            self._problem(("store-write",), f"cannot save configuration {name!r}: {exc}")
            return result
        objects = self._record.setdefault("config_objects", {})
        objects[name] = {"file": rel, "format": fmt, "description": description}
        self._write_record()
        return result

    @property
    def user_properties(self) -> dict[str, Any]:
        """Free-form properties (editable, also after the run: ``Api().run(p).set(user_properties=...)``)."""
        return dict(self._record.get("user_properties") or {})

    def set_user_properties(self, **properties: Any) -> None:
        """Set user properties (a value of None removes the property)."""
        props = self._record.setdefault("user_properties", {})
        for key, value in properties.items():
            if value is None:
                props.pop(key, None)
            else:
                props[key] = to_jsonable(value, f"user property {key!r}", self._problem)
        self._write_record()
