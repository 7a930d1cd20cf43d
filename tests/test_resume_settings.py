"""Resume modes, reinit, and where settings come from."""

from __future__ import annotations

import os
import subprocess
import textwrap

import pytest

import tracker
from tests.conftest import PYTHON, python_env
from tracker import RunExistsError, RunNotFoundError, Settings, UsageError


def test_resume_allow_continues_steps_summary_and_config(make_run, store):
    run = make_run(id="run1", config={"lr": 0.1})
    run.define_metric("loss", summary="min")
    for v in (3.0, 1.0, 2.0):
        run.log({"loss": v})
    run.summary["note"] = "first part"
    run.finish()

    again = make_run(id="run1", resume="allow", config={"epochs": 5}, tags=["resumed"])
    assert again.resumed and again.step == 3
    again.log({"loss": 1.5})
    assert again.summary["loss"] == 1.0  # the aggregate carries on from the first part
    assert again.summary["note"] == "first part"
    again.finish()
    read = tracker.Api(dir=store).run("test/run1")
    assert read.history()["_step"].tolist() == [0, 1, 2, 3]
    assert read.config == {"lr": 0.1, "epochs": 5}
    assert read.tags == ["resumed"] and read.metadata["resumes"] == 1
    assert read.state == "finished"


def test_resume_allow_creates_a_missing_run(make_run):
    run = make_run(id="fresh", resume="allow")
    assert not run.resumed and run.id == "fresh"


def test_resume_must_and_never(make_run):
    with pytest.raises(RunNotFoundError, match="resume='must' but run test/nope does not exist"):
        make_run(id="nope", resume="must")
    with pytest.raises(UsageError, match="needs the id"):
        make_run(resume="must")
    make_run(id="taken").finish()
    with pytest.raises(RunExistsError, match="already exists"):
        make_run(id="taken", resume="never")
    with pytest.raises(RunExistsError, match="already exists"):
        make_run(id="taken")
    with pytest.raises(UsageError, match="resume='sometimes' is not one of"):
        make_run(resume="sometimes")


def test_a_run_still_being_written_cannot_be_resumed(make_run):
    make_run(id="live")
    with pytest.raises(RunExistsError, match="still being written by process"):
        make_run(id="live", resume="allow")


def test_resume_config_change_is_refused_before_anything_starts(make_run, store):
    make_run(id="c", config={"lr": 0.1}).finish()
    with pytest.raises(tracker.ConfigError):
        make_run(id="c", resume="must", config={"lr": 0.2})
    assert tracker.Api(dir=store).run("test/c").state == "finished"


def test_resume_auto_picks_the_latest_crashed_run_of_this_program(store, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys, tracker
        run = tracker.init(project="p", dir={str(store)!r}, resume="auto", settings={{"quiet": True}})
        print(run.id, run.resumed, run.step, flush=True)
        run.log({{"x": run.step}})
        run.flush()
        if sys.argv[1] == "crash":
            os._exit(9)  # dies without finishing: reads as crashed
    """))
    first = subprocess.run([PYTHON, str(script), "crash"], env=python_env(), capture_output=True, text=True)
    run_id, resumed, step = first.stdout.split()
    assert resumed == "False" and step == "0"
    second = subprocess.run([PYTHON, str(script), "ok"], env=python_env(), capture_output=True, text=True)
    assert second.stdout.split() == [run_id, "True", "1"]
    third = subprocess.run([PYTHON, str(script), "ok"], env=python_env(), capture_output=True, text=True)
    assert third.stdout.split()[0] != run_id  # the previous one finished: a new run


def test_settings_precedence(tmp_path, monkeypatch):
    xdg = tmp_path / "xdg" / "tracker"
    xdg.mkdir(parents=True)
    (xdg / "settings.toml").write_text('project = "from-user"\nflush_interval = 0.9\nquiet = true\n')
    assert Settings.load().project == "from-user"
    (tmp_path / "tracker.toml").write_text('[settings]\nproject = "from-workspace"\ndir = "runs"\n')
    s = Settings.load()
    assert s.project == "from-workspace" and s.flush_interval == 0.9 and s.quiet is True
    assert s.root() == str((tmp_path / "runs").resolve())
    monkeypatch.setenv("WANDB_PROJECT", "from-wandb-env")
    assert Settings.load().project == "from-wandb-env"
    monkeypatch.setenv("TRACKER_PROJECT", "from-env")
    monkeypatch.setenv("TRACKER_STRICT", "yes")
    s = Settings.load()
    assert s.project == "from-env" and s.strict is True
    assert Settings.load(Settings(project="from-code")).project == "from-code"
    run = tracker.init(project="from-init", settings=Settings(project="from-code"))
    assert run.project == "from-init" and run.dir.startswith(str((tmp_path / "runs").resolve()))
    run.finish()


def test_settings_errors_name_the_setting(tmp_path, monkeypatch):
    with pytest.raises(UsageError, match="unknown setting 'flush_intervall'"):
        Settings(flush_intervall=1)
    with pytest.raises(UsageError, match="mode='loud' is not one of"):
        Settings(mode="loud")
    monkeypatch.setenv("TRACKER_FLUSH_INTERVAL", "soon")
    with pytest.raises(UsageError, match="flush_interval='soon' from TRACKER_FLUSH_INTERVAL is not a valid float"):
        Settings.load()
    monkeypatch.delenv("TRACKER_FLUSH_INTERVAL")
    (tmp_path / "tracker.toml").write_text("colour = 'blue'\n")
    with pytest.raises(UsageError, match="unknown setting 'colour'"):
        Settings.load()
    (tmp_path / "tracker.toml").unlink()
    with pytest.raises(UsageError, match="project name 'a/b' is not valid"):
        tracker.init(project="a/b", dir=tmp_path / "s")


def test_wandb_mode_disabled_from_the_environment(tmp_path):
    out = subprocess.run(
        [PYTHON, "-c", "import tracker as wandb; r = wandb.init(project='p'); r.log({'a': 1}); print(r.disabled)"],
        env=python_env(WANDB_MODE="disabled"), cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout
    assert out.strip() == "True" and not os.path.exists(tmp_path / "tracker-runs")
