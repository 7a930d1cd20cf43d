"""Artifact collections on disk: versions, aliases, consumers.

::

    <root>/_artifacts/collections/<project>/<name>/
        versions/v<N>.json        a committed version: manifest, digest, metadata, logged_by, ...
        versions/v<N>.claim       a version number being written (pid, host, time)
        aliases/<alias>.json      {"version": N}; "latest" is implicit: the newest committed version
        consumers/v<N>/<project>__<run_id>.json   runs that used version N

Many processes may log to one collection at once with no lock: a version number is claimed by
creating ``v<N>.claim`` exclusively (the next number on a clash), and becomes visible only when
``v<N>.json`` is renamed into place. A process killed in between leaves a claim and no version;
the next writer removes claims whose process is gone.
"""

from __future__ import annotations

import os
import time

from tracker.errors import UsageError
from tracker.store import layout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

RESERVED_TYPE_PREFIXES = ("wandb-", "tracker-")
REGISTRY_PROJECT = "model-registry"  # the local model registry: its portfolios may hold spaces
RESERVED_TYPES = ("job",)
STALE_CLAIM_SECONDS = 3600.0
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


def check_artifact_name(name: str, what: str = "artifact name", spaces: bool = False) -> str:
    """Letters, digits, ``_``, ``-`` and ``.``; 1-128 characters, not starting with ``.``. With
    ``spaces``, also spaces inside (a registered model, a portfolio, is named like "MNIST Classifier",
    as in W&B's registry).

    Raises:
        UsageError: naming the value and what is allowed.
    """
    chars = _NAME_CHARS | {" "} if spaces else _NAME_CHARS
    if (not isinstance(name, str) or not 0 < len(name) <= 128 or not chars.issuperset(name) or name[0] == "."
            or name != name.strip()):
        allowed = "letters, digits, spaces inside, '_', '-' or '.'" if spaces else "letters, digits, '_', '-' or '.'"
        raise UsageError(f"{what} {name!r} is not valid: use 1-128 {allowed} (not '.' first)")
    return name


def check_type(kind: str) -> str:
    check_artifact_name(kind, "artifact type")
    if kind in RESERVED_TYPES or kind.startswith(RESERVED_TYPE_PREFIXES):
        raise UsageError(f"artifact type {kind!r} is reserved; choose another (e.g. 'dataset', 'model')")
    return kind


def collections_root(root: str) -> str:
    return os.path.join(root, "_artifacts", "collections")


def collection_dir(root: str, project: str, name: str) -> str:
    return os.path.join(collections_root(root), project, name)


def _versions_dir(cdir: str) -> str:
    return os.path.join(cdir, "versions")


def committed_versions(cdir: str) -> list[int]:
    """Committed version numbers of a collection, ascending (deleted ones excluded)."""
    try:
        names = os.listdir(_versions_dir(cdir))
    except FileNotFoundError:
        return []
    out = []
    for n in names:
        if n.startswith("v") and n.endswith(".json") and n[1:-5].isdigit():
            out.append(int(n[1:-5]))
    return sorted(out)


def read_version(cdir: str, version: int) -> dict[str, Any] | None:
    return layout.read_json(os.path.join(_versions_dir(cdir), f"v{version}.json"))


def latest_version(cdir: str) -> int | None:
    versions = committed_versions(cdir)
    return versions[-1] if versions else None


def clean_stale_claims(cdir: str) -> None:
    """Remove claims of versions whose writer died before committing (kill -9 mid-log)."""
    vdir = _versions_dir(cdir)
    try:
        names = os.listdir(vdir)
    except FileNotFoundError:
        return
    now = time.time()
    for n in names:
        if n.startswith(".claim.") and n.endswith(".tmp"):  # a draft left by a killed writer
            try:
                if now - os.path.getmtime(os.path.join(vdir, n)) > STALE_CLAIM_SECONDS:
                    os.unlink(os.path.join(vdir, n))
            except FileNotFoundError:
                pass
            continue
        if not n.endswith(".claim"):
            continue
        path = os.path.join(vdir, n)
        info = layout.read_json(path)
        if info is None:
            continue  # unreadable: never guess that a claim is stale
        same_host = info.get("host") == layout.HOSTNAME
        alive = layout.process_alive(int(info.get("pid") or 0), info.get("pid_start")) if same_host else None
        old = now - float(info.get("time") or 0) > STALE_CLAIM_SECONDS
        if alive is False or (alive is None and old):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


def commit_version(cdir: str, info: dict[str, Any]) -> int:
    """Give ``info`` the next free version number and make it visible atomically.

    Returns the version number. Two processes committing at once get two numbers.
    """
    vdir = _versions_dir(cdir)
    os.makedirs(vdir, exist_ok=True)
    clean_stale_claims(cdir)
    taken = set(committed_versions(cdir))
    claims = {int(n[1:-6]) for n in os.listdir(vdir) if n.endswith(".claim") and n[1:-6].isdigit()}
    n = max(taken | claims, default=-1) + 1
    pid = os.getpid()
    # The claim's content is written first and published with link(), which fails when the name
    # exists: a claim is never seen empty, so no one mistakes a fresh claim for a stale one.
    draft = os.path.join(vdir, f".claim.{pid}.{os.urandom(3).hex()}.tmp")
    with open(draft, "w") as fh:
        fh.write(layout.dumps({"pid": pid, "pid_start": layout.process_start_ticks(pid),
                               "host": layout.HOSTNAME, "time": time.time()}))
    root = _root_of(cdir)
    remote = layout.source_of(root) != root  # a spool of an s3:// root: numbers are claimed in the bucket
    while True:
        claim = os.path.join(vdir, f"v{n}.claim")
        if remote:
            if not layout.claim_name(root, claim):  # If-None-Match: the number is another process's
                n += 1
                continue
            break
        try:
            os.link(draft, claim)
        except FileExistsError:
            n += 1
            continue
        if os.path.exists(os.path.join(vdir, f"v{n}.json")):  # committed meanwhile by another
            os.unlink(claim)
            n += 1
            continue
        break
    os.unlink(draft)
    try:
        info = {**info, "version": n}
        layout.write_json_atomic(os.path.join(vdir, f"v{n}.json"), info, durable=True)
    finally:
        try:
            os.unlink(claim)
        except FileNotFoundError:
            pass
    return n


def _root_of(cdir: str) -> str:
    """The store root of a collection folder (``<root>/_artifacts/collections/<project>/<name>``)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(cdir))))


def rewrite_version(cdir: str, version: int, info: dict[str, Any]) -> None:
    """Replace a committed version's document (metadata, description, tags, ttl edits)."""
    path = os.path.join(_versions_dir(cdir), f"v{version}.json")
    layout.write_json_atomic(path, info)
    layout.published(_root_of(cdir), path)


def delete_version(cdir: str, version: int) -> None:
    path = os.path.join(_versions_dir(cdir), f"v{version}.json")
    os.unlink(path)
    layout.published(_root_of(cdir), path)


def aliases(cdir: str) -> dict[str, int]:
    """Alias -> version, ``latest`` included."""
    out: dict[str, int] = {}
    adir = os.path.join(cdir, "aliases")
    try:
        names = os.listdir(adir)
    except FileNotFoundError:
        names = []
    committed = set(committed_versions(cdir))
    for n in names:
        if n.endswith(".json"):
            info = layout.read_json(os.path.join(adir, n)) or {}
            v = info.get("version")
            if isinstance(v, int) and v in committed:
                out[n[:-5]] = v
    latest = max(committed, default=None)
    if latest is not None:
        out["latest"] = latest
    return out


def set_alias(cdir: str, alias: str, version: int) -> None:
    if alias == "latest":
        return  # always the newest version
    check_artifact_name(alias, "alias")
    if alias.startswith("v") and alias[1:].isdigit():
        raise UsageError(f"alias {alias!r} looks like a version; aliases may not be v<N>")
    adir = os.path.join(cdir, "aliases")
    os.makedirs(adir, exist_ok=True)
    path = os.path.join(adir, f"{alias}.json")
    layout.write_json_atomic(path, {"version": version, "time": time.time()})
    layout.published(_root_of(cdir), path)


def remove_alias(cdir: str, alias: str) -> None:
    path = os.path.join(cdir, "aliases", f"{alias}.json")
    try:
        os.unlink(path)
    except FileNotFoundError:
        return
    layout.published(_root_of(cdir), path)


def record_consumer(cdir: str, version: int, run_path: str) -> None:
    folder = os.path.join(cdir, "consumers", f"v{version}")
    os.makedirs(folder, exist_ok=True)
    layout.write_json_atomic(os.path.join(folder, run_path.replace("/", "__") + ".json"),
                             {"run": run_path, "time": time.time()})


def consumers(cdir: str, version: int) -> list[str]:
    folder = os.path.join(cdir, "consumers", f"v{version}")
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return []
    return [n[:-5].replace("__", "/", 1) for n in names if n.endswith(".json")]


def parse_ref(ref: str, default_project: str | None) -> tuple[str, str, str]:
    """``"name"``, ``"name:alias"``, ``"name:v3"``, ``"project/name:alias"`` or
    ``"entity/project/name:alias"`` -> ``(project, name, alias_or_version)`` (default ``latest``).

    Raises:
        UsageError: no project could be told, or a part is not a valid name.
    """
    if not isinstance(ref, str) or not ref:
        raise UsageError(f"an artifact reference is a string like 'name:latest', not {ref!r}")
    path, _, alias = ref.partition(":")
    parts = [p for p in path.split("/") if p]
    if len(parts) == 3:
        parts = parts[1:]
    if len(parts) == 2:
        project, name = parts
    elif len(parts) == 1:
        if default_project is None:
            raise UsageError(f"artifact {ref!r} names no project: use 'project/{ref}'")
        project, name = default_project, parts[0]
    else:
        raise UsageError(f"artifact reference {ref!r} is not [project/]name[:alias]")
    layout.check_name(project, "project name")
    check_artifact_name(name, spaces=project == REGISTRY_PROJECT)
    return project, name, alias or "latest"


def resolve(root: str, ref: str, default_project: str | None) -> tuple[str, str, int]:
    """The ``(project, name, version)`` a reference points to.

    Raises:
        UsageError: the collection, version or alias does not exist.
    """
    from tracker.errors import ArtifactNotFoundError

    project, name, alias = parse_ref(ref, default_project)
    cdir = collection_dir(root, project, name)
    if alias.startswith("v") and alias[1:].isdigit():
        version = int(alias[1:])
        if version not in committed_versions(cdir):
            raise ArtifactNotFoundError(f"artifact {project}/{name} has no version {alias}")
        return project, name, version
    known = aliases(cdir)
    if alias not in known:
        if not committed_versions(cdir):
            raise ArtifactNotFoundError(f"no artifact {project}/{name} in {root}")
        raise ArtifactNotFoundError(f"artifact {project}/{name} has no alias {alias!r} (aliases: {sorted(known)})")
    return project, name, known[alias]


def list_collections(root: str, project: str | None = None) -> list[tuple[str, str]]:
    """``(project, name)`` of every collection (of one project)."""
    base = collections_root(root)
    out: list[tuple[str, str]] = []
    try:
        projects = [project] if project else sorted(os.listdir(base))
    except FileNotFoundError:
        return []
    for p in projects:
        try:
            names = sorted(os.listdir(os.path.join(base, p)))
        except (FileNotFoundError, NotADirectoryError):
            continue
        out.extend((p, n) for n in names if committed_versions(os.path.join(base, p, n)))
    return out
