"""A small basemap file built from our own layers, as a city would build one (docs/basemap.md):
a generic layer with a river, a town area and places is stored, read back through our OGC API
(GeoJSON), written to a GeoPackage of three layers, and turned into MVT MBTiles by GDAL's ogr2ogr;
the PMTiles copy is made from it by the ``pmtiles`` package's converter."""

from __future__ import annotations

import json
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
from pmtiles.convert import mbtiles_to_pmtiles
from sqlalchemy import Engine, text

from gisapp.db import set_roles

RIVER = "テスト鈴川"
TOWN = "テスト桜台"
STATION = "テスト伊勢原駅"
CENTRE = (139.3140, 35.3960)
# What the file's three layers hold: (layer, geometry, name).
FEATURES = (
    ("water", {"type": "LineString", "coordinates": [[139.300, 35.390], [139.3140, 35.3965], [139.330, 35.402]]}, RIVER),
    (
        "town",
        {"type": "Polygon", "coordinates": [[[139.305, 35.390], [139.322, 35.390], [139.322, 35.402],
                                              [139.305, 35.402], [139.305, 35.390]]]},
        TOWN,
    ),
    ("place", {"type": "Point", "coordinates": list(CENTRE)}, STATION),
)  # fmt: skip
MINZOOM, MAXZOOM = 10, 15


@dataclass(frozen=True)
class BasemapFiles:
    slug: str  # our layer the file was built from
    mbtiles: Path
    pmtiles: Path


def store_source_layer(engine: Engine, tag: str) -> str:
    """A public generic layer holding the features above (unique slug per call)."""
    slug = f"{tag}-bm-{secrets.token_hex(3)}"
    with engine.begin() as conn:
        set_roles(conn, ["admin"])
        dept = conn.execute(
            text(
                """INSERT INTO core.department (code, name_ja, name_en) VALUES (:c, 'テスト課', 'Test division')
                   ON CONFLICT (code) DO UPDATE SET name_en = EXCLUDED.name_en RETURNING id"""
            ),
            {"c": f"test_{tag}"},
        ).scalar_one()
        layer_id = conn.execute(
            text(
                """INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind, geometry_type)
                   VALUES (:s, 'ベースマップ素材', 'Basemap source', :d, 'public', 'generic', 'Geometry') RETURNING id"""
            ),
            {"s": slug, "d": dept},
        ).scalar_one()
        for i, (role, geometry, name) in enumerate(FEATURES):
            conn.execute(
                text(
                    """INSERT INTO gis.feature (layer_id, source_key, properties, geom)
                       VALUES (:l, :k, jsonb_build_object('name', CAST(:n AS text), 'role', CAST(:r AS text)),
                               ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326))"""
                ),
                {"l": layer_id, "k": f"k{i}", "n": name, "r": role, "g": json.dumps(geometry)},
            )
    return slug


def build(client, slug: str, out: Path) -> BasemapFiles:
    """Read our layer through the OGC API and build the MBTiles and PMTiles files from it."""
    fc = client.get(f"/ogc/collections/{slug}/items", params={"limit": 100}).json()
    assert len(fc["features"]) == len(FEATURES), fc
    frame = gpd.GeoDataFrame.from_features(fc["features"], crs="EPSG:4326")
    gpkg = out / "source.gpkg"
    for role in ("town", "water", "place"):
        frame[frame["role"] == role][["name", "geometry"]].to_file(gpkg, layer=role, driver="GPKG")
    mbtiles, pmtiles = out / "basemap.mbtiles", out / "basemap.pmtiles"
    subprocess.run(
        ["ogr2ogr", "-f", "MBTiles", str(mbtiles), str(gpkg), "-dsco", f"MINZOOM={MINZOOM}",
         "-dsco", f"MAXZOOM={MAXZOOM}", "-dsco", "NAME=テスト基図"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    mbtiles_to_pmtiles(str(mbtiles), str(pmtiles), MAXZOOM)
    return BasemapFiles(slug, mbtiles, pmtiles)
