"""Shelter lists as CSV: the 自治体標準オープンデータセット 指定緊急避難場所 layout (39 columns), its older
推奨データセット form, the 国土地理院 指定避難所 / 指定緊急避難場所 layouts and city lists with 緯度/経度.

Encoding: UTF-8 (with or without BOM) or CP932, decided by strict decoding; anything else is refused.
Coordinates: decimal degrees in JGD2011 (EPSG:6668), which is what these lists use.
Line breaks: CRLF, LF, or a bare CR (old Mac and some Excel exports); a NUL byte refuses the file.
"""

from __future__ import annotations

import csv
import io
import math
import unicodedata
from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely import points

from common.csvsafe import restore
from layers.importers.errors import ImportRejected, Problem
from layers.importers.read import Source, unreadable

CSV_CRS = "EPSG:6668"
LAT_COLUMNS = ("緯度", "lat", "latitude", "Latitude", "LAT")
LON_COLUMNS = ("経度", "lon", "lng", "longitude", "Longitude", "LON")


def decode(raw: bytes) -> tuple[str, str]:
    """Text and the encoding it was read with: UTF-8 (BOM or not) first, then CP932 (not shift_jis:
    CP932 also has the NEC/IBM extensions such as ㎡ and ①)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        candidates = ("utf-8-sig",)
    else:
        candidates = ("utf-8", "cp932")
    for encoding in candidates:
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise ImportRejected(
        "CSV の文字コードが壊れています（UTF-8 でも CP932（Shift_JIS）でも読めません）。",
        "The CSV's text encoding is broken: it decodes as neither UTF-8 nor CP932 (Shift_JIS).",
        code="broken_encoding",
    )


def rows_of(text: str) -> list[list[str]]:
    """The CSV's rows. A bare CR is a line break (the csv module splits CRLF, LF and CR alike when it
    reads with newline=""); a NUL byte, an unterminated quote running into a huge field or anything
    else the csv module refuses is an unreadable file, never a server error."""
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ImportRejected(
            f"CSV に NUL 文字（0x00）が含まれています（{line} 行目付近）。CSV ではなく別の形式のファイルの可能性があります。",
            f"The CSV contains a NUL byte (0x00) near line {line}; it may not be a CSV file at all.",
            code="unreadable_file",
        )
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as e:
        raise unreadable(f"CSV: {e}") from e


def layout_of(header: list[str]) -> str:
    cols = set(header)
    if "全国地方公共団体コード" in cols and "災害種別_洪水" in cols:
        return "municipal_standard"  # 自治体標準オープンデータセット
    if "災害種別_洪水" in cols:
        return "municipal_legacy"  # older 推奨データセット layout
    if "施設・場所名" in cols and "洪水" in cols:
        return "gsi_emergency_site"  # 国土地理院 指定緊急避難場所
    if "施設・場所名" in cols:
        return "gsi_shelter"  # 国土地理院 指定避難所
    if any(c.startswith("開設される災害の種類") for c in cols):
        return "city_shelter"  # a city's own 避難所 list
    return "csv_points"


def _number(value: str) -> float | None:
    text = unicodedata.normalize("NFKC", value).strip()
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _pick(header: list[str], names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in header), None)


def read_csv(path: Path) -> Source:
    text, encoding = decode(path.read_bytes())
    rows = rows_of(text)
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
    if len(rows) < 2:
        raise unreadable("no data rows / データ行がありません")
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header):
        raise unreadable("duplicate column names / 列名が重複しています")
    lat_col, lon_col = _pick(header, LAT_COLUMNS), _pick(header, LON_COLUMNS)
    if lat_col is None or lon_col is None:
        raise unreadable("緯度・経度の列がありません / no latitude and longitude columns")

    rejected: list[Problem] = []
    kept: list[dict[str, str]] = []
    numbers, xs, ys = [], [], []
    for n, cells in enumerate(rows[1:], start=1):
        if len(cells) != len(header):
            rejected.append(
                Problem(
                    n,
                    f"列の数が {len(cells)} です（見出しは {len(header)} 列）",
                    f"has {len(cells)} columns; the header has {len(header)}",
                )
            )
            continue
        # Our own export neutralised formula-like cells with a leading ' (common.csvsafe): undone here.
        record = {h: restore(c.strip()) for h, c in zip(header, cells, strict=True)}
        lat, lon = _number(record[lat_col]), _number(record[lon_col])
        if lat is None or lon is None:
            rejected.append(
                Problem(
                    n,
                    f"緯度・経度が数値ではありません（{record[lat_col]!r}, {record[lon_col]!r}）",
                    f"latitude/longitude is not a number ({record[lat_col]!r}, {record[lon_col]!r})",
                )
            )
            continue
        kept.append(record)
        numbers.append(n)
        xs.append(lon)
        ys.append(lat)
    frame = gpd.GeoDataFrame(
        pd.DataFrame(kept, columns=header, index=pd.Index(numbers, dtype="int64")),
        geometry=points(xs, ys) if xs else [],
        crs=CSV_CRS,
    )
    return Source(frame, "shelter_csv", CSV_CRS, rejected, encoding=encoding, layout=layout_of(header))
