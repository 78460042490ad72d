"""Map pages: the citizen map (公開型GIS), the HQ map (災害対策本部) and the staff GIS viewer (統合型GIS)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from common.errors import NotFound
from frontend.pages import citizen_map_html, gis_map_html, page_asset, replay_map_html
from gisapp.api.html import page_response
from gisapp.auth import User
from gisapp.deps import OptionalUser
from gisapp.pages_hq import hq_page
from layers.catalog import STAFF_ROLES

router = APIRouter(include_in_schema=False)
public_router = APIRouter(include_in_schema=False)

_FORBIDDEN = "<!DOCTYPE html><html lang='ja'><title>403</title><p>権限がありません / Forbidden"


def _lang(lang: str) -> str:
    return lang if lang in ("ja", "en") else "ja"


def _refusal(
    request: Request, user: User | None, path: str, lang: str, roles: Iterable[str]
) -> Response | None:
    """Log in first (back to ``path`` afterwards); 403 without one of ``roles``; None: go ahead."""
    if user is None:
        # Back to the same page after logging in, with its query (English readers stay English;
        # a shared link such as /hq/replay?disaster=3&t=… keeps what it points at).
        query = request.url.query
        back = quote(f"{path}?{query}", safe="") if query else path
        return RedirectResponse(f"/login?next={back}&lang={_lang(lang)}", status_code=303)
    if not user.has_any(*roles):
        return HTMLResponse(_FORBIDDEN, status_code=403)
    return None


def _staff_page(
    request: Request,
    user: User | None,
    path: str,
    lang: str,
    roles: Iterable[str],
    build: Callable[..., str],
) -> Response:
    """A folium map page for staff with one of ``roles``."""
    refused = _refusal(request, user, path, lang, roles)
    if refused is not None:
        return refused
    return HTMLResponse(build(_lang(lang), offline=request.app.state.settings.offline))


@public_router.get("/", response_class=HTMLResponse)
def citizen_map(request: Request, lang: str = "ja") -> HTMLResponse:
    return HTMLResponse(citizen_map_html(_lang(lang), offline=request.app.state.settings.offline))


@router.get("/hq", response_class=HTMLResponse)
def hq_map(request: Request, user: OptionalUser, lang: str = "ja") -> Response:
    refused = _refusal(request, user, "/hq", lang, ("hq_operator", "staff"))
    if refused is not None:
        return refused
    offline = request.app.state.settings.offline
    return page_response(request, hq_page(lang, offline=offline, query=dict(request.query_params)))


@router.get("/hq/replay", response_class=HTMLResponse)
def hq_replay(request: Request, user: OptionalUser, lang: str = "ja") -> Response:
    return _staff_page(request, user, "/hq/replay", lang, ("hq_operator", "staff"), replay_map_html)


@router.get("/gis", response_class=HTMLResponse)
def gis_viewer(request: Request, user: OptionalUser, lang: str = "ja") -> Response:
    # Any staff role may open the viewer; which layers it lists is decided by /api/layers.
    return _staff_page(request, user, "/gis", lang, sorted(STAFF_ROLES), gis_map_html)


@public_router.get("/pages/{name}")
def map_page_asset(request: Request, name: str, v: str = "") -> Response:
    """A map page's own script or stylesheet (folium's, moved out of the page for the CSP). The
    citizen-facing instance serves only the citizen map's."""
    asset = page_asset(name)
    if asset is None or (request.app.state.public and asset.page != "citizen"):
        raise NotFound("見つかりません。", "Not found.")
    # Linked as ?v=<hash of the content>: that URL never changes meaning, so it may be kept for good.
    cache = "public, max-age=31536000, immutable" if v == asset.version else "no-cache"
    return Response(asset.text, media_type=asset.media_type, headers={"Cache-Control": cache})
