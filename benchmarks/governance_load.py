"""Governance pages under load: 50 concurrent signed-in users, p95 per page against a static page of the same
service in the same run (`static-baseline`: same login check, no database, no template). Nothing is asserted;
figures go to benchmarks/results/governance_load.json.

The service runs in a process of its own (as in production: one tornado process), on a fresh home (SQLite,
migrated) holding a catalogue dataset, 50 users and 60 applications in every state. The hub's token check is
answered from a table (in a real enclave HubAuth caches it, so the service's own work is what is measured).
The 50 users are asyncio tasks in this (the client) process, so no client thread competes with the server for
its interpreter lock; each user walks every page in an order of their own, in two phases:
- `with_think_time`: after each page the user reads it for an exponentially distributed time (mean THINK_S,
  shorter than people read a page of a governance form): what "50 concurrent users" means, and the target;
- `saturated`: no think time at all, each user asks for the next page the moment the last one arrived, i.e.
  50 requests always waiting: the service's capacity, where p95 is about 50 times a page's own cost.
- `one_at_a_time` first: each page alone, its latency without a queue and the service's CPU time per request.
The target from the issue is p95 under 300 ms; the ratio to the static page says how much is the page's work.
Usage: python benchmarks/governance_load.py   (the service process: ... --serve HOME, internal)
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import polars as pl  # noqa: E402

from benchmarks.report import summary, tail, write  # noqa: E402

USERS = 50
THINK_S = 2.0  # mean reading time between two pages in `with_think_time`
ROUNDS = {"with_think_time": 3, "saturated": 2}  # walks through every page, per user
SOLO_N = 30  # requests of each page in `one_at_a_time`
PAGES = ["static-baseline", "", "catalogue", "catalogue/cohort@v1", "applications", "applications/{app}",
         "accreditation", "dashboard", "audit?action=application.*"]


def seed(home: Path) -> int:
    """A catalogue dataset, researchers, the approvers and an auditor, and applications in every state."""
    from click.testing import CliRunner

    from datasets_mount.synthetic import cohort
    from enclave.db import session_scope
    from enclave.models import Party, StepDecision
    from enclave.projects import upsert_user
    from enclave.settings import get_settings
    from enclave_ops.cli import main
    from governance import workflow
    from policies import load_policies

    imports = home / "import"
    imports.mkdir(parents=True)
    cohort(5000).write_csv(imports / "cohort.csv")
    res = CliRunner().invoke(main, ["dataset", "ingest", str(imports / "cohort.csv"), "--name", "cohort",
                                    "--version", "v1", "--tier", "2", "--quasi", "sex,region",
                                    "--override-reason", "benchmark data", "--json"])
    assert res.exit_code == 0, res.output
    policies = load_policies(get_settings().policy_dir)
    with session_scope() as s:
        for i in range(USERS):
            upsert_user(s, "bench", f"u{i:02d}", roles=["researcher"])
        for name, roles in (("bob", ["reviewer"]), ("carol", ["reviewer"]), ("audrey", ["auditor"])):
            upsert_user(s, "bench", name, roles=roles)
    first = 0
    for i in range(60):
        form = {"slug": f"bench-{i:02d}", "title": f"Study {i}", "purpose": "p", "datasets": "cohort@v1",
                "members": f"u{(i + 1) % USERS:02d}", "outputs": "o", "duration_days": "30", "ethics_ref": "E"}
        with session_scope() as s:
            app = workflow.new_application(s, f"u{i % USERS:02d}", form)
            first = first or app.id
            if i % 4:
                workflow.submit(s, app.applicant, app.id, policies)
        for who, party in (("bob", Party.STEWARD), ("carol", Party.ETHICS))[: i % 4 - 1 if i % 4 > 1 else 0]:
            with session_scope() as s:
                a = workflow.get_application(s, app.id)
                step = next(x for x in workflow.current_steps(a) if x.party == party)
                workflow.decide(s, who, app.id, step.id, StepDecision.APPROVE, "", policies)
    return first


def serve(home: Path) -> None:
    """The service process: the governance app on a free port of its own (printed), hub token checks from a table."""
    from jupyterhub.services.auth import HubAuth
    from tornado.httpserver import HTTPServer
    from tornado.ioloop import IOLoop
    from tornado.netutil import bind_sockets

    from enclave.settings import get_settings
    from governance import service

    settings = get_settings()
    os.environ.update(service.hub_env(settings))
    tokens = {f"{n}-token": {"name": n, "kind": "user", "scopes": [service.SERVICE_ACCESS]}
              for n in [*(f"u{i:02d}" for i in range(USERS)), "audrey"]}

    async def hub_says(_self: HubAuth, url: str, api_token: str, cache_key: Any = None,
                       use_cache: bool = True) -> dict[str, Any] | None:
        return tokens.get(api_token)

    HubAuth._check_hub_authorization = hub_says  # type: ignore[method-assign]
    sockets = bind_sockets(0, "127.0.0.1")
    HTTPServer(service.make_app(service.Context(settings))).add_sockets(sockets)
    print(sockets[0].getsockname()[1], flush=True)
    IOLoop.current().start()


def start_service(home: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(home)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=os.environ.copy())
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    from enclave.settings import GOVERNANCE_PREFIX

    return proc, f"http://127.0.0.1:{port}{GOVERNANCE_PREFIX}"


def cookie_for(user: str) -> tuple[str, str]:
    from jupyterhub.services.auth import HubOAuth
    from tornado.web import create_signed_value

    from enclave.settings import get_settings
    from governance import service

    os.environ.update(service.hub_env(get_settings()))
    name, secret = HubOAuth().cookie_name, bytes.fromhex(get_settings().secret("governance-cookie"))
    return name, create_signed_value(secret, name, f"{user}-token").decode()


async def phase(base: str, first_app: int, think_s: float, rounds: int, seed_: int) -> dict[str, Any]:
    """Every user walks every page `rounds` times in an order of their own, reading each for ~think_s."""
    users = [f"u{i:02d}" for i in range(USERS)]
    times: dict[str, list[float]] = {p: [] for p in PAGES}
    errors: dict[str, int] = {p: 0 for p in PAGES}
    rng = random.Random(seed_)
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)  # a browser's connections, per user
    # each user's browser; the audit and dashboard pages are read as the auditor, each user with a session of
    # their own (one shared connection pool would queue fifty users' requests in the client, not the service)
    clients = {(u, who): httpx.AsyncClient(base_url=base, timeout=120, limits=limits, cookies=dict([cookie_for(who)]))
               for u in users for who in (u, "audrey")}

    async def user(n: int, name: str) -> None:
        order = PAGES * rounds
        rng.shuffle(order)
        await asyncio.sleep(rng.uniform(0, think_s))  # people do not all arrive in the same millisecond
        for page in order:
            who = "audrey" if page.startswith(("dashboard", "audit")) else name
            t0 = time.perf_counter()
            r = await clients[name, who].get(page.format(app=first_app + n % 60))
            times[page].append(time.perf_counter() - t0)
            if r.status_code not in (200, 404):  # 404: an application that user may not see, decided like a page
                errors[page] += 1
            if think_s:
                await asyncio.sleep(min(rng.expovariate(1 / think_s), 10 * think_s))

    for c in clients.values():
        await c.get("static-baseline")  # warm up connections and the login cookie
    t0, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(user(n, u) for n, u in enumerate(users)))
    wall, client_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    for c in clients.values():
        await c.aclose()
    base_tail = tail(summary(times["static-baseline"]))
    n = sum(len(v) for v in times.values())
    return {"think_time": f"exponential, mean {think_s} s (capped at {10 * think_s} s)" if think_s else "none",
            "rounds_per_user": rounds, "requests": n, "wall_s": round(wall, 1),
            "requests_per_s": round(n / wall, 1), "client_cpu_s": round(client_cpu, 1),
            "worst_page_p95_s": max(tail(summary(v)) for p, v in times.items() if p != "static-baseline"),
            "pages": {p or "home": {**summary(v), "errors": errors[p],
                                    "p95_over_static": round(tail(summary(v)) / base_tail, 2)}
                      for p, v in times.items()}}


def cpu_seconds(pid: int) -> float:
    """The service process's CPU time so far (user + system), whatever else the machine is doing."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one_at_a_time(base: str, first_app: int, pid: int, n: int = SOLO_N) -> dict[str, Any]:
    """Each page alone, `n` times in a row by one user: its latency with no queue, and the service's CPU time
    per request (from /proc, so other work on the machine does not count): a page's own cost."""
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=base, timeout=120, cookies=dict([cookie_for("u01")])) as me, \
            httpx.AsyncClient(base_url=base, timeout=120, cookies=dict([cookie_for("audrey")])) as auditor:
        for page in PAGES:
            client = auditor if page.startswith(("dashboard", "audit")) else me
            path = page.format(app=first_app + 1)
            await client.get(path)  # warm: a first compile of the template is not the page's cost
            times, cpu0 = [], cpu_seconds(pid)
            for _ in range(n):
                t0 = time.perf_counter()
                await client.get(path)
                times.append(time.perf_counter() - t0)
            out[page or "home"] = {**summary(times), "service_cpu_ms_per_request": round(
                (cpu_seconds(pid) - cpu0) * 1000 / n, 1)}
    base_cpu = out["static-baseline"]["service_cpu_ms_per_request"] or 0.1
    for v in out.values():
        v["cpu_over_static"] = round(v["service_cpu_ms_per_request"] / base_cpu, 1)
    return out


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gov-load-") as tmp:
        home = Path(tmp) / "home"
        os.environ.update(ENCLAVE_HOME=str(home), ENCLAVE_DB_URL=f"sqlite:///{home / 'enclave.sqlite'}",
                          ENCLAVE_POLICY_DIR=str(Path(__file__).resolve().parent.parent / "policies"))
        from enclave import db

        db.upgrade()
        first_app = seed(home)
        proc, base = start_service(home)
        try:
            solo = asyncio.run(one_at_a_time(base, first_app, proc.pid))
            think = asyncio.run(phase(base, first_app, THINK_S, ROUNDS["with_think_time"], 1))
            saturated = asyncio.run(phase(base, first_app, 0.0, ROUNDS["saturated"], 2))
        finally:
            proc.terminate()
            proc.wait(30)
        write("governance_load", {
            "what": f"{USERS} concurrent signed-in users as asyncio tasks in a client process; the service alone in "
                    "its own process (one tornado process, as deployed) on SQLite, hub token check from a table; "
                    "both on the same 2 cores. with_think_time: each user reads each page (exponential think "
                    f"time, mean {THINK_S} s) before the next: the target's measure. saturated: no think time, "
                    "50 requests always outstanding: capacity, p95 about 50 times a page's own cost. "
                    f"one_at_a_time: each page {SOLO_N} times by one user, with the service's CPU time per request "
                    "from /proc (a page's own cost, other work on the machine left out)",
            "target": "p95 under 0.300 s per page with_think_time",
            "one_at_a_time": solo, "with_think_time": think, "saturated": saturated,
            "rows_in_catalogue_dataset": int(pl.scan_parquet(next((home / "datasets" / "cohort" / "v1").glob(
                "*.parquet"))).select(pl.len()).collect().item())})


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(Path(sys.argv[2]))
    else:
        main()
