"""The JSON documents of a raster collection: its collection entry (with the ``tilesets-map`` link),
its map tilesets and its tileset, which is also a TileJSON 3.0 document (a MapLibre raster source)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from gisapp.ogc.documents import OGC_REL, base, link, self_links
from layers.raster.store import Raster

TMS_ID = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
CRS_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
TILESETS_MAP = OGC_REL + "tilesets-map"


def tile_template(request: Request, raster: Raster, fmt: str = "png") -> str:
    """The OGC API – Tiles URL template of a raster's map tiles ({z}/{y}/{x}: row before column)."""
    return f"{base(request)}/collections/{raster.slug}/map/tiles/{TMS_ID}/{{z}}/{{y}}/{{x}}?f={fmt}"


def xyz_template(request: Request, raster: Raster, fmt: str = "png") -> str:
    """The XYZ alias ({z}/{x}/{y}), for Leaflet and anything that takes a slippy-map template."""
    root = str(request.base_url).rstrip("/")
    return f"{root}/tiles/raster/{raster.slug}/{{z}}/{{x}}/{{y}}.{fmt}"


def collection(request: Request, raster: Raster) -> dict[str, Any]:
    b = f"{base(request)}/collections/{raster.slug}"
    doc: dict[str, Any] = {
        "id": raster.slug,
        "title": raster.title_ja,
        "description": f"{raster.title_ja} / {raster.title_en}",
        # No itemType: a raster has no features (Features clients list only itemType "feature").
        "dataType": "map",
        "extent": {"spatial": {"bbox": [raster.bounds], "crs": CRS84}},
        "links": [
            *self_links(b),
            link(f"{b}/map/tiles", TILESETS_MAP, "application/json", "地図タイル / Map tiles"),
        ],
    }
    if raster.visibility != "public" or not request.app.state.public:
        doc["visibility"] = raster.visibility
    if raster.licence:
        doc["license"] = raster.licence
    if raster.source:
        doc["attribution"] = raster.source
    return doc


def _tiling_scheme(request: Request) -> dict[str, str]:
    return {"rel": OGC_REL + "tiling-scheme", "href": f"{base(request)}/tileMatrixSets/{TMS_ID}",
            "type": "application/json"}  # fmt: skip


def tilesets(request: Request, raster: Raster) -> dict[str, Any]:
    b = f"{base(request)}/collections/{raster.slug}/map/tiles"
    return {
        "tilesets": [
            {
                "title": raster.title_ja,
                "dataType": "map",
                "crs": CRS_3857,
                "tileMatrixSetURI": TMS_URI,
                "links": [
                    {"rel": "self", "href": f"{b}/{TMS_ID}", "type": "application/json",
                     "title": f"{raster.title_ja} / {raster.title_en}"},
                    _tiling_scheme(request),
                    {"rel": "item", "href": tile_template(request, raster, "png"), "templated": True,
                     "type": "image/png"},
                    {"rel": "item", "href": tile_template(request, raster, "webp"), "templated": True,
                     "type": "image/webp"},
                ],
            }
        ],
        "links": [{"rel": "self", "href": b, "type": "application/json"}],
    }  # fmt: skip


def tileset(request: Request, raster: Raster) -> dict[str, Any]:
    """OGC tileset metadata that is also a TileJSON 3.0 document."""
    bounds = raster.bounds
    template = tile_template(request, raster, "png")
    return {
        # OGC API – Tiles tileset
        "title": f"{raster.title_ja} / {raster.title_en}",
        "dataType": "map",
        "crs": CRS_3857,
        "tileMatrixSetURI": TMS_URI,
        "boundingBox": {"lowerLeft": bounds[:2], "upperRight": bounds[2:], "crs": CRS84},
        "links": [
            {"rel": "item", "href": template, "templated": True, "type": "image/png"},
            {"rel": "item", "href": tile_template(request, raster, "webp"), "templated": True,
             "type": "image/webp"},
            _tiling_scheme(request),
        ],
        # TileJSON 3.0.0
        "tilejson": "3.0.0",
        "name": raster.slug,
        "description": f"{raster.title_ja} / {raster.title_en}",
        "attribution": " / ".join(p for p in (raster.source, raster.licence) if p),
        "scheme": "xyz",
        "tiles": [template],
        "tileSize": 256,
        "minzoom": 0,
        "maxzoom": raster.maxzoom,
        "bounds": bounds,
        "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, raster.minzoom],
    }  # fmt: skip
