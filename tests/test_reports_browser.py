"""Citizen reports in headless Chromium: a report sent through the form on the PUBLIC instance from a
phone, with an XSS canary as its description, never executes on the citizen pages nor on the staff
moderation queue (/hq/reports) or the HQ map; staff turn it into an incident and the reporter's
status page follows."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from PIL import Image

from gisapp.app import create_app
from tests.fixtures_data import seed
from tests.test_pages_browser import ISEHARA, Server, Visit, browser  # noqa: F401 - browser is a fixture

pytestmark = pytest.mark.browser

CANARY = (
    "倒木です <img src=x onerror=\"window.__xss=1;alert('xss')\"> "
    "</script><script>window.__xss=2;alert('xss')</script> <svg onload=\"window.__xss=3\">"
)
NO_XSS = "() => window.__xss === undefined"


@pytest.fixture(scope="module")
def servers(settings) -> Iterator[dict[str, Server]]:
    with Server(create_app(settings)) as internal, Server(create_app(settings, public=True)) as public:
        yield {"internal": internal, "public": public}


@pytest.fixture(scope="module")
def hq_login(client, app_engine) -> tuple[str, str]:
    s = seed(app_engine, "repb")
    headers = s.bearer(client, "hq")
    r = client.post("/api/disasters", json={"name": "通報ブラウザ試験"}, headers=headers)
    assert r.status_code == 201, r.text
    return "repb-hq", s.passwords["hq"]


def watch(visit: Visit) -> list[str]:
    dialogs: list[str] = []

    def on_dialog(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    visit.page.on("dialog", on_dialog)
    return dialogs


def test_a_report_with_an_xss_canary_never_executes_anywhere(servers, browser, hq_login, tmp_path):  # noqa: F811
    phone = Visit(
        browser,
        viewport={"width": 390, "height": 780},
        is_mobile=True,
        has_touch=True,
        geolocation=ISEHARA,
        permissions=["geolocation"],
    )
    staff = Visit(browser, viewport={"width": 1280, "height": 900})
    try:
        _run(servers, phone, staff, hq_login, tmp_path)
    finally:
        phone.close()
        staff.close()
    assert phone.errors == [] and staff.errors == []


def _run(servers, phone: Visit, staff: Visit, hq_login, tmp_path) -> None:
    public, internal = servers["public"].url, servers["internal"].url
    dialogs_phone, dialogs_staff = watch(phone), watch(staff)
    page = phone.page
    page.goto(public + "/report")
    assert page.locator("html").get_attribute("lang") == "ja"
    page.select_option("#report-category", "fallen_tree")
    page.fill("#report-description", CANARY)

    # Sending without a place: a clear message, focus on the map, nothing sent.
    page.click("#report-submit")
    error = page.locator("#report-map-error")
    error.wait_for(state="visible")
    assert "場所を選んでください" in error.inner_text()
    assert page.evaluate("document.activeElement.id") == "report-map"

    page.click("#report-locate")
    page.wait_for_function("() => document.getElementById('report-lat').value !== ''")
    assert abs(float(page.input_value("#report-lat")) - ISEHARA["latitude"]) < 1e-4
    photo = tmp_path / "photo.jpg"
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (90, 140, 60)).save(buf, "JPEG")
    photo.write_bytes(buf.getvalue())
    page.set_input_files("#report-photo", str(photo))
    page.click("#report-submit")
    page.locator("#report-done").wait_for(state="visible")
    link = page.locator("#report-status-link")
    status_url = link.get_attribute("href")
    assert status_url.startswith("/report/status/") and link.inner_text().startswith(public)
    assert page.evaluate(NO_XSS)

    page.goto(public + status_url)
    assert page.inner_text("#report-status-state") == "受付中"
    assert "倒木" in page.inner_text("#report-status-category")
    assert "img" not in page.content().split("<main")[1]  # the description is not on the page at all
    assert page.evaluate(NO_XSS)

    # Staff: the moderation queue shows the canary as plain text.
    staff.login(internal, "/hq/reports", *hq_login)
    queue = staff.page
    queue.wait_for_selector("#moderation-status[data-state=ready]")
    # Every image settled (an injected <img src=x> would have fired its onerror by then).
    queue.wait_for_function(
        "() => [...document.images].filter(i => i.loading !== 'lazy').every(i => i.complete)"
    )
    assert queue.evaluate(NO_XSS)
    card = queue.locator(".moderation-card", has_text="倒木です <img src=x").first
    assert card.locator(".moderation-description").inner_text() == CANARY
    thumb = card.locator("img.moderation-photo")
    thumb.scroll_into_view_if_needed()
    thumb.evaluate("i => i.decode()")
    assert thumb.evaluate("i => i.naturalWidth") == 320  # served by the staff route, decodable

    report_id = card.get_attribute("data-report-id")
    card.get_by_role("button", name="事案にする").click()
    queue.wait_for_function(
        "id => document.getElementById('moderation-result').textContent.includes('通報 #' + id)",
        arg=report_id,
    )
    assert "事案 #" in queue.inner_text("#moderation-result")
    assert queue.evaluate("document.activeElement.id") == "moderation-result"
    queue.locator(f".moderation-card[data-report-id='{report_id}']").wait_for(state="detached")

    # The incident (with the canary as its description) on the HQ map.
    queue.goto(internal + "/hq")
    queue.wait_for_timeout(1500)
    assert queue.evaluate(NO_XSS)

    page.goto(public + status_url)
    assert page.inner_text("#report-status-state") == "未対応"
    page.goto(public + status_url + "?lang=en")
    assert page.inner_text("#report-status-state") == "Not handled yet"
    assert page.evaluate(NO_XSS)
    assert dialogs_phone == [] and dialogs_staff == []
