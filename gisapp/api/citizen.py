"""The citizen's disaster-day page (``/``), the JSON it refreshes from (``/api/public/here``), its
service worker (``/sw.js``, the offline copy).
Both instances mount it; the public one caches what is the same for everyone (gisapp/app.py)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from common.errors import NotFound, UserError
from frontend.catalogue import normalise_lang
from gisapp.api.html import page_response
from gisapp.db import read_only
from gisapp.deps import EngineDep, ReadConn, ReadRoute
from gisapp.ops import citizen_view
from gisapp.pages_citizen import citizen_page

log = logging.getLogger("gisapp.citizen")
router = APIRouter(tags=["citizen / 市民向け"], route_class=ReadRoute)
pages = APIRouter(include_in_schema=False, route_class=ReadRoute)

SHARED = "public, max-age=5"  # the same for everyone: browsers and proxies keep it briefly
PERSONAL = "private, no-store"  # an answer for a position is never kept by a shared cache
SERVICE_WORKER = Path(__file__).resolve().parents[2] / "frontend" / "static" / "js" / "citizen" / "sw.js"

_AREA = Query(max_length=64, pattern=r"^[A-Za-z0-9_.:-]*$", description="町丁目 code (pub.evac_area)")


def _cacheable(request: Request, response: Response, version: int, personal: bool) -> None:
    """Like the evacuation information: an answer from a replica behind the announced order version
    is not kept under that version's key."""
    watch = getattr(request.app.state, "evac_watch", None)
    behind = watch is not None and watch.version is not None and version < watch.version
    response.headers["Cache-Control"] = "no-store" if behind else (PERSONAL if personal else SHARED)


@router.get(
    "/api/public/here", summary="Answers for a place: orders, nearest shelters, hazards / この場所の防災情報"
)
def here(
    request: Request,
    response: Response,
    conn: ReadConn,
    lat: float | None = None,
    lon: float | None = None,
    area: Annotated[str | None, _AREA] = None,
) -> dict:
    """避難情報 in force at the place (else in the city), open shelters nearest first with distance (m,
    geography) and the walk (約: straight line × 1.3), hazard areas at the place, public incidents (a
    通行止め reads as such) and road closures in force. The place: ``lat``+``lon``, or ``area``."""
    answer = citizen_view.here(conn, lat=lat, lon=lon, area=area or None)
    personal = answer["place"] is not None and answer["place"]["source"] == "position"
    _cacheable(request, response, answer["evacuation"]["version"], personal)
    return answer


@pages.get("/", response_class=HTMLResponse)
def citizen(request: Request, engine: EngineDep, lang: str = "ja", area: str = "") -> Response:
    """The page with every answer in it. A database that cannot be reached gives the page anyway, saying
    so (never "no shelter open"), not kept by any cache; its script retries."""
    code = normalise_lang(lang, easy=True)
    area = area.strip()[:64]
    area_unknown = False
    failed = False
    try:
        with read_only(engine) as conn:
            areas = citizen_view.areas(conn)
            try:
                answer = citizen_view.here(conn, area=area or None)
            except NotFound:
                area_unknown = True
                answer = citizen_view.here(conn)
    except UserError:
        raise
    except Exception:  # the database is down or busy: the page says so and its script retries
        log.exception("citizen page without data")
        failed = True
        areas, answer = [], citizen_view.unavailable()
    query = {k: v for k, v in (("lang", lang), ("area", area)) if v}
    page = citizen_page(
        answer,
        areas,
        lang=code,
        query=query,
        offline=request.app.state.settings.offline,
        area_unknown=area_unknown,
    )
    if failed:
        headers = {"Cache-Control": "no-store"}
    else:
        headers = {"Cache-Control": "public, max-age=30"}
    return page_response(request, page, 503 if failed else 200, headers=headers)


@pages.get("/sw.js")
def service_worker() -> Response:
    """The offline copy's service worker, served from the root so that its scope is the whole site."""
    return Response(
        SERVICE_WORKER.read_text(encoding="utf-8"),
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )
