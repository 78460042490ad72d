"""Hostile input stopped before any route runs (plain ASGI middleware).

- **Body size per route**: ``BODY_LIMITS`` is the one table of limits. A ``Content-Length`` above the
  route's limit is answered 413 without reading a byte; a body without one (chunked) is counted as it
  streams and answered 413 the moment it passes the limit. Only JSON and urlencoded bodies are held in
  memory here (capped at ``INSPECT_LIMIT``, to be checked below); uploads stream through to the route.
- **Control characters**: NUL and the other C0 controls (tab, LF and CR are allowed inside JSON and
  form values, where text may be multi-line) and lone surrogates are refused in the path, the query
  string, every key and string of a JSON body, every field of a urlencoded form and every text field
  (not the files) of a multipart form, checked as it streams: 422, or 400 under /ogc (the OGC API's
  status for a bad parameter). PostgreSQL cannot store NUL in text, so without this
  such input reached the database as a 500.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.errors import InvalidInput, PayloadTooLarge
from gisapp.errors import invalid_input_status
from gisapp.ops import people, photos
from layers.importers.read import MAX_IMPORT_BYTES
from layers.raster.limits import MAX_BYTES_CEILING as MAX_RASTER_BYTES

KIB, MIB = 1024, 1024 * 1024
API_LIMIT = 1 * MIB  # a JSON body of the API
FORM_LIMIT = 64 * KIB  # a page's form (/login, /evacuation/{token}) and anything outside /api
INSPECT_LIMIT = API_LIMIT  # JSON / urlencoded bodies are read whole (for the checks) up to this

# (method, path pattern, limit in bytes): first match wins; the upload routes take files.
BODY_LIMITS: tuple[tuple[str, re.Pattern[str], int], ...] = (
    ("POST", re.compile(r"/api/layers/[^/]+/import"), MAX_IMPORT_BYTES + 1 * MIB),
    # A raster's own limit is the setting GISAPP_RASTER_MAX_MB (checked by layers.raster.cog), ≤ this.
    ("POST", re.compile(r"/api/rasters"), MAX_RASTER_BYTES + 1 * MIB),
    ("POST", re.compile(r"/api/reports"), photos.MAX_BYTES + 64 * KIB),
    ("POST", re.compile(r"/api/incidents/[^/]+/photos"), photos.MAX_BYTES + 64 * KIB),
    ("POST", re.compile(r"/api/people/import"), people.MAX_BYTES + 64 * KIB),
    ("*", re.compile(r"/api/.*"), API_LIMIT),
    ("*", re.compile(r".*"), FORM_LIMIT),
)

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_INSPECTED_TYPES = ("application/json", "application/x-www-form-urlencoded")
# Single-line places (path, query, keys) refuse every C0 control; values may hold tab, LF and CR.
_BAD_LINE = re.compile(r"[\x00-\x1f\ud800-\udfff]")
_BAD_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")

TOO_LARGE = (
    "送信内容が大きすぎます（上限 {size}）。",
    "The request body is too large (limit {size}).",
)
BAD_CHARS = (
    "制御文字（NUL など）や不正な文字は使えません。",
    "Control characters (such as NUL) and invalid characters are not allowed.",
)


def body_limit(method: str, path: str) -> int:
    """The largest body this route accepts, from ``BODY_LIMITS``."""
    for m, pattern, limit in BODY_LIMITS:
        if (m == "*" or m == method) and pattern.fullmatch(path):
            return limit
    return FORM_LIMIT  # unreachable: the table ends with a catch-all


def bad_in_json(doc: object) -> str | None:
    """Where a JSON document holds a refused character ("body.a.0"), or None. Iterative: a deeply
    nested document cannot exhaust the stack."""
    stack: list[tuple[object, str]] = [(doc, "body")]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            if _BAD_TEXT.search(value):
                return where
        elif isinstance(value, dict):
            for key, item in value.items():
                if _BAD_LINE.search(key):
                    return where
                stack.append((item, f"{where}.{key}"))
        elif isinstance(value, list):
            stack.extend((item, f"{where}.{i}") for i, item in enumerate(value))
    return None


def bad_in_form(body: bytes) -> str | None:
    for key, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True, errors="replace"):
        if _BAD_LINE.search(key):
            return "body"
        if _BAD_TEXT.search(value):
            return f"body.{key}"
    return None


def bad_in_url(scope: Scope) -> str | None:
    if _BAD_LINE.search(scope["path"]):
        return "path"
    query = scope.get("query_string", b"")
    if query:
        for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True, errors="replace"):
            if _BAD_LINE.search(key) or _BAD_LINE.search(value):
                return "query"
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def human_size(limit: int) -> str:
    """The limit as a person reads it: whole MB (a file's limit plus its form's margin reads as the
    file's), else KB."""
    return f"{limit // MIB} MB" if limit >= MIB else f"{limit // KIB} KB"


def _too_large(limit: int) -> JSONResponse:
    ja, en = TOO_LARGE
    size = human_size(limit)
    err = PayloadTooLarge(ja.format(size=size), en.format(size=size), limit=limit)
    return JSONResponse(err.body(), err.status, headers={"Connection": "close"})


def _bad_chars(path: str, where: str) -> JSONResponse:
    err = InvalidInput(*BAD_CHARS, where=where)
    return JSONResponse(err.body(), invalid_input_status(path))


class RequestGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        where = bad_in_url(scope)
        if where:
            await _bad_chars(path, where)(scope, receive, send)
            return
        limit = body_limit(method, path)
        length = _header(scope, b"content-length")
        if length is not None and length.strip().isdigit() and int(length) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        raw_type = _header(scope, b"content-type") or ""
        ctype = raw_type.split(";")[0].strip().lower()
        if method in _BODY_METHODS and (ctype in _INSPECTED_TYPES or ctype.endswith("+json")):
            await self._inspected(scope, receive, send, min(limit, INSPECT_LIMIT), ctype)
        else:
            fields = _TextFields.for_type(raw_type) if method in _BODY_METHODS else None
            await self._streamed(scope, receive, send, limit, fields)

    async def _inspected(self, scope: Scope, receive: Receive, send: Send, cap: int, ctype: str) -> None:
        """Read the (small) body whole, check it, then hand it on as one message."""
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the route see that
                await self.app(scope, replay(b"", message, receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                await _too_large(cap)(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        where = None
        if body and ctype == "application/x-www-form-urlencoded":
            where = bad_in_form(body)
        elif body:
            try:
                where = bad_in_json(json.loads(body))
            except RecursionError:
                where = "body"  # nesting deeper than the parser can follow: refused, not a 500
            except ValueError:
                pass  # not JSON at all: the route's validation answers that
        if where:
            await _bad_chars(scope["path"], where)(scope, receive, send)
            return
        await self.app(scope, replay(body, None, receive), send)

    async def _streamed(
        self, scope: Scope, receive: Receive, send: Send, limit: int, fields: _TextFields | None
    ) -> None:
        """Pass the body through, counting (and checking a multipart form's text fields); past the
        limit, or at a refused character, answer at once and tell the route the client is gone
        (whatever it answers then is dropped). A chunk is checked before the route sees it, so a form
        is refused before the route has all of it."""
        state = {"size": 0, "over": False, "started": False}

        async def refuse(response: JSONResponse) -> Message:
            state["over"] = True
            if not state["started"]:
                state["started"] = True
                await response(scope, receive, send)
            return {"type": "http.disconnect"}

        async def counting_receive() -> Message:
            if state["over"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                state["size"] += len(chunk)
                if state["size"] > limit:
                    return await refuse(_too_large(limit))
                if fields is not None and fields.feed(chunk):
                    return await refuse(_bad_chars(scope["path"], fields.bad))
            return message

        async def guarded_send(message: Message) -> None:
            if state["over"]:
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not state["over"]:
                raise  # after our 413 the route's complaint about the cut body is expected


class _TextFields:
    """Checks the text fields of a multipart form as its bytes stream by; file parts are skipped and
    never held. A form the parser cannot follow is left to the route."""

    MAX_FIELD = 64 * KIB  # a text field longer than this is the route's to refuse; not held here

    def __init__(self, boundary: bytes) -> None:
        self.bad: str = ""
        self._headers: dict[bytes, bytes] = {}
        self._field, self._value, self._name = b"", bytearray(), ""
        self._is_file = False
        self._broken = False
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._begin,
                "on_header_field": lambda d, a, b: setattr(self, "_field", self._field + d[a:b]),
                "on_header_value": self._header_value,
                "on_header_end": lambda: setattr(self, "_field", b""),
                "on_headers_finished": self._headers_done,
                "on_part_data": self._data,
                "on_part_end": self._end,
            },
        )

    @classmethod
    def for_type(cls, content_type: str) -> _TextFields | None:
        ctype, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        return cls(boundary) if ctype == b"multipart/form-data" and boundary else None

    def feed(self, chunk: bytes) -> bool:
        """True once a refused character was found (``bad`` says where)."""
        if not self._broken and not self.bad and chunk:
            try:
                self._parser.write(chunk)
            except MultipartParseError:
                self._broken = True
        return bool(self.bad)

    def _begin(self) -> None:
        self._headers, self._value, self._is_file, self._name = {}, bytearray(), False, ""

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        key = self._field.lower()
        self._headers[key] = self._headers.get(key, b"") + data[start:end]

    def _headers_done(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._is_file = b"filename" in options or b"filename*" in options
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        if _BAD_LINE.search(self._name):
            self.bad = "body"

    def _data(self, data: bytes, start: int, end: int) -> None:
        if not self._is_file and len(self._value) <= self.MAX_FIELD:
            self._value += data[start:end]

    def _end(self) -> None:
        if not self._is_file and not self.bad:
            text = bytes(self._value).decode("utf-8", "replace")
            if _BAD_TEXT.search(text):
                self.bad = f"body.{self._name}"


def replay(body: bytes, first: Message | None, receive: Receive) -> Receive:
    """A receive that gives ``first`` (or the body as one message) once, then the real channel."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return first or {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
