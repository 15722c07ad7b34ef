"""The hub's words in the reader's language: refusal reasons, project titles, templates, progress events."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import jinja2
import pytest

from hub.i18n import TEMPLATES, ZH_CN, reason_in, title_in, translator
from hub.spawn_form import Progress, refusal

HUB_TEMPLATES = Path(__file__).resolve().parents[2] / ".venv/share/jupyterhub/templates"


@pytest.mark.parametrize(("reason", "zh"), [
    ("cannot start a workspace: you are not a member of project 'demo-diabetes'",
     "无法启动工作区：您不是项目“demo-diabetes”的成员"),
    ("cannot start a workspace: project 'p1' is suspended, not active (annual report overdue)",
     "无法启动工作区：项目“p1”处于已暂停状态，未激活（annual report overdue）"),
    ("project 'p1' expired on 2026-01-02", "项目“p1”已于 2026-01-02 到期"),
    ("your account does not have the researcher role", "您的账户没有研究员角色"),
    ("cannot start a workspace: your accreditation (level 1, basic) lapsed on 2026-01-01, which allows data up to "
     "tier 0; the project holds tier 2 data",
     "无法启动工作区：您的资质（级别 1，basic）已于 2026-01-01 失效，"
     "允许使用最高 0 级的数据；该项目含有 2 级数据"),
    ("you have no accreditation on record, which allows no dataset tier; the project holds tier 1 data",
     "您没有资质认证记录，不允许使用任何等级的数据；该项目含有 1 级数据"),
])
def test_core_refusal_reasons_read_in_chinese(reason: str, zh: str):
    assert reason_in("zh-CN", reason) == zh
    assert reason_in("en", reason) == reason


def test_an_unknown_reason_is_shown_as_written():
    assert reason_in("zh-CN", "the disk is full") == "the disk is full"


def test_a_title_written_in_both_languages_shows_one():
    title = "Diabetes outcomes (demo) 糖尿病结局研究（演示）"
    assert title_in("en", title) == "Diabetes outcomes (demo)"
    assert title_in("zh-CN", title) == "糖尿病结局研究（演示）"
    assert title_in("zh-CN", "Other study") == "Other study"
    assert title_in("en", "糖尿病研究 phase 2") == "糖尿病研究 phase 2"


def test_a_refusal_carries_only_the_reason_in_the_users_language():
    exc = refusal(403, "zh-CN", "cannot start a workspace: you are not a member of project 'x'")
    assert exc.status_code == 403
    assert exc.jupyterhub_message == "无法启动工作区：您不是项目“x”的成员"  # type: ignore[attr-defined]
    assert "HTTP" not in exc.jupyterhub_html_message  # type: ignore[attr-defined]
    assert "you are not a member" in str(exc)  # the log keeps the English


def test_progress_replays_every_step_to_a_page_opened_late():
    async def run() -> list[dict]:
        p = Progress("zh-CN")
        p.stage("check", project="demo")
        p.stage("image", image="enclave-workspace:latest")
        follower = asyncio.ensure_future(_collect(p))
        await asyncio.sleep(0)
        p.stage("network", network="net-demo")
        p.finish()
        return await follower

    events = asyncio.run(run())
    assert [e["stage"] for e in events] == ["check", "image", "network"]
    assert events[2]["message"] == "网络 net-demo：内部网络，无互联网"
    assert [e["progress"] for e in events] == sorted(e["progress"] for e in events)


async def _collect(p: Progress) -> list[dict]:
    return [e async for e in p.follow()]


def _words(template_source: str) -> set[str]:
    return set(re.findall(r'_\(\s*"([^"]+)"\s*\)', template_source)) | set(
        re.findall(r"_\(\s*'([^']+)'\s*\)", template_source)) | set(re.findall(r't\("([^"]+)"\)', template_source))


def test_every_word_the_hub_templates_translate_has_a_chinese_entry():
    missing = {}
    for path in TEMPLATES.glob("*.html"):
        gaps = sorted(w for w in _words(path.read_text()) if w not in ZH_CN)
        if gaps:
            missing[path.name] = gaps
    assert missing == {}


@pytest.mark.skipif(not HUB_TEMPLATES.is_dir(), reason="JupyterHub's templates are not installed in .venv")
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("name", ["home.html", "spawn.html", "spawn_pending.html", "not_running.html",
                                  "stop_pending.html", "token.html", "error.html", "404.html", "login.html"])
def test_each_page_renders_with_the_lang_attribute_of_its_language(name: str, lang: str):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader([str(TEMPLATES), str(HUB_TEMPLATES.parent)]),
                             autoescape=True)
    _ = translator(lang)
    page = env.get_template(name).render(
        lang=lang, _=_, js_catalog=ZH_CN if lang == "zh-CN" else {}, static_url=lambda *a, **k: "/s",
        service_title=_, status_title=lambda code: _("Page not found"), reason_in=lambda text: text,
        base_url="/hub/", user=None, services=[], parsed_scopes=set(), default_server=None, api_tokens=[],
        oauth_clients=[], status_code=404, progress_url="/p", spawn_url="/s", url="/u")
    assert f'<html lang="{lang}">' in page
    body = page.split("<main", 1)[1]
    text = re.sub(r"<script.*?</script>|<[^>]+>", " ", body, flags=re.S)
    if lang == "zh-CN":
        assert re.search(r"[\u4e00-\u9fff]", text), name
