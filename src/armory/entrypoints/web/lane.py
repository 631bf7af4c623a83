"""The fast lane: the API's most frequent requests, answered without the framework's routing.

On set, almost every request is one of a few: a command, the board, a list, the checkpoint, an
inclusion proof, sent by someone signed in seconds ago. FastAPI finds a request's route by trying
each route's pattern in turn and then resolves its dependencies, for every request: the board
cost 367 µs of CPU that way and 139 µs through the lane (docs/architecture.md). The lane
recognises those few requests by one pattern and answers them with the very functions the routes
call (`api.command_answer`, `api.board_answer`, ...), so both ways give the same answer, errors
included.

It only takes a request it can read completely at a glance: the exact path and method, a query
of the plain form, a bearer token answered from memory, a command body that is a JSON object.
Everything else (a first request with a new token, a malformed body, an unusual query) goes on
to the app unchanged, which remains the one definition of the API and its documentation.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from armory.entrypoints.web import api
from armory.errors import ArmoryError
from armory.services.ports import Account
from armory.services.views import LISTS

MAX_BODY = 1 << 20  # a command body the lane reads; a larger one goes on to the app

_PATH = re.compile(
    r"/api/v1/books/(?P<book>[A-Za-z0-9][A-Za-z0-9._-]{0,63})/"
    r"(?P<what>commands|board|checkpoint|proofs/inclusion|[a-z]+)"
)
_VIEW = re.compile(r"view=(originals|corrections|both)")
_INCLUSION = re.compile(r"index=(0|[1-9][0-9]{0,17})(?:&size=([1-9][0-9]{0,17}))?")
_JSON_TYPES = frozenset({b"application/json", b"application/json; charset=utf-8"})
_LISTS = frozenset((*LISTS, "days", "refusals"))


class Lane:
    """ASGI middleware in front of the app: the frequent API requests of remembered sessions."""

    def __init__(self, app: ASGIApp, services: api.Services, reads: Executor) -> None:
        self.app = app
        self.svc = services
        self.reads = reads  # the threads reads run on: they may wait for the database

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/v1/books/"):
            await self.app(scope, receive, send)
            return
        match = _PATH.fullmatch(scope["path"])
        account = None if match is None else self._account(scope)
        if match is None or account is None:
            await self.app(scope, receive, send)
            return
        book, what = match["book"], match["what"]
        client = scope["client"][0] if scope.get("client") else "unknown"
        method = scope["method"]
        if what == "commands" and method == "POST":
            await self._command(scope, receive, send, account, book, client)
            return
        answer = self._read(scope, what, account, book, client) if method == "GET" else None
        if answer is None:
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        response = await _answered(lambda: loop.run_in_executor(self.reads, answer))
        await response(scope, receive, send)

    def _account(self, scope: Scope) -> Account | None:
        """The signed-in account of a bearer token this process checked lately, else None."""
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer" or not token:
                    return None
                return self.svc.access.remembered(token)
        return None

    def _read(
        self, scope: Scope, what: str, account: Account, book: str, client: str
    ) -> Callable[[], Response] | None:
        """The read the request asks for, to run on a request thread; None if not the lane's."""
        query = scope["query_string"].decode("latin-1")
        svc = self.svc
        if what in ("board", "checkpoint") and not query:
            answer = api.board_answer if what == "board" else api.checkpoint_answer
            return lambda: answer(svc, account, book, client)
        if what in _LISTS and (not query or _VIEW.fullmatch(query)):
            view = query.partition("=")[2] or "both"
            return lambda: api.list_answer(svc, account, book, what, view, client)
        if what == "proofs/inclusion" and (asked := _INCLUSION.fullmatch(query)):
            index, size = int(asked[1]), None if asked[2] is None else int(asked[2])
            return lambda: api.inclusion_answer(svc, account, book, index, size, client)
        return None

    async def _command(
        self, scope: Scope, receive: Receive, send: Send, account: Account, book: str, client: str
    ) -> None:
        read = await _body(receive)
        if read is None:
            return  # the client went away before sending its command: nothing to answer
        body, receive = read
        command = _object(body) if _content_type(scope) in _JSON_TYPES else None
        if command is None:
            await self.app(scope, receive, send)  # the app says what is wrong with it
            return
        svc = self.svc
        response = await _answered(lambda: api.command_answer(svc, account, book, command, client))
        await response(scope, receive, send)


async def _answered(answer: Callable[[], Awaitable[Response]]) -> Response:
    """The answer, or the API's answer to the problem it raised (as the app's handler gives)."""
    try:
        return await answer()
    except ArmoryError as problem:
        return api.problem_answer(problem)


def _content_type(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bytes(value).lower()
    return None


def _object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None for anything else (left to the app to explain)."""
    if len(body) > MAX_BODY:
        return None
    try:
        command = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return command if isinstance(command, dict) else None


async def _body(receive: Receive) -> tuple[bytes, Receive] | None:
    """The whole request body, and a `receive` that gives it again (for the app, if the lane
    leaves the request to it) and then whatever comes after; None if the client went away."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    return body, _again(body, receive)


def _again(body: bytes, receive: Receive) -> Receive:
    given = False

    async def again() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again
