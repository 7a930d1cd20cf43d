"""Links: a portfolio collection whose versions point at logged artifact versions.

A link version holds the linked version's manifest (so it downloads like any artifact) and
``link_of`` (the source's ``project/name:vN``); it has aliases of its own. The local model
registry is the project ``model-registry``: each registered model is a portfolio.
"""

from __future__ import annotations

import time

from tracker.artifacts import registry
from tracker.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

REGISTRY_PROJECT = registry.REGISTRY_PROJECT


def link(artifact: Any, target_path: str, aliases: list[str] | None, default_project: str,
         run_path: str | None = None) -> Any:
    """Link a committed artifact into ``target_path``; returns the link (an Artifact)."""
    from tracker.artifacts.artifact import load

    if artifact.is_draft() or artifact._root is None:
        raise UsageError("only a logged artifact can be linked: log it first")
    parts = [p for p in target_path.split("/") if p]
    if len(parts) == 3:
        parts = parts[1:]
    if len(parts) == 1:
        project, portfolio = default_project, parts[0]
    elif len(parts) == 2:
        project, portfolio = parts
    else:
        raise UsageError(f"target_path {target_path!r} is not [project/]portfolio")
    registry.check_artifact_name(portfolio, "portfolio name", spaces=True)
    root = artifact._root
    source = f"{artifact.project}/{artifact.collection}:v{artifact._version}"
    cdir = registry.collection_dir(root, project, portfolio)
    version = None
    for v in registry.committed_versions(cdir):
        if (registry.read_version(cdir, v) or {}).get("link_of") == source:
            version = v  # already linked: reuse the link, apply the aliases
            break
    if version is None:
        info = registry.read_version(artifact._cdir(), artifact._version) or {}
        now = time.time()
        version = registry.commit_version(cdir, {
            **info, "name": portfolio, "project": project, "link_of": source, "created_at": now,
            "updated_at": now, "linked_by": run_path,
        })
    for alias in aliases or []:
        registry.set_alias(cdir, alias, version)
    return load(root, project, portfolio, version)
