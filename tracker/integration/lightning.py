"""W&B's ``wandb.integration.lightning``: :class:`WandbLogger` is :class:`tracker.integrations.lightning.TrackerLogger`."""

from tracker.integrations.lightning import *  # noqa: F403
from tracker.integrations.lightning import __all__  # noqa: F401
