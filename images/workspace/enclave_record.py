"""Executed code on the record: every cell a Python kernel runs and every line typed in a Lab terminal.

Two hooks, one sender:
  * an IPython extension, loaded in every kernel and IPython shell by the image's
    /opt/venv/etc/ipython/ipython_config.py: `pre_run_cell` hands the cell's code, the notebook, the kernel
    id, the execution count and the time to the sender and returns at once;
  * a Jupyter server extension (jpserver_extensions in /etc/jupyter/jupyter_server_config.py) that wraps
    the terminal websocket's `on_message`, so what is typed into a JupyterLab terminal is recorded in the
    server process, before the shell sees it: a shell setting cannot skip it.
The sender is a background thread that posts batches to the code recorder on the host (ENCLAVE_RECORD_URL,
set by the hub) with the workspace server's own token; the service takes user, project and workspace from
the token and the container, never from what is sent. It never blocks and never raises into the kernel or
the server: while the service does not answer, records wait in a bounded queue, then in a spool under
/tmp/enclave-record; once it answers again the backlog is sent with a gap notice (since, until, how many
were delayed and how many were lost), which the service makes an audit record (code.record_gap).

What it cannot see, and says so here rather than pretend: the terminal recorder sees keystrokes, not what
the shell ran (a Tab completion or a line recalled from history arrives as keys, recorded without the
completed part; input to a full-screen program such as vim or less is recorded as typed lines too); code a
kernel runs without a cell (a script started from a cell with `subprocess`, a file `exec`-ed) is recorded
only as the cell that started it; a researcher's own IPython profile or kernel spec could leave the
extension out, and the spool is writable by the workspace's user while the service is down (the gap
notice says when that was). Standard library only (it runs in every kernel).
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import json
import os
import re
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from enclave_messages import language  # the workspace's one rule: ENCLAVE_LANG, then the locale

SPOOL_DIR = Path(os.environ.get("ENCLAVE_RECORD_SPOOL", "/tmp/enclave-record"))
BATCH = 200  # records per call (the service takes at most 500)
MAX_QUEUE = 10_000  # records waiting in memory; beyond, they go to the spool
MAX_SPOOL_BYTES = 50 * 1024 * 1024  # beyond, records are counted as lost (and the gap notice says how many)
FLUSH_SECONDS = 0.5  # how long a record may wait for others to share its call
RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)
SWEEP_SECONDS = 10.0  # how often a long-lived recorder (the server's) looks for spools that ended processes left
NOTICE = {
    "en": "This session is recorded: every cell you run and every command you type in a terminal is kept by the "
          "enclave, with your name, the project and the time, for the project's audit.",
    "zh-CN": "本会话会被记录：您运行的每个单元格和在终端中输入的每条命令，连同您的用户名、项目和时间，"
             "都由安全区保存，供项目审计使用。",
}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def notice() -> str:
    """What a researcher is told about the recording, in her language (the spawn page says the same)."""
    return NOTICE[language()]


Post = Callable[[dict[str, Any]], None]


def http_post(url: str, token: str, timeout: float = 10.0) -> Post:
    """A POST of one body to the service's api/records, raising on anything but 201."""
    endpoint = url.rstrip("/") + "/api/records"

    def post(body: dict[str, Any]) -> None:
        req = urllib.request.Request(endpoint, data=json.dumps(body).encode(), method="POST", headers={
            "Authorization": f"token {token}", "Content-Type": "application/json", "Accept-Language": language()})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            if resp.status != 201:
                raise OSError(f"HTTP {resp.status}")

    return post


class Recorder:
    """The queue, spool and sender thread shared by a process's hooks. `add` is all a hook calls."""

    def __init__(self, post: Post | None, spool_dir: Path = SPOOL_DIR, *, name: str = "kernel",
                 max_queue: int = MAX_QUEUE, max_spool_bytes: int = MAX_SPOOL_BYTES,
                 retry: tuple[float, ...] = RETRY_SECONDS, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.post = post
        self.spool = spool_dir / f"{name}-{os.getpid()}.jsonl"
        self.spool_dir = spool_dir
        self.max_queue, self.max_spool_bytes = max_queue, max_spool_bytes
        self.retry, self.flush_seconds = retry, flush_seconds
        self.queue: collections.deque[dict[str, Any]] = collections.deque()
        self.cond = threading.Condition()
        self.down_since: str | None = None  # when the service stopped answering (None: it answers)
        self.reason = ""
        self.delayed = self.dropped = 0  # since down_since: records spooled, records lost
        self.sent = 0
        self._failures = 0
        self._next_try = 0.0  # monotonic time of the next try while the service is down
        self._next_sweep = 0.0  # monotonic time of the next look for other processes' spools
        self._stop = False
        self._thread: threading.Thread | None = None

    # -- what the hooks call: never blocks, never raises
    def add(self, entry: dict[str, Any]) -> None:
        try:
            with self.cond:
                if len(self.queue) >= self.max_queue:
                    self._spool([entry])
                else:
                    self.queue.append(entry)
                self.cond.notify()
            if self._thread is None:
                self._start()
        except Exception:  # noqa: BLE001  # the record must never break the cell it records
            self.dropped += 1

    def _start(self) -> None:
        with self.cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="enclave-record", daemon=True)
                self._thread.start()

    # -- the sender thread
    def _run(self) -> None:
        while not self._stop:
            with self.cond:
                if not self.queue:
                    self.cond.wait(self.flush_seconds if self.down_since is None else self._backoff())
                # a record waits up to flush_seconds for others to share its call: one call per cell would
                # cost the kernel more (the sender's work competes with the cell's for the interpreter)
                end = time.monotonic() + self.flush_seconds
                while self.queue and len(self.queue) < BATCH and not self._stop and time.monotonic() < end:
                    self.cond.wait(end - time.monotonic())
                batch = [self.queue.popleft() for _ in range(min(BATCH, len(self.queue)))]
            with contextlib.suppress(Exception):
                self.adopt_orphans()
                self.step(batch)

    def adopt_orphans(self) -> None:
        """Spools left by processes that ended while the service was down (a kernel shut down meanwhile): this
        recorder sends them, with a gap notice from the earliest record they hold. (Public for tests.)"""
        if self.down_since is not None or time.monotonic() < self._next_sweep:
            return
        self._next_sweep = time.monotonic() + SWEEP_SECONDS
        earliest = []
        for path in self._backlog_files():
            if path != self.spool:
                with contextlib.suppress(OSError, ValueError, KeyError, IndexError):
                    earliest.append(json.loads(path.read_text(encoding="utf-8").splitlines()[0])["at"])
        if earliest:
            self.down_since, self.reason = min(earliest), "records spooled by a process of this workspace that ended"

    def _backoff(self) -> float:
        return self.retry[min(self._failures, len(self.retry) - 1)]

    def step(self, batch: list[dict[str, Any]]) -> None:
        """Send a batch; while the service is down, spool it and try the backlog again. (Public for tests.)"""
        if self.down_since is not None:
            self._spool(batch)
            if time.monotonic() >= self._next_try and self._send_backlog():
                self._send_gap()
            return
        if batch and not self._send(batch):
            self._spool(batch)

    def _send(self, batch: list[dict[str, Any]]) -> bool:
        if self.post is None:
            self._went_down("the workspace has no recorder address or token")
            return False
        try:
            self.post({"records": batch})
        except Exception as exc:  # noqa: BLE001  # refused, unreachable, timed out: keep it for later
            self._went_down(type(exc).__name__ + (f": {exc}" if str(exc) else ""))
            return False
        self.sent += len(batch)
        self._failures = 0
        return True

    def _went_down(self, reason: str) -> None:
        if self.down_since is None:
            self.down_since, self.reason = now(), reason[:300]
        self._next_try = time.monotonic() + self._backoff()
        self._failures += 1

    def _spool(self, batch: list[dict[str, Any]]) -> None:
        if not batch:
            return
        try:
            self.spool_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            size = sum(p.stat().st_size for p in self.spool_dir.glob("*.jsonl"))
            lines = "".join(json.dumps(e) + "\n" for e in batch)
            if size + len(lines) > self.max_spool_bytes:
                raise OSError("the spool is full")
            with open(self.spool, "a", encoding="utf-8") as fh:
                fh.write(lines)
            self.delayed += len(batch)
        except OSError:
            self.dropped += len(batch)
        if self.down_since is None:
            self.down_since, self.reason = now(), "the recorder's queue overflowed"

    def _backlog_files(self) -> list[Path]:
        """This process's spool and those of processes that ended before they could send theirs."""
        files = []
        for path in sorted(self.spool_dir.glob("*.jsonl")):
            pid = path.stem.rsplit("-", 1)[-1]
            if path == self.spool or (pid.isdigit() and not _alive(int(pid))):
                files.append(path)
        return files

    def _send_backlog(self) -> bool:
        """Every spooled record, in order; True once all are sent (a failure keeps the rest for the next try)."""
        for path in self._backlog_files():
            try:
                entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
            except (OSError, ValueError):
                entries = []
            for i in range(0, len(entries), BATCH):
                if not self._send(entries[i:i + BATCH]):
                    rest = entries[i:]
                    with contextlib.suppress(OSError):
                        path.write_text("".join(json.dumps(e) + "\n" for e in rest), encoding="utf-8")
                    return False
                if path != self.spool:  # another process's delayed records: this notice counts them
                    self.delayed += len(entries[i:i + BATCH])
            with contextlib.suppress(OSError):
                path.unlink()
        return self.post is not None

    def _send_gap(self) -> None:
        gap = {"since": self.down_since, "until": now(), "delayed": self.delayed, "dropped": self.dropped,
               "reason": self.reason}
        try:
            assert self.post is not None
            self.post({"gap": gap})
        except Exception as exc:  # noqa: BLE001
            self._went_down(type(exc).__name__)
            return
        self.down_since, self.reason, self.delayed, self.dropped = None, "", 0, 0

    def close(self, timeout: float = 2.0) -> None:
        """At exit: send what waits if the service answers within `timeout`, else spool it for the next process."""
        with contextlib.suppress(Exception):
            with self.cond:
                batch, self._stop = list(self.queue), True
                self.queue.clear()
                self.cond.notify()
            if self._thread is not None:
                self._thread.join(timeout)
            if batch and (self.down_since is not None or not self._send(batch)):
                self._spool(batch)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def from_environment(name: str) -> Recorder:
    """The process's recorder, talking to ENCLAVE_RECORD_URL with the workspace's token (JUPYTERHUB_API_TOKEN)."""
    url, token = os.environ.get("ENCLAVE_RECORD_URL", ""), os.environ.get("JUPYTERHUB_API_TOKEN", "")
    rec = Recorder(http_post(url, token) if url and token else None, name=name)
    atexit.register(rec.close)
    return rec


# -- notebooks and consoles: the IPython extension

def _kernel_id() -> str:
    with contextlib.suppress(Exception):
        from ipykernel.connect import get_connection_file

        return Path(get_connection_file()).stem.removeprefix("kernel-")
    return ""


def _count_offset() -> int:
    """IPython 9 counts the cell before `pre_run_cell` (earlier versions after it): what to take off to get
    the number the notebook shows beside the cell."""
    with contextlib.suppress(Exception):
        import IPython

        return 1 if IPython.version_info[0] >= 9 else 0
    return 0


def cell_hook(rec: Recorder, shell: Any) -> Callable[[Any], None]:
    """`pre_run_cell`: the cell as the kernel is about to run it, handed to the sender (never raises)."""
    kernel = os.environ.get("JPY_SESSION_NAME", "") or "ipython"
    session = _kernel_id()
    offset = _count_offset()

    def pre_run_cell(info: Any) -> None:
        try:
            count = getattr(shell, "execution_count", None)
            if count is not None and getattr(info, "store_history", True):
                count -= offset
            else:
                count = None  # a silent execution (a frontend's own request) has no number in the notebook
            rec.add({"kind": "cell", "code": getattr(info, "raw_cell", "") or "", "kernel": kernel,
                     "session": session, "execution_count": count, "at": now()})
        except Exception:  # noqa: BLE001
            rec.dropped += 1

    return pre_run_cell


def load_ipython_extension(shell: Any) -> None:
    rec = from_environment("kernel")
    shell.events.register("pre_run_cell", cell_hook(rec, shell))


# -- terminals: the Jupyter server extension

_ESCAPE = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|O.|.)", re.S)


class LineAssembler:
    """Keystrokes of one terminal into the lines the user entered (Enter ends one; Backspace, Ctrl-U and
    Ctrl-C edit or cancel it; escape sequences such as arrow keys and bracketed-paste markers are left out)."""

    def __init__(self) -> None:
        self.line: list[str] = []

    def feed(self, data: str) -> list[str]:
        done = []
        for ch in _ESCAPE.sub("", data):
            if ch in "\r\n":
                text = "".join(self.line)
                self.line = []
                if text.strip():
                    done.append(text)
            elif ch in "\x7f\x08":
                if self.line:
                    self.line.pop()
            elif ch in "\x03\x15":
                self.line = []
            elif ch == "\t" or ch >= " ":
                self.line.append(ch)
        return done


def terminal_hook(rec: Recorder) -> Callable[..., Any]:
    """A wrapper for TermSocket.on_message: records each entered line, then lets the terminal have it."""
    lines: dict[str, LineAssembler] = {}

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        def on_message(self: Any, message: Any) -> Any:
            try:
                msg = json.loads(message)
                if isinstance(msg, list) and msg and msg[0] == "stdin" and isinstance(msg[1], str):
                    name = str(getattr(self, "term_name", ""))
                    for line in lines.setdefault(name, LineAssembler()).feed(msg[1]):
                        rec.add({"kind": "terminal", "code": line, "kernel": f"terminal {name}", "session": name,
                                 "execution_count": None, "at": now()})
            except Exception:  # noqa: BLE001  # the terminal must keep working whatever the record does
                pass
            return original(self, message)

        return on_message

    return wrap


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "enclave_record"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    try:
        from jupyter_server_terminals.handlers import TermSocket
    except ImportError:
        serverapp.log.warning("enclave_record: no terminals here, nothing to record")
        return
    rec = from_environment("terminal")
    TermSocket.on_message = terminal_hook(rec)(TermSocket.on_message)
    rec._start()  # at once, not at the first keystroke: it also sends what kernels that ended left spooled
    serverapp.log.info("enclave_record: terminal input is recorded")
