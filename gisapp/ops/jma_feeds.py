"""The state of the polled JMA Atom feeds (``ops.jma_feed``): validators for
conditional GETs, the last success and error, the entries already handled, and staleness — for
/healthz, ``GET /api/jma/status`` and the HQ map (a ``jma_feed`` event on each change of state)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from gisapp.ops import jma


@dataclass(frozen=True)
class FeedState:
    url: str
    etag: str | None
    last_modified: str | None
    polled_at: datetime | None
    ok_at: datetime | None
    error: str | None
    error_at: datetime | None
    entries_seen: int
    stale: bool

    def as_json(self) -> dict[str, Any]:
        iso = lambda t: None if t is None else t.isoformat()  # noqa: E731
        return {
            "url": self.url,
            "polled_at": iso(self.polled_at),
            "ok_at": iso(self.ok_at),
            "error": self.error,
            "error_at": iso(self.error_at),
            "entries_seen": self.entries_seen,
            "stale": self.stale,
        }


_STATE = text(
    """SELECT url, etag, last_modified, polled_at, ok_at, error, error_at, entries_seen,
              (ok_at IS NULL OR ok_at < now() - make_interval(mins => :stale)) AS stale
         FROM ops.jma_feed WHERE url = ANY(CAST(:urls AS text[]))"""
)


def states(conn: Connection, urls: Sequence[str], stale_minutes: int) -> list[FeedState]:
    """One state per configured feed, in order; a feed never polled is stale with no error."""
    found = {
        r.url: FeedState(**r._mapping)
        for r in conn.execute(_STATE, {"urls": list(urls), "stale": stale_minutes})
    }
    return [found.get(u) or FeedState(u, None, None, None, None, None, None, 0, True) for u in urls]


def ensure(conn: Connection, url: str) -> None:
    conn.execute(text("INSERT INTO ops.jma_feed (url) VALUES (:u) ON CONFLICT (url) DO NOTHING"), {"u": url})


def validators(conn: Connection, url: str) -> tuple[str | None, str | None]:
    row = conn.execute(
        text("SELECT etag, last_modified FROM ops.jma_feed WHERE url = :u"), {"u": url}
    ).first()
    return (row.etag, row.last_modified) if row else (None, None)


def record_poll(
    conn: Connection,
    url: str,
    stale_minutes: int,
    *,
    error: str | None,
    etag: str | None = None,
    last_modified: str | None = None,
    keep_validators: bool = False,
    entries: int = 0,
) -> FeedState:
    """Record one poll (``error`` None: it succeeded) and NOTIFY ``jma_feed`` when the feed's state
    (ok / error / stale) changes. ``keep_validators``: leave the stored ETag/Last-Modified as they were
    (a 304, or a poll whose telegrams could not all be fetched must read the feed again)."""
    before = states(conn, [url], stale_minutes)[0]
    conn.execute(
        text(
            """INSERT INTO ops.jma_feed AS f (url, etag, last_modified, polled_at, ok_at, error, error_at, entries_seen)
               VALUES (:u, :etag, :lm, now(), CASE WHEN CAST(:err AS text) IS NULL THEN now() END, :err,
                       CASE WHEN CAST(:err AS text) IS NOT NULL THEN now() END, :n)
               ON CONFLICT (url) DO UPDATE SET
                 etag = CASE WHEN :keep THEN f.etag ELSE EXCLUDED.etag END,
                 last_modified = CASE WHEN :keep THEN f.last_modified ELSE EXCLUDED.last_modified END,
                 polled_at = now(),
                 ok_at = coalesce(EXCLUDED.ok_at, f.ok_at),
                 error = EXCLUDED.error,
                 error_at = coalesce(EXCLUDED.error_at, f.error_at),
                 entries_seen = f.entries_seen + EXCLUDED.entries_seen"""
        ),
        {"u": url, "etag": etag, "lm": last_modified, "err": error and error[:500], "keep": keep_validators,
         "n": entries},
    )  # fmt: skip
    after = states(conn, [url], stale_minutes)[0]
    if (before.error is None, before.stale) != (after.error is None, after.stale) or before.polled_at is None:
        conn.execute(
            text("SELECT pg_notify('gisapp_events', :p)"),
            {"p": json.dumps({"type": "jma_feed", "url": url, "ok": after.error is None, "error": after.error,
                              "stale": after.stale}, ensure_ascii=False)},
        )  # fmt: skip
    return after


def unseen(conn: Connection, url: str, entry_ids: Iterable[str]) -> list[str]:
    ids = list(dict.fromkeys(entry_ids))
    seen = conn.execute(text("SELECT entry_ids FROM ops.jma_feed WHERE url = :u"), {"u": url}).scalar() or []
    return [i for i in ids if i not in set(seen)]


def mark_seen(conn: Connection, url: str, entry_id: str) -> None:
    """Needs the feed's row (``ensure`` first)."""
    conn.execute(
        text(
            """UPDATE ops.jma_feed SET entry_ids = array_append(entry_ids, CAST(:e AS text))
                WHERE url = :u AND NOT (CAST(:e AS text) = ANY(entry_ids))"""
        ),
        {"u": url, "e": entry_id[:1000]},
    )


def keep_only(conn: Connection, url: str, current: Iterable[str]) -> None:
    """Forget the handled entries that are no longer in the feed."""
    conn.execute(
        text(
            """UPDATE ops.jma_feed SET entry_ids = ARRAY(
                 SELECT e FROM unnest(entry_ids) WITH ORDINALITY u(e, i)
                  WHERE e = ANY(CAST(:cur AS text[])) ORDER BY i)
                WHERE url = :u"""
        ),
        {"u": url, "cur": list(current)},
    )


def status(
    conn: Connection, urls: Sequence[str], stale_minutes: int, area_codes: Sequence[str]
) -> dict[str, Any]:
    """What ``GET /api/jma/status`` answers: the feeds, our areas, the conditions in force, the last
    telegrams."""
    return {
        "feeds": [s.as_json() for s in states(conn, urls, stale_minutes)],
        "stale_minutes": stale_minutes,
        "area_codes": list(area_codes),
        "conditions": [c.as_json() for c in jma.in_force(conn)],
        "telegrams": jma.recent_telegrams(conn, 20),
    }
