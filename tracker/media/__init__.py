"""Rich media for ``run.log``: Image, Audio, Html, Histogram, Table (see docs/media.md)."""

from tracker.media.base import Media, MediaError
from tracker.media.types import Audio, Histogram, Html, Image, Table

__all__ = ["Audio", "Histogram", "Html", "Image", "Media", "MediaError", "Table"]
