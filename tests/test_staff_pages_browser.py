"""Staff pages in headless Chromium against real servers with the demo data (every non-localhost
request blocked): the roster keeps its area through the login and finds an area written with a
full-width digit; moderation names a report's place and shows its photo, asks before rejecting and
undoes a rejection, all by keyboard; the dead-letter screen, the OGC API HTML pages and the API docs
on the base layout; the one 403 page."""

from __future__ import annotations

import io
import json
import os
import urllib.request
from urllib.parse import quote, urlsplit

import pytest
from PIL import Image
from sqlalchemy import text

from gisapp.db import transaction
from tests.a11y import assert_accessible
from tests.test_pages_browser import (  # noqa: F401 - fixtures
    Visit,
    browser,
    demo_users,
    servers,
)

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _login_form(v: Visit, user: str, password: str) -> None:
    v.page.wait_for_url("**/login?**")
    v.page.fill("#username", user)
    v.page.fill("#password", password)
    v.page.click("button[type=submit]")


# ---------------------------------------------------------------------------------------- roster
def test_roster_keeps_its_area_through_the_login_and_reads_full_width_digits(
    servers,  # noqa: F811
    browser,  # noqa: F811
    demo_users,  # noqa: F811
    app_engine,
):
    """Findings: the roster login dropped ?area=; 「デモ田園町４丁目」 (full-width ４) found nobody."""
    with transaction(app_engine, ["admin"]) as conn:  # people are behind row-level security
        area = conn.execute(
            text(
                """SELECT community_area FROM restricted.person_needing_help
                    WHERE community_area ~ '^デモ田園町[0-9]丁目$' AND consent
                    GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"""
            )
        ).scalar_one()
    wide = area.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert wide != area
    v = Visit(browser, viewport=DESKTOP)
    try:
        base = servers["internal"].url
        v.page.goto(f"{base}/people/roster?area={quote(wide)}")
        _login_form(v, "welfare", demo_users["welfare"])
        v.page.wait_for_url(lambda url: urlsplit(url).path == "/people/roster")
        assert v.page.input_value("#roster-area") == wide  # back with the area it was asked for
        rows = v.page.locator(".roster-table tbody tr")
        assert rows.count() > 0
        assert v.page.locator(".roster-table caption").inner_text().startswith(wide)
        # The map: one marker per row, named by priority, not tab stops; the basemap has a fallback.
        v.page.wait_for_function("() => window.gisapp && window.gisapp.map")
        assert v.page.locator("#roster-map .roster-marker").count() == rows.count()
        assert v.page.locator("#roster-map .roster-marker[tabindex]").count() == 0
        v.page.wait_for_function("() => document.body.dataset.ownBasemap === 'drawn'")  # tiles blocked
        assert v.page.locator("#roster-print").is_visible()
        assert_accessible(v.page, "roster")
        # The offline instance: no tiles asked for at all, the notice shown, our own basemap drawn.
        blocked = len(v.blocked)
        v.page.goto(f"{servers['offline'].url}/people/roster?area={quote(area)}")  # the cookie is per host
        v.page.wait_for_function("() => document.body.dataset.ownBasemap === 'drawn'")
        assert v.page.locator("#gisapp-basemap-notice").is_visible()
        assert len(v.blocked) == blocked
        v.page.emulate_media(media="print")
        assert not v.page.locator(".roster-form").is_visible()
        assert v.page.locator(".roster-table").is_visible()
        assert v.blocked and not v.errors
    finally:
        v.close()


def test_a_staff_page_without_the_role_shows_the_one_forbidden_page(servers, browser, demo_users):  # noqa: F811
    v = Visit(browser, viewport=PHONE)
    try:
        base = servers["internal"].url
        v.page.goto(f"{base}/people/roster?area=x")
        _login_form(v, "road", demo_users["road"])
        v.page.wait_for_url(lambda url: urlsplit(url).path == "/people/roster")
        assert v.page.locator("h1").inner_text() == "権限がありません"
        assert "road" in v.page.locator("[role=alert]").inner_text()
        assert v.page.locator("html").get_attribute("lang") == "ja"
        assert v.page.get_by_role("button", name="別のユーザーでログインする").is_visible()
        assert_accessible(v.page, "403")
        assert not v.errors
    finally:
        v.close()


# ------------------------------------------------------------------------------------ moderation
def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (200, 150), (40, 90, 160)).save(buf, "JPEG")
    return buf.getvalue()


def _report_on_a_named_road(client, app_engine, description: str) -> tuple[int, str, str]:
    """A report in the middle of a demo road inside a demo 町丁目: (id, area, road)."""
    with app_engine.connect() as conn:
        spot = conn.execute(
            text(
                """SELECT a.name, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat
                     FROM ops.evac_area a JOIN gis.road_segment s ON ST_Intersects(s.geom, a.geom)
                     CROSS JOIN LATERAL (SELECT ST_LineInterpolatePoint(ST_GeometryN(s.geom, 1), 0.5) AS geom) p
                    WHERE ST_Within(p.geom, a.geom) ORDER BY a.code, s.id LIMIT 1"""
            )
        ).one()
    form = {"category": "fallen_tree", "lon": str(spot.lon), "lat": str(spot.lat), "description": description}
    r = client.post(
        "/api/reports",
        data=form,
        files={"photo": ("p.jpg", _jpeg(), "image/jpeg")},
        headers={"X-Forwarded-For": "198.51.100.77"},
    )
    assert r.status_code == 201, r.text
    with app_engine.connect() as conn:
        report_id = conn.execute(
            text("SELECT max(id) FROM ops.citizen_report WHERE description = :d"), {"d": description}
        ).scalar_one()
        road = conn.execute(_ROAD_OF, {"id": report_id}).scalar_one()
    return report_id, spot.name, road


_ROAD_OF = text(
    """SELECT s.route_name FROM ops.citizen_report r, gis.road_segment s WHERE r.id = :id
        ORDER BY ST_Distance(CAST(s.geom AS geography), CAST(r.geom AS geography)) LIMIT 1"""
)


def _focused(page) -> str:
    """The focused element's id, else its accessible name (aria-label or text)."""
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return e.id || e.getAttribute('aria-label') || e.textContent.trim(); }"
    )


def test_moderation_names_the_place_confirms_a_rejection_and_undoes_it_by_keyboard(
    servers,  # noqa: F811
    browser,  # noqa: F811
    demo_users,  # noqa: F811
    client,
    app_engine,
):
    """Findings: moderation showed coordinates only; 却下 had no confirm and no undo."""
    report_id, area, road = _report_on_a_named_road(client, app_engine, "モデレーション試験 倒木")
    v = Visit(browser, viewport=DESKTOP)
    try:
        page = v.page
        v.login(servers["internal"].url, "/hq/reports", "hq", demo_users["hq"])
        page.wait_for_selector("#moderation-status[data-state=ready]")
        card = page.locator(f".moderation-card[data-report-id='{report_id}']")
        if shots := os.environ.get("GISAPP_SCREENSHOTS"):
            page.screenshot(path=f"{shots}/moderation-queue.png")
        assert_accessible(page, "moderation queue")
        place = card.locator(".moderation-place").inner_text()
        assert area in place and road in place  # the place in words, not only coordinates
        photo = card.locator("img.moderation-photo")
        photo.scroll_into_view_if_needed()
        photo.evaluate("i => i.decode()")
        assert photo.evaluate("i => i.naturalWidth") == 200
        assert photo.get_attribute("alt") == f"通報 #{report_id} の写真"
        # Its marker on the small map, with the number of its card; the map falls back to our basemap.
        number = card.locator(".moderation-number").inner_text().rstrip(".")
        assert page.locator(".moderation-marker", has_text=number).count() >= 1
        card.get_by_role("button", name=f"地図で見る: 通報 #{report_id}").click()
        assert page.evaluate("() => window.gisapp.map.getZoom()") == 17

        # Keyboard: 却下… asks first; Escape backs out with focus where it was.
        reject = card.get_by_role("button", name=f"通報 #{report_id} を却下…")
        reject.focus()
        page.keyboard.press("Enter")
        assert _focused(page) == f"moderation-reason-{report_id}"
        if shots:
            card.screenshot(path=f"{shots}/moderation-confirm.png")
        assert_accessible(page, "moderation: confirm a rejection")
        assert card.get_by_role("group", name=f"通報 #{report_id} を却下しますか？").is_visible()
        page.keyboard.press("Escape")
        assert _focused(page) == f"通報 #{report_id} を却下…"
        assert (
            client.get(f"/api/reports/{report_id}", headers=_hq(client, demo_users)).json()["state"]
            == "pending"
        )

        page.keyboard.press("Enter")
        page.keyboard.type("重複（試験）")
        page.keyboard.press("Tab")
        assert _focused(page) == f"moderation-confirm-reject-{report_id}"
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.activeElement.id === 'moderation-result'")
        assert f"通報 #{report_id} を却下しました" in page.inner_text("#moderation-result")
        card.wait_for(state="detached")
        assert (
            client.get(f"/api/reports/{report_id}", headers=_hq(client, demo_users)).json()["state"]
            == "rejected"
        )

        # Undo, still by keyboard: the next Tab stop is the undo button.
        assert_accessible(page, "moderation: rejected, undo offered")
        page.keyboard.press("Tab")
        assert _focused(page) == "moderation-undo"
        page.keyboard.press("Enter")
        page.wait_for_function(
            "id => document.getElementById('moderation-result').textContent.includes('未処理の一覧に戻しました')"
            " && document.activeElement.id === 'moderation-result'",
            arg=str(report_id),
        )
        card.wait_for(state="attached")
        assert (
            client.get(f"/api/reports/{report_id}", headers=_hq(client, demo_users)).json()["state"]
            == "pending"
        )

        # Later: restore from the list of recent rejections.
        card.get_by_role("button", name=f"通報 #{report_id} を却下…").click()
        page.locator(f"#moderation-confirm-reject-{report_id}").click()
        card.wait_for(state="detached")
        page.locator("#moderation-rejected summary").click()
        page.get_by_role("button", name=f"通報 #{report_id} を元に戻す").wait_for()
        assert_accessible(page, "moderation: recent rejections")
        page.get_by_role("button", name=f"通報 #{report_id} を元に戻す").click()
        card.wait_for(state="attached")
        assert page.evaluate("() => document.activeElement.id") == "moderation-result"
        assert not v.errors
    finally:
        v.close()


def _hq(client, users: dict[str, str]) -> dict[str, str]:
    r = client.post("/api/auth/login", json={"username": "hq", "password": users["hq"]})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


# ----------------------------------------------------------------------------- every staff page
def _pages(roster_area: str) -> list[tuple[str, str, str | None]]:
    """(instance, path, demo user or None)."""
    return [
        ("internal", f"/people/roster?area={quote(roster_area)}", "welfare"),
        ("internal", "/hq/reports", "hq"),
        ("internal", "/hq/reports?lang=en", "hq"),
        ("internal", f"/people/roster?area={quote(roster_area)}&lang=en", "welfare"),
        ("internal", "/hq/dead-letters", "hq"),
        ("internal", "/hq/dead-letters?lang=en", "hq"),
        ("internal", "/hq/dead-letters", "road"),  # the 403 page
        ("internal", "/hq/chronology", "hq"),
        ("internal", "/hq/chronology?view=handover&lang=en", "hq"),
        ("internal", "/hq/chronology?disaster=all", "road"),  # any staff reads the chronology
        ("internal", "/docs", "hq"),
        ("public", "/ogc?f=html", None),
        ("public", "/ogc/collections?f=html", None),
        ("public", "/ogc/collections/shelters/items?f=html&limit=5", None),
        ("public", "/ogc/collections/shelters/items?f=html&limit=5&lang=en", None),
        ("public", "/ogc/collections/shelters/items/{item}?f=html", None),
        ("public", "/ogc/api?f=html", None),
    ]


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_staff_pages_on_the_base_layout_at_phone_and_desktop_sizes(
    servers,  # noqa: F811
    browser,  # noqa: F811
    demo_users,  # noqa: F811
    app_engine,
    size,
    tmp_path,
):
    """Each page: the base layout (skip link, one h1, <main>), the language switch, no script error,
    nothing wider than the screen but the tables and Swagger UI, which scroll inside themselves."""
    with transaction(app_engine, ["admin"]) as conn:
        area = conn.execute(
            text("SELECT community_area FROM restricted.person_needing_help WHERE consent LIMIT 1")
        ).scalar_one()
    shots = os.environ.get("GISAPP_SCREENSHOTS")
    with urllib.request.urlopen(servers["public"].url + "/ogc/collections/shelters/items?limit=1") as r:
        item = json.loads(r.read())["features"][0]["id"]
    for instance, path, who in _pages(area):
        path = path.replace("{item}", str(item))
        v = Visit(browser, viewport=size, is_mobile=size is PHONE, has_touch=size is PHONE)
        try:
            base = servers[instance].url
            if who:
                v.page.goto(f"{base}/login?next={quote(path, safe='')}")
                v.page.fill("#username", who)
                v.page.fill("#password", demo_users[who])
                v.page.click("button[type=submit]")
                v.page.wait_for_url(lambda url, p=path: urlsplit(url).path == urlsplit(p).path)
            else:
                v.page.goto(base + path)
            v.page.wait_for_load_state("networkidle")
            if path == "/docs" or path.startswith("/ogc/api"):
                v.page.wait_for_selector(".opblock", timeout=20_000)
            assert v.page.locator("a.gisapp-skip-link").count() == 1, path
            assert v.page.locator("h1").first.get_attribute("id") == "gisapp-title", path
            assert v.page.locator("main#gisapp-main").count() == 1, path
            assert v.page.locator(".gisapp-lang-link").count() >= 1, path
            wide = v.page.evaluate("() => document.documentElement.scrollWidth")
            over = v.page.evaluate(
                "w => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w"
                " && !e.closest('[role=region]')).slice(0, 5).map(e => e.tagName + '.' + e.className)",
                size["width"],
            )
            assert wide <= size["width"], (path, wide, over)
            if shots:
                name = f"{size['width']}-{instance}-{who or 'anon'}-{path.strip('/').replace('/', '_')}"
                v.page.screenshot(path=f"{shots}/{name[:120]}.png", full_page=True)
            assert_accessible(v.page, f"{path} at {size['width']} px")
            if v.page.locator(".opblock").count():  # Swagger UI: one operation opened too
                v.page.locator(".opblock-summary-control").nth(2).click()
                v.page.wait_for_selector(".opblock-body")
                assert_accessible(v.page, f"{path} at {size['width']} px, an operation open")
            assert v.errors == [], (path, v.errors)
        finally:
            v.close()
