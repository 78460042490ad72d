"""The unit board (無線機・班の状況): duty and communication states, the duty the HQ sets (待機 / 帰署 /
休止), each unit's duty history, and one unit's track on demand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gisapp.db import transaction
from gisapp.deps import EngineDep, HQUser, ReadConn, ReadRoute
from gisapp.ops import radio_units, unit_board, unit_duty

router = APIRouter(tags=["unit board / 無線機・班の状況"], route_class=ReadRoute)

UnitPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
DEFAULT_TRACK_HOURS = 2


class DutyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["standby", "returning", "off_duty"] = Field(
        description="待機 standby / 帰署 returning / 休止 off duty (出動中・現着 follow the assignment)"
    )
    note: str = Field("", max_length=500)


@router.get("/api/units", summary="The unit board / 無線機・班の状況")
def board(conn: ReadConn, user: HQUser) -> dict:
    return unit_board.board(conn)


@router.post("/api/units/{unit_id}/duty", summary="Set a unit's duty / 無線機の勤務状態を変更")
def set_unit_duty(unit_id: UnitPath, body: DutyIn, engine: EngineDep, user: HQUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return unit_duty.set_duty(conn, user.username, body.state, unit_id=unit_id, note=body.note)


@router.get("/api/units/{unit_id}/duty", summary="A unit's duty history / 無線機の勤務状態の履歴")
def unit_duty_history(
    unit_id: UnitPath, conn: ReadConn, user: HQUser, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[dict]:
    return unit_duty.history(conn, unit_id=unit_id, limit=limit)


@router.post("/api/teams/{team_id}/duty", summary="Set a team's duty / 班の勤務状態を変更")
def set_team_duty(team_id: UnitPath, body: DutyIn, engine: EngineDep, user: HQUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return unit_duty.set_duty(conn, user.username, body.state, team_id=team_id, note=body.note)


@router.get("/api/teams/{team_id}/duty", summary="A team's duty history / 班の勤務状態の履歴")
def team_duty_history(
    team_id: UnitPath, conn: ReadConn, user: HQUser, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[dict]:
    return unit_duty.history(conn, team_id=team_id, limit=limit)


@router.get("/api/units/{unit_id}/track", summary="One unit's track as a line / 無線機の移動経路（線）")
def track(
    unit_id: UnitPath,
    conn: ReadConn,
    user: HQUser,
    since: Annotated[
        AwareDatetime | None, Query(alias="from", description="default: 2 hours before `to`")
    ] = None,
    until: Annotated[AwareDatetime | None, Query(alias="to", description="default: now")] = None,
) -> dict:
    """A LineString of the unit's positions (at most 1000 vertices, simplified over long spans; their
    times in ``properties.times``), at most 7 days."""
    until = until or datetime.now(UTC)
    since = since or until - timedelta(hours=DEFAULT_TRACK_HOURS)
    return radio_units.track_line(conn, unit_id, since, until)
