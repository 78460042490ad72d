"""Raster layers (issue 15 item 10): a GeoTIFF made here (256×256 RGB, four coloured quadrants, EPSG:6677
around 伊勢原) is uploaded through the API, stored as a valid COG and served as map tiles on both
instances with the right colours at the right pixels (PNG and WebP, decoded with Pillow), transparent
outside; refused files (not georeferenced, rotated, 16-bit, a decompression bomb) store nothing; an
internal raster is not found on the public instance, by anonymous callers, or by the public DB role."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from pathlib import Path

import morecantile
import numpy as np
import pytest
import rasterio
from affine import Affine
from PIL import Image
from pyproj import Transformer
from rasterio.transform import from_origin
from rio_cogeo.cogeo import cog_validate
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from layers.raster import cog, render
from layers.raster.errors import RasterTooLarge
from tests.fixtures_data import seed

TMS = morecantile.tms.get("WebMercatorQuad")
PIXEL_M = 2.0  # metres per pixel of the test picture
ORIGIN = Transformer.from_crs(4326, 6677, always_xy=True).transform(139.3100, 35.4000)
TO_LONLAT = Transformer.from_crs(6677, 4326, always_xy=True)
# (row, column) of the quadrant → colour; row 0 is north.
QUADRANTS = {(0, 0): (220, 30, 30), (0, 1): (30, 180, 60), (1, 0): (40, 60, 220), (1, 1): (240, 220, 20)}
Z = 17


def geotiff(path: Path, *, crs="EPSG:6677", transform=None, dtype="uint8", count=3, size=256, **opts) -> Path:
    data = np.zeros((count, size, size), dtype=dtype)
    half = size // 2
    for (r, c), rgb in QUADRANTS.items():
        for b in range(min(count, 3)):
            data[b, r * half : (r + 1) * half, c * half : (c + 1) * half] = rgb[b]
    profile = {"driver": "GTiff", "width": size, "height": size, "count": count, "dtype": dtype, **opts}
    if crs is not None:
        profile["crs"] = crs
    if transform is not None:
        profile["transform"] = transform
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def quadrant_tif(tmp: Path) -> Path:
    return geotiff(tmp / "quadrants.tif", transform=from_origin(*ORIGIN, PIXEL_M, PIXEL_M))


def quadrant_centre(r: int, c: int) -> tuple[float, float]:
    x = ORIGIN[0] + (c * 128 + 64) * PIXEL_M
    y = ORIGIN[1] - (r * 128 + 64) * PIXEL_M
    return TO_LONLAT.transform(x, y)


def tile_and_pixel(lon: float, lat: float, z: int = Z) -> tuple[morecantile.Tile, tuple[int, int]]:
    tile = TMS.tile(lon, lat, z)
    b = TMS.xy_bounds(tile)
    x, y = TMS.xy(lon, lat)
    return tile, (int((x - b.left) / (b.right - b.left) * 256), int((b.top - y) / (b.top - b.bottom) * 256))


def upload(client, headers, path: Path, slug: str, **form):
    with path.open("rb") as f:
        return client.post(
            "/api/rasters",
            headers=headers,
            files={"file": (path.name, f.read(), "image/tiff")},
            data={"slug": slug, "title_ja": "航空写真（試験）", "title_en": "Aerial photo (test)", **form},
        )


def image(response) -> Image.Image:
    assert response.status_code == 200, response.text
    return Image.open(io.BytesIO(response.content)).convert("RGBA")


@pytest.fixture(scope="module")
def owners(app_engine):
    return seed(app_engine, "raster")


@pytest.fixture(scope="module")
def staff(client, owners):
    return owners.bearer(client, "staff")


@pytest.fixture(scope="module")
def rasters(client, owners, staff, tmp_path_factory):
    """One published raster and one internal raster of the same picture (unique slugs: the module's
    fixtures may be made again). Deleted at the end, so no other module's listing meets them."""
    tif = quadrant_tif(tmp_path_factory.mktemp("raster"))
    tag = uuid.uuid4().hex[:6]
    made = {}
    for name in ("public", "internal"):
        r = upload(client, staff, tif, f"photo-{name}-{tag}", source="伊勢原市", licence="CC BY 4.0")
        assert r.status_code == 201, r.text
        made[name] = r.json()
    assert client.post(f"/api/rasters/{made['public']['slug']}/publish", headers=staff).status_code == 200
    yield {k: v["slug"] for k, v in made.items()} | {"sha256": made["public"]["sha256"]}
    for slug in (v["slug"] for v in made.values()):
        client.delete(f"/api/rasters/{slug}", headers=staff)


def test_upload_stores_a_valid_cog_in_the_catalogue_and_audits_it(client, app_engine, settings, rasters):
    with app_engine.connect() as conn:
        row = (
            conn.execute(text("SELECT * FROM gis.raster WHERE slug = :s"), {"s": rasters["internal"]})
            .mappings()
            .one()
        )
        audit = conn.execute(
            text("SELECT actor FROM audit.log WHERE action = 'raster.upload' AND target = :s"),
            {"s": rasters["internal"]},
        ).scalar_one()
    stored = settings.raster_dir / row["file_name"]
    assert cog.sha256_of(stored) == row["sha256"] == rasters["sha256"]
    valid, errors, _ = cog_validate(str(stored), quiet=True)
    assert valid and not errors
    assert (row["source_crs"], row["width"], row["height"], row["band_count"]) == ("EPSG:6677", 256, 256, 3)
    assert 139.30 < row["west"] < row["east"] < 139.33 and 35.38 < row["south"] < row["north"] < 35.41
    assert audit == "raster-staff"


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_tiles_have_each_quadrants_colour_at_its_place_on_both_instances(client, public_client, rasters, fmt):
    for (r, c), colour in QUADRANTS.items():
        tile, (px, py) = tile_and_pixel(*quadrant_centre(r, c))
        ogc = f"/ogc/collections/{rasters['public']}/map/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}?f={fmt}"
        xyz = f"/tiles/raster/{rasters['public']}/{tile.z}/{tile.x}/{tile.y}.{fmt}"
        for answer in (public_client.get(ogc), public_client.get(xyz), client.get(ogc)):
            assert answer.headers["content-type"] == f"image/{fmt}"
            assert image(answer).getpixel((px, py)) == (*colour, 255), (r, c, fmt)


def test_outside_the_picture_is_transparent_and_etag_answers_304(public_client, rasters):
    tile, _ = tile_and_pixel(139.3300, 35.4100)  # a kilometre away from the picture
    url = f"/ogc/collections/{rasters['public']}/map/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}"
    answer = public_client.get(url, headers={"Accept": "image/png"})
    assert answer.headers["content-type"] == "image/png"
    assert image(answer).getextrema()[3] == (0, 0)  # alpha 0 everywhere
    # A tile across the picture's edge: colour inside, transparent outside.
    edge, (px, py) = tile_and_pixel(*TO_LONLAT.transform(ORIGIN[0], ORIGIN[1]), z=15)
    half = image(public_client.get(f"/tiles/raster/{rasters['public']}/15/{edge.x}/{edge.y}.png"))
    assert half.getpixel((max(px - 3, 0), max(py - 3, 0)))[3] == 0
    assert half.getpixel((min(px + 3, 255), min(py + 3, 255)))[3] == 255
    tag = answer.headers["etag"]
    assert rasters["sha256"][:32] in tag and answer.headers["cache-control"].startswith("public")
    assert public_client.get(url, headers={"If-None-Match": tag, "Accept": "image/png"}).status_code == 304
    # Accept chooses WebP when it weighs more; an unknown f is a 400 with both languages.
    webp = public_client.get(url, headers={"Accept": "image/webp,image/png;q=0.8"})
    assert webp.headers["content-type"] == "image/webp"
    bad = public_client.get(url + "?f=gif")
    assert bad.status_code == 400 and bad.json()["error"]["message_ja"] and bad.json()["error"]["message_en"]
    assert (
        public_client.get(f"/tiles/raster/{rasters['public']}/30/0/0.png").status_code == 422
    )  # /api's status


def test_collections_tileset_and_public_layer_list_name_the_raster(public_client, rasters):
    slug = rasters["public"]
    listed = {c["id"]: c for c in public_client.get("/ogc/collections").json()["collections"]}
    rels = {link["rel"]: link["href"] for link in listed[slug]["links"]}
    assert rels["http://www.opengis.net/def/rel/ogc/1.0/tilesets-map"].endswith(
        f"/collections/{slug}/map/tiles"
    )
    assert "itemType" not in listed[slug] and rasters["internal"] not in listed
    assert public_client.get(f"/ogc/collections/{slug}").json()["id"] == slug
    assert public_client.get(f"/ogc/collections/{slug}/items").status_code == 404
    tilejson = public_client.get(f"/ogc/collections/{slug}/map/tiles/WebMercatorQuad").json()
    assert tilejson["dataType"] == "map" and tilejson["tiles"][0].endswith(
        f"/collections/{slug}/map/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}?f=png"
    )
    assert tilejson["attribution"] == "伊勢原市 / CC BY 4.0"
    sets = public_client.get(f"/ogc/collections/{slug}/map/tiles").json()["tilesets"]
    assert {link["type"] for link in sets[0]["links"] if link["rel"] == "item"} == {"image/png", "image/webp"}
    layers = {x["slug"]: x for x in public_client.get("/api/public/layers").json()}
    assert (
        layers[slug]["kind"] == "raster"
        and layers[slug]["tiles"] == f"/tiles/raster/{slug}/{{z}}/{{x}}/{{y}}.png"
    )
    assert (
        "visibility" not in layers[slug]
        and "file_name" not in layers[slug]
        and rasters["internal"] not in layers
    )
    conformance = public_client.get("/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/png" in conformance


def test_internal_raster_is_found_by_staff_only(client, public_client, public_engine, staff, rasters):
    slug = rasters["internal"]
    tile, _ = tile_and_pixel(*quadrant_centre(0, 0))
    url = f"/ogc/collections/{slug}/map/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}"
    unknown = public_client.get(
        f"/ogc/collections/no-such-raster/map/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}"
    )
    assert public_client.get(url).status_code == 404
    assert public_client.get(url).json() == unknown.json()
    assert public_client.get(f"/ogc/collections/{slug}").status_code == 404
    assert client.get(url).status_code == 404  # anonymous on the internal instance
    seen = client.get(url, headers=staff)
    assert seen.status_code == 200 and seen.headers["cache-control"].startswith("private")
    assert slug in {r["slug"] for r in client.get("/api/rasters", headers=staff).json()}
    assert slug not in {r["slug"] for r in client.get("/api/rasters").json()}
    # The citizen-facing role: the pub view holds only the published one; the table is not readable.
    with public_engine.connect() as conn:
        found = set(conn.execute(text("SELECT slug FROM pub.raster")).scalars())
        assert rasters["public"] in found and slug not in found
        with pytest.raises(ProgrammingError, match="permission denied"):
            conn.execute(text("SELECT slug FROM gis.raster"))


def _refused(client, staff, app_engine, settings, path: Path, reason: str, status: int = 422) -> None:
    slug = f"bad-{uuid.uuid4().hex[:8]}"
    files_before = set(settings.raster_dir.iterdir()) if settings.raster_dir.exists() else set()
    r = upload(client, staff, path, slug)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["reason"] == reason and error["message_ja"] and error["message_en"]
    with app_engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM gis.raster WHERE slug = :s"), {"s": slug}).scalar() == 0
        )
        assert (
            conn.execute(
                text(
                    "SELECT details->>'reason' FROM audit.log WHERE action = 'raster.upload_rejected' AND target = :s"
                ),
                {"s": slug},
            ).scalar_one()
            == reason
        )
    after = set(settings.raster_dir.iterdir()) if settings.raster_dir.exists() else set()
    assert after == files_before  # no COG, no temporary file left behind


def test_refused_files_store_nothing(client, app_engine, settings, staff, tmp_path):
    plain = geotiff(tmp_path / "plain.tif", crs=None)
    _refused(client, staff, app_engine, settings, plain, "not_georeferenced")
    rotated = Affine.translation(*ORIGIN) @ Affine.rotation(20) @ Affine.scale(PIXEL_M, -PIXEL_M)
    _refused(client, staff, app_engine, settings, geotiff(tmp_path / "rot.tif", transform=rotated), "rotated")
    dem = geotiff(tmp_path / "dem.tif", transform=from_origin(*ORIGIN, 2, 2), dtype="float32", count=1)
    _refused(client, staff, app_engine, settings, dem, "unsupported_bands")
    utm = geotiff(tmp_path / "utm.tif", crs="EPSG:32654", transform=from_origin(300000, 3900000, 2, 2))
    _refused(client, staff, app_engine, settings, utm, "unsupported_crs")
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"II*\x00not really a tiff" * 10)
    _refused(client, staff, app_engine, settings, junk, "unreadable")


def test_a_decompression_bomb_is_refused_before_it_is_read(tmp_path):
    # 4096² × 3 zero bytes deflate to a few kilobytes; the limit is on what they claim decompressed.
    bomb = geotiff(
        tmp_path / "bomb.tif", transform=from_origin(*ORIGIN, 0.1, 0.1), size=4096, compress="deflate"
    )
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(RasterTooLarge) as refused:
        cog.inspect(bomb, max_pixels_bytes=16 * 1024 * 1024)
    assert refused.value.status == 413 and refused.value.code == "too_many_pixels"
    with pytest.raises(RasterTooLarge):
        cog.inspect(bomb, max_bytes=1000)


def test_who_may_upload_publish_and_delete(client, app_engine, owners, staff, tmp_path):
    tif = quadrant_tif(tmp_path)
    others = seed(app_engine, "raster2")
    slug = f"photo-rights-{uuid.uuid4().hex[:6]}"
    assert upload(client, {}, tif, slug).status_code == 401
    assert upload(client, owners.bearer(client, "hq"), tif, slug).status_code == 403
    public = upload(client, staff, tif, slug, visibility="public")  # publish is its own step
    assert public.status_code == 422
    assert upload(client, staff, tif, slug).status_code == 201
    again = upload(client, staff, tif, slug)
    assert again.status_code == 409 and again.json()["error"]["message_ja"]
    assert upload(client, staff, tif, owners.slugs["internal"]).status_code == 409  # a vector layer's id
    assert (
        client.post(f"/api/rasters/{slug}/publish", headers=others.bearer(client, "staff")).status_code == 403
    )
    assert client.delete(f"/api/rasters/{slug}", headers=others.bearer(client, "staff")).status_code == 403
    assert client.delete(f"/api/rasters/{slug}", headers=staff).status_code == 204
    assert client.get(f"/tiles/raster/{slug}/{Z}/0/0.png", headers=staff).status_code == 404


def test_restricted_raster_is_for_the_named_roles_and_audited(client, app_engine, owners, tmp_path):
    welfare = owners.bearer(client, "welfare")
    slug = f"photo-restricted-{uuid.uuid4().hex[:6]}"
    assert upload(client, welfare, quadrant_tif(tmp_path), slug, visibility="restricted").status_code == 201
    tile, _ = tile_and_pixel(*quadrant_centre(1, 1))
    url = f"/tiles/raster/{slug}/{tile.z}/{tile.x}/{tile.y}.png"
    assert client.get(url, headers=owners.bearer(client, "staff")).status_code == 404
    seen = client.get(url, headers=welfare)
    assert seen.status_code == 200 and seen.headers["cache-control"] == "private, no-store"
    with app_engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM audit.log WHERE action = 'ogc.read_restricted' AND target = :s"),
                {"s": slug},
            ).scalar()
            == 1
        )
    client.delete(f"/api/rasters/{slug}", headers=welfare)


def _cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "GISAPP_DATA_DIR": str(settings.data_dir)}
    return subprocess.run([sys.executable, "-m", "gisapp.cli", "raster", "add", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)  # fmt: skip


def test_cli_adds_and_publishes_a_raster(client, settings, public_client, owners, staff, tmp_path):
    slug = f"photo-cli-{uuid.uuid4().hex[:6]}"
    common = ["--title-ja", "航空写真（CLI）", "--department", f"test_{owners.tag}"]
    done = _cli(settings, str(quadrant_tif(tmp_path)), "--slug", slug, *common, "--publish")
    assert done.returncode == 0, done.stderr
    assert slug in done.stdout
    tile, (px, py) = tile_and_pixel(*quadrant_centre(0, 1))
    drawn = image(public_client.get(f"/tiles/raster/{slug}/{tile.z}/{tile.x}/{tile.y}.png"))
    assert drawn.getpixel((px, py)) == (*QUADRANTS[(0, 1)], 255)
    assert client.delete(f"/api/rasters/{slug}", headers=staff).status_code == 204
    plain = geotiff(tmp_path / "plain.tif", crs=None)
    bad = _cli(settings, str(plain), "--slug", f"{slug}-bad", *common)
    assert bad.returncode == 1 and "ジオリファレンス" in bad.stderr and "not georeferenced" in bad.stderr


def _tile_pixel(path: Path, directory: Path, lonlat: tuple[float, float], fmt: str = "png") -> tuple:
    info = cog.inspect(path)
    sha, final, _ = cog.to_cog(path, directory, info)
    tile, (px, py) = tile_and_pixel(*lonlat)
    data = render.render_tile(final, sha, info.band_count, tile.z, tile.x, tile.y, fmt)
    return Image.open(io.BytesIO(data)).convert("RGBA").getpixel((px, py))


def test_grey_paletted_and_rgba_pictures_draw_as_they_are(tmp_path):
    t = from_origin(*ORIGIN, PIXEL_M, PIXEL_M)
    out = tmp_path / "cogs"
    grey = geotiff(tmp_path / "grey.tif", transform=t, count=1)  # band 1 of the quadrants: 220/30/40/240
    assert _tile_pixel(grey, out, quadrant_centre(1, 1), "webp") == (240, 240, 240, 255)
    paletted = geotiff(tmp_path / "pal.tif", transform=t, count=1, photometric="palette")
    with rasterio.open(paletted, "r+") as dst:
        dst.write_colormap(1, {220: (10, 20, 30, 255), 30: (200, 100, 0, 255), 40: (0, 0, 0, 255)})
    assert cog.inspect(paletted).paletted
    assert _tile_pixel(paletted, out, quadrant_centre(0, 1)) == (200, 100, 0, 255)  # value 30 → its colour
    rgba = tmp_path / "rgba.tif"
    data = np.zeros((4, 256, 256), dtype="uint8")
    data[0], data[3, :, :128] = 200, 255  # west half opaque, east half alpha 0
    with rasterio.open(rgba, "w", driver="GTiff", width=256, height=256, count=4, dtype="uint8",
                       crs="EPSG:6677", transform=t, photometric="rgb", alpha="YES") as dst:  # fmt: skip
        dst.write(data)
    assert _tile_pixel(rgba, out, quadrant_centre(1, 0)) == (200, 0, 0, 255)
    assert _tile_pixel(rgba, out, quadrant_centre(1, 1))[3] == 0


def test_the_api_definition_describes_the_published_rasters_map_tiles(public_client, client, staff, rasters):
    """/ogc/api (OpenAPI) lists each raster the caller may see with its map tile route, and every
    described raster path answers; the internal raster is absent on the public instance only."""
    doc = public_client.get("/ogc/api").json()
    base = f"/collections/{rasters['public']}"
    tile = f"{base}/map/tiles/WebMercatorQuad/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"
    assert {base, f"{base}/map/tiles", f"{base}/map/tiles/WebMercatorQuad", tile} <= set(doc["paths"])
    assert set(doc["paths"][tile]["get"]["responses"]["200"]["content"]) == {"image/png", "image/webp"}
    assert not any(rasters["internal"] in p for p in doc["paths"])
    t, _ = tile_and_pixel(*quadrant_centre(0, 0))
    for path in (base, f"{base}/map/tiles", f"{base}/map/tiles/WebMercatorQuad", tile):
        url = path.format(tileMatrix=t.z, tileRow=t.y, tileCol=t.x)
        r = public_client.get(f"/ogc{url}")
        assert str(r.status_code) in doc["paths"][path]["get"]["responses"] and r.status_code == 200, url
    internal = client.get("/ogc/api", headers=staff).json()
    assert f"/collections/{rasters['internal']}/map/tiles" in internal["paths"]


def test_unknown_parameters_on_map_tiles_are_refused(public_client, rasters):
    """OGC API Part 1 /req/core/query-param-unknown, on the raster collection's map tile routes."""
    base = f"/ogc/collections/{rasters['public']}/map/tiles"
    t, _ = tile_and_pixel(*quadrant_centre(0, 0))
    for path in (base, f"{base}/WebMercatorQuad", f"{base}/WebMercatorQuad/{t.z}/{t.y}/{t.x}"):
        assert public_client.get(path).status_code == 200, path
        r = public_client.get(path, params={"style": "sepia"})
        assert r.status_code == 400 and "style" in r.text, path
