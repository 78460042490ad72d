"""Admission control: at most ``limit`` requests of a process work on the database at once; a few
more wait briefly in line; everything beyond is answered 503 with ``Retry-After`` in milliseconds.

Why (issue 11, measured on the landed main): routes are synchronous, so FastAPI runs each dependency
and each route body in AnyIO's worker threads (40 per process). The ``ReadConn`` dependency takes a
pooled connection in one thread hop and the route body runs in another. Under 80+ concurrent clients
all 40 threads sat in the pool's checkout (``QueuePool._do_get`` inside ``read_conn``) while the 30
requests that held the connections waited for a thread to run their route body: a deadlock broken only
by the 10 s pool timeout. Throughput fell from 416 to 8 req/s and the median became 10 s.

Admitting no more requests than the pool can serve removes the wait inside the pool (so the deadlock
cannot form), and the queue in front of it is short in length and in time: a request that cannot be
served soon is told so at once (``Busy``, bilingual JSON) instead of holding a socket, a thread and
the client's patience. The citizen sees "混雑しています" and their browser retries after a second or
two; the HQ instance is a separate process with its own admission and pool, so the citizens' surge
does not queue in front of HQ's reads.

A request's body (a report photo from a phone on a congested network) is read before it takes a
slot, so a slow upload never holds one. What is never queued: static files, the health check (a load balancer must see the truth, not a
503 of our own making), the event stream (long-lived; its connection is not from the pool), and every
answer the response cache or the tile fast path gives (they sit outside this middleware and need no
database).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import deque

from starlette.types import ASGIApp, Receive, Scope, Send

from common.errors import STATUS_TEXT, error_body
from gisapp.request_guard import replay

EXEMPT_PREFIXES = ("/static/", "/healthz", "/api/events", "/api/public/evacuation-info/stream")
CACHE_FILL = "gisapp.cache_fill"  # scope key the response cache sets on the requests that refresh it
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
READ_AHEAD = 16 * 1024 * 1024  # bodies up to this size are read before the request takes a slot
MAX_BUFFERED = 256 * 1024 * 1024  # past this many bytes read ahead at once, bodies are read in the slot


class Admission:
    """Plain ASGI in front of the routes."""

    def __init__(self, app: ASGIApp, *, gate: Gate) -> None:
        self.app = app
        self.gate = gate
        self.buffered = 0  # bytes of request bodies read ahead, now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        gate = self.gate
        buffered = 0
        if scope["method"] in BODY_METHODS and self.buffered < MAX_BUFFERED and _small_body(scope):
            # A body is read before the request takes a slot: a phone uploading a photo over a
            # congested network for half a minute must not hold one of the few database slots meanwhile
            # (the request guard outside has already bounded its size).
            body = await _read_body(receive)
            if body is None:
                return  # the client went away, or the request guard refused the body (and answered)
            buffered = len(body)
            self.buffered += buffered
            receive = replay(body, None, receive)
        try:
            # A refresh of the response cache answers every citizen who asks for that URL until its
            # next refresh: it goes first in line and is not turned away for the expected wait.
            if not await gate.enter(first=bool(scope.get(CACHE_FILL))):
                gate.shed += 1
                await _busy(send)
                return
            gate.admitted += 1
            started = time.monotonic()
            try:
                await self.app(scope, receive, send)
            finally:
                gate.leave(time.monotonic() - started)
        finally:
            self.buffered -= buffered


class Gate:
    """A counter and a FIFO of waiters, all on the event loop (no lock needed); one per app process
    (``app.state.admission``)."""

    def __init__(self, *, limit: int, queue: int, wait_ms: int) -> None:
        self.limit = limit
        self.queue_max = queue
        self.wait = wait_ms / 1000
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        # Moving average of how long an admitted request works (seconds): with it, a request that
        # would wait longer than ``wait`` in line is told so at once, not after waiting in vain.
        self.service_time = 0.005
        # Figures for /healthz and the benchmarks.
        self.admitted = 0
        self.shed = 0
        self.peak_waiting = 0

    async def enter(self, *, first: bool = False) -> bool:
        if self.active < self.limit and not self._waiters:
            self.active += 1
            return True
        ahead = len(self._waiters) + 1
        if not first and (ahead > self.queue_max or ahead * self.service_time / self.limit > self.wait):
            return False
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if first:
            self._waiters.appendleft(waiter)
        else:
            self._waiters.append(waiter)
        self.peak_waiting = max(self.peak_waiting, len(self._waiters))
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.wait * (4 if first else 1))
        except TimeoutError:
            self._give_up(waiter)
            return False
        except asyncio.CancelledError:  # the client went away while waiting
            self._give_up(waiter)
            raise
        return True  # the slot was handed over by _leave (active was not decremented)

    def _give_up(self, waiter: asyncio.Future[None]) -> None:
        if waiter.done() and not waiter.cancelled():
            self.leave()  # handed a slot in the same instant the wait ran out: pass it on
        else:
            waiter.cancel()
            try:
                self._waiters.remove(waiter)
            except ValueError:
                pass

    def leave(self, worked: float | None = None) -> None:
        if worked is not None:
            self.service_time += (worked - self.service_time) * 0.05
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes straight to the oldest waiter
                return
        self.active -= 1

    def figures(self) -> dict[str, int]:
        return {
            "limit": self.limit,
            "active": self.active,
            "waiting": len(self._waiters),
            "admitted": self.admitted,
            "shed": self.shed,
            "peak_waiting": self.peak_waiting,
            "service_ms": round(self.service_time * 1000, 1),
        }


def _small_body(scope: Scope) -> bool:
    """A body of a declared length up to READ_AHEAD (a report photo, a form, JSON); a layer import of
    hundreds of megabytes is read in its slot, as the route spools it to disk."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.strip().isdigit() and int(value) <= READ_AHEAD
    return False


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None if the client went away first."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


_BUSY_BODY = json.dumps(error_body("busy", *STATUS_TEXT[503]), ensure_ascii=False).encode()


async def _busy(send: Send) -> None:
    # Retry-After of 1–3 s, spread so that the clients told "busy" at one instant do not all come
    # back at the same instant.
    retry = str(random.randint(1, 3))
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_BUSY_BODY)).encode()),
                (b"retry-after", retry.encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _BUSY_BODY})
