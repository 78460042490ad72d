"""The map pages over HTTP: the staff GIS viewer at /gis (login, roles, languages, internal instance
only) and the no-CDN rule for every page, language and offline setting."""

from __future__ import annotations

import re
import secrets

import pytest
from fastapi.testclient import TestClient

from frontend import pages
from gisapp import auth
from gisapp.app import create_app
from gisapp.db import set_roles
from gisapp.pages_hq import hq_page
from tests.fixtures_data import seed

BUILDERS = {
    "citizen": pages.citizen_map_html,
    "gis": pages.gis_map_html,
    "replay": pages.replay_map_html,
}


@pytest.fixture(scope="module")
def seeded(app_engine):
    return seed(app_engine, "pages")


@pytest.fixture(scope="module")
def no_role_password(app_engine, seeded) -> str:
    """An account with no role at all: it may log in but open no staff page."""
    password = secrets.token_urlsafe(10)
    with app_engine.begin() as conn:
        set_roles(conn, ["admin"])
        auth.create_user(conn, "pages-norole", "no role (pages)", password, [], seeded.dept_id)
    return password


def logged_in(settings, username: str, password: str) -> TestClient:
    """A client of its own (the shared ``client`` keeps no session cookie), logged in by the form."""
    c = TestClient(create_app(settings))
    r = c.post(
        "/login", data={"username": username, "password": password, "next": "/gis"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/gis", r.text
    return c


def test_gis_sends_anonymous_visitors_to_the_login_page_and_back(client):
    r = client.get("/gis", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/gis&lang=ja"
    login = client.get(r.headers["location"])
    assert login.status_code == 200 and 'name="next" value="/gis"' in login.text
    r = client.get("/gis?lang=en", follow_redirects=False)  # back to the English page afterwards
    assert r.headers["location"] == "/login?next=%2Fgis%3Flang%3Den&lang=en"
    login = client.get(r.headers["location"])
    assert 'name="next" value="/gis?lang=en"' in login.text and '<html lang="en">' in login.text


def test_gis_serves_the_viewer_to_staff_japanese_first(settings, seeded):
    with logged_in(settings, "pages-staff", seeded.passwords["staff"]) as c:
        r = c.get("/gis")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert '<html lang="ja">' in r.text and "<title>統合型GIS</title>" in r.text
        assert 'id="gisapp-status"' in r.text and 'aria-live="polite"' in r.text
        # The audit notice is in the page (hidden until a restricted layer is on), Japanese first.
        notice = re.search(r'<p id="gisapp-restricted-notice"[^>]*>(.*?)</p>', r.text, re.S)
        assert notice and " hidden" in notice.group(0)
        assert notice.group(1).index("限定公開：閲覧は記録されます") < notice.group(1).index(
            "every view is audited"
        )
        assert "/static/js/gis_map.js?v=" in r.text
        en = c.get("/gis?lang=en")
        assert '<html lang="en">' in en.text and "<title>Integrated GIS</title>" in en.text
        assert c.get("/gis?lang=xx").text == r.text  # unknown language: Japanese


def test_gis_is_refused_to_an_account_without_a_staff_role(settings, no_role_password):
    with logged_in(settings, "pages-norole", no_role_password) as c:
        r = c.get("/gis")
        assert r.status_code == 403 and "権限がありません" in r.text and "Forbidden" in r.text


def test_gis_does_not_exist_on_the_public_instance(public_client):
    assert public_client.get("/gis", follow_redirects=False).status_code == 404
    assert public_client.get("/gis?lang=en", follow_redirects=False).status_code == 404


@pytest.mark.parametrize("page", sorted(BUILDERS))
@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("offline", [False, True])
def test_pages_refer_to_nothing_outside_the_app_but_gsi(page, lang, offline):
    # The page with its own script (folium's, moved out of the page for the CSP).
    script = pages.page_asset(f"{page}-{lang}{'-offline' if offline else ''}.js").text
    html = BUILDERS[page](lang, offline) + script
    assert pages.unexpected_external_urls(html) == []
    assert f'<html lang="{lang}">' in html
    if offline:  # no tile layer at all: nothing leaves the network
        assert pages.external_urls(html) == []
        assert "gisapp-basemap-offline" in html
    else:
        assert pages.GSI_TILE_URL in pages.external_urls(html)


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("offline", [False, True])
def test_the_hq_page_refers_to_nothing_outside_the_app(lang, offline):
    """The HQ map is a template with ES modules (no folium): the tiles' URL lives in lib/map.js, which
    asks for no tile at all on an offline instance."""
    html = hq_page(lang, offline).html
    assert pages.external_urls(html) == []
    assert f'<html lang="{lang}">' in html
    assert ("gisapp-basemap-offline" in html) == offline


def test_the_no_cdn_check_catches_an_external_script():
    html = pages.citizen_map_html("ja") + '<script src="https://cdn.example.org/x.js"></script>'
    assert pages.unexpected_external_urls(html) == ["https://cdn.example.org/x.js"]
    with pytest.raises(pages.ExternalAssetError):
        pages.assert_self_hosted(html)


def test_every_asset_a_page_links_is_served_by_the_app(settings, seeded, public_client):
    with logged_in(settings, "pages-hq", seeded.passwords["hq"]) as c:
        for path, http in (("/", public_client), ("/hq", c), ("/gis", c), ("/hq/replay", c)):
            html = http.get(path).text
            assets = re.findall(r'(?:src|href)="(/(?:static|pages)/[^"]+)"', html)
            assert any("map_widgets.js" in a or "/static/js/pages/" in a for a in assets), path
            for asset in assets:
                assert http.get(asset).status_code == 200, asset
