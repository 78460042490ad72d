"""Shelters out as the 自治体標準オープンデータセット 指定緊急避難場所 CSV (39 columns), the layout the
importer reads back to the same rows: typed columns fill their standard columns, the other source
columns come from ``attributes``; a code the importer made up (``h:…``) is written as an empty ID.
Formula-like text is neutralised (``common.csvsafe``); the importer undoes it, so the round trip holds.
全国地方公共団体コード and 地方公共団体名 (the publishing city) come from the source row when it had them, else
from the city's settings (GISAPP_MUNICIPALITY_CODE, GISAPP_PREFECTURE + GISAPP_MUNICIPALITY), so a list the
city keyed in itself is published complete and a city's own standard file still comes back byte for byte.
UTF-8 files start with a BOM: Excel, which most readers open them with, reads BOM-less UTF-8 as CP932."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy import Connection, text

from common import csvsafe
from layers.importers.mapping import SUITS

STANDARD_COLUMNS = (
    "全国地方公共団体コード", "ID", "名称", "名称_カナ", "名称_英字", "所在地_全国地方公共団体コード", "町字ID",
    "所在地_連結表記", "所在地_都道府県", "所在地_市区町村", "所在地_町字", "所在地_番地以下", "建物名等(方書)",
    "緯度", "経度", "標高", "電話番号", "内線番号", "連絡先メールアドレス", "連絡先FormURL",
    "連絡先備考（その他、SNSなど）", "郵便番号", "市区町村コード", "地方公共団体名",
    "災害種別_洪水", "災害種別_崖崩れ、土石流及び地滑り", "災害種別_高潮", "災害種別_地震", "災害種別_津波",
    "災害種別_大規模な火事", "災害種別_内水氾濫", "災害種別_火山現象", "指定避難所との重複", "想定収容人数",
    "対象となる町会・自治会", "URL", "画像", "画像_ライセンス", "備考",
)  # fmt: skip
FLAG_COLUMN = {column: names[1] for column, names in SUITS.items()}  # suits_flood -> 災害種別_洪水
ENCODINGS = ("utf-8", "cp932")
# The IANA charset name of each encoding for Content-Type: CP932 is registered as Windows-31J
# (Shift_JIS names the smaller JIS X 0208 table, without ①, ㎡ or the NEC/IBM extensions).
CHARSETS = {"utf-8": "utf-8", "cp932": "Windows-31J"}


@dataclass(frozen=True)
class City:
    """The publishing city: 全国地方公共団体コード (6 digits, checked by the settings) and 地方公共団体名."""

    code: str
    name: str


_SELECT = """SELECT code, name, address, capacity, is_designated_shelter, suits_flood, suits_landslide,
              suits_storm_surge, suits_earthquake, suits_tsunami, suits_fire, suits_inland_flood,
              suits_volcano, attributes, ST_X(geom) AS lon, ST_Y(geom) AS lat"""
# The public instance reads the published view; nothing else differs.
_ROWS = {
    False: text(_SELECT + " FROM gis.shelter WHERE layer_id = :layer_id ORDER BY id"),
    True: text(_SELECT + " FROM pub.shelter WHERE layer_id = :layer_id ORDER BY id"),
}


def _flag(value: bool) -> str:
    return "1" if value else ""


def shelters_csv(conn: Connection, layer_id: int, *, public: bool = False, city: City | None = None) -> str:
    """The layer's shelters as CSV text (CRLF, as the standard's files are)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(STANDARD_COLUMNS)
    for r in conn.execute(_ROWS[public], {"layer_id": layer_id}).mappings():
        values = {k: "" if v is None else str(v) for k, v in (r["attributes"] or {}).items()}
        values.update({
            "ID": "" if r["code"].startswith("h:") else r["code"],
            "名称": r["name"],
            "所在地_連結表記": r["address"],
            "緯度": repr(r["lat"]),
            "経度": repr(r["lon"]),
            "指定避難所との重複": _flag(r["is_designated_shelter"]),
            "想定収容人数": "" if r["capacity"] is None else str(r["capacity"]),
        })  # fmt: skip
        values.update({FLAG_COLUMN[c]: _flag(r[c]) for c in FLAG_COLUMN})
        if city is not None:
            values["全国地方公共団体コード"] = values.get("全国地方公共団体コード") or city.code
            values["地方公共団体名"] = values.get("地方公共団体名") or city.name
        writer.writerow(csvsafe.row(values.get(c, "") for c in STANDARD_COLUMNS))
    return out.getvalue()


def encode(csv_text: str, encoding: str) -> bytes:
    """CP932 for spreadsheet users on Windows; refuses characters CP932 cannot hold. UTF-8 with a BOM."""
    try:
        return csv_text.encode("utf-8-sig" if encoding == "utf-8" else encoding)
    except UnicodeEncodeError as e:
        bad = csv_text[e.start : e.end]
        raise ValueError(
            f"{encoding} で書けない文字があります（{bad!r}）。--encoding utf-8 を使ってください。\n"
            f"Characters {bad!r} cannot be written in {encoding}; use --encoding utf-8."
        ) from e
