"""Wrong 5 (issue 14), the staff maps: road closures were drawn on no map. In headless Chromium against
real servers with the demo data (tiles blocked): a closure is drawn as a black dotted line with the
通行止め symbol on the HQ map (with its legend entry, live on the event), in the GIS viewer (its own entry
in the layer list) and on the replay map at a time T when it was in force, not before. And the HQ map's
「印刷用地図 (PDF)」 link carries the map's bounds and the disaster, and gives the PDF."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from sqlalchemy import text

from tests.test_pages_browser import (  # noqa: F401 - fixtures
    browser,
    demo_users,
    servers,
    visit,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def hq_api(client, demo_users):  # noqa: F811
    r = client.post("/api/auth/login", json={"username": "hq", "password": demo_users["hq"]})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture
def closure(client, hq_api, app_engine):
    """A demo road closed for the test (a segment no other closure holds), reopened after it."""
    with app_engine.connect() as conn:
        segment = conn.execute(
            text(
                """SELECT r.id FROM gis.road_segment r JOIN gis.layer l ON l.id = r.layer_id
                    WHERE l.slug = 'road-ledger'
                      AND NOT EXISTS (SELECT 1 FROM gis.road_closure c
                                       WHERE c.road_segment_id = r.id AND c.reopened_at IS NULL)
                    ORDER BY r.id DESC LIMIT 1"""
            )
        ).scalar_one()
    before = datetime.now(UTC)
    r = client.post(
        "/api/road-closures", json={"road_segment_id": segment, "reason": "冠水（地図試験）"}, headers=hq_api
    )
    assert r.status_code == 201, r.text
    found = {**r.json(), "before": before}
    yield found
    client.post(f"/api/road-closures/{found['id']}/reopen", headers=hq_api)


def drawn(page, closure_id: int) -> None:
    page.wait_for_selector(
        f".gisapp-closure[data-closure-id='{closure_id}']", state="attached", timeout=20_000
    )
    assert page.locator("path.gisapp-closure-line").count() >= 1


def test_wrong5_the_hq_map_draws_road_closures_with_the_symbol_and_a_legend_entry(
    servers,  # noqa: F811
    visit,  # noqa: F811
    demo_users,  # noqa: F811
    client,
    hq_api,
    closure,
):
    name = f"地図試験 {uuid.uuid4().hex[:6]}"
    d = client.post("/api/disasters", json={"name": name}, headers=hq_api).json()["id"]
    v = visit(viewport={"width": 1280, "height": 900})
    base = servers["internal"].url
    v.login(base, "/hq", "hq", demo_users["hq"])
    page = v.page
    drawn(page, closure["id"])
    marker = page.locator(f".gisapp-closure[data-closure-id='{closure['id']}']")
    assert marker.get_attribute("role") == "img"
    assert marker.get_attribute("aria-label") == f"通行止め：{closure['route_name']}（冠水（地図試験））"
    assert marker.inner_text() == "止"  # the letter, not colour alone
    page.locator("#gisapp-legend").evaluate("e => { e.open = true; }")  # folded at first
    assert "通行止め（黒の点線の道路）" in page.locator("#gisapp-legend").inner_text()
    # Live: the reopening arrives on the event stream and the closure leaves the map.
    assert client.post(f"/api/road-closures/{closure['id']}/reopen", headers=hq_api).status_code == 200
    page.wait_for_selector(
        f".gisapp-closure[data-closure-id='{closure['id']}']", state="detached", timeout=20_000
    )

    # 印刷用地図 (PDF): the map's bounds and the chosen disaster, the PDF comes back.
    page.wait_for_selector("#gisapp-incidents[data-state='ready']", timeout=20_000)
    page.select_option("#gisapp-disaster", str(d))
    link = page.locator("#gisapp-print-map")
    link.wait_for(state="visible")
    assert link.inner_text() == "印刷用地図 (PDF)"
    page.select_option("#gisapp-print-paper", "A4/portrait")
    query = parse_qs(urlsplit(link.get_attribute("href")).query)
    assert query["disaster"] == [str(d)] and query["paper"] == ["A4"] and query["orientation"] == ["portrait"]
    west, south, east, north = (float(x) for x in query["bbox"][0].split(","))
    bounds = page.evaluate(
        "(() => { const b = window.gisapp.map.getBounds(); return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; })()"
    )
    assert [west, south, east, north] == pytest.approx(bounds, abs=1e-5)
    answer = page.request.get(base + link.get_attribute("href"))
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
    assert answer.body().startswith(b"%PDF-")


def test_wrong5_the_gis_viewer_and_the_replay_draw_road_closures(
    servers,  # noqa: F811
    visit,  # noqa: F811
    demo_users,  # noqa: F811
    client,
    hq_api,
    closure,
):
    d = client.post(
        "/api/disasters", json={"name": f"地図試験 {uuid.uuid4().hex[:6]}"}, headers=hq_api
    ).json()["id"]
    time.sleep(1.1)  # the replay's time field holds whole seconds: T must be a second past the closure
    during = datetime.now(UTC)
    v = visit(viewport={"width": 1280, "height": 900})
    base = servers["internal"].url
    v.login(base, "/gis", "hq", demo_users["hq"])
    page = v.page
    drawn(page, closure["id"])
    toggle = page.locator("#gisapp-layer-toggle-road-closures")
    assert toggle.is_checked() and "通行止め（現在）" in page.locator("#gisapp-layer-list").inner_text()
    toggle.uncheck()
    assert page.locator("path.gisapp-closure-line").count() == 0
    toggle.check()
    drawn(page, closure["id"])

    # Replay: in force at `during`, not before the closure.
    page.goto(f"{base}/hq/replay?disaster={d}&t={quote(during.isoformat())}")
    drawn(page, closure["id"])
    assert "通行止め（黒の点線の道路）" in page.locator(".gisapp-legend").inner_text()
    page.goto(f"{base}/hq/replay?disaster={d}&t={quote(closure['before'].isoformat())}")
    page.wait_for_selector("#gisapp-status[data-state='ready']", timeout=20_000)
    page.wait_for_function("() => document.querySelector('#gisapp-map').dataset.closures !== undefined")
    assert page.locator(f".gisapp-closure[data-closure-id='{closure['id']}']").count() == 0
    # The replay's print link carries the time shown.
    href = page.locator("#gisapp-print-map").get_attribute("href")
    assert parse_qs(urlsplit(href).query)["disaster"] == [str(d)]
    assert "at" in parse_qs(urlsplit(href).query)
