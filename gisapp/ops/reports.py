"""Citizen reports (通報): submitted on the public form, kept in a moderation queue that the public
never sees, then turned into an incident, merged into one, or rejected by staff.

The reporter gets a random token in a link; only its SHA-256 is stored, and the link shows the state
only (受付中 / 未対応 / 対応中 / 対応済 / 取り下げ), nothing personal. The citizen-facing instance
writes and reads through the two SECURITY DEFINER functions in ``pub`` (its role has no grant on
``ops``); moderation runs on the internal instance.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from psycopg import errors as pg_errors
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from common import audit
from common.geo import REASONS, location_problem
from gisapp.ops import incidents
from gisapp.ops.disasters import current_disaster_id
from gisapp.ops.errors import OpsConflict, OpsError, OpsInvalid, OpsNotFound

MAX_DESCRIPTION = 2000
MERGE_RADIUS_M = 50
MERGE_WINDOW_S = 2 * 3600
RATE_LIMIT_SQLSTATE = "GA429"
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")  # secrets.token_urlsafe(24)

# What the reporter's link shows: (code, 日本語, English).
RECEIVED = ("received", "受付中", "Received")
RECEIVED_LABELS = dict(zip(("status", "status_ja", "status_en"), RECEIVED, strict=True))
WITHDRAWN = ("withdrawn", "取り下げ", "Closed without action")
_BY_INCIDENT = {
    "unhandled": ("unhandled", "未対応", "Not handled yet"),
    "in_progress": ("in_progress", "対応中", "In progress"),
    "done": ("done", "対応済", "Done"),
    "cancelled": WITHDRAWN,
}


class RateLimited(OpsError):
    status, code = 429, "rate_limited"


@dataclass(frozen=True)
class NewReport:
    category: str
    lon: float
    lat: float
    description: str = ""
    photo: bytes | None = None  # already cleaned by gisapp.ops.photos
    photo_type: str | None = None


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def client_key(secret: bytes, address: str) -> bytes:
    """A keyed hash of the sender's address: enough to count its reports, not to recover it."""
    return hmac.new(secret, address.encode(), hashlib.sha256).digest()


def categories(conn: Connection, *, public: bool) -> list[dict]:
    """Active categories; the citizen-facing role reads them through its view."""
    source = "pub.incident_category" if public else "ops.incident_category WHERE active"
    rows = conn.execute(text(f"SELECT code, name_ja, name_en FROM {source} ORDER BY sort, code"))  # noqa: S608 - one of two constants
    return [dict(r._mapping) for r in rows]


def _check(conn: Connection, new: NewReport, *, public: bool) -> None:
    if new.category not in {c["code"] for c in categories(conn, public=public)}:
        raise OpsInvalid("種別を選んでください。", "Choose a category from the list.", field="category")
    code = location_problem(new.lon, new.lat)  # in Japan: (0, 0), swapped axes or signs say so
    if code is not None:
        ja, en = REASONS[code]
        raise OpsInvalid(
            f"場所が正しくありません（{ja}）地図で場所を選び直してください。",
            f"The location is not plausible ({en}); choose the place on the map again.",
            field="location",
            reason=code,
        )
    if "\x00" in new.description:  # PostgreSQL text cannot hold NUL
        raise OpsInvalid(
            "内容に使えない文字が含まれています。",
            "The description contains a character that cannot be stored.",
            field="description",
        )
    if len(new.description) > MAX_DESCRIPTION:
        raise OpsInvalid(
            f"内容が長すぎます（{MAX_DESCRIPTION}文字まで）。",
            f"The description is too long ({MAX_DESCRIPTION} characters max).",
            field="description",
        )


def submit_report(conn: Connection, new: NewReport, sender_key: bytes, *, public: bool) -> str:
    """Queue a report; returns the token for the reporter's status link (shown once, never stored).
    RateLimited (429) when the sender sent too many in the window set by the database function."""
    _check(conn, new, public=public)
    token = secrets.token_urlsafe(24)
    try:
        with conn.begin_nested():
            conn.execute(
                text("""SELECT pub.submit_citizen_report(:t, :c, :d, :lon, :lat, :photo, :ptype, :k)"""),
                {
                    "t": token_hash(token),
                    "c": new.category,
                    "d": new.description,
                    "lon": new.lon,
                    "lat": new.lat,
                    "photo": new.photo,
                    "ptype": new.photo_type,
                    "k": sender_key,
                },
            )
    except DBAPIError as e:
        if getattr(e.orig, "sqlstate", None) == RATE_LIMIT_SQLSTATE:
            raise RateLimited(
                "短時間の通報が多すぎます。しばらくしてからもう一度お試しください。"
                "急を要する場合は 119番・110番へ通報してください。",
                "Too many reports in a short time. Please try again later; in an emergency call 119 or 110.",
            ) from e
        if isinstance(e.orig, pg_errors.ForeignKeyViolation):  # a category retired meanwhile
            raise OpsInvalid(
                "種別を選んでください。", "Choose a category from the list.", field="category"
            ) from e
        raise
    return token


def status_for_token(conn: Connection, token: str) -> dict:
    """What the reporter's link shows. Unknown and malformed tokens answer the same 404."""
    row = None
    if _TOKEN_RE.match(token):
        row = conn.execute(
            text("SELECT * FROM pub.citizen_report_status(:h)"), {"h": token_hash(token)}
        ).one_or_none()
    if row is None:
        raise OpsNotFound("通報が見つかりません。", "No such report.")
    if row.report_state == "pending":
        code, ja, en = RECEIVED
    elif row.report_state == "rejected":
        code, ja, en = WITHDRAWN
    else:
        code, ja, en = _BY_INCIDENT[row.incident_status]
    return {
        "category": row.category,
        "category_ja": row.category_ja,
        "category_en": row.category_en,
        "status": code,
        "status_ja": ja,
        "status_en": en,
        "reported_at": row.reported_at,
        "updated_at": row.updated_at,
    }


# ---------------------------------------------------------------------------------- moderation
PLACE_ROAD_M = 200  # the nearest road named as a report's place, if it is this close

# The report's place in words (moderators cannot read coordinates): the 町丁目/自治会 area that holds
# it and the nearest road-ledger route (KNN on the GiST index, re-ordered by geography).
_SELECT = f"""
SELECT r.id, r.category, c.name_ja AS category_ja, c.name_en AS category_en, r.description,
       ST_X(r.geom) AS lon, ST_Y(r.geom) AS lat, r.photo IS NOT NULL AS has_photo, r.photo_type,
       r.state, r.incident_id, r.created_at, r.moderated_by, r.moderated_at,
       area.name AS area_name, road.route_name AS road_name, road.route_no AS road_no, road.d AS road_m
  FROM ops.citizen_report r JOIN ops.incident_category c ON c.code = r.category
  LEFT JOIN LATERAL (SELECT a.name FROM ops.evac_area a WHERE ST_Intersects(a.geom, r.geom)
                      ORDER BY a.code LIMIT 1) area ON true
  LEFT JOIN LATERAL (
    SELECT k.route_name, k.route_no, k.d
      FROM (SELECT s.route_name, s.route_no, ST_Distance(CAST(s.geom AS geography), CAST(r.geom AS geography)) AS d
              FROM gis.road_segment s
             WHERE NOT EXISTS (SELECT 1 FROM gis.layer l WHERE l.id = s.layer_id AND l.deleted_at IS NOT NULL)
             ORDER BY s.geom <-> r.geom LIMIT 8) k
     WHERE k.d <= {PLACE_ROAD_M} ORDER BY k.d LIMIT 1) road ON true
"""  # noqa: S608 -- own constants only


def get_report(conn: Connection, report_id: int, *, for_update: bool = False) -> dict:
    row = conn.execute(
        text(_SELECT + " WHERE r.id = :id" + (" FOR UPDATE OF r" if for_update else "")), {"id": report_id}
    ).one_or_none()
    if row is None:
        raise OpsNotFound("通報が見つかりません。", "No such report.", report_id=report_id)
    return dict(row._mapping)


def list_reports(conn: Connection, state: str = "pending", limit: int = 200) -> list[dict]:
    """Oldest first in the queue (pending); the latest decisions first for the others."""
    order = "r.created_at, r.id" if state == "pending" else "r.moderated_at DESC NULLS LAST, r.id DESC"
    rows = conn.execute(
        text(_SELECT + f" WHERE r.state = :s ORDER BY {order} LIMIT :n"), {"s": state, "n": limit}
    )
    return [dict(r._mapping) for r in rows]


def photo(conn: Connection, report_id: int) -> tuple[bytes, str]:
    row = conn.execute(
        text("SELECT photo, photo_type FROM ops.citizen_report WHERE id = :id"), {"id": report_id}
    ).one_or_none()
    if row is None or row.photo is None:
        raise OpsNotFound("写真がありません。", "No photo.", report_id=report_id)
    return bytes(row.photo), row.photo_type


def suggestions(conn: Connection, report_id: int) -> dict:
    """Where this report may belong: incidents of its category within 50 m and 2 h (report time vs
    the incident's reported_at) in open disasters, and other pending reports that match the same way."""
    get_report(conn, report_id)
    params = {"id": report_id, "m": MERGE_RADIUS_M, "s": MERGE_WINDOW_S}
    found = conn.execute(
        text(
            """SELECT i.id, i.title, i.status, i.disaster_id, i.reported_at,
                      ST_Distance(i.geom::geography, r.geom::geography) AS distance_m,
                      CAST(abs(extract(epoch FROM i.reported_at - r.created_at)) / 60 AS float8) AS minutes_apart
                 FROM ops.citizen_report r
                 JOIN ops.incident i ON i.category = r.category
                 JOIN ops.disaster d ON d.id = i.disaster_id AND d.closed_at IS NULL
                WHERE r.id = :id AND i.status <> 'cancelled'
                  AND ST_DWithin(i.geom::geography, r.geom::geography, :m)
                  AND abs(extract(epoch FROM i.reported_at - r.created_at)) <= :s
                ORDER BY distance_m, i.id"""
        ),
        params,
    )
    out_incidents = []
    for r in found:
        item = dict(r._mapping)
        item.update(incidents.status_label(item["status"]))
        out_incidents.append(item)
    others = conn.execute(
        text(
            """SELECT o.id, o.created_at,
                      ST_Distance(o.geom::geography, r.geom::geography) AS distance_m,
                      CAST(abs(extract(epoch FROM o.created_at - r.created_at)) / 60 AS float8) AS minutes_apart
                 FROM ops.citizen_report r
                 JOIN ops.citizen_report o ON o.category = r.category AND o.id <> r.id AND o.state = 'pending'
                WHERE r.id = :id
                  AND ST_DWithin(o.geom::geography, r.geom::geography, :m)
                  AND abs(extract(epoch FROM o.created_at - r.created_at)) <= :s
                ORDER BY distance_m, o.id"""
        ),
        params,
    )
    return {"incidents": out_incidents, "reports": [dict(r._mapping) for r in others]}


def _pending(conn: Connection, report_id: int) -> dict:
    report = get_report(conn, report_id, for_update=True)  # two moderators: the second one waits here
    if report["state"] != "pending":
        raise OpsConflict(
            "この通報はすでに処理されています。",
            "This report has been handled already.",
            state=report["state"],
            incident_id=report["incident_id"],
        )
    return report


def _close(conn: Connection, report_id: int, state: str, incident_id: int | None, actor: str) -> None:
    conn.execute(
        text(
            """UPDATE ops.citizen_report SET state = :s, incident_id = :i, moderated_by = :a, moderated_at = now()
                WHERE id = :id"""
        ),
        {"s": state, "i": incident_id, "a": actor, "id": report_id},
    )


def accept(
    conn: Connection,
    report_id: int,
    actor: str,
    *,
    disaster_id: int | None = None,
    title: str | None = None,
    priority: int = 3,
) -> dict:
    """Make the report an incident (source 'citizen', source_ref = the report id) in `disaster_id`,
    by default the current disaster. The photo stays with the report; the incident's 'created'
    event names the staff route that serves it."""
    report = _pending(conn, report_id)
    disaster_id = disaster_id if disaster_id is not None else current_disaster_id(conn)
    if disaster_id is None:
        raise OpsInvalid("開設中の災害がありません。", "No disaster is open.", field="disaster_id")
    extra: dict = {"report_id": report_id}
    if report["has_photo"]:
        extra["photo"] = f"/api/reports/{report_id}/photo"
    new = incidents.NewIncident(
        category=report["category"],
        title=(title or f"市民通報：{report['category_ja']}").strip(),
        lon=report["lon"],
        lat=report["lat"],
        description=report["description"],
        priority=priority,
        source="citizen",
        source_ref=str(report_id),
        reported_at=report["created_at"],
        extra=extra,
    )
    incident = incidents.create_incident(conn, disaster_id, new, actor)
    _close(conn, report_id, "accepted", incident["id"], actor)
    audit.record(conn, actor, "citizen_report.accept", str(report_id), incident_id=incident["id"])
    return {"report": get_report(conn, report_id), "incident": incident}


def merge(conn: Connection, report_id: int, incident_id: int, actor: str, note: str = "") -> dict:
    """Attach the report to an existing incident (a 'report_merged' event on the incident)."""
    report = _pending(conn, report_id)
    incident = incidents.get_incident(conn, incident_id, for_update=True)
    closed = conn.execute(
        text("SELECT closed_at FROM ops.disaster WHERE id = :d"), {"d": incident["disaster_id"]}
    ).scalar()
    if closed is not None:
        raise OpsInvalid("閉じた災害の事案には統合できません。", "That incident's disaster is closed.")
    _close(conn, report_id, "merged", incident_id, actor)
    data: dict = {"report_id": report_id, "category": report["category"]}
    if report["has_photo"]:
        data["photo"] = f"/api/reports/{report_id}/photo"
    incidents.record_event(conn, incident, actor, "report_merged", note, **data)
    audit.record(conn, actor, "citizen_report.merge", str(report_id), incident_id=incident_id)
    return {"report": get_report(conn, report_id), "incident": incidents.get_incident(conn, incident_id)}


def reject(conn: Connection, report_id: int, actor: str, reason: str = "") -> dict:
    _pending(conn, report_id)
    _close(conn, report_id, "rejected", None, actor)
    audit.record(conn, actor, "citizen_report.reject", str(report_id), reason=reason[:500])
    return {"report": get_report(conn, report_id)}


def restore(conn: Connection, report_id: int, actor: str) -> dict:
    """Undo a rejection: the report goes back to the queue (pending), unmoderated. Only a rejected
    report can come back (an accepted or merged one has its incident, handled there)."""
    report = get_report(conn, report_id, for_update=True)
    if report["state"] != "rejected":
        raise OpsConflict(
            "却下した通報だけを元に戻せます。",
            "Only a rejected report can be restored.",
            state=report["state"],
            incident_id=report["incident_id"],
        )
    conn.execute(
        text(
            """UPDATE ops.citizen_report SET state = 'pending', moderated_by = NULL, moderated_at = NULL
                WHERE id = :id"""
        ),
        {"id": report_id},
    )
    audit.record(conn, actor, "citizen_report.restore", str(report_id))
    return {"report": get_report(conn, report_id)}
