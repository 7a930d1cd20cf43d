"""W&B's ``wandb.integration.keras``: the names of :mod:`tracker.integrations.keras`."""

from tracker.integrations.keras import *  # noqa: F403
from tracker.integrations.keras import __all__  # noqa: F401
