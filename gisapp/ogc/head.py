"""HEAD on the OGC API: answered as GET without the body (RFC 9110, 9.3.2), for clients that probe
a collection or a tile before fetching it. FastAPI routes declared with GET only would answer 405.

Plain ASGI, outside the other middlewares: everything inside sees a GET (the same headers, cache
validators and Content-Length as the GET), and only the body is dropped on the way out.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The OGC API, the city's basemap and the raster XYZ alias: every anonymous read a map client probes.
PREFIXES = ("/ogc", "/basemap", "/tiles/raster")


class OgcHead:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] != "HEAD"
            or not any(path == p or path.startswith(p + "/") for p in PREFIXES)
        ):
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # swallow the parts; the last one ends the answer
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)
