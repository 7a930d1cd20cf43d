"""W&B's ``wandb.integration`` package path: ``from tracker.integration.keras import WandbMetricsLogger``
and the like import the same objects as :mod:`tracker.integrations` (one module per framework)."""
