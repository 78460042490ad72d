"""Whether PostGIS can transform into an SRID: the OGC API offers a collection in the CRS its source
declared (``gis.layer.source_crs``, gisapp/ogc/crs.py) only when it can. ``spatial_ref_sys`` is
readable by the public role too.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

_KNOWS = text("SELECT EXISTS (SELECT 1 FROM spatial_ref_sys WHERE srid = :srid)")
_KNOWN: dict[int, bool] = {}  # spatial_ref_sys changes only with PostGIS itself


def postgis_knows(conn: Connection, srid: int) -> bool:
    if srid not in _KNOWN:
        _KNOWN[srid] = bool(conn.execute(_KNOWS, {"srid": srid}).scalar_one())
    return _KNOWN[srid]
