"""What the conformance tests share: where ``wandb.init()`` writes, reading a run back, and the
3D sample files the documents open."""

from __future__ import annotations

import os
from pathlib import Path

import tracker

STORE = "tracker-runs"  # where ``wandb.init()`` without ``dir=`` writes, in the test's folder


def read(run, store: str | os.PathLike[str] = STORE):
    """The read-side run of a (finished) live run."""
    return tracker.Api(dir=store).run(run.path)


def write_3d_samples() -> dict[str, bytes]:
    """``sample.obj``, ``sample.gltf`` and ``sample.glb``: one triangle each. The GLB (binary glTF)
    holds only a JSON chunk of ASCII bytes, so it also reads as text, as ``open("sample.glb")`` in
    the document reads it."""
    import json
    import struct

    obj = "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"
    gltf = json.dumps({"asset": {"version": "2.0"}, "scenes": [{"nodes": []}], "scene": 0})
    chunk = json.dumps({"asset": {"version": "2.0"}}).encode()
    chunk += b" " * (-len(chunk) % 4)
    glb = b"glTF" + struct.pack("<II", 2, 12 + 8 + len(chunk)) + struct.pack("<I", len(chunk)) + b"JSON" + chunk
    assert max(glb) < 0x80 and b"\r" not in glb and b"\n" not in glb
    files = {"sample.obj": obj.encode(), "sample.gltf": gltf.encode(), "sample.glb": glb}
    for name, data in files.items():
        Path(name).write_bytes(data)
    return files
