"""The SQL views over a store: ``runs``, ``history``, ``system``, ``console``, ``media``,
``artifacts``, ``artifact_files``, ``lineage``, ``alerts`` (rebuilt at each query, so they see the current files)."""

from __future__ import annotations

from tracker.store import layout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tracker.store.query import Query


def create_views(con: Any, query: Query) -> None:
    """(Re)create the SQL views over the current segment files and run documents."""
    import pyarrow as pa

    from tracker.store.index import FIXED_FIELDS

    runs = query.runs(None)
    recs = []
    for r in runs:
        d = r.fields()
        recs.append({
            **{k: d[k] for k in FIXED_FIELDS if k != "tags"},
            "tags": d["tags"],
            "config": layout.dumps(d["config"]),
            "summary": layout.dumps(d["summary"]),
            "dir": r.dir,
        })
    schema = pa.schema([
        ("project", pa.string()), ("id", pa.string()), ("name", pa.string()), ("state", pa.string()),
        ("created_at", pa.float64()), ("heartbeat_at", pa.float64()), ("duration", pa.float64()),
        ("notes", pa.string()), ("group", pa.string()), ("job_type", pa.string()), ("host", pa.string()),
        ("user", pa.string()), ("last_step", pa.int64()), ("alerts", pa.int64()), ("tags", pa.list_(pa.string())),
        ("config", pa.string()), ("summary", pa.string()), ("dir", pa.string()),
    ])
    table = pa.Table.from_pylist(recs, schema=schema)
    con.register("_runs_table", table)
    con.execute(
        "CREATE OR REPLACE TEMP VIEW runs AS SELECT project, id, name, state, "
        "to_timestamp(created_at) AS created_at, to_timestamp(heartbeat_at) AS heartbeat_at, duration, "
        "tags, notes, \"group\", job_type, host, \"user\", last_step, alerts, config::JSON AS config, "
        "summary::JSON AS summary, dir FROM _runs_table"
    )
    _artifact_views(con, query.root)
    alerts = [{"project": r.project, "run_id": r.id, "time": a.get("time"), "step": a.get("step"),
               "level": a.get("level"), "title": a.get("title"), "text": a.get("text"),
               "notified": a.get("notified")}
              for r in runs for a in query.alerts(r.dir)]
    con.register("_alerts_table", pa.Table.from_pylist(alerts, schema=pa.schema([
        ("project", pa.string()), ("run_id", pa.string()), ("time", pa.float64()), ("step", pa.int64()),
        ("level", pa.string()), ("title", pa.string()), ("text", pa.string()), ("notified", pa.bool_())])))
    con.execute("CREATE OR REPLACE TEMP VIEW alerts AS SELECT project, run_id, to_timestamp(time) AS time, step, "
                "level, title, text, notified FROM _alerts_table")
    for view, stream in (("history", "scalars"), ("system", "system"), ("console", "console"), ("media", "media")):
        files: list[str] = []
        for r in runs:
            files.extend(query.stream_files(r.dir, stream).segments)
        if files:
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT "
                "regexp_extract(filename, '([^/\\\\]+)[/\\\\]([^/\\\\]+)[/\\\\][a-z]+[/\\\\][^/\\\\]+$', 1) AS project, "
                "regexp_extract(filename, '([^/\\\\]+)[/\\\\]([^/\\\\]+)[/\\\\][a-z]+[/\\\\][^/\\\\]+$', 2) AS run_id, "
                "step, CAST(key AS VARCHAR) AS key, kind, value, text, to_timestamp(time) AS time "
                f"FROM read_parquet({_sql_list(files)}, filename = true)"
            )
        else:
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT NULL::VARCHAR AS project, NULL::VARCHAR AS run_id, "
                "NULL::BIGINT AS step, NULL::VARCHAR AS key, NULL::TINYINT AS kind, NULL::DOUBLE AS value, "
                "NULL::VARCHAR AS text, NULL::TIMESTAMPTZ AS time WHERE false"
            )


def _artifact_views(con: Any, root: str) -> None:
    """Views ``artifacts``, ``artifact_files`` and ``lineage`` over the artifact collections."""
    import pyarrow as pa

    from tracker.artifacts import registry

    versions: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    lineage: list[dict[str, Any]] = []
    for project, name in registry.list_collections(root):
        cdir = registry.collection_dir(root, project, name)
        by_version: dict[int, list[str]] = {}
        for alias, v in registry.aliases(cdir).items():
            by_version.setdefault(v, []).append(alias)
        for v in registry.committed_versions(cdir):
            info = registry.read_version(cdir, v) or {}
            qualified = f"{project}/{name}:v{v}"
            versions.append({
                "project": project, "name": name, "version": v, "qualified_name": qualified,
                "type": info.get("type"), "digest": info.get("digest"), "size": info.get("size"),
                "file_count": info.get("file_count"), "created_at": info.get("created_at"),
                "logged_by": info.get("logged_by"), "aliases": sorted(by_version.get(v, [])),
                "description": info.get("description"), "metadata": layout.dumps(info.get("metadata") or {}),
            })
            for path, e in ((info.get("manifest") or {}).get("entries") or {}).items():
                files.append({"project": project, "name": name, "version": v, "path": path,
                              "digest": e.get("digest"), "size": e.get("size"), "ref": e.get("ref")})
            if info.get("logged_by"):
                lineage.append({"artifact": qualified, "run": info["logged_by"], "direction": "logged"})
            for run_path in registry.consumers(cdir, v):
                lineage.append({"artifact": qualified, "run": run_path, "direction": "used"})
    schemas = {
        "artifacts": pa.schema([("project", pa.string()), ("name", pa.string()), ("version", pa.int64()),
                                ("qualified_name", pa.string()), ("type", pa.string()), ("digest", pa.string()),
                                ("size", pa.int64()), ("file_count", pa.int64()), ("created_at", pa.float64()),
                                ("logged_by", pa.string()), ("aliases", pa.list_(pa.string())),
                                ("description", pa.string()), ("metadata", pa.string())]),
        "artifact_files": pa.schema([("project", pa.string()), ("name", pa.string()), ("version", pa.int64()),
                                     ("path", pa.string()), ("digest", pa.string()), ("size", pa.int64()),
                                     ("ref", pa.string())]),
        "lineage": pa.schema([("artifact", pa.string()), ("run", pa.string()), ("direction", pa.string())]),
    }
    for view, rows in (("artifacts", versions), ("artifact_files", files), ("lineage", lineage)):
        con.register(f"_{view}_table", pa.Table.from_pylist(rows, schema=schemas[view]))
    con.execute("CREATE OR REPLACE TEMP VIEW artifacts AS SELECT * EXCLUDE (created_at, metadata), "
                "to_timestamp(created_at) AS created_at, metadata::JSON AS metadata FROM _artifacts_table")
    con.execute("CREATE OR REPLACE TEMP VIEW artifact_files AS SELECT * FROM _artifact_files_table")
    con.execute("CREATE OR REPLACE TEMP VIEW lineage AS SELECT * FROM _lineage_table")


def _sql_list(items: list[str]) -> str:
    return "[" + ", ".join("'" + s.replace("'", "''") + "'" for s in items) + "]"
