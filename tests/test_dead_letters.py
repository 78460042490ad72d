"""Dead letters on the HQ/admin screen and in /healthz, from a real malformed publish through the real
broker and ingest worker: who may read them (payloads may hold positions), the filters, the review
mark (audited, once), the page in Japanese and English, and the count in /healthz."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import text

from gisapp.health import check_dead_letters
from sensors.registry import DeviceKind, DeviceSpec
from sensors.topics import radio_position_topic
from tests.fixtures_data import seed
from tests.support import register_devices, wait_until
from tests.test_ingest import device_client, publish


@pytest.fixture(scope="module")
def accounts(client, app_engine):
    s = seed(app_engine, "deadletters")
    return {who: s.bearer(client, who) for who in ("staff", "hq", "welfare", "admin")}


@pytest.fixture(scope="module")
def unit(settings, app_engine) -> tuple[str, str]:
    return "DL-A", register_devices(
        settings, app_engine, [DeviceSpec("DL-A", DeviceKind.radio_unit, "DL-A")]
    )["DL-A"]


def healthz_count(client) -> int:
    return client.get("/healthz").json()["dead_letters_1h"]


@pytest.fixture(scope="module")
def letters(settings, client, app_engine, unit, accounts, worker_module) -> dict[str, int]:
    """Three bad messages from DL-A (one with markup and a position in it); their ids by marker."""
    before = healthz_count(client)
    c, _ = device_client(settings, *unit)
    payloads = {
        "DLMARK-json": b"{not json DLMARK-json <script>alert(1)</script>",
        "DLMARK-lat": json.dumps({"lat": "35.39", "lon": 139.31, "ts": 1_763_000_000, "m": "DLMARK-lat"}),
        "DLMARK-ts": json.dumps({"lat": 35.39, "lon": 139.31, "m": "DLMARK-ts"}),
    }
    for payload in payloads.values():
        publish(c, radio_position_topic(unit[0]), payload)
    c.disconnect()

    def ids() -> dict[str, int]:
        with app_engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, convert_from(payload, 'UTF8') AS p FROM ingest.dead_letter WHERE topic = :t"
                ),
                {"t": radio_position_topic(unit[0])},
            ).all()
        return {m: r.id for r in rows for m in payloads if m in r.p}

    found = wait_until(lambda: len(ids()) == 3 and ids(), 10)
    # /healthz is cached for a few seconds: the count moves by (at least) our three.
    wait_until(lambda: healthz_count(client) >= before + 3, 10)
    return found


@pytest.fixture(scope="module")
def worker_module(settings, app_engine):
    """The real ingest worker for this module (the conftest one is per test)."""
    import threading

    from gisapp.ops import radio_reports
    from ingest.worker import IngestWorker

    w = IngestWorker(
        app_engine, settings.mqtt_url, radio_reports=radio_reports, batch_wait=0.02, silence_check=60
    )
    t = threading.Thread(target=w.run, daemon=True)
    t.start()
    assert w.connected.wait(10)
    yield w
    w.stop()
    t.join(10)


def test_who_may_read_dead_letters(client, accounts, letters):
    assert client.get("/api/dead-letters").status_code == 401
    for who in ("staff", "welfare"):
        r = client.get("/api/dead-letters", headers=accounts[who])
        assert r.status_code == 403, who
        assert r.json()["error"]["message_ja"] and r.json()["error"]["message_en"]
        assert "DLMARK" not in r.text
        assert client.get("/api/dead-letters/summary", headers=accounts[who]).status_code == 403
        assert (
            client.post("/api/dead-letters/review", json={"ids": [1]}, headers=accounts[who]).status_code
            == 403
        )
    for who in ("hq", "admin"):
        r = client.get("/api/dead-letters", params={"device": "DL-A"}, headers=accounts[who])
        assert r.status_code == 200, who
        assert r.headers["cache-control"] == "no-store"  # payloads may hold positions


def test_a_malformed_publish_is_listed_with_its_reason(client, accounts, letters):
    items = client.get("/api/dead-letters", params={"device": "DL-A"}, headers=accounts["hq"]).json()["items"]
    by_id = {d["id"]: d for d in items}
    assert set(letters.values()) <= set(by_id)
    lat = by_id[letters["DLMARK-lat"]]
    assert lat["reason_code"] == "invalid_payload" and "lat" in lat["reason"]
    assert lat["device_id"] == "DL-A" and lat["topic"] == radio_position_topic("DL-A")
    assert "DLMARK-lat" in lat["payload_text"] and lat["payload_size"] == len(lat["payload_text"].encode())
    assert len(lat["payload_sha256"]) == 64 and lat["reviewed_at"] is None
    assert by_id[letters["DLMARK-json"]]["reason_code"] == "invalid_json"
    assert by_id[letters["DLMARK-ts"]]["reason_code"] == "invalid_payload"
    # Filters: by reason, by another device; paging with before.
    only = client.get(
        "/api/dead-letters", params={"device": "DL-A", "reason": "invalid_json"}, headers=accounts["hq"]
    ).json()["items"]
    assert [d["id"] for d in only] == [letters["DLMARK-json"]]
    other = client.get("/api/dead-letters", params={"device": "NOBODY"}, headers=accounts["hq"]).json()
    assert other == {"items": [], "next_before": None}
    page = client.get(
        "/api/dead-letters", params={"device": "DL-A", "limit": 2}, headers=accounts["hq"]
    ).json()
    assert len(page["items"]) == 2 and page["next_before"] == page["items"][-1]["id"]
    rest = client.get(
        "/api/dead-letters", params={"device": "DL-A", "before": page["next_before"]}, headers=accounts["hq"]
    ).json()["items"]
    assert {d["id"] for d in page["items"]} | {d["id"] for d in rest} >= set(letters.values())
    summary = client.get("/api/dead-letters/summary", headers=accounts["admin"]).json()
    counts = {c["reason_code"]: c for c in summary["by_reason"]}
    assert counts["invalid_payload"]["last_hour"] >= 2 and counts["invalid_json"]["last_24h"] >= 1
    assert summary["last_hour"] >= 3


@pytest.mark.parametrize(
    "params", [{"device": "../etc"}, {"reason": "DROP TABLE"}, {"limit": 0}, {"limit": 501}, {"before": -1}]
)
def test_filters_no_letter_can_match_are_a_422(client, accounts, params):
    r = client.get("/api/dead-letters", params=params, headers=accounts["hq"])
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message_ja"] and r.json()["error"]["message_en"]


def test_marking_reviewed_is_audited_once(client, accounts, letters, app_engine):
    target = letters["DLMARK-ts"]
    r = client.post("/api/dead-letters/review", json={"ids": [target]}, headers=accounts["hq"])
    assert r.status_code == 200 and r.json() == {"reviewed": [target]}
    again = client.post("/api/dead-letters/review", json={"ids": [target]}, headers=accounts["admin"])
    assert again.json() == {"reviewed": []}  # the first mark stays
    item = next(
        d
        for d in client.get("/api/dead-letters", params={"device": "DL-A"}, headers=accounts["hq"]).json()[
            "items"
        ]
        if d["id"] == target
    )
    assert item["reviewed_by"] == "deadletters-hq" and item["reviewed_at"]
    unreviewed = client.get(
        "/api/dead-letters", params={"device": "DL-A", "unreviewed": "true"}, headers=accounts["hq"]
    ).json()["items"]
    assert target not in {d["id"] for d in unreviewed} and letters["DLMARK-lat"] in {
        d["id"] for d in unreviewed
    }
    with app_engine.connect() as conn:
        audited = conn.execute(
            text("SELECT actor, details FROM audit.log WHERE action = 'dead_letter.review' ORDER BY id")
        ).all()
    assert ("deadletters-hq", {"count": 1, "ids": [target]}) in [(a.actor, a.details) for a in audited]
    for bad in ({"ids": []}, {"ids": ["x"]}, {"ids": [0]}, {"other": 1}):
        r = client.post("/api/dead-letters/review", json=bad, headers=accounts["hq"])
        assert r.status_code == 422, bad


def test_the_page_in_japanese_and_english(client, accounts, letters):
    r = client.get("/hq/dead-letters", params={"device": "DL-A"}, headers=accounts["hq"])
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    html = r.text
    assert '<html lang="ja">' in html and "デッドレター" in html and "理由別の件数" in html
    assert (
        html.count("<caption>") == 4 and 'scope="col"' in html and 'scope="row"' in html
    )  # counts, device alerts, ignored, letters
    # Device input is text, never markup; the page has no script and no inline style at all.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "<script" not in html and "style=" not in html
    assert re.search(r'<link rel="stylesheet" href="/static/css/dead_letters.css\?v=\w+">', html)
    assert f'value="{letters["DLMARK-lat"]}"' in html  # a checkbox to mark it reviewed
    en = client.get("/hq/dead-letters", params={"lang": "en", "device": "DL-A"}, headers=accounts["admin"])
    assert en.status_code == 200 and '<html lang="en">' in en.text
    assert "Dead letters" in en.text and "Counts per reason" in en.text and "デッドレター（" not in en.text
    bad = client.get("/hq/dead-letters", params={"device": "../x", "lang": "en"}, headers=accounts["hq"])
    assert bad.status_code == 422 and "Not a device id." in bad.text and 'role="alert"' in bad.text


def test_the_page_is_for_hq_and_admin_only(client, accounts):
    anon = client.get("/hq/dead-letters?lang=en", follow_redirects=False)
    assert anon.status_code == 303 and anon.headers["location"].startswith("/login?next=%2Fhq%2Fdead-letters")
    for who in ("staff", "welfare"):
        r = client.get("/hq/dead-letters", headers=accounts[who])
        assert r.status_code == 403 and "DLMARK" not in r.text
        r = client.post(
            "/hq/dead-letters/review", data={"ids": ["1"]}, headers=accounts[who], follow_redirects=False
        )
        assert r.status_code == 403


def test_the_page_form_refuses_ids_out_of_range(client, accounts):
    for bad in ("99999999999999999999999", "-1", "x"):
        r = client.post("/hq/dead-letters/review", data={"ids": [bad]}, headers=accounts["hq"])
        assert r.status_code == 422, bad


def test_the_page_form_marks_reviewed_and_comes_back(client, accounts, letters):
    target = letters["DLMARK-json"]
    r = client.post(
        "/hq/dead-letters/review",
        data={"ids": [str(target)], "lang": "en", "device": "DL-A"},
        headers=accounts["admin"],
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/hq/dead-letters?lang=en&device=DL-A&marked=1"
    page = client.get(r.headers["location"], headers=accounts["admin"]).text
    assert "1 marked as reviewed." in page and 'role="status"' in page
    assert f'name="ids" value="{target}"' not in page  # reviewed: no checkbox any more


def test_healthz_counts_and_turns_degraded_above_the_threshold(client, app_engine, letters):
    body = client.get("/healthz").json()
    assert body["dead_letters_1h"] >= 3 and "dead_letters" in body
    check = check_dead_letters(app_engine, threshold=10**9)
    assert check.ok and check.count >= 3
    assert not check_dead_letters(app_engine, threshold=0).ok  # DLMARK-lat is still unreviewed


def test_the_api_is_documented_with_its_errors(client):
    paths = client.app.openapi()["paths"]
    assert {"401", "403", "422"} <= set(paths["/api/dead-letters"]["get"]["responses"])
    assert "/api/dead-letters/review" in paths and "/hq/dead-letters" not in paths


def test_many_unreviewed_letters_call_for_attention_without_taking_the_api_out(
    settings, app_engine, letters, monkeypatch
):
    """Past the threshold /healthz says "attention" with 200: a load balancer or compose healthcheck must
    not stop serving citizens because a device sends junk; only a failed database or broker is 503."""
    from functools import partial

    from fastapi.testclient import TestClient

    from gisapp import health
    from gisapp.app import create_app

    monkeypatch.setattr(health, "check_dead_letters", partial(check_dead_letters, threshold=0))
    with TestClient(create_app(settings)) as c:
        r = c.get("/healthz")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "attention" and not r.json()["dead_letters"]["ok"]
    assert r.json()["database"]["ok"] and r.json()["broker"]["ok"]
