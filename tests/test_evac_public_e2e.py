"""Evacuation information end to end over real processes: `gisapp serve` (internal) and `gisapp serve
--public --workers 2` (two citizen-facing processes, each with its own LISTEN), headless Chromium on the
citizen map. An order for two areas → the public API, the Atom feed, CAP and the banner (level number
and words, areas shaded) show it on both instances → 解除 removes it everywhere (the banner says 解除).

Until the issuing domain lands, the order is written by tests/evac_support.py as an issuance writes it;
the lead extends this test with the suggestion and issuance steps (POST /api/evacuation-info/orders).

GISAPP_SCREENSHOTS=<folder> keeps the banner's screenshots (phone 390 px and desktop) for a person to look at.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx2 as httpx
import pytest
from lxml import etree

from tests import evac_support as evac
from tests.conftest import free_port
from tests.support import wait_until
from tests.test_evac_public import CAP, cap_valid
from tests.test_multiprocess import Stream
from tests.test_pages_browser import browser  # noqa: F401 - fixture

pytestmark = pytest.mark.browser

INSIDE = {"latitude": evac.INSIDE_KAMI[1], "longitude": evac.INSIDE_KAMI[0]}


def _serve(tmp_path: Path, name: str, *args: str):
    port = free_port()
    env = {**os.environ, "LOG_FORMAT": "text", "LOG_LEVEL": "WARNING"}
    log = (tmp_path / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gisapp.cli", "serve", *args, "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return proc, port, log


def _stop(proc) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture(scope="module")
def instances(settings, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("evac-e2e")
    started = [_serve(tmp, "internal"), _serve(tmp, "public", "--public", "--workers", "2")]

    def healthy(port: int) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        for _, port, _ in started:
            wait_until(lambda port=port: healthy(port), 60)
        yield {"internal": f"http://127.0.0.1:{started[0][1]}", "public": f"http://127.0.0.1:{started[1][1]}"}
    finally:
        for proc, _, log in started:
            _stop(proc)
            log.close()
        for name in ("internal", "public"):
            print((tmp / f"{name}.log").read_text()[-3000:])


def _page(chromium, **options):
    context = chromium.new_context(**options)
    errors: list[str] = []
    # Only our own server: the GSI tiles are refused (the page then draws its own basemap).
    context.route(
        "**/*", lambda route: route.continue_() if "127.0.0.1" in route.request.url else route.abort()
    )
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page, errors


def _shot(page, name: str) -> None:
    folder = os.environ.get("GISAPP_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


def _order_ids(base: str) -> list[int]:
    return [o["id"] for o in httpx.get(f"{base}/api/public/evacuation-info", timeout=10).json()["orders"]]


def test_an_order_reaches_api_feed_cap_and_banner_and_its_cancel_removes_it(instances, browser, owner_engine):  # noqa: F811
    evac.clear(owner_engine)
    evac.ensure_areas(owner_engine)
    public, internal = instances["public"], instances["internal"]

    phone_ctx, phone, phone_errors = _page(
        browser,
        viewport={"width": 390, "height": 780},
        is_mobile=True,
        has_touch=True,
        geolocation=INSIDE,
        permissions=["geolocation"],
    )
    desk_ctx, desk, desk_errors = _page(browser, viewport={"width": 1280, "height": 800})
    try:
        phone.goto(public + "/")
        desk.goto(public + "/?lang=en")
        for page in (phone, desk):
            page.wait_for_selector("#citizen-evac[data-state='none']", timeout=20_000)
            # the push stream is open before the order is written (its first event marks the body)
            page.wait_for_selector("body[data-evac-stream='open']", timeout=20_000)

        order_id = evac.issue(owner_engine, 4, ["T-KAMI", "T-SHIMO"])

        # the public API (either process) and the internal instance
        wait_until(lambda: order_id in _order_ids(public), 10)
        assert order_id in _order_ids(internal)
        # the banner, pushed (no reload): level number and words, the areas, what to do
        selector = f".citizen-order[data-order-id='{order_id}'][data-status='active']"
        for page in (phone, desk):
            page.wait_for_selector(selector, timeout=10_000)
        item = phone.locator(selector).inner_text()
        assert "警戒レベル4" in item and "避難指示" in item and "テスト上町" in item and "テスト下町" in item
        assert "危険な場所から全員避難してください。" in item
        english = desk.locator(selector).inner_text()
        assert "Alert level 4" in english and "Evacuation order" in english
        assert phone.get_attribute("#citizen-evac-announce", "role") == "alert"
        assert "警戒レベル4" in phone.locator("#citizen-evac-announce").inner_text()
        assert phone.locator(f".citizen-order.citizen-level-4[data-order-id='{order_id}']").count() == 1

        # where the resident is (the "現在地" button; the position stays in the browser)
        phone.locator("#citizen-locate").tap()
        phone.wait_for_selector("#citizen-place[data-source='position']", timeout=10_000)
        assert "この場所に発令中" in phone.locator("#citizen-evac").inner_text()
        assert phone.locator(selector).count() == 1
        # the banner is on the first screen of a 390 px phone, above the shelters, and covers nothing
        # Both boxes from one layout (one evaluation): the banner lists every order in force, and
        # another test's order issued or lifted between two separate measurements moved the shelters.
        banner, shelters = phone.evaluate(
            """() => ["#citizen-evac", "#citizen-shelters"].map((s) => {
                const r = document.querySelector(s).getBoundingClientRect();
                return {y: r.y, height: r.height};
            })"""
        )
        assert banner["y"] + 40 <= 780
        assert shelters["y"] >= banner["y"] + banner["height"] - 1
        _shot(phone, "evac-banner-phone-390")
        _shot(desk, "evac-banner-desktop")

        # the Atom feed and CAP, on both instances
        for base in (public, internal):
            feed = etree.fromstring(httpx.get(f"{base}/feeds/evacuation-info.atom", timeout=10).content)
            hrefs = [link.get("href") for link in feed.iter("{http://www.w3.org/2005/Atom}link")]
            assert any(h.endswith(f"/feeds/evacuation-info/{order_id}-1.cap") for h in hrefs)
        cap = httpx.get(f"{public}/feeds/evacuation-info/{order_id}-1.cap", timeout=10)
        assert cap.status_code == 200 and cap.headers["content-type"].startswith("application/cap+xml")
        doc = etree.fromstring(cap.content)
        cap_valid(doc)
        assert doc.findtext(f"{CAP}msgType") == "Alert"

        # 解除: gone from the orders in force everywhere, shown as 解除 on the banner, a Cancel in CAP
        evac.cancel(owner_engine, order_id)
        wait_until(lambda: order_id not in _order_ids(public), 10)
        assert order_id not in _order_ids(internal)
        lifted = f".citizen-lifted[data-order-id='{order_id}'][data-status='cancelled']"
        for page in (phone, desk):
            page.wait_for_selector(lifted, timeout=10_000)
            page.wait_for_selector("#citizen-evac[data-state='none']", timeout=10_000)
        assert "解除" in phone.locator(lifted).inner_text()
        _shot(phone, "evac-banner-phone-390-lifted")
        cancel = etree.fromstring(
            httpx.get(f"{public}/feeds/evacuation-info/{order_id}-2.cap", timeout=10).content
        )
        assert cancel.findtext(f"{CAP}msgType") == "Cancel"
        cap_valid(cancel)
        feed = httpx.get(f"{public}/feeds/evacuation-info.atom", timeout=10).text
        assert f"/feeds/evacuation-info/{order_id}-2.cap" in feed
        assert phone_errors == [] and desk_errors == []
    finally:
        phone_ctx.close()
        desk_ctx.close()


def test_the_loop_a_jma_telegram_a_suggestion_a_person_issues_residents_see_it_and_its_cancel(
    instances,
    browser,  # noqa: F811 - the fixture imported from test_pages_browser
    owner_engine,
    app_engine,
    tmp_path,
):
    """Acceptance: a 土砂災害警戒情報 for the city (`gisapp jma import`, a real process) → a suggestion on
    the HQ event stream → an hq_operator issues 避難指示 for two areas over the API (other staff 403,
    anonymous 401) → the public API, the citizen map's banner, the Atom feed and CAP (valid) show it →
    解除 removes it everywhere."""
    import secrets

    from sqlalchemy import text

    from ingest import jmaxml_build
    from tests.fixtures_data import _layer, seed

    public, internal = instances["public"], instances["internal"]
    evac.clear(owner_engine)
    evac.ensure_areas(owner_engine)
    tag = f"loop{secrets.token_hex(3)}"
    s = seed(app_engine, tag)
    with owner_engine.begin() as conn:
        # Nothing of this kind in force from other tests: the telegram below is what makes it hold.
        conn.execute(text("DELETE FROM ops.jma_condition WHERE info_kind = '土砂災害警戒情報'"))
        hazards = _layer(conn, f"{tag}-hazards", "public", "hazard_area", "MultiPolygon", s.dept_id)
        # A landslide warning area in each of the two test areas (and none in a third place).
        for x in (139.305, 139.325):
            conn.execute(
                text(
                    """INSERT INTO gis.hazard_area (layer_id, hazard_type, name, geom)
                       VALUES (:l, 'landslide_warning', :n, ST_Multi(ST_MakeEnvelope(:x, 35.402, :x + 0.002, 35.404, 4326)))"""
                ),
                {"l": hazards, "n": f"{tag}沢", "x": x},
            )
        criterion = conn.execute(
            text(
                """INSERT INTO ops.issuance_criterion (name, hazard, source, min_level, suggest_level, target,
                                                      jma_area_codes, jma_kind)
                   VALUES (:n, 'landslide', 'jma', 4, 4, 'hazard_areas', '{1421400}', '土砂災害警戒情報')
                   RETURNING id"""
            ),
            {"n": f"{tag} 土砂災害警戒情報 → 避難指示"},
        ).scalar_one()

    def login(who: str) -> dict[str, str]:
        r = httpx.post(
            f"{internal}/api/auth/login",
            json={"username": f"{tag}-{who}", "password": s.passwords[who]},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    hq, staff = login("hq"), login("staff")
    stream = Stream(int(internal.rsplit(":", 1)[1]), hq["Authorization"].removeprefix("Bearer "))
    desk_ctx, desk, desk_errors = _page(browser, viewport={"width": 1280, "height": 800})
    try:
        desk.goto(public + "/")
        desk.wait_for_selector("body[data-evac-stream='open']", timeout=20_000)

        telegram = tmp_path / "vxww50.xml"
        telegram.write_bytes(jmaxml_build.landslide(event_id=f"{tag}土砂災害警戒情報", serial=1))
        run = subprocess.run(
            [sys.executable, "-m", "gisapp.cli", "jma", "import", str(telegram)],
            env={**os.environ, "LOG_FORMAT": "text"}, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr

        # The suggestion reaches the HQ's stream; it names the two areas, with its reason.
        stream.read_until(
            lambda: any(
                e.get("type") == "evac_suggestion" and e.get("state") == "open" for e in stream.events()
            )
        )
        found = httpx.get(f"{internal}/api/evacuation-info/suggestions", headers=hq, timeout=10).json()[
            "suggestions"
        ]
        [suggestion] = [x for x in found if x["criterion_id"] == criterion]
        # (other modules' areas with landslide zones, e.g. the demo's, may be in it too: shared database)
        assert [a for a in suggestion["area_codes"] if a.startswith("T-")] == ["T-KAMI", "T-SHIMO"]
        assert suggestion["level"] == 4
        assert "土砂災害警戒情報" in suggestion["reason_ja"]
        assert any(
            e.get("type") == "evac_suggestion" and e.get("id") == suggestion["id"] for e in stream.events()
        )
        assert evac_order_ids_of(owner_engine, tag) == []  # the machine issued nothing

        body = {"level": 4, "hazard": "landslide", "area_codes": ["T-KAMI", "T-SHIMO"],
                "suggestion_id": suggestion["id"], "reason": f"{tag} 土砂災害警戒情報の発表を受けて"}  # fmt: skip
        assert httpx.post(f"{internal}/api/evacuation-info/orders", json=body, timeout=10).status_code == 401
        assert (
            httpx.post(
                f"{internal}/api/evacuation-info/orders", json=body, headers=staff, timeout=10
            ).status_code
            == 403
        )
        r = httpx.post(f"{internal}/api/evacuation-info/orders", json=body, headers=hq, timeout=10)
        assert r.status_code == 201, r.text
        order = r.json()
        stream.read_until(
            lambda: any(e.get("type") == "evacuation" and e.get("id") == order["id"] for e in stream.events())
        )

        # Residents: the public API, the banner (pushed), the Atom feed and a valid CAP document.
        wait_until(lambda: order["id"] in _order_ids(public), 10)
        selector = f".citizen-order[data-order-id='{order['id']}'][data-status='active']"
        desk.wait_for_selector(selector, timeout=10_000)
        shown = desk.locator(selector).inner_text()
        assert (
            "警戒レベル4" in shown and "避難指示" in shown and "テスト上町" in shown and "テスト下町" in shown
        )
        feed = httpx.get(f"{public}/feeds/evacuation-info.atom", timeout=10).text
        assert f"/feeds/evacuation-info/{order['id']}-1.cap" in feed
        cap = etree.fromstring(
            httpx.get(f"{public}/feeds/evacuation-info/{order['id']}-1.cap", timeout=10).content
        )
        cap_valid(cap)
        assert cap.findtext(f"{CAP}msgType") == "Alert"

        # 解除 over the API: gone from the orders in force, 解除 on the banner, a valid Cancel.
        r = httpx.post(
            f"{internal}/api/evacuation-info/orders/{order['id']}/cancel",
            json={"expected_version": 1, "reason": f"{tag} 土砂災害警戒情報の解除を受けて"}, headers=hq, timeout=10,
        )  # fmt: skip
        assert r.status_code == 200, r.text
        wait_until(lambda: order["id"] not in _order_ids(public), 10)
        desk.wait_for_selector(
            f".citizen-lifted[data-order-id='{order['id']}'][data-status='cancelled']", timeout=10_000
        )
        cancel = etree.fromstring(
            httpx.get(f"{public}/feeds/evacuation-info/{order['id']}-2.cap", timeout=10).content
        )
        cap_valid(cancel)
        assert cancel.findtext(f"{CAP}msgType") == "Cancel"
        assert (
            f"/feeds/evacuation-info/{order['id']}-2.cap"
            in httpx.get(f"{public}/feeds/evacuation-info.atom", timeout=10).text
        )
        # The HQ log has the telegram, the suggestion, the issuance and the 解除, in that order.
        log = httpx.get(f"{internal}/api/hq-log?limit=200", headers=staff, timeout=10).json()["entries"]
        mine = [
            (e["kind"], e["ref"].get("action"))
            for e in reversed(log)
            if e["ref"].get("event_id") == f"{tag}土砂災害警戒情報"
            or e["ref"].get("criterion_id") == criterion
            or e["ref"].get("order_id") == order["id"]
        ]
        # the telegram, the suggestion, then the issuance and the 解除 (in the shared database the same
        # criterion may suggest again meanwhile for other areas, or after the 解除 while the warning holds)
        assert mine[:2] == [("jma", None), ("suggestion", None)], mine
        assert [a for k, a in mine if k == "evacuation"] == ["issue", "cancel"], mine
        assert [e for e in log if e["ref"].get("order_id") == order["id"]][0]["ref"]["action"] == "cancel"
        assert desk_errors == []
    finally:
        stream.sock.close()
        desk_ctx.close()
        with owner_engine.begin() as conn:
            conn.execute(
                text("UPDATE ops.issuance_criterion SET enabled = false WHERE id = :c"), {"c": criterion}
            )


def evac_order_ids_of(owner_engine, tag: str) -> list[int]:
    from sqlalchemy import text

    with owner_engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT id FROM ops.evac_order WHERE reason LIKE :t"), {"t": f"%{tag}%"}
            ).scalars()
        )
