"""tracker's Jupyter Server extension.

Enabled by the ``jupyter_server_config.d/tracker.json`` file that the wheel installs. It serves, with
authentication, the BokehJS files of the installed ``bokeh`` package once per page (the lab
extension in ``jupyter_extension/`` loads them), so run pages render with no network and no
megabytes inlined in notebooks, and the JavaScript always matches the Python side.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "tracker.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "tracker-jupyter"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from .handlers import handlers

    web_app = serverapp.web_app
    base_url = web_app.settings["base_url"]
    web_app.add_handlers(".*$", handlers(base_url))
    serverapp.log.info("tracker: BokehJS served from %stracker/bokehjs/", base_url)


# Older Jupyter Server releases look for this name.
load_jupyter_server_extension = _load_jupyter_server_extension
