"""The REST routes of docs/jupyter.md: ``GET <base_url>tracker/api/...``, JSON, logged-in users only.

A thin table over one core object per server: the :class:`~tracker.api.public.Api` of the
configured store root, kept in ``web_app.settings["tracker"]``. Each handler parses its query
arguments and calls a function of :mod:`tracker.server.answers` on a worker thread (a 10 M-point
series or 10,000 runs never stall the server's event loop); every error, tracker's or the
request's, is answered in one place (:meth:`TrackerHandler.write_error`) as ``{"error", "type"}``
with the status of :data:`tracker.errors.HTTP_STATUS`.
"""

from __future__ import annotations

import math
import mimetypes
import os
import re
from collections.abc import Callable
from http.client import responses
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.ioloop import IOLoop

from tracker.errors import StoreError, UsageError, http_status
from tracker.server import answers

if TYPE_CHECKING:
    from tracker.api.public import Api

#: Sent with every file of a run: the file is its own sandboxed document (an opaque origin, no
#: script runs), so logged HTML or SVG cannot reach the Lab page, its cookies or the server's API.
FILE_CSP = ("sandbox; default-src 'none'; img-src 'self' data: blob:; media-src 'self' data: blob:; "
            "style-src 'unsafe-inline' data:; font-src data:; frame-ancestors 'self'")
#: Types that :mod:`mimetypes` does not know (or gets wrong) for the files runs hold.
CONTENT_TYPES = {
    ".parquet": "application/vnd.apache.parquet",
    ".ipynb": "application/x-ipynb+json",
    ".md": "text/markdown",
    ".log": "text/plain",
    ".patch": "text/x-diff",
    ".diff": "text/x-diff",
    ".yaml": "text/yaml",
    ".yml": "text/yaml",
    ".toml": "text/plain",
    ".npy": "application/octet-stream",
    ".py": "text/x-python",
    ".webm": "video/webm",
    ".wav": "audio/wav",
}
CHUNK = 1 << 20


def content_type(name: str) -> str:
    """The Content-Type of a run's file, from its extension (text as UTF-8)."""
    ext = os.path.splitext(name)[1].lower()
    kind = CONTENT_TYPES.get(ext) or mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind in ("application/json", "image/svg+xml"):
        kind += "; charset=utf-8"
    return kind


class TrackerHandler(APIHandler):
    """Base of the REST handlers: the server's :class:`Api`, query arguments, errors as JSON."""

    @property
    def api(self) -> Api:
        api = self.settings.get("tracker")
        if api is None:
            raise StoreError(f"the tracker extension has no store: {self.settings.get('tracker_error')}")
        return api  # type: ignore[no-any-return]

    async def answer(self, make: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Answer ``make(self.api, *args, **kwargs)`` as JSON, made (and encoded) on a worker thread."""
        api = self.api
        body = await IOLoop.current().run_in_executor(None, lambda: answers.dumps(make(api, *args, **kwargs)))
        self.set_header("Cache-Control", "no-store")
        self.finish(body)

    # --- query arguments: a bad one is a UsageError (400) -----------------------------------------
    def arg(self, name: str) -> str | None:
        value = self.get_argument(name, None)
        return value if value not in (None, "") else None

    def int_arg(self, name: str) -> int | None:
        value = self.arg(name)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise UsageError(f"{name}={value!r} is not an integer") from None

    def float_arg(self, name: str) -> float | None:
        value = self.arg(name)
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            raise UsageError(f"{name}={value!r} is not a number") from None

    # --- errors -----------------------------------------------------------------------------------
    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error of a route: ``{"error", "type"}``, the status from ``HTTP_STATUS`` (a
        Tornado ``HTTPError``, e.g. 403 without a login, keeps its own)."""
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        if isinstance(exc, web.HTTPError):
            status = exc.status_code
            message = exc.log_message % exc.args if exc.log_message and exc.args else exc.log_message
            error = {"error": message or exc.reason or responses.get(status, "error"), "type": "HTTPError"}
        elif exc is not None:
            status = http_status(exc)
            error = {"error": str(exc) or type(exc).__name__, "type": type(exc).__name__}
        else:
            status = status_code
            error = {"error": responses.get(status, "error"), "type": "HTTPError"}
        self.set_status(status)
        self.set_header("Cache-Control", "no-store")
        self.finish(answers.dumps(error))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """A tracker error that is the client's (4xx) is one log line, not a traceback."""
        if value is not None and not isinstance(value, web.HTTPError) and http_status(value) < 500:
            self.log.info("tracker: %s %s: %s: %s", self.request.method, self.request.uri, typ.__name__, value)
            return
        super().log_exception(typ, value, tb)


class ProjectsHandler(TrackerHandler):
    """``projects``: every project with its run counts and last activity."""

    @web.authenticated
    async def get(self) -> None:
        await self.answer(answers.projects)


class RunsHandler(TrackerHandler):
    """``projects/<project>/runs?filter=&sort=&since=&limit=``."""

    @web.authenticated
    async def get(self, project: str) -> None:
        limit = self.int_arg("limit")
        if limit is not None and limit < 0:
            raise UsageError(f"limit={limit} must be at least 0")
        since = self.float_arg("since")
        if since is not None and not math.isfinite(since):
            raise UsageError(f"since={since} is not a time")
        await self.answer(answers.runs, project, filter=self.get_argument("filter", None),
                          sort=self.arg("sort"), since=since, limit=limit)


class RunHandler(TrackerHandler):
    """``runs/<project>/<id>``: the run with its metadata, metrics, config groups, artifacts, keys."""

    @web.authenticated
    async def get(self, project: str, run_id: str) -> None:
        await self.answer(answers.run, project, run_id)


class HistoryHandler(TrackerHandler):
    """``runs/<project>/<id>/history`` and ``.../system``: downsampled series, optionally zoomed
    (``stream=system`` on ``history`` is ``system``)."""

    def initialize(self, stream: str) -> None:
        self.stream = stream

    @web.authenticated
    async def get(self, project: str, run_id: str) -> None:
        keys = [k for value in self.get_arguments("keys") for k in value.split(",") if k]
        stream = self.arg("stream") or self.stream
        if stream not in ("default", "system"):
            raise UsageError(f"stream={stream!r} is not 'default' or 'system'")
        await self.answer(
            answers.history, project, run_id, stream=stream, keys=keys or None,
            samples=self.int_arg("samples"), x=self.arg("x"), x_min=self.float_arg("x_min"),
            x_max=self.float_arg("x_max"), min_step=self.int_arg("min_step"), max_step=self.int_arg("max_step"),
        )


class LogsHandler(TrackerHandler):
    """``runs/<project>/<id>/logs?tail=N``."""

    @web.authenticated
    async def get(self, project: str, run_id: str) -> None:
        await self.answer(answers.logs, project, run_id, tail=self.int_arg("tail"))


class MediaHandler(TrackerHandler):
    """``runs/<project>/<id>/media?key=&step=``: the media index, each item with its file's URL."""

    @web.authenticated
    async def get(self, project: str, run_id: str) -> None:
        base = url_path_join(self.base_url, "tracker", "api", "runs", quote(project, safe=""),
                             quote(run_id, safe=""), "files")

        def file_url(name: str) -> str:
            return url_path_join(base, quote(name, safe="/"))

        await self.answer(answers.media, project, run_id, key=self.arg("key"), step=self.int_arg("step"),
                          file_url=file_url)


class FilesHandler(TrackerHandler):
    """``runs/<project>/<id>/files``: the run's files, names and sizes."""

    @web.authenticated
    async def get(self, project: str, run_id: str) -> None:
        await self.answer(answers.files, project, run_id)


class FileHandler(TrackerHandler):
    """``runs/<project>/<id>/files/<path>``: one file's bytes, confined to the run's ``files/``.

    Refused with 404, like a missing file: an encoded separator (``%2F``, ``%5C``) or NUL in the
    raw path; after decoding, an empty, ``.`` or ``..`` part, an absolute path or a backslash; a
    path whose real location (symlinks followed) is outside the run's ``files/``. Every file is
    sent with :data:`FILE_CSP` and ``X-Content-Type-Options: nosniff``.
    """

    def initialize(self, pattern: str) -> None:
        self.pattern = re.compile(pattern + "$")

    @property
    def content_security_policy(self) -> str:
        return FILE_CSP

    @web.authenticated
    async def get(self, project: str, run_id: str, name: str) -> None:
        match = self.pattern.match(self.request.path)
        raw = match.group(3).lower() if match else "%2f"
        if "%2f" in raw or "%5c" in raw or "%00" in raw:
            raise FileNotFoundError(f"run {project}/{run_id} has no file {name!r}")
        api = self.api
        path = await IOLoop.current().run_in_executor(None, answers.file_path, api, project, run_id, name)
        self.set_header("Content-Type", content_type(path))
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "private, no-cache")
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size <= CHUNK:
                self.finish(fh.read(), set_content_type=content_type(path))
                return
            self.set_header("Content-Length", size)
            while chunk := fh.read(CHUNK):
                self.write(chunk)
                await self.flush()
        self.finish(set_content_type=content_type(path))


class ArtifactsHandler(TrackerHandler):
    """``runs/<project>/<id>/artifacts``: the artifact versions the run used and logged."""

    @web.authenticated
    async def get(self, project: str, run_id: str) -> None:
        await self.answer(answers.artifacts, project, run_id)


def routes(base_url: str) -> list[tuple[Any, ...]]:
    """The route table: ``(pattern, handler[, kwargs])`` under ``<base_url>tracker/api/``."""
    api = url_path_join(base_url, "tracker", "api")
    name = "([^/]+)"
    run = url_path_join(api, "runs", name, name)
    file_pattern = run + "/files/(.*)"
    return [
        (url_path_join(api, "projects"), ProjectsHandler),
        (url_path_join(api, "projects", name, "runs"), RunsHandler),
        (run, RunHandler),
        (run + "/history", HistoryHandler, {"stream": "default"}),
        (run + "/system", HistoryHandler, {"stream": "system"}),
        (run + "/logs", LogsHandler),
        (run + "/media", MediaHandler),
        (run + "/files", FilesHandler),
        (file_pattern, FileHandler, {"pattern": file_pattern}),
        (run + "/artifacts", ArtifactsHandler),
    ]
