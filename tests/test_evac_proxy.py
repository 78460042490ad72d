"""The evacuation information behind the proxy cache (deploy/nginx/): cached, but only to the end of the
second it was stored in, and an issuance is seen through the proxy at once; the push stream passes
through unbuffered. Debian's nginx in front of a real public instance; skipped without nginx (except in
CI), like tests/test_proxy.py."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx2 as httpx
import pytest

from bench._proxy import Nginx
from gisapp.app import create_app
from tests import evac_support as evac
from tests.support import wait_until
from tests.test_pages_browser import Server
from tests.test_proxy import _require_nginx

PATH = "/api/public/evacuation-info"


@pytest.fixture(scope="module")
def web(settings) -> Iterator[httpx.Client]:
    _require_nginx()
    app = create_app(settings, public=True)
    with (
        Server(app) as server,
        Nginx([server.port]) as nginx,
        httpx.Client(base_url=nginx.url, timeout=10) as c,
    ):
        wait_until(lambda: app.state.evac_watch.version is not None, 10)
        yield c


@pytest.fixture(autouse=True)
def _no_orders(owner_engine):
    evac.clear(owner_engine)
    yield
    evac.clear(owner_engine)


def _next_second() -> None:
    time.sleep(1.02 - time.time() % 1)


def test_cached_to_the_end_of_the_second_only(web):
    _next_second()
    first, second = web.get(PATH), web.get(PATH)
    assert first.status_code == second.status_code == 200
    assert second.headers["x-cache-status"] == "HIT"
    assert "x-accel-expires" not in second.headers  # for nginx only
    assert second.headers["cache-control"] == "public, max-age=1"
    assert second.headers["etag"] and second.headers["last-modified"]
    _next_second()
    later = web.get(PATH)
    assert later.headers["x-cache-status"] in ("EXPIRED", "MISS", "REVALIDATED")  # asked the app again
    again = web.get(PATH, headers={"If-None-Match": later.headers["etag"]})
    assert again.status_code == 304


def test_an_issuance_is_seen_through_the_proxy_and_a_pushed_version_is_a_new_key(web, owner_engine):
    before = web.get(PATH).json()
    order_id = evac.issue(owner_engine, 4, ["T-KAMI"])
    # what a page does on the push: ?v=N is a URL no cache has seen
    pushed = web.get(PATH, params={"v": before["version"] + 1})
    assert pushed.headers["x-cache-status"] == "MISS"
    assert order_id in [o["id"] for o in pushed.json()["orders"]]
    # and the plain URL, whatever the proxy held, within the second
    wait_until(lambda: order_id in [o["id"] for o in web.get(PATH).json()["orders"]], 3, interval=0.05)


def test_the_stream_passes_through_unbuffered(web, owner_engine):
    with web.stream("GET", PATH + "/stream") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert "x-cache-status" not in stream.headers or stream.headers["x-cache-status"] == "BYPASS"
        lines = stream.iter_lines()
        seen = []

        def next_version() -> int:
            for line in lines:
                if line.startswith("data:"):
                    return json.loads(line[5:])["version"]
            raise AssertionError("stream ended")

        seen.append(next_version())
        evac.issue(owner_engine, 3, ["T-SHIMO"])
        seen.append(next_version())  # arrives through nginx without waiting for a buffer to fill
        assert seen[1] == seen[0] + 1
