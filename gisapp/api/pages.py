"""Map pages: the citizen map (公開型GIS) and the HQ map (災害対策本部)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from frontend.pages import citizen_map_html, hq_map_html
from gisapp.deps import OptionalUser

router = APIRouter(include_in_schema=False)
public_router = APIRouter(include_in_schema=False)


def _lang(lang: str) -> str:
    return lang if lang in ("ja", "en") else "ja"


@public_router.get("/", response_class=HTMLResponse)
def citizen_map(request: Request, lang: str = "ja") -> HTMLResponse:
    return HTMLResponse(citizen_map_html(_lang(lang), offline=request.app.state.settings.offline))


@router.get("/hq", response_class=HTMLResponse)
def hq_map(request: Request, user: OptionalUser, lang: str = "ja") -> Response:
    if user is None:
        return RedirectResponse(f"/login?next=/hq&lang={_lang(lang)}", status_code=303)
    if not user.has_any("hq_operator", "staff"):
        return HTMLResponse(
            "<!DOCTYPE html><html lang='ja'><title>403</title><p>権限がありません / Forbidden",
            status_code=403,
        )
    return HTMLResponse(hq_map_html(_lang(lang), offline=request.app.state.settings.offline))
