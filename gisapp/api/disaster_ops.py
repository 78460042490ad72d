"""Closing and merging disasters, moving incidents between them (issue 14, Wrong 3).

A disaster closes only when nothing is left behind (409 listing what is); ``GET …/close-check`` says
what would be in the way, for the screen's confirmation dialog. Routes that write run their transaction
inside the route (see gisapp/api/incidents.py).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from gisapp.db import transaction
from gisapp.deps import EngineDep, HQUser, ReadConn, ReadRoute, StaffUser
from gisapp.ops import disaster_close, disaster_merge
from gisapp.params import IdPath

router = APIRouter(tags=["disaster HQ / 災害対策本部"], route_class=ReadRoute)

DisasterRef = Annotated[int, Field(gt=0, le=2**31 - 1)]


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    incidents_to: DisasterRef | None = None  # move the open incidents to this open disaster
    # Open shelters: close the empty ones, or also check out everyone inside (with ``reason``).
    shelters: Literal["close_empty", "checkout"] | None = None
    reason: str = Field("", max_length=200, examples=["帰宅"])


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disaster_id: DisasterRef
    version: int | None = Field(None, ge=1, le=2**31 - 1)  # the incident's version last read, if known
    note: str = Field("", max_length=2000)


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    into: DisasterRef


@router.get(
    "/api/disasters/{disaster_id}/close-check", summary="What is in the way of closing / 終了前の確認"
)
def close_check(disaster_id: IdPath, conn: ReadConn, user: StaffUser) -> dict:
    return disaster_close.close_check(conn, disaster_id)


@router.post("/api/disasters/{disaster_id}/close", summary="Close a disaster / 災害の終了")
def close(disaster_id: IdPath, engine: EngineDep, user: HQUser, body: CloseIn | None = None) -> dict:
    body = body or CloseIn()
    with transaction(engine, user.roles) as conn:
        return disaster_close.close_disaster(
            conn, disaster_id, user.username, incidents_to=body.incidents_to, shelters=body.shelters,
            reason=body.reason,
        )  # fmt: skip


@router.post("/api/incidents/{incident_id}/move", summary="Move an incident to another disaster / 事案の移動")
def move(incident_id: IdPath, body: MoveIn, engine: EngineDep, user: HQUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return disaster_close.move_incident(
            conn, incident_id, body.disaster_id, user.username, expected_version=body.version, note=body.note
        )


@router.post("/api/disasters/{disaster_id}/merge", summary="Merge into another disaster / 災害の統合")
def merge(disaster_id: IdPath, body: MergeIn, engine: EngineDep, user: HQUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return disaster_merge.merge_disasters(conn, disaster_id, body.into, user.username)
