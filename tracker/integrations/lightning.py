"""PyTorch Lightning: :class:`TrackerLogger`, a real ``lightning.pytorch.loggers.Logger``.

::

    from lightning.pytorch import Trainer
    from tracker.integrations.lightning import TrackerLogger

    logger = TrackerLogger(project="mnist", log_model=True)
    Trainer(logger=logger, max_epochs=2).fit(model, data)

- hyperparameters (``self.save_hyperparameters()``) go into the run's config;
- metrics are logged at the trainer's global step (and kept as ``trainer/global_step``);
- ``log_model=True`` logs the checkpoints left at the end of training as versions of the
  ``model-<run id>`` artifact (aliases ``latest``, and ``best`` for the best one),
  ``log_model="all"`` every checkpoint as it is saved;
- ``logger.watch(model)`` and ``log_graph`` fill the Model tab;
- ``TrackerLogger(id="...")`` (or ``version=``) resumes that run after a restart;
- ``dir`` is the tracker store (``tracker.init``'s ``dir``); ``save_dir`` is where Lightning writes
  checkpoints (``<save_dir>/<project>/<run id>/checkpoints``; default the trainer's root folder);
  any other keyword goes to ``tracker.init`` (``settings=``, ``tags=``, ``config=``, ...);
- under DDP only rank 0 logs (the others get an ``experiment`` that ignores every call).

Built on the ``lightning`` package, or ``pytorch_lightning`` when only that is installed
(:mod:`tracker.integrations.pytorch_lightning` always uses the latter). ``WandbLogger`` is the same
class under W&B's name.
"""

from __future__ import annotations

import importlib

from tracker.integrations._common import require
from tracker.integrations._lightning_core import TrackerLoggerCore


def _base() -> type:
    try:
        return importlib.import_module("lightning.pytorch.loggers.logger").Logger  # type: ignore[no-any-return]
    except ImportError:
        pass
    return require("pytorch_lightning.loggers.logger", "lightning", "TrackerLogger").Logger  # type: ignore[no-any-return]


class TrackerLogger(TrackerLoggerCore, _base()):  # type: ignore[misc]
    """A Lightning logger writing into a tracker run: see the module's documentation."""


WandbLogger = TrackerLogger

__all__ = ["TrackerLogger", "WandbLogger"]
