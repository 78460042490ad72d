"""Printed maps: the situation map (状況図) of a disaster at time T as a PDF (A3/A4), drawn on our own
basemap (gisapp/ops/situation_map.py gathers, gisapp/situation_pdf.py draws)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime

from frontend.catalogue import normalise_lang
from gisapp import situation_pdf
from gisapp.db import read_only
from gisapp.deps import EngineDep, HQUser, SettingsDep
from gisapp.ops import situation_map

router = APIRouter(prefix="/api/maps", tags=["printed maps / 印刷用地図"])

PDF = {"content": {"application/pdf": {}}, "description": "PDF"}


@router.get(
    "/situation.pdf",
    summary="Situation map (PDF) / 状況図（印刷用）",
    response_class=Response,
    responses={200: PDF},
)
def situation_pdf_route(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: HQUser,
    disaster: Annotated[int, Query(gt=0, le=2_147_483_647, description="disaster id / 災害 ID")],
    at: Annotated[
        AwareDatetime | None, Query(description="time T, ISO 8601 with offset (default: now)")
    ] = None,
    bbox: Annotated[
        str | None,
        Query(
            max_length=200, description="west,south,east,north (lon/lat); default: the disaster's incidents"
        ),
    ] = None,
    paper: Annotated[str, Query(max_length=10, description="A3 | A4")] = "A3",
    orientation: Annotated[str, Query(max_length=20, description="landscape | portrait")] = "landscape",
    lang: Annotated[str, Query(max_length=10)] = "ja",
) -> Response:
    req = situation_map.parse(disaster, at, paper, orientation, bbox, situation_map.now())
    with read_only(engine, user.roles) as conn:
        frame = situation_map.frame_for(conn, req, settings.plane_srid, situation_pdf.map_rect(req))
        situation = situation_map.gather(conn, user.roles, req, frame, request.app.state.basemap)
    body = situation_pdf.render(situation, req, normalise_lang(lang))
    name = f"situation-map-{req.disaster_id}-{req.at.astimezone(situation_pdf.JST):%Y%m%d-%H%M}.pdf"
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "no-store"},
    )
