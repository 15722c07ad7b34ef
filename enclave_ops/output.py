"""How every `enclave` command prints: one JSON document with --json, or a human summary."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import click

from egress_review.i18n import message as egress_message
from enclave.errors import text_of
from enclave.i18n import reason_in
from governance.i18n import message as governance_message
from jobs.i18n import message as jobs_message


def emit(data: Any, as_json: bool, human: Callable[[Any], str] | None = None) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=1, default=str))
    else:
        click.echo(human(data) if human else json.dumps(data, ensure_ascii=False, indent=1, default=str))


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")(f)


def operator_language() -> str:
    """The operator's language from the locale (LANGUAGE, LC_ALL, LC_MESSAGES, LANG, the first one set): zh-CN
    for a Chinese one, English otherwise; ENCLAVE_LANG overrides it, as in the workspace."""
    for name in ("ENCLAVE_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "").lower()
        if value.startswith("zh"):
            return "zh-CN"
        if value and not value.startswith(("c", "posix")):
            return "en"
    return "en"


def error_line(exc: BaseException, lang: str) -> str:
    """A refusal as the one line an operator reads: translated by its template from the catalogue of the
    component that raised it (export review, jobs, governance, else the core's), in the operator's language."""
    text = text_of(exc)
    if lang != "zh-CN":
        return f"error: {text}"
    for translate in (egress_message, jobs_message, governance_message):
        said = translate(text, lang)
        if said != str(text):
            return f"错误：{said}"
    return f"错误：{reason_in(lang, text)}"
