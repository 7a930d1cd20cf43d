"""What every integration shares: the run it logs into, a guard that keeps a failing callback from
stopping training, the framework import that names the missing extra, and model artifacts."""

from __future__ import annotations

import functools
import importlib
import os

from tracker._report import warn_user
from tracker.convert import describe_exception
from tracker.errors import MissingDependencyError, TrackerError
from tracker.sdk import state as _state
from tracker.sdk.init import init as _init

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any, TypeVar

    F = TypeVar("F", bound=Callable[..., Any])


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import ``module`` for ``what``, or raise :class:`MissingDependencyError` naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{what} needs the {module.split('.')[0]!r} package, which could not be imported "
            f"({describe_exception(exc)}): pip install \"tracker[{extra}]\"") from exc


def current_run() -> Any:
    """The run ``tracker.log`` logs into, or None."""
    return _state.current


def run_or_init(**init_kwargs: Any) -> Any:
    """The current run, or a new one started with ``init_kwargs`` (None values left out)."""
    run = _state.current
    if run is not None:
        return run
    return _init(**{k: v for k, v in init_kwargs.items() if v is not None})


def report(run: Any, kind: str, message: str) -> None:
    """One warning (or ``TrackingFailure`` under ``strict``) for a problem of an integration."""
    if run is not None and hasattr(run, "report_problem"):
        run.report_problem(kind, message)
    else:
        warn_user(f"tracker: {message}")


def guarded(what: str) -> Callable[[F], F]:
    """Decorate a framework callback so that an error inside it (other than a tracker error raised
    on purpose, such as a usage error or a strict-mode failure) is reported once and training goes
    on; the callback then returns None."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except TrackerError:
                raise
            except Exception as exc:  # noqa: BLE001 - a failing callback never stops training
                report(_state.current, f"{what}.{fn.__name__}",
                       f"{what}: {fn.__name__} failed ({describe_exception(exc)}); training goes on, "
                       "this callback's values for this call are not logged")
                return None

        return inner  # type: ignore[return-value]

    return wrap


def log_at(run: Any, data: dict[str, Any], step: int | None) -> None:
    """Log ``data`` at the framework's ``step`` when the run has not gone past it, else at the
    run's own next step (``data`` keeps the framework's step under its own key, so nothing is
    lost when a loop restarts its count or the user logged in between)."""
    if step is not None and step >= run.step:
        run.log(data, step=step)
    else:
        run.log(data)


def log_model_file(run: Any, path: str, name: str, aliases: list[str], metadata: dict[str, Any] | None = None,
                   type: str = "model") -> Any:
    """Log a model file or folder as a new version of artifact ``name`` (a version with the same
    files is reused, and gets ``aliases``)."""
    from tracker.artifacts import Artifact

    artifact = Artifact(name, type=type, metadata=metadata or {})
    if os.path.isdir(path):
        artifact.add_dir(path)
    else:
        artifact.add_file(path)
    return run.log_artifact(artifact, aliases=aliases)


def log_saved_model(run: Any, filename: str, save: Callable[[str], Any], metadata: dict[str, Any]) -> Any:
    """Save a model with ``save(path)`` into a temporary folder as ``filename`` and log that file as
    the ``model-<run id>`` artifact (alias ``latest``)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="tracker-model-") as folder:
        path = os.path.join(folder, filename)
        save(path)
        return log_model_file(run, path, f"model-{run.id}", ["latest"], metadata)


def importance_plot(names: list[str], values: list[float], title: str = "Feature Importance") -> Any:
    """A bar chart of feature importances, largest first (``tracker.plot.bar``)."""
    from tracker.media import Table
    from tracker.plot import bar

    rows = sorted(zip(names, values, strict=True), key=lambda r: -r[1])
    table = Table(columns=["Feature", "Importance"], data=[[str(n), float(v)] for n, v in rows])
    return bar(table, "Feature", "Importance", title=title)


def plain_params(params: Any) -> dict[str, Any]:
    """A framework's hyperparameters as a plain dict for the config: an ``argparse.Namespace``
    or an object with ``to_dict`` made a dict; callables and types by their name."""
    if params is None:
        return {}
    if hasattr(params, "to_dict") and callable(params.to_dict):
        params = params.to_dict()
    elif not isinstance(params, dict) and hasattr(params, "__dict__"):
        params = vars(params)
    if not isinstance(params, dict):
        return {"params": params}
    return {str(k): _plain(v) for k, v in params.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, type) or callable(value) and not hasattr(value, "shape"):
        return getattr(value, "__qualname__", None) or getattr(value, "__name__", None) or type(value).__name__
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        try:
            return value.item()
        except Exception:  # noqa: BLE001 - a tensor that cannot become a number stays as it is
            return value
    return value
