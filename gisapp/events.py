"""Live events: PostgreSQL LISTEN/NOTIFY -> one Server-Sent Events stream per client.

One LISTEN connection per server process fans out to every client. Each event carries a sequence
number of this process; a client that sees a gap (it was too slow, or reconnected) refetches.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

import psycopg

from gisapp.db import psycopg_dsn

log = logging.getLogger("gisapp.events")
CHANNEL = "gisapp_events"
CLIENT_QUEUE = 1000


class EventHub:
    def __init__(self, database_url: str) -> None:
        self.dsn = psycopg_dsn(database_url)
        self.seq = 0
        self.clients: set[asyncio.Queue[tuple[int, str, str]]] = set()
        self._task: asyncio.Task | None = None
        self.listening = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="gisapp-event-listener")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        delay = 1.0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    delay = 1.0
                    async for note in conn.notifies():
                        self.publish(note.payload)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.listening.clear()
                log.warning("event listener lost the database; retrying", extra={"error": str(e)[:200]})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)

    def publish(self, payload: str) -> None:
        try:
            doc = json.loads(payload)
        except json.JSONDecodeError:
            return
        self.seq += 1
        doc["seq"] = self.seq
        event = (self.seq, str(doc.get("type", "message")), json.dumps(doc, ensure_ascii=False))
        for q in list(self.clients):
            try:
                q.put_nowait(event)
            except asyncio.QueueFull:
                pass  # the client will see the gap in seq and refetch

    async def stream(self, heartbeat: float = 15.0) -> AsyncIterator[str]:
        q: asyncio.Queue[tuple[int, str, str]] = asyncio.Queue(CLIENT_QUEUE)
        self.clients.add(q)
        try:
            yield f"event: hello\ndata: {json.dumps({'seq': self.seq})}\n\n"
            while True:
                try:
                    seq, name, data = await asyncio.wait_for(q.get(), heartbeat)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield f"id: {seq}\nevent: {name}\ndata: {data}\n\n"
        finally:
            self.clients.discard(q)
