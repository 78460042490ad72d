"""CORS for the anonymous read APIs, so a map on the city's own website (another origin) can read them.

``Access-Control-Allow-Origin: *`` on GET/HEAD answers of the read paths (as pygeoapi and tipg do),
and an ``OPTIONS`` preflight answered here, before anything else runs. Never credentials: no
``Access-Control-Allow-Credentials``, so a browser sends no cookie cross-origin and refuses any answer
to a credentialed request; what another origin reads is what anyone may read (the internal instance
answers a request without a session as anonymous = public layers only). Writes and the staff APIs get
no CORS at all (their Origin check stays: gisapp/middleware.py OriginCheck).

``*`` does not depend on the request, so cached answers (the response cache, a proxy) stay right
without ``Vary: Origin``. Plain ASGI: it sits outermost, so the warm-tile fast path's and the response
cache's answers carry the headers too. docs/tiles.md, "CORS".
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The read APIs: OGC API Features/Tiles/Styles, the basemap, the public JSON the citizen map reads.
READ_PREFIXES = ("/ogc/", "/basemap/", "/api/public/", "/tiles/raster/")
READ_EXACT = frozenset({"/ogc", "/basemap"})
READ_METHODS = frozenset({"GET", "HEAD"})
ALLOW_METHODS = "GET, HEAD, OPTIONS"
# What a map client sends: content negotiation and revalidation. No Authorization: never credentials.
ALLOW_HEADERS = "Accept, Accept-Language, Content-Type, If-None-Match, If-Modified-Since, Range"
# Beyond the CORS-safelisted ones: what OGC clients and MapLibre read.
EXPOSE_HEADERS = "Content-Crs, Content-Encoding, ETag, Link, Location, Vary"
MAX_AGE = "86400"

CORS_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", EXPOSE_HEADERS.encode()),
]


def is_read_path(path: str) -> bool:
    return path in READ_EXACT or path.startswith(READ_PREFIXES)


class ReadCors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_read_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "OPTIONS":
            await _preflight(scope, send)
            return
        if method not in READ_METHODS:
            await self.app(scope, receive, send)
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Appended raw (no route sets these): the warm-tile path counts every microsecond.
                message["headers"] = [*message.get("headers", ()), *CORS_HEADERS]
            await send(message)

        await self.app(scope, receive, with_cors)


async def _preflight(scope: Scope, send: Send) -> None:
    """204 with what may be asked. A preflight for anything but a read gets no CORS headers, so the
    browser refuses the request it asked about (a write stays same-origin only)."""
    requested = None
    for key, value in scope["headers"]:
        if key == b"access-control-request-method":
            requested = value.decode("latin-1").strip().upper()
    headers = [(b"allow", ALLOW_METHODS.encode()), (b"content-length", b"0")]
    if requested is None or requested in READ_METHODS:
        headers += [
            *CORS_HEADERS,
            (b"access-control-allow-methods", ALLOW_METHODS.encode()),
            (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
            (b"access-control-max-age", MAX_AGE.encode()),
            (b"cache-control", b"public, max-age=86400"),
        ]
    else:
        headers.append((b"cache-control", b"no-store"))
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
