"""The response cache: what every citizen asks for, answered from memory, compressed once, with
validators a proxy or a browser can use.

On the disaster day tens of thousands of phones ask for the same few things: the citizen page, its
scripts and styles, the list of public layers, their features, the public incidents and the shelters'
congestion. Those answers are the same for everyone (the citizen-facing instance has no login), so
each is computed once per short lifetime and then served from memory by this plain ASGI middleware,
before routing, without a worker thread or a database connection:

- **Single flight.** When an entry is missing or expired, one request computes it; the others that
  arrive meanwhile wait for that answer instead of all going to the database at once.
- **Compressed once.** Each entry keeps its Brotli and gzip variants, made on first demand, so
  compression costs once per lifetime, not once per request (``Vary: Accept-Encoding``).
- **Validators.** A weak ``ETag`` (hash of the content) and ``Last-Modified`` (when the content last
  changed, not when it was last fetched); ``If-None-Match`` / ``If-Modified-Since`` get 304.
- **Bounded staleness.** Each rule has a lifetime in memory (``ttl``) and the ``Cache-Control`` that
  tells browsers and proxies theirs. Shelter congestion: 5 s here, ``max-age=5, s-maxage=10`` for
  the proxy, so what a citizen sees is at most 5 + 10 + 5 = 20 s old (30 s while the database fails,
  see below). Layers are also dropped at once
  when a layer changes (the layer directory's LISTEN, gisapp/ogc/tiles_fast.py).
- **Stale rather than nothing.** If the app answers 5xx or sheds the refresh (admission control,
  gisapp/admission.py), an entry up to ``stale`` seconds past its lifetime is served instead, with
  ``Age``; shelter congestion is never more than 15 s old this way.

Never cached: any request with an ``Authorization`` header or a session cookie, any answer other than
200, any answer marked ``no-store``/``private`` by its route, anything not matched by a rule (personal
data, the HQ's routes, writes). docs/deploy.md lists the rules.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

import brotli
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gisapp.admission import CACHE_FILL
from gisapp.deps import COOKIE_NAME

log = logging.getLogger("gisapp.response_cache")
MAX_ENTRIES = 2_000  # bounds memory against random query strings
MAX_BODY = 16 * 1024 * 1024  # larger answers pass through uncached
MAX_BYTES = 512 * 1024 * 1024  # bodies and their compressed variants (counted as half a body more)
MIN_COMPRESS = 512
FILL_WAIT = 15.0  # how long followers wait for the leader's answer before asking the app themselves
COMPRESSIBLE = re.compile(
    rb"^(text/|application/(json|geo\+json|javascript|xml|atom\+xml|ld\+json|manifest\+json)|image/svg)"
)
# Headers the cache sets itself; the rest of the app's headers are kept as they were.
OWN_HEADERS = frozenset(
    {
        b"content-length",
        b"content-encoding",
        b"etag",
        b"last-modified",
        b"vary",
        b"date",
        b"server",
        b"age",
        b"accept-ranges",  # the cache answers whole bodies only
        b"x-accel-expires",  # set at serve time (Rule.proxy_now)
    }
)
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Rule:
    """Which answers are cached, for how long here (ttl), and what clients and proxies are told."""

    pattern: re.Pattern[str]
    ttl: float
    # None: keep the route's own Cache-Control; a callable gets the query string.
    cache_control: str | Callable[[bytes], str] | None
    stale: float = 0.0
    # Part of the key that changes when the content must change at once (e.g. a layer revision).
    version: Callable[[object], object] | None = None
    # Called for every answer given from the cache (e.g. the public-GIS access counter).
    on_hit: Callable[[object, re.Match[str]], None] | None = None
    # Tell an nginx cache in front to keep the answer for the rest of the current second only
    # (``X-Accel-Expires: @<now>``, which it does not pass on): its cache counts whole seconds, so
    # ``s-maxage=1`` would let it serve an answer up to 2 s old. For what must be seen within ~1 s.
    proxy_now: bool = False


@dataclass
class Entry:
    headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: str
    last_modified: str
    stored: float  # time.monotonic()
    compressible: bool
    variants: dict[str, bytes] = field(default_factory=dict)
    proxy_now: bool = False

    @property
    def size(self) -> int:
        # Fixed at store time: Brotli and gzip variants together are well under half the body.
        return len(self.body) * 3 // 2 if self.compressible else len(self.body)

    def variant(self, encoding: str) -> bytes:
        found = self.variants.get(encoding)
        if found is None:
            if encoding == "br":
                found = brotli.compress(self.body, quality=5)
            else:
                found = gzip.compress(self.body, compresslevel=6, mtime=0)
            self.variants[encoding] = found
        return found


class CacheStore:
    """The entries and figures of one app process (``app.state.response_cache``)."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self.entries: OrderedDict[tuple, Entry] = OrderedDict()
        self.latest: dict[tuple, tuple] = {}  # (path, query) -> the key of its newest version
        self.bytes = 0
        self.filling: dict[tuple, asyncio.Future[Entry | None]] = {}
        self.hits = 0
        self.fills = 0
        self.stale_served = 0

    def put(self, key: tuple, entry: Entry) -> None:
        """Store an entry; the same URL's entry of an older version goes at once (a layer edited 100
        times keeps one copy, not 100), the least recently used beyond the bounds after it."""
        url = key[:2]
        previous = self.latest.get(url)
        if previous is not None and previous != key:
            self._drop(previous)
        self._drop(key)
        self.entries[key] = entry
        self.latest[url] = key
        self.bytes += entry.size
        while self.entries and (len(self.entries) > MAX_ENTRIES or self.bytes > MAX_BYTES):
            self._drop(next(iter(self.entries)))

    def _drop(self, key: tuple) -> None:
        gone = self.entries.pop(key, None)
        if gone is not None:
            self.bytes -= gone.size
            if self.latest.get(key[:2]) == key:
                del self.latest[key[:2]]

    def clear(self) -> None:
        self.entries.clear()
        self.latest.clear()
        self.bytes = 0

    def figures(self) -> dict[str, int]:
        return {
            "entries": len(self.entries),
            "megabytes": round(self.bytes / 1048576, 1),
            "hits": self.hits,
            "fills": self.fills,
            "stale_served": self.stale_served,
        }


class ResponseCache:
    def __init__(self, app: ASGIApp, *, store: CacheStore) -> None:
        self.app = app
        self.store = store
        self._refreshing: set[asyncio.Task] = set()  # background refreshes (kept referenced)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or _personal(scope):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        for rule in self.store.rules:
            match = rule.pattern.match(path)
            if match:
                break
        else:
            await self.app(scope, receive, send)
            return
        version = rule.version(scope["app"].state) if rule.version else None
        if rule.version and version is None:
            # Its invalidation signal is not running (start-up, a lost LISTEN): no caching, so a layer
            # withdrawn from the public is never served from memory.
            await self.app(scope, receive, send)
            return
        key = (path, scope.get("query_string", b""), version)
        entry = self.store.entries.get(key)
        age = time.monotonic() - entry.stored if entry is not None else None
        if entry is not None and age < rule.ttl:
            self.store.entries.move_to_end(key)
            await self._hit(scope, send, rule, match, entry)
            return
        if entry is not None and age < rule.ttl + rule.stale:
            # Expired but usable: answered at once while one refresh runs in the background
            # (stale-while-revalidate), so no citizen waits for the database for a shared answer.
            if key not in self.store.filling:
                # The leader is registered now, not when the task first runs: a request arriving in
                # between must see the refresh under way.
                leader = asyncio.get_running_loop().create_future()
                self.store.filling[key] = leader
                task = asyncio.create_task(self._fill(scope, rule, key, entry, leader=leader))
                self._refreshing.add(task)
                task.add_done_callback(self._refreshing.discard)
            self.store.stale_served += 1
            await self._hit(scope, send, rule, match, entry)
            return
        leader = self.store.filling.get(key)
        if leader is not None:
            try:
                fresh = await asyncio.wait_for(asyncio.shield(leader), FILL_WAIT)
            except TimeoutError:
                fresh = None
            if fresh is not None:
                await self._hit(scope, send, rule, match, fresh)
            else:
                await self.app(scope, receive, send)
            return
        status, headers, body, fresh = await self._fill(scope, rule, key, entry, receive)
        if fresh is not None:
            await _serve(scope, send, fresh)
        else:
            await _replay(scope, send, status, headers, body)

    async def _hit(self, scope: Scope, send: Send, rule: Rule, match: re.Match[str], entry: Entry) -> None:
        self.store.hits += 1
        if rule.on_hit:
            rule.on_hit(scope["app"].state, match)
        await _serve(scope, send, entry)

    async def _fill(
        self,
        scope: Scope,
        rule: Rule,
        key: tuple,
        old: Entry | None,
        receive: Receive | None = None,
        leader: asyncio.Future[Entry | None] | None = None,
    ) -> tuple[int, list, bytes, Entry | None]:
        """Ask the app (as the leader of everyone asking for ``key`` meanwhile) and keep the answer
        if it may be kept. An answer that may not (an error, a shed) leaves the old entry in place."""
        if leader is None:
            leader = asyncio.get_running_loop().create_future()
            self.store.filling[key] = leader
        fresh: Entry | None = None
        status, headers, body = 500, [], b""
        try:
            status, headers, body = await _capture(self.app, _plain(scope), receive or _get_request)
            fresh = self._entry(scope, rule, status, headers, body, old)
            if fresh is not None:
                self.store.fills += 1
                self.store.put(key, fresh)
        except Exception:
            if receive is not None:
                raise
            log.exception("response cache: background refresh failed", extra={"path": scope["path"]})
        finally:
            if self.store.filling.get(key) is leader:
                del self.store.filling[key]
            leader.set_result(fresh)
        return status, headers, body, fresh

    def _entry(
        self, scope: Scope, rule: Rule, status: int, headers: list, body: bytes, old: Entry | None
    ) -> Entry | None:
        if status != 200 or len(body) > MAX_BODY:
            return None
        route_cc = route_modified = ""
        kept: list[tuple[bytes, bytes]] = []
        content_type = b""
        for name, value in headers:
            name = name.lower()
            if name == b"cache-control":
                route_cc = value.decode("latin-1")
                continue
            if name == b"last-modified":
                route_modified = value.decode("latin-1")
            if name in OWN_HEADERS:
                continue
            if name == b"content-type":
                content_type = value
            kept.append((name, value))
        if "no-store" in route_cc or "private" in route_cc:
            return None
        if rule.cache_control is None:
            cc = route_cc or "no-cache"
        elif callable(rule.cache_control):
            cc = rule.cache_control(scope.get("query_string", b""))
        else:
            cc = rule.cache_control
        kept.append((b"cache-control", cc.encode()))
        tag = 'W/"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        if route_modified:
            modified = route_modified  # a file's own time
        elif old is not None and old.etag == tag:
            modified = old.last_modified  # unchanged since
        else:
            modified = _http_date(datetime.now(UTC))
        kept += [(b"etag", tag.encode()), (b"last-modified", modified.encode())]
        compressible = len(body) >= MIN_COMPRESS and bool(COMPRESSIBLE.match(content_type))
        if compressible:
            kept.append((b"vary", b"Accept-Encoding"))
        return Entry(kept, body, tag, modified, time.monotonic(), compressible, proxy_now=rule.proxy_now)


async def _get_request() -> Message:
    """The request body of a background refresh: a GET has none."""
    return {"type": "http.request", "body": b"", "more_body": False}


def _personal(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"authorization" or (name == b"cookie" and COOKIE_NAME.encode() in value):
            return True
    return False


def _plain(scope: Scope) -> Scope:
    """The request as the app should see it when filling: no conditional or encoding headers, so
    the answer is the whole, uncompressed body."""
    drop = (b"accept-encoding", b"if-none-match", b"if-modified-since", b"range", b"if-range")
    headers = [(k, v) for k, v in scope["headers"] if k not in drop]
    return {**scope, "headers": headers, "method": "GET", CACHE_FILL: True}


async def _capture(app: ASGIApp, scope: Scope, receive: Receive) -> tuple[int, list, bytes]:
    status = 500
    headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []

    async def collect(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, collect)
    return status, headers, b"".join(chunks)


def _accepted(scope: Scope) -> set[str]:
    out: set[str] = set()
    for name, value in scope["headers"]:
        if name != b"accept-encoding":
            continue
        for item in value.decode("latin-1").split(","):
            coding, _, params = item.partition(";")
            q = params.strip()
            if q.startswith("q="):
                try:
                    if float(q[2:]) <= 0:
                        continue
                except ValueError:
                    continue
            out.add(coding.strip().lower())
    return out


def _not_modified(scope: Scope, entry: Entry) -> bool:
    inm = ims = None
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            inm = value.decode("latin-1")
        elif name == b"if-modified-since":
            ims = value.decode("latin-1")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or entry.etag.removeprefix("W/") in tags
    if ims is not None:
        try:
            return parsedate_to_datetime(entry.last_modified) <= parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
    return False


async def _serve(scope: Scope, send: Send, entry: Entry) -> None:
    headers = list(entry.headers)
    age = int(time.monotonic() - entry.stored)
    if age:
        headers.append((b"age", str(age).encode()))
    if entry.proxy_now:
        headers.append((b"x-accel-expires", proxy_expires_now()))
    if _not_modified(scope, entry):
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    body = entry.body
    if entry.compressible:
        accepted = _accepted(scope)
        encoding = "br" if "br" in accepted else "gzip" if "gzip" in accepted else None
        if encoding:
            body = entry.variant(encoding)
            headers.append((b"content-encoding", encoding.encode()))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


async def _replay(scope: Scope, send: Send, status: int, headers: list, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


def _http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def proxy_expires_now() -> bytes:
    """``X-Accel-Expires`` for "until the end of this second" (nginx: valid while now <= that second)."""
    return f"@{int(time.time())}".encode()


def static_cache_control(query: bytes) -> str:
    """A file linked with its content hash (?v=…) never changes meaning: kept for a year. Without
    it, revalidate every time (ETag)."""
    return IMMUTABLE if query.startswith(b"v=") or b"&v=" in query else "no-cache"
