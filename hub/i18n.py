"""Hub pages in the browser's language (zh-CN or en).

JupyterHub has no translations of its own, so every page a user can reach (login, home, spawn, spawn
pending, not running, token, error, 404) is overridden in `hub/templates` and takes its words from the
catalog below. The language is taken from the request's Accept-Language header; the spawner uses the
header of the request that started it for its messages and progress events.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from enclave.i18n import pick_language, reason_in
from enclave.settings import TIME_ZONE_COOKIE

TEMPLATES = Path(__file__).resolve().parent / "templates"

ZH_CN: dict[str, str] = {
    # navigation and page chrome
    "Enclave": "Enclave 安全分析环境",
    "Home": "首页",
    "Token": "令牌",
    "Admin": "管理",
    "Services": "服务",
    "Logout": "退出登录",
    "Login": "登录",
    "Enclave home": "Enclave 首页",
    "Toggle dark mode": "切换深色模式",
    "Toggle navigation": "展开或收起导航",
    "This site needs JavaScript. Please enable it to continue.": "本网站需要 JavaScript，请启用后继续。",
    "Close": "关闭",
    "OK": "确定",
    "Error": "错误",
    # login and home
    "Sign in with the institution's identity provider": "通过机构统一身份认证登录",
    "Enclave: secure analysis of health data": "Enclave 健康数据安全分析环境",
    "Data stays in the machine room. Only reviewed results leave.":
        "数据不出机房，只有经过审核的结果才能导出。",
    "Start My Server": "启动我的工作区",
    "Export requests and reviews": "导出申请与审核",
    "Data catalogue, applications and approvals": "资源目录、项目申请与审批",
    "My Server": "我的工作区",
    "Stop My Server": "停止我的工作区",
    "Your server is stopping": "您的工作区正在停止",
    "Your workspace has stopped.": "您的工作区已停止。",
    # spawn form
    "Choose a project": "选择项目",
    "Start": "启动",
    "This session is recorded: every cell you run and every command you type in a terminal is kept by the enclave, "
    "with your name, the project and the time, for the project's audit.":
        "本会话会被记录：您运行的每个单元格和在终端中输入的每条命令，连同您的用户名、项目和时间，都由安全区保存，供项目审计使用。",
    "Starting…": "正在启动…",
    # spawn pending
    "Your workspace is starting": "您的工作区正在启动",
    "You will be taken to JupyterLab as soon as it is ready.": "就绪后将自动进入 JupyterLab。",
    "Event log": "事件日志",
    "Stop": "停止",
    "Stopping…": "正在停止…",
    "The workspace was stopped.": "工作区已停止。",
    "It could not be stopped:": "无法停止：",
    "complete": "已完成",
    "Server requested": "已请求启动工作区",
    "Spawn failed": "启动失败",
    "Spawn cancelled": "启动已取消",
    # not running / stop pending
    "Your workspace is not running": "您的工作区未运行",
    "Starting your workspace failed": "工作区启动失败",
    "The last attempt to start your workspace failed.": "上一次启动工作区失败。",
    "Would you like to start it again?": "要重新启动吗？",
    "Would you like to start it?": "要启动它吗？",
    "It will be started again in a moment.": "稍后将自动重新启动。",
    "Start my workspace": "启动我的工作区",
    "Your workspace is stopping.": "您的工作区正在停止。",
    "You can start it again once it has stopped.": "停止完成后即可重新启动。",
    "Refresh": "刷新",
    # token page
    "Personal API tokens": "个人 API 令牌",
    "A token lets the enclave-export client on your own computer download your released results.":
        "令牌用于在您自己的电脑上通过 enclave-export 客户端下载已发布的结果。",
    "Note": "备注",
    "What this token is for": "此令牌的用途",
    "This note helps you keep track of what your tokens are for.": "备注可帮助您记住每个令牌的用途。",
    "Token expires in": "令牌有效期",
    "Permissions": "权限",
    "Scopes separated by spaces (empty: everything you may do)": "以空格分隔的权限范围（留空：您可做的一切）",
    "Request new API token": "申请新的 API 令牌",
    "Your new API token": "您的新 API 令牌",
    "Copy this token now. You will not be able to see it again, but you can always request a new one.":
        "请立即复制此令牌。之后将无法再次查看，但您可以随时申请新的令牌。",
    "API tokens": "API 令牌",
    "Tokens with access to the hub's API. Revoking the token of a running workspace needs a restart of it.":
        "可访问 hub API 的令牌。撤销正在运行的工作区的令牌后需要重启该工作区。",
    "Last used": "最近使用",
    "Created": "创建时间",
    "Expires": "到期时间",
    "Never": "从未",
    "scopes": "权限范围",
    "revoke": "撤销",
    "Authorized applications": "已授权的应用",
    "Applications that use your hub login to identify you (your workspace and the enclave's services).":
        "使用您的 hub 登录来识别您的应用（您的工作区和 Enclave 的各项服务）。",
    "Application": "应用",
    "First authorized": "首次授权",
    "Requested via the token page": "通过令牌页面申请",
    "Requested via token page": "通过令牌页面申请",
    "1 Hour": "1 小时",
    "1 Day": "1 天",
    "1 Week": "1 周",
    "1 Month": "1 个月",
    "1 Year": "1 年",
    "Never expires": "永不过期",
    "Server at ": "工作区 ",
    # error pages
    "Bad request": "请求有误",
    "Not signed in": "尚未登录",
    "Not allowed": "不允许",
    "Page not found": "页面不存在",
    "Method not allowed": "不允许的方法",
    "Too many requests": "请求过多",
    "Internal error": "内部错误",
    "Service unavailable": "服务不可用",
    "Gateway timeout": "网关超时",
    "There is no page at this address.": "此地址没有页面。",
    "Back to the home page": "返回首页",
    "API request failed": "请求失败",
    # JupyterHub's own messages that reach users
    "Not Found": "页面不存在",
    "Forbidden": "不允许",
    "Your session has expired. Please sign in again.": "您的会话已过期，请重新登录。",
    "Ready": "就绪",
    "Your workspace is ready.": "您的工作区已就绪。",
    "Open it": "打开",
    # service names in the menu
    "egress-review": "导出申请与审核",
}

SERVICE_TITLES = {"egress-review": "Export requests and reviews"}  # other services show their own name
STATUS_TITLES = {400: "Bad request", 401: "Not signed in", 403: "Not allowed", 404: "Page not found",
                 405: "Method not allowed", 429: "Too many requests", 500: "Internal error",
                 503: "Service unavailable", 504: "Gateway timeout"}

CATALOGS = {"zh-CN": ZH_CN}
__all__ = ["install", "pick_language", "translator", "title_in", "reason_in", "handler_language"]

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

def translator(lang: str) -> Callable[[str], str]:
    catalog = CATALOGS.get(lang, {})
    return lambda text: catalog.get(text, text)


def title_in(lang: str, title: str) -> str:
    """One language of a project title written in both ("Diabetes outcomes (demo) 糖尿病结局研究（演示）").

    Titles are free text set by operators; when one holds an English part followed by a Chinese part,
    the page shows only the part in the reader's language, otherwise the title as written.
    """
    m = _CJK.search(title)
    if not m or m.start() == 0:
        return title
    english, chinese = title[:m.start()].strip(" /|-–—"), title[m.start():].strip()
    if not english or _CJK.search(english):
        return title
    return chinese if lang == "zh-CN" else english


def service_title(lang: str, service: Any) -> str:
    """A service's name in the menu: its `info` titles ("title", "title_zh-CN") in c.JupyterHub.services when it
    gives them, else the catalog's, else its name. A service or a name (as in OAuth client descriptions)."""
    name = getattr(service, "name", None) or (service.get("name") if isinstance(service, dict) else str(service))
    info = getattr(service, "info", None) or (service.get("info") if isinstance(service, dict) else None) or {}
    if info.get(f"title_{lang}") or (lang == "en" and info.get("title")):
        return str(info.get(f"title_{lang}") or info["title"])
    return translator(lang)(SERVICE_TITLES.get(name, name))


def handler_language(handler: Any) -> str:
    """The language of the request a handler serves (en when there is none, e.g. for the culler)."""
    request = getattr(handler, "request", None)
    headers = getattr(request, "headers", None)
    return pick_language(headers.get("Accept-Language", "") if headers is not None else "")


def install(c: Any) -> None:
    from jupyterhub.handlers.base import BaseHandler

    c.JupyterHub.template_paths = [str(TEMPLATES)]
    if getattr(BaseHandler, "_enclave_i18n", False):
        return
    original = BaseHandler.render_template

    def render_template(self: BaseHandler, name: str, sync: bool = False, **ns: Any) -> Any:
        lang = handler_language(self)
        _ = translator(lang)
        ns.setdefault("lang", lang)
        ns.setdefault("_", _)
        ns.setdefault("service_title", lambda service: service_title(lang, service))
        ns.setdefault("status_title", lambda code: _(STATUS_TITLES.get(int(code or 500), "Error")))
        ns.setdefault("reason_in", lambda text: reason_in(lang, text or ""))
        ns.setdefault("js_catalog", CATALOGS.get(lang, {}))
        ns.setdefault("tz_cookie", TIME_ZONE_COOKIE)
        return original(self, name, sync, **ns)

    # JupyterHub offers no hook for per-request template variables; wrapping this one method adds them.
    BaseHandler.render_template = render_template  # type: ignore[method-assign]
    BaseHandler._enclave_i18n = True  # type: ignore[attr-defined]
