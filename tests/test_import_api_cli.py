"""The upload API (who may import where, audit, refusals as 4xx) and the `gisapp import` / `gisapp
export shelters-csv` commands, against the real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.fixtures_data import seed
from tests.support import shared_data
from tests.test_import_data import feature_count, make_layer, query

GEOJSON = json.dumps({"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"id": "p1", "名前": "公民館"}, "geometry": {"type": "Point", "coordinates": [139.31, 35.40]}},
]}, ensure_ascii=False).encode()  # fmt: skip


@pytest.fixture(scope="module")
def owners(app_engine):
    return seed(app_engine, "impapi")


@pytest.fixture(scope="module")
def others(app_engine):
    return seed(app_engine, "impapi2")


def _upload(client, slug, headers, body=GEOJSON, name="points.geojson", **form):
    return client.post(f"/api/layers/{slug}/import", headers=headers, files={"file": (name, body)}, data=form)


def test_owner_department_staff_import_and_it_is_audited(client, app_engine, owners):
    slug = make_layer(app_engine, "api-imp", "generic", owners.dept_id)
    r = _upload(client, slug, owners.bearer(client, "staff"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["counts"]["inserted"] == 1 and body["repaired"] == [] and body["format"] == "geojson"
    (actor, details) = query(
        app_engine,
        "SELECT actor, details FROM audit.log WHERE action = 'layer.import' AND target = :s ORDER BY id DESC LIMIT 1",
        s=slug,
    )[0]
    assert actor == "impapi-staff" and details["import_run_id"] == body["run_id"]
    again = _upload(client, slug, owners.bearer(client, "staff"), mode="replace")
    assert again.json()["counts"]["unchanged"] == 1


def test_admin_of_another_department_may_import(client, app_engine, owners, others):
    slug = make_layer(app_engine, "api-imp", "generic", owners.dept_id)
    assert _upload(client, slug, others.bearer(client, "admin")).status_code == 200


def test_staff_of_another_department_get_403_and_nothing_changes(client, app_engine, owners, others):
    slug = make_layer(app_engine, "api-imp-403", "generic", owners.dept_id)
    r = _upload(client, slug, others.bearer(client, "staff"))
    assert r.status_code == 403 and r.json()["error"]["message_ja"]
    assert feature_count(app_engine, slug, "generic") == 0


def test_anonymous_401_and_invisible_or_unknown_layers_404(client, app_engine, owners):
    slug = make_layer(app_engine, "api-imp", "generic", owners.dept_id)
    assert _upload(client, slug, {}).status_code == 401
    staff = owners.bearer(client, "staff")
    restricted = _upload(client, owners.slugs["restricted"], staff)  # staff may not see restricted layers
    unknown = _upload(client, "no-such-layer", staff)
    assert restricted.status_code == unknown.status_code == 404
    assert restricted.json() == unknown.json()


def test_refused_file_is_a_422_listing_rows_and_stores_nothing(client, app_engine, owners):
    slug = make_layer(app_engine, "api-imp-shelter", "shelter", owners.dept_id)
    csv = "ID,名称,緯度,経度\r\nA,公民館,35.4,139.3\r\nB,体育館,139.3,35.4\r\n".encode("cp932")
    r = _upload(client, slug, owners.bearer(client, "staff"), csv, "shelters.csv")
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["reason"] == "rows_rejected" and err["message_ja"] and err["message_en"]
    assert [p["row"] for p in err["rejected"]] == [2] and err["rejected"][0]["reason_ja"]
    assert feature_count(app_engine, slug, "shelter") == 0
    (status,) = query(app_engine, "SELECT status FROM gis.import_run WHERE id = :i", i=err["import_run_id"])[
        0
    ]
    assert status == "rejected"


def test_upload_over_the_limit_is_413(client, app_engine, owners, monkeypatch):
    from layers.importers import read

    slug = make_layer(app_engine, "api-imp", "generic", owners.dept_id)
    monkeypatch.setattr(read, "MAX_IMPORT_BYTES", 10)
    r = _upload(client, slug, owners.bearer(client, "staff"))
    assert r.status_code == 413 and r.json()["error"]["message_ja"]


# --- CLI ---------------------------------------------------------------------------------------------
def _cli(settings, *args):
    env = {**os.environ, "DATABASE_URL": settings.database_url, "GISAPP_DATA_DIR": str(settings.data_dir)}
    return subprocess.run([sys.executable, "-m", "gisapp.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)  # fmt: skip


def test_cli_creates_a_layer_imports_and_exports_the_same_csv(settings, app_engine, owners, tmp_path):
    source = shared_data("shelters", "222127_evacuation_space.csv")
    r = _cli(settings, "import", str(source), "--layer", "cli-yaizu", "--create", "--title-ja", "焼津市 避難場所",
             "--title-en", "Yaizu evacuation sites", "--department", "test_impapi")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "31" in r.stdout and feature_count(app_engine, "cli-yaizu", "shelter") == 31
    (kind,) = query(app_engine, "SELECT kind FROM gis.layer WHERE slug = 'cli-yaizu'")[0]
    assert kind == "shelter"
    out = tmp_path / "out.csv"
    r = _cli(settings, "export", "shelters-csv", "--layer", "cli-yaizu", str(out), "--encoding", "cp932")
    assert r.returncode == 0, r.stderr
    r = _cli(settings, "import", str(out), "--layer", "cli-yaizu")
    assert r.returncode == 0, r.stderr
    assert feature_count(app_engine, "cli-yaizu", "shelter") == 31
    (counts,) = query(app_engine, "SELECT counts FROM gis.import_run r JOIN gis.layer l ON l.id = r.layer_id"
                      " WHERE l.slug = 'cli-yaizu' ORDER BY r.id DESC LIMIT 1")[0]  # fmt: skip
    assert counts["inserted"] == 0 and counts["read"] == 31


def test_cli_refuses_with_exit_1_and_the_message(settings, app_engine, owners, tmp_path):
    slug = make_layer(app_engine, "cli-bad", "generic", owners.dept_id)
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [')
    r = _cli(settings, "import", str(bad), "--layer", slug)
    assert r.returncode == 1 and "読み込めません" in r.stderr and "could not be read" in r.stderr
    big = tmp_path / "big.geojson"
    with big.open("wb") as f:  # sparse: a real file over the 200 MB limit, without writing 200 MB
        from layers.importers.read import MAX_IMPORT_BYTES

        f.truncate(MAX_IMPORT_BYTES + 1)
    r = _cli(settings, "import", str(big), "--layer", slug)
    assert r.returncode == 1 and "too large" in r.stderr
    assert feature_count(app_engine, slug, "generic") == 0


def test_cli_refused_create_leaves_no_layer(settings, app_engine, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes("名称,緯度,経度\r\n公民館,北緯,139.3\r\n".encode())
    r = _cli(settings, "import", str(bad), "--layer", "cli-never", "--create", "--title-ja", "x", "--title-en", "x",
             "--department", "test_impapi")  # fmt: skip
    assert r.returncode == 1 and "1:" in r.stderr
    assert query(app_engine, "SELECT count(*) FROM gis.layer WHERE slug = 'cli-never'")[0][0] == 0
