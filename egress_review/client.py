"""`enclave-export`: ask for results to leave the enclave, follow the request, download the release.

Standard library only: the same file is the command inside every workspace (as `enclave_export`)
and a client on a researcher's own machine. Inside a workspace it uses the server's own token and
the service address the hub gave the container; elsewhere `--url` and `--token` (a personal token
from the hub's token page) are needed, and only there can released files be downloaded.

From a notebook:  `from enclave_export import request_export; request_export(["out/table.csv"], "why")`
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import importlib.util
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

WORKSPACE_ROOTS = ("/workspace/", "/srv/enclave/workspace/")
TIMEOUT = 600  # seconds: a large file's checks take a while; past this the call is given up

# Every sentence this client says itself, in both languages. Refusals from the service are not here: the
# service says them in the language the call asks for (Accept-Language), and they are shown as they come.
SAY: dict[str, dict[str, str]] = {
    "en": {
        "no_service": "no export service: run this inside an enclave workspace, or give --url and --token",
        "http": "the export service answered HTTP {code} ({reason}) without saying why; try again, and tell the "
                "enclave administrators if it stays so",
        "not_json": "the export service answered with something that is not JSON; tell the enclave administrators",
        "unreachable": "the export service does not answer: {why}",
        "cut_off": "the export service stopped before answering ({why}); "
                   "'enclave-export list' shows whether the request was made",
        "timeout": "the export service did not answer within {seconds} s; "
                   "'enclave-export list' shows whether the request was made",
        "checksum": "{name}: checksum mismatch ({digest}), not saved",
        "inside_only": "export requests are made from inside your workspace",
        "request": "request {id} ({project}{version}): {state}", "version": ", version {n}",
        "released": ", released", "withheld": ", withheld", "reviewer": "reviewer: {comment}",
        "settled": "conflict settled: {reason}", "revise": "to revise: enclave-export request FILES -j '...' "
                                                           "--revises {id}",
        "files": "{n} file(s)",
    },
    "zh-CN": {
        "no_service": "找不到导出服务：请在 Enclave 工作区内运行，或提供 --url 和 --token",
        "http": "导出服务返回 HTTP {code}（{reason}），但没有说明原因；请重试，如果一直如此请告知 Enclave 管理员",
        "not_json": "导出服务的答复不是 JSON；请告知 Enclave 管理员",
        "unreachable": "导出服务没有响应：{why}",
        "cut_off": "导出服务在答复前停止（{why}）；用 enclave-export list 查看申请是否已提交",
        "timeout": "导出服务在 {seconds} 秒内没有答复；用 enclave-export list 查看申请是否已提交",
        "checksum": "{name}：校验和不符（{digest}），未保存",
        "inside_only": "导出申请只能在您的工作区内提交",
        "request": "导出申请 {id}（{project}{version}）：{state}", "version": "，第 {n} 版",
        "released": "，已发布", "withheld": "，未放行", "reviewer": "审核员：{comment}",
        "settled": "冲突的裁决：{reason}", "revise": "修订：enclave-export request 文件 -j '……' --revises {id}",
        "files": "{n} 个文件",
    },
}
# The service's codes (states, per-file outcomes, verdicts) as a zh-CN reader reads them; English shows the code.
CODES_ZH = {"submitted": "已提交", "in_review": "审核中", "approved": "已批准", "returned": "已退回",
            "rejected": "已拒绝", "conflicted": "审核意见冲突", "released": "已发布", "withdrawn": "已撤回",
            "revised": "已修订", "pending": "待审核", "pass": "通过", "review": "需审核", "block": "已拦截"}


def _language_rule() -> Callable[[], str]:
    """The workspace's one language rule, `enclave_messages.language` (ENCLAVE_LANG, then the locale), written once.

    In the image enclave_messages sits beside this file in site-packages (images/workspace/Dockerfile); from a
    checkout (the host's `enclave-export`, the unit tests) it is read from images/workspace/, where it lives.
    Only a lone copy of this file, with neither beside it, speaks English.
    """
    try:
        from enclave_messages import language as rule
    except ImportError:
        path = Path(__file__).resolve().parents[1] / "images" / "workspace" / "enclave_messages.py"
        spec = importlib.util.spec_from_file_location("enclave_messages", path) if path.is_file() else None
        if spec is None or spec.loader is None:
            return lambda: "en"
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        rule = module.language
    return rule  # type: ignore[no-any-return]


language = _language_rule()


def say(key: str, lang: str | None = None, **params: Any) -> str:
    """One of the client's own sentences, in `lang` (a caller's choice, as JupyterLab's) or the workspace's."""
    words = SAY.get(lang or language(), SAY["en"])
    return words[key].format(**params)


def _code(value: Any, lang: str | None) -> str:
    text = str(value)
    return CODES_ZH.get(text, text) if (lang or language()) == "zh-CN" else text


class ExportError(Exception):
    """A call refused (the service's sentence, after its HTTP status) or not answered (the client's sentence)."""


def _config(url: str | None = None, token: str | None = None, lang: str | None = None) -> tuple[str, str]:
    url = url or os.environ.get("ENCLAVE_EXPORT_URL", "")
    token = token or os.environ.get("ENCLAVE_EXPORT_TOKEN") or os.environ.get("JUPYTERHUB_API_TOKEN", "")
    if not url or not token:
        raise ExportError(say("no_service", lang))
    return url.rstrip("/") + "/", token


def _refusal(exc: urllib.error.HTTPError, lang: str | None) -> str:
    """The service's own sentence (already in the caller's language), else ours naming the bare status."""
    try:
        body = json.loads(exc.read())
        message = body.get("error") if isinstance(body, dict) else None
    except ValueError:
        message = None
    return f"{exc.code}: {message or say('http', lang, code=exc.code, reason=exc.reason)}"


def call(method: str, path: str, body: dict[str, Any] | None = None, url: str | None = None,
         token: str | None = None, raw: bool = False, lang: str | None = None) -> Any:
    """One call to the service; `lang` overrides the workspace's language (JupyterLab asks in the user's choice).

    The service is asked in that language and so refuses in it; what goes wrong on the way is said in it here.
    """
    lang = lang or language()
    base, tok = _config(url, token, lang)
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers={
        "Authorization": f"token {tok}", "Content-Type": "application/json", "Accept": "application/json",
        "Accept-Language": lang})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
            payload = resp.read()
            return (payload, dict(resp.headers)) if raw else json.loads(payload or b"null")
    except urllib.error.HTTPError as exc:
        raise ExportError(_refusal(exc, lang)) from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise ExportError(say("timeout", lang, seconds=TIMEOUT)) from None
        raise ExportError(say("unreachable", lang, why=exc.reason)) from None
    except TimeoutError:  # connected, then no answer in time
        raise ExportError(say("timeout", lang, seconds=TIMEOUT)) from None
    except (http.client.HTTPException, ConnectionError) as exc:  # it went away while working on the call
        raise ExportError(say("cut_off", lang, why=exc.__class__.__name__)) from None
    except ValueError:  # an answer, but not the service's JSON (a proxy's page, a truncated body)
        raise ExportError(say("not_json", lang)) from None


def workspace_path(path: str) -> str:
    """The path as the service sees it: relative to the project workspace (links are not resolved)."""
    full = os.path.abspath(path)
    for root in WORKSPACE_ROOTS:
        if full.startswith(root):
            return full[len(root):]
    return path


def request_export(files: list[str], justification: str, training_data: str | None = None,
                   holdout_data: str | None = None, target: str | None = None,
                   revises: int | None = None, lang: str | None = None) -> dict[str, Any]:
    """Submit files for review; returns the request with each file's automated verdict and findings.

    `revises` names a returned request: this one is its next version, and reviewers see what changed.
    `lang` is the language of the findings' sentences (default: the locale's).
    """
    body: dict[str, Any] = {"files": [workspace_path(f) for f in files], "justification": justification}
    if revises is not None:
        body["revises"] = revises
    if training_data:
        body.update({"training_data": workspace_path(training_data), "target": target,
                     "holdout_data": workspace_path(holdout_data) if holdout_data else None})
    result: dict[str, Any] = call("POST", "api/requests", body, lang=lang)
    return result


def list_requests(**kw: Any) -> list[dict[str, Any]]:
    """The user's requests in every project, newest first, each without its files (see show_request)."""
    result: list[dict[str, Any]] = call("GET", "api/requests", **kw)
    return result


def show_request(request_id: int, **kw: Any) -> dict[str, Any]:
    """One request with each file's verdict and findings, said in `lang` (a keyword for call)."""
    result: dict[str, Any] = call("GET", f"api/requests/{request_id}", **kw)
    return result


def download(request_id: int, out: Path, **kw: Any) -> list[Path]:
    """Released files and results.json, each checked against the sha256 in the release record."""
    try:
        record = json.loads(call("GET", f"api/requests/{request_id}/download/results.json", raw=True, **kw)[0])
    except ValueError:
        raise ExportError(say("not_json", kw.get("lang"))) from None
    req = call("GET", f"api/requests/{request_id}", **kw)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    expected = {f["sha256"] for f in record["files"]}
    for d in req.get("downloads", []):
        data, _headers = call("GET", f"api/requests/{request_id}/download/{d['id']}", raw=True, **kw)
        digest = hashlib.sha256(data).hexdigest()
        if digest != d["sha256"] or digest not in expected:
            raise ExportError(say("checksum", kw.get("lang"), name=d["name"], digest=digest))
        target = out / Path(d["name"]).name
        target.write_bytes(data)
        written.append(target)
    (out / f"request-{request_id}-results.json").write_text(json.dumps(record, ensure_ascii=False, indent=2))
    written.append(out / f"request-{request_id}-results.json")
    return written


def _summary(r: dict[str, Any], lang: str | None = None) -> str:
    """The request as a person reads it: each file with its outcome and every reviewer's comment on it.

    The client's words and the service's codes are in `lang` (else the workspace's); findings and comments come
    from the service already in the language it was asked in."""
    version = say("version", lang, n=r["version"]) if (r.get("version") or 1) > 1 else ""
    lines = [say("request", lang, id=r["id"], project=r["project"], version=version, state=_code(r["state"], lang))]
    for f in r.get("files", []) if isinstance(r.get("files"), list) else []:
        outcome = ""
        if f.get("outcome"):
            outcome = "  " + _code(f["outcome"], lang) + say("released" if f.get("released") else "withheld", lang)
        digest = f"  sha256 {f['sha256'][:12]}" if f.get("sha256") else ""  # released files only
        lines.append(f"  {f['name']}  {_code(f['verdict'], lang)}{digest}{outcome}")
        advised: list[str] = []
        for finding in f.get("findings", [])[:10]:
            where = ", ".join(f"{k} {v}" for k, v in (finding.get("location") or {}).items())
            lines.append(f"    - [{finding['verdict']}] {finding['check']}: {finding['detail']}"
                         + (f" ({where})" if where else ""))
            if finding.get("text"):
                lines.append(f"      {finding['text']}")
            if finding.get("advice") and finding["advice"] not in advised:
                advised.append(finding["advice"])
                lines.append(f"      -> {finding['advice']} ({finding.get('guidance', '')})")
        for c in f.get("comments", []):
            lines.append("    " + say("reviewer", lang, comment=c))
    for c in r.get("comments", []):
        lines.append("  " + say("reviewer", lang, comment=c))
    if r.get("resolution"):
        lines.append("  " + say("settled", lang, reason=r["resolution"]))
    if r.get("state") == "returned":
        lines.append("  " + say("revise", lang, id=r["id"]))
    return "\n".join(lines)


# The command's help (`enclave-export --help`), in both languages.
HELP: dict[str, dict[str, str]] = {
    "en": {"description": "Export requests: the only way results leave.",
           "url": "export service URL (default: $ENCLAVE_EXPORT_URL inside a workspace)",
           "token": "hub API token (default: the workspace's own token)", "json": "print JSON",
           "request": "ask for files to be exported", "justification": "what the files are and why they are safe",
           "training_data": "for a model: the data it was trained on (membership-inference test)",
           "holdout_data": "for a model: data it was not trained on",
           "target": "for a model: the label column in the training data",
           "revises": "the returned request this one replaces as its next version",
           "list": "your requests and their states", "show": "one request with findings and reviewers' comments",
           "withdraw": "withdraw a request that is not decided yet",
           "download": "download a released request (outside the enclave)"},
    "zh-CN": {"description": "导出申请：结果离开安全环境的唯一途径。",
              "url": "导出服务网址（在工作区内默认为 $ENCLAVE_EXPORT_URL）",
              "token": "Hub API 令牌（默认为工作区自己的令牌）", "json": "以 JSON 输出",
              "request": "申请导出文件", "justification": "这些文件是什么，以及为什么可以安全导出",
              "training_data": "模型：训练所用的数据（用于成员推断检测）", "holdout_data": "模型：未用于训练的数据",
              "target": "模型：训练数据中的标签列", "revises": "本申请作为其新版本所替换的已退回申请",
              "list": "您的申请及其状态", "show": "一个申请及其检查发现和审核员意见",
              "withdraw": "撤回尚未决定的申请", "download": "下载已发布的申请（在安全环境外）"},
}


def _parser() -> argparse.ArgumentParser:
    h = HELP.get(language(), HELP["en"])
    p = argparse.ArgumentParser(prog="enclave-export", description=h["description"])
    p.add_argument("--url", help=h["url"])
    p.add_argument("--token", help=h["token"])
    p.add_argument("--json", action="store_true", help=h["json"])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("request", help=h["request"])
    r.add_argument("files", nargs="+")
    r.add_argument("--justification", "-j", required=True, help=h["justification"])
    r.add_argument("--training-data", help=h["training_data"])
    r.add_argument("--holdout-data", help=h["holdout_data"])
    r.add_argument("--target", help=h["target"])
    r.add_argument("--revises", type=int, help=h["revises"])
    sub.add_parser("list", help=h["list"])
    s = sub.add_parser("show", help=h["show"])
    s.add_argument("id", type=int)
    w = sub.add_parser("withdraw", help=h["withdraw"])
    w.add_argument("id", type=int)
    d = sub.add_parser("download", help=h["download"])
    d.add_argument("id", type=int)
    d.add_argument("--out", type=Path, default=Path("."))
    return p


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    kw = {"url": a.url, "token": a.token}
    try:
        if a.cmd == "request":
            if a.url or a.token:
                raise ExportError(say("inside_only"))
            result: Any = request_export(a.files, a.justification, a.training_data, a.holdout_data, a.target,
                                         a.revises)
        elif a.cmd == "list":
            result = list_requests(**kw)
        elif a.cmd == "show":
            result = show_request(a.id, **kw)
        elif a.cmd == "withdraw":
            result = call("POST", f"api/requests/{a.id}/withdraw", {}, **kw)
        else:
            result = [str(x) for x in download(a.id, a.out, **kw)]
    except ExportError as exc:
        print(json.dumps({"error": str(exc)}, ensure_ascii=False) if a.json else f"enclave-export: {exc}",
              file=sys.stderr)
        return 2
    if a.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    elif a.cmd == "list":
        for row in result:
            print(f"{row['id']:>5}  {_code(row['state'], None):<10} {row['project']:<20} "
                  f"{say('files', n=row['files'])}  {row['created_at']}")
    elif a.cmd == "download":
        print("\n".join(result))
    else:
        print(_summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
