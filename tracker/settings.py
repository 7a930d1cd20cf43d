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

import os

from tracker.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MODES = ("online", "offline", "disabled")
RESUME_MODES = ("allow", "must", "never", "auto")
REINIT_MODES = ("default", "return_previous", "finish_previous", "create_new")
CONSOLE_MODES = ("wrap", "redirect", "off")

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


#: Every setting and its default, in documentation order.
_FIELDS: tuple[tuple[str, Any], ...] = (
    ("dir", None),
    ("project", None),
    ("mode", "online"),
    ("strict", False),
    ("quiet", False),
    ("flush_interval", 0.5),
    ("heartbeat_interval", 10.0),
    ("heartbeat_timeout", 120.0),
    ("compaction_fanin", 8),
    ("max_buffered_points", 20_000_000),
    ("max_text_bytes", 1_000_000),
    ("resume", None),
    ("reinit", "default"),
    ("allow_val_change", False),
    ("run_id", None),
    ("run_name", None),
    ("run_group", None),
    ("run_job_type", None),
    ("run_notes", None),
    ("run_tags", None),
    ("entity", None),
    ("disable_stats", False),
    ("stats_sampling_interval", 2.0),
    ("stats_disk_paths", ("/",)),
    ("stats_track_process_tree", False),
    ("stats_open_metrics_endpoints", None),
    ("stats_open_metrics_filters", ()),
    ("disable_meta", False),
    ("disable_git", False),
    ("save_code", False),
    ("save_requirements", True),
    ("max_diff_bytes", 1_000_000),
    ("console", "wrap"),
    ("env_vars", ()),
)
FIELD_NAMES = frozenset(name for name, _ in _FIELDS)


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
            written; at ``finish``, more than this many are merged into one.
        max_buffered_points: how many points are held in memory while the store cannot be
            written; beyond that the oldest are dropped, with a warning.
        max_text_bytes: a logged string longer than this is dropped (with a warning).
        resume: default resume mode (``allow``, ``must``, ``never``, ``auto``).
        reinit: what ``init`` does when a run is active (``default``, ``return_previous``,
            ``finish_previous``, ``create_new``).
        allow_val_change: allow config values to change after they are set.
        run_id, run_name, run_group, run_job_type, run_notes, run_tags: defaults for ``init``.
        entity: recorded with the run for W&B compatibility; has no other effect.
        disable_stats: no system metrics.
        stats_sampling_interval: seconds between system-metric samples.
        stats_disk_paths: file systems whose usage is sampled.
        stats_track_process_tree: include child processes in process metrics and GPU use.
        stats_open_metrics_endpoints: ``{name: url}`` of OpenMetrics endpoints to scrape.
        stats_open_metrics_filters: regular expressions; only matching metric names are kept.
        disable_meta: no host and program facts, no package list.
        disable_git: no git facts and no ``diff.patch``.
        save_code: save the script (or notebook) source with the run.
        save_requirements: save the installed packages as ``requirements.txt``.
        max_diff_bytes: ``diff.patch`` is cut to this size, with a marker.
        console: ``"wrap"`` (sys.stdout/sys.stderr), ``"redirect"`` (file descriptors, child
            processes included) or ``"off"``.
        env_vars: names or globs of environment variables recorded in the ``Environment``
            config group (none by default: the environment may hold secrets).
    """

    __slots__ = (*(name for name, _ in _FIELDS), "_explicit")

    dir: str | None
    project: str | None
    mode: str
    strict: bool
    quiet: bool
    flush_interval: float
    heartbeat_interval: float
    heartbeat_timeout: float
    compaction_fanin: int
    max_buffered_points: int
    max_text_bytes: int
    resume: str | None
    reinit: str
    allow_val_change: bool
    run_id: str | None
    run_name: str | None
    run_group: str | None
    run_job_type: str | None
    run_notes: str | None
    run_tags: tuple[str, ...] | None
    entity: str | None
    disable_stats: bool
    stats_sampling_interval: float
    stats_disk_paths: tuple[str, ...]
    stats_track_process_tree: bool
    stats_open_metrics_endpoints: dict[str, str] | None
    stats_open_metrics_filters: tuple[str, ...]
    disable_meta: bool
    disable_git: bool
    save_code: bool
    save_requirements: bool
    max_diff_bytes: int
    console: str
    env_vars: tuple[str, ...]
    _explicit: frozenset[str]

    def __init__(self, **kwargs: Any) -> None:
        for name, default in _FIELDS:
            setattr(self, name, default)
        for key, value in kwargs.items():
            if key not in FIELD_NAMES:
                raise UsageError(
                    f"unknown setting {key!r}; known settings: {', '.join(sorted(FIELD_NAMES))}"
                )
            setattr(self, key, _coerce(key, value, source="Settings(...)"))
        self._explicit = frozenset(kwargs)
        self.validate()

    def __repr__(self) -> str:
        return "Settings(" + ", ".join(f"{n}={getattr(self, n)!r}" for n, _ in _FIELDS) + ")"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and self.to_dict() == other.to_dict()

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
        if self.console not in CONSOLE_MODES:
            raise UsageError(f"setting console={self.console!r} is not one of {CONSOLE_MODES}")
        if not self.stats_sampling_interval > 0:
            raise UsageError(f"setting stats_sampling_interval={self.stats_sampling_interval!r} must be > 0 seconds")
        if self.compaction_fanin < 2:
            raise UsageError(f"setting compaction_fanin={self.compaction_fanin!r} must be >= 2")

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (stored with each run)."""
        return {name: getattr(self, name) for name, _ in _FIELDS}

    def root(self) -> str:
        """The store root as an absolute path."""
        return os.path.realpath(os.path.expanduser(self.dir or "tracker-runs"))

    def copy(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied (each validated as in the constructor)."""
        new = Settings.__new__(Settings)
        for name, _ in _FIELDS:
            setattr(new, name, getattr(self, name))
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
        for path in (user_file, _workspace_settings_file(os.fspath(cwd or os.getcwd()))):
            if path is not None and os.path.isfile(path):
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
    "disable_stats": bool,
    "stats_sampling_interval": float,
    "stats_disk_paths": tuple,
    "stats_track_process_tree": bool,
    "stats_open_metrics_endpoints": dict,
    "stats_open_metrics_filters": tuple,
    "disable_meta": bool,
    "disable_git": bool,
    "save_code": bool,
    "save_requirements": bool,
    "max_diff_bytes": int,
    "env_vars": tuple,
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
        if kind is dict:
            if isinstance(value, str):  # from the environment: a JSON object
                from tracker import _json

                value = _json.loads(value)
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise ValueError(value)
            return {str(k): v for k, v in value.items()}
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
    for name, _ in _FIELDS:
        env = "TRACKER_" + name.upper()
        if env in os.environ:
            out[name] = _coerce(name, os.environ[env], source=env)
    return out


def _user_settings_file() -> str:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "tracker", "settings.toml")


def _workspace_settings_file(cwd: str) -> str | None:
    folder = os.path.abspath(cwd)
    while True:
        candidate = os.path.join(folder, "tracker.toml")
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _read_settings_file(path: str) -> dict[str, Any]:
    """Read ``[settings]`` (or top-level keys) from a TOML file; ``dir`` is relative to the file."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        with open(path, encoding="utf-8") as fh:
            data = tomllib.loads(fh.read())
    except (OSError, ValueError) as exc:
        raise UsageError(f"settings file {path} cannot be read: {exc}") from exc
    table = data.get("settings", data)
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in FIELD_NAMES:
            raise UsageError(f"settings file {path}: unknown setting {key!r}")
        out[key] = _coerce(key, value, source=str(path))
    if out.get("dir"):
        out["dir"] = os.path.realpath(os.path.join(os.path.dirname(path), os.path.expanduser(out["dir"])))
    return out
