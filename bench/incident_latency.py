"""Radio incident report → HQ map: from the MQTT publish to the event on the HQ stream, while radio
positions flow in the background; beside it, what a map that polls every 30 s (the anchors poll every
30–60 s) sees for the same reports in the same run.

Everything is real and on this machine: a fresh PostGIS and Mosquitto, `gisapp ingest` and
`gisapp serve` as processes, an HQ operator's SSE stream (`/api/events`, bearer login), the background
load from `mosquitto_pub -l` (40 radio units, `--background` positions/s in total), and one radio unit
reporting an incident every `--every` seconds with paho (QoS 1).

    .venv/bin/python bench/incident_latency.py [--seconds 60] [--background 1000] [--every 0.5]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import _stack  # bench/_stack.py (this script's folder is on sys.path)
import httpx2 as httpx
import paho.mqtt.client as mqtt
from ingest_rate import LineLoad, _register
from sqlalchemy import text

from gisapp import auth
from gisapp.db import make_engine
from sensors.topics import radio_incident_topic


class StreamReader:
    """The HQ map's event stream: when each incident event arrived (first time per incident)."""

    def __init__(self, base: str, token: str) -> None:
        self.seen: dict[int, float] = {}
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(base, token), daemon=True)
        self.thread.start()

    def _run(self, base: str, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        with httpx.stream("GET", base + "/api/events", headers=headers, timeout=None) as r:
            event = None
            for line in r.iter_lines():
                if self.stop.is_set():
                    return
                if line.startswith("event: "):
                    event = line[7:]
                    if event == "hello":
                        self.ready.set()
                elif line.startswith("data: ") and event == "incident":
                    doc = json.loads(line[6:])
                    self.seen.setdefault(doc["id"], time.time())


class Poller:
    """A map that asks every `interval` seconds which incidents exist (the polling design)."""

    def __init__(self, base: str, token: str, disaster_id: int, interval: float) -> None:
        self.seen: dict[int, float] = {}
        self.stop = threading.Event()
        self.args = (base, token, disaster_id, interval)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        base, token, disaster_id, interval = self.args
        url = f"{base}/api/disasters/{disaster_id}/incidents"
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            while True:
                now = time.time()
                for f in http.get(url).json()["features"]:
                    self.seen.setdefault(f["id"], now)
                if self.stop.wait(interval):
                    return


def percentile(values: list[float], p: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--background", type=float, default=1000, help="radio positions per second")
    ap.add_argument("--every", type=float, default=0.5, help="seconds between incident reports")
    ap.add_argument("--poll", type=float, default=30, help="the polling map's interval (s)")
    a = ap.parse_args()

    root, stack, settings = _stack.start("gisapp-bench-incident-")
    procs: list[subprocess.Popen] = []
    try:
        engine = make_engine(settings.database_url, pool_size=2)
        creds = _register(engine, stack, 41)
        reporter, *fleet = sorted(creds)
        password = secrets.token_urlsafe(12)
        with engine.begin() as conn:
            auth.create_user(conn, "bench-hq", "bench HQ", password, ["hq_operator"])
        port = _stack.free_port()
        env = {**os.environ, "LOG_LEVEL": "WARNING"}
        log = (root / "procs.log").open("ab")
        for argv in (["ingest"], ["serve", "--port", str(port)]):
            procs.append(
                subprocess.Popen([sys.executable, "-m", "gisapp.cli", *argv], env=env, stdout=log, stderr=log)
            )
        base = f"http://127.0.0.1:{port}"
        _stack.wait_http(base + "/healthz")
        token = httpx.post(
            base + "/api/auth/login", json={"username": "bench-hq", "password": password}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        disaster = httpx.post(
            base + "/api/disasters", json={"name": "ベンチマーク台風"}, headers=headers
        ).json()["id"]

        stream = StreamReader(base, token)
        stream.ready.wait(10)
        poller = Poller(base, token, disaster, a.poll)
        load = LineLoad(settings.mqtt_port, {d: creds[d] for d in fleet}, a.background, a.seconds + 5)
        background = threading.Thread(target=load.run, daemon=True)
        background.start()
        time.sleep(3)  # the background flow is steady

        radio = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=reporter, protocol=mqtt.MQTTv311)
        radio.username_pw_set(reporter, creds[reporter])
        radio.connect("127.0.0.1", settings.mqtt_port)
        radio.loop_start()
        sent: dict[str, float] = {}
        n = int(a.seconds / a.every)
        for i in range(n):
            msg_id = f"bench-{i:05d}"
            body = {"ts": datetime.now(UTC).isoformat(), "lat": 35.39 + i * 1e-5, "lon": 139.31,
                    "category": "fallen_tree", "id": msg_id}  # fmt: skip
            sent[msg_id] = time.time()
            radio.publish(radio_incident_topic(reporter), json.dumps(body), qos=1).wait_for_publish(10)
            time.sleep(a.every)
        deadline = time.time() + a.poll + 15
        while (len(stream.seen) < n or len(poller.seen) < n) and time.time() < deadline:
            time.sleep(0.2)
        background.join(60)
        with engine.connect() as conn:
            refs = dict(
                conn.execute(
                    text("SELECT id, split_part(source_ref, '/', 2) FROM ops.incident WHERE source = 'radio'")
                ).all()
            )
            positions = conn.execute(text("SELECT count(*) FROM sensor.radio_position")).scalar_one()
        radio.disconnect()
        radio.loop_stop()
        stream.stop.set()
        poller.stop.set()
        engine.dispose()
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        _stack.stop(root, stack)

    push = [(stream.seen[i] - sent[refs[i]]) * 1000 for i in stream.seen if refs.get(i) in sent]
    poll = [(poller.seen[i] - sent[refs[i]]) * 1000 for i in poller.seen if refs.get(i) in sent]
    print(f"machine: {os.cpu_count()} cores; PostgreSQL fsync on; Mosquitto persistence on; QoS 1")
    print(
        f"{n} incident reports over {a.seconds:.0f} s from one radio unit, while {load.sent} positions "
        f"({load.sent / (load.finished - load.started):.0f}/s from {len(fleet)} units) flowed in; "
        f"{positions} positions stored"
    )
    for name, values in (
        ("gisapp HQ stream (SSE, push)", push),
        (f"a map polling every {a.poll:.0f} s", poll),
    ):
        if not values:
            print(f"{name}: nothing received")
            continue
        print(
            f"{name:34} received {len(values):4}/{n}  p50 {percentile(values, 50):8.0f} ms  "
            f"p95 {percentile(values, 95):8.0f} ms  max {max(values):8.0f} ms"
        )


if __name__ == "__main__":
    main()
