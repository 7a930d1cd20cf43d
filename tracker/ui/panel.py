"""The run page in a notebook: ``run.display()``.

Tabs Overview, Charts, System, Logs, Files, Artifacts, Execution, Media and Model, as ipywidgets with Bokeh
charts (jupyter_bokeh), reading the store. While the run is written (in this kernel or by another
process) one background thread (:mod:`tracker.ui.live`) refreshes every open panel a few times a
second, so a busy cell does not hold the updates back. Below the live panel, a static snapshot
(:mod:`tracker.ui.snapshot`) stays in the notebook for nbconvert, GitHub and a reopened notebook.
"""

from __future__ import annotations

import json
import os
import threading
import time

from tracker.store.states import is_live
from tracker.ui import static
from tracker.ui.html import escape as _e

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TABS = ("Overview", "Charts", "System", "Logs", "Files", "Artifacts", "Execution", "Media", "Model")
#: Console lines kept on the Logs tab, and lines per chunk (a live tail resends only the last chunk).
LOG_LINES = 10_000
LOG_CHUNK = 500
#: Files up to this size get a download link (inlined as a data URI when asked for).
DOWNLOAD_MAX = 20 * 1024 * 1024



def _kv_table(rows: list[tuple[str, Any]], empty: str = "nothing recorded") -> str:
    if not rows:
        return f"<i>{_e(empty)}</i>"
    cells = "".join(f"<tr><th style='text-align:left;padding:2px 10px 2px 0;vertical-align:top'>{_e(k)}</th>"
                    f"<td style='padding:2px 0'>{_e(static.fmt(v))}</td></tr>" for k, v in rows)
    return f"<table style='border-collapse:collapse;font-size:13px'>{cells}</table>"


#: Muted text and thin borders that follow JupyterLab's light and dark themes (fallbacks outside it).
MUTED = "color:var(--jp-ui-font-color2, #666)"
BORDER = "var(--jp-border-color2, #ddd)"
ERROR = "var(--jp-error-color1, #d32f2f)"
#: Characters of a value shown in an Overview table cell (the whole value is its tooltip, up to
#: TITLE_CHARS), rows drawn per table (a search narrows them), rows before a table scrolls.
CELL_CHARS = 120
TITLE_CHARS = 4000
TABLE_ROWS = 500
TABLE_HEIGHT = 640  # px: about 30 rows


#: Colours of alert levels (the theme's where it has one).
ALERT_COLOURS = {"ERROR": ERROR, "WARN": "var(--jp-warn-color1, #ef6c00)", "INFO": "var(--jp-info-color1, #1976d2)"}
ALERTS_SHOWN = 50


def alerts_badge(alerts: list[dict[str, Any]]) -> str:
    """``3 alerts`` in the colour of the most serious level among them ('' when there are none)."""
    if not alerts:
        return ""
    levels = {a.get("level") for a in alerts}
    worst = next((lv for lv in ("ERROR", "WARN") if lv in levels), "INFO")
    n = len(alerts)
    last = alerts[-1]
    tip = _e(f"last: {last.get('title')} — {static.clip(str(last.get('text') or ''), 200)}")
    return (f"<span class='tracker-alerts-badge' title='{tip}' style='border:1px solid {ALERT_COLOURS[worst]};"
            f"color:{ALERT_COLOURS[worst]};border-radius:9px;padding:0 7px;font-size:12px'>"
            f"&#9888; {n} alert{'s' if n != 1 else ''}</span>")


def alerts_html(alerts: list[dict[str, Any]]) -> str:
    """The Overview's list of a run's alerts, newest first: level, title, text, step and time; a
    repeat inside its ``wait_duration`` marked as not sent (all escaped)."""
    if not alerts:
        return ""
    import datetime

    rows = []
    for a in reversed(alerts[-ALERTS_SHOWN:]):
        level = str(a.get("level") or "INFO")
        colour = ALERT_COLOURS.get(level, ALERT_COLOURS["INFO"])
        when = a.get("time")
        stamp = datetime.datetime.fromtimestamp(when).strftime("%Y-%m-%d %H:%M:%S") if isinstance(when, (int, float)) else ""
        repeat = "" if a.get("notified", True) else f" <span style='{MUTED}'>(a repeat: recorded, not sent)</span>"
        rows.append(
            f"<div class='tracker-alert' style='border-left:4px solid {colour};padding:2px 8px;margin:3px 0'>"
            f"<b style='color:{colour}'>{_e(level)}</b> <b>{_e(a.get('title'))}</b>{repeat}"
            f"<span style='{MUTED};font-size:12px'> · step {_e(static.fmt(a.get('step')))} · {_e(stamp)}</span>"
            f"<div style='white-space:pre-wrap;word-break:break-word'>{_e(static.clip(str(a.get('text') or ''), 2000))}</div>"
            "</div>")
    more = (f"<div style='{MUTED};font-size:12px'>{len(alerts) - ALERTS_SHOWN} older alerts: "
            "Api().run(path).alerts has them all</div>" if len(alerts) > ALERTS_SHOWN else "")
    return (f"<div class='tracker-alerts' style='font-family:sans-serif;font-size:13px;margin:2px 0 8px'>"
            f"<h4 style='margin:4px 0'>alerts <span style='{MUTED};font-weight:normal;font-size:12px'>{len(alerts)}"
            f"</span></h4>{''.join(rows)}{more}</div>")


def _tag_colours(run: Any) -> dict[str, str]:
    """The colours chosen for the tags of the run's project (none for a run object without them)."""
    try:
        return dict(run.api.tag_colours(run.project))
    except Exception:  # noqa: BLE001 - an older reader, an unreadable file: the tags' own colours
        return {}


def _alerts(run: Any) -> list[dict[str, Any]]:
    try:
        alerts = run.alerts
    except Exception:  # noqa: BLE001 - a run object without them (an older reader): nothing to show
        return []
    return alerts if isinstance(alerts, list) else []


def header_html(doc: dict[str, Any], path: str, alerts: list[dict[str, Any]] | None = None,
                tag_colours: dict[str, str] | None = None) -> str:
    """A run page's header: name, state badge (and "live"), path, duration and step, a badge of
    its alerts; the run's tags as coloured chips and the first line of its notes (all escaped)."""
    state = doc["state"]
    live = f" <span style='{MUTED}'>(live)</span>" if is_live(state) else ""
    chips = "".join(static.tag_chip(t, tag_colours) for t in doc.get("tags") or [])
    notes = doc.get("notes") or ""
    line = static.first_line(notes)
    title = _e(static.clip(notes, TITLE_CHARS))
    return (
        "<div class='tracker-header' style='font-family:sans-serif;font-size:15px;"
        "color:var(--jp-ui-font-color1, inherit)'>"
        "<div style='display:flex;flex-wrap:wrap;align-items:center;gap:4px 8px'>"
        f"<b>{_e(doc['name'])}</b> {static.badge(state)}{live}"
        f"<span style='{MUTED};font-size:13px'>{_e(path)} · {_e(static.duration(doc['duration']))} · "
        f"step {_e(static.fmt(doc['last_step']))}</span>"
        + alerts_badge(alerts or [])
        + (f"<span class='tracker-tags'>{chips}</span>" if chips else "")
        + "</div>"
        + (f"<div class='tracker-notes' title='{title}' style='{MUTED};font-size:13px;margin-top:2px;"
           f"white-space:nowrap;overflow:hidden;text-overflow:ellipsis'>{_e(line)}</div>" if line else "")
        + "</div>"
    )


def search_table(title: str, items: list[tuple[str, Any]], query: str = "", empty: str = "nothing recorded") -> str:
    """A titled key/value table of flattened ``items``, the rows whose key or value holds
    ``query`` (any case); long values cut, each whole in its cell's tooltip; all escaped."""
    needle = query.casefold()
    rows = []
    for key, value in items:
        text = static.fmt(value)
        if needle and needle not in key.casefold() and needle not in text.casefold():
            continue
        rows.append((key, text))
    count = f"{len(rows)} of {len(items)}" if needle else f"{len(items)}"
    head = (f"<h4 style='margin:4px 0'>{_e(title)} <span style='{MUTED};font-weight:normal;"
            f"font-size:12px'>{_e(count)}</span></h4>")
    if not items:
        body = f"<i style='{MUTED}'>{_e(empty)}</i>"
    elif not rows:
        body = f"<i style='{MUTED}'>no key or value holds {_e(query)}</i>"
    else:
        cell = f"padding:2px 10px 2px 0;border-bottom:1px solid {BORDER};vertical-align:top;text-align:left"
        lines = []
        for key, text in rows[:TABLE_ROWS]:
            shown = static.clip(text, CELL_CHARS)
            tip = f" title='{_e(static.clip(text, TITLE_CHARS))}'" if shown != text else ""
            lines.append(f"<tr><th style='{cell};{MUTED};font-weight:normal;white-space:nowrap'>{_e(key)}</th>"
                         f"<td style='{cell};word-break:break-word'{tip}>{_e(shown)}</td></tr>")
        more = (f"<div style='{MUTED};font-size:12px'>{len(rows) - TABLE_ROWS} more rows: narrow the search</div>"
                if len(rows) > TABLE_ROWS else "")
        body = (f"<div style='max-height:{TABLE_HEIGHT}px;overflow:auto'><table class='tracker-kv' "
                f"style='border-collapse:collapse;font-size:13px;width:100%'>{''.join(lines)}</table></div>{more}")
    return f"<div class='tracker-kv-{_e(title.lower())}' style='flex:1 1 340px;min-width:0'>{head}{body}</div>"


def _detail_table(rows: list[tuple[str, Any]]) -> str:
    cell = f"padding:2px 10px 2px 0;border-bottom:1px solid {BORDER};vertical-align:top;text-align:left"
    return ("<table style='border-collapse:collapse;font-size:13px'>"
            + "".join(f"<tr><th style='{cell};{MUTED};font-weight:normal;white-space:nowrap'>{_e(k)}</th>"
                      f"<td style='{cell}'>{_e(static.fmt(v))}</td></tr>" for k, v in rows)
            + "</table>")


def failure_html(state: str, exit_code: int | None, exception: dict[str, str] | None) -> str:
    """The Overview's box for a run that did not finish well: a failed run's exception (type,
    message, traceback) and exit code; a killed or crashed run's ending. Empty otherwise."""
    if state not in ("failed", "killed", "crashed") and exception is None:
        return ""
    colour = ERROR if state in ("failed", "crashed") else static.STATE_COLOURS.get(state, "#ff7f0e")
    code = f" · exit code {_e(exit_code)}" if exit_code is not None else ""
    why = {"crashed": " · the process ended without finishing the run (killed, out of memory, power loss)",
           "killed": " · interrupted (Ctrl-C) or terminated (SIGTERM)"}.get(state, "")
    parts = [f"<div style='font-size:13px'><b style='color:{colour}'>{_e(state)}</b>{code}{why}</div>"]
    if exception is not None:
        parts.append(
            "<div style='font-family:var(--jp-code-font-family, monospace);font-size:13px;margin-top:4px;"
            f"word-break:break-word'><b>{_e(exception.get('type') or 'exception')}</b>"
            + (f": {_e(exception['message'])}" if exception.get("message") else "") + "</div>")
        if exception.get("traceback"):
            parts.append(
                "<pre class='tracker-traceback' style='max-height:320px;overflow:auto;font-size:12px;margin:6px 0 0;"
                f"padding:6px;background:var(--jp-layout-color2, transparent);border:1px solid {BORDER};"
                f"white-space:pre'>{_e(exception['traceback'])}</pre>")
    elif state == "failed":
        parts.append(f"<div style='{MUTED};font-size:12px'>no exception was recorded (the run was ended "
                     "with an exit code: run.finish(exit_code=N) or sys.exit(N))</div>")
    return (f"<div class='tracker-failure' style='font-family:sans-serif;border:1px solid {colour};"
            f"border-left-width:4px;border-radius:4px;padding:6px 10px;margin:2px 0 8px'>{''.join(parts)}</div>")


def _lineage_rows(meta: dict[str, Any]) -> list[tuple[str, Any]]:
    """Where the run's history came from (ClearML's parent experiment): the run and step it was
    forked from, and the steps it was rewound to (W&B's fork_from / resume_from)."""
    rows: list[tuple[str, Any]] = []
    fork = meta.get("forked_from")
    if isinstance(fork, dict) and fork.get("run"):
        rows.append(("forked from", f"{fork['run']} at step {fork.get('step')} (its history up to there is this run's)"))
    rewinds = meta.get("rewinds")
    if isinstance(rewinds, list) and rewinds:
        rows.append(("rewound", "; ".join(
            f"to step {r.get('step')} on {static.when(r.get('at'))}" for r in rewinds if isinstance(r, dict))
            + " (later steps moved aside, not deleted)"))
    return rows


def _exit_code(run: Any) -> int | None:
    try:
        code = run.exit_code
    except Exception:  # noqa: BLE001 - a run object without it (an older reader): nothing to show
        return None
    return code if isinstance(code, int) else None


def _exception(run: Any) -> dict[str, str] | None:
    try:
        exc = run.exception
    except Exception:  # noqa: BLE001 - as above
        return None
    return exc if isinstance(exc, dict) else None


def _no_output_html(run: Any) -> str:
    """What the Logs tab says when the run printed nothing (and what a failed run failed with)."""
    text = "<i>no console output</i>"
    exc = _exception(run)
    if exc is not None:
        text += (f"<div style='font-size:13px;margin-top:4px'>the run failed with <b>{_e(exc.get('type'))}</b>"
                 + (f": {_e(static.clip(exc.get('message') or '', 300))}" if exc.get("message") else "")
                 + f" <span style='{MUTED}'>(its traceback is on the Overview tab)</span></div>")
    return text


def diff_html(text: str) -> str:
    """A unified diff with added lines green and removed lines red (escaped)."""
    lines = []
    for line in text.splitlines():
        colour = ("#22863a" if line.startswith("+") and not line.startswith("+++") else
                  "#cb2431" if line.startswith("-") and not line.startswith("---") else
                  "#6f42c1" if line.startswith("@@") else "var(--jp-content-font-color1, #444)")
        lines.append(f"<span style='color:{colour}'>{_e(line)}</span>")
    return ("<pre style='max-height:400px;overflow:auto;font-size:12px;background:var(--jp-layout-color2, #fafbfc);padding:6px'>"
            + "\n".join(lines) + "</pre>")


class RunPanel:
    """A run's page. Build it with ``run.display()`` (a live or a read-side run).

    Args:
        run: a read-side run.
        live: the live :class:`tracker.sdk.run.Run` when the panel shows this kernel's own run
            (edits of notes, tags and properties go through it while it runs).
        height: the height of each tab's scrolling area, in pixels (the Overview grows with its
            content instead: only its long tables scroll).
        build: start drawing the charts on a background thread now (False: call
            ``panel.charts.build()`` yourself).
    """

    def __init__(self, run: Any, live: Any = None, height: int = 420, build: bool = True) -> None:
        import ipywidgets as w

        from tracker.ui.charts import ChartGrid

        self.run = run
        self.live = live
        self.height = int(height)
        self.lock = threading.RLock()
        self.errors: list[str] = []
        self._reporter: Any = None
        self.snapshot_handle: Any = None
        self.build_seconds = 0.0
        self._log_line = -1
        self._log_chunks: list[list[str]] = []
        self._media_count = 0
        self._logs_seen: tuple[str, ...] | None = None
        self._media_seen: tuple[str, ...] | None = None
        self._meta: dict[str, Any] | None = None
        self.shown = False  # displayed in an output already
        self.closed = False
        box = w.Layout(max_height=f"{self.height}px", overflow="auto")

        # header: name, live state badge, path, duration, step, tags as chips, the notes' first line
        self.header = w.HTML(layout=w.Layout(width="100%"))
        # overview: the failure (if any), the editable notes and tags, a search over config and
        # summary, then their tables, the run's details and its artifacts. It grows with its content
        # (no scrolling box of its own): only a long table scrolls, inside its own area.
        self.failure = w.HTML(layout=w.Layout(width="100%"))
        grow = {"width": "auto", "flex": "1 1 auto", "min_width": "240px"}  # explicit: never collapsed
        self.notes = w.Textarea(placeholder="notes (the first line shows in the header)",
                                layout=w.Layout(height="64px", **grow))
        self.tags = w.TagsInput(allow_duplicates=False, placeholder="add a tag",
                                layout=w.Layout(**grow))
        self.save_button = w.Button(description="save notes and tags", icon="save",
                                    layout=w.Layout(width="190px", min_width="190px", flex="0 0 auto"))
        self.save_button.on_click(lambda _b: self.save_edits())
        label = {"width": "48px", "min_width": "48px", "flex": "0 0 auto"}
        row = {"width": "100%", "align_items": "center", "flex_flow": "row wrap"}
        self.edit_box = w.VBox([
            w.HBox([w.Label("tags", layout=w.Layout(**label)), self.tags, self.save_button], layout=w.Layout(**row)),
            w.HBox([w.Label("notes", layout=w.Layout(**label)), self.notes], layout=w.Layout(**row)),
        ], layout=w.Layout(width="100%"))
        self.search = w.Text(placeholder="search config and summary (key or value)", continuous_update=True,
                             layout=w.Layout(width="auto", flex="0 1 420px", min_width="240px"))
        self.search.observe(lambda _c: self.render_overview(), "value")
        self.overview_html = w.HTML(layout=w.Layout(width="100%"))
        self._overview_doc: dict[str, Any] | None = None
        self._overview_rows: list[tuple[str, Any]] = []
        self._overview_arts: dict[str, Any] = {}
        self.overview = w.VBox([self.failure, self.edit_box, w.HBox([self.search], layout=w.Layout(width="100%")),
                                self.overview_html], layout=w.Layout(width="100%", overflow="visible"))
        # charts and system
        self.charts = ChartGrid([run], "default", "prefix", on_error=self.report_error, build=False)
        self.system = ChartGrid([run], "system", "system", x_axis="_runtime", on_error=self.report_error, build=False)
        self._system_built = False
        # logs
        self.log_search = w.Text(placeholder="search the output (regex)", continuous_update=False)
        self.log_search.observe(lambda _c: self.refresh_logs(rebuild=True), "value")
        self.log_end = w.Button(description="jump to end", icon="arrow-down")
        self.log_end.on_click(lambda _b: self.refresh_logs(rebuild=True))
        self.log_download = w.Button(description="download", icon="download")
        self.log_link = w.HTML()
        self.log_download.on_click(lambda _b: self._link_text(self.log_link, "output.log",
                                                              self.run.logs_text(None).encode()))
        self.log_box = w.VBox([], layout=w.Layout(max_height=f"{self.height}px", overflow="auto",
                                                  flex_flow="column"))
        self.logs = w.VBox([w.HBox([self.log_search, self.log_end, self.log_download, self.log_link]),
                            self.log_box])
        # files, artifacts, execution
        self.files_html = w.HTML()
        self.file_select = w.Dropdown(description="file", layout=w.Layout(width="420px"))
        self.file_button = w.Button(description="download", icon="download")
        self.file_link = w.HTML()
        self.file_button.on_click(lambda _b: self.download_file(self.file_select.value))
        self.files = w.VBox([w.HBox([self.file_select, self.file_button, self.file_link]), self.files_html],
                            layout=box)
        self.artifacts = w.HTML(layout=box)
        self.prop_key = w.Text(placeholder="property", layout=w.Layout(width="160px"))
        self.prop_value = w.Text(placeholder="value (empty removes it)", layout=w.Layout(width="220px"))
        self.prop_button = w.Button(description="set property")
        self.prop_button.on_click(lambda _b: self.set_property(self.prop_key.value, self.prop_value.value))
        self.execution_html = w.HTML()
        self.execution = w.VBox([self.execution_html, w.HBox([self.prop_key, self.prop_value, self.prop_button])],
                                layout=box)
        # media
        from tracker.ui.media_view import MediaView

        self.media = MediaView(run, on_error=self.report_error)
        from tracker.ui.model_view import ModelView

        self.model = ModelView(run)

        self.tabs = w.Tab(children=[self.overview, self.charts.widget, self.system.widget, self.logs,
                                    self.files, self.artifacts, self.execution, self.media.widget,
                                    self.model.widget])
        for i, title in enumerate(TABS):
            self.tabs.set_title(i, title)
        self.tabs.observe(self._on_tab, "selected_index")
        self.widget = w.VBox([self.header, self.tabs])
        self.widget.add_class("tracker-panel")
        self.refresh_overview(edit_fields=True)
        self.refresh_logs(rebuild=True)
        self.refresh_files()
        self.refresh_execution()
        if build:  # the first tab shows at once; the charts arrive from a thread as they are made
            self.charts.build_async()

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Block until every chart known when the page was made is drawn (tests, scripts)."""
        return self.charts.wait_built(timeout)

    # --- display ------------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        """As a cell's last value: the page, unless ``display()`` showed it already (so
        ``run.display()`` at the end of a cell draws one page, not two)."""
        if self.shown:
            return
        from IPython.display import display

        self.shown = True
        display(self.widget)

    def _on_tab(self, change: dict[str, Any]) -> None:
        index = change["new"]
        if index is not None and TABS[index] == "System" and not self._system_built:
            self._system_built = True
            self.system.build()
            self.system.refresh()  # metrics sampled since the panel was made
        if index is not None and TABS[index] == "Media":
            self.media.refresh()
        if index is not None and TABS[index] == "Model":
            self.model.refresh()

    # --- refresh ------------------------------------------------------------------------------
    def refresh(self) -> bool:
        """Bring the panel up to date with the store; False once the run has ended and all of it
        is shown (the live updater then stops refreshing it)."""
        with self.lock:
            changed = self.run.refresh_if_changed()
            state = self.run.state
            self.refresh_overview(header_only=not changed)
            own = self.live is not None and is_live(self.live.state)
            self.charts.refresh(unwritten=self.live.unwritten_rows() if own else None)
            if self._system_built:
                self.system.refresh()
            logs = self.run.stream_state("console")
            if logs != self._logs_seen:
                self._logs_seen = logs
                self.refresh_logs()
            media = self.run.stream_state("media")
            if media != self._media_seen:
                self._media_seen = media
                self.media.refresh(only_if_new=True)
                if self.tabs.selected_index is not None and TABS[self.tabs.selected_index] == "Model":
                    self.model.refresh()
            running = is_live(state)
            if not running:
                self.refresh_files()
                self.refresh_execution()
            return running

    def refresh_overview(self, edit_fields: bool = False, header_only: bool = False) -> None:
        """The header (state, duration, step, tags, notes) and, unless ``header_only``, the
        Overview tab (``edit_fields``: put the run's notes and tags into the edit fields too)."""
        run = self.run
        doc = run.fields()
        alerts = _alerts(run)
        self.header.value = header_html(doc, run.path, alerts, _tag_colours(run))
        if header_only:
            return
        if self._meta is None or "os" not in self._meta:  # captured once, shortly after the start
            self._meta = run.metadata
        meta = self._meta
        state = doc["state"]
        git = meta.get("git") or {}
        hw = meta.get("cpu") or {}
        gpu = meta.get("gpu") or {}
        osinfo = meta.get("os") or {}
        rows: list[tuple[str, Any]] = [
            ("name", doc["name"]), ("state", state), ("author", doc.get("user")),
            ("start time", static.when(doc["created_at"])), ("duration", static.duration(doc["duration"])),
            ("run path", run.path), *_lineage_rows(meta),
            ("group / job type", " / ".join(x for x in (doc["group"], doc["job_type"]) if x)),
            ("host", meta.get("host")), ("OS", osinfo.get("platform") or osinfo.get("system")),
            ("Python", f"{meta.get('python') or ''} {meta.get('executable') or ''}".strip()),
            ("git repository", git.get("remote_url") or git.get("root")),
            ("git state", (f"{git.get('branch') or 'detached'} @ {(git.get('commit') or '')[:10]}"
                           + (" (uncommitted changes)" if git.get("dirty") else "")) if git else None),
            ("command", meta.get("command")),
            ("hardware", ", ".join(x for x in (
                f"{hw.get('model')} x{hw.get('count_logical')}" if hw.get("model") else "",
                f"{gpu.get('count')} x {gpu.get('type')}" if gpu.get("count") else "") if x)),
            ("tracker version", meta.get("tracker_version")),
        ]
        if not is_live(state):
            rows.insert(2, ("exit code", _exit_code(run)))
        self._overview_doc = doc
        self._overview_rows = [(k, v) for k, v in rows if v not in (None, "")]
        self._overview_arts = arts = run.artifact_refs()
        self.failure.value = failure_html(state, _exit_code(run), _exception(run)) + alerts_html(alerts)
        self.render_overview()
        if edit_fields:
            self.notes.value = doc["notes"] or ""
            self.tags.value = list(doc["tags"] or [])
        self._refresh_artifacts(arts)

    def render_overview(self) -> None:
        """Draw the Overview's tables again from what :meth:`refresh_overview` read, through the
        search box (kernel-side: a key or value holding the text, any case)."""
        doc = self._overview_doc
        if doc is None:
            return
        query = self.search.value.strip()
        arts = self._overview_arts
        tables = (
            "<div style='display:flex;flex-wrap:wrap;gap:8px 24px;align-items:flex-start'>"
            + search_table("Config", static.flat_items(doc["config"]), query, "no config")
            + search_table("Summary", static.flat_items(doc["summary"]), query, "no summary yet")
            + "</div>"
        )
        self.overview_html.value = (
            f"<div style='font-family:sans-serif;font-size:13px;color:var(--jp-ui-font-color1, inherit)'>{tables}"
            + f"<h4 style='margin:12px 0 4px'>Run</h4>{_detail_table(self._overview_rows)}"
            + "<h4 style='margin:12px 0 4px'>Artifacts</h4>"
            + _detail_table([("inputs", ", ".join(arts.get("used") or []) or "none"),
                             ("outputs", ", ".join(arts.get("logged") or []) or "none")])
            + "</div>")

    def refresh_logs(self, rebuild: bool = False) -> None:
        """Append new console lines (the last chunk alone is resent); ``rebuild`` re-reads the last
        10,000 lines through the search filter."""
        import re

        import ipywidgets as w

        pattern = self.log_search.value
        try:
            rx = re.compile(pattern) if pattern else None
        except re.error:
            rx = re.compile(re.escape(pattern))
        if rebuild:
            self._log_line = -1
            self._log_chunks = []
        rows = [r for r in self.run.logs(LOG_LINES) if r["line"] > self._log_line]
        if not rows and not rebuild:
            return
        if rows:
            self._log_line = rows[-1]["line"]
        for r in rows:
            if rx is not None and not rx.search(r["text"]):
                continue
            colour = "#b31d28" if r["stream"] == "stderr" else "inherit"
            line = f"<span style='color:{colour}'>{_e(r['text'])}</span>"
            if not self._log_chunks or len(self._log_chunks[-1]) >= LOG_CHUNK:
                self._log_chunks.append([])
            self._log_chunks[-1].append(line)
        while sum(len(c) for c in self._log_chunks) > LOG_LINES:
            self._log_chunks.pop(0)
        pre = "<pre style='margin:0;font-size:12px;line-height:1.35'>{}</pre>"
        children = list(self.log_box.children)
        if rebuild or not self._log_chunks or len(children) > len(self._log_chunks):
            children = [w.HTML(pre.format("\n".join(c))) for c in self._log_chunks]
        else:
            first = max(0, len(children) - 1)  # the old last chunk may have grown; later ones are new
            children += [w.HTML() for _ in range(len(self._log_chunks) - len(children))]
            for i in range(first, len(self._log_chunks)):
                children[i].value = pre.format("\n".join(self._log_chunks[i]))
        if not self._log_chunks:
            children = [w.HTML(_no_output_html(self.run))]
        self.log_box.children = children

    def refresh_files(self) -> None:
        files = self.run.files()
        rows = "".join(f"<tr><td style='padding:1px 12px 1px 0'>{_e(f['name'])}</td>"
                       f"<td style='text-align:right'>{_e(_size(f['size']))}</td></tr>" for f in files)
        self.files_html.value = (f"<table style='font-size:13px'><tr><th style='text-align:left'>name</th>"
                                 f"<th>size</th></tr>{rows}</table>" if files else "<i>no files</i>")
        self.file_select.options = [f["name"] for f in files]

    def _refresh_artifacts(self, arts: dict[str, Any]) -> None:
        blocks = []
        for direction, title in (("used", "Inputs"), ("logged", "Outputs")):
            rows = []
            for qname in arts.get(direction) or []:
                try:
                    art = self.run.api.artifact(qname)
                    rows.append((qname, f"{art.type} · {art.file_count} files · {_size(art.size)} · "
                                        f"sha256 {str(art.digest)[:12]} · aliases {', '.join(art.aliases)}"))
                except Exception as exc:  # noqa: BLE001 - a deleted artifact still shows its name
                    rows.append((qname, f"not readable: {exc}"))
            blocks.append(f"<h4>{title}</h4>" + _kv_table(rows, "none"))
        self.artifacts.value = "<div style='font-family:sans-serif'>" + "".join(blocks) + "</div>"

    def refresh_execution(self) -> None:
        run = self.run
        meta = run.metadata
        git = meta.get("git") or {}
        rows = [("repository", git.get("remote_url") or git.get("root")), ("branch", git.get("branch")),
                ("commit", git.get("commit")), ("script", meta.get("program")), ("working directory", meta.get("cwd")),
                ("command", meta.get("command"))]
        parts = ["<div style='font-family:sans-serif'><h4>Source</h4>",
                 _kv_table([(k, v) for k, v in rows if v])]
        diff = self._read_file("diff.patch")
        parts.append("<h4>Uncommitted changes</h4>" + (diff_html(diff) if diff else "<i>none</i>"))
        for group, values in run.config_groups.items():
            parts.append(f"<h4>Hyperparameters: {_e(group)}</h4>" + _kv_table(static.flat_items(values)))
        for name, obj in run.config_objects.items():
            text = obj if isinstance(obj, str) else json.dumps(obj, indent=2)
            parts.append(f"<h4>Configuration object: {_e(name)}</h4><pre style='font-size:12px'>{_e(text)}</pre>")
        parts.append("<h4>User properties</h4>" + _kv_table(sorted(run.user_properties.items()), "none"))
        reqs = self._read_file("requirements.txt")
        parts.append("<h4>Installed packages</h4>" + (
            f"<pre style='max-height:200px;overflow:auto;font-size:12px'>{_e(reqs)}</pre>" if reqs else "<i>not recorded</i>"))
        self.execution_html.value = "".join(parts) + "</div>"

    def _read_file(self, name: str) -> str:
        try:
            with open(self.run.file(name), encoding="utf-8", errors="replace") as fh:
                return fh.read(2_000_000)
        except Exception:  # noqa: BLE001 - absent: nothing to show
            return ""

    # --- edits and downloads ------------------------------------------------------------------
    def save_edits(self) -> None:
        """Write the notes and tags fields to the run (through the live run while it runs)."""
        notes, tags = self.notes.value, list(self.tags.value)
        if self.live is not None and is_live(self.live.state):
            self.live.notes = notes
            self.live.tags = tags
        else:
            self.run.set(notes=notes, tags=tags)
        self.run.refresh()
        self.refresh_overview()

    def set_property(self, key: str, value: str) -> None:
        """Set (or, with an empty value, remove) a user property, as in ClearML's Execution tab."""
        key = key.strip()
        if not key:
            return
        props = {key: value if value != "" else None}
        if self.live is not None and is_live(self.live.state):
            self.live.set_user_properties(**props)
        else:
            self.run.set(user_properties=props)
        self.run.refresh()
        self.refresh_execution()

    def download_file(self, name: str | None) -> None:
        if not name:
            return
        path = self.run.file(name)
        size = os.path.getsize(path)
        if size > DOWNLOAD_MAX:
            self.file_link.value = f"<span>{_e(_size(size))}: too big to download here; it is at {_e(path)}</span>"
            return
        with open(path, "rb") as fh:
            self._link_text(self.file_link, os.path.basename(name), fh.read())

    @staticmethod
    def _link_text(target: Any, name: str, data: bytes) -> None:
        import base64

        href = "data:application/octet-stream;base64," + base64.b64encode(data).decode()
        target.value = f"<a download='{_e(name)}' href='{href}'>save {_e(name)} ({_e(_size(len(data)))})</a>"

    def report_error(self, exc: BaseException) -> None:
        """Record a failure to update the page (``panel.errors``) and warn once per kind."""
        msg = f"{type(exc).__name__}: {exc}"
        self.errors.append(msg)
        from tracker._report import Reporter

        if self._reporter is None:
            self._reporter = Reporter(False, f"run page {self.run.path}")
        self._reporter.background_problem(type(exc).__name__, f"the page could not update: {msg}")

    def close(self) -> None:
        from tracker.ui import live

        self.closed = True
        live.unregister(self)
        self.charts.close()
        self.system.close()
        self.widget.close()


def _size(n: int | float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def display_run(run: Any, live: Any = None, height: int = 420, hidden: bool = False) -> RunPanel:
    """Show a run's page below the cell (and its static snapshot after it); start live updates
    while the run is being written. Returns the panel."""
    from tracker.ui import live as live_mod
    from tracker.ui import snapshot

    t0 = time.perf_counter()
    panel = RunPanel(run, live=live, height=height)
    panel.build_seconds = time.perf_counter() - t0
    if hidden:
        return panel
    from IPython.display import display

    display(panel.widget)
    panel.shown = True
    snap = snapshot.run_snapshot(run)
    handle = display(snap, raw=True, display_id=True)
    panel.snapshot_handle = handle
    if is_live(run.state):
        live_mod.register(panel)
    return panel
