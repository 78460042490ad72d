"""Ingest with 1 and 2 workers on the shared subscription, side by side in one run: sustained rate,
publish → commit latency, lost and duplicated.

The same fresh stack and load as bench/ingest_rate.py (`mosquitto_pub -l` per radio unit, paced at
`--rate` messages/s in total for `--seconds`; Mosquitto persistence on, PostgreSQL fsync on): first one
`gisapp ingest` (its plain subscription), then two `gisapp ingest --worker K` splitting the stream on
`$share/gisapp-ingest/gisapp/v1/#`. Offer more than one worker takes to see what a second adds; on
one machine the broker, PostgreSQL, the load and the workers share its cores.

    .venv/bin/python bench/ingest_share.py [--rate 15000] [--seconds 20] [--devices 20]
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import _stack  # bench/ (this script's folder is on sys.path)
from ingest_rate import MOSQUITTO_PUB, _register, _track_commit_times, end_to_end

from gisapp.db import make_engine


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=15_000, help="offered messages/s in total")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--devices", type=int, default=20)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    a = ap.parse_args()
    if not Path(MOSQUITTO_PUB).exists():
        sys.exit("mosquitto_pub not found: apt-get install mosquitto-clients")

    root, stack, settings = _stack.start("gisapp-bench-share-")
    results = {}
    try:
        _track_commit_times(stack)
        stack.ensure_ingest_accounts(max(a.workers))
        engine = make_engine(settings.database_url, pool_size=2)
        creds = _register(engine, stack, a.devices)  # writes the broker's files: devices and ingest accounts
        for n in a.workers:
            results[n] = end_to_end(settings, engine, stack, creds, a.rate, a.seconds, root, workers=n)
        engine.dispose()
    finally:
        _stack.stop(root, stack)

    print(f"machine: {os.cpu_count()} cores; PostgreSQL fsync on; Mosquitto persistence on; QoS 1 throughout")
    print(
        f"{a.devices} radio units, {a.seconds:.0f} s at {a.rate:.0f} msg/s offered per run, PUBACK after COMMIT"
    )
    print(
        "workers | offered msg/s | sustained msg/s | slowest 1 s | p50 / p99 / max publish → commit | sent | lost | dup | acked by each"
    )
    for n, r in results.items():
        lost = r["sent"] - r["distinct"]
        dup = r["stored"] - r["distinct"]
        print(
            f"{n:7} | {r['offered_rate']:13.0f} | {r['rate']:15.0f} | {r['min_1s']:11.0f} | "
            f"{r['p50_ms']:6.0f} / {r['p99_ms']:6.0f} / {r['max_ms']:6.0f} ms | {r['sent']} | {lost} | {dup} | "
            f"{r['acked_by']}"
        )
    print(f"at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


if __name__ == "__main__":
    main()
