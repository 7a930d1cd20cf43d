"""The body of the PyTorch Lightning logger, shared by the ``lightning`` and ``pytorch_lightning``
packages (each has its own ``Logger`` base class, so each gets its own subclass of this one)."""

from __future__ import annotations

import os

from tracker.integrations._common import guarded, log_at, log_model_file, plain_params, report, run_or_init

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

STEP_KEY = "trainer/global_step"


def _rank() -> int:
    """This process's global rank as Lightning sets it (0 outside distributed training)."""
    try:
        from lightning_utilities.core.rank_zero import rank_zero_only
    except ImportError:
        return 0
    rank = getattr(rank_zero_only, "rank", None)
    if isinstance(rank, int):
        return rank
    for var in ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return 0


def _with(settings: Any, **changes: Any) -> Any:
    """``settings`` (a dict, a ``tracker.Settings`` or None) with ``changes``."""
    from tracker.settings import Settings

    if isinstance(settings, Settings):
        return settings.copy(**changes)
    return {**(settings or {}), **changes}


def _world_size() -> int:
    for var in ("WORLD_SIZE", "SLURM_NTASKS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return 1


class _NoRun:
    """What ``experiment`` is on ranks other than 0 when the run's id is not known there: every call
    does nothing."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None

    def __bool__(self) -> bool:
        return False


class TrackerLoggerCore:
    """A Lightning logger writing into a tracker run (see :class:`tracker.integrations.lightning.TrackerLogger`)."""

    LOGGER_JOIN_CHAR = "-"

    def __init__(self, name: str | None = None, save_dir: str | os.PathLike[str] | None = None,
                 version: str | None = None, offline: bool = False, dir: str | os.PathLike[str] | None = None,
                 id: str | None = None, anonymous: bool | None = None, project: str | None = None,
                 log_model: bool | str = False, experiment: Any = None, prefix: str = "",
                 checkpoint_name: str | None = None, **kwargs: Any) -> None:
        super().__init__()
        if log_model not in (True, False, "all"):
            from tracker.errors import UsageError

            raise UsageError(f"TrackerLogger(log_model={log_model!r}): True, False or 'all'")
        del anonymous  # W&B's anonymous mode has no meaning locally
        self._project = project
        self._name = name
        self._id = version or id
        self._save_dir = os.fspath(save_dir) if save_dir is not None else None
        self._store = os.fspath(dir) if dir is not None else None
        self._offline = offline
        self._log_model = log_model
        self._prefix = prefix
        self._checkpoint_name = checkpoint_name
        self._experiment = experiment
        self._init_kwargs = kwargs
        self._checkpoint_callback: Any = None
        self._logged: dict[str, float] = {}  # checkpoint path -> the mtime it was logged at
        self._id_shared = False  # the run id was given to every DDP rank (see save)

    # --- Lightning's logger interface ------------------------------------------------------
    @property
    def experiment(self) -> Any:
        """The tracker run (``tracker.Run``) this logger writes into; started at first use (or
        the current run when one is open). On ranks other than 0 an object that ignores every call."""
        rank = _rank()
        if rank != 0:
            return self._rank_run(rank)
        if self._experiment is None:
            kwargs = dict(self._init_kwargs)
            if self._offline:
                kwargs.setdefault("mode", "offline")
            if _world_size() > 1:  # the other ranks join this run (see _rank_run)
                kwargs["settings"] = _with(kwargs.get("settings"), mode="shared", label="rank_0")
            if self._id is not None:
                kwargs.setdefault("resume", "allow")  # the same id after a restart: the same run
            self._experiment = run_or_init(project=self._project, name=self._name, id=self._id, dir=self._store,
                                           **kwargs)
            self._id = self._experiment.id
            if hasattr(self._experiment, "define_metric"):
                self._experiment.define_metric(STEP_KEY)
                self._experiment.define_metric("*", step_metric=STEP_KEY, step_sync=True)
        return self._experiment

    def _rank_run(self, rank: int) -> Any:
        """On a rank other than 0: when the run's id is known to every rank (``id=`` / ``version=``,
        or ``TRACKER_RUN_ID`` / ``WANDB_RUN_ID`` set for the job), this process joins rank 0's run in
        ``mode="shared"`` with the label ``rank_<r>``: its system metrics and console lines are kept
        in the run beside rank 0's. Its metrics are not logged (rank 0 logs the trainer's)."""
        if self._experiment is not None and not isinstance(self._experiment, _NoRun):
            return self._experiment
        run_id = self._id or os.environ.get("TRACKER_RUN_ID") or os.environ.get("WANDB_RUN_ID")
        if not run_id:
            self._experiment = _NoRun()
            return self._experiment
        from tracker.sdk.init import init

        settings = _with(self._init_kwargs.get("settings"), primary=False, label=f"rank_{rank}", mode="shared")
        kwargs = {k: v for k, v in self._init_kwargs.items() if k not in ("settings", "config", "mode", "resume")}
        self._experiment = init(project=self._project, id=run_id, dir=self._store, settings=settings,
                                reinit="create_new", **kwargs)
        return self._experiment

    @property
    def name(self) -> str | None:
        """The project (Lightning names checkpoint folders ``<save_dir>/<name>/<version>``)."""
        if self._experiment is not None and getattr(self._experiment, "project", None):
            return str(self._experiment.project)
        return self._project or "lightning_logs"

    @property
    def version(self) -> str | None:
        """The run id."""
        if self._experiment is not None and getattr(self._experiment, "id", None):
            return str(self._experiment.id)
        return self._id

    @property
    def save_dir(self) -> str | None:
        return self._save_dir

    @property
    def root_dir(self) -> str | None:
        return self._save_dir

    @property
    def log_dir(self) -> str | None:
        return self._save_dir

    @guarded("TrackerLogger")
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        """Hyperparameters (``save_hyperparameters()``, a dict or a Namespace) into the run's config."""
        if _rank() != 0:
            return
        self.experiment.config.update(plain_params(params), allow_val_change=True)

    @guarded("TrackerLogger")
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Metrics at the trainer's global step (also kept as ``trainer/global_step``)."""
        if _rank() != 0:
            return
        data: dict[str, Any] = {}
        for key, value in metrics.items():
            data[f"{self._prefix}{self.LOGGER_JOIN_CHAR}{key}" if self._prefix else key] = _number(value)
        if step is not None:
            data[STEP_KEY] = step
        log_at(self.experiment, data, step)

    @guarded("TrackerLogger")
    def log_graph(self, model: Any, input_array: Any = None) -> None:
        """The model's module tree with output shapes (the Model tab): watched without histograms,
        with one forward pass of ``input_array`` (default ``model.example_input_array``)."""
        if _rank() != 0:
            return
        run = self.experiment
        run.watch(model, log=None)
        sample = input_array if input_array is not None else getattr(model, "example_input_array", None)
        if sample is None:
            return
        import torch

        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                if isinstance(sample, (list, tuple)):
                    model(*sample)
                elif isinstance(sample, dict):
                    model(**sample)
                else:
                    model(sample)
        finally:
            model.train(was_training)

    def watch(self, model: Any, log: str | None = "gradients", log_freq: int = 100, log_graph: bool = True) -> None:
        """``run.watch``: gradient and/or parameter histograms every ``log_freq`` passes."""
        if _rank() != 0:
            return
        self.experiment.watch(model, log=log, log_freq=log_freq, log_graph=log_graph)

    def save(self) -> None:
        """Lightning calls this on every rank once the process group is set up (after logging the
        hyperparameters): the first time, rank 0 gives its run's id to the other ranks (one
        ``broadcast_object_list``), so that they join the run with their labels even when no id
        was given."""
        super_save = getattr(super(), "save", None)
        if super_save is not None:
            super_save()
        if self._id_shared:
            return
        self._id_shared = True
        if os.environ.get("TRACKER_RUN_ID") or os.environ.get("WANDB_RUN_ID"):
            return  # every rank knows it already
        try:
            import torch.distributed as dist
        except ImportError:
            return
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
            return
        rank = dist.get_rank()
        box = [getattr(self.experiment, "id", None) if rank == 0 else None]
        dist.broadcast_object_list(box, src=0)
        if rank != 0 and box[0]:
            self._id = str(box[0])
            self._rank_run(rank)

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        """Checkpoints as model artifacts: every one at once with ``log_model="all"`` (or when the
        callback keeps them all), else the ones left at the end of training (``finalize``)."""
        if _rank() != 0:
            return
        if self._log_model == "all" or (self._log_model is True and getattr(checkpoint_callback, "save_top_k", 1) == -1):
            self._log_checkpoints(checkpoint_callback)
        elif self._log_model is True:
            self._checkpoint_callback = checkpoint_callback

    def finalize(self, status: str) -> None:
        """At the end of fit/validate/test: the checkpoints left to log, and the run flushed (it
        stays open for a later ``trainer.test``; ``tracker.finish()`` or the process's exit ends it)."""
        if _rank() != 0 or self._experiment is None:
            return
        if status == "success" and self._checkpoint_callback is not None:
            self._log_checkpoints(self._checkpoint_callback)
        flush = getattr(self._experiment, "flush", None)
        if flush is not None:
            flush()

    # --- W&B's WandbLogger extras ---------------------------------------------------------------
    def log_table(self, key: str, columns: list[str] | None = None, data: list[list[Any]] | None = None,
                  dataframe: Any = None, step: int | None = None) -> None:
        from tracker.media import Table

        self._log_media({key: Table(columns=columns, data=data, dataframe=dataframe)}, step)

    def log_text(self, key: str, columns: list[str] | None = None, data: list[list[Any]] | None = None,
                 dataframe: Any = None, step: int | None = None) -> None:
        self.log_table(key, columns, data, dataframe, step)

    def log_image(self, key: str, images: list[Any], step: int | None = None, **kwargs: Any) -> None:
        self._log_media({key: _media_list("Image", images, kwargs)}, step)

    def log_audio(self, key: str, audios: list[Any], step: int | None = None, **kwargs: Any) -> None:
        self._log_media({key: _media_list("Audio", audios, kwargs)}, step)

    def log_video(self, key: str, videos: list[Any], step: int | None = None, **kwargs: Any) -> None:
        self._log_media({key: _media_list("Video", videos, kwargs)}, step)

    def use_artifact(self, artifact: str, artifact_type: str | None = None) -> Any:
        return self.experiment.use_artifact(artifact, type=artifact_type)

    @guarded("TrackerLogger")
    def _log_media(self, data: dict[str, Any], step: int | None) -> None:
        if _rank() != 0:
            return
        if step is not None:
            data[STEP_KEY] = step
        log_at(self.experiment, data, step)

    @guarded("TrackerLogger")
    def _log_checkpoints(self, callback: Any) -> None:
        run = self.experiment
        paths: dict[str, Any] = {}
        for path, score in (getattr(callback, "best_k_models", None) or {}).items():
            paths[path] = score
        for attr in ("last_model_path", "best_model_path"):
            path = getattr(callback, attr, None)
            if path:
                paths.setdefault(path, None)
        found = []
        for path, score in paths.items():
            try:
                mtime = os.path.getmtime(path)
            except OSError:
                continue
            if self._logged.get(path) != mtime:
                found.append((mtime, path, score))
        best = getattr(callback, "best_model_path", None)
        name = self._checkpoint_name or f"model-{run.id}"
        for mtime, path, score in sorted(found):
            metadata = {"original_filename": os.path.basename(path), "score": _number(score)}
            for attr in ("monitor", "mode", "save_last", "save_top_k", "save_weights_only"):
                value = getattr(callback, attr, None)
                if isinstance(value, (str, int, float, bool)) or value is None:
                    metadata[attr] = value
            aliases = ["latest", "best"] if best and os.path.abspath(path) == os.path.abspath(best) else ["latest"]
            log_model_file(run, path, name, aliases, metadata)
            self._logged[path] = mtime

    # --- pickling (spawned DDP workers get the run id, not the run) ------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if self._experiment is not None:
            state["_id"] = getattr(self._experiment, "id", self._id)
        state["_experiment"] = None
        return state


def _number(value: Any) -> Any:
    if hasattr(value, "item"):
        try:
            return value.item()
        except (ValueError, RuntimeError):
            return value
    return value


def _media_list(kind: str, items: list[Any], kwargs: dict[str, Any]) -> list[Any]:
    import tracker.media as media

    cls = getattr(media, kind)
    if not isinstance(items, list):
        report(None, "lightning-media", f"log_{kind.lower()} takes a list; got {type(items).__name__}")
        items = [items]
    per_item = {k: v for k, v in kwargs.items() if isinstance(v, list) and len(v) == len(items)}
    out = []
    for i, item in enumerate(items):
        out.append(cls(item, **{k: v[i] for k, v in per_item.items()}))
    return out
