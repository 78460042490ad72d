"""Helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def count(engine: Engine, sql: str, **params) -> int:
    with engine.begin() as conn:
        conn.execute(text("SELECT set_config('gisapp.roles', 'admin', true)"))
        return conn.execute(text(sql), params).scalar_one()


def shared_data(*parts: str) -> Path:
    """A file from ../shared/data: fail clearly in CI when missing, skip elsewhere."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        msg = f"shared data not found: {path} (tests read ../shared/data beside the repository)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return path
