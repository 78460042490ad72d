"""Our conformance suite for OGC API – Features Part 3: Filtering (OGC 19-079r2) with CQL2 (OGC 21-065r2),
requirement by requirement: each test names the requirement(s) it checks. Answers are compared with an
independent computation: the same predicate done in Python (shapely for geometries) over every feature
of the collection read without a filter, or counts from SQL written here.

The world: a generic layer of our own with points, lines and polygons and properties of each JSON type
(plus a key of mixed type), the demo's shelters (typed columns) and its people needing help (the one
kind with a timestamp, restricted: read by a welfare account on the internal instance).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from openapi_spec_validator import validate
from pyproj import Transformer
from shapely import wkt
from shapely.geometry import LineString, box, shape
from sqlalchemy import Engine, text

from gisapp.ogc.documents import CONFORMANCE
from tests.fixtures_data import Seed, seed
from tests.support import count

TAG = "cqlf"
CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf/"
FEATURES3 = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/"
CATEGORIES = ("避難所", "公園", "学校", "Park", "park", "PARK")


@dataclass
class World:
    seed: Seed
    slug: str  # the generic layer (public)
    features: dict[int, dict]  # id -> feature (CRS84), read without a filter
    welfare: dict[str, str]
    shelters: str  # a public layer of shelters (typed columns)
    people: str  # a restricted layer of people needing help, with known timestamps
    stamps: dict[int, datetime]  # its feature id -> updated_at
    base: datetime


def _geometry(i: int) -> str:
    # Rounded, so the stored doubles are the ones GeoJSON writes back (7 decimals): the oracle and
    # PostGIS then decide points on edges the same way.
    x, y = round(139.28 + 0.002 * i, 4), round(35.38 + 0.001 * (i % 7), 4)
    if i % 3 == 0:
        return f"POINT({x} {y})"
    if i % 3 == 1:
        x2, y2, x3, y3 = round(x + 0.003, 4), round(y + 0.002, 4), round(x + 0.004, 4), round(y - 0.001, 4)
        return f"LINESTRING({x} {y}, {x2} {y2}, {x3} {y3})"
    x2, y2 = round(x + 0.0015, 4), round(y + 0.0015, 4)
    return f"POLYGON(({x} {y}, {x2} {y}, {x2} {y2}, {x} {y2}, {x} {y}))"


def _properties(i: int) -> dict:
    props: dict = {"name": f"地点{i:02d}", "category": CATEGORIES[i % len(CATEGORIES)], "open": i % 2 == 0}
    if i % 11:
        props["floors"] = i % 5  # missing on every 11th: IS NULL
    props["height"] = (i * 7) % 13 / 2  # a second number: property-property comparisons
    props["note"] = f"n{i}" if i % 2 else i  # mixed types: compared as text
    if i == 4:
        props["name"] = "it's 50%_off"  # a quote and LIKE's wildcards as data
    return props


@pytest.fixture(scope="module")
def world(app_engine: Engine, public_client, client) -> World:
    seeded = seed(app_engine, TAG)
    slug = f"{TAG}-mixed-{secrets.token_hex(3)}"
    with app_engine.begin() as conn:
        conn.execute(text("SELECT set_config('gisapp.roles', 'admin', true)"))
        layer_id = conn.execute(
            text(
                """INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind,
                                          geometry_type)
                   VALUES (:s, '絞り込み試験', 'Filter test', :d, 'public', 'generic', 'Geometry') RETURNING id"""
            ),
            {"s": slug, "d": seeded.dept_id},
        ).scalar_one()
        for i in range(36):
            conn.execute(
                text(
                    """INSERT INTO gis.feature (layer_id, source_key, properties, geom)
                       VALUES (:l, :k, CAST(:p AS jsonb), ST_GeomFromText(:g, 4326))"""
                ),
                {"l": layer_id, "k": f"f{i}", "p": json.dumps(_properties(i)), "g": _geometry(i)},
            )
        shelters = f"{TAG}-shelters-{secrets.token_hex(3)}"
        shelter_layer = conn.execute(
            text(
                """INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind,
                                          geometry_type)
                   VALUES (:s, '避難所試験', 'Shelter test', :d, 'public', 'shelter', 'Point') RETURNING id"""
            ),
            {"s": shelters, "d": seeded.dept_id},
        ).scalar_one()
        for n in range(20):
            conn.execute(
                text(
                    """INSERT INTO gis.shelter (layer_id, code, name, capacity, suits_flood, geom)
                       VALUES (:l, :c, :n, :cap, :fl, ST_SetSRID(ST_MakePoint(:x, 35.39), 4326))"""
                ),
                {"l": shelter_layer, "c": f"s{n}", "n": f"避難所{n}", "cap": (n * 37) % 250, "fl": n % 3 == 0,
                 "x": 139.28 + n / 1000},
            )  # fmt: skip
        people = f"{TAG}-people-{secrets.token_hex(3)}"
        people_id = conn.execute(
            text(
                """INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind,
                                          geometry_type)
                   VALUES (:s, '要支援者試験', 'People test', :d, 'restricted', 'person_needing_help', 'Point')
                   RETURNING id"""
            ),
            {"s": people, "d": seeded.dept_id},
        ).scalar_one()
        base = datetime(2026, 11, 20, tzinfo=UTC)
        stamps = {}
        for n in range(8):  # every 7 hours: over three days
            pid = conn.execute(
                text(
                    """INSERT INTO restricted.person_needing_help
                         (layer_id, external_id, name, care_category, consent, geom, updated_at)
                       VALUES (:l, :e, :n, '要介護1', true, ST_SetSRID(ST_MakePoint(139.3, 35.39), 4326), :t)
                       RETURNING id"""
                ),
                {"l": people_id, "e": f"{TAG}-{n}", "n": f"試験 {n}", "t": base + timedelta(hours=7 * n)},
            ).scalar_one()
            stamps[pid] = base + timedelta(hours=7 * n)
    r = public_client.get(f"/ogc/collections/{slug}/items", params={"limit": 1000})
    assert r.status_code == 200, r.text
    features = {f["id"]: f for f in r.json()["features"]}
    assert len(features) == 36
    return World(seeded, slug, features, seeded.bearer(client, "welfare"), shelters, people, stamps, base)


def items(c, slug: str, headers: dict | None = None, **params) -> dict:
    r = c.get(f"/ogc/collections/{slug}/items", params={"limit": 1000, **params}, headers=headers)
    assert r.status_code == 200, r.text
    fc = r.json()
    assert fc["numberMatched"] == fc["numberReturned"] == len(fc["features"])
    return fc


def ids(c, slug: str, headers: dict | None = None, **params) -> set[int]:
    return {f["id"] for f in items(c, slug, headers, **params)["features"]}


def expect(world: World, predicate: Callable[[dict, object], bool]) -> set[int]:
    """The oracle: the predicate in Python over (properties, shapely geometry) of every feature."""
    return {i for i, f in world.features.items() if predicate(f["properties"], shape(f["geometry"]))}


def assert_400(r, *words: str) -> dict:
    assert r.status_code == 400, r.text
    body = r.json()["error"]
    assert body["message_ja"] and body["message_en"]
    for word in words:
        assert word in body["message_en"] or word in json.dumps(body, ensure_ascii=False), body
    return body


# --- Part 3: queryables, parameters, conformance ------------------------------------------------
def test_req_queryables_get_queryables_response(public_client, world):
    """/req/queryables/get-queryables-op, /req/queryables/get-queryables-response (A, B) and
    /req/queryables/queryables-link: a JSON Schema of the queryables, the geometry among them."""
    coll = public_client.get(f"/ogc/collections/{world.slug}").json()
    link = next(lk for lk in coll["links"] if lk["rel"].endswith("/queryables"))
    assert link["type"] == "application/schema+json"
    r = public_client.get(f"/ogc/collections/{world.slug}/queryables")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/schema+json")
    doc = r.json()
    assert doc["$schema"] in (
        "https://json-schema.org/draft/2019-09/schema",
        "https://json-schema.org/draft/2020-12/schema",
    )
    assert doc["$id"] == str(public_client.base_url) + f"/ogc/collections/{world.slug}/queryables"
    assert doc["type"] == "object"
    props = doc["properties"]
    assert props["geometry"]["format"] == "geometry-any"  # this layer mixes geometry types
    assert props["floors"]["type"] == props["height"]["type"] == "number"
    assert props["open"]["type"] == "boolean" and props["name"]["type"] == "string"
    assert "type" not in props["note"]  # mixed: no single type
    page = public_client.get(f"/ogc/collections/{world.slug}/queryables", params={"f": "html"})
    assert page.status_code == 200 and "geometry-any" in page.text and "floors" in page.text
    shelters = public_client.get(f"/ogc/collections/{world.shelters}/queryables").json()["properties"]
    assert shelters["geometry"]["format"] == "geometry-point" and shelters["capacity"]["type"] == "integer"


def test_req_filter_params_in_the_api_definition(public_client, world):
    """/req/filter/filter-param, /req/filter/filter-lang-param (A, B, C), /req/filter/filter-crs-param (A)
    and the conformance declaration of what this suite checks."""
    doc = public_client.get("/ogc/api").json()
    validate(doc)  # still a valid OpenAPI 3.0 document with the new parameters
    op = doc["paths"][f"/collections/{world.slug}/items"]["get"]
    names = {
        doc["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]["name"]
        for p in op["parameters"]
        if "$ref" in p
    }
    assert {"filter", "filter-lang", "filter-crs", "sortby", "properties", "skipGeometry"} <= names
    lang = doc["components"]["parameters"]["filter-lang"]["schema"]
    assert {"cql2-text", "cql2-json"} <= set(lang["enum"]) and lang["default"] == "cql2-text"
    assert doc["components"]["parameters"]["filter"]["schema"]["type"] == "string"
    conf = public_client.get("/ogc/conformance").json()["conformsTo"]
    for cls in ("queryables", "filter", "features-filter"):
        assert FEATURES3 + cls in conf
    for cls in ("cql2-text", "cql2-json", "basic-cql2", "advanced-comparison-operators",
                "case-insensitive-comparison", "basic-spatial-functions", "basic-spatial-functions-plus",
                "spatial-functions", "temporal-functions", "property-property"):  # fmt: skip
        assert CQL2 + cls in conf
    # Only what is implemented and tested here is declared.
    for cls in ("accent-insensitive-comparison", "arithmetic", "array-functions", "functions"):
        assert CQL2 + cls not in CONFORMANCE


# --- Basic CQL2 -----------------------------------------------------------------------------------
BASIC = [
    ("floors = 3", lambda p, g: p.get("floors") == 3),
    ("floors <> 3", lambda p, g: "floors" in p and p["floors"] != 3),
    ("floors < 2", lambda p, g: "floors" in p and p["floors"] < 2),
    ("floors <= 2", lambda p, g: "floors" in p and p["floors"] <= 2),
    ("floors > 2.5", lambda p, g: "floors" in p and p["floors"] > 2.5),
    ("floors >= 4", lambda p, g: "floors" in p and p["floors"] >= 4),
    ("open = TRUE", lambda p, g: p["open"] is True),
    ("open <> true", lambda p, g: p["open"] is False),
    ("category = '公園'", lambda p, g: p["category"] == "公園"),
    ("name > '地点30'", lambda p, g: p["name"] > "地点30"),
    ("name = 'it''s 50%_off'", lambda p, g: p["name"] == "it's 50%_off"),
    ("note = 'n3'", lambda p, g: p["note"] == "n3"),
    ("floors = 1 AND open = false", lambda p, g: p.get("floors") == 1 and not p["open"]),
    ("floors = 1 OR category = 'Park'", lambda p, g: p.get("floors") == 1 or p["category"] == "Park"),
    (
        "NOT (floors = 1 OR open = TRUE)",
        lambda p, g: not (p.get("floors") == 1 or p["open"]) and "floors" in p,
    ),
    (
        "(floors = 0 OR floors = 4) AND NOT open = true",
        lambda p, g: p.get("floors") in (0, 4) and not p["open"],
    ),
    ("TRUE", lambda p, g: True),
    # A value that would be SQL if it were spliced: bound, it is just a name nobody has.
    ("name = 'x'' OR ''1''=''1'' --'", lambda p, g: False),
]


@pytest.mark.parametrize(("cql", "oracle"), BASIC, ids=[c for c, _ in BASIC])
def test_req_basic_cql2_binary_comparison_predicate(public_client, world, cql, oracle):
    """/req/basic-cql2/cql2-filter, /req/basic-cql2/binary-comparison-predicate, /req/filter/response
    (A, B, C) and /req/cql2-text/basic-cql2: an SQL NULL (absent key) is neither TRUE nor selected."""
    expected = expect(world, oracle)
    assert ids(public_client, world.slug, filter=cql) == expected
    # The default filter-lang is cql2-text; naming it changes nothing.
    assert ids(public_client, world.slug, filter=cql, **{"filter-lang": "cql2-text"}) == expected


def test_req_cql2_json_basic_cql2(public_client, world):
    """/req/cql2-json/basic-cql2 and /req/filter/filter-lang-param: the same filters in CQL2 JSON."""
    cases = [
        ({"op": "=", "args": [{"property": "floors"}, 3]}, lambda p, g: p.get("floors") == 3),
        (
            {
                "op": "and",
                "args": [
                    {"op": ">=", "args": [{"property": "floors"}, 2]},
                    {"op": "=", "args": [{"property": "open"}, True]},
                ],
            },
            lambda p, g: p.get("floors", -1) >= 2 and p["open"],
        ),  # fmt: skip
        (
            {"op": "not", "args": [{"op": "=", "args": [{"property": "category"}, "公園"]}]},
            lambda p, g: p["category"] != "公園",
        ),  # fmt: skip
    ]
    for tree, oracle in cases:
        got = ids(public_client, world.slug, filter=json.dumps(tree), **{"filter-lang": "cql2-json"})
        assert got == expect(world, oracle), tree


def test_req_basic_cql2_null_predicate(public_client, world):
    """/req/basic-cql2/null-predicate: IS NULL and IS NOT NULL (an absent key is null)."""
    assert ids(public_client, world.slug, filter="floors IS NULL") == expect(
        world, lambda p, g: "floors" not in p
    )
    assert ids(public_client, world.slug, filter="floors IS NOT NULL") == expect(
        world, lambda p, g: "floors" in p
    )


def test_req_basic_cql2_property_unknown_is_a_400(public_client, world):
    """/req/basic-cql2/property and /req/features-filter/response E: a name that is not a queryable is a
    400 naming it (never an empty answer that looks like "no match")."""
    body = assert_400(
        public_client.get(f"/ogc/collections/{world.slug}/items", params={"filter": "nosuch = 1"}), "nosuch"
    )
    assert body["property"] == "nosuch"
    r = public_client.get(f"/ogc/collections/{world.shelters}/items", params={"filter": "attributes = 'x'"})
    assert_400(r, "attributes")


def test_req_filter_on_typed_columns_both_instances(public_client, client, world, public_engine):
    """/req/filter/response on a typed collection (shelters), on both instances, numberMatched against SQL."""
    expected = count(
        public_engine,
        "SELECT count(*) FROM pub.shelter s JOIN pub.layer l ON l.id = s.layer_id"
        " WHERE l.slug = :s AND s.capacity >= 100 AND s.suits_flood",
        s=world.shelters,
    )
    assert expected > 2
    for c in (public_client, client):
        r = c.get(
            f"/ogc/collections/{world.shelters}/items",
            params={"filter": "capacity >= 100 AND suits_flood = true", "limit": 2},
        )
        assert r.status_code == 200, r.text
        assert r.json()["numberMatched"] == expected
        assert all(f["properties"]["capacity"] >= 100 for f in r.json()["features"])


def test_req_property_property(public_client, world):
    """/req/property-property (cql2-text and cql2-json): a property compared with another property."""
    expected = expect(world, lambda p, g: "floors" in p and p["floors"] < p["height"])
    assert ids(public_client, world.slug, filter="floors < height") == expected
    tree = {"op": "<", "args": [{"property": "floors"}, {"property": "height"}]}
    assert ids(public_client, world.slug, filter=json.dumps(tree), **{"filter-lang": "cql2-json"}) == expected


# --- Advanced comparison, case-insensitive ------------------------------------------------------
ADVANCED = [
    ("name LIKE '地点1%'", lambda p, g: p["name"].startswith("地点1")),
    ("name LIKE '地点_5'", lambda p, g: re.fullmatch("地点.5", p["name"]) is not None),
    ("name NOT LIKE '地点%'", lambda p, g: not p["name"].startswith("地点")),
    ("name LIKE 'it''s 50\\%\\_off'", lambda p, g: p["name"] == "it's 50%_off"),
    ("floors BETWEEN 1 AND 3", lambda p, g: 1 <= p.get("floors", -1) <= 3),
    ("floors NOT BETWEEN 1 AND 3", lambda p, g: "floors" in p and not 1 <= p["floors"] <= 3),
    ("category IN ('公園', '学校')", lambda p, g: p["category"] in ("公園", "学校")),
    ("floors IN (0, 4)", lambda p, g: p.get("floors") in (0, 4)),
    ("category NOT IN ('公園', '学校')", lambda p, g: p["category"] not in ("公園", "学校")),
]


@pytest.mark.parametrize(("cql", "oracle"), ADVANCED, ids=[c for c, _ in ADVANCED])
def test_req_advanced_comparison_operators(public_client, world, cql, oracle):
    """/req/advanced-comparison-operators/like-predicate, /between-predicate, /in-predicate
    (and /req/cql2-text/escaping for the quote and the escaped wildcards)."""
    assert ids(public_client, world.slug, filter=cql) == expect(world, oracle)


def test_req_case_insensitive_comparison_casei_function(public_client, world):
    """/req/case-insensitive-comparison/casei-function: CASEI on both sides, with = and LIKE."""
    expected = expect(world, lambda p, g: p["category"].lower() == "park")
    assert len(expected) > ids(public_client, world.slug, filter="category = 'park'").__len__()
    assert ids(public_client, world.slug, filter="CASEI(category) = casei('PaRk')") == expected
    assert ids(public_client, world.slug, filter="CASEI(category) LIKE casei('PA%')") == expected
    tree = {
        "op": "=",
        "args": [{"op": "casei", "args": [{"property": "category"}]}, {"op": "casei", "args": ["park"]}],
    }
    assert ids(public_client, world.slug, filter=json.dumps(tree), **{"filter-lang": "cql2-json"}) == expected


# --- Spatial ------------------------------------------------------------------------------------
AREA = "POLYGON((139.29 35.379, 139.33 35.379, 139.33 35.3835, 139.29 35.3835, 139.29 35.379))"
LINE = "LINESTRING(139.27 35.3825, 139.36 35.3825)"


def test_req_basic_spatial_functions_s_intersects(public_client, world):
    """/req/basic-spatial-functions/spatial-predicate: S_INTERSECTS with a POINT and a BBOX literal."""
    some = next(f for f in world.features.values() if f["geometry"]["type"] == "Point")
    x, y = some["geometry"]["coordinates"]
    point = f"POINT({x} {y})"
    assert ids(public_client, world.slug, filter=f"S_INTERSECTS(geometry, {point})") == expect(
        world, lambda p, g: g.intersects(wkt.loads(point))
    )
    bbox = (139.30, 35.381, 139.32, 35.384)
    got = ids(public_client, world.slug, filter=f"S_INTERSECTS(geometry, BBOX({', '.join(map(str, bbox))}))")
    expected = expect(world, lambda p, g: g.intersects(box(*bbox)))
    assert got == expected and 0 < len(expected) < len(world.features)
    # "geom" names the same geometry (as tipg and pygeoapi call it).
    assert (
        ids(public_client, world.slug, filter=f"S_INTERSECTS(geom, BBOX({', '.join(map(str, bbox))}))")
        == expected
    )


@pytest.mark.parametrize(
    "literal",
    [
        AREA,
        LINE,
        "MULTIPOLYGON(((139.28 35.38, 139.29 35.38, 139.29 35.39, 139.28 35.38)),"
        " ((139.33 35.38, 139.35 35.38, 139.35 35.39, 139.33 35.38)))",
        "MULTILINESTRING((139.27 35.381, 139.36 35.381), (139.27 35.385, 139.36 35.385))",
        "MULTIPOINT((139.28 35.38), (139.3 35.382))",
        "GEOMETRYCOLLECTION(POINT(139.28 35.38), LINESTRING(139.27 35.384, 139.36 35.384))",
    ],
    ids=["polygon", "linestring", "multipolygon", "multilinestring", "multipoint", "collection"],
)
def test_req_basic_spatial_functions_plus_spatial_data_types(public_client, world, literal):
    """/req/basic-spatial-functions-plus/spatial-data-types: every spatial literal of the BNF."""
    got = ids(public_client, world.slug, filter=f"S_INTERSECTS(geometry, {literal})")
    assert got == expect(world, lambda p, g: g.intersects(wkt.loads(literal)))


@pytest.mark.parametrize("function", ["S_INTERSECTS", "S_DISJOINT", "S_EQUALS", "S_TOUCHES", "S_WITHIN",
                                      "S_OVERLAPS", "S_CROSSES", "S_CONTAINS"])  # fmt: skip
def test_req_spatial_functions(public_client, world, function):
    """/req/spatial-functions/spatial-predicate: every S_* function against shapely's DE-9IM predicates,
    with a polygon, a line and one of the layer's own geometries (so S_EQUALS and S_TOUCHES meet)."""
    method = {"S_INTERSECTS": "intersects", "S_DISJOINT": "disjoint", "S_EQUALS": "equals",
              "S_TOUCHES": "touches", "S_WITHIN": "within", "S_OVERLAPS": "overlaps",
              "S_CROSSES": "crosses", "S_CONTAINS": "contains"}[function]  # fmt: skip
    own = next(f for f in world.features.values() if f["geometry"]["type"] == "Polygon")
    neighbour = LineString(
        shape(own["geometry"]).buffer(0.0004, join_style="mitre").exterior.coords
    )  # around it, touching nothing
    for literal in (AREA, LINE, shape(own["geometry"]).wkt, neighbour.wkt):
        got = ids(public_client, world.slug, filter=f"{function}(geometry, {literal})")
        expected = expect(world, lambda p, g, lit=literal: getattr(g, method)(wkt.loads(lit)))
        assert got == expected, (function, literal)


def test_req_filter_crs_param(public_client, world):
    """/req/filter/filter-crs-param (B, C) and /req/filter/filter-crs-wgs84: geometry literals in the CRS
    named by filter-crs, in its axis order (EPSG:4326 lat/lon, EPSG:6677 X north/Y east); CRS84 default."""
    area = wkt.loads(AREA)
    expected = expect(world, lambda p, g: g.intersects(area))
    assert 0 < len(expected) < len(world.features)
    latlon = "POLYGON((" + ", ".join(f"{y} {x}" for x, y in area.exterior.coords) + "))"
    got = ids(public_client, world.slug, filter=f"S_INTERSECTS(geometry, {latlon})",
              **{"filter-crs": "http://www.opengis.net/def/crs/EPSG/0/4326"})  # fmt: skip
    assert got == expected
    to_plane = Transformer.from_crs("EPSG:4326", "EPSG:6677")  # (lat, lon) -> (X north, Y east)
    # Densified so the box's edges stay where they were after the transform (a few mm at most).
    dense = area.segmentize(0.0005)
    plane = (
        "POLYGON(("
        + ", ".join("{:.4f} {:.4f}".format(*to_plane.transform(y, x)) for x, y in dense.exterior.coords)
        + "))"
    )
    got = ids(
        public_client, world.slug, filter=f"S_INTERSECTS(geometry, {plane})", **{"filter-crs": "EPSG:6677"}
    )
    assert got == expected
    r = public_client.get(f"/ogc/collections/{world.slug}/items",
                          params={"filter": "S_INTERSECTS(geometry, POINT(0 0))", "filter-crs": "EPSG:32654"})  # fmt: skip
    assert_400(r, "filter-crs")


def test_req_filter_mixing_expressions_and_features_filter_response(public_client, world):
    """/req/filter/mixing-expressions and /req/features-filter/response (A–D): filter AND bbox AND
    property=value, each evaluated on every feature."""
    bbox = (139.29, 35.37, 139.33, 35.39)
    expected = expect(
        world, lambda p, g: p.get("floors", -1) >= 1 and g.intersects(box(*bbox)) and p["category"] == "公園"
    )
    got = ids(public_client, world.slug, filter="floors >= 1", bbox=",".join(map(str, bbox)), category="公園")
    assert got == expected and expected


# --- Temporal (people needing help: restricted, welfare on the internal instance) ---------------
def test_req_temporal_functions(client, world):
    """/req/temporal-functions/temporal-predicate and /req/basic-cql2/binary-comparison-predicate with
    TIMESTAMP and DATE literals: each T_* function against the same relation computed here."""
    stamps, base = world.stamps, world.base
    times = sorted(stamps.values())
    mid = times[len(times) // 2]
    lo, hi = times[1], times[-2]
    iso = lambda t: t.isoformat().replace("+00:00", "Z")  # noqa: E731
    interval = f"INTERVAL('{iso(lo)}','{iso(hi)}')"
    cases = {
        f"T_AFTER(updated_at, TIMESTAMP('{iso(mid)}'))": lambda t: t > mid,
        f"T_BEFORE(updated_at, TIMESTAMP('{iso(mid)}'))": lambda t: t < mid,
        f"T_EQUALS(updated_at, TIMESTAMP('{iso(mid)}'))": lambda t: t == mid,
        f"T_DISJOINT(updated_at, TIMESTAMP('{iso(mid)}'))": lambda t: t != mid,
        f"T_INTERSECTS(updated_at, {interval})": lambda t: lo <= t <= hi,
        f"T_DURING(updated_at, {interval})": lambda t: lo < t < hi,
        f"T_DISJOINT(updated_at, {interval})": lambda t: t < lo or t > hi,
        f"T_AFTER(updated_at, {interval})": lambda t: t > hi,
        f"T_BEFORE(updated_at, {interval})": lambda t: t < lo,
        f"T_MEETS(updated_at, {interval})": lambda t: t == lo,
        f"T_METBY(updated_at, {interval})": lambda t: t == hi,
        f"T_STARTS(updated_at, {interval})": lambda t: t == lo,  # begin = begin, end before end
        f"T_INTERSECTS(updated_at, INTERVAL('{iso(mid)}', '..'))": lambda t: t >= mid,
        f"T_INTERSECTS(updated_at, DATE('{base.date().isoformat()}'))": lambda t: t.date() == base.date(),
        f"updated_at >= TIMESTAMP('{iso(mid)}')": lambda t: t >= mid,
        f"updated_at < DATE('{(base + timedelta(days=1)).date().isoformat()}')": lambda t: (
            t < base + timedelta(days=1)
        ),
    }
    for cql, oracle in cases.items():
        got = ids(client, world.people, world.welfare, filter=cql)
        assert got == {pid for pid, t in stamps.items() if oracle(t)}, cql
    # Temporal functions on a layer with no timestamp: a 400 naming the property.
    r = client.get(
        f"/ogc/collections/{world.slug}/items",
        params={"filter": f"T_AFTER(updated_at, TIMESTAMP('{iso(mid)}'))"},
    )
    assert_400(r, "updated_at")


# --- Errors: 400, never 500, data unchanged -----------------------------------------------------
MALFORMED = [
    ("filter", "floors = = 3"),
    ("filter", "floors ="),
    ("filter", "(floors = 3"),
    ("filter", "floors = 'x"),
    ("filter", "floors = 'text'"),  # type mismatch: number vs string
    ("filter", "open > true"),
    ("filter", "name LIKE 3"),
    ("filter", "S_INTERSECTS(geometry, POLYGON((0 0, 1 1, 0 0)))"),  # too few points
    ("filter", "S_INTERSECTS(geometry, POLYGON((0 0, 2 2, 2 0, 0 2, 0 0)))"),  # self-intersecting
    ("filter", "S_INTERSECTS(geometry, POINT(500 100))"),  # outside CRS84
    ("filter", "S_INTERSECTS(floors, POINT(0 0))"),
    ("filter", "T_AFTER(name, TIMESTAMP('2026-01-01T00:00:00Z'))"),
    ("filter", "floors + 1 > 3"),  # arithmetic: not offered
    ("filter", "ACCENTI(name) = ACCENTI('x')"),
    ("filter", "A_CONTAINS(name, ('x'))"),
    ("filter", "nosuchfn(name)"),
    ("filter", "floors IN ()"),
    ("filter", "name LIKE 'ends in \\'"),  # a lone escape at the end: PostgreSQL would refuse it
    ("filter", "name LIKE category"),  # a pattern is a literal
    ("filter", "name = 'a\x00b'"),  # NUL cannot be stored in text
    ("json", json.dumps({"op": "=", "args": [{"property": "name"}, "a\u0000b"]})),
    (
        "json",
        json.dumps(
            {
                "op": "s_intersects",
                "args": [{"property": "geometry"}, {"type": "Polygon", "coordinates": "x"}],
            }
        ),
    ),
    (
        "json",
        json.dumps({"op": "t_after", "args": [{"property": "name"}, {"timestamp": "2026-13-45T00:00:00Z"}]}),
    ),
    ("json", json.dumps({"op": "=", "args": [{"property": 5}, 1]})),
    ("filter", "(" * 3000 + "floors = 1" + ")" * 3000),  # deep nesting: refused before the parser
    ("filter", "floors = 1 AND " * 900 + "floors = 1"),  # too long
    ("filter", ""),
    ("filter", "\x00"),
    ("filter", "floors = 1e999"),
    ("filter-lang", "cql3-text"),
    ("filter-crs", "EPSG:99999"),
    ("json", "{not json"),
    ("json", json.dumps({"op": "=", "args": [{"property": "floors"}]})),
    ("json", json.dumps({"op": "frobnicate", "args": []})),
    ("json", json.dumps([1, 2])),
    ("json", '{"op": "not", "args": [' * 300 + "true" + "]}" * 300),
    ("sortby", "+nosuch"),
    ("properties", "nosuch"),
    ("skipGeometry", "yes"),
]


@pytest.mark.parametrize(("param", "value"), MALFORMED, ids=[f"{p}:{v[:30]!r}" for p, v in MALFORMED])
def test_req_features_filter_response_e_invalid_is_a_400(
    public_client, client, world, app_engine, param, value
):
    """/req/features-filter/response E (and /req/filter/filter-crs-param C): an invalid filter, filter-lang
    or filter-crs is a bilingual 400 with the parser's reason, never a 500; stored data stays as it was."""
    before = count(app_engine, "SELECT count(*) + coalesce(max(revision), 0) FROM gis.layer")
    params = {"filter": "floors = 1"}
    if param == "json":
        params = {"filter": value, "filter-lang": "cql2-json"}
    else:
        params[param] = value
    for c in (public_client, client):
        r = c.get(f"/ogc/collections/{world.slug}/items", params=params)
        assert_400(r)
    assert count(app_engine, "SELECT count(*) + coalesce(max(revision), 0) FROM gis.layer") == before


def test_parser_reason_names_the_position(public_client, world):
    """A malformed filter's 400 carries the parser's position and what it expected."""
    body = assert_400(
        public_client.get(f"/ogc/collections/{world.slug}/items", params={"filter": "floors = = 3"})
    )
    assert "1:" in body["message_en"] and "expected" in body["message_en"]


# --- GDAL's draft name and the selection parameters ---------------------------------------------
def test_gdal_draft_filter_lang_reads_as_cql2_text(public_client, world):
    """GDAL's OAPIF driver sends filter-lang=cql-text (the draft name): the same as cql2-text."""
    cql = "(floors >= 2) AND (category LIKE '学%')"
    assert ids(public_client, world.slug, filter=cql, **{"filter-lang": "cql-text"}) == ids(
        public_client, world.slug, filter=cql
    )


def test_gdal_literals_for_ogr_types(public_client, client, world):
    """GDAL writes OGR booleans as 0/1 and date-times as quoted strings: read as such where the other
    side is a boolean or a timestamp, and nowhere else (a number against a string is still a 400)."""
    assert ids(public_client, world.slug, filter="open = 1") == ids(
        public_client, world.slug, filter="open = TRUE"
    )
    assert ids(public_client, world.slug, filter="(open = 0)") == expect(world, lambda p, g: not p["open"])
    after = world.base + timedelta(hours=30)
    got = ids(client, world.people, world.welfare, filter=f"updated_at > '{after.isoformat()}'")
    assert got == {pid for pid, t in world.stamps.items() if t > after}
    assert_400(public_client.get(f"/ogc/collections/{world.slug}/items", params={"filter": "open = 2"}))
    assert_400(public_client.get(f"/ogc/collections/{world.slug}/items", params={"filter": "category = 1"}))


def test_sortby_with_stable_paging(public_client, client, world):
    """sortby=-floors,+name (a "+" left raw in a URL arrives as a space); id breaks ties; the pages
    walked with limit/offset give every matching feature once, in the asked order."""
    order = sorted(
        (f for f in world.features.values() if "floors" in f["properties"]),
        key=lambda f: (-f["properties"]["floors"], f["properties"]["name"], f["id"]),
    )
    seen: list[int] = []
    for offset in range(0, len(order), 7):
        page = public_client.get(
            f"/ogc/collections/{world.slug}/items?sortby=-floors,+name&limit=7&offset={offset}&filter=floors IS NOT NULL"
        ).json()
        assert page["numberMatched"] == len(order)
        seen += [f["id"] for f in page["features"]]
    assert seen == [f["id"] for f in order]
    by_id = [f["id"] for f in items(public_client, world.slug, sortby="-id")["features"]]
    assert by_id == sorted(world.features, reverse=True)
    caps = [
        f["properties"]["capacity"]
        for f in items(public_client, world.shelters, sortby="capacity")["features"]
    ]
    assert caps == sorted(caps)
    # The timestamp of people needing help sorts too (newest first).
    newest = [f["id"] for f in items(client, world.people, world.welfare, sortby="-updated_at")["features"]]
    assert newest == sorted(world.stamps, key=lambda pid: world.stamps[pid], reverse=True)


def test_properties_and_skip_geometry(public_client, world):
    """properties=name,floors returns only those; skipGeometry=true returns null geometries."""
    fc = items(public_client, world.slug, properties="name,floors", skipGeometry="true", filter="floors = 2")
    assert fc["features"] and all(f["geometry"] is None for f in fc["features"])
    for f in fc["features"]:
        assert f["properties"] == {k: world.features[f["id"]]["properties"][k] for k in ("name", "floors")}
    typed = public_client.get(
        f"/ogc/collections/{world.shelters}/items?properties=name,capacity&limit=3"
    ).json()["features"]
    assert all(set(f["properties"]) == {"name", "capacity"} and f["geometry"] for f in typed)
    assert all(f["properties"] == {} for f in items(public_client, world.slug, properties="")["features"])
    html = public_client.get(
        f"/ogc/collections/{world.slug}/items", params={"skipGeometry": "true", "f": "html"}
    )
    assert html.status_code == 200
