"""The registry keeper's access log (``GET /api/people/access-log``) on a large audit log.

A fresh local stack gets ``--entries`` audit entries over 90 days (default 300,000; 5 % reads of
people by 40 accounts, the rest logins, layer and incident actions) and 30 disaster modes. Measured,
each the median of ``--runs`` runs with PostgreSQL's buffers warm:

- gisapp: ``gisapp.ops.people_access.access_log`` — the newest 200 reads, one account's reads, a
  one-week window; each with the disaster mode active at that moment joined in (LATERAL).
- baseline: the same filters as a plain ``SELECT`` on ``audit.log`` without the disaster-mode join,
  to show what the join costs.

    .venv/bin/python bench/access_log.py [--runs 7] [--entries 300000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from bench import _stack
from gisapp.db import make_engine, transaction
from gisapp.ops import people_access

# Through the hash chain's trigger (migration 0013), as the app writes them.
FILL = """
INSERT INTO audit.log (at, actor, action, target, details)
SELECT now() - (g * interval '90 days' / :n),
       CASE WHEN g % 20 = 0 THEN 'welfare-' || (g % 40) ELSE 'staff-' || (g % 300) END,
       CASE WHEN g % 20 = 0 THEN (ARRAY['people.list','people.priority','people.read','people.roster_csv'])[1 + g % 4]
            ELSE (ARRAY['auth.login','layer.import','incident.update','layer.publish'])[1 + g % 4] END,
       'x', jsonb_build_object('rows', g % 500, 'area', '町' || (g % 50))
  FROM generate_series(1, :n) g;
INSERT INTO restricted.disaster_mode (activated_at, expires_at, activated_by, roles, reason, requested_minutes)
SELECT now() - (g * interval '3 days'), now() - (g * interval '3 days') + interval '3 hours', 'hq',
       '{welfare,hq_operator}', 'bench', 180
  FROM generate_series(1, 30) g;
ANALYZE audit.log;
"""

BASELINE = text(
    """SELECT a.id, a.at, a.actor, a.action, a.details FROM audit.log a
        WHERE a.action = ANY(:actions)
          AND (CAST(:actor AS text) IS NULL OR a.actor = CAST(:actor AS text))
          AND (CAST(:since AS timestamptz) IS NULL OR a.at >= CAST(:since AS timestamptz))
          AND (CAST(:until AS timestamptz) IS NULL OR a.at < CAST(:until AS timestamptz))
        ORDER BY a.at DESC, a.id DESC LIMIT 200"""
)


def median_ms(fn, runs: int) -> float:
    fn()  # warm
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--entries", type=int, default=300_000)
    args = ap.parse_args()
    root, stack, settings = _stack.start("gisapp-bench-access-")
    try:
        owner = make_engine(settings.migration_database_url)
        with owner.begin() as conn:
            for statement in filter(str.strip, FILL.split(";\n")):
                conn.execute(text(statement), {"n": args.entries} if ":n" in statement else {})
        owner.dispose()
        engine = make_engine(settings.database_url)
        week = datetime.now(UTC) - timedelta(days=30)
        cases = {
            "newest 200 reads": {},
            "one account": {"actor": "welfare-20"},
            "one week": {"since": week, "until": week + timedelta(days=7)},
        }
        print(
            f"audit entries: {args.entries:,}, people reads: {args.entries // 20:,}, median of {args.runs} runs"
        )
        for name, filters in cases.items():

            def ours(filters=filters) -> None:
                with transaction(engine, ["admin"]) as conn:
                    people_access.access_log(conn, "bench", **filters)

            def baseline(filters=filters) -> None:
                params = {"actions": list(people_access.READ_ACTIONS), "actor": None, "since": None,
                          "until": None, **filters}  # fmt: skip
                with transaction(engine, ["admin"]) as conn:
                    conn.execute(BASELINE, params).all()

            print(f"  {name:18s} gisapp {median_ms(ours, args.runs):7.1f} ms"
                  f"   baseline (no disaster-mode join, no audit of the read) {median_ms(baseline, args.runs):7.1f} ms")  # fmt: skip
        engine.dispose()
    finally:
        _stack.stop(root, stack)


if __name__ == "__main__":
    main()
