"""The API definition of the /ogc sub-API as OpenAPI 3.0, listing the caller's collections' paths."""

from __future__ import annotations

from typing import Any

from gisapp.ogc import crs
from gisapp.ogc.documents import GEOJSON, TITLE
from gisapp.ogc.params import DEFAULT_LIMIT, MAX_LIMIT, RESERVED
from layers import tiles
from layers.catalog import Layer
from layers.tiles import MAX_ZOOM, MVT

_JSON = {"application/json": {"schema": {"type": "object"}}, "text/html": {"schema": {"type": "string"}}}
_GEO = {GEOJSON: {"schema": {"type": "object"}}, "text/html": {"schema": {"type": "string"}}}
_ERRORS = {
    "400": {"description": "不正なパラメータ / Invalid parameter", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
    "404": {"description": "見つかりません / Not found", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
}  # fmt: skip
_PARAMS: dict[str, dict[str, Any]] = {
    "f": {"name": "f", "in": "query", "schema": {"type": "string", "enum": ["json", "html"]},
          "description": "形式 / Output format"},
    "bbox": {"name": "bbox", "in": "query", "style": "form", "explode": False,
             "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
             "description": "範囲 (bbox-crs の軸順) / Bounding box, in the axis order of bbox-crs"},
    "bbox-crs": {"name": "bbox-crs", "in": "query", "schema": {"type": "string", "format": "uri", "enum": crs.uris()}},
    "crs": {"name": "crs", "in": "query", "schema": {"type": "string", "format": "uri", "enum": crs.uris()}},
    "limit": {"name": "limit", "in": "query", "style": "form", "explode": False,
              "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
    "offset": {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
    "datetime": {"name": "datetime", "in": "query", "schema": {"type": "string"},
                 "description": "RFC 3339 日時または期間 / date-time or interval"},
    "featureId": {"name": "featureId", "in": "path", "required": True, "schema": {"type": "integer"}},
    "lang": {"name": "lang", "in": "query", "schema": {"type": "string", "enum": ["ja", "en"]},
             "description": "HTML の言語 / Language of the HTML pages"},
    "tileMatrix": {"name": "tileMatrix", "in": "path", "required": True,
                   "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ZOOM}},
    "tileRow": {"name": "tileRow", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}},
    "tileCol": {"name": "tileCol", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}},
    # Part 3 (filter, filter-lang, filter-crs) and the selection parameters (gisapp/ogc/selection.py)
    "filter": {"name": "filter", "in": "query", "schema": {"type": "string"},
               "description": "CQL2 の絞り込み式 / CQL2 filter expression (cql2-text or cql2-json)"},
    # "cql-text" (the draft's name, read as cql2-text) is listed because GDAL's OAPIF driver only sends
    # its -where to the server when it finds that value here.
    "filter-lang": {"name": "filter-lang", "in": "query",
                    "schema": {"type": "string", "enum": ["cql2-text", "cql2-json", "cql-text"],
                               "default": "cql2-text"}},
    "filter-crs": {"name": "filter-crs", "in": "query",
                   "schema": {"type": "string", "format": "uri", "enum": crs.uris(), "default": crs.CRS84.uri}},
    "sortby": {"name": "sortby", "in": "query", "style": "form", "explode": False,
               "schema": {"type": "array", "items": {"type": "string", "pattern": "^[+-]?[^,]+$"}},
               "description": "並べ替え (+昇順, -降順) / sort keys, e.g. +name,-id"},
    "properties": {"name": "properties", "in": "query", "style": "form", "explode": False,
                   "schema": {"type": "array", "items": {"type": "string"}},
                   "description": "返す属性 / properties to return"},
    "skipGeometry": {"name": "skipGeometry", "in": "query", "schema": {"type": "boolean", "default": False},
                     "description": "形状を省く / return no geometry"},
}  # fmt: skip
_TILE = {
    "200": {"description": "ベクトルタイル / Vector tile", "content": {MVT: {"schema": {"type": "string", "format": "binary"}}}},
    "204": {"description": "空のタイル / Empty tile"},
    "304": {"description": "変更なし / Not modified (If-None-Match)"},
    **_ERRORS,
}  # fmt: skip
_JSON_ONLY = {"application/json": {"schema": {"type": "object"}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def _get(summary: str, content: dict, params: list[dict] | None = None) -> dict[str, Any]:
    # `f` where the answer has an HTML form too (the tile routes answer JSON or MVT only).
    formats = [_ref("f")] if "text/html" in content else []
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": [*formats, _ref("lang"), *(params or [])],
        "responses": {"200": {"description": "OK", "content": content}, **_ERRORS},
    }
    return {"get": op}


def _crs_params(offered: list[str] | None) -> list[dict[str, Any]]:
    """crs and bbox-crs: the shared definitions, or the collection's own list where it offers more."""
    if offered is None or offered == crs.uris():
        return [_ref("bbox-crs"), _ref("crs")]
    schema = {"type": "string", "format": "uri", "enum": offered}
    return [{**_PARAMS[name], "schema": schema} for name in ("bbox-crs", "crs")]


def _tile_paths(base: str, title: str) -> dict[str, Any]:
    tile = _get(f"{title}: タイル / tile", {}, [_ref("tileMatrix"), _ref("tileRow"), _ref("tileCol")])
    tile["get"]["responses"] = _TILE
    return {
        f"{base}/tiles": _get(f"{title}: タイルセット一覧 / tilesets", _JSON_ONLY),
        f"{base}/tiles/WebMercatorQuad": _get(f"{title}: タイルセット / tileset (TileJSON)", _JSON_ONLY),
        f"{base}/tiles/WebMercatorQuad/{{tileMatrix}}/{{tileRow}}/{{tileCol}}": tile,
    }


def _map_tile_paths(base: str, title: str) -> dict[str, Any]:
    """A raster collection's map tiles (gisapp/ogc/raster_tiles.py): PNG or WebP by ?f= or Accept."""
    tile = _get(f"{title}: 地図タイル / map tile", {}, [_ref("tileMatrix"), _ref("tileRow"), _ref("tileCol")])
    tile["get"]["parameters"].append(
        {"name": "f", "in": "query", "schema": {"type": "string", "enum": ["png", "webp"]},
         "description": "画像形式（省略時は Accept） / image format (else by Accept)"}
    )  # fmt: skip
    tile["get"]["responses"] = {
        **{code: answer for code, answer in _TILE.items() if code != "204"},  # outside: a transparent tile
        "200": {"description": "地図タイル / Map tile",
                "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in ("image/png", "image/webp")}},
    }  # fmt: skip
    return {
        base: _get(f"{title}: コレクション（ラスター） / collection (raster)", _JSON),
        f"{base}/map/tiles": _get(f"{title}: 地図タイルセット一覧 / map tilesets", _JSON_ONLY),
        f"{base}/map/tiles/WebMercatorQuad": _get(
            f"{title}: 地図タイルセット / map tileset (TileJSON)", _JSON_ONLY
        ),
        f"{base}/map/tiles/WebMercatorQuad/{{tileMatrix}}/{{tileRow}}/{{tileCol}}": tile,
    }


_STYLE = {"application/vnd.mapbox.style+json": {"schema": {"type": "object"}}}


def document(
    server_url: str,
    layers: list[Layer],
    queryables: dict[str, dict[str, str | None]],
    crs_lists: dict[str, list[str]] | None = None,
    rasters: list[tuple[str, str]] = (),
) -> dict[str, Any]:
    """The OpenAPI document of /ogc for what the caller may see: ``layers`` (features and vector tiles)
    and ``rasters`` ((slug, title) of raster collections: map tiles)."""
    paths: dict[str, Any] = {
        "/": _get("ランディングページ / Landing page", _JSON),
        "/api": _get("この API 定義 / This API definition", {"application/vnd.oai.openapi+json;version=3.0": {"schema": {"type": "object"}}, "text/html": {"schema": {"type": "string"}}}),
        "/conformance": _get("適合クラス / Conformance classes", _JSON),
        "/collections": _get("コレクション一覧 / Collections", _JSON),
        "/tileMatrixSets": _get("タイル行列セット一覧 / Tile matrix sets", _JSON_ONLY),
        "/tileMatrixSets/WebMercatorQuad": _get("タイル行列セット / Tile matrix set WebMercatorQuad", _JSON_ONLY),
        "/styles": _get("スタイル一覧 / Styles", _JSON_ONLY),
        "/styles/default": _get("地図全体のスタイル (MapLibre) / MapLibre style of the whole map", _STYLE),
    }  # fmt: skip
    for layer in layers:
        base = f"/collections/{layer.slug}"
        props = [
            {
                "name": name,
                "in": "query",
                "schema": {"type": t or "string"},
                "description": "属性で絞り込み / filter",
            }
            for name, t in queryables.get(layer.slug, {}).items()
            if name not in RESERVED  # a property called "filter" cannot be a parameter of its own
        ]
        own_crs = _crs_params((crs_lists or {}).get(layer.slug))
        items_params = [
            _ref("bbox"),
            *own_crs,
            *(
                _ref(n)
                for n in (
                    "limit",
                    "offset",
                    "datetime",
                    "filter",
                    "filter-lang",
                    "filter-crs",
                    "sortby",
                    "properties",
                    "skipGeometry",
                )
            ),
        ]
        title = f"{layer.title_ja} / {layer.title_en}"
        paths[base] = _get(f"{title}: コレクション / collection", _JSON)
        paths[f"{base}/queryables"] = _get(
            f"{title}: 絞り込み可能な属性 / queryables",
            {
                "application/schema+json": {"schema": {"type": "object"}},
                "text/html": {"schema": {"type": "string"}},
            },
        )
        paths[f"{base}/items"] = _get(f"{title}: 地物 / features", _GEO, [*items_params, *props])
        paths[f"{base}/items/{{featureId}}"] = _get(
            f"{title}: 地物 1 件 / one feature", _GEO, [_ref("featureId"), own_crs[1]]
        )
        if tiles.is_tileable(layer):
            paths.update(_tile_paths(base, title))
            tms = f"{base}/tiles/WebMercatorQuad"
            paths[f"{tms}/tilejson.json"] = _get(f"{title}: TileJSON", _JSON_ONLY)
            paths[f"{tms}/style.json"] = _get(f"{title}: スタイル (MapLibre) / MapLibre style", _STYLE)
    for slug, title in rasters:
        paths.update(_map_tile_paths(f"/collections/{slug}", title))
    return {
        "openapi": "3.0.3",
        "info": {"title": TITLE[0], "description": TITLE[1], "version": "1.0.0"},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "parameters": _PARAMS,
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {
                                "code": {"type": "string"},
                                "message_ja": {"type": "string"},
                                "message_en": {"type": "string"},
                            },
                        }
                    },
                }
            },
        },
    }
