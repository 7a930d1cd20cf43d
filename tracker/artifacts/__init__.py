"""Artifacts: versioned, deduplicated files with lineage (see docs/artifacts.md).

Artifacts sit below the logging API (``tracker.sdk``) and the read API (``tracker.api``) and import
neither. What they need from above comes through two hooks, set by ``tracker/__init__.py``:

- :data:`open_run` ``(root, "project/run_id") -> run``: a read-side run of the store at ``root``
  (``Artifact.logged_by()``, ``Artifact.used_by()``);
- :data:`current_run` ``() -> run | None``: the live run ``tracker.init`` made current, which
  ``Artifact.save()`` logs a draft with;
- :data:`media_loader` ``(kind, facts, paths) -> object``: a media object built again from the files
  ``Artifact.add(media, name)`` stored (``tracker.media.from_artifact``: the media and artifacts
  layers do not import each other).

This package module stays light (``import tracker`` imports it to set the hooks): ``Artifact``,
``Manifest`` and ``ManifestEntry`` load from :mod:`tracker.artifacts.artifact` when first used.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from tracker.artifacts.artifact import Artifact, Manifest, ManifestEntry

__all__ = ["Artifact", "Manifest", "ManifestEntry", "current_run", "media_loader", "open_run"]


def _no_read_api(root: str, path: str) -> Any:
    from tracker.errors import UsageError

    raise UsageError(f"cannot open run {path}: no read API is connected (tracker.artifacts.open_run is not set)")


def _no_current_run() -> Any:
    return None


#: ``(root, "project/run_id") -> run``: opens a run of the store at ``root`` for reading.
open_run: Callable[[str, str], Any] = _no_read_api
#: ``() -> run | None``: the current live run of this process.
current_run: Callable[[], Any] = _no_current_run
#: ``(kind, facts, paths) -> object``: builds a media object from its stored files (None: the path).
media_loader: Callable[[str, dict[str, Any], list[str]], Any] | None = None

_LAZY = ("Artifact", "Manifest", "ManifestEntry")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from tracker.artifacts import artifact

        value = getattr(artifact, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tracker.artifacts' has no attribute {name!r}")
