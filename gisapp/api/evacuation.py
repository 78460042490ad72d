"""Evacuation status (避難状況): the resident's page and API by token (both instances), staff reports and
the totals per community area for HQ (internal)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from frontend.catalogue import normalise_lang
from frontend.evac_pages import evacuation_page
from gisapp.api.html import page_response
from gisapp.db import transaction
from gisapp.deps import EngineDep, HQUser, PrimaryReadConn, ReadConn, ReadRoute, StaffUser
from gisapp.ops import evacuation
from gisapp.ops.disasters import get_disaster
from gisapp.ops.errors import OpsError
from gisapp.params import IdPath

public_router = APIRouter(tags=["evacuation status / 避難状況"], route_class=ReadRoute)
router = APIRouter(tags=["evacuation status / 避難状況"], route_class=ReadRoute)

Status = Literal["home", "relatives", "shelter", "car", "unknown"]


class ResidentReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=64)
    status: Status
    area_code: str | None = Field(None, max_length=64)


class StaffReport(ResidentReport):
    note: str = Field("", max_length=500)


@public_router.post(
    "/api/public/evacuation-status", summary="Report where your household is / 避難状況の連絡"
)
def resident_report(body: ResidentReport, request: Request) -> dict:
    with transaction(request.app.state.write_engine) as conn:
        return evacuation.report_by_resident(conn, body.token, body.status, body.area_code)


@public_router.get("/evacuation/{token}", response_class=HTMLResponse, include_in_schema=False)
def resident_page(token: str, request: Request, conn: PrimaryReadConn, lang: str = "ja") -> HTMLResponse:
    code = normalise_lang(lang, easy=True)
    try:
        mine = evacuation.mine(conn, token)
    except OpsError:
        return page_response(request, evacuation_page(code, token, None, []), 404)
    return page_response(request, evacuation_page(code, token, mine, evacuation.areas(conn)))


@public_router.post("/evacuation/{token}", response_class=HTMLResponse, include_in_schema=False)
def resident_form(
    token: str,
    request: Request,
    status: Annotated[str, Form()] = "",
    area: Annotated[str, Form()] = "",
    lang: str = "ja",
) -> HTMLResponse:
    """The no-script form: store, then show the page again with the confirmation (or the error, by its
    field)."""
    code = normalise_lang(lang, easy=True)
    saved, error, field, status_code = None, "", None, 200
    with transaction(request.app.state.write_engine) as conn:
        try:
            saved = evacuation.report_by_resident(conn, token, status, area or None)
        except OpsError as e:
            error, field, status_code = (e.en if code == "en" else e.ja), e.details.get("field"), e.status
        try:
            mine = evacuation.mine(conn, token)
        except OpsError:
            return page_response(request, evacuation_page(code, token, None, []), 404)
        areas = evacuation.areas(conn)
    page = evacuation_page(code, token, mine, areas, saved=saved, error=error, error_field=field)
    return page_response(request, page, status_code)


@router.post(
    "/api/evacuation-status", summary="Staff report for a household's card / 職員による避難状況の登録"
)
def staff_report(body: StaffReport, engine: EngineDep, user: StaffUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return evacuation.report_by_staff(
            conn, body.token, body.status, user.username, body.note, body.area_code
        )


@router.get(
    "/api/disasters/{disaster_id}/evacuation/areas",
    summary="Evacuation status per community area (numbers only) / 地区別の避難状況",
)
def by_area(disaster_id: IdPath, conn: ReadConn, user: HQUser) -> dict:
    get_disaster(conn, disaster_id)
    return evacuation.by_area(conn, disaster_id)
