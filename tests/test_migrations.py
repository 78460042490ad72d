"""Alembic: up, down to nothing, and up again, on a database of its own."""

from __future__ import annotations

import psycopg
from alembic.script import ScriptDirectory
from psycopg import sql
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from gisapp import migrate
from gisapp.localstack import LocalStack


def test_upgrade_downgrade_upgrade(settings):
    stack = LocalStack(settings)
    name = "gisapp_migration_test"
    with psycopg.connect(stack.superuser_dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER gisapp_owner").format(sql.Identifier(name)))
    with psycopg.connect(stack.superuser_dsn(name), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")
    url = make_url(settings.migration_database_url).set(database=name).render_as_string(hide_password=False)
    s = settings.model_copy(update={"migration_database_url": url})
    engine = create_engine(url)
    try:
        migrate.upgrade(s)
        assert {"core", "gis", "sensor", "ingest", "restricted", "audit", "pub"} <= set(
            inspect(engine).get_schema_names()
        )
        migrate.downgrade(s, "base")
        assert "gis" not in inspect(engine).get_schema_names()
        migrate.upgrade(s)
        with engine.connect() as conn:
            head = ScriptDirectory.from_config(migrate.alembic_config(url)).get_current_head()
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head
    finally:
        engine.dispose()
        with psycopg.connect(stack.superuser_dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
