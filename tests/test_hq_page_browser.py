"""The HQ map's issue-13 findings in headless Chromium against real servers with the demo data:
- the incident list is reached in a few Tabs (the radio units are not tab stops; a skip link
  「事案一覧へ移動」 goes there), and every focusable marker has a name;
- a keyboard-only path: reach an incident, change its status, dispatch a unit — focus lands on the
  incident panel's heading after each (never on <body>) and the result is announced;
- shelters and gauges are drawn with a letter and their own shape (a house, a diamond) and named in
  words, and the map has a legend for incidents, shelters, gauges, units and areas;
- nothing overflows or overlaps at 1280x800, and the page is usable at 390x844.
Screenshots go to /tmp/hq_page_*.png."""

# ruff: noqa: F811 - the fixtures imported below are the tests' arguments
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from ingest.gauges import record_observations
from ingest.payloads import GaugeObservation
from sensors import registry
from sensors.registry import DeviceKind, DeviceSpec
from tests.test_hq_gauges_browser import WATER
from tests.test_hq_incidents_browser import (  # noqa: F401 - fixtures
    SPOT,
    api,
    disaster,
    incident,
    open_hq,
    servers,
    units,
)
from tests.test_pages_browser import browser, demo_users, visit  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def gauge(app_engine) -> str:
    """A water gauge of its own (the gauge tests' ones keep their own data), at 避難判断水位."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with app_engine.begin() as conn:
        registry.ensure_device(
            conn, DeviceSpec("HQP-W", DeviceKind.water_gauge, "凡例川水位計", 139.298, 35.394, None, WATER)
        )
    with app_engine.begin() as conn:
        for k, m in enumerate([1.2, 1.7, 2.1]):
            record_observations(
                conn, [GaugeObservation("HQP-W", "level", now - timedelta(minutes=30 - 10 * k), m)]
            )
    return "HQP-W"


ACTIVE = "(() => { const e = document.activeElement; return e === document.body ? 'BODY' : (e.id || e.className || e.tagName); })()"


def tabs_to_first_incident(page, limit: int = 80) -> tuple[int, list[str]]:
    """Tab from the top of the page until an incident (list button or marker) has the focus."""
    page.locator("a.gisapp-skip-link").first.focus()  # the first stop of the page
    stops: list[str] = ["skip"]
    for n in range(2, limit + 1):
        page.keyboard.press("Tab")
        stop = page.evaluate(
            "(() => { const e = document.activeElement; return [e.dataset.incidentId || '',"
            " e.getAttribute('aria-label') || e.textContent.trim().slice(0, 30), e.className || e.tagName]; })()"
        )
        stops.append(f"{stop[2]}:{stop[1]}")
        if stop[0]:
            return n, stops
    return limit + 1, stops


def test_the_incident_list_comes_early_and_units_are_not_tab_stops(
    visit,
    servers,
    demo_users,
    api,
    disaster,
    units,
):
    incident(api, disaster, 21)
    v = open_hq(visit, servers, demo_users)
    page = v.page
    page.wait_for_function(
        f"() => +document.querySelector('#gisapp-status').dataset.units >= {len(units)}", timeout=20_000
    )
    # The old page: 58 Tabs, 47 of them unnamed radio units.
    n, stops = tabs_to_first_incident(page)
    assert n <= 10, stops
    assert not any("gisapp-unit-marker" in s for s in stops)
    n_units = page.locator(".gisapp-unit-marker").count()
    assert n_units >= len(units)
    # Units: not tab stops, but named (their list is the keyboard way to them).
    assert page.locator(".gisapp-unit-marker[tabindex]").count() == 0
    labels = page.locator(".gisapp-unit-marker").evaluate_all(
        "els => els.map(e => e.getAttribute('aria-label'))"
    )
    assert all(label and label.startswith("無線機（") for label in labels), labels
    assert page.locator("#gisapp-unit-list li[data-device-id]").count() == n_units
    # Every focusable marker has a name.
    unnamed = page.locator(".leaflet-marker-icon[tabindex='0']").evaluate_all(
        "els => els.filter(e => !(e.getAttribute('aria-label') || '').trim()).length"
    )
    assert unnamed == 0
    # The skip link to the incident list.
    page.locator("a.gisapp-skip-link").first.focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "事案一覧へ移動"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "gisapp-incident-list-title"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.incidentId")


def test_keyboard_path_status_change_and_dispatch_keep_the_focus(
    visit,
    servers,
    demo_users,
    api,
    disaster,
    units,
):
    inc = incident(api, disaster, 22, lon=SPOT[0], lat=SPOT[1])
    v = open_hq(visit, servers, demo_users)
    page = v.page
    item = f"#gisapp-incident-list button[data-incident-id='{inc['id']}']"
    page.wait_for_selector(item)
    # Reach it with Tab only, from the list heading.
    page.locator("#gisapp-incident-list-title").focus()
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.incidentId") == str(inc["id"]):
            break
    else:
        pytest.fail("the incident was not reached by Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#gisapp-incident-detail[data-incident-id='{inc['id']}'][data-version='1']")
    assert page.evaluate("document.activeElement.id") == "gisapp-incident-title"

    def tab_to(selector: str) -> None:
        for _ in range(40):
            page.keyboard.press("Tab")
            if page.evaluate(f"document.activeElement.matches({selector!r})"):
                return
        pytest.fail(f"{selector} not reached by Tab")

    # Status change: Enter on 「対応中」にする.
    tab_to("button[data-to-status='in_progress']")
    page.keyboard.press("Enter")
    page.wait_for_selector("#gisapp-incident-detail[data-status='in_progress'][data-version='2']")
    page.wait_for_function("() => document.activeElement.id === 'gisapp-incident-title'", timeout=10_000)
    notice = page.locator("#gisapp-incident-notice[data-kind='ok']")
    assert notice.get_attribute("role") == "alert" and "対応中" in notice.inner_text()
    page.wait_for_timeout(1500)  # the stream's echo of the change redraws the panel: the focus stays
    assert page.evaluate(ACTIVE) == "gisapp-incident-title"

    # Dispatch: Enter on the nearest unit's 出動指示.
    page.wait_for_selector(f"#gisapp-incident-dispatch li[data-unit-id='{units[2]}']", timeout=15_000)
    tab_to(f"#gisapp-incident-dispatch button[data-unit-id='{units[2]}']")
    page.keyboard.press("Enter")
    page.wait_for_selector(
        "#gisapp-incident-detail li[data-assignment-id][data-state='dispatched']", timeout=15_000
    )
    page.wait_for_function("() => document.activeElement.id === 'gisapp-incident-title'", timeout=10_000)
    assert "出動させました" in page.locator("#gisapp-incident-notice[data-kind='ok']").inner_text()
    page.screenshot(path="/tmp/hq_page_incident_1280.png")
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path="/tmp/hq_page_incident_390.png")
    page.set_viewport_size({"width": 1280, "height": 720})
    assert [a["unit_id"] for a in api.get(f"/api/incidents/{inc['id']}").json()["assignments"]] == [units[2]]
    page.keyboard.press("Escape")  # back to the list item that opened it
    assert page.evaluate("document.activeElement.dataset.incidentId") == str(inc["id"])


def test_shelters_and_gauges_have_letters_names_and_the_map_a_legend(
    visit,
    servers,
    demo_users,
    api,
    app_engine,
    gauge,
):
    d = api.post("/api/disasters", json={"name": "凡例試験"}).json()["id"]  # the latest open: shown
    with app_engine.connect() as conn:
        shelter, name, capacity = conn.execute(
            text(
                "SELECT s.id, s.name, s.capacity FROM gis.shelter s JOIN gis.layer l ON l.id = s.layer_id"
                " WHERE l.slug = 'shelters' AND s.capacity BETWEEN 20 AND 400 ORDER BY s.id LIMIT 1"
            )
        ).one()
    r = api.post(f"/api/disasters/{d}/shelters/{shelter}/open", json={"responsible_staff": "避難所班"})
    assert r.status_code == 200, r.text
    body = {
        "client_event_id": str(uuid.uuid4()),
        "kind": "entry",
        "kiosk_id": "hq-legend",
        "persons": capacity,
    }
    assert api.post(f"/api/disasters/{d}/shelters/{shelter}/checkins", json=body).status_code == 200

    v = open_hq(visit, servers, demo_users)
    page = v.page
    marker = page.locator(f".gisapp-evac-shelter[data-shelter-id='{shelter}']")
    marker.wait_for(timeout=20_000)
    # A full shelter: a house with 満, named in words — not a red square like 未対応.
    assert marker.get_attribute("data-level") == "full"
    assert "gisapp-shape-house" in marker.get_attribute("class")
    assert marker.locator(".gisapp-letter-marker-body").inner_text() == "満"
    assert marker.get_attribute("aria-label") == f"避難所 {name} 満員 {capacity} 人／定員 {capacity}"
    # A gauge: a diamond with its level's number, named, and a button (opens the chart).
    marker = page.locator(f".gisapp-gauge[data-device-id='{gauge}']")
    marker.wait_for(timeout=20_000)
    assert "gisapp-shape-diamond" in marker.get_attribute("class")
    assert marker.locator(".gisapp-letter-marker-body").inner_text() == "3"  # 避難判断水位: the 3rd of 4
    assert marker.get_attribute("role") == "button" and marker.get_attribute("tabindex") == "0"
    assert marker.get_attribute("aria-label") == "凡例川水位計 危険・避難判断水位（グラフを開く） 水位 2.10 m"
    # The legend: folded at first (open it would cover a third of the map), every kind when opened, from
    # the same symbols; opened, it stays open for this browser.
    legend = page.locator("#gisapp-legend")
    assert legend.evaluate("e => e.open") is False
    legend.locator("summary").click()
    assert legend.evaluate("e => e.open") is True
    words = legend.inner_text()
    for word in (
        "事案",
        "未対応",
        "避難所",
        "満員",
        "雨量計・水位計",
        "氾濫危険水位",
        "無線機",
        "地区別の避難状況",
    ):
        assert word in words, word
    swatch = legend.locator("li", has_text="満員").locator(".gisapp-letter-marker")
    assert "gisapp-shape-house" in swatch.get_attribute("class")
    page.reload()
    page.wait_for_selector("#gisapp-legend")
    assert page.locator("#gisapp-legend").evaluate("e => e.open") is True  # remembered
    page.locator("#gisapp-legend summary").click()  # it folds
    assert page.locator("#gisapp-legend").evaluate("e => e.open") is False


OVERLAP_JS = """
(selectors) => {
  const boxes = selectors.flatMap((s) => [...document.querySelectorAll(s)])
    .filter((e) => e.getClientRects().length)
    .map((e) => [e.id || e.className, e.getBoundingClientRect()]);
  const out = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, r] = boxes[i], [b, q] = boxes[j];
      if (r.left < q.right - 1 && q.left < r.right - 1 && r.top < q.bottom - 1 && q.top < r.bottom - 1) out.push([a, b]);
    }
  }
  const outside = boxes.filter(([, r]) => r.left < -1 || r.top < -1 || r.right > innerWidth + 1 || r.bottom > innerHeight + 1)
    .map(([n]) => n);
  return {overlaps: out, outside, scroll: [document.documentElement.scrollWidth, innerWidth]};
}
"""
PANELS = [
    "#gisapp-incidents",
    "#gisapp-evacinfo",
    "#gisapp-legend",
    ".leaflet-control-zoom",
    ".leaflet-control-layers",
    ".leaflet-control-scale",
    "#gisapp-ei-legend",
    "#gisapp-basemap-notice",
    ".leaflet-control-attribution",
]


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)])
def test_nothing_overflows_or_overlaps(visit, servers, demo_users, api, disaster, size):
    v = visit(viewport={"width": size[0], "height": size[1]})
    v.login(servers["internal"].url, "/hq", "hq", demo_users["hq"])
    page = v.page
    page.wait_for_selector("#gisapp-incidents[data-state='ready']", timeout=20_000)
    page.wait_for_selector("#gisapp-evacinfo[data-state='ready']", timeout=20_000)
    page.wait_for_timeout(500)
    page.screenshot(path=f"/tmp/hq_page_{size[0]}.png")
    found = page.evaluate(OVERLAP_JS, PANELS)
    assert found["overlaps"] == [] and found["outside"] == [], found
    assert found["scroll"][0] <= found["scroll"][1]
    if size[0] < 600:  # a phone: the controls a thumb uses are >= 44 px
        small = page.locator(".gisapp-inc-list-item, #gisapp-disaster, #gisapp-evacinfo-toggle").evaluate_all(
            "els => els.filter(e => e.getClientRects().length).map(e => e.getBoundingClientRect())"
            ".filter(r => r.height < 44).length"
        )
        assert small == 0
