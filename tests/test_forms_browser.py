"""The residents' forms in headless Chromium against real uvicorn servers (every non-localhost request
blocked): pre-registration (/register, /register/{token}), the evacuation status (/evacuation/{token})
and the report form (/report), on a phone (390×844, touch) and by keyboard alone.

Findings of issue 13 covered here:
- registration: the result (QR, check-in number) first, focused, the form gone (no second
  registration); /register/{token} starts with the QR; both link /evacuation/{token}; the number is
  shown grouped and the kiosk accepts it as shown; a full-width phone number is accepted; errors name
  their field (aria-invalid, message by the field, focus, a summary for several);
- evacuation: a report made after a check-in is what is counted and confirmed; no 「不明」 answer;
- report form: own basemap + notice when the tiles fail, a short map on a phone, one finger scrolls
  the page, the place settable with the current position button;
- 44 px targets, nothing wider than a 320 px screen; keyboard paths for report and registration."""

from __future__ import annotations

import re
import secrets

import pytest
from fastapi.testclient import TestClient

from gisapp.app import create_app
from tests.support import count
from tests.test_checkin import make_world, open_shelter, register, scan
from tests.test_evacuation import areas  # noqa: F401 - fixture
from tests.test_pages_browser import ISEHARA, Server, browser, visit  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
GROUPED = re.compile(r"^(?:[A-Za-z0-9_-]{4} ){7}[A-Za-z0-9_-]{4}$")


@pytest.fixture(scope="module")
def env(settings, app_engine):
    internal = create_app(settings)
    public = create_app(settings, public=True)
    with TestClient(internal) as c, TestClient(public) as p:
        tag = f"fb{secrets.token_hex(3)}"
        world = make_world(c, app_engine, tag, (139.2700, 35.4350))
        open_shelter(c, world, "flood")
        with Server(public) as b:
            yield {"client": c, "public": p, "world": world, "url": b.url}


def tab_to(page, selector: str, limit: int = 60) -> None:
    """Press Tab until `selector` has the focus (keyboard only)."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def no_overflow(page, width: int = 320) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url


def small_targets(page, selector: str) -> list:
    return page.evaluate(
        """(s) => [...document.querySelectorAll(s)].filter((n) => n.offsetParent !== null)
             .map((n) => [n.textContent.trim().slice(0, 20), n.getBoundingClientRect().height])
             .filter(([, h]) => h < 44)""",
        selector,
    )


# ------------------------------------------------------------------------------------ registration
def test_registering_by_keyboard_on_a_phone_shows_the_result_first_and_only_once(env, visit):  # noqa: F811
    page = visit(**PHONE).page
    page.goto(env["url"] + "/register")
    tab_to(page, "#register-representative")
    page.keyboard.type("キーボード 花子")
    page.keyboard.press("Tab")
    page.keyboard.type("０９０－１２３４－５６７８")  # full width, as a Japanese keyboard types it
    tab_to(page, "[data-field='members.0.name']")
    page.keyboard.type("キーボード 花子")
    page.keyboard.press("Tab")
    page.keyboard.type("1985")  # the year select jumps to 「1985年（昭和60年）」
    assert page.evaluate("document.activeElement.selectedOptions[0].textContent") == "1985年（昭和60年）"
    tab_to(page, "#register-submit")
    page.keyboard.press("Enter")

    result = page.wait_for_selector("#register-result:not([hidden])")
    page.wait_for_function("() => document.activeElement.id === 'register-result'")
    box = result.bounding_box()
    assert -1 <= box["y"] < 844 / 3, box  # at the top of the screen, not below the fold
    qr = page.wait_for_selector("#register-qr")
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=qr)
    assert qr.bounding_box()["y"] + 100 < 844  # the QR is on the first screen
    assert page.locator("#register-form").count() == 0  # nothing left to press twice
    shown = " ".join(page.inner_text("#register-token").split())  # two lines of four groups
    assert GROUPED.match(shown), shown
    assert page.eval_on_selector_all("#register-token .register-token-line", "(ls) => ls.length") == 2
    token = shown.replace(" ", "")
    assert page.get_attribute("#register-evacuation-link", "href") == f"/evacuation/{token}"
    assert page.get_attribute("#register-page-link", "href") == f"/register/{token}"
    own = env["public"].get(f"/api/register/{token}").json()
    assert own["phone"] == "090-1234-5678"
    assert own["members"][0]["birth_year"] == 1985
    # The kiosk's manual entry takes the number as shown, spaces and all.
    entered = scan(env["client"], env["world"], "flood", token=shown)
    assert entered.status_code == 200 and entered.json()["result"] == "entered", entered.text


def test_pressing_register_again_after_a_lost_answer_registers_once(env, visit, app_engine):  # noqa: F811
    page = visit(**PHONE).page
    lost: list = []

    def lose_the_first_answer(route):
        if route.request.method == "POST" and not lost:
            lost.append(route.fetch())  # the server registers the household…
            route.abort()  # …and the answer never reaches the phone
        else:
            route.continue_()

    page.route("**/api/register", lose_the_first_answer)
    name = f"二重 {secrets.token_hex(3)}"
    page.goto(env["url"] + "/register")
    page.fill("#register-representative", name)
    page.fill("[data-field='members.0.name']", name)
    page.click("#register-submit")
    summary = page.wait_for_selector("#register-summary:not([hidden])")
    assert "通信できません" in summary.inner_text()  # the network error, said as such
    assert lost and lost[0].status == 201
    page.click("#register-submit")  # the resident presses again
    page.wait_for_selector("#register-result:not([hidden])")
    token = "".join(page.inner_text("#register-token").split())
    assert token == lost[0].json()["token"]  # the first registration's code
    assert (
        count(app_engine, "SELECT count(*) FROM restricted.household WHERE representative_name = :n", n=name)
        == 1
    )


def test_registration_errors_name_their_field_and_take_the_focus(env, visit):  # noqa: F811
    page = visit(**PHONE).page
    page.goto(env["url"] + "/register")
    page.wait_for_selector("[data-field='members.0.name']")
    page.click("#register-submit")
    summary = page.wait_for_selector("#register-summary:not([hidden])")
    assert page.evaluate("document.activeElement.id") == "register-summary"
    assert summary.inner_text().count("入力してください") == 2
    assert page.get_attribute("#register-representative", "aria-invalid") == "true"
    assert page.get_attribute("[data-field='members.0.name']", "aria-invalid") == "true"
    page.click("#register-summary a >> nth=1")  # the summary's link moves to the field
    assert page.evaluate("document.activeElement.dataset.field") == "members.0.name"

    # A phone number the server refuses: its message by the field, the field focused.
    page.fill("#register-representative", "誤り 太郎")
    page.fill("[data-field='members.0.name']", "誤り 太郎")
    page.fill("#register-phone", "電話ください")
    page.click("#register-submit")
    page.wait_for_selector("#register-phone[aria-invalid='true']")
    assert page.evaluate("document.activeElement.id") == "register-phone"
    message = page.inner_text("#register-phone-error")
    assert "電話番号" in message
    assert "register-phone-error" in page.get_attribute("#register-phone", "aria-describedby")
    assert page.get_attribute("#register-representative", "aria-invalid") is None
    assert page.locator("#register-result:not([hidden])").count() == 0


def test_the_own_page_starts_with_the_qr_and_links_the_evacuation_page(env, visit):  # noqa: F811
    token = register(env["public"], name="自分 一郎", members=4)
    page = visit(**PHONE).page
    page.goto(env["url"] + f"/register/{token}")
    qr = page.wait_for_selector("#register-qr")
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=qr)
    assert qr.bounding_box()["y"] < 844 / 2  # first, not 1.86 screens down
    assert "".join(page.inner_text("#register-token").split()) == token
    assert page.get_attribute("#register-evacuation-link", "href") == f"/evacuation/{token}"
    page.wait_for_function("() => document.getElementById('register-representative').value === '自分 一郎'")
    assert page.locator(".register-member").count() == 4
    page.goto(env["url"] + f"/register/{token}?lang=en")
    assert page.get_attribute("#register-evacuation-link", "href") == f"/evacuation/{token}?lang=en"


# ------------------------------------------------------------------------------------- evacuation
def test_a_report_after_check_in_is_what_is_counted_and_confirmed(env, visit):  # noqa: F811
    world, client = env["world"], env["client"]
    token = register(env["public"], name="車中 泊子", members=2)
    assert scan(client, world, "flood", token=token).status_code == 200
    totals_url = f"/api/disasters/{world.disaster_id}/evacuation/areas"
    before = client.get(totals_url, headers=world.hq).json()["totals"]
    page = visit(**PHONE).page
    page.goto(env["url"] + f"/evacuation/{token}")
    assert page.get_attribute("#evac-current", "data-status") == "shelter"
    choices = page.eval_on_selector_all("input[name=status]", "(ns) => ns.map((n) => n.value)")
    assert choices == ["home", "relatives", "shelter", "car"]  # no 「不明」 to answer with
    assert "不明" not in page.inner_text("main")
    assert small_targets(page, ".evac-choice, .gisapp-lang-link, #evac-submit") == []
    no_overflow(page, 390)
    # By keyboard: into the group, arrows to 車中泊, send.
    tab_to(page, "input[name=status]")
    while page.evaluate("document.activeElement.value") != "car":
        page.keyboard.press("ArrowDown")
    tab_to(page, "#evac-submit")
    page.keyboard.press("Enter")
    page.wait_for_selector("#evac-saved")
    assert "受け付けました：車中泊" in page.inner_text("#evac-saved")
    assert "「車中泊」として数えます" in page.inner_text("#evac-counted")
    assert page.get_attribute("#evac-current", "data-status") == "car"
    assert "その後の連絡「車中泊」" in page.inner_text("#evac-shelter-note")
    after = client.get(totals_url, headers=world.hq).json()["totals"]
    # Counted as told, not as 避難所.
    assert (after["car"], after["shelter"]) == (before["car"] + 1, before["shelter"] - 1)
    assert page.get_attribute("#evac-registration-link", "href") == f"/register/{token}"


# ------------------------------------------------------------------------------------ report form
def test_report_map_on_a_phone_has_a_basemap_a_short_height_and_lets_the_page_scroll(env, visit):  # noqa: F811
    page = visit(**PHONE, geolocation=ISEHARA, permissions=["geolocation"]).page
    page.goto(env["url"] + "/report")
    # The GSI tiles are blocked: our own basemap and the notice, never a blank box.
    page.wait_for_function("() => ['drawn', 'none', 'error'].includes(document.body.dataset.ownBasemap)")
    assert page.is_visible("#gisapp-basemap-notice")
    assert page.evaluate("document.body.classList.contains('gisapp-basemap-offline')")
    height = page.evaluate("document.getElementById('report-map').getBoundingClientRect().height")
    assert height <= 300, height
    # One finger scrolls the page: dragging is off and the browser may pan vertically over the map.
    assert page.evaluate("window.gisapp.map.dragging.enabled()") is False
    assert "pan-y" in page.evaluate("getComputedStyle(document.getElementById('report-map')).touchAction")
    page.click("#report-map-move")
    assert page.evaluate("window.gisapp.map.dragging.enabled()") is True
    assert page.get_attribute("#report-map-move", "aria-pressed") == "true"
    # The place without the map.
    page.click("#report-locate")
    page.wait_for_function("() => document.getElementById('report-lat').value !== ''")
    assert abs(float(page.input_value("#report-lat")) - ISEHARA["latitude"]) < 1e-4
    assert small_targets(page, ".gisapp-button, .gisapp-lang-link, select") == []


def test_report_place_by_area_without_position_or_map(env, areas, visit):  # noqa: F811
    """Location denied and no map to tap: the place is chosen by its area (a point inside it)."""
    page = visit(**PHONE).page  # no geolocation permission
    page.goto(env["url"] + "/report")
    page.wait_for_function("() => window.gisapp && window.gisapp.map")
    page.focus("#report-area")
    page.select_option("#report-area", areas[0])
    page.wait_for_function("() => document.getElementById('report-lat').value !== ''")
    lat, lon = float(page.input_value("#report-lat")), float(page.input_value("#report-lon"))
    assert 36.0 < lat < 36.01 and 140.70 < lon < 140.71  # inside the area
    assert f"試験{areas[0]}地区のあたり" in page.inner_text("#report-location-text")
    assert page.evaluate("document.activeElement.id") == "report-area"  # choosing moved nothing


def test_sending_a_report_by_keyboard(env, visit):  # noqa: F811
    page = visit(
        viewport={"width": 1280, "height": 800}, geolocation=ISEHARA, permissions=["geolocation"]
    ).page
    page.goto(env["url"] + "/report")
    page.wait_for_function("() => window.gisapp && window.gisapp.map")
    # Without a category or a place: a summary of both, focused.
    tab_to(page, "#report-submit")
    page.keyboard.press("Enter")
    page.wait_for_selector("#report-summary:not([hidden])")
    assert page.evaluate("document.activeElement.id") == "report-summary"
    assert page.get_attribute("#report-category", "aria-invalid") == "true"
    assert page.get_attribute("#report-map", "aria-invalid") == "true"

    tab_to(page, "#report-category")
    page.keyboard.press("ArrowDown")
    assert page.input_value("#report-category") != ""
    tab_to(page, "#report-map")
    page.keyboard.press("Enter")  # the map's centre
    page.wait_for_function("() => document.getElementById('report-lat').value !== ''")
    tab_to(page, "#report-description")
    page.keyboard.type("キーボードで通報")
    tab_to(page, "#report-submit")
    page.keyboard.press("Enter")
    done = page.wait_for_selector("#report-done:not([hidden])")
    page.wait_for_function("() => document.activeElement.id === 'report-done'")
    assert done.is_visible()
    href = page.get_attribute("#report-status-link", "href")
    assert href.startswith("/report/status/")
    assert page.locator("#report-form").count() == 0


def test_nothing_overflows_a_320_px_screen(env, visit):  # noqa: F811
    token = register(env["public"], name="狭い 画面", members=1)
    page = visit(viewport={"width": 320, "height": 640}, is_mobile=True, has_touch=True).page
    for path in ("/register", f"/register/{token}", f"/evacuation/{token}", "/report", "/register?lang=easy"):
        page.goto(env["url"] + path)
        page.wait_for_load_state("networkidle")
        no_overflow(page)
        if path.startswith("/register/"):  # the check-in number: two lines of four groups, even here
            lines = page.eval_on_selector_all(
                ".register-token-line",
                "(ls) => ls.map((l) => Math.round(l.getBoundingClientRect().height"
                " / parseFloat(getComputedStyle(l).lineHeight)))",
            )
            assert lines == [1, 1], lines
        assert small_targets(page, ".gisapp-lang-link, .gisapp-button:not([hidden]), .gisapp-choice") == [], (
            path
        )
