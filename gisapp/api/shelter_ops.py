"""Shelter operations (避難所運営): closing with the people inside accounted for (issue 14, Wrong 2),
needs (物資) and 要配慮者数, and the operations screen (/shelters/ops, /shelters/{id}/ops).

Reads are for any staff; opening and closing are the HQ's (``HQUser``), needs and 要配慮者数 are
reported by the shelter's own staff too (``StaffUser``). Numbers and items only: no person.
Routes that write run their transaction inside the route (see gisapp/api/incidents.py).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from gisapp.api.pages import staff_page
from gisapp.db import transaction
from gisapp.deps import EngineDep, HQUser, OptionalUser, ReadConn, ReadRoute, StaffUser
from gisapp.ops import shelter_close, shelter_needs
from gisapp.ops.disasters import get_disaster
from gisapp.ops.errors import OpsInvalid, PreconditionRequired
from gisapp.pages_shelter_ops import shelter_ops_page
from gisapp.params import IdPath

router = APIRouter(tags=["shelters / 避難所"], route_class=ReadRoute)

PAGE_ROLES = ("staff", "hq_operator", "welfare")
ShelterRef = Annotated[int, Field(gt=0, le=2**63 - 1)]


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # What happens to the people inside: moved to another open shelter, or checked out with a reason.
    people: Literal["move", "checkout"] | None = None
    move_to: ShelterRef | None = None
    reason: str = Field("", max_length=200, examples=["帰宅"])


class NeedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: str = Field(max_length=400, examples=["飲料水（500ml）"])
    quantity: int = Field(ge=1, le=1_000_000)
    unit: str = Field(max_length=80, examples=["本"])
    priority: int = Field(2, ge=1, le=3)  # 1 高, 2 中, 3 低
    note: str = Field("", max_length=2000)


class NeedPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["requested", "arranged", "delivered", "cancelled"] | None = None
    quantity: int | None = Field(None, ge=1, le=1_000_000)
    priority: int | None = Field(None, ge=1, le=3)
    note: str = Field("", max_length=2000)


class CareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    counts: dict[str, int] = Field(max_length=20, examples=[{"elderly": 12, "infant": 3}])
    version: int = Field(ge=0, le=2**31 - 1)  # the version last read; 0 before the first report


def _version(if_match: str | None) -> int:
    if if_match is None:
        raise PreconditionRequired(
            "更新には If-Match（最後に読んだ版）が必要です。",
            "Updates need If-Match with the version last read.",
        )
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit() or len(value) > 9:
        raise OpsInvalid("If-Match の版が読めません。", 'If-Match must be a version such as "3".')
    return int(value)


# ------------------------------------------------------------------------------ closing
@router.get(
    "/api/disasters/{disaster_id}/shelters/{shelter_id}/close-check",
    summary="What closing a shelter meets / 閉鎖前の確認",
)
def close_check(disaster_id: IdPath, shelter_id: IdPath, conn: ReadConn, user: StaffUser) -> dict:
    return shelter_close.close_check(conn, disaster_id, shelter_id)


@router.post(
    "/api/disasters/{disaster_id}/shelters/{shelter_id}/close", summary="Close a shelter / 避難所の閉鎖"
)
def close(
    disaster_id: IdPath, shelter_id: IdPath, engine: EngineDep, user: HQUser, body: CloseIn | None = None
) -> dict:
    body = body or CloseIn()
    with transaction(engine, user.roles) as conn:
        return shelter_close.close_shelter(
            conn, disaster_id, shelter_id, user.username, people=body.people, move_to=body.move_to,
            reason=body.reason,
        )  # fmt: skip


# ------------------------------------------------------------------------------ needs
@router.get("/api/disasters/{disaster_id}/shelter-needs", summary="Shelter needs / 避難所の物資要請")
def needs(
    disaster_id: IdPath,
    conn: ReadConn,
    user: StaffUser,
    shelter: Annotated[int | None, Query(gt=0, le=2**63 - 1)] = None,
) -> dict:
    get_disaster(conn, disaster_id)
    return {
        "needs": shelter_needs.list_needs(conn, disaster_id, shelter),
        "care": shelter_needs.care_counts(conn, disaster_id, shelter),
    }


@router.post(
    "/api/disasters/{disaster_id}/shelters/{shelter_id}/needs",
    status_code=201,
    summary="Request supplies / 物資の要請",
)
def add_need(
    disaster_id: IdPath, shelter_id: IdPath, body: NeedIn, engine: EngineDep, user: StaffUser
) -> dict:
    with transaction(engine, user.roles) as conn:
        return shelter_needs.add_need(
            conn, disaster_id, shelter_id, body.item, body.quantity, body.unit, body.priority, body.note,
            user.username,
        )  # fmt: skip


@router.patch("/api/shelter-needs/{need_id}", summary="Change a need (If-Match) / 物資要請の更新")
def update_need(
    need_id: IdPath,
    body: NeedPatch,
    engine: EngineDep,
    user: StaffUser,
    if_match: Annotated[str | None, Header(max_length=40)] = None,
) -> dict:
    changes = body.model_dump(exclude_none=True)
    with transaction(engine, user.roles) as conn:
        return shelter_needs.update_need(conn, need_id, _version(if_match), changes, user.username)


@router.get("/api/shelter-needs/{need_id}/events", summary="A need's history / 物資要請の履歴")
def need_events(need_id: IdPath, conn: ReadConn, user: StaffUser) -> list[dict]:
    return shelter_needs.need_events(conn, need_id)


@router.put(
    "/api/disasters/{disaster_id}/shelters/{shelter_id}/care",
    summary="Report 要配慮者数 / 要配慮者数の報告",
)
def report_care(
    disaster_id: IdPath, shelter_id: IdPath, body: CareIn, engine: EngineDep, user: StaffUser
) -> dict:
    with transaction(engine, user.roles) as conn:
        return shelter_needs.report_care(
            conn, disaster_id, shelter_id, body.counts, body.version, user.username
        )


# ------------------------------------------------------------------------------ pages
@router.get("/shelters/ops", response_class=HTMLResponse, include_in_schema=False)
def ops_page(request: Request, user: OptionalUser, lang: str = "ja") -> Response:
    return staff_page(request, user, "/shelters/ops", lang, PAGE_ROLES, shelter_ops_page)


@router.get("/shelters/{shelter_id}/ops", response_class=HTMLResponse, include_in_schema=False)
def one_shelter_page(shelter_id: IdPath, request: Request, user: OptionalUser, lang: str = "ja") -> Response:
    def build(lang: str, **kw) -> object:
        return shelter_ops_page(lang, shelter_id=shelter_id, **kw)

    return staff_page(request, user, f"/shelters/{shelter_id}/ops", lang, PAGE_ROLES, build)
