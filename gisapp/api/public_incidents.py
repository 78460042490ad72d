"""Incidents of the categories HQ made public (e.g. 通行止め), with their status only.

Both instances mount this router. The public instance reads the ``pub`` views (``pub.incident``,
``pub.incident_category``) through its restricted DB role; the views already leave out title,
description, address, source and reporter, and incidents of closed disasters or cancelled ones. The
internal instance reads the same rule from ``ops.*`` for now (see ``_INCIDENTS_INTERNAL``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text

from gisapp.deps import ConnDep
from gisapp.ops.incidents import STATUSES

router = APIRouter(tags=["public incidents / 公開事案"])

# The columns of the view are listed, not "*": a column added to the view later must be chosen here
# on purpose before the citizen map shows it.
_INCIDENTS = text(
    """SELECT id, category, category_ja, category_en, status, updated_at,
              ST_X(geom) AS lon, ST_Y(geom) AS lat
         FROM pub.incident
        ORDER BY updated_at DESC, id"""
)
_CATEGORIES = text("SELECT code, name_ja, name_en, sort FROM pub.incident_category ORDER BY sort, code")

# Stopgap for the internal instance: migration 0014 grants pub.incident / pub.incident_category to
# gisapp_read_public only, not to gisapp_rw (0002 and 0006 grant their pub views to both). Until it
# does, the internal role reads the views' own definitions from ops.*, which it may read. The tests
# compare both instances with the rule, so the two cannot drift apart unnoticed.
_INCIDENTS_INTERNAL = text(
    """SELECT i.id, i.category, c.name_ja AS category_ja, c.name_en AS category_en, i.status, i.updated_at,
              ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat
         FROM ops.incident i
         JOIN ops.incident_category c ON c.code = i.category
         JOIN ops.disaster d ON d.id = i.disaster_id
        WHERE c.public AND i.status <> 'cancelled' AND d.closed_at IS NULL
        ORDER BY i.updated_at DESC, i.id"""
)
_CATEGORIES_INTERNAL = text(
    "SELECT code, name_ja, name_en, sort FROM ops.incident_category WHERE active ORDER BY sort, code"
)


def _feature(row: dict) -> dict:
    ja, en = STATUSES[row["status"]]
    return {
        "type": "Feature",
        "id": row["id"],
        "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
        "properties": {
            "id": row["id"],
            "category": row["category"],
            "category_ja": row["category_ja"],
            "category_en": row["category_en"],
            "status": row["status"],
            "status_ja": ja,
            "status_en": en,
            "updated_at": row["updated_at"].isoformat(),
        },
    }


@router.get("/api/public/incidents", summary="Public incidents (GeoJSON) / 公開事案")
def public_incidents(request: Request, conn: ConnDep) -> dict:
    rows = conn.execute(_INCIDENTS if request.app.state.public else _INCIDENTS_INTERNAL)
    return {"type": "FeatureCollection", "features": [_feature(dict(r._mapping)) for r in rows]}


@router.get("/api/public/incident-categories", summary="Categories shown to citizens / 公開事案の種別")
def public_categories(request: Request, conn: ConnDep) -> list[dict]:
    # Every active category (the citizen report form offers them all). The view carries no "public"
    # flag, so which of them the map shows is simply what /api/public/incidents contains.
    rows = conn.execute(_CATEGORIES if request.app.state.public else _CATEGORIES_INTERNAL)
    return [dict(r._mapping) for r in rows]
