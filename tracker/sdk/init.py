"""``tracker.init``: settings, reinit and resume rules, and making the run."""

from __future__ import annotations

import os
import sys
import time

from tracker._report import warn_user
from tracker.errors import RunExistsError, RunNotFoundError, StoreError, UsageError
from tracker.sdk import hooks, names, state
from tracker.sdk.config import Config, _as_mapping
from tracker.sdk.disabled import DisabledRun
from tracker.sdk.run import Run, make_record
from tracker.settings import RESUME_MODES, Settings
from tracker.store import layout
from tracker.store.index import RunDoc
from tracker.store.layout import RunPaths
from tracker.store.query import Query
from tracker.store.states import is_live

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

_RESUMABLE = ("crashed", "failed", "killed", "preempted")


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel."""
    if "ipykernel" not in sys.modules:
        return False
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    shell = get() if callable(get) else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def init(
    project: str | None = None,
    name: str | None = None,
    config: Any = None,
    tags: Sequence[str] | None = None,
    notes: str | None = None,
    group: str | None = None,
    job_type: str | None = None,
    id: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    resume: bool | str | None = None,
    reinit: bool | str | None = None,
    mode: str | None = None,
    settings: Settings | dict[str, Any] | None = None,
    *,
    entity: str | None = None,
    allow_val_change: bool | None = None,
    config_exclude_keys: Sequence[str] | None = None,
    config_include_keys: Sequence[str] | None = None,
    save_code: bool | None = None,
    anonymous: str | None = None,
    sync_tensorboard: bool | None = None,
    monitor_gym: bool | None = None,
    fork_from: Any = None,
    resume_from: Any = None,
) -> Run | DisabledRun:
    """Start (or resume) a run and make it the current one.

    Args:
        project: the project the run belongs to (a folder in the store).
        name: display name; default a readable generated one.
        config: hyperparameters: a dict, an ``argparse.Namespace`` or a dataclass.
        tags: strings to label the run.
        notes: free text.
        group: groups runs of one experiment (DDP ranks, CV folds).
        job_type: e.g. ``"train"``, ``"eval"``.
        id: the run id; with ``resume`` it names the run to continue.
        dir: the store root (default ``./tracker-runs`` or the ``dir`` setting).
        resume: ``"allow"`` (resume ``id`` if it exists), ``"must"`` (it must exist),
            ``"never"`` (it must not), ``"auto"`` (resume the most recent crashed/failed run of
            this program on this host); True means ``"auto"``.
        reinit: when a run is active: ``"return_previous"`` (the script default),
            ``"finish_previous"`` (the notebook default), ``"create_new"``.
        mode: ``"online"``/``"offline"`` (both write the local store) or ``"disabled"``.
        fork_from: ``"<run id>?_step=N"``: a new run whose history is that run's (same project)
            up to step N, then its own from step N+1; its config starts as the parent's.
        resume_from: ``"<run id>?_step=N"``: resume that run rewound to step N: its rows of later
            steps are moved aside (hidden, not deleted) and logging goes on from step N+1.
        settings: a :class:`~tracker.Settings` or a dict of settings.
        entity: recorded for W&B compatibility.
        allow_val_change: let config values change after they are set.
        config_exclude_keys: config keys to leave out.
        config_include_keys: the only config keys to keep.

    Returns:
        The :class:`~tracker.sdk.run.Run` (a no-op run when disabled).

    Raises:
        UsageError: a bad argument (an unknown resume mode, a bad project name, ...).
        RunNotFoundError: ``resume="must"`` and the run does not exist.
        RunExistsError: the id exists and resume is ``"never"`` or not given, or its writer is alive.
    """
    if isinstance(settings, dict):
        settings = Settings(**settings)
    elif settings is not None and not isinstance(settings, Settings):
        raise UsageError(f"settings must be a tracker.Settings or a dict, not {type(settings).__name__}")
    if resume is True:
        resume = "auto"
    elif resume is False:
        resume = None
    if resume is not None and resume not in RESUME_MODES:
        raise UsageError(f"resume={resume!r} is not one of {RESUME_MODES} (or True/False)")
    if reinit is True:
        reinit = "finish_previous"
    elif reinit is False:
        reinit = "return_previous"
    changes: dict[str, Any] = {
        k: v
        for k, v in {
            "project": project,
            "dir": os.fspath(dir) if dir is not None else None,
            "mode": "offline" if mode == "dryrun" else mode,
            "resume": resume,
            "reinit": reinit,
            "allow_val_change": allow_val_change,
            "run_id": id,
            "run_name": name,
            "run_group": group,
            "run_job_type": job_type,
            "run_notes": notes,
            "run_tags": tuple(tags) if tags is not None else None,
            "entity": entity,
            "save_code": save_code,
        }.items()
        if v is not None
    }
    s = Settings.load(settings).copy(**changes)
    recorded = s.recorded  # W&B's Settings(fork_from=..., resume_from=...) mean the same as the arguments
    branch_from = _branch_args(fork_from if fork_from is not None else recorded.get("fork_from"),
                               resume_from if resume_from is not None else recorded.get("resume_from"), s)
    cfg = dict(_as_mapping(config, "init(config=...)")) if config is not None else {}
    from tracker.convert import is_instance_without_import

    cfg_group = "Args" if is_instance_without_import(config, "argparse", "Namespace") else None
    if config_include_keys:
        cfg = {k: v for k, v in cfg.items() if k in set(config_include_keys)}
    if config_exclude_keys:
        cfg = {k: v for k, v in cfg.items() if k not in set(config_exclude_keys)}
    for flag, value in (("anonymous", anonymous), ("sync_tensorboard", sync_tensorboard), ("monitor_gym", monitor_gym)):
        if value:
            _warn(s, f"init({flag}=...) has no effect in a local store and was ignored")

    previous = state.newest_active()
    if previous is not None:
        how = s.reinit
        if how == "default":
            how = "finish_previous" if in_notebook() else "return_previous"
            if how == "return_previous":
                _warn(
                    s,
                    f"tracker.init() was called while run {previous.path} is active: returning that "
                    "run. Pass reinit='finish_previous' to end it first, or reinit='create_new' for "
                    "a second run alongside",
                )
        if how == "return_previous":
            return previous  # type: ignore[no-any-return]
        if how == "finish_previous":
            for run in list(state.active):
                run.finish()
    make_current = s.reinit != "create_new"

    project_name = layout.check_name(s.project or "uncategorized", "project name")
    if s.run_id is not None:
        layout.check_name(s.run_id, "run id")

    if s.mode == "disabled":
        run_d = DisabledRun(project_name, s.run_id or names.new_run_id(), s.run_name or "disabled", cfg)
        state.add(run_d, make_current)
        return run_d

    root = s.root()
    remote: _Remote | None = None
    if root.startswith("s3://"):
        remote = _Remote(s, root, project_name, branch_from)
        s, root = remote.settings, remote.spool
    try:
        layout.ensure_store(root)
    except OSError as exc:
        if s.strict:
            raise StoreError(f"cannot create the store at {root}: {exc}") from exc
        # Not warned here: the run's first write fails too and says it once, for the whole run.

    if s.mode == "shared" and not s.primary:
        run = _attach(s, root, project_name, cfg)
    elif branch_from is not None:
        run = _branch(s, root, project_name, cfg, cfg_group, *branch_from)
    else:
        run = _create_or_resume(s, root, project_name, cfg, cfg_group)
    if remote is not None:
        remote.start(run)
    state.add(run, make_current)
    hooks.install()
    from tracker.context import RunContext

    if not s.quiet:  # said before the console capture starts: tracker's own lines are not the run's output
        verb = "resumed" if run.resumed else "started"
        where = f"{remote.uri} (spooled in {root})" if remote is not None else root
        print(f"tracker: {verb} run {run.name} ({run.path}) in {where}", file=sys.stderr)
        unused = sorted(set(s.recorded) - {"fork_from", "resume_from"})
        if unused:
            print("tracker: W&B settings with no meaning in a local store, recorded with the run: "
                  + ", ".join(unused), file=sys.stderr)
    run.start_context(RunContext)
    return run


def _warn(s: Settings, message: str) -> None:
    if s.strict:
        from tracker.errors import TrackingFailure

        raise TrackingFailure(f"tracker: {message}")
    warn_user(f"tracker: {message}")


def _create_or_resume(s: Settings, root: str, project: str, cfg: dict[str, Any], cfg_group: str | None) -> Run:
    resume = s.resume
    run_id = s.run_id
    existing: RunDoc | None = None
    if run_id is not None:
        existing = Query.at(root).run_doc(project, run_id)
    elif resume == "must":
        raise UsageError("resume='must' needs the id of the run to resume: tracker.init(id=..., resume='must')")
    elif resume == "auto":
        existing = _latest_resumable(root, project)

    if existing is None:
        if resume == "must":
            raise RunNotFoundError(f"resume='must' but run {project}/{run_id} does not exist in {root}")
        return _new_run(s, root, project, run_id, cfg, cfg_group)
    if resume is None or resume == "never":
        raise RunExistsError(
            f"run {project}/{existing.id} already exists in {root}; pass resume='allow' "
            "(or 'must') to continue it, or another id"
        )
    current = existing.state
    if is_live(current):
        raise RunExistsError(
            f"run {project}/{existing.id} is still being written by process "
            f"{existing.status.get('pid')} on {existing.status.get('host')}; it cannot be resumed "
            "until that process ends"
        )
    return _resume(s, existing, cfg, cfg_group)


def _branch_args(fork_from: Any, resume_from: Any, s: Settings) -> tuple[str, str, int] | None:
    """``(how, run id, step)`` of ``fork_from`` / ``resume_from``, checked against the other arguments."""
    from tracker.store.branch import parse_moment

    if fork_from is None and resume_from is None:
        return None
    if fork_from is not None and resume_from is not None:
        raise UsageError("init() takes fork_from or resume_from, not both")
    if fork_from is not None:
        run_id, step = parse_moment(fork_from, "fork_from")
        if s.resume not in (None, "never"):
            raise UsageError("fork_from starts a new run: it cannot be combined with resume")
        if s.run_id is not None and s.run_id == run_id:
            raise UsageError(f"fork_from={fork_from!r}: the fork needs an id of its own, not its parent's")
        return ("fork", run_id, step)
    run_id, step = parse_moment(resume_from, "resume_from")
    if s.run_id is not None and s.run_id != run_id:
        raise UsageError(f"resume_from={resume_from!r} names run {run_id!r} but id={s.run_id!r}")
    return ("rewind", run_id, step)


def _branch(s: Settings, root: str, project: str, cfg: dict[str, Any], cfg_group: str | None,
            how: str, run_id: str, step: int) -> Run:
    """A fork of a run at ``step``, or that run rewound to ``step`` (see tracker.store.branch)."""
    from tracker.store import branch

    source = Query.at(root).run_doc(project, run_id)
    if source is None:
        raise RunNotFoundError(f"{'fork_from' if how == 'fork' else 'resume_from'}: run {project}/{run_id} "
                               f"does not exist in {root}")
    if how == "rewind" and is_live(source.state):
        raise RunExistsError(f"run {project}/{run_id} is still being written by process "
                             f"{source.status.get('pid')}; it cannot be rewound until that process ends")
    manual = (layout.read_json(os.path.join(source.dir, layout.SUMMARY_STATE_FILE)) or {}).get("manual") or {}
    if how == "fork":
        parent_cfg = dict(source.record.get("config") or {})
        run = _new_run(s, root, project, s.run_id, {**parent_cfg, **cfg}, cfg_group,
                       fork=(source, step, manual))
        return run
    state = branch.rewind_history(source.dir, step)
    state["manual"] = manual
    rewinds = list(source.record.get("rewinds") or [])
    rewinds.append({"step": step, "at": time.time()})
    return _resume(s, source, cfg, cfg_group, rewind=(step, state, rewinds))


def _latest_resumable(root: str, project: str) -> RunDoc | None:
    program = sys.argv[0] if sys.argv and sys.argv[0] else None
    best: RunDoc | None = None
    for files in Query.at(root).index.read_project(project):
        if files.status.get("host") != layout.HOSTNAME:
            continue
        if files.record.get("program") != program or files.state not in _RESUMABLE:
            continue
        if best is None or files.record.get("created_at", 0) > best.record.get("created_at", 0):
            best = files
    return best


def _new_run(
    s: Settings, root: str, project: str, run_id: str | None, cfg: dict[str, Any], cfg_group: str | None,
    fork: tuple[RunDoc, int, dict[str, Any]] | None = None,
) -> Run:
    project_dir = os.path.join(root, project)
    if run_id is None:
        run_id = names.new_run_id()
        while os.path.exists(os.path.join(project_dir, run_id)):
            run_id = names.new_run_id()
    paths = RunPaths(root, project, run_id)
    problems: list[str] = []
    record = make_record(
        run_id=run_id,
        project=project,
        name=s.run_name or names.new_run_name(project_dir),
        settings=s,
        config=cfg,
        tags=s.run_tags,
        notes=s.run_notes,
        group=s.run_group,
        job_type=s.run_job_type,
        problem=lambda kind, msg: problems.append(msg),
        config_groups={cfg_group: list(cfg)} if cfg_group and cfg else None,
    )
    try:
        os.makedirs(paths.dir, exist_ok=True)
    except OSError:
        pass  # reported by the run's first write
    start_step, summary_state = 0, None
    if fork is not None:  # the parent's history up to the step, copied before the writer starts
        from tracker.store import branch

        parent, step, manual = fork
        summary_state = branch.copy_history(parent.dir, paths.dir, step)
        summary_state["manual"] = manual
        record["forked_from"] = {"run": f"{parent.project}/{parent.id}", "step": step}
        start_step = step + 1
    run = Run(settings=s, paths=paths, record=record, resumed=False, start_step=start_step,
              summary_state=summary_state, problems=[(("config", msg), msg) for msg in problems])
    return run


class _Remote:
    """What ``init`` does for a store whose root is ``s3://...`` (see :mod:`tracker.store.spool`): the
    run is written into a spool folder of its own and uploaded by a thread. A run that is resumed,
    rewound or forked from is first copied from the bucket into the spool; a new run's id is claimed
    in the bucket (a conditional write) so two hosts never make the same run."""

    def __init__(self, s: Settings, uri: str, project: str, branch_from: tuple[str, str, int] | None) -> None:
        from tracker.store import spool
        from tracker.store.bucket import Bucket

        self.uri = uri
        self.spool = spool.new_spool(uri)
        self.bucket = Bucket(uri)
        # names every process of the store must take once (a shared run's sequence blocks): in the bucket
        layout.set_claimer(self.spool, lambda key: self.bucket.create(key, b""))
        layout.set_source(self.spool, uri)  # what the run reads (artifacts it uses): the bucket
        self.pulled = False
        self.settings = s
        self.available = True
        self._leftovers()
        try:
            import obstore  # noqa: F401
        except ImportError:
            from tracker.store.bucket import missing_client_message

            self.available = False
            _warn(s, f"{missing_client_message()}; the run is written to {self.spool} and `tracker sync` uploads it later")
            return
        try:
            self._prepare(s, project, branch_from)
        except (RunExistsError, RunNotFoundError, UsageError):
            raise
        except Exception as exc:  # noqa: BLE001 - the bucket did not answer: the run goes on locally
            _warn(s, f"cannot reach {uri} ({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}); "
                     f"the run is written to {self.spool} and uploaded when the bucket answers")

    def _prepare(self, s: Settings, project: str, branch_from: tuple[str, str, int] | None) -> None:
        from tracker.store import spool

        if s.mode == "shared" and not s.primary:
            return  # an attached process writes only its own files; it finds the run in the bucket
        if branch_from is not None:
            if not spool.pull_run(self.bucket, project, branch_from[1], self.spool):
                raise RunNotFoundError(f"run {project}/{branch_from[1]} does not exist in {self.uri}")
            self.pulled = branch_from[0] == "rewind"
            if self.pulled:
                return
        run_id = s.run_id
        if run_id is None and s.resume == "auto" and branch_from is None:
            reader = Query.at(self.uri)
            reader.runs(project)
            found = _latest_resumable(reader.root, project)
            run_id = found.id if found is not None else None
        if run_id is not None and self.bucket.head(f"{project}/{run_id}/{layout.RUN_FILE}") is not None:
            if s.resume in (None, "never") or branch_from is not None:
                raise RunExistsError(f"run {project}/{run_id} already exists in {self.uri}; pass resume='allow' "
                                     "(or 'must') to continue it, or another id")
            self.pulled = spool.pull_run(self.bucket, project, run_id, self.spool)
            return
        if s.resume == "must":
            return  # reported by the look-up in the spool: no such run
        if run_id is None:
            run_id = names.new_run_id()
        while not spool.claim_run(self.bucket, project, run_id, {"host": layout.HOSTNAME, "pid": os.getpid()}):
            if s.run_id is not None:
                raise RunExistsError(f"run {project}/{run_id} was just created in {self.uri} by another process")
            run_id = names.new_run_id()
        self.settings = s.copy(run_id=run_id)

    def _leftovers(self) -> None:
        """Upload, in the background, what processes that died on this host left for this bucket."""
        import threading

        from tracker.store import spool

        def run() -> None:
            try:
                spool.upload_leftovers(self.uri)
            except Exception:  # noqa: BLE001 - `tracker sync` says why; init never fails for it
                pass

        threading.Thread(target=run, name="tracker-leftovers", daemon=True).start()

    def start(self, run: Run) -> None:
        """Start the run's uploader (nothing to start when the client is missing)."""
        from tracker.store.spool import Uploader

        uploader = Uploader(self.spool, self.bucket, run.project, run.id,
                            interval=max(1.0, self.settings.flush_interval * 2),
                            problem=lambda message: run.report_background_problem("upload", message))
        if self.pulled:
            uploader.assume_uploaded()
        run.publish_with(uploader, start=self.available)


def _attach(s: Settings, root: str, project: str, cfg: dict[str, Any]) -> Run:
    """A non-primary process of a ``mode="shared"`` run: the run its primary process made (waited
    for up to ``shared_wait`` seconds: ranks start in any order), written alongside it."""
    if s.run_id is None:
        raise UsageError("mode='shared' with primary=False (W&B's x_primary=False) adds to a run another process "
                         "started: pass its id, tracker.init(id=..., mode='shared', settings={'primary': False})")
    deadline = time.monotonic() + s.shared_wait
    lookup = s.root() if s.root().startswith("s3://") else root  # a bucket: the run is there, not in the spool
    existing = Query.at(lookup).run_doc(project, s.run_id)
    while existing is None and time.monotonic() < deadline:
        time.sleep(0.1 if lookup == root else 0.5)
        existing = Query.at(lookup).run_doc(project, s.run_id)
    if existing is None:
        raise RunNotFoundError(f"mode='shared': run {project}/{s.run_id} was not created by its primary process "
                               f"within {s.shared_wait:g} s (shared_wait) in {root}")
    if cfg:
        _warn(s, "init(config=...) in a process of a shared run other than its primary is not written: the "
                 "primary process owns the run's config")
    paths = RunPaths(root, project, existing.id)
    return Run(settings=s, paths=paths, record=dict(existing.record), resumed=False, start_step=0,
               summary_state=None, attached=True)


def _resume(s: Settings, existing: RunDoc, cfg: dict[str, Any], cfg_group: str | None,
            rewind: tuple[int, dict[str, Any], list[dict[str, Any]]] | None = None) -> Run:
    paths = RunPaths(os.path.dirname(os.path.dirname(existing.dir)), existing.project, existing.id)
    record = dict(existing.record)
    record["resumes"] = int(record.get("resumes") or 0) + 1
    for key, value in (
        ("name", s.run_name),
        ("notes", s.run_notes),
        ("group", s.run_group),
        ("job_type", s.run_job_type),
    ):
        if value is not None:
            record[key] = value
    if s.run_tags is not None:
        record["tags"] = list(dict.fromkeys([*(record.get("tags") or []), *s.run_tags]))
    if cfg:  # checked before the run starts, so a refused change leaves nothing half-open
        merged = Config(record.get("config") or {}, allow_val_change=s.allow_val_change)
        merged.groups.update(record.get("config_groups") or {})
        merged.update(cfg, group=cfg_group)
        record["config"] = merged.as_dict()
        record["config_groups"] = merged.groups
    if rewind is not None:  # history after the step was moved aside: go on from the step after it
        start_step = rewind[0] + 1
        summary_state: dict[str, Any] | None = rewind[1]
        record["rewinds"] = rewind[2]
    else:
        last = existing.status.get("last_step")
        stored = Query.at(paths.root).max_step(paths.dir, "scalars")
        steps = [x for x in (last, stored) if isinstance(x, int)]
        start_step = max(steps) + 1 if steps else 0
        summary_state = layout.read_json(paths.summary_state_file)
    run = Run(
        settings=s,
        paths=paths,
        record=record,
        resumed=True,
        start_step=start_step,
        summary_state=summary_state,
    )
    return run
