"""Vector tiles (/ogc/collections/{id}/tiles/…) against the real PostGIS: decoded with GDAL's MVT
driver, features at their places, ETag/304, invalidation on change, bounds, visibility, feature cap."""

from __future__ import annotations

import math
from pathlib import Path

import pyogrio
import pytest
import shapely
from pyproj import Transformer
from sqlalchemy import Engine, text

from gisapp.db import transaction
from layers import demo
from layers import tiles as tiles_mod
from tests.fixtures_data import Seed, seed
from tests.support import wait_until

TAG = "tiles"
TO_3857 = Transformer.from_crs(4326, 3857, always_xy=True)
SEED_POINT = (139.31, 35.40)  # where tests/fixtures_data.py puts each test layer's one feature


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def url(slug: str, z: int, x: int, y: int) -> str:
    return f"/ogc/collections/{slug}/tiles/WebMercatorQuad/{z}/{y}/{x}"


def decode(data: bytes, z: int, x: int, y: int, layer: str, tmp_path: Path):
    """The tile read back by GDAL's MVT driver: a GeoDataFrame in EPSG:3857, index = MVT feature id."""
    path = tmp_path / f"{layer}-{z}-{x}-{y}.pbf"
    path.write_bytes(data)
    # CLIP=NO: keep what the tile holds in its buffer too (GDAL clips to the tile edge by default).
    df = pyogrio.read_dataframe(path, layer=layer, Z=str(z), X=str(x), Y=str(y), CLIP="NO")
    return df.set_index("mvt_id")


def tile_box(z: int, x: int, y: int, margin: float = 0.0) -> shapely.Polygon:
    size = 2 * tiles_mod.WEB_MERCATOR_HALF / 2**z
    minx = -tiles_mod.WEB_MERCATOR_HALF + x * size
    maxy = tiles_mod.WEB_MERCATOR_HALF - y * size
    m = size * margin
    return shapely.box(minx - m, maxy - size - m, minx + size + m, maxy + m)


@pytest.fixture(scope="module")
def seeded(app_engine: Engine) -> Seed:
    return seed(app_engine, TAG)


@pytest.fixture(scope="module")
def demo_loaded(app_engine: Engine) -> None:
    """The 伊勢原市 demo layers at scale 1 (the same as tests/test_demo_data.py loads)."""
    with transaction(app_engine, ["admin"]) as conn:
        if conn.execute(text("SELECT 1 FROM gis.layer WHERE slug = 'road-ledger'")).first():
            return
        for code, ja, en in demo.DEPARTMENTS:
            conn.execute(
                text(
                    "INSERT INTO core.department (code, name_ja, name_en) VALUES (:c, :ja, :en) ON CONFLICT DO NOTHING"
                ),
                {"c": code, "ja": ja, "en": en},
            )
        ids = dict(conn.execute(text("SELECT code, id FROM core.department")).all())
        demo.load(conn, ids)


@pytest.fixture(autouse=True)
def fresh_caches(client, public_client) -> None:
    for c in (client, public_client):
        cache = getattr(c.app.state, "tile_cache", None)
        if cache is not None:
            cache.clear()


# --- content -----------------------------------------------------------------------------------
def test_road_tile_has_every_road_at_its_place(demo_loaded, client, app_engine, tmp_path) -> None:
    z = 14
    x, y = tile_of(139.305, 35.39, z)
    r = client.get(url("road-ledger", z, x, y))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    got = decode(r.content, z, x, y, "road-ledger", tmp_path)
    with app_engine.connect() as conn:
        rows = conn.execute(
            text(
                """SELECT r.id, r.route_no, r.width_m::float8 AS width_m, ST_AsBinary(ST_Transform(r.geom, 3857)) AS g
                   FROM gis.road_segment r JOIN gis.layer l ON l.id = r.layer_id
                   WHERE l.slug = 'road-ledger'
                     AND ST_Intersects(ST_Transform(r.geom, 3857), ST_TileEnvelope(:z, :x, :y))"""
            ),
            {"z": z, "x": x, "y": y},
        ).all()
    assert rows, "the chosen tile should cross some demo roads"
    expected = {row.id: row for row in rows}
    assert set(expected) <= set(got.index)
    px = tiles_mod.pixel_size(z)
    clip = tile_box(z, x, y, tiles_mod.TILE_BUFFER / tiles_mod.TILE_EXTENT)
    for fid, row in expected.items():
        feature = got.loc[fid]
        assert feature["route_no"] == row.route_no
        assert feature["width_m"] == pytest.approx(row.width_m)
        truth = shapely.clip_by_rect(shapely.from_wkb(row.g), *clip.bounds)
        # Simplified to one grid cell and snapped to the grid: within two cells of the stored line.
        assert shapely.hausdorff_distance(feature.geometry, truth) <= 2 * px


def test_shelter_points_on_the_public_instance(demo_loaded, public_client, app_engine, tmp_path) -> None:
    z = 12
    x, y = tile_of(139.30, 35.39, z)
    r = public_client.get(url("shelters", z, x, y))
    assert r.status_code == 200, r.text
    got = decode(r.content, z, x, y, "shelters", tmp_path)
    with app_engine.connect() as conn:
        rows = conn.execute(
            text(
                """SELECT s.id, s.name, ST_X(ST_Transform(s.geom, 3857)) AS mx, ST_Y(ST_Transform(s.geom, 3857)) AS my
                   FROM gis.shelter s JOIN gis.layer l ON l.id = s.layer_id WHERE l.slug = 'shelters'
                     AND ST_Intersects(ST_Transform(s.geom, 3857), ST_TileEnvelope(:z, :x, :y))"""
            ),
            {"z": z, "x": x, "y": y},
        ).all()
    assert rows
    assert set(got.index) == {row.id for row in rows}
    for row in rows:
        point = got.loc[row.id]
        assert point["name"] == row.name
        assert point.geometry.distance(shapely.Point(row.mx, row.my)) <= tiles_mod.pixel_size(z)


def test_empty_tile_is_204(demo_loaded, public_client) -> None:
    r = public_client.get(url("shelters", 14, 1000, 1000))
    assert r.status_code == 204
    assert r.content == b""
    assert r.headers["etag"]


# --- HTTP caching and invalidation ----------------------------------------------------------------
def test_etag_and_304(seeded, client, public_client) -> None:
    slug = seeded.slugs["public"]
    x, y = tile_of(*SEED_POINT, 14)
    for c, cache_control in ((public_client, "public, max-age=60"), (client, "private, max-age=60")):
        first = c.get(url(slug, 14, x, y))
        assert first.status_code == 200
        assert first.headers["cache-control"] == cache_control
        again = c.get(url(slug, 14, x, y), headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304
        assert again.content == b""
        other = c.get(url(slug, 14, x, y), headers={"If-None-Match": '"not-this-one"'})
        assert other.status_code == 200 and other.content == first.content
    # The instance is part of the tag: a tile of one is never taken for the other's.
    assert (
        public_client.get(url(slug, 14, x, y)).headers["etag"]
        != client.get(url(slug, 14, x, y)).headers["etag"]
    )


def test_a_changed_feature_gives_a_new_tag_and_new_content(
    seeded, public_client, app_engine, tmp_path
) -> None:
    slug = seeded.slugs["public"]
    z = 15
    x, y = tile_of(*SEED_POINT, z)
    before = public_client.get(url(slug, z, x, y))
    cache = public_client.app.state.tile_cache
    hits = cache.hits
    assert public_client.get(url(slug, z, x, y)).content == before.content
    assert cache.hits == hits + 1  # the second one came from the server-side cache
    new_name = f"renamed-{before.headers['etag'][1:9]}"
    with transaction(app_engine, ["admin"]) as conn:
        conn.execute(
            text(
                "UPDATE gis.feature SET properties = jsonb_build_object('name', CAST(:n AS text))"
                " WHERE layer_id = (SELECT id FROM gis.layer WHERE slug = :s)"
            ),
            {"n": new_name, "s": slug},
        )
    # Served fresh as soon as the change's notification reaches the server (milliseconds).
    after = wait_until(
        lambda: (
            (
                r := public_client.get(url(slug, z, x, y), headers={"If-None-Match": before.headers["etag"]})
            ).status_code
            == 200
            and r
        ),
        5,
    )
    assert after.headers["etag"] != before.headers["etag"]
    assert list(decode(after.content, z, x, y, slug, tmp_path)["name"]) == [new_name]
    with app_engine.connect() as conn:
        layer_id, revision = conn.execute(
            text("SELECT id, revision FROM gis.layer WHERE slug = :s"), {"s": slug}
        ).one()
    # The old revision's tiles of that layer were dropped from the cache, the new one is there.
    assert cache.revisions_held(layer_id, public=True) == {revision}


# --- bounds and visibility --------------------------------------------------------------------------
@pytest.mark.parametrize("zyx", [(23, 0, 0), (-1, 0, 0), (3, 8, 0), (3, 0, 8), (3, -1, 0), (14, 0, 16384)])
def test_out_of_range_tiles_are_400_in_both_languages(seeded, public_client, zyx) -> None:
    z, y, x = zyx
    r = public_client.get(f"/ogc/collections/{seeded.slugs['public']}/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["message_ja"] and err["message_en"]


def test_non_numeric_tile_is_400(seeded, client) -> None:
    r = client.get(f"/ogc/collections/{seeded.slugs['public']}/tiles/WebMercatorQuad/a/0/0")
    assert r.status_code == 400
    assert r.json()["error"]["message_ja"]


def _not_found_bodies(c, slugs, headers=None) -> list[tuple[int, bytes]]:
    x, y = tile_of(*SEED_POINT, 14)
    out = []
    for slug in slugs:
        for path in (
            f"/ogc/collections/{slug}/tiles",
            f"/ogc/collections/{slug}/tiles/WebMercatorQuad",
            url(slug, 14, x, y),
        ):
            r = c.get(path, headers=headers or {})
            out.append((r.status_code, r.content))
    return out


def test_hidden_layers_answer_like_unknown_ones(seeded, client, public_client) -> None:
    hidden = [seeded.slugs["internal"], seeded.slugs["restricted"]]
    unknown = _not_found_bodies(public_client, ["no-such-layer"])
    assert {s for s, _ in unknown} == {404}
    for c in (public_client, client):  # the public instance, and anonymous on the internal app
        answers = _not_found_bodies(c, hidden)
        assert {a for a in answers} == {unknown[0]}
        assert not any(b"canary" in body or b"CANARY" in body for _, body in answers)


def test_staff_get_internal_tiles_and_nobody_gets_restricted_ones(seeded, client, tmp_path) -> None:
    x, y = tile_of(*SEED_POINT, 14)
    staff = seeded.bearer(client, "staff")
    r = client.get(url(seeded.slugs["internal"], 14, x, y), headers=staff)
    assert r.status_code == 200
    assert r.headers["cache-control"].startswith("private")
    names = decode(r.content, 14, x, y, seeded.slugs["internal"], tmp_path)["name"]
    assert list(names) == [f"internal-canary-{seeded.slugs['internal']}"]
    unknown = client.get(url("no-such-layer", 14, x, y)).content
    for who in ("welfare", "admin"):  # restricted layers are never tiled, whoever asks
        answers = _not_found_bodies(client, [seeded.slugs["restricted"]], seeded.bearer(client, who))
        assert {a for a in answers} == {(404, unknown)}


# --- low zooms stay small ---------------------------------------------------------------------------
CROWD_Z_LOW, CROWD_Z_HIGH = 8, 10
CROWD_AT = (139.30, 35.38)


def crowd_size(i: int) -> int:
    return 1 + i % 17


@pytest.fixture(scope="module")
def crowded(seeded, app_engine) -> tuple[str, int]:
    """A public generic layer of overlapping squares of 17 sizes (≥ 2 grid cells at the low zoom),
    after 300 squares smaller than a grid cell at the low zoom (written first: first in scan order)."""
    slug, n = f"{TAG}-crowded", tiles_mod.feature_cap(CROWD_Z_LOW) + 500
    with transaction(app_engine, ["admin"]) as conn:
        layer_id = conn.execute(
            text(
                """INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind, geometry_type)
                   VALUES (:s, '密集', 'Crowded', :d, 'public', 'generic', 'Polygon')
                   ON CONFLICT (slug) DO UPDATE SET title_en = EXCLUDED.title_en RETURNING id"""
            ),
            {"s": slug, "d": seeded.dept_id},
        ).scalar_one()
        conn.execute(text("DELETE FROM gis.feature WHERE layer_id = :l"), {"l": layer_id})
        conn.execute(
            text(
                """INSERT INTO gis.feature (layer_id, source_key, properties, geom)
                   SELECT :l, 'tiny' || i, jsonb_build_object('name', 'tiny' || i),
                          ST_Expand(ST_SetSRID(ST_MakePoint(:lon + (i % 50) * 0.0004, :lat + (i / 50) * 0.0004), 4326),
                                    0.00002)
                   FROM generate_series(1, 300) AS i"""
            ),
            {"l": layer_id, "lon": CROWD_AT[0], "lat": CROWD_AT[1]},
        )
        conn.execute(
            text(
                """INSERT INTO gis.feature (layer_id, source_key, properties, geom)
                   SELECT :l, 'sq' || i, jsonb_build_object('name', 'sq' || i),
                          ST_Expand(ST_SetSRID(ST_MakePoint(:lon + (i % 50) * 0.0004, :lat + (i / 50) * 0.0004), 4326),
                                    0.0003 * (1 + i % 17))
                   FROM generate_series(1, :n) AS i"""
            ),
            {"l": layer_id, "n": n, "lon": CROWD_AT[0], "lat": CROWD_AT[1]},
        )
    return slug, n


def test_feature_cap_at_low_zoom_skips_what_would_not_show_and_is_stable(
    crowded, public_client, app_engine, tmp_path
) -> None:
    slug, n = crowded
    x, y = tile_of(*CROWD_AT, CROWD_Z_LOW)
    first = public_client.get(url(slug, CROWD_Z_LOW, x, y)).content
    low = decode(first, CROWD_Z_LOW, x, y, slug, tmp_path)
    assert len(low) == tiles_mod.feature_cap(CROWD_Z_LOW) < n
    # Squares smaller than a grid cell would vanish in ST_AsMVTGeom: they never take a place.
    assert not any(name.startswith("tiny") for name in low["name"])
    # Rendered again for the same revision (cache emptied): the same bytes, as its ETag promises.
    public_client.app.state.tile_cache.clear()
    assert public_client.get(url(slug, CROWD_Z_LOW, x, y)).content == first
    # A zoom whose cap is above n has them all (the whole crowd lies inside that one tile).
    xh, yh = tile_of(*CROWD_AT, CROWD_Z_HIGH)
    assert tiles_mod.feature_cap(CROWD_Z_HIGH) >= n
    with app_engine.connect() as conn:
        crowd = conn.execute(
            text(
                "SELECT ST_AsBinary(ST_Transform(ST_SetSRID(ST_Extent(f.geom)::geometry, 4326), 3857)) FROM gis.feature f"
                " JOIN gis.layer l ON l.id = f.layer_id WHERE l.slug = :s"
            ),
            {"s": slug},
        ).scalar_one()
    assert tile_box(CROWD_Z_HIGH, xh, yh).contains(shapely.from_wkb(crowd))
    high = public_client.get(url(slug, CROWD_Z_HIGH, xh, yh))
    names = decode(high.content, CROWD_Z_HIGH, xh, yh, slug, tmp_path)["name"]
    assert len([name for name in names if name.startswith("sq")]) == n


# --- metadata ----------------------------------------------------------------------------------------
def test_tileset_metadata_is_ogc_and_tilejson(demo_loaded, public_client, app_engine) -> None:
    listing = public_client.get("/ogc/collections/shelters/tiles").json()
    hrefs = [link["href"] for ts in listing["tilesets"] for link in ts["links"]]
    assert any(h.endswith("/ogc/collections/shelters/tiles/WebMercatorQuad") for h in hrefs)
    meta = public_client.get("/ogc/collections/shelters/tiles/WebMercatorQuad").json()
    assert meta["tiles"][0].endswith("/ogc/collections/shelters/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert (meta["minzoom"], meta["maxzoom"]) == (0, tiles_mod.MAX_ZOOM)
    assert meta["vector_layers"][0]["id"] == "shelters"
    with app_engine.connect() as conn:
        ext = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(s.geom) e"
                " FROM gis.shelter s JOIN gis.layer l ON l.id = s.layer_id WHERE l.slug = 'shelters') q"
            )
        ).one()
    assert meta["bounds"] == pytest.approx(list(ext), abs=1e-6)
    tms = public_client.get("/ogc/tileMatrixSets/WebMercatorQuad").json()
    assert [m["matrixWidth"] for m in tms["tileMatrices"]] == [2**z for z in range(tiles_mod.MAX_ZOOM + 1)]
    assert public_client.get("/ogc/tileMatrixSets").json()["tileMatrixSets"][0]["id"] == "WebMercatorQuad"


# --- the warm-tile fast path (gisapp/ogc/tiles_fast.py) -------------------------------------------
def test_warm_tiles_skip_the_database_and_a_withdrawn_layer_stops_at_once(
    seeded, public_client, client, app_engine
) -> None:
    from layers import manage

    directory = public_client.app.state.layer_directory
    wait_until(lambda: directory.layers is not None, 10)
    slug = seeded.slugs["public"]
    x, y = tile_of(*SEED_POINT, 16)
    first = public_client.get(url(slug, 16, x, y))  # cold: rendered by the route, cached
    served = directory.served
    warm = public_client.get(url(slug, 16, x, y))
    assert directory.served == served + 1  # answered before routing, no database
    assert warm.content == first.content and warm.headers["etag"] == first.headers["etag"]
    assert warm.headers["cache-control"] == "public, max-age=60"
    assert warm.headers["x-content-type-options"] == "nosniff"
    assert (
        public_client.get(url(slug, 16, x, y), headers={"If-None-Match": warm.headers["etag"]}).status_code
        == 304
    )

    class Admin:
        username, department_id, roles = "tiles-test", None, frozenset({"admin"})

    with app_engine.begin() as conn:
        manage.set_visibility(conn, Admin(), slug, "internal")
    try:
        # Withdrawn: the cached tiles are not served any more, the route answers 404.
        wait_until(lambda: public_client.get(url(slug, 16, x, y)).status_code == 404, 5)
        assert slug not in directory.layers
        assert client.get(url(slug, 16, x, y)).status_code == 404  # anonymous on the internal app too
    finally:
        with app_engine.begin() as conn:
            manage.set_visibility(conn, Admin(), slug, "public")
