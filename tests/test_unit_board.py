"""The unit board against the real stack (issue 14): a radio that said ``{"online": false}`` over real
MQTT is not recommended (Wrong 1) and its dispatch needs confirmation; duty states 待機 / 出動中 / 現着 /
帰署 / 休止 follow the assignment or the HQ, each change an event with its chronology entry; the board
answer; one unit's track as a bounded, ordered line; gauge sums without float noise (Wrong 6)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from gisapp.ops.radio_units import TRACK_POINTS
from ingest.gauges import record_observations
from ingest.payloads import GaugeObservation
from sensors import registry
from sensors.registry import DeviceKind, DeviceSpec
from sensors.topics import radio_position_topic
from tests.fixtures_data import seed
from tests.support import listen_events, register_devices, wait_until
from tests.test_device_status import connect
from tests.test_ingest import publish

# Apart from the other modules' spots: recommendations rank by distance.
SPOT = (139.2600, 35.4300)


@pytest.fixture(scope="module")
def hq(client, app_engine):
    return seed(app_engine, "unitboard").bearer(client, "hq")


@pytest.fixture(scope="module")
def radios(settings, app_engine) -> dict[str, str]:
    specs = [
        DeviceSpec(f"UB-{k}", DeviceKind.radio_unit, f"消防{k}号") for k in ("NEAR", "FAR", "DUTY", "TRK")
    ]
    return register_devices(settings, app_engine, specs)


@pytest.fixture(scope="module")
def disaster(client, hq) -> int:
    r = client.post("/api/disasters", json={"name": "令和8年台風第10号（無線機状況試験）"}, headers=hq)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def new_incident(client, hq, disaster, lon=SPOT[0], lat=SPOT[1]) -> dict:
    body = {"category": "rescue", "title": "要救助（無線機状況試験）", "lon": lon, "lat": lat}
    r = client.post(f"/api/disasters/{disaster}/incidents", json=body, headers=hq)
    assert r.status_code == 201, r.text
    return r.json()


def comm_state(client, hq, device: str) -> str:
    return {r["device_id"]: r["state"] for r in client.get("/api/devices/status", headers=hq).json()}[device]


def unit_log(app_engine, unit: str) -> list[tuple[str, str, str]]:
    with app_engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT kind, summary_ja, summary_en FROM ops.hq_log WHERE unit_id = :u AND kind = 'unit'"
                    " ORDER BY id"
                ),
                {"u": unit},
            )
        ]


def test_wrong_1_a_radio_that_said_offline_is_not_recommended(settings, client, hq, radios, disaster, worker):
    """Over real MQTT: the nearest radio sends ``{"online": false}`` (its explicit goodbye, as the
    last will would); it must not lead the recommendations — it is listed apart as 通信途絶."""
    now = int(time.time())
    near = connect(settings, "UB-NEAR", radios["UB-NEAR"], will=False)
    far = connect(settings, "UB-FAR", radios["UB-FAR"], will=False)
    publish(
        near, radio_position_topic("UB-NEAR"), json.dumps({"lat": SPOT[1], "lon": SPOT[0] + 0.001, "ts": now})
    )
    publish(
        far, radio_position_topic("UB-FAR"), json.dumps({"lat": SPOT[1], "lon": SPOT[0] + 0.01, "ts": now})
    )
    wait_until(lambda: comm_state(client, hq, "UB-NEAR") == "online", 10)
    wait_until(lambda: comm_state(client, hq, "UB-FAR") == "online", 10)
    incident = new_incident(client, hq, disaster)
    url = f"/api/incidents/{incident['id']}/recommendations"
    first = client.get(url, headers=hq).json()
    assert [r["device_id"] for r in first["units"]][:2] == ["UB-NEAR", "UB-FAR"]

    publish(near, "gisapp/v1/radio/UB-NEAR/status", json.dumps({"online": False}))
    wait_until(lambda: comm_state(client, hq, "UB-NEAR") == "offline", 10)
    answer = client.get(url, headers=hq).json()
    assert "UB-NEAR" not in [r["device_id"] for r in answer["units"]]
    assert answer["units"][0]["device_id"] == "UB-FAR"
    apart = {u["device_id"]: u for u in answer["unavailable"]}
    assert apart["UB-NEAR"]["reason"] == "offline" and apart["UB-NEAR"]["reason_ja"] == "通信途絶"

    # Dispatching it anyway asks for confirmation (409, both languages), and nothing is stored.
    refused = client.post(
        f"/api/incidents/{incident['id']}/assignments", json={"unit_id": "UB-NEAR"}, headers=hq
    )
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["needs_confirmation"] is True and error["comm_state"] == "offline"
    assert "通信途絶" in error["message_ja"] and "out of contact" in error["message_en"]
    assert client.get(f"/api/incidents/{incident['id']}", headers=hq).json()["assignments"] == []
    confirmed = client.post(
        f"/api/incidents/{incident['id']}/assignments",
        json={"unit_id": "UB-NEAR", "confirm_offline": True, "note": "携帯電話で連絡済み"},
        headers=hq,
    )
    assert confirmed.status_code == 201, confirmed.text
    client.patch(f"/api/assignments/{confirmed.json()['id']}", json={"state": "cleared"}, headers=hq)

    # Heard again: recommended again.
    publish(
        near,
        radio_position_topic("UB-NEAR"),
        json.dumps({"lat": SPOT[1], "lon": SPOT[0] + 0.001, "ts": now + 5}),
    )
    wait_until(lambda: comm_state(client, hq, "UB-NEAR") == "online", 10)
    assert "UB-NEAR" in [r["device_id"] for r in client.get(url, headers=hq).json()["units"]]
    for c in (near, far):
        c.disconnect()
        c.loop_stop()


def test_a_silent_radio_is_not_recommended_either(client, hq, radios, disaster, app_engine):
    with app_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sensor.radio_position (device_id, device_ts, geom) VALUES "
                "('UB-DUTY', now() - interval '6 minutes', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
                " ON CONFLICT DO NOTHING"
            ),
            {"lon": SPOT[0] - 0.0005, "lat": SPOT[1]},
        )
        conn.execute(
            text(
                "INSERT INTO sensor.device_status (device_id, last_seen) VALUES ('UB-DUTY', now() - interval '6 minutes')"
                " ON CONFLICT (device_id) DO UPDATE SET last_seen = EXCLUDED.last_seen, last_will_at = NULL"
            )
        )
    incident = new_incident(client, hq, disaster)
    answer = client.get(f"/api/incidents/{incident['id']}/recommendations?limit=50", headers=hq).json()
    assert "UB-DUTY" not in [r["device_id"] for r in answer["units"]]
    assert {u["device_id"]: u["reason"] for u in answer["unavailable"]}["UB-DUTY"] == "silent"
    with app_engine.begin() as conn:  # heard again, for the next tests
        conn.execute(text("UPDATE sensor.device_status SET last_seen = now() WHERE device_id = 'UB-DUTY'"))


def board_row(client, hq, unit: str) -> dict:
    return next(u for u in client.get("/api/units", headers=hq).json()["units"] if u["device_id"] == unit)


def test_duty_states_follow_the_assignment_and_the_hq(
    settings, client, hq, radios, disaster, app_engine, owner_engine
):
    with app_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sensor.radio_position (device_id, device_ts, geom, battery_pct) VALUES "
                "('UB-DUTY', now(), ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 64) ON CONFLICT DO NOTHING"
            ),
            {"lon": SPOT[0] - 0.0005, "lat": SPOT[1]},
        )
        conn.execute(  # heard just now, whether or not the worker has written its status yet
            text(
                "INSERT INTO sensor.device_status (device_id, last_seen) VALUES ('UB-DUTY', now())"
                " ON CONFLICT (device_id) DO UPDATE SET last_seen = now(), last_will_at = NULL"
            )
        )
    row = board_row(client, hq, "UB-DUTY")
    assert (row["duty_state"], row["duty_ja"], row["comm_state"]) == ("standby", "待機", "online")
    assert row["battery_pct"] == 64 and row["position_ts"] and row["incident_id"] is None
    incident = new_incident(client, hq, disaster)
    duty_url = "/api/units/UB-DUTY/duty"

    # 出動中 and 現着 are not the HQ's to set: they follow the assignment.
    for state in ("dispatched", "on_scene", "resting"):
        assert client.post(duty_url, json={"state": state}, headers=hq).status_code == 422
    with listen_events(settings) as events:
        a = client.post(
            f"/api/incidents/{incident['id']}/assignments", json={"unit_id": "UB-DUTY"}, headers=hq
        )
        assert a.status_code == 201, a.text
        pushed = events.wait_for(lambda e: e["type"] == "unit_duty" and e["unit_id"] == "UB-DUTY")
        assert (pushed["state"], pushed["from_state"], pushed["incident_id"]) == (
            "dispatched", "standby", incident["id"]
        )  # fmt: skip
    row = board_row(client, hq, "UB-DUTY")
    assert (row["duty_state"], row["incident_id"]) == ("dispatched", incident["id"])
    # While it is out, the HQ cannot put it on standby or off duty; nothing is stored.
    held = client.post(duty_url, json={"state": "off_duty"}, headers=hq)
    assert held.status_code == 409 and str(incident["id"]) in held.json()["error"]["message_ja"]
    assignment = f"/api/assignments/{a.json()['id']}"
    assert client.patch(assignment, json={"state": "on_scene"}, headers=hq).status_code == 200
    assert board_row(client, hq, "UB-DUTY")["duty_state"] == "on_scene"
    assert client.patch(assignment, json={"state": "cleared"}, headers=hq).status_code == 200
    row = board_row(client, hq, "UB-DUTY")
    assert (row["duty_state"], row["duty_ja"], row["incident_id"]) == (
        "returning",
        "帰署",
        None,
    )  # on its way back

    ok = client.post(duty_url, json={"state": "standby", "note": "帰署確認"}, headers=hq)
    assert ok.status_code == 200 and ok.json()["duty_state"] == "standby"
    off = client.post(duty_url, json={"state": "off_duty", "note": "燃料補給"}, headers=hq)
    assert off.status_code == 200 and off.json()["duty_ja"] == "休止"
    # Off duty: not recommended (listed apart as 休止) and not dispatched.
    answer = client.get(f"/api/incidents/{incident['id']}/recommendations?limit=50", headers=hq).json()
    assert "UB-DUTY" not in [r["device_id"] for r in answer["units"]]
    assert {u["device_id"]: u["reason"] for u in answer["unavailable"]}["UB-DUTY"] == "off_duty"
    refused = client.post(
        f"/api/incidents/{incident['id']}/assignments", json={"unit_id": "UB-DUTY"}, headers=hq
    )
    assert refused.status_code == 409 and "休止" in refused.json()["error"]["message_ja"]
    assert client.post(duty_url, json={"state": "standby"}, headers=hq).status_code == 200

    # The history, newest first. The chronology says each thing once: a duty the HQ sets is an entry of
    # its own (kind 'unit'); a duty that follows the assignment is the incident's dispatch entry.
    history = client.get(duty_url, headers=hq).json()
    assert [(h["from_state"], h["state"]) for h in reversed(history)] == [
        ("standby", "dispatched"),
        ("dispatched", "on_scene"),
        ("on_scene", "returning"),
        ("returning", "standby"),
        ("standby", "off_duty"),
        ("off_duty", "standby"),
    ]
    log = unit_log(app_engine, "UB-DUTY")
    assert [entry[1] for entry in log] == [
        "無線機 消防DUTY号（UB-DUTY）：帰署 → 待機　帰署確認",
        "無線機 消防DUTY号（UB-DUTY）：待機 → 休止　燃料補給",
        "無線機 消防DUTY号（UB-DUTY）：休止 → 待機",
    ]
    assert log[1][2] == "Radio unit 消防DUTY号 (UB-DUTY): standby → off duty 燃料補給"
    with app_engine.connect() as conn:
        dispatch_entries = conn.execute(
            text("SELECT summary_ja FROM ops.hq_log WHERE unit_id = 'UB-DUTY' AND kind = 'dispatch' ORDER BY id")
        ).scalars().all()  # fmt: skip
    assert len(dispatch_entries) == 3  # dispatched, on scene, cleared: once each
    assert "出動" in dispatch_entries[0] and "現着" in dispatch_entries[1] and "解除" in dispatch_entries[2]
    with app_engine.connect() as conn:
        disasters = conn.execute(
            text("SELECT DISTINCT disaster_id FROM ops.hq_log WHERE unit_id = 'UB-DUTY' AND incident_id IS NOT NULL")
        ).scalars().all()  # fmt: skip
        assert disasters == [disaster]
    # Append-only, even for the owner: the history cannot be rewritten.
    with owner_engine.connect() as conn, pytest.raises(Exception, match="append-only"):
        conn.execute(text("UPDATE ops.duty_event SET state = 'standby' WHERE unit_id = 'UB-DUTY'"))


def test_a_dispatch_note_of_any_allowed_length_is_taken(client, hq, radios, disaster):
    """The dispatch takes notes up to 2000 characters; the duty that follows it keeps the first 500 (it
    answered 500 when the whole note went into the duty history, found by the schemathesis run)."""
    incident = new_incident(client, hq, disaster, lon=SPOT[0] + 0.01)
    note = "現場は片側通行。" * 250  # 2000 characters
    a = client.post(
        f"/api/incidents/{incident['id']}/assignments",
        json={"unit_id": "UB-TRK", "note": note, "confirm_offline": True},
        headers=hq,
    )
    assert a.status_code == 201, a.text
    cleared = client.patch(
        f"/api/assignments/{a.json()['id']}", json={"state": "cleared", "note": note}, headers=hq
    )
    assert cleared.status_code == 200, cleared.text
    history = client.get("/api/units/UB-TRK/duty", headers=hq).json()
    assert history[0]["state"] == "returning" and history[0]["note"] == note[:500]


def test_a_team_duty_goes_with_its_radio_and_bad_targets_are_refused(
    client, hq, radios, disaster, app_engine
):
    team = f"UB-T{int(time.time() * 1000) % 100000}"
    r = client.put(
        f"/api/teams/{team}", json={"name": "無線機状況試験班", "radio_unit_id": "UB-TRK"}, headers=hq
    )
    assert r.status_code == 200, r.text
    off = client.post(f"/api/teams/{team}/duty", json={"state": "off_duty"}, headers=hq)
    assert off.status_code == 200 and off.json()["duty_state"] == "off_duty"
    assert board_row(client, hq, "UB-TRK")["duty_state"] == "off_duty"  # the radio it carries too
    teams = {t["team_id"]: t for t in client.get("/api/units", headers=hq).json()["teams"]}
    assert teams[team]["duty_state"] == "off_duty" and teams[team]["radio_unit_id"] == "UB-TRK"
    incident = new_incident(client, hq, disaster)
    refused = client.post(f"/api/incidents/{incident['id']}/assignments", json={"team_id": team}, headers=hq)
    assert refused.status_code == 409 and refused.json()["error"]["duty_state"] == "off_duty"
    assert client.post(f"/api/teams/{team}/duty", json={"state": "standby"}, headers=hq).status_code == 200
    assert board_row(client, hq, "UB-TRK")["duty_state"] == "standby"
    assert [e["state"] for e in client.get(f"/api/teams/{team}/duty", headers=hq).json()] == [
        "standby",
        "off_duty",
    ]
    # Unknown unit or team: 404 with both languages; a setting of the same state changes nothing.
    for url in ("/api/units/NOPE/duty", "/api/teams/NOPE/duty"):
        missing = client.post(url, json={"state": "standby"}, headers=hq)
        assert missing.status_code == 404 and missing.json()["error"]["message_ja"]
    before = len(unit_log(app_engine, "UB-TRK"))
    assert client.post("/api/units/UB-TRK/duty", json={"state": "standby"}, headers=hq).status_code == 200
    assert len(unit_log(app_engine, "UB-TRK")) == before
    assert client.post("/api/units/UB-TRK/duty", json={"state": "standby"}).status_code == 401


# ----------------------------------------------------------------------------------------- track
def test_track_is_an_ordered_bounded_line(client, hq, radios, app_engine):
    t0 = datetime(2026, 9, 1, 0, 0, tzinfo=UTC)
    with app_engine.begin() as conn:
        # Stored out of order: a zig-zag every 30 s for 5 days (14,400 positions).
        conn.execute(
            text(
                """INSERT INTO sensor.radio_position (device_id, device_ts, geom)
                   SELECT 'UB-TRK', CAST(:t0 AS timestamptz) + n * interval '30 seconds',
                          ST_SetSRID(ST_MakePoint(139.26 + (n % 100) * 0.0001, 35.43 + (n % 2) * 0.0005), 4326)
                     FROM generate_series(14399, 0, -1) AS n ON CONFLICT DO NOTHING"""
            ),
            {"t0": t0},
        )
    url = "/api/units/UB-TRK/track"
    short = client.get(
        url, params={"from": t0.isoformat(), "to": (t0 + timedelta(minutes=10)).isoformat()}, headers=hq
    )
    assert short.status_code == 200, short.text
    f = short.json()
    assert f["geometry"]["type"] == "LineString" and f["properties"]["positions"] == 21
    assert f["properties"]["vertices"] == 21 and f["properties"]["simplified"] is False  # a zig-zag: all kept
    times = f["properties"]["times"]
    assert times == sorted(times) and len(times) == 21
    assert datetime.fromisoformat(times[0]) == t0 and f["geometry"]["coordinates"][0] == [139.26, 35.43]

    long = client.get(
        url, params={"from": t0.isoformat(), "to": (t0 + timedelta(days=5)).isoformat()}, headers=hq
    )
    p = long.json()["properties"]
    assert p["positions"] == 14400 and p["simplified"] is True
    assert 2 <= p["vertices"] <= TRACK_POINTS and p["times"] == sorted(p["times"])

    one = client.get(
        url, params={"from": t0.isoformat(), "to": (t0 + timedelta(seconds=10)).isoformat()}, headers=hq
    )
    assert one.json()["geometry"] == {"type": "Point", "coordinates": [139.26, 35.43]}
    empty = client.get(
        url, params={"from": "2020-01-01T00:00:00+09:00", "to": "2020-01-01T01:00:00+09:00"}, headers=hq
    )
    assert empty.status_code == 200 and empty.json()["geometry"] is None
    assert empty.json()["properties"]["positions"] == 0

    bad = {
        "reversed": ({"from": (t0 + timedelta(hours=1)).isoformat(), "to": t0.isoformat()}, 422),
        "8 days": ({"from": t0.isoformat(), "to": (t0 + timedelta(days=8)).isoformat()}, 422),
        "no offset": ({"from": "2026-09-01T00:00:00", "to": t0.isoformat()}, 422),
    }
    for case, (params, status) in bad.items():
        r = client.get(url, params=params, headers=hq)
        assert r.status_code == status, case
        assert r.json()["error"]["message_ja"], case
    assert client.get("/api/units/NOPE/track", headers=hq).status_code == 404
    assert client.get(url).status_code == 401


# ------------------------------------------------------------------------------------ Wrong 6
def test_wrong_6_gauge_sums_carry_no_float_noise(client, hq, app_engine):
    """Ten 10-minute values of 21.7 mm summed as doubles make 216.99999999999994: the 連続雨量 the
    tooltip showed. The sums are exact at their source: the state, the series and the pushed event."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with app_engine.begin() as conn:
        registry.ensure_device(
            conn, DeviceSpec("UB-RAIN", DeviceKind.rain_gauge, "試験雨量計", 139.261, 35.431)
        )
    with app_engine.begin() as conn:
        for k in range(10):
            record_observations(
                conn, [GaugeObservation("UB-RAIN", "rain_10min", now - timedelta(minutes=10 * (9 - k)), 21.7)]
            )
    gauges = {f["id"]: f["properties"] for f in client.get("/api/gauges", headers=hq).json()["features"]}
    assert gauges["UB-RAIN"]["continuous"] == 217.0
    assert gauges["UB-RAIN"]["rain_60min"] == 130.2
    series = client.get("/api/gauges/UB-RAIN/series?hours=24", headers=hq).json()["points"]
    assert series[-1]["continuous"] == 217.0 and series[-1]["rain_60min"] == 130.2
    assert [p["continuous"] for p in series] == [round(21.7 * (k + 1), 1) for k in range(10)]
