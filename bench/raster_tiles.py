"""Raster layers (docs/raster.md): how long a GeoTIFF takes to check and convert to a COG, and a map tile
to draw from it — cold (file opened by this thread, nothing drawn yet), drawn again with the file open
(tile LRU cleared), and answered from the LRU. No database and no HTTP: the domain calls the routes make.
Figures printed, never asserted.

    PYTHONPATH=. .venv/bin/python bench/raster_tiles.py [--size 8192] [--tiles 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import morecantile
import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from layers.raster import cog, render  # noqa: E402


def ortho(path: Path, size: int) -> Path:
    """An 8-bit RGB picture at 0.25 m in EPSG:6677 around 伊勢原, with texture (deflate has work to do),
    written in strips as a plain (not cloud-optimized) GeoTIFF."""
    x0, y0 = Transformer.from_crs(4326, 6677, always_xy=True).transform(139.30, 35.40)
    rng = np.random.default_rng(15)
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3, dtype="uint8",
                       crs="EPSG:6677", transform=from_origin(x0, y0, 0.25, 0.25), compress="deflate") as dst:  # fmt: skip
        for row in range(0, size, 512):
            h = min(512, size - row)
            base = (np.add.outer(np.arange(row, row + h), np.arange(size)) // 16 % 256).astype("uint8")
            for b in range(3):
                noise = rng.integers(0, 24, (h, size), dtype="uint8")
                dst.write(base + noise, b + 1, window=((row, row + h), (0, size)))
    return path


def ms(samples: list[float]) -> str:
    s = sorted(samples)
    return f"median {statistics.median(s) * 1000:.1f} ms, p95 {s[int(len(s) * 0.95) - 1] * 1000:.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=8192)
    ap.add_argument("--tiles", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = ortho(Path(tmp) / "ortho.tif", args.size)
        t = time.perf_counter()
        info = cog.inspect(src)
        inspected = time.perf_counter() - t
        t = time.perf_counter()
        sha, path, _ = cog.to_cog(src, Path(tmp) / "rasters", info)
        converted = time.perf_counter() - t
        print(f"picture {args.size}×{args.size} RGB, {src.stat().st_size / 2**20:.1f} MiB GeoTIFF → COG "
              f"{path.stat().st_size / 2**20:.1f} MiB; check {inspected * 1000:.0f} ms, convert {converted:.1f} s")  # fmt: skip
        tms = morecantile.tms.get("WebMercatorQuad")
        for z in (14, 17, 19):
            tiles = list(tms.tiles(*info.bounds, zooms=[z]))[: args.tiles]
            for fmt in ("png", "webp"):
                render._local.readers = None  # this thread opens the file again: cold
                render._tiles.entries.clear()
                render._tiles.size = 0
                cold, drawn, cached = [], [], []
                for i, tile in enumerate(tiles):
                    t = time.perf_counter()
                    render.render_tile(path, sha, 3, tile.z, tile.x, tile.y, fmt)
                    (cold if i == 0 else drawn).append(time.perf_counter() - t)
                for tile in tiles:
                    t = time.perf_counter()
                    render.render_tile(path, sha, 3, tile.z, tile.x, tile.y, fmt)
                    cached.append(time.perf_counter() - t)
                print(f"z{z} {fmt}: {len(tiles)} tiles; first (opens the file) {cold[0] * 1000:.0f} ms; "
                      f"drawn {ms(drawn) if drawn else '—'}; from the LRU {ms(cached)}")  # fmt: skip
        # Two threads at once (the threadpool): each keeps its own open file.
        tiles = list(tms.tiles(*info.bounds, zooms=[18]))[: args.tiles]
        render._tiles.entries.clear()
        render._tiles.size = 0
        halves = [tiles[0::2], tiles[1::2]]
        t = time.perf_counter()
        threads = [threading.Thread(target=lambda h=h: [render.render_tile(path, sha, 3, x.z, x.x, x.y, "png")
                                                         for x in h]) for h in halves]  # fmt: skip
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.perf_counter() - t
        print(
            f"z18 png, 2 threads: {len(tiles)} tiles in {elapsed:.2f} s = {len(tiles) / elapsed:.0f} tiles/s drawn"
        )


if __name__ == "__main__":
    main()
