"""The city's own basemap: a PMTiles or MBTiles file of vector tiles (MVT), read tile by tile.

The file is configured (GISAPP_BASEMAP) and read-only here: PMTiles through the ``pmtiles`` package's
reader over a memory map, MBTiles with sqlite3 in read-only mode (TMS rows flipped to XYZ). Tiles are
returned as stored — usually gzip-compressed MVT — so the web layer can send them on as they are to
a client that accepts gzip, and unzip only for one that does not. docs/basemap.md.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import mmap
import sqlite3
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pmtiles.tile import (
    Compression,
    TileType,
    deserialize_directory,
    deserialize_header,
    find_tile,
    zxy_to_tileid,
)

from common.errors import InvalidInput

GZIP_MAGIC = b"\x1f\x8b"
WORLD = [-180.0, -85.0511, 180.0, 85.0511]


class BasemapError(InvalidInput):
    code = "basemap_invalid"


@dataclass
class BasemapFile:
    """One opened basemap file. ``metadata`` holds TileJSON-like keys: name, attribution, minzoom,
    maxzoom, bounds, center, vector_layers (each with id, fields and, where the file says, geometry)."""

    path: Path
    format: str  # "pmtiles" | "mbtiles"
    metadata: dict[str, Any]
    fingerprint: str  # changes when the file does: part of every tile's ETag
    _read: Any = field(repr=False, default=None)

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The stored bytes of tile z/x/y (XYZ), or None when the file has none there."""
        if not (self.metadata["minzoom"] <= z <= self.metadata["maxzoom"]) or not (
            0 <= x < 2**z and 0 <= y < 2**z
        ):
            return None
        data = self._read(z, x, y)
        return bytes(data) if data else None

    def etag(self, z: int, x: int, y: int, *, gzip: bool = False) -> str:
        return f'"bm-{self.fingerprint}-{z}-{x}-{y}{"-gz" if gzip else ""}"'


def unzipped(data: bytes) -> bytes:
    return gzip.decompress(data) if data[:2] == GZIP_MAGIC else data


def open_basemap(path: Path) -> BasemapFile:
    """Open ``path`` (.pmtiles or .mbtiles) or raise BasemapError saying what is wrong with it."""
    if not path.is_file():
        raise BasemapError(
            f"ベースマップのファイルがありません: {path}",
            f"The basemap file does not exist: {path}",
            path=str(path),
        )
    stat = path.stat()
    fingerprint = hashlib.sha1(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[
        :12
    ]
    try:
        with path.open("rb") as f:
            magic = f.read(7)
        if magic == b"PMTiles":
            fmt, metadata, read = "pmtiles", *_open_pmtiles(path)
        elif magic[:6] == b"SQLite":
            fmt, metadata, read = "mbtiles", *_open_mbtiles(path)
        else:
            raise ValueError("neither PMTiles nor SQLite (MBTiles)")
    except BasemapError:
        raise
    except Exception as e:
        raise BasemapError(
            "ベースマップのファイルを読めません（PMTiles か MBTiles のベクトルタイルが必要です）。",
            "The basemap file cannot be read (PMTiles or MBTiles vector tiles are needed).",
            path=str(path),
            error=str(e)[:200],
        ) from e
    return BasemapFile(path, fmt, metadata, fingerprint, read)


def _normalised(meta: dict[str, Any], name: str) -> dict[str, Any]:
    """TileJSON-like keys from either format's metadata (MBTiles keeps vector_layers in a JSON string)."""
    extra = meta.get("json")
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except ValueError:
            extra = {}
    extra = extra if isinstance(extra, dict) else {}
    vector_layers = meta.get("vector_layers") or extra.get("vector_layers") or []
    stats = meta.get("tilestats") or extra.get("tilestats") or {}
    geometry = {s.get("layer"): s.get("geometry") for s in stats.get("layers", []) if isinstance(s, dict)}
    layers = []
    for vl in vector_layers:
        if isinstance(vl, dict) and isinstance(vl.get("id"), str):
            fields = vl.get("fields") if isinstance(vl.get("fields"), dict) else {}
            layers.append(
                {
                    "id": vl["id"],
                    "fields": {str(k): str(v) for k, v in fields.items()},
                    **({"geometry": geometry[vl["id"]]} if geometry.get(vl["id"]) else {}),
                    **{k: int(vl[k]) for k in ("minzoom", "maxzoom") if isinstance(vl.get(k), int | float)},
                }
            )
    return {
        "name": str(meta.get("name") or name),
        "attribution": str(meta.get("attribution") or ""),
        "description": str(meta.get("description") or ""),
        "vector_layers": layers,
    }


def _numbers(value: Any, count: int) -> list[float] | None:
    if isinstance(value, str):
        value = value.split(",")
    try:
        out = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    return out if len(out) == count else None


def _open_pmtiles(path: Path) -> tuple[dict[str, Any], Any]:
    f = path.open("rb")
    buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    header = deserialize_header(buf[0:127])
    if header["tile_type"] != TileType.MVT:
        raise BasemapError(
            "ベースマップはベクトルタイル（MVT）である必要があります。",
            "The basemap must hold vector tiles (MVT).",
            tile_type=str(header["tile_type"]),
        )
    raw = buf[header["metadata_offset"] : header["metadata_offset"] + header["metadata_length"]]
    if header["internal_compression"] == Compression.GZIP:
        raw = gzip.decompress(raw)
    meta = _normalised(json.loads(raw or b"{}"), path.stem)
    meta.update(
        minzoom=header["min_zoom"],
        maxzoom=header["max_zoom"],
        bounds=[header[k] / 1e7 for k in ("min_lon_e7", "min_lat_e7", "max_lon_e7", "max_lat_e7")],
        center=[header["center_lon_e7"] / 1e7, header["center_lat_e7"] / 1e7, header["center_zoom"]],
    )
    directory = lru_cache(maxsize=256)(
        lambda offset, length: deserialize_directory(buf[offset : offset + length])
    )

    def read(z: int, x: int, y: int) -> bytes | None:
        tile_id = zxy_to_tileid(z, x, y)
        offset, length = header["root_offset"], header["root_length"]
        for _ in range(4):  # the format's maximum directory depth
            entry = find_tile(directory(offset, length), tile_id)
            if entry is None:
                return None
            if entry.run_length > 0:
                start = header["tile_data_offset"] + entry.offset
                return buf[start : start + entry.length]
            offset, length = header["leaf_directory_offset"] + entry.offset, entry.length
        return None

    read.keep = (f, buf)  # the memory map lives as long as the reader
    return meta, read


def _open_mbtiles(path: Path) -> tuple[dict[str, Any], Any]:
    uri = f"{path.resolve().as_uri()}?mode=ro"
    local = threading.local()  # one connection per thread (sqlite3 connections are not shared)

    def connection() -> sqlite3.Connection:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        return conn

    rows = dict(connection().execute("SELECT name, value FROM metadata").fetchall())
    if rows.get("format", "pbf") not in ("pbf", "mvt"):
        raise BasemapError(
            "ベースマップはベクトルタイル（MVT）である必要があります。",
            "The basemap must hold vector tiles (MVT).",
            format=rows.get("format"),
        )
    meta = _normalised(rows, path.stem)
    zooms = connection().execute("SELECT min(zoom_level), max(zoom_level) FROM tiles").fetchone()
    minzoom = int(rows["minzoom"]) if str(rows.get("minzoom", "")).isdigit() else (zooms[0] or 0)
    maxzoom = int(rows["maxzoom"]) if str(rows.get("maxzoom", "")).isdigit() else (zooms[1] or 0)
    bounds = _numbers(rows.get("bounds"), 4) or WORLD
    center = _numbers(rows.get("center"), 3) or [
        (bounds[0] + bounds[2]) / 2,
        (bounds[1] + bounds[3]) / 2,
        minzoom,
    ]
    meta.update(minzoom=minzoom, maxzoom=maxzoom, bounds=bounds, center=center)

    def read(z: int, x: int, y: int) -> bytes | None:
        row = (
            connection()
            .execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                (z, x, 2**z - 1 - y),  # MBTiles rows count from the south (TMS)
            )
            .fetchone()
        )
        return row[0] if row else None

    return meta, read
