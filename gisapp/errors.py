"""How the web app answers errors: one handler for the one error model (``common.errors``), the same
JSON shape for the framework's own errors, and no internals in a 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.errors import STATUS_TEXT, Busy, UserError, error_body

log = logging.getLogger("gisapp.errors")

# A database that cannot be reached (a replica or a primary that is down or restarting) or that gave
# up on the statement: 503 with Retry-After, as for a full pool; the page and the static files, which
# need no database, still load.
DB_UNAVAILABLE = (
    "データベースに一時的に接続できません。少し待ってからもう一度お試しください。",
    "The database is temporarily unavailable: please try again shortly.",
)


def _answer(status: int, code: str, ja: str, en: str, headers=None, **details) -> JSONResponse:
    return JSONResponse(error_body(code, ja, en, **details), status, headers=headers)


def invalid_input_status(path: str) -> int:
    """422 for invalid input; the OGC API keeps the standard's 400."""
    return 400 if path == "/ogc" or path.startswith("/ogc/") else 422


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(app: FastAPI, scope) -> list[str]:
    """Every method some route serves at this path (Starlette's own 405 names only the first route's).
    Each method is tried against the routing table as it stands (included routers too)."""
    return sorted(
        method
        for method in _METHODS
        if any(route.matches({**scope, "method": method})[0] == Match.FULL for route in app.router.routes)
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(UserError)
    async def _user_error(request: Request, exc: UserError) -> JSONResponse:
        return JSONResponse(exc.body(), exc.status, headers=exc.headers)

    @app.exception_handler(PoolTimeout)
    async def _busy(request: Request, exc: PoolTimeout) -> JSONResponse:
        busy = Busy(*STATUS_TEXT[503])
        return JSONResponse(busy.body(), 503, headers=busy.headers)

    @app.exception_handler(OperationalError)
    async def _unavailable(request: Request, exc: OperationalError) -> JSONResponse:
        log.warning(
            "database unavailable on %s %s: %s", request.method, request.url.path, str(exc.orig)[:200]
        )
        busy = Busy(*DB_UNAVAILABLE)
        return JSONResponse(busy.body(), 503, headers=busy.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and invalid_input_status(request.url.path) == 422:
            # A body that is not JSON, not UTF-8 or not a form: invalid input like any other (422).
            ja, en = STATUS_TEXT[422]
            return _answer(
                422, "invalid_input", ja, en, problems=[{"where": "body", "problem": str(exc.detail)}]
            )
        ja, en = STATUS_TEXT.get(exc.status_code, ("エラーが発生しました。", str(exc.detail)))
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.scope))
        return _answer(exc.status_code, f"http_{exc.status_code}", ja, en, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"where": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()[:10]
        ]
        ja, en = STATUS_TEXT[422]
        return _answer(invalid_input_status(request.url.path), "invalid_input", ja, en, problems=problems)


class UnexpectedErrors:
    """Any other exception: logged, answered with a bilingual 500 that says nothing of it, and not
    raised further (Starlette's own last-resort handler re-raises, and the server then drops the
    keep-alive connection under the client). A failed COMMIT arrives here: never answered 2xx."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                ja, en = STATUS_TEXT[500]
                await _answer(500, "internal_error", ja, en)(scope, receive, send)
