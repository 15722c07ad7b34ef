"""What the spawner says to people: the project choice, refusals and progress events, in their language.

The options form is built without a request (JupyterHub calls it with the spawner only), so it carries
both languages and the page shows the reader's (`.i18n[lang]`, hub/templates/page.html). Refusals and
progress events are made while a request is being served, so they are in that request's language.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from typing import Any

from tornado import web

from enclave.db import session_scope
from enclave.errors import EnclaveError
from enclave.projects import active_datasets, get_project, projects_for
from enclave.settings import get_settings
from hub.i18n import reason_in, title_in, translator
from policies import load_policies


def both(en: str, zh: str) -> str:
    """Both languages in the page; the hub's page shows the one matching the browser."""
    return f'<span class="i18n" lang="en">{en}</span><span class="i18n" lang="zh-CN">{zh}</span>'


def both_reason(reason: str) -> str:
    return both(html.escape(reason), html.escape(reason_in("zh-CN", reason)))


def refusal(status: int, lang: str, reason: str) -> web.HTTPError:
    """A refusal whose message, on every hub page and in the API's JSON, is the reason in the user's language
    and nothing else (JupyterHub would otherwise show "HTTP 403: Forbidden (reason)")."""
    exc = web.HTTPError(status, "%s", reason)
    text = reason_in(lang, reason)
    exc.jupyterhub_message = text  # type: ignore[attr-defined]
    exc.jupyterhub_html_message = f'<span lang="{lang}">{html.escape(text)}</span>'  # type: ignore[attr-defined]
    return exc


def _limits_text(limits: Any) -> tuple[str, str]:
    cpu = f"{limits.cpu_limit:g}"
    return (f"{cpu} CPU, {limits.mem_limit} memory, at most {limits.pids_limit} processes",
            f"{cpu} 个 CPU，内存 {limits.mem_limit}，最多 {limits.pids_limit} 个进程")


def _project_card(project: Any, limits: Any, checked: bool) -> str:
    slug = html.escape(project.slug)
    datasets = "".join(
        f'<li><span translate="no">{html.escape(d.name)}</span> · '
        + both(f"version {html.escape(d.version)}, tier {d.tier}", f"版本 {html.escape(d.version)}，等级 {d.tier}")
        + "</li>" for d in active_datasets(project)) or "<li>" + both("none", "无") + "</li>"
    expiry = html.escape(str(project.expiry_date)) if project.expiry_date else both("none set", "未设定")
    lim_en, lim_zh = _limits_text(limits)
    title_en, title_zh = html.escape(title_in("en", project.title)), html.escape(title_in("zh-CN", project.title))
    return (
        f'<div class="project-choice" data-project="{slug}">'
        f'<input class="form-check-input" type="radio" name="project" id="project-{slug}" value="{slug}"'
        f'{" checked" if checked else ""}> '
        f'<label class="form-check-label fw-bold" for="project-{slug}">{both(title_en, title_zh)} '
        f'<code translate="no">{slug}</code></label>'
        "<dl>"
        f'<dt>{both("Purpose", "研究目的")}</dt>'
        f'<dd class="purpose" translate="no">{html.escape(project.purpose or "—")}</dd>'
        f'<dt>{both("Datasets", "数据集")}</dt><dd><ul class="datasets list-unstyled mb-0">{datasets}</ul></dd>'
        f'<dt>{both("Expires", "到期日")}</dt><dd class="expiry">{expiry}</dd>'
        f'<dt>{both("Resources", "资源上限")}</dt><dd class="limits">{both(lim_en, lim_zh)}</dd>'
        "</dl></div>")


def project_form(username: str) -> str:
    """The projects a user may start a workspace in, each with what they need to know to choose."""
    policies = load_policies(get_settings().policy_dir)
    try:
        with session_scope() as s:
            rows = projects_for(s, username)
            cards = []
            for r in (r for r in rows if r.can_start):
                project = get_project(s, r.project)
                limits = policies.limits_for(project.cpu_limit, project.mem_limit, project.pids_limit)
                cards.append(_project_card(project, limits, checked=not cards))
    except EnclaveError as exc:
        return f'<p class="alert alert-warning">{both_reason(str(exc))}</p>'
    blocked = [r for r in rows if not r.can_start]
    parts = []
    if cards:
        parts.append(f'<fieldset id="projects"><legend class="h5">{both("Project", "项目")}</legend>'
                     + "".join(cards) + "</fieldset>")
    else:
        parts.append('<p class="alert alert-warning" id="no-project">'
                     + both("You have no active approved project, so you cannot start a workspace.",
                            "您没有已批准且处于活动状态的项目，因此无法启动工作区。") + "</p>")
    if blocked:
        items = "".join(f"<li>{html.escape(r.project)}: {both_reason(r.reason)}</li>" for r in blocked)
        parts.append(f'<p>{both("Not available:", "不可用：")}</p><ul id="blocked-projects">{items}</ul>')
    return "\n".join(parts)


# Progress of a start, as the spawn-pending page shows it (stage, percent, words in both languages).
STAGES: dict[str, tuple[int, str, str]] = {
    "check": (10, "Checking project {project} and its approvals", "正在检查项目 {project} 及其审批"),
    "image": (20, "Image {image}", "镜像 {image}"),
    "network": (35, "Network {network}: internal, no internet", "网络 {network}：内部网络，无互联网"),
    "mounts": (50, "Mounts: {mounts}", "挂载：{mounts}"),
    "container": (65, "Starting the container ({limits})", "正在启动容器（{limits}）"),
    "server": (80, "Container running; waiting for JupyterLab to answer", "容器已运行，正在等待 JupyterLab 响应"),
}


class Progress:
    """Events of one start, kept so a page opened late still sees every step from the first."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.events: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        self.done = False

    def stage(self, key: str, **fields: str) -> None:
        percent, en, zh = STAGES[key]
        text = (zh if self.lang == "zh-CN" else en).format(**fields)
        self.events.append({"progress": percent, "stage": key, "message": text})
        self._changed.set()

    def finish(self) -> None:
        self.done = True
        self._changed.set()

    async def follow(self) -> AsyncIterator[dict[str, Any]]:
        sent = 0
        while True:
            while sent < len(self.events):
                yield self.events[sent]
                sent += 1
            if self.done:
                return
            self._changed.clear()
            await self._changed.wait()


def mounts_text(lang: str, datasets: list[str]) -> str:
    data = ", ".join(datasets) or ("无数据集" if lang == "zh-CN" else "no datasets")
    if lang == "zh-CN":
        return f"数据集 {data}（只读，/data）；项目工作区 /workspace"
    return f"datasets {data} (read-only, /data); project workspace /workspace"


def limits_text(lang: str, limits: Any) -> str:
    en, zh = _limits_text(limits)
    return zh if lang == "zh-CN" else en


def ready_event(lang: str, event: dict[str, Any]) -> dict[str, Any]:
    """JupyterHub's "Server ready at /user/x/" in the user's language (Spawner.progress_ready_hook)."""
    _ = translator(lang)
    url = html.escape(event.get("url", ""))
    return {**event, "message": _("Your workspace is ready."),
            "html_message": f'{_("Your workspace is ready.")} <a href="{url}">{_("Open it")}</a>'}
