"""The web app: the JSON API under /api/v1 and the pages, over one assembled Armory node.

Errors become statuses here and nowhere else: every ArmoryError is one sentence with the status
that says what kind of problem it is; a malformed request is a 422 naming the field.
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from armory.bootstrap import Armory, open_armory
from armory.config import REQUEST_THREADS, REQUEST_THREADS_ENV, Settings
from armory.entrypoints.web import pages
from armory.entrypoints.web.api import Services, problem_answer, router, status_of
from armory.entrypoints.web.lane import Lane
from armory.entrypoints.web.pages.core import SignInFirst, render
from armory.errors import ArmoryError
from armory.services.access import AccessService
from armory.services.committer import GroupCommitter
from armory.services.views import Tracer

STATIC = Path(__file__).parent / "static"

# The pages load nothing from anywhere but this server: sets have no internet, and a page that
# cannot run another site's script cannot leak a session. `blob:` is the camera's frames.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

GC_THRESHOLD = 50_000  # allocations between young collections in a server (Python's: 700)


def create_app(
    armory: Armory,
    access: AccessService | None = None,
    threads: int = REQUEST_THREADS,
    owned: bool = False,
    lane: bool = True,
) -> FastAPI:
    """The ASGI app serving one assembled Armory node, with `threads` request threads; an
    `owned` node is closed when the app stops. With `lane`, the most frequent API requests take
    the fast lane (lane.py); without, every request goes through FastAPI's routing."""
    ledger = armory.ledger
    access = access or AccessService(
        armory.accounts, armory.security, armory.commands, ledger.clock
    )
    committer = GroupCommitter(armory.commands)
    # The fast lane's reads run on threads of their own, handed work by the event loop directly
    # (cheaper than the framework's pool), and on half the request threads: commands come
    # first. Readers that never pause (a dashboard, the benchmark's readers) would otherwise
    # take the processor time commands need. Measured with the HTTP benchmark on PostgreSQL,
    # one read thread per process instead of two: 880-938 commands/s with p99 76-79 ms against
    # 767-792 with p99 96-103 ms; reads 620-635/s against 796-848/s (docs/architecture.md).
    reads = ThreadPoolExecutor(max(1, threads // 2), thread_name_prefix="armory-read")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield
        reads.shutdown()
        committer.close()
        if owned:
            armory.close()

    app = FastAPI(
        lifespan=lifespan,
        title="Armory",
        version="0.1.0",
        summary="The system of record and safety interlock for firearms and ammunition on set.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.services = Services(
        ledger, armory.commands, access, Tracer(ledger, armory.commands), committer
    )
    app.include_router(router)

    @app.exception_handler(ArmoryError)
    def armory_error(request: Request, problem: Exception) -> Response:
        assert isinstance(problem, ArmoryError)
        if isinstance(problem, SignInFirst):
            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        if not request.url.path.startswith("/api/"):
            return render(
                request, "pages/error.html", {"message": problem.message}, status_of(problem)
            )
        return problem_answer(problem)

    @app.exception_handler(RequestValidationError)
    def malformed(request: Request, problem: Exception) -> Response:
        assert isinstance(problem, RequestValidationError)
        if not request.url.path.startswith("/api/"):
            return render(request, "pages/error.html", {"message": _first_error(problem)}, 422)
        return JSONResponse({"detail": _first_error(problem)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, problem: Exception) -> Response:
        assert isinstance(problem, StarletteHTTPException)
        if not request.url.path.startswith(("/api/", "/static/")):
            return render(
                request, "pages/error.html", {"message": str(problem.detail)}, problem.status_code
            )
        return JSONResponse(
            {"detail": str(problem.detail)},
            status_code=problem.status_code,
            headers=dict(problem.headers or {}),
        )

    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    app.add_middleware(PageHeaders)
    if lane:
        app.add_middleware(Lane, services=app.state.services, reads=reads)
    return app


def server_process_app() -> FastAPI:
    """The app of one of several server processes (`armory serve --processes N`), made in that
    process: it opens the node the environment names, as `armory serve` set it, and closes it
    when the process stops."""
    armory = open_armory(Settings.load())
    try:
        app = create_app(armory, threads=int(os.environ[REQUEST_THREADS_ENV]), owned=True)
    except BaseException:
        armory.close()
        raise
    settle_heap()
    return app


def settle_heap() -> None:
    """Made ready to serve: a server's heap is mostly long-lived (the app, the books' states).
    Moved out of the collector's sight and collected less often, it no longer stalls every
    request in flight for a full collection (the tail of the HTTP latency)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 20, 20)


class PageHeaders:
    """The pages' security headers, added as plain ASGI: API requests pass straight through,
    so the API pays nothing for what only pages need."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/api/"):
            await self.app(scope, receive, send)
            return
        extra = [
            (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
        ]
        if not path.startswith("/static/"):
            extra.append((b"cache-control", b"no-store"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                added = [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _first_error(problem: RequestValidationError) -> str:
    """The first validation error as one sentence naming where it is."""
    errors = problem.errors()
    if not errors:
        return "the request is malformed"
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    message = str(first.get("msg", "is malformed"))
    return f"{where}: {message}" if where else message
