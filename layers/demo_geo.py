"""Geometry of the 伊勢原市 demo (pure and deterministic): road grid, sewer pipes, hazard areas, rivers.

Shapes with a size (hazard areas, river bands) are drawn in metres in 平面直角座標系 IX (EPSG:6677) and
transformed with pyproj. Every coordinate is snapped to 1e-7 degree (about 1 cm) so that a run writes
byte-identical geometries to the last one and the stored shape is the one we checked for validity.
All of it is fictitious: the places are only roughly where such things are in Isehara.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from pyproj import Transformer
from shapely import affinity
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

Box = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat
XY = tuple[float, float]

BBOX: Box = (139.25, 35.35, 139.35, 35.43)  # nothing leaves this
BUILT_UP: Box = (139.29, 35.38, 139.33, 35.41)  # 市街地 around 伊勢原駅
HILLS: Box = (139.252, 35.392, 139.282, 35.428)  # 大山・日向 の山麓 (western hills)
LOWLAND: Box = (139.305, 35.378, 139.348, 35.422)  # 鈴川・渋田川 の低地 (eastern lowland)

SEED = 20261121
PRECISION = 1e-7
ROAD_CLASSES = ("1級", "2級", "その他")  # 種別
_ROUTE_PREFIX = {"1級": "1", "2級": "2", "その他": "3"}
_WIDTH_M = {"1級": (9.0, 16.0), "2級": (6.0, 9.0), "その他": (3.0, 6.0)}  # 幅員


def rng_for(seed: int, stream: str) -> random.Random:
    """One random stream per layer: changing how one layer is drawn leaves the others as they were.
    (A str seed is hashed with SHA-512, so it does not depend on PYTHONHASHSEED.)"""
    return random.Random(f"{seed}/{stream}")


# --- coordinates --------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _to_plane() -> Transformer:
    return Transformer.from_crs("EPSG:4326", "EPSG:6677", always_xy=True)


@lru_cache(maxsize=1)
def _to_lonlat() -> Transformer:
    return Transformer.from_crs("EPSG:6677", "EPSG:4326", always_xy=True)


def plane_xy(lon: float, lat: float) -> XY:
    return _to_plane().transform(lon, lat)


def to_lonlat(geom: BaseGeometry) -> BaseGeometry:
    """EPSG:6677 metres -> EPSG:4326, snapped to the stored precision (snapping keeps it valid)."""

    def tf(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(_to_lonlat().transform(xy[:, 0], xy[:, 1]))

    return shapely.set_precision(shapely.transform(geom, tf), PRECISION)


def rnd(v: float) -> float:
    return round(v, 7)


def wkt(geom: BaseGeometry) -> str:
    return shapely.to_wkt(geom, rounding_precision=7, trim=True)


def as_multipolygon(geom: BaseGeometry) -> MultiPolygon:
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    polys = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon) and not g.is_empty]
    return MultiPolygon(polys)


def uniform_in(rng: random.Random, b: Box, margin: float = 0.0) -> XY:
    return (rnd(rng.uniform(b[0] + margin, b[2] - margin)), rnd(rng.uniform(b[1] + margin, b[3] - margin)))


def uniform_within(rng: random.Random, geom: BaseGeometry) -> XY:
    """A point inside geom, by rejection from its bounds (the demo's polygons fill their bounds well)."""
    x0, y0, x1, y1 = geom.bounds
    while True:
        x, y = rnd(rng.uniform(x0, x1)), rnd(rng.uniform(y0, y1))
        if shapely.contains_xy(geom, x, y):
            return x, y


def point_on(rng: random.Random, a: XY, b: XY) -> XY:
    t = rng.random()
    return rnd(a[0] + t * (b[0] - a[0])), rnd(a[1] + t * (b[1] - a[1]))


# --- roads: a jittered grid plus diagonals, every crossing at a shared node ----------------------
@dataclass(frozen=True)
class Road:
    route_no: str  # 路線番号
    route_name: str  # 路線名
    road_class: str  # 種別
    width_m: float  # 幅員
    a: XY
    b: XY

    def params(self) -> dict[str, object]:
        return {
            "route_no": self.route_no,
            "route_name": self.route_name,
            "road_class": self.road_class,
            "width_m": self.width_m,
            "wkt": wkt(MultiLineString([[self.a, self.b]])),
        }


def _grid_size(target: int) -> int:
    """Largest n whose n x n grid has at most `target` edges (2n(n-1)); diagonals make up the rest."""
    n = 2
    while 2 * (n + 1) * n <= target:
        n += 1
    return n


def _grid_nodes(rng: random.Random, n: int, b: Box) -> list[list[XY]]:
    # Jitter under a quarter of the spacing keeps every cell convex, so a diagonal crosses no edge;
    # nodes on the rim move only along the rim, so the grid keeps to its box.
    margin = 0.02 * (b[2] - b[0])
    sx, sy = (b[2] - b[0] - 2 * margin) / (n - 1), (b[3] - b[1] - 2 * margin) / (n - 1)

    def jitter(k: int, step: float) -> float:
        return rng.uniform(-0.15, 0.15) * step if 0 < k < n - 1 else 0.0

    return [
        [
            (rnd(b[0] + margin + j * sx + jitter(j, sx)), rnd(b[1] + margin + i * sy + jitter(i, sy)))
            for j in range(n)
        ]
        for i in range(n)
    ]


def _line_class(i: int) -> str:
    return "1級" if i % 4 == 0 else "2級" if i % 2 == 0 else "その他"


def grid_edges(nodes: list[list[XY]]) -> list[tuple[XY, XY, str]]:
    """East-west streets along rows, north-south along columns, with the road class of their line."""
    n = len(nodes)
    edges = []
    for i in range(n):
        for j in range(n - 1):
            edges.append((nodes[i][j], nodes[i][j + 1], _line_class(i)))
            edges.append((nodes[j][i], nodes[j + 1][i], _line_class(i)))
    return edges


def road_grid(rng: random.Random, scale: int) -> tuple[list[list[XY]], list[Road]]:
    target = 120 * scale
    n = _grid_size(target)
    nodes = _grid_nodes(rng, n, BUILT_UP)
    edges = grid_edges(nodes)
    cells = rng.sample([(i, j) for i in range(n - 1) for j in range(n - 1)], target - len(edges))
    for i, j in cells:  # one diagonal per cell at most: diagonals never cross each other
        a, b = (
            (nodes[i][j], nodes[i + 1][j + 1]) if rng.random() < 0.5 else (nodes[i][j + 1], nodes[i + 1][j])
        )
        edges.append((a, b, "2級"))
    seq = dict.fromkeys(ROAD_CLASSES, 0)
    roads = []
    for k, (a, b, cls) in enumerate(edges, start=1):
        seq[cls] += 1
        lo, hi = _WIDTH_M[cls]
        no = f"{_ROUTE_PREFIX[cls]}-{seq[cls]:03d}"
        roads.append(Road(no, f"市道デモ{k}号線（架空）", cls, round(rng.uniform(lo, hi), 1), a, b))
    return nodes, roads


def roads(rng: random.Random, scale: int) -> list[Road]:
    return road_grid(rng, scale)[1]


# --- sewer pipes: manhole-to-manhole spans under the grid streets --------------------------------
def sewer_spans(rng: random.Random, nodes: list[list[XY]], count: int) -> list[tuple[XY, XY]]:
    edges = grid_edges(nodes)
    spans: list[tuple[XY, XY]] = []
    for a, b, _ in rng.sample(edges, min(len(edges), math.ceil(count / 3))):
        cuts = [(rnd(a[0] + t * (b[0] - a[0])), rnd(a[1] + t * (b[1] - a[1]))) for t in (0, 1 / 3, 2 / 3, 1)]
        spans.extend(zip(cuts, cuts[1:], strict=False))
    return spans[:count]


# --- hazard areas ------------------------------------------------------------------------------
@dataclass(frozen=True)
class HazardArea:
    hazard_type: str  # landslide_warning / landslide_special / flood
    name: str
    depth_rank: str | None
    geom: MultiPolygon

    def params(self) -> dict[str, object]:
        return {
            "hazard_type": self.hazard_type,
            "name": self.name,
            "depth_rank": self.depth_rank,
            "wkt": wkt(self.geom),
        }


def _blob(rng: random.Random, cx: float, cy: float, rx: float, ry: float) -> Polygon:
    """An irregular slope-shaped polygon, star-shaped around (cx, cy) and hence always simple."""
    m = rng.randint(10, 14)
    step = 2 * math.pi / m
    pts = []
    for k in range(m):
        a = k * step + rng.uniform(-0.3, 0.3) * step
        r = rng.uniform(0.7, 1.0)
        pts.append((cx + r * rx * math.cos(a), cy + r * ry * math.sin(a)))
    return affinity.rotate(Polygon(pts), rng.uniform(0, 180), origin=(cx, cy))


_SLOPE_PLACES = ("大山", "子易", "日向", "三ノ宮", "善波")


def landslide_areas(rng: random.Random) -> list[HazardArea]:
    """土砂災害警戒区域 on a 3 x 5 pattern of the hills; about 60 % hold a 特別警戒区域 (a shrunken
    copy about the same centre, which stays inside because the shape is star-shaped)."""
    (x0, y0), (x1, y1) = plane_xy(HILLS[0], HILLS[1]), plane_xy(HILLS[2], HILLS[3])
    cols, rows = 3, 5
    w, h = (x1 - x0) / cols, (y1 - y0) / rows
    areas = []
    for r in range(rows):
        for c in range(cols):
            cx = x0 + (c + 0.5 + rng.uniform(-0.12, 0.12)) * w
            cy = y0 + (r + 0.5 + rng.uniform(-0.12, 0.12)) * h
            warning = _blob(rng, cx, cy, rng.uniform(200, 340), rng.uniform(120, 220))
            name = f"{_SLOPE_PLACES[r]}デモ沢{c + 1}（架空）"
            areas.append(HazardArea("landslide_warning", name, None, as_multipolygon(to_lonlat(warning))))
            if rng.random() < 0.6:
                k = rng.uniform(0.35, 0.6)
                special = affinity.scale(warning, k, k, origin=(cx, cy))
                areas.append(HazardArea("landslide_special", name, None, as_multipolygon(to_lonlat(special))))
    return areas


# Two fictitious rivers placed like 鈴川 and 渋田川: north -> south through the eastern lowland.
RIVERS: tuple[tuple[str, XY, XY], ...] = (
    ("鈴川（架空）", (139.318, 35.424), (139.329, 35.374)),
    ("渋田川（架空）", (139.336, 35.421), (139.344, 35.377)),
)
# 浸水深ランク: bands by distance from the channel (metres), deepest nearest.
DEPTH_BANDS: tuple[tuple[str, float, float], ...] = (
    ("3.0〜5.0m", 0, 100),
    ("0.5〜3.0m", 100, 300),
    ("0.5m未満", 300, 480),
)


def river_line(source: XY, mouth: XY, phase: float) -> LineString:
    """A gently meandering centre line in EPSG:6677 metres (fixed, so the gauges can sit on it)."""
    (xa, ya), (xb, yb) = plane_xy(*source), plane_xy(*mouth)
    length = math.hypot(xb - xa, yb - ya)
    nx, ny = -(yb - ya) / length, (xb - xa) / length
    pts = []
    for k in range(25):
        t = k / 24
        off = 90 * math.sin(2 * math.pi * 2.5 * t + phase)
        pts.append((xa + t * (xb - xa) + off * nx, ya + t * (yb - ya) + off * ny))
    return LineString(pts)


def river_point(index: int, t: float) -> XY:
    """A point on river `index` at fraction t of its length, in lon/lat (for water-level gauges)."""
    name, source, mouth = RIVERS[index % len(RIVERS)]
    p = river_line(source, mouth, phase=index % len(RIVERS)).interpolate(t, normalized=True)
    lon, lat = _to_lonlat().transform(p.x, p.y)
    return rnd(lon), rnd(lat)


def flood_areas() -> list[HazardArea]:
    """洪水浸水想定区域 as depth bands along the two rivers, clipped to the lowland; the second
    river's bands give way to the first's so no place has two depths."""
    clip = box(*plane_xy(LOWLAND[0], LOWLAND[1]), *plane_xy(LOWLAND[2], LOWLAND[3]))
    taken: BaseGeometry = Polygon()
    areas = []
    for i, (name, source, mouth) in enumerate(RIVERS):
        line = river_line(source, mouth, phase=i)
        for rank, inner, outer in DEPTH_BANDS:
            band = line.buffer(outer, quad_segs=6)
            if inner:
                band = band.difference(line.buffer(inner, quad_segs=6))
            band = band.intersection(clip).difference(taken)
            areas.append(HazardArea("flood", name, rank, as_multipolygon(to_lonlat(band))))
        taken = taken.union(line.buffer(DEPTH_BANDS[-1][2], quad_segs=6))
    return areas


def contains(areas: list[HazardArea], lon: float, lat: float, tolerance: float = 1e-5) -> bool:
    """Inside (or within about a metre of) any of the areas: a point on the edge counts as inside."""
    p = Point(lon, lat)
    return any(a.geom.distance(p) <= tolerance for a in areas)
