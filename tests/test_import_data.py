"""Every file in ../shared/data imports: right encoding, count, one known attribute, and one known
feature within 10 m of where the raw file puts it (expected positions computed here from the raw
bytes with pyproj, independently of the importer's GDAL/pandas path; distance by geography)."""

from __future__ import annotations

import csv
import io
import json
import re
import struct
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from pyproj import Transformer
from sqlalchemy import Engine, text

from gisapp.db import set_roles, transaction
from layers.importers import ImportRejected, ImportResult, get_target, import_file
from layers.importers.pipeline import GEOMETRY_OF_KIND
from tests.fixtures_data import seed
from tests.support import shared_data

TABLE = {"shelter": "gis.shelter", "hazard_area": "gis.hazard_area", "road_segment": "gis.road_segment",
         "generic": "gis.feature", "sewer_pipe": "gis.sewer_pipe"}  # fmt: skip


# --- helpers shared by the import tests ----------------------------------------------------------
@pytest.fixture(scope="module")
def dept(app_engine) -> int:
    return seed(app_engine, "imp").dept_id


def make_layer(engine: Engine, slug: str, kind: str, dept_id: int, visibility: str = "internal") -> str:
    with transaction(engine, ["admin"]) as conn:
        conn.execute(
            text(
                """INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind, geometry_type)
                   VALUES (:s, 'テスト取込', 'Import test', :d, :v, :k, :g) ON CONFLICT (slug) DO NOTHING"""
            ),
            {
                "s": slug,
                "d": dept_id,
                "v": visibility,
                "k": kind,
                "g": GEOMETRY_OF_KIND.get(kind, "Geometry"),
            },
        )
    return slug


def run_import(engine: Engine, slug: str, path: Path, **kw) -> ImportResult:
    """As the API and CLI do: a refused run is still committed (its record), then raised."""
    with transaction(engine, ["admin"]) as conn:
        try:
            return import_file(conn, get_target(conn, slug), path, actor="test", **kw)
        except ImportRejected as e:
            refused = e
    raise refused


def query(engine: Engine, sql: str, **params):
    with engine.begin() as conn:
        set_roles(conn, ["admin"])
        return conn.execute(text(sql), params).all()


def feature_count(engine: Engine, slug: str, kind: str) -> int:
    sql = f"SELECT count(*) FROM {TABLE[kind]} t JOIN gis.layer l ON l.id = t.layer_id WHERE l.slug = :s"  # noqa: S608 (table from TABLE)
    return query(engine, sql, s=slug)[0][0]


def distance_m(engine: Engine, kind: str, slug: str, where: str, lon: float, lat: float, **params) -> float:
    """Metres from (lon, lat) to the stored geometry of the one feature matching ``where``."""
    sql = (
        f"SELECT ST_Distance(t.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography)"  # noqa: S608 (constants)
        f" FROM {TABLE[kind]} t JOIN gis.layer l ON l.id = t.layer_id WHERE l.slug = :s AND {where}"
    )
    rows = query(engine, sql, s=slug, lon=lon, lat=lat, **params)
    assert len(rows) == 1, rows
    return rows[0][0]


JGD2011_TO_WGS84 = Transformer.from_crs("EPSG:6668", "EPSG:4326", always_xy=True)


def raw_csv(path: Path, encoding: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode(encoding), newline="")))


# --- shelters ---------------------------------------------------------------------------------------
def _shelter_case(app_engine, dept, slug, path, encoding, name):
    make_layer(app_engine, slug, "shelter", dept)
    result = run_import(app_engine, slug, path)
    rows = raw_csv(path, encoding)
    assert result.encoding.replace("-sig", "") == encoding
    assert result.counts["read"] == len(rows) == feature_count(app_engine, slug, "shelter")
    raw = next(r for r in rows if (r.get("名称") or r.get("施設・場所名")) == name)
    lon, lat = JGD2011_TO_WGS84.transform(float(raw["経度"]), float(raw["緯度"]))
    assert distance_m(app_engine, "shelter", slug, "t.name = :n", lon, lat, n=name) < 10
    return rows


def test_ichikawa_municipal_standard_cp932(app_engine, dept):
    path = shared_data("shelters", "122033_103_evacuation_space.csv")
    rows = _shelter_case(app_engine, dept, "imp-ichikawa", path, "cp932", "県立国分高校")
    assert len(rows) == 121
    (r,) = query(app_engine, """SELECT s.suits_flood, s.suits_fire, s.is_designated_shelter, s.attributes->>'名称_カナ',
                                       s.address FROM gis.shelter s JOIN gis.layer l ON l.id = s.layer_id
                                WHERE l.slug = 'imp-ichikawa' AND s.name = '県立国分高校'""")  # fmt: skip
    raw = next(x for x in rows if x["名称"] == "県立国分高校")
    assert r == (raw["災害種別_洪水"] == "1", raw["災害種別_大規模な火事"] == "1", raw["指定避難所との重複"] == "1",
                 "ｹﾝﾘﾂｺｸﾌﾞﾝｺｳｺｳ", raw["所在地_連結表記"])  # fmt: skip


def test_yaizu_emergency_sites_utf8_circle_flags(app_engine, dept):
    path = shared_data("shelters", "222127_evacuation_space.csv")
    rows = _shelter_case(app_engine, dept, "imp-yaizu-evac", path, "utf-8", "中港タワー")
    assert len(rows) == 31
    (r,) = query(app_engine, """SELECT s.code, s.suits_tsunami, s.suits_flood FROM gis.shelter s
                                JOIN gis.layer l ON l.id = s.layer_id
                                WHERE l.slug = 'imp-yaizu-evac' AND s.name = '中港タワー'""")  # fmt: skip
    raw = next(x for x in rows if x["名称"] == "中港タワー")
    assert r == (raw["NO"], raw["災害種別_津波"] == "○", raw["災害種別_洪水"] == "○")
    assert r[1] is True


def test_yaizu_city_shelter_list(app_engine, dept):
    path = shared_data("shelters", "222127_hinannjo.csv")
    rows = _shelter_case(app_engine, dept, "imp-yaizu-hinanjo", path, "utf-8", "二区コミュニティ防災センター")
    assert len(rows) == 56
    (r,) = query(app_engine, """SELECT s.attributes->>'避難所面積平方メートル', s.is_designated_shelter, s.suits_earthquake
                                FROM gis.shelter s JOIN gis.layer l ON l.id = s.layer_id
                                WHERE l.slug = 'imp-yaizu-hinanjo' AND s.name = '二区コミュニティ防災センター'""")  # fmt: skip
    raw = next(x for x in rows if x["名称"] == "二区コミュニティ防災センター")
    assert r == (raw["避難所面積平方メートル"], True, raw["開設される災害の種類（地震・津波）"] == "○")


def test_gsi_designated_shelters(app_engine, dept):
    path = shared_data("shelters", "gsi", "26303_shitei-hinanjo.csv")
    rows = _shelter_case(app_engine, dept, "imp-gsi-hinanjo", path, "utf-8", "大山崎町体育館")
    assert len(rows) == 9
    stored = query(app_engine, """SELECT s.code, s.attributes->>'受入対象者' FROM gis.shelter s
                                  JOIN gis.layer l ON l.id = s.layer_id WHERE l.slug = 'imp-gsi-hinanjo'""")  # fmt: skip
    assert {c for c, _ in stored} == {x["共通ID"] for x in rows}
    assert sum(1 for _, who in stored if who) == sum(1 for x in rows if x["受入対象者"]) == 3


def test_gsi_emergency_sites(app_engine, dept):
    path = shared_data("shelters", "gsi", "26303_shitei-kinkyu-hinanbasho.csv")
    rows = _shelter_case(app_engine, dept, "imp-gsi-kinkyu", path, "utf-8", "大山崎町立大山崎中学校")
    assert len(rows) == 5
    (r,) = query(app_engine, """SELECT s.code, s.suits_flood, s.suits_tsunami FROM gis.shelter s
                                JOIN gis.layer l ON l.id = s.layer_id
                                WHERE l.slug = 'imp-gsi-kinkyu' AND s.name = '大山崎町立大山崎中学校'""")  # fmt: skip
    raw = next(x for x in rows if x["施設・場所名"] == "大山崎町立大山崎中学校")
    assert r == (raw["共通ID"], raw["洪水"] == "1", raw["津波"] == "1")


# --- hazard areas -------------------------------------------------------------------------------------
def _first_gml_vertex(path: Path) -> tuple[str, float, float]:
    """gml:id of the first feature and its first vertex, from the raw XML (latitude first)."""
    raw = path.read_text("utf-8")
    gml_id = re.search(r'<(?:urf:SedimentDisasterProneArea|wtr:WaterBody) gml:id="([^"]+)"', raw).group(1)
    after = raw[raw.index(gml_id) :]
    lat, lon, _h = (
        float(v) for v in re.search(r"<gml:posList>([^<]+)</gml:posList>", after).group(1).split()[:3]
    )
    return gml_id, lat, lon


@pytest.mark.parametrize(
    ("filename", "tag", "expected_type"),
    [("523857_lsld_6668_op.gml", "urf:SedimentDisasterProneArea", None),
     ("52385721_fld_6697_l1_op.gml", "wtr:WaterBody", "flood")],
)  # fmt: skip
def test_plateau_citygml(app_engine, dept, filename, tag, expected_type):
    path = shared_data("hazard", "plateau_numazu", filename)
    slug = f"imp-plateau-{filename[:8]}"
    make_layer(app_engine, slug, "hazard_area", dept)
    result = run_import(app_engine, slug, path)
    raw = path.read_text("utf-8")
    assert (
        result.counts["inserted"] == raw.count(f"<{tag} ") == feature_count(app_engine, slug, "hazard_area")
    )
    assert result.source_crs == "EPSG:6697" and any("Z" in n["en"] for n in result.notes)
    gml_id, lat, lon = _first_gml_vertex(path)
    # EPSG:6697 is latitude, longitude, height: pyproj follows the axis order of the CRS definition.
    wgs_lat, wgs_lon = Transformer.from_crs("EPSG:6697", "EPSG:4326").transform(lat, lon, 0)[:2]
    assert distance_m(app_engine, "hazard_area", slug, "t.source_key = :k", wgs_lon, wgs_lat, k=gml_id) < 10
    if expected_type is None:  # 土砂: areaType 2 = 特別警戒区域, else 警戒区域
        (r,) = query(app_engine, """SELECT h.hazard_type, h.name, h.attributes->>'zoneNumber' FROM gis.hazard_area h
                                    JOIN gis.layer l ON l.id = h.layer_id WHERE l.slug = :s AND h.source_key = :k""",
                     s=slug, k=gml_id)  # fmt: skip
        area = re.search(r"<urf:areaType[^>]*>(\d)<", raw[raw.index(gml_id) :]).group(1)
        assert r == ("landslide_special" if area == "2" else "landslide_warning", "八重団地", "103-Ⅰ-0648")
        types = dict(query(app_engine, """SELECT hazard_type, count(*) FROM gis.hazard_area h JOIN gis.layer l
                                          ON l.id = h.layer_id WHERE l.slug = :s GROUP BY 1""", s=slug))  # fmt: skip
        assert types == {"landslide_warning": 39, "landslide_special": 42}  # SOURCES.md: areaType 39×1, 42×2
    else:
        assert {r[0] for r in query(app_engine, "SELECT DISTINCT hazard_type FROM gis.hazard_area h JOIN gis.layer l"
                                    " ON l.id = h.layer_id WHERE l.slug = :s", s=slug)} == {expected_type}  # fmt: skip


def test_yaizu_inland_flood_geojson(app_engine, dept):
    path = shared_data("hazard", "yaizu_naisui", "内水浸水想定区域.geojson")
    make_layer(app_engine, "imp-naisui", "hazard_area", dept)
    result = run_import(app_engine, "imp-naisui", path)
    doc = json.loads(path.read_text("utf-8"))
    assert (
        result.counts["inserted"]
        == len(doc["features"])
        == feature_count(app_engine, "imp-naisui", "hazard_area")
    )
    stored = dict(query(app_engine, """SELECT h.depth_rank, h.hazard_type FROM gis.hazard_area h
                                       JOIN gis.layer l ON l.id = h.layer_id WHERE l.slug = 'imp-naisui'"""))  # fmt: skip
    assert set(stored) == {f["properties"]["最大浸水深"] for f in doc["features"]}
    assert set(stored.values()) == {"inland_flood"}
    first = doc["features"][0]
    ring = (
        first["geometry"]["coordinates"][0]
        if first["geometry"]["type"] == "Polygon"
        else first["geometry"]["coordinates"][0][0]
    )
    lon, lat = ring[0][:2]  # CRS84: longitude first
    assert distance_m(app_engine, "hazard_area", "imp-naisui", "t.depth_rank = :d", lon, lat,
                      d=first["properties"]["最大浸水深"]) < 10  # fmt: skip
    # Invalid rings in the city's file are repaired and the repair recorded on the run.
    (repaired,) = query(app_engine, "SELECT repaired FROM gis.import_run WHERE id = :i", i=result.run_id)[0]
    assert repaired == result.repaired
    assert all(p["reason_en"].startswith("repaired invalid geometry") for p in repaired)


# --- roads ----------------------------------------------------------------------------------------------
def _first_shp_point(shp: bytes) -> tuple[float, float]:
    # ESRI Shapefile: 100-byte header, record header (8), shape type (4), bbox (32), parts, points.
    num_parts, _num_points = struct.unpack("<2i", shp[144:152])
    start = 152 + 4 * num_parts
    return struct.unpack("<2d", shp[start : start + 16])


def _dbf_records(dbf: bytes, encoding: str) -> list[dict[str, str]]:
    """dBASE records read by hand: 32-byte header, 32-byte field descriptors up to 0x0D, then records
    that start with a deletion flag byte."""
    header_len, record_len = int.from_bytes(dbf[8:10], "little"), int.from_bytes(dbf[10:12], "little")
    fields, pos = [], 32
    while dbf[pos] != 0x0D:
        fields.append((dbf[pos : pos + 11].rstrip(b"\0").decode(), dbf[pos + 16]))
        pos += 32
    records = []
    for start in range(header_len, len(dbf) - record_len + 1, record_len):
        offset, record = start + 1, {}
        for name, length in fields:
            record[name] = dbf[offset : offset + length].decode(encoding).strip()
            offset += length
        records.append(record)
    return records


@pytest.mark.parametrize(
    ("stem", "count"), [("一次緊急輸送路", 31), ("二次緊急輸送路", 23), ("三次輸送路", 40)]
)
def test_yaizu_emergency_transport_shapefiles(app_engine, dept, tmp_path, stem, count):
    folder = shared_data("roads", "yaizu_emergency_transport")
    archive = tmp_path / f"{stem}.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
            zf.write(folder / f"{stem}{ext}", f"{stem}{ext}")
    slug = f"imp-yaizu-road-{count}"
    make_layer(app_engine, slug, "generic", dept)
    result = run_import(app_engine, slug, archive)
    shx = (folder / f"{stem}.shx").stat().st_size
    assert result.encoding == "cp932"  # the .cpg says Shift_JIS; CP932 is its superset
    assert (
        result.counts["inserted"] == count == (shx - 100) // 8 == feature_count(app_engine, slug, "generic")
    )
    records = _dbf_records((folder / f"{stem}.dbf").read_bytes(), "cp932")
    stored = query(app_engine, "SELECT f.properties->>'item1', f.properties->>'item2', f.properties->>'item4'"
                   " FROM gis.feature f JOIN gis.layer l ON l.id = f.layer_id WHERE l.slug = :s", s=slug)  # fmt: skip
    raw = [(r["item1"], r["item2"] or None, r["item4"] or None) for r in records]
    assert sorted(stored, key=lambda r: int(r[0])) == sorted(raw, key=lambda r: int(r[0]))
    assert any("輸送路" in (r[1] or "") for r in stored)
    x, y = _first_shp_point((folder / f"{stem}.shp").read_bytes())
    lon, lat = JGD2011_TO_WGS84.transform(x, y)
    item1 = int(records[0]["item1"])
    where = "(t.properties->>'item1')::int = :i"
    assert distance_m(app_engine, "generic", slug, where, lon, lat, i=item1) < 10


def test_osm_roads_skip_josm_deleted(app_engine, dept):
    path = shared_data("roads", "osm_nagoya", "Sample.osm")
    make_layer(app_engine, "imp-osm", "road_segment", dept)
    result = run_import(app_engine, "imp-osm", path)
    root = ET.parse(path).getroot()
    nodes = {n.get("id"): n for n in root.iter("node")}
    highway = [w for w in root.iter("way") if any(t.get("k") == "highway" for t in w.iter("tag"))]
    kept = [w for w in highway if w.get("action") != "delete"]
    deleted = {w.get("id") for w in root.iter("way") if w.get("action") == "delete"}
    assert result.counts["inserted"] == len(kept) == feature_count(app_engine, "imp-osm", "road_segment")
    stored = {r[0] for r in query(app_engine, "SELECT route_no FROM gis.road_segment r JOIN gis.layer l"
                                  " ON l.id = r.layer_id WHERE l.slug = 'imp-osm'")}  # fmt: skip
    assert stored == {w.get("id") for w in kept} and not stored & deleted
    way = next(w for w in kept if any(t.get("v") == "久屋大通" for t in w.iter("tag")))
    node = nodes[next(way.iter("nd")).get("ref")]
    (r,) = query(app_engine, "SELECT route_name, road_class, length_m FROM gis.road_segment WHERE route_no = :n",
                 n=way.get("id"))  # fmt: skip
    assert r[0] == "久屋大通" and r[1] == next(t.get("v") for t in way.iter("tag") if t.get("k") == "highway")
    assert r[2] > 0
    lon, lat = float(node.get("lon")), float(node.get("lat"))
    assert (
        distance_m(app_engine, "road_segment", "imp-osm", "t.route_no = :n", lon, lat, n=way.get("id")) < 10
    )


# --- administrative boundaries ------------------------------------------------------------------------
def test_kanagawa_municipalities(app_engine, dept):
    path = shared_data("admin_boundary", "N03-21_14_210101.json")
    make_layer(app_engine, "imp-n03", "generic", dept)
    result = run_import(app_engine, "imp-n03", path)
    doc = json.loads(path.read_text("utf-8"))
    assert (
        result.counts["inserted"]
        == len(doc["features"])
        == 58
        == feature_count(app_engine, "imp-n03", "generic")
    )
    isehara = next(f for f in doc["features"] if f["properties"]["N03_007"] == "14214")
    coords = isehara["geometry"]["coordinates"]
    lon, lat = (coords[0][0] if isehara["geometry"]["type"] == "Polygon" else coords[0][0][0])[:2]
    assert distance_m(app_engine, "generic", "imp-n03", "t.properties->>'N03_007' = '14214'", lon, lat) < 10
    (name,) = query(app_engine, "SELECT f.properties->>'N03_004' FROM gis.feature f JOIN gis.layer l"
                    " ON l.id = f.layer_id WHERE l.slug = 'imp-n03' AND f.properties->>'N03_007' = '14214'")[0]  # fmt: skip
    assert name == "伊勢原市"
