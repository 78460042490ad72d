"""Our own conformance suite for OGC API – Features – Part 1 (OGC 17-069r4), requirement by requirement:
Core, GeoJSON, HTML and OAS30 (Part 2, CRS: tests/test_ogc_conformance_crs.py). Each test names the
requirement it checks (/req/<class>/<name>); the classes pass here before documents.CONFORMANCE
declares them. Runs on the in-process public instance (and the internal one where visibility matters)
against a world of its own (tests/ogc_conformance_support.py). Deeper checks of the same behaviour
(paging walks, filters, visibility) stay in tests/test_ogc_features.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from openapi_spec_validator import validate
from starlette.routing import Route

from gisapp.ogc import documents
from gisapp.ogc import features as ogc_features
from gisapp.ogc import styles as ogc_styles
from gisapp.ogc import tiles as ogc_tiles
from tests.ogc_conformance_support import YAIZU_POINTS, World, make_world

CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
GEOJSON = "application/geo+json"
OAS = "application/vnd.oai.openapi+json;version=3.0"


@pytest.fixture(scope="module")
def world(app_engine) -> World:
    return make_world(app_engine, "ogcconf")


def _get(client, path: str, headers: dict | None = None, **params):
    return client.get(f"/ogc{path}", params=params, headers=headers)


def _items(client, slug: str, **params) -> dict:
    r = _get(client, f"/collections/{slug}/items", **{"limit": 1000, **params})
    assert r.status_code == 200, r.text
    return r.json()


def _keys(fc: dict) -> set[str]:
    return {f["properties"]["name"] for f in fc["features"]}


def _rels(links: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for link in links:
        out.setdefault(link["rel"], []).append(link)
    return out


def _bilingual_400(r, parameter: str | None = None) -> None:
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["message_ja"] and err["message_en"] and err["message_ja"] != err["message_en"]
    if parameter is not None:
        assert err["parameter"] == parameter


# --- Core: landing page, API definition, conformance -------------------------------------------
def test_req_core_root_op_and_root_success(public_client):
    """/req/core/root-op, /req/core/root-success: GET / answers 200 with links to the API definition
    (service-desc, service-doc), the conformance declaration and the collections."""
    r = _get(public_client, "")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    rels = _rels(r.json()["links"])
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
    assert rels["conformance"][0]["href"].endswith("/ogc/conformance")
    assert rels["data"][0]["href"].endswith("/ogc/collections")
    # The description lists every plane rectangular zone, from the list itself (not hard-coded).
    assert "EPSG:6668–6687" in r.json()["description"]


def test_req_core_api_definition_op_and_success(public_client):
    """/req/core/api-definition-op, /req/core/api-definition-success: the service-desc link answers the
    API definition, in the media type it is announced with."""
    link = _rels(_get(public_client, "").json()["links"])["service-desc"][0]
    r = public_client.get(link["href"])
    assert r.status_code == 200 and r.headers["content-type"] == link["type"] == OAS


def test_req_core_conformance_op_and_success(public_client):
    """/req/core/conformance-op, /req/core/conformance-success: conformsTo lists Core and the classes
    this suite checks."""
    r = _get(public_client, "/conformance")
    assert r.status_code == 200
    conforms = r.json()["conformsTo"]
    for cls in ("core", "geojson", "html", "oas30"):
        assert CORE + cls in conforms
    assert conforms == documents.CONFORMANCE


def test_req_core_http_head(public_client, world):
    """/req/core/http: HTTP/1.1, so HEAD answers as GET without a body (RFC 9110 9.3.2), on every
    kind of /ogc resource including tiles; never 405."""
    one = world.ids["yaizu-port"]
    for path in ("", "/conformance", "/api", "/collections", f"/collections/{world.yaizu}",
                 f"/collections/{world.yaizu}/queryables", f"/collections/{world.yaizu}/items",
                 f"/collections/{world.yaizu}/items/{one}", "/tileMatrixSets", "/tileMatrixSets/WebMercatorQuad",
                 f"/collections/{world.yaizu}/tiles", f"/collections/{world.yaizu}/tiles/WebMercatorQuad",
                 f"/collections/{world.yaizu}/tiles/WebMercatorQuad/0/0/0"):  # fmt: skip
        got, head = _get(public_client, path), public_client.head(f"/ogc{path}")
        assert head.status_code == got.status_code and got.status_code in (200, 204), path
        assert head.content == b"", path
        assert head.headers["content-type"] == got.headers.get("content-type", head.headers["content-type"])
        if "content-length" in got.headers:
            assert head.headers["content-length"] == got.headers["content-length"], path
    assert public_client.head("/ogc/collections/no-such-collection").status_code == 404


@pytest.mark.parametrize(
    "path",
    ["", "/conformance", "/api", "/collections", "/collections/{c}", "/collections/{c}/queryables",
     "/collections/{c}/items/{id}", "/tileMatrixSets", "/tileMatrixSets/WebMercatorQuad",
     "/collections/{c}/tiles", "/collections/{c}/tiles/WebMercatorQuad",
     "/collections/{c}/tiles/WebMercatorQuad/0/0/0"],
)  # fmt: skip
def test_req_core_query_param_unknown(public_client, world, path):
    """/req/core/query-param-unknown: a parameter the endpoint does not define is a 400 naming it
    (items: tests/test_ogc_features.py), while f and lang are accepted everywhere."""
    url = path.format(c=world.yaizu, id=world.ids["yaizu-port"])
    assert _get(public_client, url).status_code in (200, 204)  # a warm tile would skip the route
    _bilingual_400(_get(public_client, url, no_such_parameter="1"), "no_such_parameter")
    ok = _get(public_client, url, lang="en")
    assert ok.status_code in (200, 204), ok.text


def test_req_core_query_param_invalid(public_client, world):
    """/req/core/query-param-invalid: a defined parameter with an invalid value is a 400."""
    for params in ({"limit": "0"}, {"bbox": "1,2,3"}, {"datetime": "yesterday"}, {"f": "xml"}):
        _bilingual_400(_get(public_client, f"/collections/{world.yaizu}/items", **params))
    _bilingual_400(_get(public_client, f"/collections/{world.yaizu}/items/1", crs="EPSG:3857"), "crs")


# --- Core: collections ---------------------------------------------------------------------------
def test_req_core_fc_md_op_success_links_items_extent(public_client, world):
    """/req/core/fc-md-op, /req/core/fc-md-success, /req/core/fc-md-links, /req/core/fc-md-items,
    /req/core/fc-md-items-links, /req/core/fc-md-extent: /collections lists each collection with its
    id, an items link and its extent."""
    r = _get(public_client, "/collections")
    assert r.status_code == 200
    doc = r.json()
    assert "self" in _rels(doc["links"])
    mine = next(c for c in doc["collections"] if c["id"] == world.yaizu)
    items = _rels(mine["links"])["items"]
    assert {link["type"] for link in items} >= {GEOJSON, "text/html"}
    bbox = mine["extent"]["spatial"]["bbox"][0]
    lons = [p[0] for p in YAIZU_POINTS.values()]
    assert bbox[0] == pytest.approx(min(lons)) and bbox[2] == pytest.approx(max(lons))


def test_req_core_sfc_md_op_and_success(public_client, world):
    """/req/core/sfc-md-op, /req/core/sfc-md-success: /collections/{id} answers the same collection
    description as the list has."""
    one = _get(public_client, f"/collections/{world.yaizu}")
    assert one.status_code == 200
    listed = next(
        c for c in _get(public_client, "/collections").json()["collections"] if c["id"] == world.yaizu
    )
    assert one.json() == listed
    assert _get(public_client, "/collections/no-such-collection").status_code == 404


# --- Core: items -----------------------------------------------------------------------------------
def test_req_core_fc_op_response_links_and_counts(public_client, world):
    """/req/core/fc-op, /req/core/fc-response, /req/core/fc-links, /req/core/fc-timeStamp,
    /req/core/fc-numberMatched, /req/core/fc-numberReturned."""
    r = _get(public_client, f"/collections/{world.yaizu}/items")
    assert r.status_code == 200 and r.headers["content-type"] == GEOJSON
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and isinstance(fc["features"], list)
    rels = _rels(fc["links"])
    assert rels["self"][0]["type"] == GEOJSON and rels["alternate"][0]["type"] == "text/html"
    stamp = datetime.fromisoformat(fc["timeStamp"])
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60
    assert fc["numberMatched"] == len(YAIZU_POINTS) and fc["numberReturned"] == len(fc["features"])


def test_req_core_fc_limit_definition_and_response(public_client, world):
    """/req/core/fc-limit-definition, /req/core/fc-limit-response, /req/core/fc-next-1..3: at most
    `limit` features; a next link while more match, none on the last page."""
    page = _items(public_client, world.yaizu, limit=4)
    assert page["numberReturned"] == len(page["features"]) == 4
    nxt = _rels(page["links"])["next"][0]["href"]
    rest = public_client.get(nxt).json()
    assert rest["numberReturned"] == len(YAIZU_POINTS) - 4 and "next" not in _rels(rest["links"])
    assert _get(public_client, f"/collections/{world.yaizu}/items", limit="0").status_code == 400


def test_req_core_fc_bbox_definition_and_response(public_client, world):
    """/req/core/fc-bbox-definition, /req/core/fc-bbox-response: only features meeting the box; a box
    across the antimeridian (lower longitude above the upper one) is valid and finds both sides."""
    yaizu = _keys(_items(public_client, world.yaizu, bbox="138.30,34.85,138.34,34.88"))
    assert yaizu == {"yaizu-port", "yaizu-station", "yaizu-hall"}
    across = _keys(_items(public_client, world.yaizu, bbox="170,30,-170,40"))
    assert across == {"east-of-180", "west-of-180"}
    assert _keys(_items(public_client, world.yaizu, bbox="170,30,179,40")) == {"east-of-180"}
    # Same rule on the longitude axis of a lat/lon CRS (EPSG:4326: lat, lon).
    latlon = _items(public_client, world.yaizu, bbox="30,170,40,-170", **{"bbox-crs": "EPSG:4326"})
    assert _keys(latlon) == across
    # 6 numbers: heights ignored.
    assert _keys(_items(public_client, world.yaizu, bbox="170,30,0,-170,40,10")) == across
    # The latitude axis never wraps: a lower latitude above the upper one stays an error.
    _bilingual_400(_get(public_client, f"/collections/{world.yaizu}/items", bbox="170,40,-170,30"), "bbox")
    _bilingual_400(_get(public_client, f"/collections/{world.yaizu}/items", bbox="170,30,-190,40"), "bbox")


@pytest.mark.parametrize(
    "value",
    ["2026-01-01T00:00:00Z", "2026-01-01t00:00:00z", "2026-01-01T00:00:00z", "2026-01-01t09:00:00+09:00",
     "2026-01-01T00:00:00.123456789Z", "2026-01-01T00:00:00.5+09:00", "2026-01-01", "../2026-01-01t00:00:00z",
     "2020-01-01T00:00:00.25Z/.."],
)  # fmt: skip
def test_req_core_fc_time_definition(public_client, world, value):
    """/req/core/fc-time-definition: RFC 3339 date-times (either case of T and Z, fractional seconds),
    dates and half-open intervals are accepted; a collection without feature times answers all."""
    fc = _items(public_client, world.yaizu, datetime=value)
    assert fc["numberMatched"] == len(YAIZU_POINTS)


def test_req_core_fc_time_response(client, world):
    """/req/core/fc-time-response: only features whose time meets the instant or interval (the people
    layer keeps one person updated now)."""
    h = world.seed.bearer(client, "welfare")
    people = f"/ogc/collections/{world.seed.slugs['restricted']}/items"
    assert (
        client.get(people, params={"datetime": "../2000-01-01t00:00:00z"}, headers=h).json()["numberMatched"]
        == 0
    )
    assert (
        client.get(people, params={"datetime": "2000-01-01T00:00:00.5Z/.."}, headers=h).json()[
            "numberMatched"
        ]
        == 1
    )
    for bad in (
        "2026-01-01T00:00:00",
        "2026-01-01T25:00:00Z",
        "2026-01-01x00:00:00Z",
        "2026-02-01Z/2026-01-01Z",
    ):
        _bilingual_400(client.get(people, params={"datetime": bad}, headers=h), "datetime")


def test_req_core_f_op_success_and_links(public_client, world):
    """/req/core/f-op, /req/core/f-success, /req/core/f-links: one feature with self and collection links."""
    one = world.ids["yaizu-hall"]
    r = _get(public_client, f"/collections/{world.yaizu}/items/{one}")
    assert r.status_code == 200 and r.headers["content-type"] == GEOJSON
    feature = r.json()
    assert feature["type"] == "Feature" and feature["id"] == one
    assert feature["geometry"]["coordinates"] == pytest.approx(list(YAIZU_POINTS["yaizu-hall"]))
    assert {"self", "collection"} <= set(_rels(feature["links"]))
    assert _get(public_client, f"/collections/{world.yaizu}/items/999999999").status_code == 404


# --- GeoJSON and HTML ----------------------------------------------------------------------------------
def test_req_geojson_definition_and_content(public_client, world):
    """/req/geojson/definition, /req/geojson/content: items and a feature in application/geo+json, as
    RFC 7946 FeatureCollection / Feature objects, when asked by Accept."""
    r = _get(public_client, f"/collections/{world.yaizu}/items", {"Accept": GEOJSON})
    assert r.headers["content-type"] == GEOJSON
    for f in r.json()["features"]:
        assert (
            f["type"] == "Feature" and f["geometry"]["type"] == "Point" and isinstance(f["properties"], dict)
        )


@pytest.mark.parametrize(
    ("accept", "html"),
    [("text/html;q=0.5, application/json", False), ("application/json;q=0, text/html", True),
     ("*/*", False), ("", False), ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
     ("application/geo+json;q=0.9, text/html;q=0.8", False), ("text/*;q=0.9, application/json;q=0.8", True)],
)  # fmt: skip
def test_req_html_definition_content_negotiation(public_client, world, accept, html):
    """/req/html/definition: HTML when the Accept header weighs text/html above JSON (q-values honoured,
    RFC 9110 12.5.1); JSON otherwise."""
    for path in ("", "/collections", f"/collections/{world.yaizu}/items"):
        r = _get(public_client, path, {"Accept": accept})
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html") is html, (path, accept)


def test_req_html_content(public_client, world):
    """/req/html/content: the HTML pages show the resource's content (Japanese first, English too)."""
    page = _get(public_client, f"/collections/{world.yaizu}/items", f="html").text
    assert '<html lang="ja">' in page and "yaizu-hall" in page and "Conformance test" in page


# --- OpenAPI 3.0 -------------------------------------------------------------------------------------
def _template(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_req_oas30_oas_definition_1_and_2(public_client):
    """/req/oas30/oas-definition-1, /req/oas30/oas-definition-2: the API definition as OpenAPI 3.0 JSON
    (valid by openapi-spec-validator) and as HTML."""
    r = _get(public_client, "/api")
    assert r.headers["content-type"] == OAS
    validate(r.json())
    assert _get(public_client, "/api", f="html").headers["content-type"].startswith("text/html")


def test_req_oas30_completeness(public_client, world):
    """/req/oas30/completeness: every route of the /ogc routers (features, tiles, styles) is in the API
    definition, tiles included, for a collection and its tiles. (Raster map tiles: tests/test_raster.py.)"""
    doc = _get(public_client, "/api").json()
    described = {_template(p) for p in doc["paths"]}
    for router in (ogc_features.router, ogc_tiles.router, ogc_styles.router):
        for route in router.routes:
            assert isinstance(route, Route)
            path = route.path.removeprefix("/ogc") or "/"
            path = path.replace("{collection_id}", world.yaizu).replace("{slug}", world.yaizu)
            assert _template(path) in described, route.path
    tile = f"/collections/{world.yaizu}/tiles/WebMercatorQuad/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"
    assert doc["paths"][tile]["get"]["responses"]["200"]["content"]["application/vnd.mapbox-vector-tile"]


def test_req_oas30_oas_impl(public_client, world):
    """/req/oas30/oas-impl: every path of the definition for our collections is implemented."""
    doc = _get(public_client, "/api").json()
    values = {"featureId": world.ids["yaizu-port"], "tileMatrix": 0, "tileRow": 0, "tileCol": 0}
    paths = [p for p in doc["paths"] if "/collections/" not in p or world.yaizu in p]
    assert len(paths) >= 11
    for path in paths:
        url = re.sub(r"\{([^}]+)\}", lambda m: str(values[m.group(1)]), path)
        r = _get(public_client, "" if url == "/" else url)
        assert str(r.status_code) in doc["paths"][path]["get"]["responses"] and r.status_code < 300, url


def test_req_core_query_param_unknown_on_styles(public_client, world):
    """/req/core/query-param-unknown on the style routes too: an unknown parameter is a 400 naming it."""
    tms = f"/collections/{world.yaizu}/tiles/WebMercatorQuad"
    for path in ("/styles", "/styles/default", f"{tms}/style.json", f"{tms}/tilejson.json"):
        assert _get(public_client, path).status_code == 200, path
        r = _get(public_client, path, colour="red")
        assert r.status_code == 400 and "colour" in r.text, path
