"""jupyter_server extension that closes the browser's download paths inside a workspace.

The UI buttons are also switched off (page_config.json), but that alone is cosmetic: the server-side
handlers are what a script in the browser would call, so they answer 403 here.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from tornado import web

MESSAGE = ("Downloads are disabled in the enclave. Results leave only through a reviewed export request. / "
           "安全环境中禁止下载，结果只能通过审核后的导出申请带出。")

BLOCKED_PATHS = [r"/files/.*", r"/nbconvert/.*", r"/view/.*"]


class BlockedHandler(JupyterHandler):
    """Answers every method with 403 and a message saying why."""

    def prepare(self) -> None:
        raise web.HTTPError(403, MESSAGE)

    def initialize(self, **_kwargs: Any) -> None:  # accepts files_handler_params
        pass


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "enclave_lockdown"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from jupyter_server.utils import url_path_join

    base = serverapp.web_app.settings["base_url"]
    # add_handlers puts these rules ahead of the server's own, so they win.
    serverapp.web_app.add_handlers(".*$", [(url_path_join(base, p), BlockedHandler) for p in BLOCKED_PATHS])
    serverapp.log.info("enclave_lockdown: download paths closed: %s", ", ".join(BLOCKED_PATHS))
