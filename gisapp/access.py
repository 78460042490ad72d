"""Public-GIS access counts (a KPI the cities report): hits per published layer per day, counted in
memory and written every few seconds, with nothing about the visitor (no IP, no cookie, no agent)."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import date, timedelta

from sqlalchemy import Connection, Engine, text

from gisapp.db import transaction

log = logging.getLogger("gisapp.access")
_FLUSH = text("SELECT pub.count_access(CAST(:ids AS int[]), CAST(:hits AS int[]))")


class AccessCounter:
    def __init__(self, engine: Engine, interval: float = 5.0) -> None:
        self.engine = engine
        self.interval = interval
        self._counts: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hit(self, layer_id: int) -> None:
        with self._lock:
            self._counts[layer_id] += 1

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="gisapp-access-counter", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, Counter()
        if not counts:
            return
        try:
            with transaction(self.engine) as conn:
                conn.execute(_FLUSH, {"ids": list(counts), "hits": list(counts.values())})
        except Exception:  # a KPI must never break serving; keep the counts for later
            log.warning("access counts not written; will retry", exc_info=True)
            with self._lock:
                self._counts.update(counts)


_COUNTS = text(
    """SELECT l.slug, l.title_ja, l.title_en, a.day, a.hits FROM gis.layer_access_daily a
       JOIN gis.layer l ON l.id = a.layer_id WHERE a.day >= :since ORDER BY a.day, l.slug"""
)


def access_counts(conn: Connection, days: int) -> list[dict]:
    """Hits per published layer per day over the last ``days`` days (today included)."""
    rows = conn.execute(_COUNTS, {"since": date.today() - timedelta(days=days - 1)})
    return [{**r._mapping, "day": r.day.isoformat()} for r in rows]
