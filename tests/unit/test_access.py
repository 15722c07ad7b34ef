"""Graded access: a member's accreditation decides which tiers of data her workspace may start with."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from datasets_mount.synthetic import cohort
from enclave.access import can_start, check_can_start, projects_for
from enclave.db import session_scope
from enclave.errors import NotAllowed
from enclave.models import Accreditation, ProjectState
from enclave.projects import approve_dataset, create_project, today, transition, upsert_user
from tests.unit.conftest import _ingest


@pytest.fixture
def tiered(enclave_home: Path) -> Path:
    """Project `study` (alice, PI) holding cohort@v1, a tier 2 dataset."""
    _ingest(enclave_home, "cohort", cohort(200))
    with session_scope() as s:
        upsert_user(s, "admin", "alice", roles=["researcher"])
        create_project(s, "admin", slug="study", title="Study", approval_ref="E", purpose="p", pi="alice",
                       start=today(), expiry=today() + timedelta(days=9))
        transition(s, "admin", "study", ProjectState.APPROVED, "ok")
        transition(s, "admin", "study", ProjectState.ACTIVE, "ok")
        approve_dataset(s, "admin", "study", "cohort", "v1", {2})
    return enclave_home


def _accredit(level: int, expires_in_days: int) -> None:
    with session_scope() as s:
        s.add(Accreditation(username="alice", level=level, training_completed=today() - timedelta(days=30),
                            expires=today() + timedelta(days=expires_in_days), recorded_by="admin"))


def test_current_accreditation_at_the_datas_level_starts(tiered: Path):
    _accredit(2, 100)
    with session_scope() as s:
        assert check_can_start(s, "alice", "study").slug == "study"


def test_lapsed_accreditation_stops_the_start_and_says_when_it_lapsed(tiered: Path):
    _accredit(2, -1)
    with session_scope() as s:
        with pytest.raises(NotAllowed, match=r"lapsed on .*tier 2 data"):
            check_can_start(s, "alice", "study")
        row = projects_for(s, "alice")[0]
        assert not row.can_start and "lapsed" in row.reason


def test_level_below_the_datas_tier_stops_the_start(tiered: Path):
    _accredit(1, 100)
    with session_scope() as s:
        assert not can_start(s, "alice", "study")
        with pytest.raises(NotAllowed, match="allows data up to tier 1; the project holds tier 2"):
            check_can_start(s, "alice", "study")


def test_an_expiry_of_today_has_lapsed(tiered: Path):
    _accredit(3, 0)
    with session_scope() as s:
        assert not can_start(s, "alice", "study")


def test_not_enrolled_follows_the_transition_setting(tiered: Path):
    """The repository's policy lets not-yet-enrolled accounts use tier 2 (not_enrolled_max_tier: 2)."""
    with session_scope() as s:
        assert can_start(s, "alice", "study")


def test_project_rules_still_come_first(tiered: Path):
    _accredit(3, 100)
    with session_scope() as s:
        transition(s, "admin", "study", ProjectState.SUSPENDED, "audit finding")
        with pytest.raises(NotAllowed, match="suspended"):
            check_can_start(s, "alice", "study")


def test_the_cli_records_accreditation_on_the_same_rules_and_audits_it(tiered: Path):
    import json

    from click.testing import CliRunner

    from enclave.audit import query
    from enclave_ops.cli import main

    run = CliRunner().invoke
    bad = run(main, ["accreditation", "set", "alice", "--level", "9", "--training", "2026-01-01",
                     "--expires", "2027-01-01", "--json"])
    assert bad.exit_code != 0 and "unknown accreditation level 9" in bad.output
    backwards = run(main, ["accreditation", "set", "alice", "--level", "1", "--training", "2026-01-01",
                           "--expires", "2025-01-01", "--json"])
    assert backwards.exit_code != 0 and "must be after the training date" in backwards.output
    ok = run(main, ["accreditation", "set", "alice", "--level", "1", "--training", str(today()),
                    "--expires", str(today() + timedelta(days=365)), "--json"])
    assert ok.exit_code == 0, ok.output
    listed = json.loads(run(main, ["accreditation", "list", "--json"]).output)
    assert listed[0]["username"] == "alice" and listed[0]["max_tier"] == 1
    with session_scope() as s:
        assert not can_start(s, "alice", "study")  # level 1 allows tier 1, the project holds tier 2
        ev = query(s, action="accreditation.set")[-1]
        assert ev["actor"] == "steward" and ev["details"]["before"] is None and ev["details"]["after"]["level"] == 1


@pytest.mark.parametrize(("expires_in_days", "zh", "en"), [
    (-1, "您的资质（级别 2，标准）已于", "your accreditation (level 2, standard) lapsed on"),
    (100, "您的资质（级别 2，标准）有效期至", "your accreditation (level 2, standard) is current until")])
def test_the_standing_names_the_level_in_the_readers_language(tiered: Path, expires_in_days: int, zh: str, en: str):
    """The level's name is the policy's (governance.yaml `name`, `name_zh`), not the English one in a Chinese
    sentence ("级别 2, standard")."""
    from enclave.access import accreditation_of, governance_policy, standing
    from enclave.i18n import reason_in

    _accredit(2, expires_in_days)
    with session_scope() as s:
        said = standing(accreditation_of(s, "alice"), governance_policy()).reason
    assert reason_in("zh-CN", said).startswith(zh) and "standard" not in reason_in("zh-CN", said)
    assert reason_in("en", said).startswith(en) and str(said).startswith(en)


def test_a_refused_start_names_the_level_in_chinese_on_the_hubs_pages(tiered: Path):
    """The spawner hands the refusal's Text to the hub's pages (not its English string), so the name is kept."""
    from enclave.errors import text_of
    from hub.spawn_form import refusal

    _accredit(1, 100)
    with session_scope() as s, pytest.raises(NotAllowed) as refused:
        check_can_start(s, "alice", "study")
    zh = refusal(403, "zh-CN", text_of(refused.value)).jupyterhub_message  # type: ignore[attr-defined]
    en = refusal(403, "en", text_of(refused.value)).jupyterhub_message  # type: ignore[attr-defined]
    assert zh.startswith("无法启动工作区：您的资质（级别 1，基础）有效期至") and "basic" not in zh
    assert en.startswith("cannot start a workspace: your accreditation (level 1, basic) is current until")
