"""Device alerts: what a device did wrong reaches the HQ, once per device, reason and 10 minutes.

A dead letter, a report of an unknown category, an encrypted payload we cannot read, a clock far off:
each is an alert for its device. The first of a device's reason in a 10-minute window writes an
``ops.hq_log`` entry (kind 'device') and a ``device_alert`` event (trigger of migration 0031); the rest
of the window only count, so a device flooding bad messages makes one entry, not thousands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, text

from sensors.topics import DEVICE_ID_RE, TOPIC_ROOT

WINDOW = "10 minutes"


@dataclass(frozen=True)
class DeviceAlert:
    device_id: str
    reason_code: str
    detail: str = ""
    incident_id: int | None = None


def topic_device(topic: str) -> str | None:
    """The device a topic under ``gisapp/v1/<segment>/<device>/…`` names, if any."""
    parts = topic.split("/")
    if len(parts) >= 4 and "/".join(parts[:2]) == TOPIC_ROOT and DEVICE_ID_RE.match(parts[3]):
        return parts[3]
    return None


_RECORD = text(
    f"""INSERT INTO ingest.device_alert AS a (device_id, reason_code, window_start, count, detail, incident_id)
        SELECT d, r, date_bin('{WINDOW}', now(), TIMESTAMPTZ '2000-01-01'), n, x, i
          FROM unnest(CAST(:ids AS text[]), CAST(:codes AS text[]), CAST(:counts AS int[]),
                      CAST(:details AS text[]), CAST(:incidents AS int[])) AS u(d, r, n, x, i)
        ON CONFLICT (device_id, reason_code, window_start)
        DO UPDATE SET count = a.count + EXCLUDED.count, last_at = now()"""  # noqa: S608 - constant
)


def record_device_alerts(conn: Connection, alerts: Iterable[DeviceAlert]) -> None:
    """Count the alerts of a batch (one row per device and reason; the first detail is kept)."""
    grouped: dict[tuple[str, str], list[DeviceAlert]] = {}
    for a in alerts:
        grouped.setdefault((a.device_id, a.reason_code), []).append(a)
    if not grouped:
        return
    keys = sorted(grouped)
    conn.execute(
        _RECORD,
        {
            "ids": [d for d, _ in keys],
            "codes": [r for _, r in keys],
            "counts": [len(grouped[k]) for k in keys],
            "details": [grouped[k][0].detail[:500] for k in keys],
            "incidents": [grouped[k][0].incident_id for k in keys],
        },
    )


_RECENT = text(
    """SELECT device_id, reason_code, sum(count) AS count, count(*) AS windows, min(first_at) AS first_at,
              max(last_at) AS last_at
         FROM ingest.device_alert WHERE last_at > now() - make_interval(hours => :hours)
        GROUP BY device_id, reason_code ORDER BY max(last_at) DESC LIMIT 200"""
)
_IGNORED = text(
    """SELECT device_id, msg_type, count, first_at, last_at FROM ingest.ignored_message
        ORDER BY last_at DESC LIMIT 200"""
)


def recent_alerts(conn: Connection, hours: int = 24) -> list[dict]:
    """Per device and reason, the alerts of the last ``hours`` (``windows``: how many HQ log entries
    they made): for the dead-letter screen and API."""
    return [dict(r._mapping) for r in conn.execute(_RECENT, {"hours": hours})]


def ignored_counts(conn: Connection) -> list[dict]:
    """Valid messages counted and not stored, per device and OwnTracks type."""
    return [dict(r._mapping) for r in conn.execute(_IGNORED)]
