"""The HQ map's evacuation layers in headless Chromium: open shelters with occupancy and congestion
(updated live by check-ins), the disaster's totals, and the households' status per community area —
numbers only, never a household."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from tests.test_hq_incidents_browser import api, open_hq, servers  # noqa: F401 - fixtures
from tests.test_pages_browser import browser, demo_users, visit  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def test_shelters_totals_and_areas_on_the_hq_map(visit, servers, demo_users, api, app_engine):  # noqa: F811
    d = api.post("/api/disasters", json={"name": "避難レイヤー試験"}).json()["id"]  # the latest open: shown
    with app_engine.connect() as conn:
        shelter, capacity = conn.execute(
            text(
                "SELECT s.id, s.capacity FROM gis.shelter s JOIN gis.layer l ON l.id = s.layer_id"
                " WHERE l.slug = 'shelters' AND s.capacity >= 20 ORDER BY s.id LIMIT 1"
            )
        ).one()
    assert (
        api.post(
            f"/api/disasters/{d}/shelters/{shelter}/open", json={"responsible_staff": "避難所班"}
        ).status_code
        == 200
    )

    def walk_in(n: int) -> None:
        body = {"client_event_id": str(uuid.uuid4()), "kind": "entry", "kiosk_id": "hq-test", "persons": n}
        r = api.post(f"/api/disasters/{d}/shelters/{shelter}/checkins", json=body)
        assert r.status_code == 200, r.text

    walk_in(5)
    reg = api.post("/api/register", json={"representative_name": "秘密 太郎", "phone": "090-1111-2222",
                                          "members": [{"name": "秘密 太郎"}, {"name": "秘密 花子"}]})  # fmt: skip
    token = reg.json()["token"]
    assert api.post("/api/public/evacuation-status",
                    json={"token": token, "status": "car", "area_code": "AREA-01"}).status_code == 200  # fmt: skip

    v = open_hq(visit, servers, demo_users)
    page = v.page
    marker = page.locator(f".gisapp-evac-shelter[data-shelter-id='{shelter}']")
    marker.wait_for(timeout=20_000)
    assert marker.get_attribute("data-occupancy") == "5"
    page.wait_for_selector("#gisapp-evac-totals[data-people='5']")

    walk_in(3)  # another kiosk: arrives over the event stream, no reload
    page.wait_for_selector(
        f".gisapp-evac-shelter[data-shelter-id='{shelter}'][data-occupancy='8']", timeout=15_000
    )
    page.wait_for_selector("#gisapp-evac-totals[data-people='8']")

    page.get_by_label("地区別の避難状況").check()
    area = page.locator(".gisapp-evac-area[data-area-code='AREA-01']")
    area.wait_for(timeout=15_000)
    assert area.get_attribute("data-car") == "1"
    html = page.content()
    assert "秘密" not in html and "090-1111-2222" not in html and token not in html
