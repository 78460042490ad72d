"""MQTT -> PostGIS against the real broker and database: per-device credentials and ACL, storage,
dead letters, idempotent redelivery, and acknowledgement only after COMMIT."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from sqlalchemy import text

from sensors.registry import DeviceKind, DeviceSpec
from sensors.topics import radio_position_topic
from tests.support import register_devices, shared_data, wait_until

OWNTRACKS = ("owntracks",)


@pytest.fixture(scope="module")
def devices(settings, app_engine) -> dict[str, str]:
    """Radio units with their own passwords, written into the broker's password/ACL files."""
    specs = [DeviceSpec(dev, DeviceKind.radio_unit, f"試験無線 {dev}") for dev in ("IT-A", "IT-B", "IT-C")]
    return register_devices(settings, app_engine, specs)


def device_client(settings, device_id: str, password: str | None) -> tuple[mqtt.Client, dict]:
    state: dict = {}
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv5)
    if password is not None:
        c.username_pw_set(device_id, password)

    def on_connect(client, userdata, flags, rc, props):
        state["connack"] = rc

    c.on_connect = on_connect
    c.connect("127.0.0.1", settings.mqtt_port)
    c.loop_start()
    wait_until(lambda: "connack" in state, 5)
    return c, state


def publish(client: mqtt.Client, topic: str, payload: bytes | str) -> mqtt.MQTTMessageInfo:
    info = client.publish(topic, payload, qos=1)
    info.wait_for_publish(5)
    return info


def positions(app_engine, device_id: str) -> list:
    with app_engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT device_ts, ST_X(geom) AS lon, ST_Y(geom) AS lat, battery_pct FROM sensor.radio_position "
                "WHERE device_id = :d ORDER BY device_ts"
            ),
            {"d": device_id},
        ).all()


def dead_letters(app_engine, marker: bytes) -> list:
    with app_engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT topic, reason_code, reason, payload_size FROM ingest.dead_letter "
                "WHERE position(:m IN payload) > 0 ORDER BY id"
            ),
            {"m": marker},
        ).all()


def test_owntracks_payloads_from_shared_data(settings, app_engine, devices, worker):
    """Every location payload of the OwnTracks test set is stored; the invalid become dead letters with
    a reason; nothing is silently dropped (every fixture, by the schema: tests/test_owntracks.py). The set's positions are in
    Europe: they are moved to Japan (every other member unchanged), and one sent as it is becomes a dead
    letter (implausible_location: every position the platform stores lies in Japan)."""
    folder = shared_data("location_payloads", "owntracks")
    c, state = device_client(settings, "IT-A", devices["IT-A"])
    assert not state["connack"].is_failure
    files = {
        "l.json": "stored",
        "location-short.json": "stored",
        "location-sk.json": "stored",
        "location-lat-missing.json": "invalid_payload",
        "transition-illegal-lat.json": "invalid_payload",  # lat is a string
        "lwt.json": "last_will",  # recorded as the device going offline (test_device_status.py)
    }
    in_japan = {
        "l.json": (139.3158, 35.4027),
        "location-short.json": (139.32, 35.41),
        "location-sk.json": (139.33, 35.42),
    }
    for name in files:
        raw = (folder / name).read_bytes()
        if name in in_japan:
            doc = json.loads(raw)
            doc["lon"], doc["lat"] = in_japan[name]
            raw = json.dumps(doc).encode()
        publish(c, radio_position_topic("IT-A"), raw)
    publish(c, radio_position_topic("IT-A"), (folder / "l.json").read_bytes())  # as it is: in Germany
    c.disconnect()
    expected_ts = {json.loads((folder / n).read_text())["tst"] for n, v in files.items() if v == "stored"}
    wait_until(lambda: len(positions(app_engine, "IT-A")) >= len(expected_ts), 10)
    stored = positions(app_engine, "IT-A")
    assert {int(p.device_ts.timestamp()) for p in stored} >= expected_ts
    l_json = json.loads((folder / "l.json").read_text())
    match = [p for p in stored if int(p.device_ts.timestamp()) == l_json["tst"]][0]
    assert (match.lon, match.lat, match.battery_pct) == (*in_japan["l.json"], l_json["batt"])
    wait_until(lambda: len(dead_letters(app_engine, b"52.195913")) >= 1, 10)
    with app_engine.connect() as conn:
        reasons = conn.execute(
            text("SELECT reason_code, reason FROM ingest.dead_letter WHERE topic = :t"),
            {"t": radio_position_topic("IT-A")},
        ).all()
    codes = [r.reason_code for r in reasons]
    assert set(codes) == {"invalid_payload", "implausible_location"}
    assert sorted(r.reason for r in reasons if r.reason_code == "invalid_payload") == [
        "lat: is required for _type location / location には lat が必須です",
        "lat: must be a number / 数値でなければなりません",
    ]


def test_malformed_payload_is_dead_lettered_and_ingestion_goes_on(settings, app_engine, devices, worker):
    c, _ = device_client(settings, "IT-B", devices["IT-B"])
    bad = [
        b"{not json MARK-1",
        json.dumps({"lat": "35.4", "lon": 139.3, "ts": 1_763_700_000, "mark": "MARK-2"}).encode(),
        json.dumps({"lat": 35.4, "lon": 139.3, "mark": "MARK-3"}).encode(),  # no timestamp: not "now"
        json.dumps({"lat": 135.4, "lon": 139.3, "ts": 1_763_700_000, "mark": "MARK-4"}).encode(),
    ]
    for payload in bad:
        publish(c, radio_position_topic("IT-B"), payload)
    good = {"lat": 35.3961, "lon": 139.3135, "ts": "2026-11-21T09:00:00+09:00", "batt": 88}
    publish(c, radio_position_topic("IT-B"), json.dumps(good))
    c.disconnect()
    wait_until(lambda: len(positions(app_engine, "IT-B")) == 1, 10)
    p = positions(app_engine, "IT-B")[0]
    assert (p.lon, p.lat, p.battery_pct) == (139.3135, 35.3961, 88)
    assert p.device_ts.isoformat() == "2026-11-21T00:00:00+00:00"
    expected = {
        b"MARK-1": "invalid_json",
        b"MARK-2": "invalid_payload",
        b"MARK-3": "invalid_payload",
        b"MARK-4": "invalid_payload",
    }
    for marker, code in expected.items():
        rows = dead_letters(app_engine, marker)
        assert len(rows) == 1 and rows[0].reason_code == code, (marker, rows)
        assert rows[0].reason
    assert "ts" in dead_letters(app_engine, b"MARK-3")[0].reason


def test_redelivery_never_duplicates(settings, app_engine, devices, worker):
    c, _ = device_client(settings, "IT-C", devices["IT-C"])
    payload = json.dumps({"_type": "location", "lat": 35.39, "lon": 139.30, "tst": 1_763_700_100})
    for _ in range(3):
        publish(c, radio_position_topic("IT-C"), payload)
    c.disconnect()
    wait_until(lambda: worker.stats["acked"] >= 3, 10)
    time.sleep(0.3)
    assert (
        len([p for p in positions(app_engine, "IT-C") if int(p.device_ts.timestamp()) == 1_763_700_100]) == 1
    )


def test_acl_devices_publish_only_as_themselves(settings, app_engine, devices, worker):
    # A publishes on B's topic: MQTT 5 tells it "not authorized" and nothing is stored for B.
    c, _ = device_client(settings, "IT-A", devices["IT-A"])
    before = len(positions(app_engine, "IT-B"))
    info = c.publish(
        radio_position_topic("IT-B"), json.dumps({"lat": 35.4, "lon": 139.3, "ts": 1_763_700_200}), qos=1
    )
    info.wait_for_publish(5)
    time.sleep(0.5)
    assert len(positions(app_engine, "IT-B")) == before
    # A device may subscribe to '#', but the ACL lets nothing through to it.
    received: list = []
    c.on_message = lambda client, userdata, msg: received.append(msg.topic)
    c.subscribe("#", qos=1)
    b, _ = device_client(settings, "IT-B", devices["IT-B"])
    publish(b, radio_position_topic("IT-B"), json.dumps({"lat": 35.4, "lon": 139.3, "ts": 1_763_700_201}))
    b.disconnect()
    wait_until(lambda: len(positions(app_engine, "IT-B")) == before + 1, 10)  # the worker did get it
    time.sleep(0.3)
    assert received == []
    c.disconnect()
    # Anonymous and wrong passwords are refused.
    for password in (None, "wrong-password"):
        client, state = device_client(settings, "IT-A", password)
        assert state["connack"].is_failure, password
        client.loop_stop()


def test_ack_only_after_commit(settings, app_engine, owner_engine, stack, devices, tmp_path: Path):
    """With the database unreachable the worker cannot commit, so it must not acknowledge: killed in
    that state, its durable session keeps the message in the broker, and the next worker stores it
    exactly once."""
    env = {**os.environ, "LOG_FORMAT": "text"}
    cmd = [sys.executable, "-m", "gisapp.cli", "ingest"]
    log1 = open(tmp_path / "ingest1.log", "wb")
    first = subprocess.Popen(cmd, env=env, stdout=log1, stderr=subprocess.STDOUT)
    try:
        time.sleep(2)  # connected and subscribed (durable session exists from the other tests)
        # The app role can no longer log in, and the worker's open connections are cut (as the
        # superuser: only it may end another role's sessions).
        with psycopg.connect(stack.superuser_dsn("gisapp"), autocommit=True) as su:
            su.execute("ALTER ROLE gisapp_app NOLOGIN")
            su.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE usename = 'gisapp_app' AND application_name = 'gisapp-ingest'"
            )
        c, _ = device_client(settings, "IT-C", devices["IT-C"])
        publish(
            c, radio_position_topic("IT-C"), json.dumps({"lat": 35.41, "lon": 139.32, "ts": 1_763_700_300})
        )
        c.disconnect()
        time.sleep(2)  # the worker receives it and fails to write
    finally:
        first.kill()  # a crash: no drain, no goodbye
        first.wait(10)
        with owner_engine.begin() as conn:
            conn.execute(text("ALTER ROLE gisapp_app LOGIN"))
    app_engine.dispose()
    assert "database unavailable" in (tmp_path / "ingest1.log").read_text()
    assert not [p for p in positions(app_engine, "IT-C") if int(p.device_ts.timestamp()) == 1_763_700_300]

    second = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(
            lambda: [
                p for p in positions(app_engine, "IT-C") if int(p.device_ts.timestamp()) == 1_763_700_300
            ],
            20,
        )
    finally:
        second.terminate()
        assert second.wait(15) == 0  # a clean shutdown drains and exits 0
    assert (
        len([p for p in positions(app_engine, "IT-C") if int(p.device_ts.timestamp()) == 1_763_700_300]) == 1
    )


def test_api_returns_the_stored_position(client, app_engine, devices, settings, worker):
    from tests.fixtures_data import seed

    headers = seed(app_engine, "ingestapi").bearer(client, "hq")
    c, _ = device_client(settings, "IT-A", devices["IT-A"])
    ts = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0)
    publish(
        c, radio_position_topic("IT-A"), json.dumps({"lat": 35.3999, "lon": 139.3111, "ts": ts.isoformat()})
    )
    c.disconnect()

    def latest():
        fc = client.get("/api/radio-units", headers=headers).json()
        return [
            f
            for f in fc["features"]
            if f["id"] == "IT-A" and datetime.fromisoformat(f["properties"]["device_ts"]) == ts
        ]

    wait_until(latest, 10)
    assert latest()[0]["geometry"]["coordinates"] == [139.3111, 35.3999]


@pytest.mark.parametrize(
    "hostile", ["IT-B", "gisapp-ingest", "+", "#", "IT-A/#", "gisapp/v1/radio/IT-B/position"]
)
def test_client_ids_cannot_take_over_another_session(settings, app_engine, devices, worker, hostile):
    """The broker makes the username the client id: device A asking for B's (or the ingest worker's,
    or a wildcard) id still is A, cannot publish as B, and does not cut the ingest worker off."""
    state: dict = {}
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=hostile, protocol=mqtt.MQTTv311)
    c.username_pw_set("IT-A", devices["IT-A"])
    c.on_connect = lambda client, userdata, flags, rc, props: state.setdefault("rc", rc)
    c.connect("127.0.0.1", settings.mqtt_port)
    c.loop_start()
    wait_until(lambda: "rc" in state, 5)
    assert not state["rc"].is_failure
    before = len(positions(app_engine, "IT-B"))
    c.publish(
        radio_position_topic("IT-B"), json.dumps({"lat": 35.4, "lon": 139.3, "ts": 1_763_700_400}), qos=1
    )
    ts = 1_763_700_500 + len(hostile)
    publish(c, radio_position_topic("IT-A"), json.dumps({"lat": 35.4, "lon": 139.3, "ts": ts}))
    c.disconnect()
    c.loop_stop()
    wait_until(lambda: any(int(p.device_ts.timestamp()) == ts for p in positions(app_engine, "IT-A")), 10)
    assert len(positions(app_engine, "IT-B")) == before  # still only A's own topic
    assert worker.connected.is_set()  # the worker's session was not taken over


def _malformed(i: int) -> bytes:
    """Ten kinds of bad payload, each carrying a marker so its dead letter can be found."""
    mark = f"FLOOD-{i}"
    future = int((datetime.now(UTC) + timedelta(days=400)).timestamp())

    def loc(**fields) -> bytes:
        # OwnTracks allows extra members, so the marker (tid) does not decide the outcome itself.
        return json.dumps({"_type": "location", "tid": mark, **fields}).encode()

    kinds = [
        f"not json {mark}".encode(),
        loc(lat="35.4", lon=139.3, tst=1_763_700_000),  # string lat
        loc(lat=float("nan"), lon=139.3, tst=1_763_700_000),  # NaN
        loc(lat=139.3, lon=35.4, tst=1_763_700_000),  # lat/lon swapped
        loc(lat=35.4, lon=239.3, tst=1_763_700_000),  # out of range
        (mark + " " + "x" * 70_000).encode(),  # huge
        loc(lat=35.4, lon=139.3, tst=future),  # far future
        loc(lat=35.4, lon=139.3),  # no timestamp
        loc(lat=35.4, lon=139.3, tst="soon"),  # timestamp of the wrong type
        json.dumps(
            [{"_type": "location", "tid": mark, "lat": True, "lon": 139.3, "tst": 1}]
        ).encode(),  # bool lat
    ]
    return kinds[i % len(kinds)]


def test_malformed_flood_never_stops_the_worker(settings, app_engine, devices, worker):
    """5,000 malformed payloads mixed with 5,000 valid ones: every malformed one dead-lettered with a
    reason, every valid one stored, and the worker still running."""
    n = 5_000
    c, _ = device_client(settings, "IT-C", devices["IT-C"])
    base = 1_760_000_000
    infos = []
    for i in range(n):
        infos.append(c.publish(radio_position_topic("IT-C"), _malformed(i), qos=1))
        valid = {"lat": 35.39, "lon": 139.31, "ts": base + i}
        infos.append(c.publish(radio_position_topic("IT-C"), json.dumps(valid), qos=1))
    for info in infos:
        info.wait_for_publish(60)
    c.disconnect()

    def stored() -> int:
        with app_engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM sensor.radio_position WHERE device_id = 'IT-C'"
                    " AND device_ts BETWEEN to_timestamp(:a) AND to_timestamp(:b)"
                ),
                {"a": base, "b": base + n - 1},
            ).scalar_one()

    def dead() -> list:
        with app_engine.connect() as conn:
            return conn.execute(
                text("SELECT reason_code, reason FROM ingest.dead_letter WHERE position(:m IN payload) > 0"),
                {"m": b"FLOOD-"},
            ).all()

    wait_until(lambda: stored() == n and len(dead()) >= n, 120)
    letters = dead()
    assert len(letters) == n and stored() == n
    assert all(code and reason for code, reason in letters)
    assert {code for code, _ in letters} >= {
        "invalid_json",
        "invalid_payload",
        "payload_too_large",
        "invalid_timestamp",
    }
    assert worker.connected.is_set() and not worker.stopping.is_set()
