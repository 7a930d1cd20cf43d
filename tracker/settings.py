"""Settings: from code, ``TRACKER_*`` environment variables, and settings files.

Precedence, highest first:

1. arguments to :func:`tracker.init` (``project=...``, ``dir=...``, ...);
2. a :class:`Settings` object passed as ``tracker.init(settings=...)`` (only the fields it sets);
3. ``TRACKER_<FIELD>`` environment variables (``TRACKER_DIR``, ``TRACKER_MODE``, ...), then the
   ``WANDB_*`` variables that W&B scripts rely on (``WANDB_MODE``, ``WANDB_PROJECT``, ...);
4. the workspace file ``tracker.toml`` in the working directory or the nearest parent;
5. the user file ``$XDG_CONFIG_HOME/tracker/settings.toml`` (``~/.config/tracker/settings.toml``);
6. the defaults below.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tracker.errors import UsageError

MODES = ("online", "offline", "disabled")
RESUME_MODES = ("allow", "must", "never", "auto")
REINIT_MODES = ("default", "return_previous", "finish_previous", "create_new")

_WANDB_ENV = {
    "mode": "WANDB_MODE",
    "project": "WANDB_PROJECT",
    "run_id": "WANDB_RUN_ID",
    "run_name": "WANDB_NAME",
    "run_group": "WANDB_RUN_GROUP",
    "run_job_type": "WANDB_JOB_TYPE",
    "run_notes": "WANDB_NOTES",
    "run_tags": "WANDB_TAGS",
    "resume": "WANDB_RESUME",
}


@dataclass
class Settings:
    """Every knob of the tracker, with its default.

    Attributes:
        dir: the store root (``TRACKER_DIR``); default ``./tracker-runs``.
        project: project used when ``init`` gets none.
        mode: ``"online"`` and ``"offline"`` both write the local store (offline marks the run);
            ``"disabled"`` makes every call a no-op.
        strict: raise instead of warning on tracking problems (tests turn this on).
        quiet: no message at ``init``/``finish``.
        flush_interval: seconds between writes of logged rows to the store; a kill -9 loses at
            most this much (plus the step still open).
        heartbeat_interval: seconds between rewrites of ``status.json`` while nothing else changes.
        heartbeat_timeout: a running run whose heartbeat is older than this (and whose process
            cannot be checked, e.g. another host) reads as ``crashed``.
        compaction_fanin: this many segment files of one size are merged into one while a run is
            written; at ``finish`` all are merged into one.
        max_buffered_points: how many points are held in memory while the store cannot be
            written; beyond that the oldest are dropped, with a warning.
        max_text_bytes: strings longer than this are cut (with a warning).
        resume: default resume mode (``allow``, ``must``, ``never``, ``auto``).
        reinit: what ``init`` does when a run is active (``default``, ``return_previous``,
            ``finish_previous``, ``create_new``).
        allow_val_change: allow config values to change after they are set.
        run_id, run_name, run_group, run_job_type, run_notes, run_tags: defaults for ``init``.
        entity: recorded with the run for W&B compatibility; has no other effect.
    """

    dir: str | None = None
    project: str | None = None
    mode: str = "online"
    strict: bool = False
    quiet: bool = False
    flush_interval: float = 0.5
    heartbeat_interval: float = 10.0
    heartbeat_timeout: float = 120.0
    compaction_fanin: int = 8
    max_buffered_points: int = 20_000_000
    max_text_bytes: int = 1_000_000
    resume: str | None = None
    reinit: str = "default"
    allow_val_change: bool = False
    run_id: str | None = None
    run_name: str | None = None
    run_group: str | None = None
    run_job_type: str | None = None
    run_notes: str | None = None
    run_tags: tuple[str, ...] | None = None
    entity: str | None = None
    _explicit: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    def __init__(self, **kwargs: Any) -> None:
        names = {f.name for f in fields(self) if not f.name.startswith("_")}
        for f in fields(self):
            if not f.name.startswith("_"):
                setattr(self, f.name, f.default)
        for key, value in kwargs.items():
            if key not in names:
                raise UsageError(
                    f"unknown setting {key!r}; known settings: {', '.join(sorted(names))}"
                )
            setattr(self, key, _coerce(key, value, source="Settings(...)"))
        self._explicit = frozenset(kwargs)
        self.validate()

    def validate(self) -> None:
        """Check values that have a fixed set of choices or a range.

        Raises:
            UsageError: naming the setting, the value and what is accepted.
        """
        if self.mode not in MODES:
            raise UsageError(f"setting mode={self.mode!r} is not one of {MODES}")
        if self.resume is not None and self.resume not in RESUME_MODES:
            raise UsageError(f"setting resume={self.resume!r} is not one of {RESUME_MODES}")
        if self.reinit not in REINIT_MODES:
            raise UsageError(f"setting reinit={self.reinit!r} is not one of {REINIT_MODES}")
        for name in ("flush_interval", "heartbeat_interval", "heartbeat_timeout"):
            if not getattr(self, name) > 0:
                raise UsageError(f"setting {name}={getattr(self, name)!r} must be > 0 seconds")
        if self.compaction_fanin < 2:
            raise UsageError(f"setting compaction_fanin={self.compaction_fanin!r} must be >= 2")

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (stored with each run)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    def root(self) -> Path:
        """The store root as an absolute path."""
        return Path(self.dir or "tracker-runs").expanduser().resolve()

    def copy(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied (each validated as in the constructor)."""
        new = copy.copy(self)
        new._explicit = self._explicit | frozenset(changes)
        for key, value in changes.items():
            setattr(new, key, _coerce(key, value, source="init(...)"))
        new.validate()
        return new

    @classmethod
    def load(cls, code: Settings | None = None, cwd: str | os.PathLike[str] | None = None) -> Settings:
        """Build the effective settings from files, the environment and ``code``.

        Args:
            code: a :class:`Settings` from the user's code; only the fields it set take part.
            cwd: where to look for the workspace file (default: the working directory).
        """
        values: dict[str, Any] = {}
        user_file = _user_settings_file()
        for path in (user_file, _workspace_settings_file(Path(cwd or os.getcwd()))):
            if path is not None and path.is_file():
                values.update(_read_settings_file(path))
        values.update(_read_env())
        if code is not None:
            values.update({k: getattr(code, k) for k in code._explicit})
        return cls(**values)


_FIELD_TYPES = {
    "strict": bool,
    "quiet": bool,
    "allow_val_change": bool,
    "flush_interval": float,
    "heartbeat_interval": float,
    "heartbeat_timeout": float,
    "compaction_fanin": int,
    "max_buffered_points": int,
    "max_text_bytes": int,
    "run_tags": tuple,
}


def _coerce(key: str, value: Any, source: str) -> Any:
    """Convert a setting from a string (environment, file) or check its type (code)."""
    kind = _FIELD_TYPES.get(key, str)
    if value is None:
        return None
    try:
        if kind is bool:
            if isinstance(value, str):
                low = value.strip().lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off", ""):
                    return False
                raise ValueError(value)
            return bool(value)
        if kind is tuple:
            if isinstance(value, str):
                return tuple(t.strip() for t in value.split(",") if t.strip())
            return tuple(str(t) for t in value)
        if kind in (int, float):
            if isinstance(value, bool):
                raise ValueError(value)
            return kind(value)
        if key == "dir" and isinstance(value, os.PathLike):
            return os.fspath(value)
        if not isinstance(value, str):
            raise ValueError(value)
        return value
    except (TypeError, ValueError):
        raise UsageError(
            f"setting {key}={value!r} from {source} is not a valid {kind.__name__}"
        ) from None


def _read_env() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, env in _WANDB_ENV.items():
        if env in os.environ:
            value = os.environ[env]
            if name == "mode" and value == "dryrun":
                value = "offline"
            out[name] = _coerce(name, value, source=env)
    for f in fields(Settings):
        env = "TRACKER_" + f.name.upper()
        if not f.name.startswith("_") and env in os.environ:
            out[f.name] = _coerce(f.name, os.environ[env], source=env)
    return out


def _user_settings_file() -> Path | None:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "tracker" / "settings.toml"


def _workspace_settings_file(cwd: Path) -> Path | None:
    for folder in (cwd, *cwd.parents):
        candidate = folder / "tracker.toml"
        if candidate.is_file():
            return candidate
    return None


def _read_settings_file(path: Path) -> dict[str, Any]:
    """Read ``[settings]`` (or top-level keys) from a TOML file; ``dir`` is relative to the file."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"settings file {path} cannot be read: {exc}") from exc
    table = data.get("settings", data)
    names = {f.name for f in fields(Settings) if not f.name.startswith("_")}
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in names:
            raise UsageError(f"settings file {path}: unknown setting {key!r}")
        out[key] = _coerce(key, value, source=str(path))
    if out.get("dir"):
        out["dir"] = str((path.parent / out["dir"]).resolve())
    return out
