"""tracker: a local-first, Jupyter-native experiment tracker with W&B's logging API.

``import tracker as wandb`` runs typical W&B scripts::

    run = tracker.init(project="mnist", config={"lr": 1e-3})
    run.log({"train/loss": 0.3})
    run.finish()

This module holds names only; everything heavy (pyarrow, duckdb, pandas, widgets) loads inside
the functions that need it, so ``import tracker`` stays fast.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself costs ~10 ms to import: kept out of `import tracker`

__version__ = "0.1.0"

from tracker.errors import (  # noqa: E402
    ConfigError,
    RunExistsError,
    RunNotFoundError,
    TrackerError,
    TrackerWarning,
    TrackingFailure,
    UsageError,
)

if TYPE_CHECKING:
    from typing import Any

    from tracker.api.public import Api
    from tracker.sdk.run import Run
    from tracker.sdk.summary import Metric
    from tracker.settings import Settings

__all__ = [
    "Api",
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
    "config",
    "define_metric",
    "finish",
    "init",
    "log",
    "mark_preempting",
    "run",
    "runs",
    "sql",
    "summary",
]


def init(*args: Any, **kwargs: Any) -> Run:
    """Start a run: see :func:`tracker.sdk.init.init` for every argument."""
    from tracker.sdk.init import init as _init

    return _init(*args, **kwargs)  # type: ignore[return-value]


def _current(what: str) -> Any:
    from tracker.sdk import state

    run = state.current
    if run is None:
        raise UsageError(f"tracker.{what} was called before tracker.init(): call tracker.init(project=...) first")
    return run


def log(data: dict[str, Any], step: int | None = None, commit: bool | None = None) -> None:
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
    from tracker.sdk import state

    if state.current is not None:
        state.current.finish(exit_code=exit_code, quiet=quiet)


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


def __getattr__(name: str) -> Any:
    # Module attributes that follow the current run, as in W&B (tracker.run, tracker.config, ...).
    if name in ("run", "config", "summary"):
        from tracker.sdk import state

        run = state.current
        if name == "run" or run is None:
            return run
        return getattr(run, name)
    if name == "Settings":
        from tracker.settings import Settings as _Settings

        return _Settings
    if name == "Api":
        from tracker.api.public import Api as _Api

        return _Api
    if name == "Run":
        from tracker.sdk.run import Run as _Run

        return _Run
    if name == "Metric":
        from tracker.sdk.summary import Metric as _Metric

        return _Metric
    raise AttributeError(f"module 'tracker' has no attribute {name!r}")
