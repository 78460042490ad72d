"""API documentation of the internal instance, for staff only: /docs (Swagger UI) sends an anonymous
visitor to the login page and back; /openapi.json answers 401 without a login. Any staff role may read
both. The citizen-facing instance publishes neither (not mounted there)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from common.errors import Forbidden, NotAuthenticated
from frontend.docs_page import swagger_page
from gisapp.deps import OptionalUser
from layers.catalog import STAFF_ROLES

router = APIRouter(include_in_schema=False)

_FORBIDDEN = ("この操作の権限がありません。", "You are not allowed to do this.")


@router.get("/docs")
def docs(user: OptionalUser) -> Response:
    if user is None:
        return RedirectResponse("/login?next=/docs", status_code=303)
    if not user.has_any(*STAFF_ROLES):
        return HTMLResponse(
            "<!DOCTYPE html><html lang='ja'><title>403</title><p>権限がありません / Forbidden", 403
        )
    return HTMLResponse(swagger_page("gisapp API", "/openapi.json"))


@router.get("/openapi.json")
def openapi(request: Request, user: OptionalUser) -> JSONResponse:
    if user is None:
        raise NotAuthenticated("ログインが必要です。", "Login required.")
    if not user.has_any(*STAFF_ROLES):
        raise Forbidden(*_FORBIDDEN)
    return JSONResponse(request.app.openapi())
