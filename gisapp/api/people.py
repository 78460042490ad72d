"""People who need evacuation help (避難行動要支援者): internal API and the printable roster page.

The routes gate on roles (welfare, admin, hq_operator); which people a caller actually sees is decided
by row-level security in the database (normal mode: consenting people for welfare, everyone for the
registry keeper admin; an active disaster mode: everyone for its roles). Every read, export and write
is audited by the domain function itself (gisapp.ops.people), in the route's one transaction, which is
committed before the answer is built.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from frontend.catalogue import normalise_lang
from frontend.people_pages import roster_page as roster_view
from gisapp.api.html import page_response
from gisapp.api.staff import NO_STORE, gate
from gisapp.auth import User
from gisapp.db import transaction
from gisapp.deps import EngineDep, OptionalUser, require_roles
from gisapp.ops import disaster_mode as mode
from gisapp.ops import people, people_access
from gisapp.ops.errors import OpsInvalid
from gisapp.params import IdPath, Metres, Offset

router = APIRouter(tags=["people needing help / 避難行動要支援者"])

READERS = ("welfare", "hq_operator")  # admin passes every role check
ReaderUser = Annotated[User, Depends(require_roles(*READERS))]
KeeperUser = Annotated[User, Depends(require_roles("admin"))]  # the registry keeper imports
SwitchUser = Annotated[User, Depends(require_roles("hq_operator"))]  # and admin: disaster mode
# A second person of the other side confirms a disaster mode (HQ ↔ welfare / admin).
ConfirmUser = Annotated[User, Depends(require_roles("hq_operator", "welfare"))]
WriterUser = Annotated[User, Depends(require_roles("welfare"))]  # and admin: plans

Area = Annotated[str | None, Query(max_length=100, description="自治会・町丁目 / community area")]


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str = Field(
        description="not_started 未作成 / drafting 作成中 / done 作成済 / needs_update 要更新"
    )
    summary: str = Field("", max_length=4000)


class DisasterModeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    minutes: int = Field(
        ge=1,
        le=mode.MAX_MINUTES,
        description=f"Length asked for. Alone at most {mode.SOLO_MINUTES} min; longer once a second person"
        " confirms / 単独では最長3時間、それ以上は別の職員の確認後",
    )
    reason: str = Field(min_length=1, max_length=500)
    roles: list[str] | None = None


@router.get("/api/people", summary="People needing help / 避難行動要支援者の一覧")
def list_people(
    engine: EngineDep,
    user: ReaderUser,
    area: Area = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    offset: Offset = 0,
) -> list[dict]:
    with transaction(engine, user.roles) as conn:
        rows = people.list_people(conn, user.username, area, limit, offset)
    return jsonable_encoder(rows)


@router.get("/api/people/priority", summary="Priority list / 優先順位リスト")
def priority(
    engine: EngineDep,
    user: ReaderUser,
    area: Area = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 100,
    radius_m: Metres = people.NEAR_GAUGE_M,
) -> list[dict]:
    with transaction(engine, user.roles) as conn:
        rows = people.priority(conn, user.username, area, limit, radius_m)
    return jsonable_encoder(rows)


@router.get("/api/people/roster.csv", summary="Roster of one area (CSV) / 地区別名簿")
def roster_csv(
    engine: EngineDep, user: ReaderUser, area: Annotated[str, Query(min_length=1, max_length=100)]
):
    with transaction(engine, user.roles) as conn:
        body = people.roster_export(conn, user.username, area)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="roster.csv"', "Cache-Control": "no-store"},
    )


@router.get("/api/people/disaster-mode", summary="Disaster mode state / 災害モードの状態")
def disaster_mode(engine: EngineDep, user: ReaderUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return {"active": jsonable_encoder(mode.active(conn))}


@router.post(
    "/api/people/disaster-mode",
    status_code=201,
    summary="Switch disaster mode on (alone: at most 3 h) / 災害モード開始（単独では最長3時間）",
)
def disaster_mode_on(engine: EngineDep, user: SwitchUser, body: DisasterModeIn) -> dict:
    with transaction(engine, user.roles) as conn:
        active = mode.activate(conn, user, body.minutes, body.reason, body.roles)
    return {"active": jsonable_encoder(active)}


@router.post(
    "/api/people/disaster-mode/{mode_id}/confirm",
    summary="Confirm a disaster mode as a second person / 災害モードの確認（2人目）",
    description="Extends the mode to the length asked for. By a different account of the other side:"
    " HQ (hq_operator) for a welfare/admin activation, welfare or admin for an HQ activation.",
)
def disaster_mode_confirm(engine: EngineDep, user: ConfirmUser, mode_id: int) -> dict:
    with transaction(engine, user.roles) as conn:
        confirmed = mode.confirm(conn, user, mode_id)
    return {"active": jsonable_encoder(confirmed)}


@router.delete("/api/people/disaster-mode", summary="Switch disaster mode off / 災害モード終了")
def disaster_mode_off(engine: EngineDep, user: SwitchUser) -> dict:
    with transaction(engine, user.roles) as conn:
        ended = mode.end(conn, user)
    return {"ended": ended}


@router.get(
    "/api/people/access-log",
    summary="Who read the registry / 要支援者名簿の閲覧記録",
    description="For the registry keeper (admin) only; reading it is audited too.",
)
def access_log(
    engine: EngineDep,
    user: KeeperUser,
    actor: Annotated[str | None, Query(max_length=64, description="利用者名 / username")] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601, inclusive")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601, exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=people_access.MAX_ENTRIES)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[dict]:
    with transaction(engine, user.roles) as conn:
        rows = people_access.access_log(
            conn, user.username, actor=actor, since=since, until=until, limit=limit, offset=offset
        )
    return jsonable_encoder(rows)


@router.post("/api/people/import", summary="Import the registry (CSV) / 名簿の取込")
def import_people(
    engine: EngineDep,
    user: KeeperUser,
    file: Annotated[UploadFile, File(description="UTF-8 or CP932 CSV")],
    layer: Annotated[str, Form(max_length=100)] = people.PEOPLE_LAYER,
) -> dict:
    raw = file.file.read(people.MAX_BYTES + 1)
    with transaction(engine, user.roles) as conn:
        result = people.import_csv(conn, user.username, raw, layer)
    return result.__dict__


@router.get("/api/people/{person_id}", summary="One person / 要支援者の詳細")
def person(engine: EngineDep, user: ReaderUser, person_id: IdPath) -> dict:
    with transaction(engine, user.roles) as conn:
        row = people.get_person(conn, user.username, person_id)
    return jsonable_encoder(row)


@router.get("/api/people/{person_id}/plan", summary="Individual plan / 個別避難計画")
def plan(engine: EngineDep, user: ReaderUser, person_id: IdPath) -> dict:
    with transaction(engine, user.roles) as conn:
        found = people.get_plan(conn, user.username, person_id)
    return jsonable_encoder(found)


@router.put("/api/people/{person_id}/plan", summary="Save the individual plan / 個別避難計画の保存")
def save_plan(engine: EngineDep, user: WriterUser, person_id: IdPath, body: PlanIn) -> dict:
    if body.status not in people.PLAN_STATUS:
        raise OpsInvalid("計画の状態が不正です。", "Unknown plan status.", allowed=list(people.PLAN_STATUS))
    with transaction(engine, user.roles) as conn:
        saved = people.save_plan(conn, user.username, person_id, body.status, body.summary)
    return jsonable_encoder(saved)


@router.get("/people/roster", response_class=HTMLResponse, include_in_schema=False)
def roster_page(
    request: Request, engine: EngineDep, user: OptionalUser, area: str = "", lang: str = "ja"
) -> Response:
    """The printable roster of one area, with a map (Japanese first; ?lang=en). Anonymous readers go
    to the login and come back with the whole query (?area=…&lang=…)."""
    if (refused := gate(request, user, "/people/roster", lang, READERS)) is not None:
        return refused
    area = area.strip()[:100]
    rows: list[dict] = []
    if area:
        with transaction(engine, user.roles) as conn:
            rows = people.roster(conn, user.username, area, action="people.roster_page")
    page = roster_view(
        normalise_lang(lang), area, rows, columns=people.ROSTER_COLUMNS,
        cells=[people.roster_cells(r) for r in rows], query=dict(request.query_params),
        offline=request.app.state.settings.offline,
    )  # fmt: skip
    return page_response(request, page, headers=NO_STORE)
