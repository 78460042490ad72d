"""Items (with and without a CQL2 filter) and vector tiles: gisapp vs. tipg and pygeoapi, interleaved.

A fresh local stack (fsync on) gets a 100k-polygon layer (gis.hazard_area, "parcels") and a
200k-segment road layer (gis.road_segment, "roads"), both public. Each server is its own process on
loopback with one worker, all on the same PostGIS (bench/_peers.py): gisapp's citizen-facing instance
(``serve --public``, reads the ``pub`` views), gisapp's internal app (anonymous, reads the tables),
tipg and pygeoapi.

**Interleaved, so that machine noise lands on every server alike.** The run is ``--rounds`` rounds;
in each, every case is measured ``--samples`` times, and each sample asks every server once, in an
order shuffled per sample (the same path for all). A round also runs one ``wrk`` per server and
layer, in a shuffled order. Per server and case the table gives the median over all samples with
the p25–p75 of the samples; each ratio (gisapp public ÷ peer) is taken round by round, from the two
round medians, and given as its median with the min–max over the rounds.

Cases: items ``limit=10|100|1000`` with a bbox (a ~2 × 1.3 km view); the same limits with a CQL2 text
filter, a comparison (with the bbox) and a spatial ``S_INTERSECTS`` (no bbox); tiles z10 (the tile
holding the whole city) and z14 (a 6 × 6 block in the middle, in turn), cold and warm; and warm
tiles/s with ``wrk -t2 -c16`` over the z14 block. *Cold* for gisapp = its tile cache emptied by
bumping the layer revision just before its request, as a feature change does; the peers have no tile
cache. PostgreSQL's buffers are warm for everyone (one untimed request per server and case first).
A server answering 400 to a case (a filter it does not support) is reported "unsupported" for it.

    PYTHONPATH=. .venv/bin/python bench/tiles_and_items.py [--rounds 5] [--samples 5] [--duration 5]
        [--quick] [--json out.json] [--skip-peers] [--only NAME] [--keep] [--attach /tmp/gisapp-bench-…]
        [--peers-python python3.12] [--baseline /path/to/other/checkout] [--cases REGEX]

``--quick``: 2 rounds of 2 samples, 2-second wrk runs, pygeoapi's tiles skipped (a smoke run).
``--keep`` leaves the stack with its data running; ``--attach DIR`` measures on such a stack again.
``--baseline DIR`` adds "gisapp baseline": the public instance of another checkout (the code before a
change), interleaved like the rest, so a before/after comes from one run.
No figure is asserted anywhere: this prints them and writes them to the JSON file, with the issue's
targets (for the public instance) and "watch" lines: the internal instance more than 2x slower than
the public one on a case, or this checkout more than 1.15x slower than the baseline (bench/_report.py).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import _peers  # bench/_peers.py (this script's folder is on sys.path)
import _stack
from _report import report
from sqlalchemy import text
from sqlalchemy.engine import make_url

from gisapp.db import make_engine, set_roles
from gisapp.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CENTRE = (139.30, 35.39)
ITEMS_BBOX = "139.29,35.385,139.31,35.395"  # 861 polygons, > 1,000 road segments
SPATIAL = "POLYGON((139.292 35.386, 139.308 35.386, 139.308 35.394, 139.292 35.394, 139.292 35.386))"
COMPARISON = {"parcels": "hazard_type = 'flood' AND name <> '区画0'", "roads": "width_m >= 7"}
LIMITS = (10, 100, 1000)

POLYGONS = """
INSERT INTO gis.hazard_area (layer_id, hazard_type, depth_rank, name, source_key, geom)
SELECT :l, 'flood', '0.5-3.0m', '区画' || i, 'p' || i,
       ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(139.20 + (i % 400) * 0.0005 + (i % 7) * 0.00002,
                                                   35.33 + (i / 400) * 0.0005), 4326),
                          0.00015 + (i % 5) * 0.00001, 'quad_segs=4'))
FROM generate_series(0, 99999) AS i
"""
ROADS = """
INSERT INTO gis.road_segment (layer_id, route_no, route_name, road_class, width_m, length_m, geom)
SELECT :l, 'r' || i, '市道' || (i / 400) || '号線', CASE WHEN i % 10 = 0 THEN '1級' ELSE 'その他' END,
       4 + i % 5, 45,
       ST_Multi(ST_MakeLine(ARRAY[
         ST_SetSRID(ST_MakePoint(139.20 + (i % 400) * 0.0005, 35.33 + (i / 400) * 0.00025), 4326),
         ST_SetSRID(ST_MakePoint(139.20 + (i % 400) * 0.0005 + 0.00025, 35.33 + (i / 400) * 0.00025
                                 + ((i % 3) - 1) * 0.00003), 4326),
         ST_SetSRID(ST_MakePoint(139.20 + (i % 400 + 1) * 0.0005, 35.33 + (i / 400) * 0.00025), 4326)]))
FROM generate_series(0, 199999) AS i
"""


def tiles_for(z: int) -> list[tuple[int, int, int]]:
    n = 2**z
    x = int((CENTRE[0] + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(CENTRE[1]))) / math.pi) / 2 * n)
    if z <= 10:
        return [(z, x, y)]
    return [(z, x + dx, y + dy) for dx in range(-3, 3) for dy in range(-3, 3)]


class Case:
    """One figure: per server the paths asked in turn; `kind` is items, cold or warm."""

    def __init__(self, key: str, kind: str, slug: str, paths: dict[str, list[str]]) -> None:
        self.key, self.kind, self.slug, self.paths = key, kind, slug, paths
        self.status: dict[str, str] = {}  # server -> "ok" | "unsupported: …" | "failed: …" | "skipped: …"
        self.probe: dict[str, dict] = {}  # server -> what the untimed first answer held
        self.samples: dict[str, list[list[float]]] = {}  # server -> per round, seconds


def items_path(server: _peers.Server, slug: str, limit: int, label: str) -> str:
    if label == " cmp":  # a comparison, with the view's bbox
        return server.items(slug, limit, ITEMS_BBOX, COMPARISON[slug])
    if label == " s_intersects":  # a spatial filter instead of the bbox
        return server.items(slug, limit, cql=f"S_INTERSECTS({server.geometry}, {SPATIAL})")
    return server.items(slug, limit, ITEMS_BBOX)


def make_cases(servers: list[_peers.Server], quick: bool) -> list[Case]:
    cases = []
    for slug in _peers.TABLES:
        for limit in LIMITS:
            for label in ("", " cmp", " s_intersects"):
                key = f"items {slug}{label} limit {limit}"
                paths = {s.name: [items_path(s, slug, limit, label)] for s in servers}
                cases.append(Case(key, "items", slug, paths))
    for slug in _peers.TABLES:
        for z in (10, 14):
            for kind in ("cold", "warm"):
                case = Case(f"tile {slug} z{z} {kind}", kind, slug, {})
                for s in servers:
                    if s.slow_tiles and (quick or z == 10 or kind == "warm"):
                        case.status[s.name] = "skipped: " + s.slow_tiles
                    else:
                        case.paths[s.name] = [s.tile_path(slug, *t) for t in tiles_for(z)]
                cases.append(case)
    return cases


def get(conn: http.client.HTTPConnection, path: str) -> tuple[float, int, bytes]:
    """One keep-alive request, timed. A connection the server closed while idle (uvicorn: after 5 s,
    e.g. during another server's wrk run) is opened again untimed and the request timed anew."""
    for attempt in (1, 2):
        t0 = time.perf_counter()
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            return time.perf_counter() - t0, r.status, body
        except (http.client.RemoteDisconnected, ConnectionError):
            conn.close()
            if attempt == 2:
                raise
            conn.connect()
    raise AssertionError("unreachable")


def probe(case: Case, server: _peers.Server, conn: http.client.HTTPConnection) -> None:
    """The untimed first request: warms PostgreSQL's buffers and the server's plans, and says whether
    the server supports the case at all (400: unsupported, e.g. a CQL2 filter it cannot parse)."""
    path = case.paths[server.name][0]
    _, status, body = get(conn, path)
    if status == 400:
        case.status[server.name] = "unsupported: 400 " + body[:160].decode(errors="replace")
    elif status not in (200, 204):
        case.status[server.name] = f"failed: {status} " + body[:160].decode(errors="replace")
    else:
        case.status[server.name] = "ok"
        info: dict = {"bytes": len(body)}
        if case.kind == "items":
            doc = json.loads(body)
            info.update(returned=len(doc.get("features", [])), matched=doc.get("numberMatched"))
        case.probe[server.name] = info


def measure_round(
    r: int, cases: list[Case], servers: list[_peers.Server], conns: dict, per_round: int, bump
) -> None:
    for case in cases:
        active = [s for s in servers if case.status.get(s.name) == "ok"]
        if case.kind == "warm":
            for s in active:  # refill the caches the cold cases emptied (untimed)
                for p in case.paths[s.name]:
                    get(conns[s.name], p)
        for s in active:
            case.samples.setdefault(s.name, []).append([])
        for i in range(per_round):
            for s in random.sample(active, len(active)):
                if case.status[s.name] != "ok" or (s.slow_tiles and case.kind != "items" and i > 0):
                    continue  # a server with slow tiles: one tile per round; its items as everyone's
                paths = case.paths[s.name]
                if case.kind == "cold" and s.cold_bump:
                    bump(case.slug)
                dt, status, body = get(conns[s.name], paths[(r * per_round + i) % len(paths)])
                if status not in (200, 204):
                    case.status[s.name] = f"failed: {status} in round {r + 1} " + body[:120].decode(
                        errors="replace"
                    )
                    continue
                case.samples[s.name][r].append(dt)
        sys.stdout.write(".")
        sys.stdout.flush()


def wrk(port: int, paths: list[str], duration: int, tmp: Path) -> dict:
    script = tmp / f"rotate-{port}.lua"
    script.write_text(
        "local paths = {" + ", ".join(f'"{p}"' for p in paths) + "}\nlocal i = 0\n"
        "request = function()\n  i = i + 1\n  return wrk.format('GET', paths[(i % #paths) + 1])\nend\n"
    )
    out = subprocess.run(
        ["wrk", "-t2", "-c16", "--latency", f"-d{duration}s", "-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        timeout=duration + 60,
    ).stdout
    rps = next((ln.split(":")[1].strip() for ln in out.splitlines() if ln.startswith("Requests/sec")), "nan")
    p99 = next((ln.split()[1] for ln in out.splitlines() if ln.strip().startswith("99%")), "?")
    errors = [ln.strip() for ln in out.splitlines() if "Non-2xx" in ln or "Socket errors" in ln]
    return {"rps": float(rps), "p99": p99, "errors": errors}


def wrk_round(servers: list[_peers.Server], duration: int, tmp: Path, results: dict) -> None:
    jobs = [(s, slug) for s in servers if not s.slow_tiles for slug in _peers.TABLES]
    for s, slug in random.sample(jobs, len(jobs)):
        paths = [s.tile_path(slug, *t) for t in tiles_for(14)]
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=120)
        for p in paths:
            get(conn, p)  # warm: wrk measures the cache (gisapp) or the steady state (peers)
        conn.close()
        results.setdefault(f"tile {slug} z14 warm req/s", {}).setdefault(s.name, []).append(
            wrk(s.port, paths, duration, tmp)
        )


# --- the stack and its data -------------------------------------------------------------------------
def prepare(settings: Settings) -> dict[str, int]:
    engine = make_engine(settings.database_url)
    ids = {}
    with engine.begin() as conn:
        set_roles(conn, ["admin"])
        dept = conn.execute(
            text(
                "INSERT INTO core.department (code, name_ja, name_en) VALUES ('bench', 'ベンチ', 'Bench') RETURNING id"
            )
        ).scalar_one()
        for slug, (kind, gtype) in {"parcels": ("hazard_area", "MultiPolygon"), "roads": ("road_segment", "MultiLineString")}.items():  # fmt: skip
            ids[slug] = conn.execute(
                text(
                    "INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind,"
                    " geometry_type) VALUES (:s, :s, :s, :d, 'public', :k, :g) RETURNING id"
                ),
                {"s": slug, "d": dept, "k": kind, "g": gtype},
            ).scalar_one()
        t0 = time.perf_counter()
        conn.execute(text(POLYGONS), {"l": ids["parcels"]})
        conn.execute(text(ROADS), {"l": ids["roads"]})
        print(f"prepared 100,000 polygons and 200,000 road segments in {time.perf_counter() - t0:.1f} s")
    engine.dispose()
    # As the owner: the app role may not vacuum (PostgreSQL skips the table with a mere warning).
    owner = make_engine(settings.migration_database_url)
    with owner.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in _peers.TABLES.values():
            conn.execute(text(f"VACUUM ANALYZE {table}"))  # constant table names
    owner.dispose()
    return ids


def layer_ids(settings: Settings) -> dict[str, int]:
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT slug, id FROM gis.layer WHERE slug = ANY(:s)"), {"s": list(_peers.TABLES)}
        ).all()
    engine.dispose()
    return dict(rows)


def load_note() -> dict:
    others = subprocess.run(["pgrep", "-fc", "pytest"], capture_output=True, text=True).stdout.strip()
    return {"loadavg": os.getloadavg(), "pytest_processes": int(others or 0), "cpus": os.cpu_count()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--samples", type=int, default=5, help="samples per case, server and round")
    ap.add_argument("--duration", type=int, default=5, help="seconds of each wrk run")
    ap.add_argument("--quick", action="store_true", help="2 rounds × 2 samples, 2 s wrk, no pygeoapi tiles")
    ap.add_argument("--json", type=Path, default=Path("/tmp/tiles_and_items.json"))
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--only", default="", help="measure only the servers whose name contains this")
    ap.add_argument("--peers-venv", type=Path, default=Path("/tmp/tiles-peers-venv"))
    ap.add_argument("--peers-python", default=shutil.which("python3.12") or sys.executable)
    ap.add_argument("--keep", action="store_true", help="leave the stack running (stop: gisapp down)")
    ap.add_argument("--attach", type=Path, help="a stack left by --keep: measure on it again")
    ap.add_argument("--baseline", type=Path, help="another checkout: its public instance measured too")
    ap.add_argument("--cases", default="", help="only the cases matching this regex (wrk only with tiles)")
    a = ap.parse_args()
    # A stop (kill PID) stops the servers and the stack too (the `finally` below); in a background
    # job SIGINT is ignored, so SIGTERM is the way to stop it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if a.quick:
        a.rounds, a.samples, a.duration = 2, 2, 2

    if a.attach:
        root, stack, settings = a.attach, None, _stack.attach(a.attach)
        ids = layer_ids(settings)
    else:
        root, stack, settings = _stack.start("gisapp-bench-tiles-")
        ids = prepare(settings)
    servers: list[_peers.Server] = []
    try:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        gisapp_bin = str(Path(sys.executable).parent / "gisapp")
        servers += _peers.gisapp_servers(gisapp_bin, env, root, _stack.free_port, a.baseline)
        if not a.skip_peers and (venv := _peers.peers_venv(a.peers_venv, a.peers_python)):
            owner_url = make_url(settings.migration_database_url)
            servers += _peers.peer_servers(venv, owner_url, env, root, _stack.free_port)
        servers = [s for s in servers if a.only in s.name or s.name == "gisapp public"]
        for s in servers:
            s.start()
        for s in servers:
            s.wait()
        for s in servers:
            if s.cold_bump:
                s.geometry = _peers.gisapp_geometry_name(s, "parcels")
        engine = make_engine(settings.database_url)

        def bump(slug: str) -> None:
            with engine.begin() as c:
                c.execute(text("SELECT gis.touch_layers(ARRAY[CAST(:l AS int)])"), {"l": ids[slug]})

        cases = [c for c in make_cases(servers, a.quick) if re.search(a.cases, c.key)]
        conns = {s.name: http.client.HTTPConnection("127.0.0.1", s.port, timeout=600) for s in servers}
        meta = {
            "cases": a.cases,
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "rounds": a.rounds,
            "samples_per_round": a.samples,
            "wrk_seconds": a.duration,
            "servers": [s.name for s in servers],
            "load": [load_note()],
        }
        print(
            f"{len(servers)} servers, {len(cases)} cases, {a.rounds} rounds × {a.samples} samples; load {meta['load'][0]}"
        )
        for case in cases:
            for s in servers:
                if case.status.get(s.name, "").startswith("skipped") or s.name not in case.paths:
                    continue
                probe(case, s, conns[s.name])
        throughput: dict = {}
        has_wrk = shutil.which("wrk") is not None and any(c.key.startswith("tile") for c in cases)
        for r in range(a.rounds):
            t0 = time.monotonic()
            measure_round(r, cases, servers, conns, a.samples, bump)
            if has_wrk:
                wrk_round(servers, a.duration, root, throughput)
            meta["load"].append(load_note())
            print(
                f" round {r + 1}/{a.rounds} in {time.monotonic() - t0:.0f} s, load {meta['load'][-1]['loadavg']}"
            )
        if not shutil.which("wrk"):
            meta["wrk"] = "wrk not installed (apt-get install -y wrk): no req/s figures"
        meta["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        report(cases, throughput, meta, a.json)
        engine.dispose()
    finally:
        for s in servers:
            s.stop()
        if stack is not None and a.keep:
            print(f"\nstack kept: --attach {root}  (GISAPP_DATA_DIR={root / 'data'})")
        elif stack is not None:
            _stack.stop(root, stack)


if __name__ == "__main__":
    main()
