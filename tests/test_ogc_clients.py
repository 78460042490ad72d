"""Real GIS clients against /ogc on running servers: GDAL's OGC API driver (ogrinfo, ogr2ogr) and
OWSLib list every collection the caller may see and read all its features; nothing hidden shows."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import httpx2 as httpx
import pytest
from owslib.ogcapi.features import Features
from sqlalchemy import text

from tests.test_ogc_features import TAG, Servers, db_count, start


@pytest.fixture(scope="module")
def live(settings, app_engine, tmp_path_factory) -> Iterator[Servers]:
    yield from start(settings, app_engine, tmp_path_factory.mktemp("ogc-clients"))


@pytest.fixture(scope="module")
def public_slugs(live, public_engine) -> set[str]:
    with public_engine.begin() as conn:
        slugs = set(conn.execute(text("SELECT slug FROM pub.layer")).scalars())
    assert {"shelters", "road-ledger", live.seed.slugs["public"]} <= slugs
    return slugs


def gdal(*args: str, headers: str | None = None, requests: list[str] | None = None) -> str:
    """Run a GDAL tool; the URLs it fetched are appended to `requests` when given (from its debug log)."""
    tool = shutil.which(args[0])
    assert tool, f"{args[0]} (gdal-bin) is required for these tests"
    env = {**os.environ, "CPL_DEBUG": "ON" if requests is not None else "OFF"}
    if headers:
        env["GDAL_HTTP_HEADERS"] = headers
    done = subprocess.run([tool, *args[1:]], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    if requests is not None:
        requests += re.findall(r"HTTP: Fetch\((\S+)\)", done.stderr)
    return done.stdout


def gdal_layers(url: str, headers: str | None = None) -> set[str]:
    out = gdal("ogrinfo", "-ro", "-so", f"OAPIF:{url}/ogc", headers=headers)
    return set(re.findall(r"^\d+: (\S+)", out, re.MULTILINE))


def gdal_read(
    url: str,
    slug: str,
    dest: Path,
    *extra: str,
    headers: str | None = None,
    requests: list[str] | None = None,
) -> list[dict]:
    out = dest / f"{slug}.geojson"
    out.unlink(missing_ok=True)
    gdal(
        "ogr2ogr",
        "-f",
        "GeoJSON",
        str(out),
        f"OAPIF:{url}/ogc",
        slug,
        *extra,
        headers=headers,
        requests=requests,
    )
    return json.loads(out.read_text())["features"]


def test_gdal_lists_and_reads_every_public_collection(live, public_slugs, public_engine, tmp_path):
    assert gdal_layers(live.public.url) == public_slugs
    for slug in sorted(public_slugs):
        expected = db_count(public_engine, slug)
        summary = gdal("ogrinfo", "-ro", "-so", f"OAPIF:{live.public.url}/ogc", slug)
        assert f"Feature Count: {expected}" in summary, slug
        features = gdal_read(live.public.url, slug, tmp_path)  # GDAL pages by the next links
        assert len(features) == expected, slug
    # The reserved characters in a property survive the round trip through GDAL.
    names = {
        f["properties"].get("name") for f in gdal_read(live.public.url, live.seed.slugs["public"], tmp_path)
    }
    assert "x' OR '1'='1'; DROP TABLE gis.layer; --" in names


def test_gdal_sends_bbox_and_property_filters_to_the_server(live, tmp_path):
    everything = gdal_read(live.public.url, "shelters", tmp_path)
    lons = sorted(f["geometry"]["coordinates"][0] for f in everything)
    west = (lons[len(lons) // 2] + lons[len(lons) // 2 + 1]) / 2  # half-way between two shelters
    fetched: list[str] = []
    inside = gdal_read(
        live.public.url, "shelters", tmp_path, "-spat", str(west), "35.0", "140.0", "36.0", requests=fetched
    )
    assert len(inside) == sum(1 for lon in lons if lon > west) and 0 < len(inside) < len(everything)
    assert any("/items?" in u and "bbox=" in u for u in fetched)
    # GDAL reads /ogc/api for the queryable parameters and passes an equality on to the server
    # (as a CQL2 filter since the API offers one: test_gdal_sends_where_as_cql2_to_the_server).
    capacity = everything[0]["properties"]["capacity"]
    fetched.clear()
    same = gdal_read(
        live.public.url, "shelters", tmp_path, "-where", f"capacity = {capacity}", requests=fetched
    )
    assert len(same) == sum(1 for f in everything if f["properties"]["capacity"] == capacity)
    assert any(u.endswith("/ogc/api") for u in fetched)
    assert any(f"filter=capacity%20%3D%20{capacity}" in u for u in fetched)


def _where_case(everything: list[dict]) -> tuple[str, list[dict]]:
    """A -where with a comparison, a LIKE and an OR, and the features it selects (computed here)."""
    caps = sorted(f["properties"]["capacity"] for f in everything)
    cap = caps[len(caps) // 2]
    where = f"capacity >= {cap} AND (name LIKE '%小%' OR capacity > {caps[-3]})"
    chosen = [
        f
        for f in everything
        if f["properties"]["capacity"] >= cap
        and ("小" in f["properties"]["name"] or f["properties"]["capacity"] > caps[-3])
    ]
    return where, chosen


def test_gdal_sends_where_as_cql2_to_the_server(live, tmp_path):
    """GDAL 3.6 (ogr2ogr) sends its -where to the server as a filter, not "Full filter will be evaluated
    on client side": the items URLs it fetched carry filter=…&filter-lang=cql-text, the server's
    numberMatched for that filter equals the count computed here, and so does what GDAL wrote."""
    everything = gdal_read(live.public.url, "shelters", tmp_path)
    where, chosen = _where_case(everything)
    assert 0 < len(chosen) < len(everything)
    fetched: list[str] = []
    got = gdal_read(live.public.url, "shelters", tmp_path, "-where", where, requests=fetched)
    sent = [u for u in fetched if "/items?" in u and "filter=" in u]
    assert sent and all("filter-lang=cql-text" in u for u in sent)
    assert len(got) == len(chosen)
    server = httpx.get(unquote(sent[0]).replace("filter-lang=cql-text", "filter-lang=cql2-text")).json()
    assert server["numberMatched"] == len(chosen)
    # An OGR boolean is written as 0/1 by GDAL; the server reads it as the boolean it is.
    fetched.clear()
    flood = gdal_read(live.public.url, "shelters", tmp_path, "-where", "suits_flood = 1", requests=fetched)
    assert len(flood) == sum(1 for f in everything if f["properties"]["suits_flood"]) > 0
    assert any("filter=suits_flood%20%3D%201" in u for u in fetched)


def test_gdal_312_sends_where_as_cql2_to_the_server(live):
    """The GDAL that pyogrio bundles (3.12) does the same: its debug log shows the filter in the items
    URL and never the client-side fallback; the frame it reads has the rows computed here."""
    import pyogrio

    everything = httpx.get(f"{live.public.url}/ogc/collections/shelters/items?limit=1000").json()["features"]
    where, chosen = _where_case(everything)
    code = (
        "import sys, pyogrio\n"
        "df = pyogrio.read_dataframe(sys.argv[1], layer='shelters', where=sys.argv[2])\n"
        "print('ROWS', len(df))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, f"OAPIF:{live.public.url}/ogc", where],
        capture_output=True, text=True, timeout=300, env={**os.environ, "CPL_DEBUG": "ON"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert pyogrio.__gdal_version__ >= (3, 12, 0)
    assert f"ROWS {len(chosen)}" in done.stdout
    log = done.stdout + done.stderr
    assert "Full filter will be evaluated on client side" not in log
    sent = [line for line in log.splitlines() if "Fetch(" in line and "/items?" in line and "filter=" in line]
    assert sent and all("filter-lang=cql-text" in line for line in sent), log[-3000:]


def test_gdal_sees_only_what_the_caller_may(live, public_slugs, app_engine, tmp_path):
    hidden = {
        live.seed.slugs["internal"],
        live.seed.slugs["restricted"],
        "sewer-pipes",
        "people-needing-help",
    }
    # Anonymous on the internal app sees what the public instance sees.
    assert gdal_layers(live.internal.url) == public_slugs
    staff = gdal_layers(live.internal.url, headers=f"Authorization: Bearer {live.tokens['staff']}")
    assert {live.seed.slugs["internal"], "sewer-pipes"} <= staff
    assert not staff & {live.seed.slugs["restricted"], "people-needing-help"}
    welfare = f"Authorization: Bearer {live.tokens['welfare']}"
    assert hidden <= gdal_layers(live.internal.url, headers=welfare)
    people = gdal_read(live.internal.url, live.seed.slugs["restricted"], tmp_path, headers=welfare)
    assert [f["properties"]["name"] for f in people] == [f"CANARY-PERSON-{live.seed.slugs['restricted']}"]
    assert not hidden & public_slugs


def test_owslib_lists_and_reads_every_public_collection(live, public_slugs, public_engine):
    api = Features(f"{live.public.url}/ogc")
    assert {c["id"] for c in api.collections()["collections"]} == public_slugs
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in api.conformance()["conformsTo"]
    for slug in sorted(public_slugs):
        ids, offset = [], 0
        while True:
            page = api.collection_items(slug, limit=50, offset=offset)
            ids += [f["id"] for f in page["features"]]
            offset += 50
            if offset >= page["numberMatched"]:
                break
        assert len(ids) == len(set(ids)) == db_count(public_engine, slug), slug
    assert set(api.collection_queryables("shelters")["properties"]) >= {"name", "capacity"}
    first = api.collection_items("shelters", limit=1)["features"][0]
    assert api.collection_item("shelters", str(first["id"]))["properties"] == first["properties"]
    filtered = api.collection_items("shelters", limit=1000, capacity=first["properties"]["capacity"])
    assert filtered["features"] and all(
        f["properties"]["capacity"] == first["properties"]["capacity"] for f in filtered["features"]
    )


def test_owslib_sends_a_cql2_filter(live, public_engine):
    """OWSLib passes filter / filter-lang through to the server: cql2-text and cql2-json give the
    count SQL gives for the same predicate."""
    api = Features(f"{live.public.url}/ogc")
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter" in api.conformance()["conformsTo"]
    expected = db_count_where(public_engine, "s.capacity >= 100 AND s.suits_flood")
    text_filter = api.collection_items(
        "shelters", limit=1000, filter="capacity >= 100 AND suits_flood = TRUE"
    )
    assert text_filter["numberMatched"] == len(text_filter["features"]) == expected
    tree = {"op": "and", "args": [{"op": ">=", "args": [{"property": "capacity"}, 100]},
                                  {"op": "=", "args": [{"property": "suits_flood"}, True]}]}  # fmt: skip
    as_json = api.collection_items(
        "shelters", limit=1000, filter=json.dumps(tree), **{"filter-lang": "cql2-json"}
    )
    assert {f["id"] for f in as_json["features"]} == {f["id"] for f in text_filter["features"]}


def db_count_where(engine, condition: str) -> int:
    # The condition is one of this module's constants.
    sql = (
        "SELECT count(*) FROM pub.shelter s JOIN pub.layer l ON l.id = s.layer_id"  # noqa: S608
        f" WHERE l.slug = 'shelters' AND {condition}"
    )
    with engine.begin() as conn:
        return conn.execute(text(sql)).scalar_one()


def test_owslib_with_a_bearer_token(live):
    hidden = live.seed.slugs["restricted"]
    anonymous = Features(f"{live.internal.url}/ogc")
    assert hidden not in {c["id"] for c in anonymous.collections()["collections"]}
    welfare = Features(
        f"{live.internal.url}/ogc", headers={"Authorization": f"Bearer {live.tokens['welfare']}"}
    )
    assert hidden in {c["id"] for c in welfare.collections()["collections"]}
    items = welfare.collection_items(hidden)
    assert items["numberMatched"] == 1 and items["features"][0]["properties"]["external_id"] == "p1"
    assert TAG in hidden
