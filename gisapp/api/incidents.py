"""Disaster HQ API (災害対策本部): disasters, incidents and their status, dispatch, after-action export.
Closing and merging disasters, moving incidents: gisapp/api/disaster_ops.py.

Routes that write run their transaction inside the route, not in a dependency: under contention (fifty
operators dispatching one unit) a dependency's commit would wait for a free worker thread while the
threads wait for its locks.

Updates of an incident need its version: ``If-Match: "<version>"`` (the ``ETag`` of the last read). A
stale version gets 409 with the current state; no ``If-Match`` gets 428.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile

from common.inputs import DepartmentId
from gisapp.api.reports import capped_form
from gisapp.db import transaction
from gisapp.deps import EngineDep, HQUser, ReadConn, ReadRoute, StaffUser
from gisapp.ops import categories, dispatch, exports, incidents, photos, radio_units, unit_board
from gisapp.ops.disasters import get_disaster, list_disasters, open_disaster
from gisapp.ops.errors import OpsInvalid, PreconditionRequired
from gisapp.params import IdPath
from layers import closures

router = APIRouter(tags=["disaster HQ / 災害対策本部"], route_class=ReadRoute)

Status = Literal["unhandled", "in_progress", "done", "cancelled"]


class DisasterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, examples=["令和8年台風第10号"])


class IncidentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: str = Field(max_length=40)
    title: str = Field(min_length=1, max_length=200)
    # Any finite number: the domain says why a place is implausible (outside Japan, (0, 0), swapped).
    lon: float = Field(allow_inf_nan=False, examples=[139.3158])
    lat: float = Field(allow_inf_nan=False, examples=[35.4027])
    description: str = Field("", max_length=4000)
    address: str = Field("", max_length=300)
    priority: int = Field(3, ge=1, le=5)
    source: Literal["staff", "phone"] = "staff"  # radio and citizen reports arrive by their own paths
    area: dict[str, Any] | None = None


class IncidentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Status | None = None
    title: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=4000)
    address: str | None = Field(None, max_length=300)
    priority: int | None = Field(None, ge=1, le=5)
    category: str | None = Field(None, max_length=40)
    note: str = Field("", max_length=2000)


class DispatchIn(BaseModel):
    """A radio unit or a team (班): exactly one of the two."""

    model_config = ConfigDict(extra="forbid")
    unit_id: str | None = Field(None, min_length=1, max_length=64)
    team_id: str | None = Field(None, min_length=1, max_length=64)
    note: str = Field("", max_length=2000)
    # A radio out of contact (通信途絶) is dispatched only when the HQ confirms it can reach it otherwise.
    confirm_offline: bool = False


class TeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, examples=["道路班1"])
    radio_unit_id: str | None = Field(None, min_length=1, max_length=64)
    department_id: DepartmentId | None = None
    active: bool = True


class AssignmentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["on_scene", "cleared"]
    note: str = Field("", max_length=2000)


def _etag(incident: dict) -> str:
    return f'"{incident["version"]}"'


def _with_etag(incident: dict, status: int = 200) -> JSONResponse:
    return JSONResponse(jsonable_encoder(incident), status, headers={"ETag": _etag(incident)})


def _version(if_match: str | None) -> int:
    if if_match is None:
        raise PreconditionRequired(
            "更新には If-Match（最後に読んだ版）が必要です。",
            'Updates need If-Match with the version last read (the ETag, e.g. "3").',
        )
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise OpsInvalid("If-Match の版が読めません。", 'If-Match must be a version such as "3".')
    return int(value)


# ------------------------------------------------------------------------------------ disasters
@router.get("/api/disasters", summary="Disasters / 災害一覧")
def disasters(conn: ReadConn, user: StaffUser) -> list[dict]:
    return list_disasters(conn)


@router.post("/api/disasters", status_code=201, summary="Open a disaster (HQ activation) / 災害の開設")
def open_(body: DisasterIn, engine: EngineDep, user: HQUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return open_disaster(conn, body.name, user.username)


@router.get("/api/disasters/{disaster_id}/counts", summary="未対応 / 対応中 / 対応済 counts")
def counts(disaster_id: IdPath, conn: ReadConn, user: StaffUser) -> dict:
    get_disaster(conn, disaster_id)
    return incidents.counts(conn, disaster_id)


@router.get("/api/incident-categories", summary="Incident categories / 事案種別")
def list_categories(conn: ReadConn, user: StaffUser) -> list[dict]:
    return categories.list_active(conn)


class CategoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$", examples=["bridge_damage"])
    name_ja: str = Field(min_length=1, max_length=40, examples=["橋梁被害"])
    name_en: str = Field(min_length=1, max_length=60, examples=["Bridge damage"])
    public: bool = False
    sort: int = Field(100, ge=0, le=1000)


class CategoryPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name_ja: str | None = Field(None, min_length=1, max_length=40)
    name_en: str | None = Field(None, min_length=1, max_length=60)
    public: bool | None = None  # shown on the citizen map
    active: bool | None = None
    sort: int | None = Field(None, ge=0, le=1000)


@router.post("/api/incident-categories", status_code=201, summary="Add a category / 事案種別の追加")
def add_category(body: CategoryIn, engine: EngineDep, user: HQUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return categories.add(conn, user.username, **body.model_dump())


@router.patch(
    "/api/incident-categories/{code}", summary="Rename, publish or retire a category / 事案種別の変更"
)
def change_category(code: str, body: CategoryPatch, engine: EngineDep, user: HQUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return categories.change(conn, user.username, code, body.model_dump(exclude_none=True))


# ------------------------------------------------------------------------------------ incidents
_feature = exports.feature


@router.get("/api/disasters/{disaster_id}/incidents", summary="A disaster's incidents (GeoJSON) / 事案一覧")
def list_(
    disaster_id: IdPath,
    conn: ReadConn,
    user: StaffUser,
    status: Annotated[list[Status] | None, Query()] = None,
    category: Annotated[list[str] | None, Query()] = None,
    since: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    until: Annotated[AwareDatetime | None, Query(alias="to")] = None,
) -> dict:
    get_disaster(conn, disaster_id)
    items = incidents.list_incidents(
        conn, disaster_id, statuses=status, categories=category, since=since, until=until
    )
    return {"type": "FeatureCollection", "features": [_feature(i) for i in items]}


@router.post(
    "/api/disasters/{disaster_id}/incidents", status_code=201, summary="Register an incident / 事案登録"
)
def create(disaster_id: IdPath, body: IncidentIn, engine: EngineDep, user: HQUser) -> JSONResponse:
    new = incidents.NewIncident(**body.model_dump())
    with transaction(engine, user.roles) as conn:
        created = incidents.create_incident(conn, disaster_id, new, user.username)
    return _with_etag(created, 201)


@router.get("/api/incidents/{incident_id}", summary="One incident / 事案")
def get(incident_id: IdPath, conn: ReadConn, user: StaffUser) -> JSONResponse:
    return _with_etag(incidents.get_incident(conn, incident_id))


@router.patch(
    "/api/incidents/{incident_id}", summary="Change status or details (If-Match) / 状態・内容の変更"
)
def patch(
    incident_id: IdPath,
    body: IncidentPatch,
    engine: EngineDep,
    user: HQUser,
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    changes = body.model_dump(exclude_none=True)
    version = _version(if_match)
    with transaction(engine, user.roles) as conn:
        updated = incidents.update_incident(conn, incident_id, version, changes, user.username)
    return _with_etag(updated)


@router.get("/api/incidents/{incident_id}/events", summary="Status history / 対応履歴")
def history(incident_id: IdPath, conn: ReadConn, user: StaffUser) -> list[dict]:
    return incidents.events(conn, incident_id)


@router.post("/api/incidents/{incident_id}/photos", status_code=201, summary="Attach a photo / 写真の追加")
async def add_photo(incident_id: IdPath, request: Request, user: HQUser) -> dict:
    """multipart/form-data with ``photo`` (JPEG/PNG, 10 MB max): re-encoded without EXIF/GPS."""
    form = await capped_form(request)
    try:
        upload = form.get("photo")
        data = await upload.read() if isinstance(upload, UploadFile) else b""
    finally:
        await form.close()
    if not data:
        raise OpsInvalid("写真を選んでください。", "Choose a photo.", field="photo")
    cleaned = await run_in_threadpool(photos.clean_photo, data)
    engine = request.app.state.engine

    def store() -> dict:
        with transaction(engine, user.roles) as conn:
            return incidents.add_photo(conn, incident_id, cleaned, user.username)

    return await run_in_threadpool(store)


@router.get("/api/incident-photos/{photo_id}", summary="A photo of an incident / 事案の写真")
def photo(photo_id: IdPath, conn: ReadConn, user: StaffUser) -> Response:
    data, media_type = incidents.get_photo(conn, photo_id)
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})


# ------------------------------------------------------------------------------------- dispatch
@router.post(
    "/api/incidents/{incident_id}/assignments", status_code=201, summary="Dispatch a unit / 出動指示"
)
def dispatch_unit(incident_id: IdPath, body: DispatchIn, engine: EngineDep, user: HQUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return dispatch.dispatch(
            conn, incident_id, user.username, unit_id=body.unit_id, team_id=body.team_id, note=body.note,
            confirm_offline=body.confirm_offline,
        )  # fmt: skip


@router.patch("/api/assignments/{assignment_id}", summary="On scene / cleared / 現着・解除")
def assignment_state(assignment_id: IdPath, body: AssignmentPatch, engine: EngineDep, user: HQUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return dispatch.set_state(conn, assignment_id, body.state, user.username, body.note)


@router.get("/api/teams", summary="Teams (班) / 班の一覧")
def teams(conn: ReadConn, user: StaffUser) -> list[dict]:
    return dispatch.list_teams(conn)


@router.put("/api/teams/{team_id}", summary="Create or change a team / 班の登録・変更")
def save_team(
    team_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")],
    body: TeamIn,
    engine: EngineDep,
    user: HQUser,
) -> dict:
    with transaction(engine, user.roles) as conn:
        return dispatch.save_team(
            conn, team_id, body.name, user.username, radio_unit_id=body.radio_unit_id,
            department_id=body.department_id, active=body.active,
        )  # fmt: skip


@router.get(
    "/api/incidents/{incident_id}/recommendations",
    summary="Nearest available units by road / 道路距離で近い出動可能な無線機",
)
def recommendations(
    incident_id: IdPath,
    conn: ReadConn,
    user: HQUser,
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
) -> dict:
    """``units``: the nearest units the HQ can send (busy, off-duty and out-of-contact units left out);
    ``unavailable``: the nearest out of contact (通信途絶) or off duty (休止), each with its reason."""
    incident = incidents.get_incident(conn, incident_id)
    return unit_board.recommendations(conn, incident["lon"], incident["lat"], limit=limit)


# ------------------------------------------------------------------------------- after action
@router.get("/api/disasters/{disaster_id}/at", summary="The HQ map at time T / 時刻 T の本部地図")
def at_time(
    disaster_id: IdPath,
    conn: ReadConn,
    user: HQUser,
    t: Annotated[AwareDatetime, Query(description="ISO 8601 with offset")],
) -> dict:
    get_disaster(conn, disaster_id)
    return {
        "t": t,
        "incidents": {
            "type": "FeatureCollection",
            "features": [_feature(i) for i in incidents.state_at(conn, disaster_id, t)],
        },
        "units": radio_units.unit_positions(conn, t),
        "closures": closures.closures_at(conn, user.roles, t),
    }


@router.get("/api/disasters/{disaster_id}/export/{part}.{fmt}", summary="After-action export / 記録の出力")
def export(
    disaster_id: IdPath,
    part: Literal["incidents", "events", "assignments"],
    fmt: Literal["csv", "geojson"],
    conn: ReadConn,
    user: HQUser,
) -> Response:
    out = exports.after_action(conn, disaster_id, part, fmt)
    headers = {"Content-Disposition": f'attachment; filename="{out.filename}"'}
    return Response(out.body, media_type=out.media_type, headers=headers)
