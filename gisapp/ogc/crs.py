"""Coordinate reference systems the OGC API offers (Part 2: Coordinate Reference Systems by Reference).

Every collection offers CRS84, EPSG:4326, JGD2011 (EPSG:6668) and each JGD2011 plane rectangular zone
I–XIX (EPSG:6669–6687), so a city in any zone gets its data in its own zone; a collection also offers
the CRS its source declared (gis.layer.source_crs, e.g. JGD2000 zone VIII, EPSG:2450) when it is a 2D
EPSG CRS that PostGIS can transform to.

Storage is EPSG:4326 (lon/lat in PostGIS). Output and bbox axis order follow each CRS's definition,
as Part 2 requires; the order is read from the EPSG database through pyproj, never hard-coded: CRS84
is lon/lat, EPSG:4326 and JGD2011 are lat/lon, the plane rectangular zones are northing (X) / easting
(Y). PostGIS always writes x=easting, so the CRSs whose first axis is north are flipped after the
transform.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pyproj import CRS as ProjCrs
from pyproj import Transformer
from pyproj.exceptions import CRSError
from sqlalchemy import Connection

from gisapp.ogc.errors import OgcInvalid as InvalidInput
from layers import crs_source
from layers.catalog import Layer

EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/"
PLANE_ZONES = range(6669, 6688)  # JGD2011 / Japan Plane Rectangular CS I … XIX


@dataclass(frozen=True)
class Crs:
    uri: str
    srid: int
    north_first: bool  # the first axis points north: flip PostGIS's x/y
    decimals: int  # coordinate precision of the output (degrees vs metres)
    label: str
    geographic: bool = True
    # Projected CRSs: the EPSG area of use in the CRS's own units, PostGIS order (x east):
    # (xmin, ymin, xmax, ymax). A bbox must meet it.
    area: tuple[float, float, float, float] | None = None

    @property
    def short(self) -> str:
        return "CRS84" if self.uri == CRS84.uri else f"EPSG:{self.srid}"


CRS84 = Crs("http://www.opengis.net/def/crs/OGC/1.3/CRS84", 4326, False, 7, "WGS 84 (経度・緯度 / lon, lat)")


@functools.lru_cache(maxsize=256)
def from_epsg(code: int) -> Crs | None:
    """The CRS of an EPSG code as the API serves it, or None when it is not a 2D geographic or
    projected CRS (compound 3D CRSs such as EPSG:6697 are served by their horizontal part, 6668)."""
    try:
        proj = ProjCrs.from_epsg(code)
    except CRSError:
        return None
    axes = proj.axis_info
    if len(axes) != 2 or not (proj.is_geographic or proj.is_projected):
        return None
    area = None
    if proj.is_projected and proj.area_of_use is not None:
        to_crs = Transformer.from_crs("EPSG:4326", proj, always_xy=True)
        area = tuple(to_crs.transform_bounds(*proj.area_of_use.bounds, densify_pts=21))
    return Crs(
        uri=f"{EPSG_URI}{code}",
        srid=code,
        north_first=axes[0].direction.lower() == "north",
        decimals=7 if proj.is_geographic else 3,
        label=proj.name,
        geographic=proj.is_geographic,
        area=area,
    )


def _required(code: int) -> Crs:
    found = from_epsg(code)
    if found is None:  # the EPSG database ships with pyproj; a missing one is a broken install
        raise RuntimeError(f"EPSG:{code} is not in the EPSG database")
    return found


SUPPORTED: tuple[Crs, ...] = (CRS84, *(_required(c) for c in (4326, 6668, *PLANE_ZONES)))
STORAGE = SUPPORTED[1]  # stored in EPSG:4326 (PostGIS keeps it lon/lat)
# Short forms people type: "EPSG:6677", "[EPSG:6677]" (safe CURIE), "CRS84", "OGC:CRS84".
_SHORT = re.compile(r"^\[?(?:(EPSG):(\d{1,9})|(?:OGC:)?(CRS84))\]?$", re.IGNORECASE)
_URI = re.compile(r"^https?://www\.opengis\.net/def/crs/(?:EPSG/0/(\d{1,9})|OGC/1\.3/(CRS84))$")
_DECLARED = re.compile(r"^EPSG:(\d{1,9})$", re.IGNORECASE)


def uris(offered: Sequence[Crs] = SUPPORTED) -> list[str]:
    return [c.uri for c in offered]


def source_epsg(declared: str | None) -> int | None:
    """The EPSG code of a layer's declared source CRS ("EPSG:6676"), if it is one."""
    m = _DECLARED.match((declared or "").strip())
    return int(m.group(1)) if m else None


def for_collection(source_crs: Crs | None) -> tuple[Crs, ...]:
    """The CRSs one collection offers: the global ones, and its source's when it is another."""
    if source_crs is None or source_crs in SUPPORTED:
        return SUPPORTED
    return (*SUPPORTED, source_crs)


def summary(offered: Iterable[Crs] = SUPPORTED) -> str:
    """A short list for people: runs of consecutive EPSG codes written as ranges."""
    parts: list[str] = []
    runs: list[list[int]] = []
    for c in offered:
        if c.uri == CRS84.uri:
            parts.append("CRS84")
        elif runs and parts[-1] == "" and c.srid == runs[-1][-1] + 1:
            runs[-1].append(c.srid)
        else:
            runs.append([c.srid])
            parts.append("")  # filled from its run below
    it = iter(runs)
    for i, part in enumerate(parts):
        if part == "":
            run = next(it)
            parts[i] = f"EPSG:{run[0]}" if len(run) == 1 else f"EPSG:{run[0]}–{run[-1]}"
    return ", ".join(parts)


def parse(value: str | None, param: str, offered: Sequence[Crs] = SUPPORTED) -> Crs:
    """An offered CRS by URI (or short form); anything else is a 400 naming the offered ones."""
    if value is None or value == "":
        return CRS84
    value = value.strip()
    m = _URI.match(value) or _SHORT.match(value)
    found = None
    if m:
        groups = [g for g in m.groups() if g]
        name = groups[-1] if groups else ""
        if name.upper() == "CRS84":
            found = CRS84
        elif name.isdigit():
            found = next((c for c in offered if c.srid == int(name) and c.uri != CRS84.uri), None)
    if found is None or found not in offered:
        listed = summary(offered)
        raise InvalidInput(
            f"{param} の座標参照系には対応していません。対応: {listed}",
            f"Unsupported coordinate reference system in {param}. Supported: {listed}",
            parameter=param,
            supported=uris(offered),
        )
    return found


def offered(conn: Connection, layers: Sequence[Layer]) -> dict[int, tuple[Crs, ...]]:
    """Layer id -> the CRSs its collection offers (the source's only where PostGIS can transform)."""
    out: dict[int, tuple[Crs, ...]] = {}
    for layer in layers:
        code = source_epsg(layer.source_crs)
        extra = from_epsg(code) if code is not None and crs_source.postgis_knows(conn, code) else None
        out[layer.id] = for_collection(extra)
    return out
