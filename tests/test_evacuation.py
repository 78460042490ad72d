"""Evacuation status (避難状況) per household: reported by the resident with their token (on the
citizen-facing instance too) or by staff, 避難所 while checked in at a shelter, totalled per community
area for HQ — numbers only, never a household."""

from __future__ import annotations

import secrets
from collections import defaultdict

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gisapp.ops import evacuation
from gisapp.ops.errors import OpsConflict
from tests.support import count, listen_events
from tests.test_checkin import make_world, open_shelter, register, scan


@pytest.fixture(scope="module")
def areas(app_engine):
    """Two community areas in the layer the feature reads (the demo's slug), far from other tests."""
    from tests.fixtures_data import _layer

    with app_engine.begin() as conn:
        conn.execute(text("SELECT set_config('gisapp.roles', 'admin', true)"))
        layer = conn.execute(text("SELECT id FROM gis.layer WHERE slug = 'community-areas'")).scalar()
        if layer is None:
            dept = conn.execute(text("SELECT id FROM core.department ORDER BY id LIMIT 1")).scalar_one()
            layer = _layer(conn, "community-areas", "public", "generic", "MultiPolygon", dept)
        for code, x in (("EV-NORTH", 140.70), ("EV-SOUTH", 140.72)):
            conn.execute(
                text(
                    """INSERT INTO gis.feature (layer_id, source_key, properties, geom)
                       VALUES (:l, :c, jsonb_build_object('code', CAST(:c AS text), 'name', CAST(:n AS text)),
                               ST_Multi(ST_MakeEnvelope(:x, 36.0, :x + 0.01, 36.01, 4326)))
                       ON CONFLICT (layer_id, source_key) DO NOTHING"""
                ),
                {"l": layer, "c": code, "n": f"試験{code}地区", "x": x},
            )
    return ("EV-NORTH", "EV-SOUTH")


@pytest.fixture(scope="module")
def world(client, app_engine):
    return make_world(client, app_engine, f"ev{secrets.token_hex(3)}", (139.2600, 35.4250))


def area_row(client, world, code: str) -> dict:
    """The area's counts; an area nobody has reported from yet is not listed: all zero."""
    doc = client.get(f"/api/disasters/{world.disaster_id}/evacuation/areas", headers=world.hq).json()
    found = [f["properties"] for f in doc["features"] if f["properties"]["area_code"] == code]
    return found[0] if found else defaultdict(int)


def test_residents_and_staff_report_and_hq_sees_numbers_per_area(
    client, public_client, world, areas, app_engine, settings
):
    north, south = areas
    a = register(public_client, name="避難 一郎", members=3)
    b = register(public_client, name="避難 二郎", members=2)
    c = register(public_client, name="避難 三郎", members=1)

    with listen_events(settings) as events:
        r = public_client.post(
            "/api/public/evacuation-status", json={"token": a, "status": "relatives", "area_code": north}
        )
        assert r.status_code == 200, r.text
        assert (r.json()["status_ja"], r.json()["disaster"]) == ("親族・知人宅", f"{world.seed.tag} 豪雨")
        event = events.wait_for(lambda e: e["type"] == "evacuation_status")
    assert set(event) == {"type", "disaster_id"} and event["disaster_id"] == world.disaster_id  # no household
    assert (
        public_client.post(
            "/api/public/evacuation-status", json={"token": b, "status": "car", "area_code": north}
        ).status_code
        == 200
    )
    staff = client.post("/api/evacuation-status", json={"token": c, "status": "home", "area_code": south,
                                                         "note": "電話で確認"}, headers=world.staff)  # fmt: skip
    assert staff.status_code == 200, staff.text

    row = area_row(client, world, north)
    assert (row["households"], row["persons"], row["relatives"], row["car"], row["home"]) == (2, 5, 1, 1, 0)
    assert row["area_name"] == f"試験{north}地区"
    assert area_row(client, world, south)["home"] == 1

    # Checked in at a shelter: 避難所, whatever the household said before.
    open_shelter(client, world, "spare")
    assert scan(client, world, "spare", token=a).status_code == 200
    row = area_row(client, world, north)
    assert (row["shelter"], row["relatives"], row["car"]) == (1, 0, 1)
    mine = public_client.get(f"/evacuation/{a}")
    assert mine.status_code == 200 and 'data-status="shelter"' in mine.text

    # HQ reads numbers only: no name, phone or token anywhere in the answer.
    doc = client.get(f"/api/disasters/{world.disaster_id}/evacuation/areas", headers=world.hq).text
    for secret in ("避難 一郎", "0463-00-0000", a, b, c):
        assert secret not in doc
    assert client.get(f"/api/disasters/{world.disaster_id}/evacuation/areas").status_code == 401
    assert public_client.get(f"/api/disasters/{world.disaster_id}/evacuation/areas").status_code == 404


def test_a_report_after_a_check_in_is_the_households_latest_word(client, public_client, world, areas):
    """Checked in at a shelter, then 車中泊 (the shelter's car park): counted and shown as 車中泊, as the
    resident was told; a check-in after that report counts as 避難所 again."""
    north, _ = areas
    token = register(public_client, name="車中 泊", members=2)
    opened = client.get(f"/api/disasters/{world.disaster_id}/shelters?open_only=true", headers=world.staff)
    if world.shelters["spare"] not in [s["id"] for s in opened.json()["shelters"]]:
        open_shelter(client, world, "spare")  # when this test runs alone
    assert scan(client, world, "spare", token=token).status_code == 200
    before = area_row(client, world, north)
    sent = public_client.post(f"/evacuation/{token}", data={"status": "car", "area": north})
    assert sent.status_code == 200 and "受け付けました：車中泊" in sent.text
    assert 'data-status="car"' in sent.text and "その後の連絡「車中泊」" in sent.text
    row = area_row(client, world, north)
    assert (row["car"], row["shelter"]) == (before["car"] + 1, before["shelter"])
    # Out and in again: the new check-in is the latest word.
    assert scan(client, world, "spare", token=token, kind="exit").status_code == 200
    assert scan(client, world, "spare", token=token).status_code == 200
    row = area_row(client, world, north)
    assert (row["car"], row["shelter"]) == (before["car"], before["shelter"] + 1)
    assert 'data-status="shelter"' in public_client.get(f"/evacuation/{token}").text


def test_the_resident_form_without_script(public_client, world, areas):
    token = register(public_client, name="フォーム 花子", members=2)
    page = public_client.get(f"/evacuation/{token}")
    assert page.status_code == 200 and 'name="status"' in page.text and areas[0] in page.text
    assert "フォーム 花子" not in page.text  # the page needs no personal data
    sent = public_client.post(f"/evacuation/{token}", data={"status": "home", "area": areas[1]})
    assert sent.status_code == 200 and "受け付けました：在宅" in sent.text
    assert 'data-status="home"' in sent.text
    english = public_client.post(f"/evacuation/{token}?lang=en", data={"status": "nowhere"})
    assert english.status_code == 422 and "Unknown status" in english.text
    # Nothing chosen: the message says what to do, names the group, and the page focuses it.
    empty = public_client.post(f"/evacuation/{token}", data={"area": areas[1]})
    assert empty.status_code == 422 and "いまどこにいるかを選んでください" in empty.text
    assert 'role="radiogroup" aria-invalid="true" aria-describedby="evac-error"' in empty.text
    assert 'href="#evac-status-first"' in empty.text and "autofocus" in empty.text
    easy = public_client.get(f"/evacuation/{token}?lang=easy")
    assert "いま どこに いますか" in easy.text and '<html lang="ja">' in easy.text
    assert public_client.get("/evacuation/" + "x" * 32).status_code == 404


def test_bad_reports_are_refused_and_nothing_is_stored(client, public_client, world, areas, app_engine):
    token = register(public_client, name="不正 入力", members=1)
    before = count(app_engine, "SELECT count(*) FROM restricted.household_status")
    for body, status in (
        ({"token": "A" * 32, "status": "home"}, 404),  # unknown (forged) token
        ({"token": "short", "status": "home"}, 404),
        ({"token": token, "status": "moon"}, 422),
        ({"token": token, "status": "home", "area_code": "NOWHERE"}, 422),
        ({"token": token, "status": "home", "extra": 1}, 422),
    ):
        r = public_client.post("/api/public/evacuation-status", json=body)
        assert r.status_code == status, (body, r.text)
        assert r.json()["error"]["message_ja"] and r.json()["error"]["message_en"]
    assert count(app_engine, "SELECT count(*) FROM restricted.household_status") == before

    with app_engine.connect() as conn, conn.begin():  # with no disaster open: 409, and nothing changes
        conn.execute(
            text("UPDATE ops.disaster SET closed_at = now(), closed_by = 'test' WHERE closed_at IS NULL")
        )
        with pytest.raises(OpsConflict):
            evacuation.report_by_resident(conn, token, "home")
        conn.rollback()


def test_the_reports_are_restricted_data(public_engine, app_engine, world):
    with public_engine.connect() as conn:
        for sql in ("SELECT 1 FROM restricted.household_status", "SELECT * FROM ops.evacuation_by_area(1)"):
            with pytest.raises(DBAPIError, match="permission denied"):
                conn.execute(text(sql))
            conn.rollback()
    with app_engine.connect() as conn:  # staff roles without welfare see no report rows at all
        conn.execute(text("SELECT set_config('gisapp.roles', 'staff,hq_operator', false)"))
        assert conn.execute(text("SELECT count(*) FROM restricted.household_status")).scalar() == 0
        conn.execute(text("SELECT set_config('gisapp.roles', '', false)"))
