"""XGBoost: :class:`TrackerCallback`, an ``xgboost.callback.TrainingCallback``.

::

    import xgboost as xgb
    from tracker.integrations.xgboost import TrackerCallback

    booster = xgb.train(params, dtrain, num_boost_round=100, evals=[(dval, "val")],
                        callbacks=[TrackerCallback(log_model=True)])
    # or: xgb.XGBClassifier(callbacks=[TrackerCallback()]).fit(X, y, eval_set=[(Xv, yv)])

- every boosting round logs ``<data>-<metric>`` (``val-logloss``, ``validation_0-rmse``) with
  ``epoch`` (the round), which the metrics plot against;
- the booster's parameters go into the config; ``best_score`` and ``best_iteration`` (early
  stopping) into the summary;
- at the end, the feature importance (``importance_type``, default ``"gain"``) as a bar chart under
  ``Feature Importance``, and with ``log_model=True`` the model (``model.json``) as the
  ``model-<run id>`` artifact.

``WandbCallback`` (also ``tracker.xgboost.WandbCallback``) is the same class under W&B's name.
"""

from __future__ import annotations

import json

from tracker.integrations._common import guarded, importance_plot, log_saved_model, require, run_or_init

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

xgb = require("xgboost", "xgboost", "tracker.integrations.xgboost")


class TrackerCallback(xgb.callback.TrainingCallback):  # type: ignore[misc, name-defined]
    """Logs an XGBoost training into tracker: see the module's documentation.

    Args:
        log_model: log the trained model as an artifact.
        log_feature_importance: log the feature importance chart.
        importance_type: ``"gain"``, ``"weight"``, ``"cover"``, ``"total_gain"`` or ``"total_cover"``.
        define_metric: plot the round metrics against ``epoch`` and summarise them by their best value.
        project, init_kwargs: for the run started when none is current.
    """

    def __init__(self, log_model: bool = False, log_feature_importance: bool = True, importance_type: str = "gain",
                 define_metric: bool = True, project: str | None = None, **init_kwargs: Any) -> None:
        super().__init__()
        self.log_model = log_model
        self.log_feature_importance = log_feature_importance
        self.importance_type = importance_type
        self.define_metric = define_metric
        self._project = project
        self._init_kwargs = init_kwargs
        self._run: Any = None
        self._defined: set[str] = set()

    @property
    def run(self) -> Any:
        if self._run is None:
            self._run = run_or_init(project=self._project, **self._init_kwargs)
        return self._run

    @guarded("xgboost TrackerCallback")
    def before_training(self, model: Any) -> Any:
        run = self.run
        try:
            config = json.loads(model.save_config())
            params = config.get("learner", {}).get("gradient_booster", {}).get("tree_train_param") or {}
            objective = config.get("learner", {}).get("objective", {}).get("name")
            run.config.update({"xgboost": {"objective": objective, **params}}, allow_val_change=True)
        except (ValueError, AttributeError, TypeError):
            pass
        if self.define_metric:
            run.define_metric("epoch")
        return model

    @guarded("xgboost TrackerCallback")
    def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, dict[str, Any]]) -> bool:
        run = self.run
        data: dict[str, Any] = {}
        for data_name, metrics in evals_log.items():
            for metric, values in metrics.items():
                if not values:
                    continue
                last = values[-1]
                key = f"{data_name}-{metric}"
                data[key] = float(last[0] if isinstance(last, tuple) else last)
                if self.define_metric and key not in self._defined:
                    higher = any(t in metric for t in ("auc", "map", "ndcg", "pre", "acc"))
                    run.define_metric(key, step_metric="epoch", summary="max" if higher else "min")
                    self._defined.add(key)
        data["epoch"] = epoch
        run.log(data)
        return False  # never stop the training

    @guarded("xgboost TrackerCallback")
    def after_training(self, model: Any) -> Any:
        run = self.run
        for attr in ("best_score", "best_iteration"):
            try:
                value = model.attr(attr)
            except Exception:  # noqa: BLE001
                value = None
            if value is not None:
                run.summary[attr] = float(value) if attr == "best_score" else int(value)
        if self.log_feature_importance:
            try:
                scores = model.get_score(importance_type=self.importance_type)
            except Exception:  # noqa: BLE001 - a linear booster has no tree importance
                scores = {}
            if scores:
                run.log({"Feature Importance": importance_plot(list(scores), list(scores.values()),
                                                                f"Feature Importance ({self.importance_type})")},
                        commit=False)
        if self.log_model:
            log_saved_model(run, "model.json", model.save_model,
                            {"framework": "xgboost", "num_boosted_rounds": int(model.num_boosted_rounds())})
        run.flush()
        return model


WandbCallback = TrackerCallback

__all__ = ["TrackerCallback", "WandbCallback"]
