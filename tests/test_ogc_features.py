"""OGC API – Features at /ogc against running servers (uvicorn, internal and public instance) on the
real PostGIS with the demo data and the fixture layers: documents, paging, bbox, crs, filters, 400s,
HTML, visibility and the audit of restricted reads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
import uvicorn
from pyproj import Transformer
from shapely.geometry import box, shape
from sqlalchemy import Engine, text

from gisapp import demo
from gisapp.app import create_app
from layers.catalog import KINDS
from tests.conftest import free_port
from tests.fixtures_data import Seed, seed
from tests.support import count, wait_until

TAG = "ogc"
INJECTION = "x' OR '1'='1'; DROP TABLE gis.layer; --"
XSS = "</script><script>alert('ogc')</script>"


class LiveServer:
    """A real HTTP server (uvicorn) in a background thread, so clients speak to a socket."""

    def __init__(self, app) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        wait_until(lambda: self.server.started, 20)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(20)


class Servers:
    def __init__(self, internal: LiveServer, public: LiveServer, seed: Seed, tokens: dict[str, str]):
        self.internal, self.public, self.seed, self.tokens = internal, public, seed, tokens

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def _extra_features(engine: Engine, slug: str) -> None:
    """A few features with typed-looking and hostile property values on the public fixture layer."""
    with engine.begin() as conn:
        layer_id = conn.execute(text("SELECT id FROM gis.layer WHERE slug = :s"), {"s": slug}).scalar_one()
        for key, name, lon in (
            ("k2", INJECTION, 139.32),
            ("k3", "普通の名前", 139.28),
            ("k4", "'", 139.29),
            ("k5", XSS, 139.30),
        ):
            conn.execute(
                text(
                    """INSERT INTO gis.feature (layer_id, source_key, properties, geom)
                       VALUES (:l, :k, jsonb_build_object('name', CAST(:n AS text), 'floors', 3),
                               ST_SetSRID(ST_MakePoint(:lon, 35.41), 4326))
                       ON CONFLICT (layer_id, source_key) DO NOTHING"""
                ),
                {"l": layer_id, "k": key, "n": name, "lon": lon},
            )


def start(settings, app_engine: Engine, tmp: Path) -> Iterator[Servers]:
    demo.load(app_engine, tmp)
    seeded = seed(app_engine, TAG)
    _extra_features(app_engine, seeded.slugs["public"])
    with (
        LiveServer(create_app(settings)) as internal,
        LiveServer(create_app(settings, public=True)) as public,
    ):
        tokens = {}
        for who in ("staff", "welfare"):
            r = httpx.post(
                f"{internal.url}/api/auth/login",
                json={"username": f"{TAG}-{who}", "password": seeded.passwords[who]},
            )
            tokens[who] = r.json()["access_token"]
        yield Servers(internal, public, seeded, tokens)


@pytest.fixture(scope="module")
def live(settings, app_engine, tmp_path_factory) -> Iterator[Servers]:
    yield from start(settings, app_engine, tmp_path_factory.mktemp("ogc"))


def get(base: str, path: str, headers: dict | None = None, **params) -> httpx.Response:
    return httpx.get(f"{base}/ogc{path}", params=params, headers=headers, timeout=30)


def all_items(base: str, slug: str, headers: dict | None = None, **params) -> list[dict]:
    r = get(base, f"/collections/{slug}/items", headers, limit=10_000, **params)
    assert r.status_code == 200, r.text
    fc = r.json()
    assert fc["numberReturned"] == fc["numberMatched"] == len(fc["features"])
    return fc["features"]


def db_count(engine: Engine, slug: str, public: bool = True) -> int:
    layers = "pub.layer" if public else "gis.layer"
    with engine.begin() as conn:
        kind = conn.execute(text(f"SELECT kind FROM {layers} WHERE slug = :s"), {"s": slug}).scalar_one()  # noqa: S608
    source = KINDS[kind].source(public)
    # Composed from the KINDS constants and the two layer tables above only.
    return count(
        engine,
        f"SELECT count(*) FROM {source} t JOIN {layers} l ON l.id = t.layer_id WHERE l.slug = :s",  # noqa: S608
        s=slug,
    )


# --- documents -------------------------------------------------------------------------------
def test_landing_conformance_and_api_definition(live):
    # The landing page's and the conformance declaration's requirements: tests/test_ogc_conformance.py.
    landing = get(live.public.url, "")
    rels = {link["rel"]: link for link in landing.json()["links"]}
    conf = get(live.public.url, "/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt" in conf
    landing = get(live.public.url, "").json()
    tms = [link for link in landing["links"] if link["rel"].endswith("tiling-schemes")]
    assert get(live.public.url, tms[0]["href"].split("/ogc", 1)[1]).status_code == 200

    api = httpx.get(rels["service-desc"]["href"])
    assert api.headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    doc = api.json()
    assert doc["openapi"].startswith("3.0")
    public_slugs = {c["id"] for c in get(live.public.url, "/collections").json()["collections"]}
    listed = {p.split("/")[2] for p in doc["paths"] if p.startswith("/collections/")}
    assert listed == public_slugs and "shelters" in listed
    assert "/collections/shelters/items" in doc["paths"]
    item_params = [p.get("name") for p in doc["paths"]["/collections/shelters/items"]["get"]["parameters"]]
    assert "capacity" in item_params
    assert get(live.public.url, "/api", f="html").headers["content-type"].startswith("text/html")


def test_collections_match_the_database(live, public_engine):
    with public_engine.begin() as conn:
        expected = set(conn.execute(text("SELECT slug FROM pub.layer")).scalars())
    body = get(live.public.url, "/collections").json()
    got = {c["id"] for c in body["collections"]}
    assert got == expected
    shelters = next(c for c in body["collections"] if c["id"] == "shelters")
    assert shelters["itemType"] == "feature"
    assert "http://www.opengis.net/def/crs/EPSG/0/6677" in shelters["crs"]
    assert shelters["storageCrs"] == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    rels = {link["rel"]: link["href"] for link in shelters["links"]}
    assert rels["http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"].endswith(
        "/ogc/collections/shelters/tiles"
    )


def test_extent_covers_the_features_and_follows_changes(live, app_engine):
    slug = live.seed.slugs["public"]
    bounds = [shape(f["geometry"]).bounds for f in all_items(live.public.url, slug)]
    exact = (
        min(b[0] for b in bounds),
        min(b[1] for b in bounds),
        max(b[2] for b in bounds),
        max(b[3] for b in bounds),
    )
    ext = get(live.public.url, f"/collections/{slug}").json()["extent"]["spatial"]["bbox"][0]
    assert ext == pytest.approx(list(exact), abs=1e-4)

    # A new feature far away bumps the layer revision, so the cached extent is recomputed.
    with app_engine.begin() as conn:
        conn.execute(
            text(
                """INSERT INTO gis.feature (layer_id, source_key, properties, geom)
                   SELECT id, 'far', '{}', ST_SetSRID(ST_MakePoint(140.5, 36.0), 4326) FROM gis.layer WHERE slug = :s"""
            ),
            {"s": slug},
        )
    try:
        grown = get(live.public.url, f"/collections/{slug}").json()["extent"]["spatial"]["bbox"][0]
        assert grown[2] == pytest.approx(140.5, abs=1e-4) and grown[3] == pytest.approx(36.0, abs=1e-4)
    finally:
        with app_engine.begin() as conn:
            conn.execute(text("DELETE FROM gis.feature WHERE source_key = 'far'"))
    back = get(live.public.url, f"/collections/{slug}").json()["extent"]["spatial"]["bbox"][0]
    assert back == pytest.approx(ext, abs=1e-6)


def test_queryables(live):
    shelters = get(live.public.url, "/collections/shelters/queryables")
    assert shelters.headers["content-type"].startswith("application/schema+json")
    props = shelters.json()["properties"]
    assert set(props) == {*KINDS["shelter"].properties, "geometry"}  # Part 3: the geometry is queryable
    assert props["capacity"]["type"] == "integer" and props["suits_flood"]["type"] == "boolean"
    generic = get(live.public.url, f"/collections/{live.seed.slugs['public']}/queryables").json()
    assert set(generic["properties"]) == {"name", "floors", "geometry"}
    assert generic["properties"]["floors"]["type"] == "number"


# --- items -----------------------------------------------------------------------------------
def test_items_counts_limits_and_offsets(live, public_engine):
    expected = db_count(public_engine, "road-ledger")
    r = get(live.public.url, "/collections/road-ledger/items")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    assert r.headers["content-crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and fc["numberMatched"] == expected
    assert fc["numberReturned"] == len(fc["features"]) == min(10, expected)  # default limit
    # Above the maximum is clamped, not refused.
    big = get(live.public.url, "/collections/road-ledger/items", limit=50_000).json()
    assert big["numberReturned"] == min(expected, 10_000) == len(big["features"])
    past = get(live.public.url, "/collections/road-ledger/items", offset=expected + 5).json()
    assert past["numberReturned"] == 0 and past["features"] == [] and past["numberMatched"] == expected
    assert {"prev"} <= {link["rel"] for link in past["links"]} and "next" not in {
        link["rel"] for link in past["links"]
    }


def test_next_links_walk_the_collection_exactly_once(live, public_engine):
    expected = db_count(public_engine, "road-ledger")
    url = f"{live.public.url}/ogc/collections/road-ledger/items?limit=7"
    seen, pages = [], 0
    while url:
        page = httpx.get(url).json()
        seen += [f["id"] for f in page["features"]]
        links = {link["rel"]: link["href"] for link in page["links"]}
        if pages == 1:
            assert "prev" in links
        url = links.get("next")
        pages += 1
        assert pages < expected  # bounded
    assert len(seen) == len(set(seen)) == expected
    assert seen == sorted(seen)


def test_bbox_selects_what_intersects(live):
    everything = all_items(live.public.url, "road-ledger")
    area = (139.30, 35.39, 139.315, 35.40)
    expected = {f["id"] for f in everything if shape(f["geometry"]).intersects(box(*area))}
    assert 0 < len(expected) < len(everything)
    got = {f["id"] for f in all_items(live.public.url, "road-ledger", bbox=",".join(map(str, area)))}
    assert got == expected
    # The same box in EPSG:4326 is given lat/lon (the CRS's axis order).
    latlon = f"{area[1]},{area[0]},{area[3]},{area[2]}"
    got = all_items(
        live.public.url,
        "road-ledger",
        bbox=latlon,
        **{"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4326"},
    )
    assert {f["id"] for f in got} == expected


def test_bbox_pages_walk_the_matches_once_in_id_order(live):
    # With a bbox the count and the page come from one scan (layers/features_query.py): paging through
    # it gives every match once, in id order, and the same numberMatched on every page.
    area = "139.30,35.39,139.315,35.40"
    expected = [f["id"] for f in all_items(live.public.url, "road-ledger", bbox=area)]
    assert len(expected) > 3
    seen = []
    for offset in range(0, len(expected) + 3, 3):
        page = get(
            live.public.url, "/collections/road-ledger/items", bbox=area, limit=3, offset=offset
        ).json()
        assert page["numberMatched"] == len(expected)
        assert page["numberReturned"] == len(page["features"]) == min(3, max(0, len(expected) - offset))
        seen += [f["id"] for f in page["features"]]
    assert seen == expected == sorted(expected)


def test_bbox_in_plane_rectangular_coordinates(live):
    # Features in EPSG:6677 (X north, Y east); a box around the middle of the city in metres.
    everything = all_items(live.public.url, "shelters", crs="EPSG:6677")
    xs = sorted(f["geometry"]["coordinates"][0] for f in everything)
    ys = sorted(f["geometry"]["coordinates"][1] for f in everything)
    # Edges half-way between two shelters, so no point sits on an edge (rounding would decide).
    q1, q3 = len(xs) // 4, 3 * len(xs) // 4
    area = tuple((v[i] + v[i + 1]) / 2 for v, i in ((xs, q1), (ys, q1), (xs, q3), (ys, q3)))  # x1, y1, x2, y2
    expected = {
        f["id"]
        for f in everything
        if area[0] <= f["geometry"]["coordinates"][0] <= area[2]
        and area[1] <= f["geometry"]["coordinates"][1] <= area[3]
    }
    got = all_items(live.public.url, "shelters", bbox=",".join(map(str, area)), **{"bbox-crs": "EPSG:6677"})
    assert {f["id"] for f in got} == expected and 0 < len(expected) < len(everything)


def test_crs_transforms_match_pyproj(live):
    base = all_items(live.public.url, "shelters")
    plane = get(
        live.public.url,
        "/collections/shelters/items",
        limit=10_000,
        crs="http://www.opengis.net/def/crs/EPSG/0/6677",
    )
    assert plane.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/6677>"
    jgd = all_items(live.public.url, "shelters", crs="EPSG:6668")
    wgs_latlon = all_items(live.public.url, "shelters", crs="EPSG:4326")
    to_plane = Transformer.from_crs(
        "EPSG:4326", "EPSG:6677"
    )  # authority axis order: (lat, lon) -> (X north, Y east)
    to_jgd = Transformer.from_crs("EPSG:4326", "EPSG:6668")
    by_id = {f["id"]: f["geometry"]["coordinates"] for f in base}
    for f, g, h in zip(plane.json()["features"], jgd, wgs_latlon, strict=True):
        lon, lat = by_id[f["id"]]
        north, east = to_plane.transform(lat, lon)
        assert f["geometry"]["coordinates"] == pytest.approx([north, east], abs=0.01)
        assert abs(north) < 300_000 and abs(east) < 300_000  # metres near the zone's origin
        assert g["geometry"]["coordinates"] == pytest.approx(list(to_jgd.transform(lat, lon)), abs=1e-6)
        assert h["geometry"]["coordinates"] == pytest.approx([lat, lon], abs=1e-7)
    one = get(live.public.url, f"/collections/shelters/items/{base[0]['id']}", crs="EPSG:6677")
    assert one.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/6677>"
    assert one.json()["geometry"]["coordinates"] == plane.json()["features"][0]["geometry"]["coordinates"]


def test_property_filters(live, public_engine):
    everything = all_items(live.public.url, "shelters")
    capacity = everything[0]["properties"]["capacity"]
    got = all_items(live.public.url, "shelters", capacity=capacity)
    assert {f["id"] for f in got} == {f["id"] for f in everything if f["properties"]["capacity"] == capacity}
    flood = all_items(live.public.url, "shelters", suits_flood="true")
    assert {f["id"] for f in flood} == {f["id"] for f in everything if f["properties"]["suits_flood"]}
    both = all_items(live.public.url, "shelters", suits_flood="true", capacity=capacity)
    assert {f["id"] for f in both} == {f["id"] for f in flood} & {f["id"] for f in got}
    slug = live.seed.slugs["public"]
    named = all_items(live.public.url, slug, name="普通の名前")
    assert [f["properties"]["name"] for f in named] == ["普通の名前"]
    # A numeric JSONB property compares as a number.
    floors = {f["id"] for f in all_items(live.public.url, slug) if f["properties"].get("floors") == 3}
    assert len(floors) == 4
    assert {f["id"] for f in all_items(live.public.url, slug, floors="3.0")} == floors
    assert all_items(live.public.url, slug, floors="4") == []
    assert get(live.public.url, f"/collections/{slug}/items", floors="three").status_code == 400


def test_sql_metacharacters_are_literal_values(live, app_engine):
    slug = live.seed.slugs["public"]
    layers_before = count(app_engine, "SELECT count(*) FROM gis.layer")
    hit = all_items(live.public.url, slug, name=INJECTION)
    assert [f["properties"]["name"] for f in hit] == [INJECTION]
    assert [f["properties"]["name"] for f in all_items(live.public.url, slug, name="'")] == ["'"]
    assert all_items(live.public.url, slug, name="x' OR '1'='1") == []
    assert all_items(live.public.url, "shelters", name="' OR 1=1 --") == []
    assert count(app_engine, "SELECT count(*) FROM gis.layer") == layers_before


def test_datetime(live, public_engine):
    all_count = db_count(public_engine, "shelters")
    for value in (
        "2026-01-01T00:00:00Z",
        "2026-01-01",
        "../2026-01-01T00:00:00+09:00",
        "2020-01-01T00:00:00Z/..",
    ):
        r = get(live.public.url, "/collections/shelters/items", datetime=value)
        assert r.status_code == 200 and r.json()["numberMatched"] == all_count  # no feature timestamp: all
    people = live.seed.slugs["restricted"]
    h = live.auth("welfare")
    assert (
        get(live.internal.url, f"/collections/{people}/items", h, datetime="../2000-01-01T00:00:00Z").json()[
            "numberMatched"
        ]
        == 0
    )
    assert (
        get(live.internal.url, f"/collections/{people}/items", h, datetime="2000-01-01T00:00:00Z/..").json()[
            "numberMatched"
        ]
        == 1
    )


@pytest.mark.parametrize(
    "params",
    [
        {"bbox": "1,2,3"},
        {"bbox": "a,b,c,d"},
        {"bbox": "139.2,35.5,139.4,35.3"},  # lower latitude above the upper (longitudes may wrap)
        {"bbox": "nan,35.3,139.2,35.5"},
        {"bbox": "139,35,140,36", "bbox-crs": "EPSG:3857"},
        {"limit": "0"},
        {"limit": "-5"},
        {"limit": "ten"},
        {"offset": "-1"},
        {"crs": "EPSG:3857"},
        {"crs": "urn:nonsense"},
        {"datetime": "yesterday"},
        {"datetime": "2026-13-01T00:00:00Z"},
        {"datetime": "2026-01-01T00:00:00"},  # no time zone
        {"datetime": "../.."},
        {"datetime": "2026-02-01T00:00:00Z/2026-01-01T00:00:00Z"},
        {"no_such_property": "1"},
        {"capacity": "many"},
        {"suits_flood": "maybe"},
        {"f": "xml"},
    ],
)
def test_invalid_parameters_are_bilingual_400s(live, params):
    r = get(live.public.url, "/collections/shelters/items", **params)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_input" and err["message_ja"] and err["message_en"]
    assert err["message_ja"] != err["message_en"]


def test_item_by_id(live):
    first = get(live.public.url, "/collections/shelters/items", limit=1).json()["features"][0]
    r = get(live.public.url, f"/collections/shelters/items/{first['id']}")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    one = r.json()
    assert {k: one[k] for k in ("id", "geometry", "properties")} == {
        k: first[k] for k in ("id", "geometry", "properties")
    }
    assert any(link["rel"] == "collection" for link in one["links"])
    for missing in ("999999999", "abc", "1;DROP"):
        r = get(live.public.url, f"/collections/shelters/items/{missing}")
        assert r.status_code == 404 and r.json()["error"]["message_en"] == "Feature not found."
    # An id of another layer is not a feature of this one.
    road = get(live.public.url, "/collections/road-ledger/items", limit=1).json()["features"][0]["id"]
    other = get(live.public.url, "/collections/flood-areas/items", limit=10_000).json()["features"]
    if road not in {f["id"] for f in other}:
        assert get(live.public.url, f"/collections/flood-areas/items/{road}").status_code == 404


def test_html_for_browsers(live):
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    for path in ("", "/conformance", "/collections", "/collections/shelters", "/collections/shelters/items",
                 "/collections/shelters/queryables"):  # fmt: skip
        r = get(live.public.url, path, browser)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
        assert '<html lang="ja">' in r.text
    page = get(live.public.url, "/collections/shelters/items", f="html", limit=3).text
    assert "指定緊急避難場所・避難所" in page and "Evacuation shelters" in page
    assert "次のページ" in page
    first = get(live.public.url, "/collections/shelters/items", limit=1).json()["features"][0]
    item_page = get(live.public.url, f"/collections/shelters/items/{first['id']}", f="html").text
    assert first["properties"]["name"] in item_page
    # A map of the page's features, drawn with the Leaflet served by the app itself (no inline script:
    # the features in the page's JSON data block, drawn by static/js/pages/ogc.js).
    assert "/static/vendor/leaflet/leaflet.js" in page and 'id="page-data"' in page
    assert "/static/js/pages/ogc.js" in page and 'id="ogc-map"' in page
    assert "unpkg" not in page and "cdn" not in page.lower()
    # Property values are data, never markup: escaped in the table and in the map's JSON block.
    hostile = get(
        live.public.url, f"/collections/{live.seed.slugs['public']}/items", f="html", limit=100
    ).text
    assert XSS not in hostile and "<script>alert" not in hostile
    assert "&lt;/script&gt;&lt;script&gt;alert" in hostile
    # No map for projected output (the map is lon/lat).
    plane = get(live.public.url, "/collections/shelters/items", f="html", limit=3, crs="EPSG:6677").text
    assert 'id="ogc-map"' not in plane and 'id="page-data"' not in plane
    # JSON when asked, whatever the browser says.
    assert (
        get(live.public.url, "/collections", browser, f="json").headers["content-type"] == "application/json"
    )


# --- visibility --------------------------------------------------------------------------------
def _paths(slug: str) -> list[str]:
    return [f"/collections/{slug}", f"/collections/{slug}/items", f"/collections/{slug}/items/1",
            f"/collections/{slug}/queryables", f"/collections/{slug}/items?f=html"]  # fmt: skip


def test_hidden_collections_answer_like_unknown_ones(live):
    hidden = [
        live.seed.slugs["internal"],
        live.seed.slugs["restricted"],
        "sewer-pipes",
        "people-needing-help",
    ]
    for base in (
        live.public.url,
        live.internal.url,
    ):  # the public instance, and anonymous on the internal app
        listing = get(base, "/collections").text + get(base, "/api").text
        for slug in hidden:
            assert slug not in listing
        assert "CANARY" not in listing and "internal-canary" not in listing
        unknown = [get(base, p).json() for p in _paths("no-such-layer")]
        for slug in hidden:
            answers = [get(base, p) for p in _paths(slug)]
            assert [a.status_code for a in answers] == [404] * len(answers)
            assert [a.json() for a in answers] == unknown
            assert all(slug not in a.text and "canary" not in a.text.lower() for a in answers)


def test_staff_see_internal_but_not_restricted(live):
    h = live.auth("staff")
    listed = {c["id"] for c in get(live.internal.url, "/collections", h).json()["collections"]}
    assert live.seed.slugs["internal"] in listed and "sewer-pipes" in listed
    assert live.seed.slugs["restricted"] not in listed and "people-needing-help" not in listed
    items = all_items(live.internal.url, live.seed.slugs["internal"], h)
    assert items[0]["properties"]["name"].startswith("internal-canary")
    assert get(live.internal.url, f"/collections/{live.seed.slugs['restricted']}/items", h).status_code == 404


def test_restricted_reads_are_for_welfare_and_audited(live, app_engine):
    slug = live.seed.slugs["restricted"]
    h = live.auth("welfare")

    def audited() -> int:
        return count(
            app_engine,
            "SELECT count(*) FROM audit.log WHERE action = 'ogc.read_restricted' AND target = :s",
            s=slug,
        )

    before = audited()
    items = all_items(live.internal.url, slug, h)
    assert [f["properties"]["name"] for f in items] == [f"CANARY-PERSON-{slug}"]
    assert "phone" not in items[0]["properties"] and "address" not in items[0]["properties"]
    assert get(live.internal.url, f"/collections/{slug}/items/{items[0]['id']}", h).status_code == 200
    assert get(live.internal.url, f"/collections/{slug}", h).status_code == 200
    assert audited() == before + 3
    with app_engine.begin() as conn:
        row = conn.execute(
            text(
                "SELECT actor, details FROM audit.log WHERE action = 'ogc.read_restricted' AND target = :s ORDER BY id DESC LIMIT 1"
            ),
            {"s": slug},
        ).one()
    assert row.actor == f"{TAG}-welfare" and row.details["resource"] == "collection"
