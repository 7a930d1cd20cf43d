"""``wandb.plots``: the names of W&B's older plot module, as scripts written for it call them.

``precision_recall`` and ``ROC`` are :func:`tracker.plot.pr_curve` and :func:`tracker.plot.roc_curve`;
``heatmap`` draws a matrix as the confusion-matrix heat map does. New code uses :mod:`tracker.plot`.
"""

from __future__ import annotations

from tracker import plot as _plot
from tracker.media.base import MediaError
from tracker.media.types import Table

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def precision_recall(y_true: Any = None, y_probas: Any = None, labels: list[str] | None = None,
                     plot_micro: bool = True, classes_to_plot: list[Any] | None = None) -> Any:
    """A precision-recall curve per class (W&B's older ``wandb.plots.precision_recall``)."""
    del plot_micro
    return _plot.pr_curve(y_true, y_probas, labels=labels, classes_to_plot=classes_to_plot)


def ROC(y_true: Any = None, y_probas: Any = None, labels: list[str] | None = None,  # noqa: N802 - W&B's name
        classes_to_plot: list[Any] | None = None) -> Any:
    """A ROC curve per class (W&B's older ``wandb.plots.ROC``)."""
    return _plot.roc_curve(y_true, y_probas, labels=labels, classes_to_plot=classes_to_plot)


def heatmap(x_labels: list[Any], y_labels: list[Any], matrix_values: Any, show_text: bool = False) -> Any:
    """A matrix as a heat map with its values (W&B's older ``wandb.plots.HeatMap``)."""
    del show_text
    try:
        rows = [[str(y), str(x), float(matrix_values[i][j])] for i, y in enumerate(y_labels)
                for j, x in enumerate(x_labels)]
    except (TypeError, IndexError, ValueError) as exc:
        raise MediaError(f"heatmap: matrix_values must be len(y_labels) x len(x_labels) numbers ({exc})") from None
    return _plot.Plot(Table(columns=["y", "x", "value"], data=rows),
                      {"type": "confusion_matrix", "x": "x", "y": "y", "value": "value"}, "Heat map")


HeatMap = heatmap
