"""Apply Alembic migrations (the only way tables are created outside tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from gisapp.db import DatabaseNotConfigured
from gisapp.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(settings: Settings, revision: str = "head") -> None:
    if not settings.migration_database_url:
        raise DatabaseNotConfigured()
    command.upgrade(alembic_config(settings.migration_database_url), revision)


def downgrade(settings: Settings, revision: str) -> None:
    if not settings.migration_database_url:
        raise DatabaseNotConfigured()
    command.downgrade(alembic_config(settings.migration_database_url), revision)
