"""Canary crawl for people needing evacuation help: people with canary names, phones, addresses and
unique coordinates are seeded (some consenting, some not); every GET route of the internal app (with
the people routes) and of the public instance, every page, tile and export, is fetched anonymously,
and as staff of another department and as an hq_operator in normal mode — no response may contain a
canary, not even an error page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from gisapp.db import transaction
from tests.fixtures_data import seed
from tests.test_visibility_crawl import _get_routes, _paths

AREA = "カナリア町9丁目"
REGISTRY = "people-canary-registry"
# Coordinates nobody else uses, written as a response would (ST_AsGeoJSON / JSON floats).
PEOPLE = [
    ("CANARY-PNH-1", "CANARYNAME-ICHI", "000-9999-0001", 140.612345, 36.712345, True),
    ("CANARY-PNH-2", "CANARYNAME-NI", "000-9999-0002", 140.623456, 36.723456, False),
]
CANARIES = [c for p in PEOPLE for c in (p[0], p[1], p[2], str(p[3]), str(p[4]))] + [AREA, "CANARYSUPPORT"]


@pytest.fixture(scope="module")
def api(client):
    return client


@pytest.fixture(scope="module")
def seeded(app_engine):
    users = seed(app_engine, "pcanary")
    with transaction(app_engine, ["admin"]) as conn:
        layer_id = conn.execute(
            text(
                """INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind, geometry_type)
                   VALUES (:s, 'カナリア名簿', 'canary registry', :d, 'restricted', 'person_needing_help', 'Point')
                   ON CONFLICT (slug) DO UPDATE SET visibility = 'restricted' RETURNING id"""
            ),
            {"s": REGISTRY, "d": users.dept_id},
        ).scalar_one()
        ids = []
        for ext, name, phone, lon, lat, consent in PEOPLE:
            ids.append(
                conn.execute(
                    text(
                        """INSERT INTO restricted.person_needing_help (layer_id, external_id, name, phone, address,
                             community_area, care_category, consent, support_persons, geom)
                           VALUES (:l, :ext, :name, :phone, :addr, :area, '要介護5', :consent,
                             '[{"name": "CANARYSUPPORT", "relation": "長男", "phone": "000-9999-9999"}]',
                             ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
                           ON CONFLICT (layer_id, external_id) DO UPDATE SET name = EXCLUDED.name RETURNING id"""
                    ),
                    {
                        "l": layer_id,
                        "ext": ext,
                        "name": name,
                        "phone": phone,
                        "addr": f"架空市{AREA}{ext}",
                        "area": AREA,
                        "consent": consent,
                        "lon": lon,
                        "lat": lat,
                    },  # fmt: skip
                ).scalar_one()
            )
        conn.execute(
            text(
                "INSERT INTO restricted.evacuation_plan (person_id, status, summary, updated_by)"
                " VALUES (:p, 'drafting', 'CANARYSUPPORT plan', 'test') ON CONFLICT (person_id) DO NOTHING"
            ),
            {"p": ids[0]},
        )
    return users, [str(i) for i in ids]


QUERIES = ["", f"?area={AREA}", "?f=json", "?format=csv", "?limit=1000", "?q=CANARY"]
EXTRA = [
    f"/people/roster?area={AREA}",
    f"/api/people/roster.csv?area={AREA}",
    "/api/people/priority?limit=100000",
]


def _crawl(c, paths: list[str], headers: dict[str, str]) -> int:
    fetched = 0
    for path in paths:
        if path in ("/api/events", "/api/public/evacuation-info/stream"):  # streams (tested on their own)
            continue
        for q in QUERIES if "?" not in path else [""]:
            r = c.get(path + q, headers=headers, follow_redirects=True)
            body = r.content.decode("utf-8", errors="replace")
            if AREA in path + q:
                body = body.replace(AREA, "")  # the request's own words echoed (a form's value, a title)
            for canary in CANARIES:
                assert canary not in body, (path + q, r.status_code)
            fetched += 1
    return fetched


@pytest.mark.parametrize("who", ["anonymous", "public", "staff", "hq"])
def test_people_canaries_never_leak(who, api, public_client, seeded):
    users, ids = seeded
    c = public_client if who == "public" else api
    c.cookies.clear()
    headers = users.bearer(api, who) if who in ("staff", "hq") else {}
    # The shared crawl fills {person_id} with a slug; fill it with the canaries' ids here as well.
    person_routes = [p for p in _get_routes(c.app) if "{person_id}" in p]
    paths = (
        _paths(c.app, [REGISTRY], ids)
        + EXTRA
        + [p.replace("{person_id}", i) for p in person_routes for i in ids]
    )
    assert not any(re.search(r"{\w+}", p) for p in paths)
    if who != "public":
        assert any(
            p.startswith("/api/people/") and p.endswith(ids[0]) for p in paths
        )  # the crawl reaches them
    assert _crawl(c, paths, headers) > 50


def test_the_canaries_are_there_for_the_keeper(api, seeded):
    """The crawl is not vacuous: the keeper sees the canaries through the same routes."""
    users, ids = seeded
    admin = users.bearer(api, "admin")
    assert "CANARYNAME-ICHI" in api.get(f"/api/people/{ids[0]}", headers=admin).text
    assert (
        "CANARYNAME-NI" in api.get(f"/api/people?area={AREA}", headers=admin).text
    )  # no consent: registry only
    roster = api.get(f"/api/people/roster.csv?area={AREA}", headers=admin).text
    assert "CANARYNAME-ICHI" in roster and "CANARYNAME-NI" not in roster  # a roster: consenting people only
