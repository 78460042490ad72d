"""CORS on the anonymous read APIs (gisapp/cors.py): preflight, simple reads, the warm-tile fast path,
and no CORS at all on writes, staff APIs or credentials."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.fixtures_data import Seed, seed
from tests.support import wait_until
from tests.test_tiles import SEED_POINT, tile_of, url

TAG = "cors"
ORIGIN = {"Origin": "https://www.city.example.jp"}


@pytest.fixture(scope="module")
def seeded(app_engine: Engine) -> Seed:
    return seed(app_engine, TAG)


def _no_cors(r) -> None:
    assert "access-control-allow-origin" not in r.headers
    assert "access-control-allow-credentials" not in r.headers


@pytest.mark.parametrize("which", ["public_client", "client"])
def test_a_preflight_for_a_read_is_answered_with_what_may_be_asked(request, seeded, which) -> None:
    c = request.getfixturevalue(which)
    r = c.options(
        f"/ogc/collections/{seeded.slugs['public']}/items",
        headers={
            **ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "accept, if-none-match",
        },
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    assert {"GET", "HEAD", "OPTIONS"} <= {
        m.strip() for m in r.headers["access-control-allow-methods"].split(",")
    }
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"accept", "if-none-match"} <= allowed and "authorization" not in allowed
    assert int(r.headers["access-control-max-age"]) > 0
    assert "access-control-allow-credentials" not in r.headers


def test_reads_carry_allow_origin_and_expose_the_ogc_headers(public_client, seeded) -> None:
    slug = seeded.slugs["public"]
    items = public_client.get(f"/ogc/collections/{slug}/items", headers=ORIGIN)
    assert items.status_code == 200
    assert items.headers["access-control-allow-origin"] == "*"
    exposed = {h.strip().lower() for h in items.headers["access-control-expose-headers"].split(",")}
    assert {"content-crs", "etag", "link"} <= exposed
    assert "access-control-allow-credentials" not in items.headers
    for path in (
        "/ogc",
        "/ogc/collections",
        "/api/public/layers",
        f"/ogc/collections/{slug}/tiles/WebMercatorQuad",
    ):
        r = public_client.get(path, headers=ORIGIN)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*", path
    # An error of a read path is readable cross-origin too (the client can show the message).
    missing = public_client.get("/ogc/collections/no-such-layer/items", headers=ORIGIN)
    assert missing.status_code == 404 and missing.headers["access-control-allow-origin"] == "*"


def test_the_warm_tile_fast_path_carries_allow_origin(public_client, seeded) -> None:
    directory = public_client.app.state.layer_directory
    wait_until(lambda: directory.layers is not None and seeded.slugs["public"] in directory.layers, 10)
    x, y = tile_of(*SEED_POINT, 15)
    path = url(seeded.slugs["public"], 15, x, y)
    cold = public_client.get(path, headers=ORIGIN)
    served = directory.served
    warm = public_client.get(path, headers=ORIGIN)
    assert directory.served == served + 1  # answered by the fast path
    for r in (cold, warm):
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    revalidated = public_client.get(path, headers={**ORIGIN, "If-None-Match": warm.headers["etag"]})
    assert revalidated.status_code == 304 and revalidated.headers["access-control-allow-origin"] == "*"


def test_writes_and_staff_apis_get_no_cors(client, public_client, seeded) -> None:
    # A preflight for a write, even on a read path, is refused by saying nothing.
    for c, path in (
        (public_client, "/api/reports"),
        (client, "/api/layers"),
        (public_client, "/ogc/collections"),
    ):
        r = c.options(path, headers={**ORIGIN, "Access-Control-Request-Method": "POST"})
        _no_cors(r)
    # The write itself (a citizen report from another site) and a staff read carry no CORS.
    _no_cors(public_client.post("/api/reports", json={}, headers=ORIGIN))
    staff = client.get("/api/layers", headers={**ORIGIN, **seeded.bearer(client, "staff")})
    assert staff.status_code == 200
    _no_cors(staff)
    # The staff API's Origin check still refuses a cookie write from another site.
    assert (
        client.post("/api/layers/x/features", headers={**ORIGIN, "Cookie": "gisapp_session=x"}).status_code
        == 403
    )
