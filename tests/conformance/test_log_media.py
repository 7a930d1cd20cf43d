"""Conformance: the Python examples of W&B's "Log media and objects" page (seed document
``002_549efb0fdfafb38e.txt``) and of the older ``wandb.log`` reference (``003_bb677949eac0642c.txt``),
run with ``import tracker as wandb``.

Each test runs one example as the document writes it, with ``import tracker as wandb`` in place of
``import wandb``. The examples are one-line calls of the module-level API: the ``wandb.init()`` they
need first (``wandb.log`` before ``init`` is an error, the reference says) and the ``wandb.finish()``
after are added, and what the document leaves undefined (``numpy_array_or_sequence``, ``y_test``,
``myimage.jpg``, ``sample.obj``, ...) is filled in with small local definitions or files in the
test's temporary folder. What the document says happens is checked by reading the store back with
the read API (``tracker.Api``).

Examples of the documents left out, and why:

- 002, "What data is logged with specific W&B API calls?", "PyTorch gradients: Add to see gradients
  ...": the page as stored lost the code (``wandb.watch(model)``); nothing to run.
- No example of these pages needs a W&B server or a login: syncing to the cloud and the UI are
  described in prose only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance.helpers import read, write_3d_samples
from tracker.ui.series import sections

# --- 002: Log media and objects ------------------------------------------------------------------


def test_002_configuration_information():
    """002, "What data is logged with specific W&B API calls?", Configuration information:
    ``wandb.init(config=your_config_dictionary)`` records the hyperparameters with the run."""
    your_config_dictionary = {"learning_rate": 0.01, "architecture": "CNN", "dataset": "CIFAR-100",
                              "layers": {"conv": 3, "dense": 2}}

    import tracker as wandb

    run = wandb.init(config=your_config_dictionary)
    wandb.finish()

    assert read(run).config == your_config_dictionary
    assert run.config["layers"]["conv"] == 3 and run.config.architecture == "CNN"


def test_002_compare_the_best_accuracy():
    """002, "Common workflows", 1. Compare the best accuracy: summary is the last value logged by
    default; ``summary["best_accuracy"] = best_accuracy`` stores the best one beside it. (The page's
    code is garbled to ``summary like so:["best_accuracy"] = best_accuracy``; run with the run's
    ``summary``.)"""
    import tracker as wandb

    run = wandb.init()
    accuracies = [0.6, 0.9, 0.8]
    for accuracy in accuracies:
        wandb.log({"accuracy": accuracy})
    best_accuracy = max(accuracies)
    wandb.run.summary["best_accuracy"] = best_accuracy
    wandb.finish()

    summary = read(run).summary
    assert summary["accuracy"] == 0.8  # by default, the last value logged
    assert summary["best_accuracy"] == 0.9


def test_002_multiple_metrics_on_one_chart():
    """002, "Common workflows", 2. Multiple metrics on one chart: both keys of one
    ``wandb.log({"acc'": 0.9, "loss": 0.1})`` call are in the same step (the key ``acc'``, with its
    stray quote, as the page writes it)."""
    import tracker as wandb

    run = wandb.init()
    wandb.log({"acc'": 0.9, "loss": 0.1})
    wandb.finish()

    history = read(run).history()
    assert history[["_step", "acc'", "loss"]].to_dict("records") == [{"_step": 0, "acc'": 0.9, "loss": 0.1}]


def test_002_custom_x_axis():
    """002, "Common workflows", 3. Custom x-axis: ``epoch`` and ``batch`` logged in the same call
    are axes the metric can be read (and charted) against."""
    import tracker as wandb

    run = wandb.init()
    wandb.log({'acc': 0.9, 'epoch': 3, 'batch': 117})
    wandb.finish()

    stored = read(run)
    by_epoch = stored.history(keys=["acc"], x_axis="epoch")
    assert by_epoch[["epoch", "acc"]].to_dict("records") == [{"epoch": 3, "acc": 0.9}]
    by_batch = stored.history(keys=["acc"], x_axis="batch")
    assert by_batch[["batch", "acc"]].to_dict("records") == [{"batch": 117, "acc": 0.9}]
    series = stored.series(["acc"], buckets=10, x_axis="batch")["acc"]
    assert series["x"].tolist() == [117] and series["y"].tolist() == [0.9]


# --- 003: wandb.log reference: description ------------------------------------------------------


def test_003_most_basic_usage():
    """003, ``log`` description: ``wandb.log({'train-loss': 0.5, 'accuracy': 0.9})`` saves a history
    row with train-loss=0.5 and accuracy=0.9, and updates the summary values."""
    import tracker as wandb

    run = wandb.init()
    wandb.log({'train-loss': 0.5, 'accuracy': 0.9})
    wandb.finish()

    stored = read(run)
    assert stored.history()[["_step", "train-loss", "accuracy"]].to_dict("records") == [
        {"_step": 0, "train-loss": 0.5, "accuracy": 0.9}
    ]
    assert stored.summary == {"train-loss": 0.5, "accuracy": 0.9}


def test_003_manual_summary_is_not_updated_by_log():
    """003, ``log`` description: once ``wandb.run.summary["accuracy"] = 0.9`` is set by hand,
    ``wandb.log`` no longer updates the run's accuracy summary (the history keeps every value)."""
    import tracker as wandb

    run = wandb.init()
    wandb.log({"accuracy": 0.5})
    wandb.run.summary["accuracy"] = 0.9
    wandb.log({"accuracy": 0.7})
    wandb.log({"accuracy": 0.6})
    wandb.finish()

    stored = read(run)
    assert stored.summary["accuracy"] == 0.9
    assert stored.history()["accuracy"].tolist() == [0.5, 0.7, 0.6]


def test_003_log_an_image_file():
    """003, ``log`` description: ``wandb.log({"example": wandb.Image("myimage.jpg")})`` logs an
    example image."""
    import numpy as np
    from PIL import Image

    pixels = np.zeros((24, 32, 3), dtype=np.uint8)
    pixels[:, :16] = (255, 0, 0)
    Image.fromarray(pixels).save("myimage.jpg", quality=95)

    import tracker as wandb

    run = wandb.init()
    wandb.log({"example": wandb.Image("myimage.jpg")})
    wandb.finish()

    [item] = read(run).media(key="example")
    assert item.kind == "image" and item.step == 0
    assert (item.record["width"], item.record["height"]) == (32, 24)
    loaded = item.load()
    assert loaded.shape == (24, 32, 3)
    assert loaded[12, 4, 0] > 200 and loaded[12, 28, 0] < 50  # red on the left, black on the right


def test_003_nested_metrics():
    """003, ``log`` description: nested metrics are logged and organized by their dataset."""
    import tracker as wandb

    run = wandb.init()
    wandb.log({'dataset-1': {'acc': 0.9, 'loss': 0.3}, 'dataset-2': {'acc': 0.8, 'loss': 0.2}})
    wandb.finish()

    stored = read(run)
    history = stored.history()
    assert history[["dataset-1/acc", "dataset-1/loss", "dataset-2/acc", "dataset-2/loss"]].to_dict("records") == [
        {"dataset-1/acc": 0.9, "dataset-1/loss": 0.3, "dataset-2/acc": 0.8, "dataset-2/loss": 0.2}
    ]
    grouped = sections(history.columns[3:])
    assert sorted(grouped) == ["dataset-1", "dataset-2"]
    assert sorted(grouped["dataset-1"]) == ["dataset-1/acc", "dataset-1/loss"]
    assert stored.summary["dataset-2/loss"] == 0.2


def test_003_commit_false_is_one_call():
    """003, ``log`` description: ``wandb.log({'train-loss': 0.5}, commit=False)`` then
    ``wandb.log({'accuracy': 0.9})`` is equivalent to ``wandb.log({'train-loss': 0.5, 'accuracy':
    0.9})``. (The page writes the first call ``wandb.log({'train-loss': 0.5, commit=False})``, a
    syntax error; it is run as the keyword argument it means.)"""
    import tracker as wandb

    split = wandb.init()
    wandb.log({'train-loss': 0.5}, commit=False)
    wandb.log({'accuracy': 0.9})
    wandb.finish()

    together = wandb.init()
    wandb.log({'train-loss': 0.5, 'accuracy': 0.9})
    wandb.finish()

    columns = ["_step", "train-loss", "accuracy"]
    assert read(split).history()[columns].to_dict("records") == [{"_step": 0, "train-loss": 0.5, "accuracy": 0.9}]
    assert read(split).history()[columns].equals(read(together).history()[columns])
    assert read(split).summary == read(together).summary


# --- 003: wandb.log reference: Examples -----------------------------------------------------------


def test_003_example_basic_usage():
    """003, Examples, "Basic usage": ``wandb.log({'accuracy': 0.9, 'epoch': 5})``."""
    import tracker as wandb

    run = wandb.init()
    wandb.log({'accuracy': 0.9, 'epoch': 5})
    wandb.finish()

    stored = read(run)
    assert stored.history()[["_step", "accuracy", "epoch"]].to_dict("records") == [
        {"_step": 0, "accuracy": 0.9, "epoch": 5}
    ]
    assert stored.summary == {"accuracy": 0.9, "epoch": 5}


def test_003_example_incremental_logging():
    """003, Examples, "Incremental logging": ``commit=False`` keeps the step open until the next
    call."""
    import tracker as wandb

    run = wandb.init()
    wandb.log({'loss': 0.2}, commit=False)
    # Somewhere else when I'm ready to report this step:
    wandb.log({'accuracy': 0.8})
    wandb.finish()

    assert read(run).history()[["_step", "loss", "accuracy"]].to_dict("records") == [
        {"_step": 0, "loss": 0.2, "accuracy": 0.8}
    ]


@pytest.mark.parametrize("given", ["numpy array", "sequence"])
def test_003_example_histogram(given: str):
    """003, Examples, "Histogram": ``wandb.Histogram(numpy_array_or_sequence)``, from a numpy array
    and from a plain list."""
    import numpy as np

    values = np.linspace(-1.0, 1.0, 201)
    numpy_array_or_sequence = values if given == "numpy array" else values.tolist()

    import tracker as wandb

    run = wandb.init()
    wandb.log({"gradients": wandb.Histogram(numpy_array_or_sequence)})
    wandb.finish()

    [item] = read(run).media(key="gradients")
    assert item.kind == "histogram" and item.step == 0
    histogram = item.load()
    assert sum(histogram["counts"]) == 201
    assert histogram["bins"][0] == -1.0 and histogram["bins"][-1] == 1.0
    assert histogram["counts"] == np.histogram(values, bins=len(histogram["counts"]))[0].tolist()


@pytest.mark.parametrize("given", ["numpy", "pil"])
def test_003_example_image(given: str):
    """003, Examples, "Image": a list of one captioned image, from a numpy array and from a PIL
    image."""
    import numpy as np
    from PIL import Image

    pixels = np.arange(16 * 8 * 3, dtype=np.uint8).reshape(16, 8, 3)
    numpy_array_or_pil = pixels if given == "numpy" else Image.fromarray(pixels)

    import tracker as wandb

    run = wandb.init()
    wandb.log({"examples": [wandb.Image(numpy_array_or_pil, caption="Label")]})
    wandb.finish()

    [item] = read(run).media(key="examples")
    assert (item.kind, item.step, item.index, item.caption) == ("image", 0, 0, "Label")
    assert (item.load() == pixels).all()


@pytest.mark.parametrize("given", ["numpy array", "video path"])
def test_003_example_video(given: str):
    """003, Examples, "Video": ``wandb.Video(numpy_array_or_video_path, fps=4, format="gif")``, from
    a (time, channel, height, width) array and from a GIF file."""
    import numpy as np
    from PIL import Image

    frames = np.zeros((6, 3, 20, 30), dtype=np.uint8)
    for t in range(6):
        frames[t, :, :, 5 * t:5 * t + 5] = 255  # a white bar moving right
    if given == "numpy array":
        numpy_array_or_video_path = frames
    else:
        images = [Image.fromarray(frame.transpose(1, 2, 0)) for frame in frames]
        images[0].save("clip.gif", save_all=True, append_images=images[1:], duration=250, loop=0)
        numpy_array_or_video_path = "clip.gif"

    import tracker as wandb

    run = wandb.init()
    wandb.log({"video": wandb.Video(numpy_array_or_video_path, fps=4,
                                    format="gif")})
    wandb.finish()

    [item] = read(run).media(key="video")
    assert item.kind == "video" and item.step == 0
    assert item.record["format"] == "gif" and item.path.endswith(".gif")
    with Image.open(item.path) as gif:
        assert gif.n_frames == 6 and gif.size == (30, 20)
    if given == "numpy array":
        assert (item.record["frames"], item.record["fps"], item.record["width"], item.record["height"]) == (
            6, 4, 30, 20)


def test_003_example_matplotlib_plot():
    """003, Examples, "Matplotlib Plot": ``wandb.log({"chart": plt})`` logs pyplot's current figure."""
    from matplotlib import pyplot as plt

    plt.figure(figsize=(4, 3), dpi=100)
    plt.plot([0, 1, 2, 3], [0, 1, 4, 9])

    import tracker as wandb

    run = wandb.init()
    wandb.log({"chart": plt})
    wandb.finish()
    plt.close("all")

    [item] = read(run).media(key="chart")
    assert item.kind == "figure" and item.record["library"] == "matplotlib" and item.step == 0
    assert (item.record["width"], item.record["height"]) == (400, 300)
    assert set(item.files) == {"png", "svg"}
    assert Path(item.files["svg"]).read_text().lstrip().startswith(("<?xml", "<svg"))


def test_003_example_3d_object():
    """003, Examples, "3D Object": three open 3D files logged as one list under one key."""
    files = write_3d_samples()

    import tracker as wandb

    run = wandb.init()
    wandb.log({"generated_samples":
               [wandb.Object3D(open("sample.obj")),
                wandb.Object3D(open("sample.gltf")),
                wandb.Object3D(open("sample.glb"))]})
    wandb.finish()

    items = read(run).media(key="generated_samples")
    assert [(it.kind, it.step, it.index) for it in items] == [("object3d", 0, i) for i in range(3)]
    assert [it.record["format"] for it in items] == ["obj", "gltf", "glb"]
    assert [it.read_bytes() for it in items] == list(files.values())


def test_003_example_pr_curve_of_the_older_plots_module():
    """003, Examples, "PR Curve": ``wandb.plots.precision_recall`` (W&B's older plot module) logs a
    precision-recall curve per class, as ``wandb.plot.pr_curve`` does."""
    import numpy as np

    import tracker as wandb

    y_test = np.array([0, 1, 1, 0, 1, 0])
    y_probas = np.array([[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.6, 0.4], [0.1, 0.9], [0.7, 0.3]])
    labels = ["no", "yes"]
    run = wandb.init()
    wandb.log({'pr': wandb.plots.precision_recall(y_test, y_probas, labels)})
    wandb.finish()
    (item,) = read(run).media(key="pr")
    assert item.kind == "plot" and item.record["spec"]["x"] == "recall"
    assert sorted(set(item.load()["class"])) == ["no", "yes"]


def test_003_log_before_init_is_a_wandb_error():
    """003, ``wandb.log`` "Raises: wandb.Error: if called before wandb.init"."""
    import tracker as wandb

    with pytest.raises(wandb.Error):
        wandb.log({"loss": 1.0})
