"""scikit-learn evaluation charts, logged into the current run as W&B's ``wandb.sklearn`` does.

::

    from tracker.integrations import sklearn as tsk   # or: import tracker as wandb; wandb.sklearn

    model.fit(X_train, y_train)
    tsk.plot_classifier(model, X_train, X_test, y_train, y_test, model.predict(X_test),
                        model.predict_proba(X_test), labels=["setosa", "versicolor", "virginica"])

Each ``plot_*`` computes its chart and logs it under W&B's key (``confusion_matrix``, ``roc``,
``precision_recall``, ``feature_importances``, ``class_proportions``, ``summary_metrics``,
``learning_curve``, ``calibration_curve``, ``residuals``, ``elbow_curve``) into the current run
(one is started when none is). Curves, matrices and proportions need only numpy; the summary
metrics, learning, calibration and elbow curves use scikit-learn itself (``tracker[sklearn]``).
W&B's silhouette plot, outlier candidates and decision-boundary charts are not provided.
"""

from __future__ import annotations

from tracker.integrations._common import importance_plot, require, run_or_init

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _log(key: str, chart: Any) -> Any:
    run_or_init().log({key: chart})
    return chart


def _np(values: Any) -> Any:
    import numpy as np

    from tracker.convert import tensor_to_numpy

    return np.asarray(tensor_to_numpy(values))


def _encode(y_true: Any, y_pred: Any, labels: list[Any] | None) -> tuple[Any, Any, list[str]]:
    """Labels of any type as class ids 0..n-1, with their names."""
    import numpy as np

    truth, pred = _np(y_true).ravel(), _np(y_pred).ravel()
    classes = np.unique(np.concatenate([truth, pred]))
    index = {c: i for i, c in enumerate(classes.tolist())}
    ids_true = np.array([index[c] for c in truth.tolist()], dtype=np.int64)
    ids_pred = np.array([index[c] for c in pred.tolist()], dtype=np.int64)
    if labels is not None and len(labels) == len(classes) and np.issubdtype(classes.dtype, np.integer) \
            and classes.tolist() == list(range(len(classes))):
        names = [str(label) for label in labels]
    else:
        names = [str(c) for c in classes.tolist()]
    return ids_true, ids_pred, names


def plot_confusion_matrix(y_true: Any, y_pred: Any, labels: list[Any] | None = None, true_labels: Any = None,
                          pred_labels: Any = None, normalize: bool = False) -> Any:
    """Counts of (actual, predicted) label pairs (``normalize``: each actual row as fractions)."""
    import numpy as np

    from tracker.media import Table
    from tracker.plot import Plot

    truth, pred, names = _encode(y_true, y_pred, labels)
    n = len(names)
    counts = np.zeros((n, n), dtype=np.float64)
    np.add.at(counts, (truth, pred), 1)
    if normalize:
        counts = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    keep_true = set(map(str, true_labels)) if true_labels is not None else None
    keep_pred = set(map(str, pred_labels)) if pred_labels is not None else None
    rows = [[names[a], names[p], float(counts[a, p]) if normalize else int(counts[a, p])]
            for a in range(n) for p in range(n)
            if (keep_true is None or names[a] in keep_true) and (keep_pred is None or names[p] in keep_pred)]
    chart = Plot(Table(columns=["Actual", "Predicted", "nPredictions"], data=rows),
                 {"type": "confusion_matrix", "x": "Predicted", "y": "Actual", "value": "nPredictions"},
                 "Normalized confusion matrix" if normalize else "Confusion matrix")
    return _log("confusion_matrix", chart)


def plot_roc(y_true: Any, y_probas: Any, labels: list[str] | None = None, classes_to_plot: list[Any] | None = None) -> Any:
    """One ROC curve per class (one-vs-rest) with its AUC."""
    from tracker.plot import roc_curve

    truth, _, _ = _encode(y_true, y_true, None)
    return _log("roc", roc_curve(truth, y_probas, labels=labels, classes_to_plot=classes_to_plot))


def plot_precision_recall(y_true: Any, y_probas: Any, labels: list[str] | None = None,
                          classes_to_plot: list[Any] | None = None) -> Any:
    """One precision-recall curve per class (one-vs-rest) with its average precision."""
    from tracker.plot import pr_curve

    truth, _, _ = _encode(y_true, y_true, None)
    return _log("precision_recall", pr_curve(truth, y_probas, labels=labels, classes_to_plot=classes_to_plot))


def plot_feature_importances(model: Any, feature_names: list[str] | None = None,
                             title: str = "Feature Importance", max_num_features: int = 50) -> Any:
    """The model's ``feature_importances_`` (trees) or absolute ``coef_`` (linear models), largest first."""
    import numpy as np

    from tracker.errors import UsageError

    values = getattr(model, "feature_importances_", None)
    if values is None and getattr(model, "coef_", None) is not None:
        coef = np.abs(_np(model.coef_))
        values = coef.mean(axis=0) if coef.ndim > 1 else coef
    if values is None:
        raise UsageError(f"plot_feature_importances: a {type(model).__name__} has neither feature_importances_ nor coef_ "
                         "(fit it first)")
    values = _np(values).ravel()
    names = list(feature_names) if feature_names is not None else list(
        getattr(model, "feature_names_in_", [f"feature_{i}" for i in range(len(values))]))
    if len(names) != len(values):
        raise UsageError(f"plot_feature_importances: {len(names)} feature names for {len(values)} features")
    order = np.argsort(-values)[:max_num_features]
    return _log("feature_importances", importance_plot([str(names[i]) for i in order],
                                                       [float(values[i]) for i in order], title))


def plot_class_proportions(y_train: Any, y_test: Any, labels: list[str] | None = None) -> Any:
    """How many samples of each class the train and test sets hold (a bar per class and set)."""
    import numpy as np

    from tracker.media import Table
    from tracker.plot import Plot

    train, test = _np(y_train).ravel(), _np(y_test).ravel()
    classes = np.unique(np.concatenate([train, test]))
    names = [str(labels[i]) if labels is not None and i < len(labels) else str(c) for i, c in enumerate(classes.tolist())]
    rows = []
    for name, c in zip(names, classes.tolist(), strict=True):
        rows.append([name, "train", int((train == c).sum())])
        rows.append([name, "test", int((test == c).sum())])
    chart = Plot(Table(columns=["class", "dataset", "count"], data=rows),
                 {"type": "bar", "label": "class", "value": "count", "group": "dataset"}, "Class proportions")
    return _log("class_proportions", chart)


def _metrics_table(title: str, metrics: dict[str, float]) -> Any:
    from tracker.media import Table
    from tracker.plot import bar

    table = Table(columns=["metric", "value"], data=[[k, float(v)] for k, v in metrics.items()])
    return bar(table, "metric", "value", title=title)


def plot_summary_metrics(model: Any, X: Any = None, y: Any = None, X_test: Any = None, y_test: Any = None) -> Any:
    """Test-set scores: accuracy, precision, recall and F1 (weighted) for a classifier; MAE, MSE
    and R² for a regressor. Also written into the run's summary as ``summary_metrics/<name>``."""
    skm = require("sklearn.metrics", "sklearn", "plot_summary_metrics")
    base = require("sklearn.base", "sklearn", "plot_summary_metrics")
    X_eval, y_eval = (X_test, y_test) if X_test is not None else (X, y)
    pred = model.predict(X_eval)
    if base.is_classifier(model):
        metrics = {"accuracy": skm.accuracy_score(y_eval, pred),
                   "precision": skm.precision_score(y_eval, pred, average="weighted", zero_division=0),
                   "recall": skm.recall_score(y_eval, pred, average="weighted", zero_division=0),
                   "f1": skm.f1_score(y_eval, pred, average="weighted", zero_division=0)}
    else:
        metrics = {"mae": skm.mean_absolute_error(y_eval, pred), "mse": skm.mean_squared_error(y_eval, pred),
                   "r2": skm.r2_score(y_eval, pred)}
    run = run_or_init()
    for key, value in metrics.items():
        run.summary[f"summary_metrics/{key}"] = float(value)
    return _log("summary_metrics", _metrics_table(f"Summary metrics ({type(model).__name__})", metrics))


def plot_learning_curve(model: Any, X: Any, y: Any, cv: Any = None, shuffle: bool = False, random_state: Any = None,
                        train_sizes: Any = None, n_jobs: int = 1, scoring: Any = None) -> Any:
    """Train and cross-validation score against the training-set size (``sklearn.model_selection.learning_curve``)."""
    import numpy as np

    from tracker.plot import line_series

    ms = require("sklearn.model_selection", "sklearn", "plot_learning_curve")
    sizes, train_scores, test_scores = ms.learning_curve(
        model, X, y, cv=cv, shuffle=shuffle, random_state=random_state, n_jobs=n_jobs, scoring=scoring,
        train_sizes=train_sizes if train_sizes is not None else np.linspace(0.1, 1.0, 5))
    chart = line_series([int(s) for s in sizes], [train_scores.mean(axis=1), test_scores.mean(axis=1)],
                        keys=["train", "test"], title="Learning curve", xname="dataset_size")
    return _log("learning_curve", chart)


def plot_calibration_curve(model: Any, X: Any, y: Any, clf_name: str | None = None, n_bins: int = 10) -> Any:
    """Fraction of positives against the mean predicted probability, binned (binary classifiers),
    beside the perfectly calibrated diagonal."""
    from tracker.plot import line_series

    cal = require("sklearn.calibration", "sklearn", "plot_calibration_curve")
    probas = _np(model.predict_proba(X))
    scores = probas[:, 1] if probas.ndim == 2 else probas
    frac, mean = cal.calibration_curve(_np(y), scores, n_bins=n_bins)
    name = clf_name or type(model).__name__
    chart = line_series([[0.0, 1.0], [float(v) for v in mean]], [[0.0, 1.0], [float(v) for v in frac]],
                        keys=["perfectly calibrated", name], title="Calibration curve", xname="mean_predicted_value")
    return _log("calibration_curve", chart)


def plot_residuals(model: Any, X: Any, y: Any) -> Any:
    """A regressor's residuals (truth minus prediction) against its predictions."""
    from tracker.media import Table
    from tracker.plot import scatter

    pred = _np(model.predict(X)).ravel()
    truth = _np(y).ravel()
    table = Table(columns=["prediction", "residual"],
                  data=[[float(p), float(t - p)] for p, t in zip(pred, truth, strict=True)])
    return _log("residuals", scatter(table, "prediction", "residual", title="Residuals"))


def plot_elbow_curve(clusterer: Any, X: Any, cluster_ranges: Any = None, n_jobs: int = 1) -> Any:
    """A k-means clusterer's sum of squared distances for each number of clusters (the elbow)."""
    base = require("sklearn.base", "sklearn", "plot_elbow_curve")
    from tracker.media import Table
    from tracker.plot import line

    ranges = list(cluster_ranges) if cluster_ranges is not None else list(range(1, 11, 2))
    rows = []
    for k in ranges:
        fitted = base.clone(clusterer).set_params(n_clusters=int(k)).fit(X)
        rows.append([int(k), float(fitted.inertia_)])
    return _log("elbow_curve", line(Table(columns=["cluster_ranges", "errors"], data=rows),
                                    "cluster_ranges", "errors", title="Elbow curve"))


def plot_classifier(model: Any, X_train: Any, X_test: Any, y_train: Any, y_test: Any, y_pred: Any, y_probas: Any,
                    labels: list[str] | None = None, model_name: str = "Classifier", feature_names: list[str] | None = None,
                    log_learning_curve: bool = False) -> None:
    """W&B's classifier set: confusion matrix, summary metrics, class proportions, ROC and PR curves,
    the feature importances when the model has them, and the learning curve when asked."""
    del model_name
    plot_confusion_matrix(y_test, y_pred, labels)
    plot_summary_metrics(model, X_train, y_train, X_test, y_test)
    plot_class_proportions(y_train, y_test, labels)
    if y_probas is not None:
        plot_roc(y_test, y_probas, labels)
        plot_precision_recall(y_test, y_probas, labels)
    if getattr(model, "feature_importances_", None) is not None or getattr(model, "coef_", None) is not None:
        plot_feature_importances(model, feature_names)
    if log_learning_curve:
        plot_learning_curve(model, X_train, y_train)


def plot_regressor(model: Any, X_train: Any, X_test: Any, y_train: Any, y_test: Any, model_name: str = "Regressor") -> None:
    """W&B's regressor set: summary metrics, residuals and the learning curve."""
    del model_name
    plot_summary_metrics(model, X_train, y_train, X_test, y_test)
    plot_residuals(model, X_test, y_test)
    plot_learning_curve(model, X_train, y_train)


def plot_clusterer(model: Any, X_train: Any, cluster_labels: Any = None, labels: Any = None,
                   model_name: str = "Clusterer") -> None:
    """W&B's clusterer set, as far as it goes here: the elbow curve (the silhouette plot is not provided)."""
    del cluster_labels, labels, model_name
    plot_elbow_curve(model, X_train)


__all__ = [name for name in dir() if name.startswith("plot_")]
