"""The chronology page for staff (/hq/chronology): filters as a GET form that works without script,
search, keyset pages, the CSV link, the open instructions (overdue flagged) and the handover view
"since T" (?view=handover&since=…); printable on A4. Japanese first, English with ?lang=en.

Times typed into the form (``datetime-local``: no offset) are Japan time; an ISO time with an offset
(a shared link) is taken as it is. Input the page cannot read is answered 422 with the reason in
both languages and the form as it was typed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from frontend.catalogue import normalise_lang
from frontend.chronology_pages import chronology_view
from gisapp.api.html import page_response
from gisapp.api.staff import NO_STORE, forbidden, gate
from gisapp.db import read_only, transaction
from gisapp.deps import EngineDep, OptionalUser
from gisapp.ops import chronology, handover, instructions
from gisapp.ops.disasters import current_disaster_id, list_disasters
from gisapp.ops.errors import OpsInvalid

router = APIRouter(include_in_schema=False)

JST = ZoneInfo("Asia/Tokyo")
READERS = ("staff", "hq_operator", "welfare")
PAGE = 100
SHIFT = timedelta(hours=8)  # the handover view's default "since": one shift ago


def _id(value: str, field: str, ja: str, en: str) -> int | None:
    value = value.strip().lstrip("#")
    if not value:
        return None
    if not value.isdigit() or not 0 < int(value) < 2**31:
        raise OpsInvalid(f"{ja}は番号で指定してください。", f"{en}: give a number.", field=field)
    return int(value)


def _time(value: str, field: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise OpsInvalid(
            f"日時が読めません: {value[:40]}", f"Unreadable date and time: {value[:40]}", field=field
        ) from None
    return t.replace(tzinfo=JST) if t.tzinfo is None else t


def _form_time(t: datetime | None) -> str:
    return t.astimezone(JST).strftime("%Y-%m-%dT%H:%M") if t else ""


def _api_query(f: chronology.Filters) -> list[tuple[str, str]]:
    """The same filters as /api/chronology.csv takes them (times with their offset)."""
    pairs = [("disaster", f.disaster_id), ("incident", f.incident_id), ("department", f.department_id),
             ("from", f.since.isoformat() if f.since else None), ("to", f.until.isoformat() if f.until else None),
             ("q", f.q.strip() or None)]  # fmt: skip
    return [(k, str(v)) for k, v in pairs if v is not None] + [("kind", k) for k in f.kinds]


@router.get("/hq/chronology", response_class=HTMLResponse)
def chronology_page(
    request: Request,
    engine: EngineDep,
    user: OptionalUser,
    lang: str = "ja",
    view: Annotated[str, Query(max_length=20)] = "list",
    disaster: Annotated[str, Query(max_length=20)] = "",
    kind: Annotated[list[str], Query(max_length=len(chronology.KINDS))] = [],  # noqa: B006 (FastAPI copies)
    incident: Annotated[str, Query(max_length=20)] = "",
    department: Annotated[str, Query(max_length=20)] = "",
    since: Annotated[str, Query(alias="from", max_length=40)] = "",
    until: Annotated[str, Query(alias="to", max_length=40)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    before: Annotated[int | None, Query(gt=0, le=2**62)] = None,
    handover_since: Annotated[str, Query(alias="since", max_length=40)] = "",
    written: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    blank: bool = False,
) -> Response:
    if (refused := gate(request, user, "/hq/chronology", lang, READERS)) is not None:
        return refused
    code = normalise_lang(lang)
    view = "handover" if view == "handover" else "list"
    typed: dict[str, Any] = {
        "disaster": disaster, "kind": [k for k in kind if k in chronology.KINDS], "incident": incident,
        "department": department, "from": since, "to": until, "q": q, "since": handover_since,
    }  # fmt: skip
    error, items, report, csv_params = None, [], None, None
    if blank:  # the handover form came back empty
        error = ("引継ぎ事項を入力してください。", "Write the handover note first.")
    with read_only(engine, user.roles) as conn:
        disasters = list_disasters(conn)
        departments = instructions.departments(conn)
        open_instructions = instructions.list_instructions(conn, open_only=True)
        try:
            # No disaster named: the one in progress ("all" in the form lists every disaster's).
            d_id = current_disaster_id(conn) if disaster == "" else (
                None if disaster == "all" else _id(disaster, "disaster", "災害", "Disaster"))  # fmt: skip
            typed["disaster"] = "all" if d_id is None else str(d_id)
            if view == "handover":
                t = _time(handover_since, "since") or datetime.now(JST) - SHIFT
                typed["since"] = _form_time(t)
                report = handover.handover(conn, t, d_id)
            else:
                filters = chronology.Filters(
                    d_id, tuple(typed["kind"]), _id(incident, "incident", "事案", "Incident"),
                    _id(department, "department", "部署", "Department"), _time(since, "from"),
                    _time(until, "to"), q,
                )  # fmt: skip
                items = chronology.entries(conn, filters, before=before, limit=PAGE)
                csv_params = _api_query(filters)
        except OpsInvalid as e:
            error = (e.ja, e.en)
            blank = False
    page = chronology_view(
        code,
        view=view,
        typed=typed,
        kinds=list(chronology.KINDS),
        entries=items,
        handover=report,
        open_instructions=open_instructions,
        disasters=disasters,
        departments=departments,
        before=before,
        page_size=PAGE,
        error=error,
        csv_params=csv_params,
        can_write=user.has_any("hq_operator"),
        written=written,
    )
    return page_response(request, page, 422 if error and not blank else 200, NO_STORE)


@router.post("/hq/chronology/handover")
def write_handover(
    request: Request,
    engine: EngineDep,
    user: OptionalUser,
    text: Annotated[str, Form(max_length=chronology.MAX_NOTE)] = "",
    since: Annotated[str, Form(max_length=40)] = "",
    disaster: Annotated[str, Form(max_length=20)] = "",
    lang: Annotated[str, Form(max_length=10)] = "ja",
) -> Response:
    """The handover view's form (the outgoing operator's 引継ぎ事項), then back to the same view
    (post/redirect/get); a blank text comes back with the reason."""
    code = normalise_lang(lang)
    back = {"view": "handover", "since": since, "disaster": disaster, "lang": code if code != "ja" else ""}
    if user is None:  # a form post: back to the view after the login, not to this POST
        return RedirectResponse(f"/login?next=%2Fhq%2Fchronology%3Fview%3Dhandover&lang={code}", 303)
    if not user.has_any("hq_operator"):
        return forbidden(request, user, lang)
    if not text.strip():
        back["blank"] = "1"
    else:
        with transaction(engine, user.roles) as conn:
            try:
                covered = _time(since, "since")
            except OpsInvalid:  # our own hidden field, altered: the note still counts
                covered = None
            entry = chronology.add_handover(conn, text, user.username, covered)
        back["written"] = str(entry["id"])
    return RedirectResponse("/hq/chronology?" + urlencode({k: v for k, v in back.items() if v}), 303)
