"""The fault test of bench/ingest_faults.py at a small size: the worker SIGKILLed and PostgreSQL
stopped hard while radios publish, and still every acknowledged message is stored exactly once.
(With PUBACK before COMMIT the same run loses hundreds of messages: checked by hand.) And the same with
two workers splitting the stream on the shared subscription, one of them killed again and again."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "ingest_faults.py"


def _run(**size):
    spec = importlib.util.spec_from_file_location("ingest_faults", BENCH)
    faults = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = faults
    spec.loader.exec_module(faults)
    saved = dict(os.environ)  # the run points the environment at its own stack
    try:
        return faults.run(**size)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        sys.modules.pop(spec.name, None)


def test_nothing_acknowledged_is_lost_or_doubled_through_crashes():
    r = _run(messages=2000, kills=2, pg_stops=1)
    assert (r.kills, r.pg_stops) == (2, 1)
    assert r.acked == r.sent == 2000
    assert r.lost == 0, r.lost_ids
    assert r.duplicated == 0
    assert r.stored == r.acked


def test_two_shared_workers_lose_and_double_nothing_while_one_is_killed_again_and_again():
    r = _run(messages=2000, kills=4, pg_stops=0, workers=2)
    assert (r.workers, r.kills) == (2, 4)
    assert r.acked == r.sent == 2000
    assert r.lost == 0, r.lost_ids
    assert r.duplicated == 0
    assert r.stored == r.acked
    # Both took part: the broker split the stream between their sessions.
    assert set(r.stored_by_worker) == {1, 2} and all(r.stored_by_worker.values()), r.stored_by_worker
