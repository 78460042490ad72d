"""Raster layers in the staff GIS viewer (headless Chromium, a real server, online basemap blocked): the
uploaded picture (tests/test_raster.py's four quadrants) is listed in its own group and drawn as tiles
in a pane under the vector layers: a polygon of an imported layer covers one quadrant and is drawn over
it, the other quadrants show their colours; "背景にする" keeps it on when the basemap is dropped. Once
published, the citizen map lists it and draws it when chosen."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from PIL import Image

from gisapp.app import create_app
from tests.fixtures_data import seed
from tests.support import wait_until
from tests.test_import_data import make_layer
from tests.test_pages_browser import Server, browser, open_citizen_map, visit  # noqa: F401 - fixtures
from tests.test_raster import QUADRANTS, quadrant_centre, quadrant_tif, upload

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def world(settings, client, app_engine, tmp_path_factory):
    owners = seed(app_engine, "rasterb")
    staff = owners.bearer(client, "staff")
    tag = uuid.uuid4().hex[:6]
    raster = f"photo-browser-{tag}"
    assert upload(client, staff, quadrant_tif(tmp_path_factory.mktemp("rb")), raster).status_code == 201
    # A polygon over the north-west (red) quadrant, in a vector layer of the same department.
    layer = make_layer(app_engine, f"over-photo-{tag}", "generic", owners.dept_id)
    (lon, lat), d = quadrant_centre(0, 0), 0.0003
    ring = [
        [lon - d, lat - d],
        [lon + d, lat - d],
        [lon + d, lat + d],
        [lon - d, lat + d],
        [lon - d, lat - d],
    ]
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "cover"}, "geometry": {"type": "Polygon", "coordinates": [ring]}}]}  # fmt: skip
    r = client.post(f"/api/layers/{layer}/import", headers=staff,
                    files={"file": ("cover.geojson", json.dumps(fc).encode())})  # fmt: skip
    assert r.status_code == 200, r.text
    public_app = create_app(settings.model_copy(update={"response_cache": False}), public=True)
    with Server(create_app(settings)) as server, Server(public_app) as public:
        yield {"base": server.url, "public": public.url, "owners": owners, "raster": raster, "layer": layer,
               "staff": staff}  # fmt: skip
    client.delete(f"/api/rasters/{raster}", headers=staff)


def pixel(page, lon: float, lat: float) -> tuple[int, int, int]:
    point = page.evaluate(f"(() => {{ const p = window.gisapp.map.latLngToContainerPoint([{lat}, {lon}]);"
                          " return [Math.round(p.x), Math.round(p.y)]; })()")  # fmt: skip
    shot = Image.open(io.BytesIO(page.locator("#gisapp-map").screenshot())).convert("RGB")
    return shot.getpixel(tuple(point))


def near(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def test_gis_viewer_draws_the_raster_under_a_vector_layer(world, visit):  # noqa: F811
    v = visit(viewport={"width": 1200, "height": 800})
    owners, raster = world["owners"], world["raster"]
    v.login(world["base"], "/gis", "rasterb-staff", owners.passwords["staff"])
    page = v.page
    page.wait_for_selector(
        "#gisapp-status[data-state='ready'], #gisapp-status[data-state='partial']", timeout=30_000
    )
    toggle = page.locator(f"#gisapp-layer-toggle-raster-{raster}")
    assert toggle.is_checked()
    group = page.locator("fieldset.gisapp-layer-group", has=toggle).locator("legend").inner_text()
    assert group == "航空写真・画像"
    # Other files' public layers may lie over the picture (the viewer shows them by default): only
    # ours stay on, so the colours below are the raster's and our polygon's.
    ours = {f"gisapp-layer-toggle-raster-{raster}", f"gisapp-layer-toggle-{world['layer']}"}
    others = page.locator("input[id^='gisapp-layer-toggle-']:checked")
    for i in reversed(range(others.count())):
        box = others.nth(i)
        if box.get_attribute("id") not in ours:
            box.uncheck()
    # Frame the picture at z17 and wait for its tiles.
    lon, lat = quadrant_centre(0, 1)
    page.evaluate(f"window.gisapp.map.setView([{lat}, {lon}], 17, {{animate: false}})")
    tiles = page.locator(f".gisapp-raster-{raster} img.leaflet-tile-loaded")
    wait_until(lambda: tiles.count() > 0, 20)
    wait_until(lambda: page.locator(f"path.gisapp-layer-{world['layer']}").count() == 1, 20)
    page.wait_for_timeout(300)  # the tiles' fade-in
    for quadrant in ((0, 1), (1, 0), (1, 1)):
        assert near(pixel(page, *quadrant_centre(*quadrant)), QUADRANTS[quadrant]), quadrant
    # The polygon is drawn over the red quadrant: its colour blended over red, not red itself.
    covered = pixel(page, *quadrant_centre(0, 0))
    assert not near(covered, QUADRANTS[(0, 0)]) and covered[0] > covered[2], covered
    panes = page.evaluate(
        "[getComputedStyle(window.gisapp.map.getPane('gisapp-raster')).zIndex,"
        " getComputedStyle(window.gisapp.map.getPane('overlayPane')).zIndex]"
    )
    assert int(panes[0]) < int(panes[1])
    # As the basemap: stays drawn; switched off, it is gone.
    page.locator(f"#gisapp-raster-basemap-{raster}").check()
    assert near(pixel(page, *quadrant_centre(1, 1)), QUADRANTS[(1, 1)])
    toggle.uncheck()
    wait_until(lambda: page.locator(f".gisapp-raster-{raster}").count() == 0, 10)
    assert not page.locator(f"#gisapp-raster-basemap-{raster}").is_checked()


def test_citizen_map_lists_a_published_raster_and_draws_it_when_chosen(world, client, visit):  # noqa: F811
    raster = world["raster"]
    assert client.post(f"/api/rasters/{raster}/publish", headers=world["staff"]).status_code == 200
    page = visit(viewport={"width": 1200, "height": 800}).page
    page.goto(world["public"] + "/")
    open_citizen_map(page)
    box = page.locator(f"#citizen-layer-{raster}")
    box.wait_for(state="attached", timeout=20_000)
    page.locator("#citizen-layers summary").click()  # the other layers are folded under the map
    assert not box.is_checked() and page.locator(f".gisapp-raster-{raster}").count() == 0
    box.check()
    lon, lat = quadrant_centre(1, 0)
    page.evaluate(f"window.gisapp.map.setView([{lat}, {lon}], 17, {{animate: false}})")
    wait_until(lambda: page.locator(f".gisapp-raster-{raster} img.leaflet-tile-loaded").count() > 0, 20)
