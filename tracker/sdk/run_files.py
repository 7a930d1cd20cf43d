"""The run's files and artifacts: ``log_artifact``, ``use_artifact``, distributed artifacts,
the model registry, ``log_code``, ``save`` and ``restore`` (mixed into :class:`~tracker.sdk.run.Run`).
"""

from __future__ import annotations

import os

from tracker.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tracker._report import Reporter
    from tracker.store.layout import RunPaths


class RunFiles:
    """Artifacts and saved files of a run."""

    if TYPE_CHECKING:
        _paths: RunPaths
        _step: int
        _record: dict[str, Any]
        _reporter: Reporter
        _saved_specs: list[dict[str, Any]]

        @property
        def id(self) -> str: ...

        @property
        def project(self) -> str: ...

        @property
        def path(self) -> str: ...

        @property
        def group(self) -> str | None: ...

        def _write_record(self) -> None: ...

    # --- artifacts ----------------------------------------------------------------------------
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
        artifact = self._as_artifact(artifact_or_path, name, type)
        if tags:
            artifact.tags = list(tags)
        artifact._commit(self._paths.root, self.project, self.path, self._step, aliases)
        self._lineage("logged", artifact.qualified_name)
        return artifact

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
        from tracker.artifacts import Artifact, registry
        from tracker.artifacts.artifact import load

        if isinstance(artifact_or_name, Artifact):
            artifact = artifact_or_name
            if artifact.is_draft():
                artifact._commit(self._paths.root, self.project, None, None, aliases)
        else:
            project, name, version = registry.resolve(self._paths.root, artifact_or_name, self.project)
            artifact = load(self._paths.root, project, name, version)
        if type is not None and artifact.type != type:
            raise UsageError(f"artifact {artifact.qualified_name} has type {artifact.type!r}, not {type!r}")
        registry.record_consumer(artifact._cdir(), artifact._version or 0, self.path)  # committed above
        self._lineage("used", artifact.qualified_name)
        return artifact

    def _as_artifact(self, artifact_or_path: Any, name: str | None, type: str | None) -> Any:
        from tracker.artifacts import Artifact

        if isinstance(artifact_or_path, Artifact):
            return artifact_or_path
        path = os.fspath(artifact_or_path)
        artifact = Artifact(name or f"run-{self.id}-{os.path.basename(os.path.normpath(path))}", type or "unspecified")
        if os.path.isdir(path):
            artifact.add_dir(path)
        else:
            artifact.add_file(path)
        return artifact

    def _distributed_id(self, distributed_id: str | None) -> str:
        did = distributed_id or self.group
        if not did:
            raise UsageError("upsert_artifact/finish_artifact need a distributed_id or a run group "
                             "(tracker.init(group=...)) shared by the contributing runs")
        return did

    def upsert_artifact(self, artifact_or_path: Any, name: str | None = None, type: str | None = None,
                        aliases: list[str] | None = None, distributed_id: str | None = None) -> Any:
        """Add this process's files to a version that several runs build together (keyed by
        ``distributed_id``, default the run's group); ``finish_artifact`` commits it."""
        from tracker.artifacts.distributed import upsert

        artifact = self._as_artifact(artifact_or_path, name, type)
        return upsert(artifact, self._paths.root, self.project, self._distributed_id(distributed_id), self.id)

    def finish_artifact(self, artifact_or_path: Any, name: str | None = None, type: str | None = None,
                        aliases: list[str] | None = None, distributed_id: str | None = None) -> Any:
        """Commit the version built by ``upsert_artifact`` calls (this run's files included)."""
        from tracker.artifacts.distributed import finish

        artifact = self._as_artifact(artifact_or_path, name, type)
        committed = finish(artifact, self._paths.root, self.project, self._distributed_id(distributed_id),
                           self.id, self.path, self._step, aliases)
        self._lineage("logged", committed.qualified_name)
        return committed

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
        from tracker.artifacts import Artifact

        base = os.path.abspath(os.fspath(root))
        skip = {".venv", "venv", ".git", "__pycache__", "node_modules", ".tox", ".mypy_cache"}
        store = os.path.abspath(self._paths.root)
        include = include_fn or (lambda path, root=None: path.endswith(".py"))
        exclude = exclude_fn or (lambda path, root=None: False)
        artifact = Artifact(name or f"source-{self.project}-{self.id}", "code")
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
        """Link a logged artifact into a portfolio (``portfolio`` or ``project/portfolio``): a
        collection of links with aliases of its own (the model registry is made of these).

        Returns:
            The link, an artifact whose ``source_*`` properties name the linked version.
        """
        from tracker.artifacts.links import link

        if artifact.is_draft():
            artifact = self.log_artifact(artifact)
        return link(artifact, target_path, aliases, default_project=self.project, run_path=self.path)

    def log_model(self, path: str | os.PathLike[str], name: str | None = None, aliases: list[str] | None = None) -> Any:
        """Log a model file or folder as an artifact of type ``model``."""
        from tracker.artifacts import Artifact

        local = os.fspath(path)
        artifact = Artifact(name or f"run-{self.id}-{os.path.basename(os.path.normpath(local))}", "model")
        if os.path.isdir(local):
            artifact.add_dir(local)
        else:
            artifact.add_file(local)
        return self.log_artifact(artifact, aliases=aliases)

    def use_model(self, name: str) -> str:
        """Use a model artifact (``name:alias``, or a registry link such as
        ``model-registry/mnist-classifier:production``) and return the folder it was downloaded to."""
        artifact = self.use_artifact(name)
        if "model" not in artifact.type:
            raise UsageError(f"{artifact.qualified_name} has type {artifact.type!r}: use_model wants a model")
        return str(artifact.download())

    def link_model(
        self, path: str | os.PathLike[str], registered_model_name: str, name: str | None = None,
        aliases: list[str] | None = None,
    ) -> Any:
        """Log a model (or reuse the version with the same files) and link it to a registered
        model in the local registry (the ``model-registry`` project)."""
        from tracker.artifacts.links import REGISTRY_PROJECT

        if "/" in registered_model_name:
            raise UsageError(f"registered_model_name {registered_model_name!r} is a name, not a path")
        model = self.log_model(path, name)
        return self.link_artifact(model, f"{REGISTRY_PROJECT}/{registered_model_name}", aliases)

    # --- run files ------------------------------------------------------------------------------
    def save(self, glob_str: str | os.PathLike[str], base_path: str | os.PathLike[str] | None = None,
             policy: str = "live") -> list[str]:
        """Copy files matching a glob into the run's files (``Api().run(p).files()``).

        Args:
            glob_str: a path or glob (``"checkpoints/*.pt"``, ``"**/*.yaml"``).
            base_path: the folder the stored paths are relative to (default: the glob's folder).
            policy: ``"now"`` (copied once, now), ``"live"`` (now, and again whenever a matching
                file changes or appears, until the run ends), ``"end"`` (when the run ends).

        Returns:
            The stored paths (relative to the run's files folder) matched now.
        """
        if policy not in ("live", "now", "end"):
            raise UsageError(f"save(policy={policy!r}) is not one of 'live', 'now', 'end'")
        pattern = os.path.abspath(os.fspath(glob_str))
        if base_path is None:
            head = pattern
            while any(c in head for c in "*?["):
                head = os.path.dirname(head)
            base = head if os.path.isdir(head) and head != pattern else os.path.dirname(head)
        else:
            base = os.path.abspath(os.fspath(base_path))
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
            names.append(rel.replace(os.sep, "/"))
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

    def _sync_saved_all(self, live_only: bool = False) -> None:
        for spec in list(self._saved_specs):
            if live_only and spec["policy"] != "live":
                continue
            try:
                self._sync_saved(spec)
            except OSError as exc:
                self._reporter.background_problem(
                    ("save", spec["pattern"]), f"cannot copy files matching {spec['pattern']}: {exc}"
                )

    def restore(self, name: str, run_path: str | None = None, replace: bool = False,
                root: str | os.PathLike[str] | None = None) -> Any:
        """Fetch a file saved with ``save`` (by this run, or by ``run_path``) into ``root``
        (default: the working directory) and return it opened for reading.

        Raises:
            UsageError: the run has no such file.
        """
        from tracker.api.public import Api

        source_run = Api(dir=self._paths.root).run(run_path or self.path)
        source = source_run.file(name)
        dest = os.path.join(os.fspath(root) if root is not None else os.getcwd(), *name.split("/"))
        if replace or not os.path.exists(dest):
            import shutil

            os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
            shutil.copyfile(source, dest)
        return open(dest)  # noqa: SIM115 - returned to the caller, as W&B does

    def _lineage(self, direction: str, qualified_name: str) -> None:
        record = self._record.setdefault("artifacts", {"logged": [], "used": []})
        if qualified_name not in record.setdefault(direction, []):
            record[direction].append(qualified_name)
            self._write_record()
