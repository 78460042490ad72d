"""Road closures (通行止め) over HTTP: staff list them, HQ closes and reopens (layers/closures.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from common.inputs import RecordId
from gisapp.db import transaction
from gisapp.deps import EngineDep, HQUser, ReadConn, ReadRoute, StaffUser
from gisapp.params import IdPath
from layers import closures

router = APIRouter(prefix="/api/road-closures", tags=["road closures / 通行止め"], route_class=ReadRoute)


class ClosureIn(BaseModel):
    road_segment_id: RecordId = Field(description="gis.road_segment id (道路台帳の区間)")
    reason: str = Field(min_length=1, max_length=500, pattern=r"\S", description="理由 e.g. 冠水, 土砂崩れ")


@router.get("", summary="Road closures / 通行止め一覧")
def list_closures(
    conn: ReadConn,
    user: StaffUser,
    active_only: Annotated[
        bool, Query(description="only closures still in force / 現在有効なもののみ")
    ] = True,
) -> list[dict]:
    return closures.list_closures(conn, user.roles, active_only)


@router.post("", status_code=201, summary="Close a road segment / 通行止めの登録")
def close_road(body: ClosureIn, engine: EngineDep, user: HQUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return closures.close_road(conn, user.roles, user.username, body.road_segment_id, body.reason)


@router.post("/{closure_id}/reopen", summary="Reopen a closed road / 通行止めの解除")
def reopen_road(closure_id: IdPath, engine: EngineDep, user: HQUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return closures.reopen_road(conn, user.roles, user.username, closure_id)
