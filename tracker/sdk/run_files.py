"""The run's files and artifacts: ``log_artifact``, ``use_artifact``, distributed artifacts,
the model registry, ``log_code``, ``save`` and ``restore``.

:class:`FilesAndArtifacts` does this work for one :class:`~tracker.sdk.run.Run`, whose methods of
the same names delegate to it. It is given what it needs (the run's paths, record, reporter and
step) when the run is made, and reads other runs' saved files straight from the store's layout.
"""

from __future__ import annotations

import os

from tracker.errors import RunNotFoundError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from tracker._report import Reporter
    from tracker.store.layout import RunPaths

#: Seconds between two looks (on the writer thread) for changed files of ``save(policy="live")``.
LIVE_SAVE_INTERVAL = 2.0


class FilesAndArtifacts:
    """The artifacts and saved files of one live run (the run's methods delegate to it).

    Args:
        paths: the run's files in the store.
        record: the run's ``run.json`` record, shared with the run: lineage is added to it.
        write_record: writes ``record`` to ``run.json``.
        reporter: reports files that cannot be copied.
        step: the run's nearest step with history (kept with each artifact version it logs).
        ignore_globs: ``save`` copies no file whose name matches one of these globs.
    """

    def __init__(
        self,
        *,
        paths: RunPaths,
        record: dict[str, Any],
        write_record: Callable[[], None],
        reporter: Reporter,
        step: Callable[[], int | None],
        ignore_globs: tuple[str, ...] = (),
    ) -> None:
        self._paths = paths
        self._record = record
        self._write_record = write_record
        self._reporter = reporter
        self._step = step
        self._ignore_globs = tuple(ignore_globs)
        self._saved_specs: list[dict[str, Any]] = []  # save() globs with the live/end policy
        self._saved_checked = 0.0

    @property
    def project(self) -> str:
        return self._paths.project

    @property
    def run_id(self) -> str:
        return self._paths.run_id

    @property
    def run_path(self) -> str:
        """``project/run_id``."""
        return f"{self._paths.project}/{self._paths.run_id}"

    # --- artifacts ----------------------------------------------------------------------------
    def log_artifact(
        self,
        artifact_or_path: Any,
        name: str | None = None,
        type: str | None = None,
        aliases: list[str] | None = None,
        tags: list[str] | None = None,
    ) -> Any:
        """See :meth:`tracker.sdk.run.Run.log_artifact`."""
        from tracker.artifacts.artifact import commit

        artifact = self._as_artifact(artifact_or_path, name, type)
        if tags:
            artifact.tags = list(tags)
        commit(artifact, self._paths.root, self.project, self.run_path, self._step(), aliases)
        self._lineage("logged", artifact.qualified_name)
        return artifact

    def use_artifact(self, artifact_or_name: Any, type: str | None = None, aliases: list[str] | None = None) -> Any:
        """See :meth:`tracker.sdk.run.Run.use_artifact`."""
        from tracker.artifacts import registry
        from tracker.artifacts.artifact import Artifact, commit, load, record_use
        from tracker.errors import ArtifactNotFoundError
        from tracker.store import layout
        from tracker.store.query import Query

        use_recorded = False
        if isinstance(artifact_or_name, Artifact):
            artifact = artifact_or_name
            if artifact.is_draft():
                commit(artifact, self._paths.root, self.project, None, None, aliases)
        else:
            source = layout.source_of(self._paths.root)
            reader = Query.at(source)  # an s3:// store: its mirror, brought up to date
            reader.refresh_artifacts()
            try:
                project, name, version = registry.resolve(reader.root, artifact_or_name, self.project)
            except ArtifactNotFoundError:
                if reader.root == self._paths.root:
                    raise
                # logged by this process and not uploaded yet: in the spool
                project, name, version = registry.resolve(self._paths.root, artifact_or_name, self.project)
                reader = Query.at(self._paths.root)
            artifact = load(reader.root, project, name, version)
            if reader.root != self._paths.root:  # the use is recorded in the spool, uploaded with the run
                registry.record_consumer(registry.collection_dir(self._paths.root, project, name), version,
                                         self.run_path)
                use_recorded = True
        if type is not None and artifact.type != type:
            raise UsageError(f"artifact {artifact.qualified_name} has type {artifact.type!r}, not {type!r}")
        if not use_recorded:
            record_use(artifact, self.run_path)  # committed above
        self._lineage("used", artifact.qualified_name)
        return artifact

    def _as_artifact(self, artifact_or_path: Any, name: str | None, type: str | None) -> Any:
        from tracker.artifacts import Artifact

        if isinstance(artifact_or_path, Artifact):
            return artifact_or_path
        path = os.fspath(artifact_or_path)
        artifact = Artifact(name or f"run-{self.run_id}-{os.path.basename(os.path.normpath(path))}",
                            type or "unspecified")
        if os.path.isdir(path):
            artifact.add_dir(path)
        else:
            artifact.add_file(path)
        return artifact

    def _distributed_id(self, distributed_id: str | None) -> str:
        did = distributed_id or self._record.get("group")
        if not did:
            raise UsageError("upsert_artifact/finish_artifact need a distributed_id or a run group "
                             "(tracker.init(group=...)) shared by the contributing runs")
        return did

    def upsert_artifact(self, artifact_or_path: Any, name: str | None = None, type: str | None = None,
                        aliases: list[str] | None = None, distributed_id: str | None = None) -> Any:
        """See :meth:`tracker.sdk.run.Run.upsert_artifact`."""
        from tracker.artifacts.distributed import upsert

        artifact = self._as_artifact(artifact_or_path, name, type)
        return upsert(artifact, self._paths.root, self.project, self._distributed_id(distributed_id), self.run_id)

    def finish_artifact(self, artifact_or_path: Any, name: str | None = None, type: str | None = None,
                        aliases: list[str] | None = None, distributed_id: str | None = None) -> Any:
        """See :meth:`tracker.sdk.run.Run.finish_artifact`."""
        from tracker.artifacts.distributed import finish

        artifact = self._as_artifact(artifact_or_path, name, type)
        committed = finish(artifact, self._paths.root, self.project, self._distributed_id(distributed_id),
                           self.run_id, self.run_path, self._step(), aliases)
        self._lineage("logged", committed.qualified_name)
        return committed

    def log_code(
        self,
        root: str | os.PathLike[str] = ".",
        name: str | None = None,
        include_fn: Any = None,
        exclude_fn: Any = None,
    ) -> Any:
        """See :meth:`tracker.sdk.run.Run.log_code`."""
        from tracker.artifacts import Artifact

        base = os.path.abspath(os.fspath(root))
        skip = {".venv", "venv", ".git", "__pycache__", "node_modules", ".tox", ".mypy_cache"}
        store = os.path.abspath(self._paths.root)
        include = _path_filter(include_fn) if include_fn else (lambda path, root=None: path.endswith(".py"))
        exclude = _path_filter(exclude_fn) if exclude_fn else (lambda path, root=None: False)
        artifact = Artifact(name or f"source-{self.project}-{self.run_id}", "code")
        for folder, dirs, files in os.walk(base, followlinks=False):
            dirs[:] = sorted(d for d in dirs if d not in skip and os.path.join(folder, d) != store)
            for f in sorted(files):
                path = os.path.join(folder, f)
                if include(path, base) and not exclude(path, base) and os.path.isfile(path):
                    artifact.add_file(path, os.path.relpath(path, base))
        if artifact.file_count == 0:
            return None
        return self.log_artifact(artifact)

    def link_artifact(self, artifact: Any, target_path: str, aliases: list[str] | None = None) -> Any:
        """See :meth:`tracker.sdk.run.Run.link_artifact`."""
        from tracker.artifacts.links import link

        if artifact.is_draft():
            artifact = self.log_artifact(artifact)
        return link(artifact, target_path, aliases, default_project=self.project, run_path=self.run_path)

    def log_model(self, path: str | os.PathLike[str], name: str | None = None, aliases: list[str] | None = None) -> Any:
        """See :meth:`tracker.sdk.run.Run.log_model`."""
        from tracker.artifacts import Artifact

        local = os.fspath(path)
        artifact = Artifact(name or f"run-{self.run_id}-{os.path.basename(os.path.normpath(local))}", "model")
        if os.path.isdir(local):
            artifact.add_dir(local)
        else:
            artifact.add_file(local)
        return self.log_artifact(artifact, aliases=aliases)

    def use_model(self, name: str) -> str:
        """See :meth:`tracker.sdk.run.Run.use_model`."""
        artifact = self.use_artifact(name)
        if "model" not in artifact.type:
            raise UsageError(f"{artifact.qualified_name} has type {artifact.type!r}: use_model wants a model")
        return str(artifact.download())

    def link_model(
        self, path: str | os.PathLike[str], registered_model_name: str, name: str | None = None,
        aliases: list[str] | None = None,
    ) -> Any:
        """See :meth:`tracker.sdk.run.Run.link_model`."""
        from tracker.artifacts.links import REGISTRY_PROJECT

        if "/" in registered_model_name:
            raise UsageError(f"registered_model_name {registered_model_name!r} is a name, not a path")
        model = self.log_model(path, name)
        return self.link_artifact(model, f"{REGISTRY_PROJECT}/{registered_model_name}", aliases)

    # --- run files ------------------------------------------------------------------------------
    def save(self, glob_str: str | os.PathLike[str], base_path: str | os.PathLike[str] | None = None,
             policy: str = "live") -> list[str]:
        """See :meth:`tracker.sdk.run.Run.save`."""
        if policy not in ("live", "now", "end"):
            raise UsageError(f"save(policy={policy!r}) is not one of 'live', 'now', 'end'")
        raw = os.fspath(glob_str)
        pattern = os.path.abspath(raw)
        if base_path is not None:
            base = os.path.abspath(os.fspath(base_path))
        elif os.path.isabs(raw) or os.path.relpath(pattern).startswith(".."):
            # W&B: an absolute glob keeps one folder level ("/data/run123/*.txt" -> "run123/...")
            base = os.path.dirname(os.path.dirname(pattern))
        else:  # a relative glob keeps its folders ("these/are/myfiles/*" -> "these/are/myfiles/...")
            base = os.getcwd()
        spec: dict[str, Any] = {"pattern": pattern, "base": base, "policy": policy, "copied": {}}
        saved = self._sync_saved(spec, copy=policy != "end")
        if policy != "now":
            self._saved_specs.append(spec)
        return saved

    def _sync_saved(self, spec: dict[str, Any], copy: bool = True) -> list[str]:
        """Copy what matches ``spec`` and changed since its last copy; returns the matched names."""
        import glob
        import shutil

        names = []
        for path in sorted(glob.glob(spec["pattern"], recursive=True)):
            if not os.path.isfile(path):
                continue
            rel = os.path.relpath(path, spec["base"])
            if rel.startswith(".."):
                raise UsageError(f"save(): {path} is not under base_path {spec['base']}")
            name = rel.replace(os.sep, "/")
            if self._ignored(name):
                continue
            names.append(name)
            if not copy:
                continue
            st = os.stat(path)
            stamp = (st.st_size, st.st_mtime_ns)
            if spec["copied"].get(path) == stamp:
                continue
            dest = os.path.join(self._paths.files_dir, rel)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            tmp = f"{dest}.{os.getpid()}.tmp"
            shutil.copyfile(path, tmp)
            os.replace(tmp, dest)
            spec["copied"][path] = stamp
        return names

    def _ignored(self, name: str) -> bool:
        """Whether a saved file's name (relative to ``files/``) matches the ``ignore_globs`` setting."""
        import fnmatch

        return any(fnmatch.fnmatchcase(name, g) or fnmatch.fnmatchcase(os.path.basename(name), g)
                   for g in self._ignore_globs)

    def sync_saved(self, live_only: bool = False) -> None:
        """Copy the files of earlier ``save`` calls that changed or appeared since (only those with
        the ``live`` policy when ``live_only``); a file that cannot be copied is reported."""
        for spec in list(self._saved_specs):
            if live_only and spec["policy"] != "live":
                continue
            try:
                self._sync_saved(spec)
            except OSError as exc:
                self._reporter.background_problem(
                    ("save", spec["pattern"]), f"cannot copy files matching {spec['pattern']}: {exc}"
                )

    def sync_live_if_due(self, now: float) -> None:
        """Called on the writer thread after each flush: copy what changed for ``save(policy="live")``,
        at most every :data:`LIVE_SAVE_INTERVAL` seconds (an OSError is reported, not raised)."""
        if self._saved_specs and now - self._saved_checked >= LIVE_SAVE_INTERVAL:
            self._saved_checked = now
            self.sync_saved(live_only=True)

    def restore(self, name: str, run_path: str | None = None, replace: bool = False,
                root: str | os.PathLike[str] | None = None) -> Any:
        """See :meth:`tracker.sdk.run.Run.restore`."""
        return restore_copy(self.saved_file(run_path or self.run_path, name), name, replace, root)

    def saved_file(self, run_path: str, name: str) -> str:
        """The path of a file saved by the run ``run_path`` (``project/run_id`` or
        ``entity/project/run_id``, in this run's store), checked to stay inside its ``files/``.

        Raises:
            UsageError: a malformed run path, or the name escapes the folder or names no file.
            RunNotFoundError: no such run in the store.
        """
        from tracker.store import layout
        from tracker.store.query import Query

        project, run_id = layout.parse_run_path(run_path)
        source = layout.RunPaths(self._paths.root, project, run_id)
        if Query.at(self._paths.root).run_doc(project, run_id) is None:
            raise RunNotFoundError(f"no run {project}/{run_id} in {self._paths.root}")
        base = os.path.realpath(source.files_dir)
        path = os.path.realpath(os.path.join(base, name))
        if os.path.commonpath([base, path]) != base or not os.path.isfile(path):
            raise UsageError(f"run {project}/{run_id} has no file {name!r}")
        return path

    def _lineage(self, direction: str, qualified_name: str) -> None:
        record = self._record.setdefault("artifacts", {"logged": [], "used": []})
        if qualified_name not in record.setdefault(direction, []):
            record[direction].append(qualified_name)
            self._write_record()


def _path_filter(fn: Any) -> Any:
    """``fn`` as ``(path, root) -> bool``: W&B calls a filter with both when it takes two arguments
    and with the path alone when it takes one (its docs show ``lambda path: ...``)."""
    import inspect

    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature: called as W&B documents
        return fn
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind == p.VAR_POSITIONAL for p in params) or len(positional) >= 2:
        return fn
    return lambda path, root=None: fn(path)


def restore_copy(source: str, name: str, replace: bool, root: str | os.PathLike[str] | None) -> Any:
    """Copy a saved file to ``root/name`` (``root``: the working directory by default) unless it is
    there already (or ``replace``), and return it opened for reading, as W&B's ``restore`` does."""
    dest = os.path.join(os.fspath(root) if root is not None else os.getcwd(), *name.split("/"))
    if replace or not os.path.exists(dest):
        import shutil

        os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
        shutil.copyfile(source, dest)
    return open(dest)  # noqa: SIM115 - returned to the caller, as W&B does
