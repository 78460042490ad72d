"""The warm-tile fast path: a cached tile of a published layer is answered before routing, with no
database round trip.

- ``LayerDirectory`` keeps the published layers and their revisions in memory. It LISTENs on
  ``gisapp_layers`` (migration 0005: any change to gis.layer, including the revision bumps of every
  feature change, announces itself with an empty payload) and reloads on each announcement. While it
  is not listening (start-up, a lost connection) it holds nothing and every request takes the normal
  route, which reads the database.
- ``TileFastPath`` (plain ASGI) answers GET/HEAD of ``/ogc/collections/{id}/tiles/WebMercatorQuad/
  {z}/{y}/{x}`` only when the layer is in the directory and the tile is in the cache (or the client's
  ETag matches); everything else goes on to the route, which renders, caches and checks as before.
  Published layers look the same to every caller, so the answer does not depend on who asks; the
  headers are the route's own (gisapp/ogc/tiles.py).

A change reaches the fast path when its notification arrives, milliseconds after the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from urllib.parse import parse_qsl

import psycopg
from psycopg.rows import dict_row

from gisapp.db import psycopg_dsn
from layers import catalog, tiles
from layers.catalog import Layer
from layers.tiles import TileCache

log = logging.getLogger("gisapp.tiles")
CHANNEL = "gisapp_layers"
RENDER_WAIT = 10.0  # how long a request waits for another's render of the same tile
TILE_PATH = re.compile(
    r"^/ogc/collections/([a-z0-9][a-z0-9_-]{0,62})/tiles/WebMercatorQuad/(\d{1,2})/(\d{1,7})/(\d{1,7})$"
)


class LayerDirectory:
    def __init__(self, database_url: str) -> None:
        self.dsn = psycopg_dsn(database_url)
        self.layers: dict[str, Layer] | None = None  # None: not listening, do not trust
        self.reloads = 0
        self.served = 0  # answers given by the fast path
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="gisapp-layer-directory")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.layers = None

    async def _listen(self) -> None:
        delay = 1.0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.dsn, autocommit=True, row_factory=dict_row
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")  # before loading: no change slips between
                    await self._reload(conn)
                    delay = 1.0
                    while True:
                        # Leave the generator before querying: it holds the connection meanwhile.
                        async for _ in conn.notifies(stop_after=1):
                            pass
                        await self._reload(conn)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # keep serving through the normal route whatever happens here
                self.layers = None
                log.warning("layer directory lost the database; retrying", extra={"error": str(e)[:200]})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)

    async def _reload(self, conn: psycopg.AsyncConnection) -> None:
        cur = await conn.execute(catalog.PUBLIC_LAYERS_SQL)
        self.layers = tiles.published_tile_layers(await cur.fetchall())
        self.reloads += 1


class TileFastPath:
    def __init__(self, app) -> None:
        self.app = app
        # Tiles being rendered: the first request for a cold tile renders it through the route; the
        # others that ask meanwhile wait for it and are answered from the cache (single flight), so a
        # surge onto a cold map renders each tile once instead of once per phone.
        self._rendering: dict[tuple[str, str, str, str], asyncio.Future[None]] = {}

    async def __call__(self, scope, receive, send) -> None:
        # A query string other than ?properties= goes to the route, which refuses parameters a tile
        # does not take (_tile_query answers False for it).
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            match = TILE_PATH.match(scope["path"])
            query = _tile_query(scope) if match else False  # other paths' query strings not parsed
            if match and query is not False:
                key = (*match.groups(), query)
                if await self._answer(scope, send, *key):
                    return
                if _known(scope, match.group(1)):
                    await self._render_once(scope, receive, send, key)
                    return
        await self.app(scope, receive, send)

    async def _render_once(self, scope, receive, send, key: tuple) -> None:
        pending = self._rendering.get(key)
        if pending is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(pending), RENDER_WAIT)
            if await self._answer(scope, send, *key):
                return
            await self.app(scope, receive, send)  # the render failed or was shed: try on our own
            return
        leader: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._rendering[key] = leader
        try:
            await self.app(scope, receive, send)
        finally:
            del self._rendering[key]
            leader.set_result(None)

    async def _answer(self, scope, send, slug: str, zs: str, ys: str, xs: str, props: tiles.Props) -> bool:
        state = scope["app"].state
        directory: LayerDirectory | None = getattr(state, "layer_directory", None)
        layer = directory.layers.get(slug) if directory and directory.layers is not None else None
        z, y, x = int(zs), int(ys), int(xs)
        if layer is None or not tiles.valid_tile(z, x, y):
            return False
        public: bool = state.public
        tag = tiles.etag(layer, z, x, y, public=public, props=props)
        headers = tile_headers(tag, public)
        if tiles.etag_matches(_header(scope, b"if-none-match"), tag):
            directory.served += 1
            await _respond(send, 304, headers, b"")
            return True
        cache: TileCache = state.tile_cache
        # Only a valid choice of properties is ever cached (the route checks it), so a hit is one.
        data = cache.get(layer, z, x, y, public, props)
        if data is None:
            return False
        directory.served += 1
        if not data:
            await _respond(send, 204, headers, b"")
        else:
            body = b"" if scope["method"] == "HEAD" else data
            headers = [
                *headers,
                (b"content-type", tiles.MVT.encode()),
                (b"content-length", str(len(data)).encode()),
            ]
            await _respond(send, 200, headers, body)
        return True


def _tile_query(scope) -> tiles.Props | bool:
    """The chosen properties of a tile request (None: all), or False when the query string holds
    anything else: the route then answers it (and says what is wrong with it)."""
    raw = scope.get("query_string", b"")
    if not raw:
        return None
    try:
        pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return False
    if len(pairs) != 1 or pairs[0][0] != "properties":
        return False
    return tiles.parse_properties(pairs[0][1])


def _known(scope, slug: str) -> bool:
    directory: LayerDirectory | None = getattr(scope["app"].state, "layer_directory", None)
    return directory is not None and directory.layers is not None and slug in directory.layers


def tile_headers(tag: str, public: bool) -> list[tuple[bytes, bytes]]:
    """The headers of a tile answer, shared with the route."""
    out = [
        (b"etag", tag.encode()),
        (b"cache-control", f"{'public' if public else 'private'}, max-age={tiles.MAX_AGE}".encode()),
    ]
    if not public:
        out.append((b"vary", b"Authorization, Cookie"))  # what a caller may see depends on who they are
    return out


def _header(scope, name: bytes) -> str | None:
    for k, v in scope["headers"]:
        if k == name:
            return v.decode("latin-1")
    return None


async def _respond(send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    if status != 200:
        headers = [*headers, (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
