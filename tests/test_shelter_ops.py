"""Shelter operations and disaster closing (issue 14, Deliver 4, Wrong 2 and Wrong 3), over the real API
and PostGIS: an occupied shelter is not closed without saying where its people go; moves and merges keep
the HQ totals exact (sum before = sum after); a disaster with open incidents or shelters is not closed;
incidents move between disasters and disasters merge, audited and in the chronology; needs and
要配慮者数 with versions; partial-household check-in/out; the public instance sees counts only."""

from __future__ import annotations

import secrets
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from gisapp.app import create_app
from gisapp.ops.disaster_merge import HANDLED
from tests.support import count
from tests.test_checkin import World, make_world, occupancy, open_shelter, register, scan


@pytest.fixture(scope="module")
def apps(settings):
    with (
        TestClient(create_app(settings)) as internal,
        TestClient(create_app(settings, public=True)) as public,
    ):
        yield internal, public


@pytest.fixture(scope="module")
def base(apps, app_engine) -> World:
    return make_world(apps[0], app_engine, f"so{secrets.token_hex(3)}", (139.2900, 35.4300))


def new_disaster(c, base: World, name: str) -> World:
    r = c.post("/api/disasters", json={"name": f"{name} {secrets.token_hex(2)}"}, headers=base.hq)
    assert r.status_code == 201, r.text
    return World(base.seed, r.json()["id"], base.shelters, base.hq, base.staff, base.welfare)


def totals(c, world: World) -> dict:
    r = c.get(f"/api/disasters/{world.disaster_id}/shelters", headers=world.staff)
    assert r.status_code == 200, r.text
    return r.json()["totals"]


def fill(c, public, world: World, shelter: str, walk_ins: int, members: int = 3) -> str:
    """``walk_ins`` unregistered people and one registered household of ``members`` enter."""
    token = register(public, name=f"世帯 {secrets.token_hex(2)}", members=members)
    assert scan(c, world, shelter, token=token).status_code == 200
    assert scan(c, world, shelter, persons=walk_ins).status_code == 200
    return token


def close_url(world: World, shelter: str) -> str:
    return f"/api/disasters/{world.disaster_id}/shelters/{world.shelters[shelter]}/close"


def incident(c, world: World, lon: float, lat: float, title: str = "倒木") -> dict:
    body = {"category": "fallen_tree", "title": title, "lon": lon, "lat": lat}
    r = c.post(f"/api/disasters/{world.disaster_id}/incidents", json=body, headers=world.hq)
    assert r.status_code == 201, r.text
    return r.json()


def log_rows(app_engine, kind: str, disaster_id: int) -> list:
    with app_engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT summary_ja, summary_en, shelter_id, incident_id FROM ops.hq_log WHERE kind = :k AND disaster_id = :d"
            ),
            {"k": kind, "d": disaster_id},
        ).all()


# --------------------------------------------------------------------------------- Wrong 2
def test_wrong2_closing_a_shelter_with_12_inside_is_refused(apps, base, app_engine):
    c, public = apps
    world = new_disaster(c, base, "避難所閉鎖")
    open_shelter(c, world, "flood")
    fill(c, public, world, "flood", walk_ins=9)
    before = totals(c, world)
    assert before["occupancy"] == 12
    r = c.post(close_url(world, "flood"), headers=world.hq)
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["reason"] == "occupied" and error["occupancy"] == 12 and error["households"] == 1
    assert "12名" in error["message_ja"] and "12 people" in error["message_en"]
    assert totals(c, world) == before  # nothing changed: still open, still counted
    # A move needs an open target; a check-out needs a reason.
    bad = c.post(
        close_url(world, "flood"),
        json={"people": "move", "move_to": world.shelters["spare"]},
        headers=world.hq,
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "move_to"
    bad = c.post(close_url(world, "flood"), json={"people": "checkout", "reason": " "}, headers=world.hq)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "reason"
    assert totals(c, world) == before


def test_closing_moves_people_and_keeps_the_totals_exact(apps, base, app_engine):
    c, public = apps
    world = new_disaster(c, base, "移動")
    open_shelter(c, world, "flood")
    open_shelter(c, world, "spare")
    token = fill(c, public, world, "flood", walk_ins=9)
    fill(c, public, world, "spare", walk_ins=2, members=1)
    before = totals(c, world)
    r = c.post(
        close_url(world, "flood"),
        json={"people": "move", "move_to": world.shelters["spare"], "reason": "浸水のため"},
        headers=world.hq,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["closed_at"] is not None and body["occupancy"] == 0
    assert body["people"] == {
        "choice": "move", "to_shelter_id": world.shelters["spare"], "to_name": body["people"]["to_name"],
        "persons": 12, "households": 1,
    }  # fmt: skip
    after = totals(c, world)
    assert (
        after["occupancy"] == before["occupancy"] == 15 and after["households"] == before["households"] == 2
    )
    assert occupancy(app_engine, world, "spare") == (15, 15)  # the count is the events' sum
    assert occupancy(app_engine, world, "flood") == (0, 0)
    moved = count(
        app_engine,
        "SELECT count(*) FROM ops.checkin_event WHERE disaster_id = :d AND cause = 'moved' AND note = '浸水のため'",
        d=world.disaster_id,
    )
    assert moved == 4  # exit + entry for the household and for the walk-ins
    # The household is inside the new shelter now: it leaves from there.
    out = scan(c, world, "spare", token=token, kind="exit")
    assert out.status_code == 200 and out.json()["persons"] == 3
    logged = log_rows(app_engine, "checkin", world.disaster_id)
    assert any("12名" in r.summary_ja and r.shelter_id == world.shelters["flood"] for r in logged)


def test_closing_checks_people_out_with_a_reason(apps, base, app_engine):
    c, public = apps
    world = new_disaster(c, base, "退所")
    open_shelter(c, world, "small")
    fill(c, public, world, "small", walk_ins=4, members=2)
    r = c.post(close_url(world, "small"), json={"people": "checkout", "reason": "帰宅"}, headers=world.hq)
    assert r.status_code == 200, r.text
    assert r.json()["people"]["persons"] == 6
    exits = count(
        app_engine,
        "SELECT coalesce(sum(persons), 0) FROM ops.checkin_event WHERE disaster_id = :d AND kind = 'exit'"
        " AND cause = 'closed' AND note = '帰宅'",
        d=world.disaster_id,
    )
    assert exits == 6
    assert (
        count(
            app_engine,
            "SELECT count(*) FROM ops.checkin_presence WHERE disaster_id = :d",
            d=world.disaster_id,
        )
        == 0
    )
    assert totals(c, world)["occupancy"] == 0


def test_closing_warns_of_open_incidents_near(apps, base, app_engine):
    c, _ = apps
    world = new_disaster(c, base, "近くの事案")
    open_shelter(c, world, "landslide")
    with app_engine.connect() as conn:
        lon, lat = conn.execute(
            text("SELECT ST_X(geom), ST_Y(geom) FROM gis.shelter WHERE id = :s"),
            {"s": world.shelters["landslide"]},
        ).one()
    near = incident(c, world, lon + 0.001, lat, "避難所前の倒木")  # about 90 m
    incident(c, world, lon + 0.05, lat, "遠くの倒木")  # about 4.5 km
    check = c.get(close_url(world, "landslide").replace("/close", "/close-check"), headers=world.staff)
    assert check.status_code == 200, check.text
    assert [i["id"] for i in check.json()["incidents_near"]] == [near["id"]]
    r = c.post(close_url(world, "landslide"), headers=world.hq)
    assert r.status_code == 200 and [i["id"] for i in r.json()["warnings"]["incidents_near"]] == [near["id"]]


# --------------------------------------------------------------------------------- Wrong 3
def test_wrong3_closing_a_disaster_with_open_incidents_is_refused(apps, base, app_engine):
    c, _ = apps
    world = new_disaster(c, base, "終了")
    open_inc = incident(c, world, 139.30, 35.43, "未対応の土砂")
    url = f"/api/disasters/{world.disaster_id}/close"
    r = c.post(url, headers=world.hq)
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["reason"] == "disaster_not_clear"
    assert [i["id"] for i in error["open_incidents"]] == [open_inc["id"]]
    assert error["open_incidents"][0]["status_ja"] == "未対応"
    assert (
        count(
            app_engine,
            "SELECT count(*) FROM ops.disaster WHERE id = :d AND closed_at IS NULL",
            d=world.disaster_id,
        )
        == 1
    )
    patch = c.patch(
        f"/api/incidents/{open_inc['id']}", json={"status": "done"}, headers={**world.hq, "If-Match": '"1"'}
    )
    assert patch.status_code == 200
    assert c.post(url, headers=world.hq).status_code == 200


def test_closing_a_disaster_with_open_shelters_needs_a_choice(apps, base, app_engine):
    c, public = apps
    world = new_disaster(c, base, "避難所あり")
    other = new_disaster(c, base, "移動先")
    open_shelter(c, world, "flood")
    open_shelter(c, world, "small")
    fill(c, public, world, "flood", walk_ins=2)
    moved = incident(c, world, 139.30, 35.43, "対応中の件")
    url = f"/api/disasters/{world.disaster_id}/close"
    r = c.post(url, headers=world.hq)
    assert r.status_code == 409
    error = r.json()["error"]
    assert len(error["open_shelters"]) == 2 and sum(s["occupancy"] for s in error["open_shelters"]) == 5
    # Closing the empty ones only still leaves the occupied one in the way (and moves nothing).
    r = c.post(url, json={"shelters": "close_empty", "incidents_to": other.disaster_id}, headers=world.hq)
    assert r.status_code == 409 and [s["occupancy"] for s in r.json()["error"]["open_shelters"]] == [5]
    assert (
        count(app_engine, "SELECT disaster_id FROM ops.incident WHERE id = :i", i=moved["id"])
        == world.disaster_id
    )
    r = c.post(
        url,
        json={"shelters": "checkout", "reason": "災害終了", "incidents_to": other.disaster_id},
        headers=world.hq,
    )
    assert r.status_code == 200, r.text
    assert (
        count(app_engine, "SELECT disaster_id FROM ops.incident WHERE id = :i", i=moved["id"])
        == other.disaster_id
    )
    assert count(
        app_engine, "SELECT count(*) FROM ops.shelter_opening WHERE disaster_id = :d AND closed_at IS NULL",
        d=world.disaster_id,
    ) == 0  # fmt: skip
    exits = (
        "SELECT coalesce(sum(persons), 0) FROM ops.checkin_event WHERE disaster_id = :d AND cause = 'closed'"
    )
    assert count(app_engine, exits, d=world.disaster_id) == 5


def test_an_incident_moves_between_disasters(apps, base, app_engine):
    c, _ = apps
    source = new_disaster(c, base, "移動元")
    target = new_disaster(c, base, "移動先")
    inc = incident(c, source, 139.31, 35.43, "移す事案")
    url = f"/api/incidents/{inc['id']}/move"
    assert c.post(url, json={"disaster_id": source.disaster_id}, headers=base.hq).status_code == 422
    assert (
        c.post(url, json={"disaster_id": target.disaster_id, "version": 9}, headers=base.hq).status_code
        == 409
    )
    assert c.post(url, json={"disaster_id": target.disaster_id}).status_code == 401
    r = c.post(url, json={"disaster_id": target.disaster_id, "note": "同じ災害"}, headers=base.hq)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == inc["version"] + 1
    moved = c.get(f"/api/incidents/{inc['id']}", headers=base.staff).json()
    assert moved["disaster_id"] == target.disaster_id
    kinds = count(
        app_engine,
        "SELECT count(*) FROM ops.incident_event WHERE incident_id = :i AND kind = 'moved'",
        i=inc["id"],
    )
    assert kinds == 1
    audited = "SELECT count(*) FROM audit.log WHERE action = 'incident.move' AND target = :t"
    assert count(app_engine, audited, t=str(inc["id"])) == 1
    assert any(r.incident_id == inc["id"] for r in log_rows(app_engine, "disaster", target.disaster_id))
    closed = new_disaster(c, base, "終了済み")
    assert c.post(f"/api/disasters/{closed.disaster_id}/close", headers=base.hq).status_code == 200
    r = c.post(url, json={"disaster_id": closed.disaster_id}, headers=base.hq)
    assert r.status_code == 409 and r.json()["error"]["reason"] == "target_closed"


def test_merge_moves_everything_and_keeps_totals(apps, base, app_engine):
    c, public = apps
    real = new_disaster(c, base, "本当の災害")
    auto = new_disaster(c, base, "無線で自動開設")
    open_shelter(c, real, "flood")
    fill(c, public, real, "flood", walk_ins=5)  # 8
    open_shelter(c, auto, "flood")  # the same shelter, opened twice
    token = fill(c, public, auto, "flood", walk_ins=1, members=2)  # 3
    open_shelter(c, auto, "landslide")  # only the merged one opened this
    fill(c, public, auto, "landslide", walk_ins=4)  # 7
    incs = [incident(c, auto, 139.31, 35.43, f"統合 {i}") for i in range(3)]
    need = c.post(
        f"/api/disasters/{auto.disaster_id}/shelters/{auto.shelters['landslide']}/needs",
        json={"item": "毛布", "quantity": 20, "unit": "枚"},
        headers=auto.staff,
    )
    assert need.status_code == 201
    before = totals(c, real)["occupancy"] + totals(c, auto)["occupancy"]
    assert before == 18
    url = f"/api/disasters/{auto.disaster_id}/merge"
    assert c.post(url, json={"into": auto.disaster_id}, headers=base.hq).status_code == 422
    r = c.post(url, json={"into": real.disaster_id}, headers=base.hq)
    assert r.status_code == 200, r.text
    moved = r.json()["moved"]
    assert moved["incidents"] == 3 and moved["shelter_openings"] == 1 and moved["people"] == 10
    assert moved["needs"] == 1
    after = totals(c, real)
    assert after["occupancy"] == before and after["open_shelters"] == 2
    assert totals(c, auto)["occupancy"] == 0
    for name in ("flood", "landslide"):
        stored, events = occupancy(app_engine, real, name)
        assert stored == events  # every count is still its events' sum
    assert {c.get(f"/api/incidents/{i['id']}", headers=base.staff).json()["disaster_id"] for i in incs} == {
        real.disaster_id
    }
    merged = next(
        d for d in c.get("/api/disasters", headers=base.staff).json() if d["id"] == auto.disaster_id
    )
    assert merged["closed_at"] is not None and merged["merged_into"] == real.disaster_id
    needs = c.get(f"/api/disasters/{real.disaster_id}/shelter-needs", headers=base.staff).json()["needs"]
    assert [n["item"] for n in needs] == ["毛布"]
    # The household moved with its shelter into the real disaster: it leaves from there.
    assert scan(c, real, "flood", token=token, kind="exit").status_code == 200
    assert (
        count(
            app_engine,
            "SELECT count(*) FROM audit.log WHERE action = 'disaster.merge' AND target = :t",
            t=str(auto.disaster_id),
        )
        == 1
    )
    assert log_rows(app_engine, "disaster", real.disaster_id)
    # Into a closed disaster, or again: refused.
    again = c.post(url, json={"into": real.disaster_id}, headers=base.hq)
    assert again.status_code == 409
    other = new_disaster(c, base, "もう一つ")
    into_closed = c.post(
        f"/api/disasters/{other.disaster_id}/merge", json={"into": auto.disaster_id}, headers=base.hq
    )
    assert into_closed.status_code == 409 and into_closed.json()["error"]["reason"] == "target_closed"


def test_merge_handles_every_table_that_names_a_disaster(owner_engine):
    """A table added later that refers to ops.disaster must be handled by the merge (or listed there)."""
    with owner_engine.connect() as conn:
        found = set(
            conn.execute(
                text(
                    """SELECT DISTINCT n.nspname || '.' || c.relname FROM pg_constraint k
                         JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE k.contype = 'f' AND k.confrelid = 'ops.disaster'::regclass"""
                )
            ).scalars()
        )
    assert found <= set(HANDLED), sorted(found - set(HANDLED))


# --------------------------------------------------------------------------------- needs
def test_needs_lifecycle_versions_and_chronology(apps, base, app_engine):
    c, _ = apps
    world = new_disaster(c, base, "物資")
    open_shelter(c, world, "small")
    path = f"/api/disasters/{world.disaster_id}/shelters/{world.shelters['small']}"
    bad = c.post(path + "/needs", json={"item": " ", "quantity": 1, "unit": ""}, headers=world.staff)
    assert bad.status_code == 422 and {f["field"] for f in bad.json()["error"]["fields"]} == {"item", "unit"}
    r = c.post(
        path + "/needs",
        json={"item": "飲料水", "quantity": 100, "unit": "本", "priority": 1},
        headers=world.staff,
    )
    assert r.status_code == 201, r.text
    need = r.json()
    assert (need["status"], need["version"], need["status_ja"], need["priority_ja"]) == (
        "requested",
        1,
        "要請中",
        "高",
    )
    url = f"/api/shelter-needs/{need['id']}"
    assert c.patch(url, json={"status": "arranged"}, headers=world.staff).status_code == 428
    arranged = c.patch(url, json={"status": "arranged"}, headers={**world.staff, "If-Match": '"1"'})
    assert arranged.status_code == 200 and arranged.json()["version"] == 2
    stale = c.patch(url, json={"status": "delivered"}, headers={**world.staff, "If-Match": '"1"'})
    assert stale.status_code == 409 and stale.json()["error"]["current"]["version"] == 2
    done = c.patch(url, json={"status": "delivered"}, headers={**world.staff, "If-Match": '"2"'})
    assert done.status_code == 200 and done.json()["status"] == "delivered"
    back = c.patch(url, json={"status": "requested"}, headers={**world.staff, "If-Match": '"3"'})
    assert back.status_code == 422 and back.json()["error"]["allowed"] == []
    events = c.get(url + "/events", headers=world.staff).json()
    assert [(e["version"], e["to_status"]) for e in events] == [
        (1, "requested"),
        (2, "arranged"),
        (3, "delivered"),
    ]
    assert (
        len([r for r in log_rows(app_engine, "checkin", world.disaster_id) if "飲料水" in r.summary_ja]) == 3
    )
    # 要配慮者数: versioned reports, the latest counts.
    care = c.put(
        path + "/care", json={"counts": {"elderly": 12, "infant": 3}, "version": 0}, headers=world.staff
    )
    assert care.status_code == 200 and care.json()["total"] == 15 and care.json()["version"] == 1
    stale = c.put(path + "/care", json={"counts": {"elderly": 1}, "version": 0}, headers=world.staff)
    assert stale.status_code == 409
    unknown = c.put(path + "/care", json={"counts": {"aliens": 1}, "version": 1}, headers=world.staff)
    assert unknown.status_code == 422
    c.put(path + "/care", json={"counts": {"elderly": 10, "pregnant": 1}, "version": 1}, headers=world.staff)
    read = c.get(f"/api/disasters/{world.disaster_id}/shelter-needs", headers=world.staff).json()
    assert read["care"][0]["counts"]["elderly"] == 10 and read["care"][0]["total"] == 11
    assert any("要配慮者数" in r.summary_ja for r in log_rows(app_engine, "checkin", world.disaster_id))


# --------------------------------------------------------------------------------- partial households
def test_partial_household_check_in_and_out(apps, base, app_engine):
    c, public = apps
    world = new_disaster(c, base, "部分入所")
    open_shelter(c, world, "spare")
    token = register(public, name="部分 世帯", members=4)
    first = scan(c, world, "spare", token=token, persons=2)
    assert first.status_code == 200 and (first.json()["persons"], first.json()["inside"]) == (2, 2)
    assert first.json()["registered"] == 4 and first.json()["occupancy"] == 2
    eid = uuid.uuid4()
    rest = scan(c, world, "spare", token=token, event_id=eid)  # the others, by default
    assert (rest.json()["persons"], rest.json()["inside"], rest.json()["occupancy"]) == (2, 4, 4)
    replay = scan(c, world, "spare", token=token, event_id=eid)  # idempotent by scan id
    assert replay.json()["notice"] == "replayed" and replay.json()["occupancy"] == 4
    assert scan(c, world, "spare", token=token).json()["result"] == "already_inside"
    one = scan(c, world, "spare", token=token, kind="exit", persons=1)
    assert (one.json()["inside"], one.json()["occupancy"]) == (3, 3)
    too_many = scan(c, world, "spare", token=token, kind="exit", persons=4)
    assert too_many.status_code == 409 and too_many.json()["error"]["reason"] == "too_many_persons"
    back = scan(c, world, "spare", token=token, persons=1)
    assert back.json()["inside"] == 4
    over = scan(c, world, "spare", token=token, persons=1)
    assert over.json()["result"] == "already_inside"
    out = scan(c, world, "spare", token=token, kind="exit")
    assert (out.json()["persons"], out.json()["inside"], out.json()["occupancy"]) == (4, 0, 0)
    assert occupancy(app_engine, world, "spare") == (0, 0)
    assert (
        count(
            app_engine,
            "SELECT count(*) FROM ops.checkin_presence WHERE disaster_id = :d",
            d=world.disaster_id,
        )
        == 0
    )


def test_the_public_side_sees_counts_only(apps, base, public_engine):
    c, public = apps
    world = new_disaster(c, base, "公開")
    open_shelter(c, world, "flood")
    token = register(public, name="公開 検査", members=3)
    scan(c, world, "flood", token=token, persons=2)
    c.post(
        f"/api/disasters/{world.disaster_id}/shelters/{world.shelters['flood']}/needs",
        json={"item": "紙おむつ canary-5521", "quantity": 3, "unit": "箱"},
        headers=world.staff,
    )
    shown = [
        s
        for s in public.get("/api/public/shelters/status").json()["shelters"]
        if s["disaster_id"] == world.disaster_id
    ]
    assert [s["occupancy"] for s in shown] == [2]
    assert (
        "households" not in shown[0] and "canary-5521" not in public.get("/api/public/shelters/status").text
    )
    assert public.get(f"/api/disasters/{world.disaster_id}/shelter-needs").status_code == 404
    for table in ("ops.shelter_need", "ops.shelter_care_count", "ops.checkin_presence", "ops.checkin_event"):
        with public_engine.connect() as conn, pytest.raises(Exception, match="permission denied"):
            conn.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))  # noqa: S608 - constant table names
