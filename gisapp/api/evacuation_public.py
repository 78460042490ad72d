"""Evacuation information (避難情報) out to residents and other systems: the JSON the citizen map's banner
reads, its push stream ("changed, version N"), the Atom feed and one CAP 1.2 document per order version.
Both instances mount it; the citizen-facing one caches the answers (gisapp/app.py ``cache_rules``) under
the change counter of ``gisapp/evac_watch.py``, so an issuance is answered the moment its notification
arrives. docs/evacuation-info.md "Publishing" has the details.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from common.errors import InvalidInput, NotFound, error_body
from gisapp.deps import ReadConn, ReadRoute
from gisapp.evac_watch import TooManyStreams
from gisapp.ops import evac_cap, evac_public
from gisapp.params import IdPath
from gisapp.response_cache import proxy_expires_now

router = APIRouter(tags=["evacuation information / 避難情報"], route_class=ReadRoute)

# Browsers and proxies keep these for a second; the nginx in front for the rest of the current second
# (X-Accel-Expires), and the app's own cache until the next order version.
CACHE_CONTROL = "public, max-age=1"


def _cacheable(request: Request, response: Response, version: int) -> None:
    """An answer read from a replica that has not caught up with the version the watch announced
    must not be kept under that version's key: ``no-store`` (the response cache and proxies skip it)."""
    watch = request.app.state.evac_watch
    if watch.version is not None and version < watch.version:
        response.headers["Cache-Control"] = "no-store"
        return
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["X-Accel-Expires"] = proxy_expires_now().decode()


def _base_url(request: Request) -> str:
    configured = request.app.state.settings.public_base_url
    return configured or str(request.base_url).rstrip("/")


@router.get("/api/public/evacuation-info", summary="Evacuation information in force / 発令中の避難情報")
def evacuation_info(
    request: Request,
    response: Response,
    conn: ReadConn,
    geometry: bool = False,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    v: Annotated[
        int | None, Query(ge=0, description="the version a push announced (a cache key only)")
    ] = None,
) -> dict:
    """The orders in force (highest level first) and those lifted (解除) in the last 24 h, with level
    number, words, colours and what to do; ``geometry=true`` adds each order's area (GeoJSON);
    ``lon``/``lat`` (both) keeps the orders whose area contains that place and says the level there."""
    if (lon is None) != (lat is None):
        raise InvalidInput(
            "場所は lon と lat の両方で指定してください。", "Give a place as both lon and lat."
        )
    answer = evac_public.evacuation_info(conn, geometry=geometry, lon=lon, lat=lat)
    _cacheable(request, response, answer["version"])
    return answer


@router.get(
    "/api/public/evacuation-info/stream",
    summary="Push: changed, version N (Server-Sent Events) / 避難情報の変更通知",
    response_class=StreamingResponse,
)
async def evacuation_stream(request: Request) -> Response:
    """``event: version`` with ``{"version": N}`` at once and at each change; no data: refetch
    ``/api/public/evacuation-info?v=N``. A heartbeat comment every 15 s. 503 when this process has
    its maximum of streams (poll instead)."""
    watch = request.app.state.evac_watch
    try:
        q = watch.open_stream()
    except TooManyStreams:
        body = error_body(
            "busy",
            "接続が混み合っています。しばらくして再読み込みしてください。",
            "Too many live connections: the page will check for changes by itself.",
            retry_after=30,
        )
        return JSONResponse(body, 503, headers={"Retry-After": "30", "Cache-Control": "no-store"})
    return StreamingResponse(
        watch.stream(q),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/feeds/evacuation-info.atom", summary="Atom feed of evacuation information / 避難情報 Atom")
def atom_feed(request: Request, conn: ReadConn) -> Response:
    version, _ = evac_public.changes(conn)
    versions = evac_public.feed_versions(conn)
    settings = request.app.state.settings
    base = _base_url(request)
    body = evac_cap.atom_feed(
        versions,
        feed_url=f"{base}/feeds/evacuation-info.atom",
        base_url=base,
        sender=settings.cap_sender,
        sender_name=settings.cap_sender_name,
        page_url=f"{base}/",
    )
    response = Response(body, media_type=evac_cap.ATOM_TYPE)
    _cacheable(request, response, version)
    return response


@router.get(
    "/feeds/evacuation-info/{order_id}-{version}.cap",
    summary="CAP 1.2 document of one order version / 避難情報の CAP 1.2",
)
def cap_document(request: Request, conn: ReadConn, order_id: IdPath, version: IdPath) -> Response:
    found = evac_public.order_version(conn, order_id, version)
    if found is None:
        raise NotFound("その避難情報はありません。", "No such evacuation information.")
    settings = request.app.state.settings
    body = evac_cap.cap_document(
        found, sender=settings.cap_sender, sender_name=settings.cap_sender_name, web=f"{_base_url(request)}/"
    )
    # A version never changes once written: kept as long as anyone likes.
    return Response(body, media_type=evac_cap.CAP_TYPE, headers={"Cache-Control": "public, max-age=86400"})
