"""Times on the service pages are in the reader's time zone, with the zone named: the hub's pages record the
browser's zone in a cookie (the service pages run no script), and a zone that is not one falls back to UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from egress_review import workflow
from enclave.db import session_scope
from enclave.i18n import local_time, zone_of
from enclave.settings import TIME_ZONE_COOKIE, get_settings
from tests.egress_helpers import submit
from tests.unit import test_egress_service_auth as service_tests
from tests.unit.test_egress_pages import browser
from tests.unit.test_egress_service_auth import Service

egress = service_tests.egress
NOON_UTC = datetime(2026, 12, 1, 12, 5, tzinfo=UTC)


@pytest.mark.parametrize(("zone", "lang", "shown"), [
    ("Asia/Shanghai", "zh-CN", "2026-12-01 20:05 中国标准时间"),
    ("Asia/Shanghai", "en", "2026-12-01 20:05 China Standard Time"),
    ("Europe/Berlin", "en", "2026-12-01 13:05 Europe/Berlin"),
    ("UTC", "zh-CN", "2026-12-01 12:05 协调世界时"),
])
def test_a_stored_time_is_shown_in_the_readers_zone_with_the_zone_named(zone: str, lang: str, shown: str):
    assert local_time(NOON_UTC, zone, lang) == shown
    assert local_time(NOON_UTC.isoformat(), zone, lang) == shown
    assert local_time(NOON_UTC.replace(tzinfo=None), zone, lang) == shown  # stored naive: UTC


@pytest.mark.parametrize("junk", ["", "Mars/Olympus", "../../etc/passwd", "Asia/Shanghai\n", "x" * 100, "/abs"])
def test_a_zone_that_is_not_one_is_utc(junk: str):
    assert zone_of(junk) == "UTC"


def test_the_request_page_shows_the_submission_time_in_the_zone_the_cookie_names(world: Path, egress: Service):
    rid = submit(get_settings().egress_store)
    with session_scope() as s:
        created = workflow.get_request(s, rid).created_at
    c = browser(egress, "alice", "zh-CN")
    c.cookies.set(TIME_ZONE_COOKIE, quote("Asia/Shanghai", safe=""))  # as the hub's page sets it
    page = c.get(f"requests/{rid}").text
    shown = re.search(r'<time datetime="[^"]+" id="submitted">([^<]+)</time>', page)
    assert shown and shown.group(1) == local_time(created, "Asia/Shanghai", "zh-CN")
    assert shown.group(1).endswith("中国标准时间")
    home = browser(egress, "alice", "en").get("").text  # no cookie yet: UTC, named
    assert re.search(r"<time datetime=[^>]+>\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>", home)
