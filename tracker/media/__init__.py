"""Rich media for ``run.log``: Image, Audio, Html, Histogram, Table (see docs/media.md)."""

from tracker.media.base import Media, MediaError
from tracker.media.types import Audio, Figure, Histogram, Html, Image, Object3D, Table, Video

__all__ = ["Audio", "Figure", "Histogram", "Html", "Image", "Media", "MediaError", "Object3D", "Table", "Video"]
