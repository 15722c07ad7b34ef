"""How every `enclave` command prints: one JSON document with --json, or a human summary."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click


def emit(data: Any, as_json: bool, human: Callable[[Any], str] | None = None) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=1, default=str))
    else:
        click.echo(human(data) if human else json.dumps(data, ensure_ascii=False, indent=1, default=str))


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")(f)
