"""クロノロジー API (internal instance): the chronology with filters, search, keyset paging and CSV;
notes; instructions (指示) with 完了; the handover "since T".

Reading is for any staff. Notes, handovers and instructions are written by the HQ (hq_operator and
admin), as the HQ log's notes are; an instruction is marked done by the HQ or by a member of the
department it went to.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from common.inputs import BIGINT_MAX, INT_MAX, DepartmentId
from gisapp.auth import User
from gisapp.db import transaction
from gisapp.deps import EngineDep, ReadConn, ReadRoute, StaffUser, require_roles
from gisapp.ops import chronology, chronology_csv, handover, instructions
from gisapp.ops.errors import OpsInvalid
from gisapp.params import IdPath

router = APIRouter(tags=["chronology / クロノロジー"], route_class=ReadRoute)

HQOperator = Annotated[User, Depends(require_roles("hq_operator"))]  # and admin
Kind = Literal[tuple(chronology.KINDS)]  # type: ignore[valid-type]


def chronology_filters(
    disaster: Annotated[int | None, Query(gt=0, le=INT_MAX)] = None,
    kind: Annotated[list[Kind] | None, Query(max_length=len(chronology.KINDS))] = None,
    incident: Annotated[int | None, Query(gt=0, le=BIGINT_MAX)] = None,
    department: Annotated[int | None, Query(gt=0, le=INT_MAX)] = None,
    since: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    until: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    q: Annotated[str, Query(max_length=chronology.MAX_QUERY)] = "",
) -> chronology.Filters:
    """The filters every read shares: ``kind`` may repeat; ``from`` inclusive, ``to`` exclusive;
    ``q`` is text in the Japanese or English summary."""
    return chronology.Filters(disaster, tuple(kind or ()), incident, department, since, until, q)


FiltersDep = Annotated[chronology.Filters, Depends(chronology_filters)]


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(
        min_length=1, max_length=chronology.MAX_NOTE, examples=["消防団第3分団が大山町を巡回中"]
    )
    incident_id: int | None = Field(None, gt=0, le=BIGINT_MAX)
    disaster_id: int | None = Field(None, gt=0, le=INT_MAX)


class HandoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=chronology.MAX_NOTE)
    since: AwareDatetime | None = None  # the start of the shift it covers


class InstructionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    department_id: DepartmentId
    text: str = Field(min_length=1, max_length=chronology.MAX_NOTE, examples=["大山町の土のう配布を開始"])
    due_at: AwareDatetime | None = None
    incident_id: int | None = Field(None, gt=0, le=BIGINT_MAX)


class CompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    result: str = Field("", max_length=chronology.MAX_NOTE)


class WithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=chronology.MAX_NOTE)


@router.get("/api/chronology", summary="The chronology, newest first / クロノロジー")
def list_entries(
    filters: FiltersDep,
    conn: ReadConn,
    user: StaffUser,
    before: Annotated[int | None, Query(gt=0, le=BIGINT_MAX)] = None,
    after: Annotated[int | None, Query(ge=0, le=BIGINT_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=chronology.MAX_PAGE)] = 100,
) -> dict:
    """Keyset paging: the next (older) page is ``before=<next_before>``; ``after=<id>`` gives only the
    entries added since (a client that missed events)."""
    items = chronology.entries(conn, filters, before=before, after=after, limit=limit)
    older = items[-1]["id"] if len(items) == limit and after is None else None
    return {"entries": items, "next_before": older}


@router.get("/api/chronology.csv", summary="The chronology as CSV (Excel) / クロノロジーのCSV出力")
def export_csv(
    filters: FiltersDep,
    conn: ReadConn,
    user: StaffUser,
    lang: Literal["ja", "en"] = "ja",
) -> Response:
    items = chronology.all_entries(conn, filters, chronology_csv.MAX_ROWS + 1)
    if len(items) > chronology_csv.MAX_ROWS:
        raise OpsInvalid(
            f"{chronology_csv.MAX_ROWS}件を超えます。期間や種別で絞り込んでください。",
            f"More than {chronology_csv.MAX_ROWS} entries: narrow the time range or kinds.",
        )
    stamp = datetime.now(chronology_csv.JST).strftime("%Y%m%d-%H%M")
    return Response(
        chronology_csv.to_csv(items, lang),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="chronology-{stamp}.csv"'},
    )


@router.post("/api/chronology", status_code=201, summary="Add a note / クロノロジーに記録")
def add_note(body: NoteIn, engine: EngineDep, user: HQOperator) -> dict:
    with transaction(engine, user.roles) as conn:
        return chronology.add_note(
            conn, body.text, user.username, incident_id=body.incident_id, disaster_id=body.disaster_id
        )


@router.get(
    "/api/chronology/handover",
    summary="Handover since T / 引継ぎ（時刻T以降）",
)
def get_handover(
    conn: ReadConn,
    user: StaffUser,
    since: Annotated[AwareDatetime, Query(description="ISO 8601 with offset")],
    disaster: Annotated[int | None, Query(gt=0, le=INT_MAX)] = None,
) -> dict:
    return handover.handover(conn, since, disaster)


@router.post("/api/chronology/handover", status_code=201, summary="Write a handover note / 引継ぎ事項の記録")
def add_handover(body: HandoverIn, engine: EngineDep, user: HQOperator) -> dict:
    with transaction(engine, user.roles) as conn:
        return chronology.add_handover(conn, body.text, user.username, body.since)


@router.get("/api/departments", summary="Departments (whom an instruction can go to) / 部署")
def departments(conn: ReadConn, user: StaffUser) -> list[dict]:
    return instructions.departments(conn)


@router.get("/api/instructions", summary="Instructions (open: by due time) / 指示の一覧")
def list_instructions(
    conn: ReadConn,
    user: StaffUser,
    state: Literal["open", "all"] = "open",
    disaster: Annotated[int | None, Query(gt=0, le=INT_MAX)] = None,
    department: Annotated[int | None, Query(gt=0, le=INT_MAX)] = None,
) -> dict:
    found = instructions.list_instructions(
        conn, open_only=state == "open", disaster_id=disaster, department_id=department
    )
    return {"instructions": found}


@router.post("/api/instructions", status_code=201, summary="Instruct a department / 指示")
def instruct(body: InstructionIn, engine: EngineDep, user: HQOperator) -> dict:
    with transaction(engine, user.roles) as conn:
        return instructions.instruct(
            conn,
            body.department_id,
            body.text,
            user.username,
            due_at=body.due_at,
            incident_id=body.incident_id,
        )


@router.get("/api/instructions/{instruction_id}", summary="One instruction / 指示")
def get_instruction(instruction_id: IdPath, conn: ReadConn, user: StaffUser) -> dict:
    return instructions.get_instruction(conn, instruction_id)


@router.post("/api/instructions/{instruction_id}/complete", summary="Mark done (完了) / 指示の完了")
def complete(instruction_id: IdPath, body: CompleteIn, engine: EngineDep, user: StaffUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return instructions.complete(
            conn, instruction_id, body.result, user.username,
            is_hq=user.has_any("hq_operator"), department_id=user.department_id,
        )  # fmt: skip


@router.post("/api/instructions/{instruction_id}/withdraw", summary="Withdraw (取消) / 指示の取消")
def withdraw(instruction_id: IdPath, body: WithdrawIn, engine: EngineDep, user: HQOperator) -> dict:
    with transaction(engine, user.roles) as conn:
        return instructions.withdraw(conn, instruction_id, body.reason, user.username)
