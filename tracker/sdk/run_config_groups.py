"""ClearML-style configuration of a run: ``connect``, ``connect_configuration``, user properties.

:class:`ConfigGroups` does this work for one :class:`~tracker.sdk.run.Run`, whose methods of the
same names delegate to it; it is given the run's paths, record and config when the run is made.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from tracker.convert import is_instance_without_import, to_jsonable
from tracker.errors import UsageError
from tracker.store import layout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from tracker.sdk.config import Config
    from tracker.store.layout import RunPaths


class ConfigGroups:
    """Configuration groups, configuration objects and user properties of one live run.

    Args:
        paths: the run's files in the store (configuration objects go to its ``files/``).
        record: the run's ``run.json`` record, shared with the run.
        config: the run's :class:`~tracker.sdk.config.Config`.
        write_record: writes ``record`` to ``run.json``.
        problem: reports a value that is not JSON data, or a file that cannot be written.
    """

    def __init__(
        self,
        *,
        paths: RunPaths,
        record: dict[str, Any],
        config: Config,
        write_record: Callable[[], None],
        problem: Callable[[tuple[Any, ...], str], None],
    ) -> None:
        self._paths = paths
        self._record = record
        self._config = config
        self._write_record = write_record
        self._problem = problem

    def connect(self, obj: Any, name: str = "General") -> Any:
        """See :meth:`tracker.sdk.run.Run.connect`."""
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
        """See :meth:`tracker.sdk.run.Run.connect_configuration`."""
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
        """See :attr:`tracker.sdk.run.Run.user_properties`."""
        return dict(self._record.get("user_properties") or {})

    def set_user_properties(self, **properties: Any) -> None:
        """See :meth:`tracker.sdk.run.Run.set_user_properties`."""
        props = self._record.setdefault("user_properties", {})
        for key, value in properties.items():
            if value is None:
                props.pop(key, None)
            else:
                props[key] = to_jsonable(value, f"user property {key!r}", self._problem)
        self._write_record()
