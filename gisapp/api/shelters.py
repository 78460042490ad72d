"""Shelters (避難所), pre-registration (事前登録) and check-in (受付) over HTTP.

``public_router`` (both instances): the citizen status of open shelters (numbers only), the resident's
own registration by token (through ``pub.*`` functions), and the pages /register and /register/{token}.
``router`` (internal only): shelters per hazard, opening and closing per disaster, check-ins from the
kiosk, counts with HQ totals, congestion thresholds, welfare reads of a household, the /kiosk page.
Closing a shelter, needs and the operations screen: gisapp/api/shelter_ops.py.

Routes that write run their transaction inside the route (see gisapp/api/incidents.py).
"""

from __future__ import annotations

import io
import uuid
from typing import Annotated, Literal

import segno
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from common.inputs import Percent
from frontend import register_pages
from frontend.catalogue import normalise_lang
from gisapp.api.html import page_response
from gisapp.api.pages import staff_page
from gisapp.db import transaction
from gisapp.deps import EngineDep, HQUser, OptionalUser, PrimaryReadConn, ReadConn, ReadRoute, StaffUser
from gisapp.ops import checkin, households, shelters
from gisapp.ops.disasters import current_disaster_id
from gisapp.ops.errors import OpsError, OpsNotFound
from gisapp.pages_kiosk import kiosk_page
from gisapp.params import IdPath
from layers.catalog import visible_levels

public_router = APIRouter(tags=["shelters / 避難所"], route_class=ReadRoute)
router = APIRouter(tags=["shelters / 避難所"], route_class=ReadRoute)

KIOSK_ROLES = ("staff", "hq_operator", "welfare")


# ------------------------------------------------------------------------------ citizen side
@public_router.get("/api/public/shelters/status", summary="Open shelters and congestion / 避難所の混雑状況")
def public_status(conn: ReadConn) -> dict:
    """Open shelters (public layers, open disasters) with occupancy, capacity, level and last update."""
    return {"shelters": shelters.public_status(conn), "levels": shelters.LEVEL_LABELS}


def _qr(token: str) -> segno.QRCode:
    # The code holds the token only: nothing personal, nothing to read off a photo of it.
    return segno.make_qr(token, error="m")


def registration_links(token: str) -> dict:
    return {
        "token": token,
        "token_display": households.display_token(token),  # what staff type at the kiosk
        "url": f"/register/{token}",
        "evacuation_url": f"/evacuation/{token}",
        "qr_svg": f"/api/register/{token}/qr.svg",
        "qr_png": f"/api/register/{token}/qr.png",
    }


@public_router.post("/api/register", status_code=201, summary="Pre-register a household / 世帯の事前登録")
def register(body: households.HouseholdIn, request: Request) -> dict:
    """Answers the token (the QR code's content); it is shown to the resident only here. The same
    ``request_id`` sent again (a second press, a retry) answers the first registration's token."""
    secret = request.app.state.settings.client_key_secret()
    with transaction(request.app.state.write_engine) as conn:
        token = households.register(conn, body, secret)
    return registration_links(token)


@public_router.get("/api/register/{token}", summary="Your registration / 登録内容の確認")
def own_registration(token: str, conn: PrimaryReadConn) -> dict:
    return {**households.own(conn, token), **registration_links(token)}


@public_router.put("/api/register/{token}", summary="Change your registration / 登録内容の変更")
def change_registration(token: str, body: households.HouseholdIn, request: Request) -> dict:
    with transaction(request.app.state.write_engine) as conn:
        households.update(conn, token, body)
        return {**households.own(conn, token), **registration_links(token)}


@public_router.get("/api/register/{token}/qr.{fmt}", summary="Your QR code / 受付用QRコード")
def qr_code(token: str, fmt: Literal["svg", "png"], conn: PrimaryReadConn) -> Response:
    households.own(conn, token)  # 404 unless registered: no QR for a made-up token
    out = io.BytesIO()
    if fmt == "svg":
        _qr(token).save(out, kind="svg", scale=8, border=4, xmldecl=False, title="受付用QRコード")
        media = "image/svg+xml"
    else:
        _qr(token).save(out, kind="png", scale=8, border=4)
        media = "image/png"
    headers = {
        "Cache-Control": "no-store",
        "Content-Disposition": f'attachment; filename="evacuation-qr.{fmt}"',
    }
    return Response(out.getvalue(), media_type=media, headers=headers)


@public_router.get("/register", response_class=HTMLResponse, include_in_schema=False)
def register_page(request: Request, lang: str = "ja") -> HTMLResponse:
    return page_response(request, register_pages.register_page(normalise_lang(lang, easy=True), None))


@public_router.get("/register/{token}", response_class=HTMLResponse, include_in_schema=False)
def own_page(token: str, request: Request, conn: PrimaryReadConn, lang: str = "ja") -> HTMLResponse:
    code = normalise_lang(lang, easy=True)
    try:
        households.own(conn, token)
    except OpsError:
        return page_response(request, register_pages.register_page(code, None, not_found=True), 404)
    # The QR code and the token first (they are in the URL anyway); the page's script reads the
    # registration itself from the API: nothing personal in the HTML.
    return page_response(request, register_pages.register_page(code, registration_links(token)))


# ------------------------------------------------------------------------------ staff side
class OpenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    responsible_staff: str = Field(min_length=1, max_length=100, examples=["避難所班 山田"])


class CheckinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client_event_id: uuid.UUID
    kind: Literal["entry", "exit"] = "entry"  # 入所 / 退所
    kiosk_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
    token: str | None = Field(None, min_length=1, max_length=500)  # what the scanner read
    # Walk-ins: how many; a registered household: how many of its members (default: all, 部分入所・退所).
    persons: int | None = Field(None, ge=1, le=500)
    device_time: AwareDatetime | None = None


class SettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    vacant_below: Percent
    moderate_below: Percent
    crowded_below: Percent
    stale_minutes: int = Field(30, ge=1, le=1440)


@router.get("/api/shelters", summary="Shelters, by hazard type / 災害種別ごとの避難所")
def list_shelters(
    conn: ReadConn,
    user: StaffUser,
    hazard: Annotated[str | None, Query(description="flood, landslide, earthquake, …")] = None,
) -> list[dict]:
    return shelters.suitable_shelters(conn, hazard, tuple(visible_levels(user.roles)))


@router.post(
    "/api/disasters/{disaster_id}/shelters/{shelter_id}/open", summary="Open a shelter / 避難所の開設"
)
def open_(disaster_id: IdPath, shelter_id: IdPath, body: OpenIn, engine: EngineDep, user: HQUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return shelters.open_shelter(conn, disaster_id, shelter_id, body.responsible_staff, user.username)


@router.get(
    "/api/disasters/{disaster_id}/shelters", summary="Counts and congestion, HQ totals / 避難者数と混雑"
)
def status(disaster_id: IdPath, conn: ReadConn, user: StaffUser, open_only: bool = False) -> dict:
    return shelters.disaster_status(conn, disaster_id, open_only=open_only)


@router.get("/api/kiosk/shelters", summary="Open shelters of the current disaster (kiosk) / 受付できる避難所")
def kiosk_shelters(conn: ReadConn, user: StaffUser) -> dict:
    disaster_id = current_disaster_id(conn)
    if disaster_id is None:
        return {"disaster_id": None, "shelters": []}
    found = shelters.disaster_status(conn, disaster_id, open_only=True)
    keep = ("shelter_id", "name", "occupancy", "capacity", "level", "level_ja", "level_en")
    items = [{k: s.get(k if k != "shelter_id" else "id") for k in keep} for s in found["shelters"]]
    return {"disaster_id": disaster_id, "shelters": items}


@router.post(
    "/api/disasters/{disaster_id}/shelters/{shelter_id}/checkins",
    summary="Check in or out (kiosk) / 受付（入所・退所）",
)
def record_checkin(
    disaster_id: IdPath, shelter_id: IdPath, body: CheckinIn, engine: EngineDep, user: StaffUser
) -> dict:
    scan = checkin.Scan(
        client_event_id=body.client_event_id,
        kind=body.kind,
        kiosk_id=body.kiosk_id,
        token=body.token,
        persons=body.persons,
        device_time=body.device_time,
    )
    with transaction(engine, user.roles) as conn:
        return checkin.check_in(conn, disaster_id, shelter_id, scan, user.username)


@router.get("/api/shelter-settings", summary="Congestion thresholds / 混雑の閾値")
def get_settings(conn: ReadConn, user: StaffUser) -> dict:
    return shelters.get_settings(conn)


@router.put("/api/shelter-settings", summary="Change congestion thresholds / 混雑の閾値の変更")
def put_settings(body: SettingsIn, engine: EngineDep, user: HQUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return shelters.set_settings(
            conn,
            body.vacant_below,
            body.moderate_below,
            body.crowded_below,
            body.stale_minutes,
            user.username,
        )


@router.get("/api/households/{household_id}", summary="A household (welfare, audited) / 世帯（福祉）")
def household(household_id: IdPath, engine: EngineDep, user: StaffUser) -> dict:
    if not user.has_any("welfare"):
        raise OpsNotFound("世帯が見つかりません。", "No such household.")
    with transaction(engine, user.roles) as conn:
        return households.get_household(conn, household_id, user.username)


@router.get("/kiosk", response_class=HTMLResponse, include_in_schema=False)
def kiosk(request: Request, user: OptionalUser, lang: str = "ja") -> Response:
    return staff_page(request, user, "/kiosk", lang, KIOSK_ROLES, kiosk_page)
