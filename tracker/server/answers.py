"""What the REST routes answer (docs/jupyter.md), as JSON-ready data, from the read API.

No Tornado here: each function takes the server's :class:`~tracker.api.public.Api` and the request's
parsed arguments and returns plain dicts and lists (or raises a tracker error, which the routes turn
into an HTTP status through :data:`tracker.errors.HTTP_STATUS`). :func:`dumps` writes them as JSON
with NaN and infinities as ``null``.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tracker.api.filters import matches, order_docs, parse_expression, sort_key
from tracker.errors import ArtifactNotFoundError, RunNotFoundError, UsageError

if TYPE_CHECKING:
    from tracker.api.public import Api, Run

#: ``now`` in an answer is the server's clock minus this many seconds: a change being published
#: while an answer is made (a marker named a moment before it lands, a coarse file-system clock) is
#: then in the next ``since`` poll; a run may come twice, never not at all.
POLL_MARGIN = 2.0
DEFAULT_SAMPLES = 1000
MAX_SAMPLES = 100_000
DEFAULT_TAIL = 1000
MAX_TAIL = 10_000
#: The default order of a run listing.
DEFAULT_SORT = "-created_at"

_NAME_REFUSED = frozenset("/\\\x00")


# --- JSON -----------------------------------------------------------------------------------------
def _default(obj: Any) -> Any:
    tolist = getattr(obj, "tolist", None)  # numpy scalars and arrays
    if tolist is not None:
        return tolist()
    return str(obj)


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_default).encode


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if hasattr(obj, "tolist"):
        return _finite(obj.tolist())
    return obj


def dumps(obj: Any) -> str:
    """Compact JSON with NaN and infinities as ``null`` (the C encoder first; only an answer whose
    text shows ``NaN`` or ``Infinity`` is walked and encoded again). A :class:`RunList` value of a
    dict is written from the runs' cached texts."""
    if isinstance(obj, dict) and any(isinstance(v, RunList) for v in obj.values()):
        return "{" + ",".join(
            f"{_encode(str(k))}:{_run_list(v) if isinstance(v, RunList) else dumps(v)}" for k, v in obj.items()
        ) + "}"
    text = _encode(obj)
    if "NaN" in text or "Infinity" in text:
        text = _encode(_finite(obj))
    return text


class RunList(list[dict[str, Any]]):
    """The ``RUN`` objects of a listing (``Run.fields()`` dicts). :func:`dumps` writes each run's
    JSON once and reuses it for as long as the runs index hands out the same document (an ended
    run's fields are one dict until the run changes): 10,000 runs are a join, not an encoding."""


#: (project, run id) -> (the fields dict encoded, its JSON text).
_RUN_TEXTS: dict[tuple[Any, Any], tuple[dict[str, Any], str]] = {}


def _run_list(runs: list[dict[str, Any]]) -> str:
    texts = []
    cache = _RUN_TEXTS
    for fields in runs:
        key = (fields.get("project"), fields.get("id"))
        hit = cache.get(key)
        if hit is not None and hit[0] is fields:
            texts.append(hit[1])
            continue
        text = dumps(fields)
        cache[key] = (fields, text)  # a live run's fields are new at each call: replaced, never piled up
        texts.append(text)
    return "[" + ",".join(texts) + "]"


def floats(values: Any) -> list[Any]:
    """A numpy array as a list of floats, NaN and infinities as None."""
    import numpy as np

    a = np.asarray(values, dtype=np.float64)
    out: list[Any] = a.tolist()
    bad = ~np.isfinite(a)
    if bad.any():
        for i in np.flatnonzero(bad).tolist():
            out[i] = None
    return out


# --- names ----------------------------------------------------------------------------------------
def _check(name: str, what: str) -> str:
    """A project or run id from a URL: a path separator, NUL or a leading dot is no run (404)."""
    if not name or name.startswith(".") or not _NAME_REFUSED.isdisjoint(name):
        raise RunNotFoundError(f"no {what} {name!r}")
    return name


def run_of(api: Api, project: str, run_id: str) -> Run:
    """The run ``project/run_id``.

    Raises:
        RunNotFoundError: no such run (or a name no run can have).
    """
    _check(project, "project")
    _check(run_id, "run")
    try:
        return api.run(f"{project}/{run_id}")
    except UsageError as exc:  # a name the store's rules refuse: no such run
        raise RunNotFoundError(f"no run {project}/{run_id}: {exc}") from None


# --- projects and runs ----------------------------------------------------------------------------
def projects(api: Api) -> dict[str, Any]:
    """``{"projects": [{"name", "runs", "running", "last_activity"}], "now"}``."""
    now = time.time()
    return {"projects": [api.project_summary(p) for p in api.projects()], "now": now}


def runs(
    api: Api,
    project: str,
    *,
    filter: str | None = None,
    sort: str | None = None,
    since: float | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """A project's runs: ``{"runs": [RUN...], "count", "now"}``, plus ``matched`` (how many pass the
    filter, before ``limit``) for a whole listing, or ``unmatched`` (ids of changed runs that no
    longer pass it) for a ``since`` poll with a filter.

    Raises:
        QueryError: a filter expression or sort field that cannot be read (400).
    """
    _check(project, "project")
    now = time.time() - POLL_MARGIN
    flt = parse_expression(filter) if filter is not None and filter.strip() else None
    order = sort or DEFAULT_SORT
    sort_key(order)
    if since is None:
        listing = api.runs(project, flt, order)
        count = len(api.query.runs(project)) if flt else len(listing)
        shown = listing if limit is None else listing[:limit]
        return {"runs": RunList(r.fields() for r in shown), "count": count, "matched": len(listing), "now": now}
    docs, count = api.query.poll(since, project)  # one look at the store for both
    out: dict[str, Any] = {}
    if flt and docs:
        passed = [d for d in docs if matches(d.fields(), flt)]
        kept = {id(d) for d in passed}
        out["unmatched"] = [d.id for d in docs if id(d) not in kept]
        docs = passed
    elif flt:
        out["unmatched"] = []
    docs = order_docs(docs, order, lambda d: d.fields())
    if limit is not None:
        docs = docs[:limit]
    return {"runs": RunList(d.fields() for d in docs), "count": count, **out, "now": now}


def run(api: Api, project: str, run_id: str) -> dict[str, Any]:
    """``RUN`` plus ``metadata``, ``metrics``, ``config_groups``, ``user_properties``,
    ``artifacts`` and ``keys``."""
    r = run_of(api, project, run_id)
    return {
        **r.fields(),
        "metadata": r.metadata,
        "metrics": r.metrics,
        "config_groups": r.config_groups,
        "user_properties": r.user_properties,
        "artifacts": r.artifact_refs(),
        "keys": {"scalars": r.numeric_keys("default"), "system": r.numeric_keys("system")},
    }


# --- history --------------------------------------------------------------------------------------
def history(
    api: Api,
    project: str,
    run_id: str,
    *,
    stream: str = "default",
    keys: Sequence[str] | None = None,
    samples: int | None = None,
    x: str | None = None,
    x_min: float | None = None,
    x_max: float | None = None,
    min_step: int | None = None,
    max_step: int | None = None,
) -> dict[str, Any]:
    """``{"x_axis", "series": {key: {"x", "y", "step", "n"}}}`` through the store's downsampler:
    at most ``samples`` points a key (``samples / 4`` buckets of x, the first, last, lowest and
    highest point of each), ``n`` the number of points in the window.

    Raises:
        UsageError: a bad ``samples``, axis or window (400).
    """
    r = run_of(api, project, run_id)
    samples = DEFAULT_SAMPLES if samples is None else samples
    if not 4 <= samples <= MAX_SAMPLES:
        raise UsageError(f"samples={samples} must be from 4 to {MAX_SAMPLES}")
    x_axis = x or ("_runtime" if stream == "system" else "_step")
    x_range = _window(r, stream, x_axis, x_min, x_max, min_step, max_step)
    wanted = list(r.numeric_keys(stream)) if keys is None else list(dict.fromkeys(keys))
    data = r.series(wanted, max(1, samples // 4), x_axis=x_axis, x_range=x_range, stream=stream)
    series = {}
    for key in wanted:
        s = data.get(key)
        if s is None:
            continue
        steps = s["step"].tolist()
        series[key] = {"x": steps if x_axis == "_step" else floats(s["x"]), "y": floats(s["y"]),
                       "step": steps, "n": int(s["n"])}
    return {"x_axis": x_axis, "series": series}


def _window(r: Run, stream: str, x_axis: str, x_min: float | None, x_max: float | None,
            min_step: int | None, max_step: int | None) -> tuple[float, float] | None:
    """The zoom window in x: ``x_min``/``x_max``, narrowed by ``min_step``/``max_step`` (step
    axis only; ``max_step`` excluded); a missing end of a step window is the series' first or last
    step."""
    for name, v in (("x_min", x_min), ("x_max", x_max)):
        if v is not None and not math.isfinite(v):
            raise UsageError(f"{name}={v} is not a finite number")
    lo, hi = x_min, x_max
    if min_step is not None or max_step is not None:
        if x_axis != "_step":
            raise UsageError(f"min_step and max_step go with x=_step; zoom x={x_axis} with x_min and x_max")
        if min_step is not None:
            lo = min_step if lo is None else max(lo, min_step)
        if max_step is not None:
            hi = max_step - 1 if hi is None else min(hi, max_step - 1)
    if lo is None and hi is None:
        return None
    if lo is None or hi is None:
        if x_axis != "_step":
            raise UsageError(f"x_min and x_max go together (x={x_axis})")
        if lo is None:
            lo = 0.0
        if hi is None:
            last = r.max_step(stream)
            hi = lo if last is None else max(float(last), lo)
    if hi < lo:
        if x_min is not None and x_max is not None and x_max < x_min:
            raise UsageError(f"x_max={x_max} is below x_min={x_min}")
        hi = lo  # a step window past the end: empty
    return float(lo), float(hi)


# --- logs, media, files, artifacts ----------------------------------------------------------------
def logs(api: Api, project: str, run_id: str, *, tail: int | None = None) -> dict[str, Any]:
    """``{"lines": [{"line", "time", "stream", "text"}]}``: the last ``tail`` console lines."""
    n = DEFAULT_TAIL if tail is None else tail
    if not 0 <= n <= MAX_TAIL:
        raise UsageError(f"tail={n} must be from 0 to {MAX_TAIL}")
    r = run_of(api, project, run_id)
    return {"lines": r.logs(n) if n else []}


def media(api: Api, project: str, run_id: str, *, key: str | None = None, step: int | None = None,
          file_url: Callable[[str], str]) -> dict[str, Any]:
    """``{"items": [{"key", "step", "kind", "caption", "record", "url"}]}``; ``url`` is
    ``file_url(name)`` of the item's file under the run's ``files/`` (None without a file)."""
    r = run_of(api, project, run_id)
    items = []
    for m in r.media(key=key, step=step):
        record = m.record
        rel = record.get("file")
        url = None
        if isinstance(rel, str) and rel.startswith("files/"):
            url = file_url(rel[len("files/"):])
        items.append({"key": m.key, "step": m.step, "kind": m.kind, "caption": record.get("caption"),
                      "record": record, "url": url})
    return {"items": items}


def files(api: Api, project: str, run_id: str) -> dict[str, Any]:
    """``{"files": [{"name", "size"}]}`` (names relative to the run's ``files/``, ``/`` between
    folders)."""
    r = run_of(api, project, run_id)
    return {"files": [{"name": f["name"].replace(os.sep, "/"), "size": f["size"]} for f in r.files()]}


def file_path(api: Api, project: str, run_id: str, name: str) -> str:
    """The real path of the run's file ``name`` (already URL-decoded), inside the run's ``files/``.

    Raises:
        RunNotFoundError: no such run.
        FileNotFoundError: anything else: an empty, ``.`` or ``..`` part, an absolute path, a
            backslash or NUL, a symlink leading out of the folder, or no such file.
    """
    r = run_of(api, project, run_id)
    parts = name.split("/")
    if not name or any(p in ("", ".", "..") for p in parts) or "\\" in name or "\x00" in name:
        raise FileNotFoundError(f"run {r.path} has no file {name!r}")
    try:
        return r.file(name)  # realpath inside the run's files/: a symlink out is refused
    except UsageError:
        raise FileNotFoundError(f"run {r.path} has no file {name!r}") from None


def artifacts(api: Api, project: str, run_id: str) -> dict[str, Any]:
    """``{"used": [ART...], "logged": [ART...]}``; a version deleted since is its name with
    nulls."""
    r = run_of(api, project, run_id)
    refs = r.artifact_refs()
    return {kind: [_artifact(api, ref) for ref in refs[kind]] for kind in ("used", "logged")}


def _artifact(api: Api, ref: str) -> dict[str, Any]:
    try:
        art = api.artifact(ref)
    except ArtifactNotFoundError:
        return {"name": ref, "type": None, "version": None, "aliases": [], "size": None,
                "file_count": None, "digest": None}
    return {"name": art.qualified_name, "type": art.type, "version": art.version,
            "aliases": list(art.aliases), "size": art.size, "file_count": art.file_count,
            "digest": art.digest}
