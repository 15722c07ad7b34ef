"""`enclave-packages`: ask for a Python package the enclave's index does not have, and follow the requests.

A package steward decides; once approved, its checked wheels are in the enclave's index and `pip install`
works at once (no restart). Standard library only: it talks to the package service on the host
(ENCLAVE_PACKAGES_URL, set by the hub) with the workspace server's own token, and the service accepts the
call only from this container, for this container's project.

Terminal:  enclave-packages request NAME[==VERSION] --reason "what it is for"
           enclave-packages list        (--json for the service's answer)
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from enclave_messages import call_service, language

WORDS = {
    "en": {"no_service": "there is no package service here: enclave-packages works inside an enclave workspace",
           "unreachable": "the package service does not answer ({why}); try again in a minute",
           "cut_off": "the package service stopped before answering; 'enclave-packages list' shows whether the "
                      "request was made",
           "http": "the package service answered HTTP {code} ({reason}) without saying why; try again, and tell the "
                   "enclave administrators if it stays so",
           "not_json": "the package service answered with something that is not JSON; tell the enclave "
                       "administrators",
           "asked": "package request {id} ({spec}) waits for a package steward; follow it with enclave-packages list",
           "none": "no package requests yet in this project",
           "approved_hint": "approved: pip install {name}=={version}",
           "not_fetched": "approved, but not yet in the index: {why}",
           "h_description": "Ask for Python packages for your project; a package steward decides. Approved packages "
                            "install with pip from the enclave's own index.",
           "h_json": "print the service's answer as JSON",
           "h_request": "ask for a package (NAME or NAME==VERSION)", "h_spec": "NAME or NAME==VERSION",
           "h_reason": "what the package is for in this project (the steward reads it)",
           "h_list": "the project's package requests and their decisions"},
    "zh-CN": {"no_service": "这里没有软件包服务：enclave-packages 只能在 Enclave 工作区内使用",
              "unreachable": "软件包服务没有响应（{why}）；请一分钟后重试",
              "cut_off": "软件包服务在答复前停止；用 enclave-packages list 查看申请是否已提交",
              "http": "软件包服务返回 HTTP {code}（{reason}），但没有说明原因；"
                      "请重试，如果一直如此请告知 Enclave 管理员",
              "not_json": "软件包服务的答复不是 JSON；请告知 Enclave 管理员",
              "asked": "软件包申请 {id}（{spec}）正等待软件包管理员审批；用 enclave-packages list 查看进度",
              "none": "本项目还没有软件包申请",
              "approved_hint": "已批准：pip install {name}=={version}",
              "not_fetched": "已批准，但尚未进入索引：{why}",
              "h_description": "为项目申请 Python 软件包，由软件包管理员审批。"
                               "批准的软件包可用 pip 从 Enclave 自己的索引安装。",
              "h_json": "以 JSON 输出服务的答复",
              "h_request": "申请一个软件包（NAME 或 NAME==VERSION）", "h_spec": "NAME 或 NAME==VERSION",
              "h_reason": "该软件包在本项目中的用途（管理员会阅读）",
              "h_list": "本项目的软件包申请及审批结果"},
}
STATES_ZH = {"requested": "待审批", "approved": "已批准", "refused": "已拒绝"}


def _w() -> dict[str, str]:
    return WORDS[language()]


class PackageRequestError(Exception):
    """A call the package service refused or could not answer; the message is the reason, in the user's
    language. In a notebook IPython prints `_render_traceback_` (one sentence) instead of a traceback."""

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


def call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One call to the package service with the workspace's own token; a refusal is a PackageRequestError."""
    return call_service("ENCLAVE_PACKAGES_URL", method, path, body, timeout=120, words=_w(), error=PackageRequestError)


def request(spec: str, reason: str) -> dict[str, Any]:
    """Ask for `spec` (NAME or NAME==VERSION) for this workspace's project, saying what it is for."""
    result: dict[str, Any] = call("POST", "api/requests", {"spec": spec, "reason": reason})
    return result


def requests() -> list[dict[str, Any]]:
    """The project's package requests, oldest first, with their state and the steward's reason."""
    result: list[dict[str, Any]] = call("GET", "api/requests")
    return result


def _line(r: dict[str, Any]) -> str:
    state = str(r.get("state"))
    shown = STATES_ZH.get(state, state) if language() == "zh-CN" else state
    spec = f"{r.get('name')}{'==' + str(r['version']) if r.get('version') else ''}"
    line = f"{r.get('id'):>5}  {shown:<9} {spec:<28} {r.get('requester')}  {r.get('reason')}"
    if state == "approved":
        note = (_w()["approved_hint"].format(name=r.get("name"), version=r.get("version")) if r.get("fetch") == "ok"
                else _w()["not_fetched"].format(why=r.get("fetch_text") or r.get("fetch")))
        line += f"\n       {note}"
    if r.get("decision_reason"):
        line += f"\n       {r.get('decided_by')}: {r.get('decision_reason')}"
    return line


def main(argv: list[str] | None = None) -> int:
    w = _w()
    p = argparse.ArgumentParser(prog="enclave-packages", description=w["h_description"])
    p.add_argument("--json", action="store_true", help=w["h_json"])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("request", help=w["h_request"])
    r.add_argument("spec", metavar="NAME[==VERSION]", help=w["h_spec"])
    r.add_argument("--reason", required=True, help=w["h_reason"])
    sub.add_parser("list", help=w["h_list"])
    a = p.parse_args(argv)
    try:
        result: Any = request(a.spec, a.reason) if a.cmd == "request" else requests()
    except PackageRequestError as exc:
        print(json.dumps({"error": str(exc)}, ensure_ascii=False) if a.json else f"enclave-packages: {exc}",
              file=sys.stderr)
        return 2
    if a.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    elif a.cmd == "request":
        print(w["asked"].format(id=result.get("id"), spec=a.spec.strip()))
    else:
        print("\n".join(_line(x) for x in result) or w["none"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
