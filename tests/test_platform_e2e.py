"""End to end, as a newcomer runs it: `gisapp up --demo --simulate` starts PostGIS, Mosquitto, both
API instances, the ingest worker and the simulators; simulated radios publish over MQTT with their
own credentials; the HQ map in headless Chromium draws them, the citizen map draws a public layer,
with every non-localhost request blocked; `gisapp down` leaves no process behind."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from gisapp.localstack.procs import pid_alive, port_in_use
from tests.conftest import make_tmp_root, stack_env
from tests.support import wait_until

CHROMIUM = "/usr/bin/chromium"


def gisapp(env: dict, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gisapp.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def processes_under(path: Path) -> list[int]:
    """Every live process whose command line mentions the data directory (or was started from it)."""
    found = []
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if pid != os.getpid() and (str(path) in cmdline or str(path).encode() in environ) and pid_alive(pid):
            found.append(pid)
    return found


@pytest.fixture(scope="module")
def platform():
    root = make_tmp_root()
    env = stack_env(root / "data")
    up = gisapp(env, "up", "--demo", "--simulate")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield env, up.stdout
    finally:
        gisapp(env, "down")
        shutil.rmtree(root, ignore_errors=True)


def http_json(url: str, token: str | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def demo_login(env: dict, user: str = "hq") -> tuple[str, str]:
    creds = json.loads((Path(env["GISAPP_DATA_DIR"]) / "demo-users.json").read_text())
    return user, creds[user]


def api_token(env: dict) -> str:
    user, password = demo_login(env)
    req = urllib.request.Request(
        f"http://127.0.0.1:{env['GISAPP_HTTP_PORT']}/api/auth/login",
        data=json.dumps({"username": user, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())["access_token"]


def test_up_prints_working_urls(platform):
    env, out = platform
    for url in (
        f"http://127.0.0.1:{env['GISAPP_PUBLIC_HTTP_PORT']}/",
        f"http://127.0.0.1:{env['GISAPP_HTTP_PORT']}/hq",
        f"http://127.0.0.1:{env['GISAPP_HTTP_PORT']}/docs",
        f"http://127.0.0.1:{env['GISAPP_PUBLIC_HTTP_PORT']}/report",
        f"http://127.0.0.1:{env['GISAPP_HTTP_PORT']}/kiosk",  # staff: answers with the login page
    ):
        assert url in out
        with urllib.request.urlopen(url.replace("/hq", "/login"), timeout=10) as r:
            assert r.status == 200
    for port in (env["GISAPP_HTTP_PORT"], env["GISAPP_PUBLIC_HTTP_PORT"]):
        status, health = http_json(f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and health["status"] == "ok", health


def test_up_opens_on_the_demo_disaster_and_prints_for_a_person(platform):
    """`make demo` opens on a disaster in progress (issue 12): the output says what to look at and
    carries no log lines, and the HQ's API has the demo disaster open with incidents in every status."""
    env, out = platform
    assert "見どころ / What to look at" in out and "【デモ】" in out
    assert not [line for line in out.splitlines() if line.lstrip().startswith("{")], out
    token = api_token(env)
    base = f"http://127.0.0.1:{env['GISAPP_HTTP_PORT']}"
    status, disasters = http_json(f"{base}/api/disasters", token)
    assert status == 200, disasters
    (demo,) = [d for d in disasters if d["name"].startswith("【デモ】") and d["closed_at"] is None]
    status, counts = http_json(f"{base}/api/disasters/{demo['id']}/counts", token)
    assert status == 200 and all(counts["total"][s] >= 1 for s in ("unhandled", "in_progress", "done"))


def test_servers_run_as_their_system_users_when_started_as_root(platform):
    env, _ = platform
    if os.geteuid() != 0:
        pytest.skip("only as root")
    import pwd

    data = Path(env["GISAPP_DATA_DIR"])
    for name, pidfile in (
        ("postgres", data / "pg" / "postmaster.pid"),
        ("mosquitto", data / "run" / "mosquitto.pid"),
    ):
        pid = int(pidfile.read_text().split()[0])
        uid = int(
            next(
                x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("Uid:")
            ).split()[1]
        )
        assert pwd.getpwuid(uid).pw_name == name


def test_simulated_radios_reach_the_api_over_mqtt(platform):
    env, _ = platform
    token = api_token(env)
    url = f"http://127.0.0.1:{env['GISAPP_HTTP_PORT']}/api/radio-units"
    fc = wait_until(
        lambda: (lambda r: r[1] if len(r[1].get("features", [])) >= 40 else None)(http_json(url, token)), 60
    )
    lons = [f["geometry"]["coordinates"][0] for f in fc["features"]]
    lats = [f["geometry"]["coordinates"][1] for f in fc["features"]]
    assert all(139.25 <= x <= 139.35 for x in lons) and all(35.35 <= y <= 35.43 for y in lats)


def test_simulated_gauges_are_stored_without_dead_letters(platform):
    """The gauge simulators' storm (four hours of 10-minute values, replayed fast) reaches the gauge
    state through the real broker and worker, and nothing they send is refused."""
    from sqlalchemy import text

    from gisapp.db import make_engine
    from gisapp.settings import Settings

    saved = dict(os.environ)
    os.environ.update(platform[0])
    try:
        engine = make_engine(Settings(_env_file=None).database_url)
    finally:
        os.environ.clear()
        os.environ.update(saved)

    def observed() -> int:
        with engine.connect() as conn:
            return conn.execute(
                text("SELECT count(DISTINCT device_id) FROM sensor.gauge_state WHERE as_of IS NOT NULL")
            ).scalar_one()

    try:
        wait_until(lambda: observed() >= 7, 60)  # 5 rain gauges + 2 water-level gauges
        with engine.connect() as conn:
            refused = conn.execute(
                text("SELECT count(*) FROM ingest.dead_letter WHERE topic LIKE 'gisapp/v1/gauge/%'")
            ).scalar_one()
            rain = conn.execute(text("SELECT max(rain_60min) FROM sensor.gauge_state")).scalar_one()
        assert refused == 0
        assert rain is not None and rain > 0
    finally:
        engine.dispose()


def test_public_instance_hides_internal_routes(platform):
    env, _ = platform
    base = f"http://127.0.0.1:{env['GISAPP_PUBLIC_HTTP_PORT']}"
    for path in ("/docs", "/api/radio-units", "/api/layers", "/hq"):
        assert http_json(base + path)[0] == 404, path
    status, layers = http_json(base + "/api/public/layers")
    assert status == 200 and "shelters" in {x["slug"] for x in layers}
    assert "people-needing-help" not in {x["slug"] for x in layers}


@pytest.mark.browser
def test_maps_draw_in_headless_chromium_with_only_localhost(platform):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: scripts/install-debs.sh installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright.sync_api import sync_playwright

    env, _ = platform
    blocked: list[str] = []
    errors: list[str] = []

    def only_localhost(route):
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            ctx = browser.new_context()
            ctx.route("**/*", only_localhost)
            page = ctx.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))

            # The citizen page on the public instance; its map draws a public layer (the layer list).
            page.goto(f"http://127.0.0.1:{env['GISAPP_PUBLIC_HTTP_PORT']}/")
            assert page.locator("html").get_attribute("lang") == "ja"
            toggle = page.locator("#citizen-map-toggle")
            toggle.wait_for()  # a desktop-sized page opens its map at once
            if toggle.get_attribute("aria-expanded") != "true":
                toggle.click()
            page.wait_for_selector("#citizen-layer-shelters", state="attached", timeout=20_000)
            page.locator("#citizen-layers summary").click()
            page.locator("#citizen-layer-shelters").check()
            wait_until(  # polled from here: a string predicate would be eval'd, which the page's CSP forbids
                lambda: (
                    page.evaluate(
                        "() => document.querySelectorAll('#citizen-map .leaflet-overlay-pane path').length"
                    )
                    >= 30
                ),
                20,
            )
            page.wait_for_selector("#gisapp-basemap-notice:not([hidden])", timeout=20_000)  # tiles blocked

            # HQ map: log in through the form, then the simulated units are drawn and move live.
            user, password = demo_login(env)
            page.goto(f"http://127.0.0.1:{env['GISAPP_HTTP_PORT']}/hq")
            page.fill("#username", user)
            page.fill("#password", password)
            page.click("button[type=submit]")
            page.wait_for_url("**/hq")
            page.wait_for_selector(".gisapp-unit-marker", state="attached", timeout=20_000)
            wait_until(lambda: page.locator(".gisapp-unit-marker").count() >= 40, 30)
            # Rain and water-level gauges, with the levels their storm has reached.
            wait_until(lambda: page.locator(".gisapp-gauge").count() >= 7, 30)
            wait_until(lambda: page.locator(".gisapp-gauge[data-level*='注意']").count() >= 1, 60)
            seq0 = int(page.locator("#gisapp-status").get_attribute("data-last-seq") or 0)
            wait_until(
                lambda: int(page.locator("#gisapp-status").get_attribute("data-last-seq") or 0) > seq0, 30
            )  # live events over SSE, no polling
        finally:
            browser.close()
    assert errors == []
    assert blocked, "the page should have tried the online basemap (and been blocked)"
    assert all("cyberjapandata.gsi.go.jp" in u for u in blocked), blocked


def test_up_again_reuses_the_running_stack_and_data(platform):
    env, _ = platform
    data = Path(env["GISAPP_DATA_DIR"])
    before = {p.name: p.read_text() for p in (data / "run").glob("*.pid")}
    again = gisapp(env, "up", "--demo", "--simulate")
    assert again.returncode == 0, again.stderr
    after = {p.name: p.read_text() for p in (data / "run").glob("*.pid")}
    assert before == after  # nothing restarted, nothing duplicated
    token = api_token(env)  # demo passwords kept
    assert http_json(f"http://127.0.0.1:{env['GISAPP_HTTP_PORT']}/api/radio-units", token)[0] == 200


def test_down_leaves_no_process_behind(platform):
    env, _ = platform
    data = Path(env["GISAPP_DATA_DIR"])
    assert processes_under(data), "the platform should be running before down"
    down = gisapp(env, "down")
    assert down.returncode == 0, down.stderr
    assert processes_under(data) == []
    for key in ("GISAPP_PG_PORT", "GISAPP_MQTT_PORT", "GISAPP_HTTP_PORT", "GISAPP_PUBLIC_HTTP_PORT"):
        assert not port_in_use("127.0.0.1", int(env[key])), key


def test_a_taken_port_gets_a_clear_message():
    root = make_tmp_root()
    env = stack_env(root / "data")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        env["GISAPP_PG_PORT"] = str(squatter.getsockname()[1])
        r = gisapp(env, "up", "--no-serve")
    shutil.rmtree(root, ignore_errors=True)
    assert r.returncode == 1
    assert "GISAPP_PG_PORT" in r.stderr and "使用中" in r.stderr and "in use" in r.stderr


def test_a_missing_debian_package_gets_a_clear_message(tmp_path):
    env = stack_env(tmp_path / "data")
    env["GISAPP_PG_BINDIR"] = str(tmp_path / "no-postgres-here")
    r = gisapp(env, "up", "--no-serve")
    assert r.returncode == 1
    assert "apt-get install" in r.stderr and "postgresql-15" in r.stderr and "パッケージ" in r.stderr
