"""The citizen's disaster-day page (/) and its JSON (/api/public/here) against real servers, PostGIS and
Chromium (every non-localhost request blocked), with a hand-made fixture: four shelters of our own
opened for a disaster of our own around a point P, a 町丁目 containing P with a 避難指示 (level 4,
土砂災害), hazard areas at P, a road closure and a public 通行止め incident. Other modules' rows may share
the database: the assertions filter to ours.

Which test covers which finding of issue 13 (each fails on the old folium page, which had none of it):
- no answer to the three questions / "5 件のレイヤー" header → test_the_first_screen_answers_the_three_questions,
  test_the_words_are_the_residents
- no list view, 2 of 6 shelters outside the first view → test_the_list_is_nearest_first_*,
  test_the_map_first_view_fits_every_open_shelter_and_badges_do_not_overlap
- 593 px tooltip on a 390 px phone → test_a_shelter_popup_fits_the_phone
- a 混雑 badge 75 % under a 空き badge → test_the_map_first_view_fits_every_open_shelter_and_badges_do_not_overlap
- a 503 looks like "no shelter open" → test_a_failed_load_is_not_the_empty_state, test_a_page_without_database_*
- a public 通行止め reads 未対応; closures drawn nowhere → test_the_words_are_the_residents, test_api_*
- the offline notice covers controls; attribution over the scale → test_the_map_controls_do_not_cover_each_other
"""

from __future__ import annotations

import math

import httpx2 as httpx
import pytest
from sqlalchemy import text

from frontend.catalogue import catalogue
from gisapp.app import create_app
from gisapp.db import transaction
from gisapp.ops import disaster_close, disasters, evac_levels, incidents
from gisapp.ops import shelters as shelter_ops
from gisapp.pages_citizen import SYMBOLS_CSS, symbols_stylesheet
from layers import closures
from layers.demo_sql import UPSERT_LAYER
from tests import evac_support as evac
from tests.support import wait_until
from tests.test_pages_browser import Server, Visit, browser, demo_users, servers  # noqa: F401

pytestmark = pytest.mark.browser

P = (35.452, 139.262)  # (lat, lon): away from the demo's shelters
AREA = "CT-KITA"
# name, (north m, east m) from P, capacity, occupancy, suits landslide
SHELTERS = [
    ("テスト市民 第三避難所", (0, 900), 100, 100, True),  # 900 m: full
    ("テスト市民 第一避難所", (200, 0), 100, 10, False),  # 200 m: vacant, not for landslides
    ("テスト市民 第四避難所", (-1500, 0), None, 3, True),  # 1500 m: capacity unknown
    ("テスト市民 第二避難所", (210, 8), 100, 80, True),  # ~210 m, right beside the first: crowded
]
EXPECTED_ORDER = [
    "テスト市民 第一避難所",
    "テスト市民 第二避難所",
    "テスト市民 第三避難所",
    "テスト市民 第四避難所",
]


def _offset(north_m: float, east_m: float) -> tuple[float, float]:
    lat = P[0] + north_m / 111_320
    lon = P[1] + east_m / (111_320 * math.cos(math.radians(P[0])))
    return lat, lon


def _haversine(a: tuple[float, float], b: tuple[float, float]) -> float:
    (la1, lo1), (la2, lo2) = (tuple(map(math.radians, x)) for x in (a, b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def _square(lat: float, lon: float, half: float) -> str:
    a, b, c, d = lon - half, lon + half, lat - half, lat + half
    return f"MULTIPOLYGON((({a} {c}, {b} {c}, {b} {d}, {a} {d}, {a} {c})))"


@pytest.fixture(scope="module")
def fixture(servers, owner_engine, app_engine):  # noqa: F811 - servers loads the demo
    with owner_engine.begin() as conn:
        # Layers of our own (public): the demo's are replaced by every demo load, and an opened shelter
        # may not be deleted (migration 0020).
        dept = conn.execute(text("SELECT id FROM core.department ORDER BY id LIMIT 1")).scalar_one()
        layer = dict(conn.execute(text("SELECT slug, id FROM gis.layer")).all())
        for slug, kind, geometry in (
            ("citizen-test-shelters", "shelter", "Point"),
            ("citizen-test-hazards", "hazard_area", "MultiPolygon"),
        ):
            layer[slug] = conn.execute(
                UPSERT_LAYER,
                {"slug": slug, "title_ja": f"テスト市民 {kind}", "title_en": f"Citizen test {kind}", "dept": dept,
                 "visibility": "public", "kind": kind, "geometry_type": geometry, "source": "test",
                 "licence": "test"},
            ).scalar_one()  # fmt: skip
        conn.execute(
            text("DELETE FROM gis.hazard_area WHERE layer_id = :l"), {"l": layer["citizen-test-hazards"]}
        )
        ids = []
        for i, (name, (n, e), capacity, _occ, landslide) in enumerate(SHELTERS):
            lat, lon = _offset(n, e)
            ids.append(
                conn.execute(
                    text(
                        """INSERT INTO gis.shelter (layer_id, code, name, address, capacity, suits_landslide,
                                  suits_flood, geom)
                           VALUES (:l, :code, :name, '伊勢原市テスト町', :cap, :ls, true,
                                   ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
                           ON CONFLICT (layer_id, code) DO UPDATE SET name = EXCLUDED.name RETURNING id"""
                    ),
                    {"l": layer["citizen-test-shelters"], "code": f"CT-{i}", "name": name, "cap": capacity, "ls": landslide,
                     "lon": lon, "lat": lat},
                ).scalar_one()
            )  # fmt: skip
        conn.execute(
            text(
                "INSERT INTO ops.evac_area (code, name, geom) VALUES (:c, 'テスト北町', ST_GeomFromText(:w, 4326))"
                " ON CONFLICT (code) DO NOTHING"
            ),
            {"c": AREA, "w": _square(*P, 0.004)},
        )
        conn.execute(
            text(
                """INSERT INTO gis.hazard_area (layer_id, hazard_type, depth_rank, name, geom) VALUES
                   (:ls, 'landslide_warning', NULL, 'テスト沢', ST_GeomFromText(:w, 4326)),
                   (:fl, 'flood', '0.5-3.0m', 'テスト川', ST_GeomFromText(:w, 4326))"""
            ),
            {
                "ls": layer["citizen-test-hazards"],
                "fl": layer["citizen-test-hazards"],
                "w": _square(*P, 0.001),
            },
        )
        segment = conn.execute(
            text("SELECT id FROM gis.road_segment WHERE layer_id = :l ORDER BY id LIMIT 1"),
            {"l": layer["road-ledger"]},
        ).scalar_one()
    with transaction(owner_engine, ["admin"]) as conn:
        disaster = disasters.open_disaster(conn, "テスト市民台風", "test")["id"]
        for shelter_id in ids:
            shelter_ops.open_shelter(conn, disaster, shelter_id, "テスト責任者", "test")
        for shelter_id, (_n, _o, _c, occupancy, _l) in zip(ids, SHELTERS, strict=True):
            conn.execute(
                text(
                    "UPDATE ops.shelter_opening SET occupancy = :o, last_event_at = now() - make_interval(mins => :m)"
                    " WHERE disaster_id = :d AND shelter_id = :s"
                ),
                {"o": occupancy, "d": disaster, "s": shelter_id, "m": 120 if occupancy == 3 else 1},
            )
        closure = closures.close_road(conn, ["admin"], "test", segment, "冠水（テスト）")["id"]
        lat, lon = _offset(100, 100)
        incident = incidents.create_incident(
            conn, disaster, incidents.NewIncident(category="road_closure", title="テスト通行止め", lon=lon, lat=lat),
            "test",
        )["id"]  # fmt: skip
    order = evac.issue(owner_engine, 4, [AREA], hazard="landslide")
    yield {"shelters": ids, "disaster": disaster, "closure": closure, "incident": incident, "order": order}
    evac.cancel(owner_engine, order)
    with transaction(owner_engine, ["admin"]) as conn:
        closures.reopen_road(conn, ["admin"], "test", closure)
        current = incidents.get_incident(conn, incident)
        incidents.update_incident(conn, incident, current["version"], {"status": "done"}, "test")
        # Closing a disaster with people in its shelters needs a word on what happens to them.
        disaster_close.close_disaster(conn, disaster, "test", shelters="checkout", reason="テスト終了")


def _ours(shelters: list[dict]) -> list[str]:
    return [s["name"] for s in shelters if s["name"].startswith("テスト市民")]


def _here(base: str, **params) -> httpx.Response:
    return httpx.get(f"{base}/api/public/here", params=params, timeout=20)


# ------------------------------------------------------------------------------------------ the API
def test_api_answers_for_a_position_nearest_first_with_hazards_closures_and_the_order(servers, fixture):  # noqa: F811
    for name in ("internal", "public"):
        r = _here(servers[name].url, lat=P[0], lon=P[1])
        assert r.status_code == 200, r.text
        assert "no-store" in r.headers["cache-control"]  # a position is personal: never kept
        answer = r.json()
        assert answer["place"]["source"] == "position" and answer["place"]["area"] == AREA
        assert _ours(answer["shelters"]) == EXPECTED_ORDER
        distances = [s["distance_m"] for s in answer["shelters"]]
        assert distances == sorted(distances)
        for s in answer["shelters"]:
            if s["name"].startswith("テスト市民"):
                want = _haversine(P, (s["lat"], s["lon"]))
                assert abs(s["distance_m"] - want) <= max(2, want * 0.005), s
                assert abs(s["walk_m"] - want * 1.3) <= 10
                assert abs(s["walk_min"] - math.ceil(want * 1.3 / 80)) <= 1
        by_name = {s["name"]: s for s in answer["shelters"]}
        assert by_name["テスト市民 第一避難所"]["suits"] is False  # landslide order, not a landslide shelter
        assert by_name["テスト市民 第三避難所"]["suits"] is True
        assert by_name["テスト市民 第三避難所"]["level"] == "full"
        assert by_name["テスト市民 第四避難所"]["stale"] is True
        assert [o["level"] for o in answer["evacuation"]["orders"]] == [4]
        assert answer["evacuation"]["orders"][0]["id"] == fixture["order"]
        types = {h["type"]: h for h in answer["hazard_areas"]}
        assert "landslide_warning" in types and types["flood"]["depth"] == "0.5-3.0m"
        assert fixture["closure"] in [c["id"] for c in answer["closures"]]
        [mine] = [i for i in answer["incidents"] if i["id"] == fixture["incident"]]
        assert mine["road_closure"] and mine["state"] == "closed" and mine["status"] == "unhandled"
        assert "テスト市民台風" in [d["name"] for d in answer["disasters"]]


def test_api_by_area_is_shared_and_bad_input_names_the_field(servers, fixture):  # noqa: F811
    base = servers["public"].url
    r = _here(base, area=AREA)
    assert r.status_code == 200 and r.headers["cache-control"].startswith("public")
    assert r.json()["place"]["source"] == "area" and _ours(r.json()["shelters"])[0] == EXPECTED_ORDER[0]
    # no place: every order in force, shelters by name, no hazard judged
    r = _here(base)
    assert r.json()["place"] is None and fixture["order"] in [
        o["id"] for o in r.json()["evacuation"]["orders"]
    ]
    assert r.json()["hazard_areas"] == []
    for params, field in (
        ({"lat": P[0]}, "lon"),
        ({"lat": 100, "lon": 139}, "lat"),
        ({"lat": 35, "lon": 200}, "lon"),
        ({"lat": "nan", "lon": 139}, "lat"),
    ):
        r = _here(base, **params)
        assert r.status_code == 422, (params, r.text)
        error = r.json()["error"]
        assert error["field"] == field and error["message_ja"] and error["message_en"]
    r = _here(base, area="NOPE")
    assert r.status_code == 404 and r.json()["error"]["field"] == "area"
    # far from any order: nothing in force here, the orders elsewhere in the city said
    r = _here(base, lat=35.30, lon=139.40)
    evacuation = r.json()["evacuation"]
    assert evacuation["orders"] == [] and fixture["order"] in [o["id"] for o in evacuation["elsewhere"]]


def test_the_public_role_reads_the_new_views_only(public_engine):
    with public_engine.connect() as conn:
        conn.execute(text("SELECT count(*) FROM pub.road_closure")).scalar_one()
        conn.execute(text("SELECT count(*) FROM pub.disaster")).scalar_one()
    with public_engine.connect() as conn, pytest.raises(Exception, match="permission denied"):
        conn.execute(text("SELECT count(*) FROM gis.road_closure")).scalar_one()


def test_the_symbols_stylesheet_is_current():
    assert SYMBOLS_CSS.read_text(encoding="utf-8") == symbols_stylesheet(), (
        "run python -m gisapp.pages_citizen"
    )


def test_the_easy_and_english_level_words_match_the_guideline():
    for lang in ("ja", "en"):
        levels = catalogue(lang)["citizen"]["level"]
        for n, level in evac_levels.LEVELS.items():
            assert levels[str(n)]["name"] == getattr(level, f"name_{lang}")
            assert levels[str(n)]["action"] == getattr(level, f"action_{lang}")


# ------------------------------------------------------------------------------------------ the page
def _phone(browser, **options):  # noqa: F811
    return Visit(
        browser,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        locale="ja-JP",
        timezone_id="Asia/Tokyo",
        **options,
    )


def _until(page, expression: str, seconds: float = 10) -> None:
    """Poll an expression (wait_for_function would eval a string, which the page's CSP forbids)."""
    wait_until(lambda: page.evaluate(f"() => {expression}"), seconds)


def _page_order(page) -> list[str]:
    names = page.locator(".citizen-shelter .citizen-shelter-name").all_inner_texts()
    return [n for n in names if n.startswith("テスト市民")]


def test_the_first_screen_answers_the_three_questions(servers, browser, fixture):  # noqa: F811
    v = _phone(browser)
    try:
        v.page.goto(servers["public"].url + f"/?area={AREA}")
        page = v.page
        order = page.locator(f".citizen-order[data-order-id='{fixture['order']}']")
        hazard = page.locator(".citizen-hazard-item[data-type='landslide_warning']")
        shelter = page.locator(".citizen-shelter").first
        for thing in (order, hazard, shelter):
            box = thing.bounding_box()
            assert box is not None and box["y"] < 844, thing
        text_of_order = order.inner_text()
        assert "警戒レベル4" in text_of_order and "避難指示" in text_of_order
        assert "危険な場所から全員避難してください。" in text_of_order
        assert "浸水" in page.locator("#citizen-hazard").inner_text()
        assert _page_order(page) == EXPECTED_ORDER
        first = page.locator(".citizen-shelter", has_text=EXPECTED_ORDER[0])
        assert "空きあり" in first.inner_text() and "徒歩" in first.inner_text()
        assert "土砂災害には適していません" in first.inner_text()
        assert (
            "しばらく更新がありません"
            in page.locator(".citizen-shelter", has_text=EXPECTED_ORDER[3]).inner_text()
        )
        page.screenshot(path="/tmp/cit/phone-area.png", full_page=True)
        assert v.blocked == [] and v.errors == []
    finally:
        v.context.close()


def test_the_list_is_nearest_first_from_the_phones_position(servers, browser, fixture):  # noqa: F811
    v = _phone(browser, geolocation={"latitude": P[0], "longitude": P[1]}, permissions=["geolocation"])
    try:
        page = v.page
        page.goto(servers["public"].url + "/")
        # no place yet: by name; the permission is granted, so the page asks for the position itself
        page.wait_for_selector("#citizen-place[data-source='position']", timeout=20_000)
        assert _page_order(page) == EXPECTED_ORDER
        assert page.locator("#citizen-evac[data-state='order']").count() == 1
        distances = [int(x) for x in page.locator(".citizen-shelter").evaluate_all(
            "items => items.map(i => i.dataset.distance)")]  # fmt: skip
        assert distances == sorted(distances)
        assert "現在地付近" in page.locator("#citizen-place-name").inner_text()
        assert v.errors == []
    finally:
        v.context.close()


def test_a_denied_position_offers_the_area_list(servers, browser, fixture):  # noqa: F811
    v = _phone(browser)  # no permission granted
    try:
        page = v.page
        page.goto(servers["public"].url + "/")
        page.locator("#citizen-locate").click()
        _until(page, "document.activeElement && document.activeElement.id === 'citizen-area'")
        page.select_option("#citizen-area", AREA)
        page.locator(".citizen-area-form button[type=submit]").click()
        page.wait_for_url(f"**/?area={AREA}")
        assert _page_order(page) == EXPECTED_ORDER
    finally:
        v.context.close()


def test_the_no_script_page_answers_the_same(servers, browser, fixture):  # noqa: F811
    api = _here(servers["public"].url, area=AREA).json()
    v = _phone(browser, java_script_enabled=False)
    try:
        page = v.page
        page.goto(servers["public"].url + "/")
        page.locator(".citizen-place-choose summary").click()
        page.select_option("#citizen-area", AREA)
        page.locator(".citizen-area-form button[type=submit]").click()
        page.wait_for_url(f"**/?area={AREA}")
        ids = [
            int(x)
            for x in page.locator(".citizen-shelter").evaluate_all("i => i.map(x => x.dataset.shelterId)")
        ]
        assert ids == [s["id"] for s in api["shelters"]]
        assert page.locator(f".citizen-order[data-order-id='{fixture['order']}']").count() == 1
        assert page.locator(".citizen-hazard-item").count() == len(api["hazard_areas"])
        assert (
            page.locator(f".citizen-incident[data-incident-id='{fixture['incident']}']")
            .inner_text()
            .count("通行止め")
            >= 1
        )
        # script-only controls stay hidden, not dead
        assert not page.locator("#citizen-locate").is_visible()
        assert not page.locator(".citizen-on-map").first.is_visible()
    finally:
        v.context.close()


def test_a_failed_load_is_not_the_empty_state(servers, browser, fixture):  # noqa: F811
    v = _phone(browser, service_workers="block")
    try:
        page = v.page
        page.goto(servers["public"].url + f"/?area={AREA}")
        _until(page, "!!(window.gisapp && window.gisapp.refresh)")
        page.route("**/api/public/here*", lambda route: route.fulfill(status=503, body="{}",
                   content_type="application/json"))  # fmt: skip
        page.evaluate("window.gisapp.refresh()")
        page.wait_for_selector("#citizen-status[data-kind='error']:not([hidden])")
        status = page.locator("#citizen-status").inner_text()
        assert "開設中の避難所はありません" not in page.locator("main").inner_text()
        assert "混み合っています" in status and "秒後にもう一度読み込みます" in status
        assert page.locator("#citizen-shelter-list[data-state='list'] .citizen-shelter").count() >= 4
        # a real empty answer is said as such
        empty = {**_here(servers["public"].url, area=AREA).json(), "shelters": []}
        page.unroute("**/api/public/here*")
        page.route("**/api/public/here*", lambda route: route.fulfill(json=empty))
        page.evaluate("window.gisapp.refresh()")
        page.wait_for_selector("#citizen-shelter-list[data-state='empty']")
        assert page.locator("#citizen-shelters-none").inner_text() == "開設中の避難所はありません。"
        assert page.locator("#citizen-status").is_hidden()
    finally:
        v.context.close()


def test_a_page_without_database_says_it_failed_not_empty(settings, browser):  # noqa: F811
    dead = settings.model_copy(
        update={"database_url": "postgresql+psycopg://nobody:x@127.0.0.1:9/none", "response_cache": False}
    )
    with Server(create_app(dead)) as server:
        r = httpx.get(server.url + "/", timeout=30)
        assert r.status_code == 503 and "no-store" in r.headers["cache-control"]
        v = _phone(browser, service_workers="block")
        try:
            v.page.goto(server.url + "/")
            assert v.page.locator("#citizen-shelter-list[data-state='failed']").count() == 1
            assert "開設中の避難所はありません" not in v.page.locator("main").inner_text()
            assert "読み込めませんでした" in v.page.locator("#citizen-shelters").inner_text()
        finally:
            v.context.close()


def test_the_offline_copy_is_shown_when_the_server_is_unreachable(servers, browser, fixture):  # noqa: F811
    v = _phone(browser)
    try:
        page = v.page
        url = servers["public"].url + f"/?area={AREA}"
        page.goto(url)
        _until(page, "!!(navigator.serviceWorker && navigator.serviceWorker.controller)", 20)
        page.reload()  # through the service worker now: the page is kept
        _until(page, "!!(window.gisapp && window.gisapp.answer)")
        page.evaluate("window.gisapp.refresh()")  # and its JSON
        page.wait_for_selector("body[data-citizen='ready']")
        v.context.set_offline(True)
        page.reload()
        assert _page_order(page) == EXPECTED_ORDER
        assert page.locator("body").get_attribute("data-offline-copy") == "true"  # the service worker's copy
        page.wait_for_selector("#citizen-status:not([hidden])", timeout=20_000)
        assert "時点の情報を表示しています" in page.locator("#citizen-status").inner_text()
        assert page.locator(f".citizen-order[data-order-id='{fixture['order']}']").count() == 1
    finally:
        v.context.close()


@pytest.mark.parametrize("width", [320, 390])
def test_nothing_overflows_on_a_narrow_phone(servers, browser, fixture, width):  # noqa: F811
    v = Visit(browser, viewport={"width": width, "height": 700}, is_mobile=True, has_touch=True)
    try:
        page = v.page
        for path in (f"/?area={AREA}", f"/?area={AREA}&lang=en", f"/?area={AREA}&lang=easy"):
            page.goto(servers["public"].url + path)
            page.locator("#citizen-map-toggle").click()
            page.wait_for_selector(".citizen-shelter-marker", timeout=20_000)
            assert page.evaluate("document.scrollingElement.scrollWidth") <= width, path
            # every control a thumb presses is at least 44 px
            small = page.evaluate(
                """() => [...document.querySelectorAll('main button, main summary, main select, header a')]
                      .filter(e => e.offsetParent !== null)
                      .map(e => [e.textContent.trim().slice(0, 20), e.getBoundingClientRect()])
                      .filter(([, r]) => r.height < 44 || r.width < 44).map(([t]) => t)"""
            )
            assert small == [], (path, small)
        page.screenshot(path=f"/tmp/cit/phone-{width}-map.png", full_page=True)
    finally:
        v.context.close()


def _open_map(page):
    page.locator("#citizen-map-toggle").click()
    page.wait_for_selector(".citizen-shelter-marker", timeout=20_000)
    page.wait_for_timeout(300)  # fitBounds, then the spread


def test_the_map_first_view_fits_every_open_shelter_and_badges_do_not_overlap(servers, browser, fixture):  # noqa: F811
    v = _phone(browser)
    try:
        page = v.page
        page.goto(servers["public"].url + f"/?area={AREA}")
        _open_map(page)
        count = len(_here(servers["public"].url, area=AREA).json()["shelters"])
        boxes = page.locator(".citizen-shelter-marker").evaluate_all(
            "ms => ms.map(m => { const r = m.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })"
        )
        assert len(boxes) == count
        frame = page.locator("#citizen-map").evaluate(
            "m => { const r = m.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }"
        )
        for left, top, right, bottom in boxes:
            assert (
                left >= frame[0] - 1
                and right <= frame[2] + 1
                and top >= frame[1] - 1
                and bottom <= frame[3] + 1
            )
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                overlap_w = min(a[2], b[2]) - max(a[0], b[0])
                overlap_h = min(a[3], b[3]) - max(a[1], b[1])
                assert overlap_w <= 0 or overlap_h <= 0, (a, b)
        # the closed road is drawn
        page.wait_for_selector("path.citizen-closure-line", state="attached", timeout=10_000)
    finally:
        v.context.close()


def test_a_shelter_popup_fits_the_phone(servers, browser, fixture):  # noqa: F811
    v = _phone(browser)
    try:
        page = v.page
        page.goto(servers["public"].url + f"/?area={AREA}")
        button = page.locator(".citizen-shelter", has_text=EXPECTED_ORDER[2]).locator(".citizen-on-map")
        button.click()
        popup = page.locator(".leaflet-popup-content-wrapper")
        popup.wait_for(timeout=20_000)
        box = popup.bounding_box()
        assert box["width"] <= 320 and box["x"] >= 0 and box["x"] + box["width"] <= 390
        words = popup.inner_text()
        assert "定員 100 人" in words and "満員" in words  # nothing cut off
        assert page.evaluate("document.activeElement.dataset.shelterId") == str(fixture["shelters"][0]) or (
            page.evaluate("document.activeElement.classList.contains('citizen-shelter-marker')")
        )
    finally:
        v.context.close()


@pytest.mark.parametrize("width", [320, 390])
def test_the_map_controls_do_not_cover_each_other(servers, browser, fixture, width):  # noqa: F811
    v = Visit(browser, viewport={"width": width, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = v.page
        page.goto(servers["offline"].url + f"/?area={AREA}")
        _open_map(page)

        def box(selector):
            b = page.locator(selector).first.bounding_box()
            assert b is not None, selector
            return b

        def apart(a, b):
            return (
                a["x"] + a["width"] <= b["x"]
                or b["x"] + b["width"] <= a["x"]
                or (a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])
            )

        controls = [".leaflet-control-zoom", ".leaflet-control-scale", ".leaflet-control-attribution",
                    ".citizen-map .gisapp-legend", "#gisapp-basemap-notice"]  # fmt: skip
        boxes = {c: box(c) for c in controls}
        for i, a in enumerate(controls):
            for b in controls[i + 1 :]:
                assert apart(boxes[a], boxes[b]), (a, b)
        legend = boxes[".citizen-map .gisapp-legend"]
        assert legend["width"] * legend["height"] < 0.1 * width * 844  # folded: small
        zoom = page.locator(".leaflet-control-zoom-in").bounding_box()
        assert zoom["width"] >= 44 and zoom["height"] >= 44
    finally:
        v.context.close()


def test_the_words_are_the_residents(servers, browser, fixture):  # noqa: F811
    v = _phone(browser)
    try:
        page = v.page
        for path, title in (("/", "伊勢原市 防災情報"), ("/?lang=en", "Isehara City disaster information"),
                            ("/?lang=easy", "伊勢原市 ぼうさい じょうほう")):  # fmt: skip
            page.goto(servers["public"].url + path)
            assert page.locator("h1").inner_text() == title
            body = page.locator("body").inner_text()
            for office_word in ("公開型GIS", "件のレイヤー", "事案（本部発表）", "道路台帳", "未対応"):
                assert office_word not in body, (path, office_word)
        page.goto(servers["public"].url + "/")
        incident = page.locator(f".citizen-incident[data-incident-id='{fixture['incident']}']")
        assert "通行止め" in incident.inner_text()
        assert page.locator(f".citizen-closure[data-closure-id='{fixture['closure']}']").count() == 1
        page.goto(servers["public"].url + f"/?area={AREA}&lang=easy")
        assert "みんな にげる" in page.locator(".citizen-order").first.inner_text()
        assert page.locator("html").get_attribute("lang") == "ja"
    finally:
        v.context.close()


def test_desktop_shows_list_and_map_side_by_side(servers, browser, fixture):  # noqa: F811
    v = Visit(browser, viewport={"width": 1280, "height": 800})
    try:
        page = v.page
        page.goto(servers["internal"].url + f"/?area={AREA}")
        page.wait_for_selector(".citizen-shelter-marker", timeout=20_000)  # shown at once on a desktop
        map_box = page.locator("#citizen-map").bounding_box()
        list_box = page.locator("#citizen-shelter-list").bounding_box()
        assert map_box["x"] > list_box["x"] + list_box["width"] - 1
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 1280
        page.screenshot(path="/tmp/cit/desktop.png")
        assert v.blocked == [] or all("cyberjapandata" in u for u in v.blocked)
    finally:
        v.context.close()


def test_a_refresh_keeps_the_keyboard_where_it_was(servers, browser, fixture):  # noqa: F811
    v = _phone(browser, service_workers="block")
    try:
        page = v.page
        page.goto(servers["public"].url + f"/?area={AREA}")
        button = page.locator(".citizen-shelter", has_text=EXPECTED_ORDER[1]).locator(".citizen-on-map")
        button.focus()
        page.evaluate("window.gisapp.refresh()")
        page.wait_for_selector("body[data-citizen='ready']")
        wanted = str(fixture["shelters"][3])  # 第二避難所 (the fourth row inserted)
        assert page.evaluate("document.activeElement.dataset.shelterId") == wanted
        assert page.evaluate("document.activeElement.classList.contains('citizen-on-map')")
    finally:
        v.context.close()
