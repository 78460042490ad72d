"""Small, explicit fixtures: a department, staff accounts and one layer per visibility level."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

from gisapp import auth
from gisapp.db import set_roles


@dataclass(frozen=True)
class Seed:
    tag: str
    dept_id: int
    passwords: dict[str, str]
    slugs: dict[str, str]  # visibility -> layer slug

    def bearer(self, client, who: str) -> dict[str, str]:
        """Log in as one of the seeded accounts ('staff', 'hq', 'welfare', 'admin'): request headers."""
        r = client.post(
            "/api/auth/login", json={"username": f"{self.tag}-{who}", "password": self.passwords[who]}
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


def seed(engine: Engine, tag: str) -> Seed:
    """Idempotent per tag, so several test modules can share one database."""
    passwords = {}
    with engine.begin() as conn:
        set_roles(conn, ["admin"])
        dept_id = conn.execute(
            text(
                """INSERT INTO core.department (code, name_ja, name_en) VALUES (:c, 'テスト課', 'Test division')
                   ON CONFLICT (code) DO UPDATE SET name_en = EXCLUDED.name_en RETURNING id"""
            ),
            {"c": f"test_{tag}"},
        ).scalar_one()
        for name, roles in {
            "staff": ["staff"],
            "hq": ["hq_operator"],
            "welfare": ["staff", "welfare"],
            "admin": ["admin"],
        }.items():
            passwords[name] = secrets.token_urlsafe(10)
            auth.create_user(conn, f"{tag}-{name}", f"{name} ({tag})", passwords[name], roles, dept_id)
        slugs = {}
        for visibility in ("public", "internal"):
            slugs[visibility] = _generic_layer(conn, f"{tag}-{visibility}", visibility, dept_id)
        slugs["restricted"] = _people_layer(conn, f"{tag}-restricted", dept_id)
    return Seed(tag, dept_id, passwords, slugs)


def _layer(conn: Connection, slug: str, visibility: str, kind: str, geometry_type: str, dept_id: int) -> int:
    return conn.execute(
        text(
            """INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind,
                                      geometry_type)
               VALUES (:slug, :ja, :en, :dept, :vis, :kind, :gt)
               ON CONFLICT (slug) DO UPDATE SET visibility = EXCLUDED.visibility RETURNING id"""
        ),
        {
            "slug": slug,
            "ja": f"テスト {visibility}",
            "en": f"Test {visibility}",
            "dept": dept_id,
            "vis": visibility,
            "kind": kind,
            "gt": geometry_type,
        },
    ).scalar_one()


def _generic_layer(conn: Connection, slug: str, visibility: str, dept_id: int) -> str:
    layer_id = _layer(conn, slug, visibility, "generic", "Point", dept_id)
    conn.execute(
        text(
            """INSERT INTO gis.feature (layer_id, source_key, properties, geom)
               VALUES (:l, 'k1', jsonb_build_object('name', CAST(:name AS text)), ST_SetSRID(ST_MakePoint(139.31, 35.40), 4326))
               ON CONFLICT (layer_id, source_key) DO NOTHING"""
        ),
        {"l": layer_id, "name": f"{visibility}-canary-{slug}"},
    )
    return slug


def _people_layer(conn: Connection, slug: str, dept_id: int) -> str:
    layer_id = _layer(conn, slug, "restricted", "person_needing_help", "Point", dept_id)
    conn.execute(
        text(
            """INSERT INTO restricted.person_needing_help (layer_id, external_id, name, care_category, consent, geom)
               VALUES (:l, 'p1', :name, '要介護3', true, ST_SetSRID(ST_MakePoint(139.30, 35.39), 4326))
               ON CONFLICT (layer_id, external_id) DO NOTHING"""
        ),
        {"l": layer_id, "name": f"CANARY-PERSON-{slug}"},
    )
    return slug
