"""The user's language, zh-CN or en, for every page the enclave serves; the core's refusal reasons in zh-CN.

The reasons (why a workspace cannot start, why a project is closed) are written in English by the core;
their translations live beside them here, so the hub, the jobs service and any other part that shows them
to a person say the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Callable


def pick_language(accept_language: str) -> str:
    """The first of zh-* or en-* in an Accept-Language header wins; anything else falls back to English."""
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return "en"


# The reasons enclave.projects gives for a refused start, in Chinese (the English is theirs, unchanged).
STATES_ZH = {"requested": "已申请", "approved": "已批准", "active": "活动", "suspended": "已暂停",
             "expired": "已到期", "closed": "已关闭"}
REASONS_ZH: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^cannot start a workspace: (?P<rest>.*)$", re.S),
     lambda m: "无法启动工作区：" + reason_in("zh-CN", m["rest"])),
    (re.compile(r"^your account does not have the researcher role$"), lambda m: "您的账户没有研究员角色"),
    (re.compile(r"^you are not a member of project '(?P<p>[^']+)'$"), lambda m: f"您不是项目“{m['p']}”的成员"),
    (re.compile(r"^project '(?P<p>[^']+)' is (?P<s>\w+), not active(?: \((?P<why>.*)\))?$", re.S),
     lambda m: f"项目“{m['p']}”处于{STATES_ZH.get(m['s'], m['s'])}状态，未激活"
               + (f"（{m['why']}）" if m["why"] else "")),
    (re.compile(r"^project '(?P<p>[^']+)' starts on (?P<d>[\d-]+)$"), lambda m: f"项目“{m['p']}”于 {m['d']} 开始"),
    (re.compile(r"^project '(?P<p>[^']+)' expired on (?P<d>[\d-]+)$"), lambda m: f"项目“{m['p']}”已于 {m['d']} 到期"),
    (re.compile(r"^no project '(?P<p>[^']+)'$"), lambda m: f"没有项目“{m['p']}”"),
    # ways of working (enclave.modes)
    (re.compile(r"^project '(?P<p>[^']+)' holds data whose tier does not allow blind jobs$"),
     lambda m: f"项目“{m['p']}”的数据等级不允许盲模式作业"),
    (re.compile(r"^project '(?P<p>[^']+)' has no approved dataset for a job to run on$"),
     lambda m: f"项目“{m['p']}”没有可供作业运行的已批准数据集"),
    # graded access (enclave.access): "<standing>, which allows <tiers>; the project holds tier N data"
    (re.compile(r"^(?P<st>.+), which allows (?P<al>no dataset tier|data up to tier (?P<max>\d+)); "
                r"the project holds tier (?P<t>\d+) data$", re.S),
     lambda m: reason_in("zh-CN", m["st"]) + "，" + (
         f"允许使用最高 {m['max']} 级的数据" if m["max"] else "不允许使用任何等级的数据")
     + f"；该项目含有 {m['t']} 级数据"),
    (re.compile(r"^you have no accreditation on record$"), lambda m: "您没有资质认证记录"),
    (re.compile(r"^your accreditation \((?P<n>[^)]*)\) lapsed on (?P<d>[\d-]+)$"),
     lambda m: f"您的资质认证（{m['n']}）已于 {m['d']} 失效"),
    (re.compile(r"^your accreditation \((?P<n>[^)]*)\) is current until (?P<d>[\d-]+)$"),
     lambda m: f"您的资质认证（{m['n']}）有效期至 {m['d']}"),
]


def reason_in(lang: str, reason: str) -> str:
    """A refusal reason from the core (written in English) in the user's language; unknown ones unchanged."""
    if lang != "zh-CN":
        return reason
    for pattern, render in REASONS_ZH:
        m = pattern.match(reason)
        if m:
            return render(m)
    return reason
