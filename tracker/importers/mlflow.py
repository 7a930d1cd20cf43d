"""MLflow runs into the store: a ``mlruns/`` file store, or a ``sqlite:///`` tracking database.

Both are read directly (plain files, and SQLite through Python's ``sqlite3``): MLflow itself is not
needed, which matters for file stores, which recent MLflow opens only with
``MLFLOW_ALLOW_FILE_STORE`` set. Each experiment becomes a project (its name; ``--project`` puts
every run in one), each run keeps its run id (so importing again skips it), name, start and end
time, state (``FINISHED`` -> finished, ``FAILED`` -> failed, ``KILLED`` -> killed, ``RUNNING`` ->
crashed unless recent), user and source. Params become the config (numbers and booleans as such:
MLflow stores every param as text), metrics the history at their steps with their timestamps (one
row per step, at the step's latest timestamp), the latest value of each metric the summary, the
description (``mlflow.note.content``) the notes, MLflow's system metrics (``system/*``, from
``log_system_metrics``) the system metrics, user tags run tags (``key:value``, and the config's
``mlflow_tags`` key), and the run's artifacts (when they are local files) its files. Deleted runs
and experiments (``lifecycle_stage = deleted``) are left out.
"""

from __future__ import annotations

import json
import os
from urllib.parse import unquote, urlparse

from tracker.importers._common import SourceRun, write_all

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tracker.importers._common import Imported

STATES = {"FINISHED": "finished", "FAILED": "failed", "KILLED": "killed", "RUNNING": None, "SCHEDULED": None,
          "3": "finished", "4": "failed", "5": "killed", "1": None, "2": None}


def _param(text: str) -> Any:
    """A param's text as the value it most likely was (MLflow keeps params as strings)."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text in ("True", "False", "true", "false"):
        return text.lower() == "true"
    if text in ("None", "null"):
        return None
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _yaml(path: str) -> dict[str, Any]:
    """MLflow's ``meta.yaml`` (flat ``key: value`` lines; quoted strings, numbers, null, ``[]``)."""
    out: dict[str, Any] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip() or line.startswith((" ", "-", "#")) or ":" not in line:
                continue
            key, _, raw = line.partition(":")
            raw = raw.strip()
            if raw.startswith("'") and raw.endswith("'") and len(raw) >= 2:
                value: Any = raw[1:-1].replace("''", "'")
            elif raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
                value = json.loads(raw)
            elif raw in ("null", "~", ""):
                value = None
            else:
                value = _param(raw)
            out[key.strip()] = value
    return out


def _local(uri: str | None) -> str | None:
    if not uri:
        return None
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return unquote(parsed.path) if parsed.scheme else uri
    return None


def _apply_tags(src: SourceRun, tags: dict[str, str]) -> None:
    src.name = src.name or tags.get("mlflow.runName")
    src.notes = tags.get("mlflow.note.content") or None
    src.origin["user"] = tags.get("mlflow.user")
    src.origin["program"] = tags.get("mlflow.source.name") or None
    parent = tags.get("mlflow.parentRunId")
    if parent:
        src.group = parent
    user = {k: v for k, v in tags.items() if not k.startswith("mlflow.")}
    src.tags = [f"{k}:{v}"[:256] if v else k[:256] for k, v in sorted(user.items())]
    if user:
        src.config["mlflow_tags"] = user


def _finish(src: SourceRun, points: list[tuple[str, float, float, int]], status: Any, start_ms: Any, end_ms: Any,
            artifacts: str | None) -> SourceRun:
    """Shared by both stores: ``points`` as (key, value, timestamp ms, step) rows."""
    src.state = STATES.get(str(status), None)
    src.started_at = start_ms / 1000 if isinstance(start_ms, (int, float)) else None
    src.ended_at = end_ms / 1000 if isinstance(end_ms, (int, float)) and end_ms else None
    by_step: dict[int, list[Any]] = {}
    latest: dict[str, tuple[int, float, float]] = {}
    system: dict[int, list[Any]] = {}
    for key, value, ts, step in points:
        if key.startswith("system/"):  # MLflow's system metrics (log_system_metrics): the system stream
            sample = system.setdefault(int(step), [ts / 1000, {}])
            sample[1][key[len("system/"):]] = value
            continue
        row = by_step.setdefault(int(step), [0.0, {}])
        row[0] = max(row[0], ts / 1000)
        row[1][key] = value
        if key not in latest or (step, ts) >= latest[key][:2]:
            latest[key] = (step, ts, value)
    src.summary.update({k: v[2] for k, v in latest.items()})
    src.system = [(n, at, values) for n, (at, values) in sorted(system.items())]
    ordered = sorted(by_step.items())
    src.rows = lambda: ((step, at, data) for step, (at, data) in ordered)
    if artifacts and os.path.isdir(artifacts):
        for base, _dirs, names in os.walk(artifacts):
            for n in names:
                src.files.append((artifacts, os.path.relpath(os.path.join(base, n), artifacts)))
    return src


# --- the file store ------------------------------------------------------------------------------------
def _file_runs(root: str) -> list[tuple[str, str]]:
    """(experiment name, run folder) of every active run of a ``mlruns/`` folder."""
    out = []
    for exp in sorted(os.listdir(root)):
        meta_path = os.path.join(root, exp, "meta.yaml")
        if exp.startswith(".") or not os.path.isfile(meta_path):
            continue
        meta = _yaml(meta_path)
        if meta.get("lifecycle_stage") == "deleted":
            continue
        for run in sorted(os.listdir(os.path.join(root, exp))):
            run_meta = os.path.join(root, exp, run, "meta.yaml")
            if os.path.isfile(run_meta) and _yaml(run_meta).get("lifecycle_stage") != "deleted":
                out.append((str(meta.get("name") or exp), os.path.join(root, exp, run)))
    return out


def _read_folder(folder: str, sub: str) -> dict[str, str]:
    out = {}
    base = os.path.join(folder, sub)
    for path, _dirs, names in os.walk(base):
        for n in names:
            with open(os.path.join(path, n), encoding="utf-8", errors="replace") as fh:
                out[os.path.relpath(os.path.join(path, n), base).replace(os.sep, "/")] = fh.read()
    return out


def read_file_run(experiment: str, folder: str, project: str | None = None, name: str | None = None) -> SourceRun:
    meta = _yaml(os.path.join(folder, "meta.yaml"))
    src = SourceRun("mlflow", folder, run_id=str(meta.get("run_id") or os.path.basename(folder)),
                    project=project or experiment, name=name or meta.get("run_name") or None)
    src.config.update({k: _param(v) for k, v in _read_folder(folder, "params").items()})
    _apply_tags(src, _read_folder(folder, "tags"))
    src.origin["user"] = src.origin.get("user") or meta.get("user_id")
    points = []
    for key, text in _read_folder(folder, "metrics").items():
        for line in text.splitlines():
            parts = line.split()
            if len(parts) >= 2:
                try:
                    points.append((key, float(parts[1]), float(parts[0]), int(parts[2]) if len(parts) > 2 else 0))
                except ValueError:
                    src.notes_for_user.append(f"metrics/{key}: a line that is not 'timestamp value step' was skipped")
    artifacts = _local(meta.get("artifact_uri")) or os.path.join(folder, "artifacts")
    return _finish(src, points, meta.get("status"), meta.get("start_time"), meta.get("end_time"), artifacts)


# --- a SQLite tracking database ----------------------------------------------------------------------
def _db_path(uri: str) -> str:
    if not uri.startswith("sqlite:///"):
        raise ValueError(f"{uri!r} is not a sqlite:/// URI (other databases: export them to a file store first)")
    return uri[len("sqlite:///"):] if uri.startswith("sqlite:////") else uri[len("sqlite:///"):]


def _db_runs(uri: str) -> list[tuple[str, str]]:
    import sqlite3

    with sqlite3.connect(f"file:{_db_path(uri)}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT e.name, r.run_uuid FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id "
            "WHERE r.lifecycle_stage != 'deleted' AND e.lifecycle_stage != 'deleted' ORDER BY e.name, r.start_time").fetchall()
    return [(str(n), str(r)) for n, r in rows]


def read_db_run(uri: str, experiment: str, run_uuid: str, project: str | None = None, name: str | None = None) -> SourceRun:
    import sqlite3

    with sqlite3.connect(f"file:{_db_path(uri)}?mode=ro", uri=True) as db:
        run = db.execute("SELECT name, status, start_time, end_time, artifact_uri, user_id FROM runs WHERE run_uuid = ?",
                         (run_uuid,)).fetchone()
        params = db.execute("SELECT key, value FROM params WHERE run_uuid = ?", (run_uuid,)).fetchall()
        tags = db.execute("SELECT key, value FROM tags WHERE run_uuid = ?", (run_uuid,)).fetchall()
        metrics = db.execute("SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ? "
                             "ORDER BY step, timestamp", (run_uuid,)).fetchall()
    src = SourceRun("mlflow", f"{uri}#{run_uuid}", run_id=run_uuid, project=project or experiment,
                    name=name or run[0] or None)
    src.config.update({str(k): _param(str(v)) for k, v in params})
    _apply_tags(src, {str(k): str(v) for k, v in tags})
    src.origin["user"] = src.origin.get("user") or run[5]
    points = [(str(k), float("nan") if is_nan else float(v), float(ts), int(step)) for k, v, ts, step, is_nan in metrics]
    return _finish(src, points, run[1], run[2], run[3], _local(run[4]))


def import_mlflow(source: str | os.PathLike[str], project: str | None = None, name: str | None = None,
                  dir: str | os.PathLike[str] | None = None, force: bool = False, progress: bool = True) -> list[Imported]:
    """Import MLflow runs from a ``mlruns/`` folder or a ``sqlite:///path.db`` URI (see the module).

    Args:
        source: the folder or URI. project: put every run in this project (default: its experiment's
            name). name: the display name (for a single run). dir: the store root.
        force: replace runs already imported (default: skipped). progress: show a bar.
    """
    from tracker.api.public import Api

    text = os.fspath(source)
    root = Api(dir=dir).root
    if text.startswith("sqlite:"):
        runs = _db_runs(text)
        return write_all(runs, root, "importing MLflow runs", force, progress,
                         lambda r: read_db_run(text, r[0], r[1], project, name))
    source = text
    if source.startswith("file:"):
        source = _local(source) or source
    if os.path.isfile(os.path.join(source, "meta.yaml")) and os.path.isdir(os.path.join(source, "metrics")):
        runs = [(os.path.basename(os.path.dirname(os.path.abspath(source))), source)]  # one run's folder
    else:
        runs = _file_runs(source)
    return write_all(runs, root, "importing MLflow runs", force, progress, lambda r: read_file_run(r[0], r[1], project, name))
