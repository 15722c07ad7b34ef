"""The `enclave` CLI tells an operator what went wrong in one line of the operator's language (the locale):
a refusal by its template from the catalogue of the component that made it, a database without its schema
as what to run. `--json` stays English: scripts and Ansible read it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from enclave_ops.cli import main
from enclave_ops.output import operator_language
from tests.conftest import _reset_caches


def run(args: list[str], lang: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, args, env={"LANG": lang, "LC_ALL": "", "LANGUAGE": "", "ENCLAVE_LANG": ""})
    return res.exit_code, res.output


LOCALES = [({"LANG": "zh_CN.UTF-8"}, "zh-CN"), ({"LANG": "en_GB.UTF-8"}, "en"), ({"LANG": "C.UTF-8"}, "en"),
           ({"LC_ALL": "zh_TW.UTF-8", "LANG": "en_US"}, "zh-CN"), ({"ENCLAVE_LANG": "en", "LANG": "zh_CN.UTF-8"}, "en")]


@pytest.mark.parametrize(("env", "lang"), LOCALES)
def test_the_operators_language_comes_from_the_locale(env: dict[str, str], lang: str, monkeypatch: pytest.MonkeyPatch):
    for name in ("ENCLAVE_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert operator_language() == lang


def test_a_refusal_is_one_line_in_the_operators_language(enclave_home: Path):
    code, out = run(["project", "show", "no-such-project"], "zh_CN.UTF-8")
    assert code == 2 and out.strip() == "错误：没有项目“no-such-project”", out
    code, out = run(["project", "show", "no-such-project"], "en_GB.UTF-8")
    assert code == 2 and out.strip() == "error: no project 'no-such-project'", out


def test_json_errors_stay_english_for_scripts(enclave_home: Path):
    code, out = run(["project", "show", "no-such-project", "--json"], "zh_CN.UTF-8")
    assert code == 2 and json.loads(out) == {"error": "no project 'no-such-project'"}


def test_a_database_without_the_schema_says_to_upgrade_it_and_no_traceback(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ENCLAVE_DB_URL", f"sqlite:///{tmp_path / 'empty.sqlite'}")
    _reset_caches()
    code, out = run(["project", "list"], "en_GB.UTF-8")
    assert code == 2 and "run `enclave db upgrade` first" in out and "Traceback" not in out, out
    assert out.count("\n") == 1
    code, out = run(["user", "add", "zed", "--role", "researcher"], "zh_CN.UTF-8")
    assert code == 2 and out.startswith("错误：数据库中还没有安全区的数据表") and "enclave db upgrade" in out, out
