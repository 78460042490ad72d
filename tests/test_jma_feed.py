"""The JMA PULL Atom feed poller against a local HTTP server started here (JMA itself is not
reachable from tests, and is not ours): conditional GETs, only new entries fetched, errors and
staleness recorded and shown in /healthz and GET /api/jma/status, `gisapp jma poll --once`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from gisapp import jma_feed
from gisapp.app import create_app
from gisapp.ops import jma
from ingest import jmaxml_build as build
from tests.fixtures_data import seed
from tests.support import listen_events, wait_until

JST = timezone(timedelta(hours=9))
T0 = datetime(2026, 7, 1, 9, 0, tzinfo=JST)
OURS = ["1421400"]
QUAKE = b'<?xml version="1.0"?><Report xmlns="http://xml.kishou.go.jp/jmaxml1/"/>'


class FeedServer:
    """Serves /feed.xml (ETag and Last-Modified per version; 304 when the client's If-None-Match
    matches) and /data/<name>.xml; records every request's path and headers."""

    def __init__(self) -> None:
        self.entries: list[tuple] = []  # (title, path, updated[, office]), newest first
        self.files: dict[str, bytes] = {}
        self.version = 1
        self.fail_feed: int | None = None  # answer the feed with this status
        self.fail_paths: set[str] = set()  # answer these with 500 (once each)
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                server.requests.append((self.path, dict(self.headers.items())))
                if self.path == "/feed.xml":
                    server._feed(self)
                elif self.path in server.fail_paths:
                    server.fail_paths.discard(self.path)
                    self._send(500, b"boom")
                elif self.path in server.files:
                    self._send(200, server.files[self.path], "application/xml")
                else:
                    self._send(404, b"not found")

            def _send(self, status: int, body: bytes, ctype: str = "text/plain", headers=None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.url = self.base + "/feed.xml"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def _feed(self, h) -> None:
        if self.fail_feed:
            h._send(self.fail_feed, b"unavailable")
            return
        etag = f'"v{self.version}"'
        modified = format_datetime((T0 + timedelta(minutes=self.version)).astimezone(UTC), usegmt=True)
        if h.headers.get("If-None-Match") == etag:
            h._send(304, b"", headers={"ETag": etag, "Last-Modified": modified})
            return
        body = build.feed([(t, self.base + p, *rest) for t, p, *rest in self.entries], self_url=self.url)
        h._send(200, body, "application/atom+xml", {"ETag": etag, "Last-Modified": modified})

    def publish(self, title: str, name: str, data: bytes, at: datetime, office: str = build.OFFICE) -> None:
        path = f"/data/{name}"
        self.files[path] = data
        self.entries.insert(0, (title, path, at, office))
        self.version += 1

    def fetched(self, prefix: str = "/data/") -> list[str]:
        return [p for p, _ in self.requests if p.startswith(prefix)]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = FeedServer()
    yield s
    s.close()


@pytest.fixture
def clean(owner_engine):
    def wipe() -> None:
        with owner_engine.begin() as conn:
            for sql in (
                "DELETE FROM ops.jma_condition",
                "DELETE FROM ops.jma_telegram",
                "DELETE FROM ops.jma_feed",
                "DELETE FROM ops.hq_log WHERE kind = 'jma'",
            ):
                conn.execute(text(sql))

    wipe()
    yield
    wipe()


@pytest.fixture(scope="module")
def staff(app_engine):
    return seed(app_engine, "jmafeed")


def poll(engine, url, **kw) -> jma_feed.PollResult:
    return jma_feed.poll_once(engine, url, area_codes=OURS, stale_minutes=10, timeout=5, **kw)


def kinds_in_force(engine) -> set[str]:
    with engine.connect() as conn:
        return {c.kind_name for c in jma.in_force(conn)}


def test_poll_fetches_new_entries_once_and_then_gets_304(app_engine, clean, server):
    server.publish("土砂災害警戒情報", "vxww50-1.xml", build.landslide(report_at=T0), T0)
    server.publish("震度速報", "vxse51.xml", QUAKE, T0 + timedelta(minutes=1))  # not a kind we read
    server.publish(
        "気象警報・注意報（Ｈ２７）", "vpww54-1.xml", build.warnings(report_at=T0 + timedelta(minutes=2)), T0
    )
    first = poll(app_engine, server.url)
    assert first.ok and not first.not_modified
    assert sorted(first.outcomes.values()) == [jma.APPLIED, jma.APPLIED]
    assert sorted(server.fetched()) == ["/data/vpww54-1.xml", "/data/vxww50-1.xml"]
    assert kinds_in_force(app_engine) == {"土砂災害警戒情報", "大雨警報", "洪水警報"}

    second = poll(app_engine, server.url)
    path, headers = server.requests[-1]
    assert path == "/feed.xml" and headers["If-None-Match"] == '"v4"'
    assert headers["If-Modified-Since"] == format_datetime(
        (T0 + timedelta(minutes=4)).astimezone(UTC), usegmt=True
    )
    assert second.ok and second.not_modified and len(server.fetched()) == 2

    server.publish(
        "土砂災害警戒情報", "vxww50-2.xml", build.landslide(info_type="取消", serial=2, report_at=T0), T0
    )
    third = poll(app_engine, server.url)
    assert third.outcomes == {server.base + "/data/vxww50-2.xml": jma.APPLIED}
    assert server.fetched()[2:] == ["/data/vxww50-2.xml"]  # only the new entry
    assert kinds_in_force(app_engine) == {"大雨警報", "洪水警報"}
    with app_engine.connect() as conn:
        row = conn.execute(text("SELECT ok_at, error, entries_seen FROM ops.jma_feed")).one()
        sources = conn.execute(text("SELECT source FROM ops.jma_telegram ORDER BY id")).scalars().all()
    assert row.ok_at is not None and row.error is None and row.entries_seen == 3
    assert sources[0] == f"feed:{server.url}#{server.base}/data/vxww50-1.xml"


def test_only_the_configured_offices_entries_are_fetched(app_engine, clean, server):
    server.publish(
        "気象警報・注意報（Ｈ２７）", "vpww54-tokyo.xml", build.warnings(report_at=T0), T0, "気象庁本庁"
    )
    server.publish("土砂災害警戒情報", "vxww50-1.xml", build.landslide(report_at=T0), T0)
    result = poll(app_engine, server.url, offices=["横浜地方気象台"])
    assert server.fetched() == ["/data/vxww50-1.xml"] and list(result.outcomes.values()) == [jma.APPLIED]


def test_a_telegram_that_cannot_be_fetched_is_retried_at_the_next_poll(app_engine, clean, server):
    server.publish("土砂災害警戒情報", "vxww50-1.xml", build.landslide(report_at=T0), T0)
    server.fail_paths.add("/data/vxww50-1.xml")
    failed = poll(app_engine, server.url)
    assert not failed.ok and "1 telegram(s) could not be fetched" in failed.error
    assert kinds_in_force(app_engine) == set()
    retried = poll(app_engine, server.url)
    assert "If-None-Match" not in server.requests[-2][1]  # validators not kept: the feed is read again
    assert retried.ok and list(retried.outcomes.values()) == [jma.APPLIED]
    assert kinds_in_force(app_engine) == {"土砂災害警戒情報"}


def test_links_to_other_hosts_and_oversized_answers_are_refused(app_engine, clean, server):
    body = build.feed([("土砂災害警戒情報", "http://192.0.2.1/x.xml", T0)], self_url=server.url)
    server.files["/elsewhere.xml"] = body
    result = poll(app_engine, server.base + "/elsewhere.xml")
    assert result.outcomes == {"http://192.0.2.1/x.xml": "invalid: link to another host"}
    with pytest.raises(jma_feed.FeedError, match="too large"):
        jma_feed.fetch(server.base + "/elsewhere.xml", max_bytes=100)
    with pytest.raises(jma_feed.FeedError, match="http"):
        jma_feed.fetch("file:///etc/passwd", max_bytes=100)


def test_feed_errors_and_staleness_show_in_healthz_and_status(
    settings, app_engine, owner_engine, clean, server, staff
):
    app = create_app(settings.model_copy(update={"jma_feed_url": server.url}))
    app.state.health.ttl = 0  # read the state afresh at each request
    with TestClient(app) as client:
        assert client.get("/api/jma/status").status_code == 401
        headers = staff.bearer(client, "staff")
        never = client.get("/api/jma/status", headers=headers).json()["feeds"][0]
        assert never["url"] == server.url and never["stale"] is True and never["ok_at"] is None

        server.fail_feed = 503
        with listen_events(settings) as events:
            result = poll(app_engine, server.url)
            event = events.wait_for(lambda e: e.get("type") == "jma_feed")
        assert not result.ok and "HTTP 503" in result.error
        assert event["url"] == server.url and event["ok"] is False and "HTTP 503" in event["error"]
        health = client.get("/healthz").json()
        assert health["status"] == "attention" and health["jma"]["ok"] is False
        assert "HTTP 503" in health["jma"]["detail"] and health["jma"]["feeds"][0]["error"]
        status = client.get("/api/jma/status", headers=headers)
        assert status.headers["cache-control"] == "no-store"
        assert "HTTP 503" in status.json()["feeds"][0]["error"]

        server.fail_feed = None
        with listen_events(settings) as events:
            assert poll(app_engine, server.url).ok
            recovered = events.wait_for(lambda e: e.get("type") == "jma_feed")
        assert recovered["ok"] is True and recovered["stale"] is False
        health = client.get("/healthz").json()
        assert health["jma"]["ok"] is True and health["jma"]["feeds"][0]["stale"] is False

        # No successful poll for longer than GISAPP_JMA_STALE_MINUTES (10): stale.
        with owner_engine.begin() as conn:
            conn.execute(text("UPDATE ops.jma_feed SET ok_at = now() - interval '11 minutes'"))
        health = client.get("/healthz").json()
        assert health["jma"]["ok"] is False and "STALE" in health["jma"]["detail"]
        body = client.get("/api/jma/status", headers=headers).json()
        assert (
            body["feeds"][0]["stale"] is True and body["stale_minutes"] == 10 and body["area_codes"] == OURS
        )


def test_status_lists_the_conditions_in_force(client, app_engine, clean, staff):
    jma.store(app_engine, build.landslide(report_at=T0), source="test", area_codes=OURS)
    body = client.get("/api/jma/status", headers=staff.bearer(client, "staff")).json()
    assert body["feeds"] == []  # none configured on this app
    (c,) = body["conditions"]
    assert (c["area_code"], c["kind_name"], c["alert_level"], c["hazard"]) == (
        "1421400",
        "土砂災害警戒情報",
        4,
        "landslide",
    )
    assert body["telegrams"][0]["title"] == "神奈川県土砂災害警戒情報"
    health = client.get("/healthz").json()
    assert health["jma"]["ok"] is True and "no feed configured" in health["jma"]["detail"]


def test_cli_poll_once(settings, app_engine, clean, server):
    server.publish("土砂災害警戒情報", "vxww50-1.xml", build.landslide(report_at=T0), T0)
    env = {**os.environ, "LOG_FORMAT": "text", "GISAPP_JMA_AREA_CODES": "1421400"}
    run = [sys.executable, "-m", "gisapp.cli", "jma", "poll", "--once", "--url", server.url]
    r = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"{server.url}: ok" in r.stdout and "vxww50-1.xml: applied" in r.stdout
    server.fail_feed = 500
    r = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "HTTP 500" in r.stdout


def test_the_poller_process_polls_until_sigterm(settings, app_engine, clean, server):
    """`gisapp jma poll` as `gisapp up` starts it (GISAPP_JMA_FEED_URL): a telegram published while it
    runs is stored at its next poll; SIGTERM stops it between polls."""
    env = {
        **os.environ,
        "LOG_FORMAT": "text",
        "GISAPP_JMA_FEED_URL": server.url,
        "GISAPP_JMA_AREA_CODES": "1421400",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gisapp.cli", "jma", "poll", "--interval", "10"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(lambda: any(p == "/feed.xml" for p, _ in server.requests), 30)
        server.publish("土砂災害警戒情報", "vxww50-1.xml", build.landslide(report_at=T0), T0)
        wait_until(lambda: kinds_in_force(app_engine) == {"土砂災害警戒情報"}, 30)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_settings_refuse_a_staleness_shorter_than_the_poll_interval():
    from pydantic import ValidationError

    from gisapp.settings import Settings

    s = Settings(
        _env_file=None,
        GISAPP_JMA_FEED_URL="http://a/f.xml, http://b/f.xml",
        GISAPP_JMA_OFFICES="横浜地方気象台",
    )
    assert s.jma_feed_urls == ["http://a/f.xml", "http://b/f.xml"] and s.jma_office_list == ["横浜地方気象台"]
    with pytest.raises(ValidationError, match="GISAPP_JMA_STALE_MINUTES"):
        Settings(_env_file=None, GISAPP_JMA_POLL_INTERVAL=900, GISAPP_JMA_STALE_MINUTES=10)
