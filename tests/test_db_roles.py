"""Defence in depth in the database itself: the public role, row-level security, the audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from gisapp.db import make_engine, read_only
from tests.fixtures_data import seed


@pytest.fixture(scope="module")
def seeded(app_engine):
    return seed(app_engine, "roles")


def _non_public_tables(engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                """SELECT table_schema || '.' || table_name FROM information_schema.tables
                   WHERE table_schema IN ('core', 'gis', 'sensor', 'ingest', 'restricted', 'audit')
                   ORDER BY 1"""
            )
        )
        return [r[0] for r in rows]


def test_public_role_is_denied_every_internal_and_restricted_table(owner_engine, public_engine, seeded):
    tables = _non_public_tables(owner_engine)
    assert (
        "gis.feature" in tables and "restricted.person_needing_help" in tables and "core.app_user" in tables
    )
    for table in tables:
        with public_engine.connect() as conn, pytest.raises(ProgrammingError) as err:
            conn.execute(text(f"SELECT * FROM {table} LIMIT 1"))  # noqa: S608 - table names from the catalog
        assert "permission denied" in str(err.value), table


def test_public_role_reads_only_published_layers(public_engine, seeded):
    with public_engine.connect() as conn:
        slugs = {r.slug for r in conn.execute(text("SELECT slug FROM pub.layer"))}
        # Other files' layers may hold features without a name: only named ones are compared.
        names = [r[0] for r in conn.execute(text("SELECT properties->>'name' FROM pub.feature")) if r[0]]
    assert seeded.slugs["public"] in slugs
    assert seeded.slugs["internal"] not in slugs and seeded.slugs["restricted"] not in slugs
    assert any("public-canary" in n for n in names)
    assert not any("internal-canary" in n for n in names)


def test_public_role_cannot_write_or_create(public_engine):
    with public_engine.connect() as conn, pytest.raises(DBAPIError) as err:
        conn.execute(text("CREATE TABLE pub.sneaky (x int)"))
    assert "permission denied" in str(err.value)


def test_restricted_rows_need_a_restricted_role(app_engine, seeded):
    """Row-level security: the internal app's own role sees no 要支援者 unless the transaction is a
    welfare/admin user's, whatever the SQL asks for."""
    sql = text("SELECT count(*) FROM restricted.person_needing_help")
    for roles, visible in (
        ("", False),
        ("staff", False),
        ("hq_operator", False),
        ("welfare", True),
        ("admin", True),
    ):
        with app_engine.begin() as conn:
            conn.execute(text("SELECT set_config('gisapp.roles', :r, true)"), {"r": roles})
            n = conn.execute(sql).scalar_one()
        assert (n > 0) is visible, roles
    with app_engine.begin() as conn, pytest.raises(DBAPIError) as err:
        conn.execute(text("SELECT set_config('gisapp.roles', 'staff', true)"))
        conn.execute(
            text(
                """INSERT INTO restricted.person_needing_help (layer_id, external_id, name, care_category, geom)
                   SELECT id, 'x', 'x', 'x', ST_SetSRID(ST_MakePoint(139.3, 35.4), 4326)
                   FROM gis.layer WHERE slug = :s"""
            ),
            {"s": seeded.slugs["restricted"]},
        )
    assert "row-level security" in str(err.value)


def test_audit_log_is_append_only(app_engine, owner_engine):
    with app_engine.begin() as conn:
        conn.execute(text("INSERT INTO audit.log (actor, action) VALUES ('test', 'test.append')"))
    for engine in (app_engine, owner_engine):  # not even the owner may rewrite history
        for stmt in ("UPDATE audit.log SET actor = 'x'", "DELETE FROM audit.log", "TRUNCATE audit.log"):
            with engine.begin() as conn, pytest.raises(DBAPIError):
                conn.execute(text(stmt))
    with app_engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM audit.log WHERE action = 'test.append'")).scalar_one()
            >= 1
        )


def test_people_layer_can_never_be_published(app_engine, seeded):
    with app_engine.begin() as conn, pytest.raises(DBAPIError) as err:
        conn.execute(
            text("UPDATE gis.layer SET visibility = 'public' WHERE slug = :s"),
            {"s": seeded.slugs["restricted"]},
        )
    assert "check constraint" in str(err.value)


def test_geometries_are_4326_typmod_and_validity_checked(owner_engine):
    with owner_engine.connect() as conn:
        cols = conn.execute(
            text(
                "SELECT f_table_schema, f_table_name, f_geometry_column, srid FROM geometry_columns "
                "WHERE f_table_schema IN ('gis', 'sensor', 'restricted')"
            )
        ).all()
        checks = {
            r[0]
            for r in conn.execute(
                text(
                    "SELECT conrelid::regclass::text FROM pg_constraint WHERE contype = 'c' "
                    "AND pg_get_constraintdef(oid) ILIKE '%st_isvalid%'"
                )
            )
        }
        generated = {
            (r[0], r[1])
            for r in conn.execute(
                text(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = 'gis' AND is_generated = 'ALWAYS'"
                )
            )
        }
    stored = [c for c in cols if c.f_geometry_column != "geom_3857"]
    assert stored and all(c.srid == 4326 for c in stored), stored
    for c in stored:
        if (c.f_table_schema, c.f_table_name) != ("sensor", "radio_position"):  # points are always valid
            assert f"{c.f_table_schema}.{c.f_table_name}" in checks, c
    # The Web Mercator copies for tiles (migration 0006) are derived by PostgreSQL, never written.
    copies = [c for c in cols if c.f_geometry_column == "geom_3857"]
    assert len(copies) == 5 and all(c.srid == 3857 for c in copies)
    assert all((c.f_table_name, "geom_3857") in generated for c in copies)


def test_public_role_cannot_define_functions_or_temp_objects(public_engine):
    """What makes the public views safe without security_barrier (migration 0004)."""
    for stmt in (
        "CREATE TEMP TABLE t (x int)",
        "CREATE FUNCTION pg_temp.leak(text) RETURNS bool LANGUAGE sql AS 'SELECT true'",
        "CREATE FUNCTION public.leak(text) RETURNS bool LANGUAGE sql AS 'SELECT true'",
        "CREATE FUNCTION pub.leak(text) RETURNS bool LANGUAGE sql AS 'SELECT true'",
    ):
        with public_engine.connect() as conn, pytest.raises(DBAPIError) as err:
            conn.execute(text(stmt))
        assert "permission denied" in str(err.value), stmt


def test_bbox_filters_on_public_views_can_use_the_spatial_index(public_engine):
    with public_engine.begin() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            conn.execute(
                text(
                    "EXPLAIN SELECT id FROM pub.road_segment "
                    "WHERE geom && ST_MakeEnvelope(139.29, 35.38, 139.30, 35.39, 4326)"
                )
            ).scalars()
        )
    assert "road_segment_geom_idx" in plan, plan


def test_reads_are_read_only_transactions_and_the_pool_forgets_it(settings):
    """gisapp.db.read_only (every read route's connection) opens its transaction READ ONLY in the
    BEGIN itself; the pooled connection is writable again for the next user of the pool."""
    engine = make_engine(settings.database_url, pool_size=1, max_overflow=0)  # one connection: the same
    try:
        with read_only(engine, ["staff"]) as conn:
            assert conn.execute(text("SHOW transaction_read_only")).scalar_one() == "on"
            assert conn.execute(text("SELECT current_setting('gisapp.roles', true)")).scalar_one() == "staff"
            with pytest.raises(DBAPIError) as err:
                conn.execute(text("UPDATE gis.layer SET revision = revision WHERE false"))
            assert "read-only transaction" in str(err.value)
        with engine.begin() as conn:
            assert conn.execute(text("SHOW transaction_read_only")).scalar_one() == "off"
        with read_only(engine) as conn:
            assert conn.execute(text("SHOW transaction_read_only")).scalar_one() == "on"
        # Back in the pool with the server's default (None), not False: psycopg would open every later
        # transaction with BEGIN READ WRITE, which a hot-standby replica refuses.
        with engine.connect() as conn:
            assert conn.connection.dbapi_connection.read_only is None
        with pytest.raises(ZeroDivisionError), read_only(engine) as conn:
            conn.execute(text("SELECT 1"))
            raise ZeroDivisionError  # a read route that fails half-way
        with engine.begin() as conn:
            assert conn.execute(text("SHOW transaction_read_only")).scalar_one() == "off"
    finally:
        engine.dispose()
