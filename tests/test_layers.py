"""The architecture's rules, checked: layers only point down (import-linter's contracts in
pyproject.toml), and no part of tracker takes another part's ``_private`` names."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tracker"


def _part(module: str) -> str:
    """``tracker.store.query`` -> ``store``; a top-level module is a part of its own."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        out.append((name, path))
    return out


def test_import_linter_contracts_are_kept():
    exe = shutil.which("lint-imports", path=os.path.dirname(sys.executable)) or shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    done = subprocess.run([exe, "--no-cache"], cwd=PACKAGE.parent, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " 0 broken" in done.stdout.split("Contracts:")[-1].split("\n")[0]


def test_no_part_imports_another_parts_private_names():
    bad = []
    for module, path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not node.module or not node.module.startswith("tracker"):
                continue
            source = node.module
            for alias in node.names:
                target = f"{source}.{alias.name}"
                name = alias.name
                if not name.startswith("_") or name.startswith("__"):
                    continue
                # `from tracker import _json` imports a module: private modules are the base layer's
                if source == "tracker" and (PACKAGE / f"{name}.py").exists():
                    continue
                if _part(source) != _part(module) or _part(module) == "":
                    bad.append(f"{module} imports {target}")
    assert not bad, "private names taken across parts:\n" + "\n".join(bad)


def test_the_notebook_layer_and_the_glue_use_public_names_only():
    """ui/, server/ and the CLI read objects of other parts through public attributes only."""
    bad = []
    for module, path in _modules():
        if _part(module) not in ("ui", "server", "cli", "demo"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.endswith("_")
                    and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
                owner = ast.unparse(node.value)
                bad.append(f"{module}:{node.lineno} {owner}.{node.attr}")
    allowed = {"_e", "_series"}  # module aliases imported under a private local name
    bad = [b for b in bad if b.rsplit(".", 1)[-1] not in allowed]
    assert not bad, "private attributes of other objects used:\n" + "\n".join(bad)
