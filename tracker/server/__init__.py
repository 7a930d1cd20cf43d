"""tracker's Jupyter Server extension.

Enabled by the ``jupyter_server_config.d/tracker.json`` file that the wheel installs. It serves, with
authentication:

- the BokehJS files of the installed ``bokeh`` package once per page (the lab extension in
  ``jupyter_extension/`` loads them), so run pages render with no network and no megabytes inlined
  in notebooks, and the JavaScript always matches the Python side;
- the REST endpoints of docs/jupyter.md under ``<base_url>tracker/api/`` (:mod:`.routes`), over
  one :class:`~tracker.api.public.Api` of the store root set by :class:`TrackerExtension`.
"""

from __future__ import annotations

import os
from typing import Any

from traitlets import Unicode
from traitlets.config import Configurable


class TrackerExtension(Configurable):
    """The server extension's settings: ``c.TrackerExtension.store_dir = "..."`` in
    ``jupyter_server_config.py``, or ``--TrackerExtension.store_dir=...`` on the command line."""

    store_dir = Unicode(
        "",
        help=(
            "The store the REST endpoints read. Empty: what a notebook in the server's root folder "
            "would use (TRACKER_DIR, tracker.toml, else ./tracker-runs). A relative path is taken "
            "from the server's root folder."
        ),
    ).tag(config=True)

    def store_root(self, root_dir: str) -> str:
        """The absolute store root for a server whose root folder is ``root_dir``."""
        folder = os.path.abspath(os.path.expanduser(root_dir or os.getcwd()))
        configured = self.store_dir
        if not configured:
            from tracker.settings import Settings

            configured = Settings.load(cwd=folder).dir or "tracker-runs"
        if configured.lower().startswith("s3://"):
            return "s3://" + configured[5:].strip("/")  # an object store: read through its local mirror
        return os.path.realpath(os.path.join(folder, os.path.expanduser(configured)))


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "tracker.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "tracker-jupyter"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from tracker.api.public import Api
    from tracker.errors import TrackerError

    from .handlers import handlers
    from .routes import routes

    web_app = serverapp.web_app
    base_url = web_app.settings["base_url"]
    web_app.add_handlers(".*$", handlers(base_url) + routes(base_url))
    serverapp.log.info("tracker: BokehJS served from %stracker/bokehjs/", base_url)
    try:
        root = TrackerExtension(parent=serverapp).store_root(serverapp.root_dir)
        web_app.settings["tracker"] = Api(root)  # the one core object the routes read through
    except TrackerError as exc:  # a broken tracker.toml: BokehJS still served, each route says why
        web_app.settings["tracker"] = None
        web_app.settings["tracker_error"] = str(exc)
        serverapp.log.error("tracker: the REST endpoints have no store: %s", exc)
        return
    serverapp.log.info("tracker: REST endpoints at %stracker/api/ over the store %s", base_url, root)


# Older Jupyter Server releases look for this name.
load_jupyter_server_extension = _load_jupyter_server_extension
