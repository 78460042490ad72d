"""Crawl every GET route anonymously, on the internal app and on the public instance, with path
parameters filled in with the ids of internal and restricted layers (and their features): no
response may reveal them — not lists, items, tiles, exports, search or error messages."""

from __future__ import annotations

import re

import pytest
from fastapi.openapi.utils import get_openapi
from sqlalchemy import text

from tests.fixtures_data import seed

CANARIES = ("internal-canary", "CANARY-PERSON", "crawl-internal", "crawl-restricted")


@pytest.fixture(scope="module")
def seeded(app_engine):
    return seed(app_engine, "crawl")


def _feature_ids(app_engine, seeded) -> list[str]:
    with app_engine.begin() as conn:
        conn.execute(text("SELECT set_config('gisapp.roles', 'admin', true)"))
        ids = conn.execute(
            text(
                "SELECT f.id FROM gis.feature f JOIN gis.layer l ON l.id = f.layer_id WHERE l.slug = :s "
                "UNION ALL SELECT p.id FROM restricted.person_needing_help p JOIN gis.layer l ON l.id = p.layer_id "
                "WHERE l.slug = :r"
            ),
            {"s": seeded.slugs["internal"], "r": seeded.slugs["restricted"]},
        ).scalars()
        return [str(i) for i in ids]


PAGES = ["/", "/hq", "/gis", "/login"]  # not in the API document


def _get_routes(app) -> list[str]:
    """Every GET path the app serves (from its OpenAPI description, built even where it is not
    published), plus the pages."""
    spec = get_openapi(title="crawl", version="0", routes=app.routes)
    return PAGES + [path for path, ops in spec["paths"].items() if "get" in ops]


def _paths(app, hidden_slugs: list[str], feature_ids: list[str]) -> list[str]:
    paths = []
    for route_path in _get_routes(app):
        params = re.findall(r"{(\w+)(?::\w+)?}", route_path)
        if not params:
            paths.append(route_path)
            continue
        for slug in hidden_slugs:
            for fid in feature_ids or ["1"]:
                values = {}
                for p in params:
                    if p in ("z",):
                        values[p] = "14"
                    elif p in ("x",):
                        values[p] = "14546"
                    elif p in ("y",):
                        values[p] = "6463"
                    elif "feature" in p.lower() or p == "fid":
                        values[p] = fid
                    elif "matrix" in p.lower():
                        values[p] = "WebMercatorQuad"
                    else:
                        values[p] = slug
                path = route_path
                for p, v in values.items():
                    path = re.sub(r"{" + p + r"(?::\w+)?}", v, path)
                paths.append(path)
    return sorted(set(paths))


@pytest.mark.parametrize("instance", ["internal", "public"])
def test_anonymous_crawl_reveals_no_hidden_layer(instance, client, public_client, app_engine, seeded):
    c = client if instance == "internal" else public_client
    c.cookies.clear()
    hidden = [seeded.slugs["internal"], seeded.slugs["restricted"]]
    paths = _paths(c.app, hidden, _feature_ids(app_engine, seeded))
    assert any(seeded.slugs["internal"] in p for p in paths)
    queries = ["", "?f=json", "?f=html", "?q=canary", "?format=geojson", "?limit=1000"]
    for path in paths:
        if path in ("/api/events", "/api/public/evacuation-info/stream"):  # streams (tested on their own)
            continue
        for q in queries:
            r = c.get(path + q)
            body = r.content.decode("utf-8", errors="replace")
            for canary in CANARIES:
                assert canary not in body, (path + q, r.status_code)
            for slug in hidden:
                # A hidden layer's id may only appear where the request itself echoed it back in a link.
                assert slug not in body.replace(path, ""), (path + q, r.status_code, body[:300])
