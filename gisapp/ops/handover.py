"""引継ぎ (shift handover) "since T": what the incoming operator needs, in the order they read it —
the outgoing operator's handover notes, open instructions (overdue first), incidents by status now
and what changed since T, shelters opened and closed, and the chronology since T by kind.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from gisapp.ops import chronology, instructions
from gisapp.ops.disasters import current_disaster_id, get_disaster
from gisapp.ops.incidents import STATUSES, status_label

MAX_ENTRIES = 1000

_INCIDENTS = text(
    """SELECT i.id, i.title, i.address, i.category, c.name_ja AS category_ja, c.name_en AS category_en,
              i.priority, i.status, i.reported_at,
              (SELECT e.to_status FROM ops.incident_event e
                WHERE e.incident_id = i.id AND e.to_status IS NOT NULL AND e.at < :t
                ORDER BY e.id DESC LIMIT 1) AS status_then
         FROM ops.incident i JOIN ops.incident_category c ON c.code = i.category
        WHERE i.disaster_id = :d
        ORDER BY i.priority, i.id"""
)
_SHELTERS = text(
    """SELECT o.shelter_id, s.name, o.opened_at, o.closed_at, o.occupancy, o.responsible_staff,
              o.opened_at >= :t AS opened_since, coalesce(o.closed_at >= :t, false) AS closed_since
         FROM ops.shelter_opening o JOIN gis.shelter s ON s.id = o.shelter_id
        WHERE o.disaster_id = :d AND (o.closed_at IS NULL OR o.opened_at >= :t OR o.closed_at >= :t)
        ORDER BY o.opened_at"""
)


def _incidents(conn: Connection, disaster_id: int, since: datetime) -> dict[str, Any]:
    rows = [dict(r._mapping) for r in conn.execute(_INCIDENTS, {"d": disaster_id, "t": since})]
    now = Counter(r["status"] for r in rows)
    then = Counter(r["status_then"] for r in rows if r["status_then"] is not None)
    changed = []
    for r in rows:
        if r["status_then"] == r["status"]:
            continue
        r.update(status_label(r["status"]))
        ja_then, en_then = STATUSES[r["status_then"]] if r["status_then"] else ("新規", "new")
        r["status_then_ja"], r["status_then_en"] = ja_then, en_then
        changed.append(r)
    return {
        "by_status": [
            {**status_label(s), "now": now[s], "then": then[s], "change": now[s] - then[s]} for s in STATUSES
        ],
        "new": sum(1 for r in rows if r["status_then"] is None),
        "changed": changed,
    }


def handover(conn: Connection, since: datetime, disaster_id: int | None = None) -> dict[str, Any]:
    disaster = get_disaster(conn, disaster_id) if disaster_id is not None else None
    if disaster is None and (current := current_disaster_id(conn)) is not None:
        disaster = get_disaster(conn, current)
    d_id = disaster["id"] if disaster else None
    filters = chronology.Filters(disaster_id=d_id, since=since)
    entries = chronology.all_entries(conn, filters, MAX_ENTRIES + 1)
    by_kind = Counter(e["kind"] for e in entries[:MAX_ENTRIES])
    notes = chronology.entries(conn, chronology.Filters(kinds=("handover",), since=since), limit=20)
    shelters = [dict(r._mapping) for r in conn.execute(_SHELTERS, {"d": d_id, "t": since})] if d_id else []
    return {
        "since": since,
        "disaster": disaster,
        "handover_notes": notes,
        "open_instructions": instructions.list_instructions(conn, open_only=True),
        "incidents": _incidents(conn, d_id, since) if d_id else None,
        "shelters": {
            "opened": [s for s in shelters if s["opened_since"]],
            "closed": [s for s in shelters if s["closed_since"]],
            "open_now": sum(1 for s in shelters if s["closed_at"] is None),
        },
        "by_kind": [
            {"kind": k, "kind_ja": ja, "kind_en": en, "count": by_kind[k]}
            for k, (ja, en) in chronology.KINDS.items()
            if by_kind[k]
        ],
        "entries": entries[:MAX_ENTRIES],
        "truncated": len(entries) > MAX_ENTRIES,
    }
