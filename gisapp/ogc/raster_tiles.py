"""OGC API – Tiles map tiles of raster collections (航空写真), PNG or WebP, and an XYZ alias.

The same routes on both instances: the public one finds rasters through ``pub.raster`` only; the
internal one by the caller's roles (anonymous = public rasters only). Unknown and not allowed answer
the same 404. A restricted raster's tiles are read by allowed roles only, never kept by a shared
cache, and audited (once per person and raster per ``AUDIT_EVERY`` seconds: a map view asks for
dozens of tiles). rio-tiler is CPU-bound: the routes are sync, so they run in the threadpool, and the
catalogue read is done (and its connection returned) before the tile is drawn. See docs/raster.md.
"""

from __future__ import annotations

import threading
import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Connection

from common.errors import InvalidInput, NotFound
from gisapp.auth import User
from gisapp.db import read_only
from gisapp.deps import EngineDep, OptionalUser
from gisapp.ogc import access, html, params, raster_docs
from gisapp.ogc.errors import OgcInvalid
from gisapp.ogc.raster_docs import TMS_ID, tileset, tilesets
from layers import tiles
from layers.catalog import Visibility
from layers.raster import render, store
from layers.raster.store import Raster

router = APIRouter(prefix="/ogc", tags=["OGC API - Tiles"])
xyz_router = APIRouter(prefix="/tiles/raster", tags=["OGC API - Tiles"])

Slug = Annotated[str, Path(max_length=63, pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
MAX_ZOOM = 24
MAX_AGE = 300  # a withdrawn raster leaves browsers' caches within five minutes
AUDIT_EVERY = 600
_audited: dict[tuple[str, str], float] = {}
_audited_lock = threading.Lock()
_TILE_RESPONSES: dict = {
    200: {"content": {"image/png": {}, "image/webp": {}}},
    304: {"description": "変更なし / Not modified (If-None-Match)"},
}


def find_raster(request: Request, engine, user: User | None, slug: str) -> Raster:
    """The raster if this caller may see it on this instance; 404 otherwise."""
    with read_only(engine, user.roles if user else ()) as conn:
        raster = raster_in(request, conn, user, slug)
    if raster is None:
        raise NotFound(*access.NOT_FOUND)
    return raster


def visible_rasters(request: Request, conn: Connection, user: User | None) -> list[Raster]:
    """For the collections list (gisapp/ogc/features.py), on the route's read connection."""
    if request.app.state.public:
        return store.list_public_rasters(conn)
    return store.list_rasters(conn, user.roles if user else None)


def raster_in(request: Request, conn: Connection, user: User | None, slug: str) -> Raster | None:
    if request.app.state.public:
        return store.get_public_raster(conn, slug)
    return store.get_raster(conn, slug, user.roles if user else None)


def collection_response(request: Request, raster: Raster, want_html: bool) -> Response:
    """``/ogc/collections/{id}`` of a raster (gisapp/ogc/features.py asks when no layer has the id)."""
    doc = raster_docs.collection(request, raster)
    if not want_html:
        return JSONResponse(doc)
    b = raster_docs.base(request)
    page = html.Page(raster.title_ja, raster.title_en,
                     html.crumbs(b, (f"{b}/collections", "コレクション / Collections")), links=doc["links"])  # fmt: skip
    page.facts = [
        ("ID", raster.slug),
        ("種類 / Kind", "ラスター（地図タイル）/ raster (map tiles)"),
        ("範囲 / Extent (CRS84)", raster.bounds),
        ("地図タイル / Map tiles", raster_docs.tile_template(request, raster)),
        ("出典 / Source", raster.source),
        ("ライセンス / Licence", raster.licence),
    ]
    return html.render(request, page)


def _audit_restricted(request: Request, user: User | None, raster: Raster, resource: str) -> None:
    if raster.visibility != Visibility.restricted:
        return
    key, now = ((user.username if user else "anonymous"), raster.slug), time.monotonic()
    with _audited_lock:
        if now - _audited.get(key, -AUDIT_EVERY) < AUDIT_EVERY:
            return
        _audited[key] = now
    access.audit_read(request, user, [raster], resource)  # type: ignore[list-item]


def _format(f: str | None, accept: str, invalid: type[InvalidInput] = OgcInvalid) -> str:
    if f is not None:
        if f not in render.FORMATS:
            # The value is not echoed: it may be anything (a slug a crawler put there).
            raise invalid("f は png か webp です。", "f must be png or webp.", parameter="f")
        return f
    # Accept: the better-weighted of the two; PNG when neither is named (or on a tie, as PNG is the
    # one every client reads).
    weights = {"png": 0.0, "webp": 0.0}
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            name, _, value = p.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        for fmt, (_, mime) in render.FORMATS.items():
            if media.strip().lower() == mime:
                weights[fmt] = max(weights[fmt], q)
    return "webp" if weights["webp"] > weights["png"] else "png"


def _tile_response(
    request: Request, engine, user: User | None, slug: str, z: int, x: int, y: int, fmt: str,
    invalid: type[InvalidInput] = OgcInvalid,
) -> Response:  # fmt: skip
    if not (0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z):
        raise invalid(
            f"タイル番号が範囲外です（0 ≤ z ≤ {MAX_ZOOM}、0 ≤ x, y < 2^z）。",
            f"Tile out of range (0 ≤ z ≤ {MAX_ZOOM}, 0 ≤ x, y < 2^z).",
            z=z, y=y, x=x,
        )  # fmt: skip
    raster = find_raster(request, engine, user, slug)
    public = raster.visibility == Visibility.public
    tag = f'"{raster.sha256[:32]}-{z}-{x}-{y}-{fmt}"'
    headers = {"ETag": tag, "Vary": "Accept" if public else "Accept, Authorization, Cookie"}
    if raster.visibility == Visibility.restricted:
        headers["Cache-Control"] = "private, no-store"
    else:
        headers["Cache-Control"] = f"{'public' if public else 'private'}, max-age={MAX_AGE}"
    _audit_restricted(request, user, raster, f"map-tile {z}/{x}/{y}")
    if tiles.etag_matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    path = store.file_path(request.app.state.settings.raster_dir, raster)
    data = render.render_tile(path, raster.sha256, raster.band_count, z, x, y, fmt)
    return Response(data, media_type=render.FORMATS[fmt][1], headers=headers)


@router.get("/collections/{slug}/map/tiles", summary="地図タイルセット一覧 / Map tilesets")
def map_tilesets(request: Request, engine: EngineDep, user: OptionalUser, slug: Slug) -> dict[str, Any]:
    params.only(request.query_params, params.EVERYWHERE)
    return tilesets(request, find_raster(request, engine, user, slug))


@router.get(f"/collections/{{slug}}/map/tiles/{TMS_ID}", summary="地図タイルセット / Map tileset (TileJSON)")
def map_tileset(request: Request, engine: EngineDep, user: OptionalUser, slug: Slug) -> dict[str, Any]:
    params.only(request.query_params, params.EVERYWHERE)
    return tileset(request, find_raster(request, engine, user, slug))


@router.get(
    f"/collections/{{slug}}/map/tiles/{TMS_ID}/{{z}}/{{y}}/{{x}}",
    response_class=Response,
    responses=_TILE_RESPONSES,
    summary="地図タイル / Map tile (PNG, WebP)",
)
def map_tile(
    request: Request, engine: EngineDep, user: OptionalUser, slug: Slug, z: int, y: int, x: int,
    f: Annotated[str | None, Query(description="png | webp (else by Accept)")] = None,
) -> Response:  # fmt: skip
    params.only(request.query_params, params.EVERYWHERE)
    return _tile_response(request, engine, user, slug, z, x, y, _format(f, request.headers.get("accept", "")))


@xyz_router.get(
    "/{slug}/{z}/{x}/{y}.{fmt}",
    response_class=Response,
    responses=_TILE_RESPONSES,
    summary="地図タイル（XYZ）/ Map tile (XYZ: z/x/y.png|webp)",
)
def xyz_tile(
    request: Request, engine: EngineDep, user: OptionalUser, slug: Slug, z: int, x: int, y: int, fmt: str
) -> Response:
    # Outside /ogc invalid input is the API's 422, not the OGC standard's 400.
    return _tile_response(request, engine, user, slug, z, x, y, _format(fmt, "", InvalidInput), InvalidInput)
