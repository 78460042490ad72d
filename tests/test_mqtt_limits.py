"""Broker limits and retained messages, against the real Mosquitto and the real ingest worker.

- A packet over ``max_packet_size`` is refused by the broker: the client is disconnected and the
  message reaches neither the worker nor the database (not even as a dead letter).
- A retained message on a device topic is stored once (its live delivery) and never replayed when the
  worker restarts on its durable session; a retained delivery that does reach the worker is a dead
  letter (``retained``), never stored.
- The worker's durable session made under MQTT 3.1.1 keeps its queued messages when the worker
  (MQTT 5 now) comes back: the upgrade loses nothing.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import text

from gisapp.ops import radio_reports
from ingest.payloads import MAX_PAYLOAD_BYTES
from ingest.worker import IngestWorker, Received, mqtt_params
from sensors.registry import DeviceKind, DeviceSpec
from sensors.topics import radio_position_topic
from tests.support import register_devices, wait_until
from tests.test_ingest import dead_letters, positions, publish

MAX_PACKET = 262_144  # the broker's max_packet_size (gisapp/localstack/stack.py, deploy/mosquitto)


@pytest.fixture(scope="module")
def units(settings, app_engine) -> dict[str, str]:
    specs = [DeviceSpec(dev, DeviceKind.radio_unit, f"試験無線 {dev}") for dev in ("ML-A", "ML-B", "RT-A")]
    return register_devices(settings, app_engine, specs)


class SpyWorker(IngestWorker):
    """The real worker, noting what the broker hands it (topic, retain flag) before it queues it, and
    its SUBACKs (the broker queues the retained messages of a subscription before acknowledging it)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.delivered: list[tuple[str, bool]] = []
        self.subacks = 0
        self.client.on_subscribe = self._on_subscribe

    def _on_subscribe(self, *args) -> None:
        self.subacks += 1

    def _on_message(self, client, userdata, msg) -> None:
        self.delivered.append((msg.topic, bool(msg.retain)))
        super()._on_message(client, userdata, msg)


@contextlib.contextmanager
def running_worker(settings, app_engine) -> Iterator[SpyWorker]:
    """A fresh worker instance on the same durable session (what a restart of `gisapp ingest` is)."""
    w = SpyWorker(
        app_engine, settings.mqtt_url, radio_reports=radio_reports, batch_wait=0.02, silence_check=60
    )
    t = threading.Thread(target=w.run, daemon=True)
    t.start()
    assert w.connected.wait(10), "ingest worker did not connect"
    try:
        yield w
    finally:
        w.stop()
        t.join(10)


def device(settings, device_id: str, password: str, protocol=mqtt.MQTTv311) -> tuple[mqtt.Client, dict]:
    """A radio as OwnTracks is one (MQTT 3.1.1 unless asked otherwise); records how it was cut off."""
    state: dict = {}
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device_id, protocol=protocol)
    c.username_pw_set(device_id, password)
    c.on_connect = lambda client, userdata, flags, rc, props: state.setdefault("connack", rc)
    c.on_disconnect = lambda client, userdata, flags, rc, props: state.setdefault("disconnect", rc)
    c.connect("127.0.0.1", settings.mqtt_port)
    c.loop_start()
    wait_until(lambda: "connack" in state, 5)
    assert not state["connack"].is_failure
    return c, state


def last_seen(app_engine, device_id: str):
    with app_engine.connect() as conn:
        return conn.execute(
            text("SELECT last_seen FROM sensor.device_status WHERE device_id = :d"), {"d": device_id}
        ).scalar_one_or_none()


def test_the_broker_config_bounds_packets_and_the_queue(stack):
    conf = dict(
        line.split(" ", 1) for line in stack.write_mosquitto_conf().read_text().splitlines() if " " in line
    )
    assert int(conf["max_packet_size"]) == MAX_PACKET
    # Room above the worker's own limit, so a payload between the two is a visible dead letter.
    assert MAX_PAYLOAD_BYTES < MAX_PACKET
    assert int(conf["max_queued_messages"]) == 1_500_000
    assert 1_500_000 * 300 <= int(conf["max_queued_bytes"]) <= 1_500_000 * 1024


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5], ids=["mqtt311", "mqtt5"])
def test_an_oversized_publish_is_refused_by_the_broker(settings, app_engine, units, worker, protocol):
    marker = f"OVERSIZE-{protocol}".encode()
    c, state = device(settings, "ML-A", units["ML-A"], protocol)
    c.publish(radio_position_topic("ML-A"), marker + b" " + b"x" * MAX_PACKET, qos=1)
    wait_until(lambda: "disconnect" in state, 10)  # cut off by the broker
    if protocol == mqtt.MQTTv5:  # MQTT 5 is told why
        assert state["disconnect"].value == 0x95, state["disconnect"]  # Packet too large
    c.loop_stop()
    # The radio comes back and its next (normal) message is stored: after it, nothing else can come.
    c2, _ = device(settings, "ML-A", units["ML-A"], protocol)
    ts = 1_763_800_000 + protocol
    publish(c2, radio_position_topic("ML-A"), json.dumps({"lat": 35.4, "lon": 139.3, "ts": ts}))
    c2.disconnect()
    c2.loop_stop()
    wait_until(lambda: any(int(p.device_ts.timestamp()) == ts for p in positions(app_engine, "ML-A")), 10)
    assert dead_letters(app_engine, marker) == []  # never reached the worker: not even a dead letter
    assert len(positions(app_engine, "ML-A")) == len(
        {int(p.device_ts.timestamp()) for p in positions(app_engine, "ML-A")}
    )


def test_a_payload_under_the_packet_limit_but_over_the_workers_is_a_dead_letter(
    settings, app_engine, units, worker
):
    marker = b"BIG-BUT-ALLOWED"
    c, state = device(settings, "ML-B", units["ML-B"])
    publish(c, radio_position_topic("ML-B"), marker + b" " + b"x" * (MAX_PAYLOAD_BYTES + 1000))
    c.disconnect()
    c.loop_stop()
    rows = wait_until(lambda: dead_letters(app_engine, marker), 10)
    assert [r.reason_code for r in rows] == ["payload_too_large"]
    assert rows[0].payload_size == MAX_PAYLOAD_BYTES + 1000 + len(marker) + 1
    assert positions(app_engine, "ML-B") == []


def test_a_retained_position_is_stored_once_and_not_replayed_at_restart(settings, app_engine, units):
    """OwnTracks publishes with retain set. Its live delivery is stored; a restarted worker (a new
    instance on the same durable session) is not handed the retained copy again."""
    ts = 1_763_900_000
    topic = radio_position_topic("RT-A")
    with running_worker(settings, app_engine):
        c, _ = device(settings, "RT-A", units["RT-A"])
        info = c.publish(
            topic, json.dumps({"_type": "location", "lat": 35.39, "lon": 139.3, "tst": ts}), 1, True
        )
        info.wait_for_publish(5)
        c.disconnect()
        c.loop_stop()
        wait_until(lambda: len(positions(app_engine, "RT-A")) == 1, 10)
    heard = last_seen(app_engine, "RT-A")
    assert heard is not None

    for restart in range(2):  # restarted twice: never replayed
        with running_worker(settings, app_engine) as w:
            wait_until(lambda w=w: w.subacks >= 2, 10)
            # A live message sent now reaches the worker after anything its subscription was handed.
            sentinel = 1_763_900_010 + restart
            s, _ = device(settings, "ML-B", units["ML-B"])
            publish(s, radio_position_topic("ML-B"), json.dumps({"lat": 35.4, "lon": 139.3, "ts": sentinel}))
            s.disconnect()
            s.loop_stop()
            wait_until(
                lambda t=sentinel: t in [int(p.device_ts.timestamp()) for p in positions(app_engine, "ML-B")],
                15,
            )
            # (Other tests' leftovers in the shared session may arrive too: only RT-A's matter here.)
            assert [d for d in w.delivered if d[0] == topic] == [], w.delivered
    assert [int(p.device_ts.timestamp()) for p in positions(app_engine, "RT-A")] == [ts]
    assert last_seen(app_engine, "RT-A") == heard  # an old message did not make the radio look alive
    with app_engine.connect() as conn:
        assert not conn.execute(
            text("SELECT 1 FROM ingest.dead_letter WHERE topic = :t"), {"t": topic}
        ).first()


def test_the_311_session_is_kept_by_the_mqtt5_worker(settings, app_engine, units):
    """The worker ran MQTT 3.1.1 before: its durable session, with what is queued in it, carries over.
    (And 3.1.1 is what replayed retained messages: its subscription is handed them again.)"""
    host, port, user, password = mqtt_params(settings.mqtt_url)
    # A retained position of its own (not the previous test's, which other modules' runs may replace).
    d, _ = device(settings, "RT-A", units["RT-A"])
    kept = d.publish(
        radio_position_topic("RT-A"),
        json.dumps({"_type": "location", "lat": 35.39, "lon": 139.3, "tst": 1_763_900_050}),
        1,
        True,
    )
    kept.wait_for_publish(5)
    d.disconnect()
    d.loop_stop()
    old: list[mqtt.MQTTMessage] = []
    subscribed = threading.Event()
    c = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=user, clean_session=False, protocol=mqtt.MQTTv311
    )
    c.username_pw_set(user, password)
    c.on_connect = lambda client, *a: client.subscribe("gisapp/v1/#", qos=1)
    c.on_subscribe = lambda *a: subscribed.set()
    c.on_message = lambda client, userdata, msg: old.append(msg)
    c.connect(host, port)
    c.loop_start()
    assert subscribed.wait(5)
    wait_until(lambda: any(m.topic == radio_position_topic("RT-A") and m.retain for m in old), 20)
    c.disconnect()
    c.loop_stop()

    ts = 1_763_900_100  # sent while no worker runs: waits in the 3.1.1 session
    r, _ = device(settings, "RT-A", units["RT-A"])
    publish(r, radio_position_topic("RT-A"), json.dumps({"lat": 35.4, "lon": 139.31, "ts": ts}))
    r.disconnect()
    r.loop_stop()
    with running_worker(settings, app_engine):
        wait_until(lambda: any(int(p.device_ts.timestamp()) == ts for p in positions(app_engine, "RT-A")), 15)
    stored = [int(p.device_ts.timestamp()) for p in positions(app_engine, "RT-A")]
    assert stored.count(ts) == 1


def test_a_retained_delivery_is_a_dead_letter_never_stored(settings, app_engine, units):
    """Should a retained copy reach the worker anyway, it is refused with its reason, not stored."""
    w = IngestWorker(app_engine, settings.mqtt_url, radio_reports=radio_reports)
    payload = json.dumps({"lat": 35.41, "lon": 139.32, "ts": 1_763_900_200, "mark": "RETAINED-1"}).encode()
    item = Received(radio_position_topic("RT-A"), payload, mid=0, qos=1, generation=0, retain=True)
    with app_engine.begin() as conn:
        batch = w._validate(conn, [item])
        w._write(conn, batch)
    assert not batch.positions and not batch.heard
    rows = dead_letters(app_engine, b"RETAINED-1")
    assert [r.reason_code for r in rows] == ["retained"]
    assert 1_763_900_200 not in [int(p.device_ts.timestamp()) for p in positions(app_engine, "RT-A")]
