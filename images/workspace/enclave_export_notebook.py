"""`request_export` for notebooks: the same request, shown as words; refusals as one sentence.

In a notebook `request_export` returns the same request (a dict: r["id"], r["files"], ...) that also shows
itself as a readable summary: the state, each file's verdict with its findings in words, what to do next and a
link to the request page; a refused call ends in one sentence, in the user's language, not a traceback.
The image's `enclave_export` (egress_review/client.py) ends with `from enclave_export_notebook import
request_export` (images/workspace/build.sh), so the notebook and the `enclave-export` command both use this one;
the client itself stays the same standard-library file that runs on researchers' own machines.
"""

from __future__ import annotations

import os
from typing import Any

from enclave_export import CODES_ZH, WORKSPACE_ROOTS, ExportError
from enclave_export import request_export as _request_export_plain
from enclave_messages import language  # the workspace's one rule: ENCLAVE_LANG, then the locale

_WORDS = {
    "en": {"sep": ": ", "request": "Export request {id}", "state": "State", "file": "File",
           "verdict": "Automated check",
           "findings": "Findings", "next": "What happens next", "open": "Open the request page",
           "outside": "'{path}' is not in your project's workspace: only files under /workspace can be exported "
                      "(copy or save it there first).",
           "pass": "passed", "review": "goes to the reviewers with a note", "block": "blocked",
           "next_submitted": "Two reviewers check it; you will see their decision on the request page.",
           "next_in_review": "One review is in; the second reviewer checks it next.",
           "next_blocked": "A blocked file cannot be approved: fix what the findings say, then make a new request.",
           "next_returned": "The reviewers asked for changes: read their comments, then revise the request.",
           "next_released": "Released: download it from the request page, outside the enclave.",
           "next_other": "See the request page for details."},
    "zh-CN": {"sep": "：", "request": "导出申请 {id}", "state": "状态", "file": "文件", "verdict": "自动检查",
              "findings": "检查发现", "next": "接下来", "open": "打开申请页面",
              "outside": "“{path}”不在项目工作区中：只能导出 /workspace 下的文件（请先复制或保存到那里）。",
              "pass": "通过", "review": "附说明交审核员审核", "block": "已拦截",
              "next_submitted": "将由两名审核员检查，结果可在申请页面查看。",
              "next_in_review": "已有一份审核，接下来由第二名审核员检查。",
              "next_blocked": "被拦截的文件无法获批：请按检查发现修改后重新提交申请。",
              "next_returned": "审核员要求修改：请阅读意见后修订申请。",
              "next_released": "已发布：请在安全环境外从申请页面下载。",
              "next_other": "详情请见申请页面。"},
}


class ExportRefused(ExportError):
    """One sentence for the notebook: IPython prints `_render_traceback_` instead of a traceback."""

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


class ExportSummary(dict):  # type: ignore[type-arg]
    """The request as the service returned it, shown as words in a notebook (and as text by print/repr)."""

    def _next(self) -> str:
        w = _WORDS[language()]
        files = self.get("files") if isinstance(self.get("files"), list) else []
        if any(f.get("verdict") == "block" for f in files) and self.get("state") in ("submitted", "in_review"):
            return w["next_blocked"]
        return w.get(f"next_{self.get('state')}", w["next_other"])

    def _lines(self) -> list[tuple[str, str, list[str]]]:
        w = _WORDS[language()]
        return [(str(f.get("name")), w.get(str(f.get("verdict")), str(f.get("verdict"))),
                 [str(x.get("detail") or x.get("kind") or x.get("check")) for x in f.get("findings", [])[:10]])
                for f in (self.get("files") if isinstance(self.get("files"), list) else [])]

    def _state(self) -> str:
        state = str(self.get("state"))
        return CODES_ZH.get(state, state) if language() == "zh-CN" else state

    def link(self) -> str:
        return f"/services/egress-review/requests/{self.get('id')}"

    def __repr__(self) -> str:
        w = _WORDS[language()]
        out = [w["request"].format(id=self.get("id")) + f" · {w['state']}{w['sep']}{self._state()}"]
        for name, verdict, findings in self._lines():
            out.append(f"  {name}: {verdict}")
            out.extend(f"    - {x}" for x in findings)
        out += [f"{w['next']}{w['sep']}{self._next()}", f"{w['open']}{w['sep']}{self.link()}"]
        return "\n".join(out)

    def _repr_html_(self) -> str:
        import html

        lang = language()
        w = _WORDS[lang]
        rows = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{html.escape(verdict)}</td><td>"
            + ("<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in findings) + "</ul>" if findings else "—")
            + "</td></tr>" for name, verdict, findings in self._lines())
        return (f'<div class="enclave-export-summary" lang="{lang}">'
                f"<strong>{html.escape(w['request'].format(id=self.get('id')))}</strong> · "
                f"{w['state']}{w['sep']}<span class=\"state\">{html.escape(self._state())}</span>"
                f"<table><thead><tr><th>{w['file']}</th><th>{w['verdict']}</th><th>{w['findings']}</th></tr></thead>"
                f"<tbody>{rows}</tbody></table>"
                f"<p><strong>{w['next']}{w['sep']}</strong>{html.escape(self._next())}</p>"
                f'<p><a href="{self.link()}" target="_blank" rel="noopener">{w["open"]}</a></p></div>')


def request_export(files: list[str], justification: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Submit files for review (only files under /workspace); returns the request, shown as a summary.

    Every other argument goes to the client's own request_export unchanged (its signature is the client's);
    `lang`, when given, is also the language of the refusal said here."""
    w = _WORDS[kwargs.get("lang") or language()]
    named = [kwargs.get(k) for k in ("training_data", "holdout_data")] + [a for a in args[:2] if isinstance(a, str)]
    for path in [*files, *(p for p in named if isinstance(p, str) and p)]:
        if os.path.isabs(path) and not os.path.abspath(path).startswith(WORKSPACE_ROOTS):  # relative: to it
            raise ExportRefused(w["outside"].format(path=path))
    try:
        result = _request_export_plain(files, justification, *args, **kwargs)
    except ExportRefused:
        raise
    except ExportError as exc:
        raise ExportRefused(str(exc)) from None  # the client's own words (the CLI prints the same)
    return ExportSummary(result)
