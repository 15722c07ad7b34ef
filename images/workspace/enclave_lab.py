"""jupyter_server extension: export requests and blind-mode jobs as JSON for the JupyterLab extension.

The browser cannot reach the enclave's services (only the Jupyter server can, with its own token), so the
JupyterLab extension (images/workspace/labextension) calls these authenticated endpoints, which call the same
in-workspace clients a notebook uses: `enclave_export` and, in a blind project, `enclave_job`.

    GET  /enclave/status   {"jobs": bool}  (jobs only when ENCLAVE_JOBS_URL is set and enclave_job imports)
    POST /enclave/exports  {"files": [...], "justification": "..."}  -> {"request": {...}} | {"error", "field"}
    GET  /enclave/exports  {"requests": [...]}  (this project's, newest first)
    POST /enclave/jobs     {"run": "...", "outputs": "results", "code": "."}  -> {"job": {...}} | {"error", ...}
    GET  /enclave/jobs     {"jobs": [...]}

Every answer is in the language the page asks for (?lang=, else Accept-Language): a refusal is one sentence,
never a traceback. The handler functions take their clients as arguments so the tests can give fakes.
"""

from __future__ import annotations

import asyncio
import json
import os
import posixpath
import re
from types import ModuleType
from typing import Any

from enclave_messages import pick_language

WORKSPACE = "/workspace"
SERVER_ROOT = "/srv/enclave"  # c.ServerApp.root_dir: the file browser's paths are relative to it
REQUEST_PAGE = "/services/egress-review/requests/{id}"
DETAILED = 10  # the newest requests whose files and findings the panel shows (one service call each)

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "outside": "'{path}' is not in your project's workspace: only files and folders under /workspace can be "
                   "used here (copy or save it there first).",
        "no_files": "Choose at least one file under /workspace to export.",
        "justification": "Say what the files are and why they are safe to leave the enclave.",
        "run": "Give the command to run, for example: python analysis/main.py",
        "no_jobs": "Jobs are not available in this workspace: it is not a blind-mode project.",
        "no_service": "The export service did not answer: {reason}",
        "pass": "passed", "review": "goes to the reviewers with a note", "block": "blocked",
        "next_submitted": "Two reviewers check it; you will see their decision on the request page.",
        "next_in_review": "One review is in; the second reviewer checks it next.",
        "next_blocked": "A blocked file cannot be approved: fix what the findings say, then make a new request.",
        "next_returned": "The reviewers asked for changes: read their comments, then revise the request.",
        "next_released": "Released: download it from the request page, outside the enclave.",
        "next_other": "See the request page for details.",
        "out_back": "outputs are in /workspace/jobs/{id}/", "out_pending": "outputs not checked yet",
        "out_held": "outputs held for review", "out_blocked": "outputs blocked by the checks",
        "out_withheld": "outputs withheld by the output checker",
    },
    "zh-CN": {
        "outside": "“{path}”不在项目工作区中：这里只能使用 /workspace 下的文件和文件夹（请先复制或保存到那里）。",
        "no_files": "请至少选择一个 /workspace 下的文件进行导出。",
        "justification": "请说明这些文件是什么，以及为什么可以安全地带出安全环境。",
        "run": "请填写要运行的命令，例如：python analysis/main.py",
        "no_jobs": "此工作区不能提交作业：它不是盲分析模式的项目。",
        "no_service": "导出服务没有响应：{reason}",
        "pass": "通过", "review": "附说明交审核员审核", "block": "已拦截",
        "next_submitted": "将由两名审核员检查，结果可在申请页面查看。",
        "next_in_review": "已有一份审核，接下来由第二名审核员检查。",
        "next_blocked": "被拦截的文件无法获批：请按检查发现修改后重新提交申请。",
        "next_returned": "审核员要求修改：请阅读意见后修订申请。",
        "next_released": "已发布：请在安全环境外从申请页面下载。",
        "next_other": "详情请见申请页面。",
        "out_back": "输出已放入 /workspace/jobs/{id}/", "out_pending": "输出尚未检查",
        "out_held": "输出待审核", "out_blocked": "输出被检查拦截", "out_withheld": "输出检查员未放行输出",
    },
}
STATES = {
    "en": {"submitted": "submitted", "in_review": "in review", "approved": "approved", "returned": "returned",
           "rejected": "rejected", "conflicted": "reviewers disagree", "released": "released",
           "withdrawn": "withdrawn", "revised": "revised", "queued": "queued", "running": "running",
           "finished": "finished", "failed": "failed", "cancelled": "cancelled", "interrupted": "interrupted"},
    "zh-CN": {"submitted": "已提交", "in_review": "审核中", "approved": "已批准", "returned": "已退回",
              "rejected": "已拒绝", "conflicted": "审核意见冲突", "released": "已发布", "withdrawn": "已撤回",
              "revised": "已修订", "queued": "排队中", "running": "运行中", "finished": "已完成", "failed": "失败",
              "cancelled": "已取消", "interrupted": "已中断"},
}
OUTPUTS_BACK = {"delivered", "released"}


class Refused(Exception):
    """One sentence for the person, with the form field it is about (if any)."""

    def __init__(self, message: str, field: str = "", status: int = 400) -> None:
        super().__init__(message)
        self.field, self.status = field, status


def language(query_lang: str | None, accept_language: str) -> str:
    """?lang= from JupyterLab (the language the user chose there) wins over the browser's Accept-Language."""
    return pick_language(query_lang or accept_language or "")


def workspace_path(path: str, lang: str) -> str:
    """A path from the file browser (relative to the server root) or an absolute one, as a path relative to
    /workspace; anything that leads elsewhere (data/, .., another root) is refused in one sentence."""
    raw = (path or "").strip()
    full = posixpath.normpath(raw if raw.startswith("/") else posixpath.join(SERVER_ROOT, raw))
    for root in (WORKSPACE, posixpath.join(SERVER_ROOT, "workspace")):
        if full == root:
            return "."
        if full.startswith(root + "/"):
            return full[len(root) + 1:]
    raise Refused(WORDS[lang]["outside"].format(path=raw), field="files")


def _sentence(exc: BaseException) -> str:
    """The client says "403: reason"; the person reads the reason."""
    return re.sub(r"^\d{3}: ", "", str(exc)).strip() or exc.__class__.__name__


def _findings(f: dict[str, Any]) -> list[str]:
    """Each finding in plain words: the service's requester form (`text`, no value), else its kind."""
    return [str(x.get("text") or x.get("kind") or x.get("check")) for x in f.get("findings", [])[:10]]


def request_view(r: dict[str, Any], lang: str) -> dict[str, Any]:
    """A request as the panel and the result dialog show it: words in `lang`, a link, what happens next."""
    w, files = WORDS[lang], r.get("files") if isinstance(r.get("files"), list) else []
    state = str(r.get("state"))
    blocked = any(f.get("verdict") == "block" for f in files) or r.get("verdict") == "block"
    nxt = "next_blocked" if blocked and state in ("submitted", "in_review") else f"next_{state}"
    return {"id": r.get("id"), "state": state, "state_text": STATES[lang].get(state, state),
            "verdict": r.get("verdict"), "verdict_text": w.get(str(r.get("verdict")), str(r.get("verdict") or "")),
            "created_at": r.get("created_at"),
            "files": [{"name": str(f.get("name")), "verdict": f.get("verdict"),
                       "verdict_text": w.get(str(f.get("verdict")), str(f.get("verdict"))),
                       "findings": _findings(f)} for f in files],
            "next": w.get(nxt, w["next_other"]), "link": REQUEST_PAGE.format(id=r.get("id"))}


def submit_export(client: ModuleType, files: Any, justification: Any, lang: str) -> dict[str, Any]:
    """Checks the form, then asks the export service; the request comes back as words."""
    if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
        raise Refused(WORDS[lang]["no_files"], field="files")
    paths = [posixpath.join(WORKSPACE, workspace_path(f, lang)) for f in files]
    if not isinstance(justification, str) or not justification.strip():
        raise Refused(WORDS[lang]["justification"], field="justification")
    try:
        result = client.request_export(paths, justification.strip(), lang=lang)
    except client.ExportError as exc:
        raise Refused(_sentence(exc), status=403) from None
    return {"request": request_view(dict(result), lang)}


def list_exports(client: ModuleType, lang: str, project: str | None) -> dict[str, Any]:
    """This project's requests, newest first; the newest DETAILED ones with their files and findings."""
    try:
        rows = [r for r in client.list_requests(lang=lang) if not project or r.get("project") == project]
        shown = [client.show_request(int(r["id"]), lang=lang) if i < DETAILED else r for i, r in enumerate(rows)]
    except client.ExportError as exc:
        raise Refused(_sentence(exc), status=502) from None
    return {"requests": [request_view(r, lang) for r in shown]}


def job_client() -> ModuleType | None:
    """enclave_job, or None where jobs are not available (no jobs service for this project, or no client)."""
    if not os.environ.get("ENCLAVE_JOBS_URL"):
        return None
    try:
        import enclave_job  # in the image next to this module, only in builds that have blind-mode jobs
    except ImportError:
        return None
    return enclave_job


def job_view(j: dict[str, Any], lang: str) -> dict[str, Any]:
    """A job as the panel shows it: state, exit code and whether its outputs came back into the workspace."""
    w, state, release = WORDS[lang], str(j.get("state")), str(j.get("release") or "pending")
    back = release in OUTPUTS_BACK
    return {"id": j.get("id"), "command": j.get("command") or j.get("run"), "state": state,
            "state_text": STATES[lang].get(state, state), "exit_code": j.get("exit_code"),
            "outputs_back": back,
            "outputs_text": w["out_back"].format(id=j.get("id")) if back else w.get(f"out_{release}",
                                                                                      w["out_pending"])}


def submit_job(jobs: ModuleType | None, body: dict[str, Any], lang: str) -> dict[str, Any]:
    """Checks the form (a command; outputs and code folders inside /workspace), then submits the job."""
    w = WORDS[lang]
    if jobs is None:
        raise Refused(w["no_jobs"], status=404)
    run = body.get("run")
    if not isinstance(run, str) or not run.strip():
        raise Refused(w["run"], field="run")
    folders = {}
    for name, default in (("outputs", "results"), ("code", ".")):
        value = body.get(name)
        value = value.strip() if isinstance(value, str) and value.strip() else default
        try:
            folders[name] = workspace_path(value if value.startswith("/") else posixpath.join("workspace", value),
                                           lang)
        except Refused as exc:
            raise Refused(str(exc), field=name) from None
    try:
        job = jobs.submit(run=run.strip(), outputs=folders["outputs"], code=folders["code"])
    except Exception as exc:  # noqa: BLE001  (the client's refusal, whatever its class: one sentence)
        raise Refused(_sentence(exc), status=403) from None
    return {"job": job_view(dict(job), lang)}


def list_jobs(jobs: ModuleType | None, lang: str) -> dict[str, Any]:
    if jobs is None:
        raise Refused(WORDS[lang]["no_jobs"], status=404)
    try:
        return {"jobs": [job_view(dict(j), lang) for j in jobs.jobs()]}
    except Exception as exc:  # noqa: BLE001
        raise Refused(_sentence(exc), status=502) from None


def status(jobs: ModuleType | None, lang: str) -> dict[str, Any]:
    """What the front end may show: the jobs part only in a workspace that has jobs."""
    return {"jobs": jobs is not None, "lang": lang}


def answer(fn: Any, *args: Any) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) of one endpoint: a refusal is its sentence and the field it is about."""
    try:
        return 200, fn(*args)
    except Refused as exc:
        return exc.status, {"error": str(exc), "field": exc.field}


def export_client() -> ModuleType:
    import enclave_export  # the image's client, whose request_export is the notebook's (build.sh)

    return enclave_export


def handlers() -> list[tuple[str, Any]]:
    """The tornado handlers (made here: the functions above are tested where jupyter_server is not installed)."""
    from jupyter_server.base.handlers import APIHandler
    from tornado import web

    class EnclaveHandler(APIHandler):  # type: ignore[misc]
        """JSON in, JSON out, authenticated, XSRF-checked on POST like every Jupyter API handler."""

        @property
        def lang(self) -> str:
            return language(self.get_query_argument("lang", None), self.request.headers.get("Accept-Language", ""))

        def body(self) -> dict[str, Any]:
            try:
                data = json.loads(self.request.body or b"{}")
            except ValueError:
                data = None
            return data if isinstance(data, dict) else {}

        async def answer(self, fn: Any, *args: Any) -> None:
            """Runs the (blocking) client call off the event loop; a refusal is a sentence with its status."""
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.set_header("Cache-Control", "no-store")
            status, result = await asyncio.to_thread(answer, fn, *args)
            self.set_status(status)
            self.finish(json.dumps(result, ensure_ascii=False, default=str))

    class StatusHandler(EnclaveHandler):
        @web.authenticated
        async def get(self) -> None:
            await self.answer(status, job_client(), self.lang)

    class ExportsHandler(EnclaveHandler):
        @web.authenticated
        async def get(self) -> None:
            await self.answer(list_exports, export_client(), self.lang, os.environ.get("ENCLAVE_PROJECT"))

        @web.authenticated
        async def post(self) -> None:
            body = self.body()
            await self.answer(submit_export, export_client(), body.get("files"), body.get("justification"),
                              self.lang)

    class JobsHandler(EnclaveHandler):
        @web.authenticated
        async def get(self) -> None:
            await self.answer(list_jobs, job_client(), self.lang)

        @web.authenticated
        async def post(self) -> None:
            await self.answer(submit_job, job_client(), self.body(), self.lang)

    return [("status", StatusHandler), ("exports", ExportsHandler), ("jobs", JobsHandler)]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "enclave_lab"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from jupyter_server.utils import url_path_join

    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(".*$", [(url_path_join(base, "enclave", p), h) for p, h in handlers()])
    serverapp.log.info("enclave_lab: /enclave/status, /enclave/exports and /enclave/jobs")
