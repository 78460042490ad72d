"""Every state-changing operation of the API, in one table: who may call it (the expected status per
principal) and how to make a fresh, valid call with a GET that proves the change is stored.

Used by tests/test_write_matrix.py (role × route matrix, read-your-writes under concurrency, a failed
commit never answered 2xx). A write route that is not in ``OPS`` fails the coverage test: a new route
must say here who may call it.

Principals: ``anon`` (no login), ``staff`` (staff of the owner department of the fixture layers),
``hq`` (hq_operator of that department), ``welfare`` (staff + welfare, same department), ``admin``,
``outsider`` (staff of another department).
"""

from __future__ import annotations

import functools
import io
import itertools
import json
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx
from PIL import Image
from sqlalchemy import Engine, text

from gisapp.db import transaction
from gisapp.ops import evac_info, evacuation
from ingest.store import DeadLetter, insert_dead_letters
from sensors import registry
from sensors.registry import DeviceKind, DeviceSpec
from tests.fixtures_data import Seed, _layer, seed

PRINCIPALS = ("anon", "staff", "hq", "welfare", "admin", "outsider")
SPOT = (139.3020, 35.3890)  # in the demo area, apart from the other modules' spots
_n = itertools.count(1)
_lock = threading.RLock()


def unique(prefix: str) -> str:
    with _lock:
        return f"{prefix}{next(_n)}-{secrets.token_hex(3)}"


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(PRINCIPALS, status)


def roles(ok: int, allowed: set[str], denied: int = 403) -> dict[str, int]:
    """``ok`` for the allowed principals, ``denied`` for the other signed-in ones, 401 anonymous."""
    return {p: 401 if p == "anon" else ok if p in allowed else denied for p in PRINCIPALS}


HQ_ROLES = {"staff", "hq", "welfare", "admin", "outsider"}  # HQUser: hq_operator or staff (+ admin)
STAFF_ROLES = {"staff", "hq", "welfare", "admin", "outsider"}  # StaffUser
LAYER_EDITORS = {"staff", "welfare", "admin"}  # owner department's staff, and admins


@dataclass
class Call:
    url: str
    method: str = "POST"
    json: Any = None
    data: dict | None = None
    files: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)
    check: Callable[[httpx.Client, httpx.Response], bool] | None = None  # is the write visible now?


@dataclass
class World:
    internal: str  # base URL of the live internal app
    engine: Engine
    seed: Seed
    tokens: dict[str, str]  # principal -> bearer token
    passwords: dict[str, str]
    disaster_id: int
    category: str
    road_segments: list[int]
    shelters: list[int]
    people_layer: str
    persons: list[int]  # consenting people of the fixture registry, one per plan written
    addresses: itertools.count = field(default_factory=lambda: itertools.count(1))

    def auth(self, who: str) -> dict[str, str]:
        return {} if who == "anon" else {"Authorization": f"Bearer {self.tokens[who]}"}

    def admin(self) -> dict[str, str]:
        return self.auth("admin")

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.internal, timeout=30)

    def sender(self) -> dict[str, str]:
        """A sender address of its own (the server trusts X-Forwarded-For from loopback here), so the
        citizen-report rate limit of one address is not what a test measures."""
        n = next(self.addresses)
        return {"X-Forwarded-For": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"}

    def take(self, pool: list[int]) -> int:
        with _lock:
            return pool.pop()


# ------------------------------------------------------------------------------------ the world
def build_world(internal: str, engine: Engine) -> World:
    s = seed(engine, "wr")
    other = seed(engine, "wro")
    passwords = {"staff": s.passwords["staff"], "hq": s.passwords["hq"], "welfare": s.passwords["welfare"]}
    passwords |= {"admin": s.passwords["admin"], "outsider": other.passwords["staff"]}
    users = {"staff": "wr-staff", "hq": "wr-hq", "welfare": "wr-welfare", "admin": "wr-admin"}
    users["outsider"] = "wro-staff"
    tokens = {}
    with httpx.Client(base_url=internal, timeout=30) as c:
        for who, name in users.items():
            r = c.post("/api/auth/login", json={"username": name, "password": passwords[who]})
            assert r.status_code == 200, r.text
            tokens[who] = r.json()["access_token"]
        hq = {"Authorization": f"Bearer {tokens['hq']}"}
        r = c.post("/api/disasters", json={"name": "書込み検査 豪雨（試験）"}, headers=hq)
        assert r.status_code == 201, r.text
        disaster_id = r.json()["id"]
        category = c.get("/api/reports/categories").json()[0]["code"]
    with transaction(engine, ["admin"]) as conn:
        roads = _layer(conn, "wr-roads", "internal", "road_segment", "LineString", s.dept_id)
        segments = [
            conn.execute(
                text(
                    """INSERT INTO gis.road_segment (layer_id, route_no, route_name, road_class, geom)
                       VALUES (:l, :no, '書込み検査線', 'その他',
                               ST_Multi(ST_SetSRID(ST_MakeLine(ST_MakePoint(:x, :y), ST_MakePoint(:x + 0.0005, :y)), 4326)))
                       RETURNING id"""
                ),
                {"l": roads, "no": f"WR-{i}", "x": SPOT[0] + 0.0006 * i, "y": SPOT[1] + 0.001},
            ).scalar_one()
            for i in range(300)
        ]
        shelters_layer = _layer(conn, "wr-shelters", "public", "shelter", "Point", s.dept_id)
        shelters = [
            conn.execute(
                text(
                    """INSERT INTO gis.shelter (layer_id, code, name, capacity, suits_flood, suits_landslide, geom)
                       VALUES (:l, :c, :n, 100, true, true, ST_SetSRID(ST_MakePoint(:x, :y), 4326))
                       ON CONFLICT (layer_id, code) DO UPDATE SET capacity = EXCLUDED.capacity RETURNING id"""
                ),
                {"l": shelters_layer, "c": f"WR-{i}", "n": f"書込み検査避難所{i}", "x": SPOT[0] + 0.0003 * i,
                 "y": SPOT[1] - 0.001},
            ).scalar_one()
            for i in range(300)
        ]  # fmt: skip
    r = import_people(internal, tokens["admin"], s.slugs["restricted"], [unique("WRP-") for _ in range(60)])
    assert r.status_code == 200, r.text
    with transaction(engine, ["admin"]) as conn:
        persons = list(
            conn.execute(
                text(
                    """SELECT p.id FROM restricted.person_needing_help p JOIN gis.layer l ON l.id = p.layer_id
                       WHERE l.slug = :s AND p.consent AND p.external_id LIKE 'WRP-%' ORDER BY p.id"""
                ),
                {"s": s.slugs["restricted"]},
            ).scalars()
        )
    return World(
        internal, engine, s, tokens, passwords, disaster_id, category, segments, shelters,
        s.slugs["restricted"], persons,
    )  # fmt: skip


def people_csv(ids: list[str]) -> bytes:
    header = "管理番号,氏名,ふりがな,生年,電話番号,住所,自治会,要配慮区分,同意,緯度,経度,避難支援者\n"
    rows = "".join(
        f"{i},書込 太郎（架空）,,1940,,,書込町1丁目,要介護4,有,{SPOT[1]:.4f},{SPOT[0]:.4f},\n" for i in ids
    )
    return (header + rows).encode()


def import_people(internal: str, token: str, layer: str, ids: list[str]) -> httpx.Response:
    with httpx.Client(base_url=internal, timeout=30) as c:
        return c.post(
            "/api/people/import",
            files={"file": ("people.csv", people_csv(ids), "text/csv")},
            data={"layer": layer},
            headers={"Authorization": f"Bearer {token}"},
        )


# ------------------------------------------------------------------------------ small factories
def _ok(r: httpx.Response) -> httpx.Response:
    assert r.status_code < 300, (r.request.method, str(r.request.url), r.status_code, r.text)
    return r


def household(w: World, name: str = "書込 花子") -> str:
    body = {
        "representative_name": name,
        "members": [{"name": name, "birth_year": 1950, "needs_care": False}],
    }
    with w.http() as c:
        return _ok(c.post("/api/register", json=body)).json()["token"]


def new_layer(w: World, *, public: bool = False) -> str:
    slug = unique("wr-l")
    with w.http() as c:
        _ok(
            c.post("/api/layers", json={"slug": slug, "title_ja": "書込", "title_en": "W"}, headers=w.admin())
        )
        if public:
            _ok(c.post(f"/api/layers/{slug}/publish", headers=w.admin()))
    # Owned by the fixture department (admin has none of its own).
    with transaction(w.engine, ["admin"]) as conn:
        conn.execute(text("UPDATE gis.layer SET owner_department_id = :d WHERE slug = :s"),
                     {"d": w.seed.dept_id, "s": slug})  # fmt: skip
    return slug


def new_incident(w: World) -> dict:
    body = {"category": "fallen_tree", "title": "書込み検査の倒木", "lon": SPOT[0], "lat": SPOT[1]}
    with w.http() as c:
        return _ok(
            c.post(f"/api/disasters/{w.disaster_id}/incidents", json=body, headers=w.auth("hq"))
        ).json()


def new_disaster(w: World) -> int:
    with w.http() as c:
        return _ok(c.post("/api/disasters", json={"name": unique("検査災害")}, headers=w.auth("hq"))).json()[
            "id"
        ]


def new_category(w: World) -> str:
    code = unique("wr_c").replace("-", "_")
    with w.http() as c:
        _ok(c.post("/api/incident-categories", json={"code": code, "name_ja": "検査", "name_en": "Test"},
                   headers=w.auth("hq")))  # fmt: skip
    return code


def new_team(w: World) -> str:
    team = unique("WRT-")
    with w.http() as c:
        _ok(c.put(f"/api/teams/{team}", json={"name": "検査班"}, headers=w.auth("hq")))
    return team


def new_assignment(w: World) -> int:
    incident, team = new_incident(w), new_team(w)
    with w.http() as c:
        r = c.post(
            f"/api/incidents/{incident['id']}/assignments", json={"team_id": team}, headers=w.auth("hq")
        )
        return _ok(r).json()["id"]


def new_report(w: World) -> int:
    marker = unique("検査通報")
    with w.http() as c:
        _ok(report_call(w, marker, c))
        items = _ok(c.get("/api/reports", params={"with_suggestions": "false"}, headers=w.auth("hq"))).json()
    return next(i["id"] for i in items if i["description"] == marker)


def report_call(w: World, marker: str, c: httpx.Client) -> httpx.Response:
    form = {"category": w.category, "lon": str(SPOT[0]), "lat": str(SPOT[1]), "description": marker}
    return c.post("/api/reports", data=form, headers=w.sender())


def open_shelter(w: World) -> int:
    shelter = w.take(w.shelters)
    with w.http() as c:
        url = f"/api/disasters/{w.disaster_id}/shelters/{shelter}/open"
        _ok(c.post(url, json={"responsible_staff": "検査班"}, headers=w.auth("hq")))
    return shelter


def closure(w: World) -> int:
    with w.http() as c:
        body = {"road_segment_id": w.take(w.road_segments), "reason": "冠水"}
        return _ok(c.post("/api/road-closures", json=body, headers=w.auth("hq"))).json()["id"]


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 10, 10)).save(out, "JPEG")
    return out.getvalue()


def feature_file(marker: str) -> bytes:
    return json.dumps({
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"name": marker},
                      "geometry": {"type": "Point", "coordinates": list(SPOT)}}],
    }).encode()  # fmt: skip


def shelter_state(c: httpx.Client, w: World, shelter: int) -> dict | None:
    found = c.get(f"/api/disasters/{w.disaster_id}/shelters", headers=w.admin()).json()["shelters"]
    return next((s for s in found if s["id"] == shelter), None)


# ------------------------------------------------------------------------------------ the calls
def c_report(w: World, who: str) -> Call:
    marker = unique("検査通報")
    form = {"category": w.category, "lon": str(SPOT[0]), "lat": str(SPOT[1]), "description": marker}

    def check(c, r):
        return c.get(f"/api/reports/status/{r.json()['token']}").status_code == 200

    return Call("/api/reports", data=form, headers={**w.auth(who), **w.sender()}, check=check)


def c_register(w: World, who: str) -> Call:
    body = {"representative_name": "登録 太郎", "members": [{"name": "登録 太郎", "birth_year": 1960}]}

    def check(c, r):
        return c.get(f"/api/register/{r.json()['token']}").status_code == 200

    return Call("/api/register", json=body, headers=w.auth(who), check=check)


def c_register_change(w: World, who: str) -> Call:
    token, name = household(w), unique("変更 ")
    body = {"representative_name": name, "members": [{"name": name, "birth_year": 1960}]}

    def check(c, r):
        return c.get(f"/api/register/{token}").json()["representative_name"] == name

    return Call(f"/api/register/{token}", "PUT", json=body, headers=w.auth(who), check=check)


def c_resident_status(w: World, who: str) -> Call:
    token = household(w)

    def check(c, r):
        with w.engine.connect() as conn:
            return evacuation.mine(conn, token)["status"] == "relatives"

    body = {"token": token, "status": "relatives"}
    return Call("/api/public/evacuation-status", json=body, headers=w.auth(who), check=check)


def c_staff_status(w: World, who: str) -> Call:
    token = household(w)

    def check(c, r):
        with w.engine.connect() as conn:
            return evacuation.mine(conn, token)["status"] == "car"

    return Call(
        "/api/evacuation-status", json={"token": token, "status": "car"}, headers=w.auth(who), check=check
    )


def c_import(w: World, who: str) -> Call:
    slug, marker = new_layer(w), unique("取込")

    def check(c, r):
        found = c.get(f"/api/layers/{slug}/features", headers=w.admin()).json()["features"]
        return any(f["properties"].get("name") == marker for f in found)

    files = {"file": ("points.geojson", feature_file(marker), "application/geo+json")}
    return Call(f"/api/layers/{slug}/import", files=files, headers=w.auth(who), check=check)


def c_login(w: World, who: str) -> Call:
    def check(c, r):
        token = r.json()["access_token"]
        return c.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    body = {"username": "wr-staff", "password": w.passwords["staff"]}
    return Call("/api/auth/login", json=body, headers=w.auth(who), check=check)


def c_logout(w: World, who: str) -> Call:
    if who == "anon":
        return Call("/api/auth/logout")
    name = {"outsider": "wro-staff"}.get(who, f"wr-{who}")
    with w.http() as c:
        token = _ok(c.post("/api/auth/login", json={"username": name, "password": w.passwords[who]})).json()[
            "access_token"
        ]
    bearer = {"Authorization": f"Bearer {token}"}

    def check(c, r):
        return c.get("/api/me", headers=bearer).status_code == 401

    return Call("/api/auth/logout", headers=bearer, check=check)


def c_layer_create(w: World, who: str) -> Call:
    slug = unique("wr-n")

    def check(c, r):
        return c.get(f"/api/layers/{slug}/features", headers=w.admin()).status_code == 200

    body = {"slug": slug, "title_ja": "作成", "title_en": "Created"}
    return Call("/api/layers", json=body, headers=w.auth(who), check=check)


def _layer_listed(c: httpx.Client, w: World, slug: str) -> dict | None:
    return next((x for x in c.get("/api/layers", headers=w.admin()).json() if x["slug"] == slug), None)


def c_layer_edit(w: World, who: str) -> Call:
    slug, title = new_layer(w), unique("改題")

    def check(c, r):
        return (_layer_listed(c, w, slug) or {}).get("title_ja") == title

    return Call(f"/api/layers/{slug}", "PATCH", json={"title_ja": title}, headers=w.auth(who), check=check)


def c_layer_delete(w: World, who: str) -> Call:
    slug = new_layer(w)

    def check(c, r):
        return _layer_listed(c, w, slug) is None

    return Call(f"/api/layers/{slug}", "DELETE", headers=w.auth(who), check=check)


def c_publish(w: World, who: str) -> Call:
    slug = new_layer(w)

    def check(c, r):
        return any(x["slug"] == slug for x in c.get("/api/public/layers").json())

    return Call(f"/api/layers/{slug}/publish", headers=w.auth(who), check=check)


def c_withdraw(w: World, who: str) -> Call:
    slug = new_layer(w, public=True)

    def check(c, r):
        return not any(x["slug"] == slug for x in c.get("/api/public/layers").json())

    return Call(f"/api/layers/{slug}/withdraw", headers=w.auth(who), check=check)


@functools.cache
def raster_file() -> bytes:
    """A small georeferenced GeoTIFF (64×64 RGB, EPSG:6677) near SPOT."""
    import numpy as np
    from rasterio.io import MemoryFile
    from rasterio.transform import from_origin

    with MemoryFile() as mem:
        with mem.open(driver="GTiff", width=64, height=64, count=3, dtype="uint8", crs="EPSG:6677",
                      transform=from_origin(-29800.0, -62400.0, 2.0, 2.0)) as dst:  # fmt: skip
            dst.write(np.full((3, 64, 64), 128, dtype="uint8"))
        return mem.read()


def _raster_call(w: World, who: str, slug: str) -> Call:
    files = {"file": ("photo.tif", raster_file(), "image/tiff")}
    return Call("/api/rasters", data={"slug": slug, "title_ja": "写真"}, files=files, headers=w.auth(who))


def new_raster(w: World, *, public: bool = False) -> str:
    slug = unique("wr-r")
    call = _raster_call(w, "admin", slug)
    with w.http() as c:
        _ok(c.post(call.url, data=call.data, files=call.files, headers=call.headers))
        if public:
            _ok(c.post(f"/api/rasters/{slug}/publish", headers=w.admin()))
    return slug


def _raster_listed(c: httpx.Client, w: World, slug: str) -> dict | None:
    return next((x for x in c.get("/api/rasters", headers=w.admin()).json() if x["slug"] == slug), None)


def c_raster_upload(w: World, who: str) -> Call:
    slug = unique("wr-r")
    call = _raster_call(w, who, slug)
    call.check = lambda c, r: _raster_listed(c, w, slug) is not None
    return call


def c_raster_publish(w: World, who: str) -> Call:
    slug = new_raster(w)

    def check(c, r):
        return any(x["slug"] == slug for x in c.get("/api/public/layers").json())

    return Call(f"/api/rasters/{slug}/publish", headers=w.auth(who), check=check)


def c_raster_withdraw(w: World, who: str) -> Call:
    slug = new_raster(w, public=True)

    def check(c, r):
        return (_raster_listed(c, w, slug) or {}).get("visibility") == "internal"

    return Call(f"/api/rasters/{slug}/withdraw", headers=w.auth(who), check=check)


def c_raster_delete(w: World, who: str) -> Call:
    slug = new_raster(w)
    return Call(f"/api/rasters/{slug}", "DELETE", headers=w.auth(who),
                check=lambda c, r: _raster_listed(c, w, slug) is None)  # fmt: skip


def _closure(c: httpx.Client, w: World, closure_id: int) -> dict | None:
    found = c.get("/api/road-closures", params={"active_only": "false"}, headers=w.admin()).json()
    return next((x for x in found if x["id"] == closure_id), None)


def c_close_road(w: World, who: str) -> Call:
    def check(c, r):
        return (_closure(c, w, r.json()["id"]) or {}).get("active") is True

    body = {"road_segment_id": w.take(w.road_segments), "reason": "土砂崩れ"}
    return Call("/api/road-closures", json=body, headers=w.auth(who), check=check)


def c_reopen_road(w: World, who: str) -> Call:
    closure_id = closure(w)

    def check(c, r):
        return (_closure(c, w, closure_id) or {}).get("active") is False

    return Call(f"/api/road-closures/{closure_id}/reopen", headers=w.auth(who), check=check)


def _disaster(c: httpx.Client, w: World, disaster_id: int) -> dict | None:
    return next(
        (d for d in c.get("/api/disasters", headers=w.admin()).json() if d["id"] == disaster_id), None
    )


def c_disaster_open(w: World, who: str) -> Call:
    def check(c, r):
        return _disaster(c, w, r.json()["id"]) is not None

    return Call("/api/disasters", json={"name": unique("開設")}, headers=w.auth(who), check=check)


def c_disaster_close(w: World, who: str) -> Call:
    disaster_id = new_disaster(w)

    def check(c, r):
        return (_disaster(c, w, disaster_id) or {}).get("closed_at") is not None

    return Call(f"/api/disasters/{disaster_id}/close", headers=w.auth(who), check=check)


def _category(c: httpx.Client, w: World, code: str) -> dict | None:
    found = c.get("/api/incident-categories", headers=w.admin()).json()
    return next((x for x in found if x["code"] == code), None)


def c_category_add(w: World, who: str) -> Call:
    code = unique("wr_a").replace("-", "_")

    def check(c, r):
        return _category(c, w, code) is not None

    body = {"code": code, "name_ja": "追加", "name_en": "Added"}
    return Call("/api/incident-categories", json=body, headers=w.auth(who), check=check)


def c_category_change(w: World, who: str) -> Call:
    code, name = new_category(w), unique("改称")

    def check(c, r):
        return (_category(c, w, code) or {}).get("name_ja") == name

    body = {"name_ja": name}
    return Call(f"/api/incident-categories/{code}", "PATCH", json=body, headers=w.auth(who), check=check)


def c_incident_create(w: World, who: str) -> Call:
    title = unique("検査事案")

    def check(c, r):
        return c.get(f"/api/incidents/{r.json()['id']}", headers=w.admin()).json()["title"] == title

    body = {"category": "fallen_tree", "title": title, "lon": SPOT[0], "lat": SPOT[1]}
    return Call(f"/api/disasters/{w.disaster_id}/incidents", json=body, headers=w.auth(who), check=check)


def c_incident_patch(w: World, who: str) -> Call:
    incident, title = new_incident(w), unique("改題事案")

    def check(c, r):
        return c.get(f"/api/incidents/{incident['id']}", headers=w.admin()).json()["title"] == title

    headers = {**w.auth(who), "If-Match": f'"{incident["version"]}"'}
    return Call(
        f"/api/incidents/{incident['id']}", "PATCH", json={"title": title}, headers=headers, check=check
    )


def c_incident_photo(w: World, who: str) -> Call:
    incident = new_incident(w)

    def check(c, r):
        return len(c.get(f"/api/incidents/{incident['id']}", headers=w.admin()).json()["photos"]) == 1

    files = {"photo": ("p.jpg", jpeg(), "image/jpeg")}
    return Call(f"/api/incidents/{incident['id']}/photos", files=files, headers=w.auth(who), check=check)


def _damage_call(w: World, who: str, method: str) -> Call:
    incident, dead = new_incident(w), 1 + next(_n) % 50

    def check(c, r):
        return (
            c.get(f"/api/incidents/{incident['id']}/damage", headers=w.admin()).json()["figures"]["dead"]
            == dead
        )

    headers = {**w.auth(who), "If-Match": '"0"'}
    body = {"figures": {"dead": dead}, "reason": ""}
    return Call(f"/api/incidents/{incident['id']}/damage", method, json=body, headers=headers, check=check)


def c_damage_put(w: World, who: str) -> Call:
    return _damage_call(w, who, "PUT")


def c_damage_patch(w: World, who: str) -> Call:
    return _damage_call(w, who, "PATCH")


def c_dispatch(w: World, who: str) -> Call:
    incident, team = new_incident(w), new_team(w)

    def check(c, r):
        found = c.get(f"/api/incidents/{incident['id']}", headers=w.admin()).json()["assignments"]
        return any(a["id"] == r.json()["id"] for a in found)

    url = f"/api/incidents/{incident['id']}/assignments"
    return Call(url, json={"team_id": team}, headers=w.auth(who), check=check)


def c_assignment(w: World, who: str) -> Call:
    assignment = new_assignment(w)

    def check(c, r):
        incident = c.get(f"/api/incidents/{r.json()['incident_id']}", headers=w.admin()).json()
        return any(a["id"] == assignment and a["state"] == "on_scene" for a in incident["assignments"])

    body = {"state": "on_scene"}
    return Call(f"/api/assignments/{assignment}", "PATCH", json=body, headers=w.auth(who), check=check)


def new_radio(w: World) -> str:
    """A radio unit of the write tests (no position, no MQTT: the duty is the HQ's to set)."""
    unit = unique("WRU-")
    with transaction(w.engine) as conn:
        registry.ensure_device(conn, DeviceSpec(unit, DeviceKind.radio_unit, "書込み検査無線機"))
    return unit


def c_unit_duty(w: World, who: str) -> Call:
    unit = new_radio(w)

    def check(c, r):
        history = c.get(f"/api/units/{unit}/duty", headers=w.admin()).json()
        return bool(history) and history[0]["state"] == "off_duty"

    return Call(f"/api/units/{unit}/duty", json={"state": "off_duty"}, headers=w.auth(who), check=check)


def c_team_duty(w: World, who: str) -> Call:
    team = new_team(w)

    def check(c, r):
        history = c.get(f"/api/teams/{team}/duty", headers=w.admin()).json()
        return bool(history) and history[0]["state"] == "off_duty"

    return Call(f"/api/teams/{team}/duty", json={"state": "off_duty"}, headers=w.auth(who), check=check)


def c_team(w: World, who: str) -> Call:
    team = unique("WRS-")

    def check(c, r):
        return any(t["id"] == team for t in c.get("/api/teams", headers=w.admin()).json())

    return Call(f"/api/teams/{team}", "PUT", json={"name": "保存班"}, headers=w.auth(who), check=check)


def _report_state(c: httpx.Client, w: World, report_id: int) -> str:
    return c.get(f"/api/reports/{report_id}", headers=w.admin()).json()["state"]


def c_report_accept(w: World, who: str) -> Call:
    report_id = new_report(w)

    def check(c, r):
        return _report_state(c, w, report_id) == "accepted"

    body = {"disaster_id": w.disaster_id}
    return Call(f"/api/reports/{report_id}/accept", json=body, headers=w.auth(who), check=check)


def c_report_merge(w: World, who: str) -> Call:
    report_id, incident = new_report(w), new_incident(w)

    def check(c, r):
        return _report_state(c, w, report_id) == "merged"

    body = {"incident_id": incident["id"]}
    return Call(f"/api/reports/{report_id}/merge", json=body, headers=w.auth(who), check=check)


def c_report_reject(w: World, who: str) -> Call:
    report_id = new_report(w)

    def check(c, r):
        return _report_state(c, w, report_id) == "rejected"

    return Call(f"/api/reports/{report_id}/reject", json={"reason": "重複"}, headers=w.auth(who), check=check)


def c_report_restore(w: World, who: str) -> Call:
    report_id = new_report(w)
    with w.http() as c:
        _ok(c.post(f"/api/reports/{report_id}/reject", json={}, headers=w.auth("hq")))

    def check(c, r):
        return _report_state(c, w, report_id) == "pending"

    return Call(f"/api/reports/{report_id}/restore", json={}, headers=w.auth(who), check=check)


def c_shelter_open(w: World, who: str) -> Call:
    shelter = w.take(w.shelters)

    def check(c, r):
        found = shelter_state(c, w, shelter)
        return found is not None and found["closed_at"] is None

    url = f"/api/disasters/{w.disaster_id}/shelters/{shelter}/open"
    return Call(url, json={"responsible_staff": "開設班"}, headers=w.auth(who), check=check)


def c_shelter_close(w: World, who: str) -> Call:
    shelter = open_shelter(w)

    def check(c, r):
        return (shelter_state(c, w, shelter) or {}).get("closed_at") is not None

    return Call(f"/api/disasters/{w.disaster_id}/shelters/{shelter}/close", headers=w.auth(who), check=check)


# ------------------------------------------------------------------ shelter operations, disaster moves/merges
def c_incident_move(w: World, who: str) -> Call:
    incident, target = new_incident(w), new_disaster(w)

    def check(c, r):
        return c.get(f"/api/incidents/{incident['id']}", headers=w.admin()).json()["disaster_id"] == target

    return Call(
        f"/api/incidents/{incident['id']}/move",
        json={"disaster_id": target},
        headers=w.auth(who),
        check=check,
    )


def c_disaster_merge(w: World, who: str) -> Call:
    source, target = new_disaster(w), new_disaster(w)

    def check(c, r):
        return (_disaster(c, w, source) or {}).get("merged_into") == target

    return Call(f"/api/disasters/{source}/merge", json={"into": target}, headers=w.auth(who), check=check)


_open_for_needs: list[int] = []


def _needs_shelter(w: World) -> int:
    with _lock:
        if not _open_for_needs:
            _open_for_needs.append(open_shelter(w))
        return _open_for_needs[0]


def _needs(c: httpx.Client, w: World) -> list[dict]:
    return c.get(f"/api/disasters/{w.disaster_id}/shelter-needs", headers=w.admin()).json()["needs"]


def new_need(w: World) -> dict:
    url = f"/api/disasters/{w.disaster_id}/shelters/{_needs_shelter(w)}/needs"
    with w.http() as c:
        return _ok(
            c.post(url, json={"item": unique("物資"), "quantity": 1, "unit": "箱"}, headers=w.auth("hq"))
        ).json()


def c_need_add(w: World, who: str) -> Call:
    item = unique("要請物資")

    def check(c, r):
        return any(n["item"] == item for n in _needs(c, w))

    url = f"/api/disasters/{w.disaster_id}/shelters/{_needs_shelter(w)}/needs"
    return Call(url, json={"item": item, "quantity": 5, "unit": "本"}, headers=w.auth(who), check=check)


def c_need_patch(w: World, who: str) -> Call:
    need = new_need(w)

    def check(c, r):
        return any(n["id"] == need["id"] and n["status"] == "arranged" for n in _needs(c, w))

    headers = {**w.auth(who), "If-Match": f'"{need["version"]}"'}
    return Call(
        f"/api/shelter-needs/{need['id']}", "PATCH", json={"status": "arranged"}, headers=headers, check=check
    )


def c_care_report(w: World, who: str) -> Call:
    shelter, elderly = open_shelter(w), next(_n)  # a shelter of its own: its first report (version 0)

    def check(c, r):
        care = c.get(
            f"/api/disasters/{w.disaster_id}/shelter-needs?shelter={shelter}", headers=w.admin()
        ).json()
        return care["care"] and care["care"][0]["counts"]["elderly"] == elderly

    url = f"/api/disasters/{w.disaster_id}/shelters/{shelter}/care"
    return Call(
        url, "PUT", json={"counts": {"elderly": elderly}, "version": 0}, headers=w.auth(who), check=check
    )


_open_for_checkins: list[int] = []


def c_checkin(w: World, who: str) -> Call:
    with _lock:
        if not _open_for_checkins:
            _open_for_checkins.append(open_shelter(w))
        shelter = _open_for_checkins[0]

    def check(c, r):
        return (shelter_state(c, w, shelter) or {}).get("occupancy", -1) >= r.json()["occupancy"]

    body = {"client_event_id": str(uuid.uuid4()), "kiosk_id": "wr-kiosk", "persons": 1}
    url = f"/api/disasters/{w.disaster_id}/shelters/{shelter}/checkins"
    return Call(url, json=body, headers=w.auth(who), check=check)


_stale = itertools.count(31)


def c_shelter_settings(w: World, who: str) -> Call:
    # A value of its own per call, so a refused call is told apart from an earlier one.
    wanted = {"vacant_below": 50, "moderate_below": 80, "crowded_below": 100, "stale_minutes": next(_stale)}

    def check(c, r):
        got = c.get("/api/shelter-settings", headers=w.admin()).json()
        return all(got[k] == v for k, v in wanted.items())

    return Call("/api/shelter-settings", "PUT", json=wanted, headers=w.auth(who), check=check)


def _mode(c: httpx.Client, w: World) -> dict | None:
    return c.get("/api/people/disaster-mode", headers=w.admin()).json()["active"]


def c_mode_on(w: World, who: str) -> Call:
    with w.http() as c:
        _ok(c.delete("/api/people/disaster-mode", headers=w.admin()))

    def check(c, r):
        return _mode(c, w) is not None

    body = {"minutes": 30, "reason": "書込み検査"}
    return Call("/api/people/disaster-mode", json=body, headers=w.auth(who), check=check)


def c_mode_off(w: World, who: str) -> Call:
    with w.http() as c:
        _ok(c.delete("/api/people/disaster-mode", headers=w.admin()))
        _ok(c.post("/api/people/disaster-mode", json={"minutes": 30, "reason": "検査"}, headers=w.admin()))

    def check(c, r):
        return _mode(c, w) is None

    return Call("/api/people/disaster-mode", "DELETE", headers=w.auth(who), check=check)


def c_mode_confirm(w: World, who: str) -> Call:
    """An HQ activation (alone: capped), confirmed by a second person of the other side."""
    with w.http() as c:
        _ok(c.delete("/api/people/disaster-mode", headers=w.admin()))
        body = {"minutes": 600, "reason": "書込み検査"}
        mode_id = _ok(c.post("/api/people/disaster-mode", json=body, headers=w.auth("hq"))).json()["active"][
            "id"
        ]

    def check(c, r):
        return (_mode(c, w) or {}).get("confirmed_by") is not None

    return Call(f"/api/people/disaster-mode/{mode_id}/confirm", headers=w.auth(who), check=check)


def c_layer_restore(w: World, who: str) -> Call:
    slug = new_layer(w)
    with w.http() as c:
        _ok(c.delete(f"/api/layers/{slug}", headers=w.admin()))

    def check(c, r):
        return _layer_listed(c, w, slug) is not None

    return Call(f"/api/layers/{slug}/restore", headers=w.auth(who), check=check)


def new_dead_letter(w: World) -> int:
    """A refused message as the worker stores it (ingest.store), with a payload of its own."""
    payload = unique("not json ").encode()
    with transaction(w.engine) as conn:
        insert_dead_letters(conn, [DeadLetter("gisapp/v1/radio/WR-X/position", payload, "invalid_json", "x")])
        return conn.execute(
            text("SELECT id FROM ingest.dead_letter WHERE payload = :p"), {"p": payload}
        ).scalar_one()


def c_dead_letter_review(w: World, who: str) -> Call:
    letter = new_dead_letter(w)

    def check(c, r):
        found = c.get("/api/dead-letters", params={"device": "WR-X", "limit": 500}, headers=w.admin()).json()
        return any(x["id"] == letter and x["reviewed_at"] for x in found["items"])

    return Call("/api/dead-letters/review", json={"ids": [letter]}, headers=w.auth(who), check=check)


def c_people_import(w: World, who: str) -> Call:
    external = unique("WRI-")

    def check(c, r):
        found = c.get("/api/people", params={"area": "書込町1丁目", "limit": 5000}, headers=w.admin()).json()
        return any(p["external_id"] == external for p in found)

    files = {"file": ("people.csv", people_csv([external]), "text/csv")}
    return Call("/api/people/import", files=files, data={"layer": w.people_layer}, headers=w.auth(who),
                check=check)  # fmt: skip


def c_plan(w: World, who: str) -> Call:
    person, summary = w.take(w.persons), unique("計画")

    def check(c, r):
        return c.get(f"/api/people/{person}/plan", headers=w.admin()).json()["summary"] == summary

    body = {"status": "drafting", "summary": summary}
    return Call(f"/api/people/{person}/plan", "PUT", json=body, headers=w.auth(who), check=check)


# ------------------------------------------------------------------------ evacuation information
_evac_area: list[str] = []


def evac_area(w: World) -> str:
    """One 町丁目-like area near the spot for the orders of this module (made once)."""
    with _lock:
        if not _evac_area:
            with transaction(w.engine, ["admin"]) as conn:
                layer = _layer(conn, "wr-evac-areas", "internal", "generic", "MultiPolygon", w.seed.dept_id)
                conn.execute(
                    text(
                        """INSERT INTO gis.feature (layer_id, source_key, properties, geom)
                           VALUES (:l, 'WR-EV-1', '{"code": "WR-EV-1", "name": "書込み検査町"}',
                                   ST_Multi(ST_MakeEnvelope(:x, :y, :x + 0.002, :y + 0.002, 4326)))
                           ON CONFLICT (layer_id, source_key) DO NOTHING"""
                    ),
                    {"l": layer, "x": SPOT[0], "y": SPOT[1] + 0.003},
                )
                evac_info.sync_areas_from_layer(conn, "wr-evac-areas")
            _evac_area.append("WR-EV-1")
        return _evac_area[0]


def evac_order(w: World) -> int:
    body = {"level": 3, "hazard": "flood", "area_codes": [evac_area(w)], "reason": "書込み検査"}
    with w.http() as c:
        return _ok(c.post("/api/evacuation-info/orders", json=body, headers=w.admin())).json()["id"]


def _evac_version(c, w: World, order_id: int) -> dict:
    return c.get(f"/api/evacuation-info/orders/{order_id}", headers=w.admin()).json()


def c_evac_issue(w: World, who: str) -> Call:
    def check(c, r):
        return _evac_version(c, w, r.json()["id"]).get("version") == 1

    body = {"level": 3, "hazard": "flood", "area_codes": [evac_area(w)], "reason": "書込み検査 発令"}
    return Call("/api/evacuation-info/orders", json=body, headers=w.auth(who), check=check)


def c_evac_change(w: World, who: str) -> Call:
    order_id = evac_order(w)

    def check(c, r):
        return _evac_version(c, w, order_id).get("level") == 4

    body = {"expected_version": 1, "level": 4, "reason": "書込み検査 変更"}
    return Call(
        f"/api/evacuation-info/orders/{order_id}", "PATCH", json=body, headers=w.auth(who), check=check
    )


def c_evac_cancel(w: World, who: str) -> Call:
    order_id = evac_order(w)

    def check(c, r):
        return _evac_version(c, w, order_id).get("status") == "cancelled"

    body = {"expected_version": 1, "reason": "書込み検査 解除"}
    return Call(f"/api/evacuation-info/orders/{order_id}/cancel", json=body, headers=w.auth(who), check=check)


def c_evac_dismiss(w: World, who: str) -> Call:
    """A criterion of its own that holds (a JMA condition for an area code of its own): one open
    suggestion to dismiss (inland flooding: no order of this module covers the area for it)."""
    area, name = unique("WRJ"), unique("書込み検査基準")
    with transaction(w.engine, ["admin"]) as conn:
        conn.execute(
            text(
                """INSERT INTO ops.issuance_criterion (name, hazard, source, min_level, suggest_level, target,
                                                      jma_area_codes, area_codes)
                   VALUES (:n, 'inland_flood', 'jma', 3, 3, 'listed_areas', ARRAY[CAST(:a AS text)],
                           ARRAY[CAST(:e AS text)])"""
            ),
            {"n": name, "a": area, "e": evac_area(w)},
        )
        tid = conn.execute(
            text(
                """INSERT INTO ops.jma_telegram (info_kind, event_id, info_type, title, report_at, source, sha256,
                                                 applied)
                   VALUES ('気象警報・注意報', :a, '発表', '書込み検査', now(), 'file:wr', :a, true) RETURNING id"""
            ),
            {"a": area},
        ).scalar_one()
        conn.execute(
            text(
                """INSERT INTO ops.jma_condition (info_kind, event_id, area_code, area_name, kind_name, status,
                                                  hazard, alert_level, telegram_id, since)
                   VALUES ('気象警報・注意報', :a, :a, '書込み検査', '大雨警報', '発表', 'inland_flood', 3, :t, now())"""
            ),
            {"a": area, "t": tid},
        )
    with transaction(w.engine, ["admin"]) as conn:
        suggestion = conn.execute(
            text(
                """SELECT s.id FROM ops.evac_suggestion s JOIN ops.issuance_criterion c ON c.id = s.criterion_id
                    WHERE c.name = :n AND s.state = 'open'"""
            ),
            {"n": name},
        ).scalar_one()

    def check(c, r):
        found = c.get("/api/evacuation-info/suggestions?state=all", headers=w.admin()).json()["suggestions"]
        return any(s["id"] == suggestion and s["state"] == "dismissed" for s in found)

    url = f"/api/evacuation-info/suggestions/{suggestion}/dismiss"
    return Call(url, json={"reason": "書込み検査 見送り"}, headers=w.auth(who), check=check)


def c_hq_note(w: World, who: str) -> Call:
    def check(c, r):
        entries = c.get(f"/api/hq-log?after={r.json()['id'] - 1}", headers=w.admin()).json()["entries"]
        return any(e["id"] == r.json()["id"] for e in entries)

    return Call("/api/hq-log", json={"text": unique("書込み検査メモ")}, headers=w.auth(who), check=check)


def c_chronology_note(w: World, who: str) -> Call:
    def check(c, r):
        entries = c.get("/api/chronology", params={"after": r.json()["id"] - 1}, headers=w.admin()).json()
        return any(e["id"] == r.json()["id"] for e in entries["entries"])

    return Call(
        "/api/chronology", json={"text": unique("書込み検査クロノロジー")}, headers=w.auth(who), check=check
    )


def c_handover(w: World, who: str) -> Call:
    def check(c, r):
        entries = c.get("/api/chronology", params={"kind": "handover", "after": r.json()["id"] - 1},
                        headers=w.admin()).json()  # fmt: skip
        return any(e["id"] == r.json()["id"] for e in entries["entries"])

    return Call(
        "/api/chronology/handover",
        json={"text": unique("書込み検査引継ぎ")},
        headers=w.auth(who),
        check=check,
    )


def _instruction_state(
    w: World, instruction_id: int, state: str
) -> Callable[[httpx.Client, httpx.Response], bool]:
    def check(c, r):
        return c.get(f"/api/instructions/{instruction_id}", headers=w.admin()).json()["state"] == state

    return check


def new_instruction(w: World) -> int:
    """An open instruction to the fixture layers' department (its staff may mark it done)."""
    from gisapp.ops import instructions

    with transaction(w.engine) as conn:
        return instructions.instruct(conn, w.seed.dept_id, unique("書込み検査指示"), "write-test")["id"]


def c_instruct(w: World, who: str) -> Call:
    def check(c, r):
        return c.get(f"/api/instructions/{r.json()['id']}", headers=w.admin()).json()["state"] == "open"

    body = {"department_id": w.seed.dept_id, "text": unique("書込み検査指示")}
    return Call("/api/instructions", json=body, headers=w.auth(who), check=check)


def c_instruction_complete(w: World, who: str) -> Call:
    n = new_instruction(w)
    return Call(f"/api/instructions/{n}/complete", json={"result": "済"}, headers=w.auth(who),
                check=_instruction_state(w, n, "done"))  # fmt: skip


def c_instruction_withdraw(w: World, who: str) -> Call:
    n = new_instruction(w)
    return Call(f"/api/instructions/{n}/withdraw", json={"reason": "不要"}, headers=w.auth(who),
                check=_instruction_state(w, n, "withdrawn"))  # fmt: skip


def new_gauge_alert(w: World) -> int:
    """An unacknowledged alert of a gauge of the write tests, as the ingest worker writes one."""
    with transaction(w.engine) as conn:
        registry.ensure_device(
            conn,
            DeviceSpec("WR-GAUGE", DeviceKind.water_gauge, "書込み検査水位計", SPOT[0], SPOT[1], None, {}),
        )
        return conn.execute(
            text(
                """INSERT INTO sensor.alert (device_id, measure, level_from, level_to, value, at)
                   VALUES ('WR-GAUGE', 'level_m', NULL, '氾濫危険水位', 2.5, now()) RETURNING id"""
            )
        ).scalar_one()


def c_gauge_alert_ack(w: World, who: str) -> Call:
    alert = new_gauge_alert(w)

    def check(c, r):
        found = c.get("/api/gauges/alerts", params={"limit": 500}, headers=w.admin()).json()["alerts"]
        return any(a["id"] == alert and a["acknowledged_by"] for a in found)

    return Call(f"/api/gauges/alerts/{alert}/acknowledge", headers=w.auth(who), check=check)


@dataclass(frozen=True)
class Op:
    method: str
    path: str  # as in the OpenAPI
    expect: dict[str, int]  # principal -> status: the one table of who may do what
    make: Callable[[World, str], Call]
    serial: bool = False  # one at a time (a single global state, e.g. disaster mode)


OPS: list[Op] = [
    # citizens (both instances): anyone, signed in or not
    Op("POST", "/api/reports", everyone(201), c_report),
    Op("POST", "/api/register", everyone(201), c_register),
    Op("PUT", "/api/register/{token}", everyone(200), c_register_change),
    Op("POST", "/api/public/evacuation-status", everyone(200), c_resident_status),
    Op("POST", "/api/auth/login", everyone(200), c_login, serial=True),  # one password check at a time
    Op("POST", "/api/auth/logout", roles(204, set(PRINCIPALS)), c_logout),
    # layers: the owner department's staff and admins edit, publish, import and delete
    Op("POST", "/api/layers", roles(201, LAYER_EDITORS | {"outsider"}), c_layer_create),
    Op("PATCH", "/api/layers/{slug}", roles(200, LAYER_EDITORS), c_layer_edit),
    Op("DELETE", "/api/layers/{slug}", roles(204, LAYER_EDITORS), c_layer_delete),
    Op("POST", "/api/layers/{slug}/publish", roles(200, LAYER_EDITORS), c_publish),
    Op("POST", "/api/layers/{slug}/withdraw", roles(200, LAYER_EDITORS), c_withdraw),
    Op("POST", "/api/layers/{slug}/import", roles(200, LAYER_EDITORS), c_import),
    Op("POST", "/api/layers/{slug}/restore", roles(200, LAYER_EDITORS), c_layer_restore),
    # raster layers (航空写真): the same rule as layers
    Op("POST", "/api/rasters", roles(201, LAYER_EDITORS | {"outsider"}), c_raster_upload),
    Op("POST", "/api/rasters/{slug}/publish", roles(200, LAYER_EDITORS), c_raster_publish),
    Op("POST", "/api/rasters/{slug}/withdraw", roles(200, LAYER_EDITORS), c_raster_withdraw),
    Op("DELETE", "/api/rasters/{slug}", roles(204, LAYER_EDITORS), c_raster_delete),
    # HQ operations: hq_operator and staff (the HQ is staffed from the departments), admins
    Op("POST", "/api/road-closures", roles(201, HQ_ROLES), c_close_road),
    Op("POST", "/api/road-closures/{closure_id}/reopen", roles(200, HQ_ROLES), c_reopen_road),
    Op("POST", "/api/disasters", roles(201, HQ_ROLES), c_disaster_open),
    Op("POST", "/api/disasters/{disaster_id}/close", roles(200, HQ_ROLES), c_disaster_close),
    Op("PUT", "/api/incidents/{incident_id}/damage", roles(200, HQ_ROLES), c_damage_put),
    Op("PATCH", "/api/incidents/{incident_id}/damage", roles(200, HQ_ROLES), c_damage_patch),
    Op("POST", "/api/incident-categories", roles(201, HQ_ROLES), c_category_add),
    Op("PATCH", "/api/incident-categories/{code}", roles(200, HQ_ROLES), c_category_change),
    Op("POST", "/api/disasters/{disaster_id}/incidents", roles(201, HQ_ROLES), c_incident_create),
    Op("PATCH", "/api/incidents/{incident_id}", roles(200, HQ_ROLES), c_incident_patch),
    Op("POST", "/api/incidents/{incident_id}/photos", roles(201, HQ_ROLES), c_incident_photo),
    Op("POST", "/api/incidents/{incident_id}/assignments", roles(201, HQ_ROLES), c_dispatch),
    Op("PATCH", "/api/assignments/{assignment_id}", roles(200, HQ_ROLES), c_assignment),
    Op("PUT", "/api/teams/{team_id}", roles(200, HQ_ROLES), c_team),
    Op("POST", "/api/units/{unit_id}/duty", roles(200, HQ_ROLES), c_unit_duty),
    Op("POST", "/api/teams/{team_id}/duty", roles(200, HQ_ROLES), c_team_duty),
    Op("POST", "/api/reports/{report_id}/accept", roles(200, HQ_ROLES), c_report_accept),
    Op("POST", "/api/reports/{report_id}/merge", roles(200, HQ_ROLES), c_report_merge),
    Op("POST", "/api/reports/{report_id}/reject", roles(200, HQ_ROLES), c_report_reject),
    Op("POST", "/api/reports/{report_id}/restore", roles(200, HQ_ROLES), c_report_restore),
    Op("POST", "/api/disasters/{disaster_id}/shelters/{shelter_id}/open", roles(200, HQ_ROLES), c_shelter_open),
    Op("POST", "/api/disasters/{disaster_id}/shelters/{shelter_id}/close", roles(200, HQ_ROLES), c_shelter_close),
    Op("PUT", "/api/shelter-settings", roles(200, HQ_ROLES), c_shelter_settings, serial=True),
    Op("POST", "/api/incidents/{incident_id}/move", roles(200, HQ_ROLES), c_incident_move),
    Op("POST", "/api/disasters/{disaster_id}/merge", roles(200, HQ_ROLES), c_disaster_merge),
    # evacuation information: the HQ's operators (and admins) only, not every staff member
    Op("POST", "/api/evacuation-info/orders", roles(201, {"hq", "admin"}), c_evac_issue),
    Op("PATCH", "/api/evacuation-info/orders/{order_id}", roles(200, {"hq", "admin"}), c_evac_change),
    Op("POST", "/api/evacuation-info/orders/{order_id}/cancel", roles(200, {"hq", "admin"}), c_evac_cancel),
    Op("POST", "/api/evacuation-info/suggestions/{suggestion_id}/dismiss", roles(200, {"hq", "admin"}),
       c_evac_dismiss),
    Op("POST", "/api/hq-log", roles(201, {"hq", "admin"}), c_hq_note),
    # クロノロジー: notes, handovers and instructions by the HQ; 完了 also by the instructed department's staff
    Op("POST", "/api/chronology", roles(201, {"hq", "admin"}), c_chronology_note),
    Op("POST", "/api/chronology/handover", roles(201, {"hq", "admin"}), c_handover),
    Op("POST", "/api/instructions", roles(201, {"hq", "admin"}), c_instruct),
    Op("POST", "/api/instructions/{instruction_id}/complete", roles(200, {"staff", "hq", "welfare", "admin"}),
       c_instruction_complete),
    Op("POST", "/api/instructions/{instruction_id}/withdraw", roles(200, {"hq", "admin"}), c_instruction_withdraw),
    # shelters and evacuation: any staff at a kiosk or with a household's card
    Op("POST", "/api/disasters/{disaster_id}/shelters/{shelter_id}/checkins", roles(200, STAFF_ROLES), c_checkin),
    Op("POST", "/api/evacuation-status", roles(200, STAFF_ROLES), c_staff_status),
    Op("POST", "/api/disasters/{disaster_id}/shelters/{shelter_id}/needs", roles(201, STAFF_ROLES), c_need_add),
    Op("PATCH", "/api/shelter-needs/{need_id}", roles(200, STAFF_ROLES), c_need_patch),
    Op("PUT", "/api/disasters/{disaster_id}/shelters/{shelter_id}/care", roles(200, STAFF_ROLES), c_care_report),
    # people needing help: disaster mode by HQ or admin; the registry by admin; plans by welfare
    Op("POST", "/api/people/disaster-mode", roles(201, {"hq", "admin"}), c_mode_on, serial=True),
    Op("DELETE", "/api/people/disaster-mode", roles(200, {"hq", "admin"}), c_mode_off, serial=True),
    # the second person: the other side of whoever switched it on (here HQ: welfare or admin)
    Op("POST", "/api/people/disaster-mode/{mode_id}/confirm", roles(200, {"welfare", "admin"}), c_mode_confirm,
       serial=True),
    Op("POST", "/api/people/import", roles(200, {"admin"}), c_people_import),
    Op("PUT", "/api/people/{person_id}/plan", roles(200, {"welfare", "admin"}), c_plan),
    # dead letters: the HQ (radio positions may be in them) and admins
    Op("POST", "/api/dead-letters/review", roles(200, {"hq", "admin"}), c_dead_letter_review),
    # gauge alerts: staff read the log; the HQ (hq_operator) and admins acknowledge (確認)
    Op("POST", "/api/gauges/alerts/{alert_id}/acknowledge", roles(200, {"hq", "admin"}), c_gauge_alert_ack),
]  # fmt: skip


def send(c: httpx.Client, call: Call) -> httpx.Response:
    return c.request(
        call.method, call.url, json=call.json, data=call.data, files=call.files, headers=call.headers
    )
