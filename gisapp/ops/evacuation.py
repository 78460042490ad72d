"""Evacuation status of households (避難状況) and its totals per community area.

A resident reports with the token of their registration (the same one their QR code carries), staff
report for a household whose card they hold; either way the report is appended. What HQ reads is
numbers per area (`ops.evacuation_by_area`), never a household.
"""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from common import audit
from gisapp.ops.errors import OpsConflict, OpsInvalid, OpsNotFound
from gisapp.ops.households import TOKEN_RE

# status: (日本語, English)
STATUSES: dict[str, tuple[str, str]] = {
    "home": ("在宅", "At home"),
    "relatives": ("親族・知人宅", "With relatives or friends"),
    "shelter": ("避難所", "At a shelter"),
    "car": ("車中泊", "Staying in a car"),
    "unknown": ("不明", "Unknown"),
}
AREA_LAYER = "community-areas"

_RESIDENT = text("SELECT * FROM pub.report_household_status(:token, :status, :area)")
_STAFF = text("SELECT * FROM restricted.report_status(:token, :status, :area, 'staff', :actor, :note)")
_MINE = text("SELECT * FROM pub.household_status_by_token(:token)")
_BY_AREA = text(
    """SELECT e.*, f.properties->>'name' AS area_name,
              CASE WHEN f.geom IS NULL THEN NULL ELSE ST_AsGeoJSON(f.geom, 6)::json END AS geometry
         FROM ops.evacuation_by_area(:d) e
         LEFT JOIN gis.feature f ON f.source_key = e.area_code
              AND f.layer_id = (SELECT id FROM gis.layer WHERE slug = :layer)"""
)


def _check(token: str, status: str) -> None:
    if not TOKEN_RE.match(token or ""):
        raise _unknown()
    if not status:
        raise OpsInvalid("いまどこにいるかを選んでください。", "Choose where you are now.", field="status")
    if status not in STATUSES:
        raise OpsInvalid(
            "不明な避難状況です。", f"Unknown status (one of {', '.join(STATUSES)}).", field="status"
        )


def _unknown() -> OpsNotFound:
    return OpsNotFound("登録が見つかりません。", "No such registration.")


def _report(conn: Connection, statement, params: dict) -> dict:
    try:
        with conn.begin_nested():
            row = conn.execute(statement, params).one()
    except DBAPIError as e:
        state = getattr(e.orig, "sqlstate", None)
        if state == "GA404":
            raise _unknown() from e
        if state == "GA409":
            raise OpsConflict("現在、開設中の災害はありません。", "No disaster is open now.") from e
        if state == "GA422":
            raise OpsInvalid("不明な地区です。", "Unknown area.", field="area") from e
        raise
    ja, en = STATUSES[row.status]
    return {"disaster": row.disaster_name, "status": row.status, "status_ja": ja, "status_en": en,
            "reported_at": row.reported_at}  # fmt: skip


def report_by_resident(conn: Connection, token: str, status: str, area_code: str | None = None) -> dict:
    """The resident's own report (the citizen-facing instance may call this: pub functions only)."""
    _check(token, status)
    return _report(conn, _RESIDENT, {"token": token, "status": status, "area": area_code or None})


def report_by_staff(
    conn: Connection, token: str, status: str, actor: str, note: str = "", area_code: str | None = None
) -> dict:
    """Staff report for the household whose card (token) they hold; audited."""
    _check(token, status)
    if len(note) > 500:
        raise OpsInvalid("メモが長すぎます（500文字まで）。", "Note too long (500 max).", field="note")
    out = _report(conn, _STAFF, {"token": token, "status": status, "area": area_code or None, "actor": actor,
                                 "note": note})  # fmt: skip
    audit.record(conn, actor, "household.status", "", status=status)  # never the token: it is the capability
    return out


def mine(conn: Connection, token: str) -> dict:
    """What the resident's page shows: the current disaster, their status as counted (the latest report,
    or 避難所 when a check-in came after it), whether they are checked in at all, their area."""
    if not TOKEN_RE.match(token or ""):
        raise _unknown()
    row = conn.execute(_MINE, {"token": token}).one_or_none()
    if row is None:
        raise _unknown()
    # A check-in made after the latest report is the household's latest word (migration 0026): 避難所.
    status = "shelter" if row.in_shelter else row.status
    return {
        "in_shelter": bool(row.in_shelter),
        "checked_in": bool(row.checked_in),
        "disaster": row.disaster_name,
        "status": status,
        "status_ja": STATUSES[status][0] if status else None,
        "status_en": STATUSES[status][1] if status else None,
        "reported_at": row.reported_at,
        "area_code": row.area_code,
    }


def areas(conn: Connection, *, points: bool = False) -> list[dict]:
    """The community areas a resident may choose from (code and name; with ``points`` also a point
    inside each, ``lon``/``lat``, for placing a report by its area when neither the position nor the
    map can be used)."""
    point = (
        ", ST_X(ST_PointOnSurface(f.geom)) AS lon, ST_Y(ST_PointOnSurface(f.geom)) AS lat" if points else ""
    )
    rows = conn.execute(
        text(
            # pub views: the citizen-facing instance shows this list too (the area layer is public)
            f"""SELECT f.properties->>'code' AS code, f.properties->>'name' AS name{point} FROM pub.feature f
                 JOIN pub.layer l ON l.id = f.layer_id WHERE l.slug = :layer ORDER BY 1"""  # noqa: S608 - constants
        ),
        {"layer": AREA_LAYER},
    )
    return [dict(r._mapping) for r in rows]


def by_area(conn: Connection, disaster_id: int) -> dict:
    """GeoJSON of the areas with the households' statuses counted (and a row for 地区不明)."""
    features = []
    for r in conn.execute(_BY_AREA, {"d": disaster_id, "layer": AREA_LAYER}):
        counts = {k: getattr(r, k) for k in ("households", "persons", *STATUSES)}
        features.append({
            "type": "Feature",
            "id": r.area_code or "unassigned",
            "geometry": r.geometry,
            "properties": {"area_code": r.area_code, "area_name": r.area_name or "地区不明 / area unknown", **counts},
        })  # fmt: skip
    totals = {k: sum(f["properties"][k] for f in features) for k in ("households", "persons", *STATUSES)}
    return {"type": "FeatureCollection", "disaster_id": disaster_id, "totals": totals, "features": features}
