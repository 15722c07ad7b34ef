"""`enclave-job` and `enclave_job`: submit blind-mode jobs from the workspace and follow them.

The code is written and tried against the dummy data in /data; a job runs the same command on the real
rows, in a sealed container where nobody watches, and only what the automated checks pass comes back,
into /workspace/jobs/<id>/ (read-only). Standard library only: it talks to the jobs service on the host
(ENCLAVE_JOBS_URL, set by the hub) with the workspace server's own token, and the service accepts the call
only from this container.

Terminal:  enclave-job submit --run "python analysis/main.py" [--outputs results/] [--code .]
           enclave-job list          enclave-job show ID          (--json for the service's answer)
Notebook:  from enclave_job import submit, jobs, show
           submit(run="python analysis/main.py")   # a summary that reads as words; a refusal is one sentence
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sys
from typing import Any

from enclave_messages import call_service, language  # the workspace's one rule: ENCLAVE_LANG, then the locale

WORKSPACE_ROOTS = ("/workspace", "/srv/enclave/workspace")


WORDS = {
    "en": {"sep": ": ", "job": "Job {id}", "state": "State", "command": "Command", "exit": "Exit code",
           "time": "Run time", "use": "Resources", "results": "Results", "file": "File", "where": "Where",
           "kinds": "Kinds of finding", "none": "—", "seconds": "{v} s", "cpu": "CPU {v} s",
           "memory": "peak memory {v} MB", "in_workspace": "in your workspace", "review": "held for review",
           "block": "blocked", "pass": "passed", "no_jobs": "no jobs yet in this project",
           "no_service": "there is no jobs service here: enclave-job works inside an enclave workspace",
           "unreachable": "the jobs service does not answer ({why}); try again in a minute",
           "cut_off": "the jobs service stopped before answering; 'enclave-job list' shows whether the job was "
                      "queued",
           "outside": "'{path}' is not in your project's workspace: the code and outputs folders must be under "
                      "/workspace",
           "queued_hint": "Follow it with enclave-job show {id}; what passes the checks appears in {folder}",
           "http": "the jobs service answered HTTP {code} ({reason}) without saying why; try again, and tell the "
                   "enclave administrators if it stays so",
           "not_json": "the jobs service answered with something that is not JSON; tell the enclave administrators",
           "exit_short": "exit {code}", "refused": "refused",
           # the command's help (enclave-job --help)
           "h_description": "Blind-mode jobs: your code on the real data, only checked results come back "
                            "(into /workspace/jobs/<id>/).",
           "h_json": "print the service's answer as JSON", "h_submit": "snapshot the code folder and queue a job",
           "h_run": 'the command, e.g. "python analysis/main.py" (run in /workspace)',
           "h_outputs": "the folder the job writes (default: results)",
           "h_code": "the folder snapshotted as the job's code (default: the workspace)",
           "h_list": "the project's jobs", "h_show": "one job: state, exit code, run time, what came back or is held"},
    "zh-CN": {"sep": "：", "job": "作业 {id}", "state": "状态", "command": "命令", "exit": "退出码",
              "time": "运行时间", "use": "资源使用", "results": "结果", "file": "文件", "where": "位置",
              "kinds": "检查发现类型", "none": "—", "seconds": "{v} 秒", "cpu": "CPU {v} 秒",
              "memory": "内存峰值 {v} MB", "in_workspace": "已在您的工作区", "review": "待审核", "block": "已拦截",
              "pass": "通过", "no_jobs": "本项目还没有作业",
              "no_service": "这里没有作业服务：enclave-job 只能在 Enclave 工作区内使用",
              "unreachable": "作业服务没有响应（{why}）；请一分钟后重试",
              "cut_off": "作业服务在答复前停止；用 enclave-job list 查看作业是否已排队",
              "outside": "“{path}”不在项目工作区中：代码和输出文件夹必须位于 /workspace 下",
              "queued_hint": "用 enclave-job show {id} 查看进度；通过检查的内容会出现在 {folder}",
              "http": "作业服务返回 HTTP {code}（{reason}），但没有说明原因；请重试，如果一直如此请告知 Enclave 管理员",
              "not_json": "作业服务的答复不是 JSON；请告知 Enclave 管理员",
              "exit_short": "退出码 {code}", "refused": "被拒绝",
              "h_description": "盲分析作业：您的代码在真实数据上运行，只有通过检查的结果会返回"
                               "（放入 /workspace/jobs/<id>/）。",
              "h_json": "以 JSON 输出服务的答复", "h_submit": "为代码文件夹做快照并提交作业排队",
              "h_run": "要运行的命令，例如 \"python analysis/main.py\"（在 /workspace 中运行）",
              "h_outputs": "作业写入的文件夹（默认：results）",
              "h_code": "作为作业代码做快照的文件夹（默认：整个工作区）",
              "h_list": "本项目的作业", "h_show": "一个作业：状态、退出码、运行时间、返回或待审核的内容"},
}
STATES_ZH = {"queued": "排队中", "running": "运行中", "finished": "已完成", "failed": "失败", "cancelled": "已取消",
             "interrupted": "已中断"}


def _w() -> dict[str, str]:
    return WORDS[language()]


class JobError(Exception):
    """A call the jobs service refused or could not answer; the message is the reason, in the user's language."""


class JobRefused(JobError):
    """One sentence for the notebook: IPython prints `_render_traceback_` instead of a traceback."""

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


def call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One call to the jobs service with the workspace's own token; its refusal becomes a JobRefused."""
    return call_service("ENCLAVE_JOBS_URL", method, path, body, timeout=300, words=_w(), error=JobRefused)


def _inside(full: str) -> str | None:
    for root in WORKSPACE_ROOTS:
        if full == root:
            return "."
        if full.startswith(root + "/"):
            return full[len(root) + 1:]
    return None


def workspace_path(path: str) -> str:
    """A folder as the service names it: relative to the project workspace. A relative path is taken from the
    current folder when that is in the workspace (a terminal there), else from the workspace itself."""
    cwd = os.getcwd()
    base = cwd if _inside(os.path.normpath(cwd)) is not None else WORKSPACE_ROOTS[0]
    rel = _inside(os.path.normpath(os.path.join(base, path)))
    if rel is None:
        raise JobRefused(_w()["outside"].format(path=path))
    return rel


def _seconds(v: Any) -> str:
    return _w()["seconds"].format(v=f"{float(v):.1f}") if isinstance(v, (int, float)) else _w()["none"]


def _resources(r: dict[str, Any]) -> str:
    w, parts = _w(), []
    if isinstance(r.get("cpu_ns"), (int, float)):
        parts.append(w["cpu"].format(v=f"{r['cpu_ns'] / 1e9:.1f}"))
    if isinstance(r.get("max_memory_bytes"), (int, float)):
        parts.append(w["memory"].format(v=f"{r['max_memory_bytes'] / 1024**2:.0f}"))
    return ", ".join(parts) or w["none"]


class JobSummary(dict):  # type: ignore[type-arg]
    """The job as the service returned it (a dict), shown as words in a notebook and by print/repr."""

    def _state(self) -> str:
        state = str(self.get("state"))
        return STATES_ZH.get(state, state) if language() == "zh-CN" else state

    def _files(self) -> list[tuple[str, str, str]]:
        w = _w()
        rows = []
        for f in self.get("files") or []:
            where = w["in_workspace"] if f.get("in_workspace") else w.get(str(f.get("verdict")), str(f.get("verdict")))
            rows.append((str(f.get("path") or f.get("name")), where, ", ".join(f.get("kinds") or []) or w["none"]))
        return rows

    def _facts(self) -> list[tuple[str, str]]:
        w = _w()
        exit_code = self.get("exit_code")
        facts = [(w["command"], str(self.get("command"))),
                 (w["exit"], w["none"] if exit_code is None else str(exit_code)),
                 (w["time"], _seconds(self.get("run_seconds"))), (w["use"], _resources(self.get("resources") or {}))]
        if self.get("reason"):
            facts.insert(0, (w["state"], f"{self._state()} ({self.get('reason')})"))
        else:
            facts.insert(0, (w["state"], self._state()))
        facts.append((w["results"], str(self.get("release_text") or "")))
        return facts

    def __repr__(self) -> str:
        w = _w()
        out = [w["job"].format(id=self.get("id"))]
        out += [f"  {k}{w['sep']}{v}" for k, v in self._facts()]
        out += [f"    {name}: {where}" + (f" ({kinds})" if kinds != w["none"] else "")
                for name, where, kinds in self._files()]
        if self.get("state") == "queued":
            out.append(w["queued_hint"].format(id=self.get("id"), folder=f"/workspace/jobs/{self.get('id')}/"))
        return "\n".join(out)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        w, e = _w(), html.escape
        facts = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in self._facts())
        files = "".join(f"<tr><td>{e(n)}</td><td>{e(where)}</td><td>{e(kinds)}</td></tr>"
                        for n, where, kinds in self._files())
        table = (f"<table><thead><tr><th>{w['file']}</th><th>{w['where']}</th><th>{w['kinds']}</th></tr></thead>"
                 f"<tbody>{files}</tbody></table>") if files else ""
        return (f'<div class="enclave-job-summary" lang="{language()}"><strong>'
                f"{e(w['job'].format(id=self.get('id')))}</strong><table>{facts}</table>{table}</div>")


def submit(run: str, outputs: str = "results", code: str = ".") -> JobSummary:
    """Queue `run` (a shell command, run in /workspace) on the real data; the code folder is snapshotted now.

    `outputs` is the one folder the job may write (its checked contents come back into
    /workspace/jobs/<id>/); `code` is the folder snapshotted (the whole workspace by default).
    """
    body = {"run": run, "outputs": workspace_path(outputs), "code": workspace_path(code)}
    return JobSummary(call("POST", "api/jobs", body))


def jobs() -> list[dict[str, Any]]:
    """The project's jobs, newest first: state, exit code, run time, and what came back or is held."""
    result: list[dict[str, Any]] = call("GET", "api/jobs")
    return result


def show(job_id: int) -> dict[str, Any]:
    """One job of the project, shown as words in a notebook."""
    return JobSummary(call("GET", f"api/jobs/{int(job_id)}"))


def _list_line(j: dict[str, Any]) -> str:
    state = str(j.get("state"))
    state = STATES_ZH.get(state, state) if language() == "zh-CN" else state
    exit_code = "" if j.get("exit_code") is None else " " + _w()["exit_short"].format(code=j["exit_code"])
    return f"{j.get('id'):>5}  {state:<11} {j.get('release'):<9}{exit_code:<9} {j.get('submitter')}  {j.get('command')}"


def main(argv: list[str] | None = None) -> int:
    w = _w()
    p = argparse.ArgumentParser(prog="enclave-job", description=w["h_description"])
    p.add_argument("--json", action="store_true", help=w["h_json"])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("submit", help=w["h_submit"])
    s.add_argument("--run", required=True, help=w["h_run"])
    s.add_argument("--outputs", default="results", help=w["h_outputs"])
    s.add_argument("--code", default=".", help=w["h_code"])
    sub.add_parser("list", help=w["h_list"])
    sh = sub.add_parser("show", help=w["h_show"])
    sh.add_argument("id", type=int)
    a = p.parse_args(argv)
    try:
        if a.cmd == "submit":
            result: Any = submit(a.run, a.outputs, a.code)
        elif a.cmd == "list":
            result = jobs()
        else:
            result = show(a.id)
    except JobError as exc:
        print(json.dumps({"error": str(exc)}, ensure_ascii=False) if a.json else f"enclave-job: {exc}",
              file=sys.stderr)
        return 2
    if a.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    elif a.cmd == "list":
        print("\n".join(_list_line(j) for j in result) or _w()["no_jobs"])
    else:
        print(repr(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
