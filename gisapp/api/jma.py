"""JMA 防災情報XML for the HQ map: the feeds' state (errors, staleness) and the conditions in force.
Staff only; the answer is built by the domain (gisapp.ops.jma_feeds) and never cached."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from common.errors import STATUS_TEXT
from gisapp.deps import ReadConn, ReadRoute, SettingsDep, StaffUser
from gisapp.ops import jma_feeds

router = APIRouter(tags=["JMA / 気象庁防災情報"], route_class=ReadRoute)
_ERRORS: dict[int | str, dict] = {s: {"description": STATUS_TEXT[s][1]} for s in (401, 403)}


@router.get(
    "/api/jma/status",
    summary="JMA feeds and the conditions in force / 気象庁フィードの状態と発表中の情報",
    responses=_ERRORS,
)
def jma_status(conn: ReadConn, settings: SettingsDep, user: StaffUser) -> JSONResponse:
    body = jma_feeds.status(
        conn, settings.jma_feed_urls, settings.jma_stale_minutes, settings.jma_area_code_list
    )
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
