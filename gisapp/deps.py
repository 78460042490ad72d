"""FastAPI dependencies: what a route needs, said in its signature."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from sqlalchemy import Connection, Engine

from common.errors import Forbidden, NotAuthenticated
from gisapp import auth
from gisapp.auth import User
from gisapp.db import read_only
from gisapp.settings import Settings

COOKIE_NAME = "gisapp_session"


# The cheap dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in a worker
# thread, and a thread hop per dependency per request is what a surge cannot afford (issue 11).
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_engine(request: Request) -> Engine:
    """The engine this instance reads with (the citizen-facing instance's: a replica, if it has one)."""
    return request.app.state.engine


async def get_write_engine(request: Request) -> Engine:
    """The engine this instance writes with: always the primary."""
    return request.app.state.write_engine


def _token(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer " and header[7:].strip():
        return header[7:].strip(), "bearer"
    cookie = request.cookies.get(COOKIE_NAME)
    return (cookie, "cookie") if cookie else None


def _user_for(engine: Engine, token: str, kind: str) -> User | None:
    with engine.connect() as conn:
        return auth.user_for_token(conn, token, kind)


async def optional_user(request: Request, engine: Annotated[Engine, Depends(get_engine)]) -> User | None:
    if request.app.state.public:
        return None  # the citizen-facing instance has no login at all
    if hasattr(request.state, "user"):
        return request.state.user
    found = _token(request)
    # Only a request that carries a token needs the database (in a worker thread: it blocks).
    user = await run_in_threadpool(_user_for, engine, *found) if found else None
    request.state.user = user
    return user


async def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise NotAuthenticated("ログインが必要です。", "Login required.")
    return user


def require_roles(*roles: str) -> Callable[[User], Awaitable[User]]:
    async def check(user: Annotated[User, Depends(current_user)]) -> User:
        if not user.has_any(*roles):
            raise Forbidden("この操作の権限がありません。", "You are not allowed to do this.")
        return user

    return check


def read_conn(
    engine: Annotated[Engine, Depends(get_engine)], user: Annotated[User | None, Depends(optional_user)]
) -> Iterator[Connection]:
    """A READ ONLY transaction carrying the user's roles (row-level security reads them), rolled back
    when the route returns. It can never hold a write: a write is a transaction of its own, owned by
    the domain call (``with transaction(engine, user.roles) as conn: …``) and committed before the
    answer is built; a dependency's exit runs only after the response is sent, too late to report a
    failed commit. Closed before the response is sent (scope="function"), so the pooled connection is
    not held while the client reads."""
    with read_only(engine, user.roles if user is not None else ()) as conn:
        yield conn


def primary_read_conn(
    engine: Annotated[Engine, Depends(get_write_engine)], user: Annotated[User | None, Depends(optional_user)]
) -> Iterator[Connection]:
    """``read_conn`` on the primary, for the reads of a citizen's own write flows (the report form, a
    report's status, one's registration and evacuation page by token): they see the write just made
    (a replica may not have it yet) and work whenever the write itself can."""
    with read_only(engine, user.roles if user is not None else ()) as conn:
        yield conn


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
ReadConn = Annotated[Connection, Depends(read_conn, scope="function")]
PrimaryReadConn = Annotated[Connection, Depends(primary_read_conn, scope="function")]
OptionalUser = Annotated[User | None, Depends(optional_user)]
CurrentUser = Annotated[User, Depends(current_user)]
StaffUser = Annotated[User, Depends(require_roles("staff", "hq_operator", "welfare"))]
HQUser = Annotated[User, Depends(require_roles("hq_operator", "staff"))]


# --- One worker thread per read --------------------------------------------------------------
#
# A sync ``def`` route taking ``ReadConn`` cost three thread hops per request: FastAPI enters a sync
# generator dependency in a worker thread, runs the route in another hop, and leaves the dependency
# in a third (each hop: a wake-up of a worker, then of the event loop, under the GIL). ``ReadRoute``
# runs such a route as one: the connection is opened, used and closed in the one worker thread that
# runs the route, with the same READ ONLY transaction and roles as ``read_conn``. Every router of the
# app uses it (``route_class=ReadRoute``); tests/test_read_path.py checks that none is left out.

_READ_DEPENDENCIES = {read_conn: "engine", primary_read_conn: "write_engine"}
_REQUEST = "gisapp_read_request"
_USER = "gisapp_read_user"


def _read_dependency(annotation: Any) -> str | None:
    """The engine (app.state attribute) of a ReadConn / PrimaryReadConn annotation, else None."""
    if get_origin(annotation) is not Annotated:
        return None
    for meta in get_args(annotation)[1:]:
        engine = _READ_DEPENDENCIES.get(getattr(meta, "dependency", None))
        if engine is not None:
            return engine
    return None


def one_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint`` as a route that reads in one worker thread (see above); unchanged when it takes
    no read connection or is ``async def`` (which must not block the event loop with one)."""
    if inspect.iscoroutinefunction(endpoint) or getattr(endpoint, "one_thread", False):
        return endpoint
    hints = get_type_hints(endpoint, include_extras=True)
    signature = inspect.signature(endpoint)
    reads = [(n, e) for n in signature.parameters if (e := _read_dependency(hints.get(n))) is not None]
    if not reads:
        return endpoint
    if len(reads) > 1:
        raise TypeError(f"{endpoint.__qualname__}: one read connection per route")
    conn_name, engine_attr = reads[0]
    params = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints.get(n, p.annotation))
        for n, p in signature.parameters.items()
        if n != conn_name
    ]
    # The request (for the engine; FastAPI fills one Request parameter only, so the route's own if it
    # has one) and the user (for the roles: FastAPI resolves optional_user once per request, so the
    # route's own user dependency, if any, is the same call).
    own_request = next((p.name for p in params if p.annotation is Request), None)
    if own_request is None:
        params.append(inspect.Parameter(_REQUEST, inspect.Parameter.KEYWORD_ONLY, annotation=Request))
    params.append(inspect.Parameter(_USER, inspect.Parameter.KEYWORD_ONLY, annotation=OptionalUser))

    @functools.wraps(endpoint)
    async def route(**values: Any) -> Any:
        request: Request = values[own_request] if own_request else values.pop(_REQUEST)
        user: User | None = values.pop(_USER)
        engine: Engine = getattr(request.app.state, engine_attr)

        def run() -> Any:
            with read_only(engine, user.roles if user is not None else ()) as conn:
                return endpoint(**values, **{conn_name: conn})

        return await run_in_threadpool(run)

    route.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=params, return_annotation=hints.get("return", signature.return_annotation)
    )
    route.one_thread = True  # type: ignore[attr-defined]
    return route


class ReadRoute(APIRoute):
    """The app's route class: a sync route with a read connection runs in one worker thread."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, one_thread(endpoint), **kwargs)
