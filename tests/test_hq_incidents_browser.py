"""The HQ map's incidents in headless Chromium against real uvicorn servers with the demo data: markers
coloured (and lettered) by status, the counts panel against the API, filters, the incident panel with
status changes (If-Match; a stale version gets the bilingual notice), dispatch (a held unit names its
incident), a second operator seeing changes arrive over the event stream without reload or polling,
and an XSS canary from a citizen report and an incident title rendered on the HQ and citizen maps."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx2 as httpx
import pytest
from sqlalchemy import text

from gisapp.app import create_app
from sensors.registry import DeviceKind, DeviceSpec
from tests import test_pages_browser as pages_browser
from tests.support import register_devices
from tests.test_pages_browser import Server

# The browser fixtures of the page tests (Chromium, the demo data, localhost-only contexts).
browser = pages_browser.browser
demo_users = pages_browser.demo_users
visit = pages_browser.visit

pytestmark = pytest.mark.browser

SPOT = (139.3133, 35.3967)  # 伊勢原市役所, among the demo roads
XSS_TITLE = '<img src=x onerror="window.__xss=1">'
XSS_SCRIPT = "</script><script>window.__xss=2</script>"
# The marker's colour per status (frontend/symbols.py); the letter is the non-colour cue.
BADGE = {
    "unhandled": ("rgb(179, 38, 30)", "未"),
    "in_progress": ("rgb(242, 183, 5)", "中"),
    "done": ("rgb(30, 123, 52)", "済"),
    "cancelled": ("rgb(95, 99, 104)", "取"),
}


@pytest.fixture(scope="module")
def servers(settings, demo_users) -> Iterator[dict[str, Server]]:
    with Server(create_app(settings)) as internal, Server(create_app(settings, public=True)) as public:
        yield {"internal": internal, "public": public}


@pytest.fixture(scope="module")
def api(servers, demo_users) -> Iterator[httpx.Client]:
    """The demo HQ operator over real HTTP (another operator, as far as the browser knows)."""
    with httpx.Client(base_url=servers["internal"].url, timeout=20) as c:
        r = c.post("/api/auth/login", json={"username": "hq", "password": demo_users["hq"]})
        assert r.status_code == 200, r.text
        c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        yield c


@pytest.fixture(scope="module")
def units(settings, app_engine) -> list[str]:
    """Three radio units a few metres from the incidents, so they lead the recommendations."""
    specs = [DeviceSpec(f"HQB-U{i}", DeviceKind.radio_unit, f"本部試験隊{i}") for i in range(3)]
    ids = sorted(register_devices(settings, app_engine, specs))
    with app_engine.begin() as conn:
        for i, dev in enumerate(ids):
            conn.execute(
                text(
                    "INSERT INTO sensor.radio_position (device_id, device_ts, geom) VALUES "
                    "(:d, now() - interval '30 seconds', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
                    " ON CONFLICT DO NOTHING"
                ),
                {"d": dev, "lon": SPOT[0] + 0.0003 * (i + 1), "lat": SPOT[1] + 0.0002},
            )
    return ids


@pytest.fixture(scope="module")
def disaster(api) -> int:
    r = api.post("/api/disasters", json={"name": "令和8年台風第10号（本部地図試験）"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def incident(api, disaster: int, n: int, category: str = "fallen_tree", status: str | None = None, **over):
    body = {
        "category": category,
        "title": f"本部地図試験 {n}",
        "description": f"説明 {n}",
        "address": f"伊勢原市田中{n}",
        "lon": SPOT[0] + 0.0015 * n,
        "lat": SPOT[1] - 0.001 * (n % 3),
        "priority": 1 + n % 5,
        **over,
    }
    r = api.post(f"/api/disasters/{disaster}/incidents", json=body)
    assert r.status_code == 201, r.text
    inc = r.json()
    if status:
        inc = patch_status(api, inc, status)
    return inc


def patch_status(api, inc: dict, status: str) -> dict:
    r = api.patch(
        f"/api/incidents/{inc['id']}", json={"status": status}, headers={"If-Match": f'"{inc["version"]}"'}
    )
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def made(api, disaster) -> dict[str, dict]:
    return {
        "a": incident(api, disaster, 1),
        "b": incident(api, disaster, 2, category="flooding"),
        "c": incident(api, disaster, 3, status="in_progress"),
        "d": incident(api, disaster, 4, category="flooding", status="done"),
        "e": incident(api, disaster, 5, status="cancelled"),
    }


def open_hq(visit, servers, demo_users, lang: str = ""):
    v = visit()
    v.dialogs = []
    v.page.on("dialog", lambda d: (v.dialogs.append(d.message), d.dismiss()))
    v.login(servers["internal"].url, "/hq" + lang, "hq", demo_users["hq"])
    v.page.wait_for_selector("#gisapp-incidents[data-state='ready']", timeout=20_000)
    v.page.wait_for_selector("#gisapp-status[data-state='live']", timeout=20_000)
    return v


def shown_statuses(page) -> dict[int, str]:
    return {
        int(i): s
        for i, s in page.eval_on_selector_all(
            ".gisapp-incident[data-incident-id]",
            "els => els.map(e => [e.dataset.incidentId, e.dataset.status])",
        )
    }


def panel_counts(page) -> dict[str, int]:
    return {s: int(page.get_attribute(f"#gisapp-count-{s}", "data-n")) for s in BADGE}


def api_statuses(api, disaster: int, **params) -> dict[int, str]:
    r = api.get(f"/api/disasters/{disaster}/incidents", params=params)
    assert r.status_code == 200, r.text
    return {f["id"]: f["properties"]["status"] for f in r.json()["features"]}


def wait_status(page, incident_id: int, status: str) -> None:
    page.wait_for_selector(
        f".gisapp-incident[data-incident-id='{incident_id}'][data-status='{status}']", timeout=15_000
    )


def test_markers_counts_and_filters_match_the_api(visit, servers, demo_users, api, disaster, made):
    v = open_hq(visit, servers, demo_users)
    page = v.page
    assert page.get_attribute("#gisapp-incidents", "data-disaster-id") == str(disaster)  # latest open
    expected = api_statuses(api, disaster)
    assert shown_statuses(page) == expected
    # Colour and a letter per status, for each status present.
    for inc in made.values():
        badge = page.locator(f".gisapp-incident[data-incident-id='{inc['id']}'] .gisapp-letter-marker-body")
        colour, letter = BADGE[expected[inc["id"]]]
        assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == colour
        assert badge.inner_text() == letter
    counts = api.get(f"/api/disasters/{disaster}/counts").json()
    assert panel_counts(page) == counts["total"]
    # Text on the panel and in the badges keeps 4.5:1 (JIS X 8341-3 AA).
    selectors = (
        "#gisapp-incidents h2, .gisapp-inc-count, .gisapp-inc-list-item span, label,"
        " .gisapp-incident .gisapp-letter-marker-body"
    )
    assert pages_browser.low_contrast(page, selectors) == []
    assert page.locator("#gisapp-count-unhandled").inner_text() == f"未対応 {counts['total']['unhandled']}"
    for row in counts["by_category"]:
        cells = page.locator(f"#gisapp-incident-counts tr[data-category='{row['category']}'] td[data-status]")
        assert [int(c) for c in cells.all_inner_texts()] == [row[s] for s in BADGE]

    # Filter by status: only 未対応 left, markers and counts alike.
    loads = int(page.get_attribute("#gisapp-incidents", "data-loads"))
    for status in ("in_progress", "done", "cancelled"):
        page.uncheck(f"#gisapp-filter-status-{status}")
    # Predicates are functions, not expressions: Playwright polls an expression with eval(), which the
    # pages' CSP (script-src 'self') forbids.
    page.wait_for_function(
        f"() => +document.querySelector('#gisapp-incidents').dataset.loads >= {loads + 3}", timeout=15_000
    )
    unhandled = api_statuses(api, disaster, status="unhandled")
    assert shown_statuses(page) == unhandled and set(unhandled.values()) == {"unhandled"}
    assert panel_counts(page) == {**dict.fromkeys(BADGE, 0), "unhandled": len(unhandled)}

    # Category on top: 冠水・浸水 only.
    loads = int(page.get_attribute("#gisapp-incidents", "data-loads"))
    page.select_option("#gisapp-filter-category", "flooding")
    page.wait_for_function(f"() => +document.querySelector('#gisapp-incidents').dataset.loads > {loads}")
    assert shown_statuses(page) == api_statuses(api, disaster, status="unhandled", category="flooding")
    assert made["b"]["id"] in shown_statuses(page) and made["a"]["id"] not in shown_statuses(page)

    # A time range that ends before anything was reported shows nothing.
    loads = int(page.get_attribute("#gisapp-incidents", "data-loads"))
    page.fill("#gisapp-filter-to", "2020-01-01T00:00")
    page.wait_for_function(f"() => +document.querySelector('#gisapp-incidents').dataset.loads > {loads}")
    assert shown_statuses(page) == {} and sum(panel_counts(page).values()) == 0

    loads = int(page.get_attribute("#gisapp-incidents", "data-loads"))
    page.click("#gisapp-filter-clear")
    page.wait_for_function(f"() => +document.querySelector('#gisapp-incidents').dataset.loads > {loads}")
    assert shown_statuses(page) == api_statuses(api, disaster)


def test_status_change_reaches_the_other_operator_over_the_stream(
    visit, servers, demo_users, api, disaster, made
):
    one = open_hq(visit, servers, demo_users)
    two = open_hq(visit, servers, demo_users)
    inc = incident(api, disaster, 6)
    for v in (one, two):
        wait_status(v.page, inc["id"], "unhandled")  # a new incident appears by itself as well
    two.page.evaluate("window.__notReloaded = true")
    requests: list[str] = []
    two.page.on("request", lambda r: requests.append(r.url))
    before = panel_counts(one.page)

    # Operator one opens it from the keyboard-reachable list and starts work on it.
    item = one.page.locator(f"#gisapp-incident-list button[data-incident-id='{inc['id']}']")
    item.focus()
    one.page.keyboard.press("Enter")
    one.page.wait_for_selector(f"#gisapp-incident-detail[data-incident-id='{inc['id']}'][data-version='1']")
    assert one.page.evaluate("document.activeElement.id") == "gisapp-incident-title"
    detail = one.page.locator("#gisapp-incident-detail")
    assert "説明 6" in detail.inner_text() and "伊勢原市田中6" in detail.inner_text()
    one.page.click("#gisapp-incident-detail button[data-to-status='in_progress']")
    one.page.wait_for_selector("#gisapp-incident-detail[data-status='in_progress'][data-version='2']")
    wait_status(one.page, inc["id"], "in_progress")
    one.page.wait_for_function(
        f"() => document.querySelector('#gisapp-count-in_progress').dataset.n == {before['in_progress'] + 1}"
    )
    assert panel_counts(one.page)["unhandled"] == before["unhandled"] - 1
    assert [li.get_attribute("data-kind") for li in detail.locator(".gisapp-inc-history li").all()] == [
        "created",
        "status",
    ]

    # Operator two: the change arrived over the stream, no reload.
    wait_status(two.page, inc["id"], "in_progress")
    two.page.wait_for_function(
        f"() => document.querySelector('#gisapp-count-in_progress').dataset.n == {before['in_progress'] + 1}"
    )
    assert two.page.evaluate("window.__notReloaded") is True
    assert not any("/hq" in u.split("?")[0][-3:] for u in requests)  # no page load
    # And nothing polls: with nothing happening, no request at all for a while.
    requests.clear()
    two.page.wait_for_timeout(3000)
    assert requests == []
    assert api.get(f"/api/incidents/{inc['id']}").json()["status"] == "in_progress"


def test_stale_version_shows_the_bilingual_notice_and_refreshes(visit, servers, demo_users, api, disaster):
    inc = incident(api, disaster, 7)
    v = open_hq(visit, servers, demo_users)
    page = v.page
    page.click(f"#gisapp-incident-list button[data-incident-id='{inc['id']}']")
    page.wait_for_selector(f"#gisapp-incident-detail[data-incident-id='{inc['id']}'][data-version='1']")
    page.evaluate("gisapp.eventSource.close()")  # so the other operator's change cannot refresh the panel
    patch_status(api, inc, "done")  # the other operator, first
    page.click("#gisapp-incident-detail button[data-to-status='in_progress']")
    notice = page.locator("#gisapp-incident-notice[data-kind='conflict']")
    notice.wait_for()
    words = notice.inner_text()
    assert "他の操作者が先に変更しました" in words and "Someone else changed it first" in words
    assert "対応済" in words and "版 2" in words
    page.wait_for_selector("#gisapp-incident-detail[data-status='done'][data-version='2']")
    assert api.get(f"/api/incidents/{inc['id']}").json()["status"] == "done"  # nothing was overwritten


def test_dispatch_from_the_panel_and_a_held_unit(visit, servers, demo_users, api, disaster, units):
    inc = incident(api, disaster, 8, lon=SPOT[0], lat=SPOT[1])
    other = incident(api, disaster, 9, lon=SPOT[0] + 0.0001, lat=SPOT[1])
    v = open_hq(visit, servers, demo_users)
    page = v.page
    page.click(f"#gisapp-incident-list button[data-incident-id='{inc['id']}']")
    dispatch = page.locator(f"#gisapp-incident-dispatch li[data-unit-id='{units[0]}']")
    dispatch.wait_for(timeout=15_000)
    assert "分" in dispatch.inner_text() and "km" in dispatch.inner_text()  # distance and ETA
    dispatch.locator("button").click()
    assigned = page.locator("#gisapp-incident-detail li[data-assignment-id][data-state='dispatched']")
    assigned.wait_for()
    assert "本部試験隊0" in assigned.inner_text()
    wait_status(page, inc["id"], "in_progress")  # dispatch starts the work
    assert [a["unit_id"] for a in api.get(f"/api/incidents/{inc['id']}").json()["assignments"]] == [units[0]]

    # 現着, then 解除.
    assigned.locator("button[data-to-state='on_scene']").click()
    page.wait_for_selector("#gisapp-incident-detail li[data-assignment-id][data-state='on_scene']")
    page.click("#gisapp-incident-detail li[data-assignment-id] button[data-to-state='cleared']")
    page.wait_for_selector("#gisapp-incident-detail li[data-assignment-id][data-state='cleared']")

    # A unit taken meanwhile by another operator: 409, the notice names the holding incident.
    page.click(f"#gisapp-incident-list button[data-incident-id='{other['id']}']")
    unit = page.locator(f"#gisapp-incident-dispatch li[data-unit-id='{units[1]}'] button")
    unit.wait_for(timeout=15_000)
    page.evaluate("gisapp.eventSource.close()")
    # No redraw still on its way (one started by an earlier event would drop the unit we are about to take).
    page.wait_for_selector("#gisapp-incident-detail:not([data-refreshing])", state="attached")
    unit.wait_for(timeout=15_000)
    r = api.post(f"/api/incidents/{inc['id']}/assignments", json={"unit_id": units[1]})
    assert r.status_code == 201, r.text
    unit.click()
    notice = page.locator("#gisapp-incident-notice[data-kind='conflict']")
    notice.wait_for()
    assert f"事案 {inc['id']}" in notice.inner_text() and f"incident {inc['id']}" in notice.inner_text()
    assert "本部地図試験 8" in notice.inner_text()
    held = api.get(f"/api/incidents/{other['id']}").json()["assignments"]
    assert held == []  # nothing was stored for the refused dispatch


def test_dispatch_a_team_from_the_panel(visit, servers, demo_users, api, disaster):
    assert api.put("/api/teams/HQB-TEAM", json={"name": "本部試験班"}).status_code == 200
    inc = incident(api, disaster, 10)
    v = open_hq(visit, servers, demo_users)
    page = v.page
    page.click(f"#gisapp-incident-list button[data-incident-id='{inc['id']}']")
    team = page.locator("#gisapp-incident-teams li[data-team-id='HQB-TEAM']")
    team.wait_for(timeout=15_000)
    team.locator("button").click()
    assigned = page.locator("#gisapp-incident-detail li[data-assignment-id][data-state='dispatched']")
    assigned.wait_for()
    assert "本部試験班" in assigned.inner_text()
    page.wait_for_selector("#gisapp-incident-teams li[data-team-id='HQB-TEAM']", state="detached")  # busy now
    assert [a["team_id"] for a in api.get(f"/api/incidents/{inc['id']}").json()["assignments"]] == [
        "HQB-TEAM"
    ]


def test_register_a_phoned_in_incident_from_the_map(visit, servers, demo_users, api, disaster):
    before = len(api.get(f"/api/disasters/{disaster}/incidents").json()["features"])
    v = open_hq(visit, servers, demo_users)
    page = v.page
    page.click("#gisapp-incident-new summary")
    page.fill("#gisapp-new-title", "電話：倒木で通行不可")
    page.click("#gisapp-new-submit")  # no place yet: refused on the page, nothing sent
    page.wait_for_selector("#gisapp-incident-notice[data-kind='error']")
    assert "場所" in page.inner_text("#gisapp-incident-notice")
    page.click("#gisapp-new-pick")
    box = page.locator("#gisapp-main .leaflet-container").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
    page.wait_for_selector("#gisapp-new-place[data-lat]")
    page.select_option("#gisapp-new-category", "fallen_tree")
    page.select_option("#gisapp-new-priority", "2")
    page.fill("#gisapp-new-address", "伊勢原市大山")
    page.click("#gisapp-new-submit")
    page.wait_for_selector("#gisapp-incident-notice[data-kind='ok']")
    page.wait_for_selector("#gisapp-incident-detail[data-status='unhandled']")
    features = api.get(f"/api/disasters/{disaster}/incidents").json()["features"]
    assert len(features) == before + 1
    made = next(f["properties"] for f in features if f["properties"]["title"] == "電話：倒木で通行不可")
    assert (made["source"], made["priority"], made["category"], made["address"]) == (
        "phone",
        2,
        "fallen_tree",
        "伊勢原市大山",
    )
    assert page.text_content("#gisapp-new-place") == "場所：未選択"  # ready for the next call


def test_english_page(visit, servers, demo_users, api, disaster):
    v = open_hq(visit, servers, demo_users, "?lang=en")
    counts = api.get(f"/api/disasters/{disaster}/counts").json()["total"]
    assert v.page.locator("#gisapp-count-unhandled").inner_text() == f"Not handled {counts['unhandled']}"
    assert v.page.locator("label[for='gisapp-filter-category']").inner_text() == "Category"


def test_xss_canary_never_executes_on_the_hq_and_citizen_maps(visit, servers, demo_users, api, disaster):
    # A citizen report carries the script canary; HQ accepts it as a public road closure titled with
    # the image canary. Plus a staff incident with both, in title and description.
    with httpx.Client(base_url=servers["public"].url, timeout=20) as public:
        r = public.post(
            "/api/reports",
            data={
                "category": "road_closure",
                "lon": str(SPOT[0]),
                "lat": str(SPOT[1] + 0.002),
                "description": XSS_SCRIPT,
            },
        )
        assert r.status_code == 201, r.text
    report_id = max(rep["id"] for rep in api.get("/api/reports", params={"state": "pending"}).json())
    r = api.post(f"/api/reports/{report_id}/accept", json={"disaster_id": disaster, "title": XSS_TITLE})
    assert r.status_code == 200, r.text
    accepted = r.json()["incident"]
    staff = incident(
        api,
        disaster,
        10,
        category="road_closure",
        title=XSS_SCRIPT + XSS_TITLE,
        description=XSS_TITLE + XSS_SCRIPT,
        address=XSS_SCRIPT,
    )

    v = open_hq(visit, servers, demo_users)
    page = v.page
    wait_status(page, accepted["id"], "unhandled")
    for inc, title, description in (
        (accepted, XSS_TITLE, XSS_SCRIPT),
        (staff, XSS_SCRIPT + XSS_TITLE, XSS_TITLE + XSS_SCRIPT),
    ):
        page.click(f"#gisapp-incident-list button[data-incident-id='{inc['id']}']")
        page.wait_for_selector(f"#gisapp-incident-detail[data-incident-id='{inc['id']}']")
        assert page.locator("#gisapp-incident-title").inner_text() == title  # shown as text
        assert page.locator(".gisapp-inc-description").inner_text() == description
        page.locator(f".gisapp-incident[data-incident-id='{inc['id']}']").focus()  # opens the tooltip too
        tooltip = page.locator(".leaflet-tooltip .gisapp-incident-tooltip", has_text=title)
        tooltip.wait_for()
        assert tooltip.inner_text().endswith(" ・ " + title)
    assert (
        page.locator(f"#gisapp-incident-list button[data-incident-id='{staff['id']}']")
        .inner_text()
        .count(XSS_TITLE)
        == 1
    )
    assert page.locator("#gisapp-incidents img, .leaflet-tooltip img").count() == 0
    assert page.evaluate("window.__xss") is None and v.dialogs == []

    c = visit()
    c.page.on("dialog", lambda d: (v.dialogs.append(d.message), d.dismiss()))
    c.page.goto(servers["public"].url + "/")
    item = c.page.locator(f".citizen-incident[data-incident-id='{accepted['id']}']")
    assert item.get_attribute("data-state") == "closed"  # a public 通行止め reads as such, not 未対応
    assert "通行止め" in item.inner_text() and "未対応" not in item.inner_text()
    assert c.page.locator(f".citizen-incident[data-incident-id='{staff['id']}']").count() == 1
    c.page.locator("#citizen-map-toggle").click()
    c.page.wait_for_selector(".citizen-incident-marker", state="attached", timeout=20_000)
    html = c.page.content()
    # no incident title or description at all (the disaster's name, 令和8年台風第10号（本部地図試験）, is public)
    assert "window.__xss" not in html and re.search(r"本部地図試験 \d", html) is None
    assert "説明 " not in html
    assert c.page.evaluate("window.__xss") is None and v.dialogs == []


def test_keyboard_opens_a_marker_and_focus_is_visible(visit, servers, demo_users, api, disaster, made):
    v = open_hq(visit, servers, demo_users)
    page = v.page
    marker = page.locator(f".gisapp-incident[data-incident-id='{made['a']['id']}']")
    assert marker.get_attribute("tabindex") == "0"
    assert marker.get_attribute("aria-label") == "本部地図試験 1（未対応）を開く"
    marker.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#gisapp-incident-detail[data-incident-id='{made['a']['id']}']")
    page.keyboard.press("Tab")  # from the focused heading to the close button
    assert page.evaluate("document.activeElement.id") == "gisapp-incident-close"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Escape")
    page.wait_for_selector("#gisapp-incident-detail", state="hidden")
    assert page.evaluate("document.activeElement.dataset.incidentId") == str(made["a"]["id"])


def test_a_gap_in_seq_refetches_the_incidents(visit, servers, demo_users, api, disaster):
    v = open_hq(visit, servers, demo_users)
    page = v.page
    inc = incident(api, disaster, 11)
    wait_status(page, inc["id"], "unhandled")  # arrived over the stream: the page has a last seq
    assert page.get_attribute("#gisapp-status", "data-last-seq") != ""
    page.evaluate("gisapp.eventSource.close()")
    patch_status(api, inc, "in_progress")  # missed: the stream is closed
    page.wait_for_timeout(500)
    assert shown_statuses(page)[inc["id"]] == "unhandled"
    # The next event the page sees skips numbers: it refetches and catches up.
    page.evaluate(
        """() => {
          const last = +document.querySelector('#gisapp-status').dataset.lastSeq;
          gisapp.eventSource.dispatchEvent(new MessageEvent('layer_changed',
            {data: JSON.stringify({seq: last + 5, type: 'layer_changed'})}));
        }"""
    )
    wait_status(page, inc["id"], "in_progress")
