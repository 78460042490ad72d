"""People needing evacuation help (避難行動要支援者): the role matrix in the API and in the database,
disaster mode with its expiry, the priority order on a hand-made fixture (with the live rise when a
gauge enters alert), the CSV import, plans, the roster and the audit of every read.

The fixture lives far from the demo data (lon 140.5, lat 36.5) in its own layers and community area.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import text

from gisapp.db import transaction
from ingest.gauges import record_observations
from ingest.payloads import GaugeObservation
from tests.fixtures_data import seed

AREA = "ピープル試験町1丁目"
REGISTRY = "people-test-registry"
HAZARDS = "people-test-hazards"
GAUGE = "people-test-gauge"
LAT = 36.5

# name -> (lon, consent, care categories, birth year); the residences sit in the squares below.
PEOPLE = {
    "PT-A": (140.5000, True, "要介護3", 1940),  # 特別警戒区域 (inside the 警戒区域 too)
    "PT-G": (140.5080, True, "要介護5", 1950),  # 警戒区域, more care than B
    "PT-B": (140.5100, True, "要介護3", 1930),  # 警戒区域
    "PT-C": (140.5200, False, "要介護3", 1930),  # 浸水 3.0〜5.0m, no consent
    "PT-D": (140.5300, True, "独居高齢者", 1945),  # 浸水 0.5〜3.0m
    "PT-E": (140.5400, True, "要介護5", 1930),  # 浸水 0.5m未満
    "PT-F": (140.5500, True, "要介護5", 1925),  # outside every hazard area
}
NORMAL_ORDER = ["PT-A", "PT-G", "PT-B", "PT-C", "PT-D", "PT-E", "PT-F"]


def _square(lon: float, half: float) -> str:
    a, b, c, d = lon - half, LAT - half, lon + half, LAT + half
    return f"MULTIPOLYGON((({a} {b},{c} {b},{c} {d},{a} {d},{a} {b})))"


HAZARD_AREAS = [
    ("landslide_warning", None, "MULTIPOLYGON(((140.498 36.498,140.512 36.498,140.512 36.502,140.498 36.502,140.498 36.498)))"),
    ("landslide_special", None, _square(140.5000, 0.001)),
    ("flood", "3.0〜5.0m", _square(140.5200, 0.002)),
    ("flood", "0.5〜3.0m", _square(140.5300, 0.002)),
    ("inland_flood", "0.5m未満", _square(140.5400, 0.002)),
]  # fmt: skip


def _layer(conn, slug: str, kind: str, visibility: str, dept: int) -> int:
    return conn.execute(
        text(
            """INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind, geometry_type)
               VALUES (:s, :s, :s, :d, :v, :k, :g)
               ON CONFLICT (slug) DO UPDATE SET visibility = EXCLUDED.visibility RETURNING id"""
        ),
        {
            "s": slug,
            "d": dept,
            "v": visibility,
            "k": kind,
            "g": "Point" if kind != "hazard_area" else "MultiPolygon",
        },
    ).scalar_one()


@pytest.fixture(scope="module")
def api(client):
    return client


@pytest.fixture(scope="module")
def users(app_engine):
    return seed(app_engine, "people")


@pytest.fixture(scope="module")
def fixture_ids(app_engine, owner_engine, users) -> dict[str, int]:
    with transaction(app_engine, ["admin"]) as conn:
        registry = _layer(conn, REGISTRY, "person_needing_help", "restricted", users.dept_id)
        hazards = _layer(conn, HAZARDS, "hazard_area", "internal", users.dept_id)
        conn.execute(text("DELETE FROM gis.hazard_area WHERE layer_id = :l"), {"l": hazards})
        for hazard_type, depth, wkt in HAZARD_AREAS:
            conn.execute(
                text(
                    "INSERT INTO gis.hazard_area (layer_id, hazard_type, depth_rank, geom)"
                    " VALUES (:l, :t, :d, ST_GeomFromText(:w, 4326))"
                ),
                {"l": hazards, "t": hazard_type, "d": depth, "w": wkt},
            )
        ids = {}
        for key, (lon, consent, care, born) in PEOPLE.items():
            ids[key] = conn.execute(
                text(
                    """INSERT INTO restricted.person_needing_help (layer_id, external_id, name, birth_year,
                         address, community_area, care_category, consent, support_persons, geom)
                       VALUES (:l, :k, :name, :born, :addr, :area, :care, :consent,
                         CAST(:support AS jsonb), ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
                       ON CONFLICT (layer_id, external_id) DO UPDATE SET consent = EXCLUDED.consent
                       RETURNING id"""
                ),
                {
                    "l": registry,
                    "k": key,
                    "name": f"試験 {key}（架空）",
                    "born": born,
                    "addr": f"架空市{AREA}{key}",
                    "area": AREA,
                    "care": care,
                    "consent": consent,
                    "support": json.dumps(
                        [{"name": f"支援 {key}", "relation": "長男", "phone": "000-0000-0000"}]
                    ),
                    "lon": lon,
                    "lat": LAT,
                },  # fmt: skip
            ).scalar_one()
        conn.execute(
            text(
                """INSERT INTO sensor.device (id, kind, name, location, thresholds, mqtt_password_hash)
                   VALUES (:id, 'water_gauge', '試験水位計', ST_SetSRID(ST_MakePoint(140.5302, 36.5005), 4326),
                           CAST(:th AS jsonb), 'x')
                   ON CONFLICT (id) DO NOTHING"""
            ),
            {
                "id": GAUGE,
                "th": json.dumps(
                    {"水防団待機水位": 1.0, "氾濫注意水位": 2.0, "避難判断水位": 3.0, "氾濫危険水位": 4.0}
                ),
            },
        )
    yield ids
    _end_disaster_modes(owner_engine)


def _end_disaster_modes(owner_engine) -> None:
    with owner_engine.begin() as conn:
        conn.execute(text("UPDATE restricted.disaster_mode SET ended_at = now() WHERE ended_at IS NULL"))


def _visible(app_engine, roles: str) -> set[str]:
    """The database's own answer for a transaction with these roles (no Python filter in between)."""
    with app_engine.begin() as conn:
        conn.execute(text("SELECT set_config('gisapp.roles', :r, true)"), {"r": roles})
        return set(
            conn.execute(
                text("SELECT external_id FROM restricted.person_needing_help WHERE community_area = :a"),
                {"a": AREA},
            ).scalars()
        )


def _api_ids(api, headers, path="/api/people", **params) -> set[str] | int:
    r = api.get(path, params={"area": AREA, **params}, headers=headers)
    return {p["external_id"] for p in r.json()} if r.status_code == 200 else r.status_code


CONSENTING = {k for k, v in PEOPLE.items() if v[1]}
EVERYONE = set(PEOPLE)


def test_role_matrix_normal_mode(api, public_client, users, fixture_ids, app_engine):
    # In the database, whatever the query asks for.
    assert _visible(app_engine, "") == set()
    assert _visible(app_engine, "staff") == set()
    assert _visible(app_engine, "hq_operator") == set()
    assert _visible(app_engine, "staff,welfare") == CONSENTING
    assert _visible(app_engine, "admin") == EVERYONE  # the registry keeper
    # Through the API.
    assert _api_ids(api, {}) == 401
    assert _api_ids(api, users.bearer(api, "staff")) == 403
    assert _api_ids(api, users.bearer(api, "hq")) == set()
    assert _api_ids(api, users.bearer(api, "welfare")) == CONSENTING
    assert _api_ids(api, users.bearer(api, "welfare"), "/api/people/priority") == CONSENTING
    assert public_client.get("/api/people", params={"area": AREA}).status_code == 404
    welfare = users.bearer(api, "welfare")
    hidden = fixture_ids["PT-C"]
    assert api.get(f"/api/people/{hidden}", headers=welfare).status_code == 404
    assert (
        api.get(f"/api/people/{fixture_ids['PT-A']}", headers=welfare).json()["name"] == "試験 PT-A（架空）"
    )
    # Writes need welfare/admin: an hq_operator's insert is refused by the database itself.
    with app_engine.begin() as conn, pytest.raises(Exception, match="row-level security"):
        conn.execute(text("SELECT set_config('gisapp.roles', 'hq_operator', true)"))
        conn.execute(
            text(
                "INSERT INTO restricted.person_needing_help (layer_id, external_id, name, care_category, geom)"
                " SELECT id, 'x', 'x', '難病', ST_SetSRID(ST_MakePoint(140.6, 36.5), 4326) FROM gis.layer WHERE slug = :s"
            ),
            {"s": REGISTRY},
        )


def test_disaster_mode_widens_then_expires(api, users, fixture_ids, app_engine, owner_engine):
    hq, welfare, staff = (users.bearer(api, w) for w in ("hq", "welfare", "staff"))
    body = {"minutes": 30, "reason": "試験：大雨特別警報"}
    assert api.post("/api/people/disaster-mode", json=body, headers=welfare).status_code == 403
    assert api.post("/api/people/disaster-mode", json=body, headers=staff).status_code == 403
    assert api.post("/api/people/disaster-mode", json={**body, "minutes": 0}, headers=hq).status_code == 422
    try:
        r = api.post("/api/people/disaster-mode", json=body, headers=hq)
        assert r.status_code == 201, r.text
        mode = r.json()["active"]
        assert sorted(mode["roles"]) == ["hq_operator", "welfare"]
        assert api.post("/api/people/disaster-mode", json=body, headers=hq).status_code == 409
        # Everyone for the designated roles, in the database and through the API; others still nothing.
        assert _visible(app_engine, "staff,welfare") == EVERYONE
        assert _visible(app_engine, "hq_operator") == EVERYONE
        assert _visible(app_engine, "staff") == set()
        assert _api_ids(api, welfare) == EVERYONE
        assert _api_ids(api, hq, "/api/people/priority") == EVERYONE
        assert _api_ids(api, staff) == 403
        with app_engine.begin() as conn:  # the switch is audited
            n = conn.execute(
                text(
                    "SELECT count(*) FROM audit.log WHERE action = 'people.disaster_mode_on' AND details->>'mode_id' = :i"
                ),
                {"i": str(mode["id"])},
            ).scalar_one()
        assert n == 1
        # The clock moves past expires_at (as the owner, which the app role cannot do): it ends by itself.
        with owner_engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE restricted.disaster_mode SET activated_at = now() - interval '31 minutes',"
                    " expires_at = now() - interval '1 second' WHERE id = :i"
                ),
                {"i": mode["id"]},
            )
        assert _visible(app_engine, "staff,welfare") == CONSENTING
        assert _visible(app_engine, "hq_operator") == set()
        assert _api_ids(api, welfare) == CONSENTING
        assert api.get("/api/people/disaster-mode", headers=hq).json()["active"] is None
        # The app role may not stretch a disaster mode itself, whatever its roles (0021: only a second
        # person's confirmation extends one, and not once it has ended).
        for roles in ("welfare", "hq_operator", "admin"):
            with app_engine.begin() as conn, pytest.raises(Exception, match="confirmation extends"):
                conn.execute(text("SELECT set_config('gisapp.roles', :r, true)"), {"r": roles})
                conn.execute(
                    text(
                        "UPDATE restricted.disaster_mode SET expires_at = now() + interval '1 day' WHERE id = :i"
                    ),
                    {"i": mode["id"]},
                )
        # Switched on and off explicitly.
        assert api.post("/api/people/disaster-mode", json=body, headers=hq).status_code == 201
        assert _visible(app_engine, "hq_operator") == EVERYONE
        assert api.delete("/api/people/disaster-mode", headers=hq).json()["ended"] == 1
        assert _visible(app_engine, "hq_operator") == set()
    finally:
        _end_disaster_modes(owner_engine)


def _order(api, headers, **params) -> list[str]:
    r = api.get("/api/people/priority", params={"area": AREA, **params}, headers=headers)
    assert r.status_code == 200, r.text
    rows = r.json()
    assert [p["priority"] for p in rows] == list(range(1, len(rows) + 1))
    return [p["external_id"] for p in rows]


def test_priority_order_and_live_rise(api, users, fixture_ids, app_engine):
    admin = users.bearer(api, "admin")
    assert _order(api, admin, radius_m=300) == NORMAL_ORDER
    first = api.get("/api/people/priority", params={"area": AREA, "limit": 1}, headers=admin).json()
    assert first[0]["hazard_type"] == "landslide_special" and first[0]["hazard_ja"] == "土砂災害特別警戒区域"
    # Welfare in normal mode: the same order without the person who did not consent.
    assert _order(api, users.bearer(api, "welfare"), radius_m=300) == [k for k in NORMAL_ORDER if k != "PT-C"]

    now = datetime.now(UTC)
    with transaction(app_engine) as conn:
        record_observations(conn, [GaugeObservation(GAUGE, "level", now - timedelta(minutes=60), 1.5)])
    assert _order(api, admin, radius_m=300) == NORMAL_ORDER  # 水防団待機水位: not an alert
    with transaction(app_engine) as conn:
        record_observations(conn, [GaugeObservation(GAUGE, "level", now - timedelta(minutes=50), 3.2)])
    raised = _order(api, admin, radius_m=300)
    assert raised == ["PT-D"] + [k for k in NORMAL_ORDER if k != "PT-D"]  # 避難判断水位 within 300 m
    row = api.get(
        "/api/people/priority", params={"area": AREA, "limit": 1, "radius_m": 300}, headers=admin
    ).json()[0]
    assert row["alert_gauge"] == GAUGE
    # The reach is the configured radius: with 10 m, the gauge (60 m away) is not near anyone.
    assert _order(api, admin, radius_m=10) == NORMAL_ORDER
    with transaction(app_engine) as conn:  # the water went down and stayed down (the 30-minute hold)
        for minutes in (40, 30, 20):
            record_observations(
                conn, [GaugeObservation(GAUGE, "level", now - timedelta(minutes=minutes), 0.5)]
            )
    assert _order(api, admin, radius_m=300) == NORMAL_ORDER


RIVER_NEAR_LANDSLIDE = "people-test-river-gauge"


def test_a_river_gauge_in_alert_does_not_move_a_landslide_zone_resident(api, users, fixture_ids, app_engine):
    """PT-B lives in a 土砂災害警戒区域 60 m from a river gauge at 氾濫危険水位: a flood gauge concerns
    flood areas only (ops.alert_level_rule: 氾濫危険水位 → flood), so PT-B keeps its place."""
    admin = users.bearer(api, "admin")
    with transaction(app_engine, ["admin"]) as conn:
        conn.execute(
            text(
                """INSERT INTO sensor.device (id, kind, name, location, thresholds, mqtt_password_hash)
                   VALUES (:id, 'water_gauge', '試験河川水位計', ST_SetSRID(ST_MakePoint(140.5102, 36.5005), 4326),
                           CAST(:th AS jsonb), 'x') ON CONFLICT (id) DO NOTHING"""
            ),
            {"id": RIVER_NEAR_LANDSLIDE, "th": json.dumps({"避難判断水位": 3.0, "氾濫危険水位": 4.0})},
        )
        record_observations(
            conn,
            [GaugeObservation(RIVER_NEAR_LANDSLIDE, "level", datetime.now(UTC) - timedelta(minutes=5), 4.5)],
        )
    try:
        rows = api.get("/api/people/priority", params={"area": AREA, "radius_m": 300}, headers=admin).json()
        assert [p["external_id"] for p in rows] == NORMAL_ORDER
        assert all(p["alert_gauge"] is None for p in rows)
    finally:
        with transaction(app_engine, ["admin"]) as conn:
            conn.execute(text("DELETE FROM sensor.device WHERE id = :id"), {"id": RIVER_NEAR_LANDSLIDE})


def _issue(app_engine, level: int, hazard: str, wkt: str) -> int:
    with transaction(app_engine, ["admin"]) as conn:
        return conn.execute(
            text(
                """INSERT INTO ops.evac_order (level, hazard, area_codes, area_names, geom, reason, issued_by, updated_by)
                   VALUES (:lv, :hz, '{}', '{}', ST_GeomFromText(:w, 4326), '試験', 'people-test', 'people-test')
                   RETURNING id"""
            ),
            {"lv": level, "hz": hazard, "w": wkt},
        ).scalar_one()


def _cancel(app_engine, ids: list[int]) -> None:
    with transaction(app_engine, ["admin"]) as conn:
        conn.execute(
            text("UPDATE ops.evac_order SET status = 'cancelled', cancelled_at = now() WHERE id = ANY(:ids)"),
            {"ids": ids},
        )


def test_an_issued_order_of_the_matching_hazard_puts_its_people_first(api, users, fixture_ids, app_engine):
    admin = users.bearer(api, "admin")
    # A landslide 避難指示 over PT-G's and PT-B's houses, and flood orders over the landslide-zone PT-A
    # (another hazard: no effect) and over PT-E, whose area is an inland-flooding one (no effect either).
    ids = [
        _issue(app_engine, 4, "landslide", _square(140.5090, 0.0015)),
        _issue(app_engine, 5, "flood", _square(140.5000, 0.0005)),
        _issue(app_engine, 4, "flood", _square(140.5400, 0.0005)),
    ]
    try:
        rows = api.get("/api/people/priority", params={"area": AREA}, headers=admin).json()
        order = [p["external_id"] for p in rows]
        assert order == ["PT-G", "PT-B"] + [k for k in NORMAL_ORDER if k not in ("PT-G", "PT-B")]
        assert [p["evac_level"] for p in rows[:3]] == [4, 4, None]
        # A higher level first: 緊急安全確保 (5) for landslides over PT-B.
        ids.append(_issue(app_engine, 5, "landslide", _square(140.5100, 0.0005)))
        order = _order(api, admin)
        assert order[:2] == ["PT-B", "PT-G"]
    finally:
        _cancel(app_engine, ids)
    assert _order(api, admin) == NORMAL_ORDER  # cancelled: back to normal


def _audit_count(app_engine, actor: str, action: str) -> list[dict]:
    with app_engine.begin() as conn:
        return [
            r.details
            for r in conn.execute(
                text("SELECT details FROM audit.log WHERE actor = :a AND action = :x ORDER BY id"),
                {"a": actor, "x": action},
            )
        ]


def test_every_read_and_export_is_audited(api, users, fixture_ids, app_engine):
    welfare = users.bearer(api, "welfare")
    actor = "people-welfare"
    pid = fixture_ids["PT-A"]
    reads = [
        ("people.list", "/api/people", {"area": AREA}, len(CONSENTING)),
        ("people.priority", "/api/people/priority", {"area": AREA}, len(CONSENTING)),
        ("people.roster_csv", "/api/people/roster.csv", {"area": AREA}, len(CONSENTING)),
        ("people.roster_page", "/people/roster", {"area": AREA}, len(CONSENTING)),
        ("people.read", f"/api/people/{pid}", {}, 1),
        ("people.plan_read", f"/api/people/{pid}/plan", {}, 1),
    ]
    for action, path, params, rows in reads:
        before = _audit_count(app_engine, actor, action)
        r = api.get(path, params=params, headers=welfare)
        assert r.status_code == 200, (path, r.text)
        after = _audit_count(app_engine, actor, action)
        assert len(after) == len(before) + 1, action
        assert after[-1]["rows"] == rows, action


def test_plans(api, users, fixture_ids):
    welfare, staff, admin = (users.bearer(api, w) for w in ("welfare", "staff", "admin"))
    pid = fixture_ids["PT-B"]
    r = api.put(
        f"/api/people/{pid}/plan",
        json={"status": "drafting", "summary": "長男が車で避難所へ"},
        headers=welfare,
    )
    assert r.status_code == 200, r.text
    got = api.get(f"/api/people/{pid}/plan", headers=welfare).json()
    assert (got["status"], got["status_ja"], got["updated_by"]) == ("drafting", "作成中", "people-welfare")
    assert api.put(f"/api/people/{pid}/plan", json={"status": "bogus"}, headers=welfare).status_code == 422
    assert api.get(f"/api/people/{pid}/plan", headers=welfare).json()["status"] == "drafting"
    assert api.put(f"/api/people/{pid}/plan", json={"status": "done"}, headers=staff).status_code == 403
    hidden = fixture_ids["PT-C"]  # no consent: welfare may neither read nor write its plan in normal mode
    assert api.put(f"/api/people/{hidden}/plan", json={"status": "done"}, headers=welfare).status_code == 404
    assert api.put(f"/api/people/{hidden}/plan", json={"status": "done"}, headers=admin).status_code == 200
    assert api.get(f"/api/people/{hidden}/plan", headers=welfare).status_code == 404
    rows = {
        p["external_id"]: p
        for p in api.get("/api/people/priority", params={"area": AREA}, headers=admin).json()
    }
    assert rows["PT-B"]["plan_status"] == "drafting" and rows["PT-A"]["plan_status"] == "not_started"


def test_roster_csv_and_page(api, users, fixture_ids):
    welfare, staff = users.bearer(api, "welfare"), users.bearer(api, "staff")
    r = api.get("/api/people/roster.csv", params={"area": AREA}, headers=welfare)
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [row["管理番号"] for row in table] == [k for k in NORMAL_ORDER if k != "PT-C"]
    assert table[0]["危険区域"].startswith("土砂災害特別警戒区域") and table[0]["同意"] == "有"
    assert "支援 PT-A／長男／000-0000-0000" in table[0]["避難支援者"]
    assert api.get("/api/people/roster.csv", params={"area": AREA}, headers=staff).status_code == 403
    # The registry keeper sees everyone, but a roster is what leaves the office: consenting people only.
    kept = api.get("/api/people/roster.csv", params={"area": AREA}, headers=users.bearer(api, "admin"))
    keeper = list(csv.DictReader(io.StringIO(kept.content.decode("utf-8-sig"))))
    assert {row["管理番号"] for row in keeper} == {row["管理番号"] for row in table}
    assert all(row["同意"] == "有" for row in keeper)
    page = api.get("/people/roster", params={"area": AREA}, headers=welfare)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    html = page.text
    assert "避難行動要支援者名簿" in html and "試験 PT-A（架空）" in html and "試験 PT-C" not in html
    assert "/static/vendor/leaflet/leaflet.js" in html and "roster-map" in html
    config = json.loads(html.split('id="page-data">')[1].split("</script>")[0])
    assert len(config["points"]) == len(CONSENTING) and "name" not in config["points"][0]
    # The same area written with a full-width digit, a kanji number or spaces finds the same people
    # (finding: 「デモ田園町４丁目」 found nobody).
    for spelled in ("ピープル試験町１丁目", "ピープル試験町一丁目", " ピープル試験町 1丁目 "):
        other = api.get("/people/roster", params={"area": spelled}, headers=welfare).text
        assert "試験 PT-A（架空）" in other and "試験 PT-C" not in other, spelled
        csv_rows = api.get("/api/people/roster.csv", params={"area": spelled}, headers=welfare)
        assert csv_rows.content == r.content, spelled
    assert (
        "Roster of people"
        in api.get("/people/roster", params={"area": AREA, "lang": "en"}, headers=welfare).text
    )
    assert api.get("/people/roster", params={"area": AREA}, headers=staff).status_code == 403
    forbidden = api.get("/people/roster", params={"area": AREA}, headers=staff)
    assert "権限がありません" in forbidden.text and 'id="gisapp-main"' in forbidden.text
    anonymous = api.get("/people/roster", params={"area": AREA, "lang": "en"}, follow_redirects=False)
    assert anonymous.status_code == 303 and "試験" not in anonymous.text
    # Back to the same area after the login (finding: the login dropped ?area=).
    back = parse_qs(urlsplit(anonymous.headers["location"]).query)["next"][0]
    assert back == "/people/roster?" + urlencode({"area": AREA, "lang": "en"})


HEADER = "管理番号,氏名,ふりがな,生年,電話番号,住所,自治会,要配慮区分,同意,緯度,経度,避難支援者\n"


def _import(api, headers, body: bytes, layer: str = REGISTRY):
    return api.post(
        "/api/people/import",
        files={"file": ("people.csv", body, "text/csv")},
        data={"layer": layer},
        headers=headers,
    )


def _stored(app_engine, prefix: str) -> dict[str, tuple]:
    with transaction(app_engine, ["admin"]) as conn:
        rows = conn.execute(
            text(
                """SELECT external_id, name, consent, care_categories, care_severity, community_area, support_persons
                   FROM restricted.person_needing_help WHERE external_id LIKE :p"""
            ),
            {"p": prefix + "%"},
        )
        return {r.external_id: tuple(r)[1:] for r in rows}


def test_csv_import_good_file_upserts(api, users, fixture_ids, app_engine):
    admin = users.bearer(api, "admin")
    good = HEADER + (
        "IM-1,取込 一郎（架空）,トリコミ イチロウ,1941,000-0000-1111,架空市取込町1-1,取込町1丁目,要介護4;難病,有,36.51,140.61,支援 花子/長女/000-0000-2222\n"
        "IM-2,取込 二郎（架空）,,1950,,,取込町1丁目,独居高齢者,無,36.52,140.62,\n"
    )
    r = _import(api, admin, good.encode())
    assert r.status_code == 200, r.text
    assert (r.json()["inserted"], r.json()["updated"]) == (2, 0)
    stored = _stored(app_engine, "IM-")
    assert stored["IM-1"][:5] == ("取込 一郎（架空）", True, ["要介護4", "難病"], 2, "取込町1丁目")
    assert stored["IM-1"][5] == [{"name": "支援 花子", "relation": "長女", "phone": "000-0000-2222"}]
    assert stored["IM-2"][1] is False
    again = _import(api, admin, good.replace("独居高齢者,無", "独居高齢者,有").encode())
    assert (again.json()["inserted"], again.json()["updated"]) == (0, 2)
    assert _stored(app_engine, "IM-")["IM-2"][1] is True
    assert _import(api, users.bearer(api, "welfare"), good.encode()).status_code == 403
    assert _import(api, admin, good.encode(), layer="no-such-layer").status_code == 404


def test_csv_import_cp932(api, users, fixture_ids, app_engine):
    body = HEADER + "SJ-1,漢字 太郎（架空）,カンジ タロウ,1939,,,取込町2丁目,身体障害1級,同意,36.53,140.63,\n"
    r = _import(api, users.bearer(api, "admin"), body.encode("cp932"))
    assert r.status_code == 200 and r.json()["encoding"] == "cp932"
    assert _stored(app_engine, "SJ-")["SJ-1"][:3] == ("漢字 太郎（架空）", True, ["身体障害1級"])


def test_csv_import_malformed_rows_store_nothing(api, users, fixture_ids, app_engine):
    admin = users.bearer(api, "admin")
    bad = HEADER + (
        "BAD-1,良い 行（架空）,,1940,,,取込町3丁目,要介護3,有,36.5,140.6,\n"  # fine on its own
        "BAD-2,同意 不明（架空）,,1940,,,取込町3丁目,要介護3,たぶん,36.5,140.6,\n"
        "BAD-3,座標 逆（架空）,,1940,,,取込町3丁目,要介護3,有,140.6,36.5,\n"
        "BAD-4,区分 不明（架空）,,1940,,,取込町3丁目,宇宙飛行士,有,36.5,140.6,\n"
        "BAD-5,生年 古い（架空）,,1800,,,取込町3丁目,要介護3,有,36.5,140.6,\n"
        "BAD-6,,,1940,,,取込町3丁目,要介護3,有,36.5,140.6,\n"
        "BAD-1,重複（架空）,,1940,,,取込町3丁目,要介護3,有,36.5,140.6,\n"
    )
    r = _import(api, admin, bad.encode())
    assert r.status_code == 422
    error = r.json()["error"]
    assert "何も保存していません" in error["message_ja"] and "nothing was stored" in error["message_en"]
    found = {(p["row"], p["column"]) for p in error["problems"]}
    assert found == {
        (3, "同意"),
        (4, "緯度"),
        (4, "経度"),
        (5, "要配慮区分"),
        (6, "生年"),
        (7, "氏名"),
        (8, "管理番号"),
    }
    assert all(p["problem_ja"] and p["problem_en"] for p in error["problems"])
    assert "同意 不明" not in r.text and "宇宙飛行士" not in r.text  # no personal data echoed
    assert _stored(app_engine, "BAD-") == {}
    missing = _import(api, admin, "管理番号,氏名\nX-1,名前\n".encode())
    assert missing.status_code == 422
    assert {p["column"] for p in missing.json()["error"]["problems"]} >= {
        "同意",
        "緯度",
        "経度",
        "要配慮区分",
    }
    broken = _import(api, admin, b"\xff\xfe\x00garbage\x81")
    assert broken.status_code == 422 and broken.json()["error"]["message_ja"]
    assert _stored(app_engine, "X-") == {}


@pytest.mark.parametrize(
    "spelled",
    [
        "デモ田園町４丁目",
        "デモ田園町四丁目",
        " デモ田園町 4丁目 ",
        "デモ田園町4丁",
        "ﾃﾞﾓ田園町4丁目",
        "デモ田園町　４丁目",
    ],
)
def test_area_names_compare_in_one_form(spelled):
    from gisapp.ops.people import area_key

    assert area_key(spelled) == area_key("デモ田園町4丁目") == "デモ田園町4丁目"


def test_area_names_keep_their_numbers_apart():
    from gisapp.ops.people import area_key

    assert area_key("デモ田園町十一丁目") == "デモ田園町11丁目" != area_key("デモ田園町1丁目")
    assert area_key("デモ田園町二十丁目") == "デモ田園町20丁目"
    assert area_key("デモ本町") != area_key("デモ中町")
