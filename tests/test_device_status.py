"""Device status for the HQ map: heard → online; its MQTT last will (or OwnTracks' lwt, or an explicit
goodbye) → offline; quiet longer than its kind's limit → silent."""

from __future__ import annotations

import json
import time

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import text

from sensors import registry
from sensors.registry import DeviceKind, DeviceSpec
from sensors.topics import radio_position_topic
from tests.fixtures_data import seed
from tests.support import listen_events, register_devices, shared_data, wait_until
from tests.test_ingest import publish


@pytest.fixture(scope="module")
def units(settings, app_engine):
    specs = [DeviceSpec(dev, DeviceKind.radio_unit, dev) for dev in ("ST-A", "ST-B", "ST-C")]
    return register_devices(settings, app_engine, specs)


@pytest.fixture(scope="module")
def hq(client, app_engine):
    return seed(app_engine, "status").bearer(client, "hq")


def state(client, hq, device: str) -> str:
    rows = {r["device_id"]: r for r in client.get("/api/devices/status", headers=hq).json()}
    return rows[device]["state"]


def connect(settings, device: str, password: str, will: bool = True) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device, protocol=mqtt.MQTTv311)
    c.username_pw_set(device, password)
    if will:  # what a real radio sets: the broker publishes it if the radio drops off
        c.will_set(f"gisapp/v1/radio/{device}/status", json.dumps({"online": False}), qos=1)
    c.connect("127.0.0.1", settings.mqtt_port, keepalive=5)
    c.loop_start()
    return c


def test_a_dropped_radio_goes_offline_by_its_last_will(settings, client, hq, units, worker):
    assert state(client, hq, "ST-A") == "never"
    c = connect(settings, "ST-A", units["ST-A"])
    publish(c, radio_position_topic("ST-A"), json.dumps({"lat": 35.39, "lon": 139.30, "ts": 1_763_600_000}))
    wait_until(lambda: state(client, hq, "ST-A") == "online", 10)
    c.loop_stop()
    c.socket().close()  # no DISCONNECT: as if the radio lost power
    wait_until(lambda: state(client, hq, "ST-A") == "offline", 20)
    c2 = connect(settings, "ST-A", units["ST-A"])  # back on the air
    publish(c2, radio_position_topic("ST-A"), json.dumps({"lat": 35.39, "lon": 139.30, "ts": 1_763_600_100}))
    wait_until(lambda: state(client, hq, "ST-A") == "online", 10)
    c2.disconnect()
    c2.loop_stop()


def test_owntracks_lwt_and_explicit_goodbye(settings, client, hq, units, worker):
    c = connect(settings, "ST-B", units["ST-B"], will=False)
    publish(c, "gisapp/v1/radio/ST-B/status", json.dumps({"online": True}))
    wait_until(lambda: state(client, hq, "ST-B") == "online", 10)
    publish(
        c,
        radio_position_topic("ST-B"),
        shared_data("location_payloads", "owntracks", "lwt.json").read_bytes(),
    )
    wait_until(lambda: state(client, hq, "ST-B") == "offline", 10)
    publish(c, "gisapp/v1/radio/ST-B/status", b'{"online": "no"}')  # malformed: dead letter, no change
    c.disconnect()
    c.loop_stop()


def test_a_quiet_radio_is_marked_silent(client, hq, units, app_engine):
    with app_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sensor.device_status (device_id, last_seen) VALUES ('ST-C', now() - interval '6 minutes')"
                " ON CONFLICT (device_id) DO UPDATE SET last_seen = EXCLUDED.last_seen, last_will_at = NULL"
            )
        )
    assert state(client, hq, "ST-C") == "silent"  # radios: 5 minutes (sensor.silence_limit)
    with app_engine.begin() as conn:
        conn.execute(text("UPDATE sensor.device_status SET last_seen = now() WHERE device_id = 'ST-C'"))
    assert state(client, hq, "ST-C") == "online"


def test_going_silent_and_coming_back_are_pushed_to_the_hq_stream(
    settings, units, worker, app_engine, client, hq
):
    with listen_events(settings) as events:
        with app_engine.begin() as conn:  # heard 6 minutes ago: past the radios' 5-minute limit
            conn.execute(
                text(
                    "INSERT INTO sensor.device_status (device_id, last_seen) VALUES ('ST-B', now() - interval '6 minutes')"
                    " ON CONFLICT (device_id) DO UPDATE SET last_seen = EXCLUDED.last_seen, last_will_at = NULL,"
                    " silent_since = NULL"
                )
            )
        # The worker's periodic sweep (every 0.5 s in tests) finds it and announces it once.
        silent = events.wait_for(lambda e: e["type"] == "device_silent" and e["device_id"] == "ST-B")
        assert silent["last_seen"] and silent["at"]
        assert state(client, hq, "ST-B") == "silent"
        time.sleep(1.2)  # two more sweeps: no second announcement
        events.collect(timeout=0.2)
        assert [e["type"] for e in events.seen if e.get("device_id") == "ST-B"] == ["device_silent"]

        c = connect(settings, "ST-B", units["ST-B"], will=False)
        publish(
            c, radio_position_topic("ST-B"), json.dumps({"lat": 35.39, "lon": 139.30, "ts": 1_763_600_500})
        )
        events.wait_for(lambda e: e["type"] == "device_online" and e["device_id"] == "ST-B")
        c.disconnect()
        c.loop_stop()
    assert state(client, hq, "ST-B") == "online"


def test_status_needs_an_hq_login(client):
    assert client.get("/api/devices/status").status_code == 401


def test_gauges_for_the_hq_map(client, hq, app_engine):
    from datetime import UTC, datetime, timedelta

    from ingest.gauges import record_observations
    from ingest.payloads import parse_gauge

    thresholds = {"60min_mm": {"注意": 20, "警戒": 30, "危険": 50}}
    with app_engine.begin() as conn:
        registry.ensure_device(
            conn, DeviceSpec("ST-RG", DeviceKind.rain_gauge, "試験雨量計", 139.27, 35.40, None, thresholds)
        )
        t0 = datetime.now(UTC) - timedelta(minutes=30)
        obs = [
            parse_gauge("ST-RG", "rain", json.dumps({"ts": (t0 + timedelta(minutes=10 * i)).isoformat(),
                                                     "rain_10min_mm": v}).encode())[0]
            for i, v in enumerate((5, 10, 12))
        ]  # fmt: skip
        record_observations(conn, obs)
        conn.execute(
            text("INSERT INTO sensor.device_status (device_id, last_seen) VALUES ('ST-RG', now())"
                 " ON CONFLICT (device_id) DO UPDATE SET last_seen = now()")
        )  # fmt: skip
    fc = client.get("/api/gauges", headers=hq).json()
    g = {f["id"]: f for f in fc["features"]}["ST-RG"]
    assert g["geometry"]["coordinates"] == [139.27, 35.4]
    p = g["properties"]
    assert (p["rain_10min"], p["rain_60min"], p["state"]) == (12, 27, "online")
    assert p["levels"]["60min_mm"] == "注意"
    assert client.get("/api/gauges").status_code == 401
