"""The city's basemap file (gisapp/api/basemap.py, layers/basemap_file.py, layers/map_style.py): MBTiles and
PMTiles built here from our own layers with GDAL and the pmtiles package, served on both instances
(tiles that decode to the file's layers, gzip as the client accepts, ETag/304, TileJSON, style.json),
and the MapLibre styles of our own collections (/ogc/…/style.json, /ogc/styles/default)."""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Iterator

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from gisapp.app import create_app
from layers.basemap_file import BasemapError, open_basemap
from tests import basemap_support as bm

TAG = "basemap"
LAYER_TYPES = {"background", "fill", "line", "circle", "symbol"}


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


@pytest.fixture(scope="module")
def files(app_engine: Engine, client, tmp_path_factory) -> bm.BasemapFiles:
    slug = bm.store_source_layer(app_engine, TAG)
    return bm.build(client, slug, tmp_path_factory.mktemp("basemap"))


@pytest.fixture(scope="module")
def served(settings, files) -> Iterator[dict[str, TestClient]]:
    """The public instance serving the PMTiles file, the internal one the MBTiles file."""
    public = create_app(
        settings.model_copy(update={"basemap": files.pmtiles, "response_cache": False}), public=True
    )
    internal = create_app(settings.model_copy(update={"basemap": files.mbtiles}))
    with TestClient(public) as p, TestClient(internal) as i:
        yield {"pmtiles": p, "mbtiles": i}


@pytest.mark.parametrize("fmt", ["pmtiles", "mbtiles"])
def test_the_file_is_served_as_tiles_that_decode_to_its_layers(served, fmt) -> None:
    c = served[fmt]
    tj = c.get("/basemap/tilejson.json")
    assert tj.status_code == 200 and tj.headers["access-control-allow-origin"] == "*"
    doc = tj.json()
    assert doc["tilejson"] == "3.0.0" and (doc["minzoom"], doc["maxzoom"]) == (bm.MINZOOM, bm.MAXZOOM)
    assert {vl["id"] for vl in doc["vector_layers"]} == {"water", "town", "place"}
    assert doc["tiles"] == ["http://testserver/basemap/tiles/{z}/{x}/{y}.pbf"]
    assert doc["bounds"][0] <= bm.CENTRE[0] <= doc["bounds"][2]

    x, y = tile_of(*bm.CENTRE, 14)
    path = f"/basemap/tiles/14/{x}/{y}.pbf"
    # httpx asks for gzip and unzips: the bytes are the file's, sent on as stored.
    zipped = c.get(path, headers={"Accept-Encoding": "gzip"})
    assert zipped.status_code == 200, zipped.text
    assert zipped.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert zipped.headers["content-encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["vary"]
    assert zipped.headers["cache-control"] == "public, max-age=3600"
    assert zipped.headers["access-control-allow-origin"] == "*"
    plain = c.get(path, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == zipped.content
    assert plain.headers["etag"] != zipped.headers["etag"]  # one ETag per representation
    decoded = mapbox_vector_tile.decode(plain.content)
    names = {layer: {f["properties"].get("name") for f in d["features"]} for layer, d in decoded.items()}
    assert names == {"water": {bm.RIVER}, "town": {bm.TOWN}, "place": {bm.STATION}}

    again = c.get(path, headers={"Accept-Encoding": "identity", "If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304 and not again.content
    # Outside the data and outside the file's zooms: empty (204), not an error; off the grid: refused.
    assert c.get("/basemap/tiles/14/0/0.pbf").status_code == 204
    assert c.get(f"/basemap/tiles/{bm.MAXZOOM + 1}/0/0.pbf").status_code == 204
    bad = c.get("/basemap/tiles/3/8/0.pbf")
    assert bad.status_code == 422 and bad.json()["error"]["message_en"]


def test_the_generated_style_draws_every_layer_of_the_file(served) -> None:
    c = served["pmtiles"]
    r = c.get("/basemap/style.json")
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    style = r.json()
    assert style["version"] == 8
    assert style["sources"]["basemap"] == {
        "type": "vector", "url": "http://testserver/basemap/tilejson.json", "attribution": ""
    }  # fmt: skip
    ids = [layer["id"] for layer in style["layers"]]
    assert len(ids) == len(set(ids)) and style["layers"][0]["type"] == "background"
    drawn = {}
    for layer in style["layers"][1:]:
        assert layer["type"] in LAYER_TYPES and layer["source"] in style["sources"]
        drawn.setdefault(layer["source-layer"], set()).add(layer["type"])
    assert drawn["town"] >= {"fill", "line", "symbol"}  # an area, its outline, its name
    assert {"line", "symbol"} <= drawn["water"] and {"circle", "symbol"} <= drawn["place"]
    labels = [layer for layer in style["layers"] if layer["type"] == "symbol"]
    assert all(layer["layout"]["text-field"] == ["to-string", ["get", "name"]] for layer in labels)
    # No glyph server: MapLibre lays the labels out locally in the device's sans-serif.
    assert "glyphs" not in style and all(layer["layout"]["text-font"] == ["sans-serif"] for layer in labels)


def test_a_city_style_is_served_with_its_sources_pointed_at_our_tiles(settings, files, tmp_path) -> None:
    city = {
        "version": 8,
        "sources": {"city": {"type": "vector", "url": "https://tiles.example.jp/city.json"}},
        "layers": [{"id": "river", "type": "line", "source": "city", "source-layer": "water"}],
    }
    path = tmp_path / "style.json"
    path.write_text(json.dumps(city), encoding="utf-8")
    app = create_app(
        settings.model_copy(update={"basemap": files.mbtiles, "basemap_style": path}), public=True
    )
    with TestClient(app) as c:
        style = c.get("/basemap/style.json").json()
    assert style["layers"] == city["layers"]
    assert style["sources"]["city"]["url"] == "http://testserver/basemap/tilejson.json"


def test_without_a_basemap_its_routes_say_so_and_a_bad_file_is_refused(public_client, tmp_path) -> None:
    for path in ("/basemap/style.json", "/basemap/tilejson.json", "/basemap/tiles/1/0/0.pbf"):
        r = public_client.get(path)
        assert r.status_code == 404 and r.json()["error"]["message_ja"], path
    not_tiles = tmp_path / "notes.pmtiles"
    not_tiles.write_bytes(b"just some text, not tiles")
    for bad in (not_tiles, tmp_path / "missing.mbtiles"):
        with pytest.raises(BasemapError) as e:
            open_basemap(bad)
        assert e.value.ja and e.value.en


def test_collection_styles_and_the_whole_map_style(served, files) -> None:
    c = served["pmtiles"]
    slug = files.slug
    base = f"http://testserver/ogc/collections/{slug}/tiles/WebMercatorQuad"
    collection = c.get(f"/ogc/collections/{slug}").json()
    assert any(li["rel"] == "stylesheet" and li["href"] == f"{base}/style.json" for li in collection["links"])
    tileset = c.get(f"/ogc/collections/{slug}/tiles/WebMercatorQuad").json()
    rels = {li["rel"]: li["href"] for li in tileset["links"]}
    assert rels["stylesheet"] == f"{base}/style.json" and rels["describedby"] == f"{base}/tilejson.json"

    tj = c.get(f"/ogc/collections/{slug}/tiles/WebMercatorQuad/tilejson.json").json()
    assert tj["tilejson"] == "3.0.0" and tj["vector_layers"][0]["id"] == slug
    style = c.get(f"/ogc/collections/{slug}/tiles/WebMercatorQuad/style.json").json()
    assert style["version"] == 8 and style["sources"] == {
        slug: {"type": "vector", "url": f"{base}/tilejson.json"}
    }
    types = {layer["type"] for layer in style["layers"] if layer.get("source-layer") == slug}
    assert types == {"fill", "line", "circle", "symbol"}  # 'Geometry': each type drawn by its own filter
    assert c.get("/ogc/collections/no-such-layer/tiles/WebMercatorQuad/style.json").status_code == 404

    whole = c.get("/ogc/styles/default").json()
    assert {"basemap", slug} <= set(whole["sources"])
    sources = [layer.get("source") for layer in whole["layers"]]
    assert sources.index("basemap") < sources.index(slug)  # our layers over the basemap
    landing = c.get("/ogc").json()["links"]
    assert any(li["href"] == "http://testserver/ogc/styles" for li in landing)
    listed = c.get("/ogc/styles").json()["styles"][0]
    assert listed["id"] == "default" and listed["links"][0]["href"].endswith("/ogc/styles/default")


def test_a_restricted_or_internal_collection_has_no_style_on_the_public_instance(
    served, public_client, app_engine
):
    from tests.fixtures_data import seed

    seeded = seed(app_engine, TAG)
    for slug in (seeded.slugs["internal"], seeded.slugs["restricted"]):
        assert (
            public_client.get(f"/ogc/collections/{slug}/tiles/WebMercatorQuad/style.json").status_code == 404
        )
    whole = public_client.get("/ogc/styles/default").json()
    assert seeded.slugs["public"] in whole["sources"]
    assert not {seeded.slugs["internal"], seeded.slugs["restricted"]} & set(whole["sources"])
    assert "basemap" not in whole["sources"]  # this instance has no basemap file


def test_the_printed_situation_map_draws_the_basemap_file_with_its_names(served, client, app_engine) -> None:
    import io

    import pypdf

    from tests.fixtures_data import seed

    hq_of = seed(app_engine, TAG).bearer
    lon, lat = bm.CENTRE
    bbox = f"{lon - 0.012},{lat - 0.008},{lon + 0.012},{lat + 0.008}"

    def printed(c) -> str:
        hq = hq_of(c, "hq")
        d = c.post("/api/disasters", json={"name": f"ベースマップ印刷 {secrets.token_hex(3)}"}, headers=hq)
        assert d.status_code == 201, d.text
        r = c.get("/api/maps/situation.pdf", params={"disaster": d.json()["id"], "bbox": bbox}, headers=hq)
        assert r.status_code == 200, r.text
        return pypdf.PdfReader(io.BytesIO(r.content)).pages[0].extract_text().replace("\n", "")

    with_file = printed(served["mbtiles"])
    for name in (bm.RIVER, bm.TOWN, bm.STATION):
        assert name in with_file
    assert "市のベースマップ" in with_file  # in the legend
    without = printed(client)  # the same ground on an instance without the file: none of its names
    assert not [n for n in (bm.RIVER, bm.TOWN, bm.STATION) if n in without]


@pytest.mark.parametrize("fmt", ["pmtiles", "mbtiles"])
def test_a_feature_cut_by_tile_edges_prints_as_one_piece(files, fmt) -> None:
    from layers.printmap.file_basemap import read_file, tile_range, zoom_for

    basemap = open_basemap(getattr(files, fmt))
    lon, lat = bm.CENTRE
    lonlat = (lon - 0.02, lat - 0.015, lon + 0.02, lat + 0.015)
    z = zoom_for(basemap, 5000, lonlat)
    x0, _, x1, _ = tile_range(z, lonlat)
    assert z == bm.MAXZOOM and x1 > x0  # the town spans several tiles at this zoom
    shapes, cut = read_file(basemap, srid=6677, lonlat=lonlat, scale=5000, tolerance=0.5, limit=100)
    by_name = {(s.kind, s.name): s for s in shapes}
    assert set(by_name) == {("file:area", bm.TOWN), ("file:line", bm.RIVER), ("file:point", bm.STATION)}
    town = by_name[("file:area", bm.TOWN)].geometry
    assert town.geom_type == "Polygon" and len(town.interiors) == 0  # merged, no seam or sliver
    assert 1400 < town.area**0.5 < 1500  # ≈ 0.017° × 0.012° in metres
    assert not cut
    assert shapes[0].kind == "file:area"  # areas first, under lines and names
