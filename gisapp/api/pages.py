"""Map pages (the citizen's page is gisapp/api/citizen.py): the HQ map (災害対策本部) and the staff GIS viewer (統合型GIS)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from common.errors import NotFound
from frontend.pages import hq_map_html, page_asset
from frontend.render import RenderedPage
from gisapp.api.html import page_response
from gisapp.api.staff import gate
from gisapp.auth import User
from gisapp.deps import OptionalUser
from gisapp.pages_gis import gis_page
from gisapp.pages_replay import replay_page
from layers.catalog import STAFF_ROLES

router = APIRouter(include_in_schema=False)
public_router = APIRouter(include_in_schema=False)


def _lang(lang: str) -> str:
    return lang if lang in ("ja", "en") else "ja"


def _staff_page(
    request: Request,
    user: User | None,
    path: str,
    lang: str,
    roles: Iterable[str],
    build: Callable[..., str],
) -> Response:
    """Log in first (back to ``path`` afterwards), then the page if the user has one of ``roles``."""
    if (refused := gate(request, user, path, lang, roles)) is not None:
        return refused
    return HTMLResponse(build(_lang(lang), offline=request.app.state.settings.offline))


def _staff_template_page(
    request: Request,
    user: User | None,
    path: str,
    lang: str,
    roles: Iterable[str],
    build: Callable[..., RenderedPage],
) -> Response:
    """The same gate for a page on the Jinja base layout (``frontend.render``): ``build(lang,
    offline=, query=)`` (the language links keep the query), answered with the page's own CSP."""
    # Back to the same page after logging in, with its query (English readers stay English; a shared
    # link such as /hq/replay?disaster=3&t=… keeps what it points at); the one 403 page otherwise.
    if (refused := gate(request, user, path, lang, roles)) is not None:
        return refused
    offline = request.app.state.settings.offline
    return page_response(request, build(lang, offline=offline, query=dict(request.query_params)))


@router.get("/hq", response_class=HTMLResponse)
def hq_map(request: Request, user: OptionalUser, lang: str = "ja") -> Response:
    return _staff_page(request, user, "/hq", lang, ("hq_operator", "staff"), hq_map_html)


@router.get("/hq/replay", response_class=HTMLResponse)
def hq_replay(request: Request, user: OptionalUser, lang: str = "ja") -> Response:
    return _staff_template_page(request, user, "/hq/replay", lang, ("hq_operator", "staff"), replay_page)


@router.get("/gis", response_class=HTMLResponse)
def gis_viewer(request: Request, user: OptionalUser, lang: str = "ja") -> Response:
    # Any staff role may open the viewer; which layers it lists is decided by /api/layers.
    return _staff_template_page(request, user, "/gis", lang, sorted(STAFF_ROLES), gis_page)


@public_router.get("/pages/{name}")
def map_page_asset(request: Request, name: str, v: str = "") -> Response:
    """A map page's own script or stylesheet (folium's, moved out of the page for the CSP). The
    citizen-facing instance serves none: its page is a template with its own modules."""
    asset = page_asset(name)
    if asset is None or request.app.state.public:
        raise NotFound("見つかりません。", "Not found.")
    # Linked as ?v=<hash of the content>: that URL never changes meaning, so it may be kept for good.
    cache = "public, max-age=31536000, immutable" if v == asset.version else "no-cache"
    return Response(asset.text, media_type=asset.media_type, headers={"Cache-Control": cache})
