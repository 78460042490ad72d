"""The world of the OGC conformance suites (tests/test_ogc_conformance*.py): one department, two public
generic layers made here with names of their own, served by the in-process public and internal apps.

- ``yaizu``: points in 焼津 (JGD2011 plane rectangular zone VIII, declared source CRS EPSG:6676), one in
  伊勢原, and two either side of the antimeridian (lon 175 and -175), so a bbox across it has something
  to find on each side.
- ``jgd2000``: one point, declared source CRS JGD2000 zone VIII (EPSG:2450).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, text

from tests.fixtures_data import Seed, seed

YAIZU_POINTS = {  # source_key -> (lon, lat)
    "yaizu-port": (138.3190, 34.8660),
    "yaizu-station": (138.3180, 34.8670),
    "yaizu-hall": (138.3230, 34.8680),
    "isehara": (139.3150, 35.4030),
    "east-of-180": (175.0, 35.0),
    "west-of-180": (-175.0, 35.0),
}


@dataclass(frozen=True)
class World:
    seed: Seed
    yaizu: str
    jgd2000: str
    ids: dict[str, int]  # source_key -> feature id


def _layer(conn, slug: str, dept_id: int, source_crs: str) -> int:
    return conn.execute(
        text(
            """INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind,
                                      geometry_type, source_crs)
               VALUES (:slug, '適合試験', 'Conformance test', :dept, 'public', 'generic', 'Point', :crs)
               RETURNING id"""
        ),
        {"slug": slug, "dept": dept_id, "crs": source_crs},
    ).scalar_one()


def make_world(engine: Engine, tag: str) -> World:
    seeded = seed(engine, tag)
    suffix = secrets.token_hex(3)
    yaizu, jgd2000 = f"{tag}-yaizu-{suffix}", f"{tag}-jgd2000-{suffix}"
    ids = {}
    with engine.begin() as conn:
        yaizu_id = _layer(conn, yaizu, seeded.dept_id, "EPSG:6676")
        for n, (key, (lon, lat)) in enumerate(YAIZU_POINTS.items()):
            ids[key] = conn.execute(
                text(
                    """INSERT INTO gis.feature (layer_id, source_key, properties, geom)
                       VALUES (:l, :k, jsonb_build_object('name', CAST(:k AS text), 'n', CAST(:n AS int)),
                               ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) RETURNING id"""
                ),
                {"l": yaizu_id, "k": key, "n": n, "lon": lon, "lat": lat},
            ).scalar_one()
        old_id = _layer(conn, jgd2000, seeded.dept_id, "EPSG:2450")
        conn.execute(
            text(
                """INSERT INTO gis.feature (layer_id, source_key, properties, geom)
                   VALUES (:l, 'one', '{}', ST_SetSRID(ST_MakePoint(138.32, 34.87), 4326))"""
            ),
            {"l": old_id},
        )
    return World(seeded, yaizu, jgd2000, ids)
