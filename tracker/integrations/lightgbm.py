"""LightGBM: :func:`tracker_callback` (a training callback) and :func:`log_summary`.

::

    import lightgbm as lgb
    from tracker.integrations.lightgbm import tracker_callback, log_summary

    booster = lgb.train(params, train_set, valid_sets=[valid_set], callbacks=[tracker_callback()])
    log_summary(booster, save_model_checkpoint=True)

- every iteration logs ``<data>_<metric>`` (``training_binary_logloss``, ``valid_0_l2``) with
  ``iteration``, which the metrics plot against; the training parameters go into the config
  (``log_params``);
- :func:`log_summary`: ``best_iteration`` and the best scores into the summary, the feature
  importance as a bar chart (``Feature Importance``), the model as the ``model-<run id>`` artifact
  (``save_model_checkpoint``).

W&B's names: ``wandb_callback`` and ``log_summary`` (also ``tracker.lightgbm.*``).
"""

from __future__ import annotations

from tracker.integrations._common import (
    guarded,
    importance_plot,
    log_saved_model,
    plain_params,
    require,
    run_or_init,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

require("lightgbm", "lightgbm", "tracker.integrations.lightgbm")


def tracker_callback(log_params: bool = True, define_metric: bool = True) -> Callable[[Any], None]:
    """A LightGBM callback (for ``lgb.train(callbacks=[...])`` or a model's ``fit``) logging each
    iteration's evaluation results into the current run (one is started when none is)."""
    defined: set[str] = set()

    @guarded("lightgbm tracker_callback")
    def callback(env: Any) -> None:
        run = run_or_init()
        if log_params and env.iteration == env.begin_iteration:
            run.config.update({"lightgbm": plain_params(env.params)}, allow_val_change=True)
        if define_metric and not defined:
            run.define_metric("iteration")
        data: dict[str, Any] = {}
        for item in env.evaluation_result_list or []:
            data_name, metric, value, higher_better = item[0], item[1], item[2], item[3]
            if " " in data_name:  # lgb.cv: ("cv_agg", "valid binary_logloss", mean, higher_better, stdv)
                data_name, metric = data_name.split(" ", 1)[0], metric.replace(" ", "_")
            key = f"{data_name}_{metric}"
            data[key] = float(value)
            if len(item) > 4:
                data[f"{key}-stdv"] = float(item[4])
            if define_metric and key not in defined:
                run.define_metric(key, step_metric="iteration", summary="max" if higher_better else "min")
                defined.add(key)
        data["iteration"] = env.iteration
        run.log(data)

    # LightGBM sorts callbacks by `order`: before its early stopping (30), so the last round is logged
    callback.order = 20  # type: ignore[attr-defined]
    return callback


def log_summary(model: Any, feature_importance: bool = True, save_model_checkpoint: bool = False) -> None:
    """After training: the best iteration and scores into the summary, the feature importance chart,
    and (``save_model_checkpoint``) the model as an artifact. ``model`` is a ``lightgbm.Booster``
    or a fitted scikit-learn estimator (its ``booster_``)."""
    from tracker.errors import UsageError

    booster = getattr(model, "booster_", model)
    if not hasattr(booster, "feature_importance"):
        raise UsageError(f"log_summary takes a lightgbm.Booster (or a fitted LGBM model), not a {type(model).__name__}")
    _log_summary(booster, feature_importance, save_model_checkpoint)


@guarded("lightgbm log_summary")
def _log_summary(booster: Any, feature_importance: bool, save_model_checkpoint: bool) -> None:
    run = run_or_init()
    best = getattr(booster, "best_iteration", None)
    if best is not None and best > 0:
        run.summary["best_iteration"] = int(best)
    for data_name, metrics in (getattr(booster, "best_score", None) or {}).items():
        for metric, value in metrics.items():
            run.summary[f"best_score/{data_name}_{metric}"] = float(value)
    if feature_importance:
        names = list(booster.feature_name())
        values = [float(v) for v in booster.feature_importance(importance_type="split")]
        if names:
            run.log({"Feature Importance": importance_plot(names, values)}, commit=False)
    if save_model_checkpoint:
        log_saved_model(run, "model.txt", booster.save_model,
                        {"framework": "lightgbm", "num_trees": int(booster.num_trees())})
    run.flush()


wandb_callback = tracker_callback

__all__ = ["log_summary", "tracker_callback", "wandb_callback"]
