"""The 伊勢原市 demo data (layers/demo.py) against the real PostGIS: counts, determinism, geometry,
visibility through the public role, and the consistency the later analyses rely on."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import ProgrammingError

from gisapp.db import transaction
from layers import demo
from layers.demo_people import CARE_CATEGORIES
from sensors import demo as sensors_demo
from sensors.registry import DeviceKind

SCALED = {"road-ledger": 120, "shelters": 30, "sewer-pipes": 80, "people-needing-help": 2200}
# One ordered dump per table without surrogate ids and timestamps (count + md5), and its bad geometries
# (invalid or outside the Isehara demo bbox).
DUMP = text(
    """WITH demo AS (
         SELECT 'gis.road_segment' AS tbl, t.layer_id, t.geom, (to_jsonb(t) - 'id')::text AS r
         FROM gis.road_segment t
         UNION ALL SELECT 'gis.hazard_area', t.layer_id, t.geom, (to_jsonb(t) - 'id')::text FROM gis.hazard_area t
         UNION ALL SELECT 'gis.shelter', t.layer_id, t.geom, (to_jsonb(t) - 'id')::text FROM gis.shelter t
         UNION ALL SELECT 'gis.sewer_pipe', t.layer_id, t.geom, (to_jsonb(t) - 'id')::text FROM gis.sewer_pipe t
         UNION ALL SELECT 'restricted.person_needing_help', t.layer_id, t.geom,
                          (to_jsonb(t) - 'id' - 'updated_at')::text
                   FROM restricted.person_needing_help t)
       SELECT tbl, count(*) AS n,
              md5(string_agg(r || ST_AsHexEWKB(geom), E'\\n' ORDER BY r, ST_AsHexEWKB(geom))) AS md5,
              count(*) FILTER (WHERE NOT (ST_IsValid(geom)
                                          AND ST_Within(geom, ST_MakeEnvelope(139.25, 35.35, 139.35, 35.43, 4326))))
                AS bad
       FROM demo JOIN gis.layer l ON l.id = demo.layer_id WHERE l.slug = ANY(:slugs) GROUP BY tbl"""
)
TABLES = (
    "gis.road_segment",
    "gis.hazard_area",
    "gis.shelter",
    "gis.sewer_pipe",
    "restricted.person_needing_help",
)
SLUGS = [layer.slug for layer in demo.LAYERS]


@pytest.fixture(scope="module")
def dept_ids(app_engine: Engine) -> dict[str, int]:
    # The orchestrator (gisapp/demo.py) inserts these in real use.
    with app_engine.begin() as conn:
        for code, name_ja, name_en in demo.DEPARTMENTS:
            conn.execute(
                text(
                    "INSERT INTO core.department (code, name_ja, name_en) VALUES (:c, :ja, :en)"
                    " ON CONFLICT (code) DO NOTHING"
                ),
                {"c": code, "ja": name_ja, "en": name_en},
            )
        rows = conn.execute(
            text("SELECT code, id FROM core.department WHERE code = ANY(:codes)"),
            {"codes": [d[0] for d in demo.DEPARTMENTS]},
        )
        return dict(rows.all())


@pytest.fixture(scope="module")
def loaded(app_engine: Engine, dept_ids: dict[str, int]) -> dict[str, int]:
    with transaction(app_engine, ["admin"]) as conn:
        return demo.load(conn, dept_ids)


@pytest.fixture
def admin(app_engine: Engine) -> Iterator[Connection]:
    with transaction(app_engine, ["admin"]) as conn:
        yield conn


def dumps(conn: Connection) -> dict[str, tuple[int, str]]:
    return {r.tbl: (r.n, r.md5) for r in conn.execute(DUMP, {"slugs": SLUGS})}


def layer_id(conn: Connection, slug: str) -> int:
    return conn.execute(text("SELECT id FROM gis.layer WHERE slug = :s"), {"s": slug}).scalar_one()


def test_counts_at_scale_1(loaded: dict[str, int], admin: Connection) -> None:
    assert {k: loaded[k] for k in SCALED} == SCALED
    assert loaded["landslide-areas"] >= 15 and loaded["flood-areas"] == 6
    stored = dumps(admin)
    assert stored["gis.road_segment"][0] == 120
    assert stored["gis.hazard_area"][0] == loaded["landslide-areas"] + loaded["flood-areas"]
    assert stored["gis.shelter"][0] == 30
    assert stored["gis.sewer_pipe"][0] == 80
    assert stored["restricted.person_needing_help"][0] == 2200


def test_rerun_is_identical_and_keeps_ids(
    loaded: dict[str, int], app_engine: Engine, dept_ids: dict[str, int]
) -> None:
    ids_sql = text(
        "SELECT (SELECT array_agg(id ORDER BY code) FROM gis.shelter),"
        " (SELECT array_agg(id ORDER BY external_id) FROM restricted.person_needing_help)"
    )
    with transaction(app_engine, ["admin"]) as conn:
        before, ids_before = dumps(conn), conn.execute(ids_sql).one()
    with transaction(app_engine, ["admin"]) as conn:
        assert demo.load(conn, dept_ids) == loaded
    with transaction(app_engine, ["admin"]) as conn:
        assert dumps(conn) == before  # same rows, no duplicates
        assert conn.execute(ids_sql).one() == ids_before  # what refers to a shelter or person survives


def test_generate_is_deterministic_per_seed() -> None:
    a, b = demo.generate(), demo.generate()
    assert a == b
    assert demo.generate(seed=1).people != a.people
    assert sensors_demo.device_specs({"crisis": 1}) == sensors_demo.device_specs({"crisis": 1})
    with pytest.raises(ValueError):
        demo.generate(scale=0)


def test_geometries_valid_and_inside_isehara(loaded: dict[str, int], admin: Connection) -> None:
    bad = {r.tbl: r.bad for r in admin.execute(DUMP, {"slugs": SLUGS})}
    assert bad == dict.fromkeys(TABLES, 0)


def test_layer_catalog_rows(loaded: dict[str, int], admin: Connection, dept_ids: dict[str, int]) -> None:
    rows = admin.execute(
        text(
            "SELECT slug, visibility, kind, geometry_type, owner_department_id, source, licence"
            " FROM gis.layer WHERE slug = ANY(:slugs)"
        ),
        {"slugs": SLUGS},
    ).all()
    got = {r.slug: r for r in rows}
    for layer in demo.LAYERS:
        r = got[layer.slug]
        assert (r.visibility, r.kind, r.geometry_type) == (layer.visibility, layer.kind, layer.geometry_type)
        assert r.owner_department_id == dept_ids[layer.department]
        assert (r.source, r.licence) == (demo.SOURCE, demo.LICENCE)
    assert got["sewer-pipes"].visibility == "internal"
    assert got["people-needing-help"].visibility == "restricted"


def test_scale_2_doubles(loaded: dict[str, int], app_engine: Engine, dept_ids: dict[str, int]) -> None:
    with app_engine.connect() as conn, conn.begin() as tx:
        conn.execute(text("SELECT set_config('gisapp.roles', 'admin', true)"))
        scale_1 = dumps(conn)
        counts = demo.load(conn, dept_ids, scale=2)
        stored = dumps(conn)
        demo.load(conn, dept_ids, scale=1)  # back down: the extra rows are pruned
        assert dumps(conn) == scale_1
        tx.rollback()  # leave the committed scale-1 demo to the other tests
    assert {k: counts[k] for k in SCALED} == {k: 2 * v for k, v in SCALED.items()}
    assert stored["restricted.person_needing_help"][0] == 4400
    assert stored["gis.road_segment"][0] == 240


def test_public_role_sees_published_layers_only(
    loaded: dict[str, int], public_engine: Engine, admin: Connection
):
    sewer_id = layer_id(admin, "sewer-pipes")
    with public_engine.begin() as conn:
        slugs = set(conn.execute(text("SELECT slug FROM pub.layer")).scalars())
        assert {"road-ledger", "landslide-areas", "flood-areas", "shelters"} <= slugs
        assert not slugs & {"sewer-pipes", "people-needing-help"}
        assert conn.execute(text("SELECT count(*) FROM pub.shelter")).scalar_one() >= 30
        assert conn.execute(text("SELECT count(*) FROM pub.road_segment")).scalar_one() >= 120
        n = conn.execute(text("SELECT count(*) FROM pub.sewer_pipe WHERE layer_id = :l"), {"l": sewer_id})
        assert n.scalar_one() == 0
    for sql in (
        "SELECT count(*) FROM restricted.person_needing_help",
        "SELECT count(*) FROM gis.sewer_pipe",
        "SELECT count(*) FROM gis.shelter",
    ):
        with public_engine.connect() as conn, pytest.raises(ProgrammingError, match="permission denied"):
            conn.execute(text(sql))


def test_people_only_with_a_named_role(loaded: dict[str, int], app_engine: Engine) -> None:
    # Welfare sees those who consented (同意) outside disaster mode; admin keeps the whole registry.
    with transaction(app_engine, ["admin"]) as conn:
        consenting = conn.execute(
            text(
                "SELECT count(*) FROM restricted.person_needing_help p JOIN gis.layer l ON l.id = p.layer_id"
                " WHERE l.slug = 'people-needing-help' AND p.consent"
            )
        ).scalar_one()
    assert 0 < consenting < 2200
    for roles, expected in (([], 0), (["staff"], 0), (["welfare"], consenting), (["admin"], 2200)):
        with transaction(app_engine, roles) as conn:
            n = conn.execute(
                text(
                    "SELECT count(*) FROM restricted.person_needing_help p JOIN gis.layer l ON l.id = p.layer_id"
                    " WHERE l.slug = 'people-needing-help'"
                )
            ).scalar_one()
            assert n == expected, roles


def test_shelter_flags_match_hazard_areas(loaded: dict[str, int], admin: Connection) -> None:
    def inside(hazard: str, flag_true: bool) -> int:
        return admin.execute(
            text(
                "SELECT count(*) FROM gis.shelter s WHERE"
                " (CASE :hazard WHEN 'flood' THEN s.suits_flood ELSE s.suits_landslide END) = :flag"
                " AND EXISTS (SELECT 1 FROM gis.hazard_area h WHERE h.hazard_type LIKE :pattern"
                "             AND ST_Intersects(h.geom, s.geom))"
            ),
            {"hazard": hazard, "flag": flag_true, "pattern": f"{hazard}%"},
        ).scalar_one()

    assert inside("flood", True) == 0
    assert inside("landslide", True) == 0
    assert inside("flood", False) > 0 and inside("landslide", False) > 0  # the check is not vacuous


def test_people_are_fictitious_and_placed_plausibly(loaded: dict[str, int], admin: Connection) -> None:
    row = admin.execute(
        text(
            """SELECT count(*) AS n,
                 count(*) FILTER (WHERE name LIKE '%（架空）' AND address LIKE '伊勢原市デモ%（架空）'
                                  AND phone LIKE '000-0000-____') AS fictitious,
                 count(*) FILTER (WHERE consent) AS consent,
                 count(*) FILTER (WHERE jsonb_array_length(support_persons) > 2) AS too_many_supporters,
                 count(*) FILTER (WHERE care_category <> ALL(:categories)) AS odd_category,
                 count(*) FILTER (WHERE EXISTS (SELECT 1 FROM gis.hazard_area h WHERE h.hazard_type = 'flood'
                                                AND ST_Intersects(h.geom, p.geom))) AS in_flood,
                 count(*) FILTER (WHERE EXISTS (SELECT 1 FROM gis.hazard_area h
                                                WHERE h.hazard_type = 'landslide_warning'
                                                AND ST_Intersects(h.geom, p.geom))) AS in_landslide
               FROM restricted.person_needing_help p
               WHERE p.layer_id = (SELECT id FROM gis.layer WHERE slug = 'people-needing-help')"""
        ),
        {"categories": [c[0] for c in CARE_CATEGORIES]},
    ).one()
    assert row.n == row.fictitious == 2200
    assert 0.75 < row.consent / row.n < 0.85
    assert row.too_many_supporters == row.odd_category == 0
    assert row.in_flood / row.n > 0.15 and row.in_landslide / row.n > 0.05
    supporters = admin.execute(
        text(
            "SELECT count(*) FROM restricted.person_needing_help, jsonb_array_elements(support_persons) s"
            " WHERE s->>'name' NOT LIKE '%（架空）' OR s->>'phone' NOT LIKE '000-0000-%'"
        )
    ).scalar_one()
    assert supporters == 0


def test_road_network_is_connected(loaded: dict[str, int], admin: Connection) -> None:
    rows = admin.execute(
        text(
            "SELECT ST_AsText(ST_StartPoint(ST_GeometryN(geom, 1))), ST_AsText(ST_EndPoint(ST_GeometryN(geom, 1))),"
            " length_m, road_class, width_m, route_no FROM gis.road_segment r JOIN gis.layer l ON l.id = r.layer_id"
            " WHERE l.slug = 'road-ledger'"
        )
    ).all()
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for a, b, *_ in rows:
        parent[find(a)] = find(b)
    assert len({find(x) for x in parent}) == 1  # every segment meets the others at shared end points
    assert all(r.length_m > 50 and r.road_class in ("1級", "2級", "その他") and r.width_m > 0 for r in rows)
    assert all(re.fullmatch(r"[123]-\d{3}", r.route_no) for r in rows)


def test_device_specs(loaded: dict[str, int], admin: Connection, dept_ids: dict[str, int]) -> None:
    specs = sensors_demo.device_specs(dept_ids)
    by_kind = {k: [s for s in specs if s.kind == k] for k in DeviceKind}
    assert [s.id for s in by_kind[DeviceKind.rain_gauge]] == ["RG01", "RG02", "RG03", "RG04", "RG05"]
    assert [s.id for s in by_kind[DeviceKind.water_gauge]] == ["WL01", "WL02"]
    assert [s.id for s in by_kind[DeviceKind.radio_unit]] == [f"R{i:03d}" for i in range(1, 41)]
    assert len(sensors_demo.device_specs(dept_ids, scale=2)) == 2 * len(specs)
    for s in specs:
        assert 139.25 < s.lon < 139.35 and 35.35 < s.lat < 35.43
        assert s.owner_department_id == dept_ids["crisis"]
    rain = by_kind[DeviceKind.rain_gauge][0].thresholds
    assert rain["60min_mm"] == {"注意": 20, "警戒": 30, "危険": 50}
    assert {"10min_mm", "continuous_mm"} <= set(rain)
    for gauge in by_kind[DeviceKind.water_gauge]:
        levels = list(gauge.thresholds.values())
        assert list(gauge.thresholds) == ["水防団待機水位", "氾濫注意水位", "避難判断水位", "氾濫危険水位"]
        assert levels == sorted(set(levels))
    # Radio units start on a demo road; water gauges stand in their river (the deepest band).
    near = text(
        "SELECT count(*) FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[])) AS p(lon, lat)"
        " WHERE EXISTS (SELECT 1 FROM gis.road_segment r WHERE r.layer_id = :l"
        " AND ST_DWithin(CAST(r.geom AS geography), CAST(ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS geography), 1))"
    )
    radios = by_kind[DeviceKind.radio_unit]
    params = {
        "lons": [s.lon for s in radios],
        "lats": [s.lat for s in radios],
        "l": layer_id(admin, "road-ledger"),
    }
    assert admin.execute(near, params).scalar_one() == 40
    gauges = by_kind[DeviceKind.water_gauge]
    in_river = admin.execute(
        text(
            "SELECT count(*) FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[])) AS p(lon, lat)"
            " WHERE EXISTS (SELECT 1 FROM gis.hazard_area h WHERE h.depth_rank = '3.0〜5.0m'"
            " AND ST_Intersects(h.geom, ST_SetSRID(ST_MakePoint(lon, lat), 4326)))"
        ),
        {"lons": [s.lon for s in gauges], "lats": [s.lat for s in gauges]},
    ).scalar_one()
    assert in_river == 2
