"""Conformance: the Python examples of W&B's SDK reference (Run, Artifact, Settings, System Metrics),
seed document ``001_296816c219561e9b.txt``, run with ``import tracker as wandb``.

Each test runs one example as the document writes it, with ``import tracker as wandb`` in place of
``import wandb``; only what the document leaves undefined (``train_one_epoch()``, ``acc``,
``model.pt``, ``current_step``, placeholders such as ``<name>``, ...) is filled in with small local
definitions or files in the test's temporary folder. Then what the document says happens is checked
by reading the store back with the read API (``tracker.Api``).

Examples of the document left out, and why:

- No example of the document needs a W&B server, a login, sweeps or Launch: the model registry
  (``link_model``, ``link_artifact``), ``Run.restore`` from the cloud and ``Run.status`` have no code
  example there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import tracker
from tests.conformance.helpers import STORE, read, write_3d_samples
from tests.conftest import wait_until
from tracker.ui.series import sections

# --- Getting Started -------------------------------------------------------------------------------


def test_getting_started_track_an_experiment():
    """Getting Started, "Track an experiment": config, ten logged epochs and a summary metric."""
    accuracies = [0.5 + 0.04 * epoch for epoch in range(10)]
    epochs = iter(range(10))

    def train_one_epoch():
        epoch = next(epochs)
        return {"loss": 1.0 / (epoch + 1), "accuracy": accuracies[epoch]}

    max_accuracy = max(accuracies)

    import tracker as wandb

    # Initialize a new run
    with wandb.init(project="my-experiments", config={"learning_rate": 0.001}) as run:
        # Access configuration
        config = run.config

        # Log metrics during training
        for epoch in range(10):
            metrics = train_one_epoch()  # Your training logic
            run.log({
                "loss": metrics["loss"],
                "accuracy": metrics["accuracy"],
                "epoch": epoch
            })

        # Log summary metrics
        run.summary["best_accuracy"] = max_accuracy

    assert config["learning_rate"] == 0.001
    stored = read(run)
    assert stored.project == "my-experiments" and stored.state == "finished"
    assert stored.config == {"learning_rate": 0.001}
    history = stored.history()
    assert history["_step"].tolist() == list(range(10))
    assert history["epoch"].tolist() == list(range(10))
    assert history["loss"].tolist() == pytest.approx([1.0 / (e + 1) for e in range(10)])
    assert history["accuracy"].tolist() == pytest.approx(accuracies)
    assert stored.summary["best_accuracy"] == pytest.approx(0.86)
    assert stored.summary["loss"] == pytest.approx(0.1)  # the last value logged
    assert stored.summary["epoch"] == 9


def test_getting_started_version_a_model_artifact():
    """Getting Started, "Version a model artifact": a model artifact with description, metadata, a
    file and a folder."""

    def train_model():
        Path("model.pt").write_bytes(b"weights of a trained model")
        Path("model_configs").mkdir()
        Path("model_configs/resnet50.yaml").write_text("depth: 50\n")
        Path("model_configs/optimizer.yaml").write_text("lr: 0.1\n")
        return object()

    import tracker as wandb

    with wandb.init(project="my-models") as run:
        # Train your model
        model = train_model()

        # Create an artifact for the model
        model_artifact = wandb.Artifact(
            name="my-model",
            type="model",
            description="ResNet-50 trained on ImageNet subset",
            metadata={
                "architecture": "ResNet-50",
                "dataset": "ImageNet-1K",
                "accuracy": 0.95
            }
        )

        # Add model files to the artifact
        model_artifact.add_file("model.pt")
        model_artifact.add_dir("model_configs/")

        # Log the artifact to W&B
        run.log_artifact(model_artifact)

    assert model is not None
    logged = tracker.Api(dir=STORE).artifact("my-models/my-model:latest")
    assert logged.name == "my-model:v0" and logged.version == "v0" and logged.type == "model"
    assert logged.description == "ResNet-50 trained on ImageNet subset"
    assert logged.metadata == {"architecture": "ResNet-50", "dataset": "ImageNet-1K", "accuracy": 0.95}
    assert sorted(f.path for f in logged.files()) == ["model.pt", "optimizer.yaml", "resnet50.yaml"]
    assert logged.file_count == 3
    assert logged.logged_by().id == run.id
    folder = Path(logged.download(root="downloaded"))
    assert (folder / "model.pt").read_bytes() == b"weights of a trained model"
    assert (folder / "resnet50.yaml").read_text() == "depth: 50\n"
    assert [a.name for a in read(run).logged_artifacts()] == ["my-model:v0"]


def test_getting_started_configure_sdk_settings():
    """Getting Started, "Configure SDK settings": W&B's settings are accepted and read back; the run
    started after them works."""
    import tracker as wandb

    # Configure settings programmatically
    settings = wandb.Settings(
        project="production-runs",
        entity="my-team",
        mode="offline",  # Run offline, sync later
        save_code=True,   # Save source code
        quiet=True        # Reduce console output
    )

    # Or use environment variables
    # export WANDB_PROJECT=production-runs
    # export WANDB_MODE=offline

    # Initialize with custom settings
    with wandb.init() as run:
        # Your experiment code here
        pass

    assert settings.project == "production-runs" and settings.entity == "my-team"
    assert settings.mode == "offline" and settings.save_code is True and settings.quiet is True
    assert read(run).state == "finished"


def test_getting_started_configure_sdk_settings_from_environment(monkeypatch: pytest.MonkeyPatch):
    """Getting Started, "Configure SDK settings": the environment variables the example names
    (``WANDB_PROJECT=production-runs``, ``WANDB_MODE=offline``) set the run's project and mode."""
    monkeypatch.setenv("WANDB_PROJECT", "production-runs")
    monkeypatch.setenv("WANDB_MODE", "offline")

    import tracker as wandb

    # Initialize with custom settings
    with wandb.init() as run:
        # Your experiment code here
        pass

    assert run.project == "production-runs" and run.offline is True
    stored = read(run)
    assert stored.project == "production-runs" and stored.state == "finished"
    assert stored.metadata["mode"] == "offline"


def test_getting_started_track_relationships():
    """Getting Started, "Track relationships between datasets, models, and evaluations": lineage from
    a used dataset version to the model artifact logged by the same run."""
    # What the example expects to exist: versions v0 and v1 of a "dataset" artifact in the project.
    for rows in ("1,2\n", "1,2\n3,4\n"):
        Path("rows.csv").write_text(rows)
        with tracker.init(project="ml-pipeline", job_type="prepare", settings={"quiet": True}) as prep:
            data = tracker.Artifact("dataset", type="dataset")
            data.add_file("rows.csv")
            prep.log_artifact(data)
    Path("rows.csv").unlink()

    def train_on_dataset(dataset_dir):
        rows = Path(dataset_dir, "rows.csv").read_text().splitlines()
        Path("model.pt").write_text(f"trained on {len(rows)} rows")
        return len(rows)

    import tracker as wandb

    with wandb.init(project="ml-pipeline") as run:
        # Use a dataset artifact
        dataset = run.use_artifact("dataset:v1")
        dataset_dir = dataset.download()

        # Train model using the dataset
        model = train_on_dataset(dataset_dir)

        # Create model artifact with dataset lineage
        model_artifact = wandb.Artifact(
            name="trained-model",
            type="model"
        )
        model_artifact.add_file("model.pt")

        # Log with automatic lineage tracking
        run.log_artifact(model_artifact)

    assert dataset.version == "v1" and model == 2
    assert Path(dataset_dir, "rows.csv").read_text() == "1,2\n3,4\n"
    api = tracker.Api(dir=STORE)
    trained = api.artifact("ml-pipeline/trained-model:v0")
    assert trained.type == "model" and trained.logged_by().id == run.id
    used = api.artifact("ml-pipeline/dataset:v1")
    assert [r.id for r in used.used_by()] == [run.id]
    assert api.artifact("ml-pipeline/dataset:v0").used_by() == []
    stored = read(run)
    assert [a.name for a in stored.used_artifacts()] == ["dataset:v1"]
    assert [a.name for a in stored.logged_artifacts()] == ["trained-model:v0"]


# --- 2 - Run ---------------------------------------------------------------------------------------


def test_run_class_example():
    """Run, class description, Examples: "Create a run with wandb.init()" and log two metrics."""
    acc, loss = 0.91, 0.27

    import tracker as wandb

    # Start a new run and log some data
    # Use context manager (`with` statement) to automatically finish the run
    with wandb.init(entity="entity", project="project") as run:
        run.log({"accuracy": acc, "loss": loss})

    assert run.entity == "entity" and run.project == "project"
    stored = read(run)
    assert stored.state == "finished" and stored.metadata["entity"] == "entity"
    history = stored.history()
    assert history[["_step", "accuracy", "loss"]].to_dict("records") == [
        {"_step": 0, "accuracy": 0.91, "loss": 0.27}
    ]


def test_run_log_description_basic():
    """Run.log, description: the basic snippet saves loss and accuracy to the history and updates
    their summary values."""
    import tracker as wandb

    with wandb.init() as run:
        run.log({"train-loss": 0.5, "accuracy": 0.9})

    stored = read(run)
    assert stored.history()[["_step", "train-loss", "accuracy"]].to_dict("records") == [
        {"_step": 0, "train-loss": 0.5, "accuracy": 0.9}
    ]
    assert stored.summary == {"train-loss": 0.5, "accuracy": 0.9}


def test_run_log_sections():
    """Run.log, description: metrics with a ``/`` in their name are grouped into the sections "train"
    and "validate"."""
    import tracker as wandb

    with wandb.init() as run:
        # Log metrics in the "train" section.
        run.log(
            {
                "train/accuracy": 0.9,
                "train/loss": 30,
                "validate/accuracy": 0.8,
                "validate/loss": 20,
            }
        )

    history = read(run).history()
    row = history.iloc[0]
    assert (row["train/accuracy"], row["train/loss"]) == (0.9, 30)
    assert (row["validate/accuracy"], row["validate/loss"]) == (0.8, 20)
    grouped = sections(history.columns[3:])
    assert sorted(grouped) == ["train", "validate"]
    assert sorted(grouped["train"]) == ["train/accuracy", "train/loss"]
    assert sorted(grouped["validate"]) == ["validate/accuracy", "validate/loss"]


def test_run_log_one_level_of_sections():
    """Run.log, description: "Only one level of nesting is supported; ``run.log({"a/b/c": 1})``
    produces a section named "a/b"."""
    import tracker as wandb

    with wandb.init() as run:
        run.log({"a/b/c": 1})

    history = read(run).history()
    assert history["a/b/c"].tolist() == [1]
    assert sections(history.columns[3:]) == {"a/b": ["a/b/c"]}


def test_run_log_epoch_as_x_axis():
    """Run.log, description: log an "epoch" metric for use as an X axis."""
    import tracker as wandb

    with wandb.init() as run:
        # Example: log an "epoch" metric for use as an X axis.
        run.log({"epoch": 40, "train-loss": 0.5})

    frame = read(run).history(keys=["train-loss"], x_axis="epoch")
    assert frame.columns[0] == "epoch"
    assert frame[["epoch", "train-loss"]].to_dict("records") == [{"epoch": 40, "train-loss": 0.5}]


def test_run_log_step_and_commit_are_equivalent():
    """Run.log, description: "The following are all equivalent": normal usage, ``commit=False`` and
    an explicit ``step`` give the same rows (here one after the other in one run)."""
    current_step = 4  # the normal and the commit=False blocks used steps 0 to 3

    import tracker as wandb

    with wandb.init() as run:
        # Normal usage:
        run.log({"train-loss": 0.5, "accuracy": 0.8})
        run.log({"train-loss": 0.4, "accuracy": 0.9})

        # Implicit step without auto-incrementing:
        run.log({"train-loss": 0.5}, commit=False)
        run.log({"accuracy": 0.8})
        run.log({"train-loss": 0.4}, commit=False)
        run.log({"accuracy": 0.9})

        # Explicit step:
        run.log({"train-loss": 0.5}, step=current_step)
        run.log({"accuracy": 0.8}, step=current_step)
        current_step += 1
        run.log({"train-loss": 0.4}, step=current_step)
        run.log({"accuracy": 0.9}, step=current_step)

    rows = read(run).history()[["_step", "train-loss", "accuracy"]].to_dict("records")
    pair = [{"train-loss": 0.5, "accuracy": 0.8}, {"train-loss": 0.4, "accuracy": 0.9}]
    assert rows == [{"_step": step, **pair[step % 2]} for step in range(6)]


def test_run_log_example_basic_usage():
    """Run.log, Examples, "Basic usage". The document's snippet lacks its closing ``})`` (a syntax
    error as printed); it is run with them."""
    import tracker as wandb

    with wandb.init() as run:
        run.log({"train-loss": 0.5, "accuracy": 0.9})

    stored = read(run)
    assert stored.history()[["_step", "train-loss", "accuracy"]].to_dict("records") == [
        {"_step": 0, "train-loss": 0.5, "accuracy": 0.9}
    ]
    assert stored.summary["train-loss"] == 0.5 and stored.summary["accuracy"] == 0.9


def test_run_log_example_incremental_logging():
    """Run.log, Examples, "Incremental logging": ``commit=False`` then a log: one step holding both."""
    import tracker as wandb

    with wandb.init() as run:
        run.log({"loss": 0.2}, commit=False)
        # Somewhere else when I'm ready to report this step:
        run.log({"accuracy": 0.8})

    history = read(run).history()
    assert history[["_step", "loss", "accuracy"]].to_dict("records") == [
        {"_step": 0, "loss": 0.2, "accuracy": 0.8}
    ]


def test_run_log_example_histogram():
    """Run.log, Examples, "Histogram": a histogram of 10,000 sampled gradients."""
    import numpy as np

    import tracker as wandb

    # sample gradients at random from normal distribution
    gradients = np.random.randn(100, 100)
    with wandb.init() as run:
        run.log({"gradients": wandb.Histogram(gradients)})

    stored = read(run)
    [item] = stored.media(key="gradients")
    assert item.kind == "histogram" and item.step == 0
    counts, bins = item.record["counts"], item.record["bins"]
    assert sum(counts) == 10_000 and len(bins) == len(counts) + 1
    assert bins[0] == pytest.approx(gradients.min()) and bins[-1] == pytest.approx(gradients.max())
    assert np.histogram(gradients, bins=len(counts))[0].tolist() == counts
    assert stored.history()["gradients"][0]["_type"] == "histogram"


def test_run_log_example_image_from_numpy():
    """Run.log, Examples, "Image from NumPy": three captioned random images at one step."""
    import numpy as np

    import tracker as wandb

    with wandb.init() as run:
        examples = []
        for i in range(3):
            pixels = np.random.randint(low=0, high=256, size=(100, 100, 3))
            image = wandb.Image(pixels, caption=f"random field {i}")
            examples.append(image)
        run.log({"examples": examples})

    items = read(run).media(key="examples")
    assert [(it.kind, it.step, it.index) for it in items] == [("image", 0, 0), ("image", 0, 1), ("image", 0, 2)]
    assert [it.caption for it in items] == [f"random field {i}" for i in range(3)]
    assert all((it.record["width"], it.record["height"]) == (100, 100) for it in items)
    assert items[2].load().shape == (100, 100, 3)
    assert (items[2].load() == pixels.astype(np.uint8)).all()  # the last image logged


def test_run_log_example_image_from_pil():
    """Run.log, Examples, "Image from PIL": three captioned PIL images at one step."""
    import numpy as np
    from PIL import Image as PILImage

    import tracker as wandb

    with wandb.init() as run:
        examples = []
        for i in range(3):
            pixels = np.random.randint(
                low=0,
                high=256,
                size=(100, 100, 3),
                dtype=np.uint8,
            )
            pil_image = PILImage.fromarray(pixels, mode="RGB")
            image = wandb.Image(pil_image, caption=f"random field {i}")
            examples.append(image)
        run.log({"examples": examples})

    items = read(run).media(key="examples")
    assert [(it.kind, it.step, it.index) for it in items] == [("image", 0, 0), ("image", 0, 1), ("image", 0, 2)]
    assert [it.caption for it in items] == [f"random field {i}" for i in range(3)]
    assert (items[2].load() == pixels).all()


def test_run_log_example_video_from_numpy():
    """Run.log, Examples, "Video from NumPy": ten (time, channel, height, width) frames at 4 fps."""
    import numpy as np

    import tracker as wandb

    with wandb.init() as run:
        # axes are (time, channel, height, width)
        frames = np.random.randint(
            low=0,
            high=256,
            size=(10, 3, 100, 100),
            dtype=np.uint8,
        )
        run.log({"video": wandb.Video(frames, fps=4)})

    [item] = read(run).media(key="video")
    assert item.kind == "video" and item.step == 0
    record = item.record
    assert (record["frames"], record["width"], record["height"], record["fps"]) == (10, 100, 100, 4)
    from PIL import Image

    with Image.open(item.path) as video:
        assert video.n_frames == 10 and video.size == (100, 100)


def test_run_log_example_matplotlib_plot():
    """Run.log, Examples, "Matplotlib plot": a figure logged as it is."""
    import numpy as np
    from matplotlib import pyplot as plt

    import tracker as wandb

    with wandb.init() as run:
        fig, ax = plt.subplots()
        x = np.linspace(0, 10)
        y = x * x
        ax.plot(x, y)  # plot y = x^2
        run.log({"chart": fig})
    plt.close(fig)

    [item] = read(run).media(key="chart")
    assert item.kind == "figure" and item.record["library"] == "matplotlib" and item.step == 0
    width, height = fig.get_size_inches() * fig.dpi
    assert (item.record["width"], item.record["height"]) == (round(width), round(height))
    pixels = item.load()
    assert pixels.ndim == 3 and len(np.unique(pixels.reshape(-1, pixels.shape[2]), axis=0)) > 2  # drawn


def test_run_log_example_pr_curve():
    """Run.log, Examples, "PR Curve": ``wandb.plot.pr_curve(y_test, y_probas, labels)``."""
    import numpy as np

    y_test = np.array([0, 1, 1, 0, 1, 0])
    y_probas = np.array([[0.9, 0.1], [0.2, 0.8], [0.35, 0.65], [0.7, 0.3], [0.6, 0.4], [0.45, 0.55]])
    labels = ["cat", "dog"]

    import tracker as wandb

    with wandb.init() as run:
        run.log({"pr": wandb.plot.pr_curve(y_test, y_probas, labels)})

    [item] = read(run).media(key="pr")
    assert item.kind == "plot" and item.step == 0
    spec = item.record["spec"]
    assert (spec["x"], spec["y"]) == ("recall", "precision")
    curve = item.load()
    assert set(curve["class"]) == {"cat", "dog"}
    assert curve["precision"].between(0, 1).all() and curve["recall"].between(0, 1).all()
    dog = curve[curve["class"] == "dog"]
    assert dog["recall"].max() == 1.0  # every threshold low enough finds all three dogs


def test_run_log_example_3d_object():
    """Run.log, Examples, "3D Object": three 3D files opened as text, logged as one gallery."""
    files = write_3d_samples()

    import tracker as wandb

    with wandb.init() as run:
        run.log(
            {
                "generated_samples": [
                    wandb.Object3D(open("sample.obj")),
                    wandb.Object3D(open("sample.gltf")),
                    wandb.Object3D(open("sample.glb")),
                ]
            }
        )

    items = read(run).media(key="generated_samples")
    assert [(it.kind, it.step, it.index) for it in items] == [("object3d", 0, i) for i in range(3)]
    assert [it.record["format"] for it in items] == ["obj", "gltf", "glb"]
    assert [it.read_bytes() for it in items] == list(files.values())


def test_run_log_code_basic_usage():
    """Run.log_code, Examples, "Basic usage": the ``.py`` files below the current folder become a
    code artifact of the run."""
    Path("train.py").write_text("print('training')\n")
    Path("utils").mkdir()
    Path("utils/helpers.py").write_text("def helper():\n    return 1\n")
    Path("notes.txt").write_text("not code\n")

    import tracker as wandb

    with wandb.init() as run:
        run.log_code()

    [code] = read(run).logged_artifacts()
    assert code.type == "code"
    assert sorted(f.path for f in code.files()) == ["train.py", "utils/helpers.py"]
    assert Path(code.download(root="code"), "utils/helpers.py").read_text() == "def helper():\n    return 1\n"


def test_run_log_code_advanced_usage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run.log_code, Examples, "Advanced usage": ``root="../"``, ``.py`` and ``.ipynb`` files
    included by a one-argument ``include_fn``, ``cache/`` left out by a two-argument ``exclude_fn``.
    (The example uses ``os`` without importing it: the test module imports it.)"""
    project = tmp_path / "project"
    for name, text in {
        "src/train.py": "x = 1\n",
        "src/explore.ipynb": "{}\n",
        "common.py": "y = 2\n",
        "cache/stale.py": "z = 3\n",
        "README.md": "# readme\n",
    }.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    monkeypatch.chdir(project / "src")  # so that "../" is the project folder

    import tracker as wandb

    with wandb.init() as run:
        run.log_code(
            root="../",
            include_fn=lambda path: path.endswith(".py") or path.endswith(".ipynb"),
            exclude_fn=lambda path, root: os.path.relpath(path, root).startswith(
                "cache/"
            ),
        )

    [code] = read(run, project / "src" / STORE).logged_artifacts()
    assert code.type == "code"
    assert sorted(f.path for f in code.files()) == ["common.py", "src/explore.ipynb", "src/train.py"]


def test_run_save_example(tmp_path: Path):
    """Run.save, the example: globs expanded at the call, folder structure kept below ``base_path``,
    one folder level kept for an absolute glob. The document's absolute folder ``/User`` is put in
    the test's folder (its files are what the example leaves undefined)."""
    for name in ("these/are/myfiles/a.txt", "these/are/myfiles/b.bin", "files/one/saveme.txt",
                 "files/two/saveme.txt", "files/two/other.txt"):
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_text(name)
    user = tmp_path / "User"  # stands for the document's "/User"
    (user / "username/Documents/run123").mkdir(parents=True)
    (user / "username/Documents/run123/log.txt").write_text("run 123")
    (user / "username/Documents/run123/image.png").write_bytes(b"png")

    import tracker as wandb

    run = wandb.init()

    run.save("these/are/myfiles/*")
    # => Saves files in a "these/are/myfiles/" folder in the run.

    run.save("these/are/myfiles/*", base_path="these")
    # => Saves files in an "are/myfiles/" folder in the run.

    run.save(f"{user}/username/Documents/run123/*.txt")
    # => Saves files in a "run123/" folder in the run. See note below.

    run.save(f"{user}/username/Documents/run123/*.txt", base_path=f"{user}")
    # => Saves files in a "username/Documents/run123/" folder in the run.

    run.save("files/*/saveme.txt")
    # => Saves each "saveme.txt" file in an appropriate subdirectory
    #    of "files/".

    # Explicitly finish the run since a context manager is not used.
    run.finish()

    stored = read(run)
    saved = {f["name"] for f in stored.files()}
    assert {
        "these/are/myfiles/a.txt", "these/are/myfiles/b.bin",
        "are/myfiles/a.txt", "are/myfiles/b.bin",
        "run123/log.txt",
        "username/Documents/run123/log.txt",
        "files/one/saveme.txt", "files/two/saveme.txt",
    } <= saved
    assert not {"run123/image.png", "files/two/other.txt"} & saved
    assert Path(stored.file("username/Documents/run123/log.txt")).read_text() == "run 123"
    assert stored.state == "finished"


def test_run_use_artifact_example():
    """Run.use_artifact, Examples: by name and alias, name and version, and
    entity/project/name with an alias or a version; each use is recorded."""
    # What the placeholders stand for: artifact "my-dataset" in project "example", versions v0 and v1,
    # alias "best" on v0.
    for content in ("first", "second"):
        Path("data.txt").write_text(content)
        with tracker.init(project="example", settings={"quiet": True}) as producer:
            data = tracker.Artifact("my-dataset", type="dataset")
            data.add_file("data.txt")
            producer.log_artifact(data, aliases=["best"] if content == "first" else None)

    import tracker as wandb

    run = wandb.init(project="example")

    # Use an artifact by name and alias
    artifact_a = run.use_artifact(artifact_or_name="my-dataset:best")

    # Use an artifact by name and version
    artifact_b = run.use_artifact(artifact_or_name="my-dataset:v1")

    # Use an artifact by entity/project/name:alias
    artifact_c = run.use_artifact(
        artifact_or_name="my-team/example/my-dataset:latest"
    )

    # Use an artifact by entity/project/name:version
    artifact_d = run.use_artifact(
        artifact_or_name="my-team/example/my-dataset:v0"
    )

    # Explicitly finish the run since a context manager is not used.
    run.finish()

    assert [a.version for a in (artifact_a, artifact_b, artifact_c, artifact_d)] == ["v0", "v1", "v1", "v0"]
    assert Path(artifact_a.file(root="a")).read_text() == "first"
    assert Path(artifact_c.file(root="c")).read_text() == "second"
    assert sorted(a.name for a in read(run).used_artifacts()) == ["my-dataset:v0", "my-dataset:v1"]
    api = tracker.Api(dir=STORE)
    assert [r.id for r in api.artifact("example/my-dataset:v0").used_by()] == [run.id]


# --- 4 - System Metrics Reference -------------------------------------------------------------------


def test_system_metrics_disk_paths():
    """System Metrics Reference, "Disk": ``x_stats_disk_paths`` chooses the paths whose usage is
    sampled; only accessible ones are. The other metric names of the reference (CPU, memory, disk
    I/O, network) are sampled too. (``quiet=True`` added to the example's settings.)"""
    import tracker as wandb

    run = wandb.init(
        settings=wandb.Settings(
            x_stats_disk_paths=("/System/Volumes/Data", "/home", "/mnt/data"),
            quiet=True,
        ),
    )

    assert run.settings.x_stats_disk_paths == ("/System/Volumes/Data", "/home", "/mnt/data")
    api = tracker.Api(dir=STORE)

    def first_sample():
        frame = api.run(run.path).history(stream="system")
        return [frame] if len(frame) else None

    [system] = wait_until(first_sample, message="a system-metrics sample")
    run.finish()
    columns = set(system.columns)
    assert {
        "cpu", "proc.cpu.threads", "disk.in", "disk.out", "proc.memory.rssMB", "proc.memory.percent",
        "memory_percent", "proc.memory.availableMB", "network.sent", "network.recv",
    } <= columns
    for path in ("/System/Volumes/Data", "/home", "/mnt/data"):
        sampled = {f"disk.{path}.usagePercent", f"disk.{path}.usageGB"} <= columns
        assert sampled == os.path.isdir(path), path
        if sampled:
            assert 0 <= system[f"disk.{path}.usagePercent"].iloc[0] <= 100


# --- Artifact ----------------------------------------------------------------------------------------


def test_artifact_history_step_and_sample_history():
    """"property Artifact.history_step", Examples: the step an artifact was logged at, and the
    history around it read through the run that logged it (``sample_history``)."""
    import tracker as wandb

    with wandb.init(project="p") as writer:
        for step in range(5):
            writer.log({"my_metric": step * 10})
        Path("data.txt").write_text("rows")
        art = wandb.Artifact("ds", type="dataset")
        art.add_file("data.txt")
        writer.log_artifact(art)
        writer.log({"my_metric": 99})
    artifact = wandb.Api(dir=STORE).artifact("p/ds:v0")

    run = artifact.logged_by()
    if run and (artifact.history_step is not None):
        history = run.sample_history(
            min_step=artifact.history_step,
            max_step=artifact.history_step + 1,
            keys=["my_metric"],
        )
    assert artifact.history_step == 4  # the last step logged before the artifact
    assert history["_step"].tolist() == [4] and history["my_metric"].tolist() == [40]
