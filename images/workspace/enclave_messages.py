"""What the workspace tells a researcher who tries something the enclave forbids, in their language.

The hub passes the language of the browser that started the workspace as ENCLAVE_LANG (zh-CN or en).
`curl` and `wget` are this module in the image: the workspace has no network, so instead of a resolver
error they say why and what to do instead (pip is real: enclave_pip, the enclave's own index).
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

NO_NETWORK = {
    "en": (
        "{tool}: this workspace has no network, by design: health data must not leave it, so nothing can be\n"
        "downloaded or uploaded from here.\n"
        "  - A Python package you need: `pip install` it if it is approved; otherwise ask for it with\n"
        "      enclave-packages request NAME --reason \"what it is for\"\n"
        "  - A file you need (code, a reference table): upload it on the enclave's import page (Governance ->\n"
        "    Imports, outside the workspace); once checked it appears read-only under /workspace/imports/.\n"
        "  - Results that should leave: make an export request, e.g.\n"
        "      enclave-export request results/table.csv -j \"why it is needed\"\n"
        "    or, in a notebook, `from enclave_export import request_export`. Two reviewers check it."
    ),
    "zh-CN": (
        "{tool}：本工作区按设计没有网络连接。健康数据不得离开这里，因此无法在此下载或上传任何内容。\n"
        "  - 需要的 Python 软件包：已批准的可直接 `pip install`；否则请用以下命令申请\n"
        "      enclave-packages request NAME --reason \"用途说明\"\n"
        "  - 需要的文件（代码、参考表）：请在工作区之外的导入页面（数据治理 → 文件导入）上传，\n"
        "    通过检查后会以只读方式出现在 /workspace/imports/ 下。\n"
        "  - 需要带出的结果：请提交导出申请，例如\n"
        "      enclave-export request results/table.csv -j \"用途说明\"\n"
        "    或在笔记本中使用 `from enclave_export import request_export`，由两名审核员检查。"
    ),
}


def language() -> str:
    """zh-CN when the hub said so (ENCLAVE_LANG) or the locale is Chinese; English otherwise."""
    for name in ("ENCLAVE_LANG", "LANGUAGE", "LC_ALL", "LANG"):
        value = os.environ.get(name, "").lower()
        if value.startswith("zh"):
            return "zh-CN"
        if value.startswith("en"):
            return "en"
    return "en"


def pick_language(accept_language: str) -> str:
    """The first of zh-* or en-* in Accept-Language wins (the same rule as the hub's enclave.i18n)."""
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return "en"


def no_network(tool: str) -> int:
    """Prints why `tool` cannot work here; exit status 1 so scripts stop as they would on a failure."""
    print(NO_NETWORK[language()].format(tool=tool), file=sys.stderr)
    return 1


def main() -> int:
    name = os.path.basename(sys.argv[0])
    return no_network("pip" if name in ("", "__main__.py", "-m") else name)


def call_service(url_env: str, method: str, path: str, body: dict[str, Any] | None, *, timeout: float,
                 words: Mapping[str, str], error: type[Exception]) -> Any:
    """One JSON call to an enclave service (its URL in `url_env`, set by the spawner) with the workspace's own
    token, asking for answers in the workspace's language. Every way it can fail becomes `error(sentence)`:
    the service's own refusal as it said it, else one of `words` (no_service, unreachable, cut_off, not_json,
    http) - never a traceback. Shared by enclave-job and enclave-packages."""
    base = os.environ.get(url_env, "")
    token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
    if not base or not token:
        raise error(words["no_service"])
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base.rstrip("/") + "/" + path, data=data, method=method, headers={
        "Authorization": f"token {token}", "Content-Type": "application/json", "Accept": "application/json",
        "Accept-Language": language()})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise error(_refusal(exc, words)) from None
    except urllib.error.URLError as exc:
        raise error(words["unreachable"].format(why=exc.reason)) from None
    except (http.client.HTTPException, ConnectionError, TimeoutError):
        raise error(words["cut_off"]) from None
    except ValueError:  # an answer, but not the service's JSON (a proxy's page, a truncated body)
        raise error(words["not_json"]) from None


def _refusal(exc: urllib.error.HTTPError, words: Mapping[str, str]) -> str:
    """The service's own sentence (it answers in the Accept-Language asked), else ours naming the bare status."""
    try:
        body = json.loads(exc.read())
        reason = body.get("error") if isinstance(body, dict) else None
    except ValueError:
        reason = None
    return str(reason or words["http"].format(code=exc.code, reason=exc.reason))
