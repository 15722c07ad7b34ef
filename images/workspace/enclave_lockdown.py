"""jupyter_server extension that closes the browser's download paths inside a workspace, and its upload path.

The UI buttons are also switched off (page_config.json, overrides.json), but that alone is cosmetic: the
server-side handlers are what a script in the browser would call, so they answer 403 here, with a page that
says in the user's language how results do leave (an export request), instead of a bare "Access denied".
Files come in only through the import airlock (checked on the governance pages): the contents API refuses
what JupyterLab's upload button and drag-and-drop send (base64 file bodies, chunked or not), says where to
go instead, and reports each refusal to the hub, which records it in the audit trail.
"""

from __future__ import annotations

import asyncio
import contextvars
import html
import json
import os
import urllib.request
from typing import Any

from enclave_messages import pick_language
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado import web

BLOCKED_PATHS = [r"/files/.*", r"/nbconvert/.*", r"/view/.*"]

TEXT = {
    "en": {
        "title": "Downloads go through export requests",
        "body": "Files cannot be downloaded from an enclave workspace: health data stays in the machine room. "
                "Results leave only through an export request, which two reviewers check.",
        "how": "In a terminal: <code translate=\"no\">enclave-export request results/table.csv "
               "-j \"why it is needed\"</code>; "
               "in a notebook: <code translate=\"no\">from enclave_export import request_export</code>.",
        "link": "Your export requests and their downloads",
        "back": "Back to JupyterLab",
    },
    "zh-CN": {
        "title": "下载需通过导出申请",
        "body": "无法从安全工作区下载文件：健康数据不出机房。结果只能通过导出申请带出，并由两名审核员检查。",
        "how": "在终端中：<code translate=\"no\">enclave-export request results/table.csv -j \"用途说明\"</code>；"
               "在笔记本中：<code translate=\"no\">from enclave_export import request_export</code>。",
        "link": "我的导出申请及其下载",
        "back": "返回 JupyterLab",
    },
}
MESSAGE = TEXT["en"]["body"] + " / " + TEXT["zh-CN"]["body"]  # for logs and non-browser clients


def blocked_page(lang: str, base_url: str) -> str:
    t = TEXT[lang]
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{t["title"]}</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
            '<body style="font-family: sans-serif; max-width: 44em; margin: 3em auto; line-height: 1.5">'
            f'<main><h1 id="enclave-blocked">{t["title"]}</h1><p>{t["body"]}</p><p>{t["how"]}</p>'
            f'<p><a id="exports-link" href="/services/egress-review/">{t["link"]}</a></p>'
            f'<p><a href="{html.escape(base_url)}lab">{t["back"]}</a></p></main></body></html>')


class BlockedHandler(JupyterHandler):
    """Answers every method with 403 and a page saying why and what to do instead."""

    def initialize(self, **_kwargs: Any) -> None:  # accepts files_handler_params
        pass

    def prepare(self) -> None:
        self.set_status(403)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(blocked_page(pick_language(self.request.headers.get("Accept-Language", "")), self.base_url))


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "enclave_lockdown"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from jupyter_server.utils import url_path_join

    base = serverapp.web_app.settings["base_url"]
    # add_handlers puts these rules ahead of the server's own, so they win.
    serverapp.web_app.add_handlers(".*$", [(url_path_join(base, p), BlockedHandler) for p in BLOCKED_PATHS])
    serverapp.log.info("enclave_lockdown: download paths closed: %s", ", ".join(BLOCKED_PATHS))


IMPORT_PAGE = "/services/governance/imports"
UPLOAD_TEXT = {
    "en": "Files cannot be uploaded into an enclave workspace. Bring code, code lists and reference tables in "
          f"through an import request ({IMPORT_PAGE}): they are checked for viruses and personal data, and "
          "appear read-only in /workspace/imports.",
    "zh-CN": f"不能向安全工作区上传文件。代码、编码表和参考表请通过导入申请（{IMPORT_PAGE}）带入："
             "系统会检查病毒和个人信息，通过后以只读方式出现在 /workspace/imports 中。",
}
# Where the hub records a refused upload (hub/lab_uploads.py), under the hub API the server already talks to.
REPORT_PATH = "/enclave/lab-upload-refused"


def is_upload(model: Any) -> bool:
    """What JupyterLab's uploader sends: a file in base64 (a chunk of one, for big files). The editor saves
    text files as text and notebooks as JSON: those pass."""
    return isinstance(model, dict) and model.get("type") == "file" and (
        model.get("format") == "base64" or "chunk" in model)


def _report(path: str, size: int) -> None:
    """Tell the hub (with this server's own token) so the refusal is in the audit trail; best effort."""
    url, token = os.environ.get("JUPYTERHUB_API_URL", ""), os.environ.get("JUPYTERHUB_API_TOKEN", "")
    if not url or not token:
        return
    req = urllib.request.Request(url.rstrip("/") + REPORT_PATH, method="POST",
                                 data=json.dumps({"path": path, "size": size}).encode(),
                                 headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5):  # noqa: S310 - the hub API URL the hub itself gave
        pass


# Set while the manager copies a file already in the workspace (the file browser's copy, duplicate, paste):
# the copy goes through save() as base64 for a binary file, but nothing enters from outside.
_COPYING: contextvars.ContextVar[bool] = contextvars.ContextVar("enclave_copying", default=False)


class EnclaveContentsManager(AsyncLargeFileManager):
    """The server's contents manager, refusing uploads: the import airlock is the only way in."""

    async def copy(self, from_path: str, to_path: str | None = None) -> dict[str, Any]:
        token = _COPYING.set(True)
        try:
            return await super().copy(from_path, to_path)
        finally:
            _COPYING.reset(token)

    async def save(self, model: dict[str, Any], path: str = "") -> dict[str, Any]:
        if is_upload(model) and not _COPYING.get():
            size = len(model.get("content") or "") * 3 // 4
            self.log.warning("enclave_lockdown: refused an upload into %s (%d bytes)", path, size)
            try:
                await asyncio.to_thread(_report, path, size)
            except Exception as exc:  # noqa: BLE001 - refused either way; the log above keeps it
                self.log.warning("enclave_lockdown: could not report the refused upload: %s", exc)
            lang = "zh-CN" if os.environ.get("ENCLAVE_LANG") == "zh-CN" else "en"
            raise web.HTTPError(403, UPLOAD_TEXT[lang])
        return await super().save(model, path)
