"""What the workspace tells a researcher who tries something the enclave forbids, in their language.

The hub passes the language of the browser that started the workspace as ENCLAVE_LANG (zh-CN or en).
`curl` and `wget` are this module in the image: the workspace has no network, so instead of a resolver
error they say why and what to do instead (pip is real: enclave_pip, the enclave's own index).
"""

from __future__ import annotations

import os
import sys

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
