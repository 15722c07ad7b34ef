"""The reasons a researcher reads about a job (in job.json and the list), in zh-CN as well as en.

The English sentence is the key, as in egress_review.i18n; the patterns hold the numbers and names
that vary, so every reason the runner gives has its translation here and a new one falls back to English.
"""

from __future__ import annotations

import re

PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^exited with code (-?\d+)$"), r"已结束，退出码 \1"),
    (re.compile(r"^stopped: still running after its wall-time limit of (\d+) s$"), r"已停止：运行超过时间上限 \1 秒"),
    (re.compile(r"^stopped: killed by the kernel \(SIGKILL\), as happens when a job uses more than its memory limit "
                r"of (\S+)$"), r"已停止：被内核终止（SIGKILL），通常是因为作业使用的内存超过上限 \1"),
    (re.compile(r"^the job's container was lost .*run it again$"),
     "作业的容器在运行期间丢失（运行器或容器引擎停止），未保留任何结果，请重新运行"),
    (re.compile(r"^cancelled by (\S+)$"), r"已由 \1 取消"),
    (re.compile(r"^the job was not started: (.*)$"), r"作业未启动：\1"),
]


def reason_zh(reason: str) -> str:
    """The reason in zh-CN where a pattern knows it; otherwise the English sentence unchanged."""
    for pattern, zh in PATTERNS:
        if pattern.match(reason):
            return pattern.sub(zh, reason)
    return reason
