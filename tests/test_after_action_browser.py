"""The after-action review page (/hq/replay) in headless Chromium: the HQ map of a disaster as it was
at time T — incidents with the status they had then, units where they were — read-only, with the
exports; data shown as text only; incidents drawn with the state symbols (letter, shape, name) and
a legend."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx2 as httpx
import pytest
from sqlalchemy import text

from tests.test_pages_browser import browser, demo_users, servers, visit  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser
CANARY = '<img src=x onerror="window.__xss=1"></script><script>window.__xss=2</script>'


def stamp(t: datetime) -> str:
    return quote(t.isoformat(timespec="seconds"))


def test_the_map_at_time_t(servers, visit, demo_users, app_engine):  # noqa: F811 - fixtures
    base = servers["internal"].url
    with httpx.Client(base_url=base, timeout=30) as http:
        token = http.post("/api/auth/login", json={"username": "hq", "password": demo_users["hq"]}).json()
        http.headers["Authorization"] = f"Bearer {token['access_token']}"
        d = http.post("/api/disasters", json={"name": "振り返りテスト"}).json()["id"]
        first = http.post(
            f"/api/disasters/{d}/incidents",
            json={"category": "fallen_tree", "title": CANARY, "lon": 139.31, "lat": 35.395},
        ).json()
        http.post(
            f"/api/disasters/{d}/incidents",
            json={"category": "flooding", "title": "冠水", "lon": 139.32, "lat": 35.39},
        )
        time.sleep(1.1)
        t1 = datetime.now(UTC)
        time.sleep(1.1)
        assert http.patch(f"/api/incidents/{first['id']}", json={"status": "in_progress"},
                          headers={"If-Match": '"1"'}).status_code == 200  # fmt: skip
        time.sleep(1.1)
        t2 = datetime.now(UTC)
    with app_engine.begin() as conn:
        unit = conn.execute(
            text("SELECT id FROM sensor.device WHERE kind = 'radio_unit' AND enabled ORDER BY id LIMIT 1")
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO sensor.radio_position (device_id, device_ts, geom) VALUES "
                "(:d, :t, ST_SetSRID(ST_MakePoint(139.305, 35.392), 4326)) ON CONFLICT DO NOTHING"
            ),
            {"d": unit, "t": t1 - timedelta(seconds=1)},
        )

    v = visit()
    v.login(base, f"/hq/replay?disaster={d}&t={stamp(t1)}", "hq", demo_users["hq"])
    page = v.page
    marker = page.locator(f".gisapp-incident[data-incident-id='{first['id']}']")
    marker.wait_for(timeout=20_000)
    assert marker.get_attribute("data-status") == "unhandled"  # before the change (the link survived login)
    assert page.locator(".gisapp-replay-count[data-status='unhandled']").get_attribute("data-count") == "2"
    # Where the unit was at T1: a named marker, not a bare coloured dot.
    unit_marker = page.locator(f".gisapp-unit[data-device-id='{unit}']")
    assert unit_marker.count() == 1 and "の位置" in unit_marker.get_attribute("aria-label")

    # State never by colour alone: the marker has the status letter and shape of the HQ map's symbols
    # and an accessible name; the legend lists every status with the same letter.
    assert marker.inner_text() == "未" and "gisapp-shape-square" in marker.get_attribute("class")
    assert marker.get_attribute("aria-label").startswith("未対応：")
    marker.focus()  # keyboard: the marker is a tab stop and says what it is
    page.wait_for_selector(".gisapp-incident-tooltip:has-text('未対応：')")
    legend = page.locator(".gisapp-legend")
    assert legend.is_visible()
    entries = legend.locator("li").all_inner_texts()
    for status in ("未対応", "対応中", "対応済", "取消", "無線機（その時刻の位置）"):
        assert any(status in entry for entry in entries), (status, entries)

    page.goto(f"{base}/hq/replay?disaster={d}&t={stamp(t2)}")
    page.wait_for_selector(f".gisapp-incident[data-incident-id='{first['id']}'][data-status='in_progress']")
    assert page.locator(".gisapp-replay-count[data-status='in_progress']").get_attribute("data-count") == "1"

    page.goto(f"{base}/hq/replay?disaster={d}&t={stamp(t1 - timedelta(hours=1))}")
    page.wait_for_selector("#gisapp-replay-summary:has-text('0')")
    assert page.locator(".gisapp-incident").count() == 0  # nothing reported yet

    hrefs = page.locator(".gisapp-replay-exports a").evaluate_all(
        "els => els.map(e => e.getAttribute('href'))"
    )
    assert f"/api/disasters/{d}/export/events.csv" in hrefs and len(hrefs) == 6
    assert page.evaluate("window.__xss") is None  # the canary title was text, never markup
    assert v.errors == []
