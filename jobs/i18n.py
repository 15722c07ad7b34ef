"""The reasons a researcher reads about a job (in job.json and the list), in zh-CN as well as en.

The English sentence is the key, as in egress_review.i18n; the patterns hold the numbers and names
that vary, so every reason the runner gives has its translation here and a new one falls back to English.
"""

from __future__ import annotations

import re

from enclave.errors import Text
from enclave.i18n import CORE_WORDS, CORE_ZH, from_english, localize

PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^exited with code (-?\d+)$"), r"已结束，退出码 \1"),
    (re.compile(r"^stopped: still running after its wall-time limit of (\d+) s$"), r"已停止：运行超过时间上限 \1 秒"),
    (re.compile(r"^stopped: killed by the kernel \(SIGKILL\), as happens when a job uses more than its memory limit "
                r"of (\S+)$"), r"已停止：被内核终止（SIGKILL），通常是因为作业使用的内存超过上限 \1"),
    (re.compile(r"^the job's container was lost .*run it again$"),
     "作业的容器在运行期间丢失（运行器或容器引擎停止），未保留任何结果，请重新运行"),
    (re.compile(r"^cancelled by (\S+)$"), r"已由 \1 取消"),
]


def reason_zh(reason: str) -> str:
    """The reason in zh-CN: the runner's own sentences by pattern, refusals (stored as English, e.g. "the job was
    not started: ...") read back as their template and translated from the catalogues; else unchanged."""
    for pattern, zh in PATTERNS:
        if pattern.match(reason):
            return pattern.sub(zh, reason)
    catalogue = {**CORE_ZH, **REFUSALS_ZH}
    text = reason if isinstance(reason, Text) else from_english(reason, catalogue)
    keyed = localize(text, "zh-CN", catalogue, CORE_WORDS) if text is not None else None
    return keyed if keyed is not None else reason

# Refusals of jobs.rules in zh-CN, keyed by their English template (`enclave.errors.Text`).
REFUSALS_ZH: dict[str, str] = {
    "--outputs '{outputs}' must be a folder inside the workspace, such as results/ (not jobs/, no '..')":
        "--outputs “{outputs}”必须是工作区内的文件夹，例如 results/（不能是 jobs/，不能含“..”）",
    "cannot submit a job: {reason}": "不能提交作业：{reason}",
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
}
