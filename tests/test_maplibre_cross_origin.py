"""The acceptance test of CORS, the styles and rasters (issue 15): a MapLibre page served from another
origin (a tiny static server on another port, MapLibre from our vendored files) draws the public
instance's vector tiles through its whole-map style (the city's basemap file + every public collection)
with a published raster (an orthophoto made here) under them, and reads a collection's items with
fetch(); a staff API stays unreadable from there, and an internal raster is refused.

Headless Chromium draws WebGL with SwiftShader (software)."""

from __future__ import annotations

import functools
import io
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

import pytest
from PIL import Image
from pyproj import Transformer
from rasterio.transform import from_origin

from gisapp.app import create_app
from tests import basemap_support as bm
from tests.conftest import free_port
from tests.fixtures_data import seed
from tests.test_pages_browser import CHROMIUM, Server
from tests.test_raster import QUADRANTS, geotiff, upload

pytestmark = pytest.mark.browser

TAG = "maplibre"
PAGE = Path(__file__).parent / "maplibre_page"
VENDOR = Path(__file__).parents[1] / "frontend" / "static" / "vendor" / "maplibre-gl"
WEBGL_ARGS = ["--no-sandbox", "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
              "--disable-background-networking", "--no-first-run"]  # fmt: skip


class Quiet(SimpleHTTPRequestHandler):
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".mjs": "text/javascript",
        ".js": "text/javascript",
    }

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[str]:
    """The other origin: the page and the vendored MapLibre on a plain static server."""
    root = tmp_path_factory.mktemp("city-site")
    for f in PAGE.iterdir():
        shutil.copy(f, root)
    for name in ("maplibre-gl.mjs", "maplibre-gl-worker.mjs", "maplibre-gl.css"):
        shutil.copy(VENDOR / name, root)
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


# The orthophoto's north-west corner: south-east of the basemap's town, clear of every vector feature.
PHOTO_NW = (139.3230, 35.3930)
PHOTO_PIXEL_M = 2.0  # 256 px × 2 m: about 130 screen pixels at MapLibre's z14


def _photo_point(row: int, col: int) -> tuple[float, float]:
    """Lon/lat of the centre of quadrant (row, col) of the test picture."""
    x0, y0 = Transformer.from_crs(4326, 6677, always_xy=True).transform(*PHOTO_NW)
    x, y = x0 + (col * 128 + 64) * PHOTO_PIXEL_M, y0 - (row * 128 + 64) * PHOTO_PIXEL_M
    return Transformer.from_crs(6677, 4326, always_xy=True).transform(x, y)


@pytest.fixture(scope="module")
def photos(client, app_engine, tmp_path_factory) -> Iterator[dict[str, str]]:
    """A published and an internal raster of the same four-colour picture (unique slugs)."""
    staff = seed(app_engine, "maplibre").bearer(client, "staff")
    origin = Transformer.from_crs(4326, 6677, always_xy=True).transform(*PHOTO_NW)
    tif = geotiff(tmp_path_factory.mktemp("photo") / "photo.tif",
                  transform=from_origin(*origin, PHOTO_PIXEL_M, PHOTO_PIXEL_M))  # fmt: skip
    tag = bm.secrets.token_hex(3)
    slugs = {}
    for name in ("shown", "hidden"):
        r = upload(client, staff, tif, f"ml-photo-{name}-{tag}")
        assert r.status_code == 201, r.text
        slugs[name] = r.json()["slug"]
    assert client.post(f"/api/rasters/{slugs['shown']}/publish", headers=staff).status_code == 200
    yield slugs
    for slug in slugs.values():
        client.delete(f"/api/rasters/{slug}", headers=staff)


@pytest.fixture(scope="module")
def public(settings, app_engine, client, tmp_path_factory) -> Iterator[tuple[Server, str]]:
    slug = bm.store_source_layer(app_engine, TAG)
    files = bm.build(client, slug, tmp_path_factory.mktemp("maplibre-basemap"))
    with Server(create_app(settings.model_copy(update={"basemap": files.pmtiles}), public=True)) as server:
        yield server, slug


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=WEBGL_ARGS)
        yield b
        b.close()


def test_a_maplibre_page_on_another_origin_draws_our_tiles_and_reads_items(
    site, public, photos, chromium
) -> None:
    server, slug = public
    assert server.url.split(":")[-1] != site.split(":")[-1]  # another origin
    context = chromium.new_context(viewport={"width": 800, "height": 600})
    page = context.new_page()
    logs: list[str] = []
    page.on("console", lambda m: logs.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: logs.append(f"pageerror: {e}"))
    query = urlencode({"api": server.url, "slug": slug, "lon": bm.CENTRE[0], "lat": bm.CENTRE[1], "zoom": 14,
                       "raster": photos["shown"], "hidden": photos["hidden"],
                       "only": f"{slug},basemap,photo"})  # fmt: skip
    page.goto(f"{site}/index.html?{query}")
    try:
        page.wait_for_function(
            "window.gisappResult && window.gisappResult.idle && window.gisappResult.items", timeout=60_000
        )
    finally:
        print("\n".join(logs))
    result = page.evaluate("window.gisappResult")
    assert result["errors"] == [], result["errors"]

    # Items read cross-origin (after a preflight), with the exposed Content-Crs.
    assert result["items"]["status"] == 200
    assert result["items"]["count"] == result["items"]["numberMatched"] == len(bm.FEATURES)
    assert result["items"]["names"] == sorted(name for _, _, name in bm.FEATURES)
    assert "CRS84" in result["items"]["contentCrs"]
    assert result["staff"] == "refused"  # no CORS on the staff API: the browser refuses the answer
    assert result["hiddenRaster"] == 404  # an internal raster is not on the citizen-facing instance

    # Drawn: our collection's vector tiles and the basemap file's, each with its names.
    drawn = page.evaluate(
        """(slug) => {
             const map = window.gisappMap;
             const names = (source) => [...new Set(map.queryRenderedFeatures()
               .filter((f) => f.source === source).map((f) => `${f.sourceLayer}:${f.layer.type}:${f.properties.name}`))].sort();
             return {own: names(slug), basemap: names('basemap'),
                     loaded: map.isSourceLoaded(slug) && map.isSourceLoaded('basemap')};
           }""",
        slug,
    )
    assert drawn["loaded"]
    assert {f"{slug}:circle:{bm.STATION}", f"{slug}:line:{bm.RIVER}", f"{slug}:fill:{bm.TOWN}"} <= set(
        drawn["own"]
    )
    assert {f"place:circle:{bm.STATION}", f"water:line:{bm.RIVER}", f"town:fill:{bm.TOWN}"} <= set(
        drawn["basemap"]
    )
    # The labels are laid out (drawn locally: the style has no glyph server).
    assert any(name.startswith("place:symbol:") for name in drawn["basemap"]), drawn["basemap"]

    # The published raster: drawn under every vector layer, each quadrant's colour at its place.
    order = page.evaluate("window.gisappMap.getStyle().layers.map((l) => [l.id, l.type])")
    photo_at = [i for i, (layer_id, _) in enumerate(order) if layer_id == "photo"]
    assert photo_at and all(t in ("background", "raster") for _, t in order[: photo_at[0] + 1])
    assert all(
        t not in ("fill", "line", "circle", "symbol") or i > photo_at[0] for i, (_, t) in enumerate(order)
    )
    assert page.evaluate("window.gisappMap.isSourceLoaded('photo')")
    shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    for (row, col), rgb in QUADRANTS.items():
        x, y = page.evaluate("(p) => { const q = window.gisappMap.project(p); return [q.x, q.y]; }",
                             list(_photo_point(row, col)))  # fmt: skip
        seen = shot.getpixel((round(x), round(y)))
        assert all(abs(a - b) <= 12 for a, b in zip(seen, rgb, strict=True)), ((row, col), seen, rgb)
    context.close()


CSP_RECORDER = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


def test_our_leaflet_maps_draw_the_city_basemap_when_there_is_one(public, chromium) -> None:
    """An OGC HTML page's map (lib/map.js createMap, shared by every map page) on an instance with a basemap file:
    MapLibre draws the file under Leaflet, online too (the city's choice), within the page's CSP; no
    地理院タイル asked for, no offline fallback drawn."""
    server, slug = public
    context = chromium.new_context(viewport={"width": 800, "height": 700})
    context.add_init_script(CSP_RECORDER)
    outside: list[str] = []

    asked: list[str] = []

    def only_here(route):
        asked.append(route.request.url)
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_here)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.url}/ogc/collections/{slug}/items?f=html")
    page.wait_for_selector("body[data-city-basemap='drawn']", state="attached", timeout=30_000)
    # MapLibre's worker asks for the basemap's tiles (through the context's route, like every request).
    # (Polled with the page's own wait: route handlers run only while Playwright's loop does, so a
    # plain sleep would stall every request.)
    for _ in range(600):
        if any("/basemap/tiles/" in url for url in asked):
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(1000)  # drawn meanwhile; an error would show below
    assert any("/basemap/tiles/" in url for url in asked)
    assert page.locator(
        ".leaflet-container .leaflet-gl-layer, .leaflet-container canvas.maplibregl-canvas"
    ).count()
    assert page.evaluate("document.body.dataset.ownBasemap") is None  # no fallback drawn
    assert not page.evaluate("document.body.classList.contains('gisapp-basemap-offline')")
    assert "市のベースマップ" in page.locator(".leaflet-control-attribution").inner_text()
    assert page.evaluate("window.__csp") == [] and errors == []
    assert outside == []  # no 地理院タイル, nothing from outside
    context.close()
