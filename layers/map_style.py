"""MapLibre style documents (style spec v8): the basemap's, generated from its file's ``vector_layers``
when the city gives no style, and our own collections' (by geometry type), alone or over the basemap.

Labels are drawn by MapLibre (≥ 6) itself with the device's own fonts: a style without ``glyphs`` makes it
lay out every character locally, in the ``text-font`` family (``sans-serif``: every Japanese PC and phone
has Japanese glyphs there). Nothing to download, no glyph server, no CDN; 6 MB of TrueType font on a
phone during a disaster would be a poor trade.
docs/basemap.md, docs/tiles.md.
"""

from __future__ import annotations

import copy
from typing import Any

FONT = "sans-serif"  # a CSS font family: MapLibre draws the glyphs locally
BACKGROUND = "#f2efe9"
# Field names that hold a label, best first: OSM/OpenMapTiles (name:ja), 地理院ベクトルタイル (vt_text in the
# 最適化ベクトルタイル, knj in the older ones), ours and the rest.
LABEL_FIELDS = ("name:ja", "name_ja", "vt_text", "knj", "name", "名称", "title", "name_en")
# Colour by what a layer's id suggests (water, roads, buildings, green, boundaries), else grey.
THEMES = (
    (("water", "river", "lake", "sea", "coast", "水", "河川", "wstr"), "#8fb8de"),
    (("road", "rail", "transport", "道路", "鉄道", "rdcl", "railcl"), "#a0a0a0"),
    (("building", "bldg", "建物", "建築"), "#d9c7b0"),
    (("park", "green", "landcover", "landuse", "forest", "vegetation", "植生"), "#c8dcb0"),
    (("boundary", "admin", "境界", "town", "area", "町丁"), "#7d6f8c"),
)
OTHER = "#8a8f96"
OWN_PALETTE = ("#1f5fa8", "#b2182b", "#1b7837", "#7b3294", "#e08214", "#01665e", "#8c510a", "#c51b7d")


def _colour(layer_id: str) -> str:
    name = layer_id.lower()
    for words, colour in THEMES:
        if any(w in name for w in words):
            return colour
    return OTHER


def label_field(fields: dict[str, Any]) -> str | None:
    for name in LABEL_FIELDS:
        if name in fields:
            return name
    return None


def _kinds(geometry: str | None) -> tuple[str, ...]:
    g = (geometry or "").lower()
    if "polygon" in g:
        return ("polygon",)
    if "line" in g:
        return ("line",)
    if "point" in g:
        return ("point",)
    return ("polygon", "line", "point")  # unknown or mixed: each drawn by its own type


def vector_layers(
    source: str, source_layer: str, *, geometry: str | None, colour: str, label: str | None, prefix: str
) -> list[dict[str, Any]]:
    """fill/line/circle (and symbol for labels) for one source layer, each filtered by geometry type."""
    base = {"source": source, "source-layer": source_layer}
    kinds = _kinds(geometry)
    out: list[dict[str, Any]] = []
    if "polygon" in kinds:
        is_polygon = ["==", ["geometry-type"], "Polygon"]
        out += [
            {"id": f"{prefix}-fill", "type": "fill", **base, "filter": is_polygon,
             "paint": {"fill-color": colour, "fill-opacity": 0.35}},
            {"id": f"{prefix}-outline", "type": "line", **base, "filter": is_polygon,
             "paint": {"line-color": colour, "line-width": 1}},
        ]  # fmt: skip
    if "line" in kinds:
        out.append(
            {"id": f"{prefix}-line", "type": "line", **base, "filter": ["==", ["geometry-type"], "LineString"],
             "paint": {"line-color": colour, "line-width": ["interpolate", ["linear"], ["zoom"], 10, 1, 16, 3]}}
        )  # fmt: skip
    if "point" in kinds:
        out.append(
            {"id": f"{prefix}-circle", "type": "circle", **base, "filter": ["==", ["geometry-type"], "Point"],
             "paint": {"circle-color": colour, "circle-radius": 4, "circle-stroke-color": "#ffffff",
                       "circle-stroke-width": 1}}
        )  # fmt: skip
    if label:
        along = kinds == ("line",)
        layout: dict[str, Any] = {
            "text-field": ["to-string", ["get", label]],
            "text-font": [FONT],
            "text-size": 12,
            "symbol-placement": "line" if along else "point",
        }
        if not along:
            layout.update(
                {"text-variable-anchor": ["top", "bottom", "left", "right"], "text-radial-offset": 0.6}
            )
        out.append(
            {"id": f"{prefix}-label", "type": "symbol", **base, "filter": ["has", label], "layout": layout,
             "paint": {"text-color": "#333333", "text-halo-color": "#ffffff", "text-halo-width": 1.5}}
        )  # fmt: skip
    return out


def _style(name: str, sources: dict[str, Any], layers: list[dict[str, Any]], center=None, zoom=None):
    style: dict[str, Any] = {
        "version": 8,
        "name": name,
        "sources": sources,
        "layers": [
            {"id": "background", "type": "background", "paint": {"background-color": BACKGROUND}},
            *layers,
        ],
    }
    if center is not None:
        style["center"], style["zoom"] = center, zoom
    return style


def basemap_layers(meta: dict[str, Any], source: str = "basemap") -> list[dict[str, Any]]:
    """Layers drawing every vector layer of the basemap file: areas first, then lines, points, labels."""
    drawn: list[dict[str, Any]] = []
    for vl in meta["vector_layers"]:
        drawn += vector_layers(
            source, vl["id"], geometry=vl.get("geometry"), colour=_colour(vl["id"]),
            label=label_field(vl["fields"]), prefix=f"{source}-{vl['id']}",
        )  # fmt: skip
    order = {"fill": 0, "line": 1, "circle": 2, "symbol": 3}
    return sorted(drawn, key=lambda layer: order[layer["type"]])  # stable: file order within a type


def generated_basemap_style(meta: dict[str, Any], tilejson_url: str) -> dict[str, Any]:
    center = meta.get("center") or [0, 0, 0]
    return _style(
        meta["name"],
        {"basemap": {"type": "vector", "url": tilejson_url, "attribution": meta.get("attribution", "")}},
        basemap_layers(meta),
        center=center[:2],
        zoom=center[2] if len(center) > 2 else meta["minzoom"],
    )


def city_style(style: dict[str, Any], tilejson_url: str) -> dict[str, Any]:
    """The city's own style with its vector sources pointed at our basemap tiles (it was written for
    the same file, wherever that was served from). Its ``glyphs`` and ``sprite`` are the city's to serve
    (or to leave out: MapLibre then draws labels locally)."""
    out = copy.deepcopy(style)
    for src in out.get("sources", {}).values():
        if isinstance(src, dict) and src.get("type") == "vector":
            src.pop("tiles", None)
            src["url"] = tilejson_url
    return out


def collection_layers(
    slug: str, geometry: str | None, tiles_url: str, colour: str, label: str | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The source and layers of one of our collections (its MVT layer is named by the slug)."""
    source = {"type": "vector", "url": tiles_url}
    return source, vector_layers(slug, slug, geometry=geometry, colour=colour, label=label, prefix=slug)


def collections_style(
    name: str,
    collections: list[tuple[str, str | None, str, str | None]],
    basemap: dict[str, Any] | None = None,
    center=None,
    zoom=None,
) -> dict[str, Any]:
    """A style for our collections [(slug, geometry type, TileJSON url, label field)], over the basemap's
    sources and layers when one is given (its background kept)."""
    sources: dict[str, Any] = {}
    layers: list[dict[str, Any]] = []
    if basemap is not None:
        sources.update(basemap.get("sources", {}))
        layers += [layer for layer in basemap.get("layers", []) if layer.get("type") != "background"]
    for i, (slug, geometry, url, label) in enumerate(collections):
        source, drawn = collection_layers(slug, geometry, url, OWN_PALETTE[i % len(OWN_PALETTE)], label)
        sources[slug] = source
        layers += drawn
    style = _style(name, sources, layers, center, zoom)
    for key in ("glyphs", "sprite", "font-faces"):  # a city style's text and icons keep working
        if basemap is not None and key in basemap:
            style[key] = basemap[key]
    return style
