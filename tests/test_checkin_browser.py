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


def confirm_shelter(page, sid: str) -> None:
    """Choose the shelter and confirm it (「この避難所で受付」): focus goes to the scan field."""
    page.wait_for_selector(f'#evac-shelter option[value="{sid}"]', state="attached")
    page.select_option("#evac-shelter", sid)
    page.click("#evac-shelter-confirm")
    page.wait_for_selector(f'#evac-current[data-shelter="{sid}"]')
    assert page.evaluate("document.activeElement.id") == "evac-scan"


def focused(page) -> str:
    return page.evaluate("document.activeElement.id")


def test_kiosk_shelter_changes_only_when_confirmed(env, visit, app_engine):  # noqa: F811
    """WCAG 3.2.2: nothing chosen at first; moving through the <select> with the arrow keys neither
    switches the kiosk's shelter nor moves focus; only 「この避難所で受付」 does, then focus goes to the
    scan field. A scan before that is refused, naming the shelter field. The confirmed shelter is the
    device's setting: it survives a reload."""
    world = env["world"]
    token = register(env["public"], name=CANARY + "選択", members=1, care=0, pets=0)
    v = visit()
    v.login(env["internal"].url, "/kiosk", f"{env['tag']}-staff", world.seed.passwords["staff"])
    page = v.page
    sid = str(world.shelters["flood"])
    page.wait_for_selector(f'#evac-shelter option[value="{sid}"]', state="attached")
    assert page.input_value("#evac-shelter") == ""  # no pre-selection (the old kiosk took the first)
    assert page.get_attribute("#evac-current", "data-shelter") == ""

    page.focus("#evac-shelter")
    page.keyboard.press("ArrowDown")
    assert page.input_value("#evac-shelter") != ""
    assert focused(page) == "evac-shelter"  # focus stays where the person is
    assert page.get_attribute("#evac-current", "data-shelter") == ""  # the kiosk did not switch

    page.fill("#evac-scan", token)
    page.press("#evac-scan", "Enter")
    page.wait_for_selector('#evac-feedback[data-result="error"]')
    feedback = page.text_content("#evac-feedback")
    assert "避難所：" in feedback and "Shelter: " in feedback  # names the field, in both languages
    assert page.get_attribute("#evac-shelter", "aria-invalid") == "true"
    assert focused(page) == "evac-shelter"
    assert events_of(app_engine, token) == 0

    page.select_option("#evac-shelter", sid)
    page.keyboard.press("Tab")  # to 「この避難所で受付」
    assert focused(page) == "evac-shelter-confirm"
    page.keyboard.press("Enter")
    page.wait_for_selector(f'#evac-current[data-shelter="{sid}"]')
    assert focused(page) == "evac-scan"
    assert page.get_attribute("#evac-shelter", "aria-invalid") is None

    page.reload()
    page.wait_for_selector(f'#evac-current[data-shelter="{sid}"]')
    assert page.input_value("#evac-shelter") == sid

    # A change left unconfirmed: said next to the list, and no scan goes anywhere until it is settled.
    page.locator("#evac-shelter").focus()
    page.keyboard.press("ArrowUp")  # back to 「選んでください」
    assert page.input_value("#evac-shelter") == "" and focused(page) == "evac-shelter"
    page.wait_for_selector('#evac-current[data-pending="true"]')
    page.fill("#evac-scan", token)
    page.press("#evac-scan", "Enter")
    page.wait_for_selector('#evac-feedback[data-result="error"]:has-text("確定していません")')
    assert focused(page) == "evac-shelter" and events_of(app_engine, token) == 0


def test_kiosk_check_in_by_keyboard_alone_on_a_phone(env, visit, app_engine):  # noqa: F811
    """The keyboard path: Tab to the shelter, choose, confirm, type the code, Enter; the result is said
    in a live region and focus stays in the scan field for the next code. Errors (an empty field, an
    unknown code) name the field in Japanese and English, set aria-invalid and keep focus on it. Every
    control is at least 44 px on a 390 px phone."""
    world = env["world"]
    token = register(env["public"], name=CANARY + "鍵盤", members=2, care=1, pets=0)
    v = visit(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    v.login(env["internal"].url, "/kiosk", f"{env['tag']}-staff", world.seed.passwords["staff"])
    page = v.page
    sid = str(world.shelters["flood"])
    page.wait_for_selector(f'#evac-shelter option[value="{sid}"]', state="attached")

    targets = [
        "#evac-shelter", "#evac-shelter-confirm", "label[for=evac-mode-entry]", "label[for=evac-mode-exit]",
        "#evac-scan", "#evac-scan-submit", "#evac-camera", "#evac-walk", "#evac-walk-add", ".gisapp-lang-link",
    ]  # fmt: skip
    for target in targets:
        box = page.locator(target).bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44, (target, box)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sideways

    page.locator("#evac-shelter").focus()
    page.select_option("#evac-shelter", sid)  # as the arrow keys would
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector(f'#evac-current[data-shelter="{sid}"]')
    assert focused(page) == "evac-scan"

    feedback = page.locator("#evac-feedback")
    assert feedback.get_attribute("role") == "status" and feedback.get_attribute("aria-live") == "polite"
    page.keyboard.press("Enter")  # nothing typed
    page.wait_for_selector('#evac-feedback[data-result="error"]')
    assert "QRコード：" in feedback.text_content() and "QR code: " in feedback.text_content()
    assert page.get_attribute("#evac-scan", "aria-invalid") == "true" and focused(page) == "evac-scan"

    page.keyboard.type("A" * 32)  # the shape of a token, registered to nobody
    page.keyboard.press("Enter")
    page.wait_for_selector('#evac-feedback[data-result="error"]:has-text("登録が見つかりません")')
    lines = feedback.locator("p")
    assert lines.nth(0).get_attribute("lang") == "ja" and lines.nth(0).inner_text().startswith("QRコード：")
    assert lines.nth(1).get_attribute("lang") == "en" and lines.nth(1).inner_text().startswith("QR code: ")
    assert page.get_attribute("#evac-scan", "aria-invalid") == "true" and focused(page) == "evac-scan"

    page.keyboard.type(token)
    page.keyboard.press("Enter")
    page.wait_for_selector('#evac-feedback[data-result="entered"]')
    assert feedback.text_content() == "世帯 2名（要配慮 1・ペット 0）入所を記録しました"
    assert focused(page) == "evac-scan" and page.input_value("#evac-scan") == ""
    assert page.get_attribute("#evac-scan", "aria-invalid") is None
    assert events_of(app_engine, token) == 1

    page.locator("#evac-walk").focus()  # walk-ins: a number out of range names its field
    page.keyboard.press("Control+A")
    page.keyboard.type("0")
    page.keyboard.press("Enter")
    page.wait_for_selector('#evac-feedback[data-result="error"]:has-text("登録なしの人数：")')
    assert page.get_attribute("#evac-walk", "aria-invalid") == "true" and focused(page) == "evac-walk"
    assert v.errors == []


def test_kiosk_in_english_names_the_field_english_first(env, visit):  # noqa: F811
    world = env["world"]
    v = visit()
    v.login(env["internal"].url, "/kiosk?lang=en", f"{env['tag']}-staff", world.seed.passwords["staff"])
    page = v.page
    assert page.get_attribute("html", "lang") == "en"
    page.wait_for_selector(f'#evac-shelter option[value="{world.shelters["flood"]}"]', state="attached")
    page.click("#evac-shelter-confirm")  # nothing chosen
    page.wait_for_selector('#evac-feedback[data-result="error"]')
    lines = page.locator("#evac-feedback p")
    assert lines.nth(0).get_attribute("lang") == "en" and lines.nth(0).inner_text().startswith("Shelter: ")
    assert lines.nth(1).get_attribute("lang") == "ja" and lines.nth(1).inner_text().startswith("避難所：")
    assert focused(page) == "evac-shelter" and page.get_attribute("#evac-shelter", "aria-invalid") == "true"


def test_kiosk_scanner_entry_repeat_and_offline_queue(env, visit, app_engine):  # noqa: F811
    world = env["world"]
    token = register(env["public"], name=CANARY, members=3, care=1, pets=1)
    v = visit()
    v.login(env["internal"].url, "/kiosk", f"{env['tag']}-staff", world.seed.passwords["staff"])
    page = v.page
    confirm_shelter(page, str(world.shelters["flood"]))

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


def test_kiosk_keeps_a_scan_the_busy_server_shed_and_sends_it_again(env, visit, app_engine):  # noqa: F811
    """A 503 (admission control shedding load) or 429 means the server did not look at the scan: the
    kiosk keeps it, says so, and sends it again once the server takes it, counted once. Before, any
    answer took the event out of the outbox, so a check-in shed on the busiest hour was lost."""
    world = env["world"]
    token = register(env["public"], name=CANARY + "混雑", members=2, care=0, pets=0)
    v = visit()
    v.login(env["internal"].url, "/kiosk", f"{env['tag']}-staff", world.seed.passwords["staff"])
    page = v.page
    confirm_shelter(page, str(world.shelters["flood"]))
    shed: list[str] = []

    def busy(route):
        shed.append(route.request.url)
        route.fulfill(
            status=503,
            headers={"Retry-After": "0"},
            json={"error": {"code": "busy", "message_ja": "混み合っています", "message_en": "Busy"}},
        )

    page.route("**/checkins", busy)
    page.fill("#evac-scan", token)
    page.press("#evac-scan", "Enter")
    page.wait_for_selector('#evac-feedback[data-result="queued"]', timeout=15000)
    assert "混み合っています" in page.text_content("#evac-feedback")
    page.wait_for_selector('#evac-pending[data-count="1"]', state="attached")
    assert len(shed) >= 4 and events_of(app_engine, token) == 0  # request()'s own waits came first
    page.unroute("**/checkins")
    page.wait_for_selector('#evac-pending[data-count="0"]', state="attached", timeout=15000)
    page.wait_for_selector('#evac-feedback[data-result="entered"]')
    assert events_of(app_engine, token) == 1


def test_resident_form_shows_a_qr_code(env, visit):  # noqa: F811
    v = visit()
    page = v.page
    page.goto(env["public_server"].url + "/register")
    page.fill("#register-representative", "フォーム 試験")
    page.fill("[data-field='members.0.name']", "フォーム 試験")
    page.click("#register-submit")
    page.wait_for_selector("#register-result:not([hidden])")
    img = page.wait_for_selector("#register-qr")
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=img)
    link = page.get_attribute("#register-page-link", "href")
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
        "() => document.getElementById('register-representative').value === 'フォーム 試験'"
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
