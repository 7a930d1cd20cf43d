"""run.watch on a real PyTorch model: gradient and parameter histograms every log_freq passes, the
module tree with output shapes, unwatch, and a non-torch object warned about and skipped."""

from __future__ import annotations

import pytest

import tracker

torch = pytest.importorskip("torch")


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


def _train(run, model, steps):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 4), torch.randn(16, 2)
    for _ in range(steps):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.log({"loss": loss.item()})


def test_watch_logs_histograms_every_log_freq_and_the_module_tree(make_run, store):
    run = make_run()
    model = _model()
    run.watch(model, log="all", log_freq=5)
    _train(run, model, 12)
    run.unwatch(model)
    _train(run, model, 5)  # not watched any more: nothing new
    run.finish()
    read = tracker.Api(dir=store).run(run.path)
    grads = read.media(key="gradients/0.weight")
    params = read.media(key="parameters/2.bias")
    assert [m.step for m in grads] == [0, 5, 10]  # passes 1, 6, 11: at the step being logged
    assert [m.step for m in params] == [0, 5, 10]
    assert grads[0].kind == "histogram" and sum(grads[0].record["counts"]) == 32  # 8 x 4 weights
    keys = {m.key for m in read.media(kind="histogram")}
    assert keys == {f"{kind}/{name}" for kind in ("gradients", "parameters")
                    for name in ("0.weight", "0.bias", "2.weight", "2.bias")}
    (graph,) = read.model_graphs()
    rows = {r["name"]: r for r in graph["modules"]}
    assert graph["type"] == "Sequential" and rows["(model)"]["total_params"] == 4 * 8 + 8 + 8 * 2 + 2
    assert rows["0"]["type"] == "Linear" and rows["0"]["params"] == 40 and rows["0"]["output_shape"] == [16, 8]
    assert rows["1"]["params"] == 0 and rows["2"]["output_shape"] == [16, 2]
    assert read.history()["loss"].notna().sum() == 17


def test_watch_defaults_and_bad_arguments(make_run, store):
    run = make_run()
    model = _model()
    run.watch(model)
    with pytest.raises(tracker.UsageError, match="log="):
        run.watch(model, log="weights")
    with pytest.raises(tracker.UsageError, match="log_freq"):
        run.watch(model, log_freq=0)
    with pytest.raises(tracker.TrackingFailure, match="not watched"):
        run.watch(object())  # strict: the warning is raised
    _train(run, model, 3)
    run.finish()
    read = tracker.Api(dir=store).run(run.path)
    assert {m.key.split("/")[0] for m in read.media(kind="histogram")} == {"gradients"}  # the default
    assert [m.step for m in read.media(key="gradients/0.weight")] == [0]  # log_freq 1000
    assert len(read.model_graphs()) == 1


def test_two_models_and_a_warning_outside_strict(store):
    run = tracker.init(project="p", dir=store, settings={"quiet": True})
    a, b = _model(), _model()
    with pytest.warns(tracker.TrackerWarning, match="not watched"):
        tracker.watch([a, "not a model", b], log="parameters", log_freq=1)  # module level: the current run
    a(torch.randn(2, 4))
    b(torch.randn(3, 4))
    run.log({"done": 1})
    run.finish()
    read = tracker.Api(dir=store).run(run.path)
    assert {g["index"] for g in read.model_graphs()} == {0, 1}
    assert {m.key for m in read.media(kind="histogram")} >= {"parameters/graph_0.0.weight", "parameters/graph_1.0.weight"}


def test_the_model_tab_shows_the_tree_and_histograms_over_steps(make_run, store):
    from tracker.ui.panel import TABS, RunPanel

    run = make_run()
    model = _model()
    run.watch(model, log="all", log_freq=2)
    _train(run, model, 6)
    run.finish()
    panel = RunPanel(tracker.Api(dir=store).run(run.path), build=False)
    panel.tabs.selected_index = TABS.index("Model")
    tree = panel.model.trees.value
    assert "Sequential" in tree and "58 parameters (58 trainable)" in tree and "every 2 passes" in tree
    assert "(16, 8)" in tree and ">Linear<" in tree and ">ReLU<" in tree
    assert panel.model.key.value == "gradients/0.bias" and len(panel.model.key.options) == 8
    heat = panel.model.heat_fig
    assert heat is not None and heat.title.text == "gradients/0.bias over steps"
    panel.model.key.value = "parameters/2.weight"
    assert panel.model.heat_fig.title.text == "parameters/2.weight over steps"


def test_the_model_tab_of_a_run_that_watched_nothing(make_run, store):
    from tracker.ui.panel import TABS, RunPanel

    run = make_run()
    run.log({"a": 1.0})
    run.finish()
    panel = RunPanel(tracker.Api(dir=store).run(run.path), build=False)
    panel.tabs.selected_index = TABS.index("Model")
    assert "no model watched" in panel.model.trees.value and panel.model.heat_fig is None


def test_watch_histograms_stay_off_the_media_tab(make_run, store):
    from tracker.ui.media_view import MediaView

    run = make_run()
    model = _model()
    run.watch(model, log_freq=1)
    _train(run, model, 2)
    run.log({"my/hist": tracker.Histogram([1, 2, 3]), "parameters/mine": tracker.Histogram([1.0])})
    run.finish()
    view = MediaView(tracker.Api(dir=store).run(run.path))
    view.refresh()
    assert list(view.key.options) == ["my/hist"]  # watch's and look-alikes go to the Model tab


def test_a_recorded_layer_tree_and_a_watched_model_keep_their_own_graphs(make_run, store):
    """log_model_tree (a Keras summary) then watch: two graphs, neither overwriting the other."""
    run = make_run()
    run.log_model_tree("Sequential", [{"name": "(model)", "type": "Sequential", "depth": 0, "params": 0,
                                       "total_params": 5, "trainable_params": 5, "output_shape": None}])
    run.watch(_model(), log=None)
    run.finish()
    graphs = tracker.Api(dir=store).run(run.path).model_graphs()
    assert [g["index"] for g in graphs] == [0, 1]
    assert graphs[0]["modules"][0]["total_params"] == 5 and graphs[1]["log"] is None  # the tree, then the model
