"""Serving on the disaster day (issue 11): compression, cache headers and validators where promised and
absent on personal data; the response cache (single flight, stale-while-revalidate, invalidation on a
layer change); admission control (fast 503 with Retry-After, recovery, no pool deadlock).

The apps run in uvicorn on a free port (tests.test_pages_browser.Server) against the session's real
PostGIS, so concurrent requests are real concurrent requests."""

from __future__ import annotations

import gzip
import math
import re
import threading
from collections.abc import Iterator

import brotli
import httpx2 as httpx
import pytest
from sqlalchemy import text

from gisapp.app import create_app
from gisapp.db import set_roles
from tests.fixtures_data import seed
from tests.support import wait_until
from tests.test_pages_browser import Server


@pytest.fixture(scope="module")
def seeded(app_engine):
    return seed(app_engine, "serving")


@pytest.fixture(scope="module")
def public(settings, seeded) -> Iterator[Server]:
    """The citizen-facing instance as deployed: response cache on."""
    with Server(create_app(settings, public=True)) as server:
        wait_until(lambda: server.server.config.app.state.layer_directory.layers is not None, 10)
        yield server


def _state(server: Server):
    return server.server.config.app.state


def _get(server: Server, path: str, **headers: str) -> httpx.Response:
    return httpx.get(server.url + path, headers=headers, timeout=30)


def _at_once(n: int, ask, timeout: float = 60) -> list:
    """What ``ask()`` returns in each of ``n`` threads released at the same instant."""
    barrier = threading.Barrier(n)
    answers: list = []
    lock = threading.Lock()

    def one() -> None:
        barrier.wait()
        got = ask()
        with lock:
            answers.append(got)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return answers


def _page_assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/(?:static|pages)/[^"]+)"', html)


# ----------------------------------------------------------------------------------- compression
def test_the_citizen_page_and_its_assets_are_compressed_and_cached_for_good(public):
    page = _get(public, "/", **{"Accept-Encoding": "br"})
    assert page.status_code == 200
    assert page.headers["content-encoding"] == "br" and "Accept-Encoding" in page.headers["vary"]
    assert page.headers["cache-control"].startswith("public, max-age=")
    assert "content-security-policy" in page.headers  # the security headers are still there
    assets = _page_assets(page.text)
    # Leaflet is not in the first view (the map loads on demand); its URL rides in the page data
    leaflet_url = re.search(r'"(/static/vendor/leaflet/leaflet\.js\?v=[0-9a-f]+)"', page.text).group(1)
    assets.append(leaflet_url)
    assert any("pages/citizen.js" in a for a in assets) and all("?v=" in a for a in assets)
    for path in assets:
        r = _get(public, path, **{"Accept-Encoding": "gzip, br"})
        assert r.status_code == 200, path
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable", path
        assert r.headers.get("content-encoding") == "br", path  # Brotli preferred when offered
    leaflet = next(a for a in assets if "leaflet.js" in a)
    raw = httpx.get(public.url + leaflet, headers={"Accept-Encoding": "gzip"}, timeout=30)
    # httpx decodes transparently: the wire size is in content-length.
    assert raw.headers["content-encoding"] == "gzip"
    assert int(raw.headers["content-length"]) < len(raw.content) / 2
    identity = _get(public, leaflet, **{"Accept-Encoding": "identity"})
    assert "content-encoding" not in identity.headers and identity.content == raw.content


def test_compressed_bodies_decode_to_the_same_document(public, seeded):
    path = "/?lang=en"
    with httpx.Client(timeout=30) as h:
        plain = h.get(public.url + path, headers={"Accept-Encoding": "identity"})
        req = h.build_request("GET", public.url + path, headers={"Accept-Encoding": "br"})
        br = h.send(req, stream=True)
        wire = b"".join(br.iter_raw())
        req = h.build_request("GET", public.url + path, headers={"Accept-Encoding": "gzip"})
        gz = h.send(req, stream=True)
        gz_wire = b"".join(gz.iter_raw())
    assert br.headers["content-encoding"] == "br" and brotli.decompress(wire) == plain.content
    assert gz.headers["content-encoding"] == "gzip" and gzip.decompress(gz_wire) == plain.content


def test_an_uncached_dynamic_answer_is_compressed_too(public, seeded):
    r = _get(public, "/ogc/collections?f=json", **{"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert r.headers["cache-control"] == "no-store"  # not a cached answer: no shared lifetime


def test_a_static_file_without_its_hash_is_revalidated(public):
    r = _get(public, "/static/js/lib/api.js")
    assert r.headers["cache-control"] == "no-cache" and r.headers["etag"]
    again = _get(public, "/static/js/lib/api.js", **{"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


# ----------------------------------------------------------------------------- public JSON
@pytest.mark.parametrize(
    "path,max_age",
    [
        ("/api/public/shelters/status", 5),
        ("/api/public/incidents", 5),
        ("/api/public/layers", 15),
    ],
)
def test_public_json_has_short_lifetimes_and_validators(public, seeded, path, max_age):
    r = _get(public, path)
    assert r.status_code == 200
    assert r.headers["cache-control"].startswith(f"public, max-age={max_age}, s-maxage=")
    etag, modified = r.headers["etag"], r.headers["last-modified"]
    assert etag.startswith('W/"')
    by_tag = _get(public, path, **{"If-None-Match": etag})
    assert by_tag.status_code == 304 and by_tag.headers["etag"] == etag and by_tag.content == b""
    by_date = _get(public, path, **{"If-Modified-Since": modified})
    assert by_date.status_code == 304
    other = _get(public, path, **{"If-None-Match": 'W/"something-else"'})
    assert other.status_code == 200 and other.content == r.content


def test_shelter_congestion_is_at_most_30_seconds_stale_by_its_headers(public):
    r = _get(public, "/api/public/shelters/status")
    cc = dict(
        (part.split("=") + [""])[:2] for part in (p.strip() for p in r.headers["cache-control"].split(","))
    )
    rule = next(
        rule for rule in _state(public).response_cache.rules if rule.pattern.pattern.endswith("status$")
    )
    # In memory (fresh, then stale while refreshing or while the database fails) + proxy (s-maxage;
    # deploy/nginx serves it stale only while refreshing) + browser (max-age).
    assert rule.ttl + rule.stale + int(cc["s-maxage"]) + int(cc["max-age"]) <= 30


def test_a_layer_change_reaches_the_cached_answers_without_waiting_for_their_lifetime(
    public, seeded, app_engine
):
    slug = seeded.slugs["public"]
    path = f"/api/public/layers/{slug}/features"
    before = _get(public, path).json()
    reloads = _state(public).layer_directory.reloads
    with app_engine.begin() as conn:
        set_roles(conn, ["admin"])
        conn.execute(
            text(
                """INSERT INTO gis.feature (layer_id, source_key, properties, geom)
                   SELECT id, 'k-serving-new', '{"name": "new"}', ST_SetSRID(ST_MakePoint(139.32, 35.41), 4326)
                   FROM gis.layer WHERE slug = :s ON CONFLICT DO NOTHING"""
            ),
            {"s": slug},
        )
        conn.execute(text("UPDATE gis.layer SET revision = revision + 1 WHERE slug = :s"), {"s": slug})
    wait_until(lambda: _state(public).layer_directory.reloads > reloads, 10)
    after = _get(public, path).json()
    assert len(after["features"]) == len(before["features"]) + 1
    # The older version's copy went when the new one was stored: one copy per URL, however often
    # the layer changes.
    assert [k for k in _state(public).response_cache.entries if k[0] == path] == [
        (path, b"", _state(public).layer_directory.reloads)
    ]


def test_the_features_cache_still_counts_public_gis_accesses(public, seeded, app_engine):
    state = _state(public)
    layer = state.layer_directory.layers[seeded.slugs["public"]]
    path = f"/api/public/layers/{seeded.slugs['public']}/features"

    def counted() -> int:
        state.access.flush()
        with app_engine.connect() as conn:
            return conn.execute(
                text("SELECT coalesce(sum(hits), 0) FROM gis.layer_access_daily WHERE layer_id = :l"),
                {"l": layer.id},
            ).scalar_one()

    _get(public, path)
    before, hits = counted(), state.response_cache.hits
    for _ in range(3):
        assert _get(public, path).status_code == 200
    assert state.response_cache.hits >= hits + 3  # answered from memory…
    assert counted() == before + 3  # …and counted all the same


def test_many_citizens_at_once_cost_one_database_read(public):
    state = _state(public)
    path = "/api/public/shelters/status"
    state.response_cache.clear()
    fills = state.response_cache.fills
    answers = _at_once(20, lambda: _get(public, path))
    assert len(answers) == 20 and {a.status_code for a in answers} == {200}
    assert len({a.headers["etag"] for a in answers}) == 1
    assert state.response_cache.fills == fills + 1


def test_an_expired_answer_is_served_at_once_and_refreshed_behind(public):
    state = _state(public)
    path = "/api/public/incidents"
    first = _get(public, path)
    entry = next(e for k, e in state.response_cache.entries.items() if k[0] == path)
    entry.stored -= 6  # older than its 5 s lifetime, within its stale window
    fills = state.response_cache.fills
    stale = _get(public, path)
    assert stale.status_code == 200 and int(stale.headers["age"]) >= 6
    assert stale.headers["etag"] == first.headers["etag"]
    wait_until(lambda: state.response_cache.fills > fills, 10)
    fresh = _get(public, path)
    assert "age" not in fresh.headers


# --------------------------------------------------------------------------- never for personal data
def test_personal_data_is_neither_cached_nor_compressed(client, seeded):
    welfare = seeded.bearer(client, "welfare")
    for path in ("/api/people?limit=50", "/api/people/priority"):
        r = client.get(path, headers={**welfare, "Accept-Encoding": "gzip, br"})
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        assert "etag" not in r.headers and "last-modified" not in r.headers
        assert "content-encoding" not in r.headers


def test_a_request_with_credentials_bypasses_the_cache(public):
    r = _get(public, "/api/public/shelters/status", Authorization="Bearer x")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store" and "etag" not in r.headers


def test_the_internal_instance_does_not_cache_shared_json(client):
    r = client.get("/api/public/shelters/status")
    assert r.headers["cache-control"] == "no-store" and "etag" not in r.headers


# ------------------------------------------------------------------------------ admission control
@pytest.fixture
def tight(settings, seeded) -> Iterator[Server]:
    """A citizen-facing instance admitting one database request at a time, no response cache."""
    tight = settings.model_copy(update={"db_concurrency": 1, "queue_wait_ms": 300, "response_cache": False})
    with Server(create_app(tight, public=True)) as server:
        yield server


def test_beyond_capacity_the_answer_is_a_fast_503_and_the_server_recovers(tight, owner_engine):
    gate = _state(tight).admission
    held: list[httpx.Response] = []
    with owner_engine.connect() as locker:
        locker.execute(text("LOCK TABLE gis.layer IN ACCESS EXCLUSIVE MODE"))
        slow = threading.Thread(target=lambda: held.append(_get(tight, "/api/public/layers")))
        slow.start()
        wait_until(lambda: gate.active == 1, 10)
        busy = _get(tight, "/api/public/layers")
        # Answered while the admitted request is still blocked: the shed did not wait for it.
        assert not held
        assert busy.status_code == 503 and 1 <= int(busy.headers["retry-after"]) <= 3
        error = busy.json()["error"]
        assert error["code"] == "busy" and error["message_ja"] and error["message_en"]
        # What needs no database is still served.
        assert _get(tight, "/static/js/lib/api.js").status_code == 200
        assert _get(tight, "/healthz").status_code == 200
        locker.rollback()
    slow.join(30)
    assert held[0].status_code == 200
    assert _get(tight, "/api/public/layers").status_code == 200  # recovered by itself
    assert gate.shed >= 1 and gate.active == 0


def test_a_surge_never_deadlocks_the_pool(settings, seeded):
    """The cliff of the landed main: more requests than pooled connections, with the route's
    connection taken in one worker thread and its body run in another, left every thread waiting in
    the pool's checkout until the 10 s timeout. Now every answer is a 200 or a shed 503 counted by
    admission control: none comes from a pool timeout."""
    small = settings.model_copy(update={"db_concurrency": 2, "response_cache": False})
    app = create_app(small, public=True)
    with Server(app) as server:
        gate = app.state.admission

        def citizen() -> list[int]:
            with httpx.Client(timeout=60) as h:
                return [h.get(server.url + "/api/public/layers").status_code for _ in range(3)]

        statuses = [status for three in _at_once(60, citizen, timeout=120) for status in three]
    assert len(statuses) == 180 and set(statuses) <= {200, 503}
    assert statuses.count(200) > 0
    assert statuses.count(503) == gate.shed
    assert app.state.engine.pool.checkedout() == 0


def test_a_cache_refresh_goes_first_in_line():
    """One refresh of the response cache answers every citizen asking for that URL: it is admitted
    before requests that queued earlier, and is not turned away for the expected wait."""
    import asyncio

    from gisapp.admission import Gate

    async def scenario() -> list[str]:
        gate = Gate(limit=1, queue=10, wait_ms=1000)
        gate.service_time = 10.0  # a long expected wait: an ordinary newcomer is turned away at once
        order: list[str] = []
        assert await gate.enter()
        assert not await gate.enter()  # expected wait 10 s > 1 s: shed

        async def ask(name: str, first: bool) -> None:
            if await gate.enter(first=first):
                order.append(name)
                gate.leave()

        gate.service_time = 0.001
        citizen = asyncio.create_task(ask("citizen", False))
        await asyncio.sleep(0)
        gate.service_time = 10.0
        refresh = asyncio.create_task(ask("refresh", True))
        await asyncio.sleep(0)
        gate.leave()
        await asyncio.gather(citizen, refresh)
        return order

    assert asyncio.run(scenario()) == ["refresh", "citizen"]


def test_a_cold_tile_asked_for_by_many_is_rendered_once(public, seeded):
    """A surge onto a cold map: the first request renders the tile, the others wait for it and are
    answered from the tile cache, instead of each taking a database connection to render it again."""
    state = _state(public)
    state.tile_cache.clear()
    z = 15
    x = int((139.31 + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(35.40))) / math.pi) / 2 * 2**z)
    path = f"/ogc/collections/{seeded.slugs['public']}/tiles/WebMercatorQuad/{z}/{y}/{x}"
    served, admitted = state.layer_directory.served, state.admission.admitted
    answers = _at_once(20, lambda: _get(public, path))
    assert len(answers) == 20 and {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    rendered = state.admission.admitted - admitted
    assert rendered == 1, f"{rendered} renders for one tile"
    assert state.layer_directory.served - served == 19


def test_a_slow_upload_does_not_hold_a_database_slot(tight):
    """A phone uploading a report photo over a congested network for half a minute: its body is read
    before it takes one of the few database slots, so the others are served meanwhile."""
    import socket

    gate = _state(tight).admission
    with socket.create_connection(("127.0.0.1", tight.port), timeout=10) as upload:
        upload.sendall(
            b"POST /api/reports HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: 5000\r\n\r\n"
            b'--xyz\r\nContent-Disposition: form-data; name="category"\r\n\r\nroad\r\n'
        )  # …and the rest of the 5,000 bytes never comes while we look
        wait_until(lambda: gate.active == 0, 5)
        r = _get(tight, "/api/public/layers")
        assert r.status_code == 200  # the only slot was free for it
        assert gate.active == 0
