"""IPython magics: ``%tracker`` (a line magic) and ``%%tracker`` (a cell magic).

``%load_ext tracker`` registers them (:func:`tracker.load_ipython_extension`); kernels of an
environment where tracker is installed from its wheel load them by themselves (the wheel installs
``{sys.prefix}/etc/ipython/ipython_kernel_config.json``: see docs/jupyter.md). Each line magic
returns its value, so ``df = %tracker sql SELECT ...`` works and the last line of a cell displays
it. A bad argument prints the usage and what was wrong, and returns None: a magic never raises
for a typo. Reads go through the read API (:class:`tracker.api.public.Api`), so a magic, a panel and
the REST endpoints never disagree.

This module is glue (the top layer, with ``cli`` and ``server``); it loads only when the extension
does, and its heavy parts (the read API, pandas, widgets) only when a subcommand needs them.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time

from IPython.core.magic import Magics, line_cell_magic, magics_class

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

USAGE = """\
usage: %tracker SUBCOMMAND [ARGS]         (%tracker help: this text; %tracker SUBCOMMAND -h: its options)

  %tracker runs [PROJECT] [--filter EXPR] [--sort [-]KEY] [--limit N]
        the runs of PROJECT (default: the current run's project, else every project), as a run
        table; EXPR like  config.lr < 0.5 and state == "finished",  KEY like  -summary.val/acc
  %tracker show RUN
        a run's page; RUN is project/id, an id or a name, or latest
  %tracker compare RUN RUN ... [--metric KEY ...]
        one chart per metric with a line per run, and the config differences
  %tracker sql SELECT ...
        DuckDB SQL over the views runs, history, system: a pandas DataFrame
  %tracker export PROJECT OUT.parquet|OUT.csv
        write PROJECT's run table to a file; returns its path
  %tracker init [--project P] [--name N] [--tag T ...] [--config KEY=VALUE ...]
        start a run around the following cells (VALUE is read as JSON when it parses)
  %tracker finish
        finish the current run
  %tracker status
        the current run: name, state, step, path, the last values of a few metrics

  %%tracker [--project P] [--name N] [--tag T ...] [--config KEY=VALUE ...] [--log VAR ...]
        run the cell as one run: its source, output and wall time (cell/seconds) are recorded,
        and the variables named by --log are logged after it

Every subcommand but finish and status takes --dir DIR: the store root (default: the current
run's, else TRACKER_DIR, tracker.toml or ./tracker-runs).
"""

SUBCOMMANDS = ("runs", "show", "compare", "sql", "export", "init", "finish", "status", "help")
#: Options of `runs` that end a --filter expression written without quotes.
_RUNS_OPTIONS = ("--filter", "--sort", "--limit", "--dir", "-h", "--help")
#: Characters of a --log'ged value's text kept in the run.
TEXT_MAX = 1000


class BadArguments(Exception):
    """A magic's arguments could not be used: the usage and this message are printed."""

    def __init__(self, message: str | None, parser: argparse.ArgumentParser | None = None) -> None:
        super().__init__(message or "")
        self.message = message
        self.parser = parser


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting the kernel."""

    def error(self, message: str) -> Any:
        raise BadArguments(message, self)

    def exit(self, status: int = 0, message: str | None = None) -> Any:
        if message:
            print(message, file=sys.stderr, end="")
        raise BadArguments(None, self)  # after -h: the help was printed, nothing else to say


def _parser(name: str, description: str) -> _Parser:
    return _Parser(prog=f"%{name}", description=description, add_help=True)


def _add_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", metavar="DIR", help="the store root (default: the current run's, else the dir setting)")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", metavar="P", help="the project (default: the current run's, else the project setting)")
    p.add_argument("--name", metavar="N", help="the run's name (default: a generated one)")
    p.add_argument("--tag", metavar="T", nargs="+", action="extend", default=[], help="tags (repeatable)")
    p.add_argument("--config", metavar="KEY=VALUE", nargs="+", action="extend", default=[],
                   help="config values; VALUE is read as JSON when it parses (0.1, true, [1, 2]), else as text")
    p.add_argument("--notes", metavar="TEXT", help="the run's notes")
    p.add_argument("--group", metavar="G", help="the run's group")
    p.add_argument("--job-type", metavar="J", dest="job_type", help="the run's job type")
    _add_dir(p)


def build_parsers() -> dict[str, _Parser]:
    """The argument parsers of every subcommand (``%%tracker``'s under ``"cell"``)."""
    out: dict[str, _Parser] = {}
    p = out["runs"] = _parser("tracker runs", "The runs of a project as a run table (a tracker.Runs list).")
    p.add_argument("project", nargs="?", metavar="PROJECT",
                   help="default: the current run's project, else every project")
    p.add_argument("--filter", metavar="EXPR", help='an expression: config.lr < 0.5 and state == "finished"')
    p.add_argument("--sort", metavar="[-]KEY", help="order by a field, descending with -: -summary.val/acc")
    p.add_argument("--limit", metavar="N", type=count, help="at most N runs (the first in the order)")
    _add_dir(p)
    p = out["show"] = _parser("tracker show", "A run's page (returns the tracker.Api run).")
    p.add_argument("run", metavar="RUN", help="project/id, an id or a run name (of the current project, or "
                                              "unique in the store), or latest")
    _add_dir(p)
    p = out["compare"] = _parser("tracker compare", "Runs compared: one chart per metric with a line per run "
                                                    "and a legend, and the config differences.")
    p.add_argument("runs", metavar="RUN", nargs="+", help="two or more runs (as for show)")
    p.add_argument("--metric", metavar="KEY", nargs="+", action="extend", default=[],
                   help="chart only these metrics (repeatable)")
    _add_dir(p)
    p = out["sql"] = _parser("tracker sql", "DuckDB SQL over the views runs, history, system (a DataFrame).")
    _add_dir(p)
    p.add_argument("query", metavar="SELECT ...", help="the query: the rest of the line, as written")
    p = out["export"] = _parser("tracker export", "Write a project's run table to a Parquet or CSV file.")
    p.add_argument("project", metavar="PROJECT")
    p.add_argument("out", metavar="OUT.parquet|OUT.csv")
    _add_dir(p)
    p = out["init"] = _parser("tracker init", "Start a run around the following cells (tracker.init).")
    _add_run_options(p)
    out["finish"] = _parser("tracker finish", "Finish the current run.")
    out["status"] = _parser("tracker status", "The current run: name, state, step, path, last metric values.")
    p = out["cell"] = _parser("%tracker", "Run the cell as one run.")
    _add_run_options(p)
    p.add_argument("--log", metavar="VAR", nargs="+", action="extend", default=[],
                   help="variables logged after the cell: numbers into the history and summary, "
                        "text, lists and dicts into the config, anything else as its text")
    return out


def count(text: str) -> int:
    """A whole number, 0 or more (argparse names this type in its message)."""
    n = int(text)
    if n < 0:
        raise ValueError(text)
    return n


@magics_class
class TrackerMagics(Magics):
    """``%tracker SUBCOMMAND ...`` and ``%%tracker [options]`` (see :data:`USAGE`)."""

    def __init__(self, shell: Any = None) -> None:
        super().__init__(shell)
        self.parsers = build_parsers()

    @line_cell_magic
    def tracker(self, line: str, cell: str | None = None) -> Any:
        """Experiment tracking from a notebook: ``%tracker help`` lists the subcommands."""
        __tracebackhide__ = True  # noqa: F841 - IPython leaves this frame out of the user's traceback
        if cell is not None:
            return self.cell(line, cell)
        return self.line(line)

    # --- %tracker ---------------------------------------------------------------------------
    def line(self, line: str) -> Any:
        """Run one ``%tracker`` line; returns what the subcommand returns (None after a bad argument)."""
        words = line.strip().split(None, 1)
        command = words[0] if words else "help"
        rest = words[1] if len(words) > 1 else ""
        if command in ("help", "-h", "--help"):
            print(USAGE)
            return None
        if command not in SUBCOMMANDS:
            print(USAGE, file=sys.stderr)
            print(f"%tracker: error: unknown subcommand {command!r} (one of {', '.join(SUBCOMMANDS)})",
                  file=sys.stderr)
            return None
        from tracker.errors import TrackerError

        parser = self.parsers[command]
        try:
            args = parser.parse_args(self._tokens(command, rest))
            return getattr(self, f"cmd_{command}")(args)
        except BadArguments as exc:
            _say(exc.message, exc.parser or parser)
        except (TrackerError, OSError) as exc:  # a bad filter, no such run, a failed query, a file not written
            _say(str(exc), parser)
        return None

    def _tokens(self, command: str, rest: str) -> list[str]:
        if command == "sql":
            return _sql_tokens(rest)
        try:
            if command == "runs":
                return _runs_tokens(rest)
            return shlex.split(rest)
        except ValueError as exc:  # an unclosed quote
            raise BadArguments(str(exc), self.parsers[command]) from None

    def cmd_runs(self, args: argparse.Namespace) -> Any:
        from tracker.api.filters import parse_expression

        api = self._api(args.dir)
        project = args.project
        if project is None:
            current = _current()
            project = current.project if current is not None else None
        elif project.split("/")[-1] not in api.projects():
            known = ", ".join(api.projects()) or "none"
            raise BadArguments(f"no project {project!r} in {api.root} (projects: {known})", self.parsers["runs"])
        filters = parse_expression(args.filter) if args.filter else None
        runs = api.runs(project, filters=filters, **({"order": args.sort} if args.sort else {}))
        return runs[: args.limit] if args.limit is not None else runs

    def cmd_show(self, args: argparse.Namespace) -> Any:
        return self._find(self._api(args.dir), args.run)

    def cmd_compare(self, args: argparse.Namespace) -> Any:
        from tracker.ui.project import compare_runs

        if len(args.runs) < 2:
            raise BadArguments("compare needs two runs or more", self.parsers["compare"])
        api = self._api(args.dir)
        runs = [self._find(api, ref) for ref in args.runs]
        return compare_runs(runs, args.metric or None)

    def cmd_sql(self, args: argparse.Namespace) -> Any:
        return self._api(args.dir).sql(args.query)

    def cmd_export(self, args: argparse.Namespace) -> Any:
        from tracker.cli import export_runs_table

        api = self._api(args.dir)
        if args.project.split("/")[-1] not in api.projects():
            raise BadArguments(f"no project {args.project!r} in {api.root}", self.parsers["export"])
        return export_runs_table(api, args.project, args.out)

    def cmd_init(self, args: argparse.Namespace) -> Any:
        from tracker.sdk.init import init

        return init(reinit="finish_previous", **self._init_kwargs(args, "init"))  # as in a notebook

    def cmd_finish(self, args: argparse.Namespace) -> Any:
        run = _current()
        if run is None:
            print("tracker: no current run to finish", file=sys.stderr)
            return None
        run.finish()
        return None

    def cmd_status(self, args: argparse.Namespace) -> Any:
        run = _current()
        if run is None:
            print("tracker: no current run (start one with %tracker init --project P)", file=sys.stderr)
            return None
        return Status(run)

    # --- %%tracker --------------------------------------------------------------------------
    def cell(self, line: str, cell: str) -> Any:
        """Run a cell as one run; returns the value of its last expression, as a cell would."""
        __tracebackhide__ = True  # noqa: F841
        from tracker.errors import TrackerError
        from tracker.sdk import state
        from tracker.sdk.init import init

        parser = self.parsers["cell"]
        try:
            args = parser.parse_args(shlex.split(line))
            kwargs = self._init_kwargs(args, "cell")
        except ValueError as exc:  # an unclosed quote
            _say(f"{exc} (the cell was not run)", parser)
            return None
        except BadArguments as exc:
            _say(exc.message and f"{exc.message} (the cell was not run)", exc.parser or parser)
            return None
        previous = state.current
        try:
            run = init(reinit="create_new", **kwargs)  # beside a run of %tracker init, not ending it
        except TrackerError as exc:
            _say(f"{exc} (the cell was not run)", parser)
            return None
        state.current = run  # tracker.log() in the cell logs to the cell's run
        _save_source(run, cell)
        ns: dict[str, Any] = self.shell.user_ns  # type: ignore[union-attr]
        t0 = time.perf_counter()
        try:
            with run:  # finished after the cell; failed (killed on an interrupt) if it raises
                try:
                    value = self._execute(cell)
                except BaseException:
                    _after_cell(run, args.log, ns, time.perf_counter() - t0, failed=True)
                    raise
                _after_cell(run, args.log, ns, time.perf_counter() - t0, failed=False)
                return value
        finally:
            if state.current is None and previous is not None and previous in state.active:
                state.current = previous

    def _execute(self, cell: str) -> Any:
        """The cell's code in the user's namespace, as IPython runs a cell (its magics and shell
        escapes transformed); an exception propagates unchanged."""
        __tracebackhide__ = True  # noqa: F841
        import ast

        shell: Any = self.shell
        source = shell.transform_cell(cell)
        filename = shell.compile.cache(source, shell.execution_count, raw_code=cell)  # tracebacks show lines
        tree = shell.transform_ast(shell.compile.ast_parse(source, filename=filename))
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        ns = shell.user_ns
        exec(shell.compile(tree, filename, "exec"), ns)
        return eval(shell.compile(last, filename, "eval"), ns) if last is not None else None

    # --- shared -----------------------------------------------------------------------------
    def _api(self, root: str | None) -> Any:
        from tracker.api.public import Api

        if root is None:
            current = _current()
            if current is not None and current.dir:
                root = os.path.dirname(os.path.dirname(current.dir))  # <root>/<project>/<run_id>
        return Api(dir=root)

    def _find(self, api: Any, ref: str) -> Any:
        """A read-side run by ``project/id``, ``latest``, or an id or name (in the current run's
        project, else in the whole store)."""
        if "/" in ref:
            return api.run(ref)
        current = _current()
        project = current.project if current is not None else None
        where = f"project {project!r}" if project else api.root
        runs = api.runs(project, order="-created_at")
        if ref == "latest":
            if not len(runs):
                raise BadArguments(f"no runs in {where}")
            return runs[0]
        for field in ("id", "name"):
            found = [r for r in runs if getattr(r, field) == ref]
            if len(found) == 1:
                return found[0]
            if found:
                paths = ", ".join(r.path for r in found[:10])
                raise BadArguments(f"{len(found)} runs are named {ref!r} in {where} ({paths}): "
                                   "give PROJECT/ID")
        raise BadArguments(f"no run with id or name {ref!r} in {where}")

    def _init_kwargs(self, args: argparse.Namespace, command: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "project": args.project, "name": args.name, "tags": args.tag or None, "notes": args.notes,
            "group": args.group, "job_type": args.job_type, "config": _config(args.config, self.parsers[command]),
        }
        current = _current()
        if args.dir is not None:
            kwargs["dir"] = args.dir
        elif command == "cell" and current is not None and current.dir:  # beside the current run
            kwargs["dir"] = os.path.dirname(os.path.dirname(current.dir))
        if command == "cell" and args.project is None and current is not None:
            kwargs["project"] = current.project
        return {k: v for k, v in kwargs.items() if v is not None}


class Status(dict):  # type: ignore[type-arg]
    """What ``%tracker status`` returns: ``name``, ``state``, ``step`` (the next step), ``last_step``,
    ``path``, ``dir`` and ``metrics`` (the last values of up to 8 metrics); shown as text."""

    def __init__(self, run: Any) -> None:
        from tracker.ui.entry import TEXT_METRICS, render

        summary = run.summary.as_dict()
        numbers = {k: v for k, v in summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        last = run.step - 1
        super().__init__(name=run.name, state=run.state, step=run.step, last_step=last if last >= 0 else None,
                         path=run.path, dir=run.dir, metrics=dict(list(numbers.items())[:TEXT_METRICS]))
        self.text = str(render(run, "text"))

    def __repr__(self) -> str:
        return self.text

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text)


def _current() -> Any:
    """The current run of this process (``tracker.run``), None when there is none or it is disabled."""
    from tracker.sdk import state

    run = state.current
    return None if run is None or getattr(run, "disabled", False) else run


def _say(message: str | None, parser: argparse.ArgumentParser) -> None:
    """What argparse says about a bad argument: the usage, then ``prog: error: message``."""
    if message is None:
        return  # -h printed the help
    print(parser.format_usage().rstrip(), file=sys.stderr)
    print(f"{parser.prog}: error: {message}", file=sys.stderr)


def _unquoted(text: str) -> str:
    """``text`` without the quotes around it when it is one quoted string."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        try:
            parts = shlex.split(text)
        except ValueError:
            return text
        if len(parts) == 1:
            return parts[0]
    return text


def _runs_tokens(rest: str) -> list[str]:
    """The arguments of ``runs``: a ``--filter`` expression runs, as written, to the next option
    (quotes around it are optional; its own quotes are part of it), and in ``--sort -KEY`` the
    ``-KEY`` is a value, not an option."""
    import re

    words = list(re.finditer(r"\S+", rest))
    kept: list[str] = []
    filters: list[str] = []
    i = 0
    while i < len(words):
        word = words[i].group()
        if word != "--filter" and not word.startswith("--filter="):
            kept.append(word)
            i += 1
            continue
        start = words[i].start() + len("--filter") + (1 if "=" in word else 0)
        end = words[i].end() if "=" in word else start
        i += 1
        while i < len(words) and words[i].group().split("=", 1)[0] not in _RUNS_OPTIONS:
            end = words[i].end()
            i += 1
        expr = _unquoted(rest[start:end]) if end > start else ""
        filters.append("--filter=" + expr if expr else "--filter")
    tokens = shlex.split(" ".join(kept))
    out: list[str] = []
    j = 0
    while j < len(tokens):
        if tokens[j] == "--sort" and j + 1 < len(tokens) and tokens[j + 1].startswith("-"):
            out.append("--sort=" + tokens[j + 1])
            j += 2
            continue
        out.append(tokens[j])
        j += 1
    return out + filters


def _sql_tokens(rest: str) -> list[str]:
    """``[--dir DIR] QUERY``: the query is the rest of the line as written (one quoted string loses
    its quotes)."""
    rest = rest.strip()
    tokens: list[str] = []
    for flag in ("--dir", "-h", "--help"):
        if rest == flag or rest.startswith(flag + " ") or rest.startswith(flag + "="):
            if flag != "--dir":
                return [flag]
            rest = rest[len(flag):].lstrip(" =")
            head = shlex.split(rest.split(None, 1)[0]) if rest else []
            tokens += ["--dir", *head]
            rest = rest.split(None, 1)[1] if len(rest.split(None, 1)) > 1 else ""
    query = _unquoted(rest)
    return [*tokens, "--", query] if query else tokens


def _config(items: list[str], parser: argparse.ArgumentParser) -> dict[str, Any] | None:
    """``KEY=VALUE`` words as a dict; a VALUE that parses as JSON is that value, else its text."""
    import json

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BadArguments(f"argument --config: expected KEY=VALUE, got {item!r}", parser)
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out or None


def _save_source(run: Any, cell: str) -> None:
    """The cell's source, as ``cell.py`` among the run's files (``run.save``, copied now)."""
    import tempfile

    try:
        with tempfile.TemporaryDirectory(prefix="tracker-cell-") as tmp:
            path = os.path.join(tmp, "cell.py")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(cell)
            run.save(path, base_path=tmp, policy="now")
    except Exception as exc:  # noqa: BLE001 - the cell runs even if its source cannot be kept
        print(f"tracker: the cell's source was not saved with run {run.path}: {type(exc).__name__}: {exc}",
              file=sys.stderr)


def _after_cell(run: Any, names: list[str], ns: dict[str, Any], seconds: float, failed: bool) -> None:
    """The cell's wall time (``cell/seconds`` in the summary) and the variables named by ``--log``:
    numbers (Python's or numpy/torch scalars) and media objects through ``run.log``; text, booleans,
    lists and dicts of such into the config; anything else as its text in the summary. Never raises:
    the cell's own outcome is what the user sees."""
    from tracker.convert import is_media

    try:
        run.summary["cell/seconds"] = seconds
        logged: dict[str, Any] = {}
        config: dict[str, Any] = {}
        for name in names:
            if name not in ns:
                if not failed:
                    print(f"tracker: --log {name}: no variable {name!r} after the cell; not logged", file=sys.stderr)
                continue
            value = ns[name]
            if _is_number(value) or is_media(value):
                logged[name] = value
            elif _is_plain(value):
                config[name] = value
            else:
                text = repr(value)
                run.summary[name] = text if len(text) <= TEXT_MAX else text[:TEXT_MAX] + "..."
        if config:
            run.config.update(config, allow_val_change=True)
        if logged:
            run.log(logged)
    except Exception as exc:  # noqa: BLE001 - never replaces the cell's result or exception
        print(f"tracker: %%tracker could not log the cell's results to run {run.path}: {type(exc).__name__}: {exc}",
              file=sys.stderr)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    if (type(value).__module__ or "").split(".", 1)[0] in ("numpy", "torch", "jax", "jaxlib", "tensorflow"):
        try:
            return getattr(value, "ndim", 0) == 0 and not isinstance(value.item(), (bool, complex, str, bytes))
        except Exception:  # noqa: BLE001 - not a scalar
            return False
    return False


def _is_plain(value: Any, depth: int = 0) -> bool:
    """JSON-like: text, booleans, None, numbers, and lists/dicts of them."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if depth > 4:
        return False
    if isinstance(value, (list, tuple)):
        return len(value) <= 1000 and all(_is_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return len(value) <= 1000 and all(isinstance(k, str) and _is_plain(v, depth + 1) for k, v in value.items())
    return False


def register(ipython: Any) -> None:
    """Register ``%tracker`` and ``%%tracker`` with an IPython shell."""
    ipython.register_magics(TrackerMagics)


__all__ = ["USAGE", "BadArguments", "Status", "TrackerMagics", "build_parsers", "register"]
