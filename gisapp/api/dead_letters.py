"""Dead letters (what the ingest worker refused) for HQ and admin: the API and the screen
/hq/dead-letters. Payloads may hold radio positions, so only the roles that see the HQ map's units
(hq_operator; admin passes every check) read them, and no answer is cached. Reads and the review mark
go through the domain (ingest.dead_letters); the review is one transaction, audited, committed before
the answer."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from common.errors import STATUS_TEXT
from frontend.catalogue import normalise_lang
from frontend.dead_letter_pages import dead_letters_page as dead_letters_view
from gisapp.api.html import page_response
from gisapp.api.staff import forbidden, gate
from gisapp.auth import User
from gisapp.db import transaction
from gisapp.deps import EngineDep, OptionalUser, require_roles
from ingest import dead_letters, device_alerts
from ingest.dead_letters import DeadLetterInvalid, Filters

router = APIRouter(tags=["dead letters / デッドレター"])

READERS = ("hq_operator",)  # and admin
ReaderUser = Annotated[User, Depends(require_roles(*READERS))]
NO_STORE = {"Cache-Control": "no-store"}
_ERRORS: dict[int | str, dict] = {s: {"description": STATUS_TEXT[s][1]} for s in (401, 403, 422)}

Device = Annotated[str | None, Query(max_length=64, description="機器 ID / device id (from the topic)")]
Reason = Annotated[str | None, Query(max_length=40, description="理由コード / reason code (docs/mqtt.md)")]
Unreviewed = Annotated[bool, Query(description="未確認のみ / only those not reviewed")]
Before = Annotated[int | None, Query(ge=1, le=2**62, description="この ID より古いもの / older than this id")]
Limit = Annotated[int, Query(ge=1, le=dead_letters.MAX_LIST)]


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(min_length=1, max_length=dead_letters.MAX_REVIEW)


@router.get("/api/dead-letters", summary="Dead letters, newest first / デッドレター一覧", responses=_ERRORS)
def list_dead_letters(
    engine: EngineDep,
    user: ReaderUser,
    device: Device = None,
    reason: Reason = None,
    unreviewed: Unreviewed = False,
    before: Before = None,
    limit: Limit = 100,
) -> JSONResponse:
    with transaction(engine, user.roles) as conn:
        items = dead_letters.recent(conn, Filters(device, reason, unreviewed, before, limit))
    body = {
        "items": [dead_letters.as_json(d) for d in items],
        "next_before": items[-1]["id"] if len(items) == limit else None,
    }
    return JSONResponse(body, headers=NO_STORE)


@router.get(
    "/api/dead-letters/summary",
    summary="Dead letters per reason, device alerts, ignored messages / 理由別の件数・機器の警告・無視した件数",
    responses=_ERRORS,
)
def dead_letter_summary(engine: EngineDep, user: ReaderUser) -> dict:
    """``device_alerts``: per device and reason in the last 24 hours (each 10-minute window is one HQ log
    entry); ``ignored``: valid OwnTracks messages counted and not stored, per device and type."""
    with transaction(engine, user.roles) as conn:
        total, unreviewed = dead_letters.last_hour(conn)
        by_reason = dead_letters.counts_by_reason(conn)
        alerts = device_alerts.recent_alerts(conn)
        ignored = device_alerts.ignored_counts(conn)
    return {
        "last_hour": total,
        "unreviewed_last_hour": unreviewed,
        "by_reason": by_reason,
        "device_alerts": alerts,
        "ignored": ignored,
    }


def _review(engine, user: User, ids: list[int]) -> list[int]:
    with transaction(engine, user.roles) as conn:
        marked = dead_letters.mark_reviewed(conn, ids, user.username)
    return marked


@router.post(
    "/api/dead-letters/review",
    summary="Mark dead letters as reviewed / 確認済みにする",
    responses=_ERRORS,
)
def review_dead_letters(body: ReviewIn, engine: EngineDep, user: ReaderUser) -> dict:
    """Letters already reviewed keep their first mark; ``reviewed`` lists those this call marked."""
    return {"reviewed": _review(engine, user, body.ids)}


@router.get("/hq/dead-letters", response_class=HTMLResponse, include_in_schema=False)
def dead_letters_page(
    request: Request,
    engine: EngineDep,
    user: OptionalUser,
    lang: str = "ja",
    device: Annotated[str, Query(max_length=200)] = "",
    reason: Annotated[str, Query(max_length=200)] = "",
    unreviewed: bool = False,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    marked: Annotated[int | None, Query(ge=0, le=dead_letters.MAX_REVIEW)] = None,
) -> Response:
    """The screen (Japanese first; ?lang=en), filtered like the API; 100 letters a page."""
    if (refused := gate(request, user, "/hq/dead-letters", lang, READERS)) is not None:
        return refused
    shown = {"device": device.strip() or None, "reason": reason.strip() or None, "unreviewed": unreviewed}
    limit, letters, error = 100, [], None
    with transaction(engine, user.roles) as conn:
        counts = dead_letters.counts_by_reason(conn)
        alerts, ignored = device_alerts.recent_alerts(conn), device_alerts.ignored_counts(conn)
        try:
            letters = dead_letters.recent(
                conn, Filters(shown["device"], shown["reason"], unreviewed, before, limit), preview=300
            )
        except DeadLetterInvalid as e:
            error = (e.ja, e.en)
    page = dead_letters_view(
        normalise_lang(lang),
        letters,
        counts,
        shown,
        limit=limit,
        before=before,
        marked=marked,
        error=error,
        alerts=alerts,
        ignored=ignored,
    )
    return page_response(request, page, 422 if error else 200, NO_STORE)


@router.post("/hq/dead-letters/review", include_in_schema=False)
def dead_letters_page_review(
    request: Request,
    engine: EngineDep,
    user: OptionalUser,
    ids: Annotated[list[int], Form(max_length=dead_letters.MAX_REVIEW)] = [],  # noqa: B006 (FastAPI copies)
    lang: Annotated[str, Form()] = "ja",
    device: Annotated[str, Form(max_length=64)] = "",
    reason: Annotated[str, Form(max_length=40)] = "",
    unreviewed: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """The screen's form: mark the ticked letters, then back to the same view (post/redirect/get)."""
    if user is None:  # a form post: back to the screen after the login, not to this POST
        return RedirectResponse(f"/login?next=%2Fhq%2Fdead-letters&lang={normalise_lang(lang)}", 303)
    if not user.has_any(*READERS):
        return forbidden(request, user, lang)
    marked = _review(engine, user, ids) if ids else []
    back = {"lang": normalise_lang(lang), "device": device, "reason": reason, "unreviewed": unreviewed}
    query = urlencode({**{k: v for k, v in back.items() if v}, "marked": len(marked)})
    return RedirectResponse(f"/hq/dead-letters?{query}", status_code=303)
