"""A bbox, or a CQL2 S_INTERSECTS with a rectangle, answers the features inside from their stored boxes
(layers.rectangle) and still gives exactly what ST_Intersects gives.

The stored boxes are float32, rounded outwards: a feature a few centimetres outside the rectangle can
have a stored box inside the rectangle's own stored box. The features here sit on both sides of every
edge, closer than a float32 step, so a shortcut that compared the boxes with the rectangle's own box
would count features that do not touch it.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon, box
from sqlalchemy import Engine, text

from gisapp import db
from layers import rectangle
from tests.fixtures_data import _layer, seed
from tests.support import wait_until

SLUG = "rectfilter-hazard"
X1, Y1, X2, Y2 = 139.30, 35.40, 139.31, 35.41
RECT = f"POLYGON(({X1} {Y1},{X2} {Y1},{X2} {Y2},{X1} {Y2},{X1} {Y1}))"
TINY = 2e-6  # a feature's side: smaller than a float32 step at lon 139 (1.5e-5)


def _square(x: float, y: float, side: float = TINY) -> Polygon:
    return box(x, y, x + side, y + side)


def _named() -> dict[str, Polygon]:
    return {
        "centre": _square(139.305, 35.405),
        "outside, 1 cm right of the east edge": _square(X2 + 1e-7, 35.405),
        "outside, 1 cm above the north edge": _square(139.305, Y2 + 1e-7),
        "outside, 1 cm left of the west edge": _square(X1 - 1e-7 - TINY, 35.405),
        "outside, 1 cm below the south edge": _square(139.305, Y1 - 1e-7 - TINY),
        "touching the east edge": _square(X2, 35.405),
        "across the west edge": _square(X1 - TINY / 2, 35.405),
        # x + y >= X2 + Y2 + 5e-5: its box covers the corner, the triangle stays off it
        "outside, its box over the corner": Polygon(
            [(X2 + 1e-4, Y2 - 5e-5), (X2 + 1e-4, Y2 + 1e-4), (X2 - 5e-5, Y2 + 1e-4)]
        ),  # fmt: skip
        "around the whole rectangle": box(X1 - 0.01, Y1 - 0.01, X2 + 0.01, Y2 + 0.01),
    }


def _scattered(n: int, seed_: int = 15) -> list[Polygon]:
    """Tiny squares scattered across every edge, within a few float32 steps of it."""
    rng = random.Random(seed_)
    out = []
    for _ in range(n):
        edge = rng.choice("WESN")
        off = rng.uniform(-4e-5, 4e-5)
        along = rng.uniform(-1e-4, 1e-4)
        x = {"W": X1 + off, "E": X2 + off}.get(edge, rng.uniform(X1, X2) + along)
        y = {"S": Y1 + off, "N": Y2 + off}.get(edge, rng.uniform(Y1, Y2) + along)
        out.append(_square(x, y, rng.uniform(1e-7, 3e-6)))
    return out


@pytest.fixture(scope="module")
def layer(app_engine: Engine, public_client) -> dict[int, str]:
    """{feature id: name} of a public hazard layer around the rectangle."""
    dept = seed(app_engine, "rectfilter").dept_id
    shapes = {**_named(), **{f"scattered {i}": g for i, g in enumerate(_scattered(400))}}
    with app_engine.begin() as conn:
        db.set_roles(conn, ["admin"])
        layer_id = _layer(conn, SLUG, "public", "hazard_area", "MultiPolygon", dept)
        conn.execute(text("DELETE FROM gis.hazard_area WHERE layer_id = :l"), {"l": layer_id})
        # One statement: the table's statement triggers (the layer's revision, the overlay of the
        # people needing help on the hazard areas) run once, not once per feature.
        rows = conn.execute(
            text(
                "INSERT INTO gis.hazard_area (layer_id, hazard_type, name, source_key, geom)"
                " SELECT :l, 'flood', n, n, ST_Multi(ST_GeomFromText(w, 4326))"
                " FROM unnest(CAST(:names AS text[]), CAST(:wkts AS text[])) AS s(n, w) RETURNING id, name"
            ),
            {"l": layer_id, "names": list(shapes), "wkts": [g.wkt for g in shapes.values()]},
        )
        ids = {row.id: row.name for row in rows}
    assert sorted(ids.values()) == sorted(shapes)
    wait_until(lambda: public_client.get(f"/ogc/collections/{SLUG}/items").status_code == 200, 5)
    return ids


def _truth(engine: Engine, layer: dict[int, str], negate: bool = False) -> set[int]:
    """What ST_Intersects alone says, asked of the table."""
    with engine.connect() as conn:
        hit = conn.execute(
            text(
                "SELECT id FROM gis.hazard_area WHERE id = ANY(:ids)"
                " AND ST_Intersects(geom, ST_GeomFromText(:r, 4326))"
            ),
            {"ids": list(layer), "r": RECT},
        ).scalars()
        found = set(hit)
    return set(layer) - found if negate else found


def _ids(public_client, params: dict) -> set[int]:
    page = public_client.get(f"/ogc/collections/{SLUG}/items", params={"limit": 1000, **params}).json()
    assert page["numberMatched"] == len(page["features"]), page["numberMatched"]
    return {f["id"] for f in page["features"]}


def test_the_features_near_the_edges_defeat_a_plain_box_comparison(layer) -> None:
    """The trap is real: stored (float32, rounded-out) boxes of features outside the rectangle lie
    inside the rectangle's own stored box."""

    def stored(b):  # PostGIS's float box: rounded outwards
        lo = [
            np.nextafter(np.float32(v), np.float32(-np.inf)) if np.float32(v) > v else np.float32(v)
            for v in b[:2]
        ]
        hi = [
            np.nextafter(np.float32(v), np.float32(np.inf)) if np.float32(v) < v else np.float32(v)
            for v in b[2:]
        ]
        return [*lo, *hi]

    r = stored((X1, Y1, X2, Y2))
    fooled = [
        name
        for name, g in _named().items()
        if name.startswith("outside, 1 cm")
        and (lambda b: r[0] <= b[0] and r[1] <= b[1] and b[2] <= r[2] and b[3] <= r[3])(stored(g.bounds))
    ]
    assert len(fooled) >= 2, fooled


@pytest.mark.parametrize(
    "params",
    [
        {"bbox": f"{X1},{Y1},{X2},{Y2}"},
        {"filter": f"S_INTERSECTS(geometry,{RECT})"},
        {"filter": f"S_INTERSECTS({RECT},geometry)"},
        {"filter": f"S_INTERSECTS(geometry,BBOX({X1},{Y1},{X2},{Y2}))"},
    ],
    ids=["bbox", "s_intersects", "s_intersects literal first", "s_intersects bbox literal"],
)
def test_a_rectangle_matches_exactly_what_st_intersects_matches(
    layer, public_client, owner_engine, params
) -> None:
    truth = _truth(owner_engine, layer)
    names = {layer[i] for i in truth}
    assert "centre" in names and "touching the east edge" in names and "across the west edge" in names
    assert not any(n.startswith("outside") for n in names)
    got = _ids(public_client, params)
    assert got == truth, sorted(layer[i] for i in got ^ truth)


def test_not_s_intersects_a_rectangle_is_the_exact_complement(layer, public_client, owner_engine) -> None:
    got = _ids(public_client, {"filter": f"NOT S_INTERSECTS(geometry,{RECT})"})
    assert got == _truth(owner_engine, layer, negate=True)


def test_the_features_inside_are_answered_from_their_boxes(layer, app_engine) -> None:
    """The statement takes the shortcut for a lon/lat rectangle: the stored box inside it, ST_Intersects
    only for the rest (a test of the statement; the answers are checked above). A box in a plane
    rectangular CRS is no rectangle in lon/lat once transformed: it takes the exact test alone."""
    from sqlalchemy import event
    from starlette.datastructures import QueryParams

    from gisapp.ogc import cql
    from layers import catalog
    from layers import features_query as fq

    def statement(**query) -> str:
        with db.read_only(app_engine, ["admin"]) as conn:
            target = catalog.get_layer(conn, SLUG, ["admin"])
            known = fq.queryables(conn, target, False)
            q = fq.ItemsQuery(layer=target, public=False, queryables=known, limit=5, **query)
            seen: list[str] = []
            keep = lambda c, cur, sql, *_: seen.append(sql)  # noqa: E731
            event.listen(conn, "before_cursor_execute", keep)
            fq.items(conn, q)
            event.remove(conn, "before_cursor_execute", keep)
        return seen[-1]

    shortcut = "t.geom @ ST_MakeEnvelope("
    assert shortcut in statement(
        cql=cql.parse(QueryParams({"filter": f"S_INTERSECTS(geometry,{RECT})"})).tree
    )
    assert shortcut in statement(bbox=(X1, Y1, X2, Y2))
    assert shortcut not in statement(bbox=(-31000.0, -66000.0, -30000.0, -65000.0), bbox_srid=6677)
    triangle = "S_INTERSECTS(geometry,POLYGON((139.3 35.4,139.31 35.4,139.31 35.41,139.3 35.4)))"
    assert shortcut not in statement(cql=cql.parse(QueryParams({"filter": triangle})).tree)


def test_only_an_axis_aligned_rectangle_gets_an_inner_box_of_float32_values_inside_it() -> None:
    assert rectangle.of_polygon(shapely.from_wkt(RECT)) is not None
    # extra points on the edges, the other orientation: still the rectangle
    assert rectangle.of_polygon(
        shapely.from_wkt(f"POLYGON(({X1} {Y1},{X1} {Y2},{X2} {Y2},{X2} 35.405,{X2} {Y1},{X1} {Y1}))")
    )
    on_its_tip = "POLYGON((0 0,1 1,2 0,1 -1,0 0))"  # a square, turned 45°
    assert rectangle.of_polygon(shapely.from_wkt(on_its_tip)) is None
    assert rectangle.of_polygon(shapely.from_wkt("POLYGON((0 0,4 0,4 4,0 4,0 0),(1 1,2 1,2 2,1 1))")) is None
    assert rectangle.of_polygon(shapely.from_wkt("MULTIPOLYGON(((0 0,1 0,1 1,0 1,0 0)))")) is None
    assert rectangle.of_polygon(shapely.from_wkt("POLYGON((0 0,1 0,1 1,0 0))")) is None
    inner = rectangle.inner_box(X1, Y1, X2, Y2)
    assert inner is not None
    for v, edge, inwards in zip(inner, (X1, Y1, X2, Y2), (1, 1, -1, -1), strict=True):
        assert float(np.float32(v)) == v  # exactly a float32: PostGIS keeps it as it is
        assert (v - edge) * inwards >= 0 and abs(v - edge) < 2e-5
    assert rectangle.inner_box(139.3, 35.4, 139.3 + 1e-6, 35.41) is None  # narrower than a float32 step


def test_a_kept_literal_is_read_again_in_each_requests_filter_crs(layer, public_client, owner_engine) -> None:
    """The checked literal is kept per parsed filter node and per filter-crs: the same filter text in
    lat/lon order (EPSG:4326) is the rectangle, as lon/lat (CRS84, the default) it lies outside the
    CRS's range (400), and in EPSG:4326 again the rectangle."""
    latlon = f"POLYGON(({Y1} {X1},{Y1} {X2},{Y2} {X2},{Y2} {X1},{Y1} {X1}))"
    flipped = {
        "filter": f"S_INTERSECTS(geometry,{latlon})",
        "filter-crs": "http://www.opengis.net/def/crs/EPSG/0/4326",
    }
    truth = _truth(owner_engine, layer)
    assert _ids(public_client, flipped) == truth
    r = public_client.get(f"/ogc/collections/{SLUG}/items", params={"filter": flipped["filter"]})
    assert r.status_code == 400 and "filter" in r.text, r.text
    assert _ids(public_client, flipped) == truth
