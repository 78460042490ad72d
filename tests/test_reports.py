"""Citizen reports (通報) against the real PostGIS, on both instances: submission with photo cleaning,
bad input refused with nothing stored, the rate limit, the reporter's status link, merge suggestions
(50 m / 2 h with hand-placed points), and moderation (accept → incident, merge, reject)."""

from __future__ import annotations

import hashlib
import io
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pyproj import Geod
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from gisapp.ops import photos, reports
from tests.fixtures_data import seed

GEOD = Geod(ellps="WGS84")
HOME = (139.2950, 35.4050)  # a quiet corner of 伊勢原市, away from other tests' points
CANARY_MAKE = "CanaryCamMake-7f3a"
EXIF_ORIENTATION, EXIF_MAKE, EXIF_GPS = 0x0112, 0x010F, 0x8825


def jpeg_with_metadata(size=(300, 100)) -> bytes:
    """A camera-like JPEG: EXIF make, orientation 6 (rotate 90°), a GPS position, XMP and an ICC profile."""
    img = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[EXIF_MAKE] = CANARY_MAKE
    exif[EXIF_ORIENTATION] = 6
    exif[EXIF_GPS] = {1: "N", 2: (35.0, 23.0, 48.0), 3: "E", 4: (139.0, 18.0, 0.0)}
    out = io.BytesIO()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>CanaryXmp</rdf:RDF></x:xmpmeta>'
    img.save(out, "JPEG", exif=exif, xmp=xmp, icc_profile=b"CanaryIcc" * 20)
    return out.getvalue()


def png_with_text() -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "CanaryPngText")
    out = io.BytesIO()
    Image.new("RGBA", (64, 48), (0, 0, 255, 128)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def moved(point: tuple[float, float], azimuth: float, metres: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(point[0], point[1], azimuth, metres)
    return lon, lat


def sender(base: TestClient, address: str) -> TestClient:
    """The same app seen from another address (the rate limit counts per sender)."""
    return TestClient(base.app, client=(address, 40000))


def fresh_address() -> str:
    return f"198.51.100.{secrets.randbelow(250) + 1}-{secrets.token_hex(4)}"


def send(c: TestClient, *, category="fallen_tree", lon=HOME[0], lat=HOME[1], description="", photo=None):
    data = {"category": category, "description": description}
    if lon is not None:
        data["lon"] = str(lon)
    if lat is not None:
        data["lat"] = str(lat)
    files = {"photo": photo} if photo else None
    return c.post("/api/reports", data=data, files=files)


def report_count(app_engine) -> int:
    with app_engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM ops.citizen_report")).scalar_one()


def report_row(app_engine, token: str):
    with app_engine.connect() as conn:
        return conn.execute(
            text("SELECT * FROM ops.citizen_report WHERE token_hash = :h"), {"h": reports.token_hash(token)}
        ).one()


@pytest.fixture(scope="module")
def people(client, app_engine):
    s = seed(app_engine, "rep")
    return {w: s.bearer(client, w) for w in ("hq", "staff")}


@pytest.fixture(scope="module")
def disaster(client, people):
    r = client.post("/api/disasters", json={"name": "通報試験の災害"}, headers=people["hq"])
    assert r.status_code == 201, r.text
    return r.json()["id"]


# ------------------------------------------------------------------------------------ photos
def test_photo_is_turned_upright_and_loses_every_metadata():
    original = jpeg_with_metadata()
    assert CANARY_MAKE.encode() in original and b"CanaryXmp" in original and b"CanaryIcc" in original
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(EXIF_GPS)  # the input does carry GPS

    clean = photos.clean_photo(original)
    assert clean.media_type == "image/jpeg" and (clean.width, clean.height) == (100, 300)
    for canary in (CANARY_MAKE.encode(), b"CanaryXmp", b"CanaryIcc", b"Exif", b"http://ns.adobe.com"):
        assert canary not in clean.data
    img = Image.open(io.BytesIO(clean.data))
    assert img.size == (100, 300) and len(img.getexif()) == 0 and "icc_profile" not in img.info

    png = photos.clean_photo(png_with_text())
    assert png.media_type == "image/png" and b"CanaryPngText" not in png.data
    assert Image.open(io.BytesIO(png.data)).mode == "RGBA"


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # the bomb below, on purpose
def test_large_photos_are_shrunk_and_bombs_refused():
    out = io.BytesIO()
    Image.new("RGB", (4000, 1000), (10, 120, 10)).save(out, "JPEG")
    clean = photos.clean_photo(out.getvalue())
    assert (clean.width, clean.height) == (photos.LONG_SIDE, photos.LONG_SIDE // 4)

    bomb = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(bomb, "PNG")  # 100 Mpx in a few kB
    assert len(bomb.getvalue()) < 100_000
    with pytest.raises(photos.PhotoInvalid):
        photos.clean_photo(bomb.getvalue())


# ------------------------------------------------------------------------- submit and status
@pytest.mark.parametrize("instance", ["public", "internal"])
def test_submit_with_photo_then_follow_the_status_link(instance, client, public_client, app_engine):
    c = sender(public_client if instance == "public" else client, fresh_address())
    description = f"倒木で道がふさがっています {secrets.token_hex(4)}"
    r = send(c, description=description, photo=("IMG_0001.JPG", jpeg_with_metadata(), "image/jpeg"))
    assert r.status_code == 201, r.text
    body = r.json()
    token = body["token"]
    assert body["status_url"] == f"/report/status/{token}" and body["status_ja"] == "受付中"
    assert len(token) == 32

    row = report_row(app_engine, token)
    assert row.token_hash == hashlib.sha256(token.encode()).digest()
    assert row.state == "pending" and row.description == description
    assert row.photo_type == "image/jpeg" and CANARY_MAKE.encode() not in bytes(row.photo)
    assert Image.open(io.BytesIO(bytes(row.photo))).size == (100, 300)
    assert len(row.client_key) == 32 and b"198.51.100" not in bytes(row.client_key)

    status = c.get(f"/api/reports/status/{token}")
    assert status.status_code == 200
    assert set(status.json()) == {
        "category",
        "category_ja",
        "category_en",
        "status",
        "status_ja",
        "status_en",
        "reported_at",
        "updated_at",
    }
    assert (status.json()["status_ja"], status.json()["category_ja"]) == ("受付中", "倒木")

    page = c.get(f"/report/status/{token}")
    assert page.status_code == 200 and "受付中" in page.text and "倒木" in page.text
    assert description not in page.text and str(HOME[1])[:6] not in page.text
    assert "Received" in c.get(f"/report/status/{token}?lang=en").text


def test_the_form_page_lists_categories_and_serves_its_own_assets(public_client, client):
    page = public_client.get("/report")
    assert page.status_code == 200
    assert '<option value="fallen_tree">倒木</option>' in page.text
    assert "/static/vendor/leaflet/leaflet.js" in page.text and "/static/js/pages/report.js" in page.text
    assert '<html lang="en">' in public_client.get("/report?lang=en").text
    for c in (public_client, client):
        codes = [x["code"] for x in c.get("/api/reports/categories").json()]
        assert "fallen_tree" in codes and "other" in codes
    for asset in ("js/pages/report.js", "js/lib/form.js", "css/forms.css"):
        assert public_client.get(f"/static/{asset}").status_code == 200


def test_public_role_cannot_read_the_queue(public_engine, public_client):
    with public_engine.connect() as conn, pytest.raises(ProgrammingError, match="permission denied"):
        conn.execute(text("SELECT count(*) FROM ops.citizen_report"))
    assert public_client.get("/api/reports").status_code in (404, 405)
    assert public_client.get("/api/reports/1/photo").status_code == 404
    assert public_client.get("/hq/reports").status_code == 404


def _big_body():
    chunk = b"\xff" * (1024 * 1024)
    for _ in range(50):
        yield chunk


@pytest.mark.parametrize("instance", ["public", "internal"])
def test_bad_reports_get_a_clear_4xx_and_nothing_is_stored(instance, client, public_client, app_engine):
    c = sender(public_client if instance == "public" else client, fresh_address())
    good_jpeg = jpeg_with_metadata()
    cases = {
        "no location": (dict(lon=None, lat=None), 422),
        "only longitude": (dict(lat=None), 422),
        "longitude not a number": (dict(lon="東経139度"), 422),
        "location out of range": (dict(lon=200.0), 422),
        "unknown category": (dict(category="alien_landing"), 422),
        "no category": (dict(category=""), 422),
        "description too long": (dict(description="あ" * 2001), 422),
        "NUL in description": (dict(description="a\x00b"), 422),
        "infinite longitude": (dict(lon="inf"), 422),
        "non-image named .jpg": (
            dict(photo=("photo.jpg", b"<script>alert(1)</script>" * 50, "image/jpeg")),
            415,
        ),
        "truncated JPEG": (dict(photo=("photo.jpg", good_jpeg[: len(good_jpeg) // 2], "image/jpeg")), 415),
        "GIF": (dict(photo=("a.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif")), 415),
    }
    before = report_count(app_engine)
    for case, (kwargs, status) in cases.items():
        r = send(c, **kwargs)
        assert r.status_code == status, (case, r.text)
        error = r.json()["error"]
        assert error["message_ja"] and error["message_en"], case

    big = send(c, photo=("huge.jpg", b"\xff\xd8" + b"\x00" * (50 * 1024 * 1024), "image/jpeg"))
    assert big.status_code == 413 and "10 MB" in big.json()["error"]["message_ja"]
    # Without Content-Length (chunked): the cap holds while reading.
    chunked = c.post(
        "/api/reports", content=_big_body(), headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert chunked.status_code == 413
    garbage = c.post(
        "/api/reports",
        content=b"--x\r\nnonsense",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert 400 <= garbage.status_code < 500 and garbage.json()["error"]["message_en"]
    assert report_count(app_engine) == before


def test_a_sender_over_its_limit_gets_429_and_others_do_not(public_client, app_engine):
    address = fresh_address()
    c = sender(public_client, address)
    for _ in range(5):
        assert send(c).status_code == 201
    before = report_count(app_engine)
    limited = send(c, description="6th")
    assert limited.status_code == 429
    assert "しばらく" in limited.json()["error"]["message_ja"] and limited.json()["error"]["message_en"]
    assert report_count(app_engine) == before
    assert send(sender(public_client, fresh_address())).status_code == 201


@pytest.mark.parametrize("instance", ["public", "internal"])
def test_unknown_and_malformed_tokens_answer_the_same_404(instance, client, public_client):
    c = public_client if instance == "public" else client
    answers = set()
    for token in (secrets.token_urlsafe(24), "abc", "x" * 500, "<script>", "' OR 1=1 --"):
        r = c.get(f"/api/reports/status/{token}")
        assert r.status_code == 404, token
        answers.add(r.text)
        page = c.get(f"/report/status/{token}")
        assert page.status_code == 404 and "通報が見つかりません" in page.text
    assert len(answers) == 1
    # A NUL is refused before any route looks at the token (gisapp/request_guard.py).
    assert c.get("/api/reports/status/abc%00def").status_code == 422


# ------------------------------------------------------------------------------ suggestions
def _place(app_engine, token: str, at: datetime) -> int:
    with app_engine.begin() as conn:
        return conn.execute(
            text("UPDATE ops.citizen_report SET created_at = :t WHERE token_hash = :h RETURNING id"),
            {"t": at, "h": reports.token_hash(token)},
        ).scalar_one()


def test_merge_suggestions_are_within_50_m_and_2_h(client, people, disaster, app_engine):
    origin = moved(HOME, 45, 3000)  # nobody else reports here
    t0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    inc = client.post(
        f"/api/disasters/{disaster}/incidents",
        json={"category": "landslide", "title": "土砂崩れ（試験）", "lon": origin[0], "lat": origin[1]},
        headers=people["hq"],
    ).json()
    with app_engine.begin() as conn:
        conn.execute(
            text("UPDATE ops.incident SET reported_at = :t WHERE id = :i"), {"t": t0, "i": inc["id"]}
        )

    c = sender(client, fresh_address())
    hour = timedelta(hours=1)
    a_point = moved(origin, 0, 40)
    placed = {
        "a": (a_point, "landslide", t0 + hour),  # 40 m, 1 h: matches the incident
        "far": (moved(origin, 180, 60), "landslide", t0 + hour),  # 60 m
        "late": (moved(origin, 90, 40), "landslide", t0 + 3 * hour),  # 40 m but 3 h
        "other": (moved(origin, 270, 40), "fire", t0 + hour),  # another category
        "near_a": (moved(a_point, 0, 40), "landslide", t0 + 1.5 * hour),  # 40 m from a, 30 min
        "far_a": (moved(a_point, 0, 60), "landslide", t0 + hour),  # 60 m from a
    }
    ids = {}
    for name, (point, category, at) in placed.items():
        r = send(
            c if name not in ("near_a", "far_a") else sender(client, fresh_address()),
            category=category,
            lon=point[0],
            lat=point[1],
        )
        assert r.status_code == 201, r.text
        ids[name] = _place(app_engine, r.json()["token"], at)

    got = client.get(f"/api/reports/{ids['a']}/suggestions", headers=people["hq"]).json()
    assert [i["id"] for i in got["incidents"]] == [inc["id"]]
    assert 39 < got["incidents"][0]["distance_m"] < 41 and round(got["incidents"][0]["minutes_apart"]) == 60
    assert [r["id"] for r in got["reports"]] == [ids["near_a"]]
    for name in ("far", "late", "other"):
        hints = client.get(f"/api/reports/{ids[name]}/suggestions", headers=people["hq"]).json()
        assert inc["id"] not in [i["id"] for i in hints["incidents"]], name

    queue = client.get("/api/reports", headers=people["hq"]).json()
    listed = {r["id"]: r for r in queue}
    assert [i["id"] for i in listed[ids["a"]]["suggestions"]["incidents"]] == [inc["id"]]
    assert "client_key" not in listed[ids["a"]] and "token_hash" not in listed[ids["a"]]


# ------------------------------------------------------------------------------- moderation
def _audit(app_engine, action: str, target: int) -> list:
    with app_engine.connect() as conn:
        return conn.execute(
            text("SELECT details FROM audit.log WHERE action = :a AND target = :t"),
            {"a": action, "t": str(target)},
        ).all()


def _new(c: TestClient, app_engine, **kwargs) -> tuple[int, str]:
    r = send(sender(c, fresh_address()), **kwargs)
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    return report_row(app_engine, token).id, token


def test_accept_makes_an_incident_whose_status_the_reporter_sees(
    client, public_client, people, disaster, app_engine
):
    photo = ("p.jpg", jpeg_with_metadata(), "image/jpeg")
    report_id, token = _new(public_client, app_engine, description="<b>倒木</b>", photo=photo)
    with app_engine.connect() as conn:
        current = conn.execute(
            text(
                "SELECT id FROM ops.disaster WHERE closed_at IS NULL ORDER BY opened_at DESC, id DESC LIMIT 1"
            )
        ).scalar_one()

    r = client.post(f"/api/reports/{report_id}/accept", json={}, headers=people["hq"])
    assert r.status_code == 200, r.text
    incident = r.json()["incident"]
    assert (incident["source"], incident["source_ref"], incident["disaster_id"]) == (
        "citizen",
        str(report_id),
        current,
    )
    assert incident["description"] == "<b>倒木</b>" and incident["category"] == "fallen_tree"
    assert r.json()["report"]["state"] == "accepted" and r.json()["report"]["incident_id"] == incident["id"]
    events = client.get(f"/api/incidents/{incident['id']}/events", headers=people["staff"]).json()
    assert events[0]["data"]["photo"] == f"/api/reports/{report_id}/photo"
    assert _audit(app_engine, "citizen_report.accept", report_id)[0].details["incident_id"] == incident["id"]

    img = client.get(f"/api/reports/{report_id}/photo", headers=people["staff"])
    assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg"
    assert CANARY_MAKE.encode() not in img.content
    assert client.get(f"/api/reports/{report_id}/photo").status_code == 401

    def seen() -> str:
        return public_client.get(f"/api/reports/status/{token}").json()["status_ja"]

    assert seen() == "未対応"
    url = f"/api/incidents/{incident['id']}"
    assert (
        client.patch(
            url, json={"status": "in_progress"}, headers={**people["hq"], "If-Match": '"1"'}
        ).status_code
        == 200
    )
    assert seen() == "対応中"
    assert (
        client.patch(url, json={"status": "done"}, headers={**people["hq"], "If-Match": '"2"'}).status_code
        == 200
    )
    assert seen() == "対応済"
    assert "対応済" in public_client.get(f"/report/status/{token}").text

    merge = ("merge", {"incident_id": incident["id"]})
    for action, body in (("accept", {}), merge, ("reject", {}), ("restore", {})):
        again = client.post(f"/api/reports/{report_id}/{action}", json=body, headers=people["hq"])
        assert again.status_code == 409, action
        assert again.json()["error"]["message_ja"] and again.json()["error"]["state"] == "accepted"
    with app_engine.connect() as conn:
        n = conn.execute(
            text("SELECT count(*) FROM ops.incident WHERE source = 'citizen' AND source_ref = :r"),
            {"r": str(report_id)},
        ).scalar_one()
    assert n == 1


def test_merge_and_reject(client, public_client, people, disaster, app_engine):
    target = client.post(
        f"/api/disasters/{disaster}/incidents",
        json={"category": "flooding", "title": "冠水（試験）", "lon": HOME[0], "lat": HOME[1]},
        headers=people["hq"],
    ).json()
    report_id, token = _new(public_client, app_engine, category="flooding")

    missing = client.post(
        f"/api/reports/{report_id}/merge", json={"incident_id": 987654321}, headers=people["hq"]
    )
    assert missing.status_code == 404
    assert client.get(f"/api/reports/{report_id}", headers=people["hq"]).json()["state"] == "pending"

    r = client.post(
        f"/api/reports/{report_id}/merge",
        json={"incident_id": target["id"], "note": "同じ場所"},
        headers=people["hq"],
    )
    assert r.status_code == 200, r.text
    assert (r.json()["report"]["state"], r.json()["report"]["incident_id"]) == ("merged", target["id"])
    events = client.get(f"/api/incidents/{target['id']}/events", headers=people["staff"]).json()
    merged = [e for e in events if e["kind"] == "report_merged"]
    assert (
        len(merged) == 1 and merged[0]["data"]["report_id"] == report_id and merged[0]["note"] == "同じ場所"
    )
    assert public_client.get(f"/api/reports/status/{token}").json()["status_ja"] == "未対応"
    assert _audit(app_engine, "citizen_report.merge", report_id)

    rejected_id, rejected_token = _new(public_client, app_engine, category="other", description="いたずら")
    r = client.post(f"/api/reports/{rejected_id}/reject", json={"reason": "重複"}, headers=people["hq"])
    assert r.status_code == 200 and r.json()["report"]["state"] == "rejected"
    assert public_client.get(f"/api/reports/status/{rejected_token}").json()["status_ja"] == "取り下げ"
    assert _audit(app_engine, "citizen_report.reject", rejected_id)[0].details["reason"] == "重複"
    assert (
        client.post(
            f"/api/reports/{rejected_id}/merge", json={"incident_id": target["id"]}, headers=people["hq"]
        ).status_code
        == 409
    )
    # A rejection can be undone (finding: 却下 had no undo): back in the queue, unmoderated, audited.
    rejected = client.get("/api/reports", params={"state": "rejected"}, headers=people["hq"]).json()
    assert rejected[0]["id"] == rejected_id  # the latest decision first
    back = client.post(f"/api/reports/{rejected_id}/restore", json={}, headers=people["hq"])
    assert back.status_code == 200, back.text
    assert (back.json()["report"]["state"], back.json()["report"]["moderated_by"]) == ("pending", None)
    assert public_client.get(f"/api/reports/status/{rejected_token}").json()["status_ja"] == "受付中"
    assert _audit(app_engine, "citizen_report.restore", rejected_id)
    pending = client.get("/api/reports", params={"state": "pending"}, headers=people["hq"]).json()
    assert rejected_id in [item["id"] for item in pending]
    again = client.post(f"/api/reports/{rejected_id}/restore", json={}, headers=people["hq"])
    assert again.status_code == 409 and again.json()["error"]["state"] == "pending"
    assert client.post(f"/api/reports/{rejected_id}/restore", json={}).status_code == 401
    assert client.post("/api/reports/987654321/restore", json={}, headers=people["hq"]).status_code == 404


def test_accept_into_a_closed_disaster_changes_nothing(client, public_client, people, app_engine):
    closed = client.post("/api/disasters", json={"name": "終了済み（試験）"}, headers=people["hq"]).json()[
        "id"
    ]
    assert client.post(f"/api/disasters/{closed}/close", headers=people["hq"]).status_code == 200
    report_id, _ = _new(public_client, app_engine)
    r = client.post(f"/api/reports/{report_id}/accept", json={"disaster_id": closed}, headers=people["hq"])
    assert r.status_code == 422 and r.json()["error"]["message_ja"]
    assert client.get(f"/api/reports/{report_id}", headers=people["hq"]).json()["state"] == "pending"
    assert not _audit(app_engine, "citizen_report.accept", report_id)


def test_moderation_needs_an_hq_login(client, people):
    assert client.get("/api/reports").status_code == 401
    assert client.post("/api/reports/1/reject", json={}).status_code == 401
    page = client.get("/hq/reports", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=/hq/reports")


PLACE = (140.2000, 36.2000)  # a corner of its own: one made-up area with one made-up road


def test_a_report_names_its_place_in_words(client, public_client, people, app_engine):
    """Finding: moderation showed coordinates only. The domain names the 町丁目 area that holds the
    report and the nearest road of the road ledger (within 200 m)."""
    x, y = PLACE
    with app_engine.begin() as conn:
        dept = conn.execute(text("SELECT min(id) FROM core.department")).scalar_one()
        layer = conn.execute(
            text(
                """INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind,
                                          geometry_type)
                   VALUES ('report-place-roads', '通報場所試験道路', 'report place roads', :d, 'internal',
                           'road_segment', 'MultiLineString')
                   ON CONFLICT (slug) DO UPDATE SET title_en = EXCLUDED.title_en RETURNING id"""
            ),
            {"d": dept},
        ).scalar_one()
        conn.execute(
            text(
                """INSERT INTO gis.road_segment (layer_id, route_no, route_name, road_class, geom)
                   VALUES (:l, 'RP1', '通報試験線', 'その他',
                           ST_Multi(ST_MakeLine(ST_MakePoint(:x - 0.01, :y), ST_MakePoint(:x + 0.01, :y))))
                   ON CONFLICT (layer_id, route_no) DO NOTHING"""
            ),
            {"l": layer, "x": x, "y": y},
        )
        conn.execute(
            text(
                """INSERT INTO ops.evac_area (code, name, geom)
                   VALUES ('RPT-PLACE', '通報試験町1丁目', ST_Multi(ST_Expand(ST_MakePoint(:x, :y), 0.005)))
                   ON CONFLICT (code) DO NOTHING"""
            ),
            {"x": x, "y": y},
        )
    on_road, _ = _new(public_client, app_engine, lon=x, lat=y + 0.0003)  # ~33 m north of the road
    got = client.get(f"/api/reports/{on_road}", headers=people["hq"]).json()
    assert (got["area_name"], got["road_name"], got["road_no"]) == ("通報試験町1丁目", "通報試験線", "RP1")
    assert 30 < got["road_m"] < 36
    queued = {r["id"]: r for r in client.get("/api/reports", headers=people["hq"]).json()}
    assert (queued[on_road]["area_name"], queued[on_road]["road_name"]) == ("通報試験町1丁目", "通報試験線")
    # 500 m north: outside the area, and the road is beyond 200 m.
    away, _ = _new(public_client, app_engine, lon=x, lat=y + 0.0045)
    got = client.get(f"/api/reports/{away}", headers=people["hq"]).json()
    assert got["area_name"] == "通報試験町1丁目" and got["road_name"] is None
    outside, _ = _new(public_client, app_engine, lon=x, lat=y + 0.01)
    got = client.get(f"/api/reports/{outside}", headers=people["hq"]).json()
    assert (got["area_name"], got["road_name"]) == (None, None)
