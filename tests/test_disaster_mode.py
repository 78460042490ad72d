"""Disaster mode needs a second person or is capped to hours (migration 0021), in the API and in the
database; the registry keeper sees who read what (access log); every reader of people is audited by the
domain itself, whoever calls it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from gisapp.db import transaction
from gisapp.ops import disaster_mode as mode
from gisapp.ops import people
from tests.fixtures_data import seed

AREA = "二人確認試験町"
REASON = "試験：線状降水帯"


@pytest.fixture(scope="module")
def users(app_engine):
    return seed(app_engine, "dm")


@pytest.fixture(scope="module")
def second(app_engine):
    """Accounts of another department: a second hq_operator, a second admin."""
    return seed(app_engine, "dm2")


def _end_all(owner_engine) -> None:
    with owner_engine.begin() as conn:
        conn.execute(text("UPDATE restricted.disaster_mode SET ended_at = now() WHERE ended_at IS NULL"))


@pytest.fixture
def clean(owner_engine):
    _end_all(owner_engine)
    yield
    _end_all(owner_engine)


def _minutes(a: str, b: str) -> float:
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() / 60


def _audit(app_engine, action: str, mode_id: int) -> list[str]:
    with app_engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT actor FROM audit.log WHERE action = :a AND details->>'mode_id' = :i ORDER BY id"
                ),
                {"a": action, "i": str(mode_id)},
            ).scalars()
        )


def _disaster_roles(app_engine) -> list[str]:
    with app_engine.connect() as conn:
        return sorted(conn.execute(text("SELECT restricted.disaster_roles()")).scalar_one())


def _error(r) -> dict:
    error = r.json()["error"]
    assert error["message_ja"] and error["message_en"], error
    return error


def test_alone_it_is_capped_a_second_person_extends_it(client, app_engine, users, second, clean):
    hq, welfare, staff = (users.bearer(client, w) for w in ("hq", "welfare", "staff"))
    r = client.post(
        "/api/people/disaster-mode", json={"minutes": mode.MAX_MINUTES, "reason": REASON}, headers=hq
    )
    assert r.status_code == 201, r.text
    active = r.json()["active"]
    assert round(_minutes(active["activated_at"], active["expires_at"])) == mode.SOLO_MINUTES  # 3 h alone
    assert active["requested_minutes"] == mode.MAX_MINUTES and active["needs_confirmation"] is True
    assert active["confirmed_by"] is None
    assert _disaster_roles(app_engine) == ["hq_operator", "welfare"]  # in force at once, for 3 h
    assert (
        client.post(
            "/api/people/disaster-mode", json={"minutes": 30, "reason": REASON}, headers=hq
        ).status_code
        == 409
    )
    mode_id = active["id"]
    url = f"/api/people/disaster-mode/{mode_id}/confirm"

    # Not by the same person, not by another of the same side, not by staff, not anonymously.
    r = client.post(url, headers=hq)
    assert r.status_code == 403 and "second person" in _error(r)["message_en"]
    r = client.post(url, headers=second.bearer(client, "hq"))
    assert r.status_code == 403 and "other side" in _error(r)["message_en"]
    assert client.post(url, headers=staff).status_code == 403
    assert client.post(url).status_code == 401
    assert client.post("/api/people/disaster-mode/999999/confirm", headers=welfare).status_code == 404
    assert client.get("/api/people/disaster-mode", headers=hq).json()["active"]["confirmed_by"] is None

    # Welfare (the registry's side) confirms: the length asked for, counted from the start.
    r = client.post(url, headers=welfare)
    assert r.status_code == 200, r.text
    confirmed = r.json()["active"]
    assert confirmed["confirmed_by"] == "dm-welfare" and confirmed["needs_confirmation"] is False
    assert round(_minutes(confirmed["activated_at"], confirmed["expires_at"])) == mode.MAX_MINUTES
    assert client.post(url, headers=users.bearer(client, "admin")).status_code == 409  # once
    assert _audit(app_engine, "people.disaster_mode_on", mode_id) == ["dm-hq"]
    assert _audit(app_engine, "people.disaster_mode_confirm", mode_id) == ["dm-welfare"]

    assert client.delete("/api/people/disaster-mode", headers=hq).json()["ended"] == 1
    assert _disaster_roles(app_engine) == []
    assert client.post(url, headers=welfare).status_code == 409  # ended: nothing to confirm


def test_an_admin_activation_is_confirmed_by_the_hq(client, app_engine, users, second, clean):
    admin = users.bearer(client, "admin")
    r = client.post("/api/people/disaster-mode", json={"minutes": 600, "reason": REASON}, headers=admin)
    assert r.status_code == 201
    url = f"/api/people/disaster-mode/{r.json()['active']['id']}/confirm"
    assert client.post(url, headers=users.bearer(client, "welfare")).status_code == 403  # same side
    assert client.post(url, headers=second.bearer(client, "admin")).status_code == 403  # same side
    r = client.post(url, headers=users.bearer(client, "hq"))
    assert (
        r.status_code == 200
        and round(_minutes(r.json()["active"]["activated_at"], r.json()["active"]["expires_at"])) == 600
    )


def test_short_modes_need_no_confirmation_and_end_by_themselves(
    client, app_engine, owner_engine, users, clean
):
    hq = users.bearer(client, "hq")
    r = client.post("/api/people/disaster-mode", json={"minutes": 90, "reason": REASON}, headers=hq)
    assert r.status_code == 201 and r.json()["active"]["needs_confirmation"] is False
    unconfirmed = client.post(
        "/api/people/disaster-mode", json={"minutes": 900, "reason": REASON}, headers=hq
    )
    assert unconfirmed.status_code == 409  # one at a time
    _end_all(owner_engine)
    r = client.post("/api/people/disaster-mode", json={"minutes": 900, "reason": REASON}, headers=hq)
    mode_id = r.json()["active"]["id"]
    with owner_engine.begin() as conn:  # the solo cap passes without a confirmation
        conn.execute(
            text(
                "UPDATE restricted.disaster_mode SET activated_at = activated_at - interval '3 hours 1 minute',"
                " expires_at = expires_at - interval '3 hours 1 minute' WHERE id = :i"
            ),
            {"i": mode_id},
        )
    assert _disaster_roles(app_engine) == []
    assert client.get("/api/people/disaster-mode", headers=hq).json()["active"] is None
    r = client.post(f"/api/people/disaster-mode/{mode_id}/confirm", headers=users.bearer(client, "welfare"))
    assert r.status_code == 409  # too late: switch it on again


def test_the_database_holds_the_rule_too(app_engine, clean):
    def as_roles(roles: str, sql: str, **params):
        with app_engine.begin() as conn:
            conn.execute(text("SELECT set_config('gisapp.roles', :r, true)"), {"r": roles})
            return conn.execute(text(sql), params).scalar()

    insert = (
        "INSERT INTO restricted.disaster_mode (expires_at, activated_by, activated_roles, roles, reason,"
        " requested_minutes, confirmed_by, confirmed_at) VALUES (now() + make_interval(mins => :e), 'a',"
        " '{hq_operator}', '{welfare,hq_operator}', 'x', :m, CAST(:c AS text), CASE WHEN CAST(:c AS text) IS NULL THEN NULL ELSE now() END)"
        " RETURNING id"
    )
    with pytest.raises(Exception, match="disaster_mode_solo_cap"):  # alone, longer than the cap
        as_roles("hq_operator", insert, e=mode.SOLO_MINUTES + 1, m=600, c=None)
    with pytest.raises(Exception, match="row-level security"):  # confirmed at birth
        as_roles("hq_operator", insert, e=60, m=60, c="b")
    with pytest.raises(Exception, match="row-level security"):  # welfare cannot switch it on
        as_roles("welfare", insert, e=60, m=60, c=None)
    mode_id = as_roles("hq_operator", insert, e=mode.SOLO_MINUTES, m=600, c=None)
    confirm = "UPDATE restricted.disaster_mode SET confirmed_by = :by WHERE id = :i RETURNING expires_at - activated_at"
    with pytest.raises(Exception, match="disaster_mode_second_person"):
        as_roles("welfare", confirm, by="a", i=mode_id)  # one's own
    with pytest.raises(Exception, match="complementary"):
        as_roles("hq_operator", confirm, by="b", i=mode_id)  # the same side
    with pytest.raises(Exception, match="confirmation extends"):
        as_roles(
            "admin",
            "UPDATE restricted.disaster_mode SET expires_at = now() + interval '70 hours' WHERE id = :i RETURNING 1",
            i=mode_id,
        )
    with pytest.raises(Exception, match="cannot be changed"):
        as_roles(
            "admin",
            "UPDATE restricted.disaster_mode SET requested_minutes = 4320 WHERE id = :i RETURNING 1",
            i=mode_id,
        )
    # The trigger sets the length asked for, whatever the update says.
    length = as_roles("welfare", "UPDATE restricted.disaster_mode SET confirmed_by = 'b', expires_at = now() + interval '72 hours'"
                      " WHERE id = :i RETURNING expires_at - activated_at", i=mode_id)  # fmt: skip
    assert length == timedelta(minutes=600)


# --- the access log -----------------------------------------------------------------------------
def test_the_keeper_sees_who_read_what(client, app_engine, users, clean):
    welfare, hq, admin = (users.bearer(client, w) for w in ("welfare", "hq", "admin"))
    start = datetime.now(UTC)
    assert client.get("/api/people", params={"area": AREA}, headers=welfare).status_code == 200
    r = client.post("/api/people/disaster-mode", json={"minutes": 30, "reason": REASON}, headers=hq)
    assert r.status_code == 201
    mode_id = r.json()["active"]["id"]
    assert client.get("/api/people/priority", params={"area": AREA}, headers=welfare).status_code == 200
    assert client.get("/api/people/roster.csv", params={"area": AREA}, headers=hq).status_code == 200
    client.delete("/api/people/disaster-mode", headers=hq)
    assert client.get("/api/people/999999999", headers=welfare).status_code == 404  # not found: no read

    assert client.get("/api/people/access-log", headers=welfare).status_code == 403
    assert client.get("/api/people/access-log", headers=hq).status_code == 403
    assert client.get("/api/people/access-log").status_code == 401
    r = client.get(
        "/api/people/access-log", params={"actor": "dm-welfare", "since": start.isoformat()}, headers=admin
    )
    assert r.status_code == 200, r.text
    entries = r.json()
    assert [e["action"] for e in entries] == ["people.priority", "people.list"]  # newest first
    assert [e["under_disaster_mode"] for e in entries] == [True, False]
    assert entries[0]["disaster_mode_id"] == mode_id and entries[0]["area"] == AREA
    assert entries[0]["rows"] == 0 and entries[0]["actor"] == "dm-welfare" and entries[0]["at"]
    hq_entries = client.get(
        "/api/people/access-log", params={"actor": "dm-hq", "since": start.isoformat()}, headers=admin
    ).json()
    assert [(e["action"], e["under_disaster_mode"]) for e in hq_entries] == [("people.roster_csv", True)]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert client.get("/api/people/access-log", params={"since": future}, headers=admin).json() == []
    until = client.get(
        "/api/people/access-log", params={"actor": "dm-welfare", "until": start.isoformat()}, headers=admin
    )
    assert until.status_code == 200
    assert all(datetime.fromisoformat(e["at"]) < start for e in until.json())
    assert client.get("/api/people/access-log", params={"limit": 0}, headers=admin).status_code == 422
    with app_engine.connect() as conn:  # reading the log is itself recorded
        n = conn.execute(
            text(
                "SELECT count(*) FROM audit.log WHERE action = 'people.access_log_read' AND actor = 'dm-admin'"
            )
        ).scalar_one()
    assert n >= 3


def test_every_caller_of_the_domain_is_audited(app_engine, users):
    """No HTTP in between: the domain functions write the audit entry themselves."""

    def count(action: str) -> int:
        with app_engine.connect() as conn:
            return conn.execute(
                text("SELECT count(*) FROM audit.log WHERE actor = 'cli:test' AND action = :a"), {"a": action}
            ).scalar_one()

    before = {
        a: count(a) for a in ("people.list", "people.priority", "people.roster_csv", "people.roster_page")
    }
    with transaction(app_engine, ["admin"]) as conn:
        people.list_people(conn, "cli:test", AREA, 10, 0)
        people.priority(conn, "cli:test", AREA)
        people.roster_export(conn, "cli:test", AREA)
        people.roster(conn, "cli:test", AREA)
    assert {a: count(a) - n for a, n in before.items()} == dict.fromkeys(before, 1)
