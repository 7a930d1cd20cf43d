"""Artifacts: versioned, deduplicated files with lineage (see docs/artifacts.md)."""

from tracker.artifacts.artifact import Artifact, Manifest, ManifestEntry

__all__ = ["Artifact", "Manifest", "ManifestEntry"]
