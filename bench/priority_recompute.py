"""Priority recompute for people needing evacuation help: 100,000 people over 10,000 hazard polygons.

A fresh local stack gets 10,000 hazard polygons (土砂災害特別警戒区域 / 警戒区域 / 洪水 / 内水 with depth
ranks; 32-vertex rings of 30–600 m radius, overlapping as real ones do) and 100,000 people spread over
a 30 × 28 km area, plus 50 water gauges of which 10 are in alert (避難判断水位), and ``--orders`` active
evacuation orders (避難情報, 2 km squares, landslide and flood alternately). Measured, each as the
median of ``--runs`` runs, PostgreSQL's buffers warm:

- gisapp: the whole ranking in the database (``gisapp.ops.people`` query: the worst hazard per person
  stored in ``restricted.person_hazard`` (migrations 0018, 0024), people within 2 km of a gauge in
  alert of their hazard and under an active order of their hazard — the live part, computed per
  request — and one window ranking), as the registry keeper (every person, under row-level security); the same as welfare (the
  consent filter of RLS); the top 100 as the API returns them; all 100,000 rows fetched to Python;
  and the full hazard overlay that refreshes ``restricted.person_hazard`` when a hazard layer changes
  (a residence that moves refreshes its own row only).
- peer 1, geopandas: read people and hazard areas with ``read_postgis``, ``sjoin`` (STRtree), worst
  hazard per person with pandas, gauge distances with ``sjoin_nearest``-free buffered ``sjoin`` in
  EPSG:6677, the same sort — timed with and without the load.
- peer 2, one query per person (the naive ORM habit), on a 2,000-person sample, extrapolated.

    .venv/bin/python bench/priority_recompute.py [--runs 5] [--people 100000] [--hazards 10000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, text

from bench import _stack
from gisapp.db import make_engine, transaction
from gisapp.ops import people

BBOX = (139.20, 35.30, 139.53, 35.55)  # lon0, lat0, lon1, lat1

SETUP = """
INSERT INTO core.department (code, name_ja, name_en) VALUES ('bench', 'ベンチ課', 'Bench') ON CONFLICT DO NOTHING;
INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind, geometry_type)
SELECT 'bench-hazards', 'ハザード', 'hazards', id, 'internal', 'hazard_area', 'MultiPolygon'
FROM core.department WHERE code = 'bench';
INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind, geometry_type)
SELECT 'bench-people', '要支援者', 'people', id, 'restricted', 'person_needing_help', 'Point'
FROM core.department WHERE code = 'bench';
"""
HAZARDS = """
INSERT INTO gis.hazard_area (layer_id, hazard_type, depth_rank, geom)
SELECT (SELECT id FROM gis.layer WHERE slug = 'bench-hazards'), t.hazard_type,
       CASE WHEN t.hazard_type LIKE '%flood' THEN (ARRAY['3.0〜5.0m', '0.5〜3.0m', '0.5m未満'])[1 + i % 3] END,
       ST_Multi(ST_Transform(ST_Buffer(ST_Transform(ST_SetSRID(ST_MakePoint(
         :x0 + random() * (:x1 - :x0), :y0 + random() * (:y1 - :y0)), 4326), 6677),
         CASE WHEN t.hazard_type LIKE 'landslide%' THEN 30 + random() * 120 ELSE 150 + random() * 450 END,
         'quad_segs=8'), 4326))
FROM generate_series(1, :n) i
CROSS JOIN LATERAL (SELECT (ARRAY['landslide_special', 'landslide_warning', 'landslide_warning', 'flood',
                                  'flood', 'inland_flood'])[1 + i % 6] AS hazard_type) t
"""
PEOPLE = """
INSERT INTO restricted.person_needing_help (layer_id, external_id, name, birth_year, address, community_area,
  care_category, consent, geom)
SELECT (SELECT id FROM gis.layer WHERE slug = 'bench-people'), 'B' || i, 'ベンチ ' || i || '（架空）',
       1925 + (i % 80), '架空市', 'ベンチ町' || (i % 200) || '丁目',
       (ARRAY['要介護5', '要介護3', '身体障害1級', '独居高齢者', '高齢者のみ世帯', '難病'])[1 + i % 6], i % 5 <> 0,
       ST_SetSRID(ST_MakePoint(:x0 + random() * (:x1 - :x0), :y0 + random() * (:y1 - :y0)), 4326)
FROM generate_series(1, :n) i
"""
GAUGES = """
INSERT INTO sensor.device (id, kind, name, location, mqtt_password_hash)
SELECT 'bench-gauge-' || i, 'water_gauge', 'ベンチ水位計', ST_SetSRID(ST_MakePoint(
  :x0 + random() * (:x1 - :x0), :y0 + random() * (:y1 - :y0)), 4326), 'x' FROM generate_series(1, 50) i;
INSERT INTO sensor.gauge_state (device_id, as_of, level, levels)
SELECT id, now(), 3.2, CASE WHEN right(id, 1) = '0' THEN '{"level_m": "避難判断水位"}'::jsonb
                            ELSE '{"level_m": null}'::jsonb END
FROM sensor.device WHERE id LIKE 'bench-gauge-%';
"""
ORDERS = """
INSERT INTO ops.evac_order (level, hazard, area_codes, area_names, geom, reason, issued_by, updated_by)
SELECT 3 + i % 3, CASE WHEN i % 2 = 0 THEN 'landslide' ELSE 'flood' END, '{}', '{}',
       ST_Multi(ST_Transform(ST_Buffer(ST_Transform(ST_SetSRID(ST_MakePoint(
         :x0 + random() * (:x1 - :x0), :y0 + random() * (:y1 - :y0)), 4326), 6677), 1000, 'endcap=square'), 4326)),
       'bench', 'bench', 'bench'
FROM generate_series(1, :n) i
"""
IN_ALERT = ("避難判断水位", "氾濫危険水位")  # the peer's notion of a gauge in alert (any hazard)


def median_s(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def build(engine: Engine, n_people: int, n_hazards: int, n_orders: int) -> None:
    box = dict(zip(("x0", "y0", "x1", "y1"), BBOX, strict=True))
    with transaction(engine, ["admin"]) as conn:
        conn.execute(text("SELECT setseed(0.42)"))
        for statement in SETUP.strip().split(";\n"):
            conn.execute(text(statement))
        conn.execute(text(HAZARDS), {**box, "n": n_hazards})
        conn.execute(text(PEOPLE), {**box, "n": n_people})
        for statement in GAUGES.strip().split(";\n"):
            conn.execute(text(statement), box)
        conn.execute(text(ORDERS), {**box, "n": n_orders})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE gis.hazard_area"))
        conn.execute(text("VACUUM ANALYZE restricted.person_needing_help"))


def whole_ranking(engine: Engine, roles: list[str]) -> Callable[[], tuple[int, int]]:
    """The full ranking computed in the database; only its size comes back."""
    sql = text(f"SELECT count(*), max(priority) FROM ({people._PRIORITY}) q")  # noqa: S608 -- own constant

    def run() -> tuple[int, int]:
        with transaction(engine, roles) as conn:
            people.tune(conn)
            return tuple(conn.execute(sql, {"area": None, "limit": None, "radius": people.NEAR_GAUGE_M,
                                            "alert_min": people.ALERT_MIN_LEVEL}).one())  # fmt: skip

    return run


def full_refresh(engine: Engine) -> Callable[[], int]:
    def run() -> int:
        with engine.begin() as conn:
            conn.execute(text("SELECT restricted.refresh_person_hazard(NULL)"))
            return conn.execute(text("SELECT count(*) FROM restricted.person_hazard")).scalar_one()

    return run


def gisapp_rows(engine: Engine, limit: int | None) -> Callable[[], int]:
    def run() -> int:
        with transaction(engine, ["admin"]) as conn:
            return len(people.priority(conn, "bench", limit=limit))  # audited like every read

    return run


def geopandas_peer(engine: Engine) -> tuple[Callable[[], object], Callable[[object], int]]:
    import geopandas as gpd
    import pandas as pd

    def load() -> tuple:
        with transaction(engine, ["admin"]) as conn:
            ppl = gpd.read_postgis(
                "SELECT id, care_severity, birth_year, geom FROM restricted.person_needing_help",
                conn,
                geom_col="geom",
            )
            haz = gpd.read_postgis(
                "SELECT id AS hazard_id, restricted.hazard_rank(hazard_type, depth_rank) AS rank, geom"
                " FROM gis.hazard_area",
                conn,
                geom_col="geom",
            )
            gauges = gpd.read_postgis(
                text(
                    "SELECT d.id AS gauge_id, d.location FROM sensor.device d JOIN sensor.gauge_state s"
                    " ON s.device_id = d.id WHERE EXISTS (SELECT 1 FROM jsonb_each_text(s.levels) l"
                    " WHERE l.value = ANY(:lv))"
                ),
                conn,
                geom_col="location",
                params={"lv": list(IN_ALERT)},
            )
        return ppl, haz, gauges

    def overlay(data: object) -> int:
        ppl, haz, gauges = data
        hit = gpd.sjoin(ppl, haz, how="left", predicate="intersects")
        worst = hit.groupby("id")["rank"].min().fillna(6).astype(int)
        ranked = ppl.set_index("id").join(worst.rename("hazard_rank"))
        buffers = gauges.to_crs(6677).buffer(people.NEAR_GAUGE_M).to_crs(4326)
        near_ids = gpd.sjoin(ppl, gpd.GeoDataFrame(geometry=buffers), predicate="within")["id"].unique()
        ranked["near"] = ranked.index.isin(near_ids)
        ranked["raised"] = ranked["near"] & (ranked["hazard_rank"] < 6)
        ranked = ranked.sort_values(
            ["raised", "hazard_rank", "near", "care_severity", "birth_year"],
            ascending=[False, True, False, True, True],
        )
        return len(pd.RangeIndex(len(ranked)))

    return load, overlay


def per_person_peer(engine: Engine, sample: int) -> Callable[[], int]:
    one = text(
        "SELECT min(restricted.hazard_rank(hazard_type, depth_rank)) FROM gis.hazard_area h"
        " WHERE ST_Intersects(h.geom, (SELECT geom FROM restricted.person_needing_help WHERE id = :id))"
    )

    def run() -> int:
        with transaction(engine, ["admin"]) as conn:
            ids = conn.execute(
                text("SELECT id FROM restricted.person_needing_help ORDER BY id LIMIT :n"), {"n": sample}
            )
            return sum(1 for i in ids.scalars().all() if conn.execute(one, {"id": i}).scalar() is not None)

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--hazards", type=int, default=10_000)
    ap.add_argument("--orders", type=int, default=20, help="active evacuation orders")
    ap.add_argument("--sample", type=int, default=2_000, help="people for the per-person peer")
    a = ap.parse_args()
    root, stack, settings = _stack.start("bench-priority-")
    engine = make_engine(settings.database_url)
    try:
        t = time.perf_counter()
        build(engine, a.people, a.hazards, a.orders)
        print(
            f"built {a.people:,} people, {a.hazards:,} hazard polygons, {a.orders} orders in {time.perf_counter() - t:.1f} s"
        )
        whole_ranking(engine, ["admin"])()  # warm the buffers
        for label, fn in (
            ("gisapp whole ranking, keeper (all people)", whole_ranking(engine, ["admin"])),
            ("gisapp whole ranking, welfare (consent via RLS)", whole_ranking(engine, ["staff", "welfare"])),
            ("gisapp top 100 (the API's list)", gisapp_rows(engine, 100)),
            ("gisapp all rows fetched to Python", gisapp_rows(engine, None)),
            ("gisapp full overlay refresh (a hazard layer changed)", full_refresh(engine)),
        ):
            s, out = median_s(fn, a.runs)
            print(f"{label:<52} median {s * 1000:8.1f} ms   ({out})")
        load, overlay = geopandas_peer(engine)
        s_load, data = median_s(load, a.runs)
        s_overlay, n = median_s(lambda: overlay(data), a.runs)
        print(f"{'peer geopandas: read_postgis':<52} median {s_load * 1000:8.1f} ms")
        print(f"{'peer geopandas: sjoin + rank':<52} median {s_overlay * 1000:8.1f} ms   ({n})")
        print(f"{'peer geopandas: total':<52}        {(s_load + s_overlay) * 1000:8.1f} ms")
        s, found = median_s(per_person_peer(engine, a.sample), max(1, a.runs // 2))
        print(
            f"{'peer one query per person':<52} {a.sample:,} people {s * 1000:8.1f} ms"
            f" -> {a.people:,} people ≈ {s * a.people / a.sample:6.1f} s   ({found} in a hazard area)"
        )
    finally:
        engine.dispose()
        _stack.stop(root, stack)


if __name__ == "__main__":
    main()
