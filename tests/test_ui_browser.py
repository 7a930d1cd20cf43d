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
TABS = ("Overview", "Charts", "System", "Logs", "Files", "Artifacts", "Execution", "Media", "Model")



FAILING = """
import tracker
run = tracker.init(project="ui", name="failing-run", dir={store!r}, config={{"lr": 0.5}})
print("epoch 1: loss 0.9")
run.log({{"loss": 0.9}})
print("epoch 2: loss nan")
raise ValueError("loss is nan at epoch 2")
"""
#: Counts warnings and errors logged in the kernel (ipykernel's "No such comm" among them).
KERNEL_LOG = """
import logging
class _Count(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []
    def emit(self, record):
        self.records.append(f"{record.name}: {record.getMessage()}")
_kernel_log = _Count()
logging.getLogger().addHandler(_kernel_log)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import subprocess
    import sys

    import numpy as np

    root = tmp_path_factory.mktemp("lab")
    store = root / "store"
    run = tracker.init(project="ui", name="long-run", dir=str(store), config={"lr": 0.01, "model": {"depth": 4}},
                       tags=["baseline", "resnet"], notes="the reference run",
                       settings=tracker.Settings(strict=True))
    import torch  # a watched model: the Model tab's tree and histograms

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    run.watch(model, log="all", log_freq=1)
    for i in range(2000):
        if i % 100 == 0:
            model(torch.randn(32, 8)).pow(2).mean().backward()
        run.log({"train/loss": 1.0 / (i + 1), "val/acc": i / 2000, "train/lr": 0.003})
    run.log({"sample": tracker.Image(np.arange(48, dtype=np.uint8).reshape(4, 4, 3) * 5)})
    run.log({"sample": [tracker.Image(np.full((8, 8, 3), 40 * k, dtype=np.uint8), caption=f"digit {k}")
                        for k in range(4)]})
    print("epoch 1 done")
    run.finish()
    for k in range(8):  # a sweep: the table, its comparison and the parallel coordinates
        r = tracker.init(project="ui", dir=str(store), settings=tracker.Settings(strict=True),
                         config={"lr": 10.0 ** -(k % 4 + 2), "model": {"depth": 2 + k % 3, "width": 64 * (1 + k % 2)},
                                 "optimizer": "adam" if k % 2 else "sgd"})
        for i in range(60):
            r.log({"train/loss": (1 + k) / (i + 1), "val/acc": 1 - 1 / (i + 2 + k)})
        r.summary["best_accuracy_on_the_validation_set"] = 0.9 + k / 100
        r.finish()
    script = root / "failing.py"
    script.write_text(FAILING.format(store=str(store)))
    subprocess.run([sys.executable, str(script)], cwd=root, capture_output=True, timeout=120)
    failed = next(r.path for r in tracker.Api(str(store)).runs("ui") if r.name == "failing-run")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell(KERNEL_LOG + "import tracker, time\n"
                                  f"panel = tracker.Api({str(store)!r}).run({run.path!r}).display()"),
        nbformat.v4.new_code_cell(
            f"live = tracker.init(project='ui', dir={str(store)!r})\nlive.log({{'loss': 1.0}})\nlp = live.display()\n"
            "for i in range(1, 80):\n    live.log({'loss': 1.0 / (i + 1)}); time.sleep(0.1)\nlive.finish()"),
        nbformat.v4.new_code_cell(f"table = tracker.Api({str(store)!r}).runs('ui').display()"),
        nbformat.v4.new_code_cell(f"tracker.Api({str(store)!r}).run({failed!r}).display()"),
        nbformat.v4.new_code_cell("print('KERNEL-LOG', len(_kernel_log.records), _kernel_log.records[:5])"),
    ]
    nbformat.write(nb, root / "ui.ipynb")
    with running_lab(root) as (base, token):
        yield {"base": base, "token": token, "run": run.path, "failed": failed, "root": root}


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


# The plot drawing a data source (found by the source's name), and its x range.
_X_RANGE = """(name) => { for (const d of Bokeh.documents) { const src = d.get_model_by_name(name); if (!src) continue;
    for (const m of d._all_models.values()) if (m.renderers && m.x_range && m.renderers.some(r => r.data_source === src))
        return [m.x_range.start, m.x_range.end]; } return null; }"""
# The scrolling element around an element (through shadow roots) and its scrollTop.
_SCROLLER = """(el) => { let e = el; while (e) { const st = getComputedStyle(e);
    if (e.scrollHeight > e.clientHeight + 2 && /(auto|scroll)/.test(st.overflowY)) return e;
    e = e.parentElement || (e.getRootNode && e.getRootNode().host) || null; } return document.scrollingElement; }"""
# Text colour and the colour behind it (the first opaque background up the tree, through shadow roots).
_COLOURS = """(el) => { const fg = getComputedStyle(el).color; let e = el, bg = null;
    while (e) { const c = getComputedStyle(e).backgroundColor;
        if (c && c !== 'transparent' && !/rgba\\(.*,\\s*0\\)$/.test(c)) { bg = c; break; }
        e = e.parentElement || (e.getRootNode && e.getRootNode().host) || null; }
    return [fg, bg || getComputedStyle(document.body).backgroundColor]; }"""
# The run names of the run table's rows, and the names of the ticked runs.
_TABLE_NAMES = """() => { for (const d of Bokeh.documents) for (const m of d._all_models.values())
    if (m.selected && m.data && m.data.path && m.data.name) return Array.from(m.data.name); return []; }"""
_TICKED = """() => { for (const d of Bokeh.documents) for (const m of d._all_models.values())
    if (m.selected && m.data && m.data.path && m.data.name) return m.selected.indices.map(i => m.data.name[i]);
    return []; }"""
# Text that overflows its box with no tooltip on it or inside it: "text cut with no way to read it".
_CUT = """(sel) => Array.from(document.querySelectorAll('.tracker-panel')).flatMap(p => {
    const found = []; const walk = (root) => { root.querySelectorAll(sel).forEach(e => found.push(e));
        root.querySelectorAll('*').forEach(e => { if (e.shadowRoot) walk(e.shadowRoot); }); };
    walk(p); return found; }).filter(e => e.scrollWidth > e.clientWidth + 1 && !e.title && !e.querySelector('[title]')
        && e.textContent.trim()).map(e => e.textContent.trim())"""


def _luminance(css: str) -> float:
    nums = [float(v) for v in re.findall(r"[\d.]+", css)[:3]]
    lin = [(c / 255 / 12.92) if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in nums]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(fg: str, bg: str) -> float:
    """WCAG contrast ratio of two CSS rgb() colours."""
    hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _output_text(page, index) -> str:
    out = page.locator(".jp-Cell").nth(index).locator(".jp-OutputArea-output")
    out.first.wait_for(timeout=60_000)
    return "\n".join(out.all_inner_texts())


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
            page.set_viewport_size({"width": 1400, "height": 2600})  # each tab whole in its screenshot
            for tab in TABS:
                panel.locator(".lm-TabBar-tab", has_text=tab).first.click()
                page.wait_for_timeout(800)
                if tab == "Charts":  # drawn on a canvas
                    panel.locator("canvas").filter(visible=True).first.wait_for(timeout=30_000)
                if tab == "Media":  # the step's images, each with its caption
                    panel.get_by_text("digit 3").filter(visible=True).first.wait_for(timeout=30_000)
                if tab == "Model":  # the watched model's tree, and a heat map of its histograms
                    panel.get_by_text("Sequential").filter(visible=True).first.wait_for(timeout=30_000)
                    panel.locator("canvas").filter(visible=True).first.wait_for(timeout=30_000)
                page.wait_for_timeout(800)
                panel.screenshot(path=str(ARTIFACTS / f"{app}-{tab.lower()}.png"))
            page.set_viewport_size({"width": 1400, "height": 1000})
            loss = f"train/loss@{server['run']}"
            wait_until(lambda: _points(page, loss) > 0, timeout=60, interval=0.1,
                       message=f"points of {loss} in the page")
            assert 0 < _points(page, loss) <= 2000
            panel.locator(".lm-TabBar-tab", has_text="Charts").first.click()
            full = page.evaluate(_X_RANGE, loss)
            assert full[0] <= 1 and full[1] >= 1998, full
            # the wheel over a chart scrolls the notebook and leaves the chart's range alone
            canvas = panel.locator("canvas").filter(visible=True).first
            box = canvas.bounding_box()
            scroller = canvas.evaluate_handle(_SCROLLER)
            top = scroller.evaluate("e => e.scrollTop")
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.wheel(0, 240)
            wait_until(lambda: scroller.evaluate("e => e.scrollTop") > top, timeout=10, interval=0.1,
                       message="the notebook to scroll under the wheel over a chart")
            assert page.evaluate(_X_RANGE, loss) == full
            canvas.scroll_into_view_if_needed()
            # drag a range on x zooms; Reset, and a double-click, return to the whole run
            for how in ("reset", "double-click"):
                box = canvas.bounding_box()
                y = box["y"] + box["height"] * 0.45
                page.mouse.move(box["x"] + box["width"] * 0.35, y)
                page.mouse.down()
                page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=8)
                page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=8)
                page.mouse.up()
                wait_until(lambda: (page.evaluate(_X_RANGE, loss) or full)[1] - (page.evaluate(_X_RANGE, loss) or full)[0]
                           < 0.6 * (full[1] - full[0]), timeout=20, interval=0.2, message="a drag on x to zoom")
                if how == "reset":
                    page.mouse.move(box["x"] + box["width"] / 2, y)
                    reset = panel.locator(".bk-tool-icon-reset").filter(visible=True).first
                    reset.click()
                else:
                    page.mouse.dblclick(box["x"] + box["width"] / 2, y)
                wait_until(lambda: page.evaluate(_X_RANGE, loss)[0] <= full[0] + 1
                           and page.evaluate(_X_RANGE, loss)[1] >= full[1] - 1, timeout=20, interval=0.2,
                           message=f"{how} to restore the whole run")
            # the smoothing control changes the data drawn (the smoothed column)
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
            # the run table: states as badges, numbers to significant digits, no text cut without a tooltip
            _run_cell(page, 2)
            page.locator(".slick-cell", has_text="finished").first.wait_for(timeout=60_000)
            table = page.locator(".tracker-panel").filter(has=page.locator(".slick-cell")).first
            table.scroll_into_view_if_needed()
            page.wait_for_timeout(1000)
            texts = page.locator(".slick-cell").all_inner_texts()
            assert "0.01" in texts, texts  # config.lr
            cut = page.evaluate(_CUT, ".slick-column-name, .slick-cell")
            assert not cut, f"text cut with no tooltip: {cut[:10]}"
            table.screenshot(path=str(ARTIFACTS / f"{app}-table.png"))
            # a header dragged onto another moves its column (SlickGrid with jQuery UI's sortable)
            headers = table.locator(".slick-header-column")
            before_order = [t.strip() for t in headers.all_inner_texts()]
            src = table.locator(".slick-header-column", has_text="duration").first.bounding_box()
            dst = table.locator(".slick-header-column", has_text="state").first.bounding_box()
            page.mouse.move(src["x"] + 20, src["y"] + 10)
            page.mouse.down()
            page.mouse.move(src["x"] - 20, src["y"] + 10, steps=5)
            page.mouse.move(dst["x"] + 5, dst["y"] + 10, steps=15)
            page.mouse.up()
            wait_until(lambda: [t.strip() for t in headers.all_inner_texts()] != before_order, timeout=10,
                       interval=0.2, message="the dragged header to move its column")
            order = [t.strip() for t in headers.all_inner_texts()]
            assert order.index("duration") < order.index("state"), order
            # ticking runs compares them; 20 ticks and unticks leave no error in the kernel's log
            names = page.evaluate(_TABLE_NAMES)[:3]

            def tick(name):  # rows sit in the page in no particular order: find a run's by its name
                table.locator(".slick-row", has_text=name).locator("input[type=checkbox]").first.click()

            for i in range(20):
                tick(names[i % 3])
                page.wait_for_timeout(150)
            for name in names:  # three runs ticked for the comparison
                if len(page.evaluate(_TICKED)) >= 3:
                    break
                if name not in page.evaluate(_TICKED):
                    tick(name)
                    page.wait_for_timeout(300)
            wait_until(lambda: sorted(page.evaluate(_TICKED)) == sorted(names), timeout=30, interval=0.2,
                       message=f"the runs {names} ticked")
            page.set_viewport_size({"width": 1400, "height": 2600})  # tall views whole in one screenshot
            table.get_by_text("runs (3)").first.wait_for(timeout=60_000)  # the comparison's legend
            page.wait_for_timeout(3000)
            table.scroll_into_view_if_needed()
            table.screenshot(path=str(ARTIFACTS / f"{app}-compare.png"))
            # a failed run: one output for display(), the exception and its traceback on the overview
            _run_cell(page, 3)
            cell = page.locator(".jp-Cell").nth(3)
            cell.locator(".tracker-panel").first.wait_for(timeout=60_000)
            cell.get_by_text("loss is nan at epoch 2").first.wait_for(timeout=30_000)
            page.wait_for_timeout(1500)
            # one page drawn (the static snapshot that follows it for saved notebooks stays hidden)
            assert cell.locator(".jp-OutputArea-output").filter(visible=True).count() == 1
            assert cell.locator(".tracker-panel").count() == 1
            overview = cell.locator(".tracker-panel").first.inner_text()
            assert "ValueError" in overview and "Traceback" in overview and "exit code" in overview.lower(), overview
            cell.locator(".tracker-panel").first.screenshot(path=str(ARTIFACTS / f"{app}-failed.png"))
            cell.locator(".lm-TabBar-tab", has_text="Logs").first.click()  # what it printed, and how it ended
            cell.get_by_text("epoch 2: loss nan").filter(visible=True).first.wait_for(timeout=30_000)
            cell.get_by_text("ValueError: loss is nan at epoch 2").filter(visible=True).first.wait_for(timeout=30_000)
            cell.locator(".tracker-panel").first.screenshot(path=str(ARTIFACTS / f"{app}-failed-logs.png"))
            if app == "lab":  # the dark theme: the table and the charts take its colours, live
                page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
                page.wait_for_function("document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
                page.wait_for_timeout(2000)
                fg, bg = page.locator(".slick-cell", has_text="finished").first.evaluate(
                    "e => (" + _COLOURS + ")(e.closest('.slick-row').querySelector('.slick-cell:not(:first-child)') || e)")
                assert contrast(fg, bg) >= 4.5, (fg, bg)
                assert _luminance(bg) < 0.2, bg  # a dark table, not white on white
                label = page.evaluate("""(name) => { for (const d of Bokeh.documents) { const src = d.get_model_by_name(name);
                    if (!src) continue; for (const m of d._all_models.values())
                        if (m.major_label_text_color !== undefined) return m.major_label_text_color; } }""", loss)
                assert label and label.lower() not in ("#444444", "black"), label
                table.scroll_into_view_if_needed()
                table.screenshot(path=str(ARTIFACTS / "lab-dark-table.png"))
                panel.scroll_into_view_if_needed()
                panel.locator(".lm-TabBar-tab", has_text="Charts").first.click()
                page.wait_for_timeout(1500)
                panel.screenshot(path=str(ARTIFACTS / "lab-dark-charts.png"))
                panel.locator(".lm-TabBar-tab", has_text="Overview").first.click()
                page.wait_for_timeout(800)
                panel.screenshot(path=str(ARTIFACTS / "lab-dark-overview.png"))
                page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
                page.wait_for_function("document.body.dataset.jpThemeLight === 'true'", timeout=30_000)
                page.wait_for_timeout(1500)
            # the kernel logged no error and no "No such comm" through all of the above
            page.wait_for_timeout(2000)
            _run_cell(page, 4)
            log = _output_text(page, 4)
            assert log.startswith("KERNEL-LOG 0 "), log
        finally:
            browser.close()
    assert not failed, failed
    ours = [e for e in errors if _ours(e)]
    assert not ours, ours
