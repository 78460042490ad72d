"""The city's basemap file on a printed map: its vector tiles (layers/basemap_file.py) decoded with
``mapbox-vector-tile`` at a zoom that matches the paper's scale, in the plane zone, under everything
we draw from our own layers.

A feature cut by tile edges is put back together (pieces of one feature, by its id or else its
layer and properties, are merged), so areas print without seams; each piece is first clipped to its
own tile (the tiles' buffers overlap). Bounded: at most ``MAX_TILES`` tiles (a lower zoom for a wide
sheet) and ``limit`` features. Names become labels: at the point, inside the area, along the line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import mapbox_vector_tile
import numpy as np
import shapely
from pyproj import Transformer

from layers.basemap_file import BasemapFile, unzipped
from layers.map_style import label_field
from layers.printmap.basemap import Shape

MAX_TILES = 64
PAPER_MM_PER_PIXEL = 0.25  # a 256-pixel tile's pixel as printed: fine enough, not needlessly deep
WEB_MERCATOR_HALF = 20037508.342789244
# The kinds drawn (layers/printmap/sheet.py BASE_STYLE); points are only labelled.
KINDS = {"Polygon": "file:area", "LineString": "file:line", "Point": "file:point"}


def zoom_for(basemap: BasemapFile, scale: float, lonlat: tuple[float, float, float, float]) -> int:
    """The deepest zoom whose pixels are about PAPER_MM_PER_PIXEL on paper, within the file's zooms
    and MAX_TILES for this ground."""
    lat = math.radians((lonlat[1] + lonlat[3]) / 2)
    ground_per_pixel = scale * PAPER_MM_PER_PIXEL / 1000
    z = math.floor(math.log2(156543.034 * math.cos(lat) / ground_per_pixel))
    z = max(basemap.metadata["minzoom"], min(basemap.metadata["maxzoom"], z))
    while z > basemap.metadata["minzoom"] and _count(tile_range(z, lonlat)) > MAX_TILES:
        z -= 1
    return z


def tile_range(z: int, lonlat: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    x0, y1 = _tile(z, lonlat[0], lonlat[1])
    x1, y0 = _tile(z, lonlat[2], lonlat[3])
    return x0, y0, x1, y1


def _count(r: tuple[int, int, int, int]) -> int:
    return (r[2] - r[0] + 1) * (r[3] - r[1] + 1)


def _tile(z: int, lon: float, lat: float) -> tuple[int, int]:
    n = 2**z
    lat = max(-85.0511, min(85.0511, lat))
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def _pieces(basemap: BasemapFile, z: int, lonlat) -> Iterator[tuple[str, object, dict, shapely.Geometry]]:
    """(layer, feature key, properties, geometry in EPSG:3857) of every feature piece in the tiles."""
    x0, y0, x1, y1 = tile_range(z, lonlat)
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            data = basemap.tile(z, x, y)
            if not data:
                continue
            layers = mapbox_vector_tile.decode(unzipped(data), default_options={"y_coord_down": True})
            for name, layer in layers.items():
                extent = layer.get("extent", 4096)
                for feature in layer["features"]:
                    g = shapely.geometry.shape(feature["geometry"])
                    g = shapely.clip_by_rect(g, 0, 0, extent, extent)  # the tile, not its buffer
                    if g.is_empty:
                        continue
                    g = shapely.transform(g, _to_mercator(extent, z, x, y))
                    props = feature.get("properties") or {}
                    key = feature.get("id") or json.dumps(props, sort_keys=True, ensure_ascii=False)
                    yield name, key, props, g


def _to_mercator(extent: int, z: int, x: int, y: int):
    """Tile grid (y down) -> EPSG:3857 metres, for shapely.transform. Computed from the world grid's
    whole numbers, so the edge two tiles share has the same coordinates in both (the pieces then merge
    without a sliver)."""
    metres = 2 * WEB_MERCATOR_HALF / (extent * 2**z)

    def move(c: np.ndarray) -> np.ndarray:
        gx, gy = x * extent + c[:, 0], y * extent + c[:, 1]
        return np.column_stack((-WEB_MERCATOR_HALF + gx * metres, WEB_MERCATOR_HALF - gy * metres))

    return move


def read_file(
    basemap: BasemapFile,
    *,
    srid: int,
    lonlat: tuple[float, float, float, float],
    scale: float,
    tolerance: float,
    limit: int,
) -> tuple[list[Shape], bool]:
    """The file's shapes inside ``lonlat`` in the plane zone ``srid`` (simplified to ``tolerance``
    metres), areas first; and whether ``limit`` cut them."""
    z = zoom_for(basemap, scale, lonlat)
    grouped: dict[tuple[str, object], tuple[dict, list[shapely.Geometry]]] = {}
    for name, key, props, g in _pieces(basemap, z, lonlat):
        grouped.setdefault((name, key), (props, []))[1].append(g)
    to_plane = Transformer.from_crs("EPSG:3857", f"EPSG:{srid}", always_xy=True)
    labels = {vl["id"]: label_field(vl["fields"]) for vl in basemap.metadata["vector_layers"]}
    shapes: list[Shape] = []
    cut = False
    for (layer, _key), (props, pieces) in grouped.items():
        if len(shapes) >= limit:
            cut = True
            break
        merged = shapely.union_all(pieces) if len(pieces) > 1 else pieces[0]
        merged = shapely.transform(merged, lambda c: np.column_stack(to_plane.transform(c[:, 0], c[:, 1])))
        for part in _by_type(merged):
            kind = KINDS[part.geom_type.removeprefix("Multi")]
            if kind != "file:point":
                part = shapely.simplify(part, tolerance)
                if part.is_empty:
                    continue
            field = labels.get(layer) or label_field(props)
            label = str(props.get(field, "")) if field else ""
            shapes.append(Shape(kind, label, part, _label_at(part) if label else None, False))
    order = {"file:area": 0, "file:line": 1, "file:point": 2}
    shapes.sort(key=lambda s: order[s.kind])
    return shapes, cut


def _by_type(g: shapely.Geometry) -> list[shapely.Geometry]:
    """A geometry collection (pieces of different types) split into one geometry per type."""
    if g.geom_type != "GeometryCollection":
        return [g]
    parts = [p for p in g.geoms if not p.is_empty]
    out = []
    for t in ("Polygon", "LineString", "Point"):
        same = [p for p in parts if p.geom_type.removeprefix("Multi") == t]
        if same:
            out.append(shapely.union_all(same))
    return out


def _label_at(g: shapely.Geometry) -> shapely.Point:
    if g.geom_type in ("LineString", "MultiLineString"):
        longest = max(getattr(g, "geoms", [g]), key=lambda p: p.length)
        return longest.interpolate(0.5, normalized=True)
    if g.geom_type in ("Point", "MultiPoint"):
        return shapely.get_geometry(g, 0) if g.geom_type == "MultiPoint" else g
    return g.representative_point()
