"""Device simulators that publish like the real ones, each device with its own credentials.

    python -m sensors.simulate [--interval 5] [--units 40] [--gauges] [--credentials .data/devices.json]

- Radio units: half speak the OwnTracks location JSON, half our own form, as real fleets mix both;
  each moves on a slow random walk from its start position (on a demo road).
- With ``--gauges``: rain gauges replay a storm of 10-minute values (rising to a peak, easing off,
  harder at some gauges than others) and water-level gauges rise and fall with the rain that fell.
  Gauge clocks start four hours back, one 10-minute step per publishing round, until they catch up
  with now; then they report every 10 minutes like real gauges.
- With ``--story FILE`` (the demo story's live part, written by ``gisapp demo load``): each gauge
  reading and radio incident report in the file is published by its device when its time comes;
  those already due are published at once (the ingest keeps one of each).
- With ``--replay-jma``, ``--replay-amedas`` or ``--replay-river``: one gauge (``--gauge``) publishes a
  real observation file (see sensors/replay.py), at ``--rate`` messages/s, keeping the file's times or,
  with ``--shift-to-now``, moved so the last reading is now.

    python -m sensors.simulate --gauge RG01 --replay-jma ../shared/data/observations/jma/data20221020-20231019.csv \
        --days 2023-06-01:2023-06-03 --shift-to-now
    python -m sensors.simulate --river-thresholds ../shared/data/observations/fukui_waterlevel/sensors.csv --station 1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt

from sensors.topics import TOPIC_ROOT, gauge_topic, radio_incident_topic, radio_position_topic

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


@dataclass(frozen=True)
class StoryItem:
    at: datetime
    device_id: str
    topic: str
    payload: bytes


class StoryFeed:
    """The story file's items as they fall due. The file is looked at again on every call: when
    `gisapp demo load` rewrites it (the same story, or a new one) the items still ahead are taken from
    it; when a quiet day deletes it, nothing more is sent."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: list[StoryItem] = []
        self.stamp: tuple[int, int] | None = None
        self.sent_until: datetime | None = None  # every item up to this time has been handed out

    def due(self, now: datetime) -> list[StoryItem]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self.items, self.stamp = [], None
            return []
        if (st.st_mtime_ns, st.st_size) != self.stamp:
            self.stamp = (st.st_mtime_ns, st.st_size)
            try:
                items = load_story(self.path)
            except (OSError, ValueError, KeyError):
                items = []  # caught mid-write: read again next time
                self.stamp = None
            # At start every item is taken (those past due are sent at once, the ingest keeps one of
            # each); on a rewrite only those not handed out yet, so nothing is sent twice.
            self.items = [i for i in items if self.sent_until is None or i.at > self.sent_until]
        out = []
        while self.items and self.items[0].at <= now:
            out.append(self.items.pop(0))
        self.sent_until = now
        return out


def load_story(path: Path) -> list[StoryItem]:
    """The live part of the demo story, in time order."""
    doc = json.loads(path.read_text())
    items = []
    for item in doc["items"]:
        device, leaf = item["device"], item["leaf"]
        if leaf not in ("rain", "level", "incident"):
            continue  # not sent over MQTT (kiosk check-ins: `gisapp demo live`)
        topic = radio_incident_topic(device) if leaf == "incident" else gauge_topic(device, leaf)
        payload = json.dumps(item["payload"], ensure_ascii=False).encode()
        items.append(StoryItem(datetime.fromisoformat(item["at"]), device, topic, payload))
    return sorted(items, key=lambda i: i.at)


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
    story: StoryFeed | None = None,
    story_gauges: list[Gauge] | None = None,
) -> int:
    """Publish until ``stop``: radio positions every ``interval``; the simulated storm of ``gauges``;
    the ``story`` items (sent by their devices, among ``units`` and ``story_gauges``) as they fall due."""
    rng = random.Random(seed)
    gauges = gauges or []
    story_gauges = story_gauges or []
    for u in [*units, *gauges, *story_gauges]:
        connect(u, host, port)
    clients = {u.device_id: u.client for u in [*units, *story_gauges]}
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
        for item in story.due(now) if story is not None else []:
            client = clients.get(item.device_id)
            if client is not None:
                client.publish(item.topic, item.payload, qos=1)
                sent += 1
        battery = max(5, battery - 1) if rng.random() < 0.05 else battery
        stop.wait(interval)
    for u in [*units, *gauges, *story_gauges]:
        if u.client:
            u.client.disconnect()
            u.client.loop_stop()
    return sent


def replay(
    device_id: str, password: str, leaf: str, readings: list, host: str, port: int, rate: float
) -> int:
    """Publish `readings` as gauge `device_id` (QoS 1, at most `rate` per second); how many the
    broker acknowledged."""
    from sensors import replay as files

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv311)
    client.username_pw_set(device_id, password)
    client.connect(host, port, keepalive=30)
    client.loop_start()
    topic = f"{TOPIC_ROOT}/gauge/{device_id}/{leaf}"
    infos = []
    started = time.monotonic()
    for i, reading in enumerate(readings):
        infos.append(client.publish(topic, files.payload(leaf, reading), qos=1))
        ahead = i / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
    for info in infos:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()
    return sum(1 for info in infos if info.is_published())


def _replay_main(a: argparse.Namespace) -> None:
    from datetime import date

    from sensors import replay as files

    try:
        if a.river_thresholds:
            print(json.dumps(files.river_thresholds(a.river_thresholds, a.station), ensure_ascii=False))
            return
        if a.replay_jma:
            first, _, last = (a.days or ":").partition(":")
            readings = files.jma_daily_csv(
                a.replay_jma,
                date.fromisoformat(first) if first else None,
                date.fromisoformat(last or first) if (last or first) else None,
            )
            leaf, kind = "rain", "rain_gauge"
        elif a.replay_amedas:
            readings, leaf, kind = files.amedas_point_json(a.replay_amedas), "rain", "rain_gauge"
        else:
            readings, leaf, kind = files.river_levels(a.replay_river, a.station), "level", "water_gauge"
    except ValueError as e:  # ReplayError, or a bad --days date
        raise SystemExit(str(e)) from e
    if a.shift_to_now:
        readings = files.shifted(readings, datetime.now(UTC))
    password = a.password
    if password is None:
        creds = json.loads(a.credentials.read_text()) if a.credentials.exists() else {}
        entry = creds.get(a.gauge) or {}
        if entry.get("kind") not in (None, kind):
            raise SystemExit(
                f"{a.gauge} は {entry['kind']} です / {a.gauge} is a {entry['kind']}, not a {kind}"
            )
        password = entry.get("password")
    if not password:
        raise SystemExit(
            f"{a.gauge} のパスワードがありません（--password）/ no password for {a.gauge} (give --password)"
        )
    acked = replay(a.gauge, password, leaf, readings, a.host, a.port, a.rate)
    print(
        f"{a.gauge}: {acked}/{len(readings)} readings published "
        f"({readings[0].ts.isoformat()} … {readings[-1].ts.isoformat()})"
    )


def _local_stack() -> tuple[Path, int]:
    """Where `gisapp up` keeps its data and its broker port (the same variables and defaults as
    gisapp/settings.py; sensors does not import the web app)."""
    return (
        Path(os.environ.get("GISAPP_DATA_DIR", ".data")),
        int(os.environ.get("GISAPP_MQTT_PORT", "11883")),
    )


def main(argv: list[str] | None = None) -> None:
    data_dir, mqtt_port = _local_stack()
    p = argparse.ArgumentParser(description="gisapp device simulators / 機器シミュレーター")
    p.add_argument(
        "--credentials",
        type=Path,
        default=data_dir / "devices.json",
        help="device credentials written by `gisapp demo load`",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=mqtt_port)
    p.add_argument("--interval", type=float, default=5.0, help="seconds between positions")
    p.add_argument("--units", type=int, default=None, help="how many radio units (default: all)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--gauges", action="store_true", help="also rain and water-level gauges (a storm)")
    p.add_argument(
        "--story",
        type=Path,
        metavar="JSON",
        help="the demo story's live part (written by `gisapp demo load`)",
    )
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    r = p.add_argument_group("replaying real observation files / 観測データの再生")
    r.add_argument("--gauge", help="the gauge that publishes the replayed file")
    r.add_argument("--password", help="its MQTT password (default: from --credentials)")
    r.add_argument("--replay-jma", type=Path, metavar="CSV", help="気象庁 daily CSV (CP932)")
    r.add_argument("--days", help="FIRST[:LAST] days of the JMA file, e.g. 2023-06-01:2023-06-03")
    r.add_argument("--replay-amedas", type=Path, metavar="JSON", help="気象庁 AMeDAS point JSON")
    r.add_argument("--replay-river", type=Path, metavar="CSV", help="river levels (日時,河川水位,id)")
    r.add_argument("--station", help="the station id in the river files")
    r.add_argument(
        "--river-thresholds", type=Path, metavar="CSV", help="print a station's levels as thresholds JSON"
    )
    r.add_argument("--shift-to-now", action="store_true", help="move the series so its last reading is now")
    r.add_argument("--rate", type=float, default=50.0, help="replayed messages per second")
    a = p.parse_args(argv)
    replaying = a.replay_jma or a.replay_amedas or a.replay_river
    if a.river_thresholds or replaying:
        if (a.replay_river or a.river_thresholds) and not a.station:
            p.error("--station is needed with --replay-river / --river-thresholds")
        if replaying and not a.gauge:
            p.error("--gauge is needed to replay a file")
        _replay_main(a)
        return
    if not a.credentials.exists():
        raise SystemExit(
            f"{a.credentials} がありません。先に `gisapp demo load` を実行してください。\n"
            f"{a.credentials} not found: run `gisapp demo load` first."
        )
    units = load_units(a.credentials, a.units, a.seed)
    gauges = load_gauges(a.credentials, a.seed) if a.gauges and not a.story else []
    story = StoryFeed(a.story) if a.story else None
    story_gauges = load_gauges(a.credentials, a.seed) if story is not None else []
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if a.duration:
        threading.Timer(a.duration, stop.set).start()
    started = time.monotonic()
    sent = run(units, a.host, a.port, a.interval, stop, a.seed, gauges, story, story_gauges)
    print(
        f"simulated {len(units)} radio units and {len(gauges) + len(story_gauges)} gauges, {sent} messages"
        f" in {time.monotonic() - started:.0f}s"
    )


if __name__ == "__main__":
    main()
