"""The filter expression language of the magics, the REST endpoints and the run table."""

from __future__ import annotations

import pytest

from tracker.api.filters import matches, parse_expression
from tracker.errors import QueryError

DOC = {"name": "exp-3", "state": "finished", "tags": ["baseline", "gpu"],
       "config": {"lr": 0.01, "model": {"depth": 4}}, "summary": {"val/acc": 0.93, "loss": None}}


@pytest.mark.parametrize("text, hit", [
    ("config.lr < 0.5", True),
    ("config.lr >= 0.5", False),
    ('state == "finished" and summary.val/acc >= 0.9', True),
    ("state == 'running' or summary.val/acc > 0.9", True),
    ('tags == "baseline"', True),
    ('tags == "cpu"', False),
    ('name ~ "^exp-[0-9]$"', True),
    ("config.model.depth in [2, 4]", True),
    ("config.model.depth not in [2, 4]", False),
    ("not (config.lr < 0.5 and state == 'finished')", False),
    ("summary.loss == none", True),
    ("config.lr == 1e-2", True),
    ("config.missing > 1", False),
])
def test_expressions_select_what_they_say(text, hit):
    assert matches(DOC, parse_expression(text)) is hit


@pytest.mark.parametrize("text, said", [
    ("", "empty filter"),
    ("config.lr <", "expected a value"),
    ("lr < fast", 'quote a string: "fast"'),
    ("config.lr < 1 extra", "expected 'and', 'or' or the end"),
    ("(config.lr < 1", "expected ')'"),
    ("config.lr ! 1", "cannot read"),
    ("name ~ 3", "quoted regular expression"),
])
def test_bad_expressions_say_what_and_where(text, said):
    with pytest.raises(QueryError, match=None) as err:
        parse_expression(text)
    assert said in str(err.value)
