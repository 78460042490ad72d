"""Radio-reported incidents (無線からの災害報告): into the open disaster, at once, once.

A field report must not be lost because HQ has not opened a disaster yet: then one is opened for it
(named as such, by 'system', audited), and HQ can rename or move on from there. A redelivered report
is the same incident (source 'radio', source_ref = unit + its message id or timestamp).

A report of a category HQ does not have (a radio with an old list, a typo) is never lost either: it is
filed as その他 ('other'), its incident says 「不明な種別: xxx」 (title and description), the category sent is
kept in the incident's 'created' event (``reported_category``), and the HQ is told by a device alert
(``unknown_category``: an ops.hq_log entry, kind 'device', naming the unit and the incident).

The ingest worker is handed this module (``IngestWorker(..., radio_reports=radio_reports)``): ingest
sits below the web app and the HQ domain and never imports them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from gisapp.ops.disasters import current_disaster_id, open_disaster
from gisapp.ops.incidents import NewIncident, create_incident
from ingest.device_alerts import DeviceAlert, record_device_alerts
from ingest.payloads import RadioIncident

SYSTEM = "system:ingest"
OTHER = "other"  # その他: where a report of an unknown category is filed
_SEEN = text("SELECT id FROM ops.incident WHERE source = 'radio' AND source_ref = :ref")
_OPENING_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('gisapp.radio_reports.open_disaster'))")


def known_categories(conn: Connection, codes: set[str]) -> set[str]:
    if not codes:
        return set()
    rows = conn.execute(
        text("SELECT code FROM ops.incident_category WHERE active AND code = ANY(:c)"), {"c": sorted(codes)}
    )
    return set(rows.scalars())


def record_radio_incidents(conn: Connection, reports: Sequence[RadioIncident]) -> list[int]:
    """Store each report as an incident (an unknown category as その他, flagged); their incident ids."""
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
    known = known_categories(conn, {r.category for r in reports})
    ids, alerts = [], []
    for r in reports:
        unknown = r.category not in known
        marker = f"不明な種別: {r.category}"
        default = marker if unknown else names.get(r.category, r.category)
        title = r.title or f"{default}（{r.device_id} 無線報告）"
        extra = {"unit_id": r.device_id}
        if unknown:
            extra["reported_category"] = r.category
            title = title if not r.title else f"{r.title}（{marker}）"[:200]
        new = NewIncident(
            category=OTHER if unknown else r.category,
            title=title,
            lon=r.lon,
            lat=r.lat,
            description=f"【{marker}】\n{r.description}".rstrip() if unknown else r.description,
            priority=r.priority,
            source="radio",
            source_ref=r.source_ref,
            reported_at=r.device_ts,
            extra=extra,
        )
        again = unknown and conn.execute(_SEEN, {"ref": r.source_ref}).scalar() is not None
        incident = create_incident(conn, disaster_id, new, f"radio:{r.device_id}")
        ids.append(incident["id"])
        if unknown and not again:  # a redelivery was flagged the first time
            detail = f"{marker} → その他 / unknown category {r.category!r} filed as other (#{incident['id']})"
            alerts.append(DeviceAlert(r.device_id, "unknown_category", detail, incident["id"]))
    record_device_alerts(conn, alerts)
    return ids
