"""被害報 on the HQ map in headless Chromium against real servers: the incident panel's damage section
saves a version (If-Match), refuses a negative figure with the server's own message on the field,
keeps the history; the city totals follow over the event stream; the totals link to the printable
第4号様式, which shows the saved figures."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx2 as httpx
import pytest

from gisapp.app import create_app
from tests import test_pages_browser as pages_browser
from tests.test_pages_browser import Server

browser = pages_browser.browser
demo_users = pages_browser.demo_users
visit = pages_browser.visit

pytestmark = pytest.mark.browser

SPOT = (139.3120, 35.3980)


@pytest.fixture(scope="module")
def servers(settings, demo_users) -> Iterator[dict[str, Server]]:
    with Server(create_app(settings)) as internal:
        yield {"internal": internal}


@pytest.fixture(scope="module")
def api(servers, demo_users) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=servers["internal"].url, timeout=20) as c:
        r = c.post("/api/auth/login", json={"username": "hq", "password": demo_users["hq"]})
        assert r.status_code == 200, r.text
        c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        yield c


def test_damage_section_saves_versions_and_the_totals_and_form_follow(visit, servers, demo_users, api):
    disaster = api.post("/api/disasters", json={"name": "被害報 画面試験"}).json()["id"]
    body = {"category": "building_damage", "title": "被害報 画面試験の事案", "lon": SPOT[0], "lat": SPOT[1]}
    inc = api.post(f"/api/disasters/{disaster}/incidents", json=body).json()

    v = visit()
    v.login(servers["internal"].url, "/hq", "hq", demo_users["hq"])
    page = v.page
    page.wait_for_selector("#gisapp-incidents[data-state='ready']", timeout=20_000)
    page.wait_for_selector("#gisapp-status[data-state='live']", timeout=20_000)
    page.select_option("#gisapp-disaster", str(disaster))
    page.wait_for_selector(
        f"#gisapp-damage-totals[data-disaster-id='{disaster}'][data-dead='0']", timeout=15_000
    )
    page.click(f"#gisapp-incident-list button[data-incident-id='{inc['id']}']")
    page.wait_for_selector(
        f"#gisapp-damage[data-incident-id='{inc['id']}'][data-state='ready']", timeout=15_000
    )
    assert page.get_attribute("#gisapp-damage", "data-version") == "0"
    page.click("#gisapp-damage summary")
    page.fill("#gisapp-damage-dead", "2")
    page.fill("#gisapp-damage-injured_serious", "1")
    page.fill("#gisapp-damage-destroyed_buildings", "1")
    page.click("#gisapp-damage-save")
    page.wait_for_selector("#gisapp-damage[data-version='1'][data-state='ready']", timeout=15_000)
    page.wait_for_selector("#gisapp-damage-history li[data-version='1']")
    stored = api.get(f"/api/incidents/{inc['id']}/damage").json()
    assert (stored["version"], stored["figures"]["dead"], stored["figures"]["destroyed_buildings"]) == (
        1,
        2,
        1,
    )
    # The city totals follow through the stream (the クロノロジー entry's event), no reload.
    page.wait_for_selector("#gisapp-damage-totals[data-dead='2'][data-incidents='1']", timeout=15_000)

    # A negative figure: refused by the server, its message shown, the field marked, nothing stored.
    if not page.is_visible("#gisapp-damage-dead"):
        page.click("#gisapp-damage summary")
    page.fill("#gisapp-damage-dead", "-1")
    page.fill("#gisapp-damage-reason", "誤入力")
    page.click("#gisapp-damage-save")
    page.wait_for_selector("#gisapp-damage-dead[aria-invalid='true']", timeout=15_000)
    assert "死者は0以上" in page.inner_text("#gisapp-damage-status")
    assert api.get(f"/api/incidents/{inc['id']}/damage").json()["version"] == 1

    # The correction with its reason is version 2 and is listed with the reason.
    page.fill("#gisapp-damage-dead", "3")
    page.click("#gisapp-damage-save")
    page.wait_for_selector("#gisapp-damage-history li[data-version='2']", timeout=15_000)
    assert "誤入力" in page.inner_text("#gisapp-damage-history li[data-version='2']")
    page.wait_for_selector("#gisapp-damage-totals[data-dead='3']", timeout=15_000)

    page.click("#gisapp-damage-form4")
    page.wait_for_selector("#dmg-left")
    assert page.inner_text("#dmg-left tr[data-figure='dead'] td.dmg-num") == "3"
    assert page.inner_text("#dmg-left tr[data-figure='destroyed_buildings'] td.dmg-num") == "1"
    # Printed: the form on one A4 page (595 × 842 pt), the areas on the next; no controls on paper.
    page.emulate_media(media="print")
    assert not page.is_visible(".dmg-controls") and page.is_visible("#dmg-left")
    pdf = page.pdf(prefer_css_page_size=True)
    boxes = re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    assert len(boxes) == 2, len(boxes)
    assert all(abs(float(w) - 595.92) < 2 and abs(float(h) - 842.88) < 2 for w, h in boxes), boxes
    assert v.errors == []
