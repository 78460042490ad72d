"""Paper sizes and the map frame: where the ground falls on the page, at a true scale.

The ground is projected to the city's plane-rectangular zone (平面直角座標系, e.g. EPSG:6677 for
神奈川 zone IX) with pyproj, so one metre on the ground is the same length on paper everywhere on the
page and the scale bar is true (the zone's scale error is below 1/10,000 inside it). The page's up is
grid north; true north differs by the meridian convergence, which the north arrow shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
from pyproj import Transformer

MM = 72 / 25.4  # points per millimetre
# ISO 216, portrait (width, height) in millimetres.
PAPERS: dict[str, tuple[int, int]] = {"A3": (297, 420), "A4": (210, 297)}
ORIENTATIONS = ("landscape", "portrait")


def page_size(paper: str, orientation: str) -> tuple[float, float]:
    """(width, height) in points."""
    w, h = PAPERS[paper]
    if orientation == "landscape":
        w, h = h, w
    return w * MM, h * MM


@cache
def _to_plane(srid: int) -> Transformer:
    return Transformer.from_crs("EPSG:4326", f"EPSG:{srid}", always_xy=True)


@cache
def _to_lonlat(srid: int) -> Transformer:
    return Transformer.from_crs(f"EPSG:{srid}", "EPSG:4326", always_xy=True)


def plane_bounds(srid: int, bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """A lon/lat box as the box that holds it in the plane zone (edges densified: they curve)."""
    return _to_plane(srid).transform_bounds(*bbox, densify_pts=21)


def lonlat_bounds(srid: int, bounds: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    return _to_lonlat(srid).transform_bounds(*bounds, densify_pts=21)


def to_plane(srid: int, lon: float, lat: float) -> tuple[float, float]:
    return _to_plane(srid).transform(lon, lat)


@dataclass(frozen=True)
class Frame:
    """The map rectangle on the page (points) and the ground it shows (plane metres)."""

    x: float
    y: float
    width: float
    height: float
    minx: float
    miny: float
    maxx: float
    maxy: float
    srid: int

    @property
    def points_per_metre(self) -> float:
        return self.width / (self.maxx - self.minx)

    @property
    def scale(self) -> float:
        """The scale's denominator (1:N): ground metres per metre of paper."""
        return (self.maxx - self.minx) / (self.width / MM / 1000)

    def metres_per_point(self) -> float:
        return 1 / self.points_per_metre

    def to_page(self, coords: np.ndarray) -> np.ndarray:
        """Plane coordinates (N×2) to page points."""
        k = self.points_per_metre
        out = np.empty_like(coords, dtype=float)
        out[:, 0] = self.x + (coords[:, 0] - self.minx) * k
        out[:, 1] = self.y + (coords[:, 1] - self.miny) * k
        return out

    def lonlat_bounds(self) -> tuple[float, float, float, float]:
        return lonlat_bounds(self.srid, (self.minx, self.miny, self.maxx, self.maxy))

    def true_north_deg(self) -> float:
        """How far true north is turned from the page's up at the centre, clockwise in degrees."""
        lon, lat = _to_lonlat(self.srid).transform((self.minx + self.maxx) / 2, (self.miny + self.maxy) / 2)
        x0, y0 = to_plane(self.srid, lon, lat)
        x1, y1 = to_plane(self.srid, lon, lat + 0.01)
        return math.degrees(math.atan2(x1 - x0, y1 - y0))


def fit(
    srid: int, bounds: tuple[float, float, float, float], x: float, y: float, width: float, height: float
) -> Frame:
    """The frame at (x, y, width, height) on the page showing ``bounds`` (plane metres) whole and
    centred: the shorter side of the ground is widened to the frame's proportions."""
    minx, miny, maxx, maxy = bounds
    gw, gh = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    k = min(width / gw, height / gh)  # points per metre
    half_w, half_h = width / k / 2, height / k / 2
    return Frame(x, y, width, height, cx - half_w, cy - half_h, cx + half_w, cy + half_h, srid)


def nice_length(max_metres: float) -> float:
    """The longest 1, 2 or 5 × 10^n metres not over ``max_metres`` (a scale bar's length)."""
    if max_metres <= 0:
        return 0.0
    base = 10 ** math.floor(math.log10(max_metres))
    for step in (5, 2, 1):
        if step * base <= max_metres:
            return step * base
    return base
