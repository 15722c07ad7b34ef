"""Governance pages under load: 50 concurrent signed-in users, p95 per page against a static page of the same
service in the same run (`static-baseline`: same login check, no database, no template). Nothing is asserted;
figures go to benchmarks/results/governance_load.json.

The service runs in this process on a fresh home (SQLite, migrated) holding a catalogue dataset, 50 users and
60 applications in every state, as the unit tests run it: the hub's token check is answered from a table (in
a real enclave HubAuth caches it, so the service's own work is what is measured here). The target from the
issue is p95 under 300 ms; the ratio to the static page says how much of it is the page's own work.
Usage: python benchmarks/governance_load.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import polars as pl  # noqa: E402

from benchmarks.report import summary, tail, write  # noqa: E402

USERS, ROUNDS = 50, 4
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


def serve(home: Path) -> tuple[str, Any, Any]:
    from jupyterhub.services.auth import HubAuth, HubOAuth
    from tornado.httpserver import HTTPServer
    from tornado.netutil import bind_sockets
    from tornado.web import create_signed_value

    from enclave.settings import GOVERNANCE_PREFIX, get_settings
    from governance import service

    settings = get_settings()
    for key, value in service.hub_env(settings).items():
        os.environ[key] = value
    tokens = {f"{n}-token": {"name": n, "kind": "user", "scopes": [service.SERVICE_ACCESS]}
              for n in [*(f"u{i:02d}" for i in range(USERS)), "audrey"]}

    async def hub_says(_self: HubAuth, url: str, api_token: str, cache_key: Any = None,
                       use_cache: bool = True) -> dict[str, Any] | None:
        return tokens.get(api_token)

    HubAuth._check_hub_authorization = hub_says  # type: ignore[method-assign]
    loop = asyncio.new_event_loop()
    sockets = bind_sockets(0, "127.0.0.1")

    def run() -> None:
        asyncio.set_event_loop(loop)
        HTTPServer(service.make_app(service.Context(settings))).add_sockets(sockets)
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    cookie, secret = HubOAuth().cookie_name, bytes.fromhex(settings.secret("governance-cookie"))
    base = f"http://127.0.0.1:{sockets[0].getsockname()[1]}{GOVERNANCE_PREFIX}"

    def client(user: str) -> httpx.Client:
        c = httpx.Client(base_url=base, timeout=60)
        c.cookies.set(cookie, create_signed_value(secret, cookie, f"{user}-token").decode())
        return c

    return base, client, loop


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gov-load-") as tmp:
        home = Path(tmp) / "home"
        os.environ.update(ENCLAVE_HOME=str(home), ENCLAVE_DB_URL=f"sqlite:///{home / 'enclave.sqlite'}",
                          ENCLAVE_POLICY_DIR=str(Path(__file__).resolve().parent.parent / "policies"))
        from enclave import db

        db.upgrade()
        first_app = seed(home)
        _, client, loop = serve(home)
        users = [f"u{i:02d}" for i in range(USERS)]
        clients = {u: client(u) for u in users} | {"audrey": client("audrey")}
        times: dict[str, list[float]] = {p: [] for p in PAGES}
        errors: dict[str, int] = {p: 0 for p in PAGES}

        def visit(user: str, page: str) -> None:
            who = "audrey" if page.startswith(("dashboard", "audit")) else user
            path = page.format(app=first_app + users.index(user) % 60)
            t0 = time.perf_counter()
            r = clients[who].get(path)
            elapsed = time.perf_counter() - t0
            if r.status_code not in (200, 404):  # 404: an application that user may not see, decided like a page
                errors[page] += 1
            times[page].append(elapsed)

        for c in clients.values():
            c.get("static-baseline")  # warm up connections and the login cookie
        t_start = time.perf_counter()
        with ThreadPoolExecutor(USERS) as pool:
            for _ in range(ROUNDS):
                for page in PAGES:  # the 50 users all ask for the same kind of page at once
                    list(pool.map(lambda u, p=page: visit(u, p), users))
        wall = time.perf_counter() - t_start
        loop.call_soon_threadsafe(loop.stop)
        base_tail = tail(summary(times["static-baseline"]))
        pages = {p or "home": {**summary(v), "errors": errors[p],
                               "p95_over_static": round(tail(summary(v)) / base_tail, 2)}
                 for p, v in times.items()}
        write("governance_load", {
            "what": f"{USERS} concurrent signed-in users, {ROUNDS} rounds of each page; in-process service on SQLite "
                    "(hub token check from a table), client threads on the same 2 cores",
            "target": "p95 under 0.300 s per page",
            "wall_s": round(wall, 1), "pages": pages,
            "worst_page_p95_s": max(tail(summary(v)) for p, v in times.items() if p != "static-baseline"),
            "rows_in_catalogue_dataset": int(pl.scan_parquet(next((home / "datasets" / "cohort" / "v1").glob(
                "*.parquet"))).select(pl.len()).collect().item())})


if __name__ == "__main__":
    main()
