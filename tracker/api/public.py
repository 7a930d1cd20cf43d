"""The read API, shaped like W&B's public API: ``Api().runs(project)``, ``Api().run(path)``.

Everything here reads the store; nothing needs the writer's process. A run being written can be
read at any time: its JSON files are replaced atomically and its segments are immutable.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from tracker.api import filters as _filters
from tracker.api import history as _history
from tracker.convert import check_tags, group_config
from tracker.errors import QueryError, RunNotFoundError, UsageError
from tracker.settings import Settings
from tracker.store import layout
from tracker.store.index import FIXED_FIELDS, RunDoc
from tracker.store.query import Query, stream_dir
from tracker.store.states import derive_state, is_live

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

class Api:
    """Entry point of the read API.

    Args:
        dir: the store root; default from the settings (``TRACKER_DIR``, ``tracker.toml``, or
            ``./tracker-runs``).
    """

    def __init__(self, dir: str | os.PathLike[str] | None = None) -> None:
        settings = Settings.load()
        if dir is not None:
            settings = settings.copy(dir=os.fspath(dir))
        self._settings = settings
        #: The store's query object: the one reader every part of tracker reads through.
        self.query = Query.at(settings.root())
        #: The store's folder (for an ``s3://`` root, the local mirror readers read).
        self.root: str = self.query.root
        #: The root as given: the folder, or ``s3://bucket/prefix``.
        self.uri: str = self.query.uri

    def __repr__(self) -> str:
        return f"<tracker.Api {self.uri}>"

    def projects(self) -> list[str]:
        """The project names in the store."""
        return self.query.projects()

    def tag_colours(self, project: str) -> dict[str, str]:
        """The colours set for a project's tags (``{tag: "#rrggbb"}``); a tag without one takes
        a colour of its own, the same everywhere (a hash of its text)."""
        return self.query.tag_colours(project)

    def set_tag_colour(self, project: str, tag: str, colour: str | None) -> dict[str, str]:
        """Set a project tag's colour (``#rrggbb``; None goes back to its own); it shows in the
        run table and on every run page of the project. Returns the project's colours."""
        return self.query.set_tag_colour(project, tag, colour)

    def project_summary(self, project: str) -> dict[str, Any]:
        """A project at a glance, from the runs index: ``{"name", "runs", "running",
        "last_activity"}`` (how many runs, how many are being written now, and the Unix time of the
        newest change to any of them; None without runs)."""
        name = _project_of(project)
        docs = self.query.runs(name)
        newest = max((d.changed_ns for d in docs), default=0)
        return {"name": name, "runs": len(docs), "running": sum(1 for d in docs if is_live(d.state)),
                "last_activity": newest / 1e9 if newest else None}

    def runs(
        self,
        project: str | None = None,
        filters: dict[str, Any] | None = None,
        order: str | None = "+created_at",
    ) -> Runs:
        """The runs of a project (every project when None), filtered and ordered.

        Args:
            project: a project name (``entity/project`` is accepted; the entity is ignored).
            filters: a MongoDB-style filter (see :mod:`tracker.api.filters`).
            order: ``"+field"`` or ``"-field"``, e.g. ``"-summary.val/acc"``.
        """
        docs = self.query.runs(None if project is None else _project_of(project))
        if filters:
            docs = [d for d in docs if _filters.matches(d.fields(), filters)]
        docs = _filters.order_docs(docs, order, RunDoc.fields)
        return Runs(self, project, docs)

    def run(self, path: str) -> Run:
        """One run by ``project/run_id`` (or ``entity/project/run_id``).

        Raises:
            RunNotFoundError: no such run in the store.
        """
        project, run_id = layout.parse_run_path(path)
        doc = self.query.run_doc(project, run_id)
        if doc is None:
            raise RunNotFoundError(f"no run {project}/{run_id} in {self.uri}")
        return Run(self, doc)

    # --- artifacts -------------------------------------------------------------------------
    def artifact(self, name: str, type: str | None = None) -> Any:
        """One artifact version: ``"project/name:alias"`` or ``"project/name:vN"``.

        Raises:
            ArtifactNotFoundError: no such artifact, version or alias.
        """
        from tracker.artifacts import registry
        from tracker.artifacts.artifact import load

        self.query.refresh_artifacts()
        project, coll, version = registry.resolve(self.root, name, None)
        art = load(self.root, project, coll, version)
        if type is not None and art.type != type:
            raise UsageError(f"artifact {art.qualified_name} has type {art.type!r}, not {type!r}")
        return art

    def artifact_versions(self, name: str, type_name: str | None = None) -> list[Any]:
        """Every committed version of ``project/name``, oldest first."""
        from tracker.artifacts import registry
        from tracker.artifacts.artifact import load

        self.query.refresh_artifacts()
        project, coll, _ = registry.parse_ref(name, None)
        cdir = registry.collection_dir(self.root, project, coll)
        out = [load(self.root, project, coll, v) for v in registry.committed_versions(cdir)]
        return [a for a in out if type_name is None or a.type == type_name]

    def artifact_collections(self, project: str | None = None, type_name: str | None = None) -> list[dict[str, Any]]:
        """Collections with their type, version count and aliases."""
        from tracker.artifacts import registry

        self.query.refresh_artifacts()
        out = []
        for proj, coll in registry.list_collections(self.root, project):
            cdir = registry.collection_dir(self.root, proj, coll)
            versions = registry.committed_versions(cdir)
            info = registry.read_version(cdir, versions[-1]) or {}
            if type_name is not None and info.get("type") != type_name:
                continue
            out.append({"project": proj, "name": coll, "type": info.get("type"), "versions": len(versions),
                        "aliases": registry.aliases(cdir)})
        return out

    # --- SQL -----------------------------------------------------------------------------
    def connection(self) -> Any:
        """A DuckDB cursor with the store's views (``runs``, ``history``, ``system``, ...) fresh."""
        from tracker.api.views import create_views

        con = self.query.connection()
        create_views(con, self.query)
        return con

    def sql(self, query: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run DuckDB SQL over the store's views and return a pandas DataFrame.

        Views: ``runs`` (one row a run: project, id, name, state, created_at, ..., config and
        summary as JSON), ``history`` and ``system`` (project, run_id, step, key, kind, value,
        text, time). See docs/read-api.md.

        Raises:
            QueryError: the query failed; the message is DuckDB's.
        """
        import duckdb

        from tracker.api.views import create_views

        try:
            table = self.query.sql(query, list(params) if params else None,
                                   prepare=lambda con: create_views(con, self.query))
        except duckdb.Error as exc:
            raise QueryError(str(exc)) from exc
        return table.to_pandas()


def _project_of(project: str) -> str:
    parts = [p for p in project.split("/") if p]
    name = parts[-1] if parts else project
    return layout.check_name(name, "project name")


class Runs(Sequence["Run"]):
    """A list of read-side runs: ``len``, iteration, indexing, ``to_pandas()``, ``to_arrow()``."""

    def __init__(self, api: Api, project: str | None, docs: list[RunDoc]) -> None:
        self._api = api
        self.project = project
        self._docs = docs  # Run objects are made when asked for: a table of 10,000 needs none

    def __len__(self) -> int:
        return len(self._docs)

    @property
    def api(self) -> Api:
        """The :class:`Api` these runs were read through."""
        return self._api

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return Runs(self._api, self.project, self._docs[index])
        return Run(self._api, self._docs[index])

    def __iter__(self) -> Iterator[Run]:
        api = self._api
        return (Run(api, d) for d in self._docs)

    def __repr__(self) -> str:
        return f"<tracker.Runs {self.project or '*'}: {len(self)} runs>"

    def display(self, height: int = 360) -> Any:
        """Show the run table (filter, group, columns, comparison of the selected runs) below the
        cell; returns the :class:`~tracker.ui.project.RunTable`."""
        from tracker.ui.entry import render

        return render(self, "display", height=height)

    def _ipython_display_(self) -> None:
        from tracker.ui.entry import render

        render(self, "ipython")

    def _repr_html_(self) -> str:
        """The run table as static HTML (the end of a cell, nbconvert, GitHub)."""
        from tracker.ui.entry import render

        return str(render(self, "html"))

    def records(self) -> list[dict[str, Any]]:
        """One flat dict a run: the fixed columns, then ``config.*`` and ``summary.*``."""
        return [d.flat() for d in self._docs]

    def to_pandas(self) -> pd.DataFrame:
        """One row a run: id, name, state, ..., ``config.*`` and ``summary.*`` columns."""
        docs = self._docs
        key = tuple(map(id, docs))
        cached = _FRAMES.get(key)
        if cached is not None:
            return cached[1].copy()
        frame = _frame(docs)
        if not any(is_live(d.written_state) for d in docs):  # rows of ended runs never change
            _FRAMES[key] = (list(docs), frame)
            while len(_FRAMES) > 4:
                _FRAMES.pop(next(iter(_FRAMES)))
            frame = frame.copy()
        return frame

    def to_arrow(self) -> pa.Table:
        """The same table as :meth:`to_pandas`, as Arrow."""
        import pyarrow as pa

        return pa.Table.from_pandas(self.to_pandas(), preserve_index=False)


#: Run tables of ended runs by the identity of their documents (the runs index hands out the same
#: document objects until a run changes): a table asked for again is a copy, not a rebuild.
_FRAMES: dict[tuple[int, ...], tuple[list[RunDoc], pd.DataFrame]] = {}


def _frame(docs: list[RunDoc]) -> pd.DataFrame:
    import pandas as pd

    records = [d.flat() for d in docs]
    frame = pd.DataFrame.from_records(records, columns=_columns(records))
    for col in ("created_at", "heartbeat_at"):
        frame[col] = pd.to_datetime(frame[col], unit="s", utc=True)
    return frame


def _columns(records: list[dict[str, Any]]) -> list[str]:
    from itertools import chain

    every = dict.fromkeys(chain.from_iterable(records))  # all keys, in first-seen order, in C
    config = [k for k in every if k.startswith("config.")]
    summary = [k for k in every if k.startswith("summary.")]
    return [*FIXED_FIELDS, *config, *summary]


class Run:
    """A run read from the store (finished, crashed, or still being written elsewhere)."""

    def __init__(self, api: Api, doc: RunDoc) -> None:
        self._api = api
        self._doc = doc
        self._status_read = time.monotonic()

    def __repr__(self) -> str:
        return f"<tracker.Run {self.path} name={self.name!r} state={self.state}>"

    def display(self, height: int = 420, hidden: bool = False) -> Any:
        """Show the run's page (Overview, Charts, System, Logs, Files, Artifacts, Execution, Media)
        below the cell, live while the run is being written; returns the
        :class:`~tracker.ui.panel.RunPanel` (``hidden=True`` builds it without showing it)."""
        from tracker.ui.entry import render

        return render(self, "display", height=height, hidden=hidden)

    def _ipython_display_(self) -> None:
        from tracker.ui.entry import render

        render(self, "ipython")

    def _repr_html_(self) -> str:
        """The run's overview as static HTML (the end of a cell, nbconvert, GitHub)."""
        from tracker.ui.entry import render

        return str(render(self, "html"))

    def to_html(self, height: int = 420, hidden: bool = False) -> str:
        """The run's overview as static HTML (W&B's ``to_html`` gives an iframe of its web page;
        here the page is local: the same card a saved notebook keeps). ``hidden`` gives ''."""
        if hidden:
            return ""
        from tracker.ui.entry import render

        html = str(render(self, "html"))
        return f"<div class='tracker-run-html' style='max-height:{int(height)}px;overflow:auto'>{html}</div>"

    # --- identity and metadata ---------------------------------------------------------------
    @property
    def api(self) -> Api:
        """The :class:`Api` this run was read through."""
        return self._api

    @property
    def _record(self) -> dict[str, Any]:
        return self._doc.record

    @property
    def id(self) -> str:
        return str(self._record["id"])

    @property
    def name(self) -> str:
        return str(self._record.get("name") or self.id)

    @property
    def project(self) -> str:
        return str(self._record["project"])

    @property
    def path(self) -> str:
        return f"{self.project}/{self.id}"

    @property
    def dir(self) -> str:
        return self._doc.dir

    @property
    def config(self) -> dict[str, Any]:
        return dict(self._record.get("config") or {})

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self._doc.summary)

    @property
    def config_groups(self) -> dict[str, dict[str, Any]]:
        """The config by ClearML-style group: ``Args`` (argparse), groups from ``run.connect``,
        ``General`` (everything else), and ``Environment`` (variables named by ``env_vars``)."""
        out = group_config(self.config, self._record.get("config_groups") or {})
        env = self._record.get("environment") or {}
        if env:
            out["Environment"] = dict(env)
        return out

    @property
    def config_objects(self) -> dict[str, Any]:
        """Configuration objects from ``run.connect_configuration``: name -> text (or dict for JSON)."""
        out: dict[str, Any] = {}
        for name, info in (self._record.get("config_objects") or {}).items():
            try:
                with open(self.file(info["file"]), encoding="utf-8") as fh:
                    text = fh.read()
            except (UsageError, OSError):
                continue
            if info.get("format") == "json":
                import json

                out[name] = json.loads(text)
            else:
                out[name] = text
        return out

    @property
    def user_properties(self) -> dict[str, Any]:
        """Free-form, editable properties (``set(user_properties=...)``)."""
        return dict(self._record.get("user_properties") or {})

    @property
    def tags(self) -> list[str]:
        return list(self._record.get("tags") or [])

    @property
    def notes(self) -> str | None:
        return self._record.get("notes")

    @property
    def group(self) -> str | None:
        return self._record.get("group")

    @property
    def job_type(self) -> str | None:
        return self._record.get("job_type")

    @property
    def host(self) -> str | None:
        return self._record.get("host")

    @property
    def user(self) -> str | None:
        return self._record.get("user")

    @property
    def metadata(self) -> dict[str, Any]:
        """Where, how and on what the run ran (see docs/context.md for every key).

        ``run.json``'s identity fields (program, args, cwd, python, executable, user, host,
        tracker_version, ...) merged with the captured context: ``host`` (OS, CPU, memory, GPUs,
        driver), ``program`` (script or notebook, command line), ``git`` (root, remote, branch,
        commit, dirty), ``packages`` (how many), ``skipped`` (what could not be captured, and why).
        """
        meta = {k: v for k, v in self._record.items() if k not in ("config",)}
        captured = self._api.query.metadata(self.dir)
        meta.update(captured)
        return meta

    def files(self) -> list[dict[str, Any]]:
        """The run's files (``diff.patch``, ``requirements.txt``, saved code, ...): name, size, path."""
        self._api.query.refresh_files(self.dir)
        base = os.path.join(self.dir, "files")
        out = []
        for folder, _, names in os.walk(base):
            for name in sorted(names):
                if name.endswith(".tmp"):
                    continue
                path = os.path.join(folder, name)
                try:
                    size = os.path.getsize(path)
                except OSError:
                    continue
                out.append({"name": os.path.relpath(path, base), "size": size, "path": path})
        return sorted(out, key=lambda f: f["name"])

    def file(self, name: str) -> str:
        """The path of one of the run's files, checked to stay inside the run's ``files/`` folder.

        Raises:
            UsageError: the name escapes the folder (``../``) or names no file.
        """
        self._api.query.refresh_files(self.dir)
        base = os.path.realpath(os.path.join(self.dir, "files"))
        path = os.path.realpath(os.path.join(base, name))
        if os.path.commonpath([base, path]) != base or not os.path.isfile(path):
            raise UsageError(f"run {self.path} has no file {name!r}")
        return path

    def logs(self, n: int | None = 10_000, stream: str | None = None) -> list[dict[str, Any]]:
        """The last ``n`` console lines (all with ``n=None``): ``{"line", "time", "stream", "text"}``.

        Args:
            n: how many of the last lines.
            stream: ``"stdout"`` or ``"stderr"`` only.
        """
        table = self._api.query.read_stream(self.dir, "console", keys=[stream] if stream else None)
        if table is None:
            return []
        lines = table.column("step").to_pylist()
        streams = table.column("key").cast("string").to_pylist()
        texts = table.column("text").to_pylist()
        times = table.column("time").to_pylist()
        rows = [
            {"line": ln, "time": t, "stream": st, "text": tx or ""}
            for ln, st, tx, t in zip(lines, streams, texts, times, strict=True)
        ]
        rows.sort(key=lambda r: r["line"])
        return rows[-n:] if n is not None and n < len(rows) else rows

    def media(self, key: str | None = None, step: int | None = None, kind: str | None = None) -> list[Any]:
        """The media logged (images, audio, HTML, tables, histograms), in step order.

        Args:
            key: only this key.
            step: only this step.
            kind: only ``"image"``, ``"audio"``, ``"html"``, ``"table"`` or ``"histogram"``.

        Returns:
            :class:`~tracker.api.media.MediaItem` objects: ``key``, ``step``, ``kind``, their
            facts (``width``, ``caption``, ...), ``path`` and ``load()``.
        """
        from tracker.api.media import read_index

        return read_index(self._api.query, self.dir, key, step, kind)

    def logs_text(self, n: int | None = 10_000) -> str:
        """The last ``n`` console lines as text, as they were printed."""
        return "".join(r["text"] + "\n" for r in self.logs(n))

    def save_logs(self, path: str | os.PathLike[str], n: int | None = None) -> str:
        """Write the console output (all of it by default) to a text file; returns its path."""
        path = os.fspath(path)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(self.logs_text(n))
        return path

    @property
    def metrics(self) -> list[dict[str, Any]]:
        """The ``define_metric`` definitions."""
        return list(self._record.get("metrics") or [])

    @property
    def created_at(self) -> float:
        """Unix time the run was first started."""
        return float(self._record.get("created_at") or 0.0)

    @property
    def status(self) -> dict[str, Any]:
        """The status record, re-read when older than half a second (for live polling)."""
        if time.monotonic() - self._status_read > 0.5:
            self.refresh_status()
        return self._doc.status

    @property
    def state(self) -> str:
        """running, finished, failed, crashed, killed, preempting or preempted."""
        return derive_state(self.status)

    @property
    def heartbeat_at(self) -> float | None:
        beat = self.status.get("heartbeat_at")
        return float(beat) if isinstance(beat, (int, float)) else None

    @property
    def last_step(self) -> int | None:
        step = self.status.get("last_step")
        return step if isinstance(step, int) and step >= 0 else None

    @property
    def exit_code(self) -> int | None:
        """The exit code the run ended with (``status.json``): 0 finished, 1 an uncaught exception
        or an exception leaving the ``with`` block, N from ``run.finish(exit_code=N)`` or
        ``sys.exit(N)``, 255 ``KeyboardInterrupt``, 128+signal SIGTERM; None while it runs, or
        when it crashed."""
        code = self.status.get("exit_code")
        return code if isinstance(code, int) and not isinstance(code, bool) else None

    @property
    def forked_from(self) -> dict[str, Any] | None:
        """``{"run": "project/id", "step": N}`` for a run started with ``init(fork_from=...)``: its
        history up to step N is that run's; None for any other run."""
        fork = self._record.get("forked_from")
        return dict(fork) if isinstance(fork, dict) else None

    @property
    def rewinds(self) -> list[dict[str, Any]]:
        """Each ``init(resume_from=...)`` of this run: ``{"step": N, "at": unix seconds}`` (its rows
        of later steps were moved into ``scalars/rewound-*/``), oldest first."""
        rewinds = self._record.get("rewinds")
        return [dict(r) for r in rewinds if isinstance(r, dict)] if isinstance(rewinds, list) else []

    def model_graphs(self) -> list[dict[str, Any]]:
        """The models the run watched (``run.watch``): per model ``index``, ``type``, ``log``,
        ``log_freq`` and ``modules`` (rows: ``name``, ``type``, ``depth``, ``params`` (own),
        ``total_params``, ``trainable_params``, ``output_shape`` from the first forward pass)."""
        return self._api.query.model_graphs(self.dir)

    @property
    def alerts(self) -> list[dict[str, Any]]:
        """The run's alerts (``run.alert``), oldest first: ``title``, ``text``, ``level`` (INFO,
        WARN, ERROR), ``time`` (Unix seconds), ``step`` and ``notified`` (False for a repeat of a
        title inside its ``wait_duration``: recorded, not sent)."""
        return self._api.query.alerts(self.dir)

    @property
    def exception(self) -> dict[str, str] | None:
        """What a failed run failed with: ``{"type", "message", "traceback"}`` (the exception's
        type name, its message, and the formatted traceback: the last 200 lines, at most 64 KB),
        recorded for an uncaught exception and for one leaving the ``with`` block; None otherwise
        (``run.finish(exit_code=N)`` records the exit code alone)."""
        record = self.status.get("exception")
        if not isinstance(record, dict):
            return None
        return {k: str(record.get(k) or "") for k in ("type", "message", "traceback")}

    @property
    def duration(self) -> float:
        """Seconds from creation to the end (or the last heartbeat; or now while running)."""
        st = self.status
        end = st.get("finished_at")
        if not isinstance(end, (int, float)):
            end = time.time() if is_live(self.state) else st.get("heartbeat_at")
        return max(0.0, float(end or self.created_at) - self.created_at)

    def refresh_status(self) -> None:
        """Re-read ``status.json``."""
        status = self._api.query.status(self.dir)
        if status is not None:
            d = self._doc
            self._doc = RunDoc(d.project, d.id, d.dir, d.record, status, d.summary, d.changed_ns)
        self._status_read = time.monotonic()

    def refresh(self) -> Run:
        """Re-read every side file (config, summary, status) of the run."""
        doc = self._api.query.run_doc(self._doc.project, self._doc.id)
        if doc is not None:
            self._doc = doc
        self._status_read = time.monotonic()
        return self

    def refresh_if_changed(self) -> bool:
        """Re-read the side files only if one was rewritten since they were read (one ``stat`` of
        the run's folder, whose mtime moves with each): what a live page calls a few times a second.
        Returns whether anything was re-read."""
        try:
            mtime = os.stat(self.dir).st_mtime_ns
        except OSError:
            return False
        if mtime == self._doc.changed_ns:
            return False
        doc = self._api.query.run_doc(self._doc.project, self._doc.id)  # carries the folder's mtime
        if doc is not None:
            self._doc = doc
        self._status_read = time.monotonic()
        return True

    def max_step(self, stream: str = "default") -> int | None:
        """The last step the store holds for a stream (from the segments' footers: no data read)."""
        stream_dir(self.dir, stream)
        return self._api.query.max_step(self.dir, stream)

    def stream_state(self, stream: str = "default") -> tuple[str, ...]:
        """A token that changes whenever a stream gets new data (its live segment files): a page
        compares it to skip re-reading a stream that did not move."""
        return tuple(os.path.basename(p) for p in self._api.query.stream_files(self.dir, stream).segments)

    load = refresh

    def fields(self) -> dict[str, Any]:
        """The run as one record, as a run table shows it: ``project``, ``id``, ``name``,
        ``state``, ``created_at``, ``heartbeat_at``, ``duration``, ``tags``, ``notes``, ``group``,
        ``job_type``, ``host``, ``user``, ``last_step``, and the nested ``config`` and ``summary``.
        One snapshot of the side files as last read (see :meth:`refresh`)."""
        return self._doc.fields()

    def artifact_refs(self) -> dict[str, list[str]]:
        """Qualified names (``project/name:vN``) of the artifacts the run ``used`` and ``logged``."""
        arts = self._record.get("artifacts") or {}
        return {"used": list(arts.get("used") or []), "logged": list(arts.get("logged") or [])}

    def used_artifacts(self) -> list[Any]:
        """The artifact versions the run used (``run.use_artifact``), as W&B's ``used_artifacts``."""
        return [self._api.artifact(name) for name in self.artifact_refs()["used"]]

    def logged_artifacts(self) -> list[Any]:
        """The artifact versions the run logged, as W&B's ``logged_artifacts``."""
        return [self._api.artifact(name) for name in self.artifact_refs()["logged"]]

    # --- history --------------------------------------------------------------------------
    # --- what charts read (the panels' contract with the read API) ------------------------------
    def series(
        self,
        keys: Sequence[str],
        buckets: int,
        x_axis: str = "_step",
        x_range: tuple[float, float] | None = None,
        stream: str = "default",
    ) -> dict[str, dict[str, Any]]:
        """Per key, the points a chart of ``2 * buckets`` pixels needs: the first, last, lowest and
        highest point of each of ``buckets`` buckets of x (exact; spikes survive), or the whole
        series when it is small. ``{"x", "y", "step", "time", "n"}`` (numpy arrays; ``n`` the
        number of points in the window). See :meth:`tracker.store.query.Query.series`."""
        stream_dir(self.dir, stream)
        return self._api.query.series(self.dir, keys, buckets, x_axis=x_axis, x_range=x_range,
                                      created_at=self.created_at, stream=stream)

    def numeric_keys(self, stream: str = "default") -> dict[str, int]:
        """The keys holding numbers and the last step each was logged at."""
        stream_dir(self.dir, stream)
        return self._api.query.numeric_keys(self.dir, stream)

    def tail(self, keys: Sequence[str], after_step: int, x_axis: str = "_step",
             stream: str = "default") -> dict[str, dict[str, Any]]:
        """Per key, the points logged after ``after_step`` (what a live chart appends):
        ``{"x", "y", "step", "time"}``."""
        stream_dir(self.dir, stream)
        return self._api.query.tail(self.dir, keys, after_step, x_axis=x_axis, created_at=self.created_at,
                                    stream=stream)

    def history(
        self,
        keys: Sequence[str] | None = None,
        x_axis: str = "_step",
        samples: int | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
        stream: str = "default",
        pandas: bool = True,
    ) -> Any:
        """The run's history as a wide frame: ``_step``, ``_timestamp``, ``_runtime``, one column a key.

        Args:
            keys: only these keys, and only rows where all of them were logged.
            x_axis: ``_step``, ``_timestamp``, ``_runtime`` or a logged key; rows without it are
                left out and it becomes the first column.
            samples: keep about this many rows per key, chosen in the query: per bucket of steps
                the first, last, smallest and largest value of each key (spikes survive).
            min_step: first step to include.
            max_step: first step to exclude.
            stream: ``"default"`` (what ``log`` wrote) or ``"system"``.
            pandas: a DataFrame (True) or a list of row dicts (False).
        """
        if isinstance(keys, str):
            keys = [keys]
        want = None if keys is None else list(dict.fromkeys(
            [*keys, *([x_axis] if x_axis not in _history.INDEX_COLUMNS else [])]
        ))
        table = self._long(want, samples, min_step, max_step, stream)
        if not pandas:
            rows = list(_history.iter_rows(table, self.created_at))
            if keys is not None:
                rows = [r for r in rows if all(k in r for k in keys)]
            if x_axis != "_step":
                rows = [r for r in rows if x_axis in r]
            return rows
        return _history.pivot(table, self.created_at, keys=keys, x_axis=x_axis)

    def _long(
        self, keys: Sequence[str] | None, samples: int | None, min_step: int | None,
        max_step: int | None, stream: str,
    ) -> pa.Table | None:
        stream_dir(self.dir, stream)
        if samples is not None:
            if not isinstance(samples, int) or isinstance(samples, bool):
                raise UsageError(f"samples must be an int, not {type(samples).__name__}")
            if samples < 4:
                raise UsageError(f"samples={samples!r} must be at least 4")
            wanted = list(keys) if keys is not None else list(self._api.query.numeric_keys(self.dir, stream))
            picked = self._api.query.series(self.dir, wanted, max(1, samples // 4), stream=stream,
                                            whole=False, min_step=min_step, max_step=max_step)
            return _history.points_table(picked)
        return self._api.query.read_stream(self.dir, stream, keys, min_step, max_step)

    def sample_history(self, min_step: int | None = None, max_step: int | None = None,
                       keys: Sequence[str] | None = None, samples: int | None = None, pandas: bool = True) -> Any:
        """W&B's name for :meth:`history` over a step window (``min_step`` included, ``max_step``
        excluded), as the ``Artifact.history_step`` example calls it."""
        return self.history(keys=keys, samples=samples, min_step=min_step, max_step=max_step, pandas=pandas)

    def scan_history(
        self,
        keys: Sequence[str] | None = None,
        page_size: int = 4096,
        min_step: int | None = None,
        max_step: int | None = None,
        stream: str = "default",
    ) -> Iterator[dict[str, Any]]:
        """Every row, streamed, as dicts holding only the keys logged at that step (exact types)."""
        stream_dir(self.dir, stream)
        table = self._api.query.read_stream(self.dir, stream, keys, min_step, max_step)
        for row in _history.iter_rows(table, self.created_at, page_size):
            if keys is None or all(k in row for k in keys):
                yield row

    def to_arrow(self, wide: bool = True, stream: str = "default") -> pa.Table:
        """The history as Arrow: the wide frame, or (``wide=False``) the stored long table."""
        import pyarrow as pa

        if wide:
            return pa.Table.from_pandas(self.history(stream=stream), preserve_index=False)
        stream_dir(self.dir, stream)
        table = self._api.query.read_stream(self.dir, stream)
        if table is None:
            import numpy as np

            from tracker.store.segments import columns_to_table

            empty: dict[str, Any] = {
                "step": np.empty(0, np.int64), "key": np.empty(0, np.int32), "kind": np.empty(0, np.int8),
                "value": np.empty(0), "time": np.empty(0), "null": None, "text": None,
            }
            return columns_to_table(empty, [])
        return table

    def to_pandas(self, **kwargs: Any) -> pd.DataFrame:
        """Same as :meth:`history`."""
        return self.history(**kwargs)

    # --- edits ------------------------------------------------------------------------------
    def update(self, record: dict[str, Any] | None = None) -> None:
        """Write edits of ``name``, ``notes``, ``tags`` and ``config`` made through :meth:`set`.

        Raises:
            UsageError: the run is still being written (edit it through its live ``Run`` instead).
        """
        if is_live(self.state):
            raise UsageError(
                f"run {self.path} is still being written by process {self.status.get('pid')}; "
                "edit it from that process (run.tags = ..., run.notes = ...)"
            )
        d = self._doc
        paths = layout.RunPaths(os.path.dirname(os.path.dirname(d.dir)), d.project, d.id)
        self._api.query.write_run_file(paths, paths.run_file, self._record if record is None else record)

    def set(
        self,
        *,
        name: str | None = None,
        notes: str | None = None,
        tags: Sequence[str] | None = None,
        user_properties: dict[str, Any] | None = None,
    ) -> Run:
        """Change name, notes, tags or user properties of a finished run and write them at once
        (a user property set to None is removed)."""
        import copy

        record = copy.deepcopy(self._record)  # the document read stays as it was read
        if user_properties is not None:
            props = record.setdefault("user_properties", {})
            for key, value in user_properties.items():
                if value is None:
                    props.pop(key, None)
                else:
                    props[key] = value
        if name is not None:
            record["name"] = str(name)
        if notes is not None:
            record["notes"] = str(notes)
        if tags is not None:
            record["tags"] = check_tags(tags)
        self.update(record)
        self.refresh()
        return self


__all__ = ["Api", "QueryError", "Run", "Runs"]
