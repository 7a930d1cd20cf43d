"""Plot helpers: ``tracker.plot.line``, ``scatter``, ``bar``, ``histogram``, ``line_series``,
``pr_curve``, ``roc_curve``, ``confusion_matrix``.

Each returns a :class:`Plot`: a :class:`~tracker.media.Table` of the data plus a small spec saying
how panels draw it (``{"type": "line", "x": ..., "y": ...}``). Curves and matrices are computed
with numpy (no scikit-learn needed). Log them like any media: ``run.log({"pr": plot.pr_curve(...)})``.

The helpers compute when called, so input they cannot use is refused at once, always as
:class:`~tracker.media.MediaError` (never a ``TypeError`` or ``ValueError`` from deep inside numpy).
"""

from __future__ import annotations

import functools

from tracker.convert import describe_exception, safe_repr, tensor_to_numpy, type_name
from tracker.media.base import Media, MediaError, Prepared
from tracker.media.types import Table

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    F = TypeVar("F", bound=Callable[..., Any])

MAX_CURVE_POINTS = 500  # per class: curves are thinned to about this many points
MAX_CLASSES = 1000  # a confusion matrix has at most this many classes (a million cells)


def _refusing(fn: F) -> F:
    """``fn`` raising :class:`MediaError` (and nothing else) for input it cannot use."""

    @functools.wraps(fn)
    def helper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MediaError:
            raise
        except Exception as exc:  # noqa: BLE001 - junk input may raise anything: refused as MediaError
            raise MediaError(f"plot.{fn.__name__}: its input could not be used ({describe_exception(exc)})") from None

    return helper  # type: ignore[return-value]


class Plot(Media):
    """A table and the spec of the chart drawn from it."""

    kind = "plot"

    def __init__(self, table: Table, spec: dict[str, Any], title: str | None = None) -> None:
        self.table = table
        self.spec = spec
        self.title = title

    def _prepare(self) -> Prepared:
        if not isinstance(self.table, Table):
            raise MediaError(f"a Plot needs a tracker.Table, not a {type_name(self.table)}")
        if not isinstance(self.spec, dict):
            raise MediaError(f"a Plot's spec is a dict, not a {type_name(self.spec)}")
        if self.title is not None and not isinstance(self.title, str):
            raise MediaError(f"a Plot's title is a string, not a {type_name(self.title)}")
        inner = self.table._prepare()
        meta = {**inner.meta, "spec": self.spec, "title": self.title}
        return Prepared("plot", meta, inner.encode, inner.nbytes)


def _check_columns(table: Table, *names: str) -> None:
    if not isinstance(table, Table):
        raise MediaError(f"plot helpers take a tracker.Table, not a {type_name(table)}")
    for n in names:
        if not isinstance(n, str):
            raise MediaError(f"a column is named by a string, not a {type_name(n)}")
    missing = [n for n in names if n not in table.columns]
    if missing:
        raise MediaError(f"the table has no column {safe_repr(missing[0])} (columns: {safe_repr(table.columns, 200)})")


@_refusing
def line(table: Table, x: str, y: str, stroke: str | None = None, title: str | None = None) -> Plot:
    """A line of ``y`` against ``x`` (one line per value of ``stroke``, when given)."""
    _check_columns(table, x, y, *([stroke] if stroke else []))
    return Plot(table, {"type": "line", "x": x, "y": y, "stroke": stroke}, title)


@_refusing
def scatter(table: Table, x: str, y: str, title: str | None = None) -> Plot:
    _check_columns(table, x, y)
    return Plot(table, {"type": "scatter", "x": x, "y": y}, title)


@_refusing
def bar(table: Table, label: str, value: str, title: str | None = None) -> Plot:
    _check_columns(table, label, value)
    return Plot(table, {"type": "bar", "label": label, "value": value}, title)


@_refusing
def histogram(table: Table, value: str, title: str | None = None) -> Plot:
    _check_columns(table, value)
    return Plot(table, {"type": "histogram", "value": value}, title)


@_refusing
def line_series(xs: Any, ys: list[Any], keys: list[str] | None = None, title: str | None = None,
                xname: str = "x") -> Plot:
    """Several lines on one chart: ``xs`` shared (or one list per line), ``ys`` a list of lists."""
    import numpy as np

    ys = [list(map(float, y)) for y in ys]
    if keys is not None and len(keys) != len(ys):
        raise MediaError(f"line_series got {len(keys)} keys for {len(ys)} lines")
    keys = keys or [f"line_{i}" for i in range(len(ys))]
    shared = not (len(xs) and isinstance(xs[0], (list, tuple)) or (hasattr(xs, "ndim") and np.ndim(xs) == 2))
    rows: list[list[Any]] = []
    for i, (key, y) in enumerate(zip(keys, ys, strict=True)):
        x = list(xs) if shared else list(xs[i])
        if len(x) != len(y):
            raise MediaError(f"line_series line {safe_repr(key)} has {len(y)} y values for {len(x)} x values")
        rows.extend([key, float(a), float(b)] for a, b in zip(x, y, strict=True))
    return Plot(Table(columns=["lineKey", xname, "y"], data=rows),
                {"type": "line", "x": xname, "y": "y", "stroke": "lineKey"}, title)


def _classes(y_true: Any, y_probas: Any, labels: list[str] | None, classes_to_plot: list[Any] | None,
             ) -> tuple[Any, Any, list[int], list[str]]:
    import numpy as np

    truth = tensor_to_numpy(y_true).ravel()
    probas = tensor_to_numpy(y_probas).astype(np.float64)
    if probas.ndim == 1:  # binary scores for the positive class
        probas = np.stack([1 - probas, probas], axis=1)
    if probas.ndim != 2 or probas.shape[0] != truth.shape[0]:
        raise MediaError(f"y_probas of shape {probas.shape} does not match {truth.shape[0]} labels in y_true")
    if not np.isfinite(probas).all():
        raise MediaError("y_probas holds NaN or infinite values")
    n_classes = probas.shape[1]
    names = list(labels) if labels is not None else [str(i) for i in range(n_classes)]
    if len(names) != n_classes:
        raise MediaError(f"{len(names)} labels for {n_classes} classes")
    wanted = list(range(n_classes)) if classes_to_plot is None else [int(c) for c in classes_to_plot]
    return truth, probas, wanted, names


def _thin(*arrays: Any) -> list[Any]:
    import numpy as np

    n = len(arrays[0])
    if n <= MAX_CURVE_POINTS:
        return list(arrays)
    idx = np.unique(np.linspace(0, n - 1, MAX_CURVE_POINTS).astype(int))
    return [a[idx] for a in arrays]


def _ranked(truth: Any, scores: Any, positive: int) -> tuple[Any, Any, Any]:
    """Cumulative true and false positives at each distinct score, highest first."""
    import numpy as np

    order = np.argsort(-scores, kind="mergesort")
    s = scores[order]
    hits = (truth[order] == positive).astype(np.int64)
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the end of each run of equal scores
    tp = np.cumsum(hits)[last]
    fp = (last + 1) - tp
    return tp, fp, s[last]


@_refusing
def pr_curve(y_true: Any, y_probas: Any, labels: list[str] | None = None, classes_to_plot: list[Any] | None = None,
             title: str | None = None) -> Plot:
    """Precision against recall, one curve per class (one-vs-rest)."""
    import numpy as np

    truth, probas, wanted, names = _classes(y_true, y_probas, labels, classes_to_plot)
    rows: list[list[Any]] = []
    ap = {}
    for c in wanted:
        tp, fp, _ = _ranked(truth, probas[:, c], c)
        positives = int((truth == c).sum())
        if positives == 0:
            continue
        precision = tp / np.maximum(tp + fp, 1)
        recall = tp / positives
        ap[names[c]] = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
        r, p = _thin(np.r_[0.0, recall], np.r_[1.0, precision])
        rows.extend([names[c], float(a), float(b)] for a, b in zip(r, p, strict=True))
    plot = Plot(Table(columns=["class", "recall", "precision"], data=rows),
                {"type": "line", "x": "recall", "y": "precision", "stroke": "class", "average_precision": ap},
                title or "Precision-recall curve")
    return plot


@_refusing
def roc_curve(y_true: Any, y_probas: Any, labels: list[str] | None = None, classes_to_plot: list[Any] | None = None,
              title: str | None = None) -> Plot:
    """True-positive rate against false-positive rate, one curve per class, with its AUC."""
    import numpy as np

    truth, probas, wanted, names = _classes(y_true, y_probas, labels, classes_to_plot)
    rows: list[list[Any]] = []
    auc = {}
    for c in wanted:
        tp, fp, _ = _ranked(truth, probas[:, c], c)
        positives = int((truth == c).sum())
        negatives = len(truth) - positives
        if positives == 0 or negatives == 0:
            continue
        tpr = np.r_[0.0, tp / positives]
        fpr = np.r_[0.0, fp / negatives]
        auc[names[c]] = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
        f, t = _thin(fpr, tpr)
        rows.extend([names[c], float(a), float(b)] for a, b in zip(f, t, strict=True))
    return Plot(Table(columns=["class", "fpr", "tpr"], data=rows),
                {"type": "line", "x": "fpr", "y": "tpr", "stroke": "class", "auc": auc}, title or "ROC curve")


def _class_ids(values: Any, what: str) -> Any:
    """Class ids as int64: numbers that are whole (NaN, infinities and fractions refused, rather
    than cast to arbitrary ints)."""
    import numpy as np

    arr = np.asarray(tensor_to_numpy(values)).ravel()
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all() or (arr != np.round(arr)).any() or (np.abs(arr) >= 2.0**62).any():
            raise MediaError(f"confusion_matrix {what} must be whole class ids: it holds NaN, an infinity, "
                             "a fraction or a number past any class id")
    elif arr.dtype.kind not in "iub":
        raise MediaError(f"confusion_matrix {what} must be class ids (integers), not {arr.dtype}")
    return arr.astype(np.int64)


@_refusing
def confusion_matrix(probs: Any = None, y_true: Any = None, preds: Any = None, class_names: list[str] | None = None,
                     title: str | None = None) -> Plot:
    """Counts of (actual, predicted) pairs; give ``preds`` (class indices) or ``probs``."""
    import numpy as np

    if y_true is None or (preds is None) == (probs is None):
        raise MediaError("confusion_matrix needs y_true and exactly one of preds or probs")
    truth = _class_ids(y_true, "y_true")
    predicted = (_class_ids(preds, "preds") if preds is not None
                 else tensor_to_numpy(probs).argmax(axis=1))
    if predicted.shape != truth.shape:
        raise MediaError(f"{predicted.shape[0]} predictions for {truth.shape[0]} labels")
    if truth.min(initial=0) < 0 or predicted.min(initial=0) < 0:
        raise MediaError("confusion_matrix class ids must be non-negative integers")
    n = int(max(truth.max(initial=0), predicted.max(initial=0))) + 1
    names = list(class_names) if class_names is not None else [str(i) for i in range(min(n, MAX_CLASSES + 1))]
    if max(n, len(names)) > MAX_CLASSES:
        raise MediaError(f"confusion_matrix has more than {MAX_CLASSES} classes")
    if len(names) < n:
        raise MediaError(f"{len(names)} class names for labels up to {n - 1}")
    counts = np.zeros((len(names), len(names)), dtype=np.int64)
    np.add.at(counts, (truth, predicted), 1)
    rows = [[names[a], names[p], int(counts[a, p])] for a in range(len(names)) for p in range(len(names))]
    return Plot(Table(columns=["Actual", "Predicted", "nPredictions"], data=rows),
                {"type": "confusion_matrix", "x": "Predicted", "y": "Actual", "value": "nPredictions"},
                title or "Confusion matrix")
