"""Hostile and careless data (issue 10): zip bombs, a CRS that contradicts its coordinates, bare CR and NUL
in CSVs, spreadsheet formulas in what we export, and places that cannot be in Japan. Each bad input gets
a 4xx with a Japanese and an English message, and the stored data is what it was before."""

from __future__ import annotations

import csv
import io
import json
import struct
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pytest
from shapely import Point
from sqlalchemy import text

from common.geo import REASONS
from gisapp.db import transaction
from ingest.payloads import PayloadError, parse_radio_incident, parse_radio_position
from layers.importers import archive
from sensors.registry import DeviceKind, DeviceSpec
from sensors.topics import radio_incident_topic, radio_position_topic
from tests.fixtures_data import seed
from tests.support import count, register_devices, wait_until
from tests.test_import_api_cli import _cli
from tests.test_import_data import feature_count, make_layer, query
from tests.test_ingest import device_client, publish

ISEHARA = (139.3158, 35.4027)
BOMB_PAD = 256 * 1024 * 1024  # zeros: ~250 KB compressed, ratio ~1000:1


@pytest.fixture(scope="module")
def users(app_engine):
    return seed(app_engine, "hostile")


def _bilingual(r, status: int) -> dict:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["message_ja"] and error["message_en"], error
    return error


def _upload(client, slug, headers, body: bytes, name: str):
    return client.post(f"/api/layers/{slug}/import", headers=headers, files={"file": (name, body)})


def _runs(app_engine, slug) -> list:
    return query(
        app_engine,
        "SELECT status, rejected FROM gis.import_run r JOIN gis.layer l ON l.id = r.layer_id"
        " WHERE l.slug = :s ORDER BY r.id",
        s=slug,
    )


# ------------------------------------------------------------------------------------ zip bombs
def _shapefile(tmp: Path) -> Path:
    gpd.GeoDataFrame({"名称": ["伊勢原市役所"]}, geometry=[Point(*ISEHARA)], crs="EPSG:6668").to_file(
        tmp / "s.shp"
    )
    return tmp / "s.shp"


def shapefile_zip(tmp: Path, pad: int = 0, member: str = ".dbf", name: str = "s.zip") -> Path:
    """A shapefile zip; with ``pad``, ``member`` grows by that many zero bytes (streamed, never in memory):
    a real zip bomb of a few hundred KB."""
    _shapefile(tmp)
    out = tmp / name
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for ext in (".shp", ".shx", ".dbf", ".prj"):
            data = (tmp / f"s{ext}").read_bytes()
            with zf.open(f"s{ext}", "w") as w:
                w.write(data)
                if ext == member:
                    zero = bytes(1 << 20)
                    for _ in range(pad >> 20):
                        w.write(zero)
    return out


def test_zip_bomb_via_the_api_is_413_and_nothing_is_stored(client, app_engine, users, tmp_path):
    slug = make_layer(app_engine, "hostile-shp", "generic", users.dept_id)
    staff = users.bearer(client, "staff")
    good = shapefile_zip(tmp_path, name="good.zip")
    assert _upload(client, slug, staff, good.read_bytes(), "good.zip").status_code == 200
    before = feature_count(app_engine, slug, "generic")
    bomb = shapefile_zip(tmp_path, BOMB_PAD, ".dbf", "bomb.zip")
    assert bomb.stat().st_size < 1024 * 1024
    error = _bilingual(_upload(client, slug, staff, bomb.read_bytes(), "bomb.zip"), 413)
    assert error["code"] == "archive_too_large" and error["reason"] == "archive_too_large"
    assert "圧縮率" in error["message_ja"] and "compression ratio" in error["message_en"]
    assert feature_count(app_engine, slug, "generic") == before
    status, rejected = _runs(app_engine, slug)[-1]
    assert status == "rejected" and "archive" in rejected[0]["reason_en"]


def test_zip_bomb_via_the_cli_exits_1(settings, app_engine, users, tmp_path):
    slug = make_layer(app_engine, "hostile-shp-cli", "generic", users.dept_id)
    bomb = shapefile_zip(tmp_path, BOMB_PAD, ".shp", "bomb.zip")
    r = _cli(settings, "import", str(bomb), "--layer", slug)
    assert r.returncode == 1 and "展開" in r.stderr and "unpacks too large" in r.stderr, r.stderr
    assert feature_count(app_engine, slug, "generic") == 0


def test_total_unpacked_size_is_capped(client, app_engine, users, tmp_path, monkeypatch):
    slug = make_layer(app_engine, "hostile-shp-total", "generic", users.dept_id)
    body = shapefile_zip(tmp_path).read_bytes()
    monkeypatch.setattr(archive, "MAX_UNPACKED_BYTES", 500)  # below what the central directory declares
    error = _bilingual(_upload(client, slug, users.bearer(client, "staff"), body, "s.zip"), 413)
    assert error["reason"] == "archive_too_large" and "500" in error["message_en"]
    assert feature_count(app_engine, slug, "generic") == 0


def _lie_about_size(path: Path, member: str, declared: int) -> None:
    """Rewrite the uncompressed size of ``member`` in its local and central headers."""
    raw = bytearray(path.read_bytes())
    name = member.encode()
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = 0
        while (at := raw.find(signature, at)) >= 0:
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if raw[name_at : name_at + len(name)] == name:
                raw[at + offset : at + offset + 4] = struct.pack("<I", declared)
            at += 4
    path.write_bytes(bytes(raw))


def test_a_lying_header_is_refused_and_only_the_declared_bytes_are_unpacked(
    client, app_engine, users, tmp_path, monkeypatch
):
    slug = make_layer(app_engine, "hostile-shp-lie", "generic", users.dept_id)
    bomb = shapefile_zip(tmp_path, 64 * 1024 * 1024, ".dbf", "lie.zip")
    _lie_about_size(bomb, "s.dbf", 4096)  # declares a small, harmless member
    written: list[int] = []
    real_extract = archive.extract
    monkeypatch.setattr(archive, "extract", lambda *a: written.append(real_extract(*a)) or written[-1])
    error = _bilingual(
        _upload(client, slug, users.bearer(client, "staff"), bomb.read_bytes(), "lie.zip"), 422
    )
    assert error["reason"] == "unreadable_file" and "CRC" in error["message_en"]
    assert sum(written) <= 1024 * 1024  # counted while extracting: nowhere near the 64 MB inside
    assert feature_count(app_engine, slug, "generic") == 0


def test_an_archive_of_too_many_entries_is_refused_before_it_is_opened(client, app_engine, users, tmp_path):
    slug = make_layer(app_engine, "hostile-shp-many", "generic", users.dept_id)
    out = tmp_path / "many.zip"
    with zipfile.ZipFile(out, "w") as zf:
        for i in range(archive.MAX_ENTRIES + 1):
            zf.writestr(f"x{i}.txt", b"")
    error = _bilingual(
        _upload(client, slug, users.bearer(client, "staff"), out.read_bytes(), "many.zip"), 413
    )
    assert error["reason"] == "archive_too_large"


# ------------------------------------------------------------------------------- CRS plausibility
def _geojson(crs: str | None, *coords) -> bytes:
    doc: dict = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"n": i}, "geometry": {"type": "Point", "coordinates": list(c)}}
            for i, c in enumerate(coords)
        ],
    }
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    "crs, coords, says_ja, says_en",
    [
        (
            "urn:ogc:def:crs:EPSG::6677",
            [ISEHARA, (139.32, 35.41)],
            "座標値が度のように見えます",
            "look like degrees",
        ),
        ("EPSG:2451", [ISEHARA], "座標値が度のように見えます", "projected CRS EPSG:2451"),
        (
            "urn:ogc:def:crs:EPSG::6668",
            [(-34000.5, -52000.25), (-33000, -51000)],
            "メートル",
            "look like projected",
        ),
        (None, [(-34000.5, -52000.25)], "メートル", "geographic CRS EPSG:4326"),
    ],
)
def test_coordinates_that_contradict_the_declared_crs_are_refused(
    client, app_engine, users, crs, coords, says_ja, says_en
):
    slug = make_layer(app_engine, "hostile-crs", "generic", users.dept_id)
    before = feature_count(app_engine, slug, "generic")
    r = _upload(client, slug, users.bearer(client, "staff"), _geojson(crs, *coords), "zone.geojson")
    error = _bilingual(r, 422)
    assert error["reason"] == "crs_mismatch"
    assert says_ja in error["message_ja"] and says_en in error["message_en"]
    assert feature_count(app_engine, slug, "generic") == before


def test_a_file_of_only_swapped_points_is_told_swapped_not_metres(client, app_engine, users):
    slug = make_layer(app_engine, "hostile-crs-swap", "shelter", users.dept_id)
    body = "名称,緯度,経度\n避難所 甲,139.31,35.40\n避難所 乙,139.32,35.41\n".encode()
    error = _bilingual(_upload(client, slug, users.bearer(client, "staff"), body, "swapped.csv"), 422)
    assert error["reason"] == "rows_rejected" and [p["row"] for p in error["rejected"]] == [1, 2]
    assert all("swapped" in p["reason_en"] and "入れ替わって" in p["reason_ja"] for p in error["rejected"])
    assert feature_count(app_engine, slug, "shelter") == 0


def test_plane_rectangular_metres_still_import(client, app_engine, users):
    from pyproj import Transformer

    slug = make_layer(app_engine, "hostile-crs-ok", "generic", users.dept_id)
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:6677", always_xy=True).transform(*ISEHARA)
    r = _upload(client, slug, users.bearer(client, "staff"), _geojson("EPSG:6677", (x, y)), "ok.geojson")
    assert r.status_code == 200, r.text


# --------------------------------------------------------------------------------- CR and NUL in CSVs
PEOPLE_LAYER = "hostile-registry"
PEOPLE_HEADER = "管理番号,氏名,ふりがな,生年,電話番号,住所,自治会,要配慮区分,同意,緯度,経度,避難支援者"
AREA = "敵対試験町1丁目"


@pytest.fixture(scope="module")
def registry(app_engine, users) -> str:
    with transaction(app_engine, ["admin"]) as conn:
        conn.execute(
            text(
                """INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind, geometry_type)
                   VALUES (:s, :s, :s, :d, 'restricted', 'person_needing_help', 'Point') ON CONFLICT (slug) DO NOTHING"""
            ),
            {"s": PEOPLE_LAYER, "d": users.dept_id},
        )
    return PEOPLE_LAYER


def _people(client, headers, body: bytes):
    return client.post(
        "/api/people/import",
        files={"file": ("people.csv", body, "text/csv")},
        data={"layer": PEOPLE_LAYER},
        headers=headers,
    )


def _stored_people(app_engine, prefix: str) -> dict[str, tuple]:
    with transaction(app_engine, ["admin"]) as conn:
        rows = conn.execute(
            text(
                """SELECT external_id, name, ST_X(geom), ST_Y(geom) FROM restricted.person_needing_help
                    WHERE external_id LIKE :p"""
            ),
            {"p": prefix + "%"},
        )
        return {r[0]: tuple(r)[1:] for r in rows}


def _person(key: str, name: str, lat: float = 35.40, lon: float = 139.31) -> str:
    return f"{key},{name},,1940,,,{AREA},要介護3,有,{lat},{lon},"


def test_people_csv_with_bare_cr_line_breaks_reads_right(client, app_engine, users, registry):
    body = "\r".join(
        [PEOPLE_HEADER, _person("CR-1", "改行 一郎（架空）"), _person("CR-2", "改行 二郎（架空）")]
    )
    r = _people(client, users.bearer(client, "admin"), (body + "\r").encode("cp932"))
    assert r.status_code == 200, r.text
    assert (r.json()["rows"], r.json()["inserted"]) == (2, 2)
    assert _stored_people(app_engine, "CR-") == {
        "CR-1": ("改行 一郎（架空）", 139.31, 35.40),
        "CR-2": ("改行 二郎（架空）", 139.31, 35.40),
    }


@pytest.mark.parametrize(
    "body, says",
    [
        (f"{PEOPLE_HEADER}\n{_person('NUL-1', 'a')}\x00\n", "NUL"),
        (f'{PEOPLE_HEADER}\n{_person("NUL-2", "a")}\n"unterminated,' + "x" * 200_000 + "\n", "CSV"),
    ],
)
def test_people_csv_with_nul_or_a_runaway_quote_is_refused(client, app_engine, users, registry, body, says):
    before = count(app_engine, "SELECT count(*) FROM audit.log WHERE action = 'people.import'")
    error = _bilingual(_people(client, users.bearer(client, "admin"), body.encode()), 422)
    assert says in error["message_en"]
    assert _stored_people(app_engine, "NUL-") == {}
    assert count(app_engine, "SELECT count(*) FROM audit.log WHERE action = 'people.import'") == before


def test_shelter_csv_with_bare_cr_reads_right_and_nul_is_refused(client, app_engine, users):
    slug = make_layer(app_engine, "hostile-shelters", "shelter", users.dept_id)
    staff = users.bearer(client, "staff")
    body = "名称,緯度,経度\r避難所 甲,35.40,139.31\r避難所 乙,35.41,139.32\r".encode("cp932")
    r = _upload(client, slug, staff, body, "shelters.csv")
    assert r.status_code == 200, r.text
    names = query(
        app_engine,
        "SELECT s.name FROM gis.shelter s JOIN gis.layer l ON l.id = s.layer_id WHERE l.slug = :s ORDER BY 1",
        s=slug,
    )
    assert [n for (n,) in names] == ["避難所 乙", "避難所 甲"]
    for bad, says in (
        ("名称,緯度,経度\r\n避難所 丙\x00,35.42,139.33\r\n".encode(), "NUL"),
        (b'name,lat,lon\r\n"x' + b"a" * 200_000 + b",35,139\r\n", "field limit"),
    ):
        error = _bilingual(_upload(client, slug, staff, bad, "shelters.csv"), 422)
        assert says in error["message_en"]
        assert feature_count(app_engine, slug, "shelter") == 2


# ------------------------------------------------------------------------------- CSV injection
FORMULA = '=HYPERLINK("http://x","y")'


def test_formula_in_a_citizen_report_is_neutralised_in_the_incidents_csv(
    client, public_client, app_engine, users
):
    hq = users.bearer(client, "hq")
    disaster = client.post("/api/disasters", json={"name": "注入試験の災害"}, headers=hq).json()["id"]
    sent = public_client.post(
        "/api/reports",
        data={"category": "fallen_tree", "lon": "139.2960", "lat": "35.4060", "description": FORMULA},
    )
    assert sent.status_code == 201, sent.text
    with app_engine.connect() as conn:
        report_id = conn.execute(
            text("SELECT id FROM ops.citizen_report WHERE description = :d ORDER BY id DESC LIMIT 1"),
            {"d": FORMULA},
        ).scalar_one()
    accepted = client.post(f"/api/reports/{report_id}/accept", json={"disaster_id": disaster}, headers=hq)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["incident"]["description"] == FORMULA  # stored as sent; escaped on the way out

    r = client.get(f"/api/disasters/{disaster}/export/incidents.csv", headers=hq)
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
    (row,) = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert row["description"] == "'" + FORMULA
    assert row["lon"] == "139.296" and row["priority"] == "3"  # numbers stay numbers
    geo = client.get(f"/api/disasters/{disaster}/export/incidents.geojson", headers=hq).json()
    assert geo["features"][0]["properties"]["description"] == FORMULA  # GeoJSON is data, not a sheet
    events = client.get(f"/api/disasters/{disaster}/export/events.csv", headers=hq)
    assert events.status_code == 200 and "created" in events.text


def test_formula_as_a_name_in_the_people_import_is_neutralised_in_the_roster(
    client, app_engine, users, registry
):
    admin = users.bearer(client, "admin")
    quoted = '"' + FORMULA.replace('"', '""') + '"'  # as a spreadsheet writes a cell with quotes
    body = "\n".join([PEOPLE_HEADER, _person("INJ-1", quoted), _person("INJ-2", "@SUM(1+1)")]) + "\n"
    assert _people(client, admin, body.encode()).status_code == 200
    assert _stored_people(app_engine, "INJ-")["INJ-1"][0] == FORMULA
    r = client.get("/api/people/roster.csv", params={"area": AREA}, headers=admin)
    assert r.status_code == 200
    table = {row["管理番号"]: row for row in csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")))}
    assert table["INJ-1"]["氏名"] == "'" + FORMULA and table["INJ-2"]["氏名"] == "'@SUM(1+1)"
    assert table["INJ-1"]["優先順位"].isdigit()  # the priority stays a number


def test_shelter_export_neutralises_and_reads_back_to_the_same_rows(app_engine, users, tmp_path):
    from layers.importers.shelter_export import STANDARD_COLUMNS, shelters_csv
    from tests.test_import_data import run_import
    from tests.test_import_rules import SHELTER_ROW

    first = make_layer(app_engine, "hostile-shelter-rt-a", "shelter", users.dept_id)
    second = make_layer(app_engine, "hostile-shelter-rt-b", "shelter", users.dept_id)
    values = {"ID": "S-1", "名称": "=cmd|' /C calc'!A0", "緯度": "35.4", "経度": "139.31", "標高": "-2.5",
              "備考": "+81-3", "災害種別_洪水": "1", "想定収容人数": "120"}  # fmt: skip
    source = io.StringIO()
    csv.writer(source).writerows([STANDARD_COLUMNS, [values.get(c, "") for c in STANDARD_COLUMNS]])
    (tmp_path / "in.csv").write_text(source.getvalue(), "utf-8")
    run_import(app_engine, first, tmp_path / "in.csv")
    with transaction(app_engine, ["admin"]) as conn:
        layer_id = conn.execute(text("SELECT id FROM gis.layer WHERE slug = :s"), {"s": first}).scalar_one()
        out = shelters_csv(conn, layer_id)
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert row["名称"] == "'=cmd|' /C calc'!A0" and row["備考"] == "'+81-3"
    assert (row["標高"], row["緯度"], row["想定収容人数"]) == ("-2.5", "35.4", "120")  # numbers as they were
    (tmp_path / "out.csv").write_text(out, "utf-8")
    run_import(app_engine, second, tmp_path / "out.csv")
    stored = query(app_engine, SHELTER_ROW, s=first)
    assert stored == query(app_engine, SHELTER_ROW, s=second)
    assert stored[0][1] == "=cmd|' /C calc'!A0" and stored[0][13]["備考"] == "+81-3"


# --------------------------------------------------------------------------- plausible coordinates
IMPLAUSIBLE = {  # case -> (lon, lat, reason code, what the Japanese message says)
    "null island": (0, 0, "null_island", "(0, 0)"),
    "swapped": (35.4027, 139.3158, "swapped", "緯度と経度が入れ替わっている"),
    "lost minus sign": (-139.3158, 35.4027, "sign", "符号"),
    "Paris": (2.35, 48.85, "outside_japan", "日本の範囲外"),
}


@pytest.fixture(scope="module")
def disaster(client, users):
    r = client.post("/api/disasters", json={"name": "座標試験の災害"}, headers=users.bearer(client, "hq"))
    return r.json()["id"]


@pytest.mark.parametrize("case", IMPLAUSIBLE)
def test_implausible_incident_locations_are_422(client, app_engine, users, disaster, case):
    lon, lat, code, says = IMPLAUSIBLE[case]
    before = count(app_engine, "SELECT count(*) FROM ops.incident")
    body = {"category": "other", "title": "座標試験", "lon": lon, "lat": lat}
    r = client.post(f"/api/disasters/{disaster}/incidents", json=body, headers=users.bearer(client, "hq"))
    error = _bilingual(r, 422)
    assert error["reason"] == code and error["field"] == "location" and says in error["message_ja"]
    assert count(app_engine, "SELECT count(*) FROM ops.incident") == before


AREAS = {
    "unclosed ring": ([[[139.30, 35.40], [139.31, 35.40], [139.31, 35.41], [139.30, 35.41]]], "not closed"),
    "too few positions": ([[[139.30, 35.40], [139.31, 35.40], [139.30, 35.40]]], "fewer than 4"),
    "not numbers": ([[["139.30", "35.40"], [139.31, 35.40], [139.31, 35.41], ["139.30", "35.40"]]], "pairs"),
    "no rings": ([], "without rings"),
    "outside Japan": ([[[2.30, 48.80], [2.31, 48.80], [2.31, 48.81], [2.30, 48.80]]], "outside Japan"),
    "self-intersecting": (
        [[[139.30, 35.40], [139.31, 35.41], [139.31, 35.40], [139.30, 35.41], [139.30, 35.40]]],
        "Self-intersection",
    ),
}


@pytest.mark.parametrize("case", AREAS)
def test_invalid_incident_areas_are_422_never_500(client, app_engine, users, disaster, case):
    coords, says = AREAS[case]
    before = count(app_engine, "SELECT count(*) FROM ops.incident")
    body = {"category": "flooding", "title": "範囲試験", "lon": ISEHARA[0], "lat": ISEHARA[1],
            "area": {"type": "Polygon", "coordinates": coords}}  # fmt: skip
    error = _bilingual(client.post(f"/api/disasters/{disaster}/incidents", json=body,
                                   headers=users.bearer(client, "hq")), 422)  # fmt: skip
    assert error["field"] == "area" and says in error["message_en"], error
    assert count(app_engine, "SELECT count(*) FROM ops.incident") == before


def test_a_3d_area_is_stored_flat(client, users, disaster):
    ring = [[139.30, 35.40, 5], [139.31, 35.40, 5], [139.31, 35.41, 5], [139.30, 35.40, 5]]
    body = {"category": "flooding", "title": "高さ付き範囲", "lon": ISEHARA[0], "lat": ISEHARA[1],
            "area": {"type": "Polygon", "coordinates": [ring]}}  # fmt: skip
    r = client.post(f"/api/disasters/{disaster}/incidents", json=body, headers=users.bearer(client, "hq"))
    assert r.status_code == 201, r.text
    assert r.json()["area"]["type"] == "MultiPolygon" and len(r.json()["area"]["coordinates"][0][0][0]) == 2


@pytest.mark.parametrize("instance", ["public", "internal"])
@pytest.mark.parametrize("case", IMPLAUSIBLE)
def test_implausible_citizen_report_locations_are_422(instance, case, client, public_client, app_engine):
    lon, lat, code, says = IMPLAUSIBLE[case]
    c = public_client if instance == "public" else client
    before = count(app_engine, "SELECT count(*) FROM ops.citizen_report")
    r = c.post("/api/reports", data={"category": "fallen_tree", "lon": str(lon), "lat": str(lat)})
    error = _bilingual(r, 422)
    assert error["reason"] == code and says in error["message_ja"]
    assert count(app_engine, "SELECT count(*) FROM ops.citizen_report") == before


def test_implausible_people_csv_locations_are_refused_with_the_reason(client, app_engine, users, registry):
    rows = [
        _person(f"GEO-{i}", "座標 試験（架空）", lat, lon)
        for i, (lon, lat, _, _) in enumerate(IMPLAUSIBLE.values())
    ]
    error = _bilingual(
        _people(client, users.bearer(client, "admin"), "\n".join([PEOPLE_HEADER, *rows]).encode()), 422
    )
    by_row = {p["row"]: p for p in error["problems"] if p["column"] == "緯度"}
    assert "(0, 0)" in by_row[2]["problem_ja"] and "swapped" in by_row[3]["problem_en"]
    assert "緯度と経度が入れ替わっている" in by_row[3]["problem_ja"] and "sign" in by_row[4]["problem_en"]
    assert _stored_people(app_engine, "GEO-") == {}


# ------------------------------------------------------------------------------------------- MQTT
def test_implausible_radio_payloads_parse_to_dead_letters():
    now = int(datetime.now(UTC).timestamp())
    for lon, lat, code, _ in IMPLAUSIBLE.values():
        if abs(lat) > 90:
            continue  # a swap for Japan is refused by the latitude range already (invalid_payload)
        (pos,) = parse_radio_position("U", json.dumps({"lat": lat, "lon": lon, "ts": now}).encode())
        assert isinstance(pos, PayloadError) and pos.code == "implausible_location", pos
        report = parse_radio_incident(
            "U", json.dumps({"lat": lat, "lon": lon, "ts": now, "category": "fire"}).encode()
        )
        assert isinstance(report, PayloadError) and report.code == "implausible_location"
        assert REASONS[code][1] in report.reason and REASONS[code][0] in pos.reason


@pytest.fixture(scope="module")
def units(settings, app_engine):
    return register_devices(settings, app_engine, [DeviceSpec("HD-R", DeviceKind.radio_unit, "敵対試験無線")])


def _dead(app_engine, topic: str) -> list:
    with app_engine.connect() as conn:
        return conn.execute(
            text("SELECT reason_code, reason FROM ingest.dead_letter WHERE topic = :t ORDER BY id"),
            {"t": topic},
        ).all()


def test_radio_at_null_island_or_abroad_is_dead_lettered_not_stored(settings, app_engine, units, worker):
    c, _ = device_client(settings, "HD-R", units["HD-R"])
    ts = datetime.now(UTC).replace(microsecond=0).isoformat()
    incidents_before = count(app_engine, "SELECT count(*) FROM ops.incident WHERE source = 'radio'")
    for lon, lat in ((0.0, 0.0), (2.35, 48.85)):
        publish(c, radio_position_topic("HD-R"), json.dumps({"lat": lat, "lon": lon, "ts": ts}))
        publish(
            c,
            radio_incident_topic("HD-R"),
            json.dumps({"lat": lat, "lon": lon, "ts": ts, "category": "fire"}),
        )
    publish(c, radio_position_topic("HD-R"), json.dumps({"lat": ISEHARA[1], "lon": ISEHARA[0], "ts": ts}))
    c.disconnect()
    c.loop_stop()
    wait_until(
        lambda: count(app_engine, "SELECT count(*) FROM sensor.radio_position WHERE device_id = 'HD-R'") == 1,
        10,
    )
    wait_until(lambda: len(_dead(app_engine, radio_incident_topic("HD-R"))) == 2, 10)
    positions = _dead(app_engine, radio_position_topic("HD-R"))
    reports = _dead(app_engine, radio_incident_topic("HD-R"))
    assert [d.reason_code for d in positions + reports] == ["implausible_location"] * 4
    assert "(0, 0)" in positions[0].reason and "outside Japan" in positions[1].reason
    assert count(app_engine, "SELECT count(*) FROM ops.incident WHERE source = 'radio'") == incidents_before
