"""What every real-browser test shares: Playwright's Python package driving Debian's Chromium (never a
browser Playwright downloads), its flags, where screenshots go, and a clean skip where the browser
stack is missing. A test module imports from here; the import itself skips the module without it."""

from __future__ import annotations

import os
import shutil
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
