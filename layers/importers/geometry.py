"""Geometry checks on a whole source at once: reproject to EPSG:4326, drop heights, refuse what is not
in Japan, repair invalid geometries with make_valid or refuse them when the repair would change what
they are (a polygon turning into lines)."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from pyproj.exceptions import CRSError
from shapely.validation import explain_validity

from common.geo import JAPAN
from layers.importers.errors import ImportRejected, Problem
from layers.importers.read import Source, unknown_crs

TARGET_CRS = "EPSG:4326"


@dataclass
class Prepared:
    frame: gpd.GeoDataFrame  # EPSG:4326, 2D, valid; index = 1-based feature number
    repaired: list[Problem] = field(default_factory=list)
    rejected: list[Problem] = field(default_factory=list)
    notes: list[dict] = field(default_factory=list)


def _inside(bounds: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    minx, miny, maxx, maxy = box
    with np.errstate(invalid="ignore"):
        return (
            np.isfinite(bounds).all(axis=1)
            & (bounds[:, 0] >= minx)
            & (bounds[:, 1] >= miny)
            & (bounds[:, 2] <= maxx)
            & (bounds[:, 3] <= maxy)
        )


def _make_valid(geom: shapely.Geometry, dim: int) -> list[shapely.Geometry]:
    """make_valid, keeping only the parts of the original dimension."""
    # Polygons: the "structure" method (GEOS >= 3.10) unions overlapping parts instead of cutting
    # them out, which suits hazard zones, and is faster on large multipolygons.
    fixed = (
        shapely.make_valid(geom, method="structure", keep_collapsed=False)
        if dim == 2
        else shapely.make_valid(geom)
    )
    return [p for p in shapely.get_parts(fixed) if shapely.get_dimensions(p) == dim and not p.is_empty]


_MULTI = {2: shapely.MultiPolygon, 1: shapely.MultiLineString, 0: shapely.MultiPoint}


def _repair(geom: shapely.Geometry) -> shapely.Geometry | None:
    """A valid geometry of the same dimension, or None. A multi-geometry with thousands of parts (a
    city's flood zones) has only its invalid parts repaired, when that is enough: it is far faster."""
    if geom.geom_type == "GeometryCollection":  # mixed dimensions: keep whatever make_valid gives
        fixed = shapely.make_valid(geom)
        return None if fixed.is_empty else fixed
    dim = int(shapely.get_dimensions(geom))
    parts = shapely.get_parts(geom)
    if len(parts) > 1:
        ok = shapely.is_valid(parts)
        kept = list(parts[ok]) + [q for p in parts[~ok] for q in _make_valid(p, dim)]
        candidate = _MULTI[dim](kept) if kept else None
        if candidate is not None and candidate.is_valid:
            return candidate
    kept = _make_valid(geom, dim)
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else _MULTI[dim](kept)


def crs_implausible(declared: str, projected: bool) -> ImportRejected:
    if projected:
        return ImportRejected(
            f"座標値が度のように見えます（すべて経度 ±180・緯度 ±90 の範囲内）が、ファイルは投影座標系 {declared} を"
            "宣言しています。このままでは座標系の原点付近に置かれてしまうため、取り込みませんでした。"
            "経度・緯度のデータなら座標系を EPSG:6668（JGD2011）などの地理座標系にしてください。",
            f"The coordinate values look like degrees (all within ±180 longitude / ±90 latitude), but the file "
            f"declares the projected CRS {declared}; stored as such they would land near the zone's origin, so "
            "the file was not imported. If the data is longitude/latitude, declare a geographic CRS such as "
            "EPSG:6668 (JGD2011).",
            code="crs_mismatch",
        )
    return ImportRejected(
        f"座標値が経度 ±180・緯度 ±90 の範囲を超えています（メートルなどの投影座標のように見えます）が、"
        f"ファイルは地理座標系 {declared}（度）を宣言しています。平面直角座標なら経度・緯度に変換するか、"
        "その系の EPSG コード（例: 第IX系 EPSG:6677）を宣言してください。",
        f"The coordinate values are outside ±180 longitude / ±90 latitude (they look like projected metres), "
        f"but the file declares the geographic CRS {declared} (degrees). If they are plane-rectangular "
        "coordinates, convert them to longitude/latitude or declare that zone's EPSG code (e.g. zone IX: EPSG:6677).",
        code="crs_mismatch",
    )


def check_crs_plausible(frame: gpd.GeoDataFrame, declared: str) -> None:
    """Refuse a file whose values contradict its declared CRS: degrees in a projected CRS (a GeoJSON saying
    EPSG:6677 but holding lon/lat would be stored near the zone IX origin), or every feature beyond ±180/±90
    in a geographic one, in either axis order (metres declared as degrees)."""
    geoms = frame.geometry.to_numpy()
    present = ~(frame.geometry.isna().to_numpy() | shapely.is_empty(geoms))
    if not present.any():
        return
    bounds = shapely.bounds(geoms[present])
    xs, ys = np.abs(bounds[:, [0, 2]]), np.abs(bounds[:, [1, 3]])
    with np.errstate(invalid="ignore"):
        degree_like = (xs <= 180).all(axis=1) & (ys <= 90).all(axis=1)
        swapped_degrees = (xs <= 90).all(axis=1) & (ys <= 180).all(axis=1)  # latitude first: said per row
    crs = frame.crs
    if crs.is_projected and degree_like.all():
        raise crs_implausible(declared, projected=True)
    if crs.is_geographic and not (degree_like | swapped_degrees).any():
        raise crs_implausible(declared, projected=False)


def prepare(source: Source) -> Prepared:
    frame = source.frame
    out = Prepared(frame)
    if len(frame) == 0:
        return out
    empty = frame.geometry.isna().to_numpy() | shapely.is_empty(frame.geometry.to_numpy())
    for n in frame.index[empty]:
        out.rejected.append(Problem(int(n), "ジオメトリがありません", "no geometry"))
    frame = frame[~empty]

    if frame.crs is not None:
        check_crs_plausible(frame, source.crs)
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        try:
            frame = frame.to_crs(TARGET_CRS)
        except CRSError as e:
            raise unknown_crs(source.crs) from e
    elif frame.crs is None:
        raise unknown_crs("none declared / 記載なし")

    geoms = frame.geometry.to_numpy()
    has_z = shapely.has_z(geoms)
    if has_z.any():
        # Heights (PLATEAU, 3D CAD) mean nothing to a 2D layer: dropped, and said so.
        geoms = shapely.force_2d(geoms)
        out.notes.append({
            "ja": f"3次元座標の高さ（Z）を {int(has_z.sum())} 件の地物で取り除きました。",
            "en": f"Dropped the height (Z) of 3D coordinates on {int(has_z.sum())} feature(s).",
        })  # fmt: skip

    bounds = shapely.bounds(geoms)
    inside = _inside(bounds, JAPAN)
    swapped = _inside(bounds[:, [1, 0, 3, 2]], JAPAN)
    for n, sw in zip(frame.index[~inside], swapped[~inside], strict=True):
        if sw:
            out.rejected.append(
                Problem(
                    int(n),
                    "日本の範囲外です（緯度と経度が入れ替わっている可能性があります）",
                    "outside Japan: latitude and longitude look swapped",
                )
            )
        else:
            out.rejected.append(
                Problem(
                    int(n),
                    "日本の範囲外です（座標参照系の誤りの可能性があります）",
                    "outside Japan (wrong coordinate reference system?)",
                )
            )

    valid = shapely.is_valid(geoms)
    for i in np.flatnonzero(~valid & inside):
        n, why = int(frame.index[i]), explain_validity(geoms[i])
        fixed = _repair(geoms[i])
        if fixed is None or not fixed.is_valid:
            out.rejected.append(
                Problem(
                    n,
                    f"不正なジオメトリで、修復すると次元が変わります（{why}）",
                    f"invalid geometry whose repair changes its dimension ({why})",
                )
            )
            inside[i] = False
        else:
            geoms[i] = fixed
            out.repaired.append(
                Problem(n, f"不正なジオメトリを修復しました（{why}）", f"repaired invalid geometry ({why})")
            )
    frame = frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs=TARGET_CRS))
    out.frame = frame[inside]
    return out
