"""`t.geom` against an axis-aligned lon/lat rectangle (a bbox, or a CQL2 polygon that is one).

A feature whose bounding box lies inside the rectangle intersects it; PostGIS answers that from the
box every stored geometry carries (``@``), without GEOS. Only the features near the rectangle's edge,
or larger than it, need the exact ``ST_Intersects``. On a map view that is most features: a 2 × 1 km
view of 561 parcels counted in 0.60 ms instead of 1.29 ms.

The stored boxes are float32, rounded outwards, so the inner test uses the rectangle shrunk to float32
values inside it (rounded inwards): a float32 box inside that box is inside the rectangle itself. A
feature within a float32 step (about a metre at lon 139) of an edge goes to the exact test.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import shapely

Box = tuple[float, float, float, float]


def _inwards(value: float, up: bool) -> float:
    f = np.float32(value)
    if up and f < value:
        f = np.nextafter(f, np.float32(math.inf))
    elif not up and f > value:
        f = np.nextafter(f, np.float32(-math.inf))
    return float(f)


def inner_box(x1: float, y1: float, x2: float, y2: float) -> Box | None:
    """The largest float32 box inside [x1, x2] × [y1, y2], or None when none is left."""
    box = (_inwards(x1, True), _inwards(y1, True), _inwards(x2, False), _inwards(y2, False))
    return box if box[0] < box[2] and box[1] < box[3] else None


def of_polygon(geom: shapely.Geometry) -> Box | None:
    """The inner box of a geometry that is an axis-aligned rectangle, else None."""
    if shapely.get_type_id(geom) != 3 or len(geom.interiors) > 0:  # a Polygon without holes
        return None
    if not geom.equals(geom.envelope):  # a rectangle is its own envelope (extra collinear points too)
        return None
    return inner_box(*geom.bounds)


def intersects_sql(rect_sql: str, inner: Box | None, bind: Callable[[float], str]) -> str:
    """``t.geom`` intersects the rectangle ``rect_sql`` (SRID 4326): ``&&`` for the GiST index, the
    stored box for the features inside ``inner``, ``ST_Intersects`` for the rest. Every value is bound."""
    exact = f"ST_Intersects(t.geom, {rect_sql})"
    if inner is None:
        return f"(t.geom && {rect_sql} AND {exact})"
    box = ", ".join(bind(v) for v in inner)
    return f"(t.geom && {rect_sql} AND (t.geom @ ST_MakeEnvelope({box}, 4326) OR {exact}))"
