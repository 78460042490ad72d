"""Reading source files into one shape: a GeoDataFrame whose index is the 1-based feature number.

GDAL (through pyogrio) reads GeoJSON, Shapefile, GeoPackage and CityGML; shelter CSVs and OSM XML
have readers of their own (``csv_read``, ``osm``). Nothing here touches the database.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from pyproj import CRS
from pyproj.exceptions import CRSError

from layers.importers import archive
from layers.importers.errors import ImportRejected, Problem

# Checked on the file size before anything is read (settings-style constant; tests may lower it).
MAX_IMPORT_BYTES = 200 * 1024 * 1024

FORMATS = ("geojson", "shapefile", "gpkg", "citygml", "shelter_csv", "osm")
_SUFFIXES = {
    ".geojson": "geojson",
    ".json": "geojson",
    ".zip": "shapefile",
    ".shp": "shapefile",
    ".gpkg": "gpkg",
    ".gml": "citygml",
    ".csv": "shelter_csv",
    ".osm": "osm",
}
_SHP_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


@dataclass
class Source:
    frame: gpd.GeoDataFrame  # index = 1-based feature/row number in the source file
    format: str
    crs: str  # the CRS the file declares, as recorded on the layer (e.g. "EPSG:6668")
    rejected: list[Problem] = field(default_factory=list)  # rows refused while reading
    notes: list[dict] = field(default_factory=list)
    encoding: str | None = None
    layout: str | None = None  # which known table layout a CSV follows


def unreadable(detail: str) -> ImportRejected:
    return ImportRejected(
        f"ファイルを読み込めません（形式が正しくありません）: {detail}",
        f"The file could not be read (malformed or not of the stated format): {detail}",
        code="unreadable_file",
    )


def unknown_crs(declared: object) -> ImportRejected:
    return ImportRejected(
        f"座標参照系が不明です（{declared}）。EPSGコードを指定したファイルを使ってください。",
        f"Unknown coordinate reference system ({declared}); use a file that declares an EPSG code.",
        code="unknown_crs",
    )


def check_size(path: Path, limit: int | None = None) -> int:
    size = path.stat().st_size
    limit = MAX_IMPORT_BYTES if limit is None else limit
    if size > limit:
        raise ImportRejected(
            f"ファイルが大きすぎます（{size:,} バイト、上限 {limit:,} バイト）。",
            f"The file is too large ({size:,} bytes; the limit is {limit:,} bytes).",
            code="file_too_large",
        )
    if size == 0:
        raise unreadable("empty file / 空のファイル")
    return size


def detect_format(name: str, fmt: str | None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise ImportRejected(
                f"不明な形式です: {fmt}（使える形式: {', '.join(FORMATS)}）",
                f"Unknown format: {fmt} (known formats: {', '.join(FORMATS)})",
                code="unknown_format",
            )
        return fmt
    found = _SUFFIXES.get(Path(name).suffix.lower())
    if found is None:
        raise ImportRejected(
            f"ファイル名から形式を判定できません: {name}。format を指定してください。",
            f"Cannot tell the format from the file name {name}; give the format explicitly.",
            code="unknown_format",
        )
    return found


def resolve_crs(declared: object) -> CRS:
    try:
        return CRS.from_user_input(declared)
    except CRSError as e:
        raise unknown_crs(declared) from e


def _epsg_name(crs: CRS) -> str:
    code = crs.to_epsg()
    return f"EPSG:{code}" if code else crs.to_string()


def _read_gdal(path: str, **kwargs) -> gpd.GeoDataFrame:
    try:
        frame = pyogrio.read_dataframe(path, **kwargs)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError) as e:
        raise unreadable(str(e).replace(str(path), "<file>")) from e
    if kwargs.get("fid_as_index"):
        frame.attrs["fids"] = [int(f) for f in frame.index]
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame


def _with_crs(frame: gpd.GeoDataFrame, fmt: str, declared: CRS | None = None) -> Source:
    crs = declared or (CRS(frame.crs) if frame.crs is not None else None)
    if crs is None:
        raise unknown_crs("none declared / 記載なし")
    if declared is not None:
        frame = frame.set_crs(declared, allow_override=True)
    return Source(frame, fmt, _epsg_name(crs))


# --- GeoJSON -------------------------------------------------------------------------------------
def _geojson_declared_crs(path: Path) -> CRS | None:
    """The legacy ``crs`` member. GDAL quietly falls back to WGS84 on a name it cannot resolve,
    so the member is checked here and an unknown one refuses the file."""
    raw = path.read_bytes()
    if b'"crs"' not in raw:
        return None
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise unreadable(f"JSON: {e}") from e
    member = doc.get("crs") if isinstance(doc, dict) else None
    if member is None:
        return None
    name = (member.get("properties") or {}).get("name") if isinstance(member, dict) else None
    if not isinstance(name, str):
        raise unknown_crs(json.dumps(member, ensure_ascii=False)[:100])
    return resolve_crs(name)


def read_geojson(path: Path) -> Source:
    declared = _geojson_declared_crs(path)
    frame = _read_gdal(str(path), fid_as_index=True)
    # GDAL turns integer feature ``id`` members into FIDs (string ones become an ``id`` column); FIDs
    # other than its own 0, 1, 2 … are the source's ids, the stable key a re-import updates by.
    fids = frame.attrs.pop("fids", None)
    if fids is not None and "id" not in frame.columns and fids != list(range(len(frame))):
        frame.insert(0, "id", fids)
    return _with_crs(frame, "geojson", declared)


# --- Shapefile (zipped, or a .shp with its siblings) ------------------------------------------
_CPG = {
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "cp932": "cp932", "ms932": "cp932",
    "windows-31j": "cp932", "932": "cp932", "utf-8": "utf-8", "utf8": "utf-8", "65001": "utf-8",
}  # fmt: skip


def _dbf_encoding(dbf: bytes, cpg: str | None) -> tuple[str, list[dict]]:
    """Encoding of the DBF strings: the .cpg when it decodes them, else whichever of UTF-8 and CP932
    (the superset of Shift_JIS that Japanese software writes) decodes them strictly."""
    header_len = int.from_bytes(dbf[8:10], "little") if len(dbf) >= 10 else 0
    body = dbf[header_len:]
    notes: list[dict] = []
    hinted = _CPG.get(cpg.strip().lower()) if cpg else None
    for encoding in dict.fromkeys([e for e in (hinted, "utf-8", "cp932") if e]):
        try:
            body.decode(encoding)
        except UnicodeDecodeError:
            continue
        if cpg and encoding != hinted:
            notes.append(
                {
                    "ja": f".cpg（{cpg.strip()}）では読めないため {encoding} で読みました",
                    "en": f".cpg says {cpg.strip()!r}, which does not decode; read as {encoding}",
                }
            )
        return encoding, notes
    raise ImportRejected(
        "属性（DBF）の文字コードが壊れています（UTF-8 でも CP932 でも読めません）。",
        "The attribute (DBF) text encoding is broken: it decodes as neither UTF-8 nor CP932.",
        code="broken_encoding",
    )


def _unzip_shapefile(path: Path, into: Path, *, capped: bool = True) -> Path:
    """The shapefile's parts, written under our own plain names (no path from the archive is ever used:
    zip-slip). ``capped=False`` only for bench/zip_bomb.py, to measure what the caps save."""
    if capped:
        archive.check_entry_count(path)
    try:
        with zipfile.ZipFile(path) as zf:
            if capped:
                archive.check_declared(zf.infolist())
            names = [n for n in zf.namelist() if not n.endswith("/") and "__MACOSX" not in n]
            shps = [n for n in names if n.lower().endswith(".shp")]
            if len(shps) != 1:
                raise ImportRejected(
                    f"ZIP にはシェープファイルを1つだけ入れてください（{len(shps)} 個ありました）。",
                    f"The ZIP must hold exactly one shapefile ({len(shps)} found).",
                    code="unreadable_file",
                )
            stem = shps[0][:-4]
            budget = archive.Budget(capped)
            for n in names:
                ext = n[len(stem) :].lower()
                if n[: len(stem)] == stem and ext in _SHP_PARTS:
                    archive.extract(zf, zf.getinfo(n), into / f"source{ext}", budget)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, zlib.error) as e:
        raise unreadable(f"ZIP: {e}") from e
    if not (into / "source.dbf").exists() or not (into / "source.shx").exists():
        raise unreadable(".shp needs its .shx and .dbf / .shx と .dbf が必要です")
    return into / "source.shp"


def read_shapefile(path: Path) -> Source:
    with tempfile.TemporaryDirectory(prefix="gisapp-shp-") as tmp:
        shp = _unzip_shapefile(path, Path(tmp)) if path.suffix.lower() == ".zip" else path
        cpg_path, dbf_path = shp.with_suffix(".cpg"), shp.with_suffix(".dbf")
        cpg = cpg_path.read_text("ascii", errors="replace") if cpg_path.exists() else None
        if not dbf_path.exists():
            raise unreadable(".dbf missing / .dbf がありません")
        encoding, notes = _dbf_encoding(dbf_path.read_bytes(), cpg)
        source = _with_crs(_read_gdal(str(shp), encoding=encoding), "shapefile")
    source.encoding, source.notes = encoding, notes
    return source


# --- GeoPackage ----------------------------------------------------------------------------------
def read_gpkg(path: Path) -> Source:
    try:
        layers = [str(name) for name, gtype in pyogrio.list_layers(str(path)) if gtype]
    except pyogrio.errors.DataSourceError as e:
        raise unreadable(str(e).replace(str(path), "<file>")) from e
    if len(layers) != 1:
        raise ImportRejected(
            f"GeoPackage には地物レイヤーを1つだけ入れてください（{', '.join(layers) or 'なし'}）。",
            f"The GeoPackage must hold exactly one feature layer (found: {', '.join(layers) or 'none'}).",
            code="unreadable_file",
        )
    return _with_crs(_read_gdal(str(path), layer=layers[0]), "gpkg")


# --- PLATEAU CityGML -----------------------------------------------------------------------------
def read_citygml(path: Path) -> Source:
    """GDAL's GML driver knows EPSG:6697 (JGD2011 + height, latitude first) and returns lon/lat;
    every feature type in the file is read, its name kept as ``feature_type``."""
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(str(path))]
    except pyogrio.errors.DataSourceError as e:
        raise unreadable(str(e).replace(str(path), "<file>")) from e
    frames = []
    for name in layers:
        # WRITE_GFS=NO: never write a schema file beside the source (it may be read-only).
        frame = _read_gdal(str(path), layer=name, WRITE_GFS="NO")
        frame.insert(0, "feature_type", name)
        frames.append(frame)
    if not frames:
        raise unreadable("no features / 地物がありません")
    crs = {str(f.crs) for f in frames}
    if len(crs) != 1:
        raise unknown_crs(", ".join(sorted(crs)))
    frame = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    source = _with_crs(frame, "citygml")
    srs = _gml_srs_name(path)
    if srs:
        source.crs = _epsg_name(resolve_crs(srs))
    return source


def _gml_srs_name(path: Path) -> str | None:
    """The srsName the file declares (e.g. EPSG:6697), recorded as the source CRS."""
    with path.open("rb") as f:
        head = f.read(65536).decode("utf-8", errors="replace")
    marker = 'srsName="'
    start = head.find(marker)
    if start < 0:
        return None
    return head[start + len(marker) : head.find('"', start + len(marker))]
