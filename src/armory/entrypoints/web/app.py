"""The web app: the books and their signed checkpoints (the full API and UI build on this)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.templating import Jinja2Templates

from armory.bootstrap import Armory
from armory.errors import InvalidInput, NotFound

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


def create_app(armory: Armory) -> FastAPI:
    """The ASGI app serving one assembled Armory node."""
    ledger = armory.ledger
    app = FastAPI(
        title="Armory", version="0.1.0", docs_url="/api/docs", openapi_url="/api/v1/openapi.json"
    )

    def books_with_checkpoints() -> list[dict[str, object]]:
        rows: list[dict[str, object]] = []
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
        return rows

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        return TEMPLATES.TemplateResponse(
            request,
            "books.html",
            {
                "books": books_with_checkpoints(),
                "node": ledger.node_name,
                "vkey": ledger.verifier.to_text(),
            },
        )

    @app.get("/api/v1/books", responses={200: {"description": "Every book with its checkpoint"}})
    def list_books() -> list[dict[str, object]]:
        return books_with_checkpoints()

    @app.get(
        "/api/v1/books/{book}/checkpoint",
        response_class=PlainTextResponse,
        responses={404: {"description": "No such book"}},
    )
    def get_checkpoint(book: str) -> PlainTextResponse:
        try:
            return PlainTextResponse(ledger.checkpoint(book).note)
        except (NotFound, InvalidInput) as problem:
            raise HTTPException(status_code=404, detail=problem.message) from None

    @app.get("/api/v1/vkey", response_class=PlainTextResponse)
    def get_vkey() -> PlainTextResponse:
        return PlainTextResponse(ledger.verifier.to_text() + "\n")

    return app
