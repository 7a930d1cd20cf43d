"""A store whose root is an object store (``s3://bucket/prefix``), on a moto S3 server on loopback:
runs written through a spool and an uploader, read back through the mirror by the read API and SQL;
conditional writes; many writer processes with polling readers; kill -9 then ``tracker sync``; a
shared run of four processes; a bucket that goes away for 10 s."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import textwrap
import threading
import time
import warnings

import pytest

import tracker
from tests.conftest import PYTHON, python_env, wait_until
from tracker import cli

pytest.importorskip("obstore")
pytest.importorskip("moto")

SETTINGS = {"strict": True, "quiet": True, "flush_interval": 0.05}


@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _aws_env(endpoint: str, tmp_path) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1", "TRACKER_SPOOL": str(tmp_path / "spool"),
            "TRACKER_CACHE": str(tmp_path / "cache")}


@pytest.fixture
def bucket_uri(moto_endpoint, tmp_path, monkeypatch, request):
    """A fresh bucket on the moto server, the AWS settings pointing at it, spool and cache in tmp."""
    import boto3

    for key, value in _aws_env(moto_endpoint, tmp_path).items():
        monkeypatch.setenv(key, value)
    name = "b-" + request.node.name.replace("_", "-")[:40].lower().strip("-") + os.urandom(2).hex()
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=name)
    return f"s3://{name}/store"


def _keys(uri: str, prefix: str = "") -> list[str]:
    from tracker.store.bucket import Bucket

    return [e.key for e in Bucket(uri).listing(prefix)]


def test_conditional_writes_claim_a_name_once(bucket_uri):
    """What the store relies on from the server: If-None-Match: * refuses a second create."""
    from tracker.store.bucket import Bucket

    b = Bucket(bucket_uri)
    assert b.create("p/x/.claim", b"one") is True
    assert b.create("p/x/.claim", b"two") is False
    assert b.get("p/x/.claim") == b"one"
    b.put("p/x/status.json", b"1")
    b.put("p/x/status.json", b"2")  # a side file: overwritten whole by its one writer
    assert b.get("p/x/status.json") == b"2"
    for i in range(5):
        b.put(f"p/x/scalars/seg-{i:010d}-{i:010d}-aa.parquet", b"z")
    after = [e.key for e in b.listing("p/x/scalars", after="p/x/scalars/seg-0000000002-0000000002-aa.parquet")]
    assert after == [f"p/x/scalars/seg-{i:010d}-{i:010d}-aa.parquet" for i in (3, 4)]  # StartAfter


def test_a_run_written_to_a_bucket_reads_back_everywhere(bucket_uri, tmp_path):
    run = tracker.init(dir=bucket_uri, project="p", config={"lr": 0.1}, settings=SETTINGS, tags=["s3"])
    spool = run.uploader.spool
    for i in range(300):
        run.log({"loss": 1.0 / (i + 1), "acc": i / 300})
    run.log({"img": tracker.Image(__import__("numpy").zeros((8, 8, 3), "uint8"), caption="zeros")})
    (tmp_path / "notes.txt").write_text("hello")
    run.save(str(tmp_path / "notes.txt"), base_path=str(tmp_path), policy="now")
    run.summary["best"] = 0.9
    run.finish()
    assert not os.path.exists(spool)  # all of it in the bucket: the spool is gone
    keys = _keys(bucket_uri)
    assert f"p/{run.id}/run.json" in keys and f"p/{run.id}/status.json" in keys
    assert any(k.startswith(f"p/{run.id}/scalars/seg-") for k in keys)
    assert any(k.startswith("p/.changed/") and k.endswith(run.id) for k in keys)

    api = tracker.Api(bucket_uri)
    assert api.projects() == ["p"]
    got = api.run(f"p/{run.id}")
    assert got.state == "finished" and got.config == {"lr": 0.1} and got.tags == ["s3"]
    assert got.summary["best"] == 0.9
    h = got.history(keys=["loss"])
    assert h["loss"].tolist() == pytest.approx([1.0 / (i + 1) for i in range(300)])
    assert [m.caption for m in got.media("img")] == ["zeros"]
    assert got.media("img")[0].load().shape == (8, 8, 3)
    assert [f["name"] for f in got.files() if f["name"] == "notes.txt"] == ["notes.txt"]
    with open(got.file("notes.txt")) as fh:
        assert fh.read() == "hello"
    table = api.sql(f"SELECT count(*) AS n FROM history WHERE run_id = '{run.id}' AND key = 'loss'")
    assert table["n"].tolist() == [300]
    # the CLI reads the bucket too
    assert cli.main(["ls", "p", "--dir", bucket_uri]) == 0


def test_ids_are_claimed_once_in_the_bucket(bucket_uri):
    with tracker.init(dir=bucket_uri, project="p", id="same", settings=SETTINGS) as run:
        run.log({"x": 1})
    with pytest.raises(tracker.errors.RunExistsError):
        tracker.init(dir=bucket_uri, project="p", id="same", settings=SETTINGS, reinit="create_new")
    # resumed from the bucket: the history goes on, in another process's spool
    with tracker.init(dir=bucket_uri, project="p", id="same", resume="must", settings=SETTINGS) as run:
        run.log({"x": 2})
    h = tracker.Api(bucket_uri).run("p/same").history(keys=["x"])
    assert h["x"].tolist() == [1, 2] and h["_step"].tolist() == [0, 1]


def test_a_live_refresh_fetches_only_new_segments(bucket_uri):
    run = tracker.init(dir=bucket_uri, project="p", settings=SETTINGS)
    for i in range(50):
        run.log({"loss": float(i)})
    run.flush()
    run.uploader.poke()
    api = tracker.Api(bucket_uri)
    remote = api.query.remote
    def rows() -> int:
        try:
            return len(api.run(f"p/{run.id}").history(keys=["loss"]))
        except tracker.errors.RunNotFoundError:
            return 0  # not uploaded yet

    wait_until(lambda: rows() == 50, message="the first 50 rows")
    from tracker.store import mirror

    before = dict(remote.bucket.requests)
    fetched_before = remote.bucket.bytes_in
    for i in range(50, 60):
        run.log({"loss": float(i)})
    run.flush()
    run.uploader.poke()
    time.sleep(mirror.MIN_INTERVAL)
    wait_until(lambda: rows() == 60, message="10 new rows")
    gets = remote.bucket.requests["get"] - before["get"]
    segment_bytes = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(
        os.path.join(api.root, "p", run.id, "scalars")) for f in fs)
    # the new segment(s) and the side files, never the old segments again
    assert gets <= 12, remote.bucket.requests
    assert remote.bucket.bytes_in - fetched_before < segment_bytes
    run.finish()


WRITER = textwrap.dedent("""
    import sys, time
    import tracker
    uri, project, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    run = tracker.init(dir=uri, project=project, id=sys.argv[4],
                       settings={"strict": True, "quiet": True, "flush_interval": 0.05})
    for i in range(n):
        run.log({"i": i})
        if i % 50 == 49:
            time.sleep(0.05)
    run.finish()
""")


def test_eight_writers_and_two_polling_readers(bucket_uri, tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = python_env(**_aws_env(os.environ["AWS_ENDPOINT_URL"], tmp_path))
    n = 400
    procs = [subprocess.Popen([PYTHON, str(script), bucket_uri, "many", str(n), f"w{k}"], env=env,
                              stderr=subprocess.PIPE, text=True) for k in range(8)]
    failures: list[str] = []
    seen: dict[str, int] = {}
    stop = threading.Event()

    def poll(reader: int) -> None:
        api = tracker.Api(bucket_uri)
        while not stop.is_set():
            try:
                for r in api.runs("many"):
                    rows = len(r.history(keys=["i"]))
                    if rows < seen.get(f"{reader}/{r.id}", 0):
                        failures.append(f"reader {reader}: {r.id} went from {seen[f'{reader}/{r.id}']} rows to {rows}")
                    seen[f"{reader}/{r.id}"] = rows
            except Exception as exc:  # noqa: BLE001 - every failed read is counted
                failures.append(f"reader {reader}: {exc!r}")
            time.sleep(0.2)

    readers = [threading.Thread(target=poll, args=(k,)) for k in range(2)]
    for t in readers:
        t.start()
    try:
        for p in procs:
            _, err = p.communicate(timeout=240)
            assert p.returncode == 0, err[-3000:]
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert failures == []
    api = tracker.Api(bucket_uri)
    runs = {r.id: r for r in api.runs("many")}
    assert sorted(runs) == [f"w{k}" for k in range(8)]
    for r in runs.values():
        assert r.state == "finished"
        assert r.history(keys=["i"])["i"].tolist() == list(range(n))  # 0 rows lost, none twice
    assert max(seen.values()) > 0  # the readers saw the runs as they were written


KILLED = textwrap.dedent("""
    import sys, time
    import tracker
    run = tracker.init(dir=sys.argv[1], project="k", id="victim",
                       settings={"quiet": True, "flush_interval": 0.05, "heartbeat_interval": 1.0})
    for i in range(200):
        run.log({"i": i})
    run.flush()
    print("flushed", flush=True)
    while True:
        time.sleep(1)
""")


def _kill_a_spooling_writer(bucket_uri: str, tmp_path) -> str:
    """Run :data:`KILLED` with its bucket unreachable (a closed port: everything stays in its spool),
    kill it with -9 once it flushed; returns what it printed on stderr."""
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    env = python_env(**{**_aws_env(os.environ["AWS_ENDPOINT_URL"], tmp_path), "AWS_ENDPOINT_URL": dead})
    proc = subprocess.Popen([PYTHON, str(script), bucket_uri], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "flushed"
    os.kill(proc.pid, signal.SIGKILL)
    return proc.communicate(timeout=30)[1]


def test_kill_9_then_sync_reads_crashed_with_everything_flushed(bucket_uri, tmp_path):
    err = _kill_a_spooling_writer(bucket_uri, tmp_path)
    assert "cannot reach" in err or "cannot upload" in err  # said, not silent
    assert not any(k.startswith("k/victim/scalars/") for k in _keys(bucket_uri))
    assert cli.main(["sync", "--dir", bucket_uri]) == 0  # uploads what the dead process left
    run = tracker.Api(bucket_uri).run("k/victim")
    assert run.state == "crashed"
    assert run.history(keys=["i"])["i"].tolist() == list(range(200))
    assert os.listdir(tmp_path / "spool" / os.listdir(tmp_path / "spool")[0]) == []  # the spool is emptied
    assert cli.main(["sync", "--dir", bucket_uri]) == 0  # nothing left: a no-op


SHARED = textwrap.dedent("""
    import sys, time
    import tracker as wandb
    rank, uri = int(sys.argv[1]), sys.argv[2]
    settings = wandb.Settings(mode="shared", x_primary=rank == 0, x_label=f"rank_{rank}", quiet=True, strict=True,
                              flush_interval=0.05, x_stats_sampling_interval=0.2)
    run = wandb.init(project="ddp", id="shared1", dir=uri, settings=settings,
                     config={"world": 4} if rank == 0 else None)
    for step in range(20 + 5 * rank):
        run.log({f"rank{rank}/loss": float(step)})
        print(f"rank {rank} step {step}")
        run.flush()
    if rank == 0:
        time.sleep(1.0)
    run.finish()
""")


def test_a_shared_run_written_by_four_processes(bucket_uri, tmp_path):
    script = tmp_path / "rank.py"
    script.write_text(SHARED)
    env = python_env(**_aws_env(os.environ["AWS_ENDPOINT_URL"], tmp_path))
    procs = [subprocess.Popen([PYTHON, str(script), str(rank), bucket_uri], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for rank in (3, 2, 1, 0)]
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-3000:]
    api = tracker.Api(bucket_uri)
    run = api.run("ddp/shared1")
    assert run.state == "finished" and run.config == {"world": 4}
    history = run.history()
    for rank in range(4):
        points = history.dropna(subset=[f"rank{rank}/loss"])
        assert points[f"rank{rank}/loss"].tolist() == [float(s) for s in range(20 + 5 * rank)], rank
    lines = run.logs(n=None)
    for rank in range(4):
        mine = [r["text"] for r in lines if r["stream"] == f"rank_{rank}/stdout"]
        assert mine == [f"rank {rank} step {s}" for s in range(20 + 5 * rank)], rank
    system = api.sql("SELECT DISTINCT key FROM system WHERE run_id = 'shared1'")["key"].tolist()
    for rank in range(1, 4):
        assert any(k.startswith(f"rank_{rank}/") for k in system), (rank, system)


class _Proxy:
    """A TCP proxy to the S3 server that can be switched off (connections refused and cut)."""

    def __init__(self, target: str) -> None:
        host, port = target.split("://", 1)[1].split(":")
        self.target = (host, int(port))
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.up = True
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            self.conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass

    def down(self) -> None:
        self.up = False
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.conns.clear()

    def close(self) -> None:
        self.sock.close()


@pytest.mark.slow
def test_a_bucket_gone_for_ten_seconds_loses_nothing(bucket_uri, monkeypatch):
    proxy = _Proxy(os.environ["AWS_ENDPOINT_URL"])
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = tracker.init(dir=bucket_uri, project="o", settings={**SETTINGS, "strict": False})
            step = 0
            t0 = time.monotonic()
            while time.monotonic() - t0 < 16:
                if 3 <= time.monotonic() - t0 < 13:
                    proxy.down()
                else:
                    proxy.up = True
                run.log({"i": step})
                step += 1
                time.sleep(0.002)
            run.finish()
        messages = [str(w.message) for w in caught if "cannot upload" in str(w.message)]
        assert len(messages) == 1, [str(w.message) for w in caught]  # warned once for the outage
        assert not os.path.exists(run.uploader.spool)  # caught up: everything uploaded
        h = tracker.Api(bucket_uri).run(f"o/{run.id}").history(keys=["i"])
        assert h["i"].tolist() == list(range(step))  # nothing lost
    finally:
        proxy.close()


@pytest.fixture
def bucket_store(bucket_uri):
    """Four finished runs of project mnist in the bucket, two learning rates."""
    for i, lr in enumerate([0.1, 0.1, 0.01, 0.01]):
        run = tracker.init(project="mnist", dir=bucket_uri, config={"lr": lr}, reinit="create_new",
                           settings={**SETTINGS, "stats_sampling_interval": 0.05})
        for step in range(30):
            run.log({"val/acc": min(0.99, step / 40 + i / 100)})
        time.sleep(0.2)  # a few system samples
        run.finish()
    best: dict[float, float] = {}
    for run in tracker.Api(bucket_uri).runs("mnist"):
        best[run.config["lr"]] = max(best.get(run.config["lr"], 0.0), float(run.history(keys=["val/acc"])["val/acc"].max()))
    return bucket_uri, best


def _s3_pyarrow():
    """docs/scale-out.md, "Straight from the bucket": pyarrow's S3 file system from the AWS settings."""
    import pyarrow.fs as pafs

    endpoint = os.environ["AWS_ENDPOINT_URL"]
    return pafs.S3FileSystem(endpoint_override=endpoint.split("://", 1)[1], scheme=endpoint.split("://", 1)[0],
                             region=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))


def test_pyarrow_dataset_and_duckdb_read_the_bucket(bucket_store):
    import re

    import duckdb
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs

    uri, expected = bucket_store
    root = uri.split("://", 1)[1]
    s3 = _s3_pyarrow()
    files = [f.path for f in s3.get_file_info(pafs.FileSelector(f"{root}/mnist", recursive=True))
             if re.search(r"/[^/.]+/(scalars|system)/seg-[^/]+\.parquet$", f.path)]
    history = ds.dataset(files, filesystem=s3, format="parquet", partition_base_dir=root,  # noqa: F841
                         partitioning=ds.partitioning(pa.schema([("project", pa.string()), ("run_id", pa.string()),
                                                                 ("stream", pa.string())])))
    runs = pa.Table.from_pylist([  # noqa: F841 - DuckDB reads the local variable by its name
        {"run_id": d["id"], "lr": d["config"]["lr"]}
        for d in (json.loads(s3.open_input_stream(f.path).read())
                  for f in s3.get_file_info(pafs.FileSelector(f"{root}/mnist", recursive=True))
                  if f.path.endswith("/run.json"))])
    best = duckdb.sql("""
        SELECT lr, max(value) AS best FROM history JOIN runs USING (run_id)
        WHERE stream = 'scalars' AND key = 'val/acc' GROUP BY lr ORDER BY lr""").fetchall()
    assert dict(best) == pytest.approx(expected)
    system = duckdb.sql("SELECT count(DISTINCT run_id) FROM history WHERE stream = 'system'").fetchall()
    assert system == [(4,)]


def test_polars_reads_the_bucket(bucket_store):
    pl = pytest.importorskip("polars")
    import json as _json

    uri, expected = bucket_store
    options = {"aws_endpoint_url": os.environ["AWS_ENDPOINT_URL"], "aws_region": "us-east-1",
               "aws_access_key_id": os.environ["AWS_ACCESS_KEY_ID"],
               "aws_secret_access_key": os.environ["AWS_SECRET_ACCESS_KEY"], "aws_allow_http": "true"}
    history = (pl.scan_parquet(f"{uri}/mnist/*/scalars/seg-*.parquet", storage_options=options,
                               include_file_paths="path")
               .with_columns(pl.col("path").str.extract(r"([^/]+)/scalars/[^/]+$", 1).alias("run_id"),
                             pl.col("key").cast(pl.String))
               .filter(pl.col("key") == "val/acc")
               .group_by("run_id").agg(pl.col("value").max().alias("best")).collect())
    s3 = _s3_pyarrow()
    root = uri.split("://", 1)[1]
    import pyarrow.fs as pafs

    runs = pl.DataFrame([{"run_id": d["id"], "lr": d["config"]["lr"]}
                         for d in (_json.loads(s3.open_input_stream(f.path).read())
                                   for f in s3.get_file_info(pafs.FileSelector(f"{root}/mnist", recursive=True))
                                   if f.path.endswith("/run.json"))])
    got = history.join(runs, on="run_id").group_by("lr").agg(pl.col("best").max())
    assert dict(zip(got["lr"].to_list(), got["best"].to_list(), strict=True)) == pytest.approx(expected)


def test_artifact_versions_are_numbered_once_across_processes(bucket_uri, tmp_path):
    """Two writers (two spools) log versions of one collection: the numbers are claimed in the
    bucket; a third run uses ``:latest`` from the bucket and the use is recorded there."""
    for k in range(2):
        f = tmp_path / f"data{k}.txt"
        f.write_text(f"version {k}")
        with tracker.init(dir=bucket_uri, project="a", settings=SETTINGS, reinit="create_new") as run:
            art = tracker.Artifact("data", type="dataset")
            art.add_file(str(f), name="data.txt")
            run.log_artifact(art, aliases=[f"take{k}"])
    with tracker.init(dir=bucket_uri, project="a", settings=SETTINGS, reinit="create_new") as user:
        got = user.use_artifact("data:latest")
        assert got.version == "v1"
        folder = got.download(root=str(tmp_path / "dl"))
        assert open(os.path.join(folder, "data.txt")).read() == "version 1"
        assert user.use_artifact("data:take0").version == "v0"
    api = tracker.Api(bucket_uri)
    assert [a.version for a in api.artifact_versions("a/data")] == ["v0", "v1"]
    assert api.artifact("a/data:take1").version == "v1"
    assert [r.id for r in api.artifact("a/data:v1").used_by()] == [user.id]


def test_the_run_page_reads_the_bucket_live(bucket_uri):
    from tracker.ui.panel import RunPanel

    run = tracker.init(dir=bucket_uri, project="ui", config={"lr": 0.1}, settings=SETTINGS)
    for i in range(100):
        run.log({"train/loss": 1.0 / (i + 1)})
    print("hello from a bucket")
    run.log({"img": tracker.Image(__import__("numpy").full((8, 6, 3), 200, dtype="uint8"))})
    run.flush()
    run.uploader.pass_once()
    panel = RunPanel(tracker.Api(bucket_uri).run(run.path))  # what a notebook on another host shows
    assert panel.wait_ready()
    src = panel.charts.charts["train/loss"].sources[run.path]
    assert len(src.data["x"]) == 100
    assert "running" in panel.header.value and "lr" in panel.overview_html.value
    for i in range(100, 150):
        run.log({"train/loss": 1.0 / (i + 1)})
    run.flush()
    run.uploader.pass_once()
    time.sleep(0.6)  # past the mirror's refresh interval
    assert panel.refresh() is True
    assert len(src.data["x"]) == 150
    run.finish()
    time.sleep(0.6)
    assert panel.refresh() is False and "finished" in panel.header.value
    assert "hello from a bucket" in "".join(c.value for c in panel.logs.children[1].children)
    assert "requirements.txt" in panel.files_html.value
    assert set(panel.media.items) == {"img"}
    assert panel.errors == []
    page = run.display(hidden=True)  # the writer's own page: read from the bucket too
    assert page.wait_ready() and "finished" in page.header.value


def test_magics_and_sql_over_a_bucket(bucket_uri, tmp_path, monkeypatch):
    import sys

    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    with tracker.init(dir=bucket_uri, project="m", config={"lr": 0.5}, settings=SETTINGS) as run:
        for i in range(20):
            run.log({"acc": i / 20})
    monkeypatch.setenv("TRACKER_DIR", bucket_uri)
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    hooks = sys.displayhook, sys.excepthook
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    InteractiveShell.clear_instance()
    try:
        shell = InteractiveShell.instance(config=config, colors="nocolor")
        shell.run_line_magic("load_ext", "tracker")
        runs = shell.run_line_magic("tracker", "runs m --filter config.lr > 0.1")
        assert [r.id for r in runs] == [run.id]
        assert tracker.sql("SELECT max(value) AS best FROM history WHERE key = 'acc'")["best"].tolist() == [0.95]
    finally:
        InteractiveShell.clear_instance()
        sys.displayhook, sys.excepthook = hooks


def test_the_next_init_on_the_host_uploads_what_a_dead_process_left(bucket_uri, tmp_path):
    _kill_a_spooling_writer(bucket_uri, tmp_path)
    with tracker.init(dir=bucket_uri, project="other", settings=SETTINGS) as run:
        run.log({"x": 1})
    api = tracker.Api(bucket_uri)

    def uploaded() -> bool:
        try:
            return len(api.run("k/victim").history(keys=["i"])) == 200
        except tracker.errors.RunNotFoundError:
            return False

    wait_until(uploaded, message="the dead process's run uploaded by the next init's background pass")
    assert api.run("k/victim").state == "crashed"


def test_a_silent_writer_on_another_host_reads_crashed(bucket_uri):
    """Any host derives the state from the heartbeat: a writer elsewhere that stopped beating
    (a lost node) reads ``crashed`` once its heartbeat is older than the timeout."""
    from tracker.store import layout
    from tracker.store.bucket import Bucket

    b = Bucket(bucket_uri)
    for run_id, beat in (("alive", time.time()), ("lost", time.time() - 3600)):
        b.put(f"h/{run_id}/run.json", layout.dumps({"id": run_id, "project": "h", "name": run_id,
                                                    "created_at": time.time() - 4000, "config": {}}).encode())
        b.put(f"h/{run_id}/status.json", layout.dumps({"state": "running", "host": "node-17", "pid": 4242,
                                                       "heartbeat_at": beat, "heartbeat_interval": 10}).encode())
        b.put(f"h/{layout.CHANGES_DIR}/{time.time_ns():020d}.{run_id}", b"")
    states = {r.id: r.state for r in tracker.Api(bucket_uri).runs("h")}
    assert states == {"alive": "running", "lost": "crashed"}


def test_edits_from_a_reader_reach_the_bucket(bucket_uri, tmp_path):
    """A finished run's tags and notes, an artifact's aliases and metadata, edited through the read
    API of one host, are read by another (a fresh mirror)."""
    f = tmp_path / "w.txt"
    f.write_text("weights")
    with tracker.init(dir=bucket_uri, project="e", settings=SETTINGS) as run:
        run.log({"x": 1})
        art = tracker.Artifact("model", type="model")
        art.add_file(str(f))
        run.log_artifact(art)
    api = tracker.Api(bucket_uri)
    api.run(f"e/{run.id}").set(tags=["keep"], notes="the good one")
    model = api.artifact("e/model:v0")
    model.aliases.append("prod")
    model.metadata["acc"] = 0.9
    model.save()
    # another host: a process with a mirror of its own
    check = textwrap.dedent(f"""
        import tracker
        api = tracker.Api({bucket_uri!r})
        got = api.run("e/{run.id}")
        assert got.tags == ["keep"] and got.notes == "the good one", (got.tags, got.notes)
        prod = api.artifact("e/model:prod")
        assert prod.version == "v0" and prod.metadata["acc"] == 0.9, (prod.version, prod.metadata)
        print("ok")
    """)
    env = python_env(**{**_aws_env(os.environ["AWS_ENDPOINT_URL"], tmp_path), "TRACKER_CACHE": str(tmp_path / "other")})
    done = subprocess.run([PYTHON, "-c", check], env=env, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr[-3000:]


def test_credentials_from_a_profile(bucket_uri, tmp_path, monkeypatch):
    """No keys in the environment, a named profile in a credentials file (boto3 reads it)."""
    pytest.importorskip("boto3")
    from tracker.store.bucket import Bucket

    creds = tmp_path / "credentials"
    creds.write_text("[team]\naws_access_key_id = fromprofile\naws_secret_access_key = secret\n")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_PROFILE", "team")
    b = Bucket(bucket_uri)
    b.put("p/hello.txt", b"hi")
    assert b.get("p/hello.txt") == b"hi"
