"""Ingest throughput: gisapp's batching worker vs. the common per-message bridge, in one run.

The peer is the pattern most MQTT→PostgreSQL bridges use: paho's default automatic PUBACK and one
INSERT + COMMIT inside ``on_message`` (it acknowledges before the row is durable, and pays a commit
per message). Both write the same rows to the same tables of a real PostGIS, fed by the same real
Mosquitto, with fsync on (a production-like local stack).

    .venv/bin/python bench/ingest_throughput.py [--messages 20000] [--devices 40]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import _stack  # bench/_stack.py (this script's folder is on sys.path)
import paho.mqtt.client as mqtt
from sqlalchemy import text

from gisapp.db import make_engine
from gisapp.ops import radio_reports
from gisapp.settings import Settings
from ingest.payloads import parse_radio_position
from ingest.store import insert_positions
from ingest.worker import IngestWorker, mqtt_params
from sensors import registry
from sensors.registry import DeviceKind, DeviceSpec
from sensors.topics import parse, radio_position_topic


def publish_all(port: int, creds: dict[str, str], messages: int, base: datetime) -> float:
    """Publish `messages` positions spread over the devices, QoS 1; returns seconds taken."""
    clients = []
    for dev, pw in creds.items():
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=dev, protocol=mqtt.MQTTv311)
        c.username_pw_set(dev, pw)
        c.max_inflight_messages_set(200)
        c.connect("127.0.0.1", port)
        c.loop_start()
        clients.append((dev, c))
    t0 = time.perf_counter()
    infos = []
    for i in range(messages):
        dev, c = clients[i % len(clients)]
        ts = base + timedelta(seconds=i)
        body = {"lat": 35.39 + (i % 100) * 1e-4, "lon": 139.31, "ts": ts.isoformat(), "batt": 90}
        infos.append(c.publish(radio_position_topic(dev), json.dumps(body), qos=1))
    for info in infos:
        info.wait_for_publish(60)
    elapsed = time.perf_counter() - t0
    for _, c in clients:
        c.disconnect()
        c.loop_stop()
    return elapsed


def stored(engine, since: datetime) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM sensor.radio_position WHERE device_ts >= :t"), {"t": since}
        ).scalar_one()


def wait_stored(engine, since: datetime, n: int, timeout: float = 600) -> float:
    t0 = time.perf_counter()
    while stored(engine, since) < n:
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"only {stored(engine, since)} of {n} stored")
        time.sleep(0.05)
    return time.perf_counter()


def run_gisapp(settings: Settings, engine, creds, messages: int, base: datetime) -> float:
    worker = IngestWorker(engine, settings.mqtt_url, radio_reports=radio_reports)
    t = threading.Thread(target=worker.run, daemon=True)
    t.start()
    worker.connected.wait(10)
    t0 = time.perf_counter()
    publish_all(settings.mqtt_port, creds, messages, base)
    t1 = wait_stored(engine, base, messages)
    worker.stop()
    t.join(30)
    return t1 - t0


def run_peer(settings: Settings, engine, creds, messages: int, base: datetime) -> float:
    """The per-message bridge: auto-ack, one transaction per message, in the network thread."""
    host, port, user, password = mqtt_params(settings.mqtt_url)
    c = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=user, clean_session=False, protocol=mqtt.MQTTv311
    )
    c.username_pw_set(user, password)

    def on_message(client, userdata, msg):
        _, device_id, _ = parse(msg.topic)
        with engine.begin() as conn:
            insert_positions(
                conn,
                [p for p in parse_radio_position(device_id, msg.payload) if not isinstance(p, Exception)],
            )

    c.on_connect = lambda client, *a: client.subscribe("gisapp/v1/#", qos=1)
    c.on_message = on_message
    c.connect(host, port)
    c.loop_start()
    time.sleep(1)
    t0 = time.perf_counter()
    publish_all(settings.mqtt_port, creds, messages, base)
    t1 = wait_stored(engine, base, messages)
    c.disconnect()
    c.loop_stop()
    return t1 - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--devices", type=int, default=40)
    a = ap.parse_args()

    root, stack, settings = _stack.start("gisapp-bench-")
    try:
        engine = make_engine(settings.database_url, pool_size=4)
        creds = {}
        with engine.begin() as conn:
            for i in range(a.devices):
                dev = f"B{i:03d}"
                creds[dev] = registry.ensure_device(conn, DeviceSpec(dev, DeviceKind.radio_unit, dev))
            accounts = registry.broker_accounts(conn)
        stack.write_broker_accounts(accounts)
        from sensors.broker import reload_broker

        reload_broker(stack.mqtt_pidfile)
        time.sleep(0.5)

        base = datetime.now(UTC) - timedelta(days=30)
        ours = run_gisapp(settings, engine, creds, a.messages, base)
        base2 = base - timedelta(days=1) - timedelta(seconds=a.messages)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM sensor.radio_position"))
        peer = run_peer(settings, engine, creds, a.messages, base2)
        print(f"messages={a.messages} devices={a.devices} (QoS 1, fsync on, 2 cores)")
        print(f"gisapp worker (batched, PUBACK after COMMIT): {ours:7.2f} s  {a.messages / ours:9.0f} msg/s")
        print(f"peer: per-message bridge (auto-ack, 1 tx/msg): {peer:7.2f} s  {a.messages / peer:9.0f} msg/s")
        print(f"speed-up: {peer / ours:.1f}x")
        engine.dispose()
    finally:
        _stack.stop(root, stack)


if __name__ == "__main__":
    main()
