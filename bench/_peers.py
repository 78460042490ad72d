"""The servers bench/tiles_and_items.py compares: gisapp (public and internal) and its peers tipg and
pygeoapi, each its own process on loopback, one worker, all on the same PostGIS.

The peers come from PyPI into a venv of their own (``--peers-venv``), made when missing with
``python -m venv`` + ``pip install tipg==TIPG pygeoapi==PYGEOAPI uvicorn psycopg2-binary geoalchemy2``.
pygeoapi 0.22+ needs Python 3.12 (``--peers-python``); under 3.11 the venv gets pygeoapi 0.21.
"""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

TIPG = "1.6.1"
PYGEOAPI = "0.24.0"  # Python >= 3.12
PYGEOAPI_PY311 = "0.21.0"
TABLES = {"parcels": "gis.hazard_area", "roads": "gis.road_segment"}  # bench slug -> table
PYGEOAPI_SLOW = (
    "its MVT-postgresql provider transforms every row with ST_Transform(geom, 'EPSG:3857') (the text"
    " variant, ~10 ms a row on PostGIS 3.3: PROJ is set up per call): z10 not measured, z14 cold one"
    " sample a round, no warm figures (no cache: warm = cold), no wrk run"
)


def _q(**params: object) -> str:
    return urllib.parse.urlencode({k.replace("_", "-"): v for k, v in params.items() if v is not None})


@dataclass
class Server:
    """A server process and how to ask it for a tile or a page of items."""

    name: str
    port: int
    argv: list[str]
    env: dict[str, str]
    log: Path
    tile_path: Callable[[str, int, int, int], str]
    items_path: Callable[[str, str], str]  # (slug, query string) -> path
    geometry: str = "geom"  # the geometry property's name in a CQL2 filter
    slow_tiles: str = ""  # why its tiles are measured only at z14 and sparingly
    cold_bump: bool = False  # its tile cache is emptied (layer revision bumped) before a cold request
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> None:
        self._out = self.log.open("wb")
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdout=self._out, stderr=subprocess.STDOUT, cwd=self.log.parent
        )

    def wait(self, path: str = "/", timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log.read_text(errors='replace')[-1500:]}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                c.request("GET", path)
                if c.getresponse().status < 500:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not answer {path} in {timeout}s")

    def items(self, slug: str, limit: int, bbox: str | None = None, cql: str | None = None) -> str:
        return self.items_path(
            slug, _q(limit=limit, bbox=bbox, filter=cql, filter_lang="cql2-text" if cql else None)
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.proc is not None:
            self._out.close()


def gisapp_servers(
    gisapp_bin: str, env: dict[str, str], root: Path, free_port, baseline: Path | None = None
) -> list[Server]:
    """gisapp public and internal from this checkout; with `baseline` (another checkout, e.g.
    ``git worktree add /tmp/base main``) also "gisapp baseline", that code's public instance, for a
    before/after measured in the same interleaved run."""

    def tile(slug: str, z: int, x: int, y: int) -> str:
        return f"/ogc/collections/{slug}/tiles/WebMercatorQuad/{z}/{y}/{x}"

    def items(slug: str, qs: str) -> str:
        return f"/ogc/collections/{slug}/items?{qs}"

    out = []
    variants = [("gisapp public", ["--public"], env), ("gisapp internal", [], env)]
    if baseline is not None:
        variants.append(("gisapp baseline", ["--public"], {**env, "PYTHONPATH": str(baseline)}))
    for name, extra, server_env in variants:
        port = free_port()
        argv = [gisapp_bin, "serve", *extra, "--port", str(port)]
        log = root / f"{name.replace(' ', '-')}.log"
        out.append(
            Server(name, port, argv, server_env, log, tile, items, geometry="geometry", cold_bump=True)
        )
    return out


def gisapp_geometry_name(server: Server, slug: str) -> str:
    """The spatial queryable gisapp declares (its CQL2 support is new); 'geometry' when none is found."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        c.request("GET", f"/ogc/collections/{slug}/queryables?f=json")
        r = c.getresponse()
        doc = json.loads(r.read()) if r.status == 200 else {}
    except (OSError, ValueError):
        doc = {}
    for name, schema in doc.get("properties", {}).items():
        text = json.dumps(schema)
        if "geometry" in str(schema.get("format", "")) or "primary-geometry" in text or "geojson" in text:
            return name
    return "geometry"


def peers_venv(path: Path, python: str) -> Path | None:
    if (path / "bin" / "uvicorn").exists():
        return path
    r = subprocess.run([python, "-c", "import sys; print(sys.version_info >= (3, 12))"], capture_output=True)
    pygeoapi = PYGEOAPI if r.stdout.strip() == b"True" else PYGEOAPI_PY311
    print(f"creating the peers' venv {path} (tipg {TIPG}, pygeoapi {pygeoapi}) …")
    r = subprocess.run([python, "-m", "venv", str(path)])
    if r.returncode == 0:
        pkgs = [f"tipg=={TIPG}", f"pygeoapi=={pygeoapi}", "uvicorn", "psycopg2-binary", "geoalchemy2"]
        r = subprocess.run([str(path / "bin/pip"), "install", "-q", *pkgs])
    return path if r.returncode == 0 else None


def version_of(venv: Path, package: str) -> str:
    r = subprocess.run(
        [str(venv / "bin/python"), "-c", f"import importlib.metadata as m; print(m.version('{package}'))"],
        capture_output=True,
        text=True,
    )
    return r.stdout.strip() or "?"


def peer_servers(venv: Path, db_url, env: dict[str, str], root: Path, free_port) -> list[Server]:
    """tipg and pygeoapi as the owner role: tipg needs TEMP on the database (its catalog functions),
    which the app roles do not have."""
    peer_env = {k: v for k, v in env.items() if not k.startswith("GISAPP_") and k != "LOG_LEVEL"}
    uvicorn = str(venv / "bin/uvicorn")
    quiet = ["--no-access-log", "--log-level", "warning"]
    servers = []
    port = free_port()
    tipg_env = {
        **peer_env,
        "DATABASE_URL": db_url.set(drivername="postgresql").render_as_string(hide_password=False),
        "TIPG_DB_SCHEMAS": '["gis"]',
        "TIPG_DB_TABLES": json.dumps(list(TABLES.values())),
        "TIPG_TILE_BUFFER": "64",  # as gisapp (tipg's default is 256)
    }
    servers.append(
        Server(
            f"tipg {version_of(venv, 'tipg')}",
            port,
            [uvicorn, "tipg.main:app", "--port", str(port), *quiet],
            tipg_env,
            root / "tipg.log",
            lambda slug, z, x, y: f"/collections/{TABLES[slug]}/tiles/WebMercatorQuad/{z}/{x}/{y}",
            lambda slug, qs: f"/collections/{TABLES[slug]}/items?{qs}",
        )
    )
    port = free_port()
    cfg, oapi = root / "pygeoapi.yml", root / "pygeoapi-openapi.yml"
    db = {"host": db_url.host, "port": db_url.port, "dbname": db_url.database, "user": db_url.username,
          "password": db_url.password}  # fmt: skip
    pygeoapi_config(port, db, cfg)
    gen = subprocess.run(
        [str(venv / "bin/pygeoapi"), "openapi", "generate", str(cfg), "--output-file", str(oapi)],
        env=peer_env,
        capture_output=True,
        text=True,
    )
    if gen.returncode != 0:
        print(f"pygeoapi: openapi generate failed, not measured:\n{gen.stderr[-2000:]}")
        return servers
    servers.append(
        Server(
            f"pygeoapi {version_of(venv, 'pygeoapi')}",
            port,
            [uvicorn, "pygeoapi.starlette_app:APP", "--port", str(port), *quiet],
            {**peer_env, "PYGEOAPI_CONFIG": str(cfg), "PYGEOAPI_OPENAPI": str(oapi)},
            root / "pygeoapi.log",
            lambda slug, z, x, y: f"/collections/{slug}/tiles/WebMercatorQuad/{z}/{y}/{x}?f=mvt",
            lambda slug, qs: f"/collections/{slug}/items?{qs}&f=json",
            slow_tiles=PYGEOAPI_SLOW,
        )
    )
    return servers


def pygeoapi_config(port: int, db: dict, path: Path) -> None:
    # The attribute columns only: pygeoapi cannot serialise a second geometry column (geom_3857).
    # A list-valued options.schemes breaks its MVT provider (0.21: passed on as an unhashable connect
    # argument), so that option is left out: the provider offers WebMercatorQuad without it.
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
        + "".join(resource(slug, table.split(".")[1]) for slug, table in TABLES.items())
    )


if __name__ == "__main__":
    sys.exit("a module of bench/tiles_and_items.py")
