"""`gisapp serve --public`: public routes only, no API docs, connected as the public DB role."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.fixtures_data import seed


@pytest.fixture(scope="module")
def seeded(app_engine):
    return seed(app_engine, "pubinst")


@pytest.mark.parametrize(
    "path",
    [
        "/docs",
        "/openapi.json",
        "/redoc",
        "/api/layers",
        "/api/radio-units",
        "/api/events",
        "/api/me",
        "/hq",
        "/login",
    ],
)
def test_internal_routes_answer_404(public_client, path):
    r = public_client.get(path)
    assert r.status_code == 404
    assert r.json()["error"]["message_ja"] == "見つかりません。"


def test_login_is_absent(public_client):
    r = public_client.post("/api/auth/login", json={"username": "a", "password": "b"})
    assert r.status_code == 404


def test_public_layers_and_features(public_client, seeded):
    layers = {layer["slug"] for layer in public_client.get("/api/public/layers").json()}
    assert seeded.slugs["public"] in layers
    assert seeded.slugs["internal"] not in layers and seeded.slugs["restricted"] not in layers
    fc = public_client.get(f"/api/public/layers/{seeded.slugs['public']}/features").json()
    assert fc["type"] == "FeatureCollection" and fc["features"][0]["geometry"]["type"] == "Point"
    for slug in (seeded.slugs["internal"], seeded.slugs["restricted"]):
        r = public_client.get(f"/api/public/layers/{slug}/features")
        assert r.status_code == 404 and "canary" not in r.text.lower()


def test_the_public_instance_really_uses_the_public_role(public_client):
    engine = public_client.app.state.engine
    with engine.connect() as conn:
        assert conn.execute(
            text("SELECT pg_has_role(current_user, 'gisapp_read_public', 'member')")
        ).scalar_one()
        assert not conn.execute(text("SELECT pg_has_role(current_user, 'gisapp_rw', 'member')")).scalar_one()


def test_citizen_map_and_health(public_client):
    page = public_client.get("/")
    assert page.status_code == 200 and '<html lang="ja">' in page.text
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["x-frame-options"] == "DENY"
    assert public_client.get("/?lang=en").text.count('lang="en"') >= 1
    health = public_client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["database"]["ok"] and health.json()["broker"]["ok"]


def test_internal_instance_serves_docs_without_a_cdn(client, seeded):
    staff = seeded.bearer(client, "staff")  # staff only: gisapp/api/docs.py
    docs = client.get("/docs", headers=staff)
    assert docs.status_code == 200
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert "cdn.jsdelivr" not in docs.text
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert client.get("/openapi.json", headers=staff).json()["info"]["title"].startswith("gisapp")
