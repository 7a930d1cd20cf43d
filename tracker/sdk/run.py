"""The write-side ``Run``: what ``tracker.init`` returns.

``log`` semantics follow W&B: each call is one step unless ``commit=False`` (then values gather
into the current step) or an explicit ``step`` is given (values gather until a later step arrives).
A step below the current one is dropped with a warning. The common calls (a flat dict of numbers
and strings, with no ``step`` or an int ``step`` not below the current one, ``commit`` a bool or
unset) take a fast path that only appends to the writer's deque, or gathers into the pending row.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Mapping

from tracker._report import Reporter
from tracker.convert import (
    PASS_THROUGH,
    PLAIN_TYPES,
    check_tags,
    describe_exception,
    safe_repr,
    to_jsonable,
    type_name,
)
from tracker.errors import UsageError
from tracker.sdk import state as _state
from tracker.sdk.config import Config
from tracker.sdk.run_config_groups import ConfigGroups
from tracker.sdk.run_files import FilesAndArtifacts
from tracker.sdk.summary import MetricTable, Summary
from tracker.sdk.values import flatten_row
from tracker.store import layout
from tracker.store.states import is_live
from tracker.store.writer import RunWriter
from tracker.version import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from tracker.sdk.summary import Metric
    from tracker.settings import Settings
    from tracker.store.layout import RunPaths

_PLAIN = PLAIN_TYPES
_now = time.time

#: Rows queued before the logging thread converts them itself: a loop that logs faster than the
#: writer thread keeps up must not grow memory without bound (a row of 10 values is ~1 KB of
#: Python objects and ~0.3 KB as columns).
_QUEUE_LIMIT = 5_000
#: Keys the fast path remembers as plain ASCII strs (it forgets them all past this many).
_KNOWN_KEYS = 100_000
#: Steps are int64 in the store: a step at or beyond this is refused (with a warning).
_MAX_STEP = 2**62


class Run:
    """A run being written by this process.

    Create it with :func:`tracker.init`; use it as a context manager to finish it (an exception
    in the block marks it ``failed``, ``KeyboardInterrupt`` marks it ``killed``).

    Artifacts and saved files are handled by a :class:`~tracker.sdk.run_files.FilesAndArtifacts`,
    ClearML-style configuration by a :class:`~tracker.sdk.run_config_groups.ConfigGroups`: the
    run's methods of the same names delegate to them.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        paths: RunPaths,
        record: dict[str, Any],
        resumed: bool,
        start_step: int,
        summary_state: dict[str, Any] | None,
        problems: list[tuple[tuple[Any, ...], str]] | None = None,
        attached: bool = False,
    ) -> None:
        """Made by :func:`tracker.init`; ``problems`` (``(kind, message)``, found while making
        ``record``) are reported once the run exists. ``attached``: a non-primary process of a
        ``mode="shared"`` run: it writes its own segments, media and files, never run.json,
        status.json or the summary (the primary process owns them)."""
        self._settings = settings
        self._attached = attached
        self._max_text = settings.max_text_bytes
        self._plain_keys: set[str] = set()  # keys the fast path has found to be plain ASCII strs
        self._paths = paths
        self._record = record
        self._resumed = resumed
        self._reporter = Reporter(settings.strict, f"run {record['id']}")
        self._reporter.on_pending = self._leave_fast_path
        self._start_time = _now()
        self._clock: float | None = None  # the source's wall time while import_row logs a row
        self._open_end: float | None = None  # an imported run that never ended: its last record's time
        self._state = "running"
        self._exit_code: int | None = None
        self._exception: dict[str, str] | None = None  # what the run failed with (record_exception)
        self._finished_at: float | None = None
        self._owner_pid = os.getpid()
        self._lock = threading.RLock()
        self._metrics = MetricTable()
        self._metrics.load(record.get("metrics") or [])
        self._writer = RunWriter(
            paths,
            flush_interval=settings.flush_interval,
            fanin=settings.compaction_fanin,
            max_buffered_points=settings.max_buffered_points,
            reporter=self._reporter,
            side_files=self._write_side_files,
            shared=settings.mode == "shared",
        )
        scalars = self._writer.streams["scalars"]
        self._queue = scalars.queue
        self._append = scalars.queue.append
        self._summary = Summary(self._metrics, scalars.last, self._writer.drain, self._problem)
        scalars.on_batch = self._summary.on_batch
        if summary_state:
            self._summary.restore(summary_state)
        self._config = Config(
            record.get("config") or {},
            allow_val_change=settings.allow_val_change,
            on_change=self._config_changed,
            problem=self._problem,
        )
        self._config.groups.update({k: list(v) for k, v in (record.get("config_groups") or {}).items()})
        self._files = FilesAndArtifacts(
            paths=paths, record=record, write_record=self._write_record, reporter=self._reporter,
            step=self._history_step, ignore_globs=settings.ignore_globs,
        )
        self._config_groups = ConfigGroups(
            paths=paths, record=record, config=self._config, write_record=self._write_record,
            problem=self._problem,
        )
        self._step = start_step
        self._alerts: Any = None
        self._watched: list[Any] = []
        if resumed and os.path.exists(paths.alerts_file):
            self._alert_log()  # the earlier sessions' alerts stay counted in status.json
        self._pending: dict[str, Any] | None = None
        self._sync_last: dict[str, Any] = {}
        self._sync_pairs = self._metrics.sync_pairs()
        self._status_written = 0.0
        self._status_step = -1
        self._summary_written = -1
        self._fast = not self._sync_pairs
        self._record_written = attached  # an attached process never writes run.json
        self._media: Any = None  # tracker.media.base.MediaEncoder, made at the first media logged
        self._context: Any = None  # tracker.context.RunContext: init() starts it (start_context)
        self._trees = 0  # model trees recorded by log_model_tree
        self._uploader: Any = None  # tracker.store.spool.Uploader: an s3:// store (publish_with)
        self._write_record()
        self._try_write_status(durable=False)
        for kind, message in problems or ():
            self._reporter.problem(kind, message, stacklevel=5)  # attributed to tracker.init, as before

    # --- identity -------------------------------------------------------------------------
    @property
    def id(self) -> str:
        """The run's unique id."""
        return self._record["id"]

    @property
    def name(self) -> str:
        """The run's display name (settable)."""
        return self._record["name"]

    @name.setter
    def name(self, value: str) -> None:
        self._record["name"] = str(value)
        self._write_record()

    @property
    def project(self) -> str:
        return self._record["project"]

    @property
    def entity(self) -> str | None:
        return self._record.get("entity")

    @property
    def path(self) -> str:
        """``project/run_id``: what ``tracker.Api().run(...)`` takes."""
        return f"{self.project}/{self.id}"

    @property
    def dir(self) -> str:
        """The run's folder in the store."""
        return str(self._paths.dir)

    @property
    def group(self) -> str | None:
        return self._record.get("group")

    @property
    def job_type(self) -> str | None:
        return self._record.get("job_type")

    @property
    def notes(self) -> str | None:
        """Free-text notes (settable; Markdown is fine)."""
        return self._record.get("notes")

    @notes.setter
    def notes(self, value: str | None) -> None:
        self._record["notes"] = None if value is None else str(value)
        self._write_record()

    @property
    def tags(self) -> tuple[str, ...]:
        """The run's tags (settable with any iterable of strings)."""
        return tuple(self._record.get("tags") or ())

    @tags.setter
    def tags(self, value: Any) -> None:
        self._record["tags"] = check_tags(value)
        self._write_record()

    @property
    def config(self) -> Config:
        return self._config

    @property
    def summary(self) -> Summary:
        return self._summary

    @property
    def settings(self) -> Settings:
        """A copy of the settings this run was made with."""
        return self._settings.copy()

    @property
    def start_time(self) -> float:
        """Unix time when this process started (or resumed) the run."""
        return self._start_time

    @property
    def primary(self) -> bool:
        """False in a process that adds to a ``mode="shared"`` run started by another process."""
        return not self._attached

    @property
    def resumed(self) -> bool:
        return self._resumed

    @property
    def offline(self) -> bool:
        return self._settings.mode == "offline"

    @property
    def disabled(self) -> bool:
        return False

    @property
    def step(self) -> int:
        """The step the next committed row gets."""
        return self._step

    @property
    def state(self) -> str:
        """``running``, ``finished``, ``failed``, ``killed`` or ``preempting``."""
        return self._state

    url = None
    project_url = None
    sweep_id = None
    sweep_url = None

    def __repr__(self) -> str:
        return f"<tracker.Run {self.path} name={self.name!r} state={self._state}>"

    # --- logging --------------------------------------------------------------------------
    def log(self, data: Mapping[str, Any] | None = None, step: int | None = None, commit: bool | None = None) -> None:
        """Log a dict of values to the run's history.

        Args:
            data: ``{key: value}``; nested dicts become ``a/b`` keys. Values: numbers, bools,
                strings, None, numpy scalars and arrays, 0-d tensors, lists, media objects.
                None (W&B's ``wandb.log()``) is ``{}``: it commits the step being gathered (an
                empty step when nothing is gathered, as in W&B).
            step: the step to log at; must not be below the current step. Values for one step
                gather until a later step arrives (or ``commit=True``).
            commit: False gathers values into the current step without ending it. Defaults to
                True without ``step`` and False with it.
        """
        if self._fast and data.__class__ is dict:
            limit = self._max_text
            known = self._plain_keys
            for k, v in data.items():
                c = v.__class__
                if c is not float:
                    if c not in _PLAIN or (c is str and (len(v) > limit or not v.isascii())):
                        break  # not plain, or text the general path must check (long, lone surrogates)
                if k not in known:  # a key seen before is a plain ASCII str: one set lookup
                    if k.__class__ is not str or not k.isascii():
                        break
                    if len(known) >= _KNOWN_KEYS:  # keys made afresh each call (f"loss_{step}")
                        known.clear()
                    known.add(k)
            else:
                if "_step" not in data and "_runtime" not in data and "_timestamp" not in data:
                    # the general path's semantics (see _log_checked), for what training loops pass:
                    # no step (each call a step), or an int step not below the current one
                    pending = self._pending
                    if step is None:
                        if commit is None or commit is True:
                            if pending is None:
                                pending = data.copy()
                            else:
                                pending.update(data)
                                self._pending = None
                            self._append((self._step, _now(), pending))
                            self._step += 1
                            if len(self._queue) > _QUEUE_LIMIT:
                                self._writer.relieve()  # backpressure: rows as columns take ~5x less memory
                            return
                    elif step.__class__ is int and step >= self._step and (commit is None or commit.__class__ is bool):
                        if step > self._step:
                            if pending is not None:  # a later step ends the one gathered so far
                                self._append((self._step, _now(), pending))
                            self._step = step
                            pending = None
                        if pending is None:
                            pending = self._pending = data.copy()
                        else:
                            pending.update(data)
                        if commit:
                            self._pending = None
                            self._append((self._step, _now(), pending))
                            self._step += 1
                        if len(self._queue) > _QUEUE_LIMIT:
                            self._writer.relieve()
                        return
        self._log_general(data, step, commit)

    def _log_general(self, data: Any, step: Any, commit: Any) -> None:
        with self._lock:
            self._reporter.raise_pending()
            try:
                self._log_checked(data, step, commit)
            except PASS_THROUGH:
                raise
            except Exception as exc:  # noqa: BLE001 - not even a tracker bug may stop training
                self._problem(
                    ("log-internal", type_name(exc)),
                    f"log() failed with an internal error ({describe_exception(exc)}): the values of "
                    "this call were dropped; please report it",
                )

    def _log_checked(self, data: Any, step: Any, commit: Any) -> None:
        if not is_live(self._state):
            self._problem(
                ("log-after-finish",),
                f"log() called after the run ended ({self._state}): values for {_first_keys(data)} "
                "were dropped; start a new run with tracker.init()",
            )
            return
        if os.getpid() != self._owner_pid:
            self._problem(
                ("forked",),
                f"log() called in process {os.getpid()}, a fork of the process that owns this "
                "run: values were dropped; call tracker.init() in the child process",
            )
            return
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            self._problem(
                ("data-type", type_name(data)),
                f"log() takes a dict of key -> value, got a {type_name(data)}: nothing was logged",
            )
            return
        if step is not None:
            step = self._check_step(step)
        if commit is not None and not isinstance(commit, bool):
            commit = self._check_commit(commit)
        target = self._step if step is None or step < self._step else step
        media: list[tuple[Any, str, dict[str, Any]]] = []  # handed over once the row is kept
        row = flatten_row(data, self._settings.max_text_bytes, self._problem,
                          lambda obj, key: self._store_media(obj, key, target, media))
        if data and not row:  # every value was dropped (each said why): no step is spent on nothing
            return
        if step is not None and step < self._step:
            self._problem(
                ("past-step",),
                f"step {step} is below the current step {self._step}: values for "
                f"{sorted(row)[:5]} were dropped (steps only increase; log without step= "
                "to use the current step)",
            )
            return
        self._submit_media(media, target)
        if step is not None:
            if step > self._step:
                self._commit_pending()
                self._step = step
            self._merge(row)
            if commit:
                self._commit_pending()
        else:
            self._merge(row)
            if commit is None or commit:
                self._commit_pending()
        self._fast = not self._sync_pairs

    def _store_media(self, obj: Any, key: str, step: int, jobs: list[Any]) -> str:
        """Check and copy a media object (or a list of them) now, for the media thread to encode.

        Returns the JSON reference kept in the history, and adds the encoding jobs to ``jobs``
        (:meth:`_submit_media` hands them over once the row is kept). Raises ``Unsupported`` (the
        key is then left out, with a warning naming type and shape) for input that cannot be
        stored; ``jobs`` is then as it was, so a bad gallery, or a table with a bad cell, leaves
        nothing behind.
        """
        from tracker.convert import Unsupported, is_text
        from tracker.media.base import MediaError, prepare, with_stored_cells

        queued: list[tuple[Any, str, dict[str, Any]]] = []
        gallery = isinstance(obj, (list, tuple))
        try:
            items = list(obj) if gallery else [obj]
            items = [  # media inside table cells are stored on their own, under key/cells
                with_stored_cells(item, lambda m: _json_ref(self._store_media(m, f"{key}/cells", step, queued)))
                for item in items
            ]
            prepared = [prepare(item) for item in items]
        except MediaError as exc:
            raise Unsupported(str(exc)) from None
        refs = []
        for index, prep in enumerate(prepared):
            record = {"_type": prep.kind, "id": os.urandom(8).hex(), **prep.meta}
            if len(items) > 1:
                record["index"] = index
            queued.append((prep, key, record))
            refs.append(record)
        try:
            text = layout.dumps(refs if gallery else refs[0])
        except (TypeError, ValueError, RecursionError) as exc:
            raise Unsupported(f"its facts have no JSON form ({describe_exception(exc)})") from None
        if not is_text(text):
            raise Unsupported("its facts (a caption, a column name, ...) hold lone surrogates, not valid Unicode text")
        jobs.extend(queued)  # the cells' jobs come first: they were queued by the calls above
        return text

    def _submit_media(self, jobs: list[tuple[Any, str, dict[str, Any]]], step: int) -> None:
        """Hand checked media (from :meth:`_store_media`) to the media thread for encoding."""
        if not jobs:
            return
        from tracker.media.base import MediaEncoder

        if self._media is None:
            self._media = MediaEncoder(
                self._paths.dir, self._writer.queue("media").append,
                lambda kind, msg: self._reporter.background_problem(kind, msg),
            )
        now = _now() if self._clock is None else self._clock
        for prep, key, record in jobs:
            self._media.submit(prep, key, step, now, record)

    def _leave_fast_path(self) -> None:
        self._fast = False

    def _check_step(self, step: Any) -> int | None:
        value: int | None = None
        try:
            if isinstance(step, bool):
                pass
            elif isinstance(step, int) or hasattr(type(step), "__index__"):
                import operator

                value = int.__int__(operator.index(step))
            elif isinstance(step, float) and step.is_integer():
                value = int(step)
        except Exception:  # noqa: BLE001 - a user's __index__ may raise anything: not a step then
            value = None
        if value is None or not 0 <= value < _MAX_STEP:
            self._problem(
                ("step-type", type_name(step)),
                f"step={safe_repr(step)} ({type_name(step)}) is not a non-negative integer (below 2**62): "
                "the values were logged at the current step instead",
            )
            return None
        return value

    def _check_commit(self, commit: Any) -> bool | None:
        try:
            return bool(commit)
        except Exception as exc:  # noqa: BLE001 - a user's __bool__ may raise anything
            self._problem(
                ("commit-type", type_name(commit)),
                f"commit={safe_repr(commit)} ({type_name(commit)}) has no truth value "
                f"({describe_exception(exc)}): the default was used",
            )
            return None

    def _merge(self, row: dict[str, Any]) -> None:
        if self._pending is None:
            self._pending = row
        else:
            self._pending.update(row)

    def _commit_pending(self) -> None:
        row = self._pending
        if row is None:
            return
        self._pending = None
        if self._sync_pairs:
            for _, step_key in self._sync_pairs:
                if step_key in row:
                    self._sync_last[step_key] = row[step_key]
            for metric, step_key in self._sync_pairs:
                if step_key not in row and step_key in self._sync_last:
                    if any(k == metric.name or self._metrics.resolve(k) is metric for k in row):
                        row[step_key] = self._sync_last[step_key]
        self._append((self._step, _now() if self._clock is None else self._clock, row))
        self._step += 1
        if len(self._queue) > _QUEUE_LIMIT:
            self._writer.relieve()

    def define_metric(
        self,
        name: str,
        step_metric: str | Metric | None = None,
        step_sync: bool | None = None,
        hidden: bool | None = None,
        summary: str | None = None,
        goal: str | None = None,
        overwrite: bool | None = None,
    ) -> Metric:
        """Customise how a metric (or every metric matching a glob like ``train/*``) is treated.

        Args:
            name: the key, or a glob.
            step_metric: another key that is this metric's x-axis in charts and ``history``.
            step_sync: insert the step metric's last value into rows that lack it (default True
                when ``step_metric`` is given).
            hidden: hide the metric from automatic charts.
            summary: ``min``, ``max``, ``mean``, ``first``, ``last``, ``none`` or several joined
                by commas; ``best`` with ``goal``.
            goal: ``minimize`` or ``maximize``.
            overwrite: replace an earlier definition instead of merging into it.

        Returns:
            The recorded :class:`~tracker.sdk.summary.Metric`.

        Raises:
            UsageError: an argument is not what is described above (a name that is not a
                non-empty string, an unknown summary or goal, a flag that is not a bool, text that
                is not valid Unicode); nothing is recorded then.
        """
        with self._lock:
            self._writer.drain()
            metric = self._metrics.define(name, step_metric, step_sync, hidden, summary, goal, overwrite)
            self._sync_pairs = self._metrics.sync_pairs()
            self._fast = not self._sync_pairs
            self._record["metrics"] = self._metrics.to_json()
            self._write_record()
            problems = self._summary.seed()
            self._summary.version += 1
        for kind, message in problems:  # reported once the definition is in place (strict raises here)
            self._problem(kind, message)
        return metric

    # --- durability and ending ---------------------------------------------------------------
    def unwritten_rows(self) -> list[tuple[int, float, dict[str, Any]]]:
        """The committed rows not yet handed to the writer: ``(step, time, {key: value})``, oldest
        first (a copy). A page of this process's own run draws them before they reach the store."""
        return list(self._queue.copy())  # deque.copy() runs in C under the GIL: a consistent snapshot

    def flush(self, durable: bool = True) -> bool:
        """Write every committed row now and sync it to disk.

        Args:
            durable: wait for the disk (fsync). False: written to the store now, where readers see
                it, without the wait (a power cut may still lose it; a crash of this process not).

        Returns:
            False when the store could not be written (a warning says why).
        """
        self._reporter.raise_pending()
        ok = self._writer.flush(durable=durable)
        self._reporter.raise_pending()
        return ok

    def display(self, height: int = 420, hidden: bool = False) -> Any:
        """Show this run's page below the cell: Overview, Charts, System, Logs, Files, Artifacts,
        Execution and Media, updating live (from a background thread, so a busy cell does not
        hold it back) until the run finishes. Returns the :class:`~tracker.ui.panel.RunPanel`;
        ``hidden=True`` builds it without showing it."""
        from tracker.ui.entry import render

        self.flush()  # what was logged so far shows at once
        try:
            return render(self, "display", height=height, hidden=hidden)
        except Exception as exc:  # noqa: BLE001 - a page that cannot show never stops the training cell
            self._problem(("display",), f"the run page could not be shown ({type(exc).__name__}: {exc}); "
                                        "the run goes on")
            return None

    def _ipython_display_(self) -> None:
        from tracker.ui.entry import render

        render(self, "ipython")

    def to_html(self, height: int = 420, hidden: bool = False) -> str:
        """This run's overview as static HTML, as of now (W&B's ``to_html``; see
        :meth:`tracker.api.public.Run.to_html`)."""
        if hidden:
            return ""
        from tracker.ui.entry import render

        self.flush()
        html = str(render(self, "html"))
        return f"<div class='tracker-run-html' style='max-height:{int(height)}px;overflow:auto'>{html}</div>"

    @property
    def config_static(self) -> Any:
        """A read-only copy of the config as it is now, by attribute or key (W&B's
        ``run.config_static``): ``run.config_static.lr``."""
        from tracker.sdk.config import ConfigStatic

        return ConfigStatic(self._config.as_dict())

    def mark_preempting(self) -> None:
        """Mark the run as about to be preempted (reads as ``preempted`` once its process is gone)."""
        with self._lock:
            if self._state == "running":
                self._state = "preempting"
                self._try_write_status(durable=False)

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """End the run: write everything, merge its segments, and set its final state.

        Args:
            exit_code: 0 or None marks the run ``finished``; anything else ``failed``.
            quiet: no closing message.
        """
        state = "finished" if not exit_code else "failed"
        self.finish_as(state, exit_code if exit_code is not None else 0, quiet)

    def record_exception(self, exc: BaseException, tb: Any = None) -> None:
        """Record the exception this run fails with: its type, message and formatted traceback
        (the last 200 lines, at most 64 KB) go into ``status.json`` when the run ends ``failed``
        or ``killed`` (read back as ``Api().run(path).exception``). The ``with`` block and the
        uncaught-exception hook call it before ending the run. Never raises; a run that already
        ended keeps what it has.

        Args:
            exc: the exception.
            tb: its traceback (default ``exc.__traceback__``).
        """
        try:
            if not is_live(self._state) or os.getpid() != self._owner_pid:
                return
            self._exception = failure_record(exc, tb)
        except Exception:  # noqa: BLE001 - tracking never stops the program it tracks
            pass

    def finish_as(self, state: str, exit_code: int | None, quiet: bool | None = None,
                  ended_at: float | None = None) -> None:
        """End the run in a given final state: what ``finish`` and the process's exit hooks
        (normal exit, an uncaught exception, SIGTERM) call. A run that already ended, or one
        inherited by a forked child, is left as it is.

        Args:
            state: ``finished``, ``failed`` or ``killed``.
            exit_code: the process's exit code, kept in ``status.json`` (with the exception given
                to :meth:`record_exception`, unless the state is ``finished``).
            quiet: no closing message (default: the ``quiet`` setting).
            ended_at: when it ended (Unix seconds; default now): an imported run's own end.
        """
        with self._lock:
            if not is_live(self._state):
                return
            if os.getpid() != self._owner_pid:
                return  # a forked child must not finish its parent's run
            self._commit_pending()
            self._state = state
            self._exit_code = exit_code
            if state == "finished":
                self._exception = None
            self._finished_at = _now() if ended_at is None else float(ended_at)
            self._fast = False
        self.unwatch()  # no hook of a watched model calls into an ended run
        self._files.sync_saved()  # "end" and "live" files, as they are now
        if self._media is not None:
            self._media.close()  # every logged media object encoded and indexed
        if self._context is not None:
            self._context.stop()  # last system sample and console lines go out with the final flush
        self._writer.close()
        self._try_write_status(durable=True)
        if self._uploader is not None:
            self._finish_upload()
        _state.forget(self)
        for line in self._reporter.repeats_summary():
            self._reporter.background_problem(("repeat", line), line)
        if not (quiet if quiet is not None else self._settings.quiet):
            print(
                f"tracker: run {self.name} ({self.path}) {state} after {self._step} steps; "
                f"stored in {self._uploader.bucket.uri + '/' + self.path if self._uploader is not None else self.dir}",
                file=sys.stderr,
            )
        self._reporter.raise_pending()

    def _finish_upload(self) -> None:
        """The last upload of an ``s3://`` run, in the foreground for up to ``upload_timeout`` s."""
        up = self._uploader
        if not up.started:  # no client: nothing was uploaded
            self._reporter.background_problem(("upload", "finish"), (
                f"the run was not uploaded to {up.bucket.uri}; it is kept in {up.spool}: `tracker sync` uploads it"))
            return
        try:
            if up.close(timeout=self._settings.upload_timeout):
                return
            left = len(up.pending())
            self._reporter.background_problem(("upload", "finish"), (
                f"{left} file(s) of the run could not be uploaded to {up.bucket.uri} within "
                f"{self._settings.upload_timeout:g} s (upload_timeout; last error: {up.last_error}); they are kept in "
                f"{up.spool}: `tracker sync` uploads them (so does the next init on this host)"))
        except Exception as exc:  # noqa: BLE001 - tracking never stops the program it tracks
            self._reporter.background_problem(("upload", "finish"), f"the last upload failed: {exc!r}")

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.finish()
        elif issubclass(exc_type, KeyboardInterrupt):
            self.finish_as("killed", 255)
        elif issubclass(exc_type, SystemExit):
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            self.finish(code)
        else:  # the exception is recorded, and it leaves the block: never swallowed
            self.record_exception(exc, tb)
            self._console_failure()
            self.finish_as("failed", 1)

    def _console_failure(self) -> None:
        """Put the recorded traceback into the run's console (not on the terminal): an exception
        leaving the ``with`` block is printed, if at all, only after the capture stopped."""
        try:
            console = getattr(self._context, "console", None)
            record = self._exception
            if console is None or record is None or not is_live(self._state):
                return
            console.sink.feed("stderr", f"tracker: run {self.name} failed:\n{record['traceback'].rstrip(chr(10))}\n")
        except Exception:  # noqa: BLE001 - tracking never stops the program it tracks
            pass

    def status(self) -> dict[str, Any]:
        """The run's current status record (state, step, heartbeat, ...)."""
        return self._status_record()

    # --- the process around the run: tracker.init and the exit hooks ----------------------------
    def start_context(self, make: Callable[..., Any]) -> None:
        """Start capturing the run's context (system metrics, console output, host, program and
        git facts); :func:`tracker.init` calls it once, with :class:`tracker.context.RunContext`.

        Args:
            make: called as ``make(settings=, writer=, paths=, reporter=)`` with this run's
                settings, store writer, paths and reporter; returns an object with ``start()``,
                ``stop()`` (called when the run ends) and ``detach_console()`` (in a forked child).
        """
        if self._context is not None:
            raise UsageError(f"run {self.path}: its context capture is already started")
        self._context = make(settings=self._settings, writer=self._writer, paths=self._paths,
                             reporter=self._reporter)
        self._context.start()

    def detach_after_fork(self) -> None:
        """Called in a forked child process, which inherits this run but does not own it: the
        child's ``log`` calls take the slow path (which drops them, saying why) and its output
        is no longer captured into the run's console."""
        self._fast = False
        if self._context is not None:
            self._context.detach_console()

    # --- artifacts and files (done by FilesAndArtifacts) --------------------------------------
    def log_artifact(
        self,
        artifact_or_path: Any,
        name: str | None = None,
        type: str | None = None,
        aliases: list[str] | None = None,
        tags: list[str] | None = None,
    ) -> Any:
        """Log an artifact (or a file/folder path, made into one) as an output of this run.

        Its files are stored once by content, and a new version of the collection is committed,
        unless the content equals the latest version's (then that version is returned).

        Returns:
            The committed :class:`~tracker.Artifact`.
        """
        return self._files.log_artifact(artifact_or_path, name, type, aliases, tags)

    def use_artifact(self, artifact_or_name: Any, type: str | None = None, aliases: list[str] | None = None) -> Any:
        """Declare an artifact as an input of this run and return it.

        Args:
            artifact_or_name: ``"name:alias"``, ``"name:vN"``, ``"project/name:alias"`` (this run's
                project by default), or an :class:`~tracker.Artifact` (logged: used as it is;
                a draft: logged first, as W&B does).
            type: when given, the artifact must have this type.

        Raises:
            ArtifactNotFoundError: no such artifact, version or alias.
            UsageError: the type differs.
        """
        return self._files.use_artifact(artifact_or_name, type, aliases)

    def upsert_artifact(self, artifact_or_path: Any, name: str | None = None, type: str | None = None,
                        aliases: list[str] | None = None, distributed_id: str | None = None) -> Any:
        """Add this process's files to a version that several runs build together (keyed by
        ``distributed_id``, default the run's group); ``finish_artifact`` commits it."""
        return self._files.upsert_artifact(artifact_or_path, name, type, aliases, distributed_id)

    def finish_artifact(self, artifact_or_path: Any, name: str | None = None, type: str | None = None,
                        aliases: list[str] | None = None, distributed_id: str | None = None) -> Any:
        """Commit the version built by ``upsert_artifact`` calls (this run's files included)."""
        return self._files.finish_artifact(artifact_or_path, name, type, aliases, distributed_id)

    def log_code(
        self,
        root: str | os.PathLike[str] = ".",
        name: str | None = None,
        include_fn: Any = None,
        exclude_fn: Any = None,
    ) -> Any:
        """Log source files as a ``code`` artifact (``source-<project>-<run id>`` by default).

        Args:
            root: the folder to search.
            include_fn: ``(path, root) -> bool``; default: files ending in ``.py``.
            exclude_fn: ``(path, root) -> bool``; default: anything under ``.venv``, ``venv``,
                ``.git``, ``__pycache__``, ``node_modules`` or the store.

        Returns:
            The committed artifact, or None when no file matched.
        """
        return self._files.log_code(root, name, include_fn, exclude_fn)

    def alert(self, title: str, text: str, level: Any = None, wait_duration: Any = None) -> None:
        """Raise an alert: recorded with the run (``Api().run(path).alerts``, the ``alerts`` SQL
        view, the run page and the run table) and sent to the hooks registered with
        :func:`tracker.on_alert` and to the ``alert_command`` setting, unless an alert of the same
        title was sent less than ``wait_duration`` ago (then it is recorded, not sent again).

        Args:
            title: what happened, at most 63 characters (a longer one is cut, with a warning).
            text: the details.
            level: ``tracker.AlertLevel.INFO`` (default), ``WARN`` or ``ERROR``, or their names.
            wait_duration: seconds (int, float or ``timedelta``) before an alert of this title is
                sent again; default one minute.
        """
        from tracker.sdk import alerts

        with self._lock:
            if not is_live(self._state) or os.getpid() != self._owner_pid:
                self._problem(("alert-after-finish",),
                              f"alert() called after the run ended ({self._state}): alert {title!r} was dropped")
                return
            if not isinstance(title, str) or not isinstance(text, str):
                raise UsageError(f"alert() takes a str title and text, not {type_name(title)} and {type_name(text)}")
            name = alerts.level_of(level)
            if name is None:
                self._problem(("alert-level", repr(level)[:40]),
                              f"alert({title!r}): level {level!r} is not one of INFO, WARN, ERROR: recorded as INFO")
                name = "INFO"
            wait = alerts.wait_seconds(wait_duration)
            if wait is None:
                raise UsageError(f"alert(wait_duration={wait_duration!r}): seconds (int or float, >= 0) or a timedelta")
            if len(title) > alerts.MAX_TITLE:
                self._problem(("alert-title",), f"alert title {title[:20]!r}... is over {alerts.MAX_TITLE} characters: cut")
                title = title[: alerts.MAX_TITLE]
            self._alert_log().add(title, text, name, wait, self._step)
        self._try_write_status(durable=False)  # the run table's alert count, at once

    def watch(self, models: Any, criterion: Any = None, log: str | None = "gradients", log_freq: int = 1000,
              idx: int | None = None, log_graph: bool = False) -> None:
        """Watch PyTorch models: histograms of their gradients (``log="gradients"``), parameters
        (``"parameters"``) or both (``"all"``) every ``log_freq`` passes, and each model's module
        tree with output shapes for the Model tab (see :mod:`tracker.sdk.watch`). An object that is
        not a ``torch.nn.Module`` gives one warning and is not watched.

        Args:
            models: a model or a list of them.
            criterion: accepted for W&B's signature; not used.
            log: ``"gradients"``, ``"parameters"``, ``"all"`` or None (the tree only).
            log_freq: passes between two histograms of a tensor.
            idx: the index of the first model's tree (``graph_<idx>``); default the next free one.
            log_graph: accepted for W&B's signature: the module tree is always recorded.
        """
        from tracker.sdk import watch as watching

        del criterion, log_graph
        if log not in watching.LOG_MODES:
            raise UsageError(f"watch(log={log!r}) is not one of {watching.LOG_MODES}")
        if isinstance(log_freq, bool) or not isinstance(log_freq, int) or log_freq < 1:
            raise UsageError(f"watch(log_freq={log_freq!r}) must be an int >= 1")
        items = list(models) if isinstance(models, (list, tuple)) else [models]
        with self._lock:
            if not is_live(self._state):
                self._problem(("watch-after-finish",), f"watch() called after the run ended ({self._state})")
                return
            for model in items:
                if not watching.is_torch_module(model):
                    self._problem(("watch-type", type_name(model)),
                                  f"watch() takes torch.nn.Module models; a {type_name(model)} is not one, so it "
                                  "is not watched (the run goes on)")
                    continue
                if any(w.model is model for w in self._watched):
                    continue
                index = idx + items.index(model) if idx is not None else len(self._watched) + self._trees
                prefix = "" if len(items) == 1 and not self._watched else f"graph_{index}."
                watched = watching.Watched(model, index, log, log_freq, prefix,
                                           emit=lambda data: self.log(data, commit=False),
                                           files_dir=self._paths.files_dir, problem=self._reporter.background_problem)
                watched.start()
                self._watched.append(watched)

    # --- importing runs from other trackers (tracker.integrations.importers) -----------------------
    def import_row(self, data: Mapping[str, Any], step: int, time: float) -> None:
        """Log ``data`` at ``step`` as another tracker recorded it at wall-clock ``time`` (Unix
        seconds): what importers use to keep a run's own steps and times. The checks and
        conversions of :meth:`log` apply; the row is committed at once. Steps only increase."""
        with self._lock:
            self._clock = float(time)
            try:
                self._log_checked(data, step, True)
            finally:
                self._clock = None

    def import_stream_rows(self, stream: str, rows: Any) -> int:
        """Append another tracker's ``system`` metrics (``(sample, time, {metric: number})``) or
        ``console`` lines (``(line, time, {"stdout" or "stderr": text})``) to this run, in order;
        rows that are not of that form are skipped, and their number said once. Returns the rows kept."""
        if stream not in ("system", "console"):
            raise UsageError(f"import_stream_rows: stream {stream!r} is 'system' or 'console'")
        append = self._writer.queue(stream).append
        kept = skipped = 0
        for row in rows:
            try:
                n, at, values = row
                ok = isinstance(n, int) and isinstance(values, dict) and values and (
                    all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values.values())
                    if stream == "system" else
                    all(k in ("stdout", "stderr") and isinstance(v, str) for k, v in values.items()))
                at = float(at)
            except (TypeError, ValueError):
                ok = False
            if not ok:
                skipped += 1
                continue
            append((n, at, {str(k): (float(v) if stream == "system" else v) for k, v in values.items()}))
            kept += 1
        if skipped:
            self._problem(("import-rows", stream), f"{skipped} {stream} rows to import were not (number, time, "
                          "{name: value}) rows: skipped")
        return kept

    def finish_import(self, state: str | None, exit_code: int | None = None, ended_at: float | None = None) -> None:
        """End an imported run as its source ended: ``finished``, ``failed`` or ``killed`` at
        ``ended_at``; None for a source that never ended (its process crashed, or it is still being
        written): the status then says ``running`` with no process and a heartbeat at ``ended_at``,
        so every reader derives ``crashed`` once that is older than the heartbeat timeout."""
        if state is not None and state not in ("finished", "failed", "killed"):
            raise UsageError(f"finish_import(state={state!r}): 'finished', 'failed', 'killed' or None")
        self._open_end = None if state is not None else float(ended_at if ended_at is not None else self._start_time)
        self.finish_as(state or "finished", exit_code, quiet=True, ended_at=ended_at)

    #: the run.json facts an importer may set from its source (set_origin)
    ORIGIN_FIELDS = ("host", "user", "program", "args", "cwd", "python", "executable", "imported_from")

    def set_origin(self, started_at: float | None = None, **facts: Any) -> None:
        """Where and when an imported run really ran: its start (Unix seconds; ``_runtime`` and the
        duration count from it) and run.json facts among :attr:`ORIGIN_FIELDS` (``host``, ``user``,
        ``program``, ..., and ``imported_from``: the source, e.g. ``{"tool": "wandb", "path": ...}``)."""
        unknown = sorted(set(facts) - set(self.ORIGIN_FIELDS))
        if unknown:
            raise UsageError(f"set_origin: {unknown} are not among {self.ORIGIN_FIELDS}")
        with self._lock:
            if started_at is not None:
                self._start_time = float(started_at)
                self._record["created_at"] = float(started_at)
            for key, value in facts.items():
                self._record[key] = to_jsonable(value, key, self._problem)
            self._write_record()
            self._try_write_status(durable=False)

    def log_model_tree(self, model_type: str, modules: list[dict[str, Any]], idx: int | None = None) -> None:
        """Record a model's layer tree for the Model tab, as ``watch`` does for a PyTorch model:
        for frameworks whose models tracker does not hook itself (a Keras model's summary).

        Args:
            model_type: the model's class name.
            modules: rows with ``name``, ``type``, ``depth`` (0 for the model itself), ``params``
                (its own), ``total_params``, ``trainable_params`` and ``output_shape`` (a list, or
                None when unknown).
            idx: the tree's index (``graph_<idx>``); default the next free one.
        """
        from tracker.sdk import watch as watching

        with self._lock:
            index = idx if idx is not None else len(self._watched) + self._trees
            self._trees += 1
        watching.write_tree_record(os.path.join(self._paths.files_dir, "model", f"graph_{index}.json"),
                                   {"index": index, "type": str(model_type), "log": None, "log_freq": None,
                                    "modules": modules}, self._reporter.background_problem)

    def report_background_problem(self, kind: str, message: str) -> None:
        """Report a problem found off the user's thread (the uploader): warned once per ``kind``;
        under ``strict`` raised by the next call on the user's thread."""
        self._reporter.background_problem(("reported", kind), message)

    def publish_with(self, uploader: Any, start: bool = True) -> None:
        """Have ``uploader`` (a :class:`tracker.store.spool.Uploader`) copy this run's files from the
        spool it is written to into the bucket; ``finish`` waits for its last pass."""
        self._uploader = uploader
        if start:
            uploader.start()

    @property
    def uploader(self) -> Any:
        """The run's uploader when its store is an object store (None for a local store)."""
        return self._uploader

    def report_problem(self, kind: str, message: str) -> None:
        """Report a tracking problem found by code driving this run (an integration's callback):
        one warning per ``kind`` pointing at the user's line, or :class:`~tracker.TrackingFailure`
        under ``strict``. Training goes on."""
        self._reporter.problem(("reported", kind), message)

    def unwatch(self, models: Any = None) -> None:
        """Stop watching ``models`` (a model or a list; all watched models with None): their hooks
        are removed, what was recorded stays."""
        items = None if models is None else (list(models) if isinstance(models, (list, tuple)) else [models])
        with self._lock:
            for watched in list(self._watched):
                if items is None or any(watched.model is m for m in items):
                    watched.stop()
                    self._watched.remove(watched)

    def _history_step(self) -> int | None:
        """The nearest step with history at or before now (an artifact's ``history_step``): the
        step being gathered when it holds values, else the last committed one (None before any)."""
        if self._pending:
            return self._step
        return self._step - 1 if self._step > 0 else None

    def _alert_log(self) -> Any:
        if self._alerts is None:
            from tracker.sdk.alerts import Alerts

            self._alerts = Alerts(self._paths.alerts_file, self.path, self._paths.dir,
                                  self._settings.alert_command, self._reporter.background_problem)
        return self._alerts

    def link_artifact(self, artifact: Any, target_path: str, aliases: list[str] | None = None) -> Any:
        """Link a logged artifact into a portfolio (``portfolio`` or ``project/portfolio``): a
        collection of links with aliases of its own (the model registry is made of these).

        Returns:
            The link, an artifact whose ``source_*`` properties name the linked version.
        """
        return self._files.link_artifact(artifact, target_path, aliases)

    def log_model(self, path: str | os.PathLike[str], name: str | None = None, aliases: list[str] | None = None) -> Any:
        """Log a model file or folder as an artifact of type ``model``."""
        return self._files.log_model(path, name, aliases)

    def use_model(self, name: str) -> str:
        """Use a model artifact (``name:alias``, or a registry link such as
        ``model-registry/mnist-classifier:production``) and return the folder it was downloaded to."""
        return self._files.use_model(name)

    def link_model(
        self, path: str | os.PathLike[str], registered_model_name: str, name: str | None = None,
        aliases: list[str] | None = None,
    ) -> Any:
        """Log a model (or reuse the version with the same files) and link it to a registered
        model in the local registry (the ``model-registry`` project)."""
        return self._files.link_model(path, registered_model_name, name, aliases)

    def save(self, glob_str: str | os.PathLike[str], base_path: str | os.PathLike[str] | None = None,
             policy: str = "live") -> list[str]:
        """Copy files matching a glob into the run's files (``Api().run(p).files()``).

        Args:
            glob_str: a path or glob (``"checkpoints/*.pt"``, ``"**/*.yaml"``).
            base_path: the folder the stored paths are relative to. Default, as in W&B: the
                working directory for a relative glob (``"these/are/myfiles/*"`` is stored under
                ``these/are/myfiles/``), the parent of the glob's folder for an absolute one
                (``"/data/run123/*.txt"`` under ``run123/``).
            policy: ``"now"`` (copied once, now), ``"live"`` (now, and again whenever a matching
                file changes or appears, until the run ends), ``"end"`` (when the run ends).

        Returns:
            The stored paths (relative to the run's files folder) matched now.
        """
        return self._files.save(glob_str, base_path, policy)

    def restore(self, name: str, run_path: str | None = None, replace: bool = False,
                root: str | os.PathLike[str] | None = None) -> Any:
        """Fetch a file saved with ``save`` (by this run, or by ``run_path``) into ``root``
        (default: the working directory) and return it opened for reading.

        Raises:
            UsageError: the run has no such file.
        """
        return self._files.restore(name, run_path, replace, root)

    # --- ClearML-style configuration (done by ConfigGroups) -----------------------------------
    def connect(self, obj: Any, name: str = "General") -> Any:
        """Record an object's parameters in the config, under the group ``name``.

        ``obj`` may be a dict, an ``argparse.Namespace``, a dataclass or any object with public
        attributes. Returns ``obj`` unchanged.

        Raises:
            ConfigError: a key already holds a different value and changes are not allowed.
        """
        return self._config_groups.connect(obj, name)

    def connect_configuration(
        self, configuration: Any, name: str = "General", description: str | None = None
    ) -> Any:
        """Store a configuration object (a YAML/JSON/text blob, a dict, or a file path) by name.

        The content is saved under ``files/configurations/`` and listed in ``run.json``; read it
        back with ``Api().run(path).config_objects``. Returns the configuration as given (a path
        returns its text).
        """
        return self._config_groups.connect_configuration(configuration, name, description)

    @property
    def user_properties(self) -> dict[str, Any]:
        """Free-form properties (editable, also after the run: ``Api().run(p).set(user_properties=...)``)."""
        return self._config_groups.user_properties

    def set_user_properties(self, **properties: Any) -> None:
        """Set user properties (a value of None removes the property)."""
        self._config_groups.set_user_properties(**properties)

    # --- persistence -------------------------------------------------------------------------
    def _problem(self, kind: tuple[Any, ...], message: str) -> None:
        self._reporter.problem(kind, message, stacklevel=5)

    def _config_changed(self, items: dict[str, Any]) -> None:
        if self._attached:
            self._problem(("shared-config",), "config changes in a process of a shared run other than its primary "
                          "are kept in this process only: the primary process owns the run's config")
            return
        self._record["config"] = items
        self._record["config_groups"] = self._config.groups
        self._write_record()

    def _write_record(self) -> None:
        if self._attached:
            return
        try:
            os.makedirs(self._paths.dir, exist_ok=True)
            layout.write_run_file(self._paths, self._paths.run_file, self._record)
            self._record_written = True
        except OSError as exc:
            self._record_written = False
            self._reporter.problem(
                "store-write",
                f"cannot write to the store at {self._paths.dir} ({exc.strerror or exc}); training "
                "goes on, and what is logged is kept in memory and written when the store is "
                "writable again",
                stacklevel=4,
            )

    def _status_record(self) -> dict[str, Any]:
        if self._open_end is not None:  # an imported run that never ended (finish_import): it reads as crashed
            return {**self._live_status_record(), "state": "running", "pid": None, "pid_start": None,
                    "host": self._record.get("host"), "heartbeat_at": self._open_end, "finished_at": None}
        return self._live_status_record()

    def _live_status_record(self) -> dict[str, Any]:
        return {
            "schema_version": layout.SCHEMA_VERSION,
            "state": self._state,
            "pid": self._owner_pid,
            "pid_start": layout.process_start_ticks(self._owner_pid),
            "host": layout.HOSTNAME,
            "started_at": self._start_time,
            "heartbeat_at": _now(),
            "finished_at": self._finished_at,
            "exit_code": self._exit_code,
            "exception": self._exception,
            "last_step": self._step - 1,
            "writer": self._writer.writer_id,
            "heartbeat_interval": self._settings.heartbeat_interval,
            "dropped_points": self._writer.dropped_points,
            "alerts": self._alerts.status() if self._alerts is not None else None,
        }

    def _write_status(self, durable: bool) -> None:
        if self._attached:
            return
        os.makedirs(self._paths.dir, exist_ok=True)
        layout.write_run_file(self._paths, self._paths.status_file, self._status_record(), durable=durable)
        self._status_written = _now()
        self._status_step = self._step

    def _try_write_status(self, durable: bool) -> None:
        """Write status.json from the user's thread: a failure is reported, never raised."""
        try:
            self._write_status(durable)
        except OSError as exc:
            self._reporter.background_problem(
                "store-write",
                f"cannot write {self._paths.status_file} ({exc.strerror or exc}); training goes on",
            )

    def _write_side_files(self, durable: bool) -> None:
        """Called on the writer thread after each flush (an OSError here means: retry later)."""
        self._files.sync_live_if_due(_now())
        if self._attached:
            return  # run.json, the summary and status.json are the primary process's
        if not self._record_written:
            layout.ensure_store(self._paths.root)
            os.makedirs(self._paths.dir, exist_ok=True)
            layout.write_run_file(self._paths, self._paths.run_file, self._record)
            self._record_written = True
        if self._summary.version != self._summary_written:
            version = self._summary.version
            os.makedirs(self._paths.dir, exist_ok=True)
            layout.write_run_file(self._paths, self._paths.summary_file, self._summary.as_dict(), durable=durable)
            layout.write_json_atomic(self._paths.summary_state_file, self._summary.state(), durable=durable)
            self._summary_written = version
        now = _now()
        if (
            durable
            or now - self._status_written >= self._settings.heartbeat_interval
            or (self._step != self._status_step and now - self._status_written >= 1.0)
        ):
            self._write_status(durable)


def make_record(
    *,
    run_id: str,
    project: str,
    name: str,
    settings: Settings,
    config: dict[str, Any],
    tags: Any,
    notes: str | None,
    group: str | None,
    job_type: str | None,
    problem: Any,
    config_groups: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The initial ``run.json`` of a new run."""
    return {
        "schema_version": layout.SCHEMA_VERSION,
        "id": run_id,
        "project": project,
        "name": name,
        "notes": notes,
        "tags": check_tags(tags),
        "group": group,
        "job_type": job_type,
        "entity": settings.entity,
        "mode": settings.mode,
        "created_at": _now(),
        "host": layout.HOSTNAME,
        "user": _user(),
        "program": sys.argv[0] if sys.argv and sys.argv[0] else None,
        "args": list(sys.argv[1:]),
        "cwd": os.getcwd(),
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "tracker_version": __version__,
        "config": to_jsonable(config, "config", problem) if config else {},
        "config_groups": config_groups or {},
        "environment": _environment(settings.env_vars),
        "metrics": [],
        "resumes": 0,
    }


#: What is kept of a failure's traceback: its last lines, and at most this many characters of them.
TRACEBACK_LINES = 200
TRACEBACK_CHARS = 64 * 1024
#: Characters kept of an exception's message.
MESSAGE_CHARS = 4000


def failure_record(exc: BaseException, tb: Any = None) -> dict[str, str]:
    """``{"type", "message", "traceback"}`` of an exception, as ``status.json`` keeps it: the
    type's name, ``str(exc)`` (at most 4,000 characters) and the formatted traceback (its last
    200 lines, at most 64 KB). Never raises, whatever the exception's ``__str__`` does."""
    from tracker.convert import escape_surrogates, is_text, safe_str

    def text(value: str) -> str:
        return value if is_text(value) else escape_surrogates(value)

    kind = type_name(exc)
    message = safe_str(exc, MESSAGE_CHARS)
    try:
        import traceback

        lines = traceback.format_exception(type(exc), exc, tb if tb is not None else exc.__traceback__)
        body = "".join(lines)
    except Exception:  # noqa: BLE001 - a traceback that cannot be formatted: the type and message stay
        body = f"{kind}: {message}\n(tracker: the traceback could not be formatted)\n"
    try:
        body = text(str(body))
        rows = body.splitlines(keepends=True)
        note = ""
        if len(rows) > TRACEBACK_LINES:
            note = f"[tracker: the first {len(rows) - TRACEBACK_LINES} lines of the traceback were cut]\n"
            body = "".join(rows[-TRACEBACK_LINES:])
        if len(body) > TRACEBACK_CHARS:
            note = f"[tracker: the traceback was cut to its last {TRACEBACK_CHARS} characters]\n"
            body = body[-TRACEBACK_CHARS:]
        body = note + body
    except Exception:  # noqa: BLE001
        body = ""
    return {"type": text(kind), "message": text(message), "traceback": body}


def _first_keys(data: Any) -> str:
    """The first keys of what log() was given, for a message; never raises."""
    try:
        import itertools

        keys = list(itertools.islice(data, 5)) if isinstance(data, Mapping) else []
    except Exception:  # noqa: BLE001 - a Mapping whose iteration raises: no keys to show
        keys = []
    return "[" + ", ".join(safe_repr(k, 40) for k in keys) + "]"


def _json_ref(text: str) -> Any:
    from tracker import _json

    return _json.loads(text)


def _environment(patterns: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Environment variables named (or matched by a glob) in the ``env_vars`` setting."""
    if not patterns:
        return {}
    import fnmatch

    return {k: v for k, v in sorted(os.environ.items()) if any(fnmatch.fnmatchcase(k, p) for p in patterns)}


def _user() -> str | None:
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, OSError):
        return None
