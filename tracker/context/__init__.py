"""Run context, captured automatically: system metrics, host and program facts, git state,
installed packages, saved code, console output.

:class:`RunContext` starts it all after ``init`` has returned control (nothing here is on the
path of ``init`` to the first ``log``) and stops it at ``finish``. It sits below the logging API
and never imports it: the run's settings, store writer, paths and reporter are passed in
(``Run.start_context`` does it). What it finds goes to:

- ``metadata.json`` in the run's folder (host, OS, CPU, GPUs, program, git, ...);
- ``files/`` (``diff.patch``, ``requirements.txt``, ``code/<script>``);
- the ``system`` stream (sampled metrics) and the ``console`` stream (output lines).
"""

from __future__ import annotations

import os
import sys
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from tracker._report import Reporter
    from tracker.settings import Settings
    from tracker.store.layout import RunPaths
    from tracker.store.writer import RunWriter


class RunContext:
    """Everything captured around one run.

    Args:
        settings: the run's settings (what to capture, how often).
        writer: the run's store writer: its ``system`` and ``console`` streams take the samples
            and output lines; started here once ``init`` has returned.
        paths: the run's files (``metadata.json``, ``files/``).
        reporter: reports what cannot be captured or written.
        nvml: an NVML module to use instead of loading ``pynvml`` (tests).
    """

    def __init__(self, *, settings: Settings, writer: RunWriter, paths: RunPaths, reporter: Reporter,
                 nvml: Any = None) -> None:
        self.settings = settings
        self.writer = writer
        self.paths = paths
        self.reporter = reporter
        self.nvml = nvml
        self.sampler: Any = None
        self.console: Any = None
        self._meta_thread: threading.Thread | None = None
        self.metadata: dict[str, Any] = {}

    def start(self) -> None:
        """Console capture now (it must see the next print); everything else on one background
        thread that first lets ``init`` return and the first ``log`` pass: starting threads and
        importing psutil would otherwise cost the user's thread milliseconds."""
        s = self.settings
        writer = self.writer
        if s.console != "off":
            from tracker.context.console import ConsoleCapture

            self.console = ConsoleCapture(self._labelled(writer.queue("console").append), s.console)
            self.console.lines = self._next_number("console")  # a resumed run's lines go on after its own
            try:
                self.console.start()
            except OSError as exc:
                self.reporter.background_problem("console", f"console capture is off: {exc}")
                self.console = None
        self._cells_hook: Any = None
        self._watch_cells()
        self._stop = threading.Event()
        self._meta_thread = threading.Thread(target=self._background, name="tracker-context", daemon=True)
        self._meta_thread.start()

    def _background(self) -> None:
        from tracker.context.system import START_DELAY, SystemSampler

        ended_early = self._stop.wait(START_DELAY)  # a run shorter than this gets one sample
        s = self.settings
        writer = self.writer
        if not ended_early:
            writer.start()
        if not s.disable_stats:
            self.sampler = SystemSampler(
                self._labelled(writer.queue("system").append),
                s.stats_sampling_interval,
                disk_paths=list(s.stats_disk_paths),
                track_tree=s.stats_track_process_tree,
                openmetrics=s.stats_open_metrics_endpoints,
                openmetrics_filters=list(s.stats_open_metrics_filters),
                nvml=self.nvml,
            )
            self.sampler.samples = self._next_number("system")  # a resumed run's samples go on
            if ended_early:
                self.sampler.sample_and_append()
            else:
                self.sampler.start()
        if s.mode == "shared" and not s.primary:
            return  # the run's facts (metadata.json, requirements, diff) are its primary process's
        self._capture_facts()

    def _labelled(self, append: Any) -> Any:
        """``append`` of the system or console stream; in a ``mode="shared"`` run with a ``label``,
        each key prefixed ``<label>/`` (``rank_1/cpu``, ``rank_1/stdout``): every process's samples
        and lines kept apart under one run."""
        label = self.settings.label
        if self.settings.mode != "shared" or not label:
            return append
        prefix = f"{label}/"

        def labelled(row: tuple[int, float, dict[str, Any]]) -> None:
            append((row[0], row[1], {prefix + k: v for k, v in row[2].items()}))

        return labelled

    def _next_number(self, stream: str) -> int:
        """The first free step of a stream: 0 for a new run; after a resume, one past the stored
        ones, so a second session's console lines and system samples follow the first's rather
        than overwrite their numbers (read only when the stream already has segments)."""
        from tracker.store import layout

        if not layout.list_segments(self.paths.stream_dir(stream)):
            return 0
        from tracker.store.query import Query

        try:
            last = Query.at(self.paths.root).max_step(self.paths.dir, stream)
        except Exception as exc:  # noqa: BLE001 - numbering is a bonus: never let it stop the run
            self.reporter.background_problem(("resume-numbers", stream),
                                             f"could not read the stored {stream} stream ({exc!r}): its numbers "
                                             "start again at 0 in this session")
            return 0
        return 0 if last is None else last + 1

    # --- notebook cells ---------------------------------------------------------------------------
    def _watch_cells(self) -> None:
        """In IPython/Jupyter: record each cell executed while the run is active (count, source)."""
        ipython = sys.modules.get("IPython")
        get = getattr(ipython, "get_ipython", None)
        shell = get() if callable(get) else None
        if shell is None or not hasattr(shell, "events"):
            return
        path = os.path.join(self.paths.files_dir, "notebook-cells.jsonl")
        run_dir = self.paths.dir

        def post_run_cell(result: Any) -> None:
            from tracker.store import layout

            info = getattr(result, "info", None)
            record = {
                "execution_count": getattr(result, "execution_count", None),
                "source": getattr(info, "raw_cell", None),
                "success": bool(getattr(result, "success", True)),
                "time": time.time(),
            }
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write(layout.dumps(record) + "\n")
            except OSError as exc:
                self.reporter.background_problem(
                    "store-write", f"cannot write to the store at {run_dir} ({exc.strerror or exc})"
                )

        shell.events.register("post_run_cell", post_run_cell)
        self._cells_hook = (shell, post_run_cell)

    def detach_console(self) -> None:
        """In a forked child: put the original output streams back without flushing into the
        run (the child's prints are not its parent's run's console)."""
        if self.console is not None:
            self.console.detach()

    def stop(self) -> None:
        """Stop sampling and capture; wait for the facts (bounded); called before the last flush."""
        if self._cells_hook is not None:
            shell, hook = self._cells_hook
            try:
                shell.events.unregister("post_run_cell", hook)
            except ValueError:
                pass  # already unregistered by the user
            self._cells_hook = None
        self._stop.set()
        if self._meta_thread is not None:
            self._meta_thread.join(timeout=30)
        if self.sampler is not None:
            self.sampler.stop()
        if self.console is not None:
            self.console.stop()
            failure = self.console.sink.failure
            if failure is not None:
                self.reporter.background_problem(
                    "console-lost", f"some console output was printed but not captured ({failure!r})"
                )

    # --- one-shot facts ----------------------------------------------------------------------
    def _capture_facts(self) -> None:
        s = self.settings
        paths = self.paths
        skipped: list[str] = []
        meta: dict[str, Any] = {"captured_at": time.time()}
        files_dir = paths.files_dir
        try:
            from tracker.context.execution import git_info, installed_packages, program_info

            program = program_info()
            if not s.disable_meta:  # "no host and program facts" (an imported run keeps its source's)
                meta.update(program)
            if s.program:  # the program the user names (W&B's Settings(program=...))
                meta["program"] = s.program
            if s.label:
                meta["label"] = s.label
            if s.recorded:
                meta["wandb_settings"] = s.recorded
            if not s.disable_meta:
                from tracker.context.host import host_info

                meta.update(host_info(self.nvml, skipped))
            if not s.disable_git:
                git, diff = git_info(program["cwd"], s.max_diff_bytes, skipped)
                if git:
                    meta["git"] = git
                if diff:
                    _write_text(os.path.join(files_dir, "diff.patch"), diff)
            if s.save_requirements and not s.disable_meta:
                packages = installed_packages()
                meta["packages"] = len(packages)
                _write_text(os.path.join(files_dir, "requirements.txt"), "\n".join(packages) + "\n")
            if s.save_code:
                source = program.get("program")
                if source and os.path.isfile(source):
                    dest = os.path.join(files_dir, "code", os.path.basename(source))
                    os.makedirs(os.path.dirname(dest), exist_ok=True)
                    import shutil

                    shutil.copyfile(source, dest)
                    meta["code"] = os.path.relpath(dest, paths.dir)
                elif source:
                    skipped.append(f"save_code: {source} is not a file that can be copied")
        except OSError as exc:
            skipped.append(f"writing run files: {exc}")
        except Exception as exc:  # noqa: BLE001 - facts are a bonus: never let them break the run
            skipped.append(f"context capture failed: {type(exc).__name__}: {exc}")
        meta["skipped"] = skipped
        self.metadata = meta
        try:
            from tracker.store import layout

            layout.write_json_atomic(os.path.join(paths.dir, "metadata.json"), meta)
        except OSError as exc:
            self.reporter.background_problem(  # the same problem as every other write
                "store-write", f"cannot write to the store at {paths.dir} ({exc.strerror or exc})"
            )


def _write_text(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
