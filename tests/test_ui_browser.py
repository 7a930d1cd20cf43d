"""Run pages in real JupyterLab 4 and Notebook 7, in Debian's Chromium driven by Playwright: BokehJS
comes from the tracker server extension (no network), every tab renders with no console error,
points arrive during a running cell, controls change the drawn data. Screenshots go to
``test-artifacts/``."""

from __future__ import annotations

import json
import re
import time
import urllib.request

import nbformat
import pytest

import tracker
from tests.browser import (  # skips without a browser
    ARGS,
    ARTIFACTS,
    CHROMIUM,
    MARKS,
    PlaywrightTimeout,
    running_lab,
    sync_playwright,
)
from tests.conftest import wait_until

pytestmark = MARKS
TABS = ("Overview", "Charts", "System", "Logs", "Files", "Artifacts", "Execution", "Media")



@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    store = root / "store"
    run = tracker.init(project="ui", dir=str(store), config={"lr": 0.01}, settings=tracker.Settings(strict=True))
    for i in range(2000):
        run.log({"train/loss": 1.0 / (i + 1), "val/acc": i / 2000})
    import numpy as np

    run.log({"sample": tracker.Image(np.arange(48, dtype=np.uint8).reshape(4, 4, 3) * 5)})
    run.log({"sample": tracker.Image(np.full((4, 4, 3), 250, dtype=np.uint8))})
    print("epoch 1 done")
    run.finish()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell(f"import tracker, time\npanel = tracker.Api({str(store)!r}).run({run.path!r}).display()"),
        nbformat.v4.new_code_cell(
            f"live = tracker.init(project='ui', dir={str(store)!r})\nlive.log({{'loss': 1.0}})\nlp = live.display()\n"
            "for i in range(1, 80):\n    live.log({'loss': 1.0 / (i + 1)}); time.sleep(0.1)\nlive.finish()"),
        nbformat.v4.new_code_cell(f"table = tracker.Api({str(store)!r}).runs('ui').display()"),
    ]
    nbformat.write(nb, root / "ui.ipynb")
    with running_lab(root) as (base, token):
        yield {"base": base, "token": token, "run": run.path, "root": root}


# What our pages' front end runs from: our server routes (BokehJS), our lab extension, BokehJS and
# jupyter_bokeh, and the widget manager (the only widgets on these pages are our run pages).
OURS = ("/tracker/", "tracker-jupyter", "tracker:", "bokeh", "@jupyter-widgets", "jupyterlab-manager")


def _ours(error: dict[str, str]) -> bool:
    """Whether a console error (or uncaught exception) comes from our routes or our front end: by its
    text, the script that logged it and, for an exception, its stack. The applications log errors of
    their own while starting (their 403/404s among them), whenever that happens to be."""
    if error["text"].startswith("Failed to load resource"):
        return False  # failed loads are checked by URL: our routes must answer (``failed``)
    where = " ".join((error["text"], error["url"], error["stack"])).lower()
    return any(mark in where for mark in OURS)


def test_bokehjs_is_served_with_authentication_only(server):
    base, token = server["base"], server["token"]
    for name in ("manifest.json", "bokeh.min.js"):  # no token: sent to the login page, nothing served
        resp = urllib.request.urlopen(f"{base}/tracker/bokehjs/{name}")
        assert "/login" in resp.geturl() and b"Bokeh" not in resp.read()[:2000]
    manifest = json.load(urllib.request.urlopen(f"{base}/tracker/bokehjs/manifest.json?token={token}"))
    import bokeh

    assert manifest["version"] == bokeh.__version__ and manifest["files"][0] == "bokeh.min.js"
    body = urllib.request.urlopen(f"{base}/tracker/bokehjs/bokeh.min.js?token={token}").read()
    assert len(body) > 500_000
    with pytest.raises(urllib.error.HTTPError) as err:  # only the listed files: no path from the request
        urllib.request.urlopen(f"{base}/tracker/bokehjs/..%2F..%2Fserver%2Fserver.py?token={token}")
    assert err.value.code == 404


def _open(page, url):
    page.goto(url)
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    page.wait_for_function("document.body.dataset.trackerBokeh !== undefined", timeout=60_000)
    page.wait_for_function(
        "Array.from(document.querySelectorAll('.jp-Notebook-ExecutionIndicator, #jp-main-statusbar, "
        ".jp-KernelStatus, [data-status]')).some(e => (e.getAttribute('data-status') || e.textContent || '')"
        ".toLowerCase().includes('idle'))", timeout=60_000)


def _run_cell(page, index):
    """Run a cell and wait until it has started: its prompt shows [*] or its count. JupyterLab drops a
    run asked for before the notebook's kernel connection is up (the prompt stays [ ]), which on a
    loaded machine can be well after the kernel shows idle: then ask again, until the deadline."""
    cell = page.locator(".jp-Cell").nth(index)
    started = cell.locator(".jp-InputPrompt", has_text=re.compile(r"\[(\*|\d+)\]"))
    deadline = time.monotonic() + 60
    while True:
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        try:
            started.first.wait_for(timeout=10_000)
            return
        except PlaywrightTimeout:
            if time.monotonic() >= deadline:
                pytest.fail(f"cell {index} did not start within 60 s; its prompt: "
                            f"{cell.locator('.jp-InputPrompt').first.inner_text()!r}")


def _points(page, name):
    return page.evaluate(
        """(name) => { for (const d of (window.Bokeh ? Bokeh.documents : [])) {
               const m = d.get_model_by_name(name); if (m) return m.data.x.length; } return -1; }""", name)


@pytest.mark.parametrize("app", ["lab", "notebooks"])
def test_the_run_page_renders_and_updates_live(server, app):
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[dict[str, str]] = []  # every console error and uncaught exception of the whole test
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: errors.append(
                {"text": m.text, "url": m.location.get("url") or "", "stack": ""}) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append({"text": str(e), "url": "", "stack": e.stack or ""}))
            failed: list[str] = []  # our routes must answer; the applications' own 403/404s are theirs
            page.on("response", lambda r: failed.append(r.url) if r.status >= 400 and "/tracker/" in r.url else None)
            url = f"{server['base']}/{'lab/tree' if app == 'lab' else 'notebooks'}/ui.ipynb?token={server['token']}"
            _open(page, url)
            assert page.evaluate("window.Bokeh.version") == __import__("bokeh").__version__
            _run_cell(page, 0)
            panel = page.locator(".tracker-panel").first
            panel.wait_for(timeout=60_000)
            for tab in TABS:
                panel.locator(".lm-TabBar-tab", has_text=tab).first.click()
                page.wait_for_timeout(800)
                panel.screenshot(path=str(ARTIFACTS / f"{app}-{tab.lower()}.png"))
                if tab in ("Charts", "Media"):  # drawn on a canvas (the System tab may have one sample)
                    panel.locator("canvas").filter(visible=True).first.wait_for(timeout=30_000)
                page.wait_for_timeout(800)
                panel.screenshot(path=str(ARTIFACTS / f"{app}-{tab.lower()}.png"))
            loss = f"train/loss@{server['run']}"
            wait_until(lambda: _points(page, loss) > 0, timeout=60, interval=0.1,
                       message=f"points of {loss} in the page")
            assert 0 < _points(page, loss) <= 2000
            # the smoothing control changes the data drawn (the smoothed column)
            panel.locator(".lm-TabBar-tab", has_text="Charts").first.click()
            def drawn():
                return page.evaluate("""(n) => { for (const d of Bokeh.documents) { const m = d.get_model_by_name(n);
                                         if (m) return Array.from(m.data.ys).slice(0, 50); } }""", loss)

            before = drawn()
            select = panel.locator("select").filter(has=page.locator("option", has_text="running_average")).first
            select.select_option("ema")
            seen = [before]

            def changed() -> bool:
                seen.append(drawn())
                return seen[-1] != before

            wait_until(changed, timeout=60, interval=0.1,
                       message=f"the data drawn for {loss} to change after choosing ema")
            after = seen[-1]
            assert before != after
            # a live run: points arrive while its cell is still running
            _run_cell(page, 1)
            page.wait_for_function("""() => { for (const d of (window.Bokeh ? Bokeh.documents : [])) {
                for (const m of d._all_models.values()) if (m.name && m.name.startsWith('loss@')) return true; }
                return false; }""", timeout=60_000)
            def live_points() -> int:
                return page.evaluate("""() => { for (const d of Bokeh.documents)
                    for (const m of d._all_models.values()) if (m.name && m.name.startsWith('loss@'))
                        return m.data.x.length; return -1; }""")

            counts = [live_points()]
            deadline = time.monotonic() + 60
            while counts[0] > 0 and counts[-1] <= counts[0] and time.monotonic() < deadline:
                time.sleep(0.25)
                counts.append(live_points())
            assert counts[-1] > counts[0] > 0, f"no new point on the live chart within 60 s; counts seen: {counts}"
            page.screenshot(path=str(ARTIFACTS / f"{app}-live.png"), full_page=True)
            # the run table: states as badges, numbers to significant digits (never a nonzero as 0)
            _run_cell(page, 2)
            cell = page.locator(".slick-cell", has_text="finished").first
            cell.wait_for(timeout=60_000)
            texts = page.locator(".slick-cell").all_inner_texts()
            assert "0.01" in texts, texts  # config.lr
            table = page.locator(".tracker-panel").filter(has=page.locator(".slick-cell")).first
            table.scroll_into_view_if_needed()
            table.screenshot(path=str(ARTIFACTS / f"{app}-table.png"))
        finally:
            browser.close()
    assert not failed, failed
    ours = [e for e in errors if _ours(e)]
    assert not ours, ours
