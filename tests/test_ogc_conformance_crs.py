"""Our own conformance suite for OGC API – Features – Part 2: Coordinate Reference Systems by Reference
(OGC 18-058r1), requirement by requirement, on the citizen-facing instance: every JGD2011 plane
rectangular zone (EPSG:6669–6687) and each collection's declared source CRS (焼津 in zone VIII,
EPSG:6676; a JGD2000 layer in EPSG:2450). Expected coordinates and axis orders come from pyproj in the
CRS's authority axis order, never from our own tables."""

from __future__ import annotations

import pytest
from pyproj import CRS, Transformer

from tests.ogc_conformance_support import YAIZU_POINTS, World, make_world

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
ZONES = list(range(6669, 6688))
GLOBAL = [CRS84, f"{EPSG}4326", f"{EPSG}6668", *(f"{EPSG}{z}" for z in ZONES)]


@pytest.fixture(scope="module")
def world(app_engine) -> World:
    return make_world(app_engine, "ogccrs")


def _get(client, path: str, **params):
    return client.get(f"/ogc{path}", params=params)


def _collection(client, slug: str) -> dict:
    r = _get(client, f"/collections/{slug}")
    assert r.status_code == 200, r.text
    return r.json()


def _features(client, slug: str, **params) -> dict[str, list[float]]:
    r = _get(client, f"/collections/{slug}/items", limit=1000, **params)
    assert r.status_code == 200, r.text
    return {f["properties"].get("name", "one"): f["geometry"]["coordinates"] for f in r.json()["features"]}


def _authority(epsg: int, lon: float, lat: float) -> list[float]:
    """(lon, lat) in EPSG:`epsg`, in that CRS's own axis order."""
    return list(Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}").transform(lat, lon))


def _bad(r, parameter: str) -> None:
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["parameter"] == parameter and err["message_ja"] != err["message_en"]


def test_req_crs_crs_uri_and_fc_md_crs_list_global(public_client):
    """/req/crs/crs-uri, /req/crs/fc-md-crs-list-global: /collections lists the CRSs every collection
    offers, as URIs: CRS84, 4326, JGD2011 and all nineteen plane rectangular zones."""
    body = _get(public_client, "/collections").json()
    assert body["crs"] == GLOBAL
    assert all(uri.startswith("http://www.opengis.net/def/crs/") for uri in body["crs"])


def test_req_crs_fc_md_crs_list_and_storage_crs(public_client, world):
    """/req/crs/fc-md-crs-list, /req/crs/fc-md-storageCrs, /req/crs/fc-md-storageCrs-valid-value: each
    collection lists its CRSs (the global ones, and its declared source CRS where that is another), and
    its storage CRS is one of them."""
    yaizu = _collection(public_client, world.yaizu)
    assert yaizu["crs"] == GLOBAL  # its source, EPSG:6676, is already a global one
    old = _collection(public_client, world.jgd2000)
    assert old["crs"] == [*GLOBAL, f"{EPSG}2450"]
    for doc in (yaizu, old):
        assert doc["storageCrs"] == CRS84 and doc["storageCrs"] in doc["crs"]
    # The API definition offers the same per collection.
    api = _get(public_client, "/api").json()
    items = api["paths"][f"/collections/{world.jgd2000}/items"]["get"]["parameters"]
    crs_param = next(p for p in items if p.get("name") == "crs")
    assert crs_param["schema"]["enum"] == old["crs"]


def test_req_crs_fc_crs_default_value_and_ogc_crs_header(public_client, world):
    """/req/crs/fc-crs-default-value, /req/crs/ogc-crs-header, /req/crs/ogc-crs-header-value: without
    crs the answer is CRS84 (lon, lat), and Content-Crs names the CRS of every items and feature answer."""
    r = _get(public_client, f"/collections/{world.yaizu}/items")
    assert r.headers["content-crs"] == f"<{CRS84}>"
    one = _get(public_client, f"/collections/{world.yaizu}/items/{world.ids['yaizu-port']}", crs="EPSG:6676")
    assert one.headers["content-crs"] == f"<{EPSG}6676>"
    plane = _get(public_client, f"/collections/{world.yaizu}/items", crs=f"{EPSG}6677")
    assert plane.headers["content-crs"] == f"<{EPSG}6677>"


@pytest.mark.parametrize("zone", ZONES)
def test_req_crs_fc_crs_action_every_plane_zone(public_client, world, zone):
    """/req/crs/fc-crs-definition, /req/crs/fc-crs-action: coordinates in each JGD2011 zone, in the
    zone's axis order (X north, Y east, as pyproj reads EPSG)."""
    assert [a.direction for a in CRS.from_epsg(zone).axis_info] == ["north", "east"]
    got = _features(public_client, world.yaizu, crs=f"EPSG:{zone}", bbox="138.30,34.85,138.34,34.88")
    assert set(got) == {"yaizu-port", "yaizu-station", "yaizu-hall"}
    for name, coordinates in got.items():
        assert coordinates == pytest.approx(_authority(zone, *YAIZU_POINTS[name]), abs=0.002)


def test_req_crs_fc_crs_action_source_crs(public_client, world):
    """/req/crs/fc-crs-action: a collection in its declared source CRS, JGD2000 zone VIII (EPSG:2450);
    JGD2011 (6668) is lat, lon; 焼津 in its own zone VIII lies near the zone's origin."""
    got = _features(public_client, world.jgd2000, crs=f"{EPSG}2450")
    assert got["one"] == pytest.approx(_authority(2450, 138.32, 34.87), abs=0.002)
    lat_lon = _features(public_client, world.yaizu, crs="EPSG:6668")
    assert lat_lon["yaizu-hall"] == pytest.approx(_authority(6668, *YAIZU_POINTS["yaizu-hall"]), abs=1e-6)
    north, east = _features(public_client, world.yaizu, crs="EPSG:6676")["yaizu-hall"]
    assert abs(north) < 150_000 and abs(east) < 30_000  # zone VIII's origin: 36°N 138°30'E


def test_req_crs_fc_crs_valid_value(public_client, world):
    """/req/crs/fc-crs-valid-value: a CRS the collection does not offer is a 400 (the JGD2000 zone is
    offered by the collection that declares it, not by another)."""
    _bad(_get(public_client, f"/collections/{world.yaizu}/items", crs="EPSG:2450"), "crs")
    _bad(_get(public_client, f"/collections/{world.yaizu}/items", crs="EPSG:3857"), "crs")
    _bad(_get(public_client, f"/collections/{world.yaizu}/items/{world.ids['isehara']}", crs="urn:x"), "crs")


def test_req_crs_fc_bbox_crs_definition_and_action(public_client, world):
    """/req/crs/fc-bbox-crs-definition, /req/crs/fc-bbox-crs-valid-defaultValue, /req/crs/fc-bbox-crs-action:
    a bbox in a plane zone's own coordinates (X north, Y east) selects the features inside it."""
    corners = [_authority(6676, lon, lat) for lon, lat in ((138.30, 34.85), (138.34, 34.88))]
    bbox = ",".join(str(v) for v in (*corners[0], *corners[1]))
    got = _features(public_client, world.yaizu, **{"bbox": bbox, "bbox-crs": f"{EPSG}6676"})
    assert set(got) == {"yaizu-port", "yaizu-station", "yaizu-hall"}
    # Default bbox-crs: CRS84 (lon, lat).
    assert set(_features(public_client, world.yaizu, bbox="138.30,34.85,138.34,34.88")) == set(got)
    # The source CRS of the JGD2000 collection is a bbox CRS of that collection.
    x, y = _authority(2450, 138.32, 34.87)
    box = f"{x - 10},{y - 10},{x + 10},{y + 10}"
    assert set(_features(public_client, world.jgd2000, bbox=box, **{"bbox-crs": "EPSG:2450"})) == {"one"}


def test_req_crs_fc_bbox_crs_valid_value(public_client, world):
    """/req/crs/fc-bbox-crs-valid-value: an unoffered bbox-crs, a projected box outside the CRS's area
    of use, or one with a lower corner above the upper (projected boxes never wrap) are 400s."""
    items = f"/collections/{world.yaizu}/items"
    _bad(_get(public_client, items, bbox="1,2,3,4", **{"bbox-crs": "EPSG:3857"}), "bbox-crs")
    _bad(_get(public_client, items, bbox="1e8,1e8,1e9,1e9", **{"bbox-crs": "EPSG:6677"}), "bbox")
    _bad(_get(public_client, items, bbox="-1000,10,-2000,20", **{"bbox-crs": "EPSG:6676"}), "bbox")
    # A huge box that does meet the area is clipped, not a 500.
    huge = _get(public_client, items, bbox="-1e12,-1e12,1e12,1e12", **{"bbox-crs": "EPSG:6676"})
    assert huge.status_code == 200 and huge.json()["numberMatched"] >= 4
