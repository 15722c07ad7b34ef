"""Hub pages in the browser's language (zh-CN or en).

JupyterHub has no translations of its own, so the pages users meet (login, home, spawn, navigation)
are overridden in `hub/templates` and take their words from the catalog below. The language is taken
from the request's Accept-Language header.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from enclave.i18n import pick_language

TEMPLATES = Path(__file__).resolve().parent / "templates"

ZH_CN: dict[str, str] = {
    "Home": "首页",
    "Token": "令牌",
    "Admin": "管理",
    "Services": "服务",
    "Logout": "退出登录",
    "Login": "登录",
    "Sign in with the institution's identity provider": "通过机构统一身份认证登录",
    "Enclave: secure analysis of health data": "Enclave 健康数据安全分析环境",
    "Data stays in the machine room. Only reviewed results leave.":
        "数据不出机房，只有经过审核的结果才能导出。",
    "Start My Server": "启动我的工作区",
    "Export requests and reviews": "导出申请与审核",
    "Data catalogue, applications and approvals": "资源目录、项目申请与审批",
    "My Server": "我的工作区",
    "Stop My Server": "停止我的工作区",
    "Choose a project": "选择项目",
    "Start": "启动",
    "Error": "错误",
}

CATALOGS = {"zh-CN": ZH_CN}
__all__ = ["install", "pick_language", "translator"]


def translator(lang: str) -> Callable[[str], str]:
    catalog = CATALOGS.get(lang, {})
    return lambda text: catalog.get(text, text)


def install(c: Any) -> None:
    from jupyterhub.handlers.base import BaseHandler

    c.JupyterHub.template_paths = [str(TEMPLATES)]
    if getattr(BaseHandler, "_enclave_i18n", False):
        return
    original = BaseHandler.render_template

    def render_template(self: BaseHandler, name: str, sync: bool = False, **ns: Any) -> Any:
        lang = pick_language(self.request.headers.get("Accept-Language", ""))
        ns.setdefault("lang", lang)
        ns.setdefault("_", translator(lang))
        return original(self, name, sync, **ns)

    # JupyterHub offers no hook for per-request template variables; wrapping this one method adds them.
    BaseHandler.render_template = render_template  # type: ignore[method-assign]
    BaseHandler._enclave_i18n = True  # type: ignore[attr-defined]
