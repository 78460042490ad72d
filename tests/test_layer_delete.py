"""Destruction is deliberate: a layer delete is a soft delete with a restore window, refused for the
要支援者 registry and for layers that open operations refer to; a cascade never removes rows the caller
cannot read (the database refuses); purging after the window is an explicit admin command with counts.
Import rights equal edit rights: one role matrix for PATCH, publish, import and delete."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from gisapp.db import transaction
from layers import deletion, routing
from tests.fixtures_data import seed

GEOJSON = json.dumps(
    {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"id": f"d{i}", "name": f"delete-canary-{i}"},
                "geometry": {"type": "Point", "coordinates": [139.31 + i / 1000, 35.40]},
            }
            for i in range(3)
        ],
    }
).encode()


@pytest.fixture(scope="module")
def owners(app_engine):
    return seed(app_engine, "del")


@pytest.fixture(scope="module")
def others(app_engine):
    return seed(app_engine, "delother")


def _layer(engine, slug: str, kind: str, dept: int, visibility: str = "internal") -> int:
    geometry = {"road_segment": "MultiLineString", "hazard_area": "MultiPolygon"}.get(kind, "Point")
    with transaction(engine, ["admin"]) as conn:
        return conn.execute(
            text(
                """INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind, geometry_type)
                   VALUES (:s, :s, :s, :d, :v, :k, :g) RETURNING id"""
            ),
            {"s": slug, "d": dept, "v": visibility, "k": kind, "g": geometry},
        ).scalar_one()


def _one(engine, sql: str, roles: tuple[str, ...] = ("admin",), **params):
    with transaction(engine, roles) as conn:
        return conn.execute(text(sql), params).scalar_one()


def _upload(client, slug, headers, mode="upsert"):
    return client.post(
        f"/api/layers/{slug}/import",
        headers=headers,
        files={"file": ("p.geojson", GEOJSON)},
        data={"mode": mode},
    )


def _audit(engine, slug: str, action: str) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT actor, details FROM audit.log WHERE target = :s AND action = :a ORDER BY id"),
            {"s": slug, "a": action},
        )
        return [{"actor": r.actor, **r.details} for r in rows]


def _error(r) -> dict:
    error = r.json()["error"]
    assert error["message_ja"] and error["message_en"], error
    return error


# --- the registry -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def registry(app_engine, owners):
    """A 要支援者 registry of the owner department: consenting and non-consenting people, with plans."""
    layer_id = _layer(app_engine, "del-registry", "person_needing_help", owners.dept_id, "restricted")
    with transaction(app_engine, ["admin"]) as conn:
        for i in range(6):
            pid = conn.execute(
                text(
                    """INSERT INTO restricted.person_needing_help (layer_id, external_id, name, care_category,
                         consent, geom)
                       VALUES (:l, :k, :n, '要介護3', :c, ST_SetSRID(ST_MakePoint(140.9, 36.9), 4326)) RETURNING id"""
                ),
                {"l": layer_id, "k": f"DEL-{i}", "n": f"削除試験 {i}（架空）", "c": i % 2 == 0},
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO restricted.evacuation_plan (person_id, status, updated_by) VALUES (:p, 'drafting', 't')"
                ),
                {"p": pid},
            )
    return layer_id


def _registry_counts(owner_engine, layer_id: int) -> tuple[int, int]:
    # As the database owner acting as the registry keeper (row-level security is FORCEd on the owner).
    with owner_engine.begin() as conn:
        conn.execute(text("SELECT set_config('gisapp.roles', 'admin', true)"))
        people = conn.execute(
            text("SELECT count(*) FROM restricted.person_needing_help WHERE layer_id = :l"), {"l": layer_id}
        ).scalar_one()
        plans = conn.execute(
            text(
                "SELECT count(*) FROM restricted.evacuation_plan ep JOIN restricted.person_needing_help p"
                " ON p.id = ep.person_id WHERE p.layer_id = :l"
            ),
            {"l": layer_id},
        ).scalar_one()
        return people, plans


@pytest.mark.parametrize("who", ["welfare", "admin"])
def test_the_registry_cannot_be_deleted_through_the_layer_route(client, owners, registry, owner_engine, who):
    assert _registry_counts(owner_engine, registry) == (6, 6)
    r = client.delete("/api/layers/del-registry", headers=owners.bearer(client, who))
    assert r.status_code == 409, r.text
    error = _error(r)
    assert "要支援者" in error["message_ja"] and "registry" in error["message_en"]
    assert [x["code"] for x in error["reasons"]] == ["registry"]
    assert _registry_counts(owner_engine, registry) == (6, 6)  # every person and plan is still there
    assert (
        client.get("/api/layers/del-registry/features", headers=owners.bearer(client, "admin")).status_code
        == 200
    )


def test_a_cascade_cannot_remove_people_the_caller_cannot_read(app_engine, owners, registry, owner_engine):
    """The database itself refuses: no cascade from the layer into the registry, whatever the caller."""
    for roles in (("staff", "welfare"), ("admin",)):
        with pytest.raises(Exception, match="foreign key|violates"):
            with transaction(app_engine, roles) as conn:
                conn.execute(text("DELETE FROM gis.layer WHERE id = :l"), {"l": registry})
    # Nor from a person into its plan.
    with pytest.raises(Exception, match="foreign key|violates"):
        with transaction(app_engine, ("admin",)) as conn:
            conn.execute(
                text("DELETE FROM restricted.person_needing_help WHERE layer_id = :l"), {"l": registry}
            )
    assert _registry_counts(owner_engine, registry) == (6, 6)


# --- soft delete and restore ------------------------------------------------------------------
def _everywhere(client, public_client, public_engine, headers, slug: str) -> dict[str, bool]:
    """Where the layer can be seen."""
    with public_engine.connect() as conn:
        in_pub_view = conn.execute(
            text(
                "SELECT count(*) FROM pub.feature f JOIN pub.layer l ON l.id = f.layer_id WHERE l.slug = :s"
            ),
            {"s": slug},
        ).scalar_one()
    return {
        "catalog": slug in {x["slug"] for x in client.get("/api/layers", headers=headers).json()},
        "features": client.get(f"/api/layers/{slug}/features", headers=headers).status_code == 200,
        "public_catalog": slug in {x["slug"] for x in public_client.get("/api/public/layers").json()},
        "public_features": public_client.get(f"/api/public/layers/{slug}/features").status_code == 200,
        "pub_views": in_pub_view > 0,
        "ogc": client.get(f"/ogc/collections/{slug}/items", headers=headers).status_code == 200,
        "public_ogc": public_client.get(f"/ogc/collections/{slug}/items").status_code == 200,
        "tiles": public_client.get(f"/ogc/collections/{slug}/tiles/WebMercatorQuad/14/6467/14532").status_code
        in (200, 204),
        "search": any(
            h["slug"] == slug for h in client.get("/api/search?q=delete-canary", headers=headers).json()
        ),
        "public_search": any(
            h["slug"] == slug for h in public_client.get("/api/public/search?q=delete-canary").json()
        ),
    }


def test_delete_hides_everywhere_and_restore_brings_it_back(
    client, public_client, public_engine, app_engine, owners, others
):
    staff = owners.bearer(client, "staff")
    slug = "del-parks"
    _layer(app_engine, slug, "generic", owners.dept_id)
    assert _upload(client, slug, staff).status_code == 200
    assert client.post(f"/api/layers/{slug}/publish", headers=staff).status_code == 200
    assert all(_everywhere(client, public_client, public_engine, staff, slug).values())

    r = client.delete(f"/api/layers/{slug}", headers=staff)
    assert r.status_code == 204, r.text
    assert not any(_everywhere(client, public_client, public_engine, staff, slug).values())
    assert _upload(client, slug, staff).status_code == 404  # no import target either
    # Still stored, restorable, audited with the rows it holds.
    assert (
        _one(
            app_engine,
            "SELECT count(*) FROM gis.feature f JOIN gis.layer l ON l.id = f.layer_id WHERE l.slug = :s",
            s=slug,
        )
        == 3
    )
    entry = _audit(app_engine, slug, "layer.delete")[-1]
    assert entry["actor"] == "del-staff" and entry["counts"]["gis.feature"] == 3
    assert entry["counts"]["gis.import_run"] == 1 and entry["restorable_until"]
    listed = client.get("/api/layers/deleted", headers=staff).json()
    assert slug in {x["slug"] for x in listed}
    assert slug not in {
        x["slug"] for x in client.get("/api/layers/deleted", headers=others.bearer(client, "staff")).json()
    }
    # A new layer cannot take the slug of one that can still be restored.
    r = client.post("/api/layers", json={"slug": slug, "title_ja": "x", "title_en": "x"}, headers=staff)
    assert r.status_code == 409
    # Deleting twice: it is gone.
    assert client.delete(f"/api/layers/{slug}", headers=staff).status_code == 404

    # Restore: not by another department, nor an hq_operator; by the owner department.
    r = client.post(f"/api/layers/{slug}/restore", headers=others.bearer(client, "staff"))
    assert r.status_code == 403 and _error(r)
    assert client.post(f"/api/layers/{slug}/restore", headers=owners.bearer(client, "hq")).status_code == 403
    assert client.post(f"/api/layers/{slug}/restore").status_code == 401
    r = client.post(f"/api/layers/{slug}/restore", headers=staff)
    assert r.status_code == 200, r.text
    assert r.json()["visibility"] == "public"
    assert all(_everywhere(client, public_client, public_engine, staff, slug).values())
    restored = _audit(app_engine, slug, "layer.restore")[-1]
    assert restored["actor"] == "del-staff" and restored["counts"]["gis.feature"] == 3
    assert client.post(f"/api/layers/{slug}/restore", headers=staff).status_code == 404  # not deleted now


def test_restore_window_then_purge_with_counts(client, app_engine, owner_engine, owners):
    admin = owners.bearer(client, "admin")
    slug = "del-old"
    _layer(app_engine, slug, "generic", owners.dept_id)
    assert _upload(client, slug, admin).status_code == 200
    assert client.delete(f"/api/layers/{slug}", headers=admin).status_code == 204
    with owner_engine.begin() as conn:  # the clock moves past the window
        conn.execute(
            text("UPDATE gis.layer SET deleted_at = now() - make_interval(days => :d) WHERE slug = :s"),
            {"s": slug, "d": deletion.RESTORE_DAYS + 1},
        )
    r = client.post(f"/api/layers/{slug}/restore", headers=admin)
    assert r.status_code == 409 and str(deletion.RESTORE_DAYS) in _error(r)["message_en"]

    with transaction(app_engine, ["admin"]) as conn:
        dry = {p.slug: p for p in deletion.purge(conn, "test", dry_run=True)}
    assert dry[slug].counts["gis.feature"] == 3 and not dry[slug].purged
    assert _one(app_engine, "SELECT count(*) FROM gis.layer WHERE slug = :s", s=slug) == 1

    env = {**os.environ, "LOG_FORMAT": "text"}
    out = subprocess.run(
        [sys.executable, "-m", "gisapp.cli", "layers", "purge"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert f"purged {slug}" in out.stdout, out.stdout + out.stderr
    assert '"gis.feature": 3' in out.stdout
    assert _one(app_engine, "SELECT count(*) FROM gis.layer WHERE slug = :s", s=slug) == 0
    assert (
        _one(
            app_engine,
            "SELECT count(*) FROM gis.import_run r WHERE NOT EXISTS (SELECT 1 FROM gis.layer l WHERE l.id = r.layer_id)",
        )
        == 0
    )
    purged = _audit(app_engine, slug, "layer.purge")[-1]
    assert purged["actor"].startswith("cli:") and purged["counts"]["gis.feature"] == 3


def test_purge_deletes_people_explicitly_and_refuses_what_the_caller_cannot_read(
    app_engine, owner_engine, owners
):
    """A registry past its window (set aside by the database owner): purged only by whoever may read
    every person in it; for welfare (consenting people only) the database refuses and nothing goes."""
    layer_id = _layer(app_engine, "del-registry-old", "person_needing_help", owners.dept_id, "restricted")
    with transaction(app_engine, ["admin"]) as conn:
        for i in range(4):
            pid = conn.execute(
                text(
                    """INSERT INTO restricted.person_needing_help (layer_id, external_id, name, care_category,
                         consent, geom)
                       VALUES (:l, :k, 'x（架空）', '要介護3', :c, ST_SetSRID(ST_MakePoint(140.9, 36.9), 4326))
                       RETURNING id"""
                ),
                {"l": layer_id, "k": f"OLD-{i}", "c": i < 2},
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO restricted.evacuation_plan (person_id, status, updated_by) VALUES (:p, 'done', 't')"
                ),
                {"p": pid},
            )
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE gis.layer SET deleted_at = now() - interval '400 days', deleted_by = 'x' WHERE id = :l"
            ),
            {"l": layer_id},
        )
    with transaction(app_engine, ["staff", "welfare"]) as conn:
        kept = {p.slug: p for p in deletion.purge(conn, "test-welfare")}["del-registry-old"]
    assert not kept.purged and kept.reasons[0]["code"] == "referenced"
    assert _registry_counts(owner_engine, layer_id) == (4, 4)
    with transaction(app_engine, ["admin"]) as conn:
        done = {p.slug: p for p in deletion.purge(conn, "test-admin")}["del-registry-old"]
    assert done.purged and done.counts["restricted.person_needing_help"] == 4
    assert done.counts["restricted.evacuation_plan"] == 4
    assert _registry_counts(owner_engine, layer_id) == (0, 0)


# --- layers referenced by open operations ----------------------------------------------------
@pytest.fixture(scope="module")
def disaster(app_engine):
    did = _one(
        app_engine, "INSERT INTO ops.disaster (name, opened_by) VALUES ('削除試験の災害', 't') RETURNING id"
    )
    yield did
    with transaction(app_engine, ["admin"]) as conn:
        conn.execute(
            text("UPDATE ops.disaster SET closed_at = now(), closed_by = 't' WHERE id = :d"), {"d": did}
        )


def test_shelters_in_use_cannot_be_deleted(client, app_engine, owners, disaster):
    slug = "del-shelters"
    layer_id = _layer(app_engine, slug, "shelter", owners.dept_id)
    shelter = _one(
        app_engine,
        "INSERT INTO gis.shelter (layer_id, code, name, geom) VALUES (:l, 'S1', '削除試験避難所',"
        " ST_SetSRID(ST_MakePoint(139.3, 35.4), 4326)) RETURNING id",
        l=layer_id,
    )
    _one(
        app_engine,
        "INSERT INTO ops.shelter_opening (disaster_id, shelter_id, opened_by, responsible_staff)"
        " VALUES (:d, :s, 't', '担当') RETURNING id",
        d=disaster,
        s=shelter,
    )
    r = client.delete(f"/api/layers/{slug}", headers=owners.bearer(client, "admin"))
    assert r.status_code == 409 and "shelter_open" in {x["code"] for x in _error(r)["reasons"]}
    assert "避難所" in r.json()["error"]["message_ja"]
    assert (
        _one(app_engine, "SELECT count(*) FROM gis.layer WHERE slug = :s AND deleted_at IS NULL", s=slug) == 1
    )
    # The database refuses a cascade through the opening record too.
    with pytest.raises(Exception, match="foreign key|violates"):
        with transaction(app_engine, ["admin"]) as conn:
            conn.execute(text("DELETE FROM gis.layer WHERE id = :l"), {"l": layer_id})


def test_roads_closed_or_under_open_incidents_cannot_be_deleted(client, app_engine, owners, disaster):
    slug = "del-roads"
    layer_id = _layer(app_engine, slug, "road_segment", owners.dept_id)
    segment = _one(
        app_engine,
        "INSERT INTO gis.road_segment (layer_id, route_no, route_name, road_class, geom) VALUES (:l, 'R1', '削除試験線',"
        " 'その他', ST_Multi(ST_GeomFromText('LINESTRING(140.95 36.95, 140.951 36.95)', 4326))) RETURNING id",
        l=layer_id,
    )
    closure = _one(
        app_engine,
        "INSERT INTO gis.road_closure (road_segment_id, reason, created_by) VALUES (:s, '冠水', 't') RETURNING id",
        s=segment,
    )
    admin = owners.bearer(client, "admin")
    r = client.delete(f"/api/layers/{slug}", headers=admin)
    assert r.status_code == 409 and {x["code"] for x in _error(r)["reasons"]} == {"road_closed"}
    _one(
        app_engine,
        "UPDATE gis.road_closure SET reopened_at = now(), reopened_by = 't' WHERE id = :c RETURNING id",
        c=closure,
    )
    incident = _one(
        app_engine,
        "INSERT INTO ops.incident (disaster_id, category, title, source, geom, created_by, road_segment_id)"
        " VALUES (:d, 'road_damage', '削除試験', 'staff', ST_SetSRID(ST_MakePoint(140.95, 36.95), 4326), 't', :s)"
        " RETURNING id",
        d=disaster,
        s=segment,
    )
    r = client.delete(f"/api/layers/{slug}", headers=admin)
    assert r.status_code == 409 and {x["code"] for x in _error(r)["reasons"]} == {"road_incident"}
    _one(app_engine, "UPDATE ops.incident SET status = 'done' WHERE id = :i RETURNING id", i=incident)

    def nearest() -> int | None:
        with transaction(app_engine, ["staff"]) as conn:
            found = routing.nearest_road_segment(conn, 140.9505, 36.95)
            return found.id if found else None

    assert nearest() == segment
    assert client.delete(f"/api/layers/{slug}", headers=admin).status_code == 204
    assert nearest() is None  # a deleted ledger is not snapped to (nor routed on)
    assert client.post(f"/api/layers/{slug}/restore", headers=admin).status_code == 200
    assert nearest() == segment


# --- one rule: edit, publish, import, delete --------------------------------------------------
MATRIX = {  # who -> allowed?  (the seed's 'welfare' is staff + welfare of the owner department)
    ("owners", "staff"): True,
    ("owners", "welfare"): True,
    ("owners", "admin"): True,
    ("owners", "hq"): False,  # hq_operator of the owner department, not its staff
    ("others", "staff"): False,
    ("others", "hq"): False,
    ("others", "welfare"): False,
}


@pytest.mark.parametrize(("seed_name", "who"), list(MATRIX))
def test_one_rule_for_edit_publish_import_delete(client, app_engine, owners, others, seed_name, who):
    allowed = MATRIX[(seed_name, who)]
    slug = f"del-matrix-{seed_name}-{who}"
    _layer(app_engine, slug, "generic", owners.dept_id)
    headers = (owners if seed_name == "owners" else others).bearer(client, who)
    expected = {True: (200, 200, 200, 200, 204), False: (403, 403, 403, 403, 403)}[allowed]
    got = (
        client.patch(f"/api/layers/{slug}", json={"title_ja": "変更"}, headers=headers).status_code,
        client.post(f"/api/layers/{slug}/publish", headers=headers).status_code,
        _upload(client, slug, headers).status_code,
        _upload(client, slug, headers, mode="replace").status_code,
        client.delete(f"/api/layers/{slug}", headers=headers).status_code,
    )
    assert got == expected
    if not allowed:  # and nothing changed
        with transaction(app_engine, ["admin"]) as conn:
            row = conn.execute(
                text(
                    """SELECT l.title_ja, l.visibility, l.deleted_at,
                              (SELECT count(*) FROM gis.feature f WHERE f.layer_id = l.id) AS n
                         FROM gis.layer l WHERE l.slug = :s"""
                ),
                {"s": slug},
            ).one()
        assert (row.title_ja, row.visibility, row.deleted_at, row.n) == (slug, "internal", None, 0)


def test_a_shelter_once_opened_is_deleted_softly_but_never_purged(client, app_engine, owner_engine, owners):
    """Its openings are the record of a past operation: the purge keeps the layer and says why."""
    slug = "del-shelters-past"
    layer_id = _layer(app_engine, slug, "shelter", owners.dept_id)
    shelter = _one(
        app_engine,
        "INSERT INTO gis.shelter (layer_id, code, name, geom) VALUES (:l, 'P1', '過去の避難所',"
        " ST_SetSRID(ST_MakePoint(139.3, 35.4), 4326)) RETURNING id",
        l=layer_id,
    )
    past = _one(
        app_engine,
        "INSERT INTO ops.disaster (name, opened_by, closed_at, closed_by) VALUES ('過去の災害', 't', now(), 't')"
        " RETURNING id",
    )
    _one(
        app_engine,
        "INSERT INTO ops.shelter_opening (disaster_id, shelter_id, opened_by, responsible_staff, closed_at, closed_by)"
        " VALUES (:d, :s, 't', '担当', now(), 't') RETURNING id",
        d=past,
        s=shelter,
    )
    assert client.delete(f"/api/layers/{slug}", headers=owners.bearer(client, "staff")).status_code == 204
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE gis.layer SET deleted_at = now() - interval '100 days' WHERE id = :l"),
            {"l": layer_id},
        )
    with transaction(app_engine, ["admin"]) as conn:
        kept = {p.slug: p for p in deletion.purge(conn, "test")}[slug]
    assert not kept.purged and [r["code"] for r in kept.reasons] == ["shelter_opened"]
    assert kept.counts["ops.shelter_opening"] == 1
    assert _one(app_engine, "SELECT count(*) FROM gis.shelter WHERE layer_id = :l", l=layer_id) == 1


def test_a_deleted_hazard_layer_no_longer_ranks_people(client, app_engine, owners, registry):
    """The worst hazard per person (migration 0018) ignores deleted hazard layers, and comes back on restore."""
    slug = "del-hazards"
    layer_id = _layer(app_engine, slug, "hazard_area", owners.dept_id)
    _one(
        app_engine,
        "INSERT INTO gis.hazard_area (layer_id, hazard_type, geom) VALUES (:l, 'landslide_special',"
        " ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(140.9, 36.9), 4326), 0.001))) RETURNING id",
        l=layer_id,
    )

    def ranked() -> int:
        return _one(
            app_engine,
            "SELECT count(*) FROM restricted.person_hazard h JOIN restricted.person_needing_help p ON p.id = h.person_id"
            " WHERE p.layer_id = :l AND h.worst IS NOT NULL",
            l=registry,
        )

    assert ranked() == 6
    admin = owners.bearer(client, "admin")
    assert client.delete(f"/api/layers/{slug}", headers=admin).status_code == 204
    assert ranked() == 0
    assert client.post(f"/api/layers/{slug}/restore", headers=admin).status_code == 200
    assert ranked() == 6


def test_community_areas_are_kept_while_a_disaster_is_open(client, app_engine, owners, disaster):
    with transaction(app_engine, ["admin"]) as conn:
        conn.execute(
            text(
                """INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind, geometry_type)
                   VALUES ('community-areas', '地区', 'Areas', :d, 'internal', 'generic', 'Polygon')
                   ON CONFLICT (slug) DO NOTHING"""
            ),
            {"d": owners.dept_id},
        )
    r = client.delete("/api/layers/community-areas", headers=owners.bearer(client, "admin"))
    assert r.status_code == 409 and [x["code"] for x in _error(r)["reasons"]] == ["areas_in_use"]
    assert (
        _one(
            app_engine, "SELECT count(*) FROM gis.layer WHERE slug = 'community-areas' AND deleted_at IS NULL"
        )
        == 1
    )
