"""HTTP-level hardening of both instances: body limits per route (413 before reading, also for a chunked
body), control characters refused centrally, the CSP and no inline script, no-store on personal data,
the Origin check on cookie writes (CSRF), HSTS, and /docs behind login (gisapp/middleware.py,
gisapp/request_guard.py, gisapp/api/docs.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import select
import socket
import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

import frontend
from frontend.modules import module_graph
from frontend.static_files import static_url
from gisapp import auth
from gisapp.app import create_app
from gisapp.db import set_roles
from gisapp.deps import COOKIE_NAME
from gisapp.middleware import content_security_policy
from gisapp.ops import people, photos
from gisapp.request_guard import API_LIMIT, FORM_LIMIT, body_limit
from layers.importers.read import MAX_IMPORT_BYTES
from tests.fixtures_data import seed
from tests.test_checkin import household_body
from tests.test_pages_browser import Server

MIB = 1024 * 1024
FRONTEND = Path(frontend.__file__).parent


@pytest.fixture(scope="module")
def seeded(app_engine):
    return seed(app_engine, "web")


@pytest.fixture(scope="module")
def server(settings):
    """The internal app behind a real uvicorn: bodies reach it over a socket, as from a client."""
    with Server(create_app(settings)) as s:
        yield s


def bilingual(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["message_ja"] and err["message_en"]
    if code:
        assert err["code"] == code
    return err


def households(owner_engine) -> int:
    with owner_engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM restricted.household")).scalar_one()


# ------------------------------------------------------------------------------------ body size
def test_the_limit_table_gives_uploads_more_room_than_json_and_forms():
    assert body_limit("POST", "/api/register") == API_LIMIT == MIB
    assert body_limit("PUT", "/api/people/3/plan") == MIB
    assert body_limit("POST", "/login") == body_limit("POST", "/evacuation/abc") == FORM_LIMIT == 64 * 1024
    assert body_limit("POST", "/api/layers/roads/import") > MAX_IMPORT_BYTES
    assert body_limit("POST", "/api/reports") == photos.MAX_BYTES + 64 * 1024
    assert body_limit("POST", "/api/incidents/7/photos") == photos.MAX_BYTES + 64 * 1024
    assert body_limit("POST", "/api/people/import") == people.MAX_BYTES + 64 * 1024
    assert body_limit("GET", "/api/reports") == MIB  # the upload limit is for the upload only


def _read_response(sock: socket.socket, deadline: float) -> bytes:
    """What the server answered, up to the end of its body or the connection."""
    data = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([sock], [], [], 0.2)
        if not ready:
            continue
        try:
            part = sock.recv(65536)
        except ConnectionResetError:
            break
        if not part:
            break
        data += part
        head, sep, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?i)content-length:\s*(\d+)", head)
        if sep and length and len(body) >= int(length.group(1)):
            break
    return data


def _post_raw(port: int, path: str, headers: dict[str, str], chunks: int, chunk: bytes, chunked: bool):
    """POST ``chunks`` pieces of ``chunk``, stopping as soon as the server answers; returns (the answer,
    the number of pieces sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", *(f"{k}: {v}" for k, v in headers.items())]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {chunks * len(chunk)}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    sent = 0
    try:
        for _ in range(chunks):
            if select.select([sock], [], [], 0)[0]:
                break  # the answer is there: stop sending
            piece = b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk
            sock.sendall(piece)
            sent += 1
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = _read_response(sock, time.monotonic() + 20)
    sock.close()
    return answer, sent


def test_60_mb_json_with_content_length_is_refused_before_a_byte_is_read(server, owner_engine):
    before = households(owner_engine)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(
        b"POST /api/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 60000000\r\n\r\n"
    )
    answer = _read_response(sock, time.monotonic() + 10)  # no body sent at all
    sock.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert "送信内容が大きすぎます".encode() in answer and b"too large" in answer
    assert households(owner_engine) == before


def test_60_mb_chunked_json_is_refused_as_soon_as_it_passes_the_limit(server, owner_engine):
    before = households(owner_engine)
    piece = b"[" + b"1," * (32 * 1024)  # 64 KiB of a JSON array that never ends
    answer, sent = _post_raw(
        server.port, "/api/register", {"Content-Type": "application/json"}, 960, piece, chunked=True
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    # 60 MB were offered; the server stopped the sender about 1 MiB in (plus what the socket buffers
    # held), never reading, let alone buffering, the rest.
    assert sent * len(piece) < 12 * MIB, sent
    assert households(owner_engine) == before


def test_a_chunked_upload_past_its_route_limit_is_refused_while_it_streams(server):
    piece = b"x" * (256 * 1024)
    headers = {"Content-Type": "multipart/form-data; boundary=b0undary"}
    answer, sent = _post_raw(server.port, "/api/reports", headers, 240, piece, chunked=True)  # 60 MB
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent * len(piece) < photos.MAX_BYTES + 8 * MIB, sent


def test_an_upload_route_takes_more_than_an_api_json_route(client, seeded):
    hq = seeded.bearer(client, "hq")
    two_mb = b"\xff\xd8" + b"0" * (2 * MIB)
    # 2 MB through the photo route: over the JSON limit, under the photo one -> the route decides.
    r = client.post(
        "/api/incidents/999999999/photos", files={"photo": ("p.jpg", two_mb, "image/jpeg")}, headers=hq
    )
    assert r.status_code != 413, r.text
    big = client.post(
        "/api/incidents/999999999/photos",
        files={"photo": ("p.jpg", b"0" * (photos.MAX_BYTES + 128 * 1024), "image/jpeg")},
        headers=hq,
    )
    bilingual(big, 413)
    # The same 2 MB as JSON to an API route is refused.
    r = client.post(
        "/api/disasters",
        content=b'{"name": "' + b"a" * (2 * MIB) + b'"}',
        headers={**hq, "Content-Type": "application/json"},
    )
    assert bilingual(r, 413)["limit"] == MIB


def test_a_form_larger_than_64_kib_is_refused(client, app_engine):
    r = client.post("/login", data={"username": "x" * (70 * 1024), "password": "p"})
    bilingual(r, 413)


# --------------------------------------------------------------------------- control characters
@pytest.mark.parametrize("which", ["internal", "public"])
def test_nul_in_the_query_is_a_422_on_both_instances(client, public_client, which):
    c = client if which == "internal" else public_client
    err = bilingual(c.get("/api/public/search?q=a%00"), 422, "invalid_input")
    assert err["where"] == "query"
    bilingual(c.get("/api/public/search?q=a%01b"), 422)
    bilingual(c.get("/api/public/search?q%00=a"), 422)


def test_nul_in_the_path_is_a_422_and_a_400_under_ogc(client):
    assert bilingual(client.get("/api/public/layers/a%00b/features"), 422)["where"] == "path"
    bilingual(client.get("/static/js%00/lib/api.js"), 422)
    bilingual(client.get("/ogc/collections/a%00b"), 400, "invalid_input")
    bilingual(client.get("/ogc/collections?f=json%00"), 400)


@pytest.mark.parametrize(
    "raw",
    [
        '"representative_name": "受付\\u0000太郎"',  # NUL
        '"representative_name": "受付\\u001b太郎"',  # ESC
        '"representative_name": "受付\\ud800太郎"',  # a lone surrogate
        '"address": "伊勢原市\\u0007"',
        '"representative_name": "受付 太郎", "x\\u0000": 1',  # in a key
    ],
)
def test_a_registration_with_control_characters_is_a_422_and_stores_nothing(client, owner_engine, raw):
    before = households(owner_engine)
    body = (
        "{" + raw + ', "phone": "0463-00-0000", "members": [{"name": "受付 太郎 0", "birth_year": 1950}],'
        ' "pets": 0}'
    )
    r = client.post("/api/register", content=body.encode(), headers={"Content-Type": "application/json"})
    err = bilingual(r, 422, "invalid_input")
    assert err["where"].startswith("body")
    assert households(owner_engine) == before


def test_a_nul_deep_inside_a_json_body_is_found(client, owner_engine):
    before = households(owner_engine)
    body = household_body(name="深い 検査")
    body["members"][1]["name"] = "深い\x00検査"
    err = bilingual(client.post("/api/register", json=body), 422)
    assert err["where"] == "body.members.1.name"
    assert households(owner_engine) == before


def test_tab_and_newline_stay_allowed_in_json_text(client):
    # Multi-line text is text: the check lets LF/CR/tab through to the route's own validation.
    r = client.post("/api/register", json=household_body(name="改行 検査", address="伊勢原市\n1-1\t2"))
    assert r.status_code == 201, r.text


def test_a_nul_in_a_urlencoded_form_is_a_422(client, app_engine):
    with app_engine.connect() as conn:
        count = "SELECT count(*) FROM audit.log WHERE action = 'auth.login_failed' AND target LIKE 'nul%'"
        before = conn.execute(text(count)).scalar_one()
    bilingual(client.post("/login", data={"username": "nul\x00user", "password": "x"}), 422)
    bilingual(client.post("/evacuation/sometoken", data={"status": "home\x00"}), 422)
    with app_engine.connect() as conn:
        assert conn.execute(text(count)).scalar_one() == before


def citizen_reports(owner_engine) -> int:
    with owner_engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM ops.citizen_report")).scalar_one()


@pytest.mark.parametrize("field", ["description", "category"])
def test_a_nul_in_a_multipart_text_field_is_a_422_and_stores_nothing(public_client, owner_engine, field):
    before = citizen_reports(owner_engine)
    data = {"category": "fallen_tree", "lon": "139.31", "lat": "35.40", "description": "倒木"}
    data[field] += "\x00"
    photo = ("p.jpg", b"\xff\xd8\x00\x00 binary with NULs", "image/jpeg")
    err = bilingual(
        public_client.post("/api/reports", data=data, files={"photo": photo}), 422, "invalid_input"
    )
    assert err["where"] == f"body.{field}"
    assert citizen_reports(owner_engine) == before


def test_files_in_a_multipart_form_are_not_checked_for_control_characters(client, seeded):
    # A photo is binary (NUL bytes and all): it reaches the route, which judges it as an image.
    hq = seeded.bearer(client, "hq")
    r = client.post(
        "/api/incidents/999999999/photos",
        files={"photo": ("p.jpg", b"\x00\x01\x02" * 1000, "image/jpeg")},
        headers=hq,
    )
    assert r.status_code != 422 or r.json()["error"].get("where") is None, r.text


def test_deeply_nested_json_is_a_4xx_not_a_500(client):
    r = client.post("/api/register", content=b"[" * 200_000, headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, r.text


# --------------------------------------------------------------------------------------- CSP
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\ssrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
IMPORT_MAP = re.compile(r'<script type="importmap">(.*?)</script>', re.S)
HANDLER_ATTR = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def assert_strict_page(r) -> None:
    assert r.status_code == 200, r.text[:300]
    csp = r.headers["content-security-policy"]
    for part in (
        "default-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "connect-src 'self'",
    ):
        assert part in csp, (part, csp)
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    html = r.text
    # The one inline script a page may have: its import map, allowed by its own hash in the CSP.
    for body in IMPORT_MAP.findall(html):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp, csp
    html = IMPORT_MAP.sub("", html)
    assert not INLINE_SCRIPT.search(html), INLINE_SCRIPT.search(html)
    # An inlined stylesheet (the citizen page's) is allowed by its hash; nothing else inline.
    for found in re.finditer(r"<style>(.*?)</style>", html, re.S):
        digest = base64.b64encode(hashlib.sha256(found.group(1).encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp.split("style-src", 1)[1].split(";", 1)[0]
    html = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
    assert "<style" not in html.lower()
    assert not HANDLER_ATTR.search(html) and "javascript:" not in html.lower()
    assert not re.search(r"\sstyle\s*=", html, re.I)


def test_every_page_has_the_csp_and_no_inline_script(client, public_client, seeded, settings):
    staff = seeded.bearer(client, "welfare")
    token = client.post("/api/register", json=household_body(name="CSP 確認")).json()["token"]
    for path in (
        "/",
        "/register",
        "/report",
        f"/register/{token}",
        f"/evacuation/{token}",
        "/ogc?f=html",
        "/ogc/collections?f=html",
        "/ogc/conformance?f=html",
        "/ogc/api?f=html",
    ):
        assert_strict_page(public_client.get(path))
    for path in (
        "/hq",
        "/gis",
        "/hq/replay",
        "/hq/reports",
        "/kiosk",
        "/people/roster",
        "/docs",
        "/login",
        "/login?lang=en",
        "/?lang=en",
        f"/ogc/collections/{seeded.slugs['public']}?f=html",
        f"/ogc/collections/{seeded.slugs['public']}/items?f=html",
    ):
        assert_strict_page(client.get(path, headers=staff))


def test_the_basemap_is_allowed_only_online(settings):
    assert "https://cyberjapandata.gsi.go.jp" in content_security_policy(offline=False)
    assert "cyberjapandata" not in content_security_policy(offline=True)
    with TestClient(create_app(settings.model_copy(update={"offline": True}), public=True)) as c:
        csp = c.get("/").headers["content-security-policy"]
        assert "cyberjapandata" not in csp and "img-src 'self' data: blob:" in csp


def test_no_handler_attributes_or_javascript_urls_in_templates_and_scripts():
    own = [p for p in FRONTEND.rglob("*") if p.suffix in (".py", ".html", ".js") and "vendor" not in p.parts]
    for path in own:
        source = path.read_text()
        assert not re.search(r"""<[a-z][^>]*\son[a-z]+\s*=\s*["'{]""", source, re.I), path
        assert "javascript:" not in source.lower(), path
        assert not re.search(r"\.setAttribute\(\s*['\"](on[a-z]+|style)['\"]", source), path


def test_a_page_modules_are_served_by_their_hashed_urls_and_kept_for_good(client):
    """Every module of a page's graph (frontend/modules.py) is mapped to its content-hashed URL; that URL
    is served as JavaScript and may be cached for a year, so a redeploy never mixes old and new."""
    graph = module_graph("pages/hq.js")
    imports = json.loads(graph.import_map)["imports"]
    assert "/static/js/lib/api.js" in imports and "/static/js/pages/hq.js" in imports
    for hashed in imports.values():
        r = client.get(hashed)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript"), hashed
        assert "immutable" in r.headers["cache-control"], hashed


def test_folium_page_assets_are_gone(client, public_client):
    # Every page is a template with its own modules: no generated per-page script remains.
    assert client.get("/pages/hq-ja.js").status_code == 404
    assert public_client.get("/pages/citizen-en.js").status_code == 404


# ---------------------------------------------------------------------------------- no-store
def test_personal_data_is_no_store(client, public_client, seeded, app_engine):
    welfare = seeded.bearer(client, "welfare")
    token = client.post("/api/register", json=household_body(name="保存 禁止")).json()["token"]
    with app_engine.connect() as conn:
        set_roles(conn, ["admin"])
        household = conn.execute(text("SELECT max(id) FROM restricted.household")).scalar_one()
    for c, path, headers in (
        (client, "/api/people", welfare),
        (client, "/api/people/999999999", welfare),
        (client, f"/api/households/{household}", welfare),
        (client, "/api/me", welfare),
        (client, "/api/layers", welfare),
        (client, "/login", {}),
        (client, "/api/me", {}),  # the 401 too
        (public_client, f"/register/{token}", {}),
        (public_client, f"/api/register/{token}", {}),
        (public_client, f"/api/register/{token}/qr.svg", {}),
        (public_client, f"/evacuation/{token}", {}),
    ):
        r = c.get(path, headers=headers)
        assert r.headers.get("cache-control") == "no-store", (path, r.status_code, r.headers)


def test_static_files_and_tiles_keep_their_own_caching(client, public_client, seeded):
    static = client.get(static_url("js/lib/api.js"))
    assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", "")
    tile = public_client.get(f"/ogc/collections/{seeded.slugs['public']}/tiles/WebMercatorQuad/0/0/0")
    assert tile.headers["cache-control"].startswith("public"), tile.headers


# ------------------------------------------------------------------------------ Origin (CSRF)
@pytest.fixture
def cookie_client(settings, seeded):
    """A browser-like client holding the hq account's session cookie."""
    with TestClient(create_app(settings), base_url="http://gis.example") as c:
        r = c.post(
            "/login",
            data={"username": "web-hq", "password": seeded.passwords["hq"], "next": "/hq"},
            follow_redirects=False,
        )
        assert r.status_code == 303 and c.cookies.get(COOKIE_NAME)
        yield c


def disasters_named(app_engine, name: str) -> int:
    with app_engine.connect() as conn:
        set_roles(conn, ["admin"])
        return conn.execute(
            text("SELECT count(*) FROM ops.disaster WHERE name = :n"), {"n": name}
        ).scalar_one()


@pytest.mark.parametrize(
    "headers",
    [
        {},  # neither Origin nor Referer
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Referer": "http://evil.example/page"},
        {"Origin": "https://gis.example.evil.example"},
    ],
)
def test_a_cookie_write_from_another_origin_is_a_403_and_does_nothing(cookie_client, app_engine, headers):
    name = f"CSRF {uuid.uuid4()}"
    r = cookie_client.post("/api/disasters", json={"name": name}, headers=headers)
    err = bilingual(r, 403, "cross_origin")
    assert "別のサイト" in err["message_ja"]
    assert disasters_named(app_engine, name) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://gis.example"},
        {"Referer": "http://gis.example/hq?lang=en"},
        {"Origin": "http://gis.example:80"},
    ],
)
def test_a_cookie_write_from_our_own_pages_goes_through(cookie_client, app_engine, headers):
    name = f"same origin {uuid.uuid4()}"
    r = cookie_client.post("/api/disasters", json={"name": name}, headers=headers)
    assert r.status_code == 201, r.text
    assert disasters_named(app_engine, name) == 1


def test_bearer_clients_need_no_origin(client, seeded, app_engine):
    hq = seeded.bearer(client, "hq")
    name = f"bearer {uuid.uuid4()}"
    client.cookies.set(COOKIE_NAME, "some-cookie")  # a cookie beside the bearer changes nothing
    try:
        assert client.post("/api/disasters", json={"name": name}, headers=hq).status_code == 201
    finally:
        client.cookies.clear()
    assert disasters_named(app_engine, name) == 1


def test_allowed_origins_are_read_from_the_settings(settings, seeded, app_engine):
    allowed = settings.model_copy(update={"allowed_origins": "https://hq.example, https://gis.example/"})
    assert allowed.allowed_origin_list == ["https://hq.example", "https://gis.example"]
    with TestClient(create_app(allowed), base_url="http://internal:8000") as c:
        c.post("/login", data={"username": "web-hq", "password": seeded.passwords["hq"]})
        name = f"allowed {uuid.uuid4()}"
        assert (
            c.post(
                "/api/disasters", json={"name": name}, headers={"Origin": "https://hq.example"}
            ).status_code
            == 201
        )
        bilingual(c.post("/api/disasters", json={"name": name}, headers={"Origin": "https://x.example"}), 403)
    assert disasters_named(app_engine, name) == 1


def sessions(app_engine) -> int:
    with app_engine.connect() as conn:
        set_roles(conn, ["admin"])
        return conn.execute(text("SELECT count(*) FROM core.auth_session")).scalar_one()


def test_a_cross_origin_login_is_refused(settings, seeded, app_engine):
    before = sessions(app_engine)
    with TestClient(create_app(settings), base_url="http://gis.example") as c:
        form = {"username": "web-hq", "password": seeded.passwords["hq"]}
        r = c.post("/login", data=form, headers={"Origin": "http://evil.example"}, follow_redirects=False)
        bilingual(r, 403, "cross_origin")
        assert not c.cookies.get(COOKIE_NAME)
        ok = c.post("/login", data=form, headers={"Origin": "http://gis.example"}, follow_redirects=False)
        assert ok.status_code == 303 and c.cookies.get(COOKIE_NAME)
        # Logging out is a cookie write too.
        bilingual(c.post("/logout", headers={"Origin": "http://evil.example"}), 403)
        assert c.get("/api/me").status_code == 200
    assert sessions(app_engine) == before + 1  # only the same-origin login opened one


# ------------------------------------------------------------------------------------- HSTS
def test_hsts_only_when_cookies_are_secure(settings, client):
    assert "strict-transport-security" not in client.get("/healthz").headers
    secure = settings.model_copy(update={"session_secure_cookie": True})
    for public in (False, True):
        with TestClient(create_app(secure, public=public)) as c:
            assert (
                c.get("/healthz").headers["strict-transport-security"]
                == "max-age=31536000; includeSubDomains"
            )


# ------------------------------------------------------------------------------------- /docs
def test_docs_and_the_openapi_document_are_for_staff_only(client, seeded, app_engine):
    r = client.get("/docs", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/docs&lang=ja"
    bilingual(client.get("/openapi.json"), 401, "not_authenticated")
    for who in ("staff", "hq", "welfare", "admin"):
        headers = seeded.bearer(client, who)
        assert client.get("/docs", headers=headers).status_code == 200
        assert client.get("/openapi.json", headers=headers).json()["paths"]
    password = secrets.token_urlsafe(10)
    with app_engine.begin() as conn:
        set_roles(conn, ["admin"])
        auth.create_user(conn, "web-norole", "no role (web)", password, [], seeded.dept_id)
    token = client.post("/api/auth/login", json={"username": "web-norole", "password": password}).json()
    nobody = {"Authorization": f"Bearer {token['access_token']}"}
    assert client.get("/docs", headers=nobody).status_code == 403
    bilingual(client.get("/openapi.json", headers=nobody), 403)


def test_the_public_instance_publishes_no_docs(public_client):
    for path in ("/docs", "/openapi.json"):
        assert public_client.get(path).status_code == 404
