"""Incidents of the categories HQ made public (e.g. 通行止め), with their status only.

Both instances mount this router. The public instance reads the ``pub`` views (``pub.incident``,
``pub.incident_category``) through its restricted DB role; the views already leave out title,
description, address, source and reporter, and incidents of closed disasters or cancelled ones. The
internal instance reads the same views, so both show exactly the same.
"""

from __future__ import annotations

from fastapi import APIRouter
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
_CATEGORIES = text(
    "SELECT code, name_ja, name_en, public, sort FROM pub.incident_category ORDER BY sort, code"
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
def public_incidents(conn: ConnDep) -> dict:
    rows = conn.execute(_INCIDENTS)
    return {"type": "FeatureCollection", "features": [_feature(dict(r._mapping)) for r in rows]}


@router.get("/api/public/incident-categories", summary="Categories shown to citizens / 公開事案の種別")
def public_categories(conn: ConnDep) -> list[dict]:
    # Every active category (the citizen report form offers them all); `public`: shown on the map.
    rows = conn.execute(_CATEGORIES)
    return [dict(r._mapping) for r in rows]
