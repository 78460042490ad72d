"""The check-in kiosk and the resident's registration in headless Chromium against real uvicorn servers:
a handheld scanner (the token typed + Enter) records an entry, the same code again shows the
already-inside notice, a scan made offline is queued and sent once on reconnect; the resident's form
shows a QR code; the citizen map shows shelter congestion and no personal data."""

from __future__ import annotations

import secrets
import time

import pytest
from fastapi.testclient import TestClient

from gisapp.app import create_app
from tests.support import count
from tests.test_checkin import make_world, open_shelter, register, scan
from tests.test_pages_browser import Server, browser, visit  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

CANARY = "カナリア受付"


@pytest.fixture(scope="module")
def env(settings, app_engine):
    internal = create_app(settings)
    public = create_app(settings, public=True)
    with TestClient(internal) as c, TestClient(public) as p:
        tag = f"kb{secrets.token_hex(3)}"
        world = make_world(c, app_engine, tag, (139.2600, 35.4300))
        open_shelter(c, world, "flood")
        with Server(internal) as a, Server(public) as b:
            yield {"client": c, "public": p, "world": world, "internal": a, "public_server": b, "tag": tag}


def events_of(app_engine, token: str) -> int:
    from gisapp.ops.households import token_hash

    return count(
        app_engine,
        "SELECT count(*) FROM ops.checkin_event e JOIN restricted.household h ON h.id = e.household_id"
        " WHERE h.token_hash = :h",
        h=token_hash(token),
    )


def test_kiosk_scanner_entry_repeat_and_offline_queue(env, visit, app_engine):  # noqa: F811
    world = env["world"]
    token = register(env["public"], name=CANARY, members=3, care=1, pets=1)
    v = visit()
    v.login(env["internal"].url, "/kiosk", f"{env['tag']}-staff", world.seed.passwords["staff"])
    page = v.page
    sid = str(world.shelters["flood"])
    page.wait_for_selector(f'#evac-shelter option[value="{sid}"]', state="attached")
    page.select_option("#evac-shelter", sid)
    assert page.evaluate("document.activeElement.id") == "evac-scan"

    page.fill("#evac-scan", token)
    page.press("#evac-scan", "Enter")
    page.wait_for_selector('#evac-feedback[data-result="entered"]')
    assert page.text_content("#evac-feedback") == "世帯 3名（要配慮 1・ペット 1）入所を記録しました"
    assert CANARY not in page.content()

    page.fill("#evac-scan", token)
    page.press("#evac-scan", "Enter")
    page.wait_for_selector('#evac-feedback[data-result="already_inside"]')
    assert "すでに入所済み" in page.text_content("#evac-feedback")
    assert events_of(app_engine, token) == 1

    second = register(env["public"], name=CANARY + "2", members=2, care=0, pets=0)
    v.context.set_offline(True)
    page.fill("#evac-scan", second)
    page.press("#evac-scan", "Enter")
    page.wait_for_selector('#evac-feedback[data-result="queued"]')
    page.wait_for_selector('#evac-pending[data-count="1"]', state="attached")
    assert events_of(app_engine, second) == 0
    v.context.set_offline(False)
    page.wait_for_selector('#evac-pending[data-count="0"]', state="attached", timeout=15000)
    page.wait_for_selector('#evac-feedback[data-result="entered"]')
    time.sleep(6)  # past the kiosk's retry interval: nothing is sent again
    assert events_of(app_engine, second) == 1
    assert scan(env["client"], world, "flood", token=second).json()["notice"] == "already_inside"


def test_resident_form_shows_a_qr_code(env, visit):  # noqa: F811
    v = visit()
    page = v.page
    page.goto(env["public_server"].url + "/register")
    page.fill("input[name=representative_name]", "フォーム 試験")
    page.fill("input[name=member_name]", "フォーム 試験")
    page.click("#evac-form button[type=submit]")
    page.wait_for_selector('#evac-result[data-state="done"]')
    img = page.wait_for_selector("#evac-qr img")
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=img)
    link = page.get_attribute("#evac-qr a[href^='/register/']", "href")
    # The code decodes (with the kiosk's vendored jsQR) to the token alone: nothing personal inside.
    page.add_script_tag(url="/static/vendor/jsqr/jsQR.js")
    decoded = page.evaluate(
        """(img) => {
             const c = document.createElement('canvas');
             c.width = img.naturalWidth; c.height = img.naturalHeight;
             const ctx = c.getContext('2d');
             ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, c.width, c.height); ctx.drawImage(img, 0, 0);
             const d = ctx.getImageData(0, 0, c.width, c.height);
             const code = jsQR(d.data, d.width, d.height);
             return code && code.data;
           }""",
        img,
    )
    assert decoded == link.rsplit("/", 1)[1]
    page.goto(env["public_server"].url + link)
    page.wait_for_function(
        "() => document.querySelector('input[name=representative_name]').value === 'フォーム 試験'"
    )


def test_citizen_map_shows_congestion_and_no_person(env, visit, app_engine):  # noqa: F811
    world = env["world"]
    token = register(env["public"], name=CANARY + "地図", members=4)
    scan(env["client"], world, "flood", token=token)
    expected = env["client"].get(f"/api/disasters/{world.disaster_id}/shelters", headers=world.staff).json()
    flood = next(s for s in expected["shelters"] if s["id"] == world.shelters["flood"])
    v = visit()
    page = v.page
    page.goto(env["public_server"].url + "/")
    shelter_id = world.shelters["flood"]
    item = page.locator(f'.citizen-shelter[data-shelter-id="{shelter_id}"]')  # the list, server-rendered
    assert item.get_attribute("data-level") == flood["level"]
    assert f"{flood['occupancy']} 人" in item.inner_text()
    item.locator(".citizen-on-map").click()  # and on the map
    marker = page.wait_for_selector(f'.citizen-shelter-marker[data-shelter-id="{shelter_id}"]')
    label = marker.get_attribute("aria-label")
    assert f"{flood['occupancy']} 人" in label
    assert CANARY not in page.content()
    assert page.evaluate("getComputedStyle(document.querySelector('.citizen-shelter-marker')).width")
