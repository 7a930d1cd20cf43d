"""W&B's ``wandb.keras``: the names of :mod:`tracker.integrations.keras`, so ``import tracker as wandb``
scripts reach them as ``wandb.keras.<name>``."""

from tracker.integrations.keras import *  # noqa: F403
from tracker.integrations.keras import __all__  # noqa: F401
