"""The gate of every staff page: log in first (back to the same page and query afterwards), then the
one 403 page (frontend/templates/forbidden.html) for a user without the page's role."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from frontend.catalogue import both, normalise_lang
from frontend.render import render_page
from gisapp.api.html import page_response
from gisapp.auth import User

NO_STORE = {"Cache-Control": "no-store"}


def login_redirect(request: Request, path: str, lang: str = "ja") -> RedirectResponse:
    """To /login, with ``next`` = this page and its whole query (a roster's ?area=, a replay's ?t=…),
    so the reader lands where the link pointed."""
    query = request.url.query
    back = quote(f"{path}?{query}", safe="") if query else path
    return RedirectResponse(f"/login?next={back}&lang={normalise_lang(lang)}", status_code=303)


def forbidden(request: Request, user: User | None, lang: str = "ja") -> Response:
    page = render_page(
        "forbidden.html",
        lang=normalise_lang(lang),
        path=request.url.path,
        query=dict(request.query_params),
        username=user.username if user else "",
        messages=both("forbidden.body", normalise_lang(lang)),
    )
    return page_response(request, page, 403, NO_STORE)


def gate(request: Request, user: User | None, path: str, lang: str, roles: Iterable[str]) -> Response | None:
    """None when ``user`` may see the page; else the login redirect or the 403 page."""
    if user is None:
        return login_redirect(request, path, lang)
    if not user.has_any(*roles):
        return forbidden(request, user, lang)
    return None
