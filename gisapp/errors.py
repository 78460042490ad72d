"""One error hierarchy; every error a person can cause says what happened in Japanese and English."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from layers.errors import UserError


class AppError(UserError):
    """Of the web app itself (authentication, routes)."""

    code = "bad_request"


class NotAuthenticated(AppError):
    status, code = 401, "not_authenticated"


class Forbidden(AppError):
    status, code = 403, "forbidden"


class NotFound(AppError):
    status, code = 404, "not_found"


class Conflict(AppError):
    status, code = 409, "conflict"


class InvalidInput(AppError):
    status, code = 400, "invalid_input"


def body(code: str, ja: str, en: str, **details: object) -> dict:
    # A detail never replaces the code or the messages.
    return {"error": {**details, "code": code, "message_ja": ja, "message_en": en}}


_HTTP_TEXT = {
    401: ("ログインが必要です。", "Login required."),
    403: ("この操作の権限がありません。", "You are not allowed to do this."),
    404: ("見つかりません。", "Not found."),
    405: ("このメソッドは使えません。", "Method not allowed."),
}


def install(app: FastAPI) -> None:
    @app.exception_handler(UserError)
    async def _user_error(request: Request, exc: UserError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(
            {"error": {**exc.details, "code": exc.code, "message_ja": exc.ja, "message_en": exc.en}},
            exc.status,
            headers=headers,
        )

    @app.exception_handler(PoolTimeout)
    async def _busy(request: Request, exc: PoolTimeout) -> JSONResponse:
        return JSONResponse(
            body(
                "busy",
                "混み合っています。少し待ってからもう一度お試しください。",
                "Busy: please try again shortly.",
            ),
            503,
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        ja, en = _HTTP_TEXT.get(exc.status_code, ("エラーが発生しました。", str(exc.detail)))
        return JSONResponse(body(f"http_{exc.status_code}", ja, en), exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"where": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()[:10]
        ]
        return JSONResponse(
            body(
                "invalid_input",
                "入力内容が正しくありません。",
                "The request is not valid.",
                problems=problems,
            ),
            400,
        )
