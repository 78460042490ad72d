"""Device simulators that publish like the real ones, each device with its own credentials.

    python -m sensors.simulate [--interval 5] [--units 40] [--gauges] [--credentials .data/devices.json]

- Radio units: half speak the OwnTracks location JSON, half our own form, as real fleets mix both;
  each moves on a slow random walk from its start position (on a demo road).
- With ``--gauges``: rain gauges replay a storm of 10-minute values (rising to a peak, easing off,
  harder at some gauges than others) and water-level gauges rise and fall with the rain that fell.
  Gauge clocks start four hours back, one 10-minute step per publishing round, until they catch up
  with now; then they report every 10 minutes like real gauges.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import signal
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt

from sensors.topics import TOPIC_ROOT, radio_position_topic

# Stay inside 伊勢原市's demo area.
BBOX = (139.25, 35.35, 139.35, 35.43)


@dataclass
class Unit:
    device_id: str
    password: str
    lon: float
    lat: float
    heading: float
    owntracks: bool
    client: mqtt.Client | None = None

    def step(self, rng: random.Random, seconds: float) -> None:
        speed_ms = rng.uniform(3, 12)  # a vehicle in town
        self.heading = (self.heading + rng.uniform(-35, 35)) % 360
        dist = speed_ms * seconds
        dlat = dist * math.cos(math.radians(self.heading)) / 111_320
        dlon = dist * math.sin(math.radians(self.heading)) / (111_320 * math.cos(math.radians(self.lat)))
        lon, lat = self.lon + dlon, self.lat + dlat
        if not (BBOX[0] < lon < BBOX[2] and BBOX[1] < lat < BBOX[3]):
            self.heading = (self.heading + 180) % 360
            return
        self.lon, self.lat = lon, lat

    def payload(self, now: datetime, battery: int) -> bytes:
        if self.owntracks:
            doc = {
                "_type": "location",
                "lat": round(self.lat, 6),
                "lon": round(self.lon, 6),
                "tst": int(now.timestamp()),
                "acc": 8,
                "batt": battery,
                "tid": self.device_id[-2:],
                "vel": 20,
                "cog": int(self.heading),
            }
        else:
            doc = {
                "lat": round(self.lat, 6),
                "lon": round(self.lon, 6),
                "ts": now.isoformat(),
                "acc": 5.0,
                "batt": battery,
                "vel": 20.0,
                "cog": round(self.heading, 1),
            }
        return json.dumps(doc).encode()


GAUGE_HISTORY = timedelta(hours=4)


def _ten_minutes(t: datetime) -> datetime:
    return t.replace(minute=t.minute - t.minute % 10, second=0, microsecond=0)


# A storm as 10-minute rainfall (mm): rising, a peak of about 30 mm / 10 min, easing off, dry.
STORM_MM = (0.5, 1, 2, 3, 5, 8, 12, 18, 25, 30, 26, 20, 14, 9, 6, 4, 2.5, 1.5, 1, 0.5, 0, 0, 0, 0)


@dataclass
class Gauge:
    device_id: str
    password: str
    kind: str  # rain_gauge | water_gauge
    factor: float  # how hard the storm hits here
    base_level: float = 0.8  # metres, water gauges
    level: float = 0.8
    client: mqtt.Client | None = None

    def payload(self, step: int, now: datetime) -> tuple[str, bytes]:
        rain = STORM_MM[step % len(STORM_MM)] * self.factor
        if self.kind == "rain_gauge":
            doc = {"ts": now.isoformat(), "rain_10min_mm": round(rain, 1)}
            return f"{TOPIC_ROOT}/gauge/{self.device_id}/rain", json.dumps(doc).encode()
        # The river answers the rain with a lag: it rises with what fell, then drains away.
        self.level = self.base_level + (self.level - self.base_level) * 0.85 + rain * 0.04
        doc = {"ts": now.isoformat(), "level_m": round(self.level, 2)}
        return f"{TOPIC_ROOT}/gauge/{self.device_id}/level", json.dumps(doc).encode()


def load_gauges(credentials: Path, seed: int) -> list[Gauge]:
    creds = json.loads(credentials.read_text())
    rng = random.Random(seed)
    return [
        Gauge(device_id, c["password"], c["kind"], rng.uniform(0.6, 1.4))
        for device_id, c in sorted(creds.items())
        if c.get("kind") in ("rain_gauge", "water_gauge") and "password" in c
    ]


def load_units(credentials: Path, limit: int | None, seed: int) -> list[Unit]:
    creds = json.loads(credentials.read_text())
    rng = random.Random(seed)
    units = []
    for i, (device_id, c) in enumerate(sorted(creds.items())):
        if c.get("kind") != "radio_unit" or "password" not in c:
            continue
        units.append(Unit(device_id, c["password"], c["lon"], c["lat"], rng.uniform(0, 360), i % 2 == 0))
    return units[:limit] if limit else units


def connect(unit: Unit | Gauge, host: str, port: int) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unit.device_id, protocol=mqtt.MQTTv311)
    client.username_pw_set(unit.device_id, unit.password)
    # As real devices do: if the link drops, the broker tells the HQ this device went offline.
    segment = "gauge" if isinstance(unit, Gauge) else "radio"
    client.will_set(f"{TOPIC_ROOT}/{segment}/{unit.device_id}/status", json.dumps({"online": False}), qos=1)
    client.reconnect_delay_set(1, 30)
    client.connect_async(host, port, keepalive=30)
    client.loop_start()
    unit.client = client


def run(
    units: list[Unit],
    host: str,
    port: int,
    interval: float,
    stop: threading.Event,
    seed: int,
    gauges: list[Gauge] | None = None,
) -> int:
    rng = random.Random(seed)
    gauges = gauges or []
    for u in [*units, *gauges]:
        connect(u, host, port)
    sent = 0
    battery = 100
    step = 0
    gauge_ts = _ten_minutes(datetime.now(UTC)) - GAUGE_HISTORY
    while not stop.is_set():
        now = datetime.now(UTC)
        for u in units:
            u.step(rng, interval)
            assert u.client is not None
            u.client.publish(radio_position_topic(u.device_id), u.payload(now, battery), qos=1)
            sent += 1
        if gauges and gauge_ts <= now:
            for g in gauges:
                assert g.client is not None
                g.client.publish(*g.payload(step, gauge_ts), qos=1)
                sent += 1
            step += 1
            gauge_ts += timedelta(minutes=10)
        battery = max(5, battery - 1) if rng.random() < 0.05 else battery
        stop.wait(interval)
    for u in [*units, *gauges]:
        if u.client:
            u.client.disconnect()
            u.client.loop_stop()
    return sent


def main(argv: list[str] | None = None) -> None:
    from gisapp.settings import Settings

    s = Settings()
    p = argparse.ArgumentParser(description="gisapp device simulators / 機器シミュレーター")
    p.add_argument(
        "--credentials",
        type=Path,
        default=s.data_dir / "devices.json",
        help="device credentials written by `gisapp demo load`",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=s.mqtt_port)
    p.add_argument("--interval", type=float, default=5.0, help="seconds between positions")
    p.add_argument("--units", type=int, default=None, help="how many radio units (default: all)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--gauges", action="store_true", help="also rain and water-level gauges (a storm)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    a = p.parse_args(argv)
    if not a.credentials.exists():
        raise SystemExit(
            f"{a.credentials} がありません。先に `gisapp demo load` を実行してください。\n"
            f"{a.credentials} not found: run `gisapp demo load` first."
        )
    units = load_units(a.credentials, a.units, a.seed)
    gauges = load_gauges(a.credentials, a.seed) if a.gauges else []
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if a.duration:
        threading.Timer(a.duration, stop.set).start()
    started = time.monotonic()
    sent = run(units, a.host, a.port, a.interval, stop, a.seed, gauges)
    print(
        f"simulated {len(units)} radio units and {len(gauges)} gauges, {sent} messages"
        f" in {time.monotonic() - started:.0f}s"
    )


if __name__ == "__main__":
    main()
