"""A rotatable view of 3D points: point clouds (``Object3D`` of an array, the vertices of an OBJ or
ASCII PLY file) and molecules (``Molecule``: the atoms of a PDB/PQR or SDF/MOL file).

Bokeh draws in 2D, so the rotation is done in the kernel: azimuth and elevation sliders turn the
points (numpy, a few ms for 100k points) and the page receives the projected coordinates. Colours:
the cloud's own RGB (N x 6), its category (N x 4), a molecule's elements (CPK colours), else the
depth along the original z axis.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Points drawn at most (a larger cloud is thinned evenly, and says so).
MAX_POINTS = 200_000
CATEGORY = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
            "#bcbd22", "#17becf")
#: CPK colours of common elements (others grey).
ELEMENT = {"H": "#ffffff", "C": "#909090", "N": "#3050f8", "O": "#ff0d0d", "S": "#ffff30", "P": "#ff8000",
           "F": "#90e050", "CL": "#1ff01f", "BR": "#a62929", "I": "#940094", "FE": "#e06633", "MG": "#8aff00",
           "ZN": "#7d80b0", "CA": "#3dff00", "NA": "#ab5cf2", "K": "#8f40d4"}


def read_points(fmt: str, raw: bytes) -> tuple[Any, list[str] | None]:
    """``(N x 3 float array, element of each point or None)`` from a stored 3D file; raises
    ValueError for a format that holds no readable points."""
    import numpy as np

    text = raw.decode("utf-8", "replace")
    coords: list[tuple[float, float, float]] = []
    elements: list[str] | None = None
    if fmt in ("pdb", "pqr"):
        elements = []
        for line in text.splitlines():
            if line.startswith(("ATOM", "HETATM")):
                try:
                    coords.append((float(line[30:38]), float(line[38:46]), float(line[46:54])))
                except ValueError:
                    continue
                element = line[76:78].strip() if len(line) >= 78 else ""
                elements.append((element or line[12:16].strip()[:1]).upper())
    elif fmt in ("sdf", "sd", "mol"):
        lines = text.splitlines()
        if len(lines) > 3:
            try:
                count = int(lines[3][:3])
            except ValueError:
                count = 0
            elements = []
            for line in lines[4:4 + count]:
                parts = line.split()
                if len(parts) >= 4:
                    coords.append((float(parts[0]), float(parts[1]), float(parts[2])))
                    elements.append(parts[3].upper())
    elif fmt == "obj":
        for line in text.splitlines():
            if line.startswith("v "):
                parts = line.split()
                if len(parts) >= 4:
                    coords.append((float(parts[1]), float(parts[2]), float(parts[3])))
    elif fmt == "ply" and text.startswith("ply") and "format ascii" in text[:200]:
        head, _, body = text.partition("end_header")
        vertices = 0
        for line in head.splitlines():
            if line.startswith("element vertex"):
                vertices = int(line.split()[-1])
        for line in body.strip().splitlines()[:vertices]:
            parts = line.split()
            if len(parts) >= 3:
                coords.append((float(parts[0]), float(parts[1]), float(parts[2])))
    else:
        raise ValueError(f"a {fmt} file is kept as it is; this view reads points from npy, obj, ascii ply, "
                         "pdb, pqr and sdf")
    if not coords:
        raise ValueError(f"no points in this {fmt} file")
    return np.asarray(coords, dtype=float), elements


def rotate(points: Any, azimuth: float, elevation: float) -> Any:
    """Points turned by ``azimuth`` degrees about z, then ``elevation`` degrees about x, centred."""
    import numpy as np

    p = points - points.mean(axis=0)
    a, e = np.radians(azimuth), np.radians(elevation)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(e), -np.sin(e)], [0, np.sin(e), np.cos(e)]])
    return p @ rz.T @ rx.T


class PointsView:
    """Points with azimuth / elevation / size controls (``points``: N x 3, N x 4 or N x 6)."""

    def __init__(self, points: Any, elements: list[str] | None = None, title: str | None = None) -> None:
        import ipywidgets as w
        import numpy as np
        from bokeh.models import ColumnDataSource
        from bokeh.palettes import Viridis256
        from bokeh.plotting import figure

        from tracker.ui.bokeh import bokeh_widget

        pts = np.asarray(points, dtype=float)
        note = ""
        if len(pts) > MAX_POINTS:
            keep = np.linspace(0, len(pts) - 1, MAX_POINTS).astype(int)
            pts = pts[keep]
            elements = [elements[i] for i in keep] if elements else None
            note = f"{MAX_POINTS:,} of the points shown (evenly thinned)"
        self.xyz = pts[:, :3]
        if pts.shape[1] == 6:
            rgb = np.clip(pts[:, 3:6], 0, 255).astype(int)
            colours = [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rgb]
        elif pts.shape[1] == 4:
            colours = [CATEGORY[int(c) % len(CATEGORY)] for c in pts[:, 3]]
        elif elements:
            colours = [ELEMENT.get(e, "#b0b0b0") for e in elements]
        else:
            z = self.xyz[:, 2]
            span = float(z.max() - z.min()) or 1.0
            colours = [Viridis256[int(v)] for v in ((z - z.min()) / span * 255)]
        self.azimuth = w.FloatSlider(value=30, min=0, max=360, step=5, description="azimuth",
                                     layout=w.Layout(width="280px"))
        self.elevation = w.FloatSlider(value=20, min=-90, max=90, step=5, description="elevation",
                                       layout=w.Layout(width="280px"))
        self.size = w.FloatSlider(value=8 if elements else 3, min=1, max=20, step=1, description="point size",
                                  layout=w.Layout(width="240px"))
        self._colours = colours
        self._elements = elements
        self.source = ColumnDataSource({"x": [], "y": [], "colour": [], **({"element": []} if elements else {})})
        radius = float(np.abs(self.xyz - self.xyz.mean(axis=0)).max()) or 1.0
        fig = figure(width=480, height=440, title=title, match_aspect=True, tools="pan,wheel_zoom,reset,save",
                     x_range=(-radius * 1.1, radius * 1.1), y_range=(-radius * 1.1, radius * 1.1),
                     tooltips=[("element", "@element")] if elements else None)
        self.glyph = fig.scatter("x", "y", source=self.source, color="colour", size=self.size.value,
                                 line_color="#333333" if elements else None, line_width=0.5)
        fig.xaxis.visible = fig.yaxis.visible = False
        fig.grid.grid_line_color = None
        fig.background_fill_color = fig.border_fill_color = None
        fig.toolbar.logo = None
        self.fig = fig
        for control in (self.azimuth, self.elevation):
            control.observe(lambda _c: self.update(), "value")
        self.size.observe(lambda c: setattr(self.glyph.glyph, "size", c["new"]), "value")
        self.update()
        self.widget = w.VBox([w.HBox([self.azimuth, self.elevation, self.size], layout=w.Layout(flex_flow="row wrap")),
                              bokeh_widget(fig), w.HTML(f"<i>{note}</i>" if note else "")])

    def update(self) -> None:
        """Project the points for the current azimuth and elevation (the far ones drawn first)."""
        import numpy as np

        turned = rotate(self.xyz, self.azimuth.value, self.elevation.value)
        order = np.argsort(turned[:, 1])[::-1].tolist()  # depth: y points into the screen after the turn
        data: dict[str, list[Any]] = {"x": turned[order, 0].tolist(), "y": turned[order, 2].tolist(),
                                      "colour": [self._colours[i] for i in order]}
        if self._elements:
            data["element"] = [self._elements[i] for i in order]
        self.source.data = data
