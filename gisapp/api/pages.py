"""Staff map pages: the HQ map (災害対策本部), the after-action review (振り返り) and the staff GIS viewer
(統合型GIS). The citizen's page is gisapp/api/citizen.py. Every page is a template on the base layout
(frontend/render.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from frontend.render import RenderedPage
from gisapp.api.html import page_response
from gisapp.api.staff import gate
from gisapp.auth import User
from gisapp.deps import OptionalUser
from gisapp.pages_gis import gis_page
from gisapp.pages_hq import hq_page
from gisapp.pages_replay import replay_page
from layers.catalog import STAFF_ROLES

router = APIRouter(include_in_schema=False)


def staff_page(
    request: Request,
    user: User | None,
    path: str,
    lang: str,
    roles: Iterable[str],
    build: Callable[..., RenderedPage],
) -> Response:
    """A staff page behind the gate: log in first (back to the same page and query afterwards: English
    readers stay English, a shared link such as /hq/replay?disaster=3&t=… keeps what it points at), the
    one 403 page without one of ``roles``; else ``build(lang, offline=, query=)`` with its own CSP."""
    if (refused := gate(request, user, path, lang, roles)) is not None:
        return refused
    offline = request.app.state.settings.offline
    return page_response(request, build(lang, offline=offline, query=dict(request.query_params)))


@router.get("/hq", response_class=HTMLResponse)
def hq_map(request: Request, user: OptionalUser, lang: str = "ja") -> Response:
    return staff_page(request, user, "/hq", lang, ("hq_operator", "staff"), hq_page)


@router.get("/hq/replay", response_class=HTMLResponse)
def hq_replay(request: Request, user: OptionalUser, lang: str = "ja") -> Response:
    return staff_page(request, user, "/hq/replay", lang, ("hq_operator", "staff"), replay_page)


@router.get("/gis", response_class=HTMLResponse)
def gis_viewer(request: Request, user: OptionalUser, lang: str = "ja") -> Response:
    # Any staff role may open the viewer; which layers it lists is decided by /api/layers.
    return staff_page(request, user, "/gis", lang, sorted(STAFF_ROLES), gis_page)
