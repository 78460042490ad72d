"""Sustained ingest rate: publish → committed → acknowledged, QoS 1, zero loss, for 60 s; with the
publish-to-commit latency and, beside it, the raw paho publish → subscribe rate through the same broker.

Everything runs on this machine: a fresh PostGIS (fsync on) and Mosquitto (persistence on, the
project's own configuration and ACL), the real worker process (`gisapp ingest`), and the load.

- **raw paho**: paho publishers (one process per device, QoS 1) → one paho subscriber (QoS 1, the
  library's automatic PUBACK, it only counts). Nothing is stored: the ceiling of the broker and of
  the paho client on this machine.
- **raw, same load as the run**: the same subscriber fed by the load generator of the end-to-end run.
- **end to end**: `--devices` radio units each publish through `mosquitto_pub -l` (libmosquitto, C:
  a field radio's publishing is not what is measured here, and Python publishers would take the
  cores the worker needs), with their own credentials, paced at `--rate` messages/s in total for
  `--seconds`. Each message's device timestamp is the time it was written to the publisher, and
  PostgreSQL records each commit's time (track_commit_timestamp), so the latency of every message is
  `commit time − device time`. At the end every message must be stored exactly once, and the worker
  must have acknowledged every one after its commit (its own count, logged when it stops).

    .venv/bin/python bench/ingest_rate.py [--rate 10000] [--seconds 60] [--devices 20]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import _stack  # bench/_stack.py (this script's folder is on sys.path)
import paho.mqtt.client as mqtt
import psycopg
from sqlalchemy import text

from gisapp.db import make_engine
from ingest.worker import mqtt_params
from sensors import registry
from sensors.broker import reload_broker
from sensors.registry import DeviceKind, DeviceSpec
from sensors.topics import radio_position_topic

MOSQUITTO_PUB = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"


# ------------------------------------------------------------------------------------- the load
def _paho_publisher(port: int, device: str, password: str, n: int, start_ts: int) -> None:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device, protocol=mqtt.MQTTv311)
    c.username_pw_set(device, password)
    c.max_inflight_messages_set(1000)
    c.connect("127.0.0.1", port)
    c.loop_start()
    topic = radio_position_topic(device)
    infos = [
        c.publish(topic, f'{{"lat":35.39,"lon":139.31,"ts":{start_ts + i},"batt":90}}', qos=1)
        for i in range(n)
    ]
    for info in infos:
        info.wait_for_publish(300)
    c.disconnect()
    c.loop_stop()


class Counter:
    """A paho subscriber that only counts (QoS 1, automatic PUBACK): the raw receive rate."""

    def __init__(self, mqtt_url: str, expect: int | None = None) -> None:
        host, port, user, password = mqtt_params(mqtt_url)
        self.expect = expect
        self.n = 0
        self.first = self.last = 0.0
        self.done = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=user, clean_session=True, protocol=mqtt.MQTTv311
        )
        self.client.username_pw_set(user, password)
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_connect = lambda client, *a: client.subscribe("gisapp/v1/#", qos=1)
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()
        subscribed.wait(10)

    def _on_message(self, client, userdata, msg) -> None:
        now = time.perf_counter()
        if self.n == 0:
            self.first = now
        self.n += 1
        self.last = now
        if self.expect is not None and self.n >= self.expect:
            self.done.set()

    def rate(self, timeout: float, expect: int | None = None) -> float:
        if expect is not None:
            self.expect = expect
            if self.n >= expect:
                self.done.set()
        self.done.wait(timeout)
        self.client.disconnect()
        self.client.loop_stop()
        if self.n < self.expect:
            raise RuntimeError(f"subscriber got {self.n} of {self.expect}")
        return self.n / (self.last - self.first)


class LineLoad:
    """`mosquitto_pub -l` per device, fed lines at a steady total rate from one thread. Each line's
    device timestamp (µs, strictly increasing per device) is the moment it is handed over."""

    def __init__(self, port: int, creds: dict[str, str], rate: float, seconds: float) -> None:
        self.rate = rate
        self.seconds = seconds
        self.sent = 0
        self.procs = {
            dev: subprocess.Popen(
                [MOSQUITTO_PUB, "-h", "127.0.0.1", "-p", str(port), "-u", dev, "-P", pw, "-i", dev, "-q", "1",
                 "-M", "1000", "-t", radio_position_topic(dev), "-l"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
            )
            for dev, pw in creds.items()
        }  # fmt: skip
        self.last_us = dict.fromkeys(creds, 0)
        self.started = self.finished = 0.0

    def run(self) -> None:
        devices = list(self.procs)
        pipes = [self.procs[d].stdin for d in devices]
        self.started = time.perf_counter()
        turn = 0
        second, stamp = -1, b""
        while (elapsed := time.perf_counter() - self.started) < self.seconds:
            due = int(self.rate * elapsed) - self.sent
            if due <= 0:
                time.sleep(0.002)
                continue
            chunks: list[list[bytes]] = [[] for _ in devices]
            now_us = time.time_ns() // 1000
            for _ in range(due):
                k = turn % len(devices)
                turn += 1
                us = max(now_us, self.last_us[devices[k]] + 1)
                self.last_us[devices[k]] = us
                sec, frac = divmod(us, 1_000_000)
                if sec != second:
                    second, stamp = sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)).encode()
                chunks[k].append(b'{"lat":35.39,"lon":139.31,"ts":"%s.%06dZ","batt":90}\n' % (stamp, frac))
            for pipe, lines in zip(pipes, chunks, strict=True):
                if lines:
                    pipe.write(b"".join(lines))
                    pipe.flush()
            self.sent += due
        self.finished = time.perf_counter()
        for pipe in pipes:
            pipe.close()
        for p in self.procs.values():  # each exits once the broker has acknowledged all its lines
            if p.wait(300) != 0:
                raise RuntimeError(f"mosquitto_pub exited with {p.returncode}")


# -------------------------------------------------------------------------------------- helpers
def _register(engine, stack, n: int) -> dict[str, str]:
    creds = {}
    with engine.begin() as conn:
        for i in range(n):
            dev = f"R{i:03d}"
            creds[dev] = registry.ensure_device(conn, DeviceSpec(dev, DeviceKind.radio_unit, dev))
        accounts = registry.broker_accounts(conn)
    stack.write_broker_accounts(accounts)
    reload_broker(stack.mqtt_pidfile)
    time.sleep(0.5)
    return creds


def _track_commit_times(stack) -> None:
    """Each commit's time, for the per-message latency (needs a restart of PostgreSQL)."""
    with psycopg.connect(stack.superuser_dsn(), autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET track_commit_timestamp = on")
    stack.stop_postgres()
    stack.start_postgres()
    stack.wait_ready()


def raw_paho(settings, creds: dict[str, str], per_device: int) -> float:
    counter = Counter(settings.mqtt_url, per_device * len(creds))
    start = int(time.time()) - 10_000_000
    procs = [
        mp.Process(target=_paho_publisher, args=(settings.mqtt_port, dev, pw, per_device, start))
        for dev, pw in creds.items()
    ]
    for p in procs:
        p.start()
    rate = counter.rate(600)
    for p in procs:
        p.join(60)
    return rate


def raw_lines(settings, creds: dict[str, str], rate: float, seconds: float) -> tuple[float, float]:
    load = LineLoad(settings.mqtt_port, creds, rate, seconds)
    counter = Counter(settings.mqtt_url)
    load.run()
    got = counter.rate(300, expect=load.sent)
    return load.sent / (load.finished - load.started), got


def end_to_end(
    settings, engine, stack, creds, rate: float, seconds: float, root: Path, workers: int = 1
) -> dict:
    """With `workers` > 1, that many `gisapp ingest --worker K` on the shared subscription (each needs
    its broker account: stack.ensure_ingest_accounts before the broker's files are written)."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM sensor.radio_position"))
    env = {**os.environ, "LOG_LEVEL": "INFO", "GISAPP_INGEST_WORKERS": str(workers)}
    log_paths = [root / f"ingest-{workers}-{k}.log" for k in range(1, workers + 1)]
    procs = []
    for k, log_path in enumerate(log_paths, 1):
        with log_path.open("wb") as out:
            cmd = [sys.executable, "-m", "gisapp.cli", "ingest", "--worker", str(k)]
            procs.append(subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT))
    time.sleep(2)  # connected and subscribed (its durable session keeps anything sent meanwhile)
    load = LineLoad(settings.mqtt_port, creds, rate, seconds)
    timeline: list[tuple[float, int]] = []
    stop = threading.Event()

    def sample() -> None:
        with engine.connect() as conn:
            while not stop.is_set():
                n = conn.execute(text("SELECT count(*) FROM sensor.radio_position")).scalar_one()
                conn.commit()
                timeline.append((time.perf_counter(), n))
                stop.wait(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    load.run()
    deadline = time.perf_counter() + 300
    while timeline[-1][1] < load.sent and time.perf_counter() < deadline:
        time.sleep(0.2)
    stop.set()
    sampler.join()
    for worker in procs:
        worker.send_signal(signal.SIGTERM)
    for worker in procs:
        worker.wait(60)
    acked_by = []
    for log_path in log_paths:
        for line in log_path.read_text().splitlines():
            if '"ingest stopped"' in line:
                acked_by.append(json.loads(line).get("acked"))
    acked = sum(acked_by) if len(acked_by) == workers else None
    with engine.connect() as conn:
        row = conn.execute(
            text(
                """SELECT count(*) AS stored, count(DISTINCT (device_id, device_ts)) AS distinct_ids,
                          percentile_cont(ARRAY[0.5, 0.99, 1.0]) WITHIN GROUP (ORDER BY
                            extract(epoch FROM pg_xact_commit_timestamp(xmin) - device_ts)) AS lat,
                          min(device_ts) AS first_pub, max(pg_xact_commit_timestamp(xmin)) AS last_commit
                     FROM sensor.radio_position"""
            )
        ).one()
    steady = [
        (b[1] - a[1]) / (b[0] - a[0])
        for a, b in zip(timeline, timeline[1:], strict=False)
        if load.started + 5 <= a[0] and b[0] <= load.finished
    ]
    return {
        "sent": load.sent,
        "offered_rate": load.sent / (load.finished - load.started),
        "stored": row.stored,
        "distinct": row.distinct_ids,
        "acked": acked,
        "acked_by": acked_by,
        "p50_ms": row.lat[0] * 1000,
        "p99_ms": row.lat[1] * 1000,
        "max_ms": row.lat[2] * 1000,
        "rate": row.stored / (row.last_commit - row.first_pub).total_seconds(),
        "min_1s": min(steady) if steady else float("nan"),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=10_000, help="offered messages/s in total")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--devices", type=int, default=20)
    ap.add_argument("--raw-per-device", type=int, default=20_000)
    a = ap.parse_args()
    if not Path(MOSQUITTO_PUB).exists():
        sys.exit("mosquitto_pub not found: apt-get install mosquitto-clients")

    root, stack, settings = _stack.start("gisapp-bench-rate-")
    try:
        _track_commit_times(stack)
        engine = make_engine(settings.database_url, pool_size=2)
        creds = _register(engine, stack, a.devices)
        raw4 = raw_paho(settings, dict(list(creds.items())[:4]), a.raw_per_device)
        sent_rate, raw_same = raw_lines(settings, creds, a.rate * 2, 10)
        e2e = end_to_end(settings, engine, stack, creds, a.rate, a.seconds, root)
        engine.dispose()
    finally:
        _stack.stop(root, stack)

    print(f"machine: {os.cpu_count()} cores; PostgreSQL fsync on; Mosquitto persistence on; QoS 1 throughout")
    print(f"raw paho publish → subscribe (4 paho publisher processes → 1 paho subscriber): {raw4:9.0f} msg/s")
    print(
        f"raw, the end-to-end run's load (mosquitto_pub ×{a.devices} → 1 paho subscriber): "
        f"{raw_same:9.0f} msg/s (offered {sent_rate:.0f})"
    )
    print(
        f"end to end, {a.seconds:.0f} s at {e2e['offered_rate']:.0f} msg/s offered "
        f"({a.devices} radio units, `gisapp ingest`, PUBACK after COMMIT):"
    )
    print(f"  sustained        {e2e['rate']:9.0f} msg/s (first publish → last commit)")
    print(f"  slowest second   {e2e['min_1s']:9.0f} msg/s committed")
    print(
        f"  latency publish → commit: p50 {e2e['p50_ms']:.0f} ms  p99 {e2e['p99_ms']:.0f} ms  max {e2e['max_ms']:.0f} ms"
    )
    lost = e2e["sent"] - e2e["distinct"]
    dup = e2e["stored"] - e2e["distinct"]
    print(
        f"  sent {e2e['sent']}  stored {e2e['stored']}  lost {lost}  duplicated {dup}  "
        f"acked by the worker after commit {e2e['acked']}"
    )
    print(f"  at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


if __name__ == "__main__":
    main()
