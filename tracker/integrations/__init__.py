"""Integrations: training frameworks logging into tracker, and runs imported from other trackers.

One small module per framework, each imported only when used (the framework is an optional extra):

- :mod:`tracker.integrations.lightning`: ``TrackerLogger``, a PyTorch Lightning logger
  (also for the older ``pytorch_lightning`` package: :mod:`tracker.integrations.pytorch_lightning`).
- :mod:`tracker.integrations.huggingface`: ``TrackerCallback`` for the Hugging Face ``Trainer``.
- :mod:`tracker.integrations.keras`: ``TrackerCallback``, ``TrackerModelCheckpoint`` (Keras 3).
- :mod:`tracker.integrations.xgboost`: ``TrackerCallback`` (XGBoost's ``TrainingCallback``).
- :mod:`tracker.integrations.lightgbm`: ``tracker_callback`` and ``log_summary``.
- :mod:`tracker.integrations.sklearn`: scikit-learn evaluation charts (``plot_classifier``, ...).

W&B's names for them (``WandbLogger``, ``WandbCallback``, ``WandbMetricsLogger``, ``wandb_callback``,
...) are thin aliases, also reachable as ``tracker.keras``, ``tracker.xgboost``, ``tracker.lightgbm``,
``tracker.sklearn`` and ``tracker.integration.<framework>``, so a ported script runs once its
``import wandb`` reads ``import tracker as wandb``. See docs/integrations.md.
"""

from __future__ import annotations

#: the extra that installs each framework (``pip install "tracker[<extra>]"``)
EXTRAS = {
    "lightning": "lightning",
    "pytorch_lightning": "lightning",
    "transformers": "huggingface",
    "keras": "keras",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "sklearn": "sklearn",
    "wandb": "import",
    "tensorboard": "import",
    "mlflow": "import",
}
