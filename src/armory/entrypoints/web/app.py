"""The web app: the JSON API under /api/v1 and the pages, over one assembled Armory node.

Errors become statuses here and nowhere else: every ArmoryError is one sentence with the status
that says what kind of problem it is; a malformed request is a 422 naming the field.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from armory.bootstrap import Armory
from armory.entrypoints.web.api import Services, router
from armory.errors import (
    ArmoryError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    StorageError,
    TooManyAttempts,
    Unauthorized,
    VerificationFailed,
)
from armory.services.access import AccessService
from armory.services.committer import GroupCommitter
from armory.services.views import Tracer

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")

STATUS: dict[type[ArmoryError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    Unauthorized: 401,
    Forbidden: 403,
    TooManyAttempts: 429,
    VerificationFailed: 409,
    StorageError: 503,
}


def create_app(armory: Armory, access: AccessService | None = None) -> FastAPI:
    """The ASGI app serving one assembled Armory node."""
    ledger = armory.ledger
    access = access or AccessService(
        armory.accounts, armory.security, armory.commands, ledger.clock
    )
    committer = GroupCommitter(armory.commands)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        committer.close()

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
    def armory_error(request: Request, problem: Exception) -> JSONResponse:
        assert isinstance(problem, ArmoryError)
        status = next((s for kind, s in STATUS.items() if isinstance(problem, kind)), 500)
        headers: dict[str, str] = {}
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(problem, TooManyAttempts):
            headers["Retry-After"] = str(problem.retry_after)
        body: dict[str, Any] = {"detail": problem.message}
        if isinstance(problem, VerificationFailed) and problem.index is not None:
            body["index"] = problem.index
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    def malformed(request: Request, problem: Exception) -> JSONResponse:
        assert isinstance(problem, RequestValidationError)
        return JSONResponse({"detail": _first_error(problem)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, problem: Exception) -> JSONResponse:
        assert isinstance(problem, StarletteHTTPException)
        return JSONResponse(
            {"detail": str(problem.detail)},
            status_code=problem.status_code,
            headers=dict(problem.headers or {}),
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        rows = []
        for record in ledger.books():
            checkpoint = ledger.checkpoint(record.id)
            rows.append(
                {
                    "id": record.id,
                    "kind": record.kind,
                    "name": record.name,
                    "size": checkpoint.size,
                    "root": checkpoint.root.hex(),
                    "checkpoint": checkpoint.note,
                }
            )
        return TEMPLATES.TemplateResponse(
            request,
            "books.html",
            {"books": rows, "node": ledger.node_name, "vkey": ledger.verifier.to_text()},
        )

    return app


def _first_error(problem: RequestValidationError) -> str:
    """The first validation error as one sentence naming where it is."""
    errors = problem.errors()
    if not errors:
        return "the request is malformed"
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    message = str(first.get("msg", "is malformed"))
    return f"{where}: {message}" if where else message
