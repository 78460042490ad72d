"""The fault test of bench/ingest_faults.py at a small size: the worker SIGKILLed and PostgreSQL
stopped hard while radios publish, and still every acknowledged message is stored exactly once.
(With PUBACK before COMMIT the same run loses hundreds of messages: checked by hand.)"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "ingest_faults.py"


def test_nothing_acknowledged_is_lost_or_doubled_through_crashes():
    spec = importlib.util.spec_from_file_location("ingest_faults", BENCH)
    faults = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = faults
    spec.loader.exec_module(faults)
    saved = dict(os.environ)  # the run points the environment at its own stack
    try:
        r = faults.run(messages=2000, kills=2, pg_stops=1)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        sys.modules.pop(spec.name, None)
    assert (r.kills, r.pg_stops) == (2, 1)
    assert r.acked == r.sent == 2000
    assert r.lost == 0, r.lost_ids
    assert r.duplicated == 0
    assert r.stored == r.acked
