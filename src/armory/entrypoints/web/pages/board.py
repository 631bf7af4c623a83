"""The board: every firearm, every box, the day and the open incidents, kept current without a
reload (htmx asks every few seconds; an unchanged book answers 204 and nothing is redrawn)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from armory.entrypoints.web.pages.core import Page, render

router = APIRouter(include_in_schema=False)
REFRESH_SECONDS = 3


@router.get("/b/{book}", response_class=HTMLResponse)
def board(request: Request, page: Page) -> HTMLResponse:
    return render(request, "pages/board.html", {"refresh": REFRESH_SECONDS}, page=page)


@router.get("/b/{book}/board/live", response_class=HTMLResponse)
def board_live(request: Request, page: Page, size: int = -1) -> Response:
    if size == page.state.size:
        return Response(status_code=204)
    return render(request, "pages/_board.html", {"refresh": REFRESH_SECONDS}, page=page)
