"""Staff login: argon2 hashes, bearer tokens, session cookies, role checks, audit."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.fixtures_data import seed


@pytest.fixture(scope="module")
def seeded(app_engine):
    return seed(app_engine, "auth")


def login(client, seeded, who: str) -> str:
    r = client.post("/api/auth/login", json={"username": f"auth-{who}", "password": seeded.passwords[who]})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def test_passwords_are_stored_as_argon2id(app_engine, seeded):
    with app_engine.connect() as conn:
        h = conn.execute(
            text("SELECT password_hash FROM core.app_user WHERE username = 'auth-staff'")
        ).scalar_one()
    assert h.startswith("$argon2id$") and seeded.passwords["staff"] not in h


def test_login_gives_a_bearer_token_that_identifies_the_user(client, seeded):
    token = login(client, seeded, "hq")
    r = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.json()["username"] == "auth-hq" and r.json()["roles"] == ["hq_operator"]


def test_wrong_password_and_unknown_user_get_the_same_bilingual_401(client, seeded, app_engine):
    a = client.post("/api/auth/login", json={"username": "auth-staff", "password": "wrong"})
    b = client.post("/api/auth/login", json={"username": "nobody-here", "password": "wrong"})
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()
    assert a.json()["error"]["message_ja"] and a.json()["error"]["message_en"]
    with app_engine.connect() as conn:
        n = conn.execute(
            text(
                "SELECT count(*) FROM audit.log WHERE action = 'auth.login_failed' AND target = 'auth-staff'"
            )
        ).scalar_one()
    assert n >= 1


def test_malformed_login_is_a_422_in_both_languages(client):
    r = client.post("/api/auth/login", json={"username": ""})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_input" and r.json()["error"]["message_ja"]


def test_role_checks(client, seeded):
    assert client.get("/api/radio-units").status_code == 401
    assert client.get("/api/radio-units", headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    welfare_only = login(client, seeded, "welfare")  # staff + welfare: may see radio units
    assert (
        client.get("/api/radio-units", headers={"Authorization": f"Bearer {welfare_only}"}).status_code == 200
    )
    hq = login(client, seeded, "hq")
    assert client.get("/api/radio-units", headers={"Authorization": f"Bearer {hq}"}).status_code == 200


def test_layer_visibility_by_role(client, seeded):
    def slugs(token=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = client.get("/api/layers", headers=headers)
        assert r.status_code == 200
        return {layer["slug"] for layer in r.json()}

    mine = set(seeded.slugs.values())
    assert slugs() & mine == {seeded.slugs["public"]}
    assert slugs(login(client, seeded, "staff")) & mine == {seeded.slugs["public"], seeded.slugs["internal"]}
    assert slugs(login(client, seeded, "welfare")) & mine == mine
    assert slugs(login(client, seeded, "admin")) & mine == mine


def test_restricted_features_need_welfare_and_every_read_is_audited(client, seeded, app_engine):
    slug = seeded.slugs["restricted"]
    staff = login(client, seeded, "staff")
    r = client.get(f"/api/layers/{slug}/features", headers={"Authorization": f"Bearer {staff}"})
    assert r.status_code == 404 and "CANARY" not in r.text  # same answer as an unknown layer
    welfare = login(client, seeded, "welfare")
    r = client.get(f"/api/layers/{slug}/features", headers={"Authorization": f"Bearer {welfare}"})
    assert r.status_code == 200
    assert r.json()["features"][0]["properties"]["name"].startswith("CANARY-PERSON")
    with app_engine.connect() as conn:
        n = conn.execute(
            text(
                "SELECT count(*) FROM audit.log WHERE action = 'layer.read_restricted' AND target = :s "
                "AND actor = 'auth-welfare'"
            ),
            {"s": slug},
        ).scalar_one()
    assert n >= 1


def test_logout_revokes_the_token(client, seeded):
    token = login(client, seeded, "staff")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/me", headers=headers).status_code == 401


def test_page_login_sets_an_httponly_cookie_and_opens_the_hq_map(settings, seeded):
    from fastapi.testclient import TestClient

    from gisapp.app import create_app

    with TestClient(create_app(settings)) as c:
        r = c.get("/hq", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        page = c.get("/login")
        assert '<html lang="ja">' in page.text and "ログイン" in page.text
        assert 'lang="en"' in c.get("/login?lang=en").text
        bad = c.post("/login", data={"username": "auth-hq", "password": "nope", "next": "/hq"})
        assert bad.status_code == 401 and "パスワードが違います" in bad.text
        r = c.post(
            "/login",
            data={"username": "auth-hq", "password": seeded.passwords["hq"], "next": "https://evil.example/"},
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"] == "/hq"  # no open redirect
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        hq = c.get("/hq")
        assert hq.status_code == 200 and '<html lang="ja">' in hq.text
        # A cookie is not a bearer token and vice versa.
        token = c.cookies.get("gisapp_session")
        assert c.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
