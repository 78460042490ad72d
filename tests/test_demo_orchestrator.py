"""`gisapp demo load`: accounts and device credentials per install, kept across runs; scaling down
takes the extra demo devices off the air."""

from __future__ import annotations

import json
import stat

import pytest
from sqlalchemy import text

from gisapp import auth, demo
from gisapp.db import transaction


def test_demo_load_keeps_passwords_and_disables_devices_it_no_longer_has(app_engine, tmp_path):
    first = demo.load(app_engine, tmp_path, scale=2)
    users = json.loads(first.users_file.read_text())
    devices = json.loads(first.devices_file.read_text())
    assert stat.S_IMODE(first.users_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(first.devices_file.stat().st_mode) == 0o600
    assert len([d for d in devices.values() if d["kind"] == "radio_unit"]) == 80

    second = demo.load(app_engine, tmp_path, scale=1)
    assert json.loads(second.users_file.read_text()) == users  # same logins after a re-run
    now = json.loads(second.devices_file.read_text())
    assert len([d for d in now.values() if d["kind"] == "radio_unit"]) == 40
    assert all(now[k]["password"] == devices[k]["password"] for k in now)
    with app_engine.connect() as conn:
        enabled = dict(conn.execute(text("SELECT id, enabled FROM sensor.device WHERE id LIKE 'R0%'")).all())
    assert enabled["R040"] and not enabled["R080"]

    with transaction(app_engine) as conn:
        user = auth.authenticate(conn, "hq", users["hq"])
    assert user is not None and "hq_operator" in user.roles


def test_demo_load_rejects_a_bad_scale(app_engine, tmp_path):
    with pytest.raises(ValueError):
        demo.load(app_engine, tmp_path, scale=0)
    assert not (tmp_path / "demo-users.json").exists()
