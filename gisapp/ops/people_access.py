"""Who read what in the registry of people needing help (閲覧記録): for the registry keeper.

The entries come from the audit log, written by the reading functions themselves
(``gisapp.ops.people``, ``layers.reading``, the OGC API): actor, action, time, how many people, which
area or person, and the disaster mode that was active at that moment, if any (from
``restricted.disaster_mode``, so entries written before a read recorded it are covered too).

Only the registry keeper (admin) reads it: the record of colleagues' reads and of the ids of people a
welfare account may not see in normal mode are themselves part of what the registry protects. Reading
it is audited as well.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from common import audit

READ_ACTIONS = (
    "people.list", "people.priority", "people.roster_csv", "people.roster_page", "people.read",
    "people.plan_read", "layer.read_restricted", "ogc.read_restricted",
)  # fmt: skip
MAX_ENTRIES = 1000

_LOG = text(
    """SELECT a.id, a.at, a.actor, a.action, a.target,
              CASE WHEN a.details ? 'rows' THEN (a.details->>'rows')::bigint END AS rows,
              a.details->>'area' AS area,
              CASE WHEN a.details ? 'person_id' THEN (a.details->>'person_id')::bigint END AS person_id,
              m.id AS disaster_mode_id
         FROM audit.log a
         LEFT JOIN LATERAL (
           SELECT d.id FROM restricted.disaster_mode d
            WHERE d.activated_at <= a.at AND a.at < least(d.expires_at, coalesce(d.ended_at, 'infinity'))
            ORDER BY d.id DESC LIMIT 1) m ON true
        WHERE a.action = ANY(:actions)
          AND (CAST(:actor AS text) IS NULL OR a.actor = CAST(:actor AS text))
          AND (CAST(:since AS timestamptz) IS NULL OR a.at >= CAST(:since AS timestamptz))
          AND (CAST(:until AS timestamptz) IS NULL OR a.at < CAST(:until AS timestamptz))
        ORDER BY a.at DESC, a.id DESC
        LIMIT :limit OFFSET :offset"""
)


def access_log(
    conn: Connection,
    keeper: str,
    *,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Reads and exports of people, newest first, filtered by who and when."""
    params = {"actions": list(READ_ACTIONS), "actor": actor, "since": since, "until": until,
              "limit": min(limit, MAX_ENTRIES), "offset": offset}  # fmt: skip
    rows = [dict(r._mapping) for r in conn.execute(_LOG, params)]
    for row in rows:
        row["under_disaster_mode"] = row["disaster_mode_id"] is not None
    audit.record(conn, keeper, "people.access_log_read", "audit.log", rows=len(rows), of_actor=actor,
                 since=since.isoformat() if since else None, until=until.isoformat() if until else None)  # fmt: skip
    return rows
