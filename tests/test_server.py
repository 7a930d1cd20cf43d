"""The REST endpoints of the Jupyter Server extension (docs/jupyter.md), through a real server
(pytest-jupyter's ``jp_fetch``) over a store written with ``tracker.init``/``log``."""

from __future__ import annotations

import json
import math
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tracker
from tests.conftest import PYTHON, python_env, wait_until
from tracker.server import TrackerExtension

pytest_plugins = ["pytest_jupyter.jupyter_server"]

RUN_FIELDS = {"project", "id", "name", "state", "created_at", "heartbeat_at", "duration", "last_step", "alerts",
              "tags", "notes", "group", "job_type", "host", "user", "config", "summary"}
QUIET = {"strict": True, "quiet": True, "flush_interval": 0.05}

LIVE = """
import sys, time, tracker
run = tracker.init(dir=sys.argv[1], project="alpha", id="live", name="live", config={"lr": 0.5},
                   settings={"quiet": True, "flush_interval": 0.05})
run.log({"loss": 1.0})
run.flush()
print("ready", flush=True)
sys.stdin.read()
run.finish()
"""


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory):
    """One store for the read-only tests: project ``alpha`` (a1 with media, files and an artifact;
    a2 with 5,000 steps and console lines; a3 failed, using the artifact; ``live``, being written by
    another process) and project ``beta`` (b1)."""
    base = tmp_path_factory.mktemp("server")
    root = base / "store"
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("TRACKER_", "WANDB_")):
                mp.delenv(name)
        mp.chdir(base)

        def init(**kw: Any) -> Any:
            settings = {**QUIET, **kw.pop("settings", {})}
            return tracker.init(dir=root, settings=settings, reinit="create_new", **kw)

        a1 = init(project="alpha", id="a1", name="first", config={"lr": 0.1, "depth": 2}, tags=["baseline"])
        for i in range(200):
            a1.log({"loss": 1 / (i + 1), "acc": float("nan") if i == 5 else (math.inf if i == 6 else i / 200)})
        a1.log({"picture": tracker.Image(np.full((8, 8, 3), 100, np.uint8), caption="grey"),
                "page": tracker.Html("<h1>report</h1><script>parent.document.title='x'</script>")})
        (base / "out").mkdir()
        (base / "out" / "notes.txt").write_text("hello\n")
        (base / "out" / "sub").mkdir()
        (base / "out" / "sub" / "deep.json").write_text('{"a": 1}')
        a1.save(str(base / "out" / "**" / "*"), base_path=str(base / "out"), policy="now")
        (base / "data.csv").write_text("x,y\n1,2\n")
        art = tracker.Artifact("data", "dataset")
        art.add_file(str(base / "data.csv"))
        a1.log_artifact(art, aliases=["best"])
        a1.finish()

        a2 = init(project="alpha", id="a2", name="second", config={"lr": 0.01, "depth": 4}, tags=["sweep"],
                  settings={"console": "wrap"})
        for i in range(5000):
            a2.log({"loss": math.sin(i / 100), "lr": 0.01})
        for i in range(5):
            print(f"line {i}")
        a2.finish()

        a3 = init(project="alpha", id="a3", name="third", config={"lr": 0.001, "depth": 4}, tags=["sweep"])
        a3.use_artifact("data:latest")
        a3.finish(exit_code=1)

        b1 = init(project="beta", id="b1", name="other", config={"lr": 0.2})
        b1.log({"loss": 0.5, "bad": math.nan, "worse": -math.inf})
        b1.finish()

    files = root / "alpha" / "a1" / "files"
    outside = base / "secret.txt"
    outside.write_text("outside the store\n")
    os.symlink(outside, files / "escape.txt")
    os.symlink(base, files / "up")
    os.symlink(files / "notes.txt", files / "alias.txt")  # inside: allowed

    live = subprocess.Popen([PYTHON, "-c", LIVE, str(root)], env=python_env(), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert live.stdout is not None and live.stdout.readline().strip() == "ready"
    yield root
    assert live.stdin is not None
    live.stdin.close()
    live.wait(timeout=60)


@pytest.fixture
def jp_server_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The tracker extension on, reading ``store_dir`` (nothing set for a test that asks for
    ``unconfigured``: the default from the server's root folder)."""
    config: dict[str, Any] = {"ServerApp": {"jpserver_extensions": {"tracker.server": True}}}
    if "unconfigured" in request.fixturenames:
        request.getfixturevalue("unconfigured")
    else:
        config["TrackerExtension"] = {"store_dir": str(request.getfixturevalue("store_dir"))}
    return config


@pytest.fixture
def unconfigured(jp_root_dir: Path) -> Path:
    """The server's root folder, holding a run in ``tracker-runs`` (what a notebook there writes)."""
    run = tracker.init(dir=jp_root_dir / "tracker-runs", project="here", id="h1", settings=QUIET,
                       reinit="create_new")
    run.finish()
    return jp_root_dir


@pytest.fixture
def store_dir(request: pytest.FixtureRequest) -> Path:
    """The store a test's server reads: ``polled`` when the test asks for it, else the shared one."""
    if "polled" in request.fixturenames:
        return request.getfixturevalue("polled")  # type: ignore[no-any-return]
    if "s3_store" in request.fixturenames:
        return request.getfixturevalue("s3_store")  # type: ignore[no-any-return]
    return request.getfixturevalue("shared")  # type: ignore[no-any-return]


@pytest.fixture
def s3_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A store whose root is a bucket on a moto S3 server on loopback: one finished run with a file
    and an image, one running run (its writer still in this process)."""
    pytest.importorskip("obstore")
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for key, value in {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                       "TRACKER_SPOOL": str(tmp_path / "spool"), "TRACKER_CACHE": str(tmp_path / "cache")}.items():
        monkeypatch.setenv(key, value)
    boto3.client("s3", endpoint_url=f"http://{host}:{port}").create_bucket(Bucket="team")
    uri = "s3://team/store"
    (tmp_path / "notes.txt").write_text("hello\n")
    run = tracker.init(dir=uri, project="cloud", id="c1", config={"lr": 0.1}, settings=QUIET, reinit="create_new")
    for i in range(500):
        run.log({"loss": 1.0 / (i + 1)})
    run.log({"img": tracker.Image(np.zeros((4, 4, 3), "uint8"))})
    run.save(str(tmp_path / "notes.txt"), base_path=str(tmp_path), policy="now")
    run.finish()
    live = tracker.init(dir=uri, project="cloud", id="c2", settings=QUIET, reinit="create_new")
    live.log({"loss": 1.0})
    live.flush()
    live.uploader.pass_once()
    yield uri
    live.finish()
    server.stop()


async def get(jp_fetch: Any, *parts: str, **params: Any) -> Any:
    response = await jp_fetch("tracker", "api", *parts, params=params)
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


async def error(jp_fetch: Any, *parts: str, **params: Any) -> tuple[int, dict[str, Any]]:
    from tornado.httpclient import HTTPClientError

    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("tracker", "api", *parts, params=params)
    resp = info.value.response
    assert resp is not None
    return info.value.code, json.loads(resp.body)


async def raw(http_server_client: Any, jp_base_url: str, path: str, headers: dict[str, str] | None = None) -> Any:
    """A request for ``path`` exactly as written (no escaping), with the given headers only."""
    return await http_server_client.fetch(jp_base_url + "tracker/api/" + path, headers=headers or {},
                                          raise_error=False, follow_redirects=False)


# --- projects and runs ----------------------------------------------------------------------------
async def test_projects(jp_fetch):
    body = await get(jp_fetch, "projects")
    by_name = {p["name"]: p for p in body["projects"]}
    assert list(by_name) == ["alpha", "beta"]
    assert by_name["alpha"]["runs"] == 4 and by_name["alpha"]["running"] == 1
    assert by_name["beta"] == {"name": "beta", "runs": 1, "running": 0,
                               "last_activity": pytest.approx(time.time(), abs=600)}
    assert abs(body["now"] - time.time()) < 60


async def test_runs_listing(jp_fetch):
    body = await get(jp_fetch, "projects", "alpha", "runs")
    assert body["count"] == 4 and body["matched"] == 4
    runs = body["runs"]
    assert [r["id"] for r in runs] == ["live", "a3", "a2", "a1"]  # newest first by default
    assert set(runs[0]) == RUN_FIELDS
    assert {r["id"]: r["state"] for r in runs} == {"live": "running", "a3": "failed", "a2": "finished",
                                                   "a1": "finished"}
    a1 = runs[-1]
    assert a1["config"] == {"lr": 0.1, "depth": 2} and a1["tags"] == ["baseline"] and a1["last_step"] == 200
    assert a1["summary"]["loss"] == pytest.approx(1 / 200) and a1["summary"]["acc"] == pytest.approx(199 / 200)
    assert body["now"] <= time.time()


async def test_runs_filter_sort_limit(jp_fetch):
    ids = lambda b: [r["id"] for r in b["runs"]]  # noqa: E731
    body = await get(jp_fetch, "projects", "alpha", "runs", filter='config.lr < 0.05 and state == "finished"')
    assert ids(body) == ["a2"] and body["count"] == 4 and body["matched"] == 1
    assert ids(await get(jp_fetch, "projects", "alpha", "runs", filter='tags == "sweep"', sort="+name")) == [
        "a2", "a3"]
    assert ids(await get(jp_fetch, "projects", "alpha", "runs", sort="config.lr")) == ["a3", "a2", "a1", "live"]
    assert ids(await get(jp_fetch, "projects", "alpha", "runs", sort="-config.lr")) == ["live", "a1", "a2", "a3"]
    body = await get(jp_fetch, "projects", "alpha", "runs", sort="+created_at", limit="2")
    assert ids(body) == ["a1", "a2"] and body["count"] == 4 and body["matched"] == 4
    assert ids(await get(jp_fetch, "projects", "alpha", "runs", filter="name ~ '^th'")) == ["a3"]
    response = await jp_fetch("tracker", "api", "projects", "beta", "runs")
    assert b"NaN" not in response.body and b"Infinity" not in response.body
    (b1,) = json.loads(response.body)["runs"]
    assert b1["id"] == "b1" and b1["summary"] == {"loss": 0.5, "bad": None, "worse": None}
    assert await get(jp_fetch, "projects", "nothing", "runs") == {"runs": [], "count": 0, "matched": 0,
                                                                   "now": pytest.approx(time.time(), abs=60)}

    code, err = await error(jp_fetch, "projects", "alpha", "runs", filter="config.lr <")
    assert code == 400 and err["type"] == "QueryError"
    assert err["error"] == "filter 'config.lr <': expected a value (a number, a quoted string, true, false " \
                           "or none), found the end"
    code, err = await error(jp_fetch, "projects", "alpha", "runs", sort="-")
    assert code == 400 and err["type"] == "QueryError"
    for bad in ({"limit": "x"}, {"limit": "-1"}, {"since": "soon"}, {"since": "inf"}):
        code, err = await error(jp_fetch, "projects", "alpha", "runs", **bad)
        assert code == 400 and err["type"] == "UsageError", bad


async def test_run_detail(jp_fetch):
    body = await get(jp_fetch, "runs", "alpha", "a1")
    assert RUN_FIELDS <= set(body) and body["name"] == "first" and body["state"] == "finished"
    assert {"metadata", "metrics", "config_groups", "user_properties", "artifacts", "keys"} <= set(body)
    assert body["metadata"]["id"] == "a1" and "config" not in body["metadata"]
    assert body["artifacts"] == {"used": [], "logged": ["alpha/data:v0"]}
    assert body["keys"]["scalars"] == {"loss": 199, "acc": 199}
    assert isinstance(body["keys"]["system"], dict)
    assert body["config_groups"]["General"] == {"lr": 0.1, "depth": 2}
    assert (await get(jp_fetch, "runs", "alpha", "a3"))["artifacts"] == {"used": ["alpha/data:v0"], "logged": []}


async def test_error_mapping(jp_fetch):
    for parts in (("runs", "alpha", "nope"), ("runs", "nowhere", "a1"), ("runs", "alpha", "nope", "history"),
                  ("runs", "alpha", "nope", "files"), ("runs", "alpha", "..", "logs")):
        code, err = await error(jp_fetch, *parts)
        assert code == 404 and err["type"] == "RunNotFoundError", parts
        assert set(err) == {"error", "type"}
    code, err = await error(jp_fetch, "runs", "alpha", "a1", "history", x="_step", min_step="x")
    assert code == 400 and err == {"error": "min_step='x' is not an integer", "type": "UsageError"}


# --- history ------------------------------------------------------------------------------------
async def test_history_downsampled(jp_fetch):
    body = await get(jp_fetch, "runs", "alpha", "a2", "history", keys="loss")
    assert body["x_axis"] == "_step" and list(body["series"]) == ["loss"]
    s = body["series"]["loss"]
    assert s["n"] == 5000 and 4 < len(s["y"]) <= 1000 and len(s["x"]) == len(s["y"]) == len(s["step"])
    assert s["x"] == s["step"] and s["step"][0] == 0 and s["step"][-1] == 4999
    assert min(s["y"]) == pytest.approx(-1, abs=1e-3) and max(s["y"]) == pytest.approx(1, abs=1e-3)
    for samples in (4, 40, 400):
        s = (await get(jp_fetch, "runs", "alpha", "a2", "history", keys="loss", samples=str(samples)))["series"]
        assert len(s["loss"]["y"]) <= samples and s["loss"]["n"] == 5000
    both = await get(jp_fetch, "runs", "alpha", "a2", "history", keys="loss,lr", samples="8000")
    assert len(both["series"]["loss"]["y"]) == 5000 and both["series"]["lr"]["y"] == [0.01] * 5000  # whole
    every = await get(jp_fetch, "runs", "alpha", "a2", "history")
    assert set(every["series"]) == {"loss", "lr"}
    for bad in ("3", "100001", "many"):
        code, err = await error(jp_fetch, "runs", "alpha", "a2", "history", samples=bad)
        assert code == 400 and err["type"] == "UsageError"


async def test_history_zoom(jp_fetch):
    body = await get(jp_fetch, "runs", "alpha", "a2", "history", keys="loss", x_min="1000", x_max="1999",
                     samples="100")
    s = body["series"]["loss"]
    assert s["n"] == 1000 and len(s["y"]) <= 100
    assert s["step"][0] == 1000 and s["step"][-1] == 1999 and all(1000 <= st <= 1999 for st in s["step"])
    same = await get(jp_fetch, "runs", "alpha", "a2", "history", keys="loss", min_step="1000", max_step="2000",
                     samples="100")
    assert same["series"] == body["series"]
    tail = await get(jp_fetch, "runs", "alpha", "a2", "history", keys="loss", min_step="4990")
    assert tail["series"]["loss"]["step"] == list(range(4990, 5000))
    past = await get(jp_fetch, "runs", "alpha", "a2", "history", keys="loss", min_step="9000")
    assert past["series"]["loss"]["n"] == 0 and past["series"]["loss"]["y"] == []
    small = await get(jp_fetch, "runs", "alpha", "a2", "history", keys="loss", x_min="10", x_max="19")
    assert small["series"]["loss"]["step"] == list(range(10, 20))  # a small window: every point

    runtime = await get(jp_fetch, "runs", "alpha", "a2", "history", keys="loss", x="_runtime", samples="40")
    xs = runtime["series"]["loss"]["x"]
    assert runtime["x_axis"] == "_runtime" and xs == sorted(xs) and all(isinstance(v, float) for v in xs)
    lo, hi = xs[len(xs) // 4], xs[3 * len(xs) // 4]
    zoomed = await get(jp_fetch, "runs", "alpha", "a2", "history", keys="loss", x="_runtime", x_min=str(lo),
                       x_max=str(hi))
    assert all(lo <= v <= hi for v in zoomed["series"]["loss"]["x"])
    for bad in ({"x": "_runtime", "x_min": "1"}, {"x": "_runtime", "min_step": "1"}, {"x_min": "5", "x_max": "1"},
                {"x_min": "nan", "x_max": "1"}):
        code, err = await error(jp_fetch, "runs", "alpha", "a2", "history", keys="loss", **bad)
        assert code == 400 and err["type"] == "UsageError", bad


async def test_history_nan_as_null(jp_fetch):
    response = await jp_fetch("tracker", "api", "runs", "alpha", "a1", "history", params={"keys": "acc"})
    text = response.body.decode()
    assert "NaN" not in text and "Infinity" not in text
    s = json.loads(text)["series"]["acc"]
    y = dict(zip(s["step"], s["y"], strict=True))
    assert y[5] is None and y[6] is None and y[7] == pytest.approx(7 / 200)


async def test_system_stream(jp_fetch):
    body = await get(jp_fetch, "runs", "alpha", "a1", "system")
    assert body["x_axis"] == "_runtime" and isinstance(body["series"], dict)
    assert await get(jp_fetch, "runs", "alpha", "a1", "history", stream="system") == body
    code, err = await error(jp_fetch, "runs", "alpha", "a1", "history", stream="console")
    assert code == 400 and err["type"] == "UsageError"


# --- logs, media, files, artifacts ----------------------------------------------------------------
async def test_logs(jp_fetch):
    body = await get(jp_fetch, "runs", "alpha", "a2", "logs")
    texts = [ln["text"] for ln in body["lines"]]
    assert [t for t in texts if t.startswith("line ")] == [f"line {i}" for i in range(5)]
    assert set(body["lines"][0]) == {"line", "time", "stream", "text"} and body["lines"][0]["stream"] == "stdout"
    assert [ln["text"] for ln in (await get(jp_fetch, "runs", "alpha", "a2", "logs", tail="2"))["lines"]] == \
        texts[-2:]
    assert (await get(jp_fetch, "runs", "alpha", "a1", "logs"))["lines"] == []
    code, err = await error(jp_fetch, "runs", "alpha", "a2", "logs", tail="10001")
    assert code == 400 and err["type"] == "UsageError"


async def test_media_and_sandboxed_html(jp_fetch, http_server_client, jp_auth_header):
    items = (await get(jp_fetch, "runs", "alpha", "a1", "media"))["items"]
    by_key = {m["key"]: m for m in items}
    assert set(by_key) == {"picture", "page"}
    pic, page = by_key["picture"], by_key["page"]
    assert pic["kind"] == "image" and pic["caption"] == "grey" and pic["step"] == 200
    assert set(pic) == {"key", "step", "kind", "caption", "record", "url"} and pic["record"]["width"] == 8
    assert (await get(jp_fetch, "runs", "alpha", "a1", "media", key="page"))["items"] == [page]
    assert (await get(jp_fetch, "runs", "alpha", "a1", "media", step="3"))["items"] == []

    response = await http_server_client.fetch(pic["url"], headers=jp_auth_header)
    assert response.headers["Content-Type"] == "image/png" and response.body.startswith(b"\x89PNG")
    response = await http_server_client.fetch(page["url"], headers=jp_auth_header)
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"<script>" in response.body  # stored as logged; the browser runs none of it:
    csp = response.headers["Content-Security-Policy"]
    assert csp.startswith("sandbox; default-src 'none';") and "script-src" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_files(jp_fetch):
    listing = {f["name"]: f["size"] for f in (await get(jp_fetch, "runs", "alpha", "a1", "files"))["files"]}
    assert listing["notes.txt"] == 6 and listing["sub/deep.json"] == 8 and listing["alias.txt"] == 6
    assert any(name.startswith("media/image/") for name in listing)
    response = await jp_fetch("tracker", "api", "runs", "alpha", "a1", "files", "notes.txt")
    assert response.body == b"hello\n" and response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Content-Security-Policy"].startswith("sandbox;")
    response = await jp_fetch("tracker", "api", "runs", "alpha", "a1", "files", "sub", "deep.json")
    assert json.loads(response.body) == {"a": 1} and response.headers["Content-Type"].startswith("application/json")
    response = await jp_fetch("tracker", "api", "runs", "alpha", "a1", "files", "alias.txt")
    assert response.body == b"hello\n"  # a symlink that stays inside the run's files


async def test_file_traversal_refused(shared, http_server_client, jp_base_url, jp_auth_header):
    base = "runs/alpha/a1/files/"
    ok = await raw(http_server_client, jp_base_url, base + "notes.txt", jp_auth_header)
    assert ok.code == 200
    refused = [
        "../run.json", "../../a2/run.json", "sub/../notes.txt", "./notes.txt", "sub//deep.json",
        "%2e%2e/run.json", "%2E%2E/%2e%2e/a2/run.json", "..%2frun.json", "..%2Frun.json", "sub%2Fdeep.json",
        "..%5crun.json", "sub%5Cdeep.json", "..\\run.json", "notes.txt%00", "notes.txt%00.png",
        "/etc/passwd", "%2Fetc%2Fpasswd", "//etc/passwd", str(shared / "alpha" / "a1" / "run.json"),
        "escape.txt", "up/secret.txt", "up/store/alpha/a1/run.json", "missing.txt", "sub", "", "media",
    ]
    for path in refused:
        response = await raw(http_server_client, jp_base_url, base + path, jp_auth_header)
        assert response.code == 404, (path, response.code, response.body[:200])
        if response.body:
            assert b"outside the store" not in response.body and b'"schema_version"' not in response.body
    for path in ("runs/alpha/..%2Fbeta/files/x", "runs/..%2F..%2Fetc/x/files/passwd", "runs/alpha/a1%2F..%2Fa2/files"):
        response = await raw(http_server_client, jp_base_url, path, jp_auth_header)
        assert response.code == 404, path


async def test_artifacts(jp_fetch):
    body = await get(jp_fetch, "runs", "alpha", "a1", "artifacts")
    assert body["used"] == []
    (art,) = body["logged"]
    assert art["name"] == "alpha/data:v0" and art["type"] == "dataset" and art["version"] == "v0"
    assert sorted(art["aliases"]) == ["best", "latest"] and art["size"] == 8 and art["file_count"] == 1
    assert len(art["digest"]) == 64
    assert (await get(jp_fetch, "runs", "alpha", "a3", "artifacts"))["used"] == [art]


async def test_login_required(http_server_client, jp_base_url, jp_auth_header):
    paths = ["projects", "projects/alpha/runs", "projects/alpha/runs?since=0", "runs/alpha/a1",
             "runs/alpha/a1/history?keys=loss", "runs/alpha/a1/system", "runs/alpha/a1/logs", "runs/alpha/a1/media",
             "runs/alpha/a1/files", "runs/alpha/a1/files/notes.txt", "runs/alpha/a1/artifacts",
             "runs/alpha/nope", "runs/alpha/a1/files/../run.json"]
    for path in paths:
        response = await raw(http_server_client, jp_base_url, path)
        assert response.code == 403, path
        assert b"hello" not in response.body
        bad = await raw(http_server_client, jp_base_url, path, {"Authorization": "token wrong"})
        assert bad.code == 403, path
    assert (await raw(http_server_client, jp_base_url, "projects", jp_auth_header)).code == 200


# --- since polls ------------------------------------------------------------------------------------
@pytest.fixture
def polled(tmp_path: Path) -> Path:
    root = tmp_path / "polled"
    for i in range(3):
        run = tracker.init(dir=root, project="p", id=f"r{i}", config={"i": i}, settings=QUIET, reinit="create_new")
        run.log({"loss": float(i)})
        run.finish()
    return root


async def poll(jp_fetch: Any, since: float, **params: Any) -> tuple[dict[str, Any], int]:
    response = await jp_fetch("tracker", "api", "projects", "p", "runs", params={"since": repr(since), **params})
    return json.loads(response.body), len(response.body)


async def test_since(polled, jp_fetch):
    t0 = time.time()
    body, size = await poll(jp_fetch, t0)
    assert body["runs"] == [] and body["count"] == 3 and set(body) == {"runs", "count", "now"}
    assert size < 80, size  # a quiet store: a few bytes
    assert t0 - 5 < body["now"] <= time.time() - 1  # a margin below the clock: a change is never missed

    tracker.Api(polled).run("p/r1").set(notes="changed")
    body, _ = await poll(jp_fetch, t0)
    assert [r["id"] for r in body["runs"]] == ["r1"] and body["count"] == 3
    assert body["runs"][0]["notes"] == "changed" and set(body["runs"][0]) == RUN_FIELDS
    body, _ = await poll(jp_fetch, t0, filter="config.i == 1")
    assert [r["id"] for r in body["runs"]] == ["r1"] and body["unmatched"] == []
    body, _ = await poll(jp_fetch, t0, filter="config.i != 1")
    assert body["runs"] == [] and body["unmatched"] == ["r1"]  # it changed and no longer passes

    t1 = time.time()
    wait_until(lambda: time.time() > t1)
    assert (await poll(jp_fetch, t1))[0]["runs"] == []
    run = tracker.init(dir=polled, project="p", id="r3", settings=QUIET, reinit="create_new")
    run.finish()
    body, _ = await poll(jp_fetch, t1, sort="-id")
    assert [r["id"] for r in body["runs"]] == ["r3"] and body["count"] == 4
    body, _ = await poll(jp_fetch, 0.0, sort="-id", limit="2")
    assert [r["id"] for r in body["runs"]] == ["r3", "r2"] and body["count"] == 4


# --- configuration ------------------------------------------------------------------------------
async def test_default_store_is_the_root_folders(unconfigured, jp_fetch, jp_serverapp):
    assert jp_serverapp.web_app.settings["tracker"].root == str(unconfigured / "tracker-runs")
    body = await get(jp_fetch, "projects", "here", "runs")
    assert [r["id"] for r in body["runs"]] == ["h1"]


@pytest.fixture
def broken(unconfigured: Path) -> Path:
    (unconfigured / "tracker.toml").write_text("dir = [\n")
    return unconfigured


async def test_unreadable_settings_said_by_every_route(broken, jp_fetch):
    for parts in (("projects",), ("runs", "here", "h1")):
        code, err = await error(jp_fetch, *parts)
        assert code == 500 and err["type"] == "StoreError" and "tracker.toml" in err["error"], err
    assert (await jp_fetch("tracker", "bokehjs", "manifest.json")).code == 200  # the rest still works


def test_store_root_setting(tmp_path, monkeypatch):
    root = tmp_path / "served"
    root.mkdir()
    ext = TrackerExtension()
    assert ext.store_root(str(root)) == str(root / "tracker-runs")  # a notebook in the root folder
    (root / "tracker.toml").write_text('dir = "../elsewhere"\n')
    assert ext.store_root(str(root)) == str(tmp_path / "elsewhere")
    monkeypatch.setenv("TRACKER_DIR", "from-env")
    assert ext.store_root(str(root)) == str(root / "from-env")
    assert TrackerExtension(store_dir="runs").store_root(str(root)) == str(root / "runs")
    assert TrackerExtension(store_dir=str(tmp_path / "abs")).store_root(str(root)) == str(tmp_path / "abs")


async def test_store_dir_from_command_line(jp_configurable_serverapp, tmp_path):
    app = jp_configurable_serverapp(config={"ServerApp": {"jpserver_extensions": {"tracker.server": True}}},
                                    argv=[f"--TrackerExtension.store_dir={tmp_path / 'cli'}"])
    assert app.web_app.settings["tracker"].root == str(tmp_path / "cli")


async def test_the_endpoints_read_a_bucket(s3_store, jp_fetch, http_server_client, jp_auth_header):
    """store_dir = s3://...: every route reads the bucket through the local mirror."""
    body = await get(jp_fetch, "projects")
    assert body["projects"][0]["name"] == "cloud" and body["projects"][0]["runs"] == 2
    assert body["projects"][0]["running"] == 1
    runs = (await get(jp_fetch, "projects", "cloud", "runs"))["runs"]
    assert {r["id"]: r["state"] for r in runs} == {"c1": "finished", "c2": "running"}
    s = (await get(jp_fetch, "runs", "cloud", "c1", "history", keys="loss", samples="8000"))["series"]["loss"]
    assert s["n"] == 500 and s["y"][0] == 1.0
    listing = {f["name"] for f in (await get(jp_fetch, "runs", "cloud", "c1", "files"))["files"]}
    assert "notes.txt" in listing and any(n.startswith("media/image/") for n in listing)
    response = await jp_fetch("tracker", "api", "runs", "cloud", "c1", "files", "notes.txt")
    assert response.body == b"hello\n"
    items = (await get(jp_fetch, "runs", "cloud", "c1", "media"))["items"]
    assert [m["key"] for m in items] == ["img"]
    response = await http_server_client.fetch(items[0]["url"], headers=jp_auth_header)
    assert response.headers["Content-Type"] == "image/png" and response.body.startswith(b"\x89PNG")
