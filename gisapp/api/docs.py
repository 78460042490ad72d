"""API documentation of the internal instance, for staff only: /docs (Swagger UI) sends an anonymous
visitor to the login page and back; /openapi.json answers 401 without a login. Any staff role may read
both. The citizen-facing instance publishes neither (not mounted there)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from common.errors import Forbidden, NotAuthenticated
from frontend.catalogue import normalise_lang
from frontend.docs_page import docs_page
from gisapp.api.html import page_response
from gisapp.api.staff import gate
from gisapp.deps import OptionalUser
from layers.catalog import STAFF_ROLES

router = APIRouter(include_in_schema=False)

_FORBIDDEN = ("この操作の権限がありません。", "You are not allowed to do this.")


@router.get("/docs")
def docs(request: Request, user: OptionalUser, lang: str = "ja") -> Response:
    if (refused := gate(request, user, "/docs", lang, STAFF_ROLES)) is not None:
        return refused
    query = dict(request.query_params)
    page = docs_page(normalise_lang(lang), path="/docs", query=query, openapi_url="/openapi.json")
    return page_response(request, page)


@router.get("/openapi.json")
def openapi(request: Request, user: OptionalUser) -> JSONResponse:
    if user is None:
        raise NotAuthenticated("ログインが必要です。", "Login required.")
    if not user.has_any(*STAFF_ROLES):
        raise Forbidden(*_FORBIDDEN)
    return JSONResponse(request.app.openapi())
