"""One geometry type per generic layer (issue 15, item 4). 焼津市's 内水浸水想定区域 GeoJSON holds 5
MultiPolygons and 1 Polygon: imported into a generic layer it becomes one MultiPolygon layer (the
collection document says so, GDAL's OAPIF driver reports one type and ogr2ogr writes a GeoPackage
without the out-of-spec warning); a file mixing points and polygons is refused with the counts;
migration 0034 promotes layers stored before it."""

from __future__ import annotations

import importlib
import json
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from gisapp.app import create_app
from layers.importers import ImportRejected
from tests.fixtures_data import seed
from tests.support import shared_data
from tests.test_import_data import make_layer, query, run_import
from tests.test_ogc_features import LiveServer

NAISUI = "geomtype-naisui"
TYPES = """SELECT ST_GeometryType(f.geom), count(*) FROM gis.feature f JOIN gis.layer l ON l.id = f.layer_id
           WHERE l.slug = :s GROUP BY 1"""


@pytest.fixture(scope="module")
def dept(app_engine: Engine) -> int:
    return seed(app_engine, "geomtype").dept_id


@pytest.fixture(scope="module")
def naisui(app_engine: Engine, dept: int) -> str:
    make_layer(app_engine, NAISUI, "generic", dept, "public")
    run_import(app_engine, NAISUI, shared_data("hazard", "yaizu_naisui", "内水浸水想定区域.geojson"))
    return NAISUI


def _layer_type(engine: Engine, slug: str) -> str:
    return query(engine, "SELECT geometry_type FROM gis.layer WHERE slug = :s", s=slug)[0][0]


def test_mixed_single_and_multi_polygons_become_one_multipolygon_layer(naisui, app_engine, public_client):
    raw = json.loads(shared_data("hazard", "yaizu_naisui", "内水浸水想定区域.geojson").read_text("utf-8"))
    assert {f["geometry"]["type"] for f in raw["features"]} == {"Polygon", "MultiPolygon"}  # the trap
    assert dict(query(app_engine, TYPES, s=naisui)) == {"ST_MultiPolygon": len(raw["features"])}
    assert _layer_type(app_engine, naisui) == "MultiPolygon"
    doc = public_client.get(f"/ogc/collections/{naisui}").json()
    assert doc["geometryType"] == "MultiPolygon"
    items = public_client.get(f"/ogc/collections/{naisui}/items", params={"limit": 100}).json()
    assert {f["geometry"]["type"] for f in items["features"]} == {"MultiPolygon"}


def _fc(*geometries: dict) -> str:
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"n": i}, "geometry": g} for i, g in enumerate(geometries)]})  # fmt: skip


POINT = {"type": "Point", "coordinates": [139.31, 35.40]}
POLYGON = {
    "type": "Polygon",
    "coordinates": [[[139.3, 35.4], [139.31, 35.4], [139.31, 35.41], [139.3, 35.4]]],
}


def test_points_and_polygons_in_one_file_are_refused_with_the_counts(app_engine, dept, tmp_path):
    slug = make_layer(app_engine, f"geomtype-mixed-{secrets.token_hex(3)}", "generic", dept)
    path = tmp_path / "mixed.geojson"
    path.write_text(_fc(POINT, POINT, POINT, POLYGON), encoding="utf-8")
    with pytest.raises(ImportRejected) as e:
        run_import(app_engine, slug, path)
    assert e.value.code == "mixed_geometry"
    assert "点 3 件" in e.value.ja and "面 1 件" in e.value.ja
    assert "3 points" in e.value.en and "1 polygons" in e.value.en
    assert query(app_engine, TYPES, s=slug) == [] and _layer_type(app_engine, slug) == "Geometry"


def test_a_later_file_of_another_family_is_refused_and_single_then_multi_promotes(app_engine, dept, tmp_path):
    slug = make_layer(app_engine, f"geomtype-later-{secrets.token_hex(3)}", "generic", dept)
    first = tmp_path / "polygon.geojson"
    first.write_text(_fc(POLYGON), encoding="utf-8")
    run_import(app_engine, slug, first)
    assert _layer_type(app_engine, slug) == "Polygon"
    multi = {"type": "MultiPolygon", "coordinates": [[[[139.32, 35.4], [139.33, 35.4], [139.33, 35.41],
                                                       [139.32, 35.4]]]]}  # fmt: skip
    second = tmp_path / "multi.geojson"
    second.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"n": 9}, "geometry": multi}]}), encoding="utf-8")  # fmt: skip
    run_import(app_engine, slug, second)  # upsert: the stored Polygon is kept, and promoted
    assert dict(query(app_engine, TYPES, s=slug)) == {"ST_MultiPolygon": 2}
    assert _layer_type(app_engine, slug) == "MultiPolygon"
    # The single Polygon again: promoted before the comparison, so it is the stored feature, unchanged.
    again = run_import(app_engine, slug, first)
    assert (again.counts["unchanged"], again.counts["updated"], again.counts["inserted"]) == (1, 0, 0)
    points = tmp_path / "points.geojson"
    points.write_text(_fc(POINT), encoding="utf-8")
    with pytest.raises(ImportRejected):
        run_import(app_engine, slug, points)
    assert dict(query(app_engine, TYPES, s=slug)) == {"ST_MultiPolygon": 2}


def test_migration_0034_promotes_mixed_layers_and_leaves_mixed_families(app_engine, owner_engine, dept):
    migration = importlib.import_module("gisapp.migrations.versions.0034_one_geometry_type")
    line = {"type": "LineString", "coordinates": [[139.3, 35.4], [139.31, 35.41]]}
    mline = {"type": "MultiLineString", "coordinates": [[[139.3, 35.4], [139.31, 35.41]]]}
    layers = {"geomtype-m-lines": (line, mline), "geomtype-m-families": (POINT, POLYGON)}
    conn = owner_engine.connect()
    tx = conn.begin()  # rolled back: the statement touches every generic layer of the shared database
    try:
        for slug, geometries in layers.items():
            layer_id = conn.execute(
                text("""INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind,
                                                geometry_type)
                        VALUES (:s, '移行', 'Migration', :d, 'internal', 'generic', 'Geometry') RETURNING id"""),
                {"s": slug, "d": dept},
            ).scalar_one()  # fmt: skip
            for i, g in enumerate(geometries):
                conn.execute(
                    text("""INSERT INTO gis.feature (layer_id, source_key, properties, geom)
                            VALUES (:l, :k, '{}', ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326))"""),
                    {"l": layer_id, "k": str(i), "g": json.dumps(g)},
                )  # fmt: skip
        conn.execute(text(migration.UPGRADE))
        got = {
            slug: (
                conn.execute(text("SELECT geometry_type FROM gis.layer WHERE slug = :s"), {"s": slug}).scalar_one(),
                sorted(conn.execute(text(TYPES), {"s": slug}).all()),
            )
            for slug in layers
        }  # fmt: skip
    finally:
        tx.rollback()
        conn.close()
    assert got["geomtype-m-lines"] == ("MultiLineString", [("ST_MultiLineString", 2)])
    assert got["geomtype-m-families"] == ("Geometry", [("ST_Point", 1), ("ST_Polygon", 1)])


# --- real clients: GDAL's OGC API driver and ogr2ogr to GeoPackage -------------------------------
@pytest.fixture(scope="module")
def public_server(settings, naisui) -> Iterator[LiveServer]:
    with LiveServer(create_app(settings, public=True)) as server:
        yield server


def test_gdal_sees_one_type_and_writes_a_geopackage_without_warning(public_server, naisui, tmp_path):
    ogrinfo, ogr2ogr = shutil.which("ogrinfo"), shutil.which("ogr2ogr")
    assert ogrinfo and ogr2ogr, "gdal-bin is required for these tests"
    url = f"OAPIF:{public_server.url}/ogc/collections/{naisui}"
    info = subprocess.run([ogrinfo, "-ro", "-al", "-so", url], capture_output=True, text=True, timeout=120)
    assert info.returncode == 0, info.stderr
    assert re.findall(r"^Geometry: (.+)$", info.stdout, re.MULTILINE) == ["Multi Polygon"]
    out = tmp_path / "naisui.gpkg"
    done = subprocess.run([ogr2ogr, "-f", "GPKG", str(out), url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "not normally allowed" not in done.stderr and "Warning" not in done.stderr, done.stderr
