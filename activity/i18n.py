"""The code recorder's sentences in zh-CN as well as en: its refusals, and what auditors read of the record."""

from __future__ import annotations

import re
from typing import Any

from enclave.errors import Text

MESSAGES: list[tuple[re.Pattern[str], str]] = [(re.compile(p, re.S), zh) for p, zh in (
    (r"^code is recorded from your running workspace; none runs$",
     "代码只能从您正在运行的工作区记录；当前没有运行的工作区"),
    (r"^code records are accepted only from your own workspace$", "只接受来自您自己工作区的代码记录"),
    (r"^a workspace token is needed: the recorder in your workspace sends it$",
     "需要工作区令牌：由工作区内的记录程序发送"),
    (r"^only people's workspaces are recorded$", "只记录用户的工作区"),
    (r"^the container engine does not answer; try again in a few minutes$", "容器引擎没有响应；请几分钟后重试"),
    (r"^each record must be a JSON object$", "每条记录必须是 JSON 对象"),
    (r"^unknown field\(s\): (.*)$", r"未知字段：\1"),
    (r"^'kind' must be 'cell' or 'terminal'$", "'kind' 必须是 'cell' 或 'terminal'"),
    (r"^'(\w+)' must be text$", r"'\1' 必须是文本"),
    (r"^'(\w+)' must be a time \(ISO 8601\)$", r"'\1' 必须是时间（ISO 8601）"),
    (r"^'execution_count' must be a whole number$", "'execution_count' 必须是整数"),
    (r"^'(\w+)' must be a whole number, 0 or more$", r"'\1' 必须是大于或等于 0 的整数"),
    (r"^'records' must be a non-empty list$", "'records' 必须是非空列表"),
    (r"^at most (\d+) records in one call$", r"每次调用最多 \1 条记录"),
    (r"^'gap' must be a JSON object$", "'gap' 必须是 JSON 对象"),
    (r"^the body holds neither 'records' nor 'gap'$", "请求内容既没有 'records' 也没有 'gap'"),
    (r"^the body is not JSON.*$", "请求内容不是 JSON"),
    (r"^the body must be a JSON object$", "请求内容必须是 JSON 对象"),
    (r"^the code recorder failed on this call; tell the enclave administrators$",
     "代码记录服务处理本次调用时出错；请告知 Enclave 管理员"),
    # what `activity.records.verify` finds
    (r"^code record (\d+): changed since it was stored \(its hash no longer matches\)$",
     r"代码记录 \1：存储后已被改动（哈希不再一致）"),
    (r"^audit record (\d+): its batch of (\d+) code records does not match the (\d+) stored "
     r"\(records added, changed or deleted\)$",
     r"审计记录 \1：其记录的 \2 条代码记录与现存的 \3 条不一致（记录被添加、改动或删除）"),
    (r"^code records ([\d, ]+): no audit record (\d+) vouches for them$", r"代码记录 \1：没有审计记录 \2 为其担保"),
)]


def message(text: str | Text, lang: str) -> str:
    """`text` in `lang`: zh-CN from the table above, English as written (an unknown sentence stays English)."""
    english = str(text)
    if lang == "zh-CN":
        for pattern, zh in MESSAGES:
            if pattern.match(english):
                return pattern.sub(zh, english)
    return english


# What `enclave audit code` prints for a person (the --json keys stay English).
CLI = {
    "en": {"none": "no code records match", "gap": "GAP: {user} in {project} ({workspace}): {dropped} record(s) "
           "lost and {delayed} delayed between {since} and {until} ({reason})",
           "changed": "(CHANGED since it was stored)", "problems": "The code record does not match the audit trail:"},
    "zh-CN": {"none": "没有符合条件的代码记录",
              "gap": "缺口：{user} 在 {project}（{workspace}）：{since} 至 {until} 之间 "
                     "{dropped} 条记录丢失，{delayed} 条延迟送达（{reason}）",
              "changed": "（存储后已被改动）", "problems": "代码记录与审计链不一致："},
}


def describe(report: dict[str, Any], lang: str) -> str:
    """`enclave audit code` for a person: each record (when, who, where, which kernel or terminal, the code),
    the reported gaps, and what no longer matches the trail, in the operator's language."""
    w = CLI["zh-CN" if lang == "zh-CN" else "en"]
    out = []
    for r in report["records"]:
        count = f" [{r['execution_count']}]" if r["execution_count"] is not None else ""
        mark = "" if r["intact"] else " " + w["changed"]
        out.append(f"#{r['id']} {r['executed_at'][:19]} {r['user']} {r['project']} {r['workspace']} {r['kind']} "
                   f"{r['kernel']}{count}{mark}")
        out += ["    " + line for line in r["code"].splitlines() or [""]]
    if not report["records"]:
        out.append(w["none"])
    out += [w["gap"].format(**{k: g.get(k, "") for k in ("user", "project", "workspace", "dropped", "delayed",
                                                         "since", "until", "reason")}) for g in report["gaps"]]
    if report["problems"]:
        out += [w["problems"], *("  " + message(p, lang) for p in report["problems"])]
    return "\n".join(out)


# The auditors' page in the governance service (governance/templates/code.html).
PAGE = {
    "en": {"title": "Executed code", "intro": "Every cell the workspaces' kernels ran and every line typed in their "
           "terminals, as the enclave recorded it (append-only, each batch in the audit trail).",
           "project": "Project", "user": "User", "since": "Since", "search": "Search", "time": "Time",
           "workspace": "Workspace", "kind": "Kind", "where": "Kernel or terminal", "code": "Code",
           "cell": "cell", "terminal": "terminal", "none": "No code records match.", "gaps": "Gaps in the record",
           "gap_row": "{dropped} lost, {delayed} delayed, from {since} to {until}", "whole": "Every record matches "
           "its hash and the audit trail.", "problems": "The record does NOT match the audit trail:",
           "changed": "changed since it was stored"},
    "zh-CN": {"title": "已执行的代码", "intro": "工作区内核运行的每个单元格和终端中输入的每一行，均按安全区的记录显示"
              "（只追加，每批记录都在审计链中）。",
              "project": "项目", "user": "用户", "since": "起始日期", "search": "搜索", "time": "时间",
              "workspace": "工作区", "kind": "类型", "where": "内核或终端", "code": "代码",
              "cell": "单元格", "terminal": "终端", "none": "没有符合条件的代码记录。", "gaps": "记录中的缺口",
              "gap_row": "{since} 至 {until}：丢失 {dropped} 条，延迟 {delayed} 条",
              "whole": "所有记录都与其哈希和审计链一致。",
              "problems": "记录与审计链不一致：", "changed": "存储后已被改动"},
}
