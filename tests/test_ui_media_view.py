"""The Media tab without a browser: a step's list of images as a captioned grid, videos at their own
size (never stretched to the panel), colours from the notebook's theme."""

from __future__ import annotations

import re

import numpy as np
import pytest

import tracker
from tracker.ui.media_view import TILE_MAX, TILE_MIN, MediaView, tile_width


def _store(tmp_path):
    return str(tmp_path / "store")


def _view(tmp_path, log):
    run = tracker.init(project="p", dir=_store(tmp_path), settings=tracker.Settings(strict=True, quiet=True))
    log(run)
    run.finish()
    return MediaView(tracker.Api(_store(tmp_path)).run(run.path))


def _images(prefix, n=4, shape=(8, 6, 3)):
    return [tracker.Image(np.full(shape, 40 * i, dtype=np.uint8), caption=f"{prefix} {i}") for i in range(n)]


def test_a_steps_images_show_as_a_grid_with_captions(tmp_path):
    def log(run):
        run.log({"samples": _images("first")})
        run.log({"samples": _images("second")})
        run.log({"one": tracker.Image(np.zeros((4, 5, 3), dtype=np.uint8))})

    view = _view(tmp_path, log)
    view.key.value = "samples"
    assert view.slider.max == 1  # two steps, not eight items
    assert [i.caption for i in view.current_items()] == [f"second {i}" for i in range(4)]  # newest step first
    assert view.current().step == 1
    grid = view.area.children[0]
    assert type(grid).__name__ == "HTML"
    markup = grid.value
    assert markup.count("<img ") == 4 and markup.count("data:image/png;base64,") == 4
    assert re.findall(r"<figcaption[^>]*>([^<]*)</figcaption>", markup) == [f"second {i}" for i in range(4)]
    assert "flex-flow:row wrap" in markup and "max-width:100%" in markup
    assert "var(--jp-ui-font-color1" in markup and "4 items" in view.caption.value
    # each image under its caption: an image, then its caption, four times
    assert re.findall(r"<img |<figcaption", markup) == ["<img ", "<figcaption"] * 4
    # 6 pixels wide: drawn at whole multiples, sharp
    assert f"width:{tile_width(6, 8)}px" in markup and "image-rendering:pixelated" in markup
    view.step(+1)
    assert re.findall(r"<figcaption[^>]*>([^<]*)</figcaption>", view.area.children[0].value) == [
        f"first {i}" for i in range(4)]
    # a single image keeps the zoomable Bokeh view
    view.key.value = "one"
    assert type(view.area.children[0]).__name__ == "TrackerBokehModel" and view.image_source is not None
    assert view._image_fig.background_fill_color is None


def test_tile_widths():
    assert tile_width(6, 8) == 96 and tile_width(32, 32) == 96 and tile_width(50, 50) == 100
    assert tile_width(200, 100) == 200 and tile_width(1000, 500) == TILE_MAX and tile_width(1000, 500, 1) == 1000
    assert tile_width(0, 0) == TILE_MIN


def test_a_video_shows_at_its_own_size_up_to_the_panels_width(tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")

    def log(run):
        frames = np.random.default_rng(0).integers(0, 255, size=(5, 3, 32, 32), dtype=np.uint8)
        run.log({"gif": tracker.Video(frames, fps=4, format="gif")})
        run.log({"mp4": tracker.Video(str(clip))})

    view = _view(tmp_path, log)
    view.key.value = "gif"
    player = view.area.children[0]
    assert type(player).__name__ == "Image" and player.format == "gif"
    assert player.layout.width == "32px" and player.layout.max_width == "100%"
    assert player.layout.align_self == "flex-start"  # not stretched across the column
    view.key.value = "mp4"
    player = view.area.children[0]
    assert type(player).__name__ == "Video" and player.format == "mp4"
    assert player.layout.width == "auto" and player.layout.max_width == "100%"
    assert player.layout.align_self == "flex-start" and player.layout.width != "100%"


def test_a_steps_list_of_other_media_shows_side_by_side(tmp_path):
    def log(run):
        run.log({"sounds": [tracker.Audio(np.zeros(800), sample_rate=8000, caption=f"take {i}") for i in range(3)]})

    view = _view(tmp_path, log)
    box = view.area.children[0]
    assert type(box).__name__ == "Box" and box.layout.flex_flow == "row wrap"
    assert [type(c.children[0]).__name__ for c in box.children] == ["Audio"] * 3
    assert ["take 0" in c.children[1].value for c in box.children] == [True, False, False]


def test_the_controls_wrap_and_text_follows_the_theme(tmp_path):
    view = _view(tmp_path, lambda run: run.log({"img": tracker.Image(np.zeros((4, 4, 3), dtype=np.uint8))}))
    controls = view.widget.children[0]
    assert controls.layout.flex_flow == "row wrap"
    assert "#888" not in view.caption.value.replace("var(--jp-ui-font-color2, #888)", "")
    empty = _view(tmp_path / "b", lambda run: run.log({"x": 1.0}))
    assert "no media logged" in empty.caption.value and "var(--jp-" in empty.caption.value


def test_plot_helpers_are_drawn_as_charts(tmp_path):
    from bokeh.models import GlyphRenderer, Legend

    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 3, 200)
    probas = rng.dirichlet(np.ones(3), 200)
    probas[np.arange(200), y_true] += 0.5
    probas /= probas.sum(axis=1, keepdims=True)
    table = tracker.Table(columns=["epoch", "acc", "name"], data=[[i, i / 10, f"n{i % 3}"] for i in range(10)])

    def log(run):
        run.log({"pr": tracker.plot.pr_curve(y_true, probas, labels=["cat", "dog", "bird"]),
                 "roc": tracker.plot.roc_curve(y_true, probas, labels=["cat", "dog", "bird"]),
                 "cm": tracker.plot.confusion_matrix(y_true=y_true, preds=probas.argmax(axis=1),
                                                     class_names=["cat", "dog", "bird"]),
                 "line": tracker.plot.line(table, "epoch", "acc", title="accuracy"),
                 "bar": tracker.plot.bar(table, "name", "acc"),
                 "hist": tracker.plot.histogram(table, "acc"),
                 "scatter": tracker.plot.scatter(table, "epoch", "acc")})

    view = _view(tmp_path, log)

    def shown(key):
        view.key.value = key
        assert type(view.area.children[0]).__name__ == "TrackerBokehModel", key  # a chart, not JSON text
        return view.plot_fig

    roc = shown("roc")
    legend = roc.select_one(Legend)
    labels = [item.label["value"] for item in legend.items]
    assert [lb.split(" (")[0] for lb in labels] == ["cat", "dog", "bird"] and all("(AUC 0." in lb for lb in labels)
    assert len(roc.select(GlyphRenderer)) == 4  # three classes and the chance line
    pr = shown("pr")
    assert all("(AP 0." in item.label["value"] for item in pr.select_one(Legend).items)
    cm = shown("cm")
    assert list(cm.x_range.factors) == ["cat", "dog", "bird"] and list(cm.y_range.factors) == ["bird", "dog", "cat"]
    cells = cm.select(GlyphRenderer)[0].data_source.data
    assert sum(cells["n"]) == 200 and len(cells["n"]) == 9
    assert shown("line").title.text == "accuracy"
    assert list(shown("bar").x_range.factors) == ["n0", "n1", "n2"]
    assert shown("hist").select(GlyphRenderer)[0].glyph.__class__.__name__ == "Quad"
    assert shown("scatter").select(GlyphRenderer)[0].glyph.__class__.__name__ == "Scatter"


def test_boxes_and_masks_are_drawn_over_their_image_with_filters(tmp_path):
    img = np.zeros((40, 60, 3), dtype=np.uint8)
    mask = np.zeros((40, 60), dtype=np.uint8)
    mask[:20, :30] = 1
    mask[20:, 30:] = 2
    boxes = {"predictions": {"box_data": [
        {"position": {"minX": 0.1, "maxX": 0.5, "minY": 0.1, "maxY": 0.5}, "class_id": 0, "scores": {"conf": 0.9}},
        {"position": {"middle": [40, 30], "width": 10, "height": 8}, "domain": "pixel", "class_id": 1,
         "scores": {"conf": 0.3}, "box_caption": "maybe a dog"},
        {"position": {"minX": 0.6, "maxX": 0.9, "minY": 0.6, "maxY": 0.9}, "class_id": 0, "scores": {"conf": 0.6}},
    ], "class_labels": {0: "cat", 1: "dog"}}}
    masks = {"segmentation": {"mask_data": mask, "class_labels": {0: "background", 1: "road", 2: "car"}}}

    def log(run):
        run.log({"det": tracker.Image(img, boxes=boxes, masks=masks, caption="street")})

    view = _view(tmp_path, log)
    view.key.value = "det"
    ov = view.overlay
    assert ov is not None and view.area.children[0] is ov.widget
    rows = ov.boxes["predictions"]
    assert [r["class"] for r in rows] == ["cat", "dog", "cat"]
    first = rows[0]  # fractions of the image, y measured from the top; Bokeh's points up
    assert (first["left"], first["right"], first["top"], first["bottom"]) == (6.0, 30.0, 36.0, 20.0)
    dog = rows[1]
    assert (dog["left"], dog["right"], dog["top"], dog["bottom"]) == (35.0, 45.0, 14.0, 6.0)
    assert dog["label"] == "maybe a dog conf 0.30"
    assert len(ov.box_sources["predictions"].data["left"]) == 3
    ov.threshold.value = 0.5  # the score filter
    assert ov.box_sources["predictions"].data["label"] == ["cat conf 0.90", "cat conf 0.60"]
    ov.box_classes.value = ("dog",)  # the class filter
    assert ov.box_sources["predictions"].data["label"] == []
    ov.threshold.value = 0.0
    assert ov.box_sources["predictions"].data["label"] == ["maybe a dog conf 0.30"]
    ov.groups.value = ()
    assert ov.box_sources["predictions"].data["left"] == []
    # the mask: classes present toggled, opacity applied
    layer = ov.mask_sources["segmentation"].data["image"][0].view(np.uint8).reshape(40, 60, 4)[::-1]
    assert layer[0, 0, 3] == 128 and layer[39, 59, 3] == 128 and layer[0, 59, 3] == 128  # 0 is labelled: drawn
    ov.mask_classes["segmentation"].value = (2,)
    ov.opacity.value = 1.0
    layer = ov.mask_sources["segmentation"].data["image"][0].view(np.uint8).reshape(40, 60, 4)[::-1]
    assert layer[0, 0, 3] == 0 and layer[39, 59, 3] == 255
    assert layer[0, 59, 3] == 0
    assert [label for label, _ in ov.mask_classes["segmentation"].options] == ["background", "road", "car"]


def test_wandb_classes_name_boxes_and_masks_without_labels(tmp_path):
    from tracker.media import MediaError

    classes = tracker.Classes([{"id": 0, "name": "sky"}, {"id": 1, "name": "tree"}])
    mask = np.zeros((10, 10), dtype=np.uint8)
    mask[5:] = 1
    box = {"position": {"minX": 0.0, "maxX": 0.5, "minY": 0.0, "maxY": 0.5}, "class_id": 1}

    def log(run):
        run.log({"scene": tracker.Image(np.zeros((10, 10, 3), dtype=np.uint8), classes=classes,
                                        boxes={"gt": {"box_data": [box]}}, masks={"seg": {"mask_data": mask}})})

    view = _view(tmp_path, log)
    view.key.value = "scene"
    assert view.current().record["classes"] == [{"id": 0, "name": "sky"}, {"id": 1, "name": "tree"}]
    assert view.overlay.boxes["gt"][0]["class"] == "tree"
    assert [label for label, _ in view.overlay.mask_classes["seg"].options] == ["sky", "tree"]
    with pytest.raises(MediaError, match="Classes takes a list"):
        tracker.Classes([{"id": "x"}])


def test_image_cells_of_a_table_show_as_thumbnails(tmp_path):
    def log(run):
        table = tracker.Table(columns=["id", "picture", "label"])
        for i in range(3):
            table.add_data(i, tracker.Image(np.full((8, 8, 3), 60 * i, dtype=np.uint8)), f"<b>{i}</b>")
        run.log({"preds": table})

    view = _view(tmp_path, log)
    view.key.value = "preds"
    cells = view.table_data
    assert all(v.startswith("data:image/png;base64,") for v in cells["picture"])
    assert cells["id"] == [0, 1, 2] and cells["label"] == ["<b>0</b>", "<b>1</b>", "<b>2</b>"]


def test_plotly_figures_and_the_pyplot_module_are_logged_and_drawn(tmp_path):
    go = pytest.importorskip("plotly.graph_objects")
    plt = pytest.importorskip("matplotlib.pyplot")
    from bokeh.models import GlyphRenderer

    xs = np.linspace(0, 1, 50)
    plotly_fig = go.Figure([go.Scatter(x=xs, y=xs ** 2, mode="lines", name="square"),
                            go.Bar(x=["a", "b"], y=[3, 1], name="counts"),
                            go.Pie(values=[1, 2], name="share")])
    plotly_fig.update_layout(title="growth", xaxis_title="x", yaxis_type="log")

    def log(run):
        plt.figure()
        plt.plot([1, 2, 3], [1, 4, 9])
        run.log({"chart": plt, "interactive": plotly_fig})  # the pyplot module, as W&B's docs show
        plt.close("all")

    view = _view(tmp_path, log)
    view.key.value = "chart"
    assert view.current().record["library"] == "matplotlib" and view.current().files.get("png")
    view.key.value = "interactive"
    assert view.current().record["library"] == "plotly"
    fig = view.plot_fig
    assert fig.title.text == "growth" and fig.xaxis[0].axis_label == "x" and fig.y_scale.__class__.__name__ == "LogScale"
    glyphs = sorted(type(r.glyph).__name__ for r in fig.select(GlyphRenderer))
    assert glyphs == ["Line", "VBar"]
    line = next(r for r in fig.select(GlyphRenderer) if type(r.glyph).__name__ == "Line")
    assert np.allclose(line.data_source.data["y"], xs ** 2)  # plotly's typed arrays decoded
    note = view.area.children[0].children[1].value
    assert "share (pie)" in note


PDB = """\
ATOM      1  N   GLY A   1       0.000   0.000   0.000  1.00  0.00           N
ATOM      2  CA  GLY A   1       1.458   0.000   0.000  1.00  0.00           C
ATOM      3  C   GLY A   1       2.009   1.420   0.000  1.00  0.00           C
ATOM      4  O   GLY A   1       1.251   2.390   0.000  1.00  0.00           O
END
"""


def test_point_clouds_and_molecules_rotate(tmp_path):
    from tracker.media import MediaError
    from tracker.ui.points_view import rotate

    (tmp_path / "gly.pdb").write_text(PDB)
    (tmp_path / "cube.obj").write_text("".join(f"v {x} {y} {z}\n" for x in (0, 1) for y in (0, 1) for z in (0, 1)))
    cloud = np.c_[np.random.default_rng(0).normal(size=(500, 3)), np.full((500, 3), 200)]

    def log(run):
        run.log({"cloud": tracker.Object3D(cloud), "mesh": tracker.Object3D(str(tmp_path / "cube.obj")),
                 "molecule": tracker.Molecule(str(tmp_path / "gly.pdb"), caption="glycine")})

    view = _view(tmp_path, log)
    view.key.value = "molecule"
    pv = view.points_view
    assert sorted(pv.source.data["element"]) == ["C", "C", "N", "O"] and "#ff0d0d" in pv.source.data["colour"]
    before = list(pv.source.data["x"])
    pv.azimuth.value = 120  # turned in the kernel: new coordinates reach the page
    assert pv.source.data["x"] != before and len(pv.source.data["x"]) == 4
    view.key.value = "mesh"
    assert len(view.points_view.source.data["x"]) == 8
    view.key.value = "cloud"
    assert len(view.points_view.source.data["x"]) == 500 and view.points_view.source.data["colour"][0] == "#c8c8c8"
    axis = np.array([[1.0, 0, 0], [-1.0, 0, 0]])
    assert np.allclose(rotate(axis, 90, 0), [[0, 1, 0], [0, -1, 0]])  # a quarter turn about z: x to y
    assert np.allclose(rotate(np.array([[0, 1.0, 0], [0, -1.0, 0]]), 0, 90), [[0, 0, 1], [0, 0, -1]])  # up: y to z
    with pytest.raises(MediaError, match="RDKit"):
        tracker.Molecule.from_smiles("CCO")
    assert isinstance(tracker.Plotly(object()), tracker.Figure)


def test_a_debug_sample_downloads_under_its_own_name(tmp_path):
    import base64

    def log(run):
        run.log({"val/samples": _images("x", n=2)})
        run.log({"val/one": tracker.Image(np.zeros((4, 4, 3), dtype=np.uint8))})

    view = _view(tmp_path, log)
    view.key.value = "val/one"
    view.make_download()
    links = re.findall(r"<a download='([^']+)' href='data:application/octet-stream;base64,([^']+)'", view.download_link.value)
    assert [name for name, _ in links] == ["val_one_step1.png"]
    assert base64.b64decode(links[0][1]) == view.current().read_bytes()
    view.key.value = "val/samples"
    assert view.download_link.value == ""  # a new item: the old link is gone
    view.make_download()
    names = re.findall(r"<a download='([^']+)'", view.download_link.value)
    assert names == ["val_samples_step0_0.png", "val_samples_step0_1.png"]
