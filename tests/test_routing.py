"""Road-network routing on the road ledger: the network follows road_segment, closures, nearest
segment, unit recommendations by road distance (hand-made river network), and the closures API.

Each test draws its own network in its own empty area (lon 141.x, lat 37.9, far from the demo) with
its own units, so tests do not see each other's data. Expected distances are computed here from
the fixture's coordinates with pyproj's geodesic, independently of PostGIS."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from pyproj import Geod
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import ProgrammingError

from gisapp import auth
from gisapp.db import set_roles
from layers.routing import STRAIGHT_LINE_DETOUR, nearest_road_segment, recommend_units
from sensors.registry import DeviceKind, DeviceSpec, ensure_device
from tests.fixtures_data import Seed, seed

GEOD = Geod(ellps="WGS84")
TOL_M = 1.0
AREAS = itertools.count()

# A river runs north-south at x0. West bank: W1 then W2 (W2 starts 0.18 m off W1's end: the 0.5 m
# snap joins them); east bank: E; one bridge BR at the north end. An island road IS of two parts
# has no link to the rest.
#   incident: just west of W1's south end; A: across the river from it; B: up the west bank.
# In straight line A is nearest; by road B is, as A must go round by the bridge.
SEGMENTS = {
    "W1": [[(-0.001, 0.0), (-0.001, 0.005)]],
    "W2": [[(-0.001 + 2e-6, 0.005), (-0.001, 0.010)]],
    "E": [[(0.001, 0.0), (0.001, 0.002), (0.001, 0.010)]],  # a bend-less inner vertex: no junction
    "BR": [[(-0.001, 0.010), (0.001, 0.010)]],
    "IS": [[(0.005, 0.005), (0.006, 0.005)], [(0.006, 0.005), (0.006, 0.006)]],
}
INCIDENT = (-0.0012, 0.0001)
UNITS = {
    "a": (0.0012, 0.0001),  # east bank, across from the incident
    "b": (-0.0008, 0.0070),  # west bank, north
    "c": (0.0200, 0.0200),  # off the network (over 300 m from any road)
    "d": (0.0055, 0.0051),  # on the island: snapped, but no path
}


def geod(p: tuple[float, float], q: tuple[float, float]) -> float:
    return GEOD.inv(p[0], p[1], q[0], q[1])[2]


@dataclass
class Net:
    engine: Engine
    tag: str
    x0: float
    y0: float
    layer_id: int
    segments: dict[str, int] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)  # short name -> device id

    def at(self, dx: float, dy: float) -> tuple[float, float]:
        return (self.x0 + dx, self.y0 + dy)

    @property
    def incident(self) -> tuple[float, float]:
        return self.at(*INCIDENT)

    def recommend(self, conn: Connection, **kw) -> dict[str, object]:
        """Our units only (other tests' units are hundreds of km away), in the order given."""
        recs = recommend_units(conn, *self.incident, limit=200, **kw)
        mine = {v: k for k, v in self.units.items()}
        return {mine[r.device_id]: r for r in recs if r.device_id in mine}


def wkt(net: Net, parts: list[list[tuple[float, float]]]) -> str:
    lines = ", ".join(
        "(" + ", ".join(f"{net.x0 + x:.9f} {net.y0 + y:.9f}" for x, y in p) + ")" for p in parts
    )
    return f"MULTILINESTRING({lines})"


def add_segment(conn: Connection, net: Net, name: str, parts: list[list[tuple[float, float]]]) -> int:
    net.segments[name] = conn.execute(
        text(
            """INSERT INTO gis.road_segment (layer_id, route_no, route_name, road_class, geom)
               VALUES (:l, :no, :name, 'その他', ST_GeomFromText(:wkt, 4326)) RETURNING id"""
        ),
        {"l": net.layer_id, "no": name, "name": f"試験路線 {name}", "wkt": wkt(net, parts)},
    ).scalar_one()
    return net.segments[name]


def close_segment(conn: Connection, segment_id: int) -> None:
    conn.execute(
        text(
            "INSERT INTO gis.road_closure (road_segment_id, reason, created_by) VALUES (:s, '冠水', 'test')"
        ),
        {"s": segment_id},
    )


def reopen(conn: Connection, segment_id: int) -> None:
    conn.execute(
        text(
            """UPDATE gis.road_closure SET reopened_at = now(), reopened_by = 'test'
                WHERE road_segment_id = :s AND reopened_at IS NULL"""
        ),
        {"s": segment_id},
    )


@pytest.fixture(scope="module")
def people(app_engine: Engine) -> Seed:
    return seed(app_engine, "rt" + secrets.token_hex(4))


@pytest.fixture
def net(app_engine: Engine, people: Seed):
    """A fresh river network with units A–D (recent positions), plus a stale, a disabled and an
    excluded unit; all written as the app's role, so the triggers' privileges are tested too."""
    k = next(AREAS)
    tag = f"{people.tag}-{k}"
    with app_engine.begin() as conn:
        set_roles(conn, ["admin"])
        layer_id = conn.execute(
            text(
                """INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind,
                                          geometry_type)
                   VALUES (:slug, '試験道路台帳', 'Test road ledger', :dept, 'internal', 'road_segment',
                           'MultiLineString') RETURNING id"""
            ),
            {"slug": f"{tag}-roads", "dept": people.dept_id},
        ).scalar_one()
        n = Net(app_engine, tag, 141.0 + 0.1 * k, 37.9, layer_id)
        for name, parts in SEGMENTS.items():
            add_segment(conn, n, name, parts)
        spots = {**UNITS, "stale": UNITS["b"], "off": UNITS["b"], "busy": UNITS["b"]}
        for short, (dx, dy) in spots.items():
            dev = f"{tag}-{short}"
            ensure_device(conn, DeviceSpec(dev, DeviceKind.radio_unit, f"試験 {short}"))
            n.units[short] = dev
            age = "2 hours" if short == "stale" else "1 minute"
            conn.execute(
                text(
                    """INSERT INTO sensor.radio_position (device_id, device_ts, geom)
                       VALUES (:d, now() - CAST(:age AS interval), ST_SetSRID(ST_MakePoint(:x, :y), 4326))"""
                ),
                {"d": dev, "age": age, "x": n.x0 + dx, "y": n.y0 + dy},
            )
        conn.execute(text("UPDATE sensor.device SET enabled = false WHERE id = :d"), {"d": n.units["off"]})
    yield n
    with app_engine.begin() as conn:  # leave no candidates behind for the next test
        conn.execute(
            text("UPDATE sensor.device SET enabled = false WHERE id = ANY(:ids)"),
            {"ids": list(n.units.values())},
        )
        conn.execute(text("DELETE FROM gis.layer WHERE id = :l"), {"l": layer_id})


def check_network(conn: Connection, net: Net) -> None:
    """The edges put back together are exactly the ledger's parts, each piece joined to the next,
    with vertices on the piece ends, none loose, no two within 0.5 m."""
    parts = conn.execute(
        text(
            """SELECT r.id, d.path[1] AS part, d.geom, e.pieces, e.seqs, e.joined, e.line
                 FROM gis.road_segment r CROSS JOIN LATERAL ST_Dump(r.geom) d
                 LEFT JOIN LATERAL (
                   SELECT count(*) AS pieces, array_agg(seq ORDER BY seq) AS seqs,
                          bool_and(nxt IS NULL OR nxt = target) AS joined,
                          ST_MakeLine(array_agg(geom ORDER BY seq)) AS line
                     FROM (SELECT seq, target, geom, lead(source) OVER (ORDER BY seq) AS nxt
                             FROM gis.road_edge WHERE road_segment_id = r.id AND part = d.path[1]) x) e ON true
                WHERE r.layer_id = :l"""
        ),
        {"l": net.layer_id},
    ).all()
    assert parts
    for p in parts:
        assert p.seqs == list(range(1, p.pieces + 1)), p
        assert p.joined, p
    assert conn.execute(
        text(
            """SELECT bool_and(ST_OrderingEquals(e.line, ST_GeometryN(r.geom, e.part)))
                 FROM (SELECT road_segment_id, part, ST_MakeLine(array_agg(geom ORDER BY seq)) AS line
                         FROM gis.road_edge GROUP BY road_segment_id, part) e
                 JOIN gis.road_segment r ON r.id = e.road_segment_id WHERE r.layer_id = :l"""
        ),
        {"l": net.layer_id},
    ).scalar_one()
    bad = conn.execute(
        text(
            """SELECT count(*) FROM gis.road_edge e
                 JOIN gis.road_segment r ON r.id = e.road_segment_id
                 JOIN gis.road_vertex s ON s.id = e.source JOIN gis.road_vertex t ON t.id = e.target
                WHERE r.layer_id = :l
                  AND (ST_Distance(s.geom::geography, ST_StartPoint(e.geom)::geography) > 0.5
                       OR ST_Distance(t.geom::geography, ST_EndPoint(e.geom)::geography) > 0.5
                       OR abs(e.cost - ST_Length(e.geom::geography)) > 0.01
                       OR e.reverse_cost <> e.cost)"""
        ),
        {"l": net.layer_id},
    ).scalar_one()
    assert bad == 0
    area = {"x0": net.x0 - 0.05, "y0": net.y0 - 0.05, "x1": net.x0 + 0.05, "y1": net.y0 + 0.05}
    loose = conn.execute(
        text(
            """SELECT count(*) FROM gis.road_vertex v
                WHERE v.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
                  AND NOT EXISTS (SELECT 1 FROM gis.road_edge e WHERE v.id IN (e.source, e.target))"""
        ),
        area,
    ).scalar_one()
    assert loose == 0
    twins = conn.execute(
        text(
            """SELECT count(*) FROM gis.road_vertex a JOIN gis.road_vertex b
                 ON a.id < b.id AND ST_DWithin(a.geom::geography, b.geom::geography, 0.5)
                WHERE a.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)"""
        ),
        area,
    ).scalar_one()
    assert twins == 0


def pieces(conn: Connection, segment_id: int) -> int:
    return conn.execute(
        text("SELECT count(*) FROM gis.road_edge WHERE road_segment_id = :s"), {"s": segment_id}
    ).scalar_one()


def vertex_count(conn: Connection, net: Net) -> int:
    return conn.execute(
        text(
            """SELECT count(*) FROM gis.road_vertex
                WHERE geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)"""
        ),
        {"x0": net.x0 - 0.05, "y0": net.y0 - 0.05, "x1": net.x0 + 0.05, "y1": net.y0 + 0.05},
    ).scalar_one()


# --- expected distances, by hand from the fixture ---------------------------------------------
def snap_x(net: Net, dx: float, y: float) -> tuple[float, float]:
    """A point on a north-south road at x0+dx (the roads here run along meridians)."""
    return net.at(dx, y - net.y0)


def road_b(net: Net) -> float:
    inc, b = net.incident, net.at(*UNITS["b"])
    inc_snap, b_snap = snap_x(net, -0.001, inc[1]), snap_x(net, -0.001, b[1])
    w1_top = net.at(-0.001, 0.005)
    return geod(inc, inc_snap) + geod(inc_snap, w1_top) + geod(w1_top, b_snap) + geod(b_snap, b)


def road_a_by_bridge(net: Net) -> float:
    inc, a = net.incident, net.at(*UNITS["a"])
    inc_snap, a_snap = snap_x(net, -0.001, inc[1]), snap_x(net, 0.001, a[1])
    nw, ne = net.at(-0.001, 0.010), net.at(0.001, 0.010)
    return geod(inc, inc_snap) + geod(inc_snap, nw) + geod(nw, ne) + geod(ne, a_snap) + geod(a_snap, a)


# --- the network follows the ledger -------------------------------------------------------------
def test_network_built_from_the_ledger(net: Net):
    with net.engine.begin() as conn:
        check_network(conn, net)
        # 5 segments, 6 parts; W1/W2 join despite the 0.18 m gap: 4 river corners + W1/W2 + 3 island.
        assert vertex_count(conn, net) == 8
        w1_top, w2_start = conn.execute(
            text(
                """SELECT (SELECT target FROM gis.road_edge WHERE road_segment_id = :w1),
                          (SELECT source FROM gis.road_edge WHERE road_segment_id = :w2)"""
            ),
            {"w1": net.segments["W1"], "w2": net.segments["W2"]},
        ).one()
        assert w1_top == w2_start


def test_network_follows_insert_update_delete(net: Net):
    with net.engine.begin() as conn:
        # Insert a bridge from the W1/W2 joint to E's inner vertex: E is cut there, A crosses on it.
        assert pieces(conn, net.segments["E"]) == 1
        add_segment(conn, net, "BR3", [[(-0.001, 0.005), (0.001, 0.002)]])
        check_network(conn, net)
        assert pieces(conn, net.segments["E"]) == 2
        assert vertex_count(conn, net) == 9
        inc, a = net.incident, net.at(*UNITS["a"])
        inc_snap, a_snap = snap_x(net, -0.001, inc[1]), snap_x(net, 0.001, a[1])
        joint, e_inner = net.at(-0.001, 0.005), net.at(0.001, 0.002)
        diagonal = (
            geod(inc, inc_snap)
            + geod(inc_snap, joint)
            + geod(joint, e_inner)
            + geod(e_inner, a_snap)
            + geod(a_snap, a)
        )
        assert net.recommend(conn)["a"].distance_m == pytest.approx(diagonal, abs=TOL_M)
        # Deleted again: E is whole again and the inner vertex goes.
        conn.execute(text("DELETE FROM gis.road_segment WHERE id = :id"), {"id": net.segments.pop("BR3")})
        check_network(conn, net)
        assert (pieces(conn, net.segments["E"]), vertex_count(conn, net)) == (1, 8)

        # Insert: a southern bridge between the ends of W1 and E.
        add_segment(conn, net, "BR2", [[(-0.001, 0.0), (0.001, 0.0)]])
        check_network(conn, net)
        assert vertex_count(conn, net) == 8  # it joins existing vertices only
        inc, a = net.incident, net.at(*UNITS["a"])
        sw, se = net.at(-0.001, 0.0), net.at(0.001, 0.0)
        inc_snap, a_snap = snap_x(net, -0.001, inc[1]), snap_x(net, 0.001, a[1])
        south = geod(inc, inc_snap) + geod(inc_snap, sw) + geod(sw, se) + geod(se, a_snap) + geod(a_snap, a)
        assert net.recommend(conn)["a"].distance_m == pytest.approx(south, abs=TOL_M)

        # Update the geometry: the bridge bows 100 m south; its edge is rebuilt, the cost follows.
        bowed = [[(-0.001, 0.0), (0.0, -0.0009), (0.001, 0.0)]]
        conn.execute(
            text("UPDATE gis.road_segment SET geom = ST_GeomFromText(:w, 4326) WHERE id = :id"),
            {"w": wkt(net, bowed), "id": net.segments["BR2"]},
        )
        check_network(conn, net)
        mid = net.at(0.0, -0.0009)
        longer = south - geod(sw, se) + geod(sw, mid) + geod(mid, se)
        assert net.recommend(conn)["a"].distance_m == pytest.approx(longer, abs=TOL_M)

        # An attribute-only update leaves the edges as they are.
        before = conn.execute(text("SELECT array_agg(id ORDER BY id) FROM gis.road_edge")).scalar_one()
        conn.execute(
            text("UPDATE gis.road_segment SET route_name = '改名' WHERE layer_id = :l"), {"l": net.layer_id}
        )
        assert (
            conn.execute(text("SELECT array_agg(id ORDER BY id) FROM gis.road_edge")).scalar_one() == before
        )

        # Moving an end off the network: the vertex left behind goes, a new one comes.
        conn.execute(
            text("UPDATE gis.road_segment SET geom = ST_GeomFromText(:w, 4326) WHERE id = :id"),
            {"w": wkt(net, [[(-0.001, 0.0), (0.0005, -0.002)]]), "id": net.segments["BR2"]},
        )
        check_network(conn, net)
        assert vertex_count(conn, net) == 9
        assert net.recommend(conn)["a"].distance_m == pytest.approx(road_a_by_bridge(net), abs=TOL_M)

        # Delete: the edges go with the segment, and so do the island's now-loose vertices.
        conn.execute(
            text("DELETE FROM gis.road_segment WHERE id = ANY(:ids)"),
            {"ids": [net.segments["BR2"], net.segments["IS"]]},
        )
        check_network(conn, net)
        assert vertex_count(conn, net) == 5  # the river's own (W1 and E keep their southern ends)
        recs = net.recommend(conn)
        assert recs["d"].method == "straight_line"
        assert recs["d"].distance_m == pytest.approx(geod(net.incident, net.at(*UNITS["d"])), abs=TOL_M)


def test_junctions_only_where_roads_share_a_vertex(net: Net):
    """Ways crossing at a shared inner vertex (as OpenStreetMap draws them) meet there; a road that
    crosses another between its vertices (an overpass) does not."""
    with net.engine.begin() as conn:
        x1 = add_segment(conn, net, "X1", [[(0.039, 0.0), (0.040, 0.0), (0.041, 0.0)]])
        x2 = add_segment(conn, net, "X2", [[(0.040, 0.001), (0.040, 0.0), (0.040, -0.001)]])
        ov = add_segment(conn, net, "OV", [[(0.0395, -0.001), (0.0395, 0.001)]])
        check_network(conn, net)
        assert (pieces(conn, x1), pieces(conn, x2), pieces(conn, ov)) == (2, 2, 1)
        degree = conn.execute(
            text(
                """SELECT count(*) FROM gis.road_edge e JOIN gis.road_vertex v ON v.id IN (e.source, e.target)
                    WHERE ST_DWithin(v.geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography, 0.5)"""
            ),
            dict(zip(("x", "y"), net.at(0.040, 0.0), strict=True)),
        ).scalar_one()
        assert degree == 4
        # A unit at X1's west end reaches an incident at X2's north end through the junction, and
        # not by the overpass, which touches neither road.
        dev = f"{net.tag}-x"
        ensure_device(conn, DeviceSpec(dev, DeviceKind.radio_unit, "試験 x"))
        net.units["x"] = dev
        unit, inc = net.at(0.039, -0.0001), net.at(0.0401, 0.001)
        conn.execute(
            text(
                """INSERT INTO sensor.radio_position (device_id, device_ts, geom)
                   VALUES (:d, now(), ST_SetSRID(ST_MakePoint(:x, :y), 4326))"""
            ),
            {"d": dev, "x": unit[0], "y": unit[1]},
        )
        rec = {r.device_id: r for r in recommend_units(conn, *inc, limit=200)}[dev]
        centre, west, north = net.at(0.040, 0.0), net.at(0.039, 0.0), net.at(0.040, 0.001)
        expected = geod(inc, north) + geod(north, centre) + geod(centre, west) + geod(west, unit)
        assert rec.method == "road"
        assert rec.distance_m == pytest.approx(expected, abs=TOL_M)


def test_app_role_reads_but_cannot_write_the_network(net: Net, app_engine: Engine, public_engine: Engine):
    with app_engine.connect() as conn, pytest.raises(ProgrammingError, match="permission denied"):
        conn.execute(text("DELETE FROM gis.road_edge"))
    for table in ("gis.road_edge", "gis.road_closure"):
        with public_engine.connect() as conn, pytest.raises(ProgrammingError, match="permission denied"):
            conn.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))  # noqa: S608 - constant table names


# --- nearest segment -------------------------------------------------------------------------------
def test_nearest_road_segment(net: Net):
    with net.engine.begin() as conn:
        found = nearest_road_segment(conn, *net.incident)
        assert found is not None
        assert (found.id, found.route_no) == (net.segments["W1"], "W1")
        assert found.route_name == "試験路線 W1"
        assert found.distance_m == pytest.approx(
            geod(net.incident, snap_x(net, -0.001, net.incident[1])), abs=TOL_M
        )
        # Nearer the east bank: E, not the bridge or W1.
        assert nearest_road_segment(conn, *net.at(0.0008, 0.004)).route_no == "E"
        # Beyond max_m: none.
        assert nearest_road_segment(conn, *net.at(*UNITS["c"])) is None
        assert nearest_road_segment(conn, *net.incident, max_m=10) is None


# --- recommendations -----------------------------------------------------------------------------
def test_road_nearest_unit_ranks_first(net: Net):
    with net.engine.begin() as conn:
        everyone = recommend_units(conn, *net.incident, limit=3)
        recs = net.recommend(conn, exclude={net.units["busy"]})
    # The straight-line nearest unit is A, but B is nearer by road, and first of all units.
    straight = {k: geod(net.incident, net.at(*UNITS[k])) for k in UNITS}
    assert min(straight, key=straight.get) == "a"
    assert everyone[0].device_id == net.units["b"]
    assert list(recs) == ["b", "d", "a", "c"]  # stale, disabled and busy units are not offered

    b, a, c, d = recs["b"], recs["a"], recs["c"], recs["d"]
    assert (b.method, a.method) == ("road", "road")
    assert b.distance_m == pytest.approx(road_b(net), abs=TOL_M)
    assert a.distance_m == pytest.approx(road_a_by_bridge(net), abs=TOL_M)
    assert a.straight_m == pytest.approx(straight["a"], abs=TOL_M)
    assert b.eta_s == pytest.approx(b.distance_m / (30 / 3.6))
    assert (b.lon, b.lat) == pytest.approx(net.at(*UNITS["b"]))
    shown = b.as_json()
    assert (shown["device_id"], shown["method"], shown["eta_s"]) == (net.units["b"], "road", round(b.eta_s))
    # Off the network (C) and on an island (D): straight line, ETA with the detour factor.
    for r, k in ((c, "c"), (d, "d")):
        assert r.method == "straight_line"
        assert r.distance_m == r.straight_m == pytest.approx(straight[k], abs=TOL_M)
        assert r.eta_s == pytest.approx(r.distance_m * STRAIGHT_LINE_DETOUR / (30 / 3.6))

    with net.engine.begin() as conn:  # a shorter age limit leaves them all out; speed scales the ETA
        assert net.recommend(conn, max_age=timedelta(seconds=10)) == {}
        fast = net.recommend(conn, speed_kmh=60)
    assert fast["b"].eta_s == pytest.approx(b.eta_s / 2)


def test_same_edge_and_incident_off_network(net: Net):
    with net.engine.begin() as conn:
        # Incident on W2 just south of B: both snap to the same edge, the route runs along it.
        inc = net.at(-0.0011, 0.0065)
        recs = {r.device_id: r for r in recommend_units(conn, *inc, limit=200)}
        b = recs[net.units["b"]]
        b_snap, inc_snap = snap_x(net, -0.001, net.at(*UNITS["b"])[1]), snap_x(net, -0.001, inc[1])
        expected = geod(inc, inc_snap) + geod(inc_snap, b_snap) + geod(b_snap, net.at(*UNITS["b"]))
        assert b.method == "road"
        assert b.distance_m == pytest.approx(expected, abs=TOL_M)
        # An incident far from every road: every unit by straight line.
        far = net.at(0.03, -0.02)
        recs = [r for r in recommend_units(conn, *far, limit=200) if r.device_id in net.units.values()]
        assert {r.method for r in recs} == {"straight_line"}
        assert [r.device_id for r in recs] == [r.device_id for r in sorted(recs, key=lambda r: r.straight_m)]


def test_closure_changes_the_ranking(net: Net):
    with net.engine.begin() as conn:
        close_segment(conn, net.segments["BR"])
        recs = net.recommend(conn)
        # No bridge: A cannot reach the incident by road, falls back to the straight line and,
        # being so near, is now first; B is unaffected.
        assert recs["a"].method == "straight_line"
        assert list(recs)[0] == "a"
        assert recs["b"].distance_m == pytest.approx(road_b(net), abs=TOL_M)
        # Bridge reopened, W1 (the incident's own road) closed: the incident is reached from the
        # nearest open road, E across the river; A is on that same edge, B comes round by the bridge.
        reopen(conn, net.segments["BR"])
        close_segment(conn, net.segments["W1"])
        recs = net.recommend(conn)
        inc, a, b = net.incident, net.at(*UNITS["a"]), net.at(*UNITS["b"])
        inc_e, b_snap = snap_x(net, 0.001, inc[1]), snap_x(net, -0.001, b[1])
        ne, nw = net.at(0.001, 0.010), net.at(-0.001, 0.010)
        assert (recs["a"].method, recs["b"].method) == ("road", "road")
        assert recs["a"].distance_m == pytest.approx(
            geod(inc, inc_e) + geod(snap_x(net, 0.001, a[1]), a), abs=TOL_M
        )
        expected_b = geod(inc, inc_e) + geod(inc_e, ne) + geod(ne, nw) + geod(nw, b_snap) + geod(b_snap, b)
        assert recs["b"].distance_m == pytest.approx(expected_b, abs=TOL_M)
        # Reopened: as before.
        reopen(conn, net.segments["W1"])
        recs = net.recommend(conn)
        assert list(recs)[:1] == ["b"]
        assert recs["a"].method == "road"


# --- the closures API ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def welfare_only(app_engine: Engine, people: Seed) -> tuple[str, str]:
    """A user whose one role may read closures but not change them."""
    password = secrets.token_urlsafe(10)
    name = f"{people.tag}-wel"
    with app_engine.begin() as conn:
        set_roles(conn, ["admin"])
        auth.create_user(conn, name, "福祉のみ", password, ["welfare"], people.dept_id)
    return name, password


def login(client, username: str, password: str) -> dict[str, str]:
    r = client.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def audit_rows(engine: Engine, action: str, target: str) -> list[dict]:
    with engine.begin() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(
                text("SELECT actor, details FROM audit.log WHERE action = :a AND target = :t ORDER BY id"),
                {"a": action, "t": target},
            )
        ]


def test_closures_api(client, net: Net, people: Seed, welfare_only):
    hq = people.bearer(client, "hq")
    staff = people.bearer(client, "staff")
    weak = login(client, *welfare_only)
    bridge = net.segments["BR"]

    assert client.get("/api/road-closures").status_code == 401
    assert (
        client.post("/api/road-closures", json={"road_segment_id": bridge, "reason": "冠水"}).status_code
        == 401
    )
    r = client.post("/api/road-closures", json={"road_segment_id": bridge, "reason": "冠水"}, headers=weak)
    assert r.status_code == 403
    assert r.json()["error"]["message_ja"] and r.json()["error"]["message_en"]

    r = client.post(
        "/api/road-closures", json={"road_segment_id": bridge, "reason": " 橋脚損傷 "}, headers=hq
    )
    assert r.status_code == 201, r.text
    closure = r.json()
    assert closure["road_segment_id"] == bridge and closure["route_no"] == "BR"
    assert (closure["reason"], closure["active"], closure["created_by"]) == (
        "橋脚損傷",
        True,
        f"{people.tag}-hq",
    )
    assert closure["geometry"]["type"] == "MultiLineString"
    assert [
        a["details"]["closure_id"]
        for a in audit_rows(net.engine, "road_closure.create", f"road_segment:{bridge}")
    ] == [closure["id"]]

    # In force: staff see it, and routing leaves the bridge out.
    listed = client.get("/api/road-closures", headers=weak).json()
    assert closure["id"] in [c["id"] for c in listed]
    with net.engine.begin() as conn:
        assert net.recommend(conn)["a"].method == "straight_line"

    # Twice, an unknown segment, a bad body: refused, nothing stored.
    again = client.post("/api/road-closures", json={"road_segment_id": bridge, "reason": "再"}, headers=hq)
    assert again.status_code == 409
    unknown = client.post("/api/road-closures", json={"road_segment_id": 2**62, "reason": "冠水"}, headers=hq)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message_ja"] == "道路区間が見つかりません。"
    assert unknown.json()["error"]["message_en"] == "Road segment not found."
    # A segment of a road layer the user may not see answers as an unknown one.
    with net.engine.begin() as conn:
        hidden_layer = conn.execute(
            text(
                """INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind,
                                          geometry_type)
                   VALUES (:slug, '非公開道路', 'Hidden roads', :dept, 'restricted', 'road_segment',
                           'MultiLineString') RETURNING id"""
            ),
            {"slug": f"{net.tag}-hidden", "dept": people.dept_id},
        ).scalar_one()
        hidden = conn.execute(
            text(
                """INSERT INTO gis.road_segment (layer_id, route_no, route_name, road_class, geom)
                   SELECT :l, 'H', '秘', 'その他', geom FROM gis.road_segment WHERE id = :s RETURNING id"""
            ),
            {"l": hidden_layer, "s": net.segments["IS"]},
        ).scalar_one()
    try:
        r = client.post("/api/road-closures", json={"road_segment_id": hidden, "reason": "冠水"}, headers=hq)
        assert (r.status_code, r.json()) == (404, unknown.json())
    finally:
        with net.engine.begin() as conn:
            conn.execute(text("DELETE FROM gis.layer WHERE id = :l"), {"l": hidden_layer})
    for bad in (
        {"road_segment_id": bridge, "reason": "   "},
        {"road_segment_id": bridge},
        {"road_segment_id": -1, "reason": "x"},
    ):
        assert client.post("/api/road-closures", json=bad, headers=hq).status_code == 422
    with net.engine.begin() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM gis.road_closure WHERE road_segment_id = :s"), {"s": bridge}
            ).scalar_one()
            == 1
        )

    # Reopen: HQ (staff may too); not by the welfare-only user; not twice; unknown id 404.
    assert client.post(f"/api/road-closures/{closure['id']}/reopen", headers=weak).status_code == 403
    r = client.post(f"/api/road-closures/{closure['id']}/reopen", headers=staff)
    assert r.status_code == 200, r.text
    assert (r.json()["active"], r.json()["reopened_by"]) == (False, f"{people.tag}-staff")
    assert client.post(f"/api/road-closures/{closure['id']}/reopen", headers=hq).status_code == 409
    assert client.post("/api/road-closures/999999999999/reopen", headers=hq).status_code == 404
    assert client.post("/api/road-closures/99999999999999999999/reopen", headers=hq).status_code == 422
    assert len(audit_rows(net.engine, "road_closure.reopen", f"road_segment:{bridge}")) == 1

    active = client.get("/api/road-closures", headers=staff).json()
    everything = client.get("/api/road-closures?active_only=false", headers=staff).json()
    assert closure["id"] not in [c["id"] for c in active]
    assert closure["id"] in [c["id"] for c in everything]
    with net.engine.begin() as conn:
        assert net.recommend(conn)["a"].method == "road"
    # And it can be closed again.
    r = client.post("/api/road-closures", json={"road_segment_id": bridge, "reason": "冠水"}, headers=hq)
    assert r.status_code == 201
    listed = [c["id"] for c in client.get("/api/road-closures?active_only=false", headers=staff).json()]
    assert [i for i in listed if i in (closure["id"], r.json()["id"])] == [r.json()["id"], closure["id"]]
