"""Which CRS each layer's source declared, and whether PostGIS can transform into an SRID.

The OGC API offers a collection in its source's CRS (gisapp/ogc/crs.py); these are the two facts it
needs from the database. Both read only what the public role may read (``pub.layer``,
``spatial_ref_sys``) on the public instance.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

_DECLARED = {
    True: text("SELECT id, source_crs FROM pub.layer WHERE id = ANY(:ids)"),
    False: text("SELECT id, source_crs FROM gis.layer WHERE id = ANY(:ids)"),
}
_KNOWS = text("SELECT EXISTS (SELECT 1 FROM spatial_ref_sys WHERE srid = :srid)")
_KNOWN: dict[int, bool] = {}  # spatial_ref_sys changes only with PostGIS itself


def declared_crs(conn: Connection, layer_ids: Sequence[int], public: bool) -> dict[int, str | None]:
    """Layer id -> the CRS its source declared, as recorded by the import (e.g. "EPSG:6676")."""
    if not layer_ids:
        return {}
    return {row.id: row.source_crs for row in conn.execute(_DECLARED[public], {"ids": list(layer_ids)})}


def postgis_knows(conn: Connection, srid: int) -> bool:
    if srid not in _KNOWN:
        _KNOWN[srid] = bool(conn.execute(_KNOWS, {"srid": srid}).scalar_one())
    return _KNOWN[srid]
