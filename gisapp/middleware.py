"""Plain ASGI middleware (Starlette's BaseHTTPMiddleware costs a task and a queue per request,
which shows on the tile hot path): response headers, and the Origin check on cookie writes.
Body limits and control characters: gisapp/request_guard.py. docs/deploy.md explains all of it."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette_compress import CompressMiddleware

from common.errors import Forbidden
from gisapp.deps import COOKIE_NAME

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
HSTS = "max-age=31536000; includeSubDomains"
GSI_TILES = "https://cyberjapandata.gsi.go.jp"  # 地理院タイル, the basemap when online

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def content_security_policy(
    offline: bool, script_hashes: tuple[str, ...] = (), style_hashes: tuple[str, ...] = ()
) -> str:
    """The CSP of every page: our own scripts only (no inline script but the page's import map, allowed
    by its hash; no eval), no plugins, no framing. Styles: 'self' only — every page links its CSS;
    Leaflet and Swagger UI set styles through the DOM (element.style), which CSP does not restrict."""
    img = "'self' data: blob:" + ("" if offline else f" {GSI_TILES}")
    scripts = " ".join(("'self'", *script_hashes))
    # A page that must paint before its stylesheets could arrive (the citizen page) inlines them, allowed
    # by their hash; no other inline style.
    styles = " ".join(("'self'", *style_hashes))
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src {scripts}",
            f"style-src {styles}",
            f"img-src {img}",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        )
    )


class SecurityHeaders:
    """On every answer: nosniff, referrer policy, no framing; HSTS when cookies are Secure (the site is
    served over TLS); the CSP on HTML; ``Cache-Control: no-store`` unless the answer set its own (tiles,
    photos, the event stream) or is a static file: personal data never lands in a shared cache."""

    def __init__(self, app: ASGIApp, *, offline: bool = False, hsts: bool = False) -> None:
        self.app = app
        self.csp = content_security_policy(offline)
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", HSTS)
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", self.csp)
                if not static and "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, with_headers)


class CrossOrigin(Forbidden):
    code = "cross_origin"


CROSS_ORIGIN = (
    "別のサイトからの送信は受け付けません。画面を開き直してからもう一度操作してください。",
    "A request from another site is refused: reload the page and try again.",
)


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def _host_part(netloc: str) -> str:
    # Default ports say nothing: "example.org:443" is "example.org".
    netloc = netloc.lower()
    for default in (":80", ":443"):
        if netloc.endswith(default):
            return netloc[: -len(default)]
    return netloc


class OriginCheck:
    """CSRF: a write (POST/PUT/PATCH/DELETE) that a browser authenticates with the session cookie must
    come from one of our pages: its ``Origin`` (else ``Referer``) names the request's own host or an
    origin listed in GISAPP_ALLOWED_ORIGINS, else 403 before anything runs. A request with
    ``Authorization: Bearer`` is an API client, not a browser riding a cookie: unaffected. A login form
    posted from another site (login CSRF) is refused as well. The comparison is by host: behind a TLS
    proxy the app sees http while the browser says https (the proxy must pass the Host header on)."""

    def __init__(self, app: ASGIApp, allowed_origins: list[str] | None = None) -> None:
        self.app = app
        self.allowed = frozenset(allowed_origins or ())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE_METHODS and not self._allowed(scope):
            err = CrossOrigin(*CROSS_ORIGIN)
            await JSONResponse(err.body(), err.status)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        headers: dict[str, str] = {}
        for key, value in scope["headers"]:
            if key in (b"cookie", b"authorization", b"origin", b"referer", b"host"):
                headers.setdefault(key.decode(), value.decode("latin-1"))
        if headers.get("authorization", "")[:7].lower() == "bearer ":
            return True
        cookie = COOKIE_NAME in cookie_parser(headers.get("cookie", ""))
        login = scope["path"] == "/login"
        if not cookie and not login:
            return True
        origin = headers.get("origin")
        source = _origin_of(origin) if origin else _origin_of(headers.get("referer", ""))
        if source is None:
            # No origin at all: a browser always names it on a cross-site POST, so only a cookie
            # write must have one; a login by a script without the header is no CSRF.
            return not cookie and not origin
        if source in self.allowed:
            return True
        return _host_part(urlsplit(source).netloc) == _host_part(headers.get("host", ""))


# Answers that carry one person's data: never compressed. Compressing a secret in the same answer as
# text an attacker can choose leaks the secret through the compressed size (BREACH); these answers are
# small anyway. They are also never cached (no rule of gisapp/response_cache.py matches them, and they
# carry Cache-Control: no-store).
PERSONAL_PREFIXES = (
    "/api/people",
    "/people",
    "/api/households/",
    "/api/register/",
    "/register/",
    "/evacuation/",
    "/api/reports/status/",
    "/report/status/",
    "/api/auth",
    "/login",
)


class CompressExceptPersonal:
    """Compression (``starlette_compress``: Brotli or gzip as the client asks, streamed answers
    flushed as they go) for everything but PERSONAL_PREFIXES."""

    def __init__(self, app: ASGIApp, **options) -> None:
        self.app = app
        self.compressed = CompressMiddleware(app, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(PERSONAL_PREFIXES):
            await self.compressed(scope, receive, send)
        else:
            await self.app(scope, receive, send)
