"""Many writer processes at once, with a reader polling the store all along."""

from __future__ import annotations

import subprocess
import textwrap
import time

import pytest

import tracker
from tests.conftest import PYTHON, python_env

pytestmark = pytest.mark.slow  # eight processes at once: out of the quick loop (pytest -m "not slow")

WRITER = textwrap.dedent(
    """
    import sys, time, tracker
    rank, steps = int(sys.argv[1]), int(sys.argv[2])
    run = tracker.init(project="ddp", dir=sys.argv[3], group="exp1", job_type=f"rank{rank}",
                       config={"rank": rank}, settings={"quiet": True, "flush_interval": 0.05, "strict": True})
    for i in range(steps):
        run.log({"loss": rank + i / steps, "rank": rank, "text": f"r{rank}s{i}"})
        if i % 10 == 0:
            time.sleep(0.015)  # about 3 s of "training", so the reader polls many times
    run.finish()
    """
)


def test_eight_writers_and_a_polling_reader(store, tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    steps = 2000
    procs = [
        subprocess.Popen([PYTHON, str(script), str(rank), str(steps), str(store)], env=python_env(),
                         stderr=subprocess.PIPE, text=True)
        for rank in range(8)
    ]
    api = tracker.Api(dir=store)
    polls = 0
    seen_running = False
    deadline = time.time() + 120
    while any(p.poll() is None for p in procs) and time.time() < deadline:
        runs = api.runs("ddp")  # must never fail, whatever the writers are doing
        for r in runs:
            seen_running |= r.state == "running"
            frame = r.history()
            if len(frame):
                assert frame["_step"].tolist() == list(range(len(frame)))
                assert (frame["rank"] == r.config["rank"]).all()
        api.sql("select run_id, count(*) from history group by all")
        polls += 1
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    assert polls >= 2 and seen_running  # the reader really overlapped the writers
    runs = api.runs("ddp", order="+config.rank")
    assert len(runs) == 8
    assert [r.config["rank"] for r in runs] == list(range(8))
    for r in runs:
        assert r.state == "finished" and r.group == "exp1"
        frame = r.history()
        assert len(frame) == steps and frame["text"].iloc[-1] == f"r{r.config['rank']}s{steps - 1}"
    counts = api.sql("select run_id, count(*) as n from history group by all")
    assert counts["n"].tolist() == [steps * 3] * 8
