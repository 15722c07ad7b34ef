"""What a researcher reads about jobs, in zh-CN as well as en: the runner's reasons and the service's refusals.

The English sentence is the key, as in egress_review.i18n; the patterns hold the numbers and names
that vary, so every reason the runner gives has its translation here and a new one falls back to English.
Reasons that come from the core (a project suspended, a missing accreditation) are the core's own
translations (`enclave.i18n.reason_in`), so the jobs service and the hub say the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from enclave.errors import Text
from enclave.i18n import CORE_WORDS, CORE_ZH, from_english, localize, reason_in

PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^exited with code (-?\d+)$"), r"已结束，退出码 \1"),
    (re.compile(r"^stopped: still running after its wall-time limit of (\d+) s$"), r"已停止：运行超过时间上限 \1 秒"),
    (re.compile(r"^stopped: killed by the kernel \(SIGKILL\), as happens when a job uses more than its memory limit "
                r"of (\S+)$"), r"已停止：被内核终止（SIGKILL），通常是因为作业使用的内存超过上限 \1"),
    (re.compile(r"^the job's container was lost .*run it again$"),
     "作业的容器在运行期间丢失（运行器或容器引擎停止），未保留任何结果，请重新运行"),
    (re.compile(r"^cancelled by (\S+)$"), r"已由 \1 取消"),
]

# The jobs service's refusals and the workflow's own (what `enclave-job` and the notebook show).
MESSAGES: list[tuple[re.Pattern[str], str]] = [(re.compile(p, re.S), zh) for p, zh in (
    (r"^jobs are submitted from your running workspace; start it first$",
     "作业只能从您正在运行的工作区提交；请先启动工作区"),
    (r"^jobs are accepted only from your own workspace$", "作业只接受来自您自己工作区的提交"),
    (r"^no job (\d+)$", r"没有作业 \1"),
    (r"^only people can submit and follow jobs$", "只有用户本人可以提交和查看作业"),
    (r"^project '([^']+)' already has (\d+) jobs waiting or running \(the limit is (\d+)\); wait for some to finish$",
     r"项目“\1”已有 \2 个作业在排队或运行（上限为 \3 个）；请等待部分作业完成"),
    (r"^--run is required: the command the job runs, e\.g\. (.*)$", r"必须给出 --run：作业要运行的命令，例如 \1"),
    (r"^--outputs '(.*)' must be a folder inside the workspace, such as results/ \(not jobs/, no '\.\.'\)$",
     r"--outputs “\1”必须是工作区内的文件夹，例如 results/（不能是 jobs/，不能含 “..”）"),
    (r"^the code folder holds more than (\d+) bytes; keep data and large files out of it$",
     r"代码文件夹超过 \1 字节；请不要把数据和大文件放在其中"),
    (r"^the code folder holds more than (\d+) files$", r"代码文件夹中的文件超过 \1 个"),
    (r"^the code folder does not exist$", "代码文件夹不存在"),
    (r"^the body is not JSON: .*$", "请求内容不是 JSON"),
    (r"^the body must be a JSON object$", "请求内容必须是 JSON 对象"),
    (r"^'(\w+)' must be text$", r"“\1”必须是文本"),
    (r"^unknown field\(s\): (.*)$", r"未知字段：\1"),
    (r"^the container engine does not answer; try again in a few minutes$", "容器引擎没有响应；请几分钟后重试"),
    (r"^a workspace token is needed: call this from your workspace \(enclave-job, or enclave_job in a notebook\)$",
     "需要工作区令牌：请在您的工作区中调用（enclave-job，或在笔记本中使用 enclave_job）"),
    # enclave.webpages.error_sentence: an unexpected failure of an API call (the page's own is in PAGES_ZH)
    (r"^the jobs service failed on this call; tell the enclave administrators$",
     "作业服务处理此调用时出错；请告知安全区管理员"),
)]


def reason_zh(reason: str) -> str:
    """The reason in zh-CN: the runner's own sentences by pattern, refusals (stored as English, e.g. "the job was
    not started: ...") read back as their template and translated from the catalogues; else unchanged."""
    for pattern, zh in PATTERNS:
        if pattern.match(reason):
            return pattern.sub(zh, reason)
    keyed = _keyed(reason)
    return keyed if keyed is not None else reason


def _keyed(text: str) -> str | None:
    """By template: a `Text`, or a refusal that reached us as its English sentence (read back from the catalogue)."""
    catalogue = {**CORE_ZH, **REFUSALS_ZH}
    made = text if isinstance(text, Text) else from_english(text, catalogue)
    return localize(made, "zh-CN", catalogue, CORE_WORDS) if made is not None else None


def message(text: str, lang: str) -> str:
    """A refusal or reason in the reader's language (English is the text itself; an unknown one stays as it is)."""
    if lang != "zh-CN":
        return text
    keyed = _keyed(text)
    if keyed is not None:
        return keyed
    m = re.match(r"^cannot submit a job: (.*)$", text, re.S)
    if m:
        return "无法提交作业：" + reason_in(lang, m.group(1))
    for pattern, zh in MESSAGES:
        if pattern.match(text):
            return pattern.sub(zh, text)
    if reason_zh(text) != text:
        return reason_zh(text)
    return reason_in(lang, text)


# Refusals of jobs.rules in zh-CN, keyed by their English template (`enclave.errors.Text`).
REFUSALS_ZH: dict[str, str] = {
    "--outputs '{outputs}' must be a folder inside the workspace, such as results/ (not jobs/, no '..')":
        "--outputs “{outputs}”必须是工作区内的文件夹，例如 results/（不能是 jobs/，不能含“..”）",
    "cannot submit a job: {reason}": "无法提交作业：{reason}",
    "project '{slug}' already has {queued} jobs waiting or running (the limit is {limit}); wait for some to finish":
        "项目“{slug}”已有 {queued} 个作业在等待或运行（上限为 {limit}）；请等待部分作业完成",
    "the job was not started: {reason}": "作业未启动：{reason}",
    "job {id} has already ended ({state})": "作业 {id} 已结束（{state}）",
    "only the submitter or an administrator may cancel job {id}": "只有提交者或管理员可以取消作业 {id}",
    "only output checkers (the reviewer role) may release a job's held outputs":
        "只有输出审核员（审核员角色）可以发布作业被扣留的输出",
    "you are or were a member of project '{slug}': you cannot check its outputs":
        "您是或曾是项目“{slug}”的成员：不能审核其输出",
    "job {id} has nothing held for review (its outputs are {release})":
        "作业 {id} 没有待审核的输出（其输出状态为 {release}）",
    "{reason}: job {id}'s held outputs cannot be released into its workspace now":
        "{reason}：目前不能将作业 {id} 被扣留的输出发布到其工作区",
    "job {id} is {state}; only an interrupted job is run again":
        "作业 {id} 的状态为 {state}；只有被中断的作业才能重新运行",
    "only the submitter or an administrator may run job {id} again": "只有提交者或管理员可以重新运行作业 {id}",
    "jobs are submitted from your running workspace; start it first":
        "作业只能从您正在运行的工作区提交；请先启动工作区",
    "jobs are accepted only from your own workspace": "作业只接受来自您自己工作区的提交",
    "no job {job_id}": "没有作业 {job_id}",
    "job {id} was decided by someone else meanwhile": "作业 {id} 已在此期间由他人做出决定",
    "job {id} is {state}, no longer {states}": "作业 {id} 的状态为 {state}，已不再是 {states}",
    '--run is required: the command the job runs, e.g. "python analysis/main.py"':
        "必须给出 --run：作业要运行的命令，例如 \"python analysis/main.py\"",
    "a reason is required: say what you checked": "必须填写理由：请说明您检查了什么",
}


# The output checkers' pages (jobs.service, templates in jobs/templates): each English sentence and its zh-CN.
PAGES_ZH: dict[str, str] = {
    "Held job outputs": "待审核的作业输出",
    "Signed in as": "当前用户",
    "Jobs whose outputs the checks held for an output checker. Nothing of them is in the project's workspace "
    "until you release it.": "检查扣留、等待输出审核员决定的作业。在您放行之前，它们不会出现在项目的工作区中。",
    "No job has held outputs waiting for you.": "没有等待您审核的作业输出。",
    "Jobs of projects you are or were a member of are not listed: another checker decides on them.":
        "您是或曾是其成员的项目的作业不在此列出：由其他审核员决定。",
    "Job": "作业", "Project": "项目", "Submitter": "提交者", "Command": "命令", "Ended": "结束时间",
    "Kinds of finding": "检查结果类型", "Open": "打开",
    "Held files": "待审文件", "Other files": "其他文件", "Verdict": "结论", "Check": "检查", "Kind": "类型",
    "Where": "位置", "Findings": "检查结果", "No findings were recorded for this file.": "此文件没有记录检查结果。",
    "The checked content (the rebuilt form that would be delivered):": "检查后的内容（将被交付的重建版本）：",
    "Shown in full ({n} bytes).": "已完整显示（{n} 字节）。",
    "Only part is shown: the first {shown} of {n} bytes.": "仅显示部分内容：共 {n} 字节中的前 {shown} 字节。",
    "This file is not text ({n} bytes); its content is not shown here.":
        "此文件不是文本（{n} 字节），此处不显示其内容。",
    "The checked copy of this file is missing from the jobs store; tell the enclave administrators.":
        "作业存储中缺少此文件的检查副本；请告知安全区管理员。",
    "Your decision": "您的决定",
    "Release: the held files are delivered into the project's workspace": "放行：待审文件交付到项目的工作区",
    "Withhold: the held files never come into the workspace": "不放行：待审文件永远不会进入工作区",
    "Reason (what you checked)": "理由（您检查了什么）",
    "Continue": "继续", "Confirm": "确认", "Change": "修改", "Back": "返回", "Back to the queue": "返回列表",
    "choose release or withhold": "请选择放行或不放行",
    "Please confirm": "请确认",
    "These files will be delivered into /workspace/jobs/{id}/ of project {project}:":
        "以下文件将交付到项目 {project} 的 /workspace/jobs/{id}/：",
    "These files will be kept out of project {project}'s workspace for good:":
        "以下文件将永远不会进入项目 {project} 的工作区：",
    "Your reason:": "您的理由：", "Nothing has been recorded yet.": "目前尚未记录任何内容。",
    "Released: the held files are now in /workspace/jobs/{id}/ of project {project}.":
        "已放行：待审文件现已位于项目 {project} 的 /workspace/jobs/{id}/。",
    "Released: the files are delivered into /workspace/jobs/{id}/ once project {project}'s workspace is "
    "mounted.": "已放行：项目 {project} 的工作区挂载后，文件将交付到 /workspace/jobs/{id}/。",
    "Withheld: the held files stay out of the workspace for good.": "未放行：待审文件永远不会进入工作区。",
    "Now: {release}": "当前状态：{release}",
    "Not found": "未找到", "Not allowed": "不允许", "Something went wrong": "出现问题", "Error": "错误",
    "the jobs service failed on this page; tell the enclave administrators": "作业服务在此页面出错；请告知安全区管理员",
    "only people can check job outputs": "只有用户本人可以审核作业输出",
}


def translator(lang: str) -> Callable[..., str]:
    """`t("Shown in full ({n} bytes).", n=3)` in the reader's language (English is the key itself)."""
    table = PAGES_ZH if lang == "zh-CN" else {}

    def t(text: str, **params: object) -> str:
        said = table.get(text, text)
        return said.format(**params) if params else said

    return t


# Where a finding is, in the reader's words (as the export pages say it; the location holds plain numbers and names).
WHERE: dict[str, dict[str, str]] = {
    "zh-CN": {"sheet": "工作表 {v}", "member": "压缩包内 {v}", "cell": "第 {v} 个单元格", "line": "第 {v} 行",
              "row": "第 {v} 行", "column": "{v} 列", "page": "第 {v} 页"},
    "en": {"sheet": "sheet {v}", "member": "in the archive: {v}", "cell": "cell {v}", "line": "line {v}",
           "row": "row {v}", "column": "column {v}", "page": "page {v}"},
}


def where(location: dict[str, object], lang: str) -> str:
    """'row 3, column n' / '第 3 行 n 列' from a finding's location ('' when it gives none)."""
    words = WHERE["zh-CN" if lang == "zh-CN" else "en"]
    parts = [words[k].format(v=location[k]) for k in words if location.get(k) not in (None, "")]
    return (" " if lang == "zh-CN" else ", ").join(parts)
