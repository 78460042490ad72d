"""The city's basemap on both instances (docs/basemap.md): its vector tiles at an XYZ URL, TileJSON, a
MapLibre style (the city's, or one made from the file).

Anonymous reads of a file everyone may see: the same answer for every caller (Cache-Control public),
CORS like the OGC API (gisapp/cors.py). Tiles go out as stored (gzip) to a client that accepts gzip,
unzipped to one that does not; an ETag from the file's identity and the tile's address.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import Response

from common.errors import InvalidInput, NotFound
from layers import map_style
from layers.basemap_file import GZIP_MAGIC, BasemapError, BasemapFile, open_basemap, unzipped
from layers.tiles import MVT, etag_matches

router = APIRouter(prefix="/basemap", tags=["basemap"])

MAX_AGE = 3600  # the file changes only when the city replaces it (and the ETag with it)
NO_BASEMAP = ("ベースマップは設定されていません。", "No basemap is configured.")
Zoom = Annotated[int, PathParam(ge=0, le=24)]


def load(basemap: Path | None, style: Path | None) -> tuple[BasemapFile | None, dict[str, Any] | None]:
    """Open the configured basemap and the city's style once, at start-up: a wrong file is said then."""
    if basemap is None:
        return None, None
    opened = open_basemap(basemap)
    if style is None:
        return opened, None
    try:
        doc = json.loads(style.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise BasemapError(
            f"ベースマップのスタイルを読めません: {style}",
            f"The basemap style cannot be read: {style}",
            error=str(e)[:200],
        ) from e
    if not isinstance(doc, dict) or doc.get("version") != 8 or not isinstance(doc.get("layers"), list):
        raise BasemapError(
            "ベースマップのスタイルは MapLibre のスタイル（version 8）である必要があります。",
            "The basemap style must be a MapLibre style document (version 8).",
        )
    return opened, doc


def _basemap(request: Request) -> BasemapFile:
    basemap = request.app.state.basemap
    if basemap is None:
        raise NotFound(*NO_BASEMAP)
    return basemap


def urls(request: Request) -> dict[str, str]:
    root = str(request.base_url).rstrip("/")
    return {
        "tilejson": f"{root}/basemap/tilejson.json",
        "style": f"{root}/basemap/style.json",
        "tiles": f"{root}/basemap/tiles/{{z}}/{{x}}/{{y}}.pbf",
    }


def basemap_style(request: Request) -> dict[str, Any] | None:
    """The basemap's style for this request's origin, or None when there is no basemap."""
    basemap = request.app.state.basemap
    if basemap is None:
        return None
    u = urls(request)
    city = request.app.state.basemap_style
    if city is not None:
        return map_style.city_style(city, u["tilejson"])
    return map_style.generated_basemap_style(basemap.metadata, u["tilejson"])


def _cache_headers() -> dict[str, str]:
    return {"Cache-Control": f"public, max-age={MAX_AGE}"}


@router.get("/tilejson.json", summary="Basemap TileJSON / ベースマップの TileJSON")
def tilejson(request: Request) -> Response:
    meta = _basemap(request).metadata
    doc = {
        "tilejson": "3.0.0",
        "name": meta["name"],
        "description": meta["description"],
        "attribution": meta["attribution"],
        "scheme": "xyz",
        "tiles": [urls(request)["tiles"]],
        "minzoom": meta["minzoom"],
        "maxzoom": meta["maxzoom"],
        "bounds": meta["bounds"],
        "center": meta["center"],
        "vector_layers": [
            {"id": vl["id"], "fields": vl["fields"], **{k: vl[k] for k in ("minzoom", "maxzoom") if k in vl}}
            for vl in meta["vector_layers"]
        ],
    }
    return Response(
        json.dumps(doc, ensure_ascii=False), media_type="application/json", headers=_cache_headers()
    )


@router.get("/style.json", summary="Basemap style (MapLibre) / ベースマップのスタイル")
def style(request: Request) -> Response:
    doc = basemap_style(request)
    if doc is None:
        raise NotFound(*NO_BASEMAP)
    return Response(
        json.dumps(doc, ensure_ascii=False), media_type="application/json", headers=_cache_headers()
    )


@router.get(
    "/tiles/{z}/{x}/{y}.pbf",
    response_class=Response,
    summary="Basemap tile (MVT) / ベースマップのタイル",
    responses={200: {"content": {MVT: {}}}, 204: {"description": "空のタイル / empty tile"}},
)
def tile(request: Request, z: Zoom, x: int, y: int) -> Response:
    basemap = _basemap(request)
    if not (0 <= x < 2**z and 0 <= y < 2**z):
        raise InvalidInput(
            "タイル番号が範囲外です（0 ≤ x, y < 2^z）。", "Tile out of range (0 ≤ x, y < 2^z)."
        )
    data = basemap.tile(z, x, y)
    gz = (
        bool(data) and data[:2] == GZIP_MAGIC and "gzip" in request.headers.get("accept-encoding", "").lower()
    )
    tag = basemap.etag(z, x, y, gzip=gz)  # one per representation
    headers = {**_cache_headers(), "ETag": tag, "Vary": "Accept-Encoding"}
    if etag_matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    if not data:
        return Response(status_code=204, headers=headers)
    if gz:
        return Response(data, media_type=MVT, headers={**headers, "Content-Encoding": "gzip"})
    return Response(unzipped(data), media_type=MVT, headers=headers)
