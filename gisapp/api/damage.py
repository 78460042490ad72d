"""被害報 (damage reports): an incident's figures with their versions, the disaster's totals per 町丁目
and as of a time, and the 消防庁 第4号様式（その2）for the prefecture — as a printable page and as xlsx.

Saving names the version last read, like an incident's status: ``If-Match: "<version>"`` (``"0"``
before the first report; the ``ETag`` of GET …/damage). A stale version gets 409 with the current
figures, none gets 428; sending the same save again after a lost answer gets the stored version back.
Damage is internal: staff read it, the HQ (hq_operator, staff) writes it; nothing here is public.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from frontend.catalogue import catalogue, normalise_lang
from gisapp.api.html import page_response
from gisapp.api.incidents import _version as if_match_version
from gisapp.api.staff import NO_STORE, gate
from gisapp.db import read_only, transaction
from gisapp.deps import EngineDep, HQUser, OptionalUser, ReadConn, ReadRoute, SettingsDep, StaffUser
from gisapp.ops import damage, damage_form
from gisapp.ops.disasters import list_disasters
from gisapp.ops.errors import OpsNotFound
from gisapp.pages_damage import JST, form4_page
from gisapp.params import IdPath

router = APIRouter(tags=["damage reports / 被害報"], route_class=ReadRoute)

ReportNo = Annotated[int | None, Query(ge=1, le=999, description="第N報 / report number")]
Final = Annotated[bool, Query(description="確定報告 (final report) instead of 即報")]
At = Annotated[
    AwareDatetime | None, Query(description="totals as of this time (ISO 8601 with offset); none: now")
]


class DamageIn(BaseModel):
    """Figures by name (GET /api/incidents/{id}/damage lists them); checked by the domain, which says
    which figure is wrong in Japanese and English."""

    model_config = ConfigDict(extra="forbid")
    figures: dict[str, Any] = Field(
        max_length=len(damage.NAMES) + 5, examples=[{"dead": 1, "injured_serious": 2}]
    )
    reason: str = Field("", max_length=damage.MAX_REASON, examples=["消防本部からの報告で訂正"])


def _with_etag(current: dict) -> JSONResponse:
    return JSONResponse(jsonable_encoder(current), headers={"ETag": f'"{current["version"]}"'})


@router.get("/api/damage/fields", summary="The figures of a damage report / 被害報の項目")
def fields(user: StaffUser, lang: str = "ja") -> list[dict[str, str]]:
    return damage.fields_json(normalise_lang(lang))


@router.get("/api/incidents/{incident_id}/damage", summary="An incident's damage figures / 事案の被害報")
def get(incident_id: IdPath, conn: ReadConn, user: StaffUser) -> JSONResponse:
    return _with_etag(damage.get_damage(conn, incident_id))


def _save(
    incident_id: int, body: DamageIn, engine, user, if_match: str | None, *, replace: bool
) -> JSONResponse:
    version = if_match_version(if_match)
    with transaction(engine, user.roles) as conn:
        current = damage.save_damage(
            conn, incident_id, version, body.figures, body.reason, user.username, replace=replace
        )
    return _with_etag(current)


@router.put(
    "/api/incidents/{incident_id}/damage",
    summary="Report all damage figures (If-Match) / 被害報の登録・訂正（全項目）",
)
def put(
    incident_id: IdPath,
    body: DamageIn,
    engine: EngineDep,
    user: HQUser,
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Every figure not in ``figures`` is 0. A correction (after version 1) needs a ``reason``."""
    return _save(incident_id, body, engine, user, if_match, replace=True)


@router.patch(
    "/api/incidents/{incident_id}/damage",
    summary="Change some damage figures (If-Match) / 被害報の訂正（一部の項目）",
)
def patch(
    incident_id: IdPath,
    body: DamageIn,
    engine: EngineDep,
    user: HQUser,
    if_match: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """The figures not in ``figures`` keep their values. A correction needs a ``reason``."""
    return _save(incident_id, body, engine, user, if_match, replace=False)


@router.get("/api/incidents/{incident_id}/damage/history", summary="Damage report versions / 被害報の履歴")
def history(incident_id: IdPath, conn: ReadConn, user: StaffUser) -> list[dict]:
    return damage.history(conn, incident_id)


@router.get(
    "/api/disasters/{disaster_id}/damage",
    summary="Damage totals per 町丁目 and for the city, as of a time / 被害集計（地区別・市計）",
)
def totals(disaster_id: IdPath, conn: ReadConn, user: StaffUser, at: At = None) -> dict:
    return damage.totals(conn, disaster_id, at)


def _form(settings, user, totals: dict, lang: str, report_no: int | None, final: bool) -> damage_form.Form4:
    return damage_form.form4(
        totals,
        prefecture=settings.prefecture_name,
        municipality=settings.municipality_name,
        reporter=user.display_name or user.username,
        report_no=report_no,
        final=final,
        reported_at=datetime.now(UTC),
        lang=lang,
    )


@router.get(
    "/api/disasters/{disaster_id}/damage/form4.xlsx",
    summary="第4号様式（その2）as xlsx for the prefecture (Excel: how prefectures hand out and collect the form)"
    " / 第4号様式（その2）Excel",
    response_class=Response,
    responses={200: {"content": {damage_form.XLSX_TYPE: {}}}},
)
def form4_xlsx(
    disaster_id: IdPath,
    conn: ReadConn,
    user: StaffUser,
    settings: SettingsDep,
    at: At = None,
    no: ReportNo = None,
    final: Final = False,
) -> Response:
    """xlsx, not CSV: prefectures distribute the 即報 forms as Excel sheets and collect them the same
    way; the workbook keeps the form's two halves, group labels and units (docs/damage-reports.md)."""
    form = _form(settings, user, damage.totals(conn, disaster_id, at), "ja", no, final)
    body = damage_form.workbook(form)
    name = f"form4-disaster{disaster_id}.xlsx"
    label = quote(f"第4号様式_{'確定' if final else '即報'}_{disaster_id}.xlsx")
    headers = {
        "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{label}",
        **NO_STORE,
    }
    return Response(body, media_type=damage_form.XLSX_TYPE, headers=headers)


def _page_time(raw: str) -> datetime | None:
    """The page's ``at``: ISO 8601, or the form's datetime-local (no offset: Japan time)."""
    value = datetime.fromisoformat(raw.strip())
    return value if value.tzinfo else value.replace(tzinfo=JST)


@router.get("/hq/damage/form4", response_class=HTMLResponse, include_in_schema=False)
def form4_html(
    request: Request,
    engine: EngineDep,
    user: OptionalUser,
    settings: SettingsDep,
    disaster: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    at: Annotated[str, Query(max_length=40)] = "",
    no: ReportNo = None,
    final: Final = False,
    lang: str = "ja",
) -> Response:
    """The printable form (A4): the disaster's totals as of ``at``; without ``disaster``, the latest."""
    if (refused := gate(request, user, "/hq/damage/form4", lang, ("hq_operator", "staff"))) is not None:
        return refused
    code = normalise_lang(lang)
    error, when = None, None
    if at.strip():
        try:
            when = _page_time(at)
        except ValueError:
            text = catalogue("ja")["damage"]["bad_time"], catalogue("en")["damage"]["bad_time"]
            error = text
    with read_only(engine, user.roles) as conn:
        disasters = list_disasters(conn)
        if disaster is None:
            if not disasters:
                raise OpsNotFound("災害がありません。", "There is no disaster yet.")
            disaster = disasters[0]["id"]
        totals = damage.totals(conn, disaster, when)
    form = _form(settings, user, totals, code, no, final)
    page = form4_page(
        code, form, totals, disasters, query=dict(request.query_params), at=when, report_no=no, final=final,
        error=error,
    )  # fmt: skip
    return page_response(request, page, 422 if error else 200, NO_STORE)
