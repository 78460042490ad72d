"""Fault test: nothing the broker accepted is lost or stored twice, whatever happens to the worker
and the database.

4 radio units publish QoS 1 positions (each message has its own device timestamp: its id) while the
ingest worker (`gisapp ingest`, a real process) is killed with SIGKILL and restarted, and PostgreSQL is
stopped hard (`pg_ctl -m immediate`, as a power cut) and restarted. Then every message the broker
acknowledged to its publisher must be in sensor.radio_position exactly once.

With `--workers N` the stream is split by N workers on the shared subscription (`gisapp ingest
--worker K`, each its own broker account and durable session), and each kill hits one of them.

    .venv/bin/python bench/ingest_faults.py [--messages 10000] [--kills 5] [--pg-stops 3] [--workers 2]

tests/test_ingest_faults.py runs it at a small size in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _stack

from gisapp.db import make_engine
from sensors import registry
from sensors.broker import reload_broker
from sensors.registry import DeviceKind, DeviceSpec
from sensors.topics import radio_position_topic

BASE = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Result:
    sent: int = 0
    acked: int = 0  # PUBACKed by the broker: these must all be stored
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    kills: int = 0
    pg_stops: int = 0
    seconds: float = 0.0
    lost_ids: list = field(default_factory=list)
    workers: int = 1
    # Per worker, what its last run stored (logged when it stops cleanly at the end): the split.
    stored_by_worker: dict[int, int] = field(default_factory=dict)


def _worker(env: dict, log: Path, k: int = 1) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gisapp.cli", "ingest", "--worker", str(k)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _stored_at_stop(log: Path) -> int:
    stops = [json.loads(line) for line in log.read_text().splitlines() if '"ingest stopped"' in line]
    return stops[-1]["stored"] if stops else 0


def _publisher(
    port: int, device: str, password: str, n: int, seconds: float, acked: set, lock: threading.Lock
) -> None:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device, protocol=mqtt.MQTTv311)
    c.username_pw_set(device, password)
    c.max_inflight_messages_set(100)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    infos = []
    for i in range(n):
        body = {"lat": 35.39, "lon": 139.30 + i * 1e-6, "ts": (BASE + timedelta(seconds=i)).isoformat()}
        infos.append((i, c.publish(radio_position_topic(device), json.dumps(body), qos=1)))
        if i % 50 == 49:
            time.sleep(seconds * 50 / n)  # a steady stream over the whole run, so the faults hit mid-flow
    for i, info in infos:
        info.wait_for_publish(120)
        if info.is_published():
            with lock:
                acked.add((device, i))
    c.disconnect()
    c.loop_stop()


def run(messages: int = 10_000, kills: int = 5, pg_stops: int = 3, seed: int = 7, workers: int = 1) -> Result:
    root, stack, settings = _stack.start("gisapp-faults-")
    result = Result(workers=workers)
    procs: dict[int, subprocess.Popen] = {}
    try:
        engine = make_engine(settings.database_url, pool_size=2)
        devices = {f"F{i}": "" for i in range(4)}
        with engine.begin() as conn:
            for dev in devices:
                devices[dev] = registry.ensure_device(conn, DeviceSpec(dev, DeviceKind.radio_unit, dev)) or ""
            accounts = registry.broker_accounts(conn)
        stack.ensure_ingest_accounts(workers)
        stack.write_broker_accounts(accounts)
        reload_broker(stack.mqtt_pidfile)
        time.sleep(0.5)

        env = {**os.environ, "LOG_FORMAT": "json", "LOG_LEVEL": "INFO", "GISAPP_INGEST_WORKERS": str(workers)}
        logs = {k: root / f"ingest-{k}.log" for k in range(1, workers + 1)}
        procs[1] = _worker(env, logs[1], 1)
        # Connected and subscribed, so its durable session exists: it records the broker's retained $SYS
        # counter right after its subscriptions (a fixed sleep was too short on a loaded machine, and
        # what is published before the session exists is nobody's to keep).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if conn.execute(text("SELECT count(*) FROM ingest.broker_stat")).scalar_one():
                    break
            time.sleep(0.2)
        else:
            raise TimeoutError("the ingest worker did not subscribe within 60 s")
        # The others join the shared group (until they do, worker 1 takes their share: nothing is lost).
        for k in range(2, workers + 1):
            procs[k] = _worker(env, logs[k], k)
        while workers > 1 and time.monotonic() < deadline:
            if all('"mqtt connected"' in logs[k].read_text() for k in procs):
                break
            time.sleep(0.2)

        acked: set = set()
        lock = threading.Lock()
        per = messages // len(devices)
        result.sent = per * len(devices)
        t0 = time.monotonic()
        # Publishing lasts as long as the faults do (about a second each).
        seconds = 1.2 * (kills + 2 * pg_stops) + 1
        pubs = [
            threading.Thread(target=_publisher, args=(settings.mqtt_port, d, p, per, seconds, acked, lock))
            for d, p in devices.items()
        ]
        for t in pubs:
            t.start()

        # The faults, spread over the publishing: kill the worker, cut the database's power.
        rng = random.Random(seed)
        faults = ["kill"] * kills + ["pg"] * pg_stops
        rng.shuffle(faults)
        for fault in faults:
            time.sleep(rng.uniform(0.3, 1.0))
            if fault == "kill":
                k = rng.randint(1, workers) if workers > 1 else 1
                procs[k].send_signal(signal.SIGKILL)
                procs[k].wait()
                procs[k] = _worker(env, logs[k], k)
                result.kills += 1
            else:
                stack.stop_postgres("immediate")
                time.sleep(rng.uniform(0.5, 1.5))  # the worker retries meanwhile, acknowledging nothing
                stack.start_postgres()
                result.pg_stops += 1
        for t in pubs:
            t.join()
        result.acked = len(acked)

        # Everything acknowledged must arrive (the durable session redelivers what the worker lost).
        engine.dispose()
        deadline = time.monotonic() + 120
        count = text("SELECT count(*) FROM sensor.radio_position")
        while time.monotonic() < deadline:
            try:
                with engine.connect() as conn:
                    if conn.execute(count).scalar_one() >= result.acked:
                        break
            except Exception:  # the database may still be recovering
                pass
            time.sleep(0.5)
        time.sleep(1.0)  # anything still in flight lands too
        result.seconds = time.monotonic() - t0
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT device_id, device_ts, count(*) AS n FROM sensor.radio_position GROUP BY 1, 2")
            ).all()
        stored = {(r.device_id, int((r.device_ts - BASE).total_seconds())): r.n for r in rows}
        result.stored = len(stored)
        result.duplicated = sum(n - 1 for n in stored.values())
        missing = sorted(acked - set(stored))
        result.lost = len(missing)
        result.lost_ids = missing[:10]
        engine.dispose()
        for k, proc in procs.items():
            proc.terminate()
            proc.wait(15)
            result.stored_by_worker[k] = _stored_at_stop(logs[k])
        return result
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
                proc.wait(15)
        _stack.stop(root, stack)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--pg-stops", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1, help="ingest workers on the shared subscription")
    a = ap.parse_args()
    r = run(a.messages, a.kills, a.pg_stops, workers=a.workers)
    print(
        f"messages sent {r.sent}, acknowledged by the broker {r.acked}, stored {r.stored}; "
        f"lost {r.lost}, duplicated {r.duplicated}; {r.workers} worker(s), SIGKILLed {r.kills}x, PostgreSQL "
        f"stopped hard {r.pg_stops}x; {r.seconds:.1f} s; stored by each worker's last run {r.stored_by_worker}"
    )
    if r.lost or r.duplicated:
        print(f"FAILED: first lost ids {r.lost_ids}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
