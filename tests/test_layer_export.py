"""Open-data downloads (issue 15, item 5): the GeoPackage keeps a source column named FID and types
dates, date-times, integers and booleans; CSVs are labelled with their real charset (CP932 is
Windows-31J) and UTF-8 starts with a BOM; file names carry the Japanese title (RFC 5987); the
自治体標準 shelter CSV takes 全国地方公共団体コード and 地方公共団体名 from the city's settings and round-trips."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from urllib.parse import quote

import pyogrio
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, text

from common import lgcode
from gisapp.db import set_roles
from gisapp.settings import Settings, get_settings
from tests.fixtures_data import seed
from tests.support import shared_data
from tests.test_import_data import make_layer, query, run_import

ATTRS = "export-typed"
SHELTERS = "export-shelters"
ROWS = [  # FID as a city's GIS wrote it (from 0), dates and times, an integer with a gap, a flag
    {"FID": 0, "日付": "2024-05-01", "更新": "2024-05-01T09:30:00+09:00", "件数": 3, "率": 0.5, "済": True,
     "名称": "一", "extra": {"a": 1}},
    {"FID": 1, "日付": "2024-06-30", "更新": "2024-06-30T00:00:00Z", "件数": None, "率": 2, "済": False,
     "名称": "二"},
    {"FID": 2, "日付": None, "更新": "2024-07-01T12:00:00+09:00", "件数": 7, "率": 1.25, "済": None,
     "名称": "三"},
]  # fmt: skip


@pytest.fixture(scope="module")
def layers(app_engine: Engine) -> dict[str, list[int]]:
    dept = seed(app_engine, "export").dept_id
    make_layer(app_engine, ATTRS, "generic", dept, "public")
    with app_engine.begin() as conn:
        set_roles(conn, ["admin"])
        for i, props in enumerate(ROWS):
            conn.execute(
                text(
                    """INSERT INTO gis.feature (layer_id, source_key, properties, geom)
                       SELECT id, :k, CAST(:p AS jsonb), ST_SetSRID(ST_MakePoint(139.3 + :i / 100.0, 35.4), 4326)
                       FROM gis.layer WHERE slug = :s ON CONFLICT (layer_id, source_key) DO NOTHING"""
                ),
                {"k": f"r{i}", "p": json.dumps(props), "i": i, "s": ATTRS},
            )
        ids = conn.execute(
            text("SELECT f.id FROM gis.feature f JOIN gis.layer l ON l.id = f.layer_id WHERE l.slug = :s ORDER BY f.id"),
            {"s": ATTRS},
        ).scalars().all()  # fmt: skip
    make_layer(app_engine, SHELTERS, "shelter", dept, "public")
    if not query(app_engine, "SELECT 1 FROM gis.shelter s JOIN gis.layer l ON l.id = s.layer_id WHERE l.slug = :s",
                 s=SHELTERS):  # fmt: skip
        # 焼津市's list of 指定緊急避難場所: keyed by the city, no 全国地方公共団体コード / 地方公共団体名 columns.
        run_import(app_engine, SHELTERS, shared_data("shelters", "222127_evacuation_space.csv"))
    return {ATTRS: ids}


def test_geopackage_keeps_a_source_fid_column_and_our_feature_ids(layers, public_client, tmp_path):
    r = public_client.get(f"/api/public/layers/{ATTRS}/export", params={"format": "gpkg"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/geopackage+sqlite3"
    path = tmp_path / "out.gpkg"
    path.write_bytes(r.content)
    info = pyogrio.read_info(path)
    assert "FID" in list(info["fields"])  # a column, not swallowed as the primary key
    db = sqlite3.connect(path)
    key = info["fid_column"]
    got = db.execute(f'SELECT "{key}", "FID", "名称" FROM "{ATTRS}" ORDER BY "{key}"').fetchall()  # noqa: S608
    assert got == [(fid, row["FID"], row["名称"]) for fid, row in zip(layers[ATTRS], ROWS, strict=True)]


def test_geopackage_types_dates_times_integers_and_flags(layers, public_client, tmp_path):
    path = tmp_path / "out.gpkg"
    path.write_bytes(
        public_client.get(f"/api/public/layers/{ATTRS}/export", params={"format": "gpkg"}).content
    )
    declared = {row[1]: row[2] for row in sqlite3.connect(path).execute(f'PRAGMA table_info("{ATTRS}")')}
    assert declared["日付"] == "DATE" and declared["更新"] == "DATETIME"
    assert declared["件数"] == "INTEGER" and declared["FID"] == "INTEGER" and declared["済"] == "BOOLEAN"
    assert declared["率"] == "REAL" and declared["名称"] == "TEXT" and declared["extra"] == "TEXT"
    df = pyogrio.read_dataframe(path, datetime_as_string=True).sort_values("FID")
    assert list(df["日付"].fillna("")) == ["2024-05-01", "2024-06-30", ""]
    # GeoPackage DATETIME is UTC: 09:30 in Japan is 00:30Z.
    assert df["更新"].iloc[0].startswith("2024-05-01T00:30:00") and df["更新"].iloc[0].endswith("Z")
    assert df["件数"].iloc[0] == 3 and df["件数"].isna().iloc[1]
    assert json.loads(df["extra"].iloc[0]) == {"a": 1}


def test_csv_charset_labels_bom_and_japanese_file_name(layers, public_client, app_engine):
    (title,) = query(app_engine, "SELECT title_ja FROM gis.layer WHERE slug = :s", s=SHELTERS)[0]
    cp932 = public_client.get(
        f"/api/public/layers/{SHELTERS}/export", params={"format": "csv", "encoding": "cp932"}
    )
    assert cp932.status_code == 200
    assert cp932.headers["content-type"] == "text/csv; charset=Windows-31J"
    assert not cp932.content.startswith(b"\xef\xbb\xbf")
    utf8 = public_client.get(f"/api/public/layers/{SHELTERS}/export", params={"format": "csv"})
    assert utf8.headers["content-type"] == "text/csv; charset=utf-8"
    assert utf8.content.startswith(b"\xef\xbb\xbf")  # Excel reads BOM-less UTF-8 as CP932
    assert utf8.content[3:].decode("utf-8") == cp932.content.decode("cp932")
    disposition = utf8.headers["content-disposition"]
    assert f'filename="{SHELTERS}.csv"' in disposition
    assert f"filename*=UTF-8''{quote(title + '.csv', safe='')}" in disposition


def test_standard_csv_takes_the_city_code_and_name_and_round_trips(
    layers, public_client, app_engine, tmp_path
):
    settings = get_settings()
    r = public_client.get(f"/api/public/layers/{SHELTERS}/export", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == 31
    assert {row["全国地方公共団体コード"] for row in rows} == {settings.municipality_code}
    assert {row["地方公共団体名"] for row in rows} == {settings.prefecture_name + settings.municipality_name}
    assert lgcode.is_valid(rows[0]["全国地方公共団体コード"])
    copy = tmp_path / "copy.csv"
    copy.write_bytes(r.content)
    again = make_layer(app_engine, f"{SHELTERS}-copy", "shelter", seed(app_engine, "export").dept_id)
    with app_engine.begin() as conn:
        set_roles(conn, ["admin"])
        conn.execute(
            text("DELETE FROM gis.shelter s USING gis.layer l WHERE l.id = s.layer_id AND l.slug = :s"),
            {"s": again},
        )
    run_import(app_engine, again, copy)
    same = """SELECT s.code, s.name, s.address, s.capacity, s.is_designated_shelter, s.suits_flood, s.suits_tsunami,
                     s.suits_earthquake, ST_AsText(s.geom) FROM gis.shelter s JOIN gis.layer l ON l.id = s.layer_id
              WHERE l.slug = :s ORDER BY s.code"""  # fmt: skip
    assert query(app_engine, same, s=SHELTERS) == query(app_engine, same, s=again)
    filled = query(app_engine, """SELECT DISTINCT s.attributes->>'全国地方公共団体コード', s.attributes->>'地方公共団体名'
                                  FROM gis.shelter s JOIN gis.layer l ON l.id = s.layer_id WHERE l.slug = :s""", s=again)  # fmt: skip
    assert filled == [(settings.municipality_code, settings.prefecture_name + settings.municipality_name)]


@pytest.mark.parametrize(("code", "ok"), [("142140", True), ("222127", True), ("011002", True), ("142141", False),
                                          ("14214", False), ("１４２１４０", False)])  # fmt: skip
def test_municipality_code_check_digit(monkeypatch, code, ok):
    monkeypatch.setenv("GISAPP_MUNICIPALITY_CODE", code)
    if ok:
        assert Settings().municipality_code == code
    else:
        with pytest.raises(ValidationError):
            Settings()


def test_geopackage_names_never_collide(tmp_path):
    """Attributes named like our key or the geometry column, or differing only in case, all arrive."""
    from layers.export import geopackage

    props = {"gpkg_fid": 5, "geom": "g", "fid": 0, "FID": 1, "big": 2**70}
    fc = {
        "features": [
            {"id": 7, "geometry": {"type": "Point", "coordinates": [139.3, 35.4]}, "properties": props}
        ]
    }
    path = tmp_path / "names.gpkg"
    path.write_bytes(geopackage(fc, "names"))
    info = pyogrio.read_info(path)
    assert list(info["fields"]) == ["gpkg_fid", "geom", "fid", "FID_2", "big"]
    assert (info["fid_column"], info["geometry_name"]) == ("gpkg_fid_2", "geom_2")
    got = (
        sqlite3.connect(path)
        .execute('SELECT gpkg_fid_2, gpkg_fid, geom, fid, "FID_2", big FROM names')
        .fetchone()
    )
    assert got == (7, 5, "g", 0, 1, str(2**70))  # a number beyond 64 bits stays exact, as text
