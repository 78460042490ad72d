"""Every attribute of a layer in its vector tiles (issue 15, item 3): real files imported (焼津市 緊急輸送路
Shapefile as a generic layer, 焼津市 避難所 CSV as a shelter layer whose extra columns live in
``attributes``), tiles decoded by GDAL's MVT driver, values and types checked against the database;
``?properties=`` chooses, unknown names are refused, and the choice keys the cache and the warm path."""

from __future__ import annotations

import json
import zipfile

import pytest
from sqlalchemy import Engine, text

from gisapp.db import set_roles
from tests.fixtures_data import seed
from tests.support import shared_data, wait_until
from tests.test_import_data import make_layer, query, run_import
from tests.test_tiles import decode, tile_of, url

ROADS = "tattr-yaizu-roads"
SHELTERS = "tattr-yaizu-shelters"
HAND = "tattr-typed"
HAND_POINT = (138.30, 34.85)
HAND_PROPS = {
    "文字": "浸水区",
    "count": 42,
    "below": -7,
    "depth": 2.5,
    "open": True,
    "nested": {"a": [1, 2]},
    "list": [1, "x"],
    "none": None,
}


@pytest.fixture(scope="module")
def layers(app_engine: Engine, tmp_path_factory) -> None:
    dept = seed(app_engine, "tattr").dept_id
    folder = shared_data("roads", "yaizu_emergency_transport")
    archive = tmp_path_factory.mktemp("tattr") / "一次緊急輸送路.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
            zf.write(folder / f"一次緊急輸送路{ext}", f"一次緊急輸送路{ext}")
    make_layer(app_engine, ROADS, "generic", dept, "public")
    if not query(app_engine, "SELECT 1 FROM gis.feature f JOIN gis.layer l ON l.id = f.layer_id WHERE l.slug = :s",
                 s=ROADS):  # fmt: skip
        run_import(app_engine, ROADS, archive)
    make_layer(app_engine, SHELTERS, "shelter", dept, "public")
    if not query(app_engine, "SELECT 1 FROM gis.shelter f JOIN gis.layer l ON l.id = f.layer_id WHERE l.slug = :s",
                 s=SHELTERS):  # fmt: skip
        run_import(app_engine, SHELTERS, shared_data("shelters", "222127_hinannjo.csv"))
    make_layer(app_engine, HAND, "generic", dept, "public")
    with app_engine.begin() as conn:
        set_roles(conn, ["admin"])
        conn.execute(
            text(
                """INSERT INTO gis.feature (layer_id, source_key, properties, geom)
                   SELECT id, 'typed', CAST(:p AS jsonb), ST_SetSRID(ST_MakePoint(:x, :y), 4326)
                   FROM gis.layer WHERE slug = :s ON CONFLICT (layer_id, source_key) DO NOTHING"""
            ),
            {"p": json.dumps(HAND_PROPS), "x": HAND_POINT[0], "y": HAND_POINT[1], "s": HAND},
        )


def _first_feature(engine: Engine, table: str, slug: str, column: str):
    sql = (
        f"SELECT t.id, t.{column}, ST_X(ST_PointOnSurface(t.geom)), ST_Y(ST_PointOnSurface(t.geom))"  # noqa: S608 (constants)
        f" FROM {table} t JOIN gis.layer l ON l.id = t.layer_id WHERE l.slug = :s ORDER BY t.id LIMIT 1"
    )
    return query(engine, sql, s=slug)[0]


def _tile(client, slug: str, lon: float, lat: float, tmp_path, z: int = 15, **params):
    x, y = tile_of(lon, lat, z)
    r = client.get(url(slug, z, x, y), params=params)
    assert r.status_code == 200, r.text
    return r, decode(r.content, z, x, y, slug, tmp_path)


def test_imported_shapefile_attributes_are_in_its_tiles_typed(layers, public_client, app_engine, tmp_path):
    fid, props, lon, lat = _first_feature(app_engine, "gis.feature", ROADS, "properties")
    assert isinstance(props["item1"], int) and props["item2"]  # the DBF's Integer and String fields
    _, got = _tile(public_client, ROADS, lon, lat, tmp_path)
    feature = got.loc[fid]
    for key, value in props.items():
        if value is None:
            assert key not in got.columns or feature[key] is None or feature[key] != feature[key]
        else:
            assert feature[key] == value, key
    assert str(got["item1"].dtype).startswith("int")  # an MVT integer, not the string "1"
    assert all(isinstance(v, str) for v in got["item2"].dropna())


def test_typed_kind_carries_its_extra_source_columns(layers, public_client, app_engine, tmp_path):
    fid, attributes, lon, lat = _first_feature(app_engine, "gis.shelter", SHELTERS, "attributes")
    assert attributes["避難所面積平方メートル"] and attributes["名称_カナ"]
    (name,) = query(app_engine, "SELECT name FROM gis.shelter WHERE id = :i", i=fid)[0]
    _, got = _tile(public_client, SHELTERS, lon, lat, tmp_path)
    feature = got.loc[fid]
    assert feature["name"] == name  # the typed column
    for key, value in attributes.items():
        if value not in (None, ""):
            assert feature[key] == value, key


def test_json_types_become_mvt_types(layers, public_client, tmp_path):
    _, got = _tile(public_client, HAND, *HAND_POINT, tmp_path)
    feature = got.iloc[0]
    assert feature["文字"] == "浸水区"
    assert feature["count"] == 42 and str(got["count"].dtype).startswith("int")
    assert feature["below"] == -7 and str(got["below"].dtype).startswith("int")
    assert feature["depth"] == 2.5 and got["depth"].dtype == "float64"
    assert bool(feature["open"]) is True and got["open"].dtype == bool
    # MVT has no nested values: objects and arrays travel as their JSON text.
    assert json.loads(feature["nested"]) == {"a": [1, 2]}
    assert json.loads(feature["list"]) == [1, "x"]
    assert "none" not in got.columns  # JSON null: no value (MVT has no null)


def test_properties_choose_and_key_the_cache_and_the_warm_path(layers, public_client, tmp_path):
    directory = public_client.app.state.layer_directory
    wait_until(lambda: directory.layers is not None and HAND in directory.layers, 10)
    full, got = _tile(public_client, HAND, *HAND_POINT, tmp_path)
    assert {"count", "depth", "nested"} <= set(got.columns)
    chosen, got = _tile(public_client, HAND, *HAND_POINT, tmp_path, properties="depth,文字")
    assert set(got.columns) - {"geometry"} == {"depth", "文字"}
    assert chosen.headers["etag"] != full.headers["etag"]
    served = directory.served
    again, got = _tile(public_client, HAND, *HAND_POINT, tmp_path, properties="文字,depth")  # same choice
    assert directory.served == served + 1  # answered by the warm path, from the chosen tile
    assert again.content == chosen.content and again.headers["etag"] == chosen.headers["etag"]
    none, got = _tile(public_client, HAND, *HAND_POINT, tmp_path, properties="")
    assert set(got.columns) == {"geometry"}


def test_typed_kind_properties_choose_columns_and_extras(layers, client, app_engine, tmp_path):
    fid, _, lon, lat = _first_feature(app_engine, "gis.shelter", SHELTERS, "attributes")
    _, got = _tile(client, SHELTERS, lon, lat, tmp_path, properties="name,名称_カナ")
    assert set(got.columns) - {"geometry"} == {"name", "名称_カナ"}


def test_unknown_properties_are_400_in_both_languages(layers, client, public_client):
    x, y = tile_of(*HAND_POINT, 15)
    for c in (client, public_client):
        r = c.get(url(HAND, 15, x, y), params={"properties": "depth,nothere"})
        assert r.status_code == 400, r.text
        body = r.text
        assert "nothere" in body and "このレイヤーにない属性" in body and "no such properties" in body


def test_tilejson_lists_the_fields(layers, public_client):
    meta = public_client.get(f"/ogc/collections/{HAND}/tiles/WebMercatorQuad").json()
    fields = meta["vector_layers"][0]["fields"]
    assert set(HAND_PROPS) <= set(fields)
