"""Map tiles (WebMercatorQuad, 256 px, PNG or WebP) from a catalogued COG, by rio-tiler.

rio-tiler reprojects from the file's own CRS for each tile and masks what lies outside the data, so a
tile is transparent there; a tile wholly outside is one fixed transparent image.

A GDAL dataset handle must not be read by two threads at once, so the open ``Reader``s are kept per
worker thread (the route runs in the threadpool), keyed by the file's sha256: a file is opened once
per thread that serves it, not once per tile. Rendered tiles are kept in a small byte-bounded LRU
shared by the process, keyed by sha256 too, so a replaced picture never serves an old tile.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from functools import cache
from pathlib import Path

from PIL import Image
from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader

TILE_SIZE = 256
FORMATS = {"png": ("PNG", "image/png"), "webp": ("WEBP", "image/webp")}
READERS_PER_THREAD = 8
TILE_CACHE_BYTES = 64 * 1024 * 1024

_local = threading.local()


def _reader(path: Path, sha256: str) -> Reader:
    readers: OrderedDict[str, Reader] | None = getattr(_local, "readers", None)
    if readers is None:
        readers = _local.readers = OrderedDict()
    reader = readers.get(sha256)
    if reader is not None:
        readers.move_to_end(sha256)
        return reader
    reader = readers[sha256] = Reader(str(path))
    while len(readers) > READERS_PER_THREAD:
        readers.popitem(last=False)[1].close()
    return reader


def zoom_range(path: Path) -> tuple[int, int]:
    """The zooms at which the picture has detail (rio-tiler's, from its resolution and overviews)."""
    with Reader(str(path)) as reader:
        return int(reader.minzoom), int(reader.maxzoom)


@cache
def transparent(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (TILE_SIZE, TILE_SIZE), (0, 0, 0, 0)).save(out, FORMATS[fmt][0], lossless=True)
    return out.getvalue()


class _TileCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes, self.size = max_bytes, 0
        self.entries: OrderedDict[tuple, bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple) -> bytes | None:
        with self.lock:
            data = self.entries.get(key)
            if data is not None:
                self.entries.move_to_end(key)
            return data

    def put(self, key: tuple, data: bytes) -> None:
        with self.lock:
            if key in self.entries or len(data) > self.max_bytes // 16:
                return
            self.entries[key] = data
            self.size += len(data)
            while self.size > self.max_bytes:
                self.size -= len(self.entries.popitem(last=False)[1])


_tiles = _TileCache(TILE_CACHE_BYTES)


def render_tile(path: Path, sha256: str, band_count: int, z: int, x: int, y: int, fmt: str) -> bytes:
    """The tile as PNG or WebP bytes (``fmt`` from FORMATS); transparent outside the data."""
    key = (sha256, z, x, y, fmt)
    data = _tiles.get(key)
    if data is not None:
        return data
    reader = _reader(path, sha256)
    paletted = band_count == 1 and bool(reader.colormap)
    # Grey is drawn as three equal bands: WebP takes RGB(A) only. The alpha band of RGBA is the mask.
    indexes = (1,) if paletted else (1, 1, 1) if band_count == 1 else (1, 2, 3)
    try:
        image = reader.tile(x, y, z, tilesize=TILE_SIZE, indexes=indexes)
    except TileOutsideBounds:
        return transparent(fmt)
    if not image.mask.any():
        data = transparent(fmt)
    else:
        options = {"lossless": True} if fmt == "webp" else {}
        data = image.render(img_format=FORMATS[fmt][0], colormap=reader.colormap if paletted else None,
                            **options)  # fmt: skip
    _tiles.put(key, data)
    return data
