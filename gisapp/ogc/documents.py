"""The JSON documents of OGC API – Features (landing page, conformance, collections) and their links."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Request

from gisapp.ogc import crs
from layers.catalog import Layer
from layers.features_query import Extent

OGC_REL = "http://www.opengis.net/def/rel/ogc/1.0/"
OPENAPI_TYPE = "application/vnd.oai.openapi+json;version=3.0"
GEOJSON = "application/geo+json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    # OGC API – Tiles (gisapp/ogc/tiles.py): vector tiles of every collection in WebMercatorQuad
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    # map tiles of raster collections (gisapp/ogc/raster_tiles.py)
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/png",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    # OGC API – Features Part 3 with CQL2 (gisapp/ogc/cql.py, layers/cql_sql.py): each class checked
    # requirement by requirement in tests/test_ogc_conformance_filter.py
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/property-property",
]
TITLE = ("伊勢原市 地理空間データ (OGC API – Features)", "Isehara GIS data (OGC API – Features)")


def base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def link(href: str, rel: str, type_: str, title: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": type_, "title": title}


def self_links(url: str, json_type: str = "application/json") -> list[dict[str, str]]:
    sep = "&" if "?" in url else "?"
    return [
        link(f"{url}{sep}f=json", "self", json_type, "この文書 / This document"),
        link(f"{url}{sep}f=html", "alternate", "text/html", "HTML 表示 / This document as HTML"),
    ]


def landing(request: Request) -> dict[str, Any]:
    b = base(request)
    return {
        "title": TITLE[0],
        "description": f"{TITLE[1]}. 座標参照系 / CRS: {crs.summary()}"
        " (JGD2011, 平面直角座標系 第I〜XIX系 / plane rectangular zones I–XIX)"
        " と各コレクションの元データの座標参照系 / and each collection's source CRS.",
        "links": [
            *self_links(b),
            link(f"{b}/api", "service-desc", OPENAPI_TYPE, "API 定義 (OpenAPI 3.0) / API definition"),
            link(f"{b}/api?f=html", "service-doc", "text/html", "API 説明 / API documentation"),
            link(f"{b}/conformance", "conformance", "application/json", "適合クラス / Conformance"),
            link(f"{b}/collections", "data", "application/json", "コレクション一覧 / Collections"),
            link(
                f"{b}/tileMatrixSets",
                OGC_REL + "tiling-schemes",
                "application/json",
                "タイル行列セット / Tile matrix sets",
            ),
            link(f"{b}/styles", OGC_REL + "styles", "application/json", "スタイル / Styles (MapLibre)"),
        ],
    }


def conformance(request: Request) -> dict[str, Any]:
    return {"conformsTo": CONFORMANCE, "links": self_links(f"{base(request)}/conformance")}


def collection(
    request: Request, layer: Layer, extent: Extent, offered: Sequence[crs.Crs] = crs.SUPPORTED
) -> dict[str, Any]:
    b = f"{base(request)}/collections/{layer.slug}"
    doc: dict[str, Any] = {
        "id": layer.slug,
        "title": layer.title_ja,
        "description": f"{layer.title_ja} / {layer.title_en}",
        "itemType": "feature",
        "crs": crs.uris(offered),
        "storageCrs": crs.CRS84.uri,  # EPSG:4326 stored lon/lat, i.e. CRS84 axis order
        "extent": {"spatial": {"bbox": [list(extent.bbox or (-180, -90, 180, 90))], "crs": crs.CRS84.uri}},
        "links": [
            *self_links(b),
            link(f"{b}/items?f=json", "items", GEOJSON, "地物 / Features (GeoJSON)"),
            link(f"{b}/items?f=html", "items", "text/html", "地物 / Features (HTML)"),
            link(
                f"{b}/queryables",
                OGC_REL + "queryables",
                "application/schema+json",
                "絞り込み可能な属性 / Queryables",
            ),
            link(
                f"{b}/tiles", OGC_REL + "tilesets-vector", "application/json", "ベクトルタイル / Vector tiles"
            ),
            link(
                f"{b}/tiles/WebMercatorQuad/style.json",
                "stylesheet",
                "application/vnd.mapbox.style+json",
                "スタイル / MapLibre style",
            ),
        ],
        "geometryType": layer.geometry_type,
        "visibility": layer.visibility,
    }
    if layer.licence:
        doc["license"] = layer.licence
    if layer.source:
        doc["attribution"] = layer.source
    if extent.interval is not None:
        start, end = extent.interval
        doc["extent"]["temporal"] = {
            "interval": [[start.isoformat() if start else None, end.isoformat() if end else None]],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        }
    return doc


def collections(request: Request, docs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"links": self_links(f"{base(request)}/collections"), "collections": docs, "crs": crs.uris()}


# The geometry queryable of Part 3 (19-079r2 §6.2): the format names the layer's geometry type.
_GEOMETRY_FORMATS = {
    "Point": "geometry-point",
    "MultiPoint": "geometry-multipoint",
    "LineString": "geometry-linestring",
    "MultiLineString": "geometry-multilinestring",
    "Polygon": "geometry-polygon",
    "MultiPolygon": "geometry-multipolygon",
}


def queryables(
    request: Request, layer: Layer, props: dict[str, str | None], temporal: str | None = None
) -> dict[str, Any]:
    url = f"{base(request)}/collections/{layer.slug}/queryables"
    properties: dict[str, Any] = {
        "geometry": {
            "title": "形状 / Geometry",
            "format": _GEOMETRY_FORMATS.get(layer.geometry_type, "geometry-any"),
            "x-ogc-role": "primary-geometry",
        }
    }
    properties |= {name: ({"type": t} if t else {}) | {"title": name} for name, t in props.items()}
    if temporal:
        properties[temporal] = {"title": temporal, "type": "string", "format": "date-time",
                                "x-ogc-role": "primary-instant"}  # fmt: skip
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": url,
        "type": "object",
        "title": layer.title_ja,
        "description": "filter (CQL2) または 項目名=値 で絞り込めます / filter with CQL2 or name=value",
        "properties": properties,
        "additionalProperties": False,
    }
