"""What every importer shares: a run read from another tracker (:class:`SourceRun`), written into
the store with its own ids, steps, wall times and end (:func:`write_run`), idempotently."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

Row = tuple  # (step or line/sample number, Unix time, {key: value})


@dataclass
class SourceRun:
    """One run of another tracker, as an importer read it."""

    tool: str  # "wandb", "tensorboard", "mlflow"
    source: str  # where it was read from (a file or folder, a database URI)
    run_id: str
    project: str
    name: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    notes: str | None = None
    group: str | None = None
    job_type: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    #: ``finished``, ``failed`` or ``killed``; None for a run that never ended (crashed, or still
    #: being written): it reads as ``crashed`` once its last record is older than the heartbeat timeout
    state: str | None = None
    exit_code: int | None = None
    origin: dict[str, Any] = field(default_factory=dict)  # host, user, program, ... (Run.ORIGIN_FIELDS)
    rows: Callable[[], Iterable[Row]] | None = None  # history rows in step order, made when written
    system: list[Row] = field(default_factory=list)
    console: list[Row] = field(default_factory=list)
    files: list[tuple[str, str]] = field(default_factory=list)  # (folder, path in it): kept under files/ as that path
    notes_for_user: list[str] = field(default_factory=list)  # what could not be imported, said at the end


@dataclass
class Imported:
    """What happened to one source run: ``imported``, ``replaced`` (``force``) or ``skipped``
    (already in the store), with the run's path and the history rows written."""

    path: str
    status: str
    rows: int = 0
    source: str = ""
    notes: list[str] = field(default_factory=list)


_BAD = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(text: str, fallback: str) -> str:
    """A project name or run id the store accepts (letters, digits, ``_-.``; 1-128 characters,
    starting with a letter or digit)."""
    out = _BAD.sub("-", str(text)).strip("-._")[:128]
    return out if out else fallback


IMPORT_SETTINGS = {"quiet": True, "console": "off", "disable_stats": True, "disable_meta": True,
                   "disable_git": True, "save_requirements": False, "save_code": False}


def write_run(src: SourceRun, root: str, force: bool = False, strict: bool = False) -> Imported:
    """Write ``src`` into the store at ``root`` as run ``<project>/<run_id>``; a run already there
    is left alone (``skipped``) unless ``force``, which replaces it."""
    from tracker.sdk.init import init

    project = safe_name(src.project, "imported")
    run_id = safe_name(src.run_id, "run")
    folder = os.path.join(root, project, run_id)
    status = "imported"
    if os.path.exists(os.path.join(folder, "run.json")):
        if not force:
            return Imported(f"{project}/{run_id}", "skipped", source=src.source)
        shutil.rmtree(folder)
        status = "replaced"
    settings = dict(IMPORT_SETTINGS, strict=strict)
    run = init(project=project, id=run_id, name=src.name, config=src.config or None, tags=src.tags or None,
               notes=src.notes, group=src.group, job_type=src.job_type, dir=root, settings=settings,
               reinit="create_new", resume="never")
    origin = {k: v for k, v in src.origin.items() if v is not None}
    origin["imported_from"] = {"tool": src.tool, "source": src.source}
    run.set_origin(src.started_at, **origin)
    rows = 0
    last_time = src.started_at
    for step, at, data in (src.rows() if src.rows is not None else ()):
        if data:
            run.import_row(data, step, at)
            rows += 1
            last_time = at
    if src.system:
        run.import_stream_rows("system", src.system)
    if src.console:
        run.import_stream_rows("console", src.console)
    for base, rel in src.files:
        run.save(os.path.join(base, rel), base_path=base, policy="now")
    for key, value in src.summary.items():
        run.summary[key] = value
    ended = src.ended_at or last_time
    run.finish_import(src.state, src.exit_code, ended)
    return Imported(f"{project}/{run_id}", status, rows, src.source, list(src.notes_for_user))


def write_all(sources: list[Any], root: str, desc: str, force: bool, progress: bool,
              read: Callable[[Any], SourceRun]) -> list[Imported]:
    """Read and write each source (``read(source)`` makes its :class:`SourceRun`), with a bar.
    A source that cannot be read is reported (one warning each) and the others go on."""
    from tracker._report import warn_user
    from tracker.artifacts.progress import items_bar
    from tracker.convert import describe_exception

    out = []
    bar = items_bar(len(sources), desc, "run", progress)
    try:
        for source in sources:
            try:
                src = read(source)
            except (OSError, ValueError, KeyError) as exc:
                warn_user(f"tracker import: {source} could not be read ({describe_exception(exc)}): skipped")
                bar.update(1, str(source))
                continue
            out.append(write_run(src, root, force))
            bar.update(1, out[-1].path)
    finally:
        bar.close()
    return out
