"""Road closures (通行止め) on the road ledger: excluded from routing (layers/routing.py).

Staff see the closures of the road layers they may see; HQ closes a segment and reopens it, each an
audited action in the caller's transaction. A closure NOTIFYs ``{"type": "road_closure", ...}`` to the
HQ event stream (migration 0012).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from common import audit
from common.errors import Conflict, NotFound
from layers.catalog import visible_levels

_SELECT = """SELECT json_build_object(
       'id', c.id, 'road_segment_id', c.road_segment_id, 'route_no', r.route_no,
       'route_name', r.route_name, 'layer', l.slug, 'reason', c.reason, 'closed_at', c.closed_at,
       'created_by', c.created_by, 'reopened_at', c.reopened_at, 'reopened_by', c.reopened_by,
       'active', c.reopened_at IS NULL, 'geometry', ST_AsGeoJSON(r.geom, 7)::json) AS j,
       c.closed_at, c.id
     FROM gis.road_closure c
     JOIN gis.road_segment r ON r.id = c.road_segment_id
     JOIN gis.layer l ON l.id = r.layer_id AND l.visibility = ANY(:levels) AND l.deleted_at IS NULL"""

_LIST = text(
    f"""SELECT coalesce(json_agg(s.j ORDER BY s.closed_at DESC, s.id DESC), '[]'::json)
        FROM ({_SELECT} WHERE c.reopened_at IS NULL OR NOT :active_only) s"""  # noqa: S608 - constant
)
_ONE = text(f"SELECT s.j FROM ({_SELECT} WHERE c.id = :id) s")  # noqa: S608 - constant

# The closures in force at :t — closed by then and not yet reopened (the after-action map at time T).
_AT = text(
    f"""SELECT coalesce(json_agg(s.j ORDER BY s.closed_at DESC, s.id DESC), '[]'::json)
        FROM ({_SELECT} WHERE c.closed_at <= :t AND (c.reopened_at IS NULL OR c.reopened_at > :t)) s"""  # noqa: S608 - constant
)

_SEGMENT_VISIBLE = text(
    """SELECT r.id FROM gis.road_segment r JOIN gis.layer l ON l.id = r.layer_id
        WHERE r.id = :id AND l.visibility = ANY(:levels) AND l.deleted_at IS NULL"""
)
_CLOSE = text(
    """INSERT INTO gis.road_closure (road_segment_id, reason, created_by)
       VALUES (:segment, :reason, :actor) RETURNING id"""
)
_REOPEN = text(
    """UPDATE gis.road_closure SET reopened_at = greatest(now(), closed_at), reopened_by = :actor
        WHERE id = :id AND reopened_at IS NULL RETURNING id"""
)


def _segment_not_found() -> NotFound:
    # Unknown and not-visible read the same.
    return NotFound("道路区間が見つかりません。", "Road segment not found.")


def _closure_not_found() -> NotFound:
    return NotFound("通行止めが見つかりません。", "Road closure not found.")


def list_closures(conn: Connection, roles: Iterable[str], active_only: bool = True) -> list[dict]:
    return conn.execute(_LIST, {"levels": visible_levels(roles), "active_only": active_only}).scalar_one()


def closures_at(conn: Connection, roles: Iterable[str], at: datetime) -> list[dict]:
    """The closures in force at ``at`` on the road layers the caller may see (``active``: as of now)."""
    return conn.execute(_AT, {"levels": visible_levels(roles), "t": at}).scalar_one()


def close_road(conn: Connection, roles: Iterable[str], actor: str, segment_id: int, reason: str) -> dict:
    """Close a segment the caller may see (409 when it is closed already)."""
    levels = visible_levels(roles)
    if conn.execute(_SEGMENT_VISIBLE, {"id": segment_id, "levels": levels}).one_or_none() is None:
        raise _segment_not_found()
    reason = reason.strip()
    try:
        with conn.begin_nested():
            closure_id = conn.execute(
                _CLOSE, {"segment": segment_id, "reason": reason, "actor": actor}
            ).scalar_one()
    except IntegrityError as e:  # the one-active-closure-per-segment index
        raise Conflict("この道路区間はすでに通行止めです。", "This road segment is already closed.") from e
    audit.record(
        conn, actor, "road_closure.create", f"road_segment:{segment_id}", closure_id=closure_id, reason=reason
    )
    return conn.execute(_ONE, {"id": closure_id, "levels": levels}).scalar_one()


def reopen_road(conn: Connection, roles: Iterable[str], actor: str, closure_id: int) -> dict:
    """Lift a closure (409 when it was lifted already)."""
    levels = visible_levels(roles)
    found = conn.execute(_ONE, {"id": closure_id, "levels": levels}).scalar_one_or_none()
    if found is None:
        raise _closure_not_found()
    if conn.execute(_REOPEN, {"id": closure_id, "actor": actor}).one_or_none() is None:
        raise Conflict("この通行止めはすでに解除されています。", "This road closure has already been lifted.")
    audit.record(
        conn, actor, "road_closure.reopen", f"road_segment:{found['road_segment_id']}", closure_id=closure_id
    )
    return conn.execute(_ONE, {"id": closure_id, "levels": levels}).scalar_one()
