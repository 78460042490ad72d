"""The printed situation map (状況図, GET /api/maps/situation.pdf) against the real PostGIS: a valid PDF
(pypdf opens it) of the right paper size, titled with the disaster's name and 状況図, 取扱注意 on every
page when internal data is shown, the HQ's state at time T (incidents, shelter counts, road closures,
避難情報) and not at another time, a true scale, bilingual 422s for bad parameters, and a disaster with
nothing to show still a valid map that says so."""

from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, datetime, timedelta

import pypdf
import pytest
from sqlalchemy import text

from layers.printmap.frame import MM, fit, nice_length, page_size, plane_bounds
from tests.fixtures_data import _layer, seed

# A place of our own, away from the other modules' spots (in 神奈川, plane zone IX).
SPOT = (139.4400, 35.4600)
BBOX = f"{SPOT[0] - 0.01},{SPOT[1] - 0.008},{SPOT[0] + 0.01},{SPOT[1] + 0.008}"
A3 = (1190.55, 841.89)  # landscape, points
A4 = (595.28, 841.89)  # portrait


@pytest.fixture(scope="module")
def world(client, app_engine):
    s = seed(app_engine, "pmap")
    hq = s.bearer(client, "hq")
    with app_engine.begin() as conn:
        conn.execute(text("SELECT set_config('gisapp.roles', 'admin', true)"))
        roads = _layer(conn, "pmap-roads", "public", "road_segment", "MultiLineString", s.dept_id)
        shelters = _layer(conn, "pmap-shelters", "public", "shelter", "Point", s.dept_id)
        road_id = conn.execute(
            text(
                """INSERT INTO gis.road_segment (layer_id, route_no, route_name, road_class, geom)
                   VALUES (:l, 'PM-1', '印刷試験線', '1級',
                           ST_Multi(ST_SetSRID(ST_MakeLine(ST_MakePoint(:x0, :y), ST_MakePoint(:x1, :y)), 4326)))
                   ON CONFLICT (layer_id, route_no) DO UPDATE SET route_name = EXCLUDED.route_name RETURNING id"""
            ),
            {"l": roads, "x0": SPOT[0] - 0.006, "x1": SPOT[0] + 0.006, "y": SPOT[1] - 0.002},
        ).scalar_one()
        shelter_id = conn.execute(
            text(
                """INSERT INTO gis.shelter (layer_id, code, name, capacity, suits_flood, geom)
                   VALUES (:l, 'PM-S1', '印刷試験小学校', 100, true, ST_SetSRID(ST_MakePoint(:x, :y), 4326))
                   ON CONFLICT (layer_id, code) DO UPDATE SET capacity = EXCLUDED.capacity RETURNING id"""
            ),
            {"l": shelters, "x": SPOT[0] + 0.003, "y": SPOT[1] + 0.003},
        ).scalar_one()
    return {"seed": s, "hq": hq, "staff": s.bearer(client, "staff"), "road": road_id, "shelter": shelter_id}


def new_disaster(client, world, name: str) -> int:
    r = client.post("/api/disasters", json={"name": name}, headers=world["hq"])
    assert r.status_code == 201, r.text
    return r.json()["id"]


def get_pdf(client, headers, **params) -> pypdf.PdfReader:
    r = client.get("/api/maps/situation.pdf", params=params, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["cache-control"] == "no-store"
    assert r.content.startswith(b"%PDF-")
    return pypdf.PdfReader(io.BytesIO(r.content))


def size(page) -> tuple[float, float]:
    return round(float(page.mediabox.width), 2), round(float(page.mediabox.height), 2)


def page_text(page) -> str:
    """The page's words, lines joined (the legend column wraps long notes)."""
    return page.extract_text().replace("\n", "")


def embedded_fonts(reader: pypdf.PdfReader) -> list[bool]:
    """Per font of the first page: is its program in the file (FontFile2 = TrueType)?"""
    fonts = reader.pages[0]["/Resources"]["/Font"]
    out = []
    for ref in fonts.values():
        f = ref.get_object()
        descriptor = f.get("/FontDescriptor")
        if descriptor is None and "/DescendantFonts" in f:
            descriptor = f["/DescendantFonts"][0].get_object().get("/FontDescriptor")
        d = descriptor.get_object() if descriptor is not None else {}
        out.append(any(k in d for k in ("/FontFile", "/FontFile2", "/FontFile3")))
    return out


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def test_situation_map_is_a_valid_a3_pdf_titled_with_the_disaster_and_marked_confidential(client, world):
    name = f"印刷試験 豪雨 {uuid.uuid4().hex[:6]}"
    d = new_disaster(client, world, name)
    r = client.post(
        f"/api/disasters/{d}/incidents",
        json={
            "category": "fallen_tree",
            "title": "倒木で道路をふさぐ（印刷試験）",
            "lon": SPOT[0],
            "lat": SPOT[1],
        },
        headers=world["hq"],
    )
    assert r.status_code == 201, r.text
    incident = r.json()

    doc = get_pdf(client, world["hq"], disaster=d, bbox=BBOX)
    assert size(doc.pages[0]) == A3  # A3 landscape by default
    assert name in doc.metadata.title and "状況図" in doc.metadata.title
    first = page_text(doc.pages[0])
    assert name in first and "状況図" in first
    assert "時点（日本時間）" in first and "縮尺 1:" in first
    # the legend reads as the HQ map's: the same words from frontend/symbols.py
    for words in ("未対応", "対応中", "対応済", "通行止め", "警戒レベル4 避難指示"):
        assert words in first, words
    # the incident is on the map (its number) and in the list that follows, every page 取扱注意
    assert len(doc.pages) == 2
    assert "倒木で道路をふさぐ（印刷試験）" in page_text(doc.pages[1])
    assert str(incident["id"]) in first
    assert all("取扱注意" in page_text(p) for p in doc.pages)
    assert all(embedded_fonts(doc)), "fonts must be embedded so the map prints the same everywhere"

    a4 = get_pdf(client, world["hq"], disaster=d, bbox=BBOX, paper="A4", orientation="portrait")
    assert size(a4.pages[0]) == A4 and all(size(p) == A4 for p in a4.pages)
    a4l = get_pdf(client, world["hq"], disaster=d, bbox=BBOX, paper="a4", orientation="landscape")
    assert size(a4l.pages[0]) == (A4[1], A4[0])
    a3p = get_pdf(client, world["hq"], disaster=d, bbox=BBOX, paper="A3", orientation="portrait")
    assert size(a3p.pages[0]) == (A3[1], A3[0])
    english = get_pdf(client, world["hq"], disaster=d, bbox=BBOX, lang="en")
    assert "Situation map" in english.metadata.title and "Legend" in page_text(english.pages[0])


def test_the_map_shows_the_state_at_time_t_not_now(client, world):
    name = f"印刷試験 時刻 {uuid.uuid4().hex[:6]}"
    d = new_disaster(client, world, name)
    hq = world["hq"]
    before = datetime.now(UTC)
    r = client.post(
        f"/api/disasters/{d}/shelters/{world['shelter']}/open",
        json={"responsible_staff": "印刷 花子"},
        headers=hq,
    )
    assert r.status_code == 200, r.text

    def walk_in(persons: int) -> None:
        body = {
            "client_event_id": str(uuid.uuid4()),
            "kind": "entry",
            "kiosk_id": "pmap-1",
            "persons": persons,
        }
        r = client.post(
            f"/api/disasters/{d}/shelters/{world['shelter']}/checkins", json=body, headers=world["staff"]
        )
        assert r.status_code in (200, 201), r.text

    walk_in(7)
    incident = client.post(
        f"/api/disasters/{d}/incidents",
        json={
            "category": "flooding",
            "title": "道路冠水（時刻試験）",
            "lon": SPOT[0] - 0.002,
            "lat": SPOT[1],
        },
        headers=hq,
    )
    assert incident.status_code == 201, incident.text
    closure = client.post(
        "/api/road-closures", json={"road_segment_id": world["road"], "reason": "冠水"}, headers=hq
    )
    assert closure.status_code == 201, closure.text
    ring = [
        [SPOT[0] - 0.004, SPOT[1] - 0.004],
        [SPOT[0] + 0.004, SPOT[1] - 0.004],
        [SPOT[0] + 0.004, SPOT[1] + 0.004],
        [SPOT[0] - 0.004, SPOT[1] + 0.004],
        [SPOT[0] - 0.004, SPOT[1] - 0.004],
    ]
    order = client.post(
        "/api/evacuation-info/orders",
        json={"level": 4, "hazard": "flood", "geometry": {"type": "Polygon", "coordinates": [ring]},
              "reason": "印刷試験", "disaster_id": d},
        headers=hq,
    )  # fmt: skip
    assert order.status_code == 201, order.text
    t1 = datetime.now(UTC)
    walk_in(5)
    # Lifted again at once: in force at t1 only (no other module sees it in force afterwards).
    cancel = client.post(
        f"/api/evacuation-info/orders/{order.json()['id']}/cancel",
        json={"expected_version": order.json()["version"], "reason": "試験終了"},
        headers=hq,
    )
    assert cancel.status_code == 200, cancel.text
    reopen = client.post(f"/api/road-closures/{closure.json()['id']}/reopen", headers=hq)
    assert reopen.status_code == 200, reopen.text

    at_t1 = page_text(get_pdf(client, hq, disaster=d, bbox=BBOX, at=iso(t1)).pages[0])
    assert "印刷試験小学校 7/100人" in at_t1  # the count at t1, not the 12 of now
    assert "通行止め：印刷試験線" in at_t1  # the closure in force at t1
    assert at_t1.count("警戒レベル4 避難指示") == 2  # the legend's entry and the area's tag
    assert str(incident.json()["id"]) in at_t1

    now = get_pdf(client, hq, disaster=d, bbox=BBOX)
    now_text = page_text(now.pages[0])
    assert "印刷試験小学校 12/100人" in now_text
    assert "通行止め：印刷試験線" not in now_text  # reopened
    assert now_text.count("警戒レベル4 避難指示") == 1  # cancelled: the legend only

    early = get_pdf(client, hq, disaster=d, bbox=BBOX, at=iso(before - timedelta(minutes=1)))
    early_text = page_text(early.pages[0])
    assert len(early.pages) == 1  # no incident yet: no list
    assert (
        "印刷試験小学校" not in early_text
        and "表示する事案・避難所・無線機・通行止め・避難情報はありません" in early_text
    )


def test_a_disaster_with_nothing_to_show_is_still_a_valid_map_saying_so(client, world):
    name = f"印刷試験 空 {uuid.uuid4().hex[:6]}"
    d = new_disaster(client, world, name)
    doc = get_pdf(client, world["hq"], disaster=d, bbox="139.5,35.5,139.51,35.51", paper="A4")
    assert len(doc.pages) == 1 and size(doc.pages[0]) == (A4[1], A4[0])
    body = page_text(doc.pages[0])
    assert name in body and "状況図" in body
    assert "表示する事案・避難所・無線機・通行止め・避難情報はありません" in body
    assert "取扱注意" not in body  # nothing internal on it


def test_without_a_bbox_the_sheet_shows_the_disasters_incidents_however_wide_they_lie(client, world):
    """No bbox: the ground is the disaster's own incidents, not the city's whole extent (which also
    held every road any department imported, and refused the sheet once they lay in several cities)."""

    def disaster_with(places: tuple[tuple[float, float, str], ...]) -> int:
        d = new_disaster(client, world, f"印刷試験 範囲 {uuid.uuid4().hex[:6]}")
        for lon, lat, title in places:
            r = client.post(
                f"/api/disasters/{d}/incidents",
                json={"category": "fallen_tree", "title": title, "lon": lon, "lat": lat},
                headers=world["hq"],
            )
            assert r.status_code == 201, r.text
        return d

    # Two incidents 20 km apart, 80 km from the demo city: both on the sheet.
    tag = uuid.uuid4().hex[:4]
    d = disaster_with(((140.10, 35.60, f"千葉の倒木{tag}"), (140.30, 35.62, f"東金の倒木{tag}")))
    body = "".join(page_text(p) for p in get_pdf(client, world["hq"], disaster=d, paper="A4").pages)
    assert f"千葉の倒木{tag}" in body and f"東金の倒木{tag}" in body
    # Incidents 95 km apart: still a sheet, cut to the widest ground around their centre.
    wide = disaster_with(((139.10, 35.30, "西の事案"), (139.95, 35.80, "東の事案")))
    assert get_pdf(client, world["hq"], disaster=wide, paper="A4").pages
    # A bbox the operator asks for that is too wide is still refused, naming it.
    r = client.get(
        "/api/maps/situation.pdf",
        params={"disaster": wide, "bbox": "139.1,35.3,139.95,35.8"},
        headers=world["hq"],
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "bbox"


@pytest.mark.parametrize(
    "params, field",
    [
        ({"paper": "B5"}, "paper"),
        ({"orientation": "diagonal"}, "orientation"),
        ({"bbox": "139.4,35.4,139.5"}, "bbox"),
        ({"bbox": "west,35.4,139.5,35.5"}, "bbox"),
        ({"bbox": "139.5,35.4,139.4,35.5"}, "bbox"),
        ({"bbox": "nan,35.4,139.5,35.5"}, "bbox"),
        ({"bbox": "-74.1,40.6,-73.9,40.8"}, "bbox"),  # New York: no plane zone of ours
        ({"bbox": "138.0,35.0,139.9,35.9"}, "bbox"),  # 170 km across: not a city map
        ({"at": "2099-01-01T00:00:00+09:00"}, "at"),
        ({"at": "0001-01-01T00:00:00+14:00"}, "at"),
    ],
)
def test_bad_parameters_get_a_bilingual_422(client, world, params, field):
    d = new_disaster(client, world, f"印刷試験 誤り {uuid.uuid4().hex[:6]}")
    r = client.get("/api/maps/situation.pdf", params={"disaster": d, **params}, headers=world["hq"])
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["message_ja"] and error["message_en"] and error["message_ja"] != error["message_en"]
    assert re.search(r"[ぁ-んァ-ン一-龥]", error["message_ja"])
    assert error.get("field") == field or field in r.text


def test_who_may_print(client, public_client, world):
    d = new_disaster(client, world, f"印刷試験 権限 {uuid.uuid4().hex[:6]}")
    assert client.get("/api/maps/situation.pdf", params={"disaster": d}).status_code == 401
    missing = client.get("/api/maps/situation.pdf", params={"disaster": 2_000_000_000}, headers=world["hq"])
    assert missing.status_code == 404 and missing.json()["error"]["message_ja"]
    no_tz = client.get(
        "/api/maps/situation.pdf", params={"disaster": d, "at": "2026-07-01T12:00:00"}, headers=world["hq"]
    )
    assert no_tz.status_code == 422
    assert public_client.get("/api/maps/situation.pdf", params={"disaster": d}).status_code == 404


def test_the_scale_is_true_in_the_plane_zone():
    # 1 km of ground across a 100 mm frame is 1:10,000, whatever the latitude.
    bounds = plane_bounds(6677, (139.30, 35.39, 139.31, 35.40))
    width_m = bounds[2] - bounds[0]
    frame = fit(6677, bounds, 0, 0, width_m / 10_000 * 1000 * MM, 10_000)
    assert frame.scale == pytest.approx(10_000, rel=1e-9)
    # 1 m of ground is 1/10,000 m of paper: the scale bar's length in points is the ground's × that.
    assert frame.points_per_metre == pytest.approx(1000 * MM / 10_000)
    assert [nice_length(x) for x in (0.9, 7, 180, 2400, 49_999)] == [0.5, 5, 100, 2000, 20_000]
    # True north leans east of the page's up west of the zone's central meridian (139°50'E), west of it east.
    assert (
        0 < fit(6677, plane_bounds(6677, (139.30, 35.39, 139.31, 35.40)), 0, 0, 100, 100).true_north_deg() < 1
    )
    assert (
        -1 < fit(6677, plane_bounds(6677, (140.3, 35.39, 140.31, 35.40)), 0, 0, 100, 100).true_north_deg() < 0
    )
    assert page_size("A3", "landscape") == pytest.approx(A3, abs=0.01)
