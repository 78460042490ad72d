"""JMA 防災情報XML in: parse and store times.

- parse: JMA's three sample telegrams (../shared/data/jma_xml, or GISAPP_SHARED_DATA) with our hardened
  parser (``ingest.jmaxml.parse``: the byte check, lxml with entities/DTD/network off, the items) —
  peers in the same run: lxml's default parser and the standard library's ElementTree only building
  the tree (no items), so the cost of the hardening and of reading the items shows;
- store: ``gisapp.ops.jma.store`` on a fresh local stack, one transaction per telegram (parse, lock,
  dedupe, ordering, conditions, HQ log, audit, NOTIFY), alternating 伊勢原市 大雨警報 / 大雨特別警報
  telegrams (each newer, each changing the conditions), then the same bytes again (duplicates).

    .venv/bin/python bench/jma_ingest.py [--runs 200] [--telegrams 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lxml import etree

from bench import _stack
from gisapp.db import make_engine
from gisapp.ops import jma
from ingest import jmaxml
from ingest import jmaxml_build as build

SHARED = Path(os.environ.get("GISAPP_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
SAMPLES = (
    "70_15_08_130412_02VPWW53.xml",
    "70_17_01_130906_VXWW40-modified.xml",
    "70_16_01_100806_kasenkozui1.xml",
)


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def bench_parse(runs: int) -> None:
    print("parse (median ms)            ours (items)  lxml default (tree)  ElementTree (tree)")
    for name in SAMPLES:
        path = SHARED / "jma_xml" / name
        if not path.exists():
            print(f"  {name}: missing ({path})")
            continue
        data = path.read_bytes()
        ours = median_ms(lambda d=data: jmaxml.parse(d), runs)
        plain = median_ms(lambda d=data: etree.fromstring(d), runs)
        stdlib = median_ms(lambda d=data: ET.fromstring(d), runs)
        print(f"  {name[:34]:34} {len(data) // 1024:4} KB  {ours:8.2f}  {plain:12.2f}  {stdlib:12.2f}")


def bench_store(n: int) -> None:
    root, stack, settings = _stack.start("gisapp-bench-jma-")
    try:
        engine = make_engine(settings.database_url)
        t0 = datetime(2026, 7, 1, 9, 0, tzinfo=timezone(timedelta(hours=9)))
        kinds = (build.HEAVY_RAIN_WARNING, build.EMERGENCY_WARNING)
        telegrams = [build.warnings(kinds[i % 2], report_at=t0 + timedelta(minutes=i)) for i in range(n)]
        for label, batch in (("new (applied)", telegrams), ("same bytes again (duplicate)", telegrams)):
            times = []
            for data in batch:
                t = time.perf_counter()
                jma.store(engine, data, source="bench", area_codes=["1421400"])
                times.append(time.perf_counter() - t)
            times.sort()
            print(
                f"store {label:30} n={n}: median {statistics.median(times) * 1000:.2f} ms, "
                f"p95 {times[int(len(times) * 0.95) - 1] * 1000:.2f} ms, {n / sum(times):.0f} telegrams/s"
            )
        engine.dispose()
    finally:
        _stack.stop(root, stack)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--telegrams", type=int, default=300)
    args = ap.parse_args()
    bench_parse(args.runs)
    bench_store(args.telegrams)


if __name__ == "__main__":
    main()
