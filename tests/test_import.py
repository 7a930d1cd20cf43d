"""`import tracker` stays light: heavy packages load only where they are used."""

from __future__ import annotations

import subprocess

from tests.conftest import PYTHON, python_env

HEAVY = ["numpy", "pandas", "pyarrow", "duckdb", "psutil", "pynvml", "ipywidgets", "bokeh"]
# Standard modules that cost init() milliseconds each: the logging API must not need them.
SLOW_STDLIB = ["typing", "dataclasses", "re", "json", "pathlib", "enum", "socket", "secrets", "inspect"]


def loaded_after(code: str) -> list[str]:
    names = HEAVY + SLOW_STDLIB
    script = f"import sys\n{code}\nprint(','.join(m for m in {names!r} if m in sys.modules))"
    out = subprocess.run([PYTHON, "-c", script], env=python_env(), capture_output=True, text=True, check=True)
    last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    return [m for m in last.split(",") if m]


def test_import_tracker_loads_nothing_heavy():
    assert loaded_after("import tracker") == []


def test_starting_a_run_loads_nothing_slow(tmp_path):
    """init() and log() on the user's thread need no slow module. (The writer thread, which wakes
    after flush_interval, loads pyarrow later; the context threads load psutil and read git in the
    background: they are switched off here to see the user's thread alone.)"""
    quiet = ("'quiet': True, 'flush_interval': 30, 'disable_stats': True, 'disable_meta': True, "
             "'disable_git': True, 'save_requirements': False")
    code = (
        "import tracker\n"
        f"run = tracker.init(project='p', dir={str(tmp_path)!r}, settings={{{quiet}}})\n"
        "run.log({'a': 1.0, 'b': 2})\n"
        "run.config.update({'lr': 0.1})\n"
    )
    assert loaded_after(code) == []


def test_a_training_process_never_imports_pandas_or_duckdb(tmp_path):
    """Also through pyarrow: its ``to_numpy`` imports pandas, and the writer turns big flushes and
    merges into M4 pyramids (over 65,536 points; a None among them: a null to read back)."""
    code = (
        "import tracker\n"
        f"run = tracker.init(project='p', dir={str(tmp_path)!r}, settings={{'quiet': True, 'flush_interval': 30}})\n"
        "for i in range(40000): run.log({'a': i, 'b': 0.5, 'c': None if i == 7 else 1.0})\n"
        "run.flush()\n"
        "for i in range(40000, 80000): run.log({'a': i, 'b': 0.5, 'c': 1.0})\n"
        "run.finish()"
    )
    loaded = loaded_after(code)
    assert "pandas" not in loaded and "duckdb" not in loaded
