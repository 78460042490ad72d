"""Check an uploaded GeoTIFF and turn it into the Cloud-Optimized GeoTIFF we serve tiles from.

What we take (anything else is refused with the reason, nothing stored):
- a GeoTIFF or COG that GDAL reads, with a CRS among JGD2011 geographic (EPSG:6668), WGS 84 (4326) and
  the nineteen JGD2011 plane-rectangular zones (EPSG:6669–6687), and a north-up geotransform (a file
  without one, with ground control points only, or rotated, is refused: warp it first);
- 1 band of bytes (grey or paletted), 3 bands of bytes (RGB) or 4 (RGBA, the fourth an alpha band).
  Other types (16-bit, float: elevation models, raw satellite bands) are refused rather than scaled:
  a stretch we would guess is a picture the department did not choose;
- at most ``max_bytes`` on disk and ``max_pixels_bytes`` once decompressed (width × height × bands ×
  bytes per sample), so a few compressed megabytes cannot claim terabytes (a zip bomb).

The source CRS is kept (rio-tiler reprojects each tile on the fly); the COG is deflate-compressed
(lossless), tiled 512², with overviews. An upload that already is a valid COG is kept as it is.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import rasterio
from rasterio.enums import ColorInterp
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.warp import transform_bounds
from rio_cogeo.cogeo import cog_translate, cog_validate
from rio_cogeo.profiles import cog_profiles

from layers.raster.errors import RasterRejected, RasterTooLarge
from layers.raster.limits import MAX_BYTES, MAX_PIXELS_BYTES

ACCEPTED_EPSG = frozenset({4326, 6668, *range(6669, 6688)})
ACCEPTED_DRIVERS = frozenset({"GTiff", "COG"})


@dataclass(frozen=True)
class RasterInfo:
    """What the catalogue keeps of a checked raster."""

    source_crs: str
    width: int
    height: int
    band_count: int
    dtype: str
    bounds: tuple[float, float, float, float]  # west, south, east, north (CRS84)
    paletted: bool


def _refuse(ja: str, en: str, code: str, **details: object) -> RasterRejected:
    return RasterRejected(ja, en, code=code, **details)


def inspect(
    path: Path, *, max_bytes: int = MAX_BYTES, max_pixels_bytes: int = MAX_PIXELS_BYTES
) -> RasterInfo:
    """Read the file's header only and check it; raises RasterRejected with the reason."""
    size = path.stat().st_size
    if size > max_bytes:
        raise RasterTooLarge(
            f"ファイルが大きすぎます（{size:,} バイト、上限 {max_bytes:,} バイト）。",
            f"The file is too large ({size:,} bytes; the limit is {max_bytes:,} bytes).",
            code="file_too_large",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # refused below with a message
            with rasterio.open(path) as src:
                return _check(src, max_pixels_bytes)
    except RasterioIOError as e:
        raise _refuse(
            "GeoTIFF として読めません。", f"The file cannot be read as a GeoTIFF ({e}).", "unreadable"
        ) from e


def _check(src: rasterio.DatasetReader, max_pixels_bytes: int) -> RasterInfo:
    if src.driver not in ACCEPTED_DRIVERS:
        raise _refuse(
            f"GeoTIFF（COG を含む）だけを受け付けます（この形式: {src.driver}）。",
            f"Only GeoTIFF (including COG) is accepted (this file: {src.driver}).",
            "unsupported_format",
        )
    t = src.transform
    if src.crs is None or t.is_identity:
        raise _refuse(
            "位置情報（座標参照系とジオトランスフォーム）のない画像です。GIS ソフトで位置合わせ（ジオリファレンス）"
            "してから取り込んでください。",
            "The image is not georeferenced (it has no coordinate reference system and geotransform)."
            " Georeference it in a GIS first.",
            "not_georeferenced",
        )
    if t.b != 0 or t.d != 0:
        raise _refuse(
            "回転したジオトランスフォームの画像は受け付けません。北を上にして再投影（gdalwarp）してください。",
            "Rotated geotransforms are not accepted: warp the image north-up first (gdalwarp).",
            "rotated",
        )
    epsg = src.crs.to_epsg()
    if epsg not in ACCEPTED_EPSG:
        raise _refuse(
            f"座標参照系 {src.crs.to_string()[:80]} は受け付けません。JGD2011 の平面直角座標系（EPSG:6669〜6687）"
            "または経緯度（EPSG:6668・4326）にしてください。",
            f"CRS {src.crs.to_string()[:80]} is not accepted: use a JGD2011 plane-rectangular zone"
            " (EPSG:6669–6687) or latitude/longitude (EPSG:6668, 4326).",
            "unsupported_crs",
        )
    dtypes = set(src.dtypes)
    interp = list(src.colorinterp)
    paletted = src.count == 1 and interp[0] == ColorInterp.palette
    usable = dtypes == {"uint8"} and (
        src.count in (1, 3) or (src.count == 4 and interp[3] == ColorInterp.alpha)
    )
    if not usable:
        raise _refuse(
            f"帯域の構成を表示できません（{src.count} バンド、{'/'.join(sorted(dtypes))}）。"
            "8 ビットのグレー・パレット（1 バンド）、RGB（3 バンド）または RGBA（4 バンド、4 番目がアルファ）にしてください。",
            f"This band layout cannot be shown ({src.count} bands, {'/'.join(sorted(dtypes))}). Use 8-bit"
            " grey or paletted (1 band), RGB (3 bands) or RGBA (4 bands, the fourth alpha).",
            "unsupported_bands",
        )
    decompressed = src.width * src.height * src.count  # bytes: every band is uint8
    if decompressed > max_pixels_bytes:
        raise RasterTooLarge(
            f"展開後の画像が大きすぎます（{src.width}×{src.height}×{src.count}、{decompressed:,} バイト、"
            f"上限 {max_pixels_bytes:,} バイト）。",
            f"The image is too large once decompressed ({src.width}×{src.height}×{src.count},"
            f" {decompressed:,} bytes; the limit is {max_pixels_bytes:,} bytes).",
            code="too_many_pixels",
        )
    west, south, east, north = transform_bounds(src.crs, "EPSG:4326", *src.bounds, densify_pts=21)
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise _refuse(
            "画像の範囲が地球上にありません。", "The image's extent is not on the Earth.", "bad_extent"
        )
    return RasterInfo(f"EPSG:{epsg}", src.width, src.height, src.count, "uint8",
                      (west, south, east, north), paletted)  # fmt: skip


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_cog(path: Path) -> bool:
    valid, errors, _warnings = cog_validate(str(path), quiet=True)
    return bool(valid) and not errors


def to_cog(path: Path, directory: Path, info: RasterInfo) -> tuple[str, Path, bool]:
    """Write the COG of ``path`` into ``directory`` as ``<sha256>.tif``: (sha256, final path, whether
    the file is new). Written
    to a temporary name and renamed, so a half-written file never carries a catalogued name."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".upload-", suffix=".tif", dir=directory)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if is_cog(path):
            shutil.copyfile(path, tmp)
        else:
            profile = cog_profiles.get("deflate")
            profile.update(blockxsize=512, blockysize=512)
            cog_translate(
                str(path), str(tmp), profile, quiet=True, in_memory=False,
                # A palette's indexes must not be averaged into colours it does not have.
                overview_resampling="nearest" if info.paletted else "average",
            )  # fmt: skip
        sha = sha256_of(tmp)
        final = directory / f"{sha}.tif"
        if final.exists():  # the same picture uploaded again (another slug): one file serves both
            tmp.unlink()
            return sha, final, False
        os.replace(tmp, final)
        return sha, final, True
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
