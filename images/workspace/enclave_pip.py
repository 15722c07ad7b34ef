"""`pip` in the workspace: the real pip, reading only the enclave's index, installing into the project's own
environment, and saying how to ask for a package the index does not have.

The index (PIP_INDEX_URL, set by the hub) serves the approved packages' checked wheels and nothing else.
Packages go into /workspace/.enclave/python: a virtual environment layered over the image's /opt/venv (its
packages stay visible), on the project's disk, so it survives restarts and every member of the project
sees it; the "Python (project packages)" kernel runs in it. `pip`, `pip3`, `python -m pip` and `%pip` all
come here (the image's pip/__main__.py calls `module_main`).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

from enclave_messages import language

PROJECT_ENV = Path(os.environ.get("ENCLAVE_PROJECT_ENV", "/workspace/.enclave/python"))
KERNEL_NAME = "project-python"
INNER = "ENCLAVE_PIP_INNER"  # set for the pip this wrapper runs, so that one is pip itself
NOT_FOUND = re.compile(r"No matching distribution found for ([A-Za-z0-9][A-Za-z0-9._-]*)")
# pip's words when the index did not answer at all: then "not found" says nothing about the allow-list
UNREACHABLE = re.compile(r"connection broken by|Failed to establish a new connection|Could not fetch URL|timed out",
                         re.I)

WORDS = {
    "en": {
        "not_approved": "\n{name} is not an approved package, so the enclave's package index does not have it\n"
                        "(nothing is downloaded from the internet here). Ask for it; a package steward decides, and\n"
                        "once approved it installs with pip, no restart needed:\n"
                        "  enclave-packages request {name} --reason \"what it is for in this project\"\n"
                        "Your project's requests and their decisions: enclave-packages list",
        "no_env": "pip: the project's package environment {path} cannot be made ({why}); is /workspace full?",
        "unreachable": "\npip: the enclave's package index ({index}) does not answer, so nothing could be looked up;\n"
                       "try again in a minute, and tell the enclave administrators if it stays so.",
        "kernel": "Python (project packages)",
    },
    "zh-CN": {
        "not_approved": "\n{name} 不是已批准的软件包，因此 Enclave 的软件包索引中没有它\n"
                        "（这里不会从互联网下载任何内容）。\n"
                        "请提出申请，由软件包管理员审批；批准后即可用 pip 安装，无需重启：\n"
                        "  enclave-packages request {name} --reason \"该软件包在本项目中的用途\"\n"
                        "查看本项目的申请及审批结果：enclave-packages list",
        "no_env": "pip：无法创建项目软件包环境 {path}（{why}）；/workspace 是否已满？",
        "unreachable": "\npip：Enclave 的软件包索引（{index}）没有响应，无法查找任何软件包；\n"
                       "请一分钟后重试，如果一直如此请告知 Enclave 管理员。",
        "kernel": "Python（项目软件包）",
    },
}


def _w() -> dict[str, str]:
    return WORDS[language()]


def project_site(root: Path = PROJECT_ENV) -> Path:
    """Where the project environment's packages are (whether or not it has been made yet)."""
    return Path(sysconfig.get_paths(vars={"base": str(root), "platbase": str(root)})["purelib"])


def project_python(root: Path = PROJECT_ENV) -> Path:
    """The project environment's python, made on first use: a venv without its own pip whose site-packages
    also reads the image's (a .pth), so the image's packages and pip stay visible and installs land here.
    Members starting at once take a lock, so one makes it and the others use it."""
    python = root / "bin" / "python"
    if python.exists():
        return python
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / ".python.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not python.exists():
            venv.EnvBuilder(with_pip=False, symlinks=True).create(root)
            base = sysconfig.get_paths()["purelib"]  # /opt/venv's site-packages (this module runs from there)
            site = project_site(root)
            (site / "_enclave_image.pth").write_text(f"import site; site.addsitedir({base!r})\n")
    return python


def ensure_kernel(kernels: Path, python: Path) -> Path:
    """The "Python (project packages)" kernelspec (in the user's language) in `kernels`, if missing."""
    spec = kernels / KERNEL_NAME / "kernel.json"
    if not spec.exists():
        spec.parent.mkdir(parents=True, exist_ok=True)
        spec.write_text(json.dumps({
            "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": _w()["kernel"], "language": "python", "metadata": {"debugger": True}}, indent=1))
    return spec


def run_pip(python: Path, args: list[str]) -> int:
    """pip itself in the project environment; its messages pass through, and a package the index lacks ends
    with how to ask for it."""
    proc = subprocess.Popen([str(python), "-m", "pip", *args], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, INNER: "1"})
    missing, unreachable = [], False
    assert proc.stderr is not None
    for line in proc.stderr:
        sys.stderr.write(line)
        sys.stderr.flush()
        m = NOT_FOUND.search(line)
        if m:
            missing.append(m.group(1))
        unreachable = unreachable or bool(UNREACHABLE.search(line))
    code = proc.wait()
    if missing and unreachable:
        print(_w()["unreachable"].format(index=os.environ.get("PIP_INDEX_URL", "")), file=sys.stderr)
        return code
    for name in dict.fromkeys(missing):
        print(_w()["not_approved"].format(name=name), file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        python = project_python()
    except OSError as exc:
        print(_w()["no_env"].format(path=PROJECT_ENV, why=exc.strerror or exc), file=sys.stderr)
        return 1
    try:
        return run_pip(python, args)
    except KeyboardInterrupt:
        return 130


def module_main() -> int:
    """`python -m pip`: the wrapper, unless this is the pip the wrapper runs."""
    if os.environ.get(INNER):
        from pip._internal.cli.main import main as pip_main

        return int(pip_main())
    return main()
