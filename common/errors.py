"""The one error model of the platform.

Every error a person can cause is a ``UserError``: it says what happened in Japanese and English and
carries the HTTP status it answers as. Domain packages (``layers``, ``gisapp.ops``, the importers)
subclass the generic kinds below; the web app answers them all with one handler and documents them in
the OpenAPI from ``STATUS_TEXT``. Invalid input is 422 across ``/api``; the OGC API keeps the
standard's 400 (``gisapp.ogc``).
"""

from __future__ import annotations


class UserError(Exception):
    status = 422
    code = "invalid_input"
    headers: dict[str, str] | None = None

    def __init__(self, ja: str, en: str, **details: object) -> None:
        super().__init__(f"{ja} / {en}")
        self.ja, self.en, self.details = ja, en, details

    def body(self) -> dict:
        return error_body(self.code, self.ja, self.en, **self.details)


class InvalidInput(UserError):
    status, code = 422, "invalid_input"


class NotAuthenticated(UserError):
    status, code = 401, "not_authenticated"
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(UserError):
    status, code = 403, "forbidden"


class NotFound(UserError):
    status, code = 404, "not_found"


class Conflict(UserError):
    """The state changed meanwhile (stale version), or what is asked for is taken or in use."""

    status, code = 409, "conflict"


class PayloadTooLarge(UserError):
    status, code = 413, "too_large"


class PreconditionRequired(UserError):
    status, code = 428, "precondition_required"


class TooManyRequests(UserError):
    status, code = 429, "too_many_requests"

    def __init__(self, ja: str, en: str, retry_after: int, **details: object) -> None:
        super().__init__(ja, en, retry_after=retry_after, **details)
        self.headers = {"Retry-After": str(max(1, int(retry_after)))}


class Busy(UserError):
    status, code = 503, "busy"
    headers = {"Retry-After": "2"}


def error_body(code: str, ja: str, en: str, **details: object) -> dict:
    # A detail never replaces the code or the messages.
    return {"error": {**details, "code": code, "message_ja": ja, "message_en": en}}


# What each status means to a person, for answers without a more precise message and for the OpenAPI.
STATUS_TEXT: dict[int, tuple[str, str]] = {
    400: ("リクエストが正しくありません。", "Bad request."),
    401: ("ログインが必要です。", "Login required."),
    403: ("この操作の権限がありません。", "You are not allowed to do this."),
    404: ("見つかりません。", "Not found."),
    405: ("このメソッドは使えません。", "Method not allowed."),
    409: ("他の操作と競合しました。最新の状態を確認してください。", "Conflict: check the current state."),
    413: ("送信内容が大きすぎます。", "The request body is too large."),
    415: ("この形式の送信は受け付けません。", "Unsupported media type."),
    422: ("入力内容が正しくありません。", "The input is not valid."),
    428: (
        "更新には最後に読んだ版（If-Match）が必要です。",
        "If-Match with the version last read is required.",
    ),
    429: ("試行が多すぎます。しばらく待ってからお試しください。", "Too many attempts: wait, then try again."),
    500: ("サーバーで問題が発生しました。", "Internal server error."),
    503: ("混み合っています。少し待ってからもう一度お試しください。", "Busy: please try again shortly."),
}
