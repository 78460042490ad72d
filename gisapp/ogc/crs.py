"""Coordinate reference systems the OGC API offers (Part 2: Coordinate Reference Systems by Reference).

Storage is EPSG:4326 (lon/lat in PostGIS). Output and bbox axis order follows each CRS's definition,
as Part 2 requires: CRS84 is lon/lat, EPSG:4326 and JGD2011 (EPSG:6668) are lat/lon, and the plane
rectangular zone IX (EPSG:6677, 神奈川) is northing (X) / easting (Y). PostGIS always writes x=easting,
so the CRSs whose first axis is north are flipped after the transform.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gisapp.ogc.errors import OgcInvalid as InvalidInput


@dataclass(frozen=True)
class Crs:
    uri: str
    srid: int
    north_first: bool  # the first axis points north: flip PostGIS's x/y
    decimals: int  # coordinate precision of the output (degrees vs metres)
    label: str


CRS84 = Crs("http://www.opengis.net/def/crs/OGC/1.3/CRS84", 4326, False, 7, "WGS 84 (経度・緯度 / lon, lat)")
SUPPORTED: tuple[Crs, ...] = (
    CRS84,
    Crs("http://www.opengis.net/def/crs/EPSG/0/4326", 4326, True, 7, "WGS 84 (緯度・経度 / lat, lon)"),
    Crs("http://www.opengis.net/def/crs/EPSG/0/6668", 6668, True, 7, "JGD2011 (緯度・経度 / lat, lon)"),
    Crs(
        "http://www.opengis.net/def/crs/EPSG/0/6677",
        6677,
        True,
        3,
        "JGD2011 平面直角座標系 第IX系 / Japan Plane Rectangular CS IX (X北, Y東 / m)",
    ),
)
STORAGE = SUPPORTED[1]  # stored in EPSG:4326 (PostGIS keeps it lon/lat)
_BY_URI = {c.uri: c for c in SUPPORTED}
# Short forms people type: "EPSG:6677", "[EPSG:6677]" (safe CURIE), "CRS84", "OGC:CRS84".
_SHORT = re.compile(r"^\[?(?:(EPSG):(\d+)|(?:OGC:)?(CRS84))\]?$", re.IGNORECASE)


def uris() -> list[str]:
    return [c.uri for c in SUPPORTED]


def parse(value: str | None, param: str) -> Crs:
    """A supported CRS by URI (or short form); anything else is a 400 naming the supported ones."""
    if value is None or value == "":
        return CRS84
    value = value.strip()
    found = _BY_URI.get(value.replace("https://", "http://", 1))
    if found is None:
        m = _SHORT.match(value)
        if m and m.group(3):
            found = CRS84
        elif m:
            found = _BY_URI.get(f"http://www.opengis.net/def/crs/EPSG/0/{int(m.group(2))}")
    if found is None:
        raise InvalidInput(
            f"{param} の座標参照系には対応していません。対応: {', '.join(uris())}",
            f"Unsupported coordinate reference system in {param}. Supported: {', '.join(uris())}",
            parameter=param,
            supported=uris(),
        )
    return found
