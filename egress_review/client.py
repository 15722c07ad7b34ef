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
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

WORKSPACE_ROOTS = ("/workspace/", "/srv/enclave/workspace/")


class ExportError(Exception):
    pass


def _config(url: str | None = None, token: str | None = None) -> tuple[str, str]:
    url = url or os.environ.get("ENCLAVE_EXPORT_URL", "")
    token = token or os.environ.get("ENCLAVE_EXPORT_TOKEN") or os.environ.get("JUPYTERHUB_API_TOKEN", "")
    if not url or not token:
        raise ExportError("no export service: run this inside an enclave workspace, or give --url and --token")
    return url.rstrip("/") + "/", token


def language() -> str:
    """The user's language for the service's sentences: zh-CN when the locale is Chinese, else English."""
    value = os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG") or ""
    return "zh-CN" if value.lower().startswith("zh") else "en"


def call(method: str, path: str, body: dict[str, Any] | None = None, url: str | None = None,
         token: str | None = None, raw: bool = False, lang: str | None = None) -> Any:
    """One call to the service; `lang` overrides the locale's language (JupyterLab asks in the user's choice)."""
    base, tok = _config(url, token)
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers={
        "Authorization": f"token {tok}", "Content-Type": "application/json", "Accept": "application/json",
        "Accept-Language": lang or language()})
    try:
        with urllib.request.urlopen(req, timeout=600) as resp:
            payload = resp.read()
            return (payload, dict(resp.headers)) if raw else json.loads(payload or b"null")
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error") or exc.reason
        except ValueError:
            message = exc.reason
        raise ExportError(f"{exc.code}: {message}") from None
    except urllib.error.URLError as exc:
        raise ExportError(f"the export service does not answer: {exc.reason}") from None
    except (http.client.HTTPException, ConnectionError) as exc:  # it went away while working on the call
        raise ExportError(f"the export service stopped before answering ({exc.__class__.__name__}); "
                          "'enclave-export list' shows whether the request was made") from None


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
    record = json.loads(call("GET", f"api/requests/{request_id}/download/results.json", raw=True, **kw)[0])
    req = call("GET", f"api/requests/{request_id}", **kw)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    expected = {f["sha256"] for f in record["files"]}
    for d in req.get("downloads", []):
        data, _headers = call("GET", f"api/requests/{request_id}/download/{d['id']}", raw=True, **kw)
        digest = hashlib.sha256(data).hexdigest()
        if digest != d["sha256"] or digest not in expected:
            raise ExportError(f"{d['name']}: checksum mismatch ({digest}), not saved")
        target = out / Path(d["name"]).name
        target.write_bytes(data)
        written.append(target)
    (out / f"request-{request_id}-results.json").write_text(json.dumps(record, ensure_ascii=False, indent=2))
    written.append(out / f"request-{request_id}-results.json")
    return written


def _summary(r: dict[str, Any]) -> str:
    """The request as a person reads it: each file with its outcome and every reviewer's comment on it."""
    version = f", version {r['version']}" if (r.get("version") or 1) > 1 else ""
    lines = [f"request {r['id']} ({r['project']}{version}): {r['state']}"]
    for f in r.get("files", []) if isinstance(r.get("files"), list) else []:
        outcome = ""
        if f.get("outcome"):
            outcome = "  " + f["outcome"] + (", released" if f.get("released") else ", withheld")
        lines.append(f"  {f['name']}  {f['verdict']}  sha256 {f['sha256'][:12]}{outcome}")
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
            lines.append(f"    reviewer: {c}")
    for c in r.get("comments", []):
        lines.append(f"  reviewer: {c}")
    if r.get("resolution"):
        lines.append(f"  conflict settled: {r['resolution']}")
    if r.get("state") == "returned":
        lines.append(f"  to revise: enclave-export request FILES -j '...' --revises {r['id']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="enclave-export", description="Export requests: the only way results leave.")
    p.add_argument("--url", help="export service URL (default: $ENCLAVE_EXPORT_URL inside a workspace)")
    p.add_argument("--token", help="hub API token (default: the workspace's own token)")
    p.add_argument("--json", action="store_true", help="print JSON")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("request", help="ask for files to be exported")
    r.add_argument("files", nargs="+")
    r.add_argument("--justification", "-j", required=True, help="what the files are and why they are safe")
    r.add_argument("--training-data", help="for a model: the data it was trained on (membership-inference test)")
    r.add_argument("--holdout-data", help="for a model: data it was not trained on")
    r.add_argument("--target", help="for a model: the label column in the training data")
    r.add_argument("--revises", type=int, help="the returned request this one replaces as its next version")
    sub.add_parser("list", help="your requests and their states")
    s = sub.add_parser("show", help="one request with findings and reviewers' comments")
    s.add_argument("id", type=int)
    w = sub.add_parser("withdraw", help="withdraw a request that is not decided yet")
    w.add_argument("id", type=int)
    d = sub.add_parser("download", help="download a released request (outside the enclave)")
    d.add_argument("id", type=int)
    d.add_argument("--out", type=Path, default=Path("."))
    a = p.parse_args(argv)
    kw = {"url": a.url, "token": a.token}
    try:
        if a.cmd == "request":
            if a.url or a.token:
                raise ExportError("export requests are made from inside your workspace")
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
        print(json.dumps({"error": str(exc)}) if a.json else f"enclave-export: {exc}", file=sys.stderr)
        return 2
    if a.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    elif a.cmd == "list":
        for row in result:
            print(f"{row['id']:>5}  {row['state']:<10} {row['project']:<20} {row['files']} file(s)  "
                  f"{row['created_at']}")
    elif a.cmd == "download":
        print("\n".join(result))
    else:
        print(_summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
