"""PyTorch Lightning under its older package name: ``TrackerLogger`` for ``pytorch_lightning.Trainer``
(the same logger as :mod:`tracker.integrations.lightning`, on ``pytorch_lightning``'s base class)."""

from __future__ import annotations

from tracker.integrations._common import require
from tracker.integrations._lightning_core import TrackerLoggerCore

_Logger = require("pytorch_lightning.loggers.logger", "lightning", "TrackerLogger").Logger


class TrackerLogger(TrackerLoggerCore, _Logger):  # type: ignore[misc, valid-type]
    """A ``pytorch_lightning`` logger writing into a tracker run (see :mod:`tracker.integrations.lightning`)."""


WandbLogger = TrackerLogger

__all__ = ["TrackerLogger", "WandbLogger"]
