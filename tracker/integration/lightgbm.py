"""W&B's ``wandb.integration.lightgbm``: the names of :mod:`tracker.integrations.lightgbm`."""

from tracker.integrations.lightgbm import *  # noqa: F403
from tracker.integrations.lightgbm import __all__  # noqa: F401
