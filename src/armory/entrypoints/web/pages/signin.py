"""Signing in and out of the pages, and the list of the person's books."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from armory.entrypoints.web.api import source
from armory.entrypoints.web.pages.core import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Me,
    Svc,
    form_of,
    login_nonce,
    redirect,
    render,
    set_session,
)
from armory.errors import TooManyAttempts, Unauthorized

router = APIRouter(include_in_schema=False)


def _safe_next(target: str) -> str:
    """Only a path on this server: a sign-in link must not send anyone elsewhere."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _login_page(
    request: Request,
    next_: str,
    problem: str | None = None,
    status: int = 200,
    username: str = "",
) -> HTMLResponse:
    nonce, new = login_nonce(request)
    response = render(
        request,
        "pages/login.html",
        {
            "next": _safe_next(next_),
            "nonce": nonce,
            "refused_sign_in": problem,
            "username": username[:64],
        },
        status,
    )
    if new:
        response.set_cookie(
            LOGIN_COOKIE,
            nonce,
            httponly=True,
            samesite="strict",
            path="/login",
            secure=request.url.scheme == "https",
        )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return _login_page(request, next)


@router.post("/login")
def login(
    request: Request,
    svc: Svc,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1000)],
    nonce: Annotated[str, Form(max_length=64)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    held = request.cookies.get(LOGIN_COOKIE, "")
    if not held or not hmac.compare_digest(held, nonce):
        return _login_page(request, next, "this sign-in form has expired: try again", 403)
    try:
        session = svc.access.login(username.strip(), password, source(request))
    except TooManyAttempts as problem:
        response = _login_page(request, next, problem.message, 429, username)
        response.headers["Retry-After"] = str(problem.retry_after)
        return response
    except Unauthorized as problem:
        return _login_page(request, next, problem.message, 401, username)
    signed_in = redirect(_safe_next(next))
    set_session(signed_in, request, session.token, session.expires_in)
    signed_in.delete_cookie(LOGIN_COOKIE, path="/login")
    return signed_in


@router.post("/logout")
async def logout(request: Request, svc: Svc, me: Me) -> Response:
    await form_of(request, me)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        svc.access.logout(token)
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
def books(request: Request, svc: Svc, me: Me) -> HTMLResponse:
    rows = []
    for record in svc.ledger.books():
        roles = svc.access.roles(me.account, record.id)
        if roles or me.account.is_admin:
            checkpoint = svc.ledger.checkpoint(record.id)
            rows.append({"record": record, "roles": sorted(roles), "size": checkpoint.size})
    return render(
        request,
        "pages/books.html",
        {"books": rows, "node": svc.ledger.node_name, "vkey": svc.ledger.verifier.to_text()},
        me=me,
    )
