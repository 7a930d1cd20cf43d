"""Run pages in a real kernel: chart updates arrive as comm messages while a cell is busy, at a
bounded rate; what a saved notebook keeps (nbconvert HTML, GitHub's image) once the kernel is gone."""

from __future__ import annotations

import queue
import time

import nbformat
import pytest
from jupyter_client.manager import start_new_kernel
from nbclient import NotebookClient
from nbconvert import HTMLExporter

pytestmark = pytest.mark.slow  # real kernels: out of the quick loop (pytest -m "not slow")


def _run_cell(kc, code: str, timeout: float = 60.0) -> list[dict]:
    """Execute code; return every iopub message of that execution, in order."""
    msg_id = kc.execute(code)
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id and msg["msg_type"] != "comm_msg":
            continue
        got.append(msg)
        if msg["msg_type"] == "error":
            raise AssertionError("\n".join(msg["content"]["traceback"]))
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle" \
                and msg["parent_header"].get("msg_id") == msg_id:
            return got
    raise AssertionError(f"cell did not finish in {timeout} s: {code}")


def test_chart_updates_arrive_while_the_cell_is_busy(tmp_path):
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        store = str(tmp_path / "store")
        _run_cell(kc, f"import time, tracker\nrun = tracker.init(project='k', dir={store!r})\n"
                      "run.log({'loss': 1.0})\npanel = run.display()\nassert panel.wait_ready()")
        # a busy cell: a loop logging thousands of steps a second, for at least 3 s and 20,000 steps,
        # and on (up to 60 s) until the cell itself has seen the live updater redraw the chart 5 times:
        # on a loaded machine its thread may get little time, so the cell waits for it, not a clock
        msgs = _run_cell(kc, "t0 = time.time(); i = 0; redraws = 0\n"
                             "src = panel.charts.charts['loss'].sources[run.path]; last = src.data['x'][-1]\n"
                             "while time.time() - t0 < 3 or i < 20_000 or (redraws < 5 and time.time() - t0 < 60):\n"
                             "    i += 1; run.log({'loss': 1.0 / i, 'acc': i})\n"
                             "    if i % 100 == 0:\n"
                             "        time.sleep(0.01)\n"
                             "        redraws += src.data['x'][-1] != last; last = src.data['x'][-1]\n"
                             "print(i, time.time() - t0)", timeout=120)
        busy = [m for m in msgs if m["msg_type"] == "comm_msg"]
        patches = [m for m in busy if m["content"]["data"].get("method") == "custom"]
        assert len(patches) >= 5, f"only {len(patches)} Bokeh patches reached iopub during the busy cell"
        steps, seconds = next(m for m in msgs if m["msg_type"] == "stream" and m["content"]["name"] == "stdout")[
            "content"]["text"].split()
        assert int(steps) >= 20_000
        # bounded by the refresh rate (4 a second), not by the steps logged (a patch is a few comm messages)
        assert len(busy) < float(seconds) * 4 * 60, (len(busy), seconds)
        out = _run_cell(kc, "run.finish()\n"
                            "from tracker.ui import live\n"
                            "t1 = time.time()\n"  # the updater's last refresh, then the panel leaves it
                            "while panel in live.active() and time.time() - t1 < 30: time.sleep(0.02)\n"
                            "src = panel.charts.charts['loss'].sources[run.path]\n"
                            "print(panel in live.active(), len(src.data['x']), src.data['x'][-1], i, panel.errors)")
        text = "".join(m["content"]["text"] for m in out
                       if m["msg_type"] == "stream" and m["content"]["name"] == "stdout").strip()
        still_live, n, last_x, last_step, errors = text.split(" ", 4)
        assert still_live == "False", f"the finished run's panel did not leave the updater in 30 s: {text}"
        assert int(n) <= 2000 and float(last_x) == float(last_step) and errors.strip() == "[]", text
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


NOTEBOOK_CODE = """
import tracker
run = tracker.init(project="nb", dir={store!r})
for i in range(500):
    run.log({{"loss": 1.0 / (i + 1), "acc": i / 500}})
run.finish()
panel = tracker.Api({store!r}).run(run.path).display()
"""


def test_a_saved_notebook_keeps_a_static_snapshot(tmp_path):
    store = str(tmp_path / "store")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(NOTEBOOK_CODE.format(store=store)),
                nbformat.v4.new_code_cell(f"tracker.Api({store!r}).runs('nb')")]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    path = tmp_path / "saved.ipynb"
    nbformat.write(nb, path)
    saved = nbformat.read(path, as_version=4)  # the kernel is gone: what the file holds
    outputs = saved.cells[0].outputs
    widget = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    snaps = [o for o in outputs if "tracker-snapshot" in o.get("data", {}).get("text/html", "")]
    assert widget and snaps
    assert snaps[0]["data"]["image/png"]  # GitHub strips scripts and styles: the charts as an image
    assert "<script" not in snaps[0]["data"]["text/html"].lower()
    table_snaps = [o for o in saved.cells[1].outputs if "tracker-snapshot" in o.get("data", {}).get("text/html", "")]
    assert table_snaps and "config" not in table_snaps[0]["data"]["text/plain"]
    html, _ = HTMLExporter().from_notebook_node(saved)  # nbconvert, no kernel, no widget state
    assert html.count("tracker-snapshot") >= 2 and "data:image/png;base64," in html
