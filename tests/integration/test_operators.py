"""Operators run the enclave but do not see research data: the demo `admin` (operator role) can list users
and stop a workspace, and is refused alice's JupyterLab and a token in her name; each refusal is audited."""

from __future__ import annotations

from enclave import audit
from enclave.audit import AuditAction
from enclave.db import session_scope
from enclave_demo.data import DEMO_PROJECT
from tests.integration.conftest import Enclave, running_workspaces


def _denied(actor: str, target: str) -> list[dict]:
    with session_scope() as s:
        return [e for e in audit.query(s, action=AuditAction.ACCESS_DENIED) if e["actor"] == actor
                and e["target"] == target]


def test_an_operator_is_refused_a_researchers_server_and_tokens_and_it_is_audited(enclave: Enclave):
    before = len(_denied("admin", "alice"))
    with running_workspaces(enclave, {"alice": DEMO_PROJECT}) as running:
        assert running["alice"].open_lab().status_code == 200
        admin = enclave.login("admin")
        assert admin.api("GET", "/user").json()["admin"] is False  # never JupyterHub's admin role
        users = admin.api("GET", "/users")
        assert users.status_code == 200 and "alice" in {u["name"] for u in users.json()}  # operators read status

        lab = admin.http.get(f"{enclave.url}/user/alice/lab", timeout=60)
        assert lab.status_code == 403 and "/hub/api/oauth2/authorize" in lab.url, (lab.status_code, lab.url)
        token = admin.api("POST", "/users/alice/tokens", json={"note": "as alice"})
        assert token.status_code == 403 and "token" not in token.json(), token.text
        # JupyterHub answers "no such resource" (404, not 403) to a holder of the scope for other users only:
        # the operator reads her own tokens (`self`), never alice's
        assert admin.api("GET", "/users/alice/tokens").status_code == 404

        stop = admin.api("DELETE", "/users/alice/server")  # operators may stop a workspace
        assert stop.status_code in (202, 204), stop.text
    denied = _denied("admin", "alice")[before:]
    assert {e["details"]["path"] for e in denied} >= {"/hub/api/oauth2/authorize", "/hub/api/users/alice/tokens"}
    # both refusals of her tokens: the POST answered 403 and the GET answered 404
    assert {(e["details"]["method"], e["details"].get("status")) for e in denied
            if e["details"]["path"] == "/hub/api/users/alice/tokens"} == {("POST", 403), ("GET", 404)}
