"""What every real-browser test shares: Playwright's Python package driving Debian's Chromium (never a
browser Playwright downloads), its flags, where screenshots go, and a clean skip where the browser
stack is missing. A test module imports from here; the import itself skips the module without it."""

from __future__ import annotations

import contextlib
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
#: What Playwright raises when a wait runs out.
PlaywrightTimeout = _playwright.TimeoutError


@contextlib.contextmanager
def running_lab(root: Path, *args: str) -> Iterator[tuple[str, str]]:
    """A real JupyterLab serving ``root`` on a free loopback port with a token of its own (extra
    ``args`` appended); yields ``(base URL, token)`` once it answers, and stops it after."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_PLATFORM_DIRS="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.news_url=",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--allow-root", *args],
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
