"""Shelters per disaster, pre-registration and check-in against the real PostGIS, on both instances:
hazard suitability, opening and closing (audited, HQ roles), the resident's registration by token
(and nothing else), the kiosk's counts-only answers, idempotent replays, exits, walk-ins, congestion
thresholds, bad input refused with nothing stored, and 100 concurrent kiosks over real HTTP."""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from gisapp.app import create_app
from gisapp.ops import households
from tests.fixtures_data import _layer, seed
from tests.support import count, listen_events


@dataclass
class World:
    seed: object
    disaster_id: int
    shelters: dict[str, int]  # role -> shelter id
    hq: dict
    staff: dict
    welfare: dict


def make_shelters(app_engine, tag: str, base: tuple[float, float], dept_id: int) -> dict[str, int]:
    """A public shelter layer with flood, landslide and small shelters, and an internal one."""
    ids = {}
    with app_engine.begin() as conn:
        conn.execute(text("SELECT set_config('gisapp.roles', 'admin', true)"))
        public = _layer(conn, f"{tag}-shelters", "public", "shelter", "Point", dept_id)
        internal = _layer(conn, f"{tag}-shelters-int", "internal", "shelter", "Point", dept_id)
        for i, (name, layer, cap, flood, slide) in enumerate(
            [
                ("flood", public, 100, True, False),
                ("landslide", public, 50, False, True),
                ("small", public, 10, True, True),
                ("internal", internal, 40, True, True),
                ("spare", public, 200, True, True),
            ]
        ):
            ids[name] = conn.execute(
                text(
                    """INSERT INTO gis.shelter (layer_id, code, name, capacity, suits_flood, suits_landslide, geom)
                       VALUES (:l, :c, :n, :cap, :f, :s, ST_SetSRID(ST_MakePoint(:x, :y), 4326))
                       ON CONFLICT (layer_id, code) DO UPDATE SET capacity = EXCLUDED.capacity RETURNING id"""
                ),
                {
                    "l": layer,
                    "c": f"{tag}-{name}",
                    "n": f"{tag} {name} 避難所",
                    "cap": cap,
                    "f": flood,
                    "s": slide,
                    "x": base[0] + i * 0.001,
                    "y": base[1],
                },
            ).scalar_one()
    return ids


def make_world(client: TestClient, app_engine, tag: str, base: tuple[float, float]) -> World:
    s = seed(app_engine, tag)
    hq, staff, welfare = s.bearer(client, "hq"), s.bearer(client, "staff"), s.bearer(client, "welfare")
    ids = make_shelters(app_engine, tag, base, s.dept_id)
    r = client.post("/api/disasters", json={"name": f"{tag} 豪雨"}, headers=hq)
    assert r.status_code == 201, r.text
    return World(s, r.json()["id"], ids, hq, staff, welfare)


def household_body(name: str = "受付 太郎", members: int = 3, care: int = 1, pets: int = 1, **extra) -> dict:
    people = [{"name": f"{name} {i}", "birth_year": 1950 + i, "needs_care": i < care} for i in range(members)]
    return {
        "representative_name": name,
        "phone": "0463-00-0000",
        "address": "伊勢原市テスト1-1",
        "members": people,
        "pets": pets,
        **extra,
    }


def register(c: TestClient, **kw) -> str:
    r = c.post("/api/register", json=household_body(**kw))
    assert r.status_code == 201, r.text
    return r.json()["token"]


def scan(
    c, world: World, shelter: str, *, token=None, persons=None, kind="entry", event_id=None, headers=None
):
    body = {"client_event_id": str(event_id or uuid.uuid4()), "kind": kind, "kiosk_id": "kiosk-1"}
    if token is not None:
        body["token"] = token
    if persons is not None:
        body["persons"] = persons
    path = f"/api/disasters/{world.disaster_id}/shelters/{world.shelters[shelter]}/checkins"
    return c.post(path, json=body, headers=world.staff if headers is None else headers)


def open_shelter(c, world: World, shelter: str) -> dict:
    r = c.post(
        f"/api/disasters/{world.disaster_id}/shelters/{world.shelters[shelter]}/open",
        json={"responsible_staff": "避難所班 山田"},
        headers=world.hq,
    )
    assert r.status_code == 200, r.text
    return r.json()


def ensure_open(c, world: World, *shelters: str) -> None:
    """Open the shelters a test uses unless an earlier test of the module did: each test stands alone
    (under xdist the module's world can be made again between two of its tests)."""
    for shelter in shelters:
        r = c.post(
            f"/api/disasters/{world.disaster_id}/shelters/{world.shelters[shelter]}/open",
            json={"responsible_staff": "避難所班 山田"},
            headers=world.hq,
        )
        assert r.status_code in (200, 409), r.text


def occupancy(app_engine, world: World, shelter: str) -> tuple[int, int]:
    """(stored occupancy, entries − exits summed from the events)."""
    with app_engine.connect() as conn:
        row = conn.execute(
            text(
                """SELECT o.occupancy, coalesce(sum(CASE e.kind WHEN 'entry' THEN e.persons ELSE -e.persons END), 0)
                     FROM ops.shelter_opening o LEFT JOIN ops.checkin_event e ON e.opening_id = o.id
                    WHERE o.disaster_id = :d AND o.shelter_id = :s GROUP BY o.occupancy"""
            ),
            {"d": world.disaster_id, "s": world.shelters[shelter]},
        ).one()
    return int(row[0]), int(row[1])


def stored(app_engine) -> tuple[int, int, int, int]:
    return (
        count(app_engine, "SELECT count(*) FROM ops.checkin_event"),
        count(app_engine, "SELECT count(*) FROM restricted.household"),
        count(app_engine, "SELECT count(*) FROM ops.checkin_presence"),
        count(app_engine, "SELECT coalesce(sum(occupancy), 0) FROM ops.shelter_opening"),
    )


@pytest.fixture(scope="module")
def apps(settings):
    with (
        TestClient(create_app(settings)) as internal,
        TestClient(create_app(settings, public=True)) as public,
    ):
        yield internal, public


@pytest.fixture(scope="module")
def world(apps, app_engine) -> World:
    return make_world(apps[0], app_engine, f"ck{secrets.token_hex(3)}", (139.2700, 35.4200))


# --------------------------------------------------------------------------------- shelters
def test_shelters_by_hazard_use_the_flags(apps, world):
    c = apps[0]
    flood = {s["id"] for s in c.get("/api/shelters?hazard=flood", headers=world.staff).json()}
    slide = {s["id"] for s in c.get("/api/shelters?hazard=landslide", headers=world.staff).json()}
    assert world.shelters["flood"] in flood and world.shelters["flood"] not in slide
    assert world.shelters["landslide"] in slide and world.shelters["landslide"] not in flood
    assert world.shelters["small"] in flood & slide
    bad = c.get("/api/shelters?hazard=meteor", headers=world.staff)
    assert bad.status_code == 422 and bad.json()["error"]["message_ja"]
    assert c.get("/api/shelters").status_code == 401


def test_open_and_close_per_disaster_need_hq_and_are_audited(apps, world, app_engine):
    c = apps[0]
    sid = world.shelters["spare"]
    path = f"/api/disasters/{world.disaster_id}/shelters/{sid}"
    assert c.post(path + "/open", json={"responsible_staff": "x"}).status_code == 401
    assert apps[1].post(path + "/open", json={"responsible_staff": "x"}).status_code == 404
    opened = open_shelter(c, world, "spare")
    assert opened["responsible_staff"] == "避難所班 山田" and opened["closed_at"] is None
    again = c.post(path + "/open", json={"responsible_staff": "x"}, headers=world.hq)
    assert again.status_code == 409
    closed = c.post(path + "/close", headers=world.hq)
    assert closed.status_code == 200 and closed.json()["closed_at"] is not None
    assert c.post(path + "/close", headers=world.hq).status_code == 409
    actions = count(
        app_engine,
        "SELECT count(*) FROM audit.log WHERE target = :t AND action IN ('shelter.open', 'shelter.close')",
        t=str(sid),
    )
    assert actions == 2
    unknown = c.post(
        f"/api/disasters/{world.disaster_id}/shelters/999999999/open",
        json={"responsible_staff": "x"},
        headers=world.hq,
    )
    assert unknown.status_code == 404 and "避難所" in unknown.json()["error"]["message_ja"]


# ----------------------------------------------------------------------------- registration
@pytest.mark.parametrize("instance", [0, 1])
def test_resident_registers_and_sees_only_their_own(apps, instance):
    c = apps[instance]
    token = register(c, name=f"本人 {instance}")
    assert households.TOKEN_RE.match(token)
    own = c.get(f"/api/register/{token}").json()
    assert own["representative_name"] == f"本人 {instance}" and len(own["members"]) == 3
    other = register(c, name="他人 花子")
    assert "他人" not in c.get(f"/api/register/{token}").text
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert c.get(f"/api/register/{forged}").status_code == 404
    changed = c.put(f"/api/register/{token}", json=household_body(name="本人 変更", members=2))
    assert changed.status_code == 200 and len(changed.json()["members"]) == 2
    assert c.get(f"/api/register/{other}").json()["representative_name"] == "他人 花子"
    svg = c.get(f"/api/register/{token}/qr.svg")
    png = c.get(f"/api/register/{token}/qr.png")
    assert svg.status_code == 200 and svg.text.lstrip().startswith("<svg") and "本人" not in svg.text
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert c.get(f"/api/register/{forged}/qr.svg").status_code == 404


def test_bad_registration_is_refused_and_nothing_stored(apps, app_engine):
    before = stored(app_engine)
    for body, field in (
        (household_body(members=0), "members"),
        (household_body(members=21), "members"),
        (household_body(pets=-1), "pets"),
        ({**household_body(), "representative_name": ""}, "representative_name"),
        ({**household_body(), "representative_name": "　"}, "representative_name"),
        ({**household_body(), "phone": "<script>"}, "phone"),
        ({**household_body(), "members": [{"name": "x", "birth_year": 3000}]}, "members.0.birth_year"),
        ({**household_body(), "members": [{"name": "x", "birth_year": "昭和70"}]}, "members.0.birth_year"),
        ({**household_body(), "members": [{"name": "x"}, {"name": " "}]}, "members.1.name"),
    ):
        r = apps[1].post("/api/register", json=body)
        assert r.status_code == 422, body
        error = r.json()["error"]
        assert error["message_ja"] and error["message_en"]
        assert error["field"] == field, (body, error)  # every refusal names its field
        assert field in [f["field"] for f in error["fields"]]
    # Several problems: each named.
    r = apps[1].post("/api/register", json={**household_body(), "representative_name": "", "phone": "abc"})
    assert [f["field"] for f in r.json()["error"]["fields"]] == ["representative_name", "phone"]
    assert stored(app_engine) == before


def test_a_repeated_registration_request_is_stored_once(apps, app_engine):
    """The form's request_id sent twice (a second press, a retry after a lost answer): one household,
    the same token both times; another request_id is another household."""
    request_id = str(uuid.uuid4())
    body = {**household_body(name="二重 防止"), "request_id": request_id}
    before = stored(app_engine)[1]
    first = apps[1].post("/api/register", json=body)
    again = apps[1].post("/api/register", json=body)
    assert first.status_code == again.status_code == 201, again.text
    assert first.json()["token"] == again.json()["token"]
    assert stored(app_engine)[1] == before + 1
    other = apps[1].post("/api/register", json={**body, "request_id": str(uuid.uuid4())})
    assert other.json()["token"] != first.json()["token"] and stored(app_engine)[1] == before + 2


def test_phone_and_birth_year_are_normalised(apps):
    """A full-width phone number with any dash a Japanese keyboard types, and 和暦 birth years."""
    body = {
        **household_body(members=1),
        "phone": "０９０－１２３４ー５６７８",
        "members": [
            {"name": "和暦 一", "birth_year": "昭和６０年"},
        ],
    }
    r = apps[1].post("/api/register", json=body)
    assert r.status_code == 201, r.text
    own = apps[1].get(f"/api/register/{r.json()['token']}").json()
    assert own["phone"] == "090-1234-5678"
    assert own["members"][0]["birth_year"] == 1985
    for raw, year in (("平成元年", 1989), ("S60", 1985), ("令和2", 2020), ("１９７０", 1970), (1950, 1950)):
        assert households.parse_birth_year(raw) == year


def test_personal_data_is_reachable_by_role_or_token_only(apps, world, settings, app_engine, public_engine):
    token = register(apps[1], name="行 個人")
    with public_engine.connect() as conn:  # the public role: no grant at all
        for table in ("restricted.household", "ops.checkin_event", "ops.shelter_opening"):
            with pytest.raises(ProgrammingError):
                conn.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))  # noqa: S608 - test constant
            conn.rollback()
        assert (
            conn.execute(
                text("SELECT count(*) FROM pub.household_by_token(:t)"), {"t": households.new_token()}
            ).scalar_one()
            == 0
        )
    with app_engine.begin() as conn:  # the internal role as plain staff: row-level security hides all
        conn.execute(text("SELECT set_config('gisapp.roles', 'staff,hq_operator', true)"))
        assert conn.execute(text("SELECT count(*) FROM restricted.household")).scalar_one() == 0
        conn.execute(text("SELECT set_config('gisapp.household_token', :t, true)"), {"t": token})
        assert conn.execute(text("SELECT count(*) FROM restricted.household")).scalar_one() == 1
    hid = count(
        app_engine,
        "SELECT id FROM restricted.household WHERE token_hash = :h",
        h=households.token_hash(token),
    )
    assert apps[0].get(f"/api/households/{hid}", headers=world.staff).status_code == 404
    audited = "SELECT count(*) FROM audit.log WHERE action = 'household.read' AND target = :t"
    before = count(app_engine, audited, t=str(hid))
    r = apps[0].get(f"/api/households/{hid}", headers=world.welfare)
    assert r.status_code == 200 and r.json()["representative_name"] == "行 個人"
    assert count(app_engine, audited, t=str(hid)) == before + 1


# ---------------------------------------------------------------------------------- check-in
def test_checkin_entry_repeat_exit_walk_in_and_replay(apps, world, app_engine, settings):
    c = apps[0]
    open_shelter(c, world, "flood")
    token = register(apps[1], name="入所 一家", members=4, care=1, pets=1)
    with listen_events(settings) as events:
        first = scan(c, world, "flood", token=token)
        assert first.status_code == 200, first.text
        body = first.json()
        assert (body["result"], body["persons"], body["needs_care"], body["pets"]) == ("entered", 4, 1, 1)
        assert "入所 一家" not in first.text and "0463" not in first.text  # counts only
        event = events.wait_for(
            lambda e: (
                e.get("type") == "shelter_occupancy"
                and e["shelter_id"] == world.shelters["flood"]
                and e["occupancy"] == 4
            )
        )
        assert (
            event["disaster_id"] == world.disaster_id
            and event["capacity"] == 100
            and event["level"] == "vacant"
        )
    again = scan(c, world, "flood", token=token)
    assert again.status_code == 200 and again.json()["notice"] == "already_inside"
    assert occupancy(app_engine, world, "flood") == (4, 4)
    # A URL with the token scanned from the resident's page is the same household.
    assert (
        scan(c, world, "flood", token=f"https://example.invalid/register/{token}").json()["notice"]
        == "already_inside"
    )
    # The same client event id twice (an offline replay) counts once.
    eid = uuid.uuid4()
    walk = scan(c, world, "flood", persons=3, event_id=eid)
    replay = scan(c, world, "flood", persons=3, event_id=eid)
    assert (
        walk.json()["occupancy"] == 7
        and replay.json()["occupancy"] == 7
        and replay.json()["notice"] == "replayed"
    )
    assert occupancy(app_engine, world, "flood") == (7, 7)
    out = scan(c, world, "flood", token=token, kind="exit")
    assert out.json()["result"] == "exited" and out.json()["occupancy"] == 3
    refused = scan(c, world, "flood", token=token, kind="exit")
    assert refused.status_code == 409 and refused.json()["error"]["reason"] == "not_inside"
    too_many = scan(c, world, "flood", persons=4, kind="exit")
    assert too_many.status_code == 409
    assert scan(c, world, "flood", persons=3, kind="exit").json()["occupancy"] == 0
    assert occupancy(app_engine, world, "flood") == (0, 0)
    # Back in again after leaving.
    assert scan(c, world, "flood", token=token).json()["occupancy"] == 4


def test_bad_scans_are_refused_and_nothing_stored(apps, world, app_engine):
    c = apps[0]
    open_shelter(c, world, "small")
    token = register(apps[1], name="不正 検査")
    before = stored(app_engine)
    cases = [
        (dict(token=households.new_token()), 404),  # unknown (well-formed) token
        (dict(token=token[:-1] + ("x" if token[-1] != "x" else "y")), 404),  # forged
        (dict(token="DROP TABLE; ../../etc"), 422),  # malformed
        (dict(token="x" * 501), 422),
        (dict(persons=0), 422),
        (dict(persons=501), 422),
        (dict(token=token, persons=21), 422),  # some members of a household: 1 to 20
        (dict(token=token, persons=4), 409),  # more members than the 3 registered
        (dict(), 422),  # neither token nor persons
    ]
    for kwargs, expected in cases:
        r = scan(c, world, "small", **kwargs)
        assert r.status_code == expected, (kwargs, r.text)
        assert r.json()["error"]["message_ja"] and r.json()["error"]["message_en"]
    closed = scan(c, world, "landslide", token=token)  # never opened
    assert closed.status_code == 409 and closed.json()["error"]["reason"] == "shelter_closed"
    assert scan(c, world, "small", token=token, headers={}).status_code == 401
    bad_id = c.post(
        f"/api/disasters/{world.disaster_id}/shelters/{world.shelters['small']}/checkins",
        json={"client_event_id": "not-a-uuid", "kiosk_id": "k", "persons": 1},
        headers=world.staff,
    )
    assert bad_id.status_code == 422
    assert stored(app_engine) == before


def test_a_household_is_inside_one_shelter_at_a_time(apps, world):
    c = apps[0]
    ensure_open(c, world, "small")
    open_shelter(c, world, "landslide")
    token = register(apps[1], name="移動 世帯", members=2)
    assert scan(c, world, "landslide", token=token).json()["result"] == "entered"
    other = scan(c, world, "small", token=token)
    assert other.status_code == 409 and other.json()["error"]["reason"] == "inside_other_shelter"
    scan(c, world, "landslide", token=token, kind="exit")
    assert scan(c, world, "small", token=token).json()["result"] == "entered"


# --------------------------------------------------------------------------------- congestion
def test_congestion_thresholds_as_configured(apps, world, app_engine):
    c = apps[0]
    ensure_open(c, world, "small")
    default = c.get("/api/shelter-settings", headers=world.staff).json()
    try:
        before = count(
            app_engine, "SELECT count(*) FROM audit.log WHERE action = 'congestion_setting.update'"
        )
        for bad in (
            {"vacant_below": 80, "moderate_below": 50, "crowded_below": 100},
            {"vacant_below": 0, "moderate_below": 50, "crowded_below": 100},
            {"vacant_below": 50, "moderate_below": 80, "crowded_below": 201},
        ):
            r = c.put("/api/shelter-settings", json=bad, headers=world.hq)
            assert r.status_code == 422, bad
            assert r.json()["error"]["message_ja"]
        assert c.get("/api/shelter-settings", headers=world.staff).json() == default
        assert (
            c.put(
                "/api/shelter-settings",
                json={"vacant_below": 10, "moderate_below": 20, "crowded_below": 30},
                headers=world.staff | {"Authorization": "Bearer nope"},
            ).status_code
            == 401
        )
        # "small" (capacity 10): walk-ins step through the levels at 10 / 20 / 30 %.
        levels = []
        c.put(
            "/api/shelter-settings",
            json={"vacant_below": 15, "moderate_below": 25, "crowded_below": 35, "stale_minutes": 5},
            headers=world.hq,
        ).raise_for_status()
        status = c.get(f"/api/disasters/{world.disaster_id}/shelters", headers=world.staff).json()
        start = next(s for s in status["shelters"] if s["id"] == world.shelters["small"])["occupancy"]
        for _ in range(4 - start):
            levels.append(scan(c, world, "small", persons=1).json()["level"])
        assert levels[-1] == "full"  # 4 of 10 = 40 % ≥ 35 %
        expected = {1: "vacant", 2: "moderate", 3: "crowded", 4: "full"}
        assert levels == [expected[n] for n in range(start + 1, 5)]
        assert (
            count(app_engine, "SELECT count(*) FROM audit.log WHERE action = 'congestion_setting.update'")
            == before + 1
        )
    finally:
        c.put(
            "/api/shelter-settings",
            json={
                k: default[k] for k in ("vacant_below", "moderate_below", "crowded_below", "stale_minutes")
            },
            headers=world.hq,
        )


def test_hq_totals_and_public_status_show_numbers_only(apps, world, app_engine):
    c = apps[0]
    ensure_open(c, world, "flood", "small", "landslide")
    open_shelter(c, world, "internal")
    token = register(apps[1], name="公開 確認")
    scan(c, world, "internal", token=token)
    status = c.get(f"/api/disasters/{world.disaster_id}/shelters", headers=world.staff).json()
    open_items = [s for s in status["shelters"] if s["closed_at"] is None]
    assert status["totals"]["occupancy"] == sum(s["occupancy"] for s in open_items)
    assert status["totals"]["open_shelters"] == len(open_items) >= 3
    assert all(s["stale"] is False for s in open_items)
    for instance in apps:
        body = instance.get("/api/public/shelters/status")
        assert body.status_code == 200
        mine = {s["shelter_id"]: s for s in body.json()["shelters"] if s["disaster_id"] == world.disaster_id}
        assert world.shelters["flood"] in mine and world.shelters["internal"] not in mine  # internal layer
        assert world.shelters["spare"] not in mine  # closed
        flood = mine[world.shelters["flood"]]
        assert flood["occupancy"] == occupancy(app_engine, world, "flood")[0] and flood["level_ja"]
        assert "公開 確認" not in body.text and "household" not in body.text


# ------------------------------------------------------------------------- 100 concurrent kiosks
def test_100_concurrent_kiosks_count_exactly(settings, app_engine, world, apps):
    from tests.test_pages_browser import Server

    c = apps[0]
    r = c.post(
        f"/api/disasters/{world.disaster_id}/shelters/{world.shelters['spare']}/open",
        json={"responsible_staff": "並行 試験"},
        headers=world.hq,
    )
    assert r.status_code in (200, 409)
    start = occupancy(app_engine, world, "spare")[0]
    with app_engine.begin() as conn:  # 100 households of 1–4 persons, stored directly (fast)
        tokens = []
        for i in range(100):
            t = households.register(
                conn,
                households.HouseholdIn.model_validate(household_body(name=f"並行 {i}", members=1 + i % 4)),
            )
            tokens.append(t)
    members = [1 + i % 4 for i in range(100)]
    app = create_app(settings)
    path = f"/api/disasters/{world.disaster_id}/shelters/{world.shelters['spare']}/checkins"
    barrier = threading.Barrier(100)
    results: list[list] = [[] for _ in range(100)]

    def kiosk(i: int, base: str) -> None:
        with httpx.Client(base_url=base, headers=world.staff, timeout=60) as h:

            def post(body: dict) -> httpx.Response:
                # As the kiosk's outbox: a scan that admission control shed (503, or 429) is kept
                # and sent again after Retry-After. 100 kiosks at once on a slow machine meet it.
                for _ in range(40):
                    r = h.post(path, json=body)
                    if r.status_code not in (503, 429):
                        return r
                    time.sleep(float(r.headers.get("Retry-After", "1")))
                return r

            eid = str(uuid.uuid4())
            body = {"client_event_id": eid, "kiosk_id": f"kiosk-{i}", "token": tokens[i]}
            barrier.wait()
            results[i].append(post(body))
            results[i].append(post(body))  # the same event again (offline replay)
            results[i].append(post({**body, "client_event_id": str(uuid.uuid4())}))  # scanned twice
            if i % 3 == 0:
                results[i].append(post({**body, "client_event_id": str(uuid.uuid4()), "kind": "exit"}))

    with Server(app) as server:
        threads = [threading.Thread(target=kiosk, args=(i, server.url)) for i in range(100)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert all(len(r) >= 3 for r in results)
    for first, replay, twice, *rest in results:
        assert first.status_code == replay.status_code == twice.status_code == 200, (replay.text, twice.text)
        assert replay.json()["notice"] == "replayed" and twice.json()["notice"] == "already_inside"
        if rest:
            assert rest[0].json()["result"] == "exited", rest[0].text
    expected = start + sum(members) - sum(m for i, m in enumerate(members) if i % 3 == 0)
    assert occupancy(app_engine, world, "spare") == (expected, expected)


def test_same_household_at_two_shelters_at_once_enters_once(apps, world, app_engine):
    from gisapp.db import transaction
    from gisapp.ops import checkin
    from gisapp.ops.errors import OpsConflict

    c = apps[0]
    for name in ("flood", "landslide"):
        r = c.post(
            f"/api/disasters/{world.disaster_id}/shelters/{world.shelters[name]}/open",
            json={"responsible_staff": "並行"},
            headers=world.hq,
        )
        assert r.status_code in (200, 409)
    token = register(apps[1], name="二重 入所", members=2)
    before = {n: occupancy(app_engine, world, n)[0] for n in ("flood", "landslide")}
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def enter(shelter: str) -> None:
        s = checkin.Scan(client_event_id=uuid.uuid4(), kind="entry", kiosk_id="race", token=token)
        barrier.wait()
        try:
            with transaction(app_engine, ["staff"]) as conn:
                outcomes.append(
                    checkin.check_in(conn, world.disaster_id, world.shelters[shelter], s, "t")["result"]
                )
        except OpsConflict as e:
            outcomes.append(e.details["reason"])

    threads = [threading.Thread(target=enter, args=(n,)) for n in ("flood", "landslide")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["entered", "inside_other_shelter"]
    after = {n: occupancy(app_engine, world, n) for n in ("flood", "landslide")}
    assert sum(a[0] for a in after.values()) == sum(before.values()) + 2
    assert all(a[0] == a[1] for a in after.values())


def test_no_checkin_once_the_disaster_is_closed(apps, world, app_engine):
    c = apps[0]
    r = c.post("/api/disasters", json={"name": "閉鎖 確認"}, headers=world.hq)
    closing = World(world.seed, r.json()["id"], world.shelters, world.hq, world.staff, world.welfare)
    open_shelter(c, closing, "small")
    token = register(apps[1], name="閉鎖 後")
    # Its open (empty) shelter closes with it, as the request chooses (issue 14, Wrong 3).
    closed = c.post(
        f"/api/disasters/{closing.disaster_id}/close", json={"shelters": "close_empty"}, headers=world.hq
    )
    assert closed.status_code == 200, closed.text
    before = stored(app_engine)
    refused = scan(c, closing, "small", token=token)
    assert refused.status_code == 409 and refused.json()["error"]["reason"] == "shelter_closed"
    assert stored(app_engine) == before
    public = apps[1].get("/api/public/shelters/status").json()["shelters"]
    assert all(s["disaster_id"] != closing.disaster_id for s in public)
