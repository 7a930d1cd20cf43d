"""The ``tracker`` command: list, show, export and query runs; make a demo store.

::

    tracker ls [PROJECT]                 projects, or the runs of a project
    tracker show PROJECT/RUN_ID          one run: metadata, config, summary; a failed run's exit code and exception
    tracker export PROJECT --format parquet|csv [--out DIR]
    tracker sql "select ... from runs"   DuckDB SQL over the store's views
    tracker demo                         write a few demo runs
    tracker artifact ls [PROJECT]        artifact collections, their versions and aliases
    tracker artifact get NAME [--root D] download PROJECT/NAME:ALIAS (default ./artifacts/...)
    tracker artifact verify NAME --root D  check a folder against an artifact version
    tracker gc [--apply]                 expired versions and unreferenced objects (dry run by default)

Every command takes ``--dir`` (default: the ``dir`` setting, ``TRACKER_DIR``, ``./tracker-runs``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tracker.errors import TrackerError, UsageError


def _api(args: argparse.Namespace) -> Any:
    from tracker.api.public import Api

    return Api(dir=args.dir)


def _print_frame(frame: Any) -> None:
    import pandas as pd

    with pd.option_context("display.max_rows", 500, "display.max_columns", 50, "display.width", 200):
        print(frame.to_string(index=False) if len(frame) else "(no rows)")


def cmd_ls(args: argparse.Namespace) -> int:
    api = _api(args)
    if args.project is None:
        projects = api.projects()
        if not projects:
            print(f"no projects in {api.root}")
            return 0
        for name in projects:
            runs = api.runs(name)
            states: dict[str, int] = {}
            for r in runs:
                states[r.state] = states.get(r.state, 0) + 1
            detail = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
            print(f"{name}\t{len(runs)} runs\t{detail}")
        return 0
    runs = api.runs(args.project)
    frame = runs.to_pandas()
    cols = ["id", "name", "state", "created_at", "duration", "last_step", "tags"]
    if len(frame):
        frame = frame[cols].copy()
        frame["created_at"] = frame["created_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
        frame["duration"] = frame["duration"].map(lambda s: f"{s:.1f}s")
    _print_frame(frame)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    run = _api(args).run(args.run)
    doc = {
        "path": run.path,
        "name": run.name,
        "state": run.state,
        "created_at": run.created_at,
        "duration": round(run.duration, 3),
        "last_step": run.last_step,
        "exit_code": run.exit_code,
        "exception": _exception_line(run.exception),
        "tags": run.tags,
        "notes": run.notes,
        "group": run.group,
        "job_type": run.job_type,
        "host": run.host,
        "dir": run.dir,
        "metadata": {k: v for k, v in run.metadata.items() if k not in ("metrics",)},
        "config": run.config,
        "summary": run.summary,
    }
    print(json.dumps(doc, indent=2, default=str))
    if run.state in ("failed", "killed", "crashed"):  # the end of a failed run, readable at a glance
        ending = f"{run.state}, exit code {run.exit_code if run.exit_code is not None else 'unknown'}"
        exc = run.exception
        print(f"tracker: {run.path} {ending}" + (f": {exc['type']}: {exc['message']}" if exc else ""),
              file=sys.stderr)
    return 0


def _exception_line(exc: dict[str, str] | None) -> dict[str, str] | None:
    """What ``show`` prints of a failure: the exception's type and message (the traceback is
    ``Api().run(path).exception["traceback"]``)."""
    return None if exc is None else {"type": exc["type"], "message": exc["message"]}


#: What ``tracker export`` (and ``%tracker export``) writes.
EXPORT_FORMATS = ("parquet", "csv")


def runs_table(api: Any, project: str) -> Any:
    """A project's run table as ``tracker export`` writes it: ``Runs.to_pandas()`` (one row a run,
    ``config.*`` and ``summary.*`` columns) with the tags joined by commas."""
    table = api.runs(project).to_pandas()
    table["tags"] = table["tags"].map(lambda t: ",".join(t or []))
    return table


def write_frame(frame: Any, path: str | Path, format: str) -> str:
    """Write a DataFrame as ``parquet`` or ``csv`` (no index); returns the path."""
    if format not in EXPORT_FORMATS:
        raise UsageError(f"export format {format!r} is not one of {EXPORT_FORMATS}")
    if format == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return str(path)


def export_runs_table(api: Any, project: str, path: str | Path) -> str:
    """Write a project's run table (what ``tracker export`` writes as ``runs.<format>``) to one
    file, Parquet or CSV by its suffix (``.parquet``/``.csv``), making its folder if needed.
    Returns the file's absolute path.

    Raises:
        UsageError: the path ends in neither ``.parquet`` nor ``.csv``.
    """
    path = Path(path)
    format = path.suffix.lower().lstrip(".")
    if format not in EXPORT_FORMATS:
        raise UsageError(f"{str(path)!r} must end in .parquet or .csv (the format is taken from the suffix)")
    table = runs_table(api, project)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_frame(table, path.resolve(), format)


def cmd_import(args: argparse.Namespace) -> int:
    from tracker.importers import import_runs

    results = import_runs(args.tool, args.source, project=args.project, name=args.name, dir=args.dir,
                          force=args.force, progress=not args.no_progress)
    for r in results:
        print(f"{r.status}: {r.path} ({r.rows} history rows) from {r.source}")
        for note in r.notes:
            print(f"  note: {note}")
    counts = {s: sum(1 for r in results if r.status == s) for s in ("imported", "replaced", "skipped")}
    print(f"{len(results)} runs: {counts['imported']} imported, {counts['replaced']} replaced, "
          f"{counts['skipped']} already in the store (--force imports them again)")
    return 0 if results else 1


def cmd_sync(args: argparse.Namespace) -> int:
    from tracker.sync import sync

    if args.to and args.source:
        raise UsageError("tracker sync takes --to DEST (from this store) or --from SRC (into this store), not both")
    if not args.to and not args.source:
        return _upload_leftovers(args)
    local = _api(args).uri
    src, dst = (local, args.to) if args.to else (args.source, local)
    result = sync(src, dst, project=args.project, delete=not args.keep, progress=not args.no_progress)
    print(f"synced {src} -> {dst}: {result.copied} files copied ({result.bytes / 1e6:.1f} MB), "
          f"{result.unchanged} already there, {result.removed} replaced segments removed, "
          f"{len(result.runs)} runs updated")
    return 0


def _upload_leftovers(args: argparse.Namespace) -> int:
    """``tracker sync`` alone: upload what dead processes on this host left in their spools for
    this store's bucket (see tracker.store.spool)."""
    from tracker.settings import Settings
    from tracker.store.spool import upload_leftovers

    settings = Settings.load()
    root = (settings.copy(dir=args.dir) if args.dir else settings).root()
    if not root.startswith("s3://"):
        print(f"{root} is a local store: nothing is spooled for it (tracker sync --to DEST copies it)")
        return 0
    runs = upload_leftovers(root)
    for run in runs:
        print(f"uploaded {run} to {root}")
    print(f"{len(runs)} run(s) left by ended processes uploaded to {root}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if args.format == "tensorboard":
        from tracker.importers.tensorboard import export_tensorboard

        if "/" not in args.project:
            raise UsageError("tracker export --format tensorboard takes a run (PROJECT/RUN_ID) and a folder")
        path = export_tensorboard(args.project, args.dest or args.out or "tensorboard-export", dir=args.dir)
        print(f"wrote {path} (open it with: tensorboard --logdir {Path(path).parent.parent})")
        return 0
    api = _api(args)
    out = Path(args.dest or args.out or f"{args.project}-export")
    out.mkdir(parents=True, exist_ok=True)
    table = runs_table(api, args.project)
    history = api.sql(
        "SELECT run_id, step, key, kind, value, text, time FROM history WHERE project = ? ORDER BY run_id, step",
        [args.project],
    )
    write_frame(table, out / f"runs.{args.format}", args.format)
    write_frame(history, out / f"history.{args.format}", args.format)
    print(f"exported {len(table)} runs and {len(history)} history points of {args.project} to {out}/")
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    _print_frame(_api(args).sql(args.query))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from tracker.demo import make_demo_store

    paths = make_demo_store(dir=args.dir, runs=args.runs, steps=args.steps)
    print(f"wrote {args.runs} demo runs to project 'demo' ({len(paths)} finished, the last one failed on purpose)")
    return 0


def cmd_artifact_ls(args: argparse.Namespace) -> int:
    api = _api(args)
    rows = api.artifact_collections(args.project)
    if not rows:
        print(f"no artifacts in {api.root}")
        return 0
    for row in rows:
        aliases = ", ".join(f"{a}=v{v}" for a, v in sorted(row["aliases"].items()))
        print(f"{row['project']}/{row['name']}\t{row['type']}\t{row['versions']} versions\t{aliases}")
    return 0


def cmd_artifact_get(args: argparse.Namespace) -> int:
    art = _api(args).artifact(args.name)
    path = art.download(args.root)
    print(f"{art.qualified_name}: {art.file_count} files, {art.size} bytes -> {path}")
    return 0


def cmd_artifact_verify(args: argparse.Namespace) -> int:
    art = _api(args).artifact(args.name)
    try:
        art.verify(args.root)
    except ValueError as exc:
        print(f"tracker: {exc}", file=sys.stderr)
        return 1
    print(f"{args.root or art.default_root()} matches {art.qualified_name} ({art.file_count} files)")
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    from tracker.artifacts.gc import collect

    api = _api(args)
    api.query.refresh_artifacts()  # an s3:// store: every version and object in the mirror first
    result = collect(api.root, apply=args.apply)
    verb = "removed" if args.apply else "would remove (dry run; --apply to remove)"
    for name in result["expired_versions"]:
        print(f"expired: {name}")
    print(f"{verb}: {len(result['expired_versions'])} expired versions, {result['objects']} objects, "
          f"{result['bytes'] / 1e6:.1f} MB")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tracker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)

    def command(group: Any, name: str, fn: Any, help: str) -> argparse.ArgumentParser:
        p = group.add_parser(name, help=help, description=help)
        p.add_argument("--dir", default=None, help="store root (default: settings / TRACKER_DIR)")
        p.set_defaults(func=fn)
        return p

    def add(name: str, fn: Any, help: str) -> argparse.ArgumentParser:
        return command(sub, name, fn, help)

    p = add("ls", cmd_ls, "list projects, or the runs of a project")
    p.add_argument("project", nargs="?")
    p = add("show", cmd_show, "show one run (PROJECT/RUN_ID)")
    p.add_argument("run")
    p = add("export", cmd_export, "export a project's runs table and history (parquet, csv), or one run as "
            "TensorBoard event files (--format tensorboard PROJECT/RUN_ID DIR)")
    p.add_argument("project", help="the project; for --format tensorboard the run (PROJECT/RUN_ID)")
    p.add_argument("dest", nargs="?", default=None, help="output folder (same as --out)")
    p.add_argument("--format", choices=(*EXPORT_FORMATS, "tensorboard"), default="parquet")
    p.add_argument("--out", default=None, help="output folder (default PROJECT-export)")
    p = add("sync", cmd_sync, "copy runs and artifacts that changed to another store (--to) or from one (--from): "
            "a folder, file:// or s3://bucket/prefix; with neither, upload what ended processes left in "
            "their spools for this store's bucket")
    p.add_argument("--to", default=None, help="the destination store (from this one)")
    p.add_argument("--from", dest="source", default=None, help="the source store (into this one)")
    p.add_argument("--project", default=None, help="only this project's runs and artifacts")
    p.add_argument("--keep", action="store_true", help="keep segments the source merged away (default: removed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p = add("import", cmd_import, "import runs of W&B (offline runs), TensorBoard (a log folder) or MLflow "
            "(a mlruns/ folder or a sqlite:/// URI)")
    p.add_argument("tool", choices=("wandb", "tensorboard", "mlflow"))
    p.add_argument("source", help="a wandb/ folder or .wandb file, a TensorBoard log folder, mlruns/ or sqlite:///...")
    p.add_argument("--project", default=None, help="put every run in this project (default: the source's)")
    p.add_argument("--name", default=None, help="the display name (for a single run)")
    p.add_argument("--force", action="store_true", help="import again runs already in the store (replacing them)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p = add("sql", cmd_sql, "run DuckDB SQL over the views runs, history, system")
    p.add_argument("query")
    p = add("gc", cmd_gc, "remove expired artifact versions and unreferenced objects")
    p.add_argument("--apply", action="store_true", help="remove (the default only reports)")
    art = sub.add_parser("artifact", help="artifact collections: ls, get, verify, gc")
    art_sub = art.add_subparsers(dest="artifact_command", required=True)

    def add_art(name: str, fn: Any, help: str) -> argparse.ArgumentParser:
        return command(art_sub, name, fn, help)

    q = add_art("ls", cmd_artifact_ls, "list artifact collections")
    q.add_argument("project", nargs="?")
    q = add_art("get", cmd_artifact_get, "download an artifact version")
    q.add_argument("name", help="project/name:alias or project/name:vN")
    q.add_argument("--root", default=None)
    q = add_art("verify", cmd_artifact_verify, "check a folder against an artifact version")
    q.add_argument("name")
    q.add_argument("--root", default=None)
    q = add_art("gc", cmd_gc, "remove expired versions and unreferenced objects")
    q.add_argument("--apply", action="store_true")
    p = add("demo", cmd_demo, "write demo runs of a simulated training")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--steps", type=int, default=500)
    return parser


def _version() -> str:
    from tracker.version import __version__

    return f"tracker {__version__}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except TrackerError as exc:
        print(f"tracker: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
