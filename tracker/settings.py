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

from tracker import wandb_settings
from tracker.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeVar

    _T = TypeVar("_T")

MODES = ("online", "offline", "disabled", "shared")
RESUME_MODES = ("allow", "must", "never", "auto")
REINIT_MODES = ("default", "return_previous", "finish_previous", "create_new")
CONSOLE_MODES = ("wrap", "redirect", "off")

#: The types a setting's annotation may name (before any ``[...]``, with an optional ``| None``).
_KINDS: dict[str, type] = {"str": str, "bool": bool, "int": int, "float": float, "tuple": tuple, "dict": dict}


class Setting:
    """One setting of :class:`Settings`, declared with :func:`setting`; a descriptor.

    ``__set_name__`` learns the name from the attribute and the type from its annotation (a string,
    as every annotation in this module is): ``str``, ``bool``, ``int``, ``float``, ``tuple[...]`` or
    ``dict[...]``, optionally ``| None``. Everything else about a setting is derived from this
    object: coercion from code, the environment and files, validation, and the docs table.
    """

    name: str
    annotation: str
    kind: type
    nullable: bool

    def __init__(
        self,
        default: Any,
        meaning: str,
        env: str | tuple[str, ...] = (),
        aliases: dict[Any, str] | None = None,
        choices: tuple[str, ...] | None = None,
        gt: float | None = None,
        ge: float | None = None,
        unit: str = "",
        path: bool = False,
    ) -> None:
        self.default = default
        self.meaning = self.__doc__ = meaning
        self.env = (env,) if isinstance(env, str) else tuple(env)
        self.aliases = aliases or {}
        self.choices = choices
        self.gt = gt
        self.ge = ge
        self.unit = unit
        self.path = path

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.tracker_env = "TRACKER_" + name.upper()
        annotation = getattr(owner, "__annotations__", {}).get(name)
        if not isinstance(annotation, str):
            raise TypeError(f"setting {name} needs a type annotation (a string)")
        kind = _KINDS.get(annotation.split("[", 1)[0].split("|", 1)[0].strip())
        if kind is None:
            raise TypeError(f"setting {name}: {annotation!r} is not one of {tuple(_KINDS)} (or that | None)")
        self.annotation, self.kind = annotation, kind
        self.nullable = annotation.replace(" ", "").endswith("|None")

    def __get__(self, obj: Settings | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return obj._values[self.name]

    def __set__(self, obj: Settings, value: Any) -> None:
        obj._values[self.name] = value

    def __repr__(self) -> str:
        return f"<setting {self.name}: {self.annotation} = {self.default!r}>"

    def coerce(self, value: Any, source: str) -> Any:
        """Convert a value from a string (environment, file) or check its type (code).

        Raises:
            UsageError: naming the setting, the value, ``source`` and the type expected.
        """
        kind = self.kind
        if value is None:
            return None
        if self.aliases:
            try:
                value = self.aliases.get(value, value)
            except TypeError:  # unhashable: no alias
                pass
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
            if self.path and isinstance(value, os.PathLike):
                return os.fspath(value)
            if not isinstance(value, str):
                raise ValueError(value)
            return value
        except (TypeError, ValueError):
            raise UsageError(
                f"setting {self.name}={value!r} from {source} is not a valid {kind.__name__}"
            ) from None

    def check(self, value: Any) -> None:
        """Check a value against the choices or range of the setting.

        Raises:
            UsageError: naming the setting, the value and what is accepted.
        """
        if value is None and self.nullable:
            return
        if self.choices is not None and value not in self.choices:
            raise UsageError(f"setting {self.name}={value!r} is not one of {self.choices}")
        unit = " " + self.unit if self.unit else ""
        if self.gt is not None and not (value is not None and value > self.gt):
            raise UsageError(f"setting {self.name}={value!r} must be > {self.gt}{unit}")
        if self.ge is not None and not (value is not None and value >= self.ge):
            raise UsageError(f"setting {self.name}={value!r} must be >= {self.ge}{unit}")


def setting(
    default: _T,
    meaning: str,
    *,
    env: str | tuple[str, ...] = (),
    aliases: dict[Any, str] | None = None,
    choices: tuple[str, ...] | None = None,
    gt: float | None = None,
    ge: float | None = None,
    unit: str = "",
    path: bool = False,
) -> _T:
    """Declare a setting of :class:`Settings`: ``name: type = setting(default, "meaning", ...)``.

    Args:
        default: the value when nothing sets it.
        meaning: one line of prose (Markdown) for the docs table and ``help(Settings)``.
        env: the W&B environment variable(s) that also set it, read after ``TRACKER_<NAME>``.
        aliases: values that stand for another (W&B's names for a mode, ...), from any source.
        choices: the values accepted (``None`` too when the type is ``... | None``).
        gt, ge: the value must be greater than ``gt`` / at least ``ge``.
        unit: the unit of ``gt``/``ge`` in messages and docs (``"seconds"``).
        path: a path: ``os.PathLike`` is accepted, and a relative one in a settings file is
            relative to that file.

    To mypy this returns the default (so the attribute has its annotated type); at run time it
    returns the :class:`Setting` descriptor.
    """
    return Setting(default, meaning, env, aliases, choices, gt, ge, unit, path)  # type: ignore[return-value]


class Settings:
    """Every knob of the tracker, with its default.

    Each setting is declared once below: ``name: type = setting(default, "meaning", ...)``. The
    type is its annotation; ``TRACKER_<NAME>`` sets it from the environment, and ``env=`` names the
    W&B variable that also does. The table in ``docs/settings.md`` is made from these declarations
    (:func:`markdown_table`; ``python scripts/write_settings_docs.py`` rewrites it).
    """

    __slots__ = ("_values", "_explicit", "_recorded")

    dir: str | None = setting(None, "the store root; unset means `./tracker-runs`", path=True)
    project: str | None = setting(None, "project when `init` gets none; unset means `uncategorized`", env="WANDB_PROJECT")
    mode: str = setting(
        "online", "`online` and `offline` both write the local store (offline marks the run); `disabled` makes every call a no-op; `shared`: one run written by several processes (see `primary`)",
        env="WANDB_MODE", aliases={"dryrun": "offline", "run": "online"}, choices=MODES,
    )
    strict: bool = setting(False, "raise `TrackingFailure` instead of warning on tracking problems (tests turn this on)")
    quiet: bool = setting(False, "no message at `init` and `finish`")
    flush_interval: float = setting(0.5, "seconds between writes of logged rows; the most a kill -9 loses (plus the step still open)", gt=0, unit="seconds")
    heartbeat_interval: float = setting(10.0, "seconds between rewrites of `status.json` while nothing else changes", gt=0, unit="seconds")
    heartbeat_timeout: float = setting(120.0, "a running run whose heartbeat is older, and whose process cannot be checked (another host), reads as `crashed`", gt=0, unit="seconds")
    compaction_fanin: int = setting(8, "this many segment files of one size are merged into one while a run is written; at `finish`, more than this many are", ge=2)
    max_buffered_points: int = setting(20_000_000, "points held in memory while the store cannot be written; beyond that the oldest are dropped, with a warning")
    max_text_bytes: int = setting(1_000_000, "a logged string longer than this is dropped, with a warning")
    resume: str | None = setting(None, "default resume mode of `init` (see [logging.md](logging.md))", env="WANDB_RESUME", choices=RESUME_MODES)
    reinit: str = setting("default", "what `init` does while a run is active (`True` means `finish_previous`, `False` `return_previous`)",
                          aliases={True: "finish_previous", False: "return_previous"}, choices=REINIT_MODES)
    allow_val_change: bool = setting(False, "allow config values to change after they are set")
    run_id: str | None = setting(None, "default `id` of `init`", env="WANDB_RUN_ID")
    run_name: str | None = setting(None, "default `name` of `init`", env="WANDB_NAME")
    run_group: str | None = setting(None, "default `group` of `init`", env="WANDB_RUN_GROUP")
    run_job_type: str | None = setting(None, "default `job_type` of `init`", env="WANDB_JOB_TYPE")
    run_notes: str | None = setting(None, "default `notes` of `init`", env="WANDB_NOTES")
    run_tags: tuple[str, ...] | None = setting(None, "default `tags` of `init`", env="WANDB_TAGS")
    entity: str | None = setting(None, "recorded with the run for W&B compatibility; has no other effect")
    disable_stats: bool = setting(False, "no system metrics")
    stats_sampling_interval: float = setting(2.0, "seconds between system-metric samples", gt=0, unit="seconds")
    stats_disk_paths: tuple[str, ...] = setting(("/",), "file systems whose usage is sampled")
    stats_track_process_tree: bool = setting(False, "include child processes in process metrics and GPU use")
    stats_open_metrics_endpoints: dict[str, str] | None = setting(None, "`{name: url}` of OpenMetrics endpoints to scrape")
    stats_open_metrics_filters: tuple[str, ...] = setting((), "regular expressions: only matching metric names are kept")
    disable_meta: bool = setting(False, "no host and program facts, no package list")
    disable_git: bool = setting(False, "no git facts and no `diff.patch`")
    save_code: bool = setting(False, "save the script (or notebook) source with the run")
    save_requirements: bool = setting(True, "save the installed packages as `requirements.txt`")
    max_diff_bytes: int = setting(1_000_000, "`diff.patch` is cut to this size, with a marker")
    console: str = setting("wrap", "`wrap` (sys.stdout/sys.stderr), `redirect` (file descriptors, child processes included) or `off`; W&B's `auto`, `wrap_raw` and `wrap_emu` mean `wrap`",
                           aliases={"auto": "wrap", "wrap_raw": "wrap", "wrap_emu": "wrap"}, choices=CONSOLE_MODES)
    program: str | None = setting(None, "the program recorded with the run (`metadata.json`), instead of the script or notebook detected")
    ignore_globs: tuple[str, ...] = setting((), "globs, relative to the run's `files/`: files that match are not copied by `run.save`")
    primary: bool = setting(True, "with `mode='shared'`: False for a process that adds to the run its primary process started (`init(id=...)`, W&B's `x_primary`): it writes its own history, media, system metrics and console lines (labelled with `label`), never the config, summary or final state")
    shared_wait: float = setting(60.0, "with `mode='shared'` and `primary=False`: seconds `init` waits for the primary process to create the run", gt=0, unit="seconds")
    upload_timeout: float = setting(60.0, "with an `s3://` store: seconds `finish` waits for the bucket to take the last files (what is left stays in the spool for `tracker sync`)", gt=0, unit="seconds")
    label: str | None = setting(None, "a label of this process, recorded with the run (W&B's `x_label`)")
    alert_command: str | None = setting(None, "a shell command run for each alert sent by `run.alert`, with `TRACKER_ALERT_TITLE`, `_TEXT`, `_LEVEL`, `_RUN`, `_RUN_DIR` and `_STEP` in its environment (see [logging.md](logging.md))")
    env_vars: tuple[str, ...] = setting((), "names or globs of environment variables recorded in the `Environment` config group (none by default: it may hold secrets)")

    _values: dict[str, Any]
    _explicit: frozenset[str]
    _recorded: dict[str, Any]

    def __init__(self, **kwargs: Any) -> None:
        self._values = {s.name: s.default for s in FIELDS}
        ours, self._recorded = _coerce_all(kwargs, source="Settings(...)")
        self._values.update(ours)
        self._explicit = frozenset(ours) | frozenset(self._recorded)
        self.validate()

    def __getattr__(self, name: str) -> Any:
        """W&B's field names read too: a honoured one gives the value of the setting it sets, a
        recorded one its recorded value (None when not given)."""
        if name.startswith("_"):
            raise AttributeError(name)
        if name in wandb_settings.HONOURED:
            return self._values[wandb_settings.HONOURED[name][0]]
        if name in wandb_settings.RECORDED:
            return self._recorded.get(name)
        raise AttributeError(f"{type(self).__name__} has no setting {name!r}{_closest(name)}")

    def __repr__(self) -> str:
        return "Settings(" + ", ".join(f"{n}={v!r}" for n, v in {**self._values, **self._recorded}.items()) + ")"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and self.to_dict() == other.to_dict()

    @property
    def recorded(self) -> dict[str, Any]:
        """The W&B fields given that have no local meaning, as they are stored with the run
        (secrets as ``"<set>"``); see :mod:`tracker.wandb_settings`."""
        return dict(self._recorded)

    def validate(self) -> None:
        """Check values that have a fixed set of choices or a range.

        Raises:
            UsageError: naming the setting, the value and what is accepted.
        """
        for s in _CHECKED:
            s.check(self._values[s.name])

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (stored with each run); recorded W&B fields under
        ``wandb_settings`` when there are any."""
        out = dict(self._values)
        if self._recorded:
            out["wandb_settings"] = dict(self._recorded)
        return out

    def root(self) -> str:
        """The store root: an absolute path, or ``s3://bucket/prefix`` for an object store."""
        if self.dir and self.dir.lower().startswith("s3://"):
            return "s3://" + self.dir[5:].strip("/")
        return os.path.realpath(os.path.expanduser(self.dir or "tracker-runs"))

    @property
    def explicit(self) -> frozenset[str]:
        """The names of the settings given explicitly (to the constructor or ``copy``), as opposed to
        defaults: what ``Settings.load(code=...)`` takes from code."""
        return self._explicit

    def copy(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied (each validated as in the constructor)."""
        new = Settings.__new__(Settings)
        ours, recorded = _coerce_all(changes, source="init(...)")
        new._values = {**self._values, **ours}
        new._recorded = {**self._recorded, **recorded}
        new._explicit = self._explicit | frozenset(ours) | frozenset(recorded)
        new.validate()
        return new

    __copy__ = copy

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


#: Every setting, in declaration (and documentation) order.
FIELDS: tuple[Setting, ...] = tuple(v for v in vars(Settings).values() if isinstance(v, Setting))
FIELD_NAMES = frozenset(s.name for s in FIELDS)
_BY_NAME = {s.name: s for s in FIELDS}
_CHECKED = tuple(s for s in FIELDS if s.choices is not None or s.gt is not None or s.ge is not None)
#: The W&B variables our declarations read already.
_DECLARED_ENV = frozenset(e for s in FIELDS for e in s.env)


def _closest(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(FIELD_NAMES | wandb_settings.ALL), n=1, cutoff=0.6)
    return f" — did you mean {close[0]!r}?" if close else ""


def _coerce_all(values: dict[str, Any], source: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``values`` coerced by their settings: ``(ours, recorded)``. A W&B field that we honour sets
    the setting it maps to (ours win when both are given); one we do not is recorded. A name that
    is neither raises, naming the closest known field."""
    out: dict[str, Any] = {}
    via_wandb: dict[str, Any] = {}
    recorded: dict[str, Any] = {}
    for key, value in values.items():
        s = _BY_NAME.get(key)
        if s is not None:
            if value is None and not s.nullable:
                continue  # None is "not set" (W&B's save_code=None, strict=None): the default stays
            out[key] = s.coerce(value, source)
        elif key in wandb_settings.HONOURED:
            mapped = wandb_settings.honoured(key, value)
            if mapped is not None:
                target, converted = mapped
                via_wandb[target] = _BY_NAME[target].coerce(converted, f"{source} ({key})")
        elif key in wandb_settings.RECORDED:
            recorded[key] = wandb_settings.recorded_value(key, value)
        else:
            raise UsageError(f"unknown setting {key!r}{_closest(key)} (see docs/settings.md for every setting)")
    return {**via_wandb, **out}, recorded


def _read_env() -> dict[str, Any]:
    """Settings from ``TRACKER_<NAME>``, else from the setting's W&B variable(s); then W&B's
    ``WANDB_<FIELD>`` variables of the other W&B fields (a honoured one where ours is not set)."""
    environ = os.environ
    out: dict[str, Any] = {}
    for s in FIELDS:
        if s.tracker_env in environ:
            out[s.name] = s.coerce(environ[s.tracker_env], source=s.tracker_env)
            continue
        for env in s.env:
            if env in environ:
                value = environ[env]
                out[s.name] = s.coerce(value, source=env)
                break
    for field in sorted(wandb_settings.ALL):
        env = wandb_settings.env_name(field)
        if env not in environ or env in _DECLARED_ENV:
            continue
        if field in wandb_settings.HONOURED:
            mapped = wandb_settings.honoured(field, environ[env])
            if mapped is not None and mapped[0] not in out:
                out[mapped[0]] = _BY_NAME[mapped[0]].coerce(mapped[1], source=env)
        else:
            out[field] = environ[env]  # recorded by Settings(...)
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
    try:
        ours, recorded = _coerce_all(dict(table), source=str(path))
    except UsageError as exc:
        raise UsageError(f"settings file {path}: {exc}") from None
    for key, value in ours.items():
        if _BY_NAME[key].path and value:
            ours[key] = os.path.realpath(os.path.join(os.path.dirname(path), os.path.expanduser(value)))
    return {**ours, **recorded}


TABLE_START = "<!-- settings-table:start -->"
TABLE_END = "<!-- settings-table:end -->"


def _literal(value: Any) -> str:
    """A default as it is written in Python (and TOML): ``"online"``, ``("/",)``, ``20_000_000``."""
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:_}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def _markdown_row(s: Setting) -> str:
    kind = f"`{s.annotation}`"
    if s.choices is not None:
        kind += ": " + ", ".join(f"`{c}`" for c in s.choices)
    unit = " " + s.unit if s.unit else ""
    if s.gt is not None:
        kind += f" (> {s.gt}{unit})"
    if s.ge is not None:
        kind += f" (>= {s.ge}{unit})"
    env = f"`{s.tracker_env}`" + "".join(f", `{e}`" for e in s.env)
    env += "".join(f" (`{k}` means `{v}`)" for k, v in s.aliases.items() if isinstance(k, str))
    cells = (f"`{s.name}`", kind, f"`{_literal(s.default)}`", env, s.meaning)
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def markdown_table() -> str:
    """The table of settings in ``docs/settings.md``, made from the declarations in :class:`Settings`."""
    head = "| setting | type | default | environment | meaning |\n| --- | --- | --- | --- | --- |\n"
    return head + "".join(_markdown_row(s) + "\n" for s in FIELDS)


WANDB_START = "<!-- wandb-settings:start -->"
WANDB_END = "<!-- wandb-settings:end -->"


def wandb_markdown() -> str:
    """The W&B fields in ``docs/settings.md``: the honoured ones with the setting each sets, then
    the recorded ones (made from :mod:`tracker.wandb_settings`)."""
    rows = "".join(f"| `{f}` | `{t}` | `{wandb_settings.env_name(f)}` |\n"
                   for f, (t, _) in sorted(wandb_settings.HONOURED.items()))
    recorded = ", ".join(f"`{f}`" for f in sorted(wandb_settings.RECORDED))
    secret = ", ".join(f"`{f}`" for f in sorted(wandb_settings.SECRET))
    return ("| W&B field | sets | environment |\n| --- | --- | --- |\n" + rows
            + f"\nRecorded only ({len(wandb_settings.RECORDED)}): {recorded}.\n\n"
            + f"Kept as `\"<set>\"`, never their value: {secret}.\n")


def _between(text: str, start_marker: str, end_marker: str, body: str) -> str:
    start, end = text.find(start_marker), text.find(end_marker)
    if start < 0 or end < start:
        raise ValueError(f"no {start_marker} ... {end_marker} markers, in this order")
    return text[: start + len(start_marker)] + "\n" + body + text[end:]


def with_markdown_table(text: str) -> str:
    """``text`` (a Markdown document) with :func:`markdown_table` between the table markers, and
    :func:`wandb_markdown` between the W&B markers when it has them.

    Raises:
        ValueError: the table markers are missing or out of order.
    """
    text = _between(text, TABLE_START, TABLE_END, markdown_table())
    if WANDB_START in text:
        text = _between(text, WANDB_START, WANDB_END, wandb_markdown())
    return text


def write_docs(path: str) -> bool:
    """Rewrite the table of settings in the Markdown file ``path``; True when it changed."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    new = with_markdown_table(text)
    if new == text:
        return False
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(new)
    return True
