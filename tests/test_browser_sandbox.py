"""In a real browser (Debian's Chromium, driven by Playwright): logged HTML shown the way every
panel shows it cannot reach the page around it."""

from __future__ import annotations

import os
import shutil

import pytest

from tracker.api.media import sandboxed_iframe

# Skip, not fail, where the browser stack is missing: Playwright's Python package drives Debian's
# Chromium (never a browser that Playwright downloads).
sync_playwright = pytest.importorskip(
    "playwright.sync_api",
    reason="the browser tests need Playwright's Python package (pip install -e '.[test]') "
           "and Debian's Chromium (apt-get install chromium)",
).sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                       reason=f"no Chromium at {CHROMIUM}: the browser tests need apt-get install chromium"),
]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]

EVIL = """
<h1 id="inside">logged report</h1>
<script>
  const tried = [];
  for (const attack of [
    () => { parent.document.title = "owned"; },
    () => { parent.document.body.setAttribute("data-owned", "1"); },
    () => { top.localStorage.setItem("stolen", "1"); },
    () => { document.cookie = "x=1"; },
  ]) {
    try { attack(); tried.push("done"); } catch (e) { tried.push(e.name); }
  }
  document.title = "ran:" + tried.join(",");
</script>
"""


def test_a_script_in_logged_html_cannot_touch_the_parent_page():
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.set_content(f"<html><head><title>notebook</title></head><body>{sandboxed_iframe(EVIL)}</body></html>")
            frame = page.frames[1]
            frame.wait_for_function("document.title.startsWith('ran:')", timeout=10_000)
            results = frame.evaluate("document.title")
            assert results.startswith("ran:SecurityError,SecurityError,SecurityError"), results  # scripts ran, walled in
            assert page.title() == "notebook"
            assert page.evaluate("document.body.getAttribute('data-owned')") is None
            assert frame.evaluate("document.getElementById('inside').textContent") == "logged report"
        finally:
            browser.close()
