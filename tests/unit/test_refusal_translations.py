"""Every refusal a person can meet reaches a zh-CN reader in Chinese: each message template raised (or built as a
`Text`) in the modules whose errors reach people has a zh-CN form with the same placeholders, looked up by its
template, never by matching the English sentence. A new refusal written without a translation fails here."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from egress_review.i18n import REFUSALS_ZH as EGRESS_ZH  # noqa
from egress_review.i18n import message as egress_message
from egress_review.i18n import translator as egress_translator
from enclave.errors import NotAllowed, Text
from enclave.i18n import CORE_ZH, from_english, localize, placeholders
from enclave.models import ExportState
from enclave.settings import REPO_ROOT
from governance.i18n import REFUSALS_ZH as GOVERNANCE_ZH
from governance.i18n import translator as governance_translator
from imports.i18n import REASONS_ZH as IMPORTS_ZH
from jobs.i18n import REFUSALS_ZH as JOBS_ZH
from jobs.i18n import reason_zh
from tests.unit import test_egress_service_auth as service_tests
from tests.unit.test_egress_service_auth import Service

egress = service_tests.egress  # the running service with the hub's token check replaced

# Modules whose refusals reach people (pages, API answers, the CLI), with the catalogue that translates them.
MODULES: dict[str, dict[str, str]] = {
    "egress_review/rules.py": EGRESS_ZH, "egress_review/workflow.py": EGRESS_ZH, "egress_review/limits.py": EGRESS_ZH,
    "egress_review/collect.py": EGRESS_ZH, "jobs/rules.py": JOBS_ZH, "governance/rules.py": GOVERNANCE_ZH,
    "governance/workflow.py": GOVERNANCE_ZH, "enclave/projects.py": CORE_ZH, "enclave/access.py": CORE_ZH,
    "egress_review/service.py": EGRESS_ZH, "enclave/modes.py": CORE_ZH, "jobs/workflow.py": JOBS_ZH,
    "enclave/db.py": CORE_ZH, "imports/rules.py": {**CORE_ZH, **IMPORTS_ZH},
    "imports/workflow.py": {**CORE_ZH, **IMPORTS_ZH}, "imports/checks.py": IMPORTS_ZH, "imports/pages.py": IMPORTS_ZH,
}
# The workspace reader's sentences come from a process that imports nothing of the enclave (it runs as the
# workspace user with -I -S): they are translated by pattern (egress_review.i18n.MESSAGES, tested below).
READER_SENTENCES = {("egress_review/collect.py", "'; '.join(head['errors'])"),
                    ("egress_review/collect.py", "payload.decode(errors='replace')"),
                    # the HTTP error made from a domain error: its Text goes with it (`service.http_error`)
                    ("egress_review/service.py", "str(exc)")}
BUILDERS = {"EnclaveError", "NotAllowed", "NotFound", "InvalidTransition", "Unavailable", "CollectError", "Text",
            "NotYourJob"}


def templates(path: str) -> list[tuple[int, ast.expr]]:
    """The first argument of every error raised and every `Text` built in the module, with its line."""
    out = []
    for node in ast.walk(ast.parse((REPO_ROOT / path).read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in BUILDERS and node.args:
            out.append((node.lineno, node.args[0]))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "HTTPError" \
                and len(node.args) > 1:  # tornado's error with its message: said to the person too
            out.append((node.lineno, node.args[1]))
    return out


@pytest.mark.parametrize("path", sorted(MODULES))
def test_every_refusal_template_has_a_zh_cn_form_with_the_same_placeholders(path: str):
    catalogue = {**CORE_ZH, **MODULES[path]}
    problems = []
    for line, arg in templates(path):
        built = isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) and arg.func.id in BUILDERS
        if built or isinstance(arg, ast.Name) or (isinstance(arg, ast.BoolOp) and all(
                isinstance(v, ast.Call | ast.Name) for v in arg.values)):
            continue  # a message made elsewhere (a Text) passed on; a Text built here is walked itself
        if (path, ast.unparse(arg)) in READER_SENTENCES:
            continue
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            problems.append(f"{path}:{line}: not a template (an f-string or expression): {ast.unparse(arg)[:80]}")
        elif arg.value not in catalogue:
            problems.append(f"{path}:{line}: no zh-CN form for {arg.value!r}")
        elif placeholders(catalogue[arg.value]) != placeholders(arg.value):
            problems.append(f"{path}:{line}: zh-CN form fills {sorted(placeholders(catalogue[arg.value]))}, "
                            f"English {sorted(placeholders(arg.value))}")
    assert not problems, "\n".join(problems)


def test_the_walk_finds_the_refusals_it_checks():
    """A walk that found nothing would pass for any module."""
    found = {p: len(templates(p)) for p in MODULES}
    assert all(n > 0 for n in found.values()), found
    assert sum(found.values()) >= 100


@pytest.mark.parametrize("catalogue", [CORE_ZH, EGRESS_ZH, JOBS_ZH, GOVERNANCE_ZH])
def test_every_zh_cn_form_is_chinese_and_formats(catalogue: dict[str, str]):
    for english, zh in catalogue.items():
        assert any("\u4e00" <= c <= "\u9fff" for c in zh), english
        zh.format(**dict.fromkeys(placeholders(english), "x"))


def test_a_message_is_translated_by_its_template_with_nested_reasons_and_state_words():
    closed = Text("project '{slug}' expired on {expiry}", slug="study", expiry="2026-01-01")
    refusal = NotAllowed("no export requests: {reason}", reason=closed)
    assert str(refusal) == "no export requests: project 'study' expired on 2026-01-01"
    assert egress_message(refusal.text, "zh-CN") == "不能提交导出申请：项目“study”已于 2026-01-01 到期"
    state = NotAllowed("request {id} is {state}: only a returned request can be revised", id=3, state="revised")
    assert egress_message(state.text, "zh-CN") == "申请 3 的状态为“已修订”：只有已退回的申请可以修订"
    assert egress_message(state.text, "en") == str(state)


def test_a_message_without_a_template_is_not_guessed():
    assert localize(Text("something new {x}", x=1), "zh-CN", CORE_ZH) is None
    assert localize("plain English", "zh-CN", CORE_ZH) is None
    assert localize(Text("something new {x}", x=1), "en", CORE_ZH) == "something new 1"


def test_the_catalogues_hold_no_template_nothing_raises():
    """Translations of messages that no longer exist are dead weight that hides renamed ones."""
    raised = {arg.value for p in MODULES for _, arg in templates(p) if isinstance(arg, ast.Constant)}
    for catalogue in (CORE_ZH, EGRESS_ZH, JOBS_ZH, GOVERNANCE_ZH):
        stale = set(catalogue) - raised
        assert not stale, sorted(stale)



@pytest.mark.parametrize("sentence", [
    "results/t.csv: no such file in the workspace",
    "t.csv: 'link' is a symbolic link; symbolic links are refused",
    "t.csv: a symbolic link is on the path; symbolic links are refused",
    "t.csv: not a regular file (folders, devices, pipes and sockets are refused)",
    "t.csv: has 2 hard links; hard links are refused",
    "t.csv: 300 bytes, over the limit of 100",
    "t.csv: the workspace user cannot read it (permission denied)",
    "the files add up to 300 bytes, over the limit of 100 per request",
])
def test_the_workspace_readers_sentences_reach_a_zh_cn_reader_in_chinese(sentence: str):
    zh = egress_message(sentence, "zh-CN")
    assert zh != sentence and any("\u4e00" <= c <= "\u9fff" for c in zh)


@pytest.mark.parametrize("catalogue", [CORE_ZH, EGRESS_ZH, JOBS_ZH, GOVERNANCE_ZH])
def test_a_refusal_that_arrives_as_english_is_read_back_by_its_template(catalogue: dict[str, str]):
    """A job's reason and an HTTP error's message are stored or sent as English: each template's sentence
    is read back as that template (or one saying the same), so its zh-CN form is found without a pattern."""
    merged = {**CORE_ZH, **catalogue}
    for template in catalogue:
        if any(conv or spec for _, _, spec, conv in string.Formatter().parse(template)):
            continue  # `{name!r}`: a repr is not read back (collect's file names; they arrive as Text)
        params = {name: f"v{i}" for i, name in enumerate(sorted(placeholders(template)))}
        made = from_english(template.format(**params), merged)
        assert made is not None and str(made) == template.format(**params), template
        if made.template == template:  # else a longer template says the same sentence: its own form is used
            assert localize(made, "zh-CN", merged) == localize(Text(template, **params), "zh-CN", merged)


def test_a_jobs_stored_reason_is_translated_with_the_reason_inside_it():
    stored = "the job was not started: cannot submit a job: project 'study' is suspended, not active (audit)"
    assert reason_zh(stored) == "作业未启动：无法提交作业：项目“study”处于已暂停状态，未激活（audit）"
    assert reason_zh("exited with code 3") == "已结束，退出码 3"
    assert reason_zh("something else entirely") == "something else entirely"


def test_an_api_refusal_reaches_a_zh_cn_caller_in_chinese_and_keeps_the_english(world: Path, egress: Service):
    with egress.client() as c:
        r = c.get("api/requests/999", headers={"Authorization": "token alice-workspace", "Accept-Language": "zh-CN"})
        en = c.get("api/requests/999", headers={"Authorization": "token alice-workspace"})
    assert r.status_code == 404 and r.json()["error"] == "没有编号为 999 的导出申请"
    assert r.json()["error_en"] == "no export request 999" == en.json()["error"]


def test_governance_and_hub_pages_show_core_and_their_own_refusals_in_chinese():
    from enclave.errors import Text as T
    from governance.i18n import message as governance_message
    from hub.i18n import reason_in

    pi = NotAllowed("only the PI of project '{slug}' may ask to amend it", slug="study")
    assert governance_message(pi.text, "zh-CN") == "只有项目“study”的负责人可以申请修改它"
    assert governance_message(pi.text, "en") == str(pi)
    start = NotAllowed("cannot start a workspace: {reason}",
                       reason=T("project '{slug}' is {state}, not active", slug="p1", state="suspended"))
    assert reason_in("zh-CN", start.text) == "无法启动工作区：项目“p1”处于已暂停状态，未激活"


@pytest.mark.parametrize("translator", [egress_translator, governance_translator])
def test_every_state_reads_as_words_in_both_languages(translator):
    """A state is shown by its value: in English it must be words (in review, not in_review), in Chinese Chinese."""
    for state in ExportState:
        en, zh = translator("en")(state.value), translator("zh-CN")(state.value)
        assert "_" not in en and en.replace(" ", "").isalpha(), en
        assert any("\u4e00" <= c <= "\u9fff" for c in zh), state
