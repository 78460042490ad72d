"""Every write route, against a real uvicorn server and the real PostGIS:

- the role × route matrix: each principal (anonymous, staff, hq_operator, welfare, admin, staff of
  another department) gets exactly the status of the one table in tests/write_ops.py, and a refused
  write leaves nothing behind;
- read-your-writes: the change is visible to a GET issued the instant the 2xx arrives, for every write
  route, many calls at once (a write committed after its answer shows up here as a stale read);
- a write whose commit fails is answered with an error, never a 2xx.

The server is real (uvicorn on a socket): an in-process client waits for the whole ASGI call, so it
would hide an answer sent before the commit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
import pytest
from sqlalchemy import text

from gisapp.app import create_app
from tests.test_pages_browser import Server
from tests.write_ops import OPS, PRINCIPALS, Op, World, build_world, new_incident, new_layer, send

WRITE_METHODS = {"post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def app(settings):
    return create_app(settings)


@pytest.fixture(scope="module")
def world(app, app_engine) -> Iterator[World]:
    # It trusts X-Forwarded-For from loopback (as behind the city's proxy), so each citizen report can
    # come from an address of its own.
    with Server(app, proxy_headers=True, forwarded_allow_ips="127.0.0.1") as server:
        yield build_world(server.url, app_engine)


def _ids(op: Op) -> str:
    return f"{op.method} {op.path}"


def test_every_write_route_is_in_the_table(app, public_client):
    """A new write route must say in tests/write_ops.py who may call it."""
    documented = {
        (method.upper(), path)
        for doc in (app.openapi(), public_client.app.openapi())
        for path, item in doc["paths"].items()
        for method in item
        if method in WRITE_METHODS
    }
    table = {(op.method, op.path) for op in OPS}
    assert documented - table == set(), "write routes missing from tests/write_ops.py OPS"
    assert table - documented == set(), "OPS lists routes the API does not have"
    assert all(set(op.expect) == set(PRINCIPALS) for op in OPS)


def _visible(check, c: httpx.Client, r: httpx.Response) -> bool:
    try:
        return bool(check(c, r))
    except (KeyError, TypeError, ValueError, StopIteration):
        return False  # a refusal has no body to look the write up by: nothing was made


@pytest.mark.parametrize("op", OPS, ids=_ids)
def test_role_matrix(world: World, op: Op):
    """Each principal gets exactly the table's status; a refused write changes nothing."""
    got = {}
    with world.http() as c:
        for who in PRINCIPALS:
            call = world_call(world, op, who)
            r = send(c, call)
            got[who] = r.status_code
            if r.status_code >= 400:
                assert r.json()["error"]["message_ja"] and r.json()["error"]["message_en"], r.text
            if call.check is not None:
                visible = _visible(call.check, c, r)
                assert visible == (r.status_code < 300), (who, r.status_code, r.text[:300])
    assert got == op.expect


def world_call(world: World, op: Op, who: str):
    return op.make(world, who)


def _writer(op: Op) -> str:
    return next(who for who in ("hq", "staff", "welfare", "admin", "anon") if op.expect[who] < 300)


@pytest.mark.parametrize("op", OPS, ids=_ids)
def test_read_your_writes(world: World, op: Op):
    """Many calls at once; each checks with a GET the instant its 2xx arrives."""
    who = _writer(op)
    runs = 3 if op.serial else 8
    calls = [op.make(world, who) for _ in range(1 if op.serial else runs)]
    stale: list[str] = []

    def one(call) -> None:
        with world.http() as c:
            r = send(c, call)
            assert r.status_code == op.expect[who], r.text[:300]
            if call.check is not None and not call.check(c, r):
                stale.append(r.text[:200])

    if op.serial:
        for _ in range(runs):
            one(op.make(world, who))
    else:
        barrier = threading.Barrier(len(calls))

        def raced(call) -> None:
            barrier.wait(10)
            one(call)

        with ThreadPoolExecutor(len(calls)) as pool:
            for f in [pool.submit(raced, call) for call in calls]:
                f.result()
    assert stale == [], f"{len(stale)} stale read(s) right after a 2xx"


# ------------------------------------------------------------------ a commit that fails at COMMIT
_FAIL_FN = text(
    """CREATE OR REPLACE FUNCTION public.test_fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF to_jsonb(NEW) ->> TG_ARGV[0] = 'COMMIT-FAIL' THEN
           RAISE EXCEPTION 'injected failure at commit';
         END IF;
         RETURN NULL;
       END $$"""
)
_TRIGGERS = {"gis.layer": "title_ja", "ops.incident": "title", "ops.incident_category": "name_ja"}


@pytest.fixture
def fail_at_commit(owner_engine):
    """Deferred constraint triggers: the row is written, the statement succeeds, the COMMIT fails."""
    with owner_engine.begin() as conn:
        conn.execute(_FAIL_FN)
        for table, column in _TRIGGERS.items():
            conn.execute(text(f"DROP TRIGGER IF EXISTS test_fail_at_commit ON {table}"))
            conn.execute(
                text(
                    f"""CREATE CONSTRAINT TRIGGER test_fail_at_commit AFTER INSERT OR UPDATE ON {table}
                        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
                        EXECUTE FUNCTION public.test_fail_at_commit('{column}')"""
                )
            )
    yield
    with owner_engine.begin() as conn:
        for table in _TRIGGERS:
            conn.execute(text(f"DROP TRIGGER IF EXISTS test_fail_at_commit ON {table}"))
        conn.execute(text("DROP FUNCTION IF EXISTS public.test_fail_at_commit()"))


def test_a_failed_commit_is_never_answered_2xx(world: World, fail_at_commit):
    slug, incident = new_layer(world), new_incident(world)
    staff, hq = world.auth("staff"), world.auth("hq")
    with world.http() as c:
        edit = c.patch(f"/api/layers/{slug}", json={"title_ja": "COMMIT-FAIL"}, headers=staff)
        assert edit.status_code >= 500, edit.text
        assert edit.json()["error"]["message_ja"] and "injected" not in edit.text  # nothing internal leaks
        listed = next(x for x in c.get("/api/layers", headers=staff).json() if x["slug"] == slug)
        assert listed["title_ja"] == "書込"

        patch = c.patch(
            f"/api/incidents/{incident['id']}", json={"title": "COMMIT-FAIL"},
            headers={**hq, "If-Match": f'"{incident["version"]}"'},
        )  # fmt: skip
        assert patch.status_code >= 500, patch.text
        now = c.get(f"/api/incidents/{incident['id']}", headers=hq).json()
        assert (now["title"], now["version"]) == (incident["title"], incident["version"])

        body = {"category": "fallen_tree", "title": "COMMIT-FAIL", "lon": 139.30, "lat": 35.39}
        created = c.post(f"/api/disasters/{world.disaster_id}/incidents", json=body, headers=hq)
        assert created.status_code >= 500, created.text
        listed = c.get(f"/api/disasters/{world.disaster_id}/incidents", headers=hq).json()["features"]
        assert not any(f["properties"]["title"] == "COMMIT-FAIL" for f in listed)

        code = "wr_commit_fail"
        cat = c.post(
            "/api/incident-categories",
            json={"code": code, "name_ja": "COMMIT-FAIL", "name_en": "x"},
            headers=hq,
        )
        assert cat.status_code >= 500, cat.text
        assert all(x["code"] != code for x in c.get("/api/incident-categories", headers=hq).json())
