"""The evacuation information's change counter and its push stream, one LISTEN per process.

``EvacuationWatch`` LISTENs on ``gisapp_public`` (migration 0024 section 7: each new order version
announces itself there with public values only, so this process never receives the internal events of
``gisapp_events``) and keeps ``version``: the number of order versions in ``pub.evac_order_version``
(append-only, so it only grows, and every process reads the same number). It serves two things:

- the response cache's key for the evacuation answers (gisapp/app.py ``cache_rules``): a new version
  is a new key, so an issuance is answered fresh the moment its notification arrives, milliseconds
  after the commit. While the watch is not listening, ``version`` is None and those answers are not
  cached at all (a lost LISTEN must never freeze an old order on the citizens' screens);
- ``stream()``: a Server-Sent Events stream that says only "changed, version N" (no data: a client
  refetches the cached JSON), with heartbeats, bounded per process (``max_streams``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

import psycopg

from gisapp.db import psycopg_dsn

log = logging.getLogger("gisapp.evac_watch")
CHANNEL = "gisapp_public"
COUNT_SQL = "SELECT count(*) FROM pub.evac_order_version"
HEARTBEAT = 15.0  # below common proxies' idle timeouts (nginx proxy_read_timeout 30 s here)
RETRY_MS = 3000  # how long an EventSource waits before reconnecting
MAX_STREAMS = 2000  # per process; beyond it a client is told 503 and polls instead


class TooManyStreams(Exception):
    pass


class EvacuationWatch:
    def __init__(self, database_url: str, *, max_streams: int = MAX_STREAMS) -> None:
        self.dsn = psycopg_dsn(database_url)
        self.version: int | None = None  # None: not listening, do not trust
        self.max_streams = max_streams
        self.notifications = 0
        self.refused = 0
        self._streams: set[asyncio.Queue[int | None]] = set()
        self._task: asyncio.Task | None = None

    @property
    def streams(self) -> int:
        return len(self._streams)

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="gisapp-evacuation-watch")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._set(None)

    async def _listen(self) -> None:
        delay = 1.0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")  # before counting: no change slips between
                    await self._count(conn)
                    delay = 1.0
                    while True:
                        # Leave the generator before querying: it holds the connection meanwhile. A
                        # burst of notifications costs one count (the ones queued meanwhile are read
                        # by the next turn, whose count includes them anyway).
                        async for note in conn.notifies(stop_after=1):
                            if note.channel == CHANNEL:
                                self.notifications += 1
                        await self._count(conn)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # keep serving (uncached) whatever happens here
                self._set(None)
                log.warning("evacuation watch lost the database; retrying", extra={"error": str(e)[:200]})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)

    async def _count(self, conn: psycopg.AsyncConnection) -> None:
        cur = await conn.execute(COUNT_SQL)
        row = await cur.fetchone()
        self._set(int(row[0]) if row else 0)

    def _set(self, version: int | None) -> None:
        if version == self.version:
            return
        self.version = version
        for q in list(self._streams):
            # Each stream needs the newest version only: an unread older one is replaced.
            with contextlib.suppress(asyncio.QueueEmpty):
                q.get_nowait()
            q.put_nowait(version)

    def open_stream(self) -> asyncio.Queue[int | None]:
        """A place in the stream fan-out, or TooManyStreams. The caller must ``close_stream`` it."""
        if len(self._streams) >= self.max_streams:
            self.refused += 1
            raise TooManyStreams()
        q: asyncio.Queue[int | None] = asyncio.Queue(1)
        self._streams.add(q)
        return q

    def close_stream(self, q: asyncio.Queue[int | None]) -> None:
        self._streams.discard(q)

    async def stream(self, q: asyncio.Queue[int | None], heartbeat: float = HEARTBEAT) -> AsyncIterator[str]:
        """``event: version`` with ``{"version": N}`` now and at each change (N null while this process
        is not listening: clients poll meanwhile); a comment line as a heartbeat."""
        try:
            yield f"retry: {RETRY_MS}\nevent: version\ndata: {json.dumps({'version': self.version})}\n\n"
            while True:
                try:
                    version = await asyncio.wait_for(q.get(), heartbeat)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield f"event: version\ndata: {json.dumps({'version': version})}\n\n"
        finally:
            self.close_stream(q)

    def figures(self) -> dict[str, int | None]:
        return {
            "version": self.version,
            "streams": self.streams,
            "refused": self.refused,
            "notifications": self.notifications,
        }
