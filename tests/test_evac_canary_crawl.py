"""Canary crawl for evacuation data: households (names, phones, addresses, needs) and check-ins seeded
with canary strings, plus a shelter with canary name and unique coordinates in an internal layer. Every
GET route of both instances is then requested anonymously — with path parameters filled with the
seeded ids, forged tokens, tiles over the canary coordinates and export formats — and the pages,
tiles, exports, OGC collections and error answers must contain no canary at all."""

from __future__ import annotations

import itertools
import math
import re
import secrets
import uuid

import pytest
from fastapi.openapi.utils import get_openapi
from fastapi.testclient import TestClient
from sqlalchemy import text

from gisapp.app import create_app
from gisapp.ops import households
from tests.support import count
from tests.test_checkin import make_world, open_shelter, scan

CANARY_NAME = "CanaryEvacName"
CANARY_PHONE = "0999-77-1357"
CANARY_ADDRESS = "CanaryEvacAddress"
CANARY_NEEDS = "CanaryEvacNeeds"
CANARY_SHELTER = "CanaryEvacShelter"
CANARY_LON, CANARY_LAT = "139.2417731", "35.4417733"  # nowhere else in the tests
CANARIES = (
    CANARY_NAME,
    CANARY_PHONE,
    CANARY_ADDRESS,
    CANARY_NEEDS,
    CANARY_SHELTER,
    CANARY_LON,
    CANARY_LAT,
    "CanaryKiosk",
)
PAGES = ["/", "/register", "/kiosk", "/login", "/hq", "/gis", "/report"]
QUERIES = ["", "?f=json", "?f=html", "?format=geojson", "?format=csv", "?limit=1000", "?lang=en"]


def tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


@pytest.fixture(scope="module")
def apps(settings):
    with (
        TestClient(create_app(settings)) as internal,
        TestClient(create_app(settings, public=True)) as public,
    ):
        yield {"internal": internal, "public": public}


@pytest.fixture(scope="module")
def seeded(apps, app_engine) -> dict:
    c = apps["internal"]
    tag = f"ec{secrets.token_hex(3)}"
    world = make_world(c, app_engine, tag, (139.2500, 35.4400))
    with app_engine.begin() as conn:  # an internal-layer shelter with a canary name and unique coordinates
        conn.execute(text("SELECT set_config('gisapp.roles', 'admin', true)"))
        conn.execute(
            text(
                """UPDATE gis.shelter SET name = :n, address = :a,
                          geom = ST_SetSRID(ST_MakePoint(CAST(:x AS float8), CAST(:y AS float8)), 4326)
                    WHERE id = :id"""
            ),
            {
                "n": CANARY_SHELTER,
                "a": CANARY_ADDRESS,
                "x": CANARY_LON,
                "y": CANARY_LAT,
                "id": world.shelters["internal"],
            },
        )
    for name in ("flood", "internal"):
        open_shelter(c, world, name)
    tokens, ids = [], []
    for i in range(3):
        body = {
            "representative_name": f"{CANARY_NAME} {i}",
            "phone": CANARY_PHONE,
            "address": f"{CANARY_ADDRESS} {i}",
            "members": [
                {
                    "name": f"{CANARY_NAME} member {i}",
                    "birth_year": 1940,
                    "needs_care": True,
                    "needs": CANARY_NEEDS,
                }
            ],
            "pets": 1,
        }
        r = apps["public"].post("/api/register", json=body)
        assert r.status_code == 201
        tokens.append(r.json()["token"])
        ids.append(
            count(
                app_engine,
                "SELECT id FROM restricted.household WHERE token_hash = :h",
                h=households.token_hash(tokens[-1]),
            )
        )
        shelter = "flood" if i < 2 else "internal"
        body = {
            "client_event_id": str(uuid.uuid4()),
            "kind": "entry",
            "kiosk_id": f"CanaryKiosk-{i}",
            "token": tokens[-1],
        }
        path = f"/api/disasters/{world.disaster_id}/shelters/{world.shelters[shelter]}/checkins"
        assert c.post(path, json=body, headers=world.staff).status_code == 200
    scan(c, world, "flood", persons=2)
    # An evacuation-status report by staff, its note a canary too (restricted.household_status).
    status = {"token": tokens[0], "status": "car", "note": f"{CANARY_NAME} 車中泊メモ"}
    assert c.post("/api/evacuation-status", json=status, headers=world.staff).status_code == 200
    return {"world": world, "tokens": tokens, "household_ids": ids, "tag": tag}


def _values(param: str, seeded: dict) -> list[str]:
    world = seeded["world"]
    forged = [t[:-2] + ("zz" if not t.endswith("zz") else "yy") for t in seeded["tokens"]]
    lon, lat = float(CANARY_LON), float(CANARY_LAT)
    if param in ("z",):
        return ["14", "16"]
    if param == "x":
        return [str(tile(lon, lat, 14)[0]), str(tile(lon, lat, 16)[0])]
    if param == "y":
        return [str(tile(lon, lat, 14)[1]), str(tile(lon, lat, 16)[1])]
    if "token" in param:
        return forged + [households.new_token(), "not-a-token"]
    if param == "fmt":
        return ["svg", "png"]
    if "household" in param:
        return [str(i) for i in seeded["household_ids"]]
    if "shelter" in param:
        return [str(i) for i in world.shelters.values()]
    if "disaster" in param:
        return [str(world.disaster_id)]
    if "matrix" in param.lower():
        return ["WebMercatorQuad"]
    # Layer slugs and any other id: the shelter layers (public and internal) and the seeded ids.
    tag = world.seed.tag
    return [
        f"{tag}-shelters",
        f"{tag}-shelters-int",
        str(world.shelters["internal"]),
        str(seeded["household_ids"][0]),
    ]


def _paths(app, seeded: dict) -> list[str]:
    spec = get_openapi(title="crawl", version="0", routes=app.routes)
    paths = list(PAGES) + [f"/register/{t}" for t in _values("token", seeded)]
    for route_path, ops in spec["paths"].items():
        if "get" not in ops:
            continue
        params = re.findall(r"{(\w+)(?::\w+)?}", route_path)
        # A dot-suffixed parameter (qr.{fmt}) is a separate placeholder.
        choices = [_values(p, seeded) for p in params]
        for combo in itertools.islice(itertools.product(*choices), 16):
            path = route_path
            for p, v in zip(params, combo, strict=True):
                path = re.sub(r"{" + p + r"(?::\w+)?}", v, path)
            paths.append(path)
    return sorted(set(paths))


@pytest.mark.parametrize("instance", ["internal", "public"])
def test_no_household_or_checkin_canary_anywhere(instance, apps, seeded):
    c = apps[instance]
    c.cookies.clear()
    paths = _paths(c.app, seeded)
    assert "/api/public/shelters/status" in paths
    assert any(p.startswith("/api/register/") for p in paths)
    checked = 0
    for path in paths:
        if path in ("/api/events", "/api/public/evacuation-info/stream"):  # streams (tested on their own)
            continue
        for q in QUERIES:
            r = c.get(path + q)
            body = r.content.decode("utf-8", errors="replace")
            for canary in CANARIES:
                assert canary not in body, (path + q, r.status_code, canary)
            checked += 1
    assert checked > 100
    # Control: the detector works: the holder of the real token does see their own registration.
    assert CANARY_NAME in c.get(f"/api/register/{seeded['tokens'][0]}").text
    # The crawl saw the open public shelter with its numbers (the data is there, only people are not).
    status = c.get("/api/public/shelters/status").json()["shelters"]
    mine = [s for s in status if s["disaster_id"] == seeded["world"].disaster_id]
    assert [s["occupancy"] for s in mine] == [2 + 2]  # two one-person households and two walk-ins at "flood"
