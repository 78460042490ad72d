"""The printed situation map (状況図): how long an HQ waits for the PDF, and what the bounds buy.

A fresh local stack gets a city-sized load over 30 × 28 km in zone IX: ``--roads`` road segments
(12 vertices each, a grid of streets), ``--hazards`` hazard polygons (48-vertex rings), 町丁目 areas,
``--incidents`` incidents of one disaster with their status events, 40 open shelters with check-ins
and 150 radio units. Measured, each the median of ``--runs`` runs with PostgreSQL's buffers warm,
for an A3 landscape sheet of the whole city and of a 3 km district:

- gisapp: the domain (``gisapp.ops.situation_map``: the ground fitted to the frame, the basemap
  clipped and simplified to 0.2 mm on paper with ``BASEMAP_LIMIT`` features per source, the HQ's
  state at T) and the drawing (``gisapp.situation_pdf`` → reportlab), with the PDF's size;
- peer: the same sheet without the bounds (no simplification, no limits) — what the naive way of
  drawing every stored vertex costs in time and in file size (a printer spools the file).

    .venv/bin/python bench/situation_map.py [--runs 3] [--roads 40000] [--hazards 8000] [--incidents 2000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import shapely
from sqlalchemy import Engine, text

from bench import _stack
from gisapp import situation_pdf
from gisapp.db import make_engine, read_only
from gisapp.ops import situation_map
from layers.printmap.frame import lonlat_bounds

ROLES = ["hq_operator"]
# Zone IX metres of the synthetic city's south-west corner (near 伊勢原).
X0, Y0, WIDTH, HEIGHT = -62_000.0, -80_000.0, 30_000.0, 28_000.0


def load(engine: Engine, roads: int, hazards: int, incidents: int) -> int:
    side = int(roads**0.5)
    with engine.begin() as conn:
        conn.execute(text("SELECT set_config('gisapp.roles', 'admin', true)"))
        dept = conn.execute(
            text(
                "INSERT INTO core.department (code, name_ja, name_en) VALUES ('bench', 'ベンチ', 'Bench') RETURNING id"
            )
        ).scalar_one()

        def layer(slug: str, kind: str, gt: str) -> int:
            return conn.execute(
                text(
                    """INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind,
                                              geometry_type)
                       VALUES (:s, :s, :s, :d, 'public', :k, :g) RETURNING id"""
                ),
                {"s": slug, "d": dept, "k": kind, "g": gt},
            ).scalar_one()

        road_layer = layer("bench-roads", "road_segment", "MultiLineString")
        hazard_layer = layer("bench-hazards", "hazard_area", "MultiPolygon")
        shelter_layer = layer("bench-shelters", "shelter", "Point")
        params = {"x0": X0, "y0": Y0, "w": WIDTH, "h": HEIGHT, "side": side}
        # A wavy street per cell: 12 vertices over the cell's width.
        conn.execute(
            text(
                """INSERT INTO gis.road_segment (layer_id, route_no, route_name, road_class, geom)
                   SELECT :l, 'B' || i, '市道' || i, 'その他',
                          ST_Multi(ST_Transform(ST_SetSRID(ST_MakeLine(ARRAY(
                            SELECT ST_MakePoint(:x0 + (i % :side) * :w / :side + k * :w / :side / 11,
                                                :y0 + (i / :side) * :h / :side + 20 * sin(k + i))
                              FROM generate_series(0, 11) k)), 6677), 4326))
                     FROM generate_series(0, :n - 1) i"""
            ),
            {**params, "l": road_layer, "n": roads},
        )
        conn.execute(
            text(
                """INSERT INTO gis.hazard_area (layer_id, hazard_type, name, geom)
                   SELECT :l, (ARRAY['landslide_warning','landslide_special','flood','inland_flood'])[1 + i % 4],
                          'H' || i,
                          ST_Multi(ST_Transform(ST_SetSRID(ST_Buffer(ST_MakePoint(
                            :x0 + random() * :w, :y0 + random() * :h), 30 + random() * 400, 12), 6677), 4326))
                     FROM generate_series(1, :n) i"""
            ),
            {**params, "l": hazard_layer, "n": hazards},
        )
        conn.execute(
            text(
                """INSERT INTO ops.evac_area (code, name, geom)
                   SELECT 'B' || i || '-' || j, 'ベンチ' || i || '-' || j || '丁目',
                          ST_Multi(ST_Transform(ST_MakeEnvelope(:x0 + i * :w / 12, :y0 + j * :h / 12,
                            :x0 + (i + 1) * :w / 12, :y0 + (j + 1) * :h / 12, 6677), 4326))
                     FROM generate_series(0, 11) i, generate_series(0, 11) j"""
            ),
            params,
        )
        disaster = conn.execute(
            text("INSERT INTO ops.disaster (name, opened_by) VALUES ('ベンチ 豪雨', 'bench') RETURNING id")
        ).scalar_one()
        conn.execute(
            text(
                """WITH i AS (
                     INSERT INTO ops.incident (disaster_id, category, title, priority, source, geom, created_by,
                                               status)
                     SELECT :d, 'flooding', '冠水 ' || g, 1 + g % 5, 'staff',
                            ST_Transform(ST_SetSRID(ST_MakePoint(:x0 + random() * :w, :y0 + random() * :h), 6677),
                                         4326), 'bench',
                            (ARRAY['unhandled','in_progress','done'])[1 + g % 3]
                       FROM generate_series(1, :n) g RETURNING id, status)
                   INSERT INTO ops.incident_event (incident_id, actor, kind, to_status, version)
                   SELECT id, 'bench', 'created', status, 1 FROM i"""
            ),
            {**params, "d": disaster, "n": incidents},
        )
        conn.execute(
            text(
                """INSERT INTO gis.shelter (layer_id, code, name, capacity, geom)
                   SELECT :l, 'S' || g, '避難所' || g, 200,
                          ST_Transform(ST_SetSRID(ST_MakePoint(:x0 + random() * :w, :y0 + random() * :h), 6677), 4326)
                     FROM generate_series(1, 40) g"""
            ),
            {**params, "l": shelter_layer},
        )
        conn.execute(
            text(
                """INSERT INTO ops.shelter_opening (disaster_id, shelter_id, opened_by, responsible_staff)
                   SELECT :d, id, 'bench', 'ベンチ' FROM gis.shelter WHERE layer_id = :l"""
            ),
            {"d": disaster, "l": shelter_layer},
        )
        conn.execute(
            text(
                """INSERT INTO sensor.device (id, kind, name, mqtt_password_hash)
                   SELECT 'BENCH-U' || g, 'radio_unit', '隊' || g, '-' FROM generate_series(1, 150) g"""
            )
        )
        conn.execute(
            text(
                """INSERT INTO sensor.radio_position (device_id, device_ts, geom)
                   SELECT 'BENCH-U' || g, now() - interval '1 minute',
                          ST_Transform(ST_SetSRID(ST_MakePoint(:x0 + random() * :w, :y0 + random() * :h), 6677), 4326)
                     FROM generate_series(1, 150) g"""
            ),
            params,
        )
    return disaster


def measure(engine: Engine, srid: int, req: situation_map.PrintRequest) -> tuple[float, float, int, int]:
    """(domain ms, drawing ms, PDF bytes, basemap vertices drawn)."""
    t0 = time.perf_counter()
    with read_only(engine, ROLES) as conn:
        frame = situation_map.frame_for(conn, req, srid, situation_pdf.map_rect(req))
        situation = situation_map.gather(conn, ROLES, req, frame)
    t1 = time.perf_counter()
    pdf = situation_pdf.render(situation, req)
    t2 = time.perf_counter()
    vertices = int(shapely.get_num_coordinates([s.geometry for s in situation.basemap.shapes]).sum())
    return (t1 - t0) * 1000, (t2 - t1) * 1000, len(pdf), vertices


def run(
    engine: Engine, srid: int, req: situation_map.PrintRequest, runs: int
) -> tuple[float, float, int, int]:
    results = [measure(engine, srid, req) for _ in range(runs + 1)][1:]  # the first warms the buffers
    return (
        statistics.median(r[0] for r in results),
        statistics.median(r[1] for r in results),
        results[-1][2],
        results[-1][3],
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--roads", type=int, default=40_000)
    ap.add_argument("--hazards", type=int, default=8_000)
    ap.add_argument("--incidents", type=int, default=2_000)
    args = ap.parse_args()
    root, stack, settings = _stack.start("gisapp-bench-pmap-")
    try:
        engine = make_engine(settings.database_url)
        t = time.perf_counter()
        disaster = load(
            make_engine(settings.migration_database_url), args.roads, args.hazards, args.incidents
        )
        print(f"loaded {args.roads} roads, {args.hazards} hazard areas, {args.incidents} incidents "
              f"in {time.perf_counter() - t:.1f} s")  # fmt: skip
        city = lonlat_bounds(6677, (X0, Y0, X0 + WIDTH, Y0 + HEIGHT))
        cx, cy = X0 + WIDTH / 2, Y0 + HEIGHT / 2
        district = lonlat_bounds(6677, (cx - 1500, cy - 1500, cx + 1500, cy + 1500))
        now = datetime.now(UTC)
        print(
            f"{'sheet':34} {'domain ms':>10} {'draw ms':>9} {'total ms':>9} {'PDF KiB':>9} {'vertices':>10}"
        )
        bounded = (situation_map.SIMPLIFY_MM, situation_map.BASEMAP_LIMIT)
        for label, bbox in (("city 30 km, A3 landscape", city), ("district 3 km, A3 landscape", district)):
            req = situation_map.PrintRequest(disaster, now, "A3", "landscape", bbox)
            for who, (tolerance, limit) in (("gisapp", bounded), ("peer: unbounded", (0.0, 10**9))):
                situation_map.SIMPLIFY_MM, situation_map.BASEMAP_LIMIT = tolerance, limit
                domain, draw, size, vertices = run(engine, settings.plane_srid, req, args.runs)
                print(f"{label + ' ' + who:34} {domain:10.0f} {draw:9.0f} {domain + draw:9.0f} "
                      f"{size / 1024:9.0f} {vertices:10d}")  # fmt: skip
            situation_map.SIMPLIFY_MM, situation_map.BASEMAP_LIMIT = bounded
    finally:
        _stack.stop(root, stack)


if __name__ == "__main__":
    main()
