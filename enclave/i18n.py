"""The user's language, zh-CN or en, for every page the enclave serves; the core's refusal reasons in zh-CN.

The reasons (why a workspace cannot start, why a project is closed) are written in English by the core;
their translations live beside them here, so the hub, the jobs service and any other part that shows them
to a person say the same thing.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from enclave.errors import Term, Text


def pick_language(accept_language: str) -> str:
    """The first of zh-* or en-* in an Accept-Language header wins; anything else falls back to English."""
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return "en"


# Parameters whose values are words of a vocabulary (states, outcomes): shown in the reader's words too.
WORD_PARAMS = frozenset({"state", "to", "outcome", "decision"})



def localize(text: str, lang: str, catalogue: Mapping[str, str], words: Mapping[str, str] | None = None) -> str | None:
    """A domain message (`enclave.errors.Text`) in zh-CN from `catalogue` (English template -> zh-CN template).

    Parameters that are messages themselves are translated the same way; those named in `WORD_PARAMS`
    through `words`; a `Term` (a policy's name) says its own zh-CN form. None when the message or one of
    its parts has no translation (the caller decides what to fall back to); English is the message itself.
    """
    if lang != "zh-CN":
        return str(text)
    if not isinstance(text, Text) or text.template not in catalogue:
        return None
    params: dict[str, object] = {}
    for key, value in text.params.items():
        if isinstance(value, Text):
            inner = localize(value, lang, catalogue, words)
            if inner is None:
                return None
            value = inner
        elif isinstance(value, Term):
            value = value.in_language(lang)
        elif words and f"{key}:{value}" in words:  # a word of one parameter only ("act:review")
            value = words[f"{key}:{value}"]
        elif key in WORD_PARAMS and words and str(value) in words:
            value = words[str(value)]
        params[key] = value
    return catalogue[text.template].format(**params)


def placeholders(template: str) -> set[str]:
    """The names a template fills in (`{id}`, `{share:.0%}` -> id, share): a translation must use the same."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


# Project states as the core's refusals name them ("project 'x' is suspended, not active").
CORE_WORDS: dict[str, str] = {"requested": "已申请", "approved": "已批准", "active": "活动", "suspended": "已暂停",
                              "expired": "已到期", "closed": "已关闭"}

# Messages of the core (enclave.projects, enclave.access) in zh-CN, keyed by their English template.
CORE_ZH: dict[str, str] = {
    "no user account '{username}' (users get an account at first login or with `enclave user add`)":
        "没有用户账号“{username}”（用户在首次登录时或通过 `enclave user add` 获得账号）",
    "no project '{slug}'": "没有项目“{slug}”",
    "the database has no enclave tables yet ({reason}); run `enclave db upgrade` first; nothing was changed":
        "数据库中还没有安全区的数据表（{reason}）；请先运行 `enclave db upgrade`；未做任何更改",
    "the database is unavailable ({reason}); nothing was changed, try again when it is back":
        "数据库不可用（{reason}）；未做任何更改，请在其恢复后重试",
    "no dataset '{name}' version '{version}'": "没有数据集“{name}”的版本“{version}”",
    "username '{username}' is not valid: use lower-case letters, digits, '.', '_' or '-', starting with a letter "
    "or digit": "用户名“{username}”无效：请使用小写字母、数字、“.”、“_”或“-”，并以字母或数字开头",
    "unknown role(s) {unknown}; roles are {roles}": "未知的角色 {unknown}；可用角色为 {roles}",
    "project name '{slug}' is not valid: 3-40 lower-case letters, digits or '-', starting with a letter":
        "项目名称“{slug}”无效：应为 3-40 个小写字母、数字或“-”，并以字母开头",
    "project '{slug}' already exists": "项目“{slug}”已存在",
    "an approval reference (ethics / data-access committee decision) is required":
        "必须提供审批编号（伦理或数据访问委员会的决定）",
    "expiry {expiry} must be after start {start}": "到期日 {expiry} 必须晚于开始日 {start}",
    "expiry {expiry} must be after start {start_date}": "到期日 {expiry} 必须晚于开始日 {start_date}",
    "expiry {expiry} is not in the future": "到期日 {expiry} 不在将来",
    "cannot update {names} of a project": "不能修改项目的 {names}",
    "project '{slug}' cannot go from {state} to {to} (allowed: {allowed})":
        "项目“{slug}”不能从“{state}”变为“{to}”（允许：{allowed}）",
    "a reason is required for every project state change": "每次变更项目状态都必须填写理由",
    "project '{slug}' is {state}: members can no longer be added": "项目“{slug}”的状态为“{state}”：不能再添加成员",
    "'{username}' is not a member of project '{slug}'": "“{username}”不是项目“{slug}”的成员",
    "dataset {label} is tier {tier}, which policy does not allow in workspaces":
        "数据集 {label} 的级别为 {tier}，策略不允许在工作区中使用",
    "project '{slug}' already has {label} approved; revoke it before approving another version":
        "项目“{slug}”已获批使用 {label}；请先撤销，再批准其他版本",
    "project '{slug}' has no active approval for dataset '{name}'": "项目“{slug}”没有数据集“{name}”的有效授权",
    "project '{slug}' is {state}, not active": "项目“{slug}”处于{state}状态，未激活",
    "project '{slug}' is {state}, not active ({why})": "项目“{slug}”处于{state}状态，未激活（{why}）",
    "project '{slug}' starts on {start}": "项目“{slug}”于 {start} 开始",
    "project '{slug}' expired on {expiry}": "项目“{slug}”已于 {expiry} 到期",
    "your account does not have the researcher role": "您的账户没有研究员角色",
    "you are not a member of project '{slug}'": "您不是项目“{slug}”的成员",
    "you have no accreditation on record": "您没有资质认证记录",
    "your accreditation (level {level}) lapsed on {expires}": "您的资质（级别 {level}）已于 {expires} 失效",
    "your accreditation (level {level}) is current until {expires}": "您的资质（级别 {level}）有效期至 {expires}",
    "{standing}, which allows no dataset tier; the project holds tier {tier} data":
        "{standing}，不允许使用任何等级的数据；该项目含有 {tier} 级数据",
    "{standing}, which allows data up to tier {max_tier}; the project holds tier {tier} data":
        "{standing}，允许使用最高 {max_tier} 级的数据；该项目含有 {tier} 级数据",
    "cannot start a workspace: {reason}": "无法启动工作区：{reason}",
    "unknown accreditation level {level}; governance.yaml defines {levels}":
        "未知的资质级别 {level}；governance.yaml 定义的级别为 {levels}",
    "project '{slug}' holds datasets of tiers {tiers} whose policies allow no common way of working (interactive "
    "or blind); ask a data steward":
        "项目“{slug}”含有 {tiers} 级数据集，其策略没有共同允许的工作方式（交互式或盲模式）；请联系数据管理员",
    "project '{slug}' is set to blind, but the policy of its datasets' tiers allows only interactive work":
        "项目“{slug}”设为盲模式，但其数据集等级的策略只允许交互式工作",
    "project '{slug}' holds data whose tier does not allow blind jobs": "项目“{slug}”的数据等级不允许盲模式作业",
    "project '{slug}' has no approved dataset for a job to run on": "项目“{slug}”没有可供作业运行的已批准数据集",
    "project '{slug}' cannot be {mode}: the policy of its datasets' tiers allows only {names}":
        "项目“{slug}”不能设为 {mode}：其数据集等级的策略只允许 {names}",
    "the expiry {expires} must be after the training date {training_completed}":
        "到期日 {expires} 必须晚于培训日期 {training_completed}",
}


# Zones named in words; any other zone is named by its IANA name ("Europe/Berlin"), which reads in both languages.
ZONE_NAMES: dict[str, tuple[str, str]] = {
    "Asia/Shanghai": ("中国标准时间", "China Standard Time"), "Asia/Chongqing": ("中国标准时间", "China Standard Time"),
    "Asia/Urumqi": ("乌鲁木齐时间", "Urumqi Time"), "Asia/Hong_Kong": ("香港时间", "Hong Kong Time"),
    "Asia/Macau": ("澳门时间", "Macau Time"), "Asia/Taipei": ("台北时间", "Taipei Time"),
    "UTC": ("协调世界时", "UTC"), "Etc/UTC": ("协调世界时", "UTC"),
}
_ZONE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$")


def zone_of(name: str) -> str:
    """A time zone name the browser gave, if it is one; UTC otherwise (a cookie is the user's to change)."""
    if not name or len(name) > 64 or not _ZONE.match(name):
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return "UTC"
    return name


def local_time(when: datetime | str, zone: str, lang: str) -> str:
    """'2026-12-01 18:20 中国标准时间': a stored time (UTC) in the reader's zone, with the zone named."""
    ts = datetime.fromisoformat(when) if isinstance(when, str) else when
    ts = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    name = zone_of(zone)
    words = ZONE_NAMES.get(name)
    label = (words[0] if lang == "zh-CN" else words[1]) if words else name
    return f"{ts.astimezone(ZoneInfo(name)):%Y-%m-%d %H:%M} {label}"


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _pattern(template: str) -> re.Pattern[str]:
    """The template as a pattern that reads its parameters back out of the English sentence it made."""
    if template not in _PATTERNS:
        parts = []
        for literal, name, spec, conv in string.Formatter().parse(template):
            parts.append(re.escape(literal))
            if name is not None:
                parts.append(f"(?P<{name}>.+?)" if not conv and not spec else "(?:.+?)")
        _PATTERNS[template] = re.compile("^" + "".join(parts) + "$", re.S)
    return _PATTERNS[template]


def from_english(sentence: str, catalogue: Mapping[str, str]) -> Text | None:
    """A sentence stored as English only (a job's reason in the database) read back as the `Text` that made it.

    The catalogue's templates are the keys: the one whose pattern matches gives the parameters, and a parameter
    that is itself a message of the catalogue is read back the same way, so it is translated too. Templates
    with a conversion or format spec (`{name!r}`) are matched but not read back (None).
    """
    for template in sorted(catalogue, key=len, reverse=True):  # the most specific first
        m = _pattern(template).match(sentence)
        if not m:
            continue
        if len(m.groupdict()) != len(placeholders(template)):
            return None
        params: dict[str, object] = {}
        for key, value in m.groupdict().items():
            params[key] = from_english(value, catalogue) or value
        return Text(template, **params)
    return None

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
    # a standing that arrived as English: the level's name is the policy's English one (its Term is lost)
    (re.compile(r"^your accreditation \(level (?P<n>[^)]*)\) lapsed on (?P<d>[\d-]+)$"),
     lambda m: f"您的资质（级别 {_level(m['n'])}）已于 {m['d']} 失效"),
    (re.compile(r"^your accreditation \(level (?P<n>[^)]*)\) is current until (?P<d>[\d-]+)$"),
     lambda m: f"您的资质（级别 {_level(m['n'])}）有效期至 {m['d']}"),
]


def _level(label: str) -> str:
    """'2, standard' as a Chinese sentence writes it: '2，standard'."""
    return label.replace(", ", "，", 1)


def reason_in(lang: str, reason: str) -> str:
    """A refusal reason from the core in the user's language: a `Text` by its template (`CORE_ZH`), a sentence
    that arrived as English by the patterns below; unknown ones unchanged."""
    if lang != "zh-CN":
        return reason
    keyed = localize(reason, lang, CORE_ZH, CORE_WORDS)
    if keyed is not None:
        return keyed
    for pattern, render in REASONS_ZH:
        m = pattern.match(reason)
        if m:
            return render(m)
    return reason
