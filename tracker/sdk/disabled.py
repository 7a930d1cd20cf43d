"""``mode="disabled"``: a run that accepts every call and writes nothing."""

from __future__ import annotations

from tracker.sdk import state as _state
from tracker.sdk.config import Config
from tracker.sdk.summary import Metric, MetricTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class _SummaryDict(dict):  # type: ignore[type-arg]
    def as_dict(self) -> dict[str, Any]:
        return dict(self)


class DisabledRun:
    """Stands in for a :class:`~tracker.sdk.run.Run`; config and summary work in memory only."""

    def __init__(self, project: str, run_id: str, name: str, config: Any = None) -> None:
        self.id = run_id
        self.name = name
        self.project = project
        self.path = f"{project}/{run_id}"
        self.dir = ""
        self.group = None
        self.job_type = None
        self.notes = None
        self.tags: tuple[str, ...] = ()
        self.entity = None
        self.config = Config(config or {})
        self.summary = _SummaryDict()
        self.resumed = False
        self.offline = False
        self.disabled = True
        self.step = 0
        self.state = "disabled"
        self.url = self.project_url = self.sweep_id = self.sweep_url = None
        self._metrics = MetricTable()

    def log(self, data: Any = None, step: int | None = None, commit: bool | None = None) -> None:
        """Accepted and discarded."""

    def define_metric(self, name: str, *args: Any, **kwargs: Any) -> Metric:
        keys = ("step_metric", "step_sync", "hidden", "summary", "goal", "overwrite")
        values = dict(zip(keys, args, strict=False)) | kwargs
        return self._metrics.define(name, *(values.get(k) for k in keys))

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Nothing to write; the run is no longer active, so the next ``init()`` makes a new run."""
        _state.forget(self)

    def finish_as(self, state: str, exit_code: int | None, quiet: bool | None = None) -> None:
        """As :meth:`finish`."""
        _state.forget(self)


    def detach_after_fork(self) -> None:
        """Nothing to detach."""

    def flush(self, durable: bool = True) -> bool:
        return True

    def unwritten_rows(self) -> list[Any]:
        return []

    def mark_preempting(self) -> None:
        """Nothing to mark."""

    def status(self) -> dict[str, Any]:
        return {"state": "disabled"}

    def __enter__(self) -> DisabledRun:
        return self

    def __exit__(self, *exc: Any) -> None:
        _state.forget(self)  # as finish()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)

        def noop(*args: Any, **kwargs: Any) -> None:
            return None

        return noop

    def __repr__(self) -> str:
        return f"<tracker.Run {self.path} (disabled)>"
