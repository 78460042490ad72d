"""The read path's per-request costs (issue 15, item 9: the items benchmark's small pages).

Each test fails on the code before the change it names:
- a read route ran in three worker-thread hops (enter the ReadConn dependency, the route, leave it);
- every checkout of a pooled connection sent ``SELECT 1`` first (pool_pre_ping);
- psycopg prepares a statement on its 5th use and PostgreSQL then ran a generic plan, slower for a
  spatial filter;
- the public instance asked the database for the layer's row on every request, and each cold tile
  sent a ``set_config`` round trip of its own;
- every read of the public instance sent BEGIN READ ONLY and ROLLBACK around its statement;
- the page's JSON was built by json_agg of json values (checked here for what it must keep: every
  value as stored).
"""

from __future__ import annotations

import inspect
import time
from typing import get_type_hints

import anyio.to_thread
import psycopg
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import Engine, event, text

from gisapp import db
from gisapp.deps import _read_dependency
from tests.fixtures_data import seed
from tests.support import wait_until

SPATIAL = "S_INTERSECTS(geometry,POLYGON((139.2 35.3,139.5 35.3,139.5 35.5,139.2 35.5,139.2 35.3)))"


@pytest.fixture(scope="module")
def seeded(app_engine: Engine):
    return seed(app_engine, "readpath")


def _api_routes(routes) -> list[APIRoute]:
    found = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        for attr in ("routes", "original_router"):
            inner = getattr(route, attr, None)
            if inner is not None:
                found += _api_routes(inner if isinstance(inner, list) else inner.routes)
    return found


@pytest.mark.parametrize("which", ["client", "public_client"])
def test_every_route_with_a_read_connection_runs_in_one_thread(which, request) -> None:
    app = request.getfixturevalue(which).app
    reading = []
    for route in _api_routes(app.routes):
        endpoint = inspect.unwrap(route.endpoint)
        if inspect.iscoroutinefunction(endpoint):
            continue
        hints = get_type_hints(endpoint, include_extras=True)
        if any(_read_dependency(h) for h in hints.values()):
            reading.append(route)
            assert getattr(route.endpoint, "one_thread", False), (
                f"{route.path}: its router needs route_class=ReadRoute (gisapp/deps.py)"
            )
            # FastAPI sees no read connection parameter any more: nothing opens one in a hop of its own.
            assert not any(
                _read_dependency(p.annotation) for p in inspect.signature(route.endpoint).parameters.values()
            )
    assert len(reading) > 20  # the walk found the app's read routes


@pytest.fixture
def hops(monkeypatch) -> list[str]:
    """Every function the app hands to a worker thread during the test."""
    seen: list[str] = []
    real = anyio.to_thread.run_sync

    async def counting(func, *args, **kwargs):
        seen.append(getattr(func, "__qualname__", repr(func)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    return seen


@pytest.mark.parametrize("which", ["client", "public_client"])
def test_a_read_request_takes_one_worker_thread_hop(which, request, seeded, hops) -> None:
    c = request.getfixturevalue(which)
    slug = seeded.slugs["public"]
    c.get(f"/ogc/collections/{slug}/items", params={"filter": SPATIAL})  # warm the route
    hops.clear()
    r = c.get(f"/ogc/collections/{slug}/items", params={"filter": SPATIAL, "limit": 5})
    assert r.status_code == 200, r.text
    assert r.json()["numberMatched"] >= 1
    assert len(hops) == 1, hops  # was 3: the dependency's enter, the route, the dependency's exit


def test_a_signed_in_read_keeps_its_roles_and_read_only_transaction(client, seeded, hops) -> None:
    headers = seeded.bearer(client, "staff")
    internal = seeded.slugs["internal"]
    hops.clear()
    r = client.get(f"/ogc/collections/{internal}/items", headers=headers)
    assert r.status_code == 200 and r.json()["numberMatched"] >= 1
    assert len(hops) == 2, hops  # the token lookup, then the read
    assert client.get(f"/ogc/collections/{internal}/items").status_code == 404  # anonymous: no roles


def test_read_connections_are_read_only(app_engine) -> None:
    with db.read_only(app_engine) as conn:
        assert conn.execute(text("SHOW transaction_read_only")).scalar_one() == "on"


def test_citizen_reads_are_read_only_statements_without_begin_and_its_writes_say_read_write(
    settings, seeded
) -> None:
    from psycopg.pq import TransactionStatus
    from sqlalchemy.exc import InternalError

    from gisapp.access import _FLUSH as access_flush

    citizen = db.app_engine(settings, public=True)
    with db.read_only(citizen) as conn:
        assert conn.execute(text("SHOW transaction_read_only")).scalar_one() == "on"
        # No transaction is left open after a statement: no BEGIN was sent, no ROLLBACK is needed.
        assert conn.connection.dbapi_connection.info.transaction_status == TransactionStatus.IDLE
        with pytest.raises(InternalError, match="read-only transaction"):
            conn.execute(text("CREATE TEMPORARY TABLE readpath_t (x int)"))
    counted = text(
        "SELECT coalesce(sum(hits), 0) FROM gis.layer_access_daily a JOIN gis.layer l ON l.id = a.layer_id"
        " WHERE l.slug = :s"
    )
    with db.read_only(db.app_engine(settings)) as conn:
        before = conn.execute(counted, {"s": seeded.slugs["public"]}).scalar_one()
        layer_id = conn.execute(
            text("SELECT id FROM gis.layer WHERE slug = :s"), {"s": seeded.slugs["public"]}
        ).scalar_one()
    with db.transaction(citizen) as conn:  # the public instance's one write of its own: access counts
        assert conn.execute(text("SHOW transaction_read_only")).scalar_one() == "off"
        conn.execute(access_flush, {"ids": [layer_id], "hits": [3]})
    with db.read_only(db.app_engine(settings)) as conn:
        assert conn.execute(counted, {"s": seeded.slugs["public"]}).scalar_one() == before + 3
    with db.read_only(citizen) as conn:  # the connection back in the pool reads read only again
        assert conn.execute(text("SHOW transaction_read_only")).scalar_one() == "on"
    with citizen.connect() as conn:  # and a plain connection of it too (the health check's)
        assert conn.execute(text("SHOW transaction_read_only")).scalar_one() == "on"


# --- the pool's check at checkout -------------------------------------------------------------
@pytest.fixture
def engine(settings) -> Engine:
    e = db.make_engine(settings.public_database_url, pool_size=1, max_overflow=0)
    yield e
    e.dispose()


@pytest.fixture
def pings(engine, monkeypatch) -> list[int]:
    seen: list[int] = []
    real = engine.dialect.do_ping

    def counting(dbapi_connection):
        seen.append(1)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counting)
    return seen


def _pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_connection_back_a_moment_ago_is_not_pinged(engine, pings) -> None:
    first = _pid(engine)
    pings.clear()
    assert _pid(engine) == first and _pid(engine) == first
    assert pings == []  # pool_pre_ping pinged at every checkout


def test_a_connection_idle_for_long_is_pinged(engine, pings, monkeypatch) -> None:
    _pid(engine)
    monkeypatch.setattr(db, "RECENT_SECONDS", 0.0)
    pings.clear()
    _pid(engine)
    assert pings == [1]


def test_a_terminated_backend_is_replaced_at_checkout_without_a_failed_request(engine, stack) -> None:
    first = _pid(engine)
    with psycopg.connect(stack.superuser_dsn(), autocommit=True) as su:
        assert su.execute("SELECT pg_terminate_backend(%s)", [first]).fetchone()[0] is True
    time.sleep(0.2)  # the server's FATAL message and the close reach the socket
    assert _pid(engine) != first  # no error: the readable socket sent it to the ping, which replaced it


# --- session settings of the app's connections --------------------------------------------------
def test_statements_are_planned_for_their_own_values(settings) -> None:
    internal = db.app_engine(settings)
    public = db.app_engine(settings, public=True)
    for engine in (internal, public):
        with engine.connect() as conn:
            assert conn.execute(text("SHOW plan_cache_mode")).scalar_one() == "force_custom_plan"
            assert conn.execute(text("SHOW jit")).scalar_one() == "off"
    with public.connect() as conn:
        assert conn.execute(text("SHOW max_parallel_workers_per_gather")).scalar_one() == "0"
    with internal.connect() as conn:  # the HQ's heavy reads may still use parallel workers
        assert conn.execute(text("SHOW max_parallel_workers_per_gather")).scalar_one() != "0"


def test_a_spatial_filter_keeps_a_plan_that_builds_its_geometry_once(seeded, settings) -> None:
    """The items statement, prepared and run a dozen times as psycopg does on a pooled connection,
    is still planned for its values: the filter geometry is a constant in the index condition. Under
    PostgreSQL's default plan cache the 6th run on took a generic plan that rebuilt the geometry
    from its WKB parameter for every row (and read the layer row once per feature)."""
    import re

    from psycopg import sql
    from starlette.datastructures import QueryParams

    from gisapp.ogc import cql
    from layers import catalog
    from layers import features_query as fq

    engine = db.app_engine(settings, public=True)
    with db.read_only(engine) as conn:
        layer = catalog.get_public_layer(conn, seeded.slugs["public"])
        known = fq.queryables(conn, layer, True)
        tree = cql.parse(QueryParams({"filter": SPATIAL})).tree
        q = fq.ItemsQuery(layer=layer, public=True, cql=tree, queryables=known, limit=5)
        seen: list[tuple[str, dict]] = []

        def keep(c, cursor, statement, parameters, context, executemany):
            seen.append((statement, parameters))

        event.listen(conn, "before_cursor_execute", keep)
        fq.items(conn, q)
        event.remove(conn, "before_cursor_execute", keep)
        statement, parameters = seen[-1]
        names: list[str] = []

        def positional(m: re.Match) -> str:
            if m.group(1) not in names:
                names.append(m.group(1))
            return f"${names.index(m.group(1)) + 1}"

        raw = conn.connection.dbapi_connection
        raw.execute("PREPARE readpath_items AS " + re.sub(r"%\((\w+)\)s", positional, statement))
        run = sql.SQL("EXECUTE readpath_items ({})").format(
            sql.SQL(", ").join(sql.Literal(parameters[n]) for n in names)
        )
        for _ in range(12):
            raw.execute(run)
        plan = "\n".join(r[0] for r in raw.execute(sql.SQL("EXPLAIN ") + run).fetchall())
        raw.execute("DEALLOCATE readpath_items")
    assert "Index Cond" in plan and "st_geomfromwkb" not in plan.lower(), plan


def test_public_items_of_a_withdrawn_layer_never_show_a_feature(public_client, seeded, app_engine) -> None:
    from layers import manage

    directory = public_client.app.state.layer_directory
    wait_until(lambda: directory.layers is not None, 10)
    slug = seeded.slugs["public"]
    assert public_client.get(f"/ogc/collections/{slug}/items").json()["numberMatched"] >= 1

    class Admin:
        username, department_id, roles = "readpath-test", None, frozenset({"admin"})

    with app_engine.begin() as conn:
        manage.set_visibility(conn, Admin(), slug, "internal")
    try:
        # At once, before the directory has heard of it: the pub views check the visibility again.
        r = public_client.get(f"/ogc/collections/{slug}/items")
        assert r.status_code == 404 or r.json()["features"] == [], r.text
        wait_until(lambda: public_client.get(f"/ogc/collections/{slug}/items").status_code == 404, 5)
    finally:
        with app_engine.begin() as conn:
            manage.set_visibility(conn, Admin(), slug, "public")
    wait_until(lambda: public_client.get(f"/ogc/collections/{slug}/items").status_code == 200, 5)


# --- the page's JSON, put together from JSON texts ----------------------------------------------
HOSTILE = 'quote " backslash \\ newline \n tab \t 日本語 </script> \u2028 {"x": 1}'


def test_pages_are_json_with_every_value_as_stored(seeded, public_client, app_engine) -> None:
    """The features are joined as text (string_agg of ST_AsGeoJSON's and the properties' JSON texts):
    strings needing escapes, nulls, numbers and nested values come back as stored, and a typed
    layer's extra attributes are merged with its typed columns winning, with or without extras."""
    from tests.fixtures_data import _layer

    slug = "readpath-hazard"
    with app_engine.begin() as conn:
        db.set_roles(conn, ["admin"])
        layer_id = _layer(conn, slug, "public", "hazard_area", "MultiPolygon", seeded.dept_id)
        conn.execute(text("DELETE FROM gis.hazard_area WHERE layer_id = :l"), {"l": layer_id})
        conn.execute(
            text(
                """INSERT INTO gis.hazard_area (layer_id, hazard_type, depth_rank, name, source_key, attributes, geom)
                   VALUES (:l, 'flood', NULL, :hostile, 'a', '{}'::jsonb,
                           ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(139.31, 35.40), 4326), 0.001))),
                          (:l, 'landslide_warning', '3m', 'plain', 'b',
                           jsonb_build_object('日付', '2024-08-30', 'name', 'loses', 'n', 2.5, 'nested', jsonb_build_object('a', jsonb_build_array(1, null))),
                           ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(139.32, 35.40), 4326), 0.001)))"""
            ),
            {"l": layer_id, "hostile": HOSTILE},
        )
    wait_until(lambda: public_client.get(f"/ogc/collections/{slug}/items").status_code == 200, 5)
    for params in ({}, {"bbox": "139.2,35.3,139.5,35.5"}, {"filter": SPATIAL}, {"skipGeometry": "true"}):
        page = public_client.get(f"/ogc/collections/{slug}/items", params=params).json()
        got = {f["properties"]["name"]: f for f in page["features"]}
        assert page["numberMatched"] == page["numberReturned"] == 2, params
        assert got[HOSTILE]["properties"] == {"hazard_type": "flood", "depth_rank": None, "name": HOSTILE}
        assert got["plain"]["properties"] == {
            "hazard_type": "landslide_warning", "depth_rank": "3m", "name": "plain",  # typed column wins
            "日付": "2024-08-30", "n": 2.5, "nested": {"a": [1, None]},
        }  # fmt: skip
        if "skipGeometry" in params:
            assert got["plain"]["geometry"] is None
        else:
            assert got["plain"]["geometry"]["type"] == "MultiPolygon"
        one = public_client.get(f"/ogc/collections/{slug}/items/{got[HOSTILE]['id']}").json()
        assert one["properties"]["name"] == HOSTILE and one["type"] == "Feature"
    generic = public_client.get(f"/ogc/collections/{seeded.slugs['public']}/items").json()
    assert generic["features"][0]["properties"]["name"].startswith("public-canary-")


def test_a_layer_directory_behind_the_database_answers_404_not_500(
    public_client, seeded, app_engine, monkeypatch
) -> None:
    """The directory has not heard yet that the layer was withdrawn: the request finds it there, and
    the statements that read the layer's own row (its revision, for the queryables) find nothing."""
    from layers import manage

    directory = public_client.app.state.layer_directory
    slug = seeded.slugs["public"]
    wait_until(lambda: directory.layers is not None and slug in directory.layers, 10)
    stale = dict(directory.layers)

    async def deaf(conn) -> None:  # the notification is late
        directory.layers = stale

    monkeypatch.setattr(directory, "_reload", deaf)

    class Admin:
        username, department_id, roles = "readpath-test", None, frozenset({"admin"})

    with app_engine.begin() as conn:
        manage.set_visibility(conn, Admin(), slug, "internal")
    try:
        assert slug in directory.layers
        for path in ("items", "items?filter=" + SPATIAL, "queryables?f=json", "items/1"):
            r = public_client.get(f"/ogc/collections/{slug}/{path}")
            assert r.status_code == 404 or (r.status_code == 200 and not r.json().get("features")), (
                path,
                r.status_code,
                r.text[:300],
            )
    finally:
        monkeypatch.undo()
        with app_engine.begin() as conn:
            manage.set_visibility(conn, Admin(), slug, "public")
    wait_until(lambda: public_client.get(f"/ogc/collections/{slug}/items").status_code == 200, 5)
