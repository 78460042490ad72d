"""The proxy cache in front of the citizen-facing instance (deploy/nginx/): Debian's nginx, started with
the rendered config in front of a real public instance on the session's PostGIS.

What the proxy promises: it stores only what the app marks cacheable and serves it again (HIT), per
encoding; never a write nor a request with credentials nor a no-store answer; compression when asked;
the last answer when the app is down (STALE), else its own bilingual 503; 429 with Retry-After on a
burst; 413 before an oversized body reaches the app. Without nginx the tests skip, except in CI
(CI=true), where scripts/install-debs.sh must have installed it.
"""

from __future__ import annotations

import gzip
import math
import os
import re
import socket
import subprocess
from collections.abc import Iterator

import httpx2 as httpx
import pytest
import yaml
from sqlalchemy import Engine

from bench._proxy import Nginx, nginx_binary
from deploy.nginx import render
from gisapp.app import create_app
from gisapp.request_guard import body_limit
from layers import tiles as tiles_mod
from tests.fixtures_data import Seed, seed
from tests.support import wait_until
from tests.test_pages_browser import Server

SEED_POINT = (139.31, 35.40)  # where tests/fixtures_data.py puts each test layer's one feature
REPORT_AT = (139.2952, 35.4052)  # inside 伊勢原市, away from other tests' points


def _require_nginx() -> None:
    if nginx_binary() is not None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("nginx is missing in CI: scripts/install-debs.sh must install nginx-light")
    pytest.skip("nginx not installed (make deps installs nginx-light): proxy tests skipped")


def _tile(z: int = 14) -> tuple[int, int, int]:
    lon, lat = SEED_POINT
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, y, x


def tile_path(slug: str) -> str:
    z, y, x = _tile()
    return f"/ogc/collections/{slug}/tiles/WebMercatorQuad/{z}/{y}/{x}"


@pytest.fixture(scope="module")
def seeded(app_engine: Engine) -> Seed:
    return seed(app_engine, "proxy")


@pytest.fixture(scope="module")
def upstream(settings, seeded) -> Iterator[Server]:
    _require_nginx()
    app = create_app(settings, public=True)
    with Server(app, proxy_headers=True, forwarded_allow_ips="127.0.0.1") as server:
        yield server


@pytest.fixture(scope="module")
def proxy(upstream: Server) -> Iterator[Nginx]:
    with Nginx([upstream.port]) as nginx:
        yield nginx


@pytest.fixture
def web(proxy: Nginx) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=proxy.url, timeout=10) as c:
        yield c


def page_link(web: httpx.Client, pattern: str) -> str:
    page = web.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 200, page.text
    found = re.search(pattern, page.text)
    assert found, f"no link matching {pattern} on the citizen page"
    return found.group(0).replace("&amp;", "&")


def twice(web: httpx.Client, path: str, **kw) -> tuple[httpx.Response, httpx.Response]:
    return web.get(path, **kw), web.get(path, **kw)


# ------------------------------------------------------------------------------ the config itself
def test_compose_copy_is_rendered_from_the_template():
    assert render.COMPOSE_CONF.read_text() == render.render(render.compose()), (
        "deploy/nginx/gisapp-public.conf is out of date: run `python deploy/nginx/render.py --write`"
    )
    for name, text in render.error_pages().items():
        assert (render.ERRORS / name).read_text(encoding="utf-8") == text, f"deploy/nginx/errors/{name}"
    # The proxy accepts what the app accepts, no more: the largest public body is a report photo.
    assert render.compose().client_max_body_size == body_limit("POST", "/api/reports")


def test_rendered_configs_pass_nginx_t(tmp_path):
    _require_nginx()
    plain = Nginx([8001])
    try:
        checked = plain.check()
        assert checked.returncode == 0, checked.stderr
    finally:
        plain.remove()
    # The production variant with TLS at the proxy (HTTP/2), with a throw-away certificate.
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    made = os.system(
        f"openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=map.city.example -days 1 "
        f"-keyout {key} -out {cert} >/dev/null 2>&1"
    )
    if made != 0:
        pytest.skip("openssl not available: TLS variant not checked")
    tls = Nginx(
        [8001], tls_certificate=str(cert), tls_certificate_key=str(key), server_name="map.city.example"
    )
    try:
        checked = tls.check()
        assert checked.returncode == 0, checked.stderr
        assert "ssl http2" in tls.conf.read_text()
    finally:
        tls.remove()


# ------------------------------------------------------------------------------ what is cached
def test_page_asset_with_version_is_cached(web):
    path = page_link(web, r"/static/js/pages/citizen\.js\?v=[0-9a-zA-Z_-]+")
    first, second = twice(web, path)
    assert first.status_code == second.status_code == 200
    assert first.headers["x-cache-status"] in ("MISS", "HIT")  # HIT if an earlier test asked already
    assert second.headers["x-cache-status"] == "HIT"
    assert second.content == first.content
    assert "immutable" in second.headers["cache-control"]
    assert second.headers["x-content-type-options"] == "nosniff"  # the app's headers pass through


def test_tile_is_cached_and_revalidated_by_the_proxy(web, seeded):
    path = tile_path(seeded.slugs["public"])
    first, second = twice(web, path)
    assert first.status_code == 200 and len(first.content) > 0
    assert second.headers["x-cache-status"] == "HIT"
    assert second.headers["etag"] == first.headers["etag"]
    again = web.get(path, headers={"If-None-Match": second.headers["etag"]})
    assert again.status_code == 304 and again.headers["x-cache-status"] == "HIT"  # answered by nginx


def test_public_layer_list_is_cached(web, seeded):
    first, second = twice(web, "/api/public/layers")
    assert first.status_code == 200
    assert seeded.slugs["public"] in {layer["slug"] for layer in first.json()}
    assert second.headers["x-cache-status"] == "HIT"
    assert second.json() == first.json()


def test_static_file_with_version_is_cached(web):
    path = page_link(web, r"/static/[^\"'\s]+\?v=[0-9a-zA-Z_-]+")
    _, second = twice(web, path)
    assert second.headers["x-cache-status"] == "HIT"


def test_no_store_answers_are_never_cached(web):
    for path in ("/healthz", "/report"):
        first, second = twice(web, path)
        assert first.headers.get("cache-control") == "no-store", path
        assert second.headers.get("x-cache-status") != "HIT", path
    # The citizen page is cached (a short public lifetime) with its security headers intact.
    page, again = twice(web, "/")
    assert page.headers["cache-control"].startswith("public, max-age=")
    assert again.headers["x-cache-status"] == "HIT"
    assert "content-security-policy" in again.headers and again.headers["x-frame-options"] == "DENY"


def test_requests_with_credentials_bypass_the_cache(web, seeded):
    path = tile_path(seeded.slugs["public"])
    web.get(path)
    for headers in ({"Cookie": "x=1"}, {"Authorization": "Bearer not-a-token"}):
        r = web.get(path, headers=headers)
        assert r.headers["x-cache-status"] == "BYPASS", headers


def test_a_post_is_never_cached(web):
    category = web.get("/api/reports/categories").json()[0]["code"]
    form = {"category": category, "lon": str(REPORT_AT[0]), "lat": str(REPORT_AT[1])}
    first = web.post("/api/reports", data=form)
    second = web.post("/api/reports", data=form)
    assert first.status_code == second.status_code == 201, first.text
    assert first.json()["token"] != second.json()["token"]  # both reached the app
    assert second.headers.get("x-cache-status") in (None, "", "BYPASS", "MISS")


# ------------------------------------------------------------------------------ compression
def raw_get(web: httpx.Client, path: str, encoding: str) -> tuple[httpx.Response, bytes]:
    """The answer and its bytes as sent (not decoded by the client)."""
    with web.stream("GET", path, headers={"Accept-Encoding": encoding}) as r:
        return r, b"".join(r.iter_raw())


def test_compressed_when_asked_and_one_copy_per_encoding(web):
    path = page_link(web, r"/static/js/pages/citizen\.js\?v=[0-9a-zA-Z_-]+")
    plain, plain_bytes = raw_get(web, path, "identity")
    assert "content-encoding" not in plain.headers
    zipped, zipped_bytes = raw_get(web, path, "gzip, deflate")
    assert zipped.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers.get("vary", "")
    assert gzip.decompress(zipped_bytes) == plain_bytes and len(zipped_bytes) < len(plain_bytes) / 2
    # An identity client after a gzip one gets plain bytes (the cache keeps one copy per encoding).
    again, again_bytes = raw_get(web, path, "identity")
    assert "content-encoding" not in again.headers and again_bytes == plain_bytes


def test_brotli_when_the_module_is_loaded(web, proxy):
    if not proxy.config.brotli_module:
        pytest.skip("libnginx-mod-http-brotli-filter not installed: brotli not offered")
    brotli = pytest.importorskip("brotli")
    path = page_link(web, r"/static/js/pages/citizen\.js\?v=[0-9a-zA-Z_-]+")
    _, plain_bytes = raw_get(web, path, "identity")
    r, raw = raw_get(web, path, "gzip, deflate, br")
    assert r.headers["content-encoding"] == "br"
    assert brotli.decompress(raw) == plain_bytes and len(raw) < len(plain_bytes) / 2


# ------------------------------------------------------------------------------ failures and limits
@pytest.fixture
def short_lived_tiles(monkeypatch) -> None:
    monkeypatch.setattr(tiles_mod, "MAX_AGE", 1)  # the app's own header, read per answer


def test_stale_answer_while_the_app_is_down_else_a_bilingual_503(settings, seeded, short_lived_tiles):
    _require_nginx()
    path = tile_path(seeded.slugs["public"])
    app = create_app(settings, public=True)
    server = Server(app).__enter__()
    try:
        with Nginx([server.port]) as nginx, httpx.Client(base_url=nginx.url, timeout=10) as web:
            fresh = web.get(path)
            assert fresh.status_code == 200 and fresh.headers["cache-control"].endswith("max-age=1")
            assert web.get(path).headers["x-cache-status"] == "HIT"
            status = "/api/public/shelters/status"
            assert web.get(status).status_code == 200 and web.get(status).headers["x-cache-status"] == "HIT"
            server.__exit__(None, None, None)  # the app stops
            stale = wait_until(
                lambda: (r := web.get(path)).headers.get("x-cache-status") == "STALE" and r, 15
            )
            assert stale.status_code == 200 and stale.content == fresh.content
            # Never cached: nginx's own 503, bilingual, with Retry-After, JSON or HTML.
            gone = web.get("/api/public/layers?never-cached=1")
            assert gone.status_code == 503 and gone.headers["retry-after"] == "5"
            assert gone.headers["cache-control"] == "no-store"
            error = gone.json()["error"]
            assert error["code"] == "busy" and error["message_ja"] and error["message_en"]
            html = web.get("/?never-cached=1", headers={"Accept": "text/html"})
            assert html.status_code == 503 and '<html lang="ja">' in html.text and "Busy" in html.text
            # Shelter congestion is never shown stale because the app is down: once its s-maxage
            # (10 s) has passed, the citizen is told to retry instead of shown an old count.
            late = wait_until(lambda: (r := web.get(status)).status_code == 503 and r, 20)
            assert late.headers.get("x-cache-status") != "STALE" and late.json()["error"]["code"] == "busy"
    finally:
        server.server.should_exit = True


def test_a_burst_gets_429_with_retry_after(upstream):
    limited = Nginx([upstream.port], api_rate="1r/s", api_burst=2)
    with limited, httpx.Client(base_url=limited.url, timeout=10) as web:
        answers = [web.get("/api/reports/categories") for _ in range(8)]
        refused = [r for r in answers if r.status_code == 429]
        assert refused and all(r.status_code in (200, 429) for r in answers)
        assert refused[0].headers["retry-after"] == "1"
        assert refused[0].headers["cache-control"] == "no-store"
        error = refused[0].json()["error"]
        assert error["code"] == "too_many_requests" and error["message_ja"] and error["message_en"]
        page = web.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 429 and '<html lang="ja">' in page.text


def test_writes_have_a_stricter_limit(upstream):
    limited = Nginx([upstream.port], write_rate="1r/m", write_burst=1)
    with limited, httpx.Client(base_url=limited.url, timeout=10) as web:
        # An empty form: the app answers 422, which shows the first ones reached it.
        posts = [web.post("/api/reports", data={}) for _ in range(3)]
        assert [p.status_code for p in posts] == [422, 422, 429]
        assert posts[2].json()["error"]["code"] == "too_many_requests"
        assert web.get("/api/reports/categories").status_code == 200  # reads keep their own budget


def test_oversized_body_refused_by_the_proxy(proxy):
    limit = proxy.config.client_max_body_size
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as s:
        s.sendall(
            b"POST /api/reports HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\n"
            + f"Content-Length: {limit + 1}\r\nConnection: close\r\n\r\n".encode()
        )
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b'"code": "too_large"' in body


def test_compose_healthcheck_reaches_the_proxy(proxy):
    compose = yaml.safe_load((render.ROOT / "docker-compose.yml").read_text())
    check = compose["services"]["proxy"]["healthcheck"]["test"]
    assert check[0] == "CMD"
    argv = [arg.replace("/127.0.0.1/8080", f"/127.0.0.1/{proxy.port}") for arg in check[1:]]
    assert subprocess.run(argv, timeout=10).returncode == 0, argv
