"""Open-data downloads of a published layer: GeoJSON, GeoPackage, and (shelters) the 自治体標準 CSV.

The GeoPackage keeps every source attribute as a column of its own type:
- our feature id is the table's primary key under a name no attribute uses (``gpkg_fid`` unless taken),
  so a source column called ``FID``/``fid`` stays an ordinary column (GDAL would otherwise take it as
  the key, and a first row with fid 0 lost it);
- a column whose values are all ISO 8601 dates (``2024-05-01``) is a GPKG ``DATE``, all date-times a
  ``DATETIME`` (offsets kept); integers stay ``INTEGER``, booleans ``BOOLEAN``, other numbers ``REAL``;
  nested objects and arrays are written as their JSON text; anything mixed is ``TEXT``.
Written with pyogrio's low-level writer, which takes numpy ``datetime64[D]`` as a GDAL Date (the
GeoDataFrame writer has no date type without pyarrow).
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection

from layers import catalog
from layers.errors import LayerInvalid
from layers.importers import shelter_export

MAX_FEATURES = 5_000_000
GPKG = "application/geopackage+sqlite3"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$")


@dataclass(frozen=True)
class Export:
    data: bytes | dict  # a dict is a GeoJSON FeatureCollection, for the web layer to serialise
    media_type: str
    extension: str


def export_layer(
    conn: Connection,
    layer: catalog.Layer,
    fmt: str,
    *,
    encoding: str = "utf-8",
    city: shelter_export.City | None = None,
) -> Export:
    """A published layer as ``fmt`` (geojson | gpkg | csv); read through the public views."""
    if fmt == "csv":
        return _shelters_csv(conn, layer, encoding, city)
    fc = catalog.features_geojson(conn, layer, public=True, limit=MAX_FEATURES)
    if fmt == "geojson":
        return Export(fc, "application/geo+json", "geojson")
    return Export(geopackage(fc, layer.slug), GPKG, "gpkg")


def _shelters_csv(
    conn: Connection, layer: catalog.Layer, encoding: str, city: shelter_export.City | None
) -> Export:
    if layer.kind != "shelter":
        raise LayerInvalid(
            "CSV は避難所レイヤーのみ（自治体標準の様式）です。GeoJSON か GeoPackage をお使いください。",
            "CSV is offered for shelter layers (municipal standard layout); use GeoJSON or GeoPackage.",
            field="format",
        )
    try:
        data = shelter_export.encode(
            shelter_export.shelters_csv(conn, layer.id, public=True, city=city), encoding
        )
    except ValueError as e:
        ja, _, en = str(e).partition("\n")
        raise LayerInvalid(
            ja.replace("--encoding utf-8", "encoding=utf-8"), en.replace("--encoding", "encoding=")
        ) from e
    return Export(data, f"text/csv; charset={shelter_export.CHARSETS[encoding]}", "csv")


# --- GeoPackage -----------------------------------------------------------------------------------
def _free_name(wanted: str, taken: set[str]) -> str:
    """``wanted``, or ``wanted_2``, ``wanted_3``… : SQLite column names are case-insensitive."""
    name, n = wanted, 1
    while name.lower() in taken:
        n += 1
        name = f"{wanted}_{n}"
    taken.add(name.lower())
    return name


def _as_date(v: str) -> date | None:
    if not _DATE.match(v):
        return None
    try:
        return date.fromisoformat(v)
    except ValueError:
        return None


def _as_datetime(v: str) -> datetime | None:
    if not _DATETIME.match(v):
        return None
    try:
        return datetime.fromisoformat(v)
    except ValueError:
        return None


def _column(values: list[Any]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(values, null mask or None, GDAL time-zone codes or None) of one attribute, typed by its values."""
    present = [v for v in values if v is not None]
    mask = np.array([v is None for v in values])
    if present and all(isinstance(v, bool) for v in present):
        return np.array([bool(v) for v in values]), mask, None
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        if all(-(2**63) <= v < 2**63 for v in present):
            return np.array([v or 0 for v in values], dtype="int64"), mask, None
        return np.array([None if v is None else str(v) for v in values], dtype=object), None, None
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return np.array([np.nan if v is None else float(v) for v in values]), None, None
    if present and all(isinstance(v, str) for v in present):
        dates = [_as_date(v) for v in present]
        if all(dates):
            return np.array([v or "NaT" for v in values], dtype="datetime64[D]"), None, None
        times = [_as_datetime(v) for v in present]
        if all(times):
            return _datetimes(values)
    text = [
        None if v is None else v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in values
    ]
    return np.array(text, dtype=object), None, None


def _datetimes(values: list[Any]) -> tuple[np.ndarray, None, np.ndarray | None]:
    # GeoPackage DATETIME is UTC (ISO 8601 with Z): a value with an offset is written as that instant in
    # UTC (GDAL's time-zone flag 100); a value without one stays as it is (flag 0, unknown zone).
    parsed = [None if v is None else datetime.fromisoformat(v) for v in values]
    if not any(t is not None and t.tzinfo is not None for t in parsed):
        return np.array([t or "NaT" for t in parsed], dtype="datetime64[ms]"), None, None
    utc = [None if t is None or t.tzinfo is None else t.astimezone(UTC).replace(tzinfo=None) for t in parsed]
    out = [u if u is not None else t for u, t in zip(utc, parsed, strict=True)]
    codes = [100 if t is not None and t.tzinfo is not None else 0 for t in parsed]
    return np.array([t or "NaT" for t in out], dtype="datetime64[ms]"), None, np.array(codes, dtype="int32")


def geopackage(fc: dict, name: str) -> bytes:
    """The FeatureCollection as a one-layer GeoPackage in EPSG:4326, every attribute a typed column."""
    import pyogrio.raw
    import shapely

    features = fc["features"]
    keys: list[str] = []
    for f in features:
        keys.extend(k for k in f["properties"] if k not in keys)
    # Our feature id and the geometry take names no attribute has; attributes keep theirs (a second one
    # differing only in case, which SQLite cannot hold beside the first, gets a suffix).
    taken = {k.lower() for k in keys}
    fid, geometry_name = _free_name("gpkg_fid", taken), _free_name("geom", taken)
    fields, data, masks, zones, seen = [], [], [], {}, set()
    for key in keys:
        values, mask, tz = _column([f["properties"].get(key) for f in features])
        field = key if key.lower() not in seen else _free_name(key, taken)
        seen.add(field.lower())
        fields.append(field)
        data.append(values)
        masks.append(mask)
        if tz is not None:
            zones[field] = tz
    fields.append(fid)  # a field named as the FID column sets the primary key: our feature id
    data.append(np.array([f["id"] for f in features], dtype="int64"))
    masks.append(None)
    geoms = [shapely.geometry.shape(f["geometry"]) if f["geometry"] else None for f in features]
    types = {g.geom_type for g in geoms if g is not None}
    single = {t.removeprefix("Multi") for t in types}
    promote = len(types) == 2 and len(single) == 1  # Polygon + MultiPolygon: one type, the Multi one
    geometry_type = types.pop() if len(types) == 1 else f"Multi{single.pop()}" if promote else "Unknown"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.gpkg"
        pyogrio.raw.write(
            str(path),
            np.array([None if g is None else shapely.to_wkb(g) for g in geoms], dtype=object),
            data,
            fields,
            field_mask=masks,
            layer=name,
            driver="GPKG",
            geometry_type=geometry_type,
            crs="EPSG:4326",
            layer_options={"FID": fid, "GEOMETRY_NAME": geometry_name},
            promote_to_multi=promote,
            gdal_tz_offsets=zones,
        )
        return path.read_bytes()
