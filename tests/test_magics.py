"""``%tracker`` and ``%%tracker``: through IPython's own ``InteractiveShell`` (no kernel), and once in
a real kernel that loads them by itself from the IPython config the wheel ships."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd
import pytest

import tracker
from tests.conftest import ROOT, python_env
from tracker.api.filters import parse_expression
from tracker.sdk import state

KERNEL_CONFIG = ROOT / "jupyter_extension" / "jupyter-config" / "ipython_kernel_config.json"


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory):
    """IPython's shell, as a terminal has it (no kernel), with the extension loaded."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    hooks = sys.displayhook, sys.excepthook
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IPYTHONDIR", str(tmp_path_factory.mktemp("ipython")))
        config = Config()
        config.HistoryManager.hist_file = ":memory:"
        InteractiveShell.clear_instance()
        sh = InteractiveShell.instance(config=config, colors="nocolor")
        sh.run_line_magic("load_ext", "tracker")
        yield sh
        InteractiveShell.clear_instance()
    sys.displayhook, sys.excepthook = hooks


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "store"
    monkeypatch.setenv("TRACKER_DIR", str(root))
    monkeypatch.setenv("TRACKER_QUIET", "true")
    monkeypatch.setenv("TRACKER_STRICT", "true")
    monkeypatch.setenv("TRACKER_FLUSH_INTERVAL", "0.05")
    return root


def _runs(store: Path) -> list[tracker.Run]:
    """Three finished runs of project p (lr 0.1, 0.3, 0.9; acc 0.9, 0.7, 0.5) and one of project q."""
    out = []
    for name, lr, project in (("a", 0.1, "p"), ("b", 0.3, "p"), ("c", 0.9, "p"), ("d", 0.5, "q")):
        run = tracker.init(project=project, name=name, config={"lr": lr, "opt": "adam"}, reinit="create_new")
        for step in range(5):
            run.log({"loss": lr / (step + 1), "acc": 1.0 - lr})
        run.finish()
        out.append(run)
    return out


def _cell(shell, source: str):
    result = shell.run_cell(source, store_history=False)
    return result


def test_load_ext_registers_a_line_and_a_cell_magic(shell):
    magics = shell.magics_manager.magics
    assert "tracker" in magics["line"] and "tracker" in magics["cell"]


@pytest.mark.parametrize("line", ["", "help"])
def test_alone_or_help_prints_the_usage(shell, store, capsys, line):
    assert shell.run_line_magic("tracker", line) is None
    out = capsys.readouterr().out
    assert out.startswith("usage: %tracker SUBCOMMAND")
    for sub in ("runs", "show", "compare", "sql", "export", "init", "finish", "status", "%%tracker"):
        assert sub in out


@pytest.mark.parametrize(("line", "says"), [
    ("bogus", "unknown subcommand 'bogus'"),
    ("runs --limit x", "argument --limit: invalid count value: 'x'"),
    ("runs --limit -1", "argument --limit: invalid count value: '-1'"),
    ("runs --bogus", "unrecognized arguments: --bogus"),
    ("runs p --filter config.lr <", "expected a value"),
    ("runs --filter", "argument --filter: expected one argument"),
    ("runs nosuch", "no project 'nosuch'"),
    ("show", "the following arguments are required: RUN"),
    ("show nosuch", "no run with id or name 'nosuch'"),
    ("show p/nosuch", "no run p/nosuch"),
    ("compare a", "compare needs two runs or more"),
    ("compare a b --metric nosuch", "logged 'nosuch'"),
    ("sql", "the following arguments are required: SELECT ..."),
    ("sql SELEC 1", "syntax error"),
    ("export p", "the following arguments are required: OUT.parquet|OUT.csv"),
    ("export p out.txt", "must end in .parquet or .csv"),
    ("init --config lr", "expected KEY=VALUE, got 'lr'"),
    ("init --project 'bad name!'", "project name"),
    ("runs 'unclosed", "No closing quotation"),
])
def test_a_bad_argument_prints_the_usage_and_raises_nothing(shell, store, capsys, line, says):
    _runs(store)
    result = _cell(shell, f"out = %tracker {line}")
    assert result.error_in_exec is None and result.error_before_exec is None
    assert shell.user_ns["out"] is None
    err = capsys.readouterr().err
    assert "usage: %tracker" in err and "error: " in err, err
    assert says in err, err


def test_runs_filters_sorts_and_limits_like_the_read_api(shell, store):
    _runs(store)
    runs = shell.run_line_magic("tracker", 'runs p --filter config.lr < 0.5 and state == "finished" --sort -summary.acc')
    assert isinstance(runs, tracker.Api().runs("p").__class__)
    expected = tracker.Api().runs("p", filters=parse_expression('config.lr < 0.5 and state == "finished"'),
                                  order="-summary.acc")
    assert [r.name for r in runs] == [r.name for r in expected] == ["a", "b"]
    quoted = shell.run_line_magic("tracker", "runs p --sort summary.acc --filter 'config.lr >= 0.3' --limit 1")
    assert [r.name for r in quoted] == ["c"]
    assert [r.name for r in shell.run_line_magic("tracker", "runs --sort=name --limit 10")] == ["a", "b", "c", "d"]
    joined = shell.run_line_magic("tracker", "runs --filter=config.lr>0.2 --sort=-name")
    assert [r.name for r in joined] == ["d", "c", "b"]
    frame = shell.run_line_magic("tracker", "runs p").to_pandas()
    assert list(frame["name"]) == ["a", "b", "c"]


def test_runs_default_to_the_current_runs_project(shell, store):
    _runs(store)
    assert shell.run_line_magic("tracker", "runs").project is None  # every project
    run = shell.run_line_magic("tracker", "init --project q --name e")
    try:
        runs = shell.run_line_magic("tracker", "runs")
        assert runs.project == "q" and sorted(r.name for r in runs) == ["d", "e"]
    finally:
        run.finish()


def test_show_finds_a_run_by_path_id_name_or_latest(shell, store):
    made = _runs(store)
    for ref, want in ((made[1].path, "b"), (made[2].id, "c"), ("a", "a"), ("latest", "d")):
        run = shell.run_line_magic("tracker", f"show {ref}")
        assert isinstance(run, tracker.Api().run(made[0].path).__class__) and run.name == want, ref
    tracker.init(project="p", name="a", reinit="create_new").finish()
    result = _cell(shell, "%tracker show a")
    assert result.result is None  # two runs named a: which one is asked for
    current = shell.run_line_magic("tracker", "init --project q")
    assert shell.run_line_magic("tracker", "show latest").path == current.path  # the current project's
    current.finish()


def test_show_at_the_end_of_a_cell_displays_the_run(shell, store, capsys):
    made = _runs(store)
    _cell(shell, f"%tracker show {made[0].path}")
    out = capsys.readouterr().out  # no kernel: the run's text summary (a kernel shows its page)
    assert f"tracker run a ({made[0].path}): finished" in out and "acc = 0.9" in out


def test_compare_overlays_the_runs_per_metric_with_a_legend_and_the_config_diff(shell, store, capsys):
    from tracker.ui.project import Comparison

    made = _runs(store)
    cmp = shell.run_line_magic("tracker", f"compare a {made[2].path} --metric loss")
    assert isinstance(cmp, Comparison)
    assert [r.name for r in cmp.runs] == ["a", "c"] and cmp.metrics == ["loss"]
    assert cmp.config_diff == {"lr": [0.1, 0.9]}  # opt is the same: not a difference
    cmp.build()
    grid = cmp.grid
    assert grid.visible_keys() == ["loss"]  # one chart per chosen metric; the filter box holds the choice
    assert grid.legend_names() == ["a", "c"]  # a line per run, one legend for the grid
    assert [len(grid.charts["loss"].sources[r.path].data["x"]) for r in cmp.runs] == [5, 5]
    assert "config diff" in cmp.widget.children[1].value and "0.9" in cmp.widget.children[1].value
    cmp.close()
    whole = shell.run_line_magic("tracker", "compare a b c")
    assert whole.metrics == ["acc", "loss"]
    _cell(shell, "%tracker compare a b")
    out = capsys.readouterr().out  # no kernel: the comparison as text
    assert "tracker comparison of 2 runs" in out and "config.lr" in out and "acc" in out


def test_sql_returns_a_dataframe(shell, store):
    _runs(store)
    result = _cell(shell, "df = %tracker sql SELECT name, config->>'lr' AS lr FROM runs ORDER BY name\ndf")
    df = shell.user_ns["df"]
    assert isinstance(df, pd.DataFrame) and result.result is df
    assert list(df["name"]) == ["a", "b", "c", "d"]
    pd.testing.assert_frame_equal(df, tracker.Api().sql("SELECT name, config->>'lr' AS lr FROM runs ORDER BY name"))
    other = shell.run_line_magic("tracker", f"sql --dir {store} \"SELECT count(*) AS n FROM runs\"")
    assert int(other["n"][0]) == 4


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_export_writes_the_run_table_and_returns_its_path(shell, store, tmp_path, suffix):
    from tracker.cli import runs_table

    _runs(store)
    path = shell.run_line_magic("tracker", f"export p out/runs.{suffix}")
    assert path == str((tmp_path / "out" / f"runs.{suffix}").resolve())
    got = pd.read_parquet(path) if suffix == "parquet" else pd.read_csv(path)
    want = runs_table(tracker.Api(), "p")
    assert list(got["name"]) == ["a", "b", "c"] and list(got.columns) == list(want.columns)


def test_init_status_and_finish_make_a_run_around_the_following_cells(shell, store, capsys):
    run = shell.run_line_magic(
        "tracker", "init --project q --name around --tag a --tag b c --config lr=0.1 opt=adam layers=[64,64] on=true")
    assert tracker.run is run and run.state == "running"
    assert dict(run.config) == {"lr": 0.1, "opt": "adam", "layers": [64, 64], "on": True}
    assert tuple(run.tags) == ("a", "b", "c")
    _cell(shell, "import tracker\nfor i in range(3):\n    tracker.log({'loss': 1.0 / (i + 1)})")
    status = shell.run_line_magic("tracker", "status")
    assert status["name"] == "around" and status["state"] == "running" and status["step"] == 3
    assert status["last_step"] == 2 and status["path"] == run.path and status["dir"] == run.dir
    assert status["metrics"] == {"loss": pytest.approx(1 / 3)}
    capsys.readouterr()
    _cell(shell, "%tracker status")
    out = capsys.readouterr().out
    assert f"tracker run around ({run.path}): running" in out and "last step: 2" in out and "loss = 0.3333" in out
    again = shell.run_line_magic("tracker", "init --project q --name second")
    assert run.state == "finished" and tracker.run is again  # a new init ends the previous run, as in a notebook
    assert shell.run_line_magic("tracker", "finish") is None
    assert again.state == "finished" and tracker.run is None
    assert shell.run_line_magic("tracker", "status") is None
    assert shell.run_line_magic("tracker", "finish") is None
    assert "no current run" in capsys.readouterr().err


CELL = """%%tracker --project cells --name ok --log acc lr label layers model missing
import sys
import numpy as np
print("hello from the cell")
print("to stderr", file=sys.stderr)
acc, lr, label, layers = 0.75, np.float32(0.5), "wide", [64, 64]
model = object()
acc * 2
"""


def test_a_cell_runs_as_one_run(shell, store, capsys):
    result = _cell(shell, CELL)
    assert result.success and result.result == 1.5  # the cell's last value, displayed as usual
    captured = capsys.readouterr()
    assert "hello from the cell" in captured.out and "to stderr" in captured.err  # still shown
    assert "--log missing: no variable 'missing'" in captured.err
    run = tracker.Api().runs("cells")[0]
    assert run.name == "ok" and run.state == "finished"
    assert Path(run.file("cell.py")).read_text() == CELL.split("\n", 1)[1]  # the source, saved with the run
    lines = [(r["stream"], r["text"]) for r in run.logs()]
    assert ("stdout", "hello from the cell") in lines and ("stderr", "to stderr") in lines
    summary = run.summary
    assert 0 < summary["cell/seconds"] < 60
    assert summary["acc"] == 0.75 and summary["lr"] == 0.5  # numbers: history and summary
    assert list(run.history(keys=["acc"])["acc"]) == [0.75]
    assert run.config == {"label": "wide", "layers": [64, 64]}  # text, lists: the config
    assert summary["model"].startswith("<object object at")  # anything else: its text
    assert tracker.run is None  # nothing left current


def test_a_failing_cell_marks_the_run_failed_and_reraises_the_same_exception(shell, store, capsys):
    result = _cell(shell, "%%tracker --project cells --name bad --log x\nx = 1\nprint('before')\n"
                          "err = ValueError('boom')\nraise err")
    assert result.error_in_exec is shell.user_ns["err"]  # the very exception, not a wrapper
    tb = result.error_in_exec.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    assert tb.tb_lineno == 4 and tb.tb_frame.f_globals is shell.user_ns  # raised by the cell's own line
    assert "ValueError: boom" in capsys.readouterr().out  # the user's traceback, as usual
    run = tracker.Api().runs("cells")[0]
    assert run.state == "failed"
    assert "before" in [r["text"] for r in run.logs()]
    assert "raise err" in Path(run.file("cell.py")).read_text()
    assert run.summary["x"] == 1 and "cell/seconds" in run.summary
    result = _cell(shell, "%%tracker --project cells --name syntax\ndef (:")
    assert isinstance(result.error_in_exec, SyntaxError)
    assert tracker.Api().run(f"cells/{[r for r in tracker.Api().runs('cells') if r.name == 'syntax'][0].id}").state \
        == "failed"


def test_a_cell_beside_a_current_run_leaves_it_current(shell, store):
    outer = shell.run_line_magic("tracker", "init --project outer --name outer")
    _cell(shell, "%%tracker --name inner\nimport tracker\ntracker.log({'inner': 1.0})\ninside = tracker.run.name")
    assert shell.user_ns["inside"] == "inner"  # tracker.log in the cell: the cell's run
    assert tracker.run is outer and outer.state == "running" and "inner" not in outer.summary
    inner = [r for r in tracker.Api().runs("outer") if r.name == "inner"][0]  # the current run's project
    assert inner.state == "finished" and inner.summary["inner"] == 1.0
    outer.finish()


def test_a_cell_with_bad_arguments_is_not_run(shell, store, capsys):
    shell.user_ns.pop("ran", None)
    result = _cell(shell, "%%tracker --bogus\nran = True")
    assert result.error_in_exec is None and "ran" not in shell.user_ns
    err = capsys.readouterr().err
    assert "usage: %%tracker" in err and "unrecognized arguments: --bogus (the cell was not run)" in err
    result = _cell(shell, "%%tracker --config nope\nran = True")
    assert "ran" not in shell.user_ns and "expected KEY=VALUE" in capsys.readouterr().err
    assert not state.active


def test_the_wheel_ships_the_kernel_config():
    import tomllib

    shared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"][
        "shared-data"]
    assert shared[str(KERNEL_CONFIG.relative_to(ROOT))] == "etc/ipython/ipython_kernel_config.json"
    assert json.loads(KERNEL_CONFIG.read_text()) == {"InteractiveShellApp": {"extensions": ["tracker"]}}


@pytest.mark.slow
def test_a_kernel_loads_the_magics_by_itself_and_runs_them(tmp_path, monkeypatch):
    """A real kernel of this environment, reading the repository's copy of the config the wheel
    installs (as its profile's file: IPython reads the same name in {sys.prefix}/etc/ipython), has
    %tracker without %load_ext; the magics work there as in a notebook."""
    import nbformat
    from nbclient import NotebookClient

    ipython_dir = tmp_path / "ipython"
    (ipython_dir / "profile_default").mkdir(parents=True)
    (ipython_dir / "profile_default" / "ipython_kernel_config.json").symlink_to(KERNEL_CONFIG)
    store = tmp_path / "store"
    for key, value in python_env(TRACKER_DIR=str(store), IPYTHONDIR=str(ipython_dir), TRACKER_QUIET="1").items():
        monkeypatch.setenv(key, value)
    cells = [
        "from ipykernel.kernelapp import IPKernelApp\n"
        "print(IPKernelApp.instance().loaded_config_files)\n"
        "print('loaded' if 'tracker' in get_ipython().extension_manager.loaded else 'not loaded')",
        "%%tracker --project nb --name in-kernel --log acc\nacc = 0.5\nprint('printed in the kernel')\nacc",
        "df = %tracker sql SELECT name, state FROM runs\nprint(df.to_dict('records'))",
        "%tracker runs nb",
        "%tracker show latest",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [c.outputs for c in nb.cells]
    errors = [o for out in outputs for o in out if o.output_type == "error"]
    assert not errors, errors
    text = [" ".join(o.get("text", "") for o in out if o.output_type == "stream") for out in outputs]
    assert str(ipython_dir / "profile_default" / "ipython_kernel_config.json") in text[0]
    assert "loaded" in text[0].split() and "not loaded" not in text[0]
    assert "printed in the kernel" in text[1]
    assert [o["data"]["text/plain"] for o in outputs[1] if o.output_type == "execute_result"] == ["0.5"]
    assert "{'name': 'in-kernel', 'state': 'finished'}" in text[2]
    for shown in outputs[3:]:  # the run table and the run page: widgets, in a kernel
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in shown), shown
    run = tracker.Api(store).runs("nb")[0]
    assert run.state == "finished" and run.summary["acc"] == 0.5
    assert "printed in the kernel" in [r["text"] for r in run.logs()]  # through ipykernel's own streams
    assert os.path.exists(run.file("cell.py"))
