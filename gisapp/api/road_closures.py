"""Road closures (通行止め) on the road ledger: excluded from routing (layers/routing.py).

Staff see the closures of the road layers they may see; HQ closes a segment and reopens it, each an
audited action. A closure NOTIFYs ``{"type": "road_closure", ...}`` to the HQ event stream (0012).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from common import audit
from gisapp.deps import ConnDep, HQUser, StaffUser
from common.errors import Conflict, NotFound
from layers.catalog import visible_levels

router = APIRouter(prefix="/api/road-closures", tags=["road closures / 通行止め"])

BIGINT_MAX = 2**63 - 1  # ids are bigserial: larger numbers are refused as invalid, not sent to SQL

_SELECT = """SELECT json_build_object(
       'id', c.id, 'road_segment_id', c.road_segment_id, 'route_no', r.route_no,
       'route_name', r.route_name, 'layer', l.slug, 'reason', c.reason, 'closed_at', c.closed_at,
       'created_by', c.created_by, 'reopened_at', c.reopened_at, 'reopened_by', c.reopened_by,
       'active', c.reopened_at IS NULL, 'geometry', ST_AsGeoJSON(r.geom, 7)::json) AS j,
       c.closed_at, c.id
     FROM gis.road_closure c
     JOIN gis.road_segment r ON r.id = c.road_segment_id
     JOIN gis.layer l ON l.id = r.layer_id AND l.visibility = ANY(:levels)"""

_LIST = text(
    f"""SELECT coalesce(json_agg(s.j ORDER BY s.closed_at DESC, s.id DESC), '[]'::json)
        FROM ({_SELECT} WHERE c.reopened_at IS NULL OR NOT :active_only) s"""  # noqa: S608 - constant
)
_ONE = text(f"SELECT s.j FROM ({_SELECT} WHERE c.id = :id) s")  # noqa: S608 - constant

_SEGMENT_VISIBLE = text(
    """SELECT r.id FROM gis.road_segment r JOIN gis.layer l ON l.id = r.layer_id
        WHERE r.id = :id AND l.visibility = ANY(:levels)"""
)
_CLOSE = text(
    """INSERT INTO gis.road_closure (road_segment_id, reason, created_by)
       VALUES (:segment, :reason, :actor) RETURNING id"""
)
_REOPEN = text(
    """UPDATE gis.road_closure SET reopened_at = greatest(now(), closed_at), reopened_by = :actor
        WHERE id = :id AND reopened_at IS NULL RETURNING id"""
)


class ClosureIn(BaseModel):
    road_segment_id: int = Field(gt=0, le=BIGINT_MAX, description="gis.road_segment id (道路台帳の区間)")
    reason: str = Field(min_length=1, max_length=500, pattern=r"\S", description="理由 e.g. 冠水, 土砂崩れ")


def _segment_not_found() -> NotFound:
    # Unknown and not-visible read the same.
    return NotFound("道路区間が見つかりません。", "Road segment not found.")


def _closure_not_found() -> NotFound:
    return NotFound("通行止めが見つかりません。", "Road closure not found.")


@router.get("", summary="Road closures / 通行止め一覧")
def list_closures(
    conn: ConnDep,
    user: StaffUser,
    active_only: Annotated[
        bool, Query(description="only closures still in force / 現在有効なもののみ")
    ] = True,
) -> list[dict]:
    return conn.execute(
        _LIST, {"levels": visible_levels(user.roles), "active_only": active_only}
    ).scalar_one()


@router.post("", status_code=201, summary="Close a road segment / 通行止めの登録")
def close_road(body: ClosureIn, conn: ConnDep, user: HQUser) -> dict:
    levels = visible_levels(user.roles)
    if conn.execute(_SEGMENT_VISIBLE, {"id": body.road_segment_id, "levels": levels}).one_or_none() is None:
        raise _segment_not_found()
    try:
        with conn.begin_nested():
            closure_id = conn.execute(
                _CLOSE,
                {"segment": body.road_segment_id, "reason": body.reason.strip(), "actor": user.username},
            ).scalar_one()
    except IntegrityError as e:  # the one-active-closure-per-segment index
        raise Conflict("この道路区間はすでに通行止めです。", "This road segment is already closed.") from e
    audit.record(
        conn,
        user.username,
        "road_closure.create",
        f"road_segment:{body.road_segment_id}",
        closure_id=closure_id,
        reason=body.reason.strip(),
    )
    return conn.execute(_ONE, {"id": closure_id, "levels": levels}).scalar_one()


@router.post("/{closure_id}/reopen", summary="Reopen a closed road / 通行止めの解除")
def reopen_road(closure_id: Annotated[int, Path(gt=0, le=BIGINT_MAX)], conn: ConnDep, user: HQUser) -> dict:
    levels = visible_levels(user.roles)
    found = conn.execute(_ONE, {"id": closure_id, "levels": levels}).scalar_one_or_none()
    if found is None:
        raise _closure_not_found()
    if conn.execute(_REOPEN, {"id": closure_id, "actor": user.username}).one_or_none() is None:
        raise Conflict("この通行止めはすでに解除されています。", "This road closure has already been lifted.")
    audit.record(
        conn,
        user.username,
        "road_closure.reopen",
        f"road_segment:{found['road_segment_id']}",
        closure_id=closure_id,
    )
    return conn.execute(_ONE, {"id": closure_id, "levels": levels}).scalar_one()
