"""Catalog management by the owner department, publish/withdraw as one audited action, open-data
export of published layers, and public access counts without anything personal."""

from __future__ import annotations

import json
import sqlite3
import tempfile

import pytest
from sqlalchemy import text

from tests.fixtures_data import seed


@pytest.fixture(scope="module")
def seeded(app_engine):
    return seed(app_engine, "mng")


@pytest.fixture(scope="module")
def other_dept(app_engine):
    """Staff of another department."""
    return seed(app_engine, "mngother")


def audit_actions(app_engine, slug: str) -> list[str]:
    with app_engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT action FROM audit.log WHERE target = :s ORDER BY id"), {"s": slug}
            ).scalars()
        )


def test_owner_staff_create_edit_publish_withdraw_delete(client, public_client, seeded, app_engine):
    staff = seeded.bearer(client, "staff")
    body = {"slug": "mng-parks", "title_ja": "公園", "title_en": "Parks", "geometry_type": "Point"}
    r = client.post("/api/layers", json=body, headers=staff)
    assert r.status_code == 201 and r.json()["visibility"] == "internal"
    assert r.json()["owner_department_id"] == seeded.dept_id
    assert client.post("/api/layers", json=body, headers=staff).status_code == 409  # slug taken

    r = client.patch("/api/layers/mng-parks", json={"description_ja": "市内の都市公園"}, headers=staff)
    assert r.status_code == 200 and r.json()["description_ja"] == "市内の都市公園"

    assert "mng-parks" not in {x["slug"] for x in public_client.get("/api/public/layers").json()}
    r = client.post("/api/layers/mng-parks/publish", headers=staff)
    assert r.status_code == 200 and r.json()["visibility"] == "public"
    assert "mng-parks" in {x["slug"] for x in public_client.get("/api/public/layers").json()}
    client.post("/api/layers/mng-parks/withdraw", headers=staff)
    assert "mng-parks" not in {x["slug"] for x in public_client.get("/api/public/layers").json()}
    assert public_client.get("/api/public/layers/mng-parks/features").status_code == 404

    assert client.delete("/api/layers/mng-parks", headers=staff).status_code == 204
    assert client.get("/api/layers/mng-parks/features", headers=staff).status_code == 404
    assert audit_actions(app_engine, "mng-parks") == [
        "layer.create", "layer.update", "layer.publish", "layer.withdraw", "layer.delete",
    ]  # fmt: skip


def test_publishing_bumps_the_revision(client, seeded, app_engine):
    staff = seeded.bearer(client, "staff")
    slug = seeded.slugs["internal"]
    before = client.get("/api/layers", headers=staff).json()
    rev = {x["slug"]: x["revision"] for x in before}[slug]
    published = client.post(f"/api/layers/{slug}/publish", headers=staff).json()
    assert published["revision"] > rev
    client.post(f"/api/layers/{slug}/withdraw", headers=staff)


def test_other_departments_and_anonymous_cannot_manage(client, seeded, other_dept):
    slug = seeded.slugs["internal"]
    other = other_dept.bearer(client, "staff")
    assert client.post(f"/api/layers/{slug}/publish", headers=other).status_code == 403
    assert client.delete(f"/api/layers/{slug}", headers=other).status_code == 403
    r = client.patch(f"/api/layers/{slug}", json={"title_ja": "乗っ取り"}, headers=other)
    assert r.status_code == 403 and r.json()["error"]["message_ja"] and r.json()["error"]["message_en"]
    assert client.post(f"/api/layers/{slug}/publish").status_code == 401
    admin = other_dept.bearer(client, "admin")
    assert client.post(f"/api/layers/{slug}/publish", headers=admin).status_code == 200  # admins may
    client.post(f"/api/layers/{slug}/withdraw", headers=admin)


def test_restricted_layers_cannot_be_published(client, seeded):
    welfare = seeded.bearer(client, "welfare")
    r = client.post(f"/api/layers/{seeded.slugs['restricted']}/publish", headers=welfare)
    assert r.status_code == 409
    staff = seeded.bearer(client, "staff")  # cannot even see it
    assert client.post(f"/api/layers/{seeded.slugs['restricted']}/publish", headers=staff).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"slug": "Bad Slug", "title_ja": "x", "title_en": "x"},
        {"slug": "ok-slug", "title_ja": "x", "title_en": "x", "kind": "person_needing_help"},
        {"slug": "ok-slug", "title_ja": "x", "title_en": "x", "visibility": "public"},
        {"slug": "ok-slug", "title_ja": "x", "title_en": "x", "geometry_type": "Blob"},
        {"slug": "ok-slug'; DROP TABLE gis.layer; --", "title_ja": "x", "title_en": "x"},
    ],
)
def test_bad_layer_definitions_are_refused_and_nothing_is_stored(client, seeded, app_engine, body):
    staff = seeded.bearer(client, "staff")
    with app_engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM gis.layer")).scalar_one()
    r = client.post("/api/layers", json=body, headers=staff)
    assert r.status_code == 422 and r.json()["error"]["message_ja"]
    with app_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM gis.layer")).scalar_one() == before


def test_open_data_export_geojson_and_geopackage(public_client, seeded):
    slug = seeded.slugs["public"]
    r = public_client.get(f"/api/public/layers/{slug}/export?format=geojson")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    assert f'filename="{slug}.geojson"' in r.headers["content-disposition"]
    fc = json.loads(r.content)
    assert fc["features"][0]["geometry"]["coordinates"] == [139.31, 35.4]
    r = public_client.get(f"/api/public/layers/{slug}/export?format=gpkg")
    assert r.status_code == 200
    with tempfile.NamedTemporaryFile(suffix=".gpkg") as f:
        f.write(r.content)
        f.flush()
        import pyogrio

        gdf = pyogrio.read_dataframe(f.name)
        assert len(gdf) == len(fc["features"]) and gdf.crs.to_epsg() == 4326
        assert sqlite3.connect(f.name).execute("SELECT count(*) FROM gpkg_contents").fetchone()[0] == 1
    for hidden in (seeded.slugs["internal"], seeded.slugs["restricted"]):
        r = public_client.get(f"/api/public/layers/{hidden}/export?format=geojson")
        assert r.status_code == 404 and "canary" not in r.text.lower()
    assert public_client.get(f"/api/public/layers/{slug}/export?format=shp").status_code == 422


def test_public_accesses_are_counted_per_layer_and_day(public_client, client, seeded, app_engine):
    slug = seeded.slugs["public"]
    with app_engine.connect() as conn:
        layer_id = conn.execute(text("SELECT id FROM gis.layer WHERE slug = :s"), {"s": slug}).scalar_one()

    def hits() -> int:
        with app_engine.connect() as conn:
            return conn.execute(
                text("SELECT coalesce(sum(hits), 0) FROM gis.layer_access_daily WHERE layer_id = :l"),
                {"l": layer_id},
            ).scalar_one()

    public_client.app.state.access.flush()  # what earlier tests counted
    before = hits()
    for _ in range(3):
        assert public_client.get(f"/api/public/layers/{slug}/features").status_code == 200
    public_client.app.state.access.flush()
    assert hits() == before + 3
    staff = seeded.bearer(client, "staff")
    rows = client.get("/api/stats/layer-access?days=7", headers=staff).json()
    assert any(r["slug"] == slug and r["hits"] >= 3 for r in rows)
    assert set(rows[0]) == {"slug", "title_ja", "title_en", "day", "hits"}  # nothing about visitors
    assert client.get("/api/stats/layer-access").status_code == 401


def test_the_public_role_can_count_but_not_write(public_engine, seeded):
    with public_engine.begin() as conn:
        conn.execute(text("SELECT pub.count_access(ARRAY[1], ARRAY[1])"))
    with public_engine.begin() as conn, pytest.raises(Exception, match="permission denied"):
        conn.execute(text("INSERT INTO gis.layer_access_daily VALUES (1, current_date, 1)"))


def test_search_finds_only_what_the_viewer_may_see(client, public_client, seeded):
    # seed() names its features '<visibility>-canary-<slug>'; people's names are never searched.
    staff = seeded.bearer(client, "staff")
    welfare = seeded.bearer(client, "welfare")
    pub = {r["slug"] for r in public_client.get("/api/public/search?q=canary-mng-").json()}
    assert pub == {seeded.slugs["public"]}
    anon = {r["slug"] for r in client.get("/api/search?q=canary-mng-").json()}
    assert anon == {seeded.slugs["public"]}
    mine = {r["slug"] for r in client.get("/api/search?q=canary-mng-", headers=staff).json()}
    assert mine == {seeded.slugs["public"], seeded.slugs["internal"]}
    assert client.get("/api/search?q=CANARY-PERSON", headers=welfare).json() == []
    hit = public_client.get("/api/public/search?q=public-canary-mng").json()[0]
    assert (hit["lon"], hit["lat"]) == (139.31, 35.4)


@pytest.mark.parametrize("q", ["%", "_", "' OR 1=1 --", "\\"])
def test_search_takes_the_query_literally(public_client, q):
    r = public_client.get("/api/public/search", params={"q": q})
    assert r.status_code == 200 and r.json() == []


def test_search_needs_a_query(public_client):
    for q in ("", "   ", "x" * 101):
        r = public_client.get("/api/public/search", params={"q": q})
        assert r.status_code == 422 and r.json()["error"]["message_ja"]


def test_public_shelter_csv_export_round_trips_through_the_importer(
    public_client, app_engine, seeded, tmp_path
):
    from tests.support import shared_data
    from tests.test_import_data import make_layer, query, run_import

    source = shared_data("shelters", "122033_103_evacuation_space.csv")
    slug = make_layer(app_engine, "mng-shelters", "shelter", seeded.dept_id, visibility="public")
    run_import(app_engine, slug, source)
    r = public_client.get(f"/api/public/layers/{slug}/export?format=csv&encoding=cp932")
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=Windows-31J"
    assert r.content == source.read_bytes()  # the city's own file, byte for byte
    copy = tmp_path / "copy.csv"
    copy.write_bytes(public_client.get(f"/api/public/layers/{slug}/export?format=csv").content)
    again = make_layer(app_engine, "mng-shelters-copy", "shelter", seeded.dept_id)
    run_import(app_engine, again, copy)
    rows = "SELECT code, name, capacity, suits_flood, ST_AsText(geom) FROM gis.shelter s JOIN gis.layer l ON l.id = s.layer_id WHERE l.slug = :s ORDER BY code"
    assert query(app_engine, rows, s=slug) == query(app_engine, rows, s=again)
    r = public_client.get(f"/api/public/layers/{seeded.slugs['public']}/export?format=csv")
    assert r.status_code == 422 and "CSV" in r.json()["error"]["message_en"]
