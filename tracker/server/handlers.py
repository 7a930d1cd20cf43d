"""Request handlers of the tracker server extension. Every one requires a logged-in user."""

from __future__ import annotations

import os
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

#: The parts of BokehJS a run page uses, in load order (the core registers the global first).
BOKEH_FILES = ("bokeh.min.js", "bokeh-gl.min.js", "bokeh-widgets.min.js", "bokeh-tables.min.js", "bokeh-api.min.js")


def bokeh_js_dir() -> str:
    import bokeh  # noqa: TID253 - the server process, not the user's kernel

    return os.path.join(os.path.dirname(bokeh.__file__), "server", "static", "js")


def bokeh_manifest() -> dict[str, Any]:
    import bokeh  # noqa: TID253

    return {"version": bokeh.__version__, "files": list(BOKEH_FILES)}


class BokehManifestHandler(JupyterHandler):
    """``GET tracker/bokehjs/manifest.json``: the BokehJS version and the files to load, in order."""

    @web.authenticated
    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-cache")
        self.finish(bokeh_manifest())


class BokehFileHandler(JupyterHandler):
    """``GET tracker/bokehjs/<file>``: one of :data:`BOKEH_FILES`, nothing else (no path is built
    from the request), cached by the browser for as long as the version in ``?v=`` stays."""

    @web.authenticated
    def get(self, name: str) -> None:
        if name not in BOKEH_FILES:
            raise web.HTTPError(404)
        path = os.path.join(bokeh_js_dir(), name)
        try:
            with open(path, "rb") as f:
                body = f.read()
        except OSError as exc:
            raise web.HTTPError(404, f"BokehJS file missing from the bokeh package: {name}") from exc
        self.set_header("Content-Type", "text/javascript; charset=utf-8")
        if self.get_argument("v", None):
            self.set_header("Cache-Control", "private, max-age=31536000, immutable")
        else:
            self.set_header("Cache-Control", "no-cache")
        self.finish(body)


def handlers(base_url: str) -> list[tuple[str, type[JupyterHandler]]]:
    root = url_path_join(base_url, "tracker", "bokehjs")
    return [
        (url_path_join(root, "manifest.json"), BokehManifestHandler),
        (url_path_join(root, r"([A-Za-z0-9._-]+)"), BokehFileHandler),
    ]
