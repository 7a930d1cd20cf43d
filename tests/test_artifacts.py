"""Artifacts: building, versioning, dedup, aliases, lineage, downloads, faults."""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap

import pytest

import tracker
from tests.conftest import PYTHON, python_env
from tracker import UsageError
from tracker.artifacts import registry
from tracker.artifacts.objects import FileChangedError, ObjectStore
from tracker.errors import ArtifactNotFoundError


@pytest.fixture
def data(tmp_path):
    d = tmp_path / "data"
    (d / "sub").mkdir(parents=True)
    (d / "train.csv").write_text("x,y\n1,2\n")
    (d / "sub" / "labels.txt").write_text("cat\ndog\n")
    return d


def objects(store):
    return sorted(ObjectStore(str(store)).all_digests())


def test_build_log_and_read_back(make_run, store, data, tmp_path):
    run = make_run()
    art = tracker.Artifact("mnist", "dataset", description="digits", metadata={"rows": 2})
    art.add_dir(data)
    art.add_file(data / "train.csv", name="copies/train.csv")
    with art.new_file("notes/readme.md") as fh:
        fh.write("# digits\n")
    art.add({"classes": ["cat", "dog"]}, "classes")
    assert art.state == "PENDING" and art.is_draft() and art.file_count == 5
    assert [e.path for e in art.files()] == [
        "classes.json", "copies/train.csv", "notes/readme.md", "sub/labels.txt", "train.csv"]
    art.remove("copies")
    assert art.file_count == 4 and art.size == sum(e.size for e in art.files())
    logged = run.log_artifact(art, aliases=["first"])
    assert logged.name == "mnist:v0" and logged.version == "v0" and logged.state == "COMMITTED"
    assert logged.qualified_name == "test/mnist:v0" and sorted(logged.aliases) == ["first", "latest"]
    assert logged.history_step is None and logged.logged_by().path == run.path
    with pytest.raises(UsageError, match="cannot change"):
        logged.add_file(data / "train.csv", name="again.csv")
    run.finish()

    reader = make_run()
    used = reader.use_artifact("mnist:first", type="dataset")
    assert used.digest == logged.digest and used.metadata == {"rows": 2} and used.description == "digits"
    assert used.get("classes") == {"classes": ["cat", "dog"]}
    out = used.download(tmp_path / "out")
    assert (tmp_path / "out" / "sub" / "labels.txt").read_text() == "cat\ndog\n"
    used.verify(out)
    assert [r.path for r in used.used_by()] == [reader.path]
    reader.finish()
    record = json.loads((tmp_path / "store" / "test" / run.id / "run.json").read_text())
    assert record["artifacts"]["logged"] == ["test/mnist:v0"]
    api = tracker.Api(dir=store)
    assert api.artifact("test/mnist:latest").version == "v0"
    assert api.artifact("test/mnist:v0", type="dataset").file_count == 4
    assert [c["name"] for c in api.artifact_collections("test")] == ["mnist"]


def test_versions_dedup_and_aliases(make_run, store, data):
    run = make_run()
    first = tracker.Artifact("ds", "dataset")
    first.add_dir(data)
    v0 = run.log_artifact(first)
    same = tracker.Artifact("ds", "dataset")
    same.add_dir(data)
    assert run.log_artifact(same).version == "v0"  # same digest as the latest: no new version
    stored = objects(store)
    assert len(stored) == 2
    (data / "train.csv").write_text("x,y\n1,2\n3,4\n")
    changed = tracker.Artifact("ds", "dataset")
    changed.add_dir(data)
    v1 = run.log_artifact(changed, aliases=["best"])
    assert v1.version == "v1" and v1.digest != v0.digest
    assert len(objects(store)) == 3  # the unchanged labels.txt is stored once
    api = tracker.Api(dir=store)
    assert [a.version for a in api.artifact_versions("test/ds")] == ["v0", "v1"]
    assert api.artifact("test/ds:latest").version == "v1"
    # aliases move: set "best" on v0 and save
    old = api.artifact("test/ds:v0")
    old.aliases = ["best"]
    old.metadata = {"note": "the good one"}
    old.save()
    assert api.artifact("test/ds:best").version == "v0"
    assert api.artifact("test/ds:best").metadata == {"note": "the good one"}
    with pytest.raises(UsageError, match="aliases"):
        api.artifact("test/ds:v0").delete()
    api.artifact("test/ds:v0").delete(delete_aliases=True)
    assert [a.version for a in api.artifact_versions("test/ds")] == ["v1"]
    draft = api.artifact("test/ds:v1").new_draft()
    with draft.new_file("extra.txt") as fh:
        fh.write("more")
    assert run.log_artifact(draft).version == "v2"
    with pytest.raises(ArtifactNotFoundError, match="no alias 'nope'"):
        run.use_artifact("ds:nope")
    with pytest.raises(ArtifactNotFoundError, match="no version v9"):
        run.use_artifact("test/ds:v9")
    with pytest.raises(UsageError, match="has type 'dataset', not 'model'"):
        run.use_artifact("ds:latest", type="model")


def test_log_a_path_directly(make_run, data):
    run = make_run()
    art = run.log_artifact(str(data / "train.csv"), name="raw", type="dataset")
    assert art.name == "raw:v0" and [e.path for e in art.files()] == ["train.csv"]
    assert open(art.file(str(data.parent / "single"))).read() == "x,y\n1,2\n"
    folder = run.log_artifact(str(data))
    assert folder.collection == f"run-{run.id}-data" and folder.file_count == 2


def test_references_are_hashed_not_copied(make_run, store, data, tmp_path):
    run = make_run()
    art = tracker.Artifact("refs", "dataset")
    art.add_reference(f"file://{data}", name="raw")
    assert [e.path for e in art.files()] == ["raw/sub/labels.txt", "raw/train.csv"]
    logged = run.log_artifact(art)
    assert objects(store) == []  # nothing copied
    assert logged.download(tmp_path / "refs-out") == str(tmp_path / "refs-out")
    assert (tmp_path / "refs-out" / "raw" / "train.csv").read_text() == "x,y\n1,2\n"
    with pytest.raises(UsageError, match="gs:// scheme"):
        tracker.Artifact("x", "dataset").add_reference("gs://bucket/key")


def test_download_is_resumable_checkout_cleans_and_verify_names_files(make_run, data, tmp_path):
    run = make_run()
    art = tracker.Artifact("dl", "dataset")
    art.add_dir(data)
    logged = run.log_artifact(art)
    target = tmp_path / "target"
    (target / "sub").mkdir(parents=True)
    (target / "train.csv").write_text("x,y\n1,2\n")  # already right: kept as is
    (target / "sub" / "labels.txt").write_text("wrong")  # wrong: replaced
    (target / "stray.txt").write_text("not in the artifact")
    before = os.stat(target / "train.csv").st_mtime_ns
    logged.download(target)
    assert os.stat(target / "train.csv").st_mtime_ns == before
    assert (target / "sub" / "labels.txt").read_text() == "cat\ndog\n"
    with pytest.raises(ValueError, match="unexpected: stray.txt"):
        logged.verify(target)
    (target / "train.csv").write_text("tampered")
    with pytest.raises(ValueError, match="changed: train.csv"):
        logged.verify(target)
    logged.checkout(target)
    logged.verify(target)
    assert not (target / "stray.txt").exists()
    with pytest.raises(UsageError, match="one file"):
        logged.file(tmp_path / "x")


def test_bad_input(data, tmp_path):
    with pytest.raises(UsageError, match="artifact name 'my data!' is not valid"):
        tracker.Artifact("my data!", "dataset")
    with pytest.raises(UsageError, match="type 'wandb-history' is reserved"):
        tracker.Artifact("x", "wandb-history")
    with pytest.raises(UsageError, match="type 'job' is reserved"):
        tracker.Artifact("x", "job")
    art = tracker.Artifact("x", "dataset")
    with pytest.raises(UsageError, match="is not a file"):
        art.add_file(tmp_path / "missing.bin")
    with pytest.raises(UsageError, match="leaves the artifact"):
        art.add_file(data / "train.csv", name="../../etc/passwd")
    with pytest.raises(UsageError, match="relative path"):
        art.add_file(data / "train.csv", name="/abs/path")
    art.add_file(data / "train.csv")
    with pytest.raises(UsageError, match="already has 'train.csv'"):
        art.add_file(data / "train.csv")
    with pytest.raises(UsageError, match="at most 100"):
        tracker.Artifact("x", "dataset", metadata={f"k{i}": i for i in range(101)})


def test_a_symlink_loop_does_not_trap_add_dir(data):
    os.symlink(data, data / "sub" / "loop")
    os.symlink(data / "train.csv", data / "link.csv")
    art = tracker.Artifact("loop", "dataset")
    art.add_dir(data)
    assert [e.path for e in art.files()] == ["link.csv", "sub/labels.txt", "train.csv"]


def test_a_file_changed_after_add_is_refused(make_run, data):
    run = make_run()
    art = tracker.Artifact("changing", "dataset")
    art.add_file(data / "train.csv")
    (data / "train.csv").write_text("rewritten after add_file, before log_artifact\n")
    with pytest.raises(FileChangedError, match="changed between add_file and log_artifact"):
        run.log_artifact(art)


def test_a_killed_writer_leaves_no_half_visible_version(make_run, store, data):
    cdir = registry.collection_dir(str(store), "test", "ds")
    os.makedirs(os.path.join(cdir, "versions"))
    # a claim left by a process that died (pid 2**22 + 7 does not exist here)
    with open(os.path.join(cdir, "versions", "v0.claim"), "w") as fh:
        json.dump({"pid": 2**22 + 7, "host": os.uname().nodename, "time": 0}, fh)
    assert registry.committed_versions(cdir) == []  # the claim is not a version
    run = make_run()
    art = tracker.Artifact("ds", "dataset")
    art.add_dir(data)
    assert run.log_artifact(art).version == "v0"  # the stale claim was cleaned and its number reused
    assert not os.path.exists(os.path.join(cdir, "versions", "v0.claim"))


WRITER = textwrap.dedent(
    """
    import sys, tracker
    run = tracker.init(project="p", dir=sys.argv[1], settings={"quiet": True, "disable_stats": True})
    art = tracker.Artifact("shared", "dataset")
    with art.new_file("who.txt") as fh:
        fh.write(sys.argv[2])
    print(run.log_artifact(art).version)
    run.finish()
    """
)


def test_many_processes_logging_one_name_get_distinct_versions(store, tmp_path):
    script = tmp_path / "log_one.py"
    script.write_text(WRITER)
    procs = [subprocess.Popen([PYTHON, str(script), str(store), f"writer {i}"], env=python_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(6)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    versions = sorted(out.strip() for out, _ in outs)
    assert versions == [f"v{i}" for i in range(6)]
    api = tracker.Api(dir=store)
    texts = {open(a.download(str(tmp_path / a.version)) + "/who.txt").read() for a in api.artifact_versions("p/shared")}
    assert texts == {f"writer {i}" for i in range(6)}


def api_ttl(store, name):
    return tracker.Api(dir=store).artifact(name).ttl


def test_sql_views_cli_and_gc(make_run, store, data, tmp_path):
    run = make_run()
    art = tracker.Artifact("ds", "dataset")
    art.add_dir(data)
    run.log_artifact(art, aliases=["best"])
    consumer = make_run()
    consumer.use_artifact("ds:best")
    short = tracker.Artifact("tmp", "scratch")
    with short.new_file("big.bin", mode="xb") as fh:
        fh.write(os.urandom(2048))
    import datetime

    short.ttl = datetime.timedelta(minutes=1)  # as W&B's docs set it (before: stored as a string, never expired)
    with pytest.raises(UsageError, match="timedelta"):
        short.ttl = "1 day"
    run.log_artifact(short)
    assert api_ttl(store, "test/tmp:v0") == datetime.timedelta(minutes=1)
    api = tracker.Api(dir=store)
    versions = api.sql("select qualified_name, type, file_count, aliases from artifacts order by qualified_name")
    assert versions["qualified_name"].tolist() == ["test/ds:v0", "test/tmp:v0"]
    assert sorted(versions["aliases"].iloc[0]) == ["best", "latest"]
    files = api.sql("select path, size from artifact_files where name = 'ds' order by path")
    assert files["path"].tolist() == ["sub/labels.txt", "train.csv"]
    lineage = api.sql("select artifact, run, direction from lineage order by direction, artifact")
    assert lineage.values.tolist() == [
        ["test/ds:v0", run.path, "logged"], ["test/tmp:v0", run.path, "logged"], ["test/ds:v0", consumer.path, "used"]]

    def cli(*args):
        return subprocess.run([PYTHON, "-m", "tracker", *args, "--dir", str(store)], env=python_env(),
                              capture_output=True, text=True)

    out = cli("artifact", "ls")
    assert "test/ds\tdataset\t1 versions\tbest=v0, latest=v0" in out.stdout
    out = cli("artifact", "get", "test/ds:best", "--root", str(tmp_path / "got"))
    assert out.returncode == 0 and (tmp_path / "got" / "train.csv").exists()
    assert cli("artifact", "verify", "test/ds:v0", "--root", str(tmp_path / "got")).returncode == 0
    (tmp_path / "got" / "train.csv").write_text("tampered")
    bad = cli("artifact", "verify", "test/ds:v0", "--root", str(tmp_path / "got"))
    assert bad.returncode == 1 and "changed: train.csv" in bad.stderr

    from tracker.artifacts.gc import collect

    later = os.path.getmtime(ObjectStore(str(store)).path(api.artifact("test/tmp:v0").files()[0].digest)) + 7200
    dry = collect(str(store), now=later)
    # the expired version, and its object that nothing else references
    assert dry["expired_versions"] == ["test/tmp:v0"] and dry["objects"] == 1 and not dry["applied"]
    assert len(api.artifact_versions("test/tmp")) == 1 and len(objects(store)) == 3  # a dry run changes nothing
    done = collect(str(store), apply=True, now=later)
    assert done["expired_versions"] == ["test/tmp:v0"] and done["bytes"] == 2048
    assert api.artifact_versions("test/tmp") == []
    assert len(objects(store)) == 2  # ds's two files stay
    assert collect(str(store), apply=True, now=later)["objects"] == 0
    assert collect(str(store))["objects"] == 0  # and nothing young is ever collected


def test_log_code(make_run, tmp_path):
    proj = tmp_path / "proj"
    (proj / "pkg").mkdir(parents=True)
    (proj / "train.py").write_text("print('train')\n")
    (proj / "pkg" / "model.py").write_text("x = 1\n")
    (proj / "notes.txt").write_text("not code\n")
    (proj / ".venv" / "lib").mkdir(parents=True)
    (proj / ".venv" / "lib" / "site.py").write_text("# not ours\n")
    run = make_run()
    code = run.log_code(proj)
    assert code.type == "code" and code.collection == f"source-test-{run.id}"
    assert [e.path for e in code.files()] == ["pkg/model.py", "train.py"]
    yaml_too = run.log_code(proj, name="with-notes", include_fn=lambda p, root: p.endswith((".py", ".txt")),
                            exclude_fn=lambda p, root: "pkg" in p)
    assert [e.path for e in yaml_too.files()] == ["notes.txt", "train.py"]
    # filters of one argument, as W&B's docs write them (``include_fn=lambda path: ...``)
    one_arg = run.log_code(proj, name="one-arg", include_fn=lambda path: path.endswith(".txt"),
                           exclude_fn=lambda path: False)
    assert [e.path for e in one_arg.files()] == ["notes.txt"]
    (tmp_path / "empty").mkdir()
    assert run.log_code(tmp_path / "empty") is None  # nothing matched: no artifact


def test_model_registry_links(make_run, store, tmp_path):
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"weights-v1")
    run = make_run()
    link = run.link_model(weights, "mnist-classifier", name="classifier", aliases=["staging"])
    assert link.is_link and link.project == "model-registry" and link.collection == "mnist-classifier"
    assert link.source_qualified_name == "test/classifier:v0" and link.source_artifact.type == "model"
    again = run.link_model(weights, "mnist-classifier", name="classifier", aliases=["production"])
    assert again.version == link.version  # same files: the same model version, the same link
    assert sorted(again.aliases) == ["latest", "production", "staging"]
    weights.write_bytes(b"weights-v2")
    newer = run.link_model(weights, "mnist-classifier", name="classifier")
    assert newer.version == "v1" and newer.source_version == "v1"
    consumer = make_run()
    folder = consumer.use_model("model-registry/mnist-classifier:production")
    assert open(os.path.join(folder, "model.pt"), "rb").read() == b"weights-v1"
    assert [r.path for r in tracker.Api(dir=store).artifact("model-registry/mnist-classifier:production").used_by()] == [consumer.path]
    with pytest.raises(UsageError, match="is a name, not a path"):
        run.link_model(weights, "a/b")
    plain = run.log_artifact(str(weights), name="not-a-model", type="dataset")
    with pytest.raises(UsageError, match="use_model wants a model"):
        consumer.use_model(plain.qualified_name)


def test_upsert_and_finish_from_several_runs(make_run, store, tmp_path):
    ranks = [make_run(group="exp7") for _ in range(3)]
    for i, run in enumerate(ranks[:2]):
        part = tracker.Artifact("predictions", "eval")
        with part.new_file(f"rank{i}.csv") as fh:
            fh.write(f"rank {i}\n")
        run.upsert_artifact(part)
    last = tracker.Artifact("predictions", "eval", metadata={"ranks": 3})
    with last.new_file("rank2.csv") as fh:
        fh.write("rank 2\n")
    done = ranks[2].finish_artifact(last)
    assert done.version == "v0" and [e.path for e in done.files()] == ["rank0.csv", "rank1.csv", "rank2.csv"]
    assert done.metadata == {"ranks": 3}
    again = tracker.Artifact("predictions", "eval")
    with again.new_file("rank0.csv") as fh:
        fh.write("rank 0, second epoch\n")
    ranks[0].upsert_artifact(again)
    assert ranks[1].finish_artifact(tracker.Artifact("predictions", "eval")).version == "v1"  # a new version
    lone = make_run()
    with pytest.raises(UsageError, match="need a distributed_id or a run group"):
        lone.upsert_artifact(tracker.Artifact("x", "eval"))


def test_save_keeps_folders_as_w_and_b_does(make_run, tmp_path, monkeypatch):
    """The examples of W&B's ``Run.save`` reference: a relative glob keeps its folders, base_path
    cuts them, an absolute glob keeps one folder level."""
    work = tmp_path / "work"
    (work / "these" / "are" / "myfiles").mkdir(parents=True)
    (work / "these" / "are" / "myfiles" / "a.txt").write_text("a")
    (work / "files" / "x").mkdir(parents=True)
    (work / "files" / "x" / "saveme.txt").write_text("s")
    (tmp_path / "Documents" / "run123").mkdir(parents=True)
    (tmp_path / "Documents" / "run123" / "notes.txt").write_text("n")
    monkeypatch.chdir(work)
    run = make_run()
    assert run.save("these/are/myfiles/*", policy="now") == ["these/are/myfiles/a.txt"]
    assert run.save("these/are/myfiles/*", base_path="these", policy="now") == ["are/myfiles/a.txt"]
    assert run.save(str(tmp_path / "Documents" / "run123" / "*.txt"), policy="now") == ["run123/notes.txt"]
    assert run.save(str(tmp_path / "Documents" / "run123" / "*.txt"), base_path=str(tmp_path),
                    policy="now") == ["Documents/run123/notes.txt"]
    assert run.save("files/*/saveme.txt", policy="now") == ["files/x/saveme.txt"]
    run.finish()
    names = {f["name"] for f in tracker.Api(dir=run.dir.rsplit("/", 2)[0]).run(run.path).files()}
    assert {"these/are/myfiles/a.txt", "are/myfiles/a.txt", "run123/notes.txt", "files/x/saveme.txt"} <= names


def test_save_policies_and_restore(make_run, store, tmp_path):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "epoch1.pt").write_text("one")
    (tmp_path / "config.yaml").write_text("lr: 0.1\n")
    (tmp_path / "final.txt").write_text("draft")
    run = make_run()
    assert run.save(str(ckpt / "*.pt"), base_path=ckpt) == ["epoch1.pt"]  # live
    assert run.save(str(tmp_path / "config.yaml"), base_path=tmp_path, policy="now") == ["config.yaml"]
    run.save(str(tmp_path / "final.txt"), base_path=str(tmp_path), policy="end")
    files = lambda: {f["name"] for f in tracker.Api(dir=store).run(run.path).files()}  # noqa: E731
    assert {"epoch1.pt", "config.yaml"} <= files() and "final.txt" not in files()
    (ckpt / "epoch2.pt").write_text("two")  # appears later: a live glob picks it up
    (tmp_path / "final.txt").write_text("final")
    run.finish()
    assert {"epoch1.pt", "epoch2.pt", "config.yaml", "final.txt"} <= files()
    read = tracker.Api(dir=store).run(run.path)
    assert open(read.file("final.txt")).read() == "final"
    other = make_run()
    restored = other.restore("epoch2.pt", run_path=run.path, root=tmp_path / "restored")
    assert restored.read() == "two"
    restored.close()
    with pytest.raises(UsageError, match="no file"):
        other.restore("../run.json", run_path=run.path, root=tmp_path / "r2")
    with pytest.raises(UsageError, match="policy='sometimes'"):
        other.save("x", policy="sometimes")
    other.finish()
    # with no active run, tracker.restore reads the store of the settings (here TRACKER_DIR)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRACKER_DIR", str(store))
        again = tracker.restore("epoch1.pt", run_path=run.path, root=tmp_path / "no-run")
        assert again.read() == "one"
        again.close()
        with pytest.raises(UsageError, match="no file"):
            tracker.restore("../run.json", run_path=run.path, root=tmp_path / "r3")


KILLED = textwrap.dedent(
    """
    import os, sys, tracker
    from tracker.artifacts import objects

    real_copy = objects.copy_file

    def slow_copy(source, dest):  # stop in the middle of storing, as a kill -9 would
        real_copy(source, dest)
        print("copied", flush=True)
        import time
        time.sleep(60)

    objects.copy_file = slow_copy
    run = tracker.init(project="p", dir=sys.argv[1], settings={"quiet": True, "disable_stats": True})
    art = tracker.Artifact("big", "model")
    art.add_file(sys.argv[2])
    run.log_artifact(art)
    """
)


def test_kill_9_during_log_artifact_leaves_no_version(store, tmp_path):
    payload = tmp_path / "weights.bin"
    payload.write_bytes(os.urandom(3 * 1024 * 1024))
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    proc = subprocess.Popen([PYTHON, str(script), str(store), str(payload)], env=python_env(),
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "copied"
    proc.kill()
    proc.wait(timeout=30)
    api = tracker.Api(dir=store)
    assert api.artifact_versions("p/big") == []  # nothing half-visible
    run = tracker.init(project="p", dir=store, reinit="create_new", settings={"quiet": True, "strict": True})
    art = tracker.Artifact("big", "model")
    art.add_file(payload)
    assert run.log_artifact(art).version == "v0"
    art.download(str(tmp_path / "check"))
    art.verify(str(tmp_path / "check"))
    stored = ObjectStore(str(store))
    leftovers = [n for d in os.listdir(stored.dir) for n in os.listdir(os.path.join(stored.dir, d)) if n.endswith(".tmp")]
    assert len(leftovers) <= 1  # the killed copy's temporary file, never read ...
    from tracker.artifacts.gc import collect

    later = __import__("time").time() + 7200
    assert collect(str(store), apply=True, now=later)["temporary_files"] == len(leftovers)  # ... and gc removes it
    assert [n for d in os.listdir(stored.dir) for n in os.listdir(os.path.join(stored.dir, d)) if n.endswith(".tmp")] == []


def test_a_full_disk_during_download_leaves_nothing_half_written(make_run, data, tmp_path, monkeypatch):
    import errno

    from tracker.artifacts import objects as objects_mod

    run = make_run()
    art = tracker.Artifact("dl", "dataset")
    art.add_dir(data)
    logged = run.log_artifact(art)
    real = objects_mod.copy_file

    def full(source, dest):
        with open(dest, "wb") as fh:
            fh.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(objects_mod, "copy_file", full)
    target = tmp_path / "target"
    with pytest.raises(OSError, match="No space left on device"):
        logged.download(target)
    leftovers = [os.path.join(d, f) for d, _, fs in os.walk(target) for f in fs]
    assert leftovers == []  # no file, not even a .part
    monkeypatch.setattr(objects_mod, "copy_file", real)
    logged.download(target)
    logged.verify(target)


def test_progress_bars_for_large_transfers(make_run, tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # the text bar, whatever is installed
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * 1024 * 1024))  # over the 8 MB threshold
    small = tmp_path / "small.bin"
    small.write_bytes(b"tiny")
    run = make_run(settings={"console": "off"})
    art = tracker.Artifact("big", "model")
    art.add_file(small)
    assert capsys.readouterr().err == ""  # no bar for small files
    art.add_file(big)
    logged = run.log_artifact(art)
    logged.download(tmp_path / "out")
    logged.verify(tmp_path / "out")
    err = capsys.readouterr().err
    for step in ("hashing big.bin", "storing big", "downloading big:v0", "verifying big:v0"):
        assert step in err, err
    assert "100%" in err and "MB/s" in err


def test_add_media_objects_round_trips_through_get(make_run, store):
    """``Artifact.add(Table or Image, name)`` (before: their repr string was stored and returned)."""
    import numpy as np

    run = make_run()
    art = tracker.Artifact("things", "dataset")
    art.add(tracker.Table(columns=["a", "b"], data=[[1, "x"], [2, "y"]]), "my_table")
    pixels = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    art.add(tracker.Image(pixels, caption="four by four"), "imgs/sample")
    art.add({"x": 1}, "data")
    with pytest.raises(UsageError, match="neither media nor JSON"):
        art.add(object(), "junk")  # refused, never stored as its repr
    with pytest.raises(UsageError, match="cells hold media"):
        art.add(tracker.Table(columns=["img"], data=[[tracker.Image(pixels)]]), "with_images")
    run.log_artifact(art)
    run.finish()
    got = tracker.Api(dir=store).artifact(f"{run.project}/things:latest")
    assert {"my_table.table.json", "my_table.table.parquet", "imgs/sample.image.json",
            "imgs/sample.image.png", "data.json"} == {e.path for e in got.files()}
    table = got.get("my_table")
    assert isinstance(table, tracker.Table) and table.columns == ["a", "b"] and table.data == [[1, "x"], [2, "y"]]
    image = got.get("imgs/sample")
    assert isinstance(image, tracker.Image) and image.caption == "four by four"
    from PIL import Image as PILImage

    assert (np.asarray(PILImage.open(got.get_entry("imgs/sample.image.png").download())) == pixels).all()
    assert got.get("data") == {"x": 1}


def test_artifact_link_unlink_url_and_commit_hash(make_run, store, tmp_path):
    """W&B's Artifact.link / unlink / url / commit_hash."""
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"weights")
    run = make_run()
    art = tracker.Artifact("net", "model")
    assert art.commit_hash is None and art.url is None  # a draft
    art.add_file(str(weights))
    logged = run.log_artifact(art)
    assert re.fullmatch(r"[0-9a-f]{12}", logged.commit_hash) and logged.commit_hash == logged.digest[:12]
    assert logged.url.startswith("file://") and logged.url.endswith("#v0")
    linked = logged.link("model-registry/classifier", aliases=["staging"])
    assert linked.is_link and linked.qualified_name == "model-registry/classifier:v0"
    assert logged.link("model-registry/classifier").version == linked.version  # linked once
    api = tracker.Api(dir=store)
    assert [a.version for a in api.artifact_versions("model-registry/classifier")] == [linked.version]
    with pytest.raises(UsageError, match="not a link"):
        logged.unlink()
    linked.unlink()
    assert api.artifact_versions("model-registry/classifier") == []
    assert api.artifact(f"{run.project}/net:v0").digest == logged.digest  # the linked version stays
    with pytest.raises(UsageError, match="log it first"):
        tracker.Artifact("draft", "model").link("model-registry/classifier")


@pytest.fixture
def web(tmp_path):
    """A web server on loopback serving tmp_path/web, counting GET and HEAD requests."""
    import functools
    import http.server
    import threading

    root = tmp_path / "web"
    root.mkdir()
    counts = {"GET": 0, "HEAD": 0}

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            counts["GET"] += 1
            super().do_GET()

        def do_HEAD(self):  # noqa: N802
            counts["HEAD"] += 1
            super().do_HEAD()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}", counts
    server.shutdown()
    server.server_close()


def test_http_references_are_checksummed_downloaded_and_said_when_changed(make_run, store, tmp_path, web):
    import hashlib

    root, base, counts = web
    (root / "train.csv").write_text("a,b\n1,2\n")
    run = make_run()
    art = tracker.Artifact("web-data", "dataset")
    (entry,) = art.add_reference(f"{base}/train.csv")
    assert entry.path == "train.csv" and entry.size == 8
    assert entry.digest == hashlib.sha256(b"a,b\n1,2\n").hexdigest() and counts["GET"] == 1
    (light,) = art.add_reference(f"{base}/train.csv", name="head-only.csv", checksum=False)
    assert counts == {"GET": 1, "HEAD": 1} and light.size == 8  # only a HEAD request
    logged = run.log_artifact(art)
    assert objects(store) == []  # a reference is the URL, not a copy
    got = tracker.Api(dir=store).artifact(f"test/web-data:{logged.version}")
    assert got.get_entry("train.csv").ref == f"{base}/train.csv"
    out = got.download(tmp_path / "out")
    assert (tmp_path / "out" / "train.csv").read_text() == "a,b\n1,2\n"
    got.verify(out)  # what was downloaded is what was checksummed
    (root / "train.csv").write_text("a,b\n9,9\n")  # the web file changed since it was logged
    with pytest.warns(tracker.TrackerWarning, match="changed since it was added"):
        got.download(tmp_path / "out2")
    # an unreachable URL is recorded all the same, with one warning
    with pytest.warns(tracker.TrackerWarning, match="could not be read"):
        (gone,) = tracker.Artifact("gone", "dataset").add_reference("http://127.0.0.1:9/nothing.bin")
    assert gone.ref == "http://127.0.0.1:9/nothing.bin" and gone.path == "nothing.bin"


@pytest.fixture
def s3(monkeypatch):
    """A local S3-compatible server (moto) on loopback, with the standard AWS settings pointing at it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for key, value in {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    import boto3

    client = boto3.client("s3", endpoint_url=f"http://{host}:{port}")
    client.create_bucket(Bucket="data")
    yield client
    server.stop()


def test_s3_references_hash_each_object_under_a_prefix_and_download_them(make_run, store, tmp_path, s3):
    import hashlib

    s3.put_object(Bucket="data", Key="mnist/train.csv", Body=b"x,y\n1,2\n")
    s3.put_object(Bucket="data", Key="mnist/sub/labels.txt", Body=b"cat\n")
    s3.put_object(Bucket="data", Key="other.bin", Body=b"\0" * 10)
    run = make_run()
    art = tracker.Artifact("s3-data", "dataset")
    entries = art.add_reference("s3://data/mnist", name="raw")
    assert [(e.path, e.size) for e in entries] == [("raw/sub/labels.txt", 4), ("raw/train.csv", 8)]
    assert entries[1].digest == hashlib.sha256(b"x,y\n1,2\n").hexdigest() and entries[1].ref == "s3://data/mnist/train.csv"
    (single,) = art.add_reference("s3://data/other.bin", checksum=False)
    assert single.path == "other.bin" and single.size == 10 and not single.checksum
    logged = run.log_artifact(art)
    assert objects(store) == []  # references: nothing copied
    got = tracker.Api(dir=store).artifact(f"test/s3-data:{logged.version}")
    out = got.download(tmp_path / "out")
    assert (tmp_path / "out" / "raw" / "train.csv").read_bytes() == b"x,y\n1,2\n"
    assert (tmp_path / "out" / "other.bin").read_bytes() == b"\0" * 10
    got.verify(out)
    s3.put_object(Bucket="data", Key="mnist/train.csv", Body=b"changed\n")
    with pytest.warns(tracker.TrackerWarning, match="changed since it was added"):
        got.download(tmp_path / "out2")
    with pytest.raises(UsageError, match="max_objects=1"):
        tracker.Artifact("x", "dataset").add_reference("s3://data/mnist", max_objects=1)


def test_an_unreachable_bucket_is_recorded_with_a_warning(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.warns(tracker.TrackerWarning, match="could not be read"):
        (entry,) = tracker.Artifact("gone", "dataset").add_reference("s3://nowhere/data.bin")
    assert entry.ref == "s3://nowhere/data.bin" and entry.path == "data.bin" and not entry.checksum


def test_module_functions_act_on_the_current_run(store, data):
    """wandb.log_artifact / use_artifact / log_model ... as W&B's example scripts call them."""
    with pytest.raises(UsageError, match="log_artifact"):
        tracker.log_artifact(str(data / "train.csv"), name="early", type="dataset")
    run = tracker.init(project="test", dir=store, settings={"strict": True, "quiet": True})
    art = tracker.Artifact("mod-data", "dataset")
    art.add_file(str(data / "train.csv"))
    tracker.log_artifact(art)
    used = tracker.use_artifact("mod-data:latest", type="dataset")
    assert used.name.startswith("mod-data") and tracker.log_model.__doc__ == tracker.Run.log_model.__doc__
    run.finish()


def test_a_registered_model_name_may_hold_spaces(make_run, store, data):
    """W&B's registry names models like "MNIST Classifier"; artifact names themselves stay strict."""
    run = make_run()
    art = tracker.Artifact("clf", "model")
    art.add_file(str(data / "train.csv"))
    run.log_artifact(art)
    run.link_artifact(art, "model-registry/MNIST Classifier", aliases=["production"])
    got = run.use_artifact("model-registry/MNIST Classifier:production", type="model")
    assert got.name.startswith("MNIST Classifier")
    with pytest.raises(UsageError, match="not valid"):
        tracker.Artifact("MNIST Classifier", "model")
    with pytest.raises(UsageError, match="not valid"):
        run.link_artifact(art, "model-registry/ padded ")
