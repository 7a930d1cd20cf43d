"""tracker sync: runs and artifacts copied between stores (folders, and an S3-compatible bucket on
loopback), only what changed, segments merged away at the source removed at the destination, and
the copy read back by tracker equal to the original."""

from __future__ import annotations

import os

import pytest

import tracker
from tracker import cli
from tracker.sync import sync

SETTINGS = {"quiet": True, "strict": True, "disable_stats": True, "console": "off", "flush_interval": 0.01,
            "compaction_fanin": 4}


def _runs(root, project="p"):
    api = tracker.Api(dir=root)
    return {r.id: (r.state, r.config, r.summary.get("loss"), r.history(keys=["loss"])["loss"].tolist())
            for r in api.runs(project)}


def _write(root, run_id, steps, resume=None):
    run = tracker.init(project="p", id=run_id, dir=root, config={"lr": 0.1}, resume=resume, settings=SETTINGS,
                       reinit="create_new")
    for i in range(steps):
        run.log({"loss": 1.0 / (i + 1)})
        run.flush()  # one segment a step: compaction merges them as the run goes on
    run.finish()
    return run


def test_sync_copies_only_what_changed_and_drops_merged_segments(tmp_path):
    src, dst = tmp_path / "laptop", tmp_path / "team"
    _write(src, "a", 6)
    _write(src, "b", 3)
    art = tracker.Artifact("data", "dataset")
    (tmp_path / "d.txt").write_text("hello")
    art.add_file(str(tmp_path / "d.txt"))
    with tracker.init(project="p", id="c", dir=src, settings=SETTINGS) as run:
        run.log_artifact(art)
    first = sync(src, dst, progress=False)
    assert first.copied > 0 and first.runs == {"p/a", "p/b", "p/c"}
    assert _runs(dst) == _runs(src)
    assert tracker.Api(dir=dst).artifact("p/data:latest").download(tmp_path / "out") and \
        (tmp_path / "out" / "d.txt").read_text() == "hello"
    again = sync(src, dst, progress=False)
    assert again.copied == 0 and again.unchanged == first.copied + first.unchanged  # nothing changed
    # run a goes on: its new segments are merged with the old ones at the source
    _write(src, "a", 9, resume="allow")
    third = sync(src, dst, progress=False)
    assert third.runs == {"p/a"} and third.removed > 0
    assert _runs(dst) == _runs(src)
    assert len(_runs(dst)["a"][3]) == 15  # no point read twice
    src_files = sorted(os.listdir(src / "p" / "a" / "scalars"))
    assert sorted(os.listdir(dst / "p" / "a" / "scalars")) == src_files


def test_sync_one_project_to_a_bucket_and_back(tmp_path, monkeypatch):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        for key, value in {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
                           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
            monkeypatch.setenv(key, value)
        import boto3

        boto3.client("s3", endpoint_url=f"http://{host}:{port}").create_bucket(Bucket="team")
        src = tmp_path / "laptop"
        _write(src, "a", 5)
        with tracker.init(project="other", id="x", dir=src, settings=SETTINGS) as run:
            run.log({"loss": 1.0})
        assert cli.main(["sync", "--to", "s3://team/store", "--project", "p", "--dir", str(src), "--no-progress"]) == 0
        back = tmp_path / "back"
        result = sync("s3://team/store", back, project="p", progress=False)
        assert result.runs == {"p/a"}
        assert _runs(back) == _runs(src)
        assert not (back / "other").exists()  # only the project asked for
        assert sync(src, "s3://team/store", project="p", progress=False).copied == 0  # up to date
    finally:
        server.stop()


def test_sync_needs_one_direction(tmp_path):
    assert cli.main(["sync", "--to", str(tmp_path / "a"), "--from", str(tmp_path / "b"), "--dir", str(tmp_path)]) == 2
    assert cli.main(["sync", "--dir", str(tmp_path)]) == 0  # a local store: no spool to upload
    with pytest.raises(tracker.UsageError, match="a store is"):
        sync(tmp_path, "gs://elsewhere", progress=False)
