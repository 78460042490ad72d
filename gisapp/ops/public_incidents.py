"""Incidents of the categories HQ made public (e.g. 通行止め), with their status only, read from the
``pub`` views (``pub.incident``, ``pub.incident_category``): the citizen-facing instance's database role
can read nothing else, and the views already leave out title, description, address, source and
reporter, and incidents of closed disasters or cancelled ones. The internal instance reads the same
views, so both show exactly the same."""

from __future__ import annotations

from sqlalchemy import Connection, text

from gisapp.ops.incidents import STATUSES

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


# The incident category that is a road closure, and how a resident reads it: closed until HQ marks it
# done, whatever HQ's handling says (未対応 means "HQ has not acted", not "the road is open"). The
# words are the closure symbol's (frontend/text/*/symbols.toml closure.*; a test keeps them equal).
ROAD_CLOSURE_CATEGORY = "road_closure"
CLOSURE_STATES: dict[str, tuple[str, str]] = {
    "closed": ("通行止め", "Road closed"),
    "reopened": ("通行できます", "Open again"),
}


def citizen_state(category: str, status: str) -> dict:
    """What a resident reads of an incident: ``road_closure``, ``state`` (a closure's closed/reopened,
    else the status) and the words of that state."""
    if category == ROAD_CLOSURE_CATEGORY:
        state = "reopened" if status == "done" else "closed"
        ja, en = CLOSURE_STATES[state]
        return {"road_closure": True, "state": state, "status_ja": ja, "status_en": en}
    ja, en = STATUSES[status]
    return {"road_closure": False, "state": status, "status_ja": ja, "status_en": en}


def _feature(row: dict) -> dict:
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
            **citizen_state(row["category"], row["status"]),
            "updated_at": row["updated_at"].isoformat(),
        },
    }


def public_incidents(conn: Connection) -> dict:
    """The public incidents as a GeoJSON FeatureCollection, newest change first."""
    rows = conn.execute(_INCIDENTS)
    return {"type": "FeatureCollection", "features": [_feature(dict(r._mapping)) for r in rows]}


def public_categories(conn: Connection) -> list[dict]:
    # Every active category (the citizen report form offers them all); `public`: shown on the map.
    return [dict(r._mapping) for r in conn.execute(_CATEGORIES)]
