"""Keras 3 (any backend): :class:`TrackerCallback` and :class:`TrackerModelCheckpoint`.

::

    import keras
    from tracker.integrations.keras import TrackerCallback, TrackerModelCheckpoint

    model.fit(x, y, validation_split=0.2, epochs=5,
              callbacks=[TrackerCallback(log_freq="batch", save_model="best"),
                         TrackerModelCheckpoint("ckpt/epoch-{epoch:02d}.keras")])

- :class:`TrackerCallback` logs epoch metrics as ``epoch/<name>`` (with ``epoch/epoch`` and
  ``epoch/learning_rate``) and, with ``log_freq="batch"`` or every N batches, batch metrics as
  ``batch/<name>`` against ``batch/batch_step``; it records the model's layer tree (layer types,
  parameter counts, output shapes) for the Model tab, and with ``save_model="best"`` (the best
  ``monitor`` value) or ``"last"`` logs the model as the ``model-<run id>`` artifact at the end.
- :class:`TrackerModelCheckpoint` is Keras's ``ModelCheckpoint`` that also logs each checkpoint it
  writes as a version of ``model-<run id>`` (aliases ``latest`` and ``epoch_<n>``).

W&B's names: ``WandbMetricsLogger`` (the metrics logger), ``WandbModelCheckpoint`` and the older
``WandbCallback`` (plain metric names with an ``epoch`` key, ``best_<monitor>`` in the summary, the
best model logged at the end), also as ``tracker.keras.*`` and ``tracker.integration.keras.*``.
"""

from __future__ import annotations

import os
import tempfile

from tracker.integrations._common import guarded, log_model_file, report, require, run_or_init

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

keras = require("keras", "keras", "tracker.integrations.keras")


def _float(value: Any) -> float | None:
    """A Keras scalar (a float, a backend tensor, a ``keras.Variable``) as a float, or None."""
    try:
        if hasattr(value, "numpy"):  # a keras.Variable or a tensor: its own conversion, no copy warnings
            value = value.numpy()
        if hasattr(value, "detach"):  # a torch tensor under the torch backend
            value = value.detach().cpu().numpy()
        return float(value)
    except Exception:  # noqa: BLE001 - an odd value is left out, not fatal
        return None


def learning_rate(model: Any) -> float | None:
    """The optimizer's current learning rate (schedules evaluated), or None."""
    lr = getattr(getattr(model, "optimizer", None), "learning_rate", None)
    return None if lr is None else _float(lr)


def _weight_count(weights: list[Any]) -> int:
    total = 0
    for w in weights:
        n = 1
        for d in w.shape:
            n *= int(d)
        total += n
    return total


def _output_shape(layer: Any) -> Any:
    try:
        shape = layer.output.shape
    except Exception:  # noqa: BLE001 - a layer that was never called on a symbolic input has no output
        return None
    return [None if d is None else int(d) for d in shape]


def layer_tree(model: Any) -> list[dict[str, Any]]:
    """A Keras model's layers as Model-tab rows (the model itself first, nested models' layers
    under them): name, type, depth, own / total / trainable parameter counts, output shape."""
    rows: list[dict[str, Any]] = []

    def visit(layer: Any, name: str, depth: int) -> None:
        children = list(getattr(layer, "layers", None) or [])  # a model's layers, also a nested model's
        try:
            total = int(layer.count_params()) if getattr(layer, "built", True) else 0
        except Exception:  # noqa: BLE001 - an unbuilt layer has no parameters yet
            total = 0
        try:
            trainable = _weight_count(layer.trainable_weights)
        except Exception:  # noqa: BLE001
            trainable = 0
        child_total = 0
        for child in children:
            try:
                child_total += int(child.count_params())
            except Exception:  # noqa: BLE001
                pass
        rows.append({"name": name, "type": type(layer).__name__, "depth": depth, "params": max(0, total - child_total),
                     "total_params": total, "trainable_params": trainable,
                     "output_shape": _output_shape(layer) if depth else _output_shape(model)})
        for child in children:
            visit(child, child.name if depth == 0 else f"{name}/{child.name}", depth + 1)

    visit(model, "(model)", 0)
    return rows


class TrackerCallback(keras.callbacks.Callback):  # type: ignore[misc, name-defined]
    """Logs a Keras ``fit`` into tracker: see the module's documentation.

    Args:
        log_freq: ``"epoch"``, ``"batch"`` or every N batches (an int); epoch metrics are always logged.
        initial_global_step: the first ``batch/batch_step`` (when fit resumes from a checkpoint).
        log_model_summary: record the layer tree for the Model tab at the start of training.
        save_model: ``"best"`` (the model at its best ``monitor`` value), ``"last"``, or False.
        monitor, mode: what "best" means (``mode`` ``"auto"`` is ``"max"`` for names with
            ``acc``/``auc``/``f1``, else ``"min"``).
        project, init_kwargs: for the run started when none is current.
    """

    def __init__(self, log_freq: str | int = "epoch", initial_global_step: int = 0, log_model_summary: bool = True,
                 save_model: str | bool = False, monitor: str = "val_loss", mode: str = "auto",
                 project: str | None = None, **init_kwargs: Any) -> None:
        super().__init__()
        from tracker.errors import UsageError

        if log_freq == "epoch":
            self._every = 0
        elif log_freq == "batch":
            self._every = 1
        elif isinstance(log_freq, int) and not isinstance(log_freq, bool) and log_freq >= 1:
            self._every = log_freq
        else:
            raise UsageError(f"log_freq={log_freq!r}: 'epoch', 'batch' or an int >= 1")
        if save_model is True:
            save_model = "last"
        if save_model not in (False, None, "best", "last"):
            raise UsageError(f"save_model={save_model!r}: 'best', 'last' or False")
        if mode not in ("auto", "min", "max"):
            raise UsageError(f"mode={mode!r}: 'auto', 'min' or 'max'")
        self._save_model = save_model or None
        self.monitor = monitor
        self._higher = mode == "max" or (mode == "auto" and any(t in monitor for t in ("acc", "auc", "f1")))
        self._log_model_summary = log_model_summary
        self.global_step = initial_global_step
        self._project = project
        self._init_kwargs = init_kwargs
        self._run: Any = None
        self._best: float | None = None
        self._best_epoch: int | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    @property
    def run(self) -> Any:
        if self._run is None:
            self._run = run_or_init(project=self._project, **self._init_kwargs)
            self._define_metrics(self._run)
        return self._run

    def _define_metrics(self, run: Any) -> None:
        run.define_metric("epoch/epoch")
        run.define_metric("epoch/*", step_metric="epoch/epoch")
        run.define_metric("batch/batch_step")
        run.define_metric("batch/*", step_metric="batch/batch_step")

    @guarded("keras TrackerCallback")
    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        run = self.run
        if self._log_model_summary and self.model is not None:
            run.log_model_tree(type(self.model).__name__, layer_tree(self.model))

    @guarded("keras TrackerCallback")
    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.global_step += 1
        if not self._every or self.global_step % self._every:
            return
        data = {f"batch/{k}": v for k, v in (logs or {}).items()}
        data["batch/batch_step"] = self.global_step
        lr = learning_rate(self.model)
        if lr is not None:
            data["batch/learning_rate"] = lr
        self.run.log(data)

    @guarded("keras TrackerCallback")
    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        data = {f"epoch/{k}": v for k, v in logs.items()}
        data["epoch/epoch"] = epoch
        lr = learning_rate(self.model)
        if lr is not None:
            data["epoch/learning_rate"] = lr
        self.run.log(data)
        self._keep_best(epoch, logs)

    def _keep_best(self, epoch: int, logs: dict[str, Any]) -> None:
        if self._save_model != "best":
            return
        value = _float(logs.get(self.monitor)) if self.monitor in logs else None
        if value is None:
            report(self.run, "keras-monitor", f"save_model='best': {self.monitor!r} is not among the epoch's "
                   f"metrics ({sorted(logs)}); no best model is kept")
            return
        if self._best is not None and (value <= self._best if self._higher else value >= self._best):
            return
        self._best, self._best_epoch = value, epoch
        self.model.save(self._model_path())

    def _model_path(self) -> str:
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="tracker-keras-")
        return os.path.join(self._folder.name, "model.keras")

    @guarded("keras TrackerCallback")
    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        run = self.run
        try:
            if self._save_model == "last":
                self.model.save(self._model_path())
                log_model_file(run, self._model_path(), f"model-{run.id}", ["latest"],
                               {"saved": "last", "model_type": type(self.model).__name__})
            elif self._save_model == "best" and self._best is not None:
                run.summary[f"best_{self.monitor}"] = self._best
                run.summary["best_epoch"] = self._best_epoch
                log_model_file(run, self._model_path(), f"model-{run.id}", ["latest", "best"],
                               {"saved": "best", "monitor": self.monitor, "value": self._best,
                                "epoch": self._best_epoch, "model_type": type(self.model).__name__})
        finally:
            if self._folder is not None:
                self._folder.cleanup()
                self._folder = None
        run.flush()


class TrackerModelCheckpoint(keras.callbacks.ModelCheckpoint):  # type: ignore[misc, name-defined]
    """Keras's ``ModelCheckpoint`` (same arguments) that also logs each checkpoint file it writes
    as a version of the ``model-<run id>`` artifact (aliases ``latest`` and ``epoch_<n>``)."""

    def __init__(self, filepath: str | os.PathLike[str], monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False, mode: str = "auto",
                 save_freq: str | int = "epoch", initial_value_threshold: float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(filepath=os.fspath(filepath), monitor=monitor, verbose=verbose,
                         save_best_only=save_best_only, save_weights_only=save_weights_only, mode=mode,
                         save_freq=save_freq, initial_value_threshold=initial_value_threshold, **kwargs)
        self._logged: dict[str, float] = {}
        self._epoch = 0
        self._run: Any = None

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        super().on_epoch_begin(epoch, logs)
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        super().on_train_batch_end(batch, logs)
        if self.save_freq != "epoch":
            self._log_written(self._epoch, batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        if self.save_freq == "epoch":
            self._log_written(epoch, None, logs)

    @guarded("TrackerModelCheckpoint")
    def _log_written(self, epoch: int, batch: int | None, logs: dict[str, Any] | None) -> None:
        fields = dict(logs or {})
        fields["epoch"] = epoch + 1
        if batch is not None:
            fields["batch"] = batch + 1
        try:
            path = str(self.filepath).format(**fields)
        except (KeyError, IndexError, ValueError):
            return
        try:
            mtime = os.path.getmtime(path)
        except OSError:
            return  # not written this time (save_best_only without an improvement)
        if self._logged.get(path) == mtime:
            return
        if self._run is None:
            self._run = run_or_init()
        metadata = {"epoch": epoch, "original_filename": os.path.basename(path), "monitor": self.monitor,
                    "save_weights_only": bool(self.save_weights_only)}
        if self.monitor in fields:
            metadata["value"] = _float(fields[self.monitor])
        log_model_file(self._run, path, f"model-{self._run.id}", ["latest", f"epoch_{epoch}"], metadata)
        self._logged[path] = mtime


class WandbMetricsLogger(TrackerCallback):
    """W&B's ``WandbMetricsLogger(log_freq="epoch", initial_global_step=0)``: epoch and batch
    metrics (``epoch/*``, ``batch/*``) and the layer tree, nothing saved."""

    def __init__(self, log_freq: str | int = "epoch", initial_global_step: int = 0, *args: Any, **kwargs: Any) -> None:
        super().__init__(log_freq=log_freq, initial_global_step=initial_global_step)


WandbModelCheckpoint = TrackerModelCheckpoint


class WandbCallback(TrackerCallback):
    """W&B's older ``WandbCallback``: each epoch's metrics under their own names with an ``epoch``
    key, ``best_<monitor>`` and ``best_epoch`` in the summary, the model at its best logged at the end
    (``save_model``), the layer tree (``save_graph``), and weight histograms per layer
    (``log_weights``). Its arguments about sample predictions and gradients, which need W&B's
    servers-side processing, are accepted and named once as not used."""

    _USED = ("monitor", "mode", "save_model", "save_graph", "log_weights", "log_best_prefix", "verbose",
             "save_weights_only", "log_batch_frequency")

    def __init__(self, monitor: str = "val_loss", verbose: int = 0, mode: str = "auto", save_weights_only: bool = False,
                 log_weights: bool = False, log_gradients: bool = False, save_model: bool = True,
                 save_graph: bool = True, log_best_prefix: str = "best_", log_batch_frequency: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(log_freq=log_batch_frequency or "epoch", log_model_summary=save_graph,
                         save_model="best" if save_model else False, monitor=monitor, mode=mode)
        self._log_weights = log_weights
        self._prefix = log_best_prefix
        self._unused = sorted(k for k, v in {"log_gradients": log_gradients, **kwargs}.items() if v)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        super().on_train_begin(logs)
        if self._unused:
            report(self.run, "keras-wandbcallback-unused",
                   f"WandbCallback: {', '.join(self._unused)} not used by tracker (training goes on)")

    def _define_metrics(self, run: Any) -> None:
        pass

    @guarded("WandbCallback")
    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.global_step += 1
        if self._every and not self.global_step % self._every:
            self.run.log(dict(logs or {}), commit=True)

    @guarded("WandbCallback")
    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = dict(logs or {})
        data: dict[str, Any] = {"epoch": epoch, **logs}
        if self._log_weights:
            data.update(self._weight_histograms())
        self.run.log(data)
        before = self._best
        self._keep_best(epoch, logs) if self._save_model else self._track_best(epoch, logs)
        if self._best is not None and self._best != before:
            self.run.summary[f"{self._prefix}{self.monitor}"] = self._best
            self.run.summary["best_epoch"] = epoch

    def _track_best(self, epoch: int, logs: dict[str, Any]) -> None:
        value = _float(logs.get(self.monitor)) if self.monitor in logs else None
        if value is not None and (self._best is None or (value > self._best if self._higher else value < self._best)):
            self._best, self._best_epoch = value, epoch

    def _weight_histograms(self) -> dict[str, Any]:
        import numpy as np

        from tracker.media import Histogram

        out = {}
        for layer in getattr(self.model, "layers", []):
            for weight in layer.weights:
                values = np.asarray(weight.numpy()).ravel()
                if values.size:
                    name = getattr(weight, "path", None) or f"{layer.name}/{weight.name}"
                    out[f"parameters/{name}"] = Histogram(values)
        return out

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._best is not None:
            self.run.summary[f"{self._prefix}{self.monitor}"] = self._best
        super().on_train_end(logs)


__all__ = ["TrackerCallback", "TrackerModelCheckpoint", "WandbCallback", "WandbMetricsLogger",
           "WandbModelCheckpoint", "layer_tree", "learning_rate"]
