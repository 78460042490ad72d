"""Deterministic demo data for 伊勢原市: departments, six layers and the devices (all fictitious).

`load` is called by `gisapp demo load` (gisapp/demo.py) inside its transaction as the app role with the
admin role set. A re-run replaces the demo layers: rows with a natural key (路線番号, 管渠番号, shelter
code, person id) are upserted and the leftovers deleted, so ids stay stable for whatever refers to a
shelter or a person, and an unchanged row is not rewritten; hazard areas have no key and are replaced.
The geometry and the people are generated in layers/demo_geo.py and layers/demo_people.py.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from shapely.geometry import LineString, MultiLineString
from sqlalchemy import Connection

from layers import demo_geo as geo
from layers import demo_people
from layers import demo_sql as sql
from layers.demo_geo import SEED, HazardArea, Road
from layers.demo_people import Person, Shelter

# The contract of gisapp/demo.py: DEPARTMENTS and load() (the demo devices are in sensors/demo.py).
__all__ = ["DEPARTMENTS", "LAYERS", "SEED", "generate", "load"]

DEPARTMENTS: list[tuple[str, str, str]] = [
    ("crisis", "危機管理課", "Crisis Management Division"),
    ("road", "道路整備課", "Road Maintenance Division"),
    ("sewer", "下水道課", "Sewerage Division"),
    ("welfare", "福祉総務課", "Welfare General Affairs Division"),
    ("planning", "都市計画課", "Urban Planning Division"),
]

SOURCE = "gisapp demo (架空データ / fictitious)"
LICENCE = "CC BY 4.0 (demo)"


@dataclass(frozen=True)
class DemoLayer:
    slug: str
    title_ja: str
    title_en: str
    department: str  # owner, by code
    visibility: str
    kind: str
    geometry_type: str


ROADS = DemoLayer(
    slug="road-ledger", title_ja="道路台帳", title_en="Road ledger", department="road",
    visibility="public", kind="road_segment", geometry_type="MultiLineString",
)  # fmt: skip
LANDSLIDE = DemoLayer(
    slug="landslide-areas", title_ja="土砂災害警戒区域", title_en="Sediment disaster hazard areas",
    department="crisis", visibility="public", kind="hazard_area", geometry_type="MultiPolygon",
)  # fmt: skip
FLOOD = DemoLayer(
    slug="flood-areas", title_ja="洪水浸水想定区域", title_en="Flood inundation areas", department="crisis",
    visibility="public", kind="hazard_area", geometry_type="MultiPolygon",
)  # fmt: skip
SHELTERS = DemoLayer(
    slug="shelters", title_ja="指定緊急避難場所・避難所", title_en="Evacuation shelters", department="crisis",
    visibility="public", kind="shelter", geometry_type="Point",
)  # fmt: skip
SEWER = DemoLayer(
    slug="sewer-pipes", title_ja="下水道台帳（管渠）", title_en="Sewer ledger (pipes)", department="sewer",
    visibility="internal", kind="sewer_pipe", geometry_type="MultiLineString",
)  # fmt: skip
PEOPLE = DemoLayer(
    slug="people-needing-help", title_ja="避難行動要支援者", title_en="People needing evacuation help",
    department="welfare", visibility="restricted", kind="person_needing_help", geometry_type="Point",
)  # fmt: skip
AREAS = DemoLayer(
    slug="community-areas", title_ja="町丁目・自治会区域（架空）", title_en="Community areas (fictitious)",
    department="crisis", visibility="public", kind="generic", geometry_type="MultiPolygon",
)  # fmt: skip
LAYERS: tuple[DemoLayer, ...] = (ROADS, LANDSLIDE, FLOOD, SHELTERS, SEWER, PEOPLE, AREAS)


@dataclass(frozen=True)
class DemoData:
    roads: list[Road]
    landslides: list[HazardArea]
    floods: list[HazardArea]
    shelters: list[Shelter]
    sewer_pipes: list[dict]
    people: list[Person]
    areas: list[dict]


def generate(*, scale: int = 1, seed: int = SEED) -> DemoData:
    """The whole demo as plain values; no database."""
    if scale < 1:
        raise ValueError("scale は 1 以上 / scale must be at least 1")
    nodes, roads = geo.road_grid(geo.rng_for(seed, "roads"), scale)
    landslides = geo.landslide_areas(geo.rng_for(seed, "landslide"))
    floods = geo.flood_areas()
    streets = geo.grid_edges(nodes)
    return DemoData(
        roads=roads,
        landslides=landslides,
        floods=floods,
        shelters=demo_people.shelters(geo.rng_for(seed, "shelters"), 30 * scale, floods, landslides),
        sewer_pipes=sewer_pipes(geo.rng_for(seed, "sewer"), nodes, 80 * scale),
        people=demo_people.people(geo.rng_for(seed, "people"), 2200 * scale, streets, floods, landslides),
        areas=community_areas(),
    )


AREA_GRID = (4, 3)  # columns × rows over the demo box


def community_areas() -> list[dict]:
    """町丁目-like areas tiling the demo box (for evacuation-status totals and rosters per area)."""
    (w, s, e, n), (cols, rows) = geo.BBOX, AREA_GRID
    out = []
    for r in range(rows):
        for c in range(cols):
            x0, x1 = w + (e - w) * c / cols, w + (e - w) * (c + 1) / cols
            y0, y1 = s + (n - s) * r / rows, s + (n - s) * (r + 1) / rows
            k = r * cols + c + 1
            out.append({
                "code": f"AREA-{k:02d}", "name": f"伊勢原デモ{k}丁目（架空）",
                "wkt": f"MULTIPOLYGON((({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0})))",
            })  # fmt: skip
    return out


_PIPE_DIAMETERS_MM = ((200, 30), (250, 20), (300, 15), (350, 8), (400, 8), (450, 5), (500, 5), (600, 4),
                      (700, 2), (800, 2), (1000, 1))  # fmt: skip
_PIPE_MATERIALS = (
    ("硬質塩化ビニル管", 45),
    ("鉄筋コンクリート管", 35),
    ("陶管", 10),
    ("強化プラスチック複合管", 10),
)


def sewer_pipes(rng: random.Random, nodes: list[list[geo.XY]], count: int) -> list[dict]:
    """下水道管渠: properties as the sewer department's ledger names them."""
    out = []
    for k, (a, b) in enumerate(geo.sewer_spans(rng, nodes, count), start=1):
        diameter = rng.choices([d for d, _ in _PIPE_DIAMETERS_MM], [w for _, w in _PIPE_DIAMETERS_MM])[0]
        material = rng.choices([m for m, _ in _PIPE_MATERIALS], [w for _, w in _PIPE_MATERIALS])[0]
        if diameter >= 700:  # large sections are concrete or FRPM, never PVC or clay
            material = rng.choice(("鉄筋コンクリート管", "強化プラスチック複合管"))
        year = rng.randint(1972, 1989) if material == "陶管" else rng.randint(1975, 2022)
        use = rng.choices(("汚水", "雨水"), (70, 30))[0]
        out.append({
            "pipe_no": f"K-{k:04d}", "pipe_use": use, "material": material, "diameter_mm": diameter,
            "laid_year": year, "wkt": geo.wkt(MultiLineString([LineString([a, b])])),
        })  # fmt: skip
    return out


# --- loading ------------------------------------------------------------------------------------
def load(conn: Connection, dept_ids: dict[str, int], *, scale: int = 1, seed: int = SEED) -> dict[str, int]:
    """Create or replace the demo layers and their features; returns the row count per layer slug.

    Needs the admin (or welfare) role set on the transaction: people needing help are behind RLS."""
    data = generate(scale=scale, seed=seed)
    ids = {layer.slug: _upsert_layer(conn, layer, dept_ids) for layer in LAYERS}
    return {
        ROADS.slug: _load_roads(conn, ids[ROADS.slug], data.roads, dept_ids["road"]),
        LANDSLIDE.slug: _replace_hazards(conn, ids[LANDSLIDE.slug], data.landslides),
        FLOOD.slug: _replace_hazards(conn, ids[FLOOD.slug], data.floods),
        SHELTERS.slug: _load_shelters(conn, ids[SHELTERS.slug], data.shelters),
        SEWER.slug: _load_sewer(conn, ids[SEWER.slug], data.sewer_pipes, dept_ids["sewer"]),
        PEOPLE.slug: _load_people(conn, ids[PEOPLE.slug], data.people),
        AREAS.slug: _load_areas(conn, ids[AREAS.slug], data.areas),
    }


def _upsert_layer(conn: Connection, layer: DemoLayer, dept_ids: dict[str, int]) -> int:
    params = {
        "slug": layer.slug,
        "title_ja": layer.title_ja,
        "title_en": layer.title_en,
        "dept": dept_ids[layer.department],
        "visibility": layer.visibility,
        "kind": layer.kind,
        "geometry_type": layer.geometry_type,
        "source": SOURCE,
        "licence": LICENCE,
    }
    return conn.execute(sql.UPSERT_LAYER, params).scalar_one()


def _load_roads(conn: Connection, layer_id: int, roads: list[Road], dept_id: int) -> int:
    conn.execute(sql.UPSERT_ROAD, [{"layer_id": layer_id, "dept": dept_id, **r.params()} for r in roads])
    conn.execute(sql.PRUNE_ROADS, {"layer_id": layer_id, "keys": [r.route_no for r in roads]})
    return len(roads)


def _replace_hazards(conn: Connection, layer_id: int, areas: list[HazardArea]) -> int:
    conn.execute(sql.DELETE_HAZARDS, {"layer_id": layer_id})
    conn.execute(sql.INSERT_HAZARD, [{"layer_id": layer_id, **a.params()} for a in areas])
    return len(areas)


def _load_shelters(conn: Connection, layer_id: int, shelters: list[Shelter]) -> int:
    conn.execute(sql.UPSERT_SHELTER, [{"layer_id": layer_id, **s.params()} for s in shelters])
    conn.execute(sql.PRUNE_SHELTERS, {"layer_id": layer_id, "keys": [s.code for s in shelters]})
    return len(shelters)


def _load_sewer(conn: Connection, layer_id: int, pipes: list[dict], dept_id: int) -> int:
    conn.execute(sql.DELETE_GENERIC, {"layer_id": layer_id})  # demos before the typed sewer ledger
    conn.execute(sql.UPSERT_SEWER, [{"layer_id": layer_id, "dept": dept_id, **p} for p in pipes])
    conn.execute(sql.PRUNE_SEWER, {"layer_id": layer_id, "keys": [p["pipe_no"] for p in pipes]})
    return len(pipes)


def _load_people(conn: Connection, layer_id: int, people: list[Person]) -> int:
    conn.execute(sql.UPSERT_PERSON, [{"layer_id": layer_id, **p.params()} for p in people])
    keys = {"layer_id": layer_id, "keys": [p.external_id for p in people]}
    conn.execute(sql.PRUNE_PLANS, keys)
    conn.execute(sql.PRUNE_PEOPLE, keys)
    return len(people)


def _load_areas(conn: Connection, layer_id: int, areas: list[dict]) -> int:
    conn.execute(sql.UPSERT_AREA, [{"layer_id": layer_id, **a} for a in areas])
    conn.execute(sql.PRUNE_GENERIC, {"layer_id": layer_id, "keys": [a["code"] for a in areas]})
    return len(areas)
