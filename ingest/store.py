"""Writes of the ingest worker: positions (idempotent) and dead letters."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from ingest.payloads import RadioPosition

DEAD_LETTER_KEEP_BYTES = 4096

# One statement per batch: the columns travel as arrays (one round trip, one plan, one trigger call)
# instead of a bind-execute per row.
_INSERT_POSITIONS = text(
    """INSERT INTO sensor.radio_position
         (device_id, device_ts, geom, accuracy_m, altitude_m, battery_pct, speed_kmh, course_deg)
       SELECT d, ts, ST_SetSRID(ST_MakePoint(lon, lat), 4326), acc, alt, batt, vel, cog
         FROM unnest(CAST(:device_id AS text[]), CAST(:device_ts AS timestamptz[]),
                     CAST(:lon AS float8[]), CAST(:lat AS float8[]), CAST(:acc AS real[]),
                     CAST(:alt AS real[]), CAST(:batt AS smallint[]), CAST(:vel AS real[]),
                     CAST(:cog AS real[])) AS p(d, ts, lon, lat, acc, alt, batt, vel, cog)
       ON CONFLICT (device_id, device_ts) DO NOTHING"""
)

_INSERT_DEAD_LETTER = text(
    """INSERT INTO ingest.dead_letter (topic, payload, payload_size, payload_sha256, reason_code, reason)
       VALUES (:topic, :payload, :size, :sha, :code, :reason)"""
)


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    payload: bytes
    reason_code: str
    reason: str


def insert_positions(conn: Connection, positions: Sequence[RadioPosition]) -> None:
    if positions:
        conn.execute(
            _INSERT_POSITIONS,
            {
                "device_id": [p.device_id for p in positions],
                "device_ts": [p.device_ts for p in positions],
                "lon": [p.lon for p in positions],
                "lat": [p.lat for p in positions],
                "acc": [p.accuracy_m for p in positions],
                "alt": [p.altitude_m for p in positions],
                "batt": [p.battery_pct for p in positions],
                "vel": [p.speed_kmh for p in positions],
                "cog": [p.course_deg for p in positions],
            },
        )


def insert_dead_letters(conn: Connection, letters: Sequence[DeadLetter]) -> None:
    if letters:
        conn.execute(
            _INSERT_DEAD_LETTER,
            [
                {
                    "topic": d.topic[:512],
                    "payload": d.payload[:DEAD_LETTER_KEEP_BYTES],
                    "size": len(d.payload),
                    "sha": hashlib.sha256(d.payload).digest(),
                    "code": d.reason_code,
                    "reason": d.reason[:1000],
                }
                for d in letters
            ],
        )


_HEARD = text(
    """INSERT INTO sensor.device_status AS s (device_id, last_seen)
       SELECT unnest(CAST(:ids AS text[])), now()
       ON CONFLICT (device_id) DO UPDATE SET last_seen = EXCLUDED.last_seen, silent_since = NULL"""
)
_GONE = text(
    """INSERT INTO sensor.device_status AS s (device_id, last_seen, last_will_at)
       SELECT id, now(), now() FROM unnest(CAST(:ids AS text[])) AS id
       ON CONFLICT (device_id) DO UPDATE SET last_will_at = now()"""
)


_MARK_SILENT = text("SELECT sensor.mark_silent()")


def mark_silent(conn: Connection) -> int:
    """Marks devices quiet past their kind's limit (each one pushes ``device_silent``); how many."""
    return conn.execute(_MARK_SILENT).scalar_one()


def touch_devices(conn: Connection, heard: set[str], gone: set[str]) -> None:
    """Who was heard in this batch, and whose last will came (later wins: a device heard after its
    will is back online, since last_seen moves past last_will_at)."""
    if heard - gone:
        conn.execute(_HEARD, {"ids": sorted(heard - gone)})
    if gone:
        conn.execute(_GONE, {"ids": sorted(gone)})


_BROKER_STAT = text(
    """INSERT INTO ingest.broker_stat (name, value, updated_at) VALUES (:name, :value, now())
       ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"""
)


def record_broker_stats(conn: Connection, stats: dict[str, int]) -> None:
    if stats:
        conn.execute(_BROKER_STAT, [{"name": k, "value": v} for k, v in stats.items()])
