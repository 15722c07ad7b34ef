"""The hub's record of uploads JupyterLab refused: the workspace's contents manager (images/workspace/
enclave_lockdown.py) refuses every upload and reports it here with the server's own token, so the attempt
is in the audit trail (who, which project, which name, how big), not only in the container's log.

The workspace reaches only the hub API among the hub's ports; this handler is one more route under it.
"""

from __future__ import annotations

from typing import Any

from jupyterhub.apihandlers.base import APIHandler
from tornado import web

from enclave import audit
from enclave.audit import AuditAction
from enclave.db import session_scope

ROUTE = r"/api/enclave/lab-upload-refused"  # under the hub's prefix: /hub/api/enclave/lab-upload-refused


def refused_upload(body: Any) -> tuple[str, int]:
    """The reported name and size, bounded: the report comes from inside a workspace and is not trusted."""
    if not isinstance(body, dict):
        raise web.HTTPError(400, "expected a JSON object with path and size")
    path, size = body.get("path", ""), body.get("size", 0)
    return str(path)[:300], int(size) if isinstance(size, int) and size >= 0 else 0


class LabUploadRefused(APIHandler):
    """POST {path, size} with a user's server token: recorded as that user's refused upload."""

    async def post(self) -> None:
        user = self.current_user
        if user is None or getattr(user, "kind", "user") != "user":
            raise web.HTTPError(403, "only a user's server reports its refused uploads")
        path, size = refused_upload(self.get_json_body())
        project = getattr(user.spawner, "project", "") or None
        with session_scope() as s:
            audit.record(s, user.name, AuditAction.IMPORT_LAB_UPLOAD_REFUSED, project=project, target=path,
                         size=size, reason="JupyterLab uploads are closed: files come in through the import airlock")
        self.set_status(204)
        self.finish()


def extra_handlers() -> list[tuple[str, type[APIHandler]]]:
    return [(ROUTE, LabUploadRefused)]
