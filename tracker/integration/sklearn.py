"""W&B's ``wandb.integration.sklearn``: the names of :mod:`tracker.integrations.sklearn`."""

from tracker.integrations.sklearn import *  # noqa: F403
from tracker.integrations.sklearn import __all__  # noqa: F401
