"""MapLibre styles of our own vector tiles (docs/tiles.md, "Styles"), as tipg offers them:

- ``/ogc/collections/{id}/tiles/WebMercatorQuad/style.json``: one collection, drawn by its geometry type,
  its source the TileJSON at ``…/WebMercatorQuad/tilejson.json``;
- ``/ogc/styles`` and ``/ogc/styles/default``: every collection the caller may see, over the city's
  basemap when one is configured (gisapp/api/basemap.py).

What a caller may see is what the tiles show them: the public instance the published layers, the
internal one the caller's (anonymous = published); restricted layers are never tiled.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from gisapp.api import basemap
from gisapp.deps import OptionalUser, ReadConn, ReadRoute
from gisapp.ogc import params
from gisapp.ogc import tiles as ogc_tiles
from layers import map_style, tiles
from layers.catalog import KINDS, Layer

router = APIRouter(prefix="/ogc", tags=["OGC API - Styles"], route_class=ReadRoute)

STYLE_TYPE = "application/vnd.mapbox.style+json"


# A generic layer's label: the first of these its tiles carry (tiles carry every attribute).
GENERIC_LABELS = ("name", "name_ja", "name_en", "title")


def _label(layer: Layer) -> str | None:
    kind = KINDS[layer.kind]
    fields = GENERIC_LABELS if kind.table == "gis.feature" else kind.properties
    return map_style.label_field(dict.fromkeys(fields))


def _tilejson(request: Request, slug: str) -> str:
    return f"{ogc_tiles._base(request)}/collections/{slug}/tiles/{ogc_tiles.TMS_ID}/tilejson.json"


@router.get(
    "/collections/{slug}/tiles/WebMercatorQuad/tilejson.json",
    summary="TileJSON of a collection's vector tiles / タイルの TileJSON",
)
def collection_tilejson(
    request: Request, conn: ReadConn, user: OptionalUser, slug: ogc_tiles.Slug
) -> dict[str, Any]:
    params.only(request.query_params, params.EVERYWHERE)
    return ogc_tiles.tileset(request, conn, user, slug)


@router.get(
    "/collections/{slug}/tiles/WebMercatorQuad/style.json",
    summary="MapLibre style of a collection / コレクションのスタイル",
)
def collection_style(
    request: Request, conn: ReadConn, user: OptionalUser, slug: ogc_tiles.Slug
) -> dict[str, Any]:
    params.only(request.query_params, params.EVERYWHERE)
    layer = ogc_tiles._layer(request, conn, user, slug)
    return map_style.collections_style(
        f"{layer.title_ja} / {layer.title_en}",
        [(layer.slug, layer.geometry_type, _tilejson(request, layer.slug), _label(layer))],
    )


@router.get("/styles", summary="Styles / スタイル一覧")
def styles(request: Request) -> dict[str, Any]:
    params.only(request.query_params, params.EVERYWHERE)
    base = ogc_tiles._base(request)
    return {
        "styles": [
            {
                "id": "default",
                "title": "全レイヤ / All layers",
                "links": [{"rel": "stylesheet", "href": f"{base}/styles/default", "type": STYLE_TYPE}],
            }
        ],
        "links": [{"rel": "self", "href": f"{base}/styles", "type": "application/json"}],
    }


@router.get("/styles/default", summary="MapLibre style of the whole map / 地図全体のスタイル")
def default_style(request: Request, conn: ReadConn, user: OptionalUser) -> dict[str, Any]:
    params.only(request.query_params, params.EVERYWHERE)
    public = request.app.state.public
    layers = tiles.tileable_layers(conn, public=public, roles=user.roles if user else None)
    under = basemap.basemap_style(request)
    return map_style.collections_style(
        "gisapp",
        [
            (layer.slug, layer.geometry_type, _tilejson(request, layer.slug), _label(layer))
            for layer in layers
        ],
        basemap=under,
        center=under.get("center") if under else None,
        zoom=under.get("zoom") if under else None,
    )
