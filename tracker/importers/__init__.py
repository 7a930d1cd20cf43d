"""Importers: runs of W&B, TensorBoard and MLflow into the store, keeping their steps, wall times,
config, summary, tags, notes, system metrics, console output and media where the source has them.

``tracker import wandb|tensorboard|mlflow SOURCE [--project P] [--name N] [--force]`` on the command
line; :func:`import_wandb`, :func:`import_tensorboard`, :func:`import_mlflow` from Python. Importing
is idempotent: a run keeps its source's id (W&B's run id, MLflow's run id, a TensorBoard run's
event-file names), so importing twice skips what is already there (``force=True`` replaces it).
The reverse, a run as TensorBoard event files: :func:`tracker.importers.tensorboard.export_tensorboard`
(``tracker export --format tensorboard RUN DIR``). See docs/integrations.md.
"""

from __future__ import annotations

from tracker.importers._common import Imported, SourceRun

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TOOLS = ("wandb", "tensorboard", "mlflow")


def import_runs(tool: str, source: str, **kwargs: Any) -> list[Imported]:
    """``import_wandb`` / ``import_tensorboard`` / ``import_mlflow`` by the tool's name."""
    from tracker.errors import UsageError

    if tool == "wandb":
        from tracker.importers.wandb import import_wandb

        return import_wandb(source, **kwargs)
    if tool == "tensorboard":
        from tracker.importers.tensorboard import import_tensorboard

        return import_tensorboard(source, **kwargs)
    if tool == "mlflow":
        from tracker.importers.mlflow import import_mlflow

        return import_mlflow(source, **kwargs)
    raise UsageError(f"tracker import: {tool!r} is not one of {TOOLS}")


def import_wandb(*args: Any, **kwargs: Any) -> list[Imported]:
    """See :func:`tracker.importers.wandb.import_wandb`."""
    from tracker.importers.wandb import import_wandb as run

    return run(*args, **kwargs)


def import_tensorboard(*args: Any, **kwargs: Any) -> list[Imported]:
    """See :func:`tracker.importers.tensorboard.import_tensorboard`."""
    from tracker.importers.tensorboard import import_tensorboard as run

    return run(*args, **kwargs)


def import_mlflow(*args: Any, **kwargs: Any) -> list[Imported]:
    """See :func:`tracker.importers.mlflow.import_mlflow`."""
    from tracker.importers.mlflow import import_mlflow as run

    return run(*args, **kwargs)


__all__ = ["Imported", "SourceRun", "import_mlflow", "import_runs", "import_tensorboard", "import_wandb"]
