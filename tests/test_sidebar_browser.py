"""The Runs sidebar in a real JupyterLab 4, in Debian's Chromium driven by Playwright: it lists the
runs of a demo store through the REST endpoints, a run started from a notebook cell shows as running
within seconds and turns finished when the cell finishes it, a run's view draws its charts with
BokehJS (a canvas and data), the search and the comparison work, a context-menu action inserts a
cell, in light and dark themes, with no console error from our code. Screenshots go to
``test-artifacts/sidebar-*.png``.

JupyterLab loads the lab extension built in this checkout (``tracker/labextension``, which
``pip install -e .`` builds) ahead of an installed copy, so the test checks these sources."""

from __future__ import annotations

import json
import re
import time
import urllib.request

import nbformat
import pytest

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
LIVE = "live-from-notebook"



@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("sidebar")
    store = root / "store"
    from tracker.demo import make_demo_store

    make_demo_store(dir=str(store), runs=4, steps=200)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell(
            f"import tracker\nrun = tracker.init(project='demo', name={LIVE!r}, dir={str(store)!r}, "
            "tags=['notebook'], settings={'quiet': True})\nfor i in range(5):\n    run.log({'loss': 1.0 / (i + 1)})\n"
            "run.flush()"),
        nbformat.v4.new_code_cell(
            "for i in range(5, 30):\n    run.log({'loss': 1.0 / (i + 1)})\nrun.finish()"),
    ]
    nbformat.write(nb, root / "sidebar.ipynb")
    with running_lab(root, f"--TrackerExtension.store_dir={store}") as (base, token):
        yield {"base": base, "token": token, "root": root, "store": store}


def _get(lab, path: str) -> dict:
    sep = "&" if "?" in path else "?"
    with urllib.request.urlopen(f"{lab['base']}/tracker/api/{path}{sep}token={lab['token']}", timeout=10) as r:
        return json.load(r)


def _ours(error: dict[str, str]) -> bool:
    """Whether a console error (or uncaught exception) comes from our front end, our routes or
    BokehJS; the application logs errors of its own while starting. Failed loads are checked by URL."""
    if error["text"].startswith("Failed to load resource"):
        return False
    where = " ".join((error["text"], error["url"], error["stack"])).lower()
    return any(mark in where for mark in ("/tracker/", "tracker-jupyter", "tracker:", "bokeh"))


def _run_cell(page, index):
    """Run a notebook cell and wait until it has started ([*] or its count in the prompt); ask again
    while the notebook's kernel connection is not up yet."""
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
                pytest.fail(f"cell {index} did not start within 60 s")


def _cell_done(page, index, timeout=120):
    """Wait until a cell has finished (its prompt shows its execution count)."""
    page.locator(".jp-Cell").nth(index).locator(".jp-InputPrompt", has_text=re.compile(r"\[\d+\]")).first.wait_for(
        timeout=timeout * 1000)


def _row(page, name):
    return page.locator(".tracker-RunsPanel-run", has=page.locator(".tracker-RunsPanel-name", has_text=name))


def _state(page, name):
    row = _row(page, name)
    return row.first.get_attribute("data-state") if row.count() else None


def _states(page) -> list[str]:
    """The states of the rows shown, top to bottom (read at once: rows come and go while polling)."""
    return page.evaluate(
        "Array.from(document.querySelectorAll('.tracker-RunsPanel-run')).map(e => e.dataset.state)")


def _tab(page, text):
    page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=text).first.click()


def _chart_points(page, scope) -> list[int]:
    """The points each chart under ``scope`` was given (its canvas is in Bokeh's shadow DOM: the
    locators' ``canvas`` waits see it)."""
    return page.evaluate(
        """(scope) => Array.from(document.querySelectorAll(scope + ' .tracker-ChartCell'))
               .filter(e => e.dataset.points !== undefined).map(e => Number(e.dataset.points))""", scope)


def test_the_sidebar_browses_runs_live(lab):
    ARTIFACTS.mkdir(exist_ok=True)
    demo = _get(lab, "projects/demo/runs")["runs"]
    assert len(demo) == 4
    errors: list[dict[str, str]] = []
    failed: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("console", lambda m: errors.append(
                {"text": m.text, "url": m.location.get("url") or "", "stack": ""}) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append({"text": str(e), "url": "", "stack": e.stack or ""}))
            page.on("response", lambda r: failed.append(f"{r.status} {r.url}")
                    if r.status >= 400 and "/tracker/" in r.url else None)
            page.goto(f"{lab['base']}/lab/tree/sidebar.ipynb?token={lab['token']}")
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            page.wait_for_function(
                "Array.from(document.querySelectorAll('.jp-Notebook-ExecutionIndicator, #jp-main-statusbar, "
                ".jp-KernelStatus, [data-status]')).some(e => (e.getAttribute('data-status') || e.textContent || '')"
                ".toLowerCase().includes('idle'))", timeout=60_000)

            # the sidebar: its icon in the left bar, the demo project and its runs with state badges
            page.locator('.jp-SideBar .lm-TabBar-tab[data-id="tracker-runs-sidebar"]').first.click()
            panel = page.locator(".tracker-RunsPanel")
            panel.wait_for(timeout=30_000)
            wait_until(lambda: len(_states(page)) == 4, timeout=60, message="the 4 demo runs in the sidebar")
            assert page.locator(".tracker-RunsPanel-project", has_text="demo").count() == 1
            for run in demo:
                assert _state(page, run["name"]) == run["state"]
            assert panel.locator(".tracker-StateBadge", has_text="failed").count() == 1
            assert panel.locator(".tracker-Tag", has_text="baseline").count() == 1

            # a run started in a notebook cell shows as running within seconds of the store having it
            started = time.monotonic()
            _run_cell(page, 0)
            seen_api = seen_ui = None
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and seen_ui is None:
                if seen_api is None and any(r["name"] == LIVE for r in _get(lab, "projects/demo/runs")["runs"]):
                    seen_api = time.monotonic()
                if _state(page, LIVE) == "running":
                    seen_ui = time.monotonic()
                time.sleep(0.1)
            assert seen_ui is not None, f"{LIVE} never showed as running in the sidebar"
            lag = seen_ui - (seen_api or seen_ui)
            print(f"{LIVE}: running in the sidebar {seen_ui - started:.1f} s after the cell started, "
                  f"{lag:.1f} s after the endpoint listed it")
            assert lag < 4, f"the sidebar showed the new run {lag:.1f} s after the endpoint had it"
            _cell_done(page, 0)
            page.screenshot(path=str(ARTIFACTS / "sidebar-live.png"))

            # its view, opened from the sidebar while it runs, follows it live
            _row(page, LIVE).first.click()
            view = page.locator(".tracker-RunView:not(.tracker-Compare)").filter(visible=True).first
            view.locator(".tracker-RunView-tab", has_text="Charts").click()
            view.locator(".tracker-ChartCell canvas").first.wait_for(timeout=60_000)
            wait_until(lambda: _chart_points(page, ".tracker-RunView-charts") == [5], timeout=30,
                       message="the 5 points of the live run's loss chart")
            _tab(page, "sidebar.ipynb")
            _run_cell(page, 1)
            wait_until(lambda: _state(page, LIVE) == "finished", timeout=60,
                       message=f"{LIVE} finished in the sidebar after its cell finished it")
            _tab(page, LIVE)
            wait_until(lambda: _chart_points(page, ".tracker-RunView-charts") == [30], timeout=30,
                       message="the live run's chart refreshed to its 30 points")
            assert view.get_attribute("data-state") == "finished"

            # a demo run's view: overview tables, then a chart per metric drawn by BokehJS
            first = next(r for r in demo if r["state"] == "finished")
            _row(page, first["name"]).first.click()
            view = page.locator(".tracker-RunView:not(.tracker-Compare)").filter(visible=True).first
            view.locator(".tracker-RunView-config", has_text="lr").wait_for(timeout=30_000)
            view.locator(".tracker-RunView-tab", has_text="Charts").click()
            view.locator(".tracker-ChartCell canvas").first.wait_for(timeout=60_000)
            wait_until(lambda: len(_chart_points(page, ".tracker-RunView-charts")) >= 4, timeout=30,
                       message="a chart per metric")
            assert all(n > 0 for n in _chart_points(page, ".tracker-RunView-charts"))
            drawn = page.evaluate(
                """(id) => { let n = 0; for (const d of Bokeh.documents) for (const m of d._all_models.values())
                       if (m.name && m.name.startsWith('tracker-run:demo/' + id + ':') && m.data && m.data.x.length)
                           n += 1; return n; }""", first["id"])
            assert drawn >= 4, f"{drawn} Bokeh data sources with data for {first['id']}"
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / "sidebar-run.png"))

            # search: plain text client side, an expression through the endpoint's filter=
            search = panel.locator(".tracker-RunsPanel-search")
            search.fill("baseline")
            wait_until(lambda: len(_states(page)) == 1, timeout=10, message="one baseline run")
            search.fill('state == "failed"')
            search.press("Enter")
            wait_until(lambda: _states(page) == ["failed"], timeout=20, message="the failed run alone through filter=")
            search.fill("")
            search.press("Enter")
            wait_until(lambda: len(_states(page)) == 5, timeout=20, message="all 5 runs again")

            # compare: click a run, ctrl-click two more, then the Compare button
            _row(page, first["name"]).first.click()
            others = [r for r in demo if r["id"] != first["id"]][:2]
            for run in others:
                _row(page, run["name"]).first.click(modifiers=["Control"])
            assert page.locator(".tracker-RunsPanel-run.jp-mod-selected").count() == 3
            panel.locator(".tracker-RunsPanel-compare").click()
            compare = page.locator(".tracker-Compare").filter(visible=True).first
            compare.locator(".tracker-ChartCell canvas").first.wait_for(timeout=60_000)
            assert compare.locator(".tracker-Compare-run").count() == 3
            wait_until(lambda: len(_chart_points(page, ".tracker-Compare")) >= 4, timeout=30,
                       message="a comparison chart per metric")
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / "sidebar-compare.png"))

            # the context menu inserts a cell that opens the run into the notebook
            _tab(page, "sidebar.ipynb")
            _row(page, first["name"]).first.click(button="right")
            page.locator(".lm-Menu-item", has_text="Insert Cell Opening the Run").click()
            code = f'tracker.Api().run("demo/{first["id"]}").display()'
            wait_until(lambda: any(code in t for t in page.locator(".jp-Cell .jp-InputArea-editor").all_inner_texts()),
                       timeout=10, message="the inserted cell")

            # dark theme: the same views, drawn again with the theme's colours
            page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
            page.wait_for_function("document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
            _tab(page, "Compare")
            page.wait_for_timeout(2500)
            page.screenshot(path=str(ARTIFACTS / "sidebar-compare-dark.png"))
            _tab(page, first["name"])
            page.wait_for_timeout(2500)
            page.screenshot(path=str(ARTIFACTS / "sidebar-dark.png"))
            background = page.evaluate(
                "getComputedStyle(document.querySelector('.tracker-RunsPanel')).backgroundColor")
            assert background not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)"), background
        finally:
            browser.close()
    assert not failed, failed
    ours = [e for e in errors if _ours(e)]
    assert not ours, ours
