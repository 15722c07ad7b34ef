"""What a researcher or steward reads about a package request, in zh-CN as well as en.

As in jobs.i18n, the English sentence is the key and the patterns hold the names that vary; a reason
without a pattern falls back to English.
"""

from __future__ import annotations

import re

PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^'(.+)' is on the refused list \(refused names\)$"), r"“\1”在拒绝名单上（拒绝名单规则）"),
    (re.compile(r"^'(.+)' looks like a typosquat of '(.+)' \(typosquat rule\); ask for '.+' itself$"),
     r"“\1”疑似仿冒“\2”（仿冒名规则）；请直接申请“\2”"),
    (re.compile(r"^you are not a member of project '(.+)'$"), r"您不是项目“\1”的成员"),
    (re.compile(r"^give a reason: what the package is for in this project$"), "请说明理由：该软件包在本项目中的用途"),
    (re.compile(r"^'(.+)' is already approved \((.+)\): `pip install` it in the workspace$"),
     r"“\1”已获批准（\2）：请在工作区中直接 `pip install`"),
    (re.compile(r"^'(.+)' is already requested in project '(.+)' and waits for a steward$"),
     r"项目“\2”已申请“\1”，正等待管理员审批"),
    (re.compile(r"^only package stewards \(stewards in packages.yaml\) approve or refuse package requests$"),
     "只有软件包管理员（packages.yaml 中的 stewards）可以批准或拒绝软件包申请"),
    (re.compile(r"^nobody decides their own package request$"), "任何人都不能审批自己的软件包申请"),
    (re.compile(r"^package request (\d+) is already (\S+)$"), r"软件包申请 \1 已是“\2”状态"),
    (re.compile(r"^no package request (\d+)$"), r"没有编号为 \1 的软件包申请"),
    (re.compile(r"^package request (\d+) names no version: .*$"),
     r"软件包申请 \1 未指定版本：请用 --version 指定固定版本（如 2.2.3）后再批准"),
    (re.compile(r"^packages are requested from your running workspace; start it first$"),
     "软件包须从您正在运行的工作区申请；请先启动工作区"),
    (re.compile(r"^package requests are accepted only from your own workspace$"),
     "软件包申请只接受来自您自己工作区的请求"),
    (re.compile(r"^the container engine does not answer; try again in a few minutes$"),
     "容器引擎没有响应；请几分钟后重试"),
    (re.compile(r"^a workspace token is needed: call this from your workspace \(enclave-packages\)$"),
     "需要工作区令牌：请在您的工作区中调用（enclave-packages）"),
    (re.compile(r"^only people can ask for packages$"), "只有人员可以申请软件包"),
    (re.compile(r"^the body is not JSON(.*)$"), "请求正文不是 JSON"),
    (re.compile(r"^the body must be a JSON object$"), "请求正文必须是 JSON 对象"),
    (re.compile(r"^'(\w+)' must be text$"), r"“\1”必须是文本"),
    (re.compile(r"^unknown field\(s\): (.+)$"), r"未知字段：\1"),
    (re.compile(r"^the package service failed on this call; tell the enclave administrators$"),
     "软件包服务处理此请求时出错；请告知 Enclave 管理员"),
    (re.compile(r"^give a reason: the researcher reads why the package was refused$"),
     "请说明理由：申请人会看到拒绝的原因"),
    (re.compile(r"^(.+): pip download failed: (.*)$"), r"\1：pip 下载失败：\2"),
    (re.compile(r"^(.+): pip download fetched nothing$"), r"\1：pip 未下载到任何文件"),
    (re.compile(r"^'' is not a Python package name.*$"), "请填写软件包名称（NAME 或 NAME==VERSION）"),
    (re.compile(r"^'(.+)' is not a Python package name(.*)$"),
     r"“\1”不是有效的 Python 软件包名称（字母、数字、“.”、“_”和“-”）"),
    (re.compile(r"^'(.+)' is not a version such as 2\.2\.3$"), r"“\1”不是 2.2.3 这样的版本号"),
    (re.compile(r"^(.+): only wheels are accepted \(.*\)$"),
     r"\1：只接受 wheel 文件（源码包须经管理员审阅后列入 vetted_sdists）"),
    (re.compile(r"^(.+): (\d+) bytes is above the limit of (\d+) bytes \(max_file_bytes\)$"),
     r"\1：\2 字节，超过上限 \3 字节（max_file_bytes）"),
    (re.compile(r"^(.+): sha256 (\S+) is not one the allow-list accepts$"),
     r"\1：sha256 \2 不在允许清单接受的哈希之列"),
    (re.compile(r"^(.+): no wheel of (.+) for Python (\S+) .*$"), r"\1：没有适用于 Python \3 的 \2 wheel 文件"),
    (re.compile(r"^(.+): the downloaded file does not match the allow-list's sha256 .*$"),
     r"\1：下载的文件与允许清单中的 sha256 不符（文件被替换或清单有误），已拒绝"),
]


def reason_zh(reason: str) -> str:
    """The reason in zh-CN where a pattern knows it; otherwise the English sentence unchanged."""
    for pattern, zh in PATTERNS:
        if pattern.match(reason):
            return pattern.sub(zh, reason)
    return reason


def both(reason: str) -> dict[str, str]:
    """The reason in both languages, as the CLI's --json and the pages show it."""
    return {"en": reason, "zh-CN": reason_zh(reason)}
