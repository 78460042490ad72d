"""After-action export (記録の出力) of a disaster: its incidents, their events and the dispatches, as CSV
(UTF-8 with BOM, for Excel) or GeoJSON. Cells of the CSV are neutralised against formula injection
(``common.csvsafe``): an anonymous citizen report's ``=HYPERLINK(…)`` reaches the HQ's spreadsheet as text.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from common import csvsafe
from gisapp.ops import dispatch, incidents
from gisapp.ops.disasters import get_disaster

PARTS = ("incidents", "events", "assignments")
FORMATS = ("csv", "geojson")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "geojson": "application/geo+json"}

_EVENTS = text(
    """SELECT e.id, e.incident_id, e.at, e.actor, e.kind, e.from_status, e.to_status, e.version, e.note,
              e.data, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat
         FROM ops.incident_event e JOIN ops.incident i ON i.id = e.incident_id
        WHERE i.disaster_id = :d ORDER BY e.id"""
)


@dataclass(frozen=True)
class Export:
    filename: str
    media_type: str
    body: bytes


def feature(item: dict) -> dict:
    """A row with ``lon``/``lat`` as a GeoJSON Point feature (the other columns its properties)."""
    props = {k: v for k, v in item.items() if k not in ("lon", "lat", "area")}
    return {
        "type": "Feature",
        "id": item["id"],
        "geometry": {"type": "Point", "coordinates": [item["lon"], item["lat"]]},
        "properties": props,
    }


def rows(conn: Connection, disaster_id: int, part: str) -> list[dict]:
    if part == "incidents":
        return incidents.list_incidents(conn, disaster_id)
    if part == "assignments":
        return dispatch.assignments_of_disaster(conn, disaster_id)
    if part == "events":
        return [dict(r._mapping) for r in conn.execute(_EVENTS, {"d": disaster_id})]
    raise ValueError(part)


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def to_csv(items: list[dict]) -> str:
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens UTF-8 Japanese correctly only with a BOM
    if items:
        header = list(items[0])
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(header)
        for r in items:
            writer.writerow(csvsafe.row(_cell(r.get(k)) for k in header))
    return out.getvalue()


def after_action(conn: Connection, disaster_id: int, part: str, fmt: str) -> Export:
    """One part of a disaster's record in one format (404 for an unknown disaster)."""
    if part not in PARTS or fmt not in FORMATS:
        raise ValueError(f"{part}.{fmt}")
    disaster = get_disaster(conn, disaster_id)
    items = rows(conn, disaster_id, part)
    if part == "assignments" and fmt == "geojson":  # dispatches have no place of their own: the incident's
        points = {i["id"]: (i["lon"], i["lat"]) for i in incidents.list_incidents(conn, disaster_id)}
        for r in items:
            r["lon"], r["lat"] = points[r["incident_id"]]
    name = f"disaster-{disaster_id}-{part}.{fmt}"
    if fmt == "geojson":
        doc = {
            "type": "FeatureCollection",
            "name": f"{disaster['name']} {part}",
            "features": [feature({k: _cell(v) for k, v in r.items()}) for r in items],
        }
        body = json.dumps(doc, ensure_ascii=False).encode()
    else:
        body = to_csv(items).encode()
    return Export(name, MEDIA_TYPES[fmt], body)
