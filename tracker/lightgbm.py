"""W&B's ``wandb.lightgbm``: the names of :mod:`tracker.integrations.lightgbm`, so ``import tracker as wandb``
scripts reach them as ``wandb.lightgbm.<name>``."""

from tracker.integrations.lightgbm import *  # noqa: F403
from tracker.integrations.lightgbm import __all__  # noqa: F401
