"""W&B's ``wandb.sklearn``: the names of :mod:`tracker.integrations.sklearn`, so ``import tracker as wandb``
scripts reach them as ``wandb.sklearn.<name>``."""

from tracker.integrations.sklearn import *  # noqa: F403
from tracker.integrations.sklearn import __all__  # noqa: F401
