"""tracker: a local-first, Jupyter-native experiment tracker with W&B's logging API.

``import tracker as wandb`` runs typical W&B scripts::

    run = tracker.init(project="mnist", config={"lr": 1e-3})
    run.log({"train/loss": 0.3})
    run.finish()

This module holds names only; everything heavy (pyarrow, duckdb, pandas, widgets) loads inside
the functions that need it, so ``import tracker`` stays fast.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~10 ms to import: it is kept out of `import tracker`

# The logging API loads with the package: it uses only light standard modules (no typing, re,
# json, pathlib, dataclasses), so `init()` to the first `log` takes ~2 ms. The read API, pandas,
# pyarrow and DuckDB load when first used.
from tracker.errors import (  # noqa: E402
    ConfigError,
    RunExistsError,
    RunNotFoundError,
    TrackerError,
    TrackerWarning,
    TrackingFailure,
    UsageError,
)
from tracker.sdk import state as _state  # noqa: E402
from tracker.sdk.init import init  # noqa: E402
from tracker.sdk.run import Run  # noqa: E402
from tracker.sdk.summary import Metric  # noqa: E402
from tracker.settings import Settings  # noqa: E402
from tracker.version import __version__  # noqa: E402, F401

if TYPE_CHECKING:
    from typing import Any

    from tracker.api.public import Api

# Wiring: artifacts sit below the logging and read APIs, so what they need from those comes through
# hooks set here (the package module is light: Artifact itself loads when first used).
import tracker.artifacts as _artifacts  # noqa: E402


def _open_read_run(root: str, path: str) -> Any:
    """``Artifact.logged_by()``/``used_by()``: a read-side run (the read API loads only now)."""
    from tracker.api.public import Api as _Api

    return _Api(dir=root).run(path)


def _current_live_run() -> Any:
    """``Artifact.save()``: the run ``tracker.init`` made current, or None."""
    return _state.current


def _media_from_artifact(kind: str, meta: dict[str, Any], paths: list[str]) -> Any:
    """``Artifact.get()`` of a media object: built again by tracker.media."""
    from tracker.media import from_artifact

    return from_artifact(kind, meta, paths)


_artifacts.open_run = _open_read_run
_artifacts.current_run = _current_live_run
_artifacts.media_loader = _media_from_artifact

__all__ = [
    "AlertLevel",
    "Api",
    "Artifact",
    "Audio",
    "Histogram",
    "Html",
    "Image",
    "Table",
    "ConfigError",
    "Metric",
    "Run",
    "RunExistsError",
    "RunNotFoundError",
    "Settings",
    "TrackerError",
    "TrackerWarning",
    "TrackingFailure",
    "UsageError",
    "alert",
    "config",
    "define_metric",
    "finish",
    "init",
    "log",
    "login",
    "mark_preempting",
    "on_alert",
    "remove_alert_hook",
    "restore",
    "run",
    "save",
    "runs",
    "sql",
    "summary",
    "unwatch",
    "watch",
]


def _current(what: str) -> Any:
    run = _state.current
    if run is None:
        raise UsageError(f"tracker.{what} was called before tracker.init(): call tracker.init(project=...) first")
    return run


def log(data: dict[str, Any] | None = None, step: int | None = None, commit: bool | None = None) -> None:
    """Log to the current run (see :meth:`tracker.sdk.run.Run.log`).

    Raises:
        UsageError: no run was started with :func:`tracker.init`.
    """
    _current("log()").log(data, step=step, commit=commit)


def define_metric(name: str, *args: Any, **kwargs: Any) -> Metric:
    """Define a metric of the current run (see :meth:`tracker.sdk.run.Run.define_metric`)."""
    return _current("define_metric()").define_metric(name, *args, **kwargs)  # type: ignore[no-any-return]


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the current run, if there is one."""
    if _state.current is not None:
        _state.current.finish(exit_code=exit_code, quiet=quiet)


def save(glob_str: str, base_path: str | None = None, policy: str = "live") -> list[str]:
    """Save files with the current run (see :meth:`tracker.sdk.run.Run.save`)."""
    return _current("save()").save(glob_str, base_path=base_path, policy=policy)  # type: ignore[no-any-return]


def restore(name: str, run_path: str | None = None, replace: bool = False, root: str | None = None) -> Any:
    """Fetch a file saved with a run (see :meth:`tracker.sdk.run.Run.restore`); with ``run_path``
    it needs no active run (the store from the settings: ``TRACKER_DIR``, ``tracker.toml``, ...)."""
    if _state.current is not None or run_path is None:
        return _current("restore()").restore(name, run_path=run_path, replace=replace, root=root)
    from tracker.api.public import Api as _Api
    from tracker.sdk.run_files import restore_copy

    return restore_copy(_Api().run(run_path).file(name), name, replace, root)


def login(*args: Any, **kwargs: Any) -> bool:
    """Accepted for W&B scripts and always True: a local store has no account to log in to."""
    return True


def alert(title: str, text: str, level: Any = None, wait_duration: Any = None) -> None:
    """Raise an alert in the current run (see :meth:`tracker.sdk.run.Run.alert`)."""
    _current("alert()").alert(title, text, level=level, wait_duration=wait_duration)


def watch(models: Any, criterion: Any = None, log: str | None = "gradients", log_freq: int = 1000,
          idx: int | None = None, log_graph: bool = False) -> None:
    """Watch PyTorch models in the current run (see :meth:`tracker.sdk.run.Run.watch`)."""
    _current("watch()").watch(models, criterion=criterion, log=log, log_freq=log_freq, idx=idx, log_graph=log_graph)


def unwatch(models: Any = None) -> None:
    """Stop watching models in the current run (see :meth:`tracker.sdk.run.Run.unwatch`)."""
    _current("unwatch()").unwatch(models)


def on_alert(callback: Any) -> Any:
    """Call ``callback(alert)`` for each alert sent from now on (see :mod:`tracker.sdk.alerts`)."""
    from tracker.sdk.alerts import on_alert as _on_alert

    return _on_alert(callback)


def remove_alert_hook(callback: Any) -> None:
    """Stop calling a hook registered with :func:`on_alert`."""
    from tracker.sdk.alerts import remove_alert_hook as _remove

    _remove(callback)


def mark_preempting() -> None:
    """Mark the current run as about to be preempted."""
    _current("mark_preempting()").mark_preempting()


def runs(project: str, filters: dict[str, Any] | None = None, order: str | None = None, dir: str | None = None) -> Any:
    """The runs of a project (see :meth:`tracker.Api.runs`)."""
    from tracker.api.public import Api as _Api

    return _Api(dir=dir).runs(project, filters=filters, order=order)


def sql(query: str, dir: str | None = None) -> Any:
    """Run DuckDB SQL over the store's views (``runs``, ``history``, ``system``); a DataFrame."""
    from tracker.api.public import Api as _Api

    return _Api(dir=dir).sql(query)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext tracker``: the ``%tracker`` line magic and the ``%%tracker`` cell magic (see
    docs/jupyter.md). Kernels of an environment where tracker's wheel is installed load it by
    themselves (``{sys.prefix}/etc/ipython/ipython_kernel_config.json``)."""
    from tracker.magics import register

    register(ipython)


#: Run methods W&B also offers as module functions (``wandb.log_artifact(...)``): they act on the
#: current run, and say so when there is none.
_RUN_FUNCTIONS = ("log_artifact", "use_artifact", "log_model", "use_model", "link_model", "link_artifact",
                  "log_code", "upsert_artifact", "finish_artifact")


def __getattr__(name: str) -> Any:
    if name in _RUN_FUNCTIONS:
        import functools

        method = getattr(Run, name)

        @functools.wraps(method)
        def on_current_run(*args: Any, **kwargs: Any) -> Any:
            return getattr(_current(f"{name}()"), name)(*args, **kwargs)

        return on_current_run
    # Module attributes that follow the current run, as in W&B (tracker.run, tracker.config, ...).
    if name in ("run", "config", "summary"):
        run = _state.current
        if name == "run" or run is None:
            return run
        return getattr(run, name)
    if name == "Api":
        from tracker.api.public import Api as _Api

        return _Api
    if name == "plot":
        import tracker.plot as _plot

        return _plot
    if name == "plots":  # W&B's older plot module
        import tracker.plots as _plots

        return _plots
    if name == "Error":  # W&B's base exception: what wandb.Error catches, tracker raises as TrackerError
        return TrackerError
    if name in ("Image", "Audio", "Html", "Histogram", "Table", "Object3D", "Figure", "Video", "Classes",
                "Molecule", "Plotly"):
        import tracker.media as _media

        return getattr(_media, name)
    if name == "AlertLevel":
        from tracker.sdk.alerts import AlertLevel as _AlertLevel

        return _AlertLevel
    if name == "Artifact":
        from tracker.artifacts import Artifact as _Artifact

        return _Artifact
    if name in ("keras", "xgboost", "lightgbm", "sklearn", "integration", "integrations"):
        import importlib  # W&B's wandb.keras & co: imported when first reached (the framework with it)

        return importlib.import_module(f"tracker.{name}")
    raise AttributeError(f"module 'tracker' has no attribute {name!r}")
