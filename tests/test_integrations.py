"""Framework integrations against the real frameworks: a two-epoch fit of a tiny model with each,
the history, config, model tree and artifacts read back from the store; W&B's names for them."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras 3 on the torch the test extra installs

import numpy as np
import pytest
import torch

import tracker
from tracker.errors import MissingDependencyError

# Keras 3 on torch and numpy 2 warn inside Keras's own model.save (not ours to fix)
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

SETTINGS = {"strict": True, "quiet": True, "flush_interval": 0.05}


def _read(store, run):
    return tracker.Api(dir=store).run(run.path)


def _column(history, key):
    rows = history[history[key].notna()] if key in history else history.iloc[0:0]
    return rows["_step"].tolist(), rows[key].tolist()


# --- PyTorch Lightning ----------------------------------------------------------------------------
def _lightning_module(pl):
    class Tiny(pl.LightningModule):
        def __init__(self, lr: float = 0.1, hidden: int = 8) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))
            self.example_input_array = torch.zeros(2, 4)

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, index):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self(x), y)
            self.log("train/loss", loss)
            return loss

        def validation_step(self, batch, index):
            x, y = batch
            self.log("val/loss", torch.nn.functional.mse_loss(self(x), y))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    return Tiny


def _loaders():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 4, generator=g), torch.randn(64, 1, generator=g)
    data = torch.utils.data.TensorDataset(x, y)
    return torch.utils.data.DataLoader(data, batch_size=16), torch.utils.data.DataLoader(data, batch_size=32)


def _fit(pl, logger, tmp_path, epochs=2, **kwargs):
    from_ckpt = kwargs.pop("ckpt_path", None)
    checkpoint = pl.callbacks.ModelCheckpoint(monitor="val/loss", save_top_k=1, save_last=True)
    trainer = pl.Trainer(max_epochs=epochs, logger=logger, log_every_n_steps=1, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu", default_root_dir=tmp_path,
                         callbacks=[checkpoint], **kwargs)
    model = _lightning_module(pl)(lr=0.05)
    train, val = _loaders()
    trainer.fit(model, train, val, ckpt_path=from_ckpt)
    return trainer, model, checkpoint


def test_lightning_logger_logs_config_metrics_graph_and_checkpoints(store, tmp_path):
    import lightning.pytorch as pl

    from tracker.integrations.lightning import TrackerLogger, WandbLogger

    assert WandbLogger is TrackerLogger and issubclass(TrackerLogger, pl.loggers.Logger)
    logger = TrackerLogger(project="pl", name="tiny", log_model=True, dir=store, save_dir=tmp_path / "ckpt",
                           settings=SETTINGS, tags=["lightning"])
    trainer, model, checkpoint = _fit(pl, logger, tmp_path)
    logger.log_graph(model)
    run = logger.experiment
    assert logger.version == run.id and logger.name == "pl"
    assert checkpoint.dirpath == os.path.join(tmp_path / "ckpt", "pl", run.id, "checkpoints")
    run.finish()

    read = _read(store, run)
    assert read.config["lr"] == 0.05 and read.config["hidden"] == 8 and read.tags == ["lightning"]
    history = read.history()
    steps, losses = _column(history, "train/loss")
    assert steps == list(range(8))  # 4 batches x 2 epochs, at the trainer's global step
    val_steps, _ = _column(history, "val/loss")
    assert val_steps == [3, 7]  # the end of each epoch
    assert _column(history, "trainer/global_step")[1][:3] == [0, 1, 2]
    assert all(np.isfinite(losses))
    # checkpoints as model artifacts: best and last
    versions = tracker.Api(dir=store).artifact_versions(f"pl/model-{run.id}")
    assert len(versions) == 2 and {v.type for v in versions} == {"model"}
    best = tracker.Api(dir=store).artifact(f"pl/model-{run.id}:best")
    assert best.metadata["original_filename"] == os.path.basename(checkpoint.best_model_path)
    assert best.metadata["monitor"] == "val/loss"
    assert abs(best.metadata["score"] - float(checkpoint.best_model_score)) < 1e-6
    latest = tracker.Api(dir=store).artifact(f"pl/model-{run.id}:latest")
    assert "latest" in latest.aliases
    # log_graph: the module tree with output shapes of the example input
    (graph,) = read.model_graphs()
    rows = {r["name"]: r for r in graph["modules"]}
    assert rows["net.0"]["type"] == "Linear" and rows["net.0"]["output_shape"] == [2, 8]
    assert rows["(model)"]["total_params"] == 4 * 8 + 8 + 8 + 1


def test_lightning_log_model_all_logs_each_checkpoint_and_resumes_the_same_run(store, tmp_path):
    import lightning.pytorch as pl

    from tracker.integrations.lightning import TrackerLogger

    logger = TrackerLogger(project="pl", id="restartable", log_model="all", dir=store, settings=SETTINGS)
    trainer, _, checkpoint = _fit(pl, logger, tmp_path, epochs=1)
    assert len(tracker.Api(dir=store).artifact_versions("pl/model-restartable")) >= 1
    tracker.finish()
    # a restart: a new logger with the same id, training resumed from the last checkpoint
    logger = TrackerLogger(project="pl", id="restartable", log_model="all", dir=store, settings=SETTINGS)
    _fit(pl, logger, tmp_path, epochs=2, ckpt_path=checkpoint.last_model_path)
    run = logger.experiment
    assert run.resumed and run.id == "restartable"
    run.finish()
    steps, _ = _column(_read(store, run).history(), "train/loss")
    assert steps == list(range(8))  # epoch 1 from the first session, epoch 2 from the second


def test_lightning_logger_under_the_old_package_name(store, tmp_path):
    import pytorch_lightning as pl

    from tracker.integrations.pytorch_lightning import TrackerLogger

    assert issubclass(TrackerLogger, pl.loggers.Logger)
    logger = TrackerLogger(project="ptl", dir=store, settings=SETTINGS)
    _fit(pl, logger, tmp_path, epochs=1)
    run = logger.experiment
    run.finish()
    assert _column(_read(store, run).history(), "train/loss")[0] == [0, 1, 2, 3]


def test_lightning_logger_on_another_rank_logs_nothing(store, tmp_path, monkeypatch):
    from lightning_utilities.core.rank_zero import rank_zero_only

    from tracker.integrations.lightning import TrackerLogger

    monkeypatch.setattr(rank_zero_only, "rank", 1, raising=False)
    logger = TrackerLogger(project="pl", dir=store, settings=SETTINGS)
    logger.log_hyperparams({"a": 1})
    logger.log_metrics({"loss": 1.0}, step=0)
    assert not logger.experiment and tracker.run is None and not store.exists()


# --- Hugging Face -----------------------------------------------------------------------------------
class _Pairs(torch.utils.data.Dataset):
    def __init__(self, n: int) -> None:
        g = torch.Generator().manual_seed(1)
        self.ids = torch.randint(0, 50, (n, 6), generator=g)
        self.labels = torch.randint(0, 2, (n,), generator=g)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "attention_mask": torch.ones(6, dtype=torch.long), "labels": self.labels[i]}


def test_huggingface_callback_logs_train_and_eval_at_the_global_step_and_the_model(store, tmp_path):
    import transformers

    from tracker.integrations.huggingface import TrackerCallback, WandbCallback

    assert WandbCallback is TrackerCallback
    config = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=16, num_labels=2)
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), num_train_epochs=2, per_device_train_batch_size=8, learning_rate=1e-3,
        logging_steps=1, eval_strategy="epoch", save_strategy="epoch", report_to="none", use_cpu=True,
        disable_tqdm=True, run_name="bert-tiny")
    tracker.init(project="hf", dir=store, settings=SETTINGS)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=_Pairs(32), eval_dataset=_Pairs(16),
                                   callbacks=[TrackerCallback(log_model="checkpoint")])
    trainer.train()
    run = tracker.run
    run.finish()

    read = _read(store, run)
    assert read.config["learning_rate"] == 1e-3 and read.config["hidden_size"] == 16
    assert read.config["model/num_parameters"] == model.num_parameters()
    history = read.history()
    steps, losses = _column(history, "train/loss")
    assert steps == list(range(1, 9))  # logging_steps=1: global steps 1..8 (4 batches x 2 epochs)
    expected = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert losses == pytest.approx(expected)
    eval_steps, eval_losses = _column(history, "eval/loss")
    assert eval_steps == [4, 8]
    assert eval_losses == pytest.approx([e["eval_loss"] for e in trainer.state.log_history if "eval_loss" in e])
    assert "train_runtime" in read.summary and "train/train_runtime" not in history
    metrics = {m["name"]: m for m in read.metrics}
    assert metrics["*"]["step_metric"] == "train/global_step"  # eval/* and train/* plot against it
    api = tracker.Api(dir=store)
    model_art = api.artifact(f"hf/model-{run.id}:latest")
    assert model_art.type == "model" and "config.json" in {e.path for e in model_art.manifest.entries.values()}
    checkpoints = api.artifact_versions(f"hf/checkpoint-{run.id}")
    assert [c.metadata["global_step"] for c in checkpoints] == [4, 8]


# --- Keras ---------------------------------------------------------------------------------------------
def _keras_model(keras):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu", name="hidden"),
                              keras.layers.Dense(1, name="out")])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    return model


def _xy(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x @ np.array([1.0, -2.0, 0.5, 0.0], dtype="float32"))[:, None]


def test_keras_callback_logs_epochs_batches_the_model_tree_and_checkpoints(store, tmp_path):
    import keras

    from tracker.integrations.keras import TrackerCallback, TrackerModelCheckpoint

    tracker.init(project="keras", dir=store, settings=SETTINGS)
    model = _keras_model(keras)
    x, y = _xy()
    fitted = model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0, callbacks=[
        TrackerCallback(log_freq="batch", save_model="best"),
        TrackerModelCheckpoint(str(tmp_path / "ckpt-{epoch:02d}.keras"))])
    run = tracker.run
    run.finish()

    read = _read(store, run)
    history = read.history()
    _, epoch_loss = _column(history, "epoch/loss")
    assert epoch_loss == pytest.approx(fitted.history["loss"], rel=1e-5)
    assert _column(history, "epoch/val_loss")[1] == pytest.approx(fitted.history["val_loss"], rel=1e-5)
    assert _column(history, "epoch/epoch")[1] == [0, 1]
    assert _column(history, "epoch/learning_rate")[1] == pytest.approx([0.05, 0.05])
    assert len(_column(history, "batch/loss")[1]) == 2 * 3  # 48 training samples / 16
    assert _column(history, "batch/batch_step")[1] == [1, 2, 3, 4, 5, 6]
    (graph,) = read.model_graphs()
    rows = {r["name"]: r for r in graph["modules"]}
    assert rows["hidden"]["type"] == "Dense" and rows["hidden"]["total_params"] == 4 * 8 + 8
    assert rows["hidden"]["output_shape"] == [None, 8] and rows["(model)"]["total_params"] == 49
    from tracker.ui.model_view import tree_html

    assert "(None, 8)" in tree_html(graph)  # the Model tab shows the batch dimension as Keras does
    api = tracker.Api(dir=store)
    best = api.artifact(f"keras/model-{run.id}:best")
    assert best.metadata["monitor"] == "val_loss"
    assert best.metadata["value"] == pytest.approx(min(fitted.history["val_loss"]), rel=1e-5)
    assert read.summary["best_val_loss"] == pytest.approx(min(fitted.history["val_loss"]), rel=1e-5)
    epochs = [v for v in api.artifact_versions(f"keras/model-{run.id}") if "original_filename" in v.metadata]
    assert sorted(v.metadata["original_filename"] for v in epochs) == ["ckpt-01.keras", "ckpt-02.keras"]


def test_keras_wandb_names_run_a_ported_script(store, tmp_path):
    import keras

    import tracker as wandb

    wandb.init(project="keras", dir=store, settings=SETTINGS)
    model = _keras_model(keras)
    x, y = _xy()
    model.fit(x, y, epochs=2, batch_size=32, validation_split=0.5, verbose=0, callbacks=[
        wandb.keras.WandbMetricsLogger(), wandb.keras.WandbCallback(save_model=False, log_weights=True),
        wandb.keras.WandbModelCheckpoint(str(tmp_path / "m.keras"), save_best_only=True)])
    run = wandb.run
    wandb.finish()
    read = _read(store, run)
    history = read.history()
    assert len(_column(history, "epoch/loss")[1]) == 2 and len(_column(history, "loss")[1]) == 2
    assert _column(history, "epoch")[1] == [0, 1]
    assert "best_val_loss" in read.summary
    assert any(m.key.startswith("parameters/") and m.key.endswith("/hidden/kernel") for m in read.media())


# --- XGBoost and LightGBM ----------------------------------------------------------------------------
def test_xgboost_callback_logs_each_round_feature_importance_and_the_model(store):
    import xgboost as xgb

    from tracker.integrations.xgboost import TrackerCallback

    x, y = _xy(200)
    dtrain = xgb.DMatrix(x[:150], label=y[:150, 0], feature_names=["a", "b", "c", "d"])
    dval = xgb.DMatrix(x[150:], label=y[150:, 0], feature_names=["a", "b", "c", "d"])
    tracker.init(project="xgb", dir=store, settings=SETTINGS)
    evals: dict = {}
    xgb.train({"max_depth": 2, "eta": 0.3}, dtrain, num_boost_round=5, evals=[(dtrain, "train"), (dval, "val")],
              evals_result=evals, callbacks=[TrackerCallback(log_model=True)], verbose_eval=False)
    run = tracker.run
    run.finish()
    read = _read(store, run)
    history = read.history()
    assert _column(history, "val-rmse")[1] == pytest.approx(evals["val"]["rmse"])
    assert _column(history, "train-rmse")[1] == pytest.approx(evals["train"]["rmse"])
    assert _column(history, "epoch")[1] == [0, 1, 2, 3, 4]
    assert read.summary["val-rmse"] == pytest.approx(min(evals["val"]["rmse"]))  # define_metric summary="min"
    (chart,) = read.media(key="Feature Importance")
    assert chart.record["spec"]["type"] == "bar" and chart.load()["Feature"][0] == "b"  # the largest weight
    assert tracker.Api(dir=store).artifact(f"xgb/model-{run.id}:latest").metadata["num_boosted_rounds"] == 5


def test_xgboost_wandb_callback_with_the_sklearn_estimator(store):
    import xgboost as xgb

    import tracker as wandb

    x, y = _xy(120)
    wandb.init(project="xgb", dir=store, settings=SETTINGS)
    model = xgb.XGBRegressor(n_estimators=3, max_depth=2, callbacks=[wandb.xgboost.WandbCallback()])
    model.fit(x[:80], y[:80, 0], eval_set=[(x[80:], y[80:, 0])], verbose=False)
    run = wandb.run
    wandb.finish()
    assert len(_column(_read(store, run).history(), "validation_0-rmse")[1]) == 3


def test_lightgbm_callback_and_log_summary(store):
    import lightgbm as lgb

    import tracker as wandb

    x, y = _xy(300)
    train = lgb.Dataset(x[:200], label=y[:200, 0], feature_name=["a", "b", "c", "d"])
    valid = lgb.Dataset(x[200:], label=y[200:, 0], reference=train)
    wandb.init(project="lgb", dir=store, settings=SETTINGS)
    record: dict = {}
    booster = lgb.train({"objective": "regression", "num_leaves": 4, "verbose": -1, "learning_rate": 0.2}, train,
                        num_boost_round=6, valid_sets=[train, valid], valid_names=["training", "valid_0"],
                        callbacks=[wandb.lightgbm.wandb_callback(), lgb.record_evaluation(record)])
    wandb.lightgbm.log_summary(booster, save_model_checkpoint=True)
    run = wandb.run
    wandb.finish()
    read = _read(store, run)
    history = read.history()
    assert _column(history, "valid_0_l2")[1] == pytest.approx(record["valid_0"]["l2"])
    assert _column(history, "iteration")[1] == list(range(6))
    assert read.config["lightgbm"]["num_leaves"] == 4
    assert read.media(key="Feature Importance")
    assert tracker.Api(dir=store).artifact(f"lgb/model-{run.id}:latest").metadata["num_trees"] == 6


def test_sklearn_plot_classifier_logs_each_chart(store):
    from sklearn.linear_model import LogisticRegression

    import tracker as wandb

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    y = (x[:, 0] + 0.3 * rng.normal(size=120) > 0).astype(int)
    model = LogisticRegression().fit(x[:80], y[:80])
    wandb.init(project="sk", dir=store, settings=SETTINGS)
    wandb.sklearn.plot_classifier(model, x[:80], x[80:], y[:80], y[80:], model.predict(x[80:]),
                                  model.predict_proba(x[80:]), labels=["neg", "pos"], feature_names=["f0", "f1", "f2"])
    run = wandb.run
    wandb.finish()
    read = _read(store, run)
    keys = {m.key for m in read.media()}
    assert {"confusion_matrix", "summary_metrics", "class_proportions", "roc", "precision_recall",
            "feature_importances"} <= keys
    (cm,) = read.media(key="confusion_matrix")
    assert cm.load()["nPredictions"].sum() == 40
    assert read.summary["summary_metrics/accuracy"] == pytest.approx(model.score(x[80:], y[80:]))


# --- what every integration shares ---------------------------------------------------------------------
def test_a_missing_framework_names_its_extra(monkeypatch):
    import sys

    from tracker.integrations._common import require

    monkeypatch.setitem(sys.modules, "xgboost", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "tracker\[xgboost\]"'):
        require("xgboost", "xgboost", "tracker.integrations.xgboost")


def test_a_failing_callback_warns_once_and_training_goes_on(store, monkeypatch):
    import keras

    from tracker.integrations.keras import TrackerCallback

    run = tracker.init(project="keras", dir=store, settings={"quiet": True})
    monkeypatch.setattr(run, "log", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk on fire")))
    model = _keras_model(keras)
    x, y = _xy()
    with pytest.warns(tracker.TrackerWarning, match="disk on fire") as caught:
        history = model.fit(x, y, epochs=3, batch_size=64, verbose=0, callbacks=[TrackerCallback()])
    assert len(history.history["loss"]) == 3  # training finished
    assert len([w for w in caught if "disk on fire" in str(w.message)]) == 1


def test_sklearn_charts_are_drawn_in_the_media_tab(store):
    from bokeh.models import GlyphRenderer

    import tracker as wandb
    from tracker.ui.media_view import MediaView

    wandb.init(project="sk", dir=store, settings=SETTINGS)
    wandb.sklearn.plot_class_proportions([0, 0, 1, 2, 2, 2], [0, 1, 1], labels=["a", "b", "c"])
    wandb.sklearn.plot_confusion_matrix(["x", "y", "y", "x"], ["x", "y", "x", "x"], normalize=True)
    run = wandb.run
    wandb.finish()
    view = MediaView(tracker.Api(dir=store).run(run.path))
    view.key.value = "class_proportions"
    assert type(view.area.children[0]).__name__ == "TrackerBokehModel"
    bars = view.plot_fig.select(GlyphRenderer)[0].data_source.data
    assert list(bars["x"]) == [("a", "train"), ("a", "test"), ("b", "train"), ("b", "test"), ("c", "train"),
                               ("c", "test")]
    assert list(bars["top"]) == [2, 1, 1, 2, 3, 0]
    view.key.value = "confusion_matrix"
    cells = view.plot_fig.select(GlyphRenderer)[0].data_source.data
    assert sorted(cells["n"]) == [0, 0.5, 0.5, 1]  # each actual row as fractions


DDP_SCRIPT = '''
import sys
import torch
import lightning.pytorch as pl
from tracker.integrations.lightning import TrackerLogger

class Tiny(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.save_hyperparameters({"lr": 0.1})
        self.net = torch.nn.Linear(4, 1)

    def training_step(self, batch, index):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train/loss", loss)
        print(f"rank {self.global_rank} batch {index}")
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

g = torch.Generator().manual_seed(0)
data = torch.utils.data.TensorDataset(torch.randn(64, 4, generator=g), torch.randn(64, 1, generator=g))
logger = TrackerLogger(project="ddp", id=sys.argv[2] or None, dir=sys.argv[1],
                       settings={"quiet": True, "stats_sampling_interval": 0.2, "flush_interval": 0.05})
trainer = pl.Trainer(max_epochs=2, accelerator="cpu", devices=2, strategy="ddp", logger=logger, log_every_n_steps=1,
                     enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)
trainer.fit(Tiny(), torch.utils.data.DataLoader(data, batch_size=8))
'''


@pytest.mark.slow
@pytest.mark.parametrize("given_id", ["ddp-run", ""], ids=["id-given", "id-from-rank-0"])
def test_lightning_ddp_keeps_every_ranks_system_metrics_and_console_with_a_label(given_id, store, tmp_path):
    """Real DDP (two CPU processes, gloo): rank 0 logs the metrics, and rank 1 joins the same run
    in shared mode, its system metrics and console lines labelled rank_1; without an id given,
    rank 0 hands its run's id to rank 1."""
    import subprocess
    import sys

    from tests.conftest import python_env

    script = tmp_path / "ddp_fit.py"
    script.write_text(DDP_SCRIPT)
    out = subprocess.run([sys.executable, str(script), str(store), given_id], cwd=tmp_path, env=python_env(),
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-4000:]
    (run,) = tracker.Api(dir=store).runs("ddp")
    assert run.id == (given_id or run.id)
    assert run.config["lr"] == 0.1
    steps, _ = _column(run.history(), "train/loss")
    assert steps == list(range(8))  # 64 samples / 2 ranks / batch 8 = 4 steps an epoch, logged by rank 0 only
    system = tracker.Api(dir=store).sql("SELECT DISTINCT key FROM system WHERE run_id = ?", [run.id])["key"].tolist()
    assert any(k.startswith("rank_0/") for k in system) and any(k.startswith("rank_1/") for k in system)
    streams = {r["stream"] for r in run.logs(n=None) if "batch" in r["text"]}
    assert streams == {"rank_0/stdout", "rank_1/stdout"}
