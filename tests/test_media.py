"""Media: images, audio, HTML, histograms, tables; storage, index, bad input."""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
import pytest
from PIL import Image as PILImage

import tracker
from tracker import TrackerWarning
from tracker.media import MediaError


def read(store, run):
    return tracker.Api(dir=store).run(run.path)


def test_images_from_every_source(make_run, store, tmp_path):
    png = tmp_path / "pic.png"
    PILImage.fromarray(np.full((10, 20, 3), 200, np.uint8)).save(png)
    run = make_run()
    sources = {
        "hw_uint8": np.arange(64, dtype=np.uint8).reshape(8, 8),
        "hwc_float": np.random.default_rng(0).random((16, 12, 3)),
        "chw_float": np.random.default_rng(1).random((3, 16, 12)),
        "rgba": np.zeros((4, 5, 4), np.uint8),
        "outside_0_1": np.linspace(-5, 500, 64).reshape(8, 8),
        "pil": PILImage.new("RGB", (7, 9), (1, 2, 3)),
        "path": str(png),
        "bool_mask": np.eye(6, dtype=bool),
    }
    run.log({k: tracker.Image(v, caption=k) for k, v in sources.items()})
    run.finish()
    items = {m.key: m for m in read(store, run).media(kind="image")}
    assert set(items) == set(sources)
    assert items["hw_uint8"].load().tolist() == sources["hw_uint8"].tolist()
    assert items["hwc_float"].load().shape == (16, 12, 3) and (items["chw_float"].width, items["chw_float"].height) == (12, 16)
    loaded = items["outside_0_1"].load()
    assert loaded.min() == 0 and loaded.max() == 255  # stretched into range
    assert (items["pil"].width, items["pil"].height) == (7, 9) and items["pil"].load()[0, 0].tolist() == [1, 2, 3]
    assert items["path"].record["format"] == "png" and items["path"].read_bytes() == png.read_bytes()
    assert items["bool_mask"].load().max() == 255 and items["hwc_float"].caption == "hwc_float"


def test_identical_media_are_stored_once(make_run, store):
    run = make_run()
    img = np.zeros((8, 8, 3), np.uint8)
    for _ in range(5):
        run.log({"same": tracker.Image(img)})
    run.finish()
    items = read(store, run).media(key="same")
    assert [m.step for m in items] == [0, 1, 2, 3, 4]
    assert len({m.path for m in items}) == 1 and len(os.listdir(os.path.dirname(items[0].path))) == 1


def test_audio_html_histogram_table(make_run, store):
    run = make_run()
    t = np.linspace(0, 1, 4000)
    table = tracker.Table(columns=["id", "label"])
    table.add_data(1, "cat")
    table.add_data(2, "dog")
    table.add_column("score", [0.5, 0.9])
    run.log({
        "wave": tracker.Audio(np.sin(2 * np.pi * 440 * t), sample_rate=4000, caption="A4"),
        "stereo": tracker.Audio(np.zeros((100, 2), np.int16), sample_rate=100),
        "page": tracker.Html("<h1>report</h1><script>parent.document.title='x'</script>"),
        "grads": tracker.Histogram([1, 2, 2, 3, 3, 3, float("nan"), float("inf")], num_bins=3),
        "pre": tracker.Histogram(np_histogram=([1, 2], [0.0, 0.5, 1.0])),
        "preds": table,
    })
    run.finish()
    r = read(store, run)
    samples, rate = r.media(key="wave")[0].load()
    assert rate == 4000 and len(samples) == 4000 and r.media(key="wave")[0].duration == pytest.approx(1.0)
    assert r.media(key="stereo")[0].load()[0].shape == (100, 2)
    assert "<script>" in r.media(key="page")[0].load()  # stored as is; panels show it sandboxed
    hist = r.media(key="grads")[0]
    assert hist.load()["counts"] == [1, 2, 3] and hist.nan_count == 1 and hist.inf_count == 1
    assert r.media(key="pre")[0].load() == {"bins": [0.0, 0.5, 1.0], "counts": [1, 2]}
    frame = r.media(key="preds")[0].load()
    assert frame.to_dict("list") == {"id": [1, 2], "label": ["cat", "dog"], "score": [0.5, 0.9]}
    assert r.summary["grads"]["_type"] == "histogram"  # the summary holds the last reference
    assert r.history()["preds"].iloc[0]["rows"] == 2


def test_galleries_and_steps(make_run, store):
    run = make_run()
    for step in range(3):
        run.log({"samples": [tracker.Image(np.full((4, 4), step * 10 + i, np.uint8)) for i in range(3)], "x": step})
    run.finish()
    r = read(store, run)
    at_step_1 = r.media(key="samples", step=1)
    assert [m.record["index"] for m in at_step_1] == [0, 1, 2]
    assert [int(m.load()[0, 0]) for m in at_step_1] == [10, 11, 12]
    assert len(r.media()) == 9 and r.history()["samples"].iloc[2][1]["index"] == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (lambda p: tracker.Image(np.zeros((0, 4))), r"'bad'.*Image: a ndarray of shape \(0, 4\).*is empty"),
        (lambda p: tracker.Image(np.zeros((2, 2, 2, 2))), r"shape \(2, 2, 2, 2\).*HW, HWC or CHW"),
        (lambda p: tracker.Image(np.full((4, 4), np.nan)), "NaN"),
        (lambda p: tracker.Image(str(p / "missing.png")), "missing.png is not a file"),
        (lambda p: tracker.Image(str(p / "corrupt.png")), "not a readable image"),
        (lambda p: tracker.Image(np.zeros((1, 2), dtype=object)), "does not hold numbers"),
        (lambda p: tracker.Audio(np.zeros(0), sample_rate=8000), "at least one sample"),
        (lambda p: tracker.Audio(np.zeros(10)), "needs sample_rate"),
        (lambda p: tracker.Histogram(np_histogram=([1, 2, 3], [0, 1])), "3 counts need 4 bin edges"),
        (lambda p: tracker.Image(np.zeros((8000, 8000, 3), np.float32)), "over the 100 MB limit"),
    ],
)
def test_bad_media_warn_with_key_type_and_shape_and_keep_the_rest(store, tmp_path, value, message):
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    run = tracker.init(project="p", dir=store, reinit="create_new", settings={"quiet": True})
    with pytest.warns(TrackerWarning, match=message):
        run.log({"bad": value(tmp_path), "good": 1.0, "img": tracker.Image(np.zeros((2, 2), np.uint8))})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run.finish()
    r = tracker.Api(dir=store).run(run.path)
    assert r.history()["good"].tolist() == [1.0] and "bad" not in r.history().columns
    assert [m.key for m in r.media()] == ["img"]


def test_table_rows_of_the_wrong_length_are_refused_at_once():
    table = tracker.Table(columns=["a", "b"])
    with pytest.raises(MediaError, match=r"row 0 has 3 values for 2 columns \['a', 'b'\]"):
        table.add_data(1, 2, 3)
    with pytest.raises(MediaError, match="row 1 has 1 values"):
        tracker.Table(columns=["a", "b"], data=[[1, 2], [3]])


def test_a_matplotlib_figure_like_object_is_drawn_on_the_callers_thread(make_run, store):
    class Figure:  # stands in for matplotlib.figure.Figure (recognised by class, never imported)
        __module__ = "matplotlib.figure"
        dpi = 10

        def get_size_inches(self):
            return np.array([3.0, 2.0])

        def savefig(self, buf, format, bbox_inches):
            PILImage.new("RGB", (30, 20), (9, 9, 9)).save(buf, format="PNG")

    run = make_run()
    run.log({"chart": tracker.Image(Figure())})
    run.finish()
    item = read(store, run).media(key="chart")[0]
    assert (item.width, item.height) == (30, 20) and item.load()[0, 0].tolist() == [9, 9, 9]
    assert PILImage.open(io.BytesIO(item.read_bytes())).size == (30, 20)


def test_media_sql_view(make_run, store):
    run = make_run()
    run.log({"img": tracker.Image(np.zeros((4, 6), np.uint8), caption="zero")})
    run.log({"img": tracker.Image(np.ones((4, 6), np.uint8))})
    run.finish()
    rows = tracker.Api(dir=store).sql(
        "select step, key, text->>'_type' as kind, (text->>'width')::int as width, text->>'caption' as caption "
        "from media order by step")
    assert rows[["step", "key", "kind", "width"]].values.tolist() == [[0, "img", "image", 6], [1, "img", "image", 6]]
    assert rows["caption"].iloc[0] == "zero" and rows["caption"].isna().iloc[1]


def test_plot_helpers_compute_curves_without_scikit_learn(make_run, store):
    from tracker import plot

    y_true = np.array([0, 0, 1, 1])
    perfect = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.1, 0.9]])
    roc = plot.roc_curve(y_true, perfect, labels=["neg", "pos"])
    assert roc.spec["auc"] == {"neg": 1.0, "pos": 1.0}
    scores = np.array([0.1, 0.4, 0.35, 0.8])  # the classic example: AUC 0.75, AP 0.83
    assert plot.roc_curve(y_true, scores, classes_to_plot=[1]).spec["auc"]["1"] == pytest.approx(0.75)
    pr = plot.pr_curve(y_true, scores, classes_to_plot=[1])
    assert pr.spec["average_precision"]["1"] == pytest.approx(0.8333, abs=1e-4)
    cm = plot.confusion_matrix(y_true=[0, 1, 1, 2], preds=[0, 1, 2, 2], class_names=["a", "b", "c"])
    cells = {(a, p): n for a, p, n in cm.table.data}
    assert cells[("b", "c")] == 1 and cells[("c", "c")] == 1 and sum(cells.values()) == 4
    assert plot.confusion_matrix(y_true=[1, 0], probs=[[0.2, 0.8], [0.6, 0.4]]).table.data[3] == ["1", "1", 1]
    assert plot.confusion_matrix(y_true=[1.0, 0.0], preds=np.array([1.0, 1.0])).table.data[1] == ["0", "1", 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "invalid value encountered in cast": refused before
        for bad in ([0.0, float("nan")], [0.5, 1.0], [0, float("inf")], [0.0, 1e300]):
            with pytest.raises(MediaError, match="whole class ids"):
                plot.confusion_matrix(y_true=[0, 1], preds=bad)
    series = plot.line_series([0, 1, 2], [[1, 2, 3], [3, 2, 1]], keys=["up", "down"], xname="epoch")
    assert series.table.columns == ["lineKey", "epoch", "y"] and len(series.table.data) == 6
    table = tracker.Table(columns=["x", "y"], data=[[1, 2], [2, 4]])
    run = make_run()
    run.log({"roc": roc, "line": plot.line(table, "x", "y", title="double"), "bar": plot.bar(table, "x", "y"),
             "scatter": plot.scatter(table, "x", "y"), "hist": plot.histogram(table, "y"), "cm": cm})
    run.finish()
    items = {m.key: m for m in read(store, run).media(kind="plot")}
    assert set(items) == {"roc", "line", "bar", "scatter", "hist", "cm"}
    assert items["line"].spec == {"type": "line", "x": "x", "y": "y", "stroke": None}
    assert items["line"].title == "double" and items["roc"].load()["class"].unique().tolist() == ["neg", "pos"]
    with pytest.raises(MediaError, match="no column 'z'"):
        plot.line(table, "x", "z")
    with pytest.raises(MediaError, match="does not match 3 labels"):
        plot.roc_curve([0, 1, 1], np.zeros((2, 2)))


class FakeMplFigure:
    """Stands in for matplotlib.figure.Figure (matplotlib is not a dependency)."""

    __module__ = "matplotlib.figure"
    dpi = 10

    def get_size_inches(self):
        return np.array([4.0, 3.0])

    def savefig(self, buf, format, bbox_inches):
        if format == "svg":
            buf.write(b"<svg xmlns='http://www.w3.org/2000/svg' width='40' height='30'></svg>")
        else:
            PILImage.new("RGB", (40, 30), (1, 2, 3)).save(buf, format="PNG")


FakeMplFigure.__name__ = "Figure"


def test_figures_and_3d_objects(make_run, store, tmp_path):
    from bokeh.plotting import figure

    chart = figure(title="loss")
    chart.line([1, 2, 3], [3, 2, 1])
    mesh = tmp_path / "cube.obj"
    mesh.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    cloud = np.random.default_rng(0).random((500, 6))
    run = make_run()
    run.log({"mpl": FakeMplFigure(), "bokeh": chart, "cloud": tracker.Object3D(cloud), "mesh": tracker.Object3D(str(mesh))})
    run.finish()
    items = {m.key: m for m in read(store, run).media()}
    mpl = items["mpl"]
    assert mpl.kind == "figure" and mpl.library == "matplotlib" and (mpl.width, mpl.height) == (40, 30)
    assert mpl.load()[0, 0].tolist() == [1, 2, 3]  # the PNG
    assert open(mpl.files["svg"]).read().startswith("<svg")
    doc = items["bokeh"].load()
    assert items["bokeh"].library == "bokeh" and "doc" in doc and "root_id" in doc
    assert items["cloud"].load().shape == (500, 6) and items["cloud"].points == 500
    assert items["mesh"].format == "obj" and items["mesh"].read_bytes() == mesh.read_bytes()


def test_bad_3d_objects_warn(store):
    run = tracker.init(project="p", dir=store, reinit="create_new", settings={"quiet": True})
    with pytest.warns(TrackerWarning, match=r"'pc'.*shape \(10, 2\).*not N x 3"):
        run.log({"pc": tracker.Object3D(np.zeros((10, 2))), "ok": 1})
    with pytest.warns(TrackerWarning, match=r"Object3D files are"):
        run.log({"f": tracker.Object3D(__file__)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run.finish()


def test_video_gif_and_mp4(make_run, store):
    rng = np.random.default_rng(0)
    tchw = rng.integers(0, 256, (6, 3, 32, 48), dtype=np.uint8)
    run = make_run()
    run.log({"gif": tracker.Video(tchw, fps=4), "mp4": tracker.Video(tchw.astype(np.float32) / 255, fps=8, format="mp4")})
    run.finish()
    items = {m.key: m for m in read(store, run).media(kind="video")}
    gif = items["gif"]
    assert (gif.frames, gif.width, gif.height, gif.duration) == (6, 48, 32, 1.5)
    assert gif.read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    import imageio.v3 as iio

    assert iio.imread(gif.path, index=None).shape[0] == 6
    assert items["mp4"].read_bytes()[4:8] == b"ftyp"  # an MP4 container


def test_bad_videos_warn(store):
    run = tracker.init(project="p", dir=store, reinit="create_new", settings={"quiet": True})
    with pytest.warns(TrackerWarning, match=r"'v'.*Video: a ndarray of shape \(2, 5, 5\).*T x C x H x W"):
        run.log({"v": tracker.Video(np.zeros((2, 5, 5))), "ok": 1})
    with pytest.warns(TrackerWarning, match="format='avi'"):
        run.log({"w": tracker.Video(np.zeros((1, 3, 4, 4)), format="avi")})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run.finish()


def test_logged_html_is_shown_only_in_a_sandboxed_iframe(make_run, store):
    evil = "<h1>hi</h1><script>parent.document.body.innerHTML = 'owned'</script>"
    run = make_run()
    run.log({"page": tracker.Html(evil)})
    run.finish()
    item = read(store, run).media(key="page")[0]
    markup = item._repr_html_()
    assert markup.startswith('<iframe sandbox="allow-scripts"') and "allow-same-origin" not in markup
    assert "<script>" not in markup and "&lt;script&gt;" in markup  # only inside srcdoc, escaped
    from tracker.api.media import sandboxed_iframe

    assert sandboxed_iframe('"><script>x</script>').count("<script>") == 0  # no breaking out of srcdoc


def test_boxes_masks_and_media_in_table_cells(make_run, store):
    img = np.zeros((20, 30, 3), np.uint8)
    mask = np.zeros((20, 30), np.uint8)
    mask[5:10, 5:10] = 1
    boxes = {"predictions": {"box_data": [{"position": {"minX": 1, "maxX": 5, "minY": 2, "maxY": 9},
                                           "class_id": 1, "box_caption": "cat", "scores": {"p": 0.9}}],
                             "class_labels": {1: "cat"}}}
    table = tracker.Table(columns=["id", "picture"])
    table.add_data(1, tracker.Image(np.full((4, 4), 7, np.uint8)))
    table.add_data(2, tracker.Image(np.full((4, 4), 9, np.uint8)))
    run = make_run()
    run.log({"det": tracker.Image(img, boxes=boxes, masks={"seg": {"mask_data": mask, "class_labels": {1: "cat"}}}),
             "preds": table})
    run.finish()
    r = read(store, run)
    det = r.media(key="det")[0]
    assert det.boxes["predictions"]["box_data"][0]["box_caption"] == "cat"
    assert det.boxes["predictions"]["class_labels"] == {"1": "cat"}
    assert det.masks == {"seg": {"class_labels": {"1": "cat"}}}
    assert np.asarray(PILImage.open(det.files["seg.mask.png"])).sum() == 25
    frame = r.media(key="preds")[0].load()
    assert [cell["_type"] for cell in frame["picture"]] == ["image", "image"]
    cells = r.media(key="preds/cells")
    assert [int(c.load()[0, 0]) for c in cells] == [7, 9]


def test_bad_masks_and_boxes_warn(store):
    run = tracker.init(project="p", dir=store, reinit="create_new", settings={"quiet": True})
    with pytest.warns(TrackerWarning, match=r"masks\['seg'\] of shape \(2, 2\) does not match the image's \(4, 4\)"):
        run.log({"a": tracker.Image(np.zeros((4, 4)), masks={"seg": {"mask_data": np.zeros((2, 2))}})})
    with pytest.warns(TrackerWarning, match="needs a 'box_data' list"):
        run.log({"b": tracker.Image(np.zeros((4, 4)), boxes={"p": {}})})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run.finish()


def test_a_media_summary_is_one_column_of_the_run_table(make_run, store):
    run = make_run()
    run.log({"img": tracker.Image(np.zeros((2, 2), np.uint8)), "x": 1.0})
    run.finish()
    frame = tracker.Api(dir=store).runs("test").to_pandas()
    assert "summary.img" in frame.columns and not any(c.startswith("summary.img.") for c in frame.columns)
    assert frame["summary.img"].iloc[0]["_type"] == "image"


def test_table_get_index_and_computed_columns():
    """W&B's Table.get_index and add_computed_columns."""
    table = tracker.Table(columns=["x", "y"], data=[[1, 2], [3, 4]])
    assert table.get_index() == [0, 1]
    assert table.add_computed_columns(lambda i, row: {"sum": row["x"] + row["y"], "i": i}) is table
    assert table.columns == ["x", "y", "sum", "i"] and table.data == [[1, 2, 3, 0], [3, 4, 7, 1]]
    with pytest.raises(tracker.media.MediaError, match="named twice"):
        table.add_computed_columns(lambda i, row: {"x": 0})
    with pytest.raises(tracker.media.MediaError, match="raised ZeroDivisionError"):
        table.add_computed_columns(lambda i, row: {"bad": 1 / 0})
    with pytest.raises(tracker.media.MediaError, match="same keys"):
        table.add_computed_columns(lambda i, row: {"a": 1} if i == 0 else {"b": 2})
    assert table.columns == ["x", "y", "sum", "i"] and all(len(r) == 4 for r in table.data)  # unchanged


def test_table_column_types_as_in_wandb():
    from tracker.media import MediaError

    t = tracker.Table(columns=["n", "label"], data=[[1, "a"], [2.5, None], [float("nan"), "b"]])  # ints and floats: numbers
    with pytest.raises(MediaError, match="column 'label' holds text cells: row 3 has a int"):
        t.add_data(3, 7)
    assert len(t.data) == 3  # the refused row was not added
    with pytest.raises(MediaError, match="not optional"):
        tracker.Table(columns=["a"], data=[[None]], optional=False)
    with pytest.raises(MediaError, match="typed str"):
        tracker.Table(columns=["a", "b"], data=[[1, 2]], dtype=[str, int])
    with pytest.raises(MediaError, match="column 'c' holds number cells"):
        t.add_column("c", [1, "x", 2])
    assert t.columns == ["n", "label"]
    mixed = tracker.Table(columns=["a"], allow_mixed_types=True)
    mixed.add_data(1)
    mixed.add_data("text")
    with pytest.raises(MediaError, match="log_mode"):
        tracker.Table(columns=["a"], log_mode="APPEND")
    assert tracker.Table(columns=["a"], log_mode="INCREMENTAL").log_mode == "INCREMENTAL"


def test_a_tables_log_mode_is_kept_with_it(make_run, store):
    run = make_run()
    table = tracker.Table(columns=["id", "img"], log_mode="MUTABLE")
    table.add_data(1, tracker.Image(np.zeros((2, 2, 3), dtype=np.uint8)))  # media cells: stored via a copy
    run.log({"t": table})
    run.finish()
    (item,) = tracker.Api(dir=store).run(run.path).media(key="t")
    assert item.record["log_mode"] == "MUTABLE"
