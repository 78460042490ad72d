"""The map pages in headless Chromium against real uvicorn servers with the demo data: the basemap
drawn from our own road ledger when the GSI tiles are blocked or switched off, the staff GIS viewer
(groups, badges, internal and restricted layers, audit notice, keyboard), and the citizen page's map on
a phone (folded layer list, large targets, "my location"; the page itself: tests/test_citizen_page.py)."""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from sqlalchemy import text

from gisapp import demo
from gisapp.app import create_app
from tests.conftest import free_port
from tests.support import wait_until

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ISEHARA = {"latitude": 35.3967, "longitude": 139.3133}


class Server:
    """One app on a free port, served by uvicorn in a thread."""

    def __init__(self, app, **options):
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", timeout_graceful_shutdown=2, **options
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.thread.start()
        wait_until(lambda: self.server.started, 30)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture(scope="module")
def demo_users(app_engine, tmp_path_factory) -> dict[str, str]:
    result = demo.load(app_engine, tmp_path_factory.mktemp("demo"))
    return json.loads(result.users_file.read_text())


@pytest.fixture(scope="module")
def servers(settings, demo_users) -> Iterator[dict[str, Server]]:
    apps = {
        "internal": create_app(settings),
        "public": create_app(settings, public=True),
        "offline": create_app(settings.model_copy(update={"offline": True})),
    }
    with Server(apps["internal"]) as a, Server(apps["public"]) as b, Server(apps["offline"]) as c:
        yield {"internal": a, "public": b, "offline": c}


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: scripts/install-debs.sh installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


class Visit:
    """A browser context that may only reach localhost; records what it blocked and page errors."""

    def __init__(self, browser, **context_options):
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(**context_options)
        self.context.route("**/*", self._only_localhost)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _only_localhost(self, route):
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def login(self, base: str, path: str, user: str, password: str) -> None:
        self.page.goto(base + path)
        self.page.wait_for_url("**/login?**")
        self.page.fill("#username", user)
        self.page.fill("#password", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(lambda url: urlsplit(url).path == urlsplit(path).path)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser):
    opened: list[Visit] = []

    def make(**context_options) -> Visit:
        opened.append(Visit(browser, **context_options))
        return opened[-1]

    yield make
    for v in opened:
        v.close()
    for v in opened:
        assert v.errors == []


def feature_count(base: str, path: str) -> int:
    with urllib.request.urlopen(base + path, timeout=10) as r:
        return len(json.loads(r.read())["features"])


def public_slugs(base: str) -> list[str]:
    with urllib.request.urlopen(base + "/api/public/layers", timeout=10) as r:
        return [layer["slug"] for layer in json.loads(r.read())]


# WCAG contrast of each visible element's text colour against the first opaque background behind it.
CONTRAST_JS = """
(selectors) => {
  const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
  const lum = (p) => {
    const c = p.slice(0, 3).map((v) => (v /= 255) <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const p = rgb(getComputedStyle(el).backgroundColor);
      if (p.length < 4 || p[3] > 0) return p;
    }
    return [255, 255, 255];
  };
  return [...document.querySelectorAll(selectors)]
    .filter((el) => el.getClientRects().length && el.textContent.trim())
    .map((el) => {
      const a = lum(rgb(getComputedStyle(el).color)), b = lum(background(el));
      return [el.id || el.className || el.tagName, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
    });
}
"""


def low_contrast(page, selectors: str) -> list:
    ratios = page.evaluate(CONTRAST_JS, selectors)
    assert ratios, f"nothing visible matched {selectors}"
    return [(name, round(ratio, 2)) for name, ratio in ratios if ratio < 4.5]


def wait_own_basemap(page) -> None:
    page.wait_for_selector("body[data-own-basemap='drawn']", state="attached", timeout=20_000)


def open_citizen_map(page) -> None:
    """The citizen page's map is shown on demand (a phone gets the answers first; a desktop at once)."""
    toggle = page.locator("#citizen-map-toggle")
    toggle.wait_for()  # shown by the page's module, which opens the map at once on a desktop
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    page.wait_for_selector("#citizen-map.leaflet-container", timeout=20_000)


def test_citizen_map_draws_the_road_ledger_as_basemap_when_tiles_are_blocked(servers, visit):
    base = servers["public"].url
    roads = feature_count(base, "/api/public/layers/road-ledger/features")
    assert roads > 0
    v = visit()
    v.page.goto(base + "/")
    open_citizen_map(v.page)
    wait_own_basemap(v.page)
    v.page.wait_for_selector("#gisapp-basemap-notice:not([hidden])")
    own = v.page.locator(".leaflet-gisapp-basemap-own-pane path.gisapp-basemap-own.gisapp-basemap-road")
    assert own.count() == roads
    # Muted grey, beneath the thematic overlays, and not offered as a thematic layer.
    stroke = own.first.get_attribute("stroke")
    rgb = [int(stroke[i : i + 2], 16) for i in (1, 3, 5)]
    assert max(rgb) - min(rgb) <= 16, stroke  # grey, not a thematic colour
    z = v.page.evaluate(
        "[getComputedStyle(document.querySelector('.leaflet-gisapp-basemap-own-pane')).zIndex,"
        " getComputedStyle(document.querySelector('.leaflet-overlay-pane')).zIndex].map(Number)"
    )
    assert z[0] < z[1]
    # every public layer stays available, secondary: listed under the map, folded
    toggles = v.page.locator("#citizen-layer-list input[type=checkbox]")
    assert sorted(toggles.evaluate_all("els => els.map(e => e.id.replace('citizen-layer-', ''))")) == sorted(
        public_slugs(base)
    )
    assert v.page.locator("#citizen-layers").get_attribute("open") is None
    assert "市の道路" in v.page.locator(".leaflet-control-attribution").inner_text()
    assert v.blocked and all("cyberjapandata.gsi.go.jp" in u for u in v.blocked), v.blocked


def test_offline_instance_asks_for_no_tile_and_draws_own_basemap_on_citizen_and_hq(
    servers, visit, demo_users
):
    base = servers["offline"].url
    roads = feature_count(base, "/api/public/layers/road-ledger/features")
    areas = feature_count(base, "/api/public/layers/community-areas/features")  # drawn as outlines
    v = visit()
    v.page.goto(base + "/?lang=en")
    open_citizen_map(v.page)
    wait_own_basemap(v.page)
    assert v.page.locator("path.gisapp-basemap-own.gisapp-basemap-road").count() == roads
    assert v.page.locator("path.gisapp-basemap-own.gisapp-basemap-boundary").count() == areas > 0
    assert v.page.locator("#gisapp-basemap-notice").is_visible()

    v.login(base, "/hq", "hq", demo_users["hq"])
    wait_own_basemap(v.page)
    assert v.page.locator("path.gisapp-basemap-own").count() == roads + areas
    assert v.page.locator("#gisapp-basemap-notice").is_visible()
    assert v.blocked == []  # offline: the pages never tried the internet


def test_gis_viewer_lists_grouped_layers_and_draws_the_internal_sewer_layer(servers, visit, demo_users):
    base = servers["internal"].url
    v = visit()
    v.login(base, "/gis", "road", demo_users["road"])  # a staff member of the road division
    page = v.page
    page.wait_for_selector("#gisapp-status[data-state='ready']", timeout=20_000)
    assert page.locator("html").get_attribute("lang") == "ja"

    groups = page.locator("fieldset.gisapp-layer-group")
    names = [groups.nth(i).locator("legend").inner_text() for i in range(groups.count())]
    # Grouped by owner department (other tests' departments may be listed too).
    assert {"危機管理課", "道路整備課", "下水道課"} <= set(names), names
    sewer = page.locator("#gisapp-layer-toggle-sewer-pipes")
    sewer_group = groups.filter(has=sewer).locator("legend").inner_text()
    assert sewer_group == "下水道課"
    assert sewer.is_checked()
    item = page.locator("li.gisapp-layer-item", has=sewer)
    assert item.locator(".gisapp-badge-internal").inner_text() == "庁内"
    assert page.locator("#gisapp-layer-toggle-people-needing-help").count() == 0
    sewer_count = page.evaluate(
        "fetch('/api/layers/sewer-pipes/features', {credentials: 'same-origin'})"
        ".then(r => r.json()).then(fc => fc.features.length)"
    )
    assert sewer_count > 0
    wait_until(lambda: page.locator("path.gisapp-layer-sewer-pipes").count() == sewer_count, 20)

    # Keyboard: the layer list is real checkboxes; Space switches a layer off and on.
    sewer.focus()
    page.keyboard.press("Space")
    wait_until(lambda: page.locator("path.gisapp-layer-sewer-pipes").count() == 0, 10)
    page.keyboard.press("Space")
    wait_until(lambda: page.locator("path.gisapp-layer-sewer-pipes").count() == sewer_count, 10)
    assert page.locator("#gisapp-restricted-notice").is_hidden()


def test_gis_viewer_restricted_layer_is_fetched_only_when_switched_on_with_the_audit_notice(
    servers, visit, demo_users, app_engine
):
    def audited() -> int:
        with app_engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM audit.log WHERE action = 'layer.read_restricted'"
                    " AND target = 'people-needing-help' AND actor = 'welfare'"
                )
            ).scalar_one()

    base = servers["internal"].url
    v = visit()
    v.login(base, "/gis?lang=en", "welfare", demo_users["welfare"])
    page = v.page
    page.wait_for_selector("#gisapp-status[data-state='ready']", timeout=20_000)
    before = audited()
    people = page.locator("#gisapp-layer-toggle-people-needing-help")
    assert not people.is_checked()
    assert page.locator("li.gisapp-layer-item", has=people).locator(
        ".gisapp-badge-restricted"
    ).inner_text() == ("Restricted")
    assert page.locator("path.gisapp-layer-people-needing-help").count() == 0
    assert page.locator("#gisapp-restricted-notice").is_hidden()
    assert audited() == before  # nothing read yet

    page.locator("label[for='gisapp-layer-toggle-people-needing-help']").click()
    notice = page.locator("#gisapp-restricted-notice")
    notice.wait_for(state="visible")
    assert notice.inner_text().startswith("Restricted: every view is audited")
    texts = "#gisapp-title, #gisapp-status, #gisapp-restricted-notice, #gisapp-layer-panel legend, "
    texts += ".gisapp-panel-toggle, .gisapp-layer-name, .gisapp-badge, .gisapp-locate-button"
    assert low_contrast(page, texts) == []
    page.wait_for_selector("path.gisapp-layer-people-needing-help", state="attached", timeout=20_000)
    wait_until(lambda: audited() == before + 1, 10)

    people.uncheck()
    notice.wait_for(state="hidden")
    assert page.locator("path.gisapp-layer-people-needing-help").count() == 0


def overlaps(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_gis_viewer_on_a_phone_offline_keeps_its_notices_off_the_map_controls(servers, visit, demo_users):
    """On a 390 px phone with the offline instance, the offline notice and the restricted-layer audit
    notice sit above the map and cover neither the layer button nor the other controls; the layer
    list folds and its targets are at least 44 px."""
    v = visit(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    v.login(servers["offline"].url, "/gis", "welfare", demo_users["welfare"])
    page = v.page
    page.wait_for_selector("#gisapp-status[data-state='ready']", timeout=20_000)
    toggle = page.locator("#gisapp-layer-toggle")
    assert toggle.get_attribute("aria-expanded") == "false"
    notice = page.locator("#gisapp-basemap-notice")
    assert notice.is_visible()
    controls = [
        "#gisapp-layer-toggle",
        "#gisapp-locate",
        ".leaflet-control-zoom-in",
        ".leaflet-control-zoom-out",
    ]
    for target in controls:
        box = page.locator(target).bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44, (target, box)
        assert not overlaps(notice.bounding_box(), box), target

    toggle.tap()
    people = page.locator("label[for='gisapp-layer-toggle-people-needing-help']")
    assert people.bounding_box()["height"] >= 44
    people.tap()
    restricted = page.locator("#gisapp-restricted-notice")
    restricted.wait_for(state="visible")
    for target in controls:
        assert not overlaps(restricted.bounding_box(), page.locator(target).bounding_box()), target
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert v.blocked == []  # offline: no tile asked for


def test_citizen_map_on_a_phone_folds_the_layer_list_and_finds_my_location(servers, visit):
    base = servers["public"].url
    v = visit(
        viewport={"width": 390, "height": 780},
        is_mobile=True,
        has_touch=True,
        geolocation=ISEHARA,
        permissions=["geolocation"],
    )
    page = v.page
    page.goto(base + "/")
    # the permission was given before: the page finds the position by itself, nearest shelters first
    page.wait_for_selector("#citizen-place[data-source='position']", timeout=20_000)
    open_citizen_map(page)
    assert page.locator("#citizen-layers").get_attribute("open") is None  # the layer list: folded
    assert page.locator(".citizen-map .gisapp-legend").get_attribute("open") is None  # legend: folded
    for target in (
        "#citizen-locate",
        "#citizen-map-toggle",
        ".leaflet-control-zoom-in",
        "#citizen-layers summary",
    ):
        box = page.locator(target).bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44, (target, box)
    page.locator("#citizen-layers summary").tap()
    assert page.locator("#citizen-layer-list").is_visible()

    page.locator("#citizen-locate").tap()
    wait_until(lambda: "現在地付近" in page.locator("#citizen-place-name").inner_text(), 10)
    page.wait_for_selector("path.citizen-place-marker", state="attached", timeout=10_000)
    assert low_contrast(page, "#citizen-place-name, .citizen-shelter-name, .citizen-badge-label") == []

    def near() -> bool:  # the map shows the position
        lat, lon = page.evaluate(
            "(() => { const c = window.gisapp.map.getCenter(); return [c.lat, c.lng]; })()"
        )
        return abs(lat - ISEHARA["latitude"]) < 0.05 and abs(lon - ISEHARA["longitude"]) < 0.05

    wait_until(near, 10)


def test_hq_map_fades_a_unit_that_goes_silent_and_restores_it_when_heard(
    servers, visit, demo_users, app_engine
):
    """Pushed, not polled: the sweep's device_silent and the device_online of its next report reach
    the open HQ map over the event stream."""
    with app_engine.begin() as conn:
        device = conn.execute(
            text("SELECT id FROM sensor.device WHERE kind = 'radio_unit' AND enabled ORDER BY id LIMIT 1")
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO sensor.radio_position (device_id, device_ts, geom) VALUES "
                "(:d, now() - interval '6 minutes', ST_SetSRID(ST_MakePoint(139.3133, 35.3967), 4326))"
            ),
            {"d": device},
        )
        conn.execute(
            text(
                "INSERT INTO sensor.device_status (device_id, last_seen) VALUES (:d, now())"
                " ON CONFLICT (device_id) DO UPDATE SET last_seen = now(), last_will_at = NULL, silent_since = NULL"
            ),
            {"d": device},
        )
    v = visit()
    v.login(servers["internal"].url, "/hq", "hq", demo_users["hq"])
    marker = v.page.locator(f".gisapp-unit-marker[data-device-id='{device}']")
    marker.wait_for(timeout=20_000)
    assert "gisapp-offline" not in (marker.get_attribute("class") or "")
    assert marker.get_attribute("data-state") == "online"

    with app_engine.begin() as conn:  # quiet for 6 minutes, then the worker's sweep runs
        conn.execute(
            text(
                "UPDATE sensor.device_status SET last_seen = now() - interval '6 minutes' WHERE device_id = :d"
            ),
            {"d": device},
        )
        assert conn.execute(text("SELECT sensor.mark_silent()")).scalar_one() >= 1
    v.page.wait_for_selector(
        f".gisapp-offline[data-device-id='{device}'][data-state='silent']", timeout=10_000
    )
    # Not by colour alone: the dashed shape and the name say it (the unit list too).
    assert "-dashed" in marker.get_attribute("class") and "途絶" in marker.get_attribute("aria-label")
    listed = v.page.locator(f"#gisapp-unit-list li[data-device-id='{device}']").text_content()  # folded
    assert "途絶" in listed

    with app_engine.begin() as conn:  # heard again: what the worker writes for a new message
        conn.execute(
            text(
                "UPDATE sensor.device_status SET last_seen = now(), silent_since = NULL WHERE device_id = :d"
            ),
            {"d": device},
        )
    v.page.wait_for_selector(
        f".gisapp-unit-marker[data-device-id='{device}']:not(.gisapp-offline)",
        state="attached",
        timeout=10_000,
    )
