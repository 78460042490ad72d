"""Replica lag under writes: how long after a commit on the primary the hot standby of `gisapp up
--replica` shows it, and what /healthz reports meanwhile.

A fresh stack (durable settings, as `gisapp up`), its replica cloned by the same LocalStack code, on
this machine. One writer commits feature inserts into a published layer (each its own transaction,
then the primary's WAL insert position); a watcher polls the replica's replay position every 0.5 ms
and records, per commit, the time until the replica has replayed past it (= the row is readable
there). Steps: a steady 50 commits/s (a busy HQ), as fast as one writer can, and one bulk import
(20,000 features in one transaction, as a layer import does). Beside them, the lag the public
instance's /healthz computes (gisapp.health.check_replica) sampled during each step.

    .venv/bin/python bench/replica_lag.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections import deque

import _stack  # bench/_stack.py (this script's folder is on sys.path)
import psycopg
from sqlalchemy import text

from gisapp.db import make_engine, public_read_engine
from gisapp.health import check_replica
from gisapp.settings import Settings

_INSERT = text(
    """INSERT INTO gis.feature (layer_id, source_key, properties, geom)
       VALUES (:l, :k, '{"name": "bench"}', ST_SetSRID(ST_MakePoint(139.3 + random() / 10, 35.4), 4326))"""
)
_BULK = text(
    """INSERT INTO gis.feature (layer_id, source_key, properties, geom)
       SELECT :l, :p || g, jsonb_build_object('n', g), ST_SetSRID(ST_MakePoint(139.3 + g / 1e6, 35.4), 4326)
       FROM generate_series(1, :n) g"""
)
_LSN = text("SELECT pg_current_wal_insert_lsn()::text")


def lsn_int(lsn: str) -> int:
    hi, lo = lsn.split("/")
    return (int(hi, 16) << 32) + int(lo, 16)


class Watcher(threading.Thread):
    def __init__(self, dsn: str) -> None:
        super().__init__(daemon=True)
        self.dsn = dsn
        self.pending: deque[tuple[float, int]] = deque()
        self.lags: list[float] = []
        self.stop_ = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.stop_.is_set():
                replay = lsn_int(conn.execute("SELECT pg_last_wal_replay_lsn()::text").fetchone()[0])
                now = time.perf_counter()
                while self.pending and self.pending[0][1] <= replay:
                    self.lags.append(now - self.pending.popleft()[0])
                time.sleep(0.0005)

    def take(self) -> list[float]:
        out, self.lags = self.lags, []
        return out


def sample_health(engine, stop: threading.Event, out: list[float]) -> None:
    while not stop.is_set():
        check = check_replica(engine)
        if check.count is not None:
            out.append(check.count)
        time.sleep(0.2)


def report(name: str, lags: list[float], health: list[float], commits: int, seconds: float) -> None:
    ms = sorted(x * 1000 for x in lags)
    q = statistics.quantiles(ms, n=100) if len(ms) >= 2 else ms * 99
    print(
        f"{name:28} {commits / seconds:8.0f} commits/s  visible on replica after: p50 {q[49]:6.2f} ms  "
        f"p95 {q[94]:6.2f} ms  p99 {q[98]:6.2f} ms  max {ms[-1]:7.2f} ms  | /healthz lag max "
        f"{max(health, default=0):.3f} s over {len(health)} samples"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()
    root, stack, settings = _stack.start("gisapp-bench-replica-")
    try:
        os.environ.update(GISAPP_REPLICA_PG_PORT=str(_stack.free_port()), GISAPP_PUBLIC_READS="replica")
        rs = Settings(_env_file=None)
        stack.settings = rs
        t0 = time.perf_counter()
        stack.start_replica()
        print(f"replica cloned and started in {time.perf_counter() - t0:.1f} s (empty database)")
        owner = make_engine(rs.database_url)
        with owner.begin() as conn:
            conn.execute(text("SELECT set_config('gisapp.roles', 'admin', true)"))
            dept = conn.execute(
                text(
                    "INSERT INTO core.department (code, name_ja, name_en) VALUES ('bench_dept', 'b', 'b') RETURNING id"
                )
            ).scalar_one()
            layer = conn.execute(
                text(
                    """INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind,
                       geometry_type) VALUES ('bench', 'b', 'b', :d, 'public', 'generic', 'Point') RETURNING id"""
                ),
                {"d": dept},
            ).scalar_one()
        pw = stack.ensure_secrets()["pg"]["postgres"]
        watcher = Watcher(
            f"host=127.0.0.1 port={rs.replica_pg_port} user=postgres password={pw} dbname=gisapp"
        )
        watcher.start()
        replica = public_read_engine(rs)
        n = 0

        def step(name: str, rate: float | None) -> None:
            nonlocal n
            stop, health = threading.Event(), []
            sampler = threading.Thread(target=sample_health, args=(replica, stop, health), daemon=True)
            sampler.start()
            commits, start = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - start) < args.seconds:
                if rate and commits > elapsed * rate:
                    time.sleep(0.001)
                    continue
                with owner.begin() as conn:
                    conn.execute(_INSERT, {"l": layer, "k": f"f{n}"})
                with owner.connect() as conn:
                    lsn = lsn_int(conn.execute(_LSN).scalar_one())
                watcher.pending.append((time.perf_counter(), lsn))
                commits, n = commits + 1, n + 1
            time.sleep(0.5)
            stop.set()
            sampler.join()
            report(name, watcher.take(), health, commits, args.seconds)

        step("steady 50 commits/s", 50)
        step("one writer, unthrottled", None)
        stop, health = threading.Event(), []
        sampler = threading.Thread(target=sample_health, args=(replica, stop, health), daemon=True)
        sampler.start()
        start = time.perf_counter()
        with owner.begin() as conn:
            conn.execute(_BULK, {"l": layer, "p": "bulk", "n": 20_000})
        with owner.connect() as conn:
            watcher.pending.append((time.perf_counter(), lsn_int(conn.execute(_LSN).scalar_one())))
        took = time.perf_counter() - start
        time.sleep(2)
        stop.set()
        sampler.join()
        report(f"bulk 20k features ({took:.1f} s)", watcher.take(), health, 1, took)
        time.sleep(1)
        idle = check_replica(replica)
        print(f"idle afterwards: /healthz replica check: {idle.detail}")
        watcher.stop_.set()
        watcher.join()
        replica.dispose()
        owner.dispose()
    finally:
        stack.remove_replica()
        _stack.stop(root, stack)


if __name__ == "__main__":
    main()
