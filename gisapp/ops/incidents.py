"""Incidents (災害事案) and their status: 未対応 → 対応中 → 対応済 (or 取消), every change an event.

The incident row is the current state and carries a version; a change names the version it was based
on, and a stale one is refused with the current state (the caller answers 409). Each change appends
one row to ``ops.incident_event`` (append-only), in the same transaction.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import shapely
import shapely.errors
import shapely.geometry
import shapely.validation
from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql import bindparam

from common import audit, geo
from common.geo import check_location, location_problem
from gisapp.ops.errors import OpsConflict, OpsInvalid, OpsNotFound
from gisapp.ops.photos import CleanPhoto
from layers.routing import nearest_road_segment

# status: (日本語, English)
STATUSES: dict[str, tuple[str, str]] = {
    "unhandled": ("未対応", "Not handled"),
    "in_progress": ("対応中", "In progress"),
    "done": ("対応済", "Done"),
    "cancelled": ("取消", "Cancelled"),
}
# Which status may follow which: reopening a done incident and restoring a cancelled one are allowed.
TRANSITIONS: dict[str, frozenset[str]] = {
    "unhandled": frozenset({"in_progress", "done", "cancelled"}),
    "in_progress": frozenset({"unhandled", "done", "cancelled"}),
    "done": frozenset({"in_progress"}),
    "cancelled": frozenset({"unhandled"}),
}
SOURCES = ("radio", "staff", "citizen", "phone")
EDITABLE = ("title", "description", "address", "priority", "category")
NEAREST_ROAD_MAX_M = 200

_SELECT = """
SELECT i.id, i.disaster_id, i.category, c.name_ja AS category_ja, c.name_en AS category_en, i.title,
       i.description, i.address, i.priority, i.source, i.source_ref, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
       CASE WHEN i.area IS NULL THEN NULL ELSE ST_AsGeoJSON(i.area)::jsonb END AS area,
       i.road_segment_id, r.route_name AS road_name, i.road_distance_m, i.status, i.version,
       i.reported_at, i.created_by, i.updated_at
  FROM ops.incident i
  JOIN ops.incident_category c ON c.code = i.category
  LEFT JOIN gis.road_segment r ON r.id = i.road_segment_id
"""

# An assignment with its unit's and team's names (either may be absent: a team without a radio).
ASSIGNMENTS_SQL = """SELECT a.id, a.incident_id, a.unit_id, d.name AS unit_name, a.team_id, t.name AS team_name,
                            a.state, a.dispatched_at, a.dispatched_by, a.on_scene_at, a.cleared_at
                       FROM ops.assignment a
                       LEFT JOIN sensor.device d ON d.id = a.unit_id
                       LEFT JOIN ops.team t ON t.id = a.team_id"""

_INSERT = text(
    """INSERT INTO ops.incident (disaster_id, category, title, description, address, priority, source, source_ref,
                             geom, area, road_segment_id, road_distance_m, reported_at, created_by)
       VALUES (:disaster_id, :category, :title, :description, :address, :priority, :source, :source_ref,
               ST_SetSRID(ST_MakePoint(:lon, :lat), 4326),
               CASE WHEN CAST(:area AS text) IS NULL THEN NULL
                    ELSE ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(CAST(:area AS text)), 4326)) END,
               :road_id, :road_m, coalesce(CAST(:reported_at AS timestamptz), now()), :actor)
       ON CONFLICT (source, source_ref) DO NOTHING
       RETURNING id"""
)
_EVENT = text(
    """INSERT INTO ops.incident_event (incident_id, actor, kind, from_status, to_status, version, note, data)
       VALUES (:incident_id, :actor, :kind, :from_status, :to_status, :version, :note, :data)"""
).bindparams(bindparam("data", type_=JSONB))

_NOTE_EVENT = text(
    """INSERT INTO ops.incident_event (incident_id, actor, kind, version, note)
       VALUES (:incident_id, :actor, 'note', :version, :note) RETURNING id"""
)


@dataclass
class NewIncident:
    category: str
    title: str
    lon: float
    lat: float
    description: str = ""
    address: str = ""
    priority: int = 3
    source: str = "staff"
    source_ref: str | None = None
    area: dict[str, Any] | None = None  # GeoJSON Polygon or MultiPolygon, EPSG:4326
    reported_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # recorded in the 'created' event


def status_label(status: str) -> dict[str, str]:
    ja, en = STATUSES[status]
    return {"status": status, "status_ja": ja, "status_en": en}


def _check_category(conn: Connection, category: str) -> None:
    found = conn.execute(
        text("SELECT 1 FROM ops.incident_category WHERE code = :c AND active"), {"c": category}
    ).scalar()
    if not found:
        raise OpsInvalid(
            f"不明な種別です: {category[:40]}", f"Unknown category: {category[:40]}", field="category"
        )


def _check_fields(values: dict[str, Any]) -> None:
    if "title" in values and not 1 <= len(str(values["title"]).strip()) <= 200:
        raise OpsInvalid("件名は1〜200文字です。", "The title needs 1 to 200 characters.", field="title")
    if "priority" in values and values["priority"] not in (1, 2, 3, 4, 5):
        raise OpsInvalid("優先度は1〜5です。", "Priority is 1 (most urgent) to 5.", field="priority")
    if len(str(values.get("description", ""))) > 4000:
        raise OpsInvalid(
            "説明が長すぎます（4000文字まで）。", "Description too long (4000 max).", field="description"
        )
    if len(str(values.get("address", ""))) > 300:
        raise OpsInvalid("住所が長すぎます（300文字まで）。", "Address too long (300 max).", field="address")


def create_incident(conn: Connection, disaster_id: int, new: NewIncident, actor: str) -> dict:
    """Store a new incident (status 未対応) and its 'created' event. A radio or citizen report
    delivered twice (same source and source_ref) returns the incident made the first time."""
    disaster = conn.execute(
        text("SELECT closed_at FROM ops.disaster WHERE id = :id"), {"id": disaster_id}
    ).one_or_none()
    if disaster is None:
        raise OpsNotFound("災害が見つかりません。", "No such disaster.", disaster_id=disaster_id)
    if disaster.closed_at is not None:
        raise OpsInvalid(
            "閉じた災害には登録できません。", "This disaster is closed.", disaster_id=disaster_id
        )
    if new.source not in SOURCES:
        raise OpsInvalid(
            "不明な受付経路です。", f"Unknown source (one of {', '.join(SOURCES)}).", field="source"
        )
    check_location(new.lon, new.lat)  # in Japan; (0, 0), swapped axes or signs get their own reason
    _check_category(conn, new.category)
    _check_fields(
        {"title": new.title, "priority": new.priority, "description": new.description, "address": new.address}
    )
    area = area_geojson(new.area)
    road = nearest_road_segment(conn, new.lon, new.lat, NEAREST_ROAD_MAX_M)
    params = {
        "disaster_id": disaster_id,
        "category": new.category,
        "title": new.title.strip(),
        "description": new.description,
        "address": new.address,
        "priority": new.priority,
        "source": new.source,
        "source_ref": new.source_ref,
        "lon": new.lon,
        "lat": new.lat,
        "area": area,
        "road_id": road.id if road else None,
        "road_m": road.distance_m if road else None,
        "reported_at": new.reported_at,
        "actor": actor,
    }
    incident_id = conn.execute(_INSERT, params).scalar()
    if incident_id is None:  # the same report again
        existing = conn.execute(
            text("SELECT id FROM ops.incident WHERE source = :s AND source_ref = :r"),
            {"s": new.source, "r": new.source_ref},
        ).scalar_one()
        return get_incident(conn, existing)
    _append_event(
        conn,
        incident_id,
        actor,
        "created",
        1,
        to_status="unhandled",
        data={"source": new.source, **new.extra},
    )
    audit.record(
        conn, actor, "incident.create", str(incident_id), disaster_id=disaster_id, category=new.category
    )
    return get_incident(conn, incident_id)


def _area_problem(area: object) -> tuple[str, str] | None:
    """Why ``area`` is not a GeoJSON Polygon/MultiPolygon we can store, checked before PostGIS sees it
    (an unclosed ring reaching ST_GeomFromGeoJSON was a 500)."""
    if not isinstance(area, dict) or area.get("type") not in ("Polygon", "MultiPolygon"):
        return "Polygon か MultiPolygon ではありません", "not a Polygon or MultiPolygon"
    coords = area.get("coordinates")
    polygons = [coords] if area["type"] == "Polygon" else coords
    if not isinstance(polygons, list) or not polygons:
        return "座標がありません", "no coordinates"
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            return "リングがありません", "a polygon without rings"
        for ring in polygon:
            if not isinstance(ring, list) or not all(
                isinstance(p, list) and len(p) in (2, 3)
                and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in p)
                for p in ring
            ):  # fmt: skip
                return "座標が数値の組ではありません", "coordinates are not pairs of finite numbers"
            if len(ring) < 4:
                return "リングの頂点が4つ未満です", "a ring has fewer than 4 positions"
            if ring[0][:2] != ring[-1][:2]:
                return (
                    "リングが閉じていません（最初と最後の頂点が違います）",
                    "a ring is not closed (first and last positions differ)",
                )
    return None


def area_geojson(area: dict[str, Any] | None) -> str | None:
    """An affected area as the 2D GeoJSON text to store: a valid Polygon or MultiPolygon in Japan
    (longitude/latitude), or OpsInvalid (422) saying why not. What is stored is what shapely read,
    never the client's text (no foreign members, no heights)."""
    if area is None:
        return None
    problem = _area_problem(area)
    geom = None
    if problem is None:
        try:
            geom = shapely.force_2d(shapely.geometry.shape(area))
        except (ValueError, TypeError, AttributeError, IndexError, KeyError, shapely.errors.ShapelyError):
            problem = "読み取れません", "unreadable"
    if problem is None and (geom.is_empty or not geom.is_valid):
        why = "empty" if geom.is_empty else shapely.validation.explain_validity(geom)
        problem = f"空か不正な形です（{why}）", f"empty or invalid ({why}; self-intersecting?)"
    if problem is None:
        minx, miny, maxx, maxy = geom.bounds
        code = location_problem(minx, miny) or location_problem(maxx, maxy)
        if code:
            problem = geo.REASONS[code]
    if problem:
        raise OpsInvalid(
            f"範囲はGeoJSONの正しいPolygon（経度・緯度、日本国内）で指定してください: {problem[0]}",
            f"The area must be a valid GeoJSON Polygon in longitude/latitude inside Japan: {problem[1]}.",
            field="area",
        )
    return json.dumps(shapely.geometry.mapping(geom))


def get_incident(conn: Connection, incident_id: int, *, for_update: bool = False) -> dict:
    row = conn.execute(
        text(_SELECT + " WHERE i.id = :id" + (" FOR UPDATE OF i" if for_update else "")),
        {"id": incident_id},
    ).one_or_none()
    if row is None:
        raise OpsNotFound("事案が見つかりません。", "No such incident.", incident_id=incident_id)
    out = dict(row._mapping)
    out.update(status_label(out["status"]))
    out["assignments"] = [
        dict(r._mapping)
        for r in conn.execute(
            text(ASSIGNMENTS_SQL + " WHERE a.incident_id = :id ORDER BY a.id"),
            {"id": incident_id},
        )
    ]
    out["photos"] = photo_links(conn, incident_id)
    return out


def photo_links(conn: Connection, incident_id: int) -> list[dict]:
    """Staff photos of the incident and the photos of the citizen reports it took in (staff routes)."""
    rows = conn.execute(
        text(
            """SELECT 'staff' AS source, id, uploaded_at AS at, '/api/incident-photos/' || id AS url
                 FROM ops.incident_photo WHERE incident_id = :id
               UNION ALL
               SELECT 'citizen', id, created_at, '/api/reports/' || id || '/photo'
                 FROM ops.citizen_report WHERE incident_id = :id AND photo IS NOT NULL
               ORDER BY at"""
        ),
        {"id": incident_id},
    )
    return [dict(r._mapping) for r in rows]


def add_photo(conn: Connection, incident_id: int, photo: CleanPhoto, actor: str) -> dict:
    """Attach a cleaned photo (see gisapp.ops.photos) and record it as an event."""
    incident = get_incident(conn, incident_id, for_update=True)
    photo_id = conn.execute(
        text(
            """INSERT INTO ops.incident_photo (incident_id, photo, photo_type, width, height, uploaded_by)
               VALUES (:i, :p, :t, :w, :h, :a) RETURNING id"""
        ),
        {
            "i": incident_id,
            "p": photo.data,
            "t": photo.media_type,
            "w": photo.width,
            "h": photo.height,
            "a": actor,
        },
    ).scalar_one()
    record_event(conn, incident, actor, "photo", photo_id=photo_id)
    audit.record(conn, actor, "incident.photo", str(incident_id), photo_id=photo_id)
    return {
        "id": photo_id,
        "url": f"/api/incident-photos/{photo_id}",
        "width": photo.width,
        "height": photo.height,
    }


def get_photo(conn: Connection, photo_id: int) -> tuple[bytes, str]:
    row = conn.execute(
        text("SELECT photo, photo_type FROM ops.incident_photo WHERE id = :id"), {"id": photo_id}
    ).one_or_none()
    if row is None:
        raise OpsNotFound("写真が見つかりません。", "No such photo.", photo_id=photo_id)
    return bytes(row.photo), row.photo_type


def list_incidents(
    conn: Connection,
    disaster_id: int,
    *,
    statuses: list[str] | None = None,
    categories: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict]:
    rows = conn.execute(
        text(
            _SELECT
            + """ WHERE i.disaster_id = :d
                   AND (CAST(:statuses AS text[]) IS NULL OR i.status = ANY(CAST(:statuses AS text[])))
                   AND (CAST(:categories AS text[]) IS NULL OR i.category = ANY(CAST(:categories AS text[])))
                   AND (CAST(:since AS timestamptz) IS NULL OR i.reported_at >= CAST(:since AS timestamptz))
                   AND (CAST(:until AS timestamptz) IS NULL OR i.reported_at <= CAST(:until AS timestamptz))
                 ORDER BY i.priority, i.reported_at DESC"""
        ),
        {"d": disaster_id, "statuses": statuses, "categories": categories, "since": since, "until": until},
    )
    out = []
    for r in rows:
        item = dict(r._mapping)
        item.update(status_label(item["status"]))
        out.append(item)
    return out


def update_incident(
    conn: Connection, incident_id: int, expected_version: int, changes: dict[str, Any], actor: str
) -> dict:
    """Apply `changes` (status and/or the editable fields, plus an optional note) if the incident is
    still at `expected_version`; otherwise OpsConflict carrying the current state."""
    note = str(changes.pop("note", "") or "")
    unknown = set(changes) - {"status", *EDITABLE}
    if unknown:
        raise OpsInvalid("変更できない項目があります。", f"Cannot change: {', '.join(sorted(unknown))}.")
    if len(note) > 2000:
        raise OpsInvalid("メモが長すぎます（2000文字まで）。", "Note too long (2000 max).", field="note")
    if not changes and note.strip():
        # A note alone changes nothing another operator could lose: no version to match. It is kept in
        # the incident's history and (by the database) in the chronology.
        add_note(conn, incident_id, note, actor)
        return get_incident(conn, incident_id)
    if not changes:
        raise OpsInvalid("変更内容がありません。", "Nothing to change.")
    current = get_incident(conn, incident_id, for_update=True)  # concurrent edits queue here
    if current["version"] != expected_version:
        raise OpsConflict(
            "他の担当者が先に更新しました。最新の内容を確認してください。",
            "Someone else changed this incident first; check the current state.",
            current=_public_state(current),
        )
    new_status = changes.get("status", current["status"])
    if new_status not in STATUSES:
        raise OpsInvalid(
            "不明な状態です。", f"Unknown status (one of {', '.join(STATUSES)}).", field="status"
        )
    if new_status != current["status"] and new_status not in TRANSITIONS[current["status"]]:
        allowed = sorted(TRANSITIONS[current["status"]])
        raise OpsInvalid(
            f"{STATUSES[current['status']][0]}から{STATUSES[new_status][0]}には変更できません。",
            f"Cannot go from {current['status']} to {new_status}.",
            code_detail="invalid_transition",
            allowed=allowed,
        )
    _check_fields(changes)
    if "category" in changes and changes["category"] != current["category"]:
        _check_category(conn, changes["category"])
    edits = {k: v for k, v in changes.items() if k in EDITABLE and v != current[k]}
    if new_status == current["status"] and not edits:
        if note.strip():  # the status it already has, with a note: the note is the change
            add_note(conn, incident_id, note, actor)
            return get_incident(conn, incident_id)
        raise OpsInvalid("変更内容がありません。", "Nothing to change.")
    conn.execute(
        text(
            """UPDATE ops.incident SET status = :status, title = coalesce(:title, title),
                      description = coalesce(:description, description), address = coalesce(:address, address),
                      priority = coalesce(:priority, priority), category = coalesce(:category, category),
                      version = version + 1, updated_at = now()
                WHERE id = :id"""
        ),
        {"id": incident_id, "status": new_status, **{k: edits.get(k) for k in EDITABLE}},
    )
    status_changed = new_status != current["status"]
    _append_event(
        conn,
        incident_id,
        actor,
        "status" if status_changed else "edited",
        expected_version + 1,
        from_status=current["status"] if status_changed else None,
        to_status=new_status if status_changed else None,
        note=note,
        data={"changed": {k: {"from": current[k], "to": v} for k, v in edits.items()}},
    )
    audit.record(conn, actor, "incident.update", str(incident_id), status=new_status, fields=sorted(edits))
    return get_incident(conn, incident_id)


def add_note(conn: Connection, incident_id: int, note: str, actor: str) -> int:
    """A note about the incident (its history and the chronology); its version stays. The event's id."""
    note = note.strip()
    if not 1 <= len(note) <= 2000:
        raise OpsInvalid(
            "メモは1〜2000文字で入力してください。", "A note needs 1 to 2000 characters.", field="note"
        )
    incident = get_incident(conn, incident_id, for_update=True)  # in order with the incident's other events
    event_id = conn.execute(
        _NOTE_EVENT,
        {"incident_id": incident_id, "actor": actor, "version": incident["version"], "note": note},
    ).scalar_one()
    audit.record(conn, actor, "incident.note", str(incident_id), event_id=event_id)
    return event_id


def _public_state(incident: dict) -> dict:
    """What a 409 carries: enough for the client to show the current state."""
    keep = (
        "id",
        "status",
        "status_ja",
        "status_en",
        "version",
        "title",
        "priority",
        "category",
        "updated_at",
    )
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in incident.items() if k in keep}


def bump_status_on_dispatch(conn: Connection, incident: dict, actor: str) -> None:
    """Dispatching the first unit to an unhandled incident starts the response: 未対応 → 対応中."""
    if incident["status"] != "unhandled":
        return
    conn.execute(
        text(
            "UPDATE ops.incident SET status = 'in_progress', version = version + 1, updated_at = now() WHERE id = :id"
        ),
        {"id": incident["id"]},
    )
    _append_event(
        conn, incident["id"], actor, "status", incident["version"] + 1, from_status="unhandled",
        to_status="in_progress", note="出動により対応中 / in progress: unit dispatched",
    )  # fmt: skip


def _append_event(
    conn: Connection, incident_id: int, actor: str, kind: str, version: int, *,
    from_status: str | None = None, to_status: str | None = None, note: str = "", data: dict | None = None,
) -> None:  # fmt: skip
    """One row of the incident's append-only record."""
    conn.execute(
        _EVENT,
        {
            "incident_id": incident_id,
            "actor": actor,
            "kind": kind,
            "from_status": from_status,
            "to_status": to_status,
            "version": version,
            "note": note,
            "data": data or {},
        },
    )


def record_event(
    conn: Connection, incident: dict, actor: str, kind: str, note: str = "", **data: Any
) -> None:
    _append_event(conn, incident["id"], actor, kind, incident["version"], note=note, data=data)


def events(conn: Connection, incident_id: int) -> list[dict]:
    get_incident(conn, incident_id)
    rows = conn.execute(
        text(
            """SELECT id, at, actor, kind, from_status, to_status, version, note, data
                 FROM ops.incident_event WHERE incident_id = :id ORDER BY id"""
        ),
        {"id": incident_id},
    )
    return [dict(r._mapping) for r in rows]


def counts(conn: Connection, disaster_id: int) -> dict:
    """未対応 N / 対応中 N / 対応済 N, in total and per category."""
    rows = conn.execute(
        text(
            """SELECT i.category, c.name_ja, c.name_en, i.status, count(*) AS n
                 FROM ops.incident i JOIN ops.incident_category c ON c.code = i.category
                WHERE i.disaster_id = :d GROUP BY 1, 2, 3, 4 ORDER BY min(c.sort), 1"""
        ),
        {"d": disaster_id},
    ).all()
    total = dict.fromkeys(STATUSES, 0)
    by_category: dict[str, dict] = {}
    for r in rows:
        total[r.status] += r.n
        entry = by_category.setdefault(
            r.category,
            {
                "category": r.category,
                "name_ja": r.name_ja,
                "name_en": r.name_en,
                **dict.fromkeys(STATUSES, 0),
            },
        )
        entry[r.status] = r.n
    return {"disaster_id": disaster_id, "total": total, "by_category": list(by_category.values())}


def state_at(conn: Connection, disaster_id: int, at: datetime) -> list[dict]:
    """The incidents of a disaster as they were at `at`: those reported by then, with the status
    their events gave them by then (for the after-action "HQ map at time T")."""
    rows = conn.execute(
        text(
            """SELECT i.id, i.category, i.title, i.priority, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
                      s.to_status AS status, s.version, s.at AS status_since
                 FROM ops.incident i
                 JOIN LATERAL (SELECT e.to_status, e.version, e.at FROM ops.incident_event e
                                WHERE e.incident_id = i.id AND e.to_status IS NOT NULL AND e.at <= :t
                                ORDER BY e.id DESC LIMIT 1) s ON true
                WHERE i.disaster_id = :d
                ORDER BY i.id"""
        ),
        {"d": disaster_id, "t": at},
    )
    out = []
    for r in rows:
        item = dict(r._mapping)
        item.update(status_label(item["status"]))
        out.append(item)
    return out
