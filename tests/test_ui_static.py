"""Static HTML views of runs: escaped, script-free, and showing what a user looks for."""

from __future__ import annotations

import tracker


def test_run_and_runs_render_as_escaped_static_html(make_run, store):
    run = make_run(name="<b>bold</b>", config={"lr": 0.001, "model": {"depth": 4}}, tags=["base<line>"],
                   notes="<script>alert(1)</script>")
    run.log({"loss": 0.25, "acc": float("nan")})
    run.finish()
    failing = make_run(name="second", config={"lr": 0.1})
    failing.finish(exit_code=1)
    api = tracker.Api(dir=store)
    card = api.run(run.path)._repr_html_()
    assert "<script>" not in card and "&lt;script&gt;alert(1)&lt;/script&gt;" in card
    assert "&lt;b&gt;bold&lt;/b&gt;" in card and "finished" in card
    assert "model.depth" in card and ">4<" in card and ">0.25<" in card and "NaN" in card
    table = api.runs("test")._repr_html_()
    assert table.count("<tr>") == 3 and "failed" in table and "config.lr" in table and "summary.loss" in table
    assert "<script" not in table and "base&lt;line&gt;" in table
    assert "no runs" in api.runs("nothing-here")._repr_html_()
