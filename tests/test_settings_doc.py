"""Each setting is declared once in tracker/settings.py; the docs table, the environment variables and the
coercion all come from that declaration."""

from __future__ import annotations

import copy
import difflib
from pathlib import Path

import pytest

from tracker import Settings, UsageError
from tracker.settings import FIELD_NAMES, FIELDS, TABLE_END, TABLE_START, markdown_table, setting, write_docs

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "settings.md"
FIX = ".venv/bin/python scripts/write_settings_docs.py"


def test_the_docs_table_is_the_generated_one():
    text = DOC.read_text(encoding="utf-8")
    assert TABLE_START in text and TABLE_END in text, f"{DOC} lost its table markers"
    written = text[text.index(TABLE_START) + len(TABLE_START) : text.index(TABLE_END)].lstrip("\n")
    expected = markdown_table()
    if written != expected:
        diff = "\n".join(difflib.unified_diff(written.splitlines(), expected.splitlines(), "docs", "declarations", lineterm=""))
        pytest.fail(f"the table in docs/settings.md is not the one the declarations make; run `{FIX}`\n{diff}")


def test_write_docs_rewrites_only_the_table(tmp_path):
    doc = tmp_path / "settings.md"
    doc.write_text(f"# Prose\n\nkept\n\n{TABLE_START}\n| stale |\n{TABLE_END}\n\nafter\n", encoding="utf-8")
    assert write_docs(str(doc)) is True
    assert doc.read_text() == f"# Prose\n\nkept\n\n{TABLE_START}\n{markdown_table()}{TABLE_END}\n\nafter\n"
    assert write_docs(str(doc)) is False
    doc.write_text("no markers\n")
    with pytest.raises(ValueError, match="settings-table:start"):
        write_docs(str(doc))


def test_every_setting_is_declared_with_a_meaning_and_a_row():
    table = markdown_table()
    assert [s.name for s in FIELDS] == list(Settings().to_dict()) and FIELD_NAMES == set(Settings().to_dict())
    for s in FIELDS:
        assert s.meaning.strip() and "\n" not in s.meaning, f"setting {s.name} needs one line of meaning"
        assert s.tracker_env == "TRACKER_" + s.name.upper()
        assert f"| `{s.name}` |" in table
        assert s.coerce(s.default, "test") == s.default  # the default is a value of the declared type
    assert table.count("\n") == len(FIELDS) + 2


def test_the_declared_types_drive_the_coercion():
    kinds = {s.name: (s.kind, s.nullable) for s in FIELDS}
    assert kinds["flush_interval"] == (float, False)
    assert kinds["run_tags"] == (tuple, True)
    assert kinds["stats_open_metrics_endpoints"] == (dict, True)
    assert kinds["dir"] == (str, True)
    assert kinds["save_requirements"] == (bool, False)


def test_tracker_env_for_a_float_a_bool_an_int_a_tuple_and_a_dict(monkeypatch):
    monkeypatch.setenv("TRACKER_FLUSH_INTERVAL", "2.5")
    monkeypatch.setenv("TRACKER_DISABLE_GIT", "on")
    monkeypatch.setenv("TRACKER_SAVE_REQUIREMENTS", "0")
    monkeypatch.setenv("TRACKER_MAX_TEXT_BYTES", "1_000")
    monkeypatch.setenv("TRACKER_STATS_DISK_PATHS", "/, /data ,")
    monkeypatch.setenv("TRACKER_STATS_OPEN_METRICS_ENDPOINTS", '{"node": "http://localhost:9100/metrics"}')
    s = Settings.load()
    assert s.flush_interval == 2.5 and s.disable_git is True and s.save_requirements is False
    assert s.max_text_bytes == 1000
    assert s.stats_disk_paths == ("/", "/data")
    assert s.stats_open_metrics_endpoints == {"node": "http://localhost:9100/metrics"}
    assert s.explicit == {
        "flush_interval", "disable_git", "save_requirements", "max_text_bytes", "stats_disk_paths",
        "stats_open_metrics_endpoints",
    }


@pytest.mark.parametrize(
    ("env", "value", "message"),
    [
        ("TRACKER_DISABLE_GIT", "maybe", "disable_git='maybe' from TRACKER_DISABLE_GIT is not a valid bool"),
        ("TRACKER_COMPACTION_FANIN", "1.5", "compaction_fanin='1.5' from TRACKER_COMPACTION_FANIN is not a valid int"),
        ("TRACKER_STATS_OPEN_METRICS_ENDPOINTS", "[1]", "from TRACKER_STATS_OPEN_METRICS_ENDPOINTS is not a valid dict"),
        ("TRACKER_HEARTBEAT_TIMEOUT", "0", "setting heartbeat_timeout=0.0 must be > 0 seconds"),
        ("TRACKER_CONSOLE", "tee", "setting console='tee' is not one of"),
    ],
)
def test_bad_environment_values_name_the_setting_value_and_source(monkeypatch, env, value, message):
    monkeypatch.setenv(env, value)
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace("[", r"\[")):
        Settings.load()


WANDB = {
    "WANDB_MODE": ("mode", "offline", "offline"),
    "WANDB_PROJECT": ("project", "p", "p"),
    "WANDB_RUN_ID": ("run_id", "abc", "abc"),
    "WANDB_NAME": ("run_name", "first", "first"),
    "WANDB_RUN_GROUP": ("run_group", "g", "g"),
    "WANDB_JOB_TYPE": ("run_job_type", "train", "train"),
    "WANDB_NOTES": ("run_notes", "a note", "a note"),
    "WANDB_TAGS": ("run_tags", "a, b", ("a", "b")),
    "WANDB_RESUME": ("resume", "allow", "allow"),
}


def test_the_wandb_variables_are_the_declared_ones():
    assert {env: s.name for s in FIELDS for env in s.env} == {env: name for env, (name, _, _) in WANDB.items()}


@pytest.mark.parametrize("env", sorted(WANDB))
def test_wandb_variables_still_map(monkeypatch, env):
    name, raw, value = WANDB[env]
    monkeypatch.setenv(env, raw)
    assert getattr(Settings.load(), name) == value


def test_wandb_mode_dryrun_is_offline_and_tracker_variables_win(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "dryrun")
    assert Settings.load().mode == "offline"
    monkeypatch.setenv("TRACKER_MODE", "disabled")
    assert Settings.load().mode == "disabled"
    monkeypatch.setenv("TRACKER_MODE", "dryrun")  # W&B's name for offline, from any source
    assert Settings.load().mode == "offline"
    monkeypatch.setenv("TRACKER_MODE", "dry-run")
    with pytest.raises(UsageError, match="mode='dry-run' is not one of"):
        Settings.load()


def test_a_path_setting_in_a_file_is_relative_to_the_file(tmp_path):
    (tmp_path / "tracker.toml").write_text('dir = "runs"\nrun_tags = ["a", "b"]\n')
    (tmp_path / "sub").mkdir()
    s = Settings.load(cwd=tmp_path / "sub")
    assert s.dir == str((tmp_path / "runs").resolve()) and s.run_tags == ("a", "b")
    assert Settings(dir=tmp_path).dir == str(tmp_path)  # os.PathLike from code


def test_checks_copy_equality_and_explicit():
    with pytest.raises(UsageError, match=r"setting compaction_fanin=1 must be >= 2$"):
        Settings(compaction_fanin=1)
    with pytest.raises(UsageError, match=r"setting flush_interval=0.0 must be > 0 seconds$"):
        Settings(flush_interval=0)
    assert Settings(reinit=None).reinit == "default"  # None is "not set", as in W&B's Settings
    with pytest.raises(UsageError, match=r"setting reinit='again' is not one of \('default'"):
        Settings(reinit="again")
    with pytest.raises(UsageError, match="setting quiet='x' from Settings"):
        Settings(quiet="x")
    with pytest.raises(UsageError, match="unknown setting 'colour' .*docs/settings.md"):
        Settings().copy(colour="blue")
    assert Settings(resume=None).resume is None
    s = Settings(project="a")
    c = s.copy(quiet=True)
    assert c.quiet is True and s.quiet is False and c.project == "a"
    assert s.explicit == {"project"} and c.explicit == {"project", "quiet"}
    assert s != c and s == Settings(project="a") and s.copy() == s
    shallow = copy.copy(s)
    shallow.quiet = True
    assert s.quiet is False
    assert repr(Settings()).startswith("Settings(dir=None, project=None, mode='online', strict=False,")
    with pytest.raises(AttributeError):
        s.flush_intervall = 1.0  # type: ignore[attr-defined]


def test_a_declaration_needs_a_known_annotated_type():
    with pytest.raises((TypeError, RuntimeError)) as info:  # Python < 3.12 wraps it in a RuntimeError

        class Bad:
            __slots__ = ("_values",)
            names: list[str] = setting([], "a list is not a settings type")

    assert "setting names: 'list[str]' is not one of" in str(info.value.__cause__ or info.value)
