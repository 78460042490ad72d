"""Wrong 5 (issue 14), the citizen side: a public 通行止め incident read "未対応" (or "対応中") to citizens
in the public incidents JSON and in /api/public/here, where HQ's handling status means nothing to a
resident: the road is closed until HQ marks the closure done. Also the replay's "map at time T" carries
the road closures in force at T."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from frontend.catalogue import text as catalogue_text
from gisapp.ops.public_incidents import CLOSURE_STATES
from tests.fixtures_data import _layer, seed

SPOT = (139.4300, 35.4700)  # apart from the other modules' spots


@pytest.fixture(scope="module")
def hq(client, app_engine):
    return seed(app_engine, "rclos").bearer(client, "hq")


def _incident(client, hq, disaster_id: int, category: str) -> dict:
    body = {
        "category": category,
        "title": "冠水で通行止め",
        "lon": SPOT[0],
        "lat": SPOT[1],
        "source": "phone",
    }
    r = client.post(f"/api/disasters/{disaster_id}/incidents", json=body, headers=hq)
    assert r.status_code == 201, r.text
    return r.json()


def _status(client, hq, incident: dict, status: str) -> dict:
    r = client.patch(
        f"/api/incidents/{incident['id']}",
        json={"status": status},
        headers={**hq, "If-Match": f'"{incident["version"]}"'},
    )
    assert r.status_code == 200, r.text
    return r.json()


def _public(http, incident_id: int) -> dict:
    features = http.get("/api/public/incidents").json()["features"]
    return next(f["properties"] for f in features if f["id"] == incident_id)


def _here(http, incident_id: int) -> dict:
    r = http.get("/api/public/here", params={"lat": SPOT[1], "lon": SPOT[0]})
    assert r.status_code == 200, r.text
    return next(i for i in r.json()["incidents"] if i["id"] == incident_id)


@pytest.mark.parametrize("instance", ["internal", "public"])
def test_wrong5_a_public_road_closure_reads_closed_not_unhandled_to_citizens(
    instance, client, public_client, hq
):
    http = client if instance == "internal" else public_client
    d = client.post("/api/disasters", json={"name": f"通行止め表示試験 {instance}"}, headers=hq).json()["id"]
    closure = _incident(client, hq, d, "road_closure")  # 未対応 for HQ
    for read in (_public(http, closure["id"]), _here(http, closure["id"])):
        assert (read["status_ja"], read["status_en"]) == ("通行止め", "Road closed"), read
        assert (read["road_closure"], read["state"]) == (True, "closed")
        assert read["status"] == "unhandled"  # HQ's value stays for programs that know it
    closure = _status(client, hq, closure, "in_progress")
    assert _public(http, closure["id"])["status_ja"] == "通行止め"
    _status(client, hq, closure, "done")
    reopened = _public(http, closure["id"])
    assert (reopened["status_ja"], reopened["state"]) == ("通行できます", "reopened")
    # Any other public category keeps HQ's words.
    code = f"rclos_{instance}"
    r = client.post(
        "/api/incident-categories",
        json={"code": code, "name_ja": "試験種別", "name_en": "Test", "public": True, "sort": 900},
        headers=hq,
    )
    assert r.status_code in (201, 409), r.text
    read = _public(http, _incident(client, hq, d, code)["id"])
    assert (read["status_ja"], read["road_closure"], read["state"]) == ("未対応", False, "unhandled")


def test_the_closure_words_are_the_closure_symbols():
    for lang, index in (("ja", 0), ("en", 1)):
        labels = catalogue_text(lang, "symbols.closure")
        assert {state: words[index] for state, words in CLOSURE_STATES.items()} == {
            state: labels[state]["label"] for state in CLOSURE_STATES
        }


def test_the_map_at_time_t_carries_the_road_closures_in_force(client, hq, app_engine):
    s = seed(app_engine, "rclos")
    with app_engine.begin() as conn:
        conn.execute(text("SELECT set_config('gisapp.roles', 'admin', true)"))
        layer = _layer(conn, "rclos-roads", "public", "road_segment", "MultiLineString", s.dept_id)
        road = conn.execute(
            text(
                """INSERT INTO gis.road_segment (layer_id, route_no, route_name, road_class, geom)
                   VALUES (:l, 'RC-1', '時刻試験線', '2級',
                           ST_Multi(ST_SetSRID(ST_MakeLine(ST_MakePoint(:x, :y), ST_MakePoint(:x + 0.004, :y)), 4326)))
                   ON CONFLICT (layer_id, route_no) DO UPDATE SET route_name = EXCLUDED.route_name RETURNING id"""
            ),
            {"l": layer, "x": SPOT[0], "y": SPOT[1] + 0.003},
        ).scalar_one()
    d = client.post("/api/disasters", json={"name": "通行止め時刻試験"}, headers=hq).json()["id"]
    before = datetime.now(UTC)
    closed = client.post("/api/road-closures", json={"road_segment_id": road, "reason": "土砂"}, headers=hq)
    assert closed.status_code == 201, closed.text
    during = datetime.now(UTC)
    assert client.post(f"/api/road-closures/{closed.json()['id']}/reopen", headers=hq).status_code == 200

    def at(t: datetime) -> list[int]:
        r = client.get(f"/api/disasters/{d}/at", params={"t": t.isoformat()}, headers=hq)
        assert r.status_code == 200, r.text
        return [c["id"] for c in r.json()["closures"]]

    assert closed.json()["id"] not in at(before)
    assert closed.json()["id"] in at(during)
    shown = next(
        c for c in client.get(f"/api/disasters/{d}/at", params={"t": during.isoformat()}, headers=hq).json()["closures"]
        if c["id"] == closed.json()["id"]
    )  # fmt: skip
    assert shown["geometry"]["type"] == "MultiLineString" and shown["route_name"] == "時刻試験線"
    assert closed.json()["id"] not in at(datetime.now(UTC))
