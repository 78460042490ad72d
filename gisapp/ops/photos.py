"""Photos attached to citizen reports (通報写真): only real JPEG or PNG images are kept, and never as
sent. Each is decoded (which proves it is an image and not, say, a script named .jpg), turned upright
by its EXIF orientation, shrunk to at most ``LONG_SIDE`` pixels and re-encoded from the bare pixels,
so no EXIF, GPS position, XMP, ICC profile or text chunk of the sender's camera survives."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from gisapp.ops.errors import OpsError

MAX_BYTES = 10 * 1024 * 1024  # what a phone camera sends; more is refused with 413
MAX_PIXELS = 40_000_000  # a decompression bomb is a small file that decodes to billions of pixels
LONG_SIDE = 2048
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}
JPEG_QUALITY = 85


class PhotoTooLarge(OpsError):
    status, code = 413, "photo_too_large"


class PhotoInvalid(OpsError):
    """Not a JPEG/PNG, or one that cannot be decoded."""

    status, code = 415, "photo_invalid"


@dataclass(frozen=True)
class CleanPhoto:
    data: bytes
    media_type: str  # image/jpeg or image/png
    width: int
    height: int


def too_large() -> PhotoTooLarge:
    mb = MAX_BYTES // (1024 * 1024)
    return PhotoTooLarge(
        f"写真が大きすぎます（{mb} MB まで）。", f"The photo is too large ({mb} MB max).", field="photo"
    )


def _invalid(why: str) -> PhotoInvalid:
    return PhotoInvalid(
        "写真は JPEG または PNG の画像ファイルを選んでください（読み取れませんでした）。",
        f"The photo must be a JPEG or PNG image ({why}).",
        field="photo",
    )


def clean_photo(data: bytes) -> CleanPhoto:
    """Verify and re-encode ``data``; PhotoTooLarge or PhotoInvalid (both 4xx) otherwise."""
    if len(data) > MAX_BYTES:
        raise too_large()
    if not data:
        raise _invalid("empty file")
    try:
        # Opening reads the header only; the pixel count is checked before anything is decoded.
        # (Pillow's own bomb check would only warn below ~180 Mpx.)
        img = Image.open(io.BytesIO(data), formats=list(FORMATS))
        fmt = img.format
        if img.width * img.height > MAX_PIXELS:
            raise _invalid(f"more than {MAX_PIXELS // 1_000_000} megapixels")
        img.load()  # decodes every byte: a truncated or corrupt file fails here
        img = ImageOps.exif_transpose(img)
    except PhotoInvalid:
        raise
    except UnidentifiedImageError as e:
        raise _invalid("not an image") from e
    except Image.DecompressionBombError as e:
        raise _invalid("too many pixels") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise _invalid("damaged or truncated") from e
    mode = "RGBA" if fmt == "PNG" and ("A" in img.getbands() or "transparency" in img.info) else "RGB"
    if img.mode == "L":
        mode = "L"
    img = img.convert(mode)
    img.thumbnail((LONG_SIDE, LONG_SIDE), Image.Resampling.LANCZOS)
    # A new image from the raw pixels carries no info dict at all: nothing of the original's
    # metadata can be written back by the encoder.
    bare = Image.frombytes(img.mode, img.size, img.tobytes())
    out = io.BytesIO()
    if fmt == "JPEG":
        bare.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        bare.save(out, "PNG", optimize=True)
    return CleanPhoto(out.getvalue(), FORMATS[fmt], bare.width, bare.height)
