"""Radio-reported incidents (無線からの災害報告): into the open disaster, at once, once.

A field report must not be lost because HQ has not opened a disaster yet: then one is opened for it
(named as such, by 'system', audited), and HQ can rename or move on from there. A redelivered report
is the same incident (source 'radio', source_ref = unit + its message id or timestamp).

The ingest worker is handed this module (``IngestWorker(..., radio_reports=radio_reports)``): ingest
sits below the web app and the HQ domain and never imports them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from gisapp.ops.disasters import current_disaster_id, open_disaster
from gisapp.ops.incidents import NewIncident, create_incident
from ingest.payloads import RadioIncident

SYSTEM = "system:ingest"
_OPENING_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('gisapp.radio_reports.open_disaster'))")


def known_categories(conn: Connection, codes: set[str]) -> set[str]:
    if not codes:
        return set()
    rows = conn.execute(
        text("SELECT code FROM ops.incident_category WHERE active AND code = ANY(:c)"), {"c": sorted(codes)}
    )
    return set(rows.scalars())


def record_radio_incidents(conn: Connection, reports: Sequence[RadioIncident]) -> list[int]:
    """Store each report as an incident (category already checked); their incident ids."""
    if not reports:
        return []
    disaster_id = current_disaster_id(conn)
    if disaster_id is None:
        # Several ingest workers (a shared subscription) must not each open one: the next waits here
        # until the first commits, then finds its disaster.
        conn.execute(_OPENING_LOCK)
        disaster_id = current_disaster_id(conn)
    if disaster_id is None:
        first = min(r.device_ts for r in reports)
        disaster_id = open_disaster(
            conn, f"無線報告 {first:%Y-%m-%d}（自動開設） / radio reports (opened automatically)", SYSTEM
        )["id"]
    names = dict(conn.execute(text("SELECT code, name_ja FROM ops.incident_category")).all())
    ids = []
    for r in reports:
        title = r.title or f"{names.get(r.category, r.category)}（{r.device_id} 無線報告）"
        new = NewIncident(
            category=r.category,
            title=title,
            lon=r.lon,
            lat=r.lat,
            description=r.description,
            priority=r.priority,
            source="radio",
            source_ref=r.source_ref,
            reported_at=r.device_ts,
            extra={"unit_id": r.device_id},
        )
        ids.append(create_incident(conn, disaster_id, new, f"radio:{r.device_id}")["id"])
    return ids
