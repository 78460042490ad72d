"""Login and logout: bearer tokens for the API, a session cookie for pages."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from common.errors import Busy, NotAuthenticated, TooManyRequests
from gisapp import auth, login_throttle
from gisapp.api.html import page_response
from gisapp.db import transaction
from gisapp.deps import COOKIE_NAME, CurrentUser, EngineDep, SettingsDep
from gisapp.pages_auth import login_page, safe_next

router = APIRouter(tags=["auth"])


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


def _login(request: Request, engine, settings, username: str, password: str, kind: str):
    """(user, token) or None; raises TooManyRequests while the account or the address is locked."""
    address = None
    if settings.login_throttle:
        host = request.client.host if request.client else ""
        address = login_throttle.address_key(login_throttle.key_secret(settings), host)
    lifetime = timedelta(hours=settings.session_hours)
    return auth.log_in(engine, username, password, kind, lifetime, address=address)


def _user_json(user: auth.User) -> dict:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "department_id": user.department_id,
        "roles": sorted(user.roles),
    }


@router.post(
    "/api/auth/login",
    summary="Log in, get a bearer token / ログイン",
    responses={
        401: {"description": "Wrong username or password / ユーザー名またはパスワードが違います"},
        429: {"description": "Too many failed logins: wait Retry-After seconds / 試行が多すぎます"},
        503: {"description": "Logins are busy: try again after Retry-After seconds / 混み合っています"},
    },
)
def api_login(body: LoginIn, request: Request, engine: EngineDep, settings: SettingsDep) -> dict:
    found = _login(request, engine, settings, body.username, body.password, "bearer")
    if found is None:
        raise NotAuthenticated(
            "ユーザー名またはパスワードが違います。", "Wrong username or password.", field="password"
        )
    user, token = found
    return {"access_token": token, "token_type": "bearer", "user": _user_json(user)}


@router.post("/api/auth/logout", status_code=204, summary="Revoke this token / ログアウト")
def api_logout(request: Request, user: CurrentUser, engine: EngineDep) -> Response:
    token = request.headers.get("authorization", "")[7:].strip() or request.cookies.get(COOKIE_NAME, "")
    with transaction(engine) as conn:
        auth.close_session(conn, token, actor=user.username)
    return Response(status_code=204)


@router.get("/api/me", summary="The signed-in user / ログイン中のユーザー")
def me(user: CurrentUser) -> dict:
    return _user_json(user)


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request, next: str = "/hq", lang: str = "ja") -> HTMLResponse:
    return page_response(request, login_page(safe_next(next), lang))


@router.post("/login", include_in_schema=False)
def login_submit(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    username: str = Form(max_length=64),
    password: str = Form(max_length=256),
    next: str = Form("/hq"),
    lang: str = Form("ja"),
) -> Response:
    try:
        found = _login(request, engine, settings, username, password, "cookie")
    except (TooManyRequests, Busy) as e:
        page = login_page(safe_next(next), lang, notice=(e.ja, e.en), username=username)
        return page_response(request, page, e.status, e.headers)
    if found is None:
        return page_response(request, login_page(safe_next(next), lang, failed=True, username=username), 401)
    _, token = found
    resp = RedirectResponse(safe_next(next), status_code=303)
    resp.set_cookie(
        COOKIE_NAME,
        token,
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="strict",
        secure=settings.session_secure_cookie,
        path="/",
    )
    return resp


@router.post("/logout", include_in_schema=False)
def logout_submit(request: Request, engine: EngineDep) -> Response:
    token = request.cookies.get(COOKIE_NAME)
    if token:
        with transaction(engine) as conn:
            auth.close_session(conn, token)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE_NAME, path="/")
    return resp
