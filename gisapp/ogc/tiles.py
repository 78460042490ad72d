"""OGC API – Tiles: Mapbox Vector Tiles of every collection (layer) in WebMercatorQuad.

The same routes on both instances: the public one reads the ``pub`` views only, the internal one
shows what the caller's roles allow (anonymous = public layers only). Restricted layers are never
tiled. An unknown and a not-allowed collection answer the same 404. See docs/tiles.md.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from common.errors import NotFound
from gisapp.deps import OptionalUser, ReadConn, ReadRoute
from gisapp.ogc import access, params
from gisapp.ogc.errors import OgcInvalid as InvalidInput
from gisapp.ogc.tiles_fast import tile_headers
from layers import tiles
from layers.catalog import Layer
from layers.tiles import TileCache

router = APIRouter(prefix="/ogc", tags=["OGC API - Tiles"], route_class=ReadRoute)

MVT = tiles.MVT
TMS_ID = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
CRS_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

Slug = Annotated[str, Path(max_length=63)]


def _cache(request: Request) -> TileCache:
    # One cache per app instance (the internal and the public app never share tiles), shared with
    # the warm-tile fast path (tiles_fast.py).
    return request.app.state.tile_cache


def _layer(request: Request, conn: ReadConn, user: OptionalUser, slug: str) -> Layer:
    public = request.app.state.public
    if public:  # the layer directory first (no query), keeping the revision of the database it reads
        layer = tiles.tileable(access.published_layer(request, conn, slug, revision_from_reads=True))
    else:
        layer = tiles.tileable_layer(conn, slug, public=public, roles=user.roles if user else None)
    if layer is None:
        raise NotFound("コレクションが見つかりません。", "Collection not found.")
    return layer


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _tile_template(request: Request, slug: str) -> str:
    return f"{_base(request)}/collections/{slug}/tiles/{TMS_ID}/{{z}}/{{y}}/{{x}}"


def _style_links(tiles_base: str) -> list[dict[str, str]]:
    """The MapLibre style and the TileJSON of a collection's tiles (gisapp/ogc/styles.py)."""
    return [
        {"rel": "stylesheet", "href": f"{tiles_base}/{TMS_ID}/style.json",
         "type": "application/vnd.mapbox.style+json", "title": "MapLibre style / スタイル"},
        {"rel": "describedby", "href": f"{tiles_base}/{TMS_ID}/tilejson.json", "type": "application/json",
         "title": "TileJSON"},
    ]  # fmt: skip


@router.get("/tileMatrixSets")
def tile_matrix_sets(request: Request) -> dict[str, Any]:
    params.only(request.query_params, params.EVERYWHERE)
    href = f"{_base(request)}/tileMatrixSets/{TMS_ID}"
    return {
        "tileMatrixSets": [
            {"id": TMS_ID, "title": "Google Maps Compatible for the World", "uri": TMS_URI,
             "links": [{"rel": "self", "href": href, "type": "application/json"}]}
        ]
    }  # fmt: skip


@router.get("/tileMatrixSets/WebMercatorQuad")
def web_mercator_quad(request: Request) -> dict[str, Any]:
    """The OGC 2D TileMatrixSet definition (17-083r4), zoom 0..22."""
    params.only(request.query_params, params.EVERYWHERE)
    half = tiles.WEB_MERCATOR_HALF
    return {
        "id": TMS_ID,
        "title": "Google Maps Compatible for the World",
        "uri": TMS_URI,
        "crs": CRS_3857,
        "orderedAxes": ["E", "N"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": [
            {
                "id": str(z),
                "scaleDenominator": 2 * half / 256 / 2**z / 0.00028,
                "cellSize": 2 * half / 256 / 2**z,
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": [-half, half],
                "tileWidth": 256,
                "tileHeight": 256,
                "matrixWidth": 2**z,
                "matrixHeight": 2**z,
            }
            for z in range(tiles.MAX_ZOOM + 1)
        ],
    }


@router.get("/collections/{slug}/tiles")
def tilesets(request: Request, conn: ReadConn, user: OptionalUser, slug: Slug) -> dict[str, Any]:
    params.only(request.query_params, params.EVERYWHERE)
    layer = _layer(request, conn, user, slug)
    base = f"{_base(request)}/collections/{layer.slug}/tiles"
    return {
        "tilesets": [
            {
                "title": layer.title_ja,
                "dataType": "vector",
                "crs": CRS_3857,
                "tileMatrixSetURI": TMS_URI,
                "links": [
                    {"rel": "self", "href": f"{base}/{TMS_ID}", "type": "application/json",
                     "title": f"{layer.title_ja} / {layer.title_en}"},
                    {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                     "href": f"{_base(request)}/tileMatrixSets/{TMS_ID}", "type": "application/json"},
                    {"rel": "item", "href": _tile_template(request, layer.slug), "templated": True,
                     "type": MVT},
                    *_style_links(base),
                ],
            }
        ],
        "links": [{"rel": "self", "href": base, "type": "application/json"}],
    }  # fmt: skip


@router.get("/collections/{slug}/tiles/WebMercatorQuad")
def tileset(request: Request, conn: ReadConn, user: OptionalUser, slug: Slug) -> dict[str, Any]:
    """OGC tileset metadata that is also a TileJSON 3.0 document (MapLibre reads it as a source)."""
    params.only(request.query_params, params.EVERYWHERE)
    layer = _layer(request, conn, user, slug)
    public = request.app.state.public
    bounds = tiles.layer_bounds(conn, layer, public=public) or [-180.0, -85.0511, 180.0, 85.0511]
    template = _tile_template(request, layer.slug)
    fields = sorted(tiles.property_names(conn, layer, public=public))
    return {
        # OGC API – Tiles tileset
        "title": f"{layer.title_ja} / {layer.title_en}",
        "dataType": "vector",
        "crs": CRS_3857,
        "tileMatrixSetURI": TMS_URI,
        "layers": [{"id": layer.slug, "dataType": "vector", "geometryType": layer.geometry_type}],
        "boundingBox": {"lowerLeft": bounds[:2], "upperRight": bounds[2:], "crs": CRS84},
        "links": [
            {"rel": "item", "href": template, "templated": True, "type": MVT},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
             "href": f"{_base(request)}/tileMatrixSets/{TMS_ID}", "type": "application/json"},
            *_style_links(f"{_base(request)}/collections/{layer.slug}/tiles"),
        ],
        # TileJSON 3.0.0
        "tilejson": "3.0.0",
        "name": layer.slug,
        "description": f"{layer.title_ja} / {layer.title_en}",
        "attribution": " / ".join(p for p in (layer.source, layer.licence) if p),
        "scheme": "xyz",
        "tiles": [template],
        "minzoom": 0,
        "maxzoom": tiles.MAX_ZOOM,
        "bounds": bounds,
        "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, 12],
        "vector_layers": [{"id": layer.slug, "fields": {f: "" for f in fields}, "minzoom": 0,
                           "maxzoom": tiles.MAX_ZOOM}],
    }  # fmt: skip


@router.get(
    "/collections/{slug}/tiles/WebMercatorQuad/{z}/{y}/{x}",
    response_class=Response,
    responses={200: {"content": {MVT: {}}}, 204: {"description": "空のタイル / empty tile"}},
)
def tile(
    request: Request,
    conn: ReadConn,
    user: OptionalUser,
    slug: Slug,
    z: int,
    y: int,
    x: int,
    properties: Annotated[
        str | None,
        Query(
            max_length=4000,
            description="地物に含める属性（カンマ区切り、既定は全属性） / attributes to include"
            " (comma-separated; default: all)",
        ),
    ] = None,
) -> Response:
    params.only(request.query_params, {"properties"})
    if not tiles.valid_tile(z, x, y):
        raise InvalidInput(
            f"タイル番号が範囲外です（0 ≤ z ≤ {tiles.MAX_ZOOM}、0 ≤ x, y < 2^z）。",
            f"Tile out of range (0 ≤ z ≤ {tiles.MAX_ZOOM}, 0 ≤ x, y < 2^z).",
            z=z, y=y, x=x,
        )  # fmt: skip
    layer = _layer(request, conn, user, slug)
    public = request.app.state.public
    props = tiles.parse_properties(properties)
    unknown = tiles.unknown_properties(conn, layer, props, public=public)
    if unknown:
        raise InvalidInput(
            f"このレイヤーにない属性です: {', '.join(unknown)}",
            f"The layer has no such properties: {', '.join(unknown)}",
            properties=unknown,
        )
    tag = tiles.etag(layer, z, x, y, public=public, props=props)
    headers = {k.decode(): v.decode() for k, v in tile_headers(tag, public)}
    if tiles.etag_matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    cache = _cache(request)
    data = cache.get(layer, z, x, y, public, props)
    if data is None:
        data = tiles.render_tile(conn, layer, z, x, y, public=public, props=props)
        cache.put(layer, z, x, y, public, data, props)
    if not data:
        return Response(status_code=204, headers=headers)
    return Response(data, media_type=MVT, headers=headers)
