"""People who need evacuation help (避難行動要支援者): internal API and the printable roster page.

The routes gate on roles (welfare, admin, hq_operator); which people a caller actually sees is decided
by row-level security in the database (normal mode: consenting people for welfare, everyone for the
registry keeper admin; an active disaster mode: everyone for its roles). Every read and export is
audited as the last statement of its transaction, so each route runs its own transaction.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from common import audit
from frontend.people_pages import roster_html
from gisapp.auth import User
from gisapp.db import transaction
from gisapp.deps import EngineDep, OptionalUser, require_roles
from gisapp.ops import people
from gisapp.ops.errors import OpsInvalid
from gisapp.params import IdPath, Metres, Offset

router = APIRouter(tags=["people needing help / 避難行動要支援者"])

READERS = ("welfare", "hq_operator")  # admin passes every role check
ReaderUser = Annotated[User, Depends(require_roles(*READERS))]
KeeperUser = Annotated[User, Depends(require_roles("admin"))]  # the registry keeper imports
SwitchUser = Annotated[User, Depends(require_roles("hq_operator"))]  # and admin: disaster mode
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
    minutes: int = Field(ge=1, le=people.MAX_DISASTER_MINUTES)
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
        rows = people.list_people(conn, area, limit, offset)
        people.audit_read(conn, user.username, "people.list", len(rows), area=area)
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
        rows = people.priority(conn, area, limit, radius_m)
        people.audit_read(conn, user.username, "people.priority", len(rows), area=area)
    return jsonable_encoder(rows)


@router.get("/api/people/roster.csv", summary="Roster of one area (CSV) / 地区別名簿")
def roster_csv(
    engine: EngineDep, user: ReaderUser, area: Annotated[str, Query(min_length=1, max_length=100)]
):
    with transaction(engine, user.roles) as conn:
        rows = people.roster(conn, area)
        people.audit_read(conn, user.username, "people.roster_csv", len(rows), area=area)
    return Response(
        "\ufeff" + people.roster_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="roster.csv"', "Cache-Control": "no-store"},
    )


@router.get("/api/people/disaster-mode", summary="Disaster mode state / 災害モードの状態")
def disaster_mode(engine: EngineDep, user: ReaderUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return {"active": jsonable_encoder(people.disaster_mode(conn))}


@router.post("/api/people/disaster-mode", status_code=201, summary="Switch disaster mode on / 災害モード開始")
def disaster_mode_on(engine: EngineDep, user: SwitchUser, body: DisasterModeIn) -> dict:
    with transaction(engine, user.roles) as conn:
        mode = people.activate_disaster_mode(conn, user.username, body.minutes, body.reason, body.roles)
        audit.record(
            conn, user.username, "people.disaster_mode_on", "restricted.disaster_mode",
            mode_id=mode["id"], roles=mode["roles"], minutes=body.minutes, reason=mode["reason"],
        )  # fmt: skip
    return {"active": jsonable_encoder(mode)}


@router.delete("/api/people/disaster-mode", summary="Switch disaster mode off / 災害モード終了")
def disaster_mode_off(engine: EngineDep, user: SwitchUser) -> dict:
    with transaction(engine, user.roles) as conn:
        ended = people.end_disaster_mode(conn, user.username)
        audit.record(conn, user.username, "people.disaster_mode_off", "restricted.disaster_mode", ended=ended)
    return {"ended": ended}


@router.post("/api/people/import", summary="Import the registry (CSV) / 名簿の取込")
def import_people(
    engine: EngineDep,
    user: KeeperUser,
    file: Annotated[UploadFile, File(description="UTF-8 or CP932 CSV")],
    layer: Annotated[str, Form(max_length=100)] = people.PEOPLE_LAYER,
) -> dict:
    raw = file.file.read(people.MAX_BYTES + 1)
    with transaction(engine, user.roles) as conn:
        result = people.import_csv(conn, raw, layer)
        audit.record(
            conn, user.username, "people.import", layer,
            rows=result.rows, inserted=result.inserted, updated=result.updated,
        )  # fmt: skip
    return result.__dict__


@router.get("/api/people/{person_id}", summary="One person / 要支援者の詳細")
def person(engine: EngineDep, user: ReaderUser, person_id: IdPath) -> dict:
    with transaction(engine, user.roles) as conn:
        row = people.get_person(conn, person_id)
        people.audit_read(conn, user.username, "people.read", 1, person_id=person_id)
    return jsonable_encoder(row)


@router.get("/api/people/{person_id}/plan", summary="Individual plan / 個別避難計画")
def plan(engine: EngineDep, user: ReaderUser, person_id: IdPath) -> dict:
    with transaction(engine, user.roles) as conn:
        found = people.get_plan(conn, person_id)
        people.audit_read(conn, user.username, "people.plan_read", 1, person_id=person_id)
    return jsonable_encoder(found)


@router.put("/api/people/{person_id}/plan", summary="Save the individual plan / 個別避難計画の保存")
def save_plan(engine: EngineDep, user: WriterUser, person_id: IdPath, body: PlanIn) -> dict:
    if body.status not in people.PLAN_STATUS:
        raise OpsInvalid("計画の状態が不正です。", "Unknown plan status.", allowed=list(people.PLAN_STATUS))
    with transaction(engine, user.roles) as conn:
        saved = people.save_plan(conn, person_id, body.status, body.summary, user.username)
        audit.record(
            conn, user.username, "people.plan_write", "restricted.evacuation_plan",
            person_id=person_id, status=body.status,
        )  # fmt: skip
    return jsonable_encoder(saved)


@router.get("/people/roster", response_class=HTMLResponse, include_in_schema=False)
def roster_page(
    request: Request, engine: EngineDep, user: OptionalUser, area: str = "", lang: str = "ja"
) -> Response:
    """The printable roster of one area, with a map (Japanese first; ?lang=en)."""
    lang = lang if lang in ("ja", "en") else "ja"
    if user is None:
        return RedirectResponse(f"/login?next=%2Fpeople%2Froster&lang={lang}", status_code=303)
    if not user.has_any(*READERS):
        return HTMLResponse(
            "<!DOCTYPE html><html lang='ja'><title>403</title><p>権限がありません / Forbidden", 403
        )
    area = area.strip()[:100]
    rows: list[dict] = []
    if area:
        with transaction(engine, user.roles) as conn:
            rows = people.roster(conn, area)
            people.audit_read(conn, user.username, "people.roster_page", len(rows), area=area)
    offline = request.app.state.settings.offline
    html = roster_html(
        lang, area, rows, columns=people.ROSTER_COLUMNS, cells=[people.roster_cells(r) for r in rows],
        offline=offline,
    )  # fmt: skip
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})
