"""Words of the reviewer and requester pages in zh-CN; English is the key itself."""

from __future__ import annotations

import re
from collections.abc import Callable

from enclave.errors import Text
from enclave.i18n import CORE_WORDS, CORE_ZH, from_english, localize

ZH_CN: dict[str, str] = {
    "Export review": "导出审核",
    "Review queue": "待审核队列",
    "My export requests": "我的导出申请",
    "Request": "申请",
    "Project": "项目",
    "Requester": "申请人",
    "State": "状态",
    "Files": "文件",
    "Submitted": "提交时间",
    "Justification": "理由说明",
    "Findings": "自动检查结果",
    "Verdict": "结论",
    "Check": "检查项",
    "Detail": "详情",
    "Location": "位置",
    "Rule": "规则",
    "No requests.": "没有申请。",
    "Open": "打开",
    "View file": "查看文件",
    "Your decision": "您的决定",
    "Approve": "批准",
    "Return": "退回修改",
    "Reject": "拒绝",
    "Comment (needed for flagged files)": "备注（有标记的文件必须填写）",
    "Comment to the requester": "给申请人的意见",
    "Private note for reviewers": "仅审核员可见的备注",
    "Submit review": "提交审核",
    "Reviews": "审核记录",
    "Reviews that no longer count": "不再计入的审核",
    "Reviewer": "审核员",
    "Decision": "决定",
    "Other reviews are hidden until both reviewers have decided.": "在两位审核员都做出决定之前，其他审核意见不可见。",
    "The reviewers disagree: resolve the conflict.": "审核员意见不一致：请明确裁决。",
    "Reason": "理由",
    "Resolve": "裁决",
    "Withdraw": "撤回",
    "Download": "下载",
    "Release record": "发布记录",
    "Comments from reviewers": "审核员意见",
    "You cannot review this request": "您不能审核此申请",
    "Back": "返回",
    "Signed in as": "当前用户",
    "Shown inert: nothing in a reviewed file ever runs.": "安全显示：被审核文件中的任何内容都不会被执行。",
    "submitted": "已提交",
    "in_review": "审核中",
    "approved": "已批准",
    "returned": "已退回",
    "rejected": "已拒绝",
    "conflicted": "意见冲突",
    "released": "已发布",
    "withdrawn": "已撤回",
    "pass": "通过",
    "review": "需人工审核",
    "block": "阻止",
    "Approved files can be downloaded by you only.": "已批准的文件只有您本人可以下载。",
    "Requests I reviewed": "我审核过的申请",
    "Error": "错误",
    # per-file outcomes, versions, comments
    "Outcome": "结果",
    "pending": "待定",
    "revised": "已修订",
    "Released": "已发布",
    "Withheld": "未发布",
    "Released with the request": "随申请发布",
    "Withheld: not released": "未发布",
    "Approved, but nothing is released: the request was not approved": "已批准，但申请未获批准，因此不发布",
    "Your vote": "您的投票",
    "Votes": "投票",
    "Comments on this file": "对此文件的意见",
    "Reason the conflict was settled": "裁决理由",
    "Version": "版本",
    "Versions": "各版本",
    "Earlier versions": "之前的版本",
    "Changes since version": "相对于版本",
    "added": "新增",
    "removed": "删除",
    "changed": "已修改",
    "unchanged": "未改变",
    "Revise": "修订",
    "To revise this request, submit the changed files from your workspace naming it:":
        "如需修订此申请，请在工作区中提交修改后的文件并注明此申请：",
    "This request is returned: change what the reviewers asked for, then submit a new version.":
        "此申请已退回：请按审核员的意见修改，然后提交新版本。",
    "Replaced by version": "已被新版本取代：",
    "Content": "内容",
    "Open the whole file": "打开完整文件",
    "Only the beginning is shown here.": "此处只显示开头部分。",
    "Why not": "原因",
    "Approve: release the approved files; withhold the others": "批准：发布已批准的文件，其余不发布",
    "Return for changes": "退回修改",
    "Comment on this file (to the requester when you do not approve it; needed for flagged files)":
        "对此文件的意见（不批准时会发给申请人；有标记的文件必须填写）",
    "Check your decision": "请确认您的决定",
    "Confirm": "确认",
    "Change": "修改",
    "Cancel": "取消",
    "Nothing has been recorded yet.": "尚未记录任何内容。",
    "will be released": "将会发布",
    "will be withheld": "将不发布",
    "Withdraw this request?": "确定撤回此申请？",
    "Withdrawing cannot be undone: reviewers stop, nothing is released.":
        "撤回后无法恢复：审核停止，不会发布任何文件。",
    "Please correct what is marked below; nothing was recorded.": "请修改下面标出的问题；尚未记录任何内容。",
    "Your review is recorded.": "您的审核已记录。",
    "The conflict is resolved.": "冲突已裁决。",
    "The request is withdrawn.": "申请已撤回。",
    "You claimed this request.": "您已认领此申请。",
    "You released your claim.": "您已放弃认领。",
    "Now: {state}.": "当前状态：{state}。",
    "{released} file(s) released, {withheld} file(s) withheld.": "{released} 个文件已发布，{withheld} 个文件未发布。",
    # queue
    "Waiting": "已等待",
    "Claimed by": "认领人",
    "Claim": "认领",
    "Release claim": "放弃认领",
    "Filter": "筛选",
    "Sort": "排序",
    "All": "全部",
    "longest waiting first": "等待最久的优先",
    "newest first": "最新的优先",
    "by project": "按项目",
    "Waiting at least (days)": "至少等待（天）",
    "Apply": "应用",
    "Earlier requests by this requester in this project": "此申请人在本项目中的其他申请",
    "d": "天",
    "h": "小时",
    "min": "分钟",
    # findings
    "What you can do": "您可以怎么做",
    "Guidance": "指导说明",
    "Held outputs of jobs on sensitive data": "敏感数据作业的待审输出",
    "As the check wrote it": "检查原文",
    "Guidance for export requests": "导出申请指导说明",
    "What each kind of finding means and what you can do about it.": "各类检查结果的含义以及您可以怎么做。",
    "Private note for reviewers (the requester never sees it)": "仅审核员可见的备注（申请人看不到）",
    "Not found": "未找到",
    "The stored copy cannot be read: tell the enclave administrators.": "无法读取保存的副本：请告知安全环境管理员。",
    "Not allowed": "不允许",
    "Something went wrong": "出错了",
    # revising in the browser
    "Revise request": "修订申请",
    "new version": "新版本",
    "The revision is a new version of this request: its files are read from your workspace and checked again, "
    "and reviewers see what changed and the earlier reviews.":
        "修订是此申请的新版本：其文件会从您的工作区重新读取并再次检查，审核员可以看到改动之处和之前的审核意见。",
    "Files from your workspace": "工作区中的文件",
    "Each file is read again from your workspace: change a file there and keep it ticked here.":
        "每个文件都会从您的工作区重新读取：请在工作区中修改文件，并在此处保持勾选。",
    "Files of the returned version": "已退回版本中的文件",
    "Other files in your workspace": "工作区中的其他文件",
    "Not every file is listed: name others below.": "未列出全部文件：其他文件请在下面填写。",
    "Other files (paths inside /workspace, one per line)": "其他文件（/workspace 内的路径，每行一个）",
    "Check the revision": "检查修订",
    "Submit this revision?": "确定提交此修订？",
    "On confirming, these files are read from your workspace and checked again; the new version replaces the "
    "returned one, which is kept with its reviews.":
        "确认后，这些文件将从您的工作区重新读取并再次检查；新版本将取代已退回的版本，已退回的版本及其审核记录会保留。",
    "Compared with the returned version": "与已退回版本相比",
    "in it before: read again": "原有文件：重新读取",
    "left out": "不再包含",
    "Your revision is submitted as a new version of the request; the returned version is kept with its reviews.":
        "您的修订已作为此申请的新版本提交；已退回的版本及其审核记录会保留。",
    "Revise this request": "修订此申请",
    "(more changes: open the file)": "（还有更多修改：请打开文件查看）",
}


# Sentences that are not refusal templates (notes of the pages, the workspace reader) in zh-CN, matched whole.
MESSAGES: list[tuple[re.Pattern[str], str]] = [(re.compile(p), zh) for p, zh in (
    (r"^ONLY PART OF THIS FILE IS SHOWN: the first (\d+) of (\d+) (rows|lines)\. The automated checks read all of "
     r"it; the rest is released too if the request is approved\.$",
     r"只显示了此文件的一部分：共 \2 行中的前 \1 行。自动检查读取了整个文件；如果申请获批，其余部分也会一并发布。"),
    (r"^Rebuilt before checking \(this is the form that is released\): (.*)$",
     r"检查前已重建（发布的就是这个形式）：\1"),
    (r"^(HTML|SVG) is shown as source and never rendered$", r"\1 以源代码显示，从不渲染"),
    (r"^The file was refused and nothing of it is kept: see the findings$",
     r"此文件被拒收，未保留任何内容：请查看检查结果"),
    (r"^binary content: it cannot be shown; see the findings$", r"二进制内容，无法显示：请查看检查结果"),
    (r"^a pickled object: never opened here; see the findings$", r"pickle 对象：此处从不打开，请查看检查结果"),
    (r"^an archive: each member's findings are listed below$", r"压缩包：各成员文件的检查结果列在下面"),
    (r"^table could not be read$", r"无法读取表格"),
    # the workspace reader's sentences (egress_review.reader runs apart and imports no catalogue)
    (r"^(.+): no such file in the workspace$", r"\1：工作区中没有此文件"),
    (r"^(.+): '(.+)' is a symbolic link; symbolic links are refused$", r"\1：“\2”是符号链接；符号链接会被拒绝"),
    (r"^(.+): a symbolic link is on the path; symbolic links are refused$", r"\1：路径中有符号链接；符号链接会被拒绝"),
    (r"^(.+): a part of the path is not a folder$", r"\1：路径中的某一部分不是文件夹"),
    (r"^(.+): leaves the workspace's filesystem; only files inside the workspace can be exported$",
     r"\1：超出了工作区的文件系统；只能导出工作区内的文件"),
    (r"^(.+): the workspace user cannot read it \(permission denied\)$", r"\1：工作区用户无权读取（权限被拒绝）"),
    (r"^(.+): the path changed while it was opened; try again$", r"\1：打开时路径发生了变化；请重试"),
    (r"^(.+): cannot be opened \((.*)\)$", r"\1：无法打开（\2）"),
    (r"^(.+): not a regular file \(folders, devices, pipes and sockets are refused\)$",
     r"\1：不是普通文件（文件夹、设备、管道和套接字会被拒绝）"),
    (r"^(.+): has (\d+) hard links; hard links are refused$", r"\1：有 \2 个硬链接；硬链接会被拒绝"),
    (r"^(.+): (\d+) bytes, over the limit of (\d+)$", r"\1：\2 字节，超过了 \3 字节的上限"),
    (r"^(.+): grew beyond the limit of (\d+) bytes while being read$", r"\1：读取期间文件增大，超过了 \2 字节的上限"),
    (r"^the files add up to (\d+) bytes, over the limit of (\d+) per request$",
     r"文件合计 \1 字节，超过了每个申请 \2 字节的上限"),
)]



# Refusals of egress_review (rules, workflow, limits, collect) in zh-CN, keyed by their English template
# (`enclave.errors.Text`); tests/unit/test_refusal_translations.py fails for a template missing here.
REFUSALS_ZH: dict[str, str] = {
    "no export request {id}": "没有编号为 {id} 的导出申请",
    "no export request {request_id}": "没有编号为 {request_id} 的导出申请",
    "no export requests: {reason}": "不能提交导出申请：{reason}",
    "a justification is required: say what the files are and why they are safe to release":
        "必须填写理由说明：请说明这些文件是什么，以及为什么可以安全发布",
    "only the requester can withdraw a request": "只有申请人可以撤回申请",
    "request {id} is {state} and can no longer be withdrawn": "申请 {id} 的状态为“{state}”，已不能撤回",
    "only the requester can revise a request": "只有申请人可以修订申请",
    "request {id} is {state}: only a returned request can be revised":
        "申请 {id} 的状态为“{state}”：只有已退回的申请可以修订",
    "released files can be downloaded by the requester only": "已发布的文件只有申请人可以下载",
    "request {id} is {state}: nothing is released": "申请 {id} 的状态为“{state}”：没有发布任何文件",
    "no downloads: {reason}": "不能下载：{reason}",
    "only users with the reviewer role can {act} export requests": "只有具有审核员角色的用户才能{act}导出申请",
    "you cannot {act} your own export request": "您不能{act}自己的导出申请",
    "you are or were a member of project '{slug}' and cannot {act} its requests":
        "您是或曾是项目“{slug}”的成员，不能{act}其导出申请",
    "{reason}: its export requests cannot be {act} now": "{reason}：目前不能{act}其导出申请",
    "request {id} is {state}, not open for review": "申请 {id} 的状态为“{state}”，不在审核中",
    "you have already reviewed request {id}": "您已审核过申请 {id}",
    "the files of an export request are shown in a browser session only, never to a token":
        "导出申请的文件只在浏览器会话中显示，不提供给令牌",
    "the review by {name} no longer counts: the account is gone": "{name} 的审核不再计入：该账户已不存在",
    "the review by {name} no longer counts: the reviewer role was taken away":
        "{name} 的审核不再计入：其审核员角色已被取消",
    "the review by {name} no longer counts: the reviewer is or was a member of project '{slug}'":
        "{name} 的审核不再计入：该审核员是或曾是项目“{slug}”的成员",
    "request {id} already has {needed} reviews": "申请 {id} 已有 {needed} 份审核",
    "request {id} is {state}, not conflicted": "申请 {id} 的状态为“{state}”，没有意见冲突",
    "you reviewed request {id}: its conflict must be resolved by a third reviewer who reviewed neither side":
        "您审核过申请 {id}：冲突必须由未参与审核的第三位审核员裁决",
    "file '{name}' has blocking findings and cannot be approved as is": "文件“{name}”有阻止性检查结果，不能按原样批准",
    "no decision given for file '{name}'": "请为文件“{name}”做出决定",
    "file '{name}': unknown decision '{decision}' (one of {choices})":
        "文件“{name}”：未知的决定“{decision}”（可选：{choices}）",
    "file '{name}' has findings that need a reviewer comment":
        "文件“{name}”有需要人工审核的检查结果，批准时必须填写意见",
    "file '{name}' was approved by neither reviewer: a resolution cannot release it on one person's approval":
        "两位审核员都没有批准文件“{name}”：裁决不能仅凭一人批准就发布它",
    "request {id} has no file(s) {names}": "申请 {id} 中没有文件 {names}",
    "approving releases the approved files: approve at least one file, or return or reject the request":
        "批准会发布已批准的文件：请至少批准一个文件，或者退回、拒绝此申请",
    "file '{name}' is withheld: say why in its comment to the requester":
        "文件“{name}”不发布：请在意见中向申请人说明原因",
    "resolving a conflict needs a reason": "裁决冲突必须填写理由",
    "returning or rejecting a request needs a comment to the requester": "退回或拒绝申请时必须给申请人写意见",
    "file '{name}' is {outcome}: it is withheld": "文件“{name}”的结果为“{outcome}”：不发布",
    "you have already claimed request {id}": "您已认领申请 {id}",
    "request {id} is already claimed by {names}": "申请 {id} 已被 {names} 认领",
    "you have not claimed request {id}": "您没有认领申请 {id}",
    "you are no longer a member of project '{slug}'": "您已不再是项目“{slug}”的成员",
    "{reason}: the files of its export requests cannot be read now": "{reason}：目前不能读取其导出申请的文件",
    "request {id} cannot go from {state} to {to}": "申请 {id} 不能从“{state}”变为“{to}”",
    "request {request_id} belongs to project '{project}': revise it from that project's workspace":
        "申请 {request_id} 属于项目“{project}”：请在该项目的工作区中修订",
    "no files in the request": "申请中没有文件",
    "request {id} is {state}, not approved": "申请 {id} 的状态为“{state}”，未获批准",
    "request {id} is already released": "申请 {id} 已发布",
    "request {id} has no approved file to release": "申请 {id} 没有可发布的已批准文件",
    "request {request_id} has no file {file_id}": "申请 {request_id} 中没有文件 {file_id}",
    "file '{name}' was not released": "文件“{name}”未发布",
    "the export store is full: the request was not made; tell the enclave administrators, then try again":
        "导出存储已满：申请未创建；请告知安全环境管理员，然后重试",
    "a request may name at most {max_files_per_request} files; this one names {named}: split it, or put the files "
    "in one zip archive":
        "一个申请最多可包含 {max_files_per_request} 个文件，此申请包含 {named} 个：请拆分，或将文件放入一个 zip 压缩包",
    "each file may be named only once in a request; named more than once: {names}":
        "每个文件在一个申请中只能出现一次；重复的文件：{names}",
    "project '{slug}' has made {requests} export requests in the last 24 hours, the most policy allows "
    "({max_requests_per_day}); try again later":
        "项目“{slug}”在过去 24 小时内已提交 {requests} 个导出申请，达到策略上限（{max_requests_per_day}）；请稍后再试",
    "project '{slug}' has requested {done} files in the last 24 hours; {files} more would pass the limit of "
    "{max_files_per_day} per day; try again later":
        "项目“{slug}”在过去 24 小时内已申请 {done} 个文件；再加 {files} 个将超过每天 {max_files_per_day} 个的上限；"
        "请稍后再试",
    "{name!r}: file names with control characters are refused": "{name!r}：含有控制字符的文件名会被拒绝",
    "{name!r}: file names with invisible or direction-changing characters ({codes}) are refused; rename the file":
        "{name!r}：含有不可见或改变文字方向的字符（{codes}）的文件名会被拒绝；请重命名文件",
    "{relpath}: only paths inside the project workspace can be exported": "{relpath}：只能导出项目工作区内的文件",
    "{name!r}: the file name is not in Unicode normal form (NFC): it can show the same as another name; rename "
    "the file": "{name!r}：文件名不是 Unicode 规范形式（NFC），可能与其他文件名显示相同；请重命名文件",
    "{name!r}: the file name holds compatibility characters (such as ligatures or full-width letters) that read "
    "the same as other names; rename the file":
        "{name!r}：文件名含有兼容字符（如连字或全角字母），读起来与其他文件名相同；请重命名文件",
    "{rel}: the workspace reader stopped before the end of the file": "{rel}：工作区读取程序在文件结束前停止",
    "{rel}: the workspace reader sent something unreadable; nothing was kept":
        "{rel}：工作区读取程序返回了无法识别的内容；未保留任何内容",
    "{rel}: grew beyond the limit of {max_file_bytes} bytes while being read":
        "{rel}：读取期间文件增大，超过了 {max_file_bytes} 字节的上限",
    "{rel}: the files grew beyond the request's limit while being read":
        "{rel}：读取期间文件增大，超过了申请的总量上限",
    "the workspace reader could not start as the workspace user; nothing was read ({exc})":
        "工作区读取程序无法以工作区用户身份启动；未读取任何内容（{exc}）",
    "the project's workspace is not available; nothing was read": "项目工作区不可用；未读取任何内容",
    "the workspace reader failed; nothing was read": "工作区读取程序失败；未读取任何内容",
    "the workspace reader sent something unreadable; nothing was kept":
        "工作区读取程序返回了无法识别的内容；未保留任何内容",
    # the service's own (egress_review.service)
    "choose a decision: approve, return or reject": "请选择决定：批准、退回修改或拒绝",
    "only people can use export requests": "只有用户本人才能使用导出申请",
    "the body is not JSON: {problem}": "请求内容不是 JSON：{problem}",
    "the body must be a JSON object": "请求内容必须是 JSON 对象",
    "'files' must be a non-empty list of paths inside /workspace": "“files”必须是 /workspace 内路径的非空列表",
    "'justification' must be text": "“justification”必须是文字",
    "unknown field(s): {names}": "未知的字段：{names}",
    "'revises' must be the number of the returned request this one revises":
        "“revises”必须是此申请所修订的已退回申请的编号",
    "export requests are made from your running workspace": "导出申请需从您正在运行的工作区提交",
    "export requests are accepted only from your own workspace": "只接受来自您本人工作区的导出申请",
    "only PNG and JPEG images are shown": "只显示 PNG 和 JPEG 图片",
}

# Words that fill the refusals' {act} (an action of a reviewer) and {state}/{outcome} (see enclave.i18n).
REFUSAL_WORDS: dict[str, str] = {
    "act:review": "审核", "act:resolve": "裁决", "act:see": "查看", "act:reviewed": "审核", "act:resolved": "裁决",
    "outcome:approved": "已批准", "outcome:returned": "已退回", "outcome:rejected": "已拒绝",
    "outcome:conflicted": "意见冲突", "outcome:pending": "待定",
}

def message(text: str, lang: str) -> str:
    """A domain message in the reader's language (English is the message itself).

    A `Text` is translated by its template (`REFUSALS_ZH`, the core's `CORE_ZH`); a plain sentence from
    elsewhere (the workspace reader, the service's own form checks) by the patterns above; anything else
    stays as it is.
    """
    if lang != "zh-CN":
        return str(text)
    keyed = _keyed(text)
    if keyed is not None:
        return keyed
    whole = _one(text)
    if whole is not None:
        return whole
    return "；".join(_one(part) or part for part in text.split("; "))  # several problems, joined by "; "


def _keyed(text: str) -> str | None:
    """By template: a `Text`, or a refusal that reached us as its English sentence (read back from the catalogue)."""
    catalogue = {**CORE_ZH, **REFUSALS_ZH}
    made = text if isinstance(text, Text) else from_english(text, catalogue)
    return localize(made, "zh-CN", catalogue, {**CORE_WORDS, **ZH_CN, **REFUSAL_WORDS}) if made is not None else None


def _one(text: str) -> str | None:
    keyed = _keyed(text)
    if keyed is not None:
        return keyed
    for pattern, zh in MESSAGES:
        m = pattern.match(text)
        if m:
            return m.expand(zh)
    return None


# English is the key itself, except where the key is an identifier rather than words (a state's value).
EN: dict[str, str] = {"in_review": "in review"}


def translator(lang: str) -> Callable[[str], str]:
    if lang == "zh-CN":
        return lambda text: ZH_CN.get(text, text)
    return lambda text: EN.get(text, text)


# --- findings for people (egress_review.findings.person_text) --------------------------------------

WHERE: dict[str, dict[str, str]] = {
    "zh-CN": {"sheet": "工作表 {v}", "member": "压缩包内 {v}", "cell": "第 {v} 个单元格", "line": "第 {v} 行",
              "row": "第 {v} 行", "column": "{v} 列", "page": "第 {v} 页"},
    "en": {"sheet": "sheet {v}", "member": "in the archive: {v}", "cell": "cell {v}", "line": "line {v}",
           "row": "row {v}", "column": "column {v}", "page": "page {v}"},
}

ENTITY_NAMES: dict[str, tuple[str, str]] = {
    "CN_RESIDENT_ID": ("居民身份证号", "a resident ID number"),
    "CN_FOREIGN_PERMANENT_ID": ("外国人永久居留身份证号", "a foreign permanent resident ID"),
    "HK_ID": ("香港身份证号", "a Hong Kong ID number"), "MO_ID": ("澳门身份证号", "a Macau ID number"),
    "TW_ID": ("台湾身份证号", "a Taiwan ID number"), "CN_PASSPORT": ("护照号", "a passport number"),
    "CN_TRAVEL_PERMIT": ("通行证号", "a travel permit number"), "CN_PHONE": ("手机号码", "a mobile phone number"),
    "PHONE": ("电话号码", "a phone number"), "BANK_CARD": ("银行卡号", "a bank card number"),
    "EMAIL": ("电子邮箱", "an e-mail address"), "US_SSN": ("美国社会安全号", "a US social security number"),
    "UK_NHS_NUMBER": ("英国 NHS 号", "an NHS number"), "SOCIAL_SECURITY_NO": ("社保卡号", "a social security number"),
    "MEDICAL_INSURANCE_NO": ("医保卡号", "a medical insurance number"),
    "MEDICAL_RECORD_NO": ("病案号/住院号", "a medical record number"), "LICENCE_PLATE": ("车牌号", "a licence plate"),
    "MESSAGING_HANDLE": ("微信/QQ 等账号", "a messaging handle"), "DATE_OF_BIRTH": ("出生日期", "a date of birth"),
    "PERSON": ("人名", "a person's name"), "ADDRESS": ("住址", "an address"),
}

RULE_TEXT: dict[str, dict[str, str]] = {
    "zh-CN": {
        "threshold:count": "计数 {n} 低于阈值 {p}", "threshold": "计数低于阈值 {p}",
        "redact:count": "计数 {n} 必须隐去（不超过 {p}）", "redact": "小于等于 {p} 的计数必须隐去",
        "round:count": "计数 {n} 未取整到 {p} 的倍数", "round": "计数未取整到 {p} 的倍数",
        "zeros": "零计数会暴露某一组人都没有（或都有）某种特征",
        "dominance": "少数几个贡献者占了总量的大部分，可推算出个人的数值",
        "statistic-of-small-group": "统计量描述的人群太小", "min-max": "最小值或最大值是单个人的数值",
        "differencing": "两张表相减可得到小计数", "secondary-suppression": "已隐去的格子可由行列合计推算出来",
        "secondary-total-minus-cells": "合计减去各格可得出被隐去的小计数",
        "percentage-reveals-suppressed": "百分比暴露了已隐去的计数",
        "small-step": "相邻行之间的变化很小，可推算出个人", "survival-review": "生存分析表总是需要人工审核",
        "count-in-text": "文字中出现了小计数", "count-in-chart": "图表中标注了小计数",
        "percent-without-denominator": "百分比没有分母，可能隐藏小计数",
        "unexplained-bracket": "“3 (4.6)” 这样的格子所在列标明了组人数，但括号里的数不是该组的百分比："
                               "可能是另一分母下的小计数，也可能是均值（标准差）；行标签应写明",
        "unreadable-count-cell": "计数列中有无法读成数字的格子（如 “0 7”“7x”），可能藏着小计数："
                                 "请写成数字或说明它是什么",
        "residual_df": "回归的残差自由度太少（至少 {p}）",
        "identifying-column": "这一列可识别出个人记录", "date-of-birth": "这一列是出生日期：个人记录",
        "record-shape": "看起来是个人记录，而不是汇总表",
        "record-dates": "带有事件日期、没有计数：看起来是个人就诊记录",
        "record-measurements": "个人层面的测量值，没有计数或统计量",
        "printed-records": "打印出的数据框（head() 或 sample()）：个人记录",
        "row_cap": "行数超过上限 {p}：看起来是个人记录",
        "spreadsheet-formula": "单元格含有电子表格公式", "personal-data": "个人信息：{kind}",
        "own-data": "待人工审核：审核员会将此文件与项目数据进行比对",
        "check:file-type": "文件规则：{kind}", "check:active-content": "可能包含可执行内容（{kind}）",
        "check:model": "模型检查：{kind}", "check:rebuild": "无法以此形式导出（{kind}）",
        "check:other": "检查项 {check}：{kind}",
    },
    "en": {
        "threshold:count": "count {n} is below the threshold of {p}", "threshold": "a count below the threshold of {p}",
        "redact:count": "count {n} must be suppressed (at most {p})",
        "redact": "counts of {p} or less must be suppressed",
        "round:count": "count {n} is not rounded to a multiple of {p}",
        "round": "a count not rounded to a multiple of {p}",
        "zeros": "a zero count shows that nobody (or everybody) in a group has an attribute",
        "dominance": "a few contributors make up most of the total: one person's value can be estimated",
        "statistic-of-small-group": "a statistic describes too small a group",
        "min-max": "a minimum or maximum is one person's value",
        "differencing": "two tables differ by a small count", "secondary-suppression":
        "a suppressed cell can be worked out from the totals", "secondary-total-minus-cells":
        "the total minus the cells shown gives a suppressed small count",
        "percentage-reveals-suppressed": "a percentage reveals a suppressed count",
        "small-step": "a small change between rows can single people out",
        "survival-review": "survival tables are always reviewed", "count-in-text": "a small count in the text",
        "count-in-chart": "a chart labels a small count",
        "percent-without-denominator": "a percentage without its denominator can hide a small count",
        "unexplained-bracket": "a small number with a bracket under a header that states the group's size, the "
                               "bracket no share of it: a count with another total's share, or a mean (SD)? The row "
                               "should say",
        "unreadable-count-cell": "a cell in a column of counts is no number the checks can read ('0 7', '7x'); it may "
                           "hide a small count: write it as a number or say what it is",
        "residual_df": "the regression has too few residual degrees of freedom (at least {p})",
        "identifying-column": "this column identifies records", "date-of-birth": "this column holds dates of birth",
        "record-shape": "looks like individual records, not an aggregate table",
        "record-dates": "rows with event dates and no counts: looks like individual visits",
        "record-measurements": "person-level measurements with no counts or statistics",
        "printed-records": "a printed frame (head() or sample()): individual records",
        "row_cap": "more rows than the cap of {p}: looks like individual records",
        "spreadsheet-formula": "a cell holds a spreadsheet formula", "personal-data": "personal data: {kind}",
        "own-data": "held for review: a reviewer will compare this file with your project's data",
        "check:file-type": "file rule: {kind}", "check:active-content": "may contain active content ({kind})",
        "check:model": "model check: {kind}", "check:rebuild": "cannot be exported in this form ({kind})",
        "check:other": "check {check}: {kind}",
    },
}

ADVICE: dict[str, dict[str, str]] = {
    "zh-CN": {
        "small-counts": "可以隐去或取整小计数，合并类别（汇总到更大的组），或删去该列。",
        "statistics": "可以合并小组、删去最小值/最大值，或只报告足够大的组的统计量。",
        "personal-data": "删去含个人信息的列或数值，只导出汇总结果。",
        "row-level": "不要导出个人记录：改为导出汇总表（计数、均值），并删去标识列。",
        "own-data": "确认文件中没有从数据集复制出的数值；审核员会逐项比对。",
        "file-type": "改用允许的格式导出：CSV 表格、PNG 图片或纯文本。",
        "model": "模型可能记住了训练数据：导出系数或汇总指标，而不是整个模型。",
    },
    "en": {
        "small-counts": "Suppress or round the small counts, merge categories (aggregate to larger groups), "
                        "or drop the column.",
        "statistics": "Merge small groups, drop minima and maxima, or report statistics of large enough groups only.",
        "personal-data": "Drop the column or the values with personal data; export aggregates only.",
        "row-level": "Do not export individual records: export an aggregate table (counts, means) and drop "
                     "identifier columns.",
        "own-data": "Make sure no values were copied from the dataset; a reviewer compares them one by one.",
        "file-type": "Export in an allowed format: a CSV table, a PNG image or plain text.",
        "model": "A model can remember its training data: export coefficients or summary measures, not the model.",
    },
}

GUIDANCE_PAGE: dict[str, list[tuple[str, str, str]]] = {
    "zh-CN": [
        ("small-counts", "小计数", "阈值以下的计数可能让人识别出个人。做法：隐去（写成 “<10”）或取整到规定的倍数；"
         "把小类别合并成更大的组；去掉不必要的分组变量或列。隐去一个格子后，还要确认它不能由合计推算出来。"),
        ("statistics", "统计量", "最小值、最大值、很小组的均值，以及少数人占主导的合计，都可能暴露个人数值。"
         "做法：合并小组；报告分位数而不是最小值/最大值；只报告人数足够多的组。"),
        ("personal-data", "个人信息", "身份证号、电话、姓名、地址等不能离开安全环境。做法：删除这些列或数值；"
         "只导出汇总结果。若确实不是个人信息（例如联系人电话），请在理由说明中写明。"),
        ("row-level", "个人记录", "每行对应一个人的表（含出生日期、标识号、就诊日期）不能导出。做法：导出汇总表"
         "（各组计数、均值），删去标识列；不要导出 head() 或 sample() 的输出。"),
        ("own-data", "与项目数据比对", "文件与项目数据集中的数值相符时，会交给审核员比对。做法：确认没有复制原始数值；"
         "只导出由数据计算出的汇总结果。"),
        ("file-type", "文件格式", "只接受可检查的格式。做法：表格导出为 CSV，图片导出为 PNG，文字导出为纯文本；"
         "不要导出压缩包中的可执行内容、公式或脚本。"),
        ("model", "模型", "模型可能记住个人数据。做法：导出系数、评估指标或汇总结果；树模型要有足够大的叶节点。"),
    ],
    "en": [
        ("small-counts", "Small counts", "Counts below the threshold can identify people. Suppress them (write "
         "\"<10\") or round them to the required multiple; merge small categories into larger groups; drop "
         "grouping variables or columns you do not need. After suppressing a cell, make sure it cannot be worked "
         "out from the totals."),
        ("statistics", "Statistics", "Minima, maxima, means of very small groups and totals dominated by a few "
         "contributors can reveal one person's value. Merge small groups; report percentiles instead of minima "
         "and maxima; report only groups with enough people."),
        ("personal-data", "Personal data", "ID numbers, phone numbers, names and addresses never leave the enclave. "
         "Drop those columns or values and export aggregates only. If it is not personal data (a contact "
         "number, say), say so in the justification."),
        ("row-level", "Individual records", "A table with one row per person (dates of birth, identifiers, visit "
         "dates) cannot be exported. Export an aggregate table (counts, means per group) and drop identifier "
         "columns; do not export the output of head() or sample()."),
        ("own-data", "Compared with the project's data", "A file whose values match the project's datasets goes "
         "to a reviewer, who compares them. Make sure no raw values were copied; export results computed from "
         "the data."),
        ("file-type", "File types", "Only formats that can be checked are accepted: tables as CSV, images as "
         "PNG, text as plain text; no executable content, formulas or scripts."),
        ("model", "Models", "A model can remember personal data. Export coefficients, evaluation measures or "
         "summaries; tree models need large enough leaves."),
    ],
}
