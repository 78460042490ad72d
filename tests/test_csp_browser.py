"""Every page in headless Chromium under its Content-Security-Policy: not one violation (no inline
script or style, no eval, nothing from elsewhere but the GSI tiles) and no script error, with the demo
data loaded so the pages draw what they draw in use."""

from __future__ import annotations

import json
import urllib.request
from urllib.parse import urlsplit

import pytest

from gisapp import demo
from gisapp.app import create_app
from tests.fixtures_data import seed
from tests.test_pages_browser import ARGS, CHROMIUM, Server, browser  # noqa: F401 - fixture

pytestmark = pytest.mark.browser

# Recorded before any page script runs; Playwright's init script is not subject to the page's CSP.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push([e.violatedDirective, e.blockedURI, e.sourceFile, e.lineNumber, e.sample].join(' | '));
});
"""


@pytest.fixture(scope="module")
def servers(settings, app_engine, tmp_path_factory):
    demo.load(app_engine, tmp_path_factory.mktemp("demo"))
    apps = {
        "internal": create_app(settings),
        "public": create_app(settings, public=True),
        "offline": create_app(settings.model_copy(update={"offline": True})),
    }
    with Server(apps["internal"]) as a, Server(apps["public"]) as b, Server(apps["offline"]) as c:
        yield {"internal": a, "public": b, "offline": c}


@pytest.fixture(scope="module")
def seeded(app_engine):
    return seed(app_engine, "cspb")


class Watched:
    """A page that records CSP violations, console errors and script errors; only localhost is
    reachable (the GSI tiles are answered with an empty 204, as if cached)."""

    def __init__(self, browser):  # noqa: F811 - the fixture's value
        self.context = browser.new_context()
        self.context.add_init_script(RECORD_VIOLATIONS)
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("pageerror", lambda e: self.problems.append(f"pageerror: {e}"))
        self.page.on("console", self._console)

    def _route(self, route):
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            route.fulfill(status=204)

    def _console(self, message):
        text = message.text
        if message.type == "error" and ("Content Security Policy" in text or "Refused to" in text):
            self.problems.append(f"console: {text}")

    def open(self, url: str, settle_ms: int = 1500) -> list[str]:
        self.problems.clear()
        response = self.page.goto(url, wait_until="load")
        assert response is not None and response.status == 200, (url, response and response.status)
        assert response.headers.get("content-security-policy"), url
        self.page.wait_for_timeout(settle_ms)  # let the page's scripts fetch and draw
        found = self.page.evaluate("window.__csp")
        return [*found, *self.problems]

    def login(self, base: str, user: str, password: str) -> None:
        self.page.goto(base + "/login?next=/gis")
        self.page.fill("#username", user)
        self.page.fill("#password", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_url("**/gis")

    def close(self) -> None:
        self.context.close()


def _token(base: str) -> str:
    body = {
        "representative_name": "CSP 確認",
        "phone": "0463-00-0000",
        "address": "伊勢原市",
        "members": [{"name": "CSP 確認", "birth_year": 1960, "needs_care": False}],
        "pets": 0,
    }
    req = urllib.request.Request(
        base + "/api/register", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())["token"]


def _public_slug(base: str) -> str:
    with urllib.request.urlopen(base + "/api/public/layers", timeout=10) as r:
        return json.loads(r.read())[0]["slug"]


def test_no_page_violates_its_csp(servers, browser, seeded):  # noqa: F811 - fixture
    public, internal, offline = (servers[k].url for k in ("public", "internal", "offline"))
    token = _token(public)
    slug = _public_slug(public)
    citizen_pages = [
        "/",
        "/?lang=en",
        "/register",
        f"/register/{token}",
        f"/evacuation/{token}",
        "/report",
        "/ogc?f=html",
        "/ogc/collections?f=html",
        f"/ogc/collections/{slug}?f=html",
        f"/ogc/collections/{slug}/items?f=html&limit=20",
        "/ogc/api?f=html",
    ]
    staff_pages = [
        "/hq",
        "/gis",
        "/hq/replay",
        "/hq/reports",
        "/kiosk",
        "/people/roster",
        "/docs",
        "/ogc/api?f=html",
    ]
    w = Watched(browser)
    try:
        violations = {}
        for base, paths in ((public, citizen_pages), (offline, ["/", "/login"])):
            for path in paths:
                violations[base + path] = w.open(base + path)
        violations[internal + "/login"] = w.open(internal + "/login")
        w.login(internal, "cspb-admin", seeded.passwords["admin"])
        for path in staff_pages:
            violations[internal + path] = w.open(internal + path, settle_ms=2500 if path == "/docs" else 1500)
        # Swagger UI really drew the operations (its start-up script is an external file now).
        w.page.goto(internal + "/docs")
        w.page.wait_for_selector(".opblock", timeout=20_000)
        assert w.page.evaluate("window.__csp") == []
        # The detector works: an inline script put into the page is blocked and recorded.
        w.page.evaluate(
            "() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
            " document.body.appendChild(s); }"
        )
        w.page.wait_for_function("window.__csp.length > 0")
        assert w.page.evaluate("window.__ran") is None
        assert "script-src" in w.page.evaluate("window.__csp[0]")
    finally:
        w.close()
    assert {url: found for url, found in violations.items() if found} == {}
