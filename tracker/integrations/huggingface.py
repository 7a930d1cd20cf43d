"""Hugging Face ``Trainer``: :class:`TrackerCallback`, a ``transformers.TrainerCallback``.

::

    from transformers import Trainer
    from tracker.integrations.huggingface import TrackerCallback

    trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=val,
                      callbacks=[TrackerCallback(log_model="end")])
    trainer.train()

- ``TrainingArguments`` and the model's config go into the run's config (with
  ``model/num_parameters``);
- every ``on_log`` becomes ``train/<name>``, ``eval/<name>`` (``eval_*``) or ``test/<name>``
  (``test_*``) at the trainer's ``global_step``, also kept as ``train/global_step``, which every
  metric is defined to plot against (``define_metric``); the end-of-training figures
  (``train_runtime``, ``total_flos``, ...) go into the summary;
- ``log_model="end"`` logs the final model (and its tokenizer / processor) as the
  ``model-<run id>`` artifact, ``"checkpoint"`` also each checkpoint folder the trainer saves
  (``checkpoint-<run id>``, aliases ``latest`` and ``checkpoint_global_step_<n>``); the default
  comes from ``TRACKER_LOG_MODEL`` or W&B's ``WANDB_LOG_MODEL``;
- the run is the current one, or one started in ``TRACKER_PROJECT`` / ``WANDB_PROJECT``
  (default ``huggingface``) named after ``args.run_name``. Only the main process logs.

``WandbCallback`` is the same class under W&B's name.
"""

from __future__ import annotations

import os
import tempfile

from tracker.integrations._common import guarded, log_at, log_model_file, plain_params, require, run_or_init

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_transformers = require("transformers", "huggingface", "tracker.integrations.huggingface.TrackerCallback")

STEP_KEY = "train/global_step"
#: what the trainer logs once, at the end of training: kept in the summary, not as a history point
SINGLE_VALUES = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss", "total_flos")
LOG_MODEL_CHOICES = ("end", "checkpoint", "false")


def rewrite_logs(logs: dict[str, Any]) -> dict[str, Any]:
    """``eval_x`` -> ``eval/x``, ``test_x`` -> ``test/x``, anything else ``train/x``."""
    out = {}
    for key, value in logs.items():
        if key.startswith("eval_"):
            out[f"eval/{key[5:]}"] = value
        elif key.startswith("test_"):
            out[f"test/{key[5:]}"] = value
        else:
            out[f"train/{key}"] = value
    return out


def _log_model_setting(value: str | bool | None) -> str:
    if value is None:
        value = os.environ.get("TRACKER_LOG_MODEL", os.environ.get("WANDB_LOG_MODEL", "false"))
    if value is True:
        return "end"
    if value is False:
        return "false"
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):  # W&B's older spelling
        return "end"
    if text in ("", "0", "no", "none"):
        return "false"
    if text not in LOG_MODEL_CHOICES:
        from tracker.errors import UsageError

        raise UsageError(f"log_model={value!r}: one of {LOG_MODEL_CHOICES}")
    return text


class TrackerCallback(_transformers.TrainerCallback):  # type: ignore[misc, name-defined]
    """Logs a Hugging Face ``Trainer``'s run into tracker: see the module's documentation.

    Args:
        project: the project of a run started by the callback (when none is current).
        log_model: ``"end"``, ``"checkpoint"`` or ``"false"``; default from ``TRACKER_LOG_MODEL``
            or ``WANDB_LOG_MODEL``.
        init_kwargs: more arguments for ``tracker.init`` when the callback starts the run.
    """

    def __init__(self, project: str | None = None, log_model: str | bool | None = None,
                 **init_kwargs: Any) -> None:
        self._project = project
        self._log_model = _log_model_setting(log_model)
        self._init_kwargs = init_kwargs
        self._run: Any = None

    def setup(self, args: Any, state: Any, model: Any) -> None:
        """Start (or take) the run and record the configuration; called once, on the main process."""
        project = self._project or os.environ.get("TRACKER_PROJECT") or os.environ.get("WANDB_PROJECT") or "huggingface"
        name = getattr(args, "run_name", None)
        if name and name == getattr(args, "output_dir", None):
            name = None  # the trainer's default run name is its output folder: a generated name is better
        self._run = run_or_init(project=project, name=name, **self._init_kwargs)
        run = self._run
        config = plain_params(args)
        model_config = getattr(model, "config", None)
        if model_config is not None:
            config = {**plain_params(model_config), **config}
        if hasattr(model, "num_parameters"):
            try:
                config["model/num_parameters"] = int(model.num_parameters())
            except Exception:  # noqa: BLE001 - an odd model only loses this one figure
                pass
        run.config.update(config, allow_val_change=True)
        run.define_metric(STEP_KEY)
        run.define_metric("*", step_metric=STEP_KEY, step_sync=True)

    @guarded("TrackerCallback")
    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if state.is_world_process_zero and self._run is None:
            self.setup(args, state, model)

    @guarded("TrackerCallback")
    def on_log(self, args: Any, state: Any, control: Any, model: Any = None, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        if self._run is None:
            self.setup(args, state, model)
        run = self._run
        single = {k: v for k, v in logs.items() if k in SINGLE_VALUES}
        if single and set(logs) <= set(SINGLE_VALUES) | {"epoch", "total_flos"}:
            for key, value in single.items():
                run.summary[key] = value
            return
        data = rewrite_logs(logs)
        data[STEP_KEY] = state.global_step
        log_at(run, data, state.global_step)

    @guarded("TrackerCallback")
    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._log_model != "checkpoint" or not state.is_world_process_zero or self._run is None:
            return
        folder = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        if not os.path.isdir(folder):
            return
        metadata = {"global_step": state.global_step, "epoch": state.epoch}
        if state.best_metric is not None:
            metadata["best_metric"] = state.best_metric
        log_model_file(self._run, folder, f"checkpoint-{self._run.id}",
                       ["latest", f"checkpoint_global_step_{state.global_step}"], metadata)

    @guarded("TrackerCallback")
    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or self._run is None:
            return
        run = self._run
        if state.best_metric is not None:
            run.summary["best_metric"] = state.best_metric
        if state.best_model_checkpoint:
            run.summary["best_model_checkpoint"] = state.best_model_checkpoint
        if self._log_model in ("end", "checkpoint") and model is not None and hasattr(model, "save_pretrained"):
            processor = kwargs.get("processing_class") or kwargs.get("tokenizer")
            with tempfile.TemporaryDirectory(prefix="tracker-hf-model-") as folder:
                model.save_pretrained(folder)
                if processor is not None and hasattr(processor, "save_pretrained"):
                    processor.save_pretrained(folder)
                metadata = {"global_step": state.global_step, "epoch": state.epoch,
                            "model_type": type(model).__name__}
                if state.best_metric is not None:
                    metadata["best_metric"] = state.best_metric
                log_model_file(run, folder, f"model-{run.id}", ["latest", "end"], metadata)
        run.flush()


WandbCallback = TrackerCallback

__all__ = ["TrackerCallback", "WandbCallback", "rewrite_logs"]
