"""W&B's ``wandb.xgboost``: the names of :mod:`tracker.integrations.xgboost`, so ``import tracker as wandb``
scripts reach them as ``wandb.xgboost.<name>``."""

from tracker.integrations.xgboost import *  # noqa: F403
from tracker.integrations.xgboost import __all__  # noqa: F401
