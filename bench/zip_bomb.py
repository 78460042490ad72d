"""Peak memory of importing a zip bomb: the base commit's extraction (6211bce) against this one's caps.

The bomb is what issue 10 reported: a shapefile ZIP of about 1 MB whose ``.shp`` unpacks to 1 GiB (a real
one-point shapefile followed by zeros). Each import runs in a fresh process against a fresh local stack
(PostGIS), through ``layers.importers.import_file`` as the API and the CLI call it; the figure is the
process's peak RSS (``ru_maxrss``) minus its RSS just before the import.

    python bench/zip_bomb.py [--gib 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_bomb(folder: Path, pad_bytes: int) -> Path:
    import geopandas as gpd
    from shapely import Point

    gpd.GeoDataFrame(
        {"名称": ["伊勢原市役所"]}, geometry=[Point(139.3158, 35.4027)], crs="EPSG:6668"
    ).to_file(folder / "s.shp")
    out = folder / "bomb.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for ext in (".shp", ".shx", ".dbf", ".prj"):
            with zf.open(f"s{ext}", "w", force_zip64=True) as w:
                w.write((folder / f"s{ext}").read_bytes())
                if ext == ".shp":
                    zero = bytes(1 << 20)
                    for _ in range(pad_bytes >> 20):
                        w.write(zero)
    return out


def base_commit_unzip(path: Path, into: Path) -> Path:
    """``layers.importers.read._unzip_shapefile`` as it was at 6211bce (each member read whole)."""
    from layers.importers.read import _SHP_PARTS, ImportRejected, unreadable

    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/") and "__MACOSX" not in n]
            shps = [n for n in names if n.lower().endswith(".shp")]
            if len(shps) != 1:
                raise ImportRejected("ZIP", "ZIP", code="unreadable_file")
            stem = shps[0][:-4]
            for n in names:
                ext = n[len(stem) :].lower()
                if n[: len(stem)] == stem and ext in _SHP_PARTS:
                    (into / f"source{ext}").write_bytes(zf.read(n))
    except zipfile.BadZipFile as e:
        raise unreadable(f"ZIP: {e}") from e
    return into / "source.shp"


def child(variant: str, bomb: str, slug: str) -> None:
    """One import in this process; prints a JSON line with the figures."""
    from sqlalchemy import text

    from gisapp.db import make_engine, transaction
    from gisapp.settings import Settings
    from layers.importers import ImportRejected, get_target, import_file
    from layers.importers import read as readers

    if variant == "before":
        readers._unzip_shapefile = lambda path, into, **_: base_commit_unzip(path, into)
    elif variant == "uncapped":  # this branch's streamed extraction with the caps switched off
        unzip = readers._unzip_shapefile
        readers._unzip_shapefile = lambda path, into, **_: unzip(path, into, capped=False)
    engine = make_engine(Settings().database_url)
    with transaction(engine, ["admin"]) as conn:
        dept = conn.execute(
            text(
                """INSERT INTO core.department (code, name_ja, name_en) VALUES ('bench_zip', '試験課', 'Bench')
                   ON CONFLICT (code) DO UPDATE SET name_en = EXCLUDED.name_en RETURNING id"""
            )
        ).scalar_one()
        conn.execute(
            text(
                """INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind,
                     geometry_type) VALUES (:s, :s, :s, :d, 'internal', 'generic', 'Geometry')"""
            ),
            {"s": slug, "d": dept},
        )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    clock = time.perf_counter()
    outcome = "stored"
    with transaction(engine, ["admin"]) as conn:
        try:
            import_file(conn, get_target(conn, slug), Path(bomb), actor="bench")
        except ImportRejected as e:
            outcome = f"refused {e.status} {e.code}"
    seconds = time.perf_counter() - clock
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"variant": variant, "rss_before_kb": rss_before, "peak_kb": peak, "seconds": seconds,
                      "outcome": outcome}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0, help="unpacked size of the bomb's .shp in GiB")
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "BOMB", "SLUG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    sys.path.insert(0, str(ROOT))
    from bench import _stack

    folder = Path(tempfile.mkdtemp(prefix="zip-bomb-"))
    bomb = build_bomb(folder, int(args.gib * (1 << 30)))
    print(f"bomb: {bomb.stat().st_size / 1e6:.2f} MB ZIP, .shp unpacks to {args.gib:g} GiB")
    root, stack, _settings = _stack.start("bench-zip-bomb-")
    try:
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        rows = []
        for variant in ("before", "uncapped", "after"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", variant, str(bomb), f"bomb-{variant}"],
                capture_output=True, text=True, env=env, check=True, cwd=ROOT,
            ).stdout  # fmt: skip
            rows.append(json.loads(out.strip().splitlines()[-1]))
        print(f"{'':34} {'RSS before':>11} {'peak RSS':>10} {'growth':>9} {'seconds':>8}  outcome")
        label = {"before": "base commit 6211bce (read whole)", "uncapped": "streamed, caps off",
                 "after": "capped, streamed (this branch)"}  # fmt: skip
        for r in rows:
            growth = (r["peak_kb"] - r["rss_before_kb"]) / 1024
            print(f"{label[r['variant']]:34} {r['rss_before_kb'] / 1024:9.0f} MB {r['peak_kb'] / 1024:7.0f} MB"
                  f" {growth:6.0f} MB {r['seconds']:8.2f}  {r['outcome']}")  # fmt: skip
    finally:
        _stack.stop(root, stack)
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
