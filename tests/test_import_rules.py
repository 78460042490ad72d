"""Import rules on the real database: re-import updates in place, replace deletes what the file
lacks, every bad input is refused with row numbers and reasons (ja/en) and leaves stored data as it
was, and the shelter CSV export reads back to the same rows."""

from __future__ import annotations

import json

import pytest

from layers.importers import ImportRejected
from layers.importers.shelter_export import encode, shelters_csv
from tests.fixtures_data import seed
from tests.support import shared_data
from tests.test_import_data import feature_count, make_layer, query, run_import


@pytest.fixture(scope="module")
def dept(app_engine) -> int:
    return seed(app_engine, "imprules").dept_id


def _fc(*features) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def _feature(geometry: dict, **props) -> dict:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def _write(tmp_path, name: str, doc) -> object:
    path = tmp_path / name
    path.write_bytes(doc if isinstance(doc, bytes) else json.dumps(doc, ensure_ascii=False).encode())
    return path


def _refused(engine, slug, path, kind="generic", **kw) -> ImportRejected:
    before = feature_count(engine, slug, kind)
    with pytest.raises(ImportRejected) as err:
        run_import(engine, slug, path, **kw)
    assert feature_count(engine, slug, kind) == before  # nothing stored
    e = err.value
    assert e.ja and e.en and e.run_id
    (status, rejected) = query(
        engine, "SELECT status, rejected FROM gis.import_run WHERE id = :i", i=e.run_id
    )[0]
    assert status == "rejected" and rejected
    return e


POINT = {"type": "Point", "coordinates": [139.31, 35.40]}


# --- idempotence and replace --------------------------------------------------------------------
def test_reimport_updates_instead_of_duplicating(app_engine, dept, tmp_path):
    path = shared_data("shelters", "222127_evacuation_space.csv")
    slug = make_layer(app_engine, "rules-reimport", "shelter", dept)
    first = run_import(app_engine, slug, path)
    ids = query(
        app_engine,
        "SELECT s.code, s.id FROM gis.shelter s JOIN gis.layer l ON l.id = s.layer_id WHERE l.slug = :s",
        s=slug,
    )
    again = run_import(app_engine, slug, path)
    assert first.counts["inserted"] == 31
    assert again.counts == {"read": 31, "inserted": 0, "updated": 0, "unchanged": 31, "deleted": 0}
    # One shelter renamed in the city's next file: updated in place, same id.
    text = path.read_text("utf-8").replace("中港タワー", "中港津波避難タワー")
    changed = run_import(app_engine, slug, _write(tmp_path, "evac.csv", text.encode()))
    assert changed.counts["updated"] == 1 and changed.counts["inserted"] == 0
    after = query(
        app_engine,
        "SELECT s.code, s.id FROM gis.shelter s JOIN gis.layer l ON l.id = s.layer_id WHERE l.slug = :s",
        s=slug,
    )
    assert sorted(after) == sorted(ids)


def test_reimport_of_hashed_generic_features_is_stable(app_engine, dept):
    path = shared_data("admin_boundary", "N03-21_14_210101.json")
    slug = make_layer(app_engine, "rules-n03", "generic", dept)
    run_import(app_engine, slug, path)
    ids = query(
        app_engine,
        "SELECT f.source_key, f.id FROM gis.feature f JOIN gis.layer l ON l.id = f.layer_id WHERE l.slug = :s",
        s=slug,
    )
    again = run_import(app_engine, slug, path)
    assert again.counts["unchanged"] == 58 and again.counts["inserted"] == 0
    assert sorted(ids) == sorted(
        query(
            app_engine,
            "SELECT f.source_key, f.id FROM gis.feature f JOIN gis.layer l ON l.id = f.layer_id WHERE l.slug = :s",
            s=slug,
        )
    )


def test_replace_mode_deletes_features_not_in_the_file(app_engine, dept, tmp_path):
    path = shared_data("shelters", "222127_evacuation_space.csv")
    slug = make_layer(app_engine, "rules-replace", "shelter", dept)
    run_import(app_engine, slug, path)
    lines = path.read_bytes().split(b"\r\n")
    subset = _write(tmp_path, "subset.csv", b"\r\n".join(lines[:11]) + b"\r\n")  # header + 10 rows
    upserted = run_import(app_engine, slug, subset)
    assert upserted.counts["deleted"] == 0 and feature_count(app_engine, slug, "shelter") == 31
    replaced = run_import(app_engine, slug, subset, mode="replace")
    assert replaced.counts["deleted"] == 21 and replaced.counts["unchanged"] == 10
    assert feature_count(app_engine, slug, "shelter") == 10


# --- bad input: refused, nothing stored ------------------------------------------------------------
def test_malformed_geojson(app_engine, dept, tmp_path):
    slug = make_layer(app_engine, "rules-bad", "generic", dept)
    run_import(app_engine, slug, _write(tmp_path, "ok.geojson", _fc(_feature(POINT, id="a1"))))
    e = _refused(
        app_engine,
        slug,
        _write(tmp_path, "bad.geojson", b'{"type": "FeatureCollection", "features": [{"type":'),
    )
    assert e.code == "unreadable_file"


def test_unknown_crs(app_engine, dept, tmp_path):
    slug = make_layer(app_engine, "rules-bad", "generic", dept)
    doc = _fc(_feature(POINT, id="crs1"))
    doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::99999"}}
    assert _refused(app_engine, slug, _write(tmp_path, "crs.geojson", doc)).code == "unknown_crs"


def test_plane_rectangular_crs_is_reprojected(app_engine, dept, tmp_path):
    from pyproj import Transformer

    slug = make_layer(app_engine, "rules-zone9", "generic", dept)
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:6677", always_xy=True).transform(139.3158, 35.4027)
    doc = _fc(_feature({"type": "Point", "coordinates": [x, y]}, id="isehara"))
    doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::6677"}}
    result = run_import(app_engine, slug, _write(tmp_path, "zone9.geojson", doc))
    assert result.source_crs == "EPSG:6677"
    (d,) = query(app_engine, """SELECT ST_Distance(f.geom::geography, ST_SetSRID(ST_MakePoint(139.3158, 35.4027), 4326)::geography)
                                FROM gis.feature f JOIN gis.layer l ON l.id = f.layer_id WHERE l.slug = :s""", s=slug)[0]  # fmt: skip
    assert d < 0.01


def test_bow_tie_polygon_is_repaired_and_recorded(app_engine, dept, tmp_path):
    slug = make_layer(app_engine, "rules-bowtie", "generic", dept)
    ring = [[139.30, 35.40], [139.31, 35.41], [139.31, 35.40], [139.30, 35.41], [139.30, 35.40]]
    result = run_import(
        app_engine,
        slug,
        _write(
            tmp_path, "bowtie.geojson", _fc(_feature({"type": "Polygon", "coordinates": [ring]}, id="bt"))
        ),
    )
    assert [p["row"] for p in result.repaired] == [1] and "Self-intersection" in result.repaired[0][
        "reason_en"
    ]
    (gtype, valid, area) = query(app_engine, """SELECT GeometryType(f.geom), ST_IsValid(f.geom), ST_Area(f.geom::geography)
                                                FROM gis.feature f JOIN gis.layer l ON l.id = f.layer_id WHERE l.slug = :s""", s=slug)[0]  # fmt: skip
    assert gtype == "MULTIPOLYGON" and valid and area > 0
    (repaired,) = query(app_engine, "SELECT repaired FROM gis.import_run WHERE id = :i", i=result.run_id)[0]
    assert repaired[0]["key"] == "bt"


def test_polygon_that_collapses_to_a_line_is_refused(app_engine, dept, tmp_path):
    slug = make_layer(app_engine, "rules-bad", "generic", dept)
    flat = [[139.25, 35.25], [139.5, 35.5], [139.75, 35.75], [139.25, 35.25]]  # exactly collinear in binary
    doc = _fc(_feature(POINT, id="fine"), _feature({"type": "Polygon", "coordinates": [flat]}, id="flat"))
    e = _refused(app_engine, slug, _write(tmp_path, "flat.geojson", doc))
    assert [p.row for p in e.rejected] == [2] and "dimension" in e.rejected[0].reason_en


def test_3d_coordinates_keep_position_and_drop_height(app_engine, dept, tmp_path):
    slug = make_layer(app_engine, "rules-3d", "generic", dept)
    result = run_import(
        app_engine,
        slug,
        _write(
            tmp_path,
            "z.geojson",
            _fc(_feature({"type": "Point", "coordinates": [139.31, 35.40, 12.5]}, id="z")),
        ),
    )
    assert any("Z" in n["en"] for n in result.notes)
    (dims, x) = query(
        app_engine,
        "SELECT ST_NDims(f.geom), ST_X(f.geom) FROM gis.feature f JOIN gis.layer l ON l.id = f.layer_id WHERE l.slug = :s",
        s=slug,
    )[0]
    assert dims == 2 and x == 139.31


def test_swapped_axis_outside_japan_is_refused(app_engine, dept, tmp_path):
    slug = make_layer(app_engine, "rules-bad", "generic", dept)
    doc = _fc(
        _feature(POINT, id="ok2"), _feature({"type": "Point", "coordinates": [35.40, 139.31]}, id="swapped")
    )
    e = _refused(app_engine, slug, _write(tmp_path, "swap.geojson", doc))
    assert [p.row for p in e.rejected] == [2] and "swapped" in e.rejected[0].reason_en
    assert "入れ替わっている" in e.rejected[0].reason_ja


def test_csv_with_broken_encoding(app_engine, dept, tmp_path):
    slug = make_layer(app_engine, "rules-shelter-bad", "shelter", dept)
    raw = "名称,緯度,経度\r\n公民館,35.4,139.3\r\n".encode() + b"\x81\x20bad,35.4,139.3\r\n"
    assert (
        _refused(app_engine, slug, _write(tmp_path, "broken.csv", raw), "shelter").code == "broken_encoding"
    )


def test_every_bad_row_is_listed_and_nothing_is_stored(app_engine, dept, tmp_path):
    slug = make_layer(app_engine, "rules-shelter-bad", "shelter", dept)
    raw = "ID,名称,緯度,経度,災害種別_洪水\r\nA,公民館,35.4,139.3,1\r\nB,体育館,北緯,139.3,\r\nC,,35.4,139.3,○\r\nD,学校,35.4,139.3,たぶん\r\n"
    e = _refused(app_engine, slug, _write(tmp_path, "rows.csv", raw.encode("cp932")), "shelter")
    assert [p.row for p in e.rejected] == [2, 3, 4]
    assert all(p.reason_ja and p.reason_en for p in e.rejected)


def test_file_over_the_size_limit_is_refused_before_reading(app_engine, dept, tmp_path, monkeypatch):
    from layers.importers import read

    slug = make_layer(app_engine, "rules-bad", "generic", dept)
    path = _write(tmp_path, "big.geojson", _fc(_feature(POINT, id="big")))
    monkeypatch.setattr(read, "MAX_IMPORT_BYTES", path.stat().st_size - 1)
    assert _refused(app_engine, slug, path).code == "file_too_large"


# --- round trip ------------------------------------------------------------------------------------
SHELTER_ROW = """SELECT s.code, s.name, s.address, s.capacity, s.is_designated_shelter, s.suits_flood, s.suits_landslide,
       s.suits_storm_surge, s.suits_earthquake, s.suits_tsunami, s.suits_fire, s.suits_inland_flood, s.suits_volcano,
       s.attributes, ST_AsText(s.geom) FROM gis.shelter s JOIN gis.layer l ON l.id = s.layer_id WHERE l.slug = :s ORDER BY s.code"""


@pytest.mark.parametrize("encoding", ["cp932", "utf-8"])
def test_shelter_csv_export_round_trip(app_engine, dept, tmp_path, encoding):
    from sqlalchemy import text

    from gisapp.db import transaction

    source = shared_data("shelters", "122033_103_evacuation_space.csv")
    first = make_layer(app_engine, f"rt-a-{encoding}", "shelter", dept)
    second = make_layer(app_engine, f"rt-b-{encoding}", "shelter", dept)
    run_import(app_engine, first, source)
    with transaction(app_engine, ["admin"]) as conn:
        layer_id = conn.execute(text("SELECT id FROM gis.layer WHERE slug = :s"), {"s": first}).scalar_one()
        data = encode(shelters_csv(conn, layer_id), encoding)
    out = _write(tmp_path, "export.csv", data)
    result = run_import(app_engine, second, out)
    # UTF-8 goes out with a BOM (for Excel), which the importer reads as such.
    assert result.encoding == {"utf-8": "utf-8-sig"}.get(encoding, encoding)
    assert result.counts["inserted"] == 121
    assert query(app_engine, SHELTER_ROW, s=first) == query(app_engine, SHELTER_ROW, s=second)
    if encoding == "cp932":  # the standard layout written back is the city's file, byte for byte
        assert data == source.read_bytes()


# --- formats without a shared sample ----------------------------------------------------------------
def test_geopackage_in_a_plane_rectangular_zone(app_engine, dept, tmp_path):
    import geopandas as gpd
    from pyproj import Transformer
    from shapely import LineString

    x, y = Transformer.from_crs("EPSG:4326", "EPSG:6677", always_xy=True).transform(139.3158, 35.4027)
    frame = gpd.GeoDataFrame({"路線番号": ["R-1"], "路線名": ["市道1号線"]},
                             geometry=[LineString([(x, y), (x + 100, y)])], crs="EPSG:6677")  # fmt: skip
    path = tmp_path / "roads.gpkg"
    frame.to_file(path, driver="GPKG")
    slug = make_layer(app_engine, "rules-gpkg", "road_segment", dept)
    result = run_import(app_engine, slug, path)
    assert result.source_crs == "EPSG:6677" and result.counts["inserted"] == 1
    (name, length, d) = query(app_engine, """SELECT r.route_name, r.length_m,
        ST_Distance(r.geom::geography, ST_SetSRID(ST_MakePoint(139.3158, 35.4027), 4326)::geography)
        FROM gis.road_segment r JOIN gis.layer l ON l.id = r.layer_id WHERE l.slug = :s AND r.route_no = 'R-1'""", s=slug)[0]  # fmt: skip
    assert name == "市道1号線" and d < 0.01 and abs(float(length) - 100) < 1  # zone IX metres ≈ ground metres


@pytest.mark.parametrize("encoding", ["cp932", "utf-8"])
def test_shapefile_without_cpg_detects_the_encoding(app_engine, dept, tmp_path, encoding):
    import zipfile

    import geopandas as gpd
    from shapely import Point

    frame = gpd.GeoDataFrame({"名称": ["伊勢原市役所"]}, geometry=[Point(139.3158, 35.4027)], crs="EPSG:6668")
    frame.to_file(tmp_path / "s.shp", encoding=encoding)
    archive = tmp_path / "s.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for ext in (".shp", ".shx", ".dbf", ".prj"):  # no .cpg
            zf.write(tmp_path / f"s{ext}", f"s{ext}")
    slug = make_layer(app_engine, f"rules-shp-{encoding}", "generic", dept)
    result = run_import(app_engine, slug, archive)
    assert result.encoding == encoding
    (name,) = query(
        app_engine,
        "SELECT f.properties->>'名称' FROM gis.feature f JOIN gis.layer l ON l.id = f.layer_id WHERE l.slug = :s",
        s=slug,
    )[0]
    assert name == "伊勢原市役所"


def test_municipal_standard_csv_in_utf8_with_bom_reads_the_same(app_engine, dept, tmp_path):
    source = shared_data("shelters", "122033_103_evacuation_space.csv")
    bom = _write(tmp_path, "bom.csv", b"\xef\xbb\xbf" + source.read_bytes().decode("cp932").encode("utf-8"))
    a = make_layer(app_engine, "rules-cp932", "shelter", dept)
    b = make_layer(app_engine, "rules-bom", "shelter", dept)
    run_import(app_engine, a, source)
    assert run_import(app_engine, b, bom).encoding == "utf-8-sig"
    assert query(app_engine, SHELTER_ROW, s=a) == query(app_engine, SHELTER_ROW, s=b)


def test_unsupported_kind_is_refused(app_engine, dept, tmp_path):
    slug = make_layer(app_engine, "rules-people", "person_needing_help", dept, visibility="restricted")
    path = _write(tmp_path, "p.geojson", _fc(_feature(POINT, id="x")))
    with pytest.raises(ImportRejected) as err:
        run_import(app_engine, slug, path)
    assert err.value.code == "unsupported_kind"


def test_sewer_ledger_with_japanese_columns(app_engine, dept, tmp_path):
    slug = make_layer(app_engine, "rules-sewer", "sewer_pipe", dept)
    line = {"type": "LineString", "coordinates": [[139.3100, 35.4000], [139.3110, 35.4000]]}
    pipes = [
        _feature(
            line, 管渠番号="S-1", 排除方式="汚水", 管種="VU", 管径="２５０", 布設年度=1998, 備考="点検済"
        ),
        _feature(line, 管渠番号="S-2", 排除方式="雨水", 管種="HP", 管径=600, 布設年度=2005),
    ]
    result = run_import(app_engine, slug, _write(tmp_path, "sewer.geojson", _fc(*pipes)))
    assert result.counts["inserted"] == 2
    rows = query(
        app_engine,
        "SELECT pipe_no, pipe_use, material, diameter_mm, laid_year, length_m, attributes->>'備考'"
        " FROM gis.sewer_pipe p JOIN gis.layer l ON l.id = p.layer_id WHERE l.slug = :s ORDER BY pipe_no",
        s=slug,
    )
    assert [tuple(r[:5]) for r in rows] == [
        ("S-1", "汚水", "VU", 250, 1998),
        ("S-2", "雨水", "HP", 600, 2005),
    ]
    assert 85 < float(rows[0][5]) < 95  # 0.001° of longitude at 35.4° N ≈ 90.8 m, measured by PostGIS
    assert rows[0][6] == "点検済"
    again = run_import(app_engine, slug, _write(tmp_path, "sewer.geojson", _fc(*pipes)))
    assert again.counts["unchanged"] == 2

    bad = [_feature(line, 管渠番号="S-3", 排除方式="下水?", 管径=300), _feature(line, 管径=300),
           _feature(line, 管渠番号="S-5", 布設年度=10)]  # fmt: skip
    e = _refused(app_engine, slug, _write(tmp_path, "bad.geojson", _fc(*bad)), kind="sewer_pipe")
    assert [p.row for p in e.rejected] == [1, 2, 3]
    assert "排除方式" in e.rejected[0].reason_ja and "pipe number" in e.rejected[1].reason_en


def test_invalid_part_of_a_multipolygon_is_repaired_keeping_the_rest(app_engine, dept, tmp_path):
    slug = make_layer(app_engine, "rules-multi", "generic", dept)
    square = [[139.40, 35.40], [139.41, 35.40], [139.41, 35.41], [139.40, 35.41], [139.40, 35.40]]
    bow_tie = [[139.30, 35.40], [139.31, 35.41], [139.31, 35.40], [139.30, 35.41], [139.30, 35.40]]
    geometry = {"type": "MultiPolygon", "coordinates": [[square], [bow_tie]]}
    result = run_import(app_engine, slug, _write(tmp_path, "multi.geojson", _fc(_feature(geometry, id="m"))))
    assert [p["row"] for p in result.repaired] == [1]
    (parts, covers) = query(app_engine, """SELECT ST_NumGeometries(f.geom),
        ST_Covers(f.geom, ST_GeomFromText('POLYGON((139.40 35.40, 139.41 35.40, 139.41 35.41, 139.40 35.41, 139.40 35.40))', 4326))
        FROM gis.feature f JOIN gis.layer l ON l.id = f.layer_id WHERE l.slug = :s""", s=slug)[0]  # fmt: skip
    assert parts == 3 and covers  # the square untouched, the bow-tie split in two triangles


def test_geojson_feature_ids_are_the_key(app_engine, dept, tmp_path):
    slug = make_layer(app_engine, "rules-ids", "generic", dept)
    doc = _fc(*({**_feature(POINT, 名前=f"点{i}"), "id": 100 + i} for i in range(3)))
    run_import(app_engine, slug, _write(tmp_path, "ids.geojson", doc))
    doc["features"][1]["properties"]["名前"] = "変更"
    again = run_import(app_engine, slug, _write(tmp_path, "ids2.geojson", doc))
    assert again.counts == {"read": 3, "inserted": 0, "updated": 1, "unchanged": 2, "deleted": 0}
    keys = query(
        app_engine,
        "SELECT f.source_key, f.properties->>'名前' FROM gis.feature f JOIN gis.layer l ON l.id = f.layer_id WHERE l.slug = :s ORDER BY 1",
        s=slug,
    )
    assert keys == [("100", "点0"), ("101", "変更"), ("102", "点2")]


@pytest.mark.parametrize(
    ("name", "data"),
    [("a.gml", b"<x>not citygml</x>"), ("a.osm", b"<osm><node id='1' lat='x'"), ("a.zip", b"PK\x03\x04junk"),
     ("a.gpkg", b"SQLite format 3\x00junk"), ("a.csv", "名称,緯度\r\nx,1\r\n".encode()), ("a.txt", b"?")],
)  # fmt: skip
def test_malformed_files_of_every_format_are_refused(app_engine, dept, tmp_path, name, data):
    slug = make_layer(app_engine, "rules-bad", "generic", dept)
    e = _refused(app_engine, slug, _write(tmp_path, name, data))
    assert e.code in ("unreadable_file", "unknown_format")
