"""Citizen reports (通報): the public form and the reporter's status link; staff moderation.

``public_router`` is mounted on both instances (the citizen-facing one writes only through
``pub.submit_citizen_report``); ``router`` (moderation, photos) on the internal one only.

The upload is read with a byte cap before any parsing: a 50 MB body is refused with 413 after
``photos.MAX_BYTES`` plus a little, never buffered whole. Photo decoding and the database calls run in
the thread pool.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from python_multipart.exceptions import MultipartParseError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect

from common.errors import InvalidInput
from common.inputs import RecordId, is_normal
from frontend import report_pages
from frontend.catalogue import normalise_lang
from frontend.moderation_page import moderation_page as moderation_view
from gisapp.api.html import page_response
from gisapp.api.staff import NO_STORE, gate
from gisapp.db import transaction
from gisapp.deps import EngineDep, HQUser, OptionalUser, PrimaryReadConn, ReadConn, ReadRoute
from gisapp.ops import evacuation, photos, reports
from gisapp.ops.errors import OpsError
from gisapp.params import IdPath

public_router = APIRouter(tags=["citizen reports / 通報"], route_class=ReadRoute)
router = APIRouter(tags=["citizen reports / 通報"], route_class=ReadRoute)

MAX_BODY = photos.MAX_BYTES + 64 * 1024  # the photo plus the form's other fields


# ------------------------------------------------------------------------------- citizen side
async def capped_form(request: Request):
    """The form, parsed from a body read with a byte cap."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise photos.too_large()
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise photos.too_large()
    except ClientDisconnect as e:
        raise InvalidInput("送信が途中で切れました。", "The upload was interrupted.") from e

    async def replay() -> dict:
        return {"type": "http.request", "body": bytes(body), "more_body": False}

    try:
        return await Request(request.scope, replay).form(max_files=1, max_fields=10)
    except (MultiPartException, MultipartParseError, ValueError) as e:
        raise InvalidInput("送信内容を読み取れませんでした。", "The form could not be read.") from e


def _number(form, name: str) -> float:
    raw = str(form.get(name) or "").strip()
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if value != value or raw == "" or not is_normal(value):  # NaN, empty, or a subnormal SQL refuses
        raise InvalidInput(
            "場所を地図で選ぶか「現在地を使う」を押してください。",
            "Choose the place on the map or press “Use my location”.",
            field="location",
        )
    return value


@public_router.post("/api/reports", status_code=201, summary="Send a report / 通報する")
async def submit(request: Request) -> dict:
    """multipart/form-data: ``category``, ``lon``, ``lat`` (required), ``description``, ``photo``
    (JPEG/PNG, 10 MB max). Answers the status link; the token in it is shown only this once."""
    form = await capped_form(request)
    try:
        lon, lat = _number(form, "lon"), _number(form, "lat")
        upload = form.get("photo")
        data = await upload.read() if isinstance(upload, UploadFile) else b""
    finally:
        await form.close()
    # A file input left empty sends a part with no bytes: no photo.
    cleaned = await run_in_threadpool(photos.clean_photo, data) if data else None
    new = reports.NewReport(
        category=str(form.get("category") or ""),
        lon=lon,
        lat=lat,
        description=str(form.get("description") or "").strip(),
        photo=cleaned.data if cleaned else None,
        photo_type=cleaned.media_type if cleaned else None,
    )
    app = request.app
    host = request.client.host if request.client else ""
    sender = reports.client_key(app.state.settings.client_key_secret(), host)

    def store() -> str:
        with transaction(app.state.write_engine) as conn:
            return reports.submit_report(conn, new, sender, public=app.state.public)

    token = await run_in_threadpool(store)
    return {
        "token": token,
        "status_url": f"/report/status/{token}",
        **reports.RECEIVED_LABELS,
    }


@public_router.get("/api/reports/categories", summary="Report categories / 通報の種別")
def report_categories(request: Request, conn: PrimaryReadConn) -> list[dict]:
    return reports.categories(conn, public=request.app.state.public)


@public_router.get("/api/reports/status/{token}", summary="A report's status / 通報の状況")
def report_status(token: str, conn: PrimaryReadConn) -> dict:
    return reports.status_for_token(conn, token)


@public_router.get("/report", response_class=HTMLResponse, include_in_schema=False)
def report_form_page(request: Request, conn: PrimaryReadConn, lang: str = "ja") -> HTMLResponse:
    cats = reports.categories(conn, public=request.app.state.public)
    areas = evacuation.areas(conn, points=True)
    code = normalise_lang(lang, easy=True)
    return page_response(
        request, report_pages.report_form_page(code, cats, request.app.state.settings.offline, areas)
    )


@public_router.get("/report/status/{token}", response_class=HTMLResponse, include_in_schema=False)
def report_status_page(token: str, request: Request, conn: PrimaryReadConn, lang: str = "ja") -> HTMLResponse:
    code = normalise_lang(lang, easy=True)
    try:
        status = reports.status_for_token(conn, token)
    except OpsError:
        return page_response(request, report_pages.report_status_page(code, token, None), 404)
    return page_response(request, report_pages.report_status_page(code, token, status))


# ---------------------------------------------------------------------------------- moderation
class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disaster_id: RecordId | None = None  # default: the current disaster
    title: str | None = Field(None, min_length=1, max_length=200)
    priority: int = Field(3, ge=1, le=5)


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    incident_id: RecordId
    note: str = Field("", max_length=2000)


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=500)


@router.get("/api/reports", summary="Reports by state (moderation queue) / 通報一覧")
def list_(
    conn: ReadConn,
    user: HQUser,
    state: Literal["pending", "accepted", "merged", "rejected"] = "pending",
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
    with_suggestions: bool = True,
) -> list[dict]:
    items = reports.list_reports(conn, state, limit)
    for item in items:
        if with_suggestions and state == "pending":
            item["suggestions"] = reports.suggestions(conn, item["id"])
        item["photo_url"] = f"/api/reports/{item['id']}/photo" if item["has_photo"] else None
    return items


@router.get("/api/reports/{report_id}", summary="One report / 通報")
def get(report_id: IdPath, conn: ReadConn, user: HQUser) -> dict:
    return reports.get_report(conn, report_id)


@router.get("/api/reports/{report_id}/suggestions", summary="Merge suggestions (50 m, 2 h) / 統合候補")
def suggestions(report_id: IdPath, conn: ReadConn, user: HQUser) -> dict:
    return reports.suggestions(conn, report_id)


@router.get("/api/reports/{report_id}/photo", summary="The report's photo (no metadata) / 写真")
def photo(report_id: IdPath, conn: ReadConn, user: HQUser) -> Response:
    data, media_type = reports.photo(conn, report_id)
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})


@router.post("/api/reports/{report_id}/accept", summary="Make it an incident / 事案にする")
def accept(report_id: IdPath, body: AcceptIn, engine: EngineDep, user: HQUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return reports.accept(
            conn,
            report_id,
            user.username,
            disaster_id=body.disaster_id,
            title=body.title,
            priority=body.priority,
        )


@router.post("/api/reports/{report_id}/merge", summary="Merge into an incident / 事案に統合")
def merge(report_id: IdPath, body: MergeIn, engine: EngineDep, user: HQUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return reports.merge(conn, report_id, body.incident_id, user.username, body.note)


@router.post("/api/reports/{report_id}/reject", summary="Reject / 却下")
def reject(report_id: IdPath, body: RejectIn, engine: EngineDep, user: HQUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return reports.reject(conn, report_id, user.username, body.reason)


class RestoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")


@router.post(
    "/api/reports/{report_id}/restore",
    summary="Undo a rejection (back to the queue) / 却下を取り消す",
    description="Only a rejected report; it goes back to the moderation queue as pending.",
)
def restore(report_id: IdPath, engine: EngineDep, user: HQUser, body: RestoreIn | None = None) -> dict:
    with transaction(engine, user.roles) as conn:
        return reports.restore(conn, report_id, user.username)


@router.get("/hq/reports", response_class=HTMLResponse, include_in_schema=False)
def moderation_page(request: Request, user: OptionalUser, lang: str = "ja") -> Response:
    if (refused := gate(request, user, "/hq/reports", lang, ("hq_operator", "staff"))) is not None:
        return refused
    page = moderation_view(
        normalise_lang(lang),
        query=dict(request.query_params),
        offline=request.app.state.settings.offline,
    )
    return page_response(request, page, headers=NO_STORE)
