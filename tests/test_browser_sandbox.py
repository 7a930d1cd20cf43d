"""In a real browser (Debian's Chromium, driven by Playwright): logged HTML shown the way every
panel shows it cannot reach the page around it."""

from __future__ import annotations

from tests.browser import ARGS, CHROMIUM, MARKS, sync_playwright  # skips without a browser
from tracker.api.media import sandboxed_iframe

pytestmark = MARKS

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
