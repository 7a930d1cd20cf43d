"""What every real-browser test shares: Playwright's Python package driving Debian's Chromium (never a
browser Playwright downloads), its flags, where screenshots go, and a clean skip where the browser
stack is missing. A test module imports from here; the import itself skips the module without it."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

_playwright = pytest.importorskip(
    "playwright.sync_api",
    reason="the browser tests need Playwright's Python package (pip install -e '.[test]') "
           "and Debian's Chromium (apt-get install chromium)",
)
sync_playwright = _playwright.sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: A browser test module's ``pytestmark``: slow, and skipped without an executable Chromium.
MARKS = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                       reason=f"no Chromium at {CHROMIUM}: the browser tests need apt-get install chromium"),
]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
#: This checkout's build of the lab extension (``pip install -e .`` builds it), loaded ahead of an
#: installed copy, which may be older.
BUILT = Path(__file__).resolve().parents[1] / "tracker" / "labextension"
#: What Playwright raises when a wait runs out.
PlaywrightTimeout = _playwright.TimeoutError


@contextlib.contextmanager
def running_lab(root: Path, *args: str) -> Iterator[tuple[str, str]]:
    """A real JupyterLab serving ``root`` on a free loopback port with a token of its own (extra
    ``args`` appended); yields ``(base URL, token)`` once it answers, and stops it after.

    Its user settings and workspaces live under ``root`` (the tests switch the theme), with no news
    prompt over the screenshots; the application is exposed as ``window.jupyterapp`` (to run
    commands such as a theme switch); this checkout's lab extension build comes first."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_PLATFORM_DIRS="1")
    settings = root / "settings"
    notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True, exist_ok=True)
    notification.write_text(json.dumps({"fetchNews": "false"}))
    own = [f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={root / 'workspaces'}",
           "--LabApp.expose_app_in_browser=True", "--JupyterNotebookApp.expose_app_in_browser=True"]
    if (BUILT / "package.json").exists():
        (root / "labextensions").mkdir(exist_ok=True)
        link = root / "labextensions" / "tracker-jupyter"
        if not link.exists():
            link.symlink_to(BUILT, target_is_directory=True)
        own += [f"--LabApp.extra_labextensions_path={root / 'labextensions'}",  # JupyterLab's pages
                f"--JupyterNotebookApp.extra_labextensions_path={root / 'labextensions'}"]  # Notebook 7's
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.news_url=",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--allow-root", *own, *args],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=open(root / "server.log", "w"))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        raise AssertionError((root / "server.log").read_text())
    try:
        yield base, token
    finally:
        proc.terminate()
        proc.wait(timeout=20)
