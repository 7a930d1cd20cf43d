"""Rich media for ``run.log``: Image, Audio, Html, Histogram, Table (see docs/media.md)."""

from tracker.media.base import Media, MediaError
from tracker.media.types import (
    Audio,
    Classes,
    Figure,
    Histogram,
    Html,
    Image,
    Molecule,
    Object3D,
    Plotly,
    Table,
    Video,
)

__all__ = ["Audio", "Classes", "Molecule", "Plotly", "Figure", "Histogram", "Html", "Image", "Media", "MediaError", "Object3D", "Table", "Video",
           "from_artifact"]


def from_artifact(kind: str, meta: dict, paths: list[str]) -> object:
    """A media object read back from the files ``Artifact.add`` stored (see
    :meth:`tracker.media.base.Media.artifact_files`): a Table from its Parquet file, an Image,
    Audio, Video, Object3D or Molecule from its file with its caption; for other kinds the main file's path."""
    main = paths[0] if paths else None
    if main is None:
        return None
    caption = meta.get("caption")
    if kind == "table":
        import pyarrow.parquet as pq

        return Table(dataframe=pq.read_table(main).to_pandas())
    if kind == "image":
        return Image(main, caption=caption)
    if kind == "audio":
        return Audio(main, caption=caption)
    if kind == "video":
        return Video(main, caption=caption)
    if kind == "object3d":
        return Object3D(main, caption=caption)
    if kind == "molecule":
        return Molecule(main, caption=caption)
    return main
