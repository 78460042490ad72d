"""Items and vector tiles: gisapp vs. tipg and pygeoapi 0.21, in one run, on one PostGIS.

A fresh local stack (fsync on) gets a 100k-polygon layer (gis.hazard_area) and a 200k-segment road
layer (gis.road_segment), both public. Each server runs as its own process on loopback, one worker:

- gisapp, the citizen-facing instance (``gisapp serve --public``: reads the ``pub`` views) and the
  internal app (anonymous; reads the tables);
- tipg and pygeoapi, installed from PyPI into a separate venv (``--peers-venv``, default
  /tmp/tiles-peers-venv; made with ``python -m venv`` + ``pip install tipg 'pygeoapi>=0.21,<0.22'
  uvicorn psycopg2-binary geoalchemy2`` when missing), pointed at the same tables as the owner role
  (tipg needs TEMP on the database). pygeoapi 0.21.0's MVT-postgresql provider fails on a list-valued
  ``options.schemes`` (passed on as an unhashable connect argument), so that option is left out; the
  provider offers WebMercatorQuad without it.

Items: ``/items?limit=10|100|1000&bbox=…`` (a ~2 × 1.3 km view), medians over the samples.
Tiles: measured for z10 (the tile holding the whole city) and z14 (a 6×6 block of tiles in the middle):
cold latency (gisapp: its tile cache emptied by bumping the layer revision before every request, as a
feature change does; the peers have no tile cache, so every request is cold), warm latency (the same
tiles again), medians and p99 over ``--samples`` sequential keep-alive requests, and warm requests/s
with ``wrk`` (2 threads, 16 connections, rotating over the z14 block). PostgreSQL's own buffers are warm
in every case. Bytes and feature counts per tile are printed too: the servers do not put the same
features in a tile (gisapp caps and simplifies by zoom, tipg caps at 10,000, pygeoapi does neither).

    .venv/bin/python bench/tiles_and_items.py [--samples 25] [--duration 10] [--skip-peers]
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

import _stack  # bench/_stack.py (this script's folder is on sys.path)
from sqlalchemy import text
from sqlalchemy.engine import make_url

from gisapp.db import make_engine, set_roles
from gisapp.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SLOW_SAMPLES = 3
PYGEOAPI_SLOW = (
    "its MVT-postgresql provider transforms every row with ST_Transform(geom, 'EPSG:3857') (the text"
    " variant, ~10 ms a row on PostGIS 3.3: PROJ is set up per call), so a z10 tile of this data takes"
    " many minutes"
)
CENTRE = (139.30, 35.39)
LAYERS = {"parcels": "gis.hazard_area", "roads": "gis.road_segment"}  # bench slug -> table

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


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def tiles_for(z: int) -> list[tuple[int, int, int]]:
    x, y = tile_of(*CENTRE, z)
    if z <= 10:
        return [(z, x, y)]
    return [(z, x + dx, y + dy) for dx in range(-3, 3) for dy in range(-3, 3)]


# --- servers -------------------------------------------------------------------------------------
class Server:
    def __init__(
        self,
        name: str,
        port: int,
        argv: list[str],
        env: dict[str, str],
        url,
        log: Path,
        slow: str = "",
        items=None,
    ) -> None:
        self.name, self.port, self.url, self.items = name, port, url, items
        self.slow = slow  # why only a few z14 samples are taken, if so
        self.log_path = log
        self.log = log.open("wb")
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=log.parent)

    def wait(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-1500:]
                raise RuntimeError(f"{self.name} exited:\n{tail}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                c.request("GET", path)
                if c.getresponse().status < 500:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not answer {path} in {timeout}s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def pygeoapi_config(port: int, db: dict, path: Path) -> None:
    # The attribute columns only: pygeoapi cannot serialise a second geometry column (geom_3857).
    props = {"parcels": "[hazard_type, name]", "roads": "[route_no, route_name, road_class, width_m]"}

    def resource(slug: str, table: str) -> str:
        conn = (
            f"{{host: {db['host']}, port: {db['port']}, dbname: {db['dbname']}, user: {db['user']},"
            f" password: '{db['password']}', search_path: [gis, public]}}"
        )
        return f"""  {slug}:
    type: collection
    title: {slug}
    description: {slug}
    keywords: [bench]
    extents:
      spatial: {{bbox: [139.19, 35.32, 139.41, 35.42], crs: http://www.opengis.net/def/crs/OGC/1.3/CRS84}}
    providers:
      - type: feature
        name: PostgreSQL
        data: {conn}
        id_field: id
        table: {table}
        geom_field: geom
        properties: {props[slug]}
      - type: tile
        name: MVT-postgresql
        data: {conn}
        id_field: id
        table: {table}
        geom_field: geom
        options:
          zoom: {{min: 0, max: 22}}
        format: {{name: pbf, mimetype: application/vnd.mapbox-vector-tile}}
"""

    path.write_text(
        f"""server:
  bind: {{host: 127.0.0.1, port: {port}}}
  url: http://127.0.0.1:{port}
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  language: en-US
  limits: {{default_items: 10, max_items: 10000}}
  map: {{url: 'https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png', attribution: osm}}
logging: {{level: ERROR}}
metadata:
  identification: {{title: bench, description: bench, keywords: [bench], keywords_type: theme,
                    terms_of_service: 'https://example.org', url: 'https://example.org'}}
  license: {{name: CC-BY 4.0, url: 'https://creativecommons.org/licenses/by/4.0/'}}
  provider: {{name: bench, url: 'https://example.org'}}
  contact: {{name: bench}}
resources:
"""
        + "".join(resource(slug, table.split(".")[1]) for slug, table in LAYERS.items())
    )


# --- measuring -----------------------------------------------------------------------------------
def get(conn: http.client.HTTPConnection, path: str) -> tuple[float, int, bytes]:
    t0 = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    return time.perf_counter() - t0, r.status, body


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, math.ceil(q * len(s)) - 1)]


def fmt(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"median {statistics.median(ms):8.1f} ms  p99 {pct(ms, 0.99):8.1f} ms  (n={len(ms)})"


def features_in(body: bytes, z: int, x: int, y: int, layer: str, tmp: Path) -> int:
    import pyogrio

    if not body:
        return 0
    # GDAL's MVT driver reads a lone tile named …/z/x/y.pbf
    path = tmp / "probe" / str(z) / str(x) / f"{y}.pbf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    try:
        return sum(pyogrio.read_info(path, layer=name)["features"] for name, _ in pyogrio.list_layers(path))
    except Exception:
        return -1


def wrk_rps(port: int, paths: list[str], duration: int, tmp: Path) -> str:
    if not shutil.which("wrk"):
        return "wrk not installed (apt-get install -y wrk)"
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
    rps = next((ln.split(":")[1].strip() for ln in out.splitlines() if ln.startswith("Requests/sec")), "?")
    p99 = next((ln.split()[1] for ln in out.splitlines() if ln.strip().startswith("99%")), "?")
    errors = [ln.strip() for ln in out.splitlines() if "Non-2xx" in ln or "Socket errors" in ln]
    return f"{rps} req/s, p99 {p99} under load" + (f"  ({'; '.join(errors)})" if errors else "")


def measure(
    server: Server, engine, layer_ids: dict[str, int], samples: int, duration: int, tmp: Path
) -> None:
    bump = text("SELECT gis.touch_layers(ARRAY[CAST(:l AS int)])")
    if server.slow:
        print(
            f"  z10 not measured; z14: {SLOW_SAMPLES} samples (no cache: cold = warm), no wrk run: {server.slow}"
        )
        samples = SLOW_SAMPLES
    for slug in LAYERS:
        for z in (14,) if server.slow else (10, 14):
            tiles = tiles_for(z)
            paths = [server.url(slug, *t) for t in tiles]
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
            # PostgreSQL's buffers warm for everyone (the servers' own caches are emptied below).
            body = b""
            for p in reversed(paths[: 1 if server.slow else None]):
                _, _, body = get(conn, p)  # ends with paths[0]: its size and features are printed
            cold = []
            for i in range(samples):
                if server.name.startswith("gisapp"):
                    with engine.begin() as c:
                        c.execute(bump, {"l": layer_ids[slug]})
                dt, status, _ = get(conn, paths[i % len(paths)])
                assert status in (200, 204), (server.name, paths[i % len(paths)], status)
                cold.append(dt)
            RESULTS[(server.name, f"tile {slug} z{z} cold")] = statistics.median(cold) * 1000
            n = features_in(body, *tiles[0], slug, tmp)
            size = f"tile {len(body) / 1024:8.1f} KiB, {n} features"
            print(f"  {slug:7s} z{z:<2d} cold {fmt(cold)}   {size}")
            if not server.slow:
                for p in paths:
                    get(conn, p)  # fill the cache
                warm = [get(conn, paths[i % len(paths)])[0] for i in range(samples)]
                RESULTS[(server.name, f"tile {slug} z{z} warm")] = statistics.median(warm) * 1000
                print(f"  {slug:7s} z{z:<2d} warm {fmt(warm)}")
            if z == 14 and not server.slow:
                rps = wrk_rps(server.port, paths, duration, tmp)
                print(f"  {slug:7s} z14 warm throughput (wrk -t2 -c16, 36 tiles in turn): {rps}")
            conn.close()
            sys.stdout.flush()


# Items: a bbox of about 2 × 1.3 km in the middle of the data, as a map client asks for a view.
ITEMS_BBOX = "139.29,35.385,139.31,35.395"
ITEM_LIMITS = (10, 100, 1000)
RESULTS: dict[tuple[str, str], float] = {}  # (server, figure) -> median ms, for the ratio table


def measure_items(server: Server, samples: int) -> None:
    if server.items is None:
        return
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    n = SLOW_SAMPLES if server.slow and samples > SLOW_SAMPLES else samples
    for slug in LAYERS:
        for limit in ITEM_LIMITS:
            path = server.items(slug, limit, ITEMS_BBOX)
            _, status, body = get(conn, path)  # warm PostgreSQL's buffers and the server's plans
            assert status == 200, (server.name, path, status, body[:300])
            got = len(json.loads(body).get("features", []))
            times = [get(conn, path)[0] for _ in range(n)]
            RESULTS[(server.name, f"items {slug} limit {limit}")] = statistics.median(times) * 1000
            print(
                f"  {slug:7s} items limit {limit:<4d} {fmt(times)}   {got} features, {len(body) / 1024:.0f} KiB"
            )
            sys.stdout.flush()
    conn.close()


def ratio_table() -> None:
    """gisapp's medians over each peer's, per figure (< 1: gisapp is faster)."""
    ours = "gisapp public"
    figures = sorted({f for (srv, f) in RESULTS if srv == ours})
    peers = sorted({srv for (srv, _) in RESULTS if not srv.startswith("gisapp")})
    if not peers:
        return
    print("\nratios, gisapp public ÷ peer (median latency; < 1 means gisapp is faster)")
    print(f"  {'figure':34s}" + "".join(f"{p:>16s}" for p in peers))
    for f in figures:
        cells = []
        for p in peers:
            peer = RESULTS.get((p, f))
            cells.append(f"{RESULTS[(ours, f)] / peer:16.2f}" if peer else f"{'—':>16s}")
        print(f"  {f:34s}" + "".join(cells))


# --- main ------------------------------------------------------------------------------------------
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
        for table in LAYERS.values():
            conn.execute(text(f"VACUUM ANALYZE {table}"))  # constant table names
    owner.dispose()
    return ids


def peers_venv(path: Path) -> Path | None:
    if (path / "bin" / "tipg").exists() or (path / "bin" / "uvicorn").exists():
        return path
    print(f"creating the peers' venv {path} (tipg, pygeoapi 0.21.x) …")
    r = subprocess.run([sys.executable, "-m", "venv", str(path)])
    if r.returncode == 0:
        r = subprocess.run(
            [
                str(path / "bin/pip"),
                "install",
                "-q",
                "tipg",
                "pygeoapi>=0.21,<0.22",
                "uvicorn",
                "psycopg2-binary",
                "geoalchemy2",
            ]
        )
    return path if r.returncode == 0 else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=25)
    ap.add_argument("--duration", type=int, default=10, help="seconds of each wrk run")
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--only", default="", help="measure only the servers whose name contains this")
    ap.add_argument("--peers-venv", type=Path, default=Path("/tmp/tiles-peers-venv"))
    ap.add_argument("--keep", action="store_true", help="leave the stack running (stop: gisapp down)")
    a = ap.parse_args()

    root, stack, settings = _stack.start("gisapp-bench-tiles-")
    servers: list[Server] = []
    try:
        layer_ids = prepare(settings)
        engine = make_engine(settings.database_url)
        env = dict(os.environ)

        def ours(slug: str, z: int, x: int, y: int) -> str:
            return f"/ogc/collections/{slug}/tiles/WebMercatorQuad/{z}/{y}/{x}"

        gisapp_bin = str(ROOT / ".venv/bin/gisapp")
        for name, extra in (("gisapp public", ["--public"]), ("gisapp internal (anonymous)", [])):
            port = _stack.free_port()
            argv = [gisapp_bin, "serve", *extra, "--port", str(port)]
            servers.append(
                Server(name, port, argv, env, ours, root / f"{name.split()[1]}.log",
                       items=lambda slug, n, bbox: f"/ogc/collections/{slug}/items?limit={n}&bbox={bbox}")
            )  # fmt: skip

        if not a.skip_peers and (venv := peers_venv(a.peers_venv)):
            # The owner role: tipg needs TEMP on the database (its catalog functions), the app role has none.
            u = make_url(settings.migration_database_url)
            db = {
                "host": u.host,
                "port": u.port,
                "dbname": u.database,
                "user": u.username,
                "password": u.password,
            }
            peer_env = {k: v for k, v in env.items() if not k.startswith("GISAPP_") and k != "LOG_LEVEL"}
            port = _stack.free_port()
            tipg_env = {
                **peer_env,
                "DATABASE_URL": u.set(drivername="postgresql").render_as_string(hide_password=False),
                "TIPG_DB_SCHEMAS": '["gis"]',
                "TIPG_DB_TABLES": '["gis.hazard_area", "gis.road_segment"]',
                "TIPG_TILE_BUFFER": "64",  # as gisapp (tipg's default is 256)
            }
            tipg_ids = {"parcels": "gis.hazard_area", "roads": "gis.road_segment"}
            servers.append(
                Server(
                    "tipg",
                    port,
                    [str(venv / "bin/uvicorn"), "tipg.main:app", "--port", str(port), "--no-access-log",
                     "--log-level", "warning"],
                    tipg_env,
                    lambda slug, z, x, y: f"/collections/{tipg_ids[slug]}/tiles/WebMercatorQuad/{z}/{x}/{y}",
                    root / "tipg.log",
                    items=lambda slug, n, bbox: f"/collections/{tipg_ids[slug]}/items?limit={n}&bbox={bbox}",
                )
            )  # fmt: skip
            port = _stack.free_port()
            cfg, oapi = root / "pygeoapi.yml", root / "pygeoapi-openapi.yml"
            pygeoapi_config(port, db, cfg)
            gen = subprocess.run(
                [str(venv / "bin/pygeoapi"), "openapi", "generate", str(cfg), "--output-file", str(oapi)],
                env=peer_env,
                capture_output=True,
                text=True,
            )
            if gen.returncode != 0:
                print(f"pygeoapi: openapi generate failed, not measured:\n{gen.stderr[-2000:]}")
            else:
                servers.append(
                    Server(
                        "pygeoapi 0.21",
                        port,
                        [str(venv / "bin/uvicorn"), "pygeoapi.starlette_app:APP", "--port", str(port),
                         "--no-access-log", "--log-level", "warning"],
                        {**peer_env, "PYGEOAPI_CONFIG": str(cfg), "PYGEOAPI_OPENAPI": str(oapi)},
                        lambda slug, z, x, y: f"/collections/{slug}/tiles/WebMercatorQuad/{z}/{y}/{x}?f=mvt",
                        root / "pygeoapi.log",
                        slow=PYGEOAPI_SLOW,
                        items=lambda slug, n, bbox: f"/collections/{slug}/items?limit={n}&bbox={bbox}&f=json",
                    )
                )  # fmt: skip

        print(
            f"samples per figure: {a.samples} sequential keep-alive requests; loopback; 2 cores; one worker each"
        )
        for server in servers:
            if a.only not in server.name:
                continue
            print(f"\n{server.name}")
            try:
                server.wait("/", timeout=120)
                measure_items(server, a.samples)
                measure(server, engine, layer_ids, a.samples, a.duration, root)
            except Exception as e:  # a peer that fails is reported, the others still measured
                where = traceback.extract_tb(e.__traceback__)[-1]
                print(f"  failed: {type(e).__name__}: {str(e)[:300]} (at {where.name}:{where.lineno})")
        ratio_table()
        engine.dispose()
    finally:
        for server in servers:
            server.stop()
        if a.keep:
            print(
                f"\nstack kept: GISAPP_DATA_DIR={root / 'data'} GISAPP_PG_PORT={os.environ['GISAPP_PG_PORT']}"
            )
        else:
            _stack.stop(root, stack)


if __name__ == "__main__":
    main()
