"""``tracker.Artifact``: versioned, deduplicated files with lineage (W&B's Artifact API).

An artifact is built (``add_file``, ``add_dir``, ``add_reference``, ``new_file``, ``add``), then
logged by a run (``run.log_artifact``), which stores each file once by content and commits a new
version of the collection ``name`` (``v0``, ``v1``, ...). Logging content identical to the
latest version creates no new version. ``run.use_artifact("name:alias")`` records the run as a
consumer and returns the committed artifact, whose files ``download``/``checkout`` copy out.
"""

from __future__ import annotations

import os
import time

from tracker.artifacts import registry
from tracker.artifacts.objects import FileChangedError, ObjectStore, sha256_file
from tracker.errors import ArtifactNotFoundError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

MAX_METADATA_KEYS = 100


def _clean_path(name: str) -> str:
    """An entry path: relative, ``/``-separated, normalised, never leaving the artifact."""
    if not isinstance(name, str) or not name:
        raise UsageError(f"an artifact entry needs a non-empty relative path, not {name!r}")
    parts = []
    for part in name.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise UsageError(f"artifact entry {name!r} leaves the artifact ('..' is not allowed)")
        parts.append(part)
    if not parts or name.startswith("/"):
        raise UsageError(f"artifact entry {name!r} must be a relative path inside the artifact")
    return "/".join(parts)


class ManifestEntry:
    """One file of an artifact: its path in the artifact, digest, size, and reference URI if any."""

    def __init__(self, path: str, digest: str, size: int, ref: str | None = None,
                 source: str | None = None, mtime_ns: int | None = None, artifact: Artifact | None = None,
                 checksum: bool = True) -> None:
        self.path = path
        self.digest = digest
        self.size = size
        self.ref = ref
        #: False for a reference recorded without reading its content (``checksum=False``, or an
        #: unreachable URL): its digest names the reference, not the bytes
        self.checksum = checksum
        self._source = source
        self._mtime_ns = mtime_ns
        self._artifact = artifact

    def __repr__(self) -> str:
        return f"<ManifestEntry {self.path} sha256:{self.digest[:12]} {self.size} B>"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"digest": self.digest, "size": self.size, "ref": self.ref}
        if not self.checksum:
            out["checksum"] = False
        return out

    def download(self, root: str | None = None) -> str:
        """Copy this file out (atomically); returns its path."""
        if self._artifact is None:
            raise UsageError("this entry belongs to no artifact")
        return self._artifact._download_entry(self, root or self._artifact.default_root())


class Manifest:
    """The entries of an artifact version; it cannot change once the version is logged."""

    def __init__(self, entries: dict[str, ManifestEntry]) -> None:
        self.entries = entries

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "entries": {p: e.to_json() for p, e in sorted(self.entries.items())}}

    def digest(self) -> str:
        import hashlib

        h = hashlib.sha256()
        for path, entry in sorted(self.entries.items()):
            h.update(f"{path}\0{entry.digest}\0{entry.size}\n".encode())
        return h.hexdigest()


class Artifact:
    """A set of files versioned together.

    Args:
        name: the collection name (letters, digits, ``_``, ``-``, ``.``).
        type: e.g. ``"dataset"``, ``"model"`` (``job`` and ``wandb-*``/``tracker-*`` are reserved).
        description: free text (Markdown).
        metadata: up to 100 keys of JSON data.
    """

    def __init__(
        self,
        name: str,
        type: str,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        incremental: bool = False,
        use_as: str | None = None,
    ) -> None:
        self._name = registry.check_artifact_name(name)
        self._type = registry.check_type(type)
        self.description = description
        self._metadata: dict[str, Any] = {}
        self.metadata = metadata or {}
        self._entries: dict[str, ManifestEntry] = {}
        self._aliases: list[str] = []
        self._tags: list[str] = []
        self._ttl: float | None = None  # seconds
        self._state = "PENDING"
        self._version: int | None = None
        self._project: str | None = None
        self._root: str | None = None
        self._created_at: float | None = None
        self._updated_at: float | None = None
        self._logged_by: str | None = None
        self._history_step: int | None = None
        self._staging: str | None = None
        self._link_of: str | None = None
        self._progress: Callable[[int], None] | None = None
        del incremental, use_as  # accepted for W&B compatibility; new_draft() is the way here

    # --- identity ---------------------------------------------------------------------------
    @property
    def ttl(self) -> Any:
        """How long the version is kept after it is made, as a ``datetime.timedelta`` (None: for
        ever); ``tracker gc`` deletes versions past it that hold no alias but ``latest``. Set a
        ``timedelta``, a number of seconds, or None."""
        import datetime

        return None if self._ttl is None else datetime.timedelta(seconds=self._ttl)

    @ttl.setter
    def ttl(self, value: Any) -> None:
        seconds: float | None
        if value is None:
            seconds = None
        elif hasattr(value, "total_seconds"):
            seconds = float(value.total_seconds())
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            seconds = float(value)
        else:
            raise UsageError(f"ttl={value!r}: give a datetime.timedelta, a number of seconds or None")
        if seconds is not None and not seconds >= 0:
            raise UsageError(f"ttl={value!r} is negative")
        self._ttl = seconds

    @property
    def name(self) -> str:
        """``collection:vN`` once logged, the collection name before."""
        return f"{self._name}:v{self._version}" if self._version is not None else self._name

    @property
    def type(self) -> str:
        return self._type

    @property
    def version(self) -> str:
        if self._version is None:
            raise UsageError(f"artifact {self._name} is not logged yet: it has no version")
        return f"v{self._version}"

    @property
    def project(self) -> str | None:
        return self._project

    @property
    def entity(self) -> None:
        return None

    @property
    def qualified_name(self) -> str:
        """``project/collection:vN``."""
        return f"{self._project}/{self.name}" if self._project else self.name

    @property
    def is_link(self) -> bool:
        """Whether this is a link in a portfolio (the model registry) to another version."""
        return self._link_of is not None

    def _source(self) -> tuple[str | None, str, int | None]:
        if self._link_of is None:
            return self._project, self._name, self._version
        path, _, v = self._link_of.partition(":")
        project, _, name = path.partition("/")
        return project, name, int(v[1:])

    @property
    def source_name(self) -> str:
        _, name, v = self._source()
        return f"{name}:v{v}" if v is not None else name

    @property
    def source_qualified_name(self) -> str:
        project, _, _ = self._source()
        return f"{project}/{self.source_name}" if project else self.source_name

    @property
    def source_version(self) -> str:
        return f"v{self._source()[2]}"

    @property
    def source_project(self) -> str | None:
        return self._source()[0]

    @property
    def source_collection(self) -> str:
        return self._source()[1]

    source_entity = entity

    @property
    def source_artifact(self) -> Artifact:
        """The linked version (itself when this is not a link)."""
        if self._link_of is None or self._root is None:
            return self
        project, name, version = self._source()
        return load(self._root, project or "", name, version or 0)

    @property
    def collection(self) -> str:
        return self._name

    @property
    def id(self) -> str | None:
        return None if self._version is None else f"{self._project}/{self._name}:v{self._version}"

    @property
    def state(self) -> str:
        """``PENDING`` (being built), ``COMMITTED`` (logged) or ``DELETED``."""
        return self._state

    def is_draft(self) -> bool:
        return self._state == "PENDING"

    @property
    def created_at(self) -> str | None:
        return _iso(self._created_at)

    @property
    def updated_at(self) -> str | None:
        return _iso(self._updated_at or self._created_at)

    @property
    def history_step(self) -> int | None:
        """The nearest step at which the logging run had logged history when this version was
        logged (the step it was gathering, else its last committed one; None before any)."""
        return self._history_step

    @property
    def metadata(self) -> dict[str, Any]:
        return self._metadata

    @metadata.setter
    def metadata(self, value: dict[str, Any]) -> None:
        if not isinstance(value, dict):
            raise UsageError(f"artifact metadata must be a dict, not {type(value).__name__}")
        if len(value) > MAX_METADATA_KEYS:
            raise UsageError(f"artifact metadata has {len(value)} keys; at most {MAX_METADATA_KEYS} are allowed")
        from tracker.convert import to_jsonable

        def problem(kind: Any, msg: str) -> None:
            raise UsageError(f"artifact metadata: {msg}")

        self._metadata = to_jsonable(dict(value), "metadata", problem)

    @property
    def aliases(self) -> list[str]:
        """Mutable aliases of this version (``latest`` is always on the newest); ``save()`` applies edits."""
        return self._aliases

    @aliases.setter
    def aliases(self, value: list[str]) -> None:
        self._aliases = [registry.check_artifact_name(a, "alias") for a in value]

    @property
    def tags(self) -> list[str]:
        return self._tags

    @tags.setter
    def tags(self, value: list[str]) -> None:
        self._tags = [registry.check_artifact_name(t, "tag") for t in value]

    # --- contents ---------------------------------------------------------------------------
    def _check_draft(self, what: str) -> None:
        if self._state != "PENDING":
            raise UsageError(
                f"artifact {self.qualified_name} is logged and cannot change ({what}); "
                "call new_draft() for a new version"
            )

    def add_file(self, local_path: str | os.PathLike[str], name: str | None = None, is_tmp: bool = False,
                 skip_cache: bool = False, policy: str = "mutable", overwrite: bool = False) -> ManifestEntry:
        """Add a local file (hashed now; copied into the store when the artifact is logged).

        Raises:
            UsageError: the file does not exist, the name leaves the artifact, or the name is
                taken (without ``overwrite``).
            FileChangedError: the file changed while it was being hashed.
        """
        self._check_draft("add_file")
        path = os.fspath(local_path)
        if not os.path.isfile(path):
            raise UsageError(f"add_file: {path} is not a file")
        entry_name = _clean_path(name or os.path.basename(path))
        if entry_name in self._entries and not overwrite:
            raise UsageError(f"artifact {self._name} already has {entry_name!r}; pass overwrite=True to replace it")
        stat = os.stat(path)
        with self._bar(stat.st_size, f"hashing {entry_name}"):
            digest, size = sha256_file(path, self._progress)
        entry = ManifestEntry(entry_name, digest, size, source=os.path.abspath(path),
                              mtime_ns=stat.st_mtime_ns, artifact=self)
        self._entries[entry_name] = entry
        del is_tmp, skip_cache, policy
        return entry

    def add_dir(self, local_path: str | os.PathLike[str], name: str | None = None, skip_cache: bool = False,
                policy: str = "mutable", merge: bool = False) -> None:
        """Add every file below a folder (``name`` prefixes their paths). Symbolic links to
        folders are not followed (so a link loop cannot trap it); links to files are added."""
        self._check_draft("add_dir")
        root = os.fspath(local_path)
        if not os.path.isdir(root):
            raise UsageError(f"add_dir: {root} is not a folder")
        prefix = _clean_path(name) + "/" if name else ""
        found = []
        for folder, dirs, files in os.walk(root, followlinks=False):
            dirs.sort()
            for f in sorted(files):
                full = os.path.join(folder, f)
                if os.path.isfile(full):  # not a dangling link, a socket, a FIFO
                    found.append((full, prefix + os.path.relpath(full, root).replace(os.sep, "/")))
        for _, rel in found:
            if _clean_path(rel) in self._entries and not merge:
                raise UsageError(f"artifact {self._name} already has {rel!r}; pass merge=True to replace it")

        def hash_one(item: tuple[str, str]) -> ManifestEntry:
            full, rel = item
            st = os.stat(full)
            digest, size = sha256_file(full, self._progress)
            return ManifestEntry(_clean_path(rel), digest, size, source=os.path.abspath(full),
                                 mtime_ns=st.st_mtime_ns, artifact=self)

        total = sum(os.path.getsize(full) for full, _ in found)
        with self._bar(total, f"hashing {len(found)} files of {root}"):
            hashed = _each(hash_one, found)  # files hashed on several threads, added in order
        for entry in hashed:
            self._entries[entry.path] = entry

    def add_reference(self, uri: str, name: str | None = None, checksum: bool = True,
                      max_objects: int | None = None) -> list[ManifestEntry]:
        """Track files by reference: hashed, not copied; ``download`` reads them from where they are.

        ``file://`` paths (a file, or a folder's files); ``http://`` and ``https://`` URLs (one file:
        read once for its SHA-256 with ``checksum=True``, only a ``HEAD`` for its ``ETag`` otherwise;
        an unreachable URL is recorded all the same with one warning; see
        :mod:`tracker.artifacts.http_refs`). Object-store URIs (``s3://``, ...) come with
        object-store roots."""
        self._check_draft("add_reference")
        if not isinstance(uri, str) or "://" not in uri:
            raise UsageError(f"add_reference takes a URI such as file:///data/train.csv, not {uri!r}")
        scheme, _, rest = uri.partition("://")
        if scheme.lower() in ("http", "https"):
            return [self._add_http_ref(uri, name, checksum)]
        if scheme.lower() == "s3":
            return self._add_s3_refs(uri, name, checksum, max_objects)
        if scheme != "file":
            raise UsageError(f"references with the {scheme}:// scheme are not supported; use file://, s3://, "
                             "http:// or https://")
        path = rest if rest.startswith("/") else "/" + rest
        added = []
        if os.path.isdir(path):
            base = _clean_path(name) + "/" if name else ""
            count = 0
            for folder, dirs, files in os.walk(path, followlinks=False):
                dirs.sort()
                for f in sorted(files):
                    full = os.path.join(folder, f)
                    if not os.path.isfile(full):
                        continue
                    count += 1
                    if max_objects is not None and count > max_objects:
                        raise UsageError(f"{uri} holds more than max_objects={max_objects} files")
                    rel = os.path.relpath(full, path).replace(os.sep, "/")
                    added.append(self._add_ref(f"file://{full}", full, base + rel, checksum))
        elif os.path.isfile(path):
            added.append(self._add_ref(uri, path, _clean_path(name or os.path.basename(path)), checksum))
        else:
            raise UsageError(f"add_reference: {path} does not exist")
        return added

    def _add_s3_refs(self, uri: str, name: str | None, checksum: bool, max_objects: int | None) -> list[ManifestEntry]:
        from tracker._report import warn_user
        from tracker.artifacts import s3_refs

        prefix = s3_refs.split(uri)
        try:
            fs = s3_refs.s3_filesystem()
            found = s3_refs.list_objects(fs, uri, max_objects)
            if not found:
                raise UsageError(f"add_reference: no object at or under {uri}")
            single = len(found) == 1 and found[0][0] == prefix
            added = []
            for path, size, mtime in found:
                if single:
                    entry_name = _clean_path(name or os.path.basename(path))
                else:
                    rel = path[len(prefix):].lstrip("/")
                    entry_name = _clean_path(f"{name}/{rel}" if name else rel)
                digest = s3_refs.digest(fs, path, size, mtime, checksum, self._progress)
                entry = ManifestEntry(entry_name, digest, size, ref=f"s3://{path}", artifact=self, checksum=checksum)
                self._entries[entry_name] = entry
                added.append(entry)
            return added
        except OSError as exc:
            warn_user(f"tracker: artifact {self._name}: {uri} could not be read ({type(exc).__name__}: {exc}); the "
                      "reference is recorded without its checksum")
            import hashlib

            entry_name = _clean_path(name or os.path.basename(prefix) or "object")
            entry = ManifestEntry(entry_name, hashlib.sha256(uri.encode()).hexdigest(), 0, ref=uri, artifact=self,
                                  checksum=False)
            self._entries[entry_name] = entry
            return [entry]

    def _add_http_ref(self, url: str, name: str | None, checksum: bool) -> ManifestEntry:
        from tracker._report import warn_user
        from tracker.artifacts import http_refs

        digest, size, problem = http_refs.digest_url(url, checksum, self._progress)
        if problem is not None:
            warn_user(f"tracker: artifact {self._name}: {url} could not be read ({problem}); the reference is "
                      "recorded without its checksum")
        entry_name = _clean_path(name or http_refs.entry_name(url))
        entry = ManifestEntry(entry_name, digest, size, ref=url, artifact=self, checksum=checksum and problem is None)
        self._entries[entry_name] = entry
        return entry

    def _add_ref(self, uri: str, path: str, entry_name: str, checksum: bool) -> ManifestEntry:
        if checksum:
            digest, size = sha256_file(path, self._progress)
        else:
            import hashlib

            st = os.stat(path)
            size = st.st_size
            digest = hashlib.sha256(f"{uri}\0{size}\0{st.st_mtime_ns}".encode()).hexdigest()
        entry = ManifestEntry(entry_name, digest, size, ref=uri, artifact=self, checksum=checksum)
        self._entries[entry_name] = entry
        return entry

    def new_file(self, name: str, mode: str = "x", encoding: str | None = None) -> Any:
        """A context manager: a new file to write; it is added when the block ends.

        ``with artifact.new_file("labels.txt") as f: f.write("cat\\n")``
        """
        import contextlib

        self._check_draft("new_file")
        entry_name = _clean_path(name)
        if entry_name in self._entries:
            raise UsageError(f"artifact {self._name} already has {entry_name!r}")
        if self._staging is None:
            import tempfile

            self._staging = tempfile.mkdtemp(prefix="tracker-artifact-")
        path = os.path.join(self._staging, *entry_name.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)

        @contextlib.contextmanager
        def writer() -> Iterator[Any]:
            text = "b" not in mode
            with open(path, mode, encoding=encoding or ("utf-8" if text else None)) as fh:
                yield fh
            self.add_file(path, entry_name)

        return writer()

    def add(self, obj: Any, name: str) -> ManifestEntry:
        """Add a Python object: a media object (anything with ``_tracker_artifact_file_``) or JSON
        data, stored as ``name`` (``.json`` appended for data)."""
        files = getattr(obj, "artifact_files", None)
        if files is not None and getattr(obj, "_tracker_media", False):
            return self._add_media(obj, name)
        import json

        try:  # strict JSON: an object with no JSON form is refused, never stored as its repr
            text = json.dumps(obj, allow_nan=True, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError) as exc:
            raise UsageError(f"add(): a {type(obj).__name__} is neither media nor JSON data ({exc})") from None
        target = name if name.endswith(".json") else name + ".json"
        with self.new_file(target) as fh:
            fh.write(text)
        return self._entries[_clean_path(target)]

    def _add_media(self, obj: Any, name: str) -> ManifestEntry:
        """A media object as W&B stores it: ``<name>.<kind>.json`` (its facts, the files' names)
        beside its files ``<name>.<kind>.<ext>`` (and ``<name>.<kind>.<i>.<ext>`` for extras);
        ``get(name)`` builds the object again."""
        import json

        try:
            kind, meta, files = obj.artifact_files()
        except Exception as exc:  # noqa: BLE001 - the media's own error names what is wrong
            raise UsageError(f"add(): {exc}") from None
        stem = name[: -len(f".{kind}.json")] if name.endswith(f".{kind}.json") else name
        names = []
        for i, (data, ext) in enumerate(files):
            target = f"{stem}.{kind}.{ext}" if i == 0 else f"{stem}.{kind}.{i}.{ext}"
            with self.new_file(target, mode="xb") as fh:
                fh.write(data)
            names.append(target.rsplit("/", 1)[-1])
        record = {"_type": kind, **{k: v for k, v in meta.items() if k != "_type"}, "files": names}
        target = f"{stem}.{kind}.json"
        with self.new_file(target) as fh:
            fh.write(json.dumps(record, ensure_ascii=False, default=str))
        return self._entries[_clean_path(target)]

    def remove(self, item: str | ManifestEntry) -> None:
        """Remove an entry (by path or entry) or every entry below a folder path."""
        self._check_draft("remove")
        path = _clean_path(item.path if isinstance(item, ManifestEntry) else item)
        if path in self._entries:
            del self._entries[path]
            return
        below = [p for p in self._entries if p.startswith(path + "/")]
        if not below:
            raise UsageError(f"artifact {self._name} has no entry {path!r}")
        for p in below:
            del self._entries[p]

    def get_entry(self, name: str) -> ManifestEntry:
        """The entry at ``name``.

        Raises:
            ArtifactNotFoundError: no such entry.
        """
        path = _clean_path(name)
        try:
            return self._entries[path]
        except KeyError:
            raise ArtifactNotFoundError(f"artifact {self.qualified_name} has no file {path!r}") from None

    get_path = get_entry

    def get(self, name: str) -> Any:
        """What was added as ``name``: a media object built again (a Table, an Image, ...), the data
        of a JSON entry, or the local path of any other file."""
        media = self._get_media(name)
        if media is not None:
            return media
        for candidate in (name, name + ".json"):
            try:
                entry = self.get_entry(candidate)
            except ArtifactNotFoundError:
                continue
            local = self._local_path(entry)
            if entry.path.endswith(".json"):
                import json

                with open(local, encoding="utf-8") as fh:
                    return json.load(fh)
            return local
        raise ArtifactNotFoundError(f"artifact {self.qualified_name} has no file {name!r}")

    def _get_media(self, name: str) -> Any:
        import json

        folder = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
        for path in sorted(self._entries):
            rest = path[len(name):]
            if not (path.startswith(name + ".") and rest.count(".") == 2 and rest.endswith(".json")):
                continue
            with open(self._local_path(self._entries[path]), encoding="utf-8") as fh:
                record = json.load(fh)
            if not isinstance(record, dict) or "_type" not in record or "files" not in record:
                continue
            locals_ = [self._local_path(self.get_entry(folder + f)) for f in record["files"]]
            import tracker.artifacts as hooks

            loader = hooks.media_loader
            return loader(record["_type"], record, locals_) if loader is not None else locals_[0]
        return None

    def files(self, names: list[str] | None = None) -> list[ManifestEntry]:
        """The entries (all, or those named), sorted by path."""
        if names is not None:
            return [self.get_entry(n) for n in names]
        return [self._entries[p] for p in sorted(self._entries)]

    @property
    def manifest(self) -> Manifest:
        return Manifest(dict(self._entries))

    @property
    def digest(self) -> str:
        """SHA-256 over the sorted (path, digest, size) of every entry: same content, same digest."""
        return self.manifest.digest()

    @property
    def size(self) -> int:
        return sum(e.size for e in self._entries.values())

    @property
    def file_count(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<tracker.Artifact {self.qualified_name} type={self._type} files={self.file_count} {self._state}>"

    def _bar(self, total: int, desc: str) -> Any:
        """A context manager showing a progress bar (for over a few MB) while it is open."""
        import contextlib

        from tracker.artifacts.progress import bar

        @contextlib.contextmanager
        def showing() -> Iterator[None]:
            progress = bar(total, desc)
            outer = self._progress
            self._progress = progress.update
            try:
                yield
            finally:
                self._progress = outer
                progress.close()

        return showing()

    # --- committing ---------------------------------------------------------------------------
    def _commit(self, root: str, project: str, run_path: str | None, history_step: int | None,
                aliases: list[str] | None) -> Artifact:
        """Store the files and commit a version (or adopt the latest one when the content is the same)."""
        self._check_draft("log")
        store = ObjectStore(root)

        def put(entry: ManifestEntry) -> None:
            if entry.ref is not None or entry._source is None or store.has(entry.digest):
                return
            st = os.stat(entry._source)
            if st.st_mtime_ns != entry._mtime_ns or st.st_size != entry.size:
                raise FileChangedError(
                    f"{entry._source} changed between add_file and log_artifact; add it again"
                )
            # unchanged since it was hashed: copy without hashing again (the copy's size is checked)
            store.put_file(entry._source, known=(entry.digest, entry.size))
            if self._progress is not None:
                self._progress(entry.size)

        todo = [e for e in self._entries.values() if e.ref is None and e._source is not None]
        with self._bar(sum(e.size for e in todo), f"storing {self._name}"):
            _each(put, todo)
        cdir = registry.collection_dir(root, project, self._name)
        digest = self.digest
        latest = registry.latest_version(cdir)
        now = time.time()
        info = registry.read_version(cdir, latest) if latest is not None else None
        if latest is not None and info is not None and info.get("digest") == digest:
            version: int = latest
        else:
            if info is not None and info.get("type") != self._type:
                raise UsageError(
                    f"artifact {project}/{self._name} has type {info.get('type')!r}, not {self._type!r}"
                )
            version = registry.commit_version(cdir, {
                "schema_version": 1, "name": self._name, "project": project, "type": self._type,
                "digest": digest, "description": self.description, "metadata": self._metadata,
                "tags": self._tags, "ttl": self._ttl, "created_at": now, "updated_at": now,
                "size": self.size, "file_count": self.file_count, "logged_by": run_path,
                "history_step": history_step, "manifest": self.manifest.to_json(),
            })
        for alias in list(dict.fromkeys([*(aliases or []), *self._aliases])):
            registry.set_alias(cdir, alias, version)
        loaded = load(root, project, self._name, version)
        self.__dict__.update(loaded.__dict__)
        self._cleanup_staging()
        return self

    def _cleanup_staging(self) -> None:
        if self._staging is not None:
            import shutil

            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None

    def save(self, project: str | None = None) -> Artifact:
        """Log a draft outside a run (to ``project`` or the current run's), or, for a logged
        version, write edits of description, metadata, tags, ttl and aliases."""
        if self._state == "PENDING":
            from tracker import artifacts

            run = artifacts.current_run()
            if run is not None and project is None:
                return run.log_artifact(self)  # type: ignore[no-any-return]
            if project is None:
                raise UsageError("save(): give a project, or call it while a run is active")
            from tracker.settings import Settings

            root = Settings.load().root()
            if root.startswith("s3://"):
                raise UsageError(f"save() with no active run writes to a local store; the store is {root}: "
                                 "log the artifact from a run (tracker.init(...).log_artifact(artifact))")
            return self._commit(root, project, None, None, None)
        cdir = self._cdir()
        info = registry.read_version(cdir, self._version)  # type: ignore[arg-type]
        if info is None:
            raise ArtifactNotFoundError(f"artifact {self.qualified_name} no longer exists")
        info.update(description=self.description, metadata=self._metadata, tags=self._tags, ttl=self._ttl,
                    updated_at=time.time())
        registry.rewrite_version(cdir, self._version, info)  # type: ignore[arg-type]
        current = {a for a, v in registry.aliases(cdir).items() if v == self._version and a != "latest"}
        for alias in current - set(self._aliases):
            registry.remove_alias(cdir, alias)
        for alias in self._aliases:
            registry.set_alias(cdir, alias, self._version)  # type: ignore[arg-type]
        return self

    def wait(self, timeout: float | None = None) -> Artifact:
        """Logging is synchronous in a local store: the artifact is already committed."""
        return self

    def delete(self, delete_aliases: bool = False) -> None:
        """Delete this version (its objects are freed by ``tracker artifact gc``).

        Raises:
            UsageError: the version has aliases besides ``latest`` and ``delete_aliases`` is False.
        """
        cdir = self._cdir()
        held = [a for a, v in registry.aliases(cdir).items() if v == self._version and a != "latest"]
        if held and not delete_aliases:
            raise UsageError(f"{self.qualified_name} has aliases {held}; pass delete_aliases=True")
        for alias in held:
            registry.remove_alias(cdir, alias)
        registry.delete_version(cdir, self._version)  # type: ignore[arg-type]
        self._state = "DELETED"

    def link(self, target_path: str, aliases: list[str] | None = None) -> Artifact:
        """Link this logged version into a portfolio (``"portfolio"``, ``"project/portfolio"``;
        the local model registry is the project ``model-registry``); returns the link version.
        As ``run.link_artifact``; linking the same version again reuses its link.

        Raises:
            UsageError: the artifact is not logged, or the path is not ``[project/]portfolio``.
        """
        from tracker.artifacts.links import link

        return link(self, target_path, aliases, default_project=self.project or "uncategorized")

    def unlink(self) -> None:
        """Remove this link version from its portfolio (the linked version stays).

        Raises:
            UsageError: this version is not a link (``is_link`` is False).
        """
        if self._link_of is None:
            raise UsageError(f"{self.qualified_name} is not a link: delete() removes a version")
        self.delete(delete_aliases=True)

    @property
    def commit_hash(self) -> str | None:
        """A short hash of this version's content (the first 12 hex digits of its digest), as W&B
        shows a committed version's; None for a draft."""
        return None if self.is_draft() else self.digest[:12]

    @property
    def url(self) -> str | None:
        """Where this version lives: a ``file://`` URI of its folder in the store (there is no web
        app); None for a draft."""
        if self.is_draft() or self._root is None:
            return None
        import pathlib

        return pathlib.Path(self._cdir()).resolve().as_uri() + f"#v{self._version}"

    def new_draft(self) -> Artifact:
        """A new, unlogged artifact with this one's files, type, description and metadata."""
        draft = Artifact(self._name, self._type, self.description, dict(self._metadata))
        draft._tags = list(self._tags)
        for path, e in self._entries.items():
            source = self._root and e.ref is None and ObjectStore(self._root).path(e.digest)
            draft._entries[path] = ManifestEntry(
                path, e.digest, e.size, ref=e.ref, source=source or e._source,
                mtime_ns=os.stat(source).st_mtime_ns if source else e._mtime_ns, artifact=draft,
            )
        return draft

    # --- lineage --------------------------------------------------------------------------------
    def logged_by(self) -> Any:
        """The read-side run that logged this version (None when logged with ``save``)."""
        if self._logged_by is None or self._root is None:
            return None
        from tracker import artifacts

        return artifacts.open_run(self._root, self._logged_by)

    def used_by(self) -> list[Any]:
        """The read-side runs that used this version."""
        if self._version is None or self._root is None:
            return []
        from tracker import artifacts

        root = self._root
        return [artifacts.open_run(root, p) for p in registry.consumers(self._cdir(), self._version)]

    def json_encode(self) -> dict[str, Any]:
        return {
            "name": self._name, "type": self._type, "version": self._version, "project": self._project,
            "qualified_name": self.qualified_name, "digest": self.digest, "size": self.size,
            "file_count": self.file_count, "description": self.description, "metadata": self._metadata,
            "aliases": self._aliases, "tags": self._tags, "state": self._state,
            "created_at": self.created_at, "logged_by": self._logged_by,
        }

    # --- files out --------------------------------------------------------------------------------
    def _cdir(self) -> str:
        if self._root is None or self._project is None or self._version is None:
            raise UsageError(f"artifact {self._name} is not logged yet")
        return registry.collection_dir(self._root, self._project, self._name)

    def default_root(self) -> str:
        """Where ``download()`` and ``verify()`` work without a ``root``: ``artifacts/<name>:v<N>``."""
        return os.path.join("artifacts", f"{self._name}:v{self._version}" if self._version is not None else self._name)

    def _local_path(self, entry: ManifestEntry) -> str:
        if entry.ref is not None:
            return entry.ref.partition("://")[2]
        if self._root is not None:
            stored = ObjectStore(self._root).path(entry.digest)
            if os.path.exists(stored):
                return stored
        if entry._source is not None:
            return entry._source
        raise ArtifactNotFoundError(f"the content of {entry.path} is missing from the store")

    def _download_entry(self, entry: ManifestEntry, root: str) -> str:
        dest = os.path.join(root, *entry.path.split("/"))
        if os.path.isfile(dest) and os.path.getsize(dest) == entry.size and sha256_file(dest)[0] == entry.digest:
            return dest  # resumable: what is already there and right is kept
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        from tracker.artifacts import objects
        from tracker.store.layout import Publish

        remote = entry.ref.partition("://")[0].lower() if entry.ref is not None else None
        if entry.ref is not None and remote in ("http", "https", "s3"):
            from tracker._report import warn_user
            from tracker.artifacts import http_refs, s3_refs

            with Publish(dest) as tmp:
                digest = s3_refs.fetch(entry.ref, tmp) if remote == "s3" else http_refs.fetch(entry.ref, tmp)[0]
                os.chmod(tmp, 0o644)
            if entry.checksum and digest != entry.digest:
                warn_user(f"tracker: {entry.ref} changed since it was added to {self.qualified_name}: "
                          f"{entry.path} holds what the URL serves now")
            if self._progress is not None:
                self._progress(entry.size)
            return dest
        source = self._local_path(entry)

        with Publish(dest) as tmp:
            objects.copy_file(source, tmp)
            os.chmod(tmp, 0o644)
        if self._progress is not None:
            self._progress(entry.size)
        return dest

    def download(self, root: str | os.PathLike[str] | None = None, skip_cache: bool | None = None,
                 path_prefix: str | None = None) -> str:
        """Copy the files into ``root`` (default ``./artifacts/<name>:v<N>``); returns the folder.

        Each file is written under a temporary name and renamed, so a failed download (a full
        disk) leaves no half-written file; files already there with the right content are kept,
        so an interrupted download resumes.
        """
        target = os.fspath(root) if root is not None else self.default_root()
        wanted = [e for e in self.files() if not path_prefix or e.path.startswith(path_prefix)]
        with self._bar(sum(e.size for e in wanted), f"downloading {self.name}"):
            _each(lambda e: self._download_entry(e, target), wanted)
        return target

    def checkout(self, root: str | os.PathLike[str] | None = None) -> str:
        """Make ``root`` hold exactly this artifact's files (others there are removed)."""
        target = self.download(root)
        keep = {os.path.normpath(os.path.join(target, *p.split("/"))) for p in self._entries}
        for folder, _, files in os.walk(target):
            for f in files:
                full = os.path.normpath(os.path.join(folder, f))
                if full not in keep:
                    os.unlink(full)
        return target

    def verify(self, root: str | os.PathLike[str] | None = None) -> None:
        """Check that ``root`` (default: the download folder) holds exactly this artifact's files.

        Raises:
            ValueError: naming every missing, changed or unexpected file.
        """
        target = os.fspath(root) if root is not None else self.default_root()
        def check(entry: ManifestEntry) -> str | None:
            path = os.path.join(target, *entry.path.split("/"))
            if not os.path.isfile(path):
                return f"missing: {entry.path}"
            if entry.checksum and sha256_file(path, self._progress)[0] != entry.digest:
                return f"changed: {entry.path}"
            return None

        with self._bar(self.size, f"verifying {self.name}"):
            problems = [p for p in _each(check, self.files()) if p is not None]
        expected = {os.path.normpath(os.path.join(target, *p.split("/"))) for p in self._entries}
        for folder, _, files in os.walk(target):
            for f in files:
                full = os.path.normpath(os.path.join(folder, f))
                if full not in expected:
                    problems.append(f"unexpected: {os.path.relpath(full, target)}")
        if problems:
            raise ValueError(f"{target} does not match {self.qualified_name}: " + "; ".join(problems))

    def file(self, root: str | os.PathLike[str] | None = None) -> str:
        """The path of the single file of a one-file artifact, downloaded.

        Raises:
            UsageError: the artifact holds more or fewer than one file.
        """
        if self.file_count != 1:
            raise UsageError(f"file() needs an artifact of one file; {self.qualified_name} has {self.file_count}")
        return self.get_entry(next(iter(self._entries))).download(os.fspath(root) if root else None)


def _each(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """``[fn(x) for x in items]``, on a few threads when there are many: hashing and copying
    release the GIL, and small files are mostly system calls, which do too."""
    if len(items) < 64:
        return [fn(x) for x in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, 2 * (os.cpu_count() or 1))) as pool:
        return list(pool.map(fn, items, chunksize=64))


def commit(artifact: Artifact, root: str, project: str, run_path: str | None = None,
           history_step: int | None = None, aliases: list[str] | None = None) -> Artifact:
    """Store a draft's files in the store at ``root`` and commit it as the next version of
    ``project/<its name>`` (or adopt the latest version when the content is the same); the
    artifact becomes that committed version and is returned.

    Args:
        run_path: the logging run (``project/run_id``), kept as the version's ``logged_by``.
        history_step: the logging run's step.
        aliases: aliases to set on the version (besides the artifact's own and ``latest``).

    Raises:
        UsageError: the artifact is not a draft.
        FileChangedError: a file changed between ``add_file`` and the commit.
    """
    return artifact._commit(root, project, run_path, history_step, aliases)


def record_use(artifact: Artifact, run_path: str) -> None:
    """Record the run ``run_path`` as a consumer of a committed version (``used_by()``).

    Raises:
        UsageError: the artifact is not committed.
    """
    registry.record_consumer(artifact._cdir(), artifact._version or 0, run_path)


def load(root: str, project: str, name: str, version: int) -> Artifact:
    """A committed version as an :class:`Artifact` (read from its document)."""
    cdir = registry.collection_dir(root, project, name)
    info = registry.read_version(cdir, version)
    if info is None:
        raise ArtifactNotFoundError(f"artifact {project}/{name}:v{version} does not exist in {root}")
    art = Artifact.__new__(Artifact)
    stored = name.replace(" ", "_") if project == registry.REGISTRY_PROJECT else name  # a portfolio may hold spaces
    Artifact.__init__(art, stored, info["type"], info.get("description"), None)
    art._name = name
    art._metadata = info.get("metadata") or {}
    art._tags = list(info.get("tags") or [])
    ttl = info.get("ttl")
    art._ttl = float(ttl) if isinstance(ttl, (int, float)) and not isinstance(ttl, bool) else None
    art._state = "COMMITTED"
    art._version = version
    art._project = project
    art._root = root
    art._created_at = info.get("created_at")
    art._updated_at = info.get("updated_at")
    art._logged_by = info.get("logged_by")
    art._history_step = info.get("history_step")
    art._link_of = info.get("link_of")
    for path, e in ((info.get("manifest") or {}).get("entries") or {}).items():
        art._entries[path] = ManifestEntry(path, e["digest"], e["size"], ref=e.get("ref"), artifact=art,
                                           checksum=e.get("checksum", True) is not False)
    art._aliases = sorted(a for a, v in registry.aliases(cdir).items() if v == version)
    return art


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    import datetime

    return datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc).isoformat()
