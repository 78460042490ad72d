"""Writes of the ingest worker: positions (idempotent), dead letters, device status and facts, and the
counts of valid messages with nothing to store."""

from __future__ import annotations

import hashlib
import json
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


_CARD = text(
    """INSERT INTO sensor.device_status AS s (device_id, last_seen, card_name, card_at)
       SELECT d, now(), n, now() FROM unnest(CAST(:ids AS text[]), CAST(:names AS text[])) AS c(d, n)
       ON CONFLICT (device_id) DO UPDATE SET card_name = EXCLUDED.card_name, card_at = now()"""
)
_INFO = text(
    """INSERT INTO sensor.device_status AS s (device_id, last_seen, info, info_at)
       SELECT d, now(), CAST(i AS jsonb), now()
         FROM unnest(CAST(:ids AS text[]), CAST(:infos AS text[])) AS c(d, i)
       ON CONFLICT (device_id) DO UPDATE SET info = EXCLUDED.info, info_at = now()"""
)


def record_device_facts(conn: Connection, cards: dict[str, str], infos: dict[str, dict]) -> None:
    """What units say of themselves: the OwnTracks card's name (the display name its crew set) and
    its status message (app and device state). The latest of a batch wins."""
    if cards:
        conn.execute(_CARD, {"ids": list(cards), "names": list(cards.values())})
    if infos:
        conn.execute(
            _INFO, {"ids": list(infos), "infos": [json.dumps(i, ensure_ascii=False) for i in infos.values()]}
        )


_IGNORED = text(
    """INSERT INTO ingest.ignored_message AS m (device_id, msg_type, count)
       SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:types AS text[]), CAST(:counts AS bigint[]))
       ON CONFLICT (device_id, msg_type) DO UPDATE SET count = m.count + EXCLUDED.count, last_at = now()"""
)


def count_ignored(conn: Connection, ignored: dict[tuple[str, str], int]) -> None:
    """Valid messages with nothing to store, counted per device and type (the dead-letter screen
    shows the counts): a phone's waypoints or step counts are not errors to review."""
    if ignored:
        keys = sorted(ignored)
        conn.execute(
            _IGNORED,
            {
                "ids": [d for d, _ in keys],
                "types": [t for _, t in keys],
                "counts": [ignored[k] for k in keys],
            },
        )
