"""W&B's ``wandb.integration.xgboost``: the names of :mod:`tracker.integrations.xgboost`."""

from tracker.integrations.xgboost import *  # noqa: F403
from tracker.integrations.xgboost import __all__  # noqa: F401
