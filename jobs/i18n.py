"""What a researcher reads about jobs, in zh-CN as well as en: the runner's reasons and the service's refusals.

The English sentence is the key, as in egress_review.i18n; the patterns hold the numbers and names
that vary, so every reason the runner gives has its translation here and a new one falls back to English.
Reasons that come from the core (a project suspended, a missing accreditation) are the core's own
translations (`enclave.i18n.reason_in`), so the jobs service and the hub say the same thing.
"""

from __future__ import annotations

import re

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
