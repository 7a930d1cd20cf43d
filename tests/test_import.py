"""`import tracker` stays light: heavy packages load only where they are used."""

from __future__ import annotations

import json
import subprocess

from tests.conftest import PYTHON, python_env

HEAVY = ["numpy", "pandas", "pyarrow", "duckdb", "psutil", "pynvml", "ipywidgets", "bokeh", "typing", "dataclasses"]


def loaded_after(code: str) -> list[str]:
    script = f"import sys, json\n{code}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([PYTHON, "-c", script], env=python_env(), capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_tracker_loads_nothing_heavy():
    assert loaded_after("import tracker") == []


def test_a_training_process_never_imports_pandas_or_duckdb(tmp_path):
    code = (
        "import tracker\n"
        f"run = tracker.init(project='p', dir={str(tmp_path)!r}, settings={{'quiet': True}})\n"
        "for i in range(1000): run.log({'a': i})\n"
        "run.flush(); run.finish()"
    )
    loaded = loaded_after(code)
    assert "pandas" not in loaded and "duckdb" not in loaded
