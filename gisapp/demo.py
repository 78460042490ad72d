"""`gisapp demo load`: departments, demo staff accounts, demo layers and devices.

Deterministic data (see layers/demo.py); the passwords of demo accounts and devices are generated
per install and kept in the data directory (mode 600), never in the repository. Running it again
replaces the demo layers and keeps existing passwords, so running simulators stay connected.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text

from common import audit
from gisapp import auth
from gisapp.db import set_roles
from gisapp.ops import evac_info
from layers import demo as layer_demo
from sensors import demo as sensors_demo
from sensors import registry

DEMO_USERS = [
    # username, display name, department code, roles
    ("admin", "管理者（デモ）", "crisis", ["admin"]),
    ("hq", "本部オペレーター（デモ）", "crisis", ["hq_operator"]),
    ("road", "道路整備課職員（デモ）", "road", ["staff"]),
    ("welfare", "福祉総務課 要支援者担当（デモ）", "welfare", ["staff", "welfare"]),
]


@dataclass
class DemoResult:
    counts: dict[str, int]
    users_file: Path
    devices_file: Path


def _read_secret_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


def _write_secret_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, ensure_ascii=False, indent=2)
    tmp.replace(path)


def load(engine: Engine, data_dir: Path, *, scale: int = 1) -> DemoResult:
    if scale < 1:
        raise ValueError("--scale は 1 以上 / --scale must be at least 1")
    users_file = data_dir / "demo-users.json"
    devices_file = data_dir / "devices.json"
    user_pw = _read_secret_json(users_file)
    device_creds = _read_secret_json(devices_file)

    with engine.begin() as conn:
        set_roles(conn, ["admin"])
        for code, name_ja, name_en in layer_demo.DEPARTMENTS:
            conn.execute(
                text(
                    """INSERT INTO core.department (code, name_ja, name_en) VALUES (:c, :ja, :en)
                       ON CONFLICT (code) DO UPDATE SET name_ja = EXCLUDED.name_ja, name_en = EXCLUDED.name_en"""
                ),
                {"c": code, "ja": name_ja, "en": name_en},
            )
        dept_ids = dict(conn.execute(text("SELECT code, id FROM core.department")).all())

        for username, display, dept, roles in DEMO_USERS:
            user_pw.setdefault(username, secrets.token_urlsafe(12))
            auth.create_user(conn, username, display, user_pw[username], roles, dept_ids[dept], actor="demo")

        counts = layer_demo.load(conn, dept_ids, scale=scale)

        specs = sensors_demo.device_specs(dept_ids, scale=scale)
        # Devices an earlier, larger demo load created: off the air (and off the broker), not deleted,
        # so their recorded positions stay for review.
        stale = sorted(set(device_creds) - {spec.id for spec in specs})
        if stale:
            registry.disable_devices(conn, stale)
            for device_id in stale:
                del device_creds[device_id]
        for spec in specs:
            password = registry.ensure_device(conn, spec)
            if password is None and spec.id not in device_creds:
                password = registry.rotate_password(conn, spec.id)  # credentials file was lost
            entry = device_creds.get(spec.id, {})
            if password is not None:
                entry["password"] = password
            entry.update(kind=spec.kind.value, name=spec.name, lon=spec.lon, lat=spec.lat)
            device_creds[spec.id] = entry
        counts["devices"] = len(device_creds)
        # 避難情報: the areas orders target and the demo city's 発令基準 (criteria name gauges).
        counts["evacuation_areas"] = evac_info.sync_areas_from_layer(conn)
        counts["issuance_criteria"] = evac_info.load_demo_criteria(conn)
        audit.record(conn, "demo", "demo.load", "", scale=scale, counts=counts)

    # Only after the commit: a failed load leaves the previous files as they were.
    _write_secret_json(users_file, user_pw)
    _write_secret_json(devices_file, device_creds)
    return DemoResult(counts, users_file, devices_file)
