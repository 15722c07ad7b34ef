"""What a researcher or steward reads about an import, in zh-CN as well as en (English is the key)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from enclave.errors import Text
from enclave.i18n import CORE_WORDS, CORE_ZH, localize

# Reasons of imports.checks, imports.rules and imports.workflow, keyed by their English template.
REASONS_ZH: dict[str, str] = {
    "the file is empty": "文件为空",
    "the file is {size} bytes, above the limit of {limit} bytes (max_file_bytes)":
        "文件大小为 {size} 字节，超过上限 {limit} 字节（max_file_bytes）",
    "its content is {type}, which imports do not accept (allowed: {allowed})":
        "文件内容为 {type}，导入不接受此类型（允许：{allowed}）",
    "the name ends in {suffix} but the content is {type}": "文件名以 {suffix} 结尾，但内容为 {type}",
    "not scanned for viruses: the ClamAV signature database ({db}) is missing or empty; the operator provides it "
    "(ENCLAVE_CLAMAV_DB_DIR)": "未经病毒扫描：病毒库（{db}）缺失或为空；病毒库由运维人员提供（ENCLAVE_CLAMAV_DB_DIR）",
    "not scanned for viruses: clamscan is not installed on this host (Debian package clamav)":
        "未经病毒扫描：本机未安装 clamscan（Debian 软件包 clamav）",
    "not scanned for viruses: the scan took longer than {seconds} seconds": "未经病毒扫描：扫描超过 {seconds} 秒",
    "ClamAV found {signature}": "病毒扫描检出 {signature}",
    "not scanned for viruses: clamscan failed ({message})": "未经病毒扫描：clamscan 运行失败（{message}）",
    "the checks could not read the file": "检查无法读取该文件",
    "personal identifiers found: {found}": "发现个人标识信息：{found}",
    "auditors change nothing: an auditor account cannot import files": "审计员不做任何变更：审计员账号不能导入文件",
    "you are not a member of project '{slug}'": "您不是项目“{slug}”的成员",
    "give a purpose: what the file is for in this project": "请说明用途：该文件在本项目中的用途",
    "no import {id}": "没有编号为 {id} 的导入",
    "only import stewards (stewards in imports.yaml) review imports":
        "只有导入管理员（imports.yaml 中的 stewards）可以审核导入",
    "nobody reviews their own import": "任何人都不能审核自己的导入",
    "import {id} is {state}: nothing waits for a review": "导入 {id} 的状态为“{state}”：没有等待审核的内容",
    "'{name}' is not a file name that can be imported": "“{name}”不是可以导入的文件名",
    "give a reason: the researcher reads why the import was refused": "请说明理由：申请人会看到拒绝的原因",
    "import {id}: the stored file no longer matches its sha256": "导入 {id}：存储的文件与其 sha256 不再一致",
    "choose a file to import": "请选择要导入的文件",
    "only people use the governance pages": "数据治理页面仅供人员使用",
}

WORDS_ZH: dict[str, str] = {
    "held": "待审核", "released": "已放行", "blocked": "已拦截", "refused": "已拒绝",
    "Imports": "文件导入", "Import a file": "导入文件", "Project": "项目", "Purpose": "用途",
    "File": "文件", "Upload and check": "上传并检查", "Your projects' imports": "我的项目的导入",
    "Waiting for a steward's review": "等待管理员审核", "State": "状态", "Name": "名称", "Size": "大小",
    "Requested by": "申请人", "When": "时间", "Checks": "检查结果",
    "No findings: the checks passed.": "无发现：检查通过。",
    "Approve": "批准", "Refuse": "拒绝", "Reason": "理由", "Decided by": "审核人", "Review": "审核",
    "In the workspace at": "在工作区中的位置", "Type by content": "按内容识别的类型", "Import": "导入",
    "Back": "返回", "Error": "错误", "Signed in as": "当前用户", "Governance": "数据治理", "None.": "无。",
    "bytes": "字节",
    "Files come in only through this page: they are checked for viruses, type, size and personal data, "
    "and a steward reviews what the policy says.":
        "文件只能通过本页导入：系统会检查病毒、类型、大小和个人信息，并按政策由管理员审核。",
    "You are in no open project, so you cannot import files.": "您不在任何进行中的项目中，因此不能导入文件。",
    "Blocked files are discarded; their name, size and sha256 stay in the audit trail.":
        "被拦截的文件已删除；其名称、大小和 sha256 保留在审计日志中。",
}


def reason_in(reason: Any, lang: str) -> str:
    """A reason (a `Text`, or a stored finding's template and parameters) in the reader's language."""
    keyed = localize(reason, lang, {**CORE_ZH, **REASONS_ZH}, {**CORE_WORDS, **WORDS_ZH})
    return keyed if keyed is not None else str(reason)


def finding_in(finding: Mapping[str, Any], lang: str) -> str:
    """A stored finding (imports.checks.Finding.as_dict) in the reader's language."""
    text = Text(finding.get("template") or finding.get("reason", ""), **finding.get("params", {}))
    return reason_in(text, lang) if finding.get("template") else str(finding.get("reason", ""))


def translator(lang: str) -> Callable[[str], str]:
    if lang == "zh-CN":
        return lambda text: WORDS_ZH.get(text, text)
    return lambda text: text
