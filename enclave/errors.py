"""Domain errors whose message is the reason shown to the person who asked.

A message is a `Text`: an English template with its parameters (`"request {id} is {state}"`, id=7, ...).
It reads as the English sentence everywhere a string is expected (logs, the audit trail, tests), and
keeps its template so each component can show it in the reader's language from a catalogue keyed by
the template (`enclave.i18n.localize`), never by matching the English sentence.
"""

from __future__ import annotations

from typing import Any


class Text(str):
    """An English sentence that remembers its template and parameters (a parameter may itself be a Text)."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, /, **params: Any) -> Text:
        made = super().__new__(cls, template.format(**params) if params else template)
        made.template, made.params = template, params
        return made


class Term(str):
    """A parameter that brings its own zh-CN form: a name a policy gives in both languages (an accreditation
    level's). It reads as the English everywhere a string is expected; `enclave.i18n.localize` puts the zh-CN
    form in a zh-CN sentence. No catalogue can hold such names, since each deployment writes its own."""

    zh: str

    def __new__(cls, en: str, zh: str | None = None) -> Term:
        made = super().__new__(cls, en)
        made.zh = zh or en
        return made

    def in_language(self, lang: str) -> str:
        return self.zh if lang == "zh-CN" else str(self)


class EnclaveError(Exception):
    """Something a user asked for cannot be done; the message says exactly why."""

    def __init__(self, template: str = "", /, **params: Any) -> None:
        self.text = template if isinstance(template, Text) and not params else Text(template, **params)
        super().__init__(str(self.text))


class NotFound(EnclaveError):
    pass


class NotAllowed(EnclaveError):
    pass


class InvalidTransition(EnclaveError):
    pass


class Unavailable(EnclaveError):
    """A service the enclave depends on (database, Docker engine, storage) is down or full; nothing was changed."""


def text_of(exc: BaseException) -> str:
    """The message of an error as a `Text` where it has one (domain errors), else its plain string."""
    return exc.text if isinstance(exc, EnclaveError) else str(exc)
