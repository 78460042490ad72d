"""The map pages over HTTP: the staff GIS viewer at /gis (login, roles, languages, internal instance
only) and the no-CDN rule for every page, language and offline setting."""

from __future__ import annotations

import re
import secrets

import pytest
from fastapi.testclient import TestClient

from frontend import no_cdn
from frontend.catalogue import text
from gisapp import auth
from gisapp.app import create_app
from gisapp.db import set_roles
from gisapp.pages_gis import gis_page
from gisapp.pages_hq import hq_page
from gisapp.pages_kiosk import kiosk_page
from gisapp.pages_replay import replay_page
from tests.fixtures_data import seed

# The staff map pages on the Jinja base layout: (lang, offline=, query=) -> RenderedPage.
TEMPLATE_PAGES = {"hq": hq_page, "gis": gis_page, "replay": replay_page, "kiosk": kiosk_page}


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
        assert '<script type="module" src="/static/js/pages/gis.js?v=' in r.text
        assert "script-src" in r.headers["content-security-policy"]
        en = c.get("/gis?lang=en")
        assert '<html lang="en">' in en.text and "<title>Integrated GIS</title>" in en.text
        assert c.get("/gis?lang=xx").text == r.text  # unknown language: Japanese


def test_gis_is_refused_to_an_account_without_a_staff_role(settings, no_role_password):
    with logged_in(settings, "pages-norole", no_role_password) as c:
        r = c.get("/gis")
        # The one 403 page, in both languages (Japanese first on a Japanese page).
        assert r.status_code == 403 and "権限がありません" in r.text
        assert r.text.index(text("ja", "forbidden.body")) < r.text.index(text("en", "forbidden.body"))


def test_gis_does_not_exist_on_the_public_instance(public_client):
    assert public_client.get("/gis", follow_redirects=False).status_code == 404
    assert public_client.get("/gis?lang=en", follow_redirects=False).status_code == 404


@pytest.mark.parametrize("page", sorted(TEMPLATE_PAGES))
@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("offline", [False, True])
def test_template_pages_refer_to_nothing_outside_the_app(page, lang, offline):
    # The basemap tiles are asked for by lib/map.js (none at all on an offline instance), never
    # written into the page.
    rendered = TEMPLATE_PAGES[page](lang, offline=offline, query={})
    assert no_cdn.external_urls(rendered.html) == []
    assert f'<html lang="{lang}">' in rendered.html
    assert ("gisapp-basemap-offline" in rendered.html) == offline
    assert " style=" not in rendered.html and rendered.html.count("<script>") == 0  # CSP: no inline


def test_the_no_cdn_check_catches_an_external_script():
    html = hq_page("ja").html + '<script src="https://cdn.example.org/x.js"></script>'
    assert no_cdn.unexpected_external_urls(html) == ["https://cdn.example.org/x.js"]
    with pytest.raises(no_cdn.ExternalAssetError):
        no_cdn.assert_self_hosted(html)
    assert no_cdn.unexpected_external_urls(hq_page("ja").html) == []


def test_every_asset_a_page_links_is_served_by_the_app(settings, seeded, public_client):
    with logged_in(settings, "pages-hq", seeded.passwords["hq"]) as c:
        for path, http in (("/", public_client), ("/hq", c), ("/gis", c), ("/hq/replay", c)):
            html = http.get(path).text
            assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
            assets += re.findall(r'"(/static/js/[^"]+)"', html)  # the import map's modules
            # the citizen page loads Leaflet only when its map is opened
            wanted = "pages/citizen.js" if path == "/" else "leaflet/leaflet.js"
            assert any(wanted in a for a in assets), path
            for asset in assets:
                assert http.get(asset).status_code == 200, asset
