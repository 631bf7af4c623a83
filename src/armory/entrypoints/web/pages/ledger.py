"""The book's ledger (SPEC §6): its signed checkpoint and latest entries, a full verification
on demand, and the evidence bundle for those who may export it."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from armory.entrypoints.web.api import Services
from armory.entrypoints.web.api import export as export_bundle
from armory.entrypoints.web.pages.core import BookPage, Page, Svc, field, form_of, render
from armory.errors import VerificationFailed
from armory.services.access import EXPORT_ROLES
from armory.services.ledger import BookReport

router = APIRouter(include_in_schema=False)
ENTRIES_SHOWN = 20


def may_export(page: BookPage) -> bool:
    """Whether to offer the export (the access service decides again when it is asked)."""
    return bool(page.roles & EXPORT_ROLES) or page.account.is_admin


def _context(svc: Services, page: BookPage) -> dict[str, Any]:
    book = page.book.id
    checkpoint = svc.ledger.checkpoint(book)
    start = max(0, checkpoint.size - ENTRIES_SHOWN)
    entries = [
        {"index": e.index, "time": e.time, "actor": page.name_of(e.actor), "type": e.type}
        for e in svc.ledger.entries(book, start, checkpoint.size)
    ]
    return {
        "checkpoint": checkpoint,
        "root": base64.b64encode(checkpoint.root).decode(),
        "origin": svc.ledger.origin(book),
        "vkey": svc.ledger.verifier.to_text(),
        "entries": entries[::-1],
        "may_export": may_export(page),
        "cases": sorted(page.state.cases.values(), key=lambda c: c.id),
        "verified": None,
        "failure": None,
    }


async def _ledger_page(
    request: Request, svc: Services, page: BookPage, status: int = 200, **outcome: Any
) -> HTMLResponse:
    context = await run_in_threadpool(_context, svc, page)
    return render(request, "pages/ledger.html", {**context, **outcome}, status, page=page)


@router.get("/b/{book}/ledger", response_class=HTMLResponse)
async def ledger(request: Request, page: Page, svc: Svc) -> HTMLResponse:
    return await _ledger_page(request, svc, page)


@router.post("/b/{book}/ledger/verify", response_class=HTMLResponse)
async def verify(request: Request, page: Page, svc: Svc) -> HTMLResponse:
    """Recompute the book's tree from its stored entries, as `armory verify --book` does; the
    answer names the first entry that does not match (409), and nothing is recorded."""
    await form_of(request, page.viewer)
    try:
        report: BookReport = await run_in_threadpool(svc.ledger.verify_book, page.book.id)
    except VerificationFailed as failure:
        found = {"index": failure.index, "message": failure.message}
        return await _ledger_page(request, svc, page, 409, failure=found)
    verified = {
        "size": report.size,
        "checkpoints": report.checkpoints_checked,
        "root": base64.b64encode(report.root).decode(),
    }
    return await _ledger_page(request, svc, page, verified=verified)


@router.post("/b/{book}/ledger/export")
async def export(request: Request, page: Page, svc: Svc) -> Response:
    """The evidence bundle as a download, through the API's own export: who may export is
    checked there, and the export is recorded in the book before the bundle is written."""
    form = await form_of(request, page.viewer)
    case = field(form, "case") or None
    response: Response = await run_in_threadpool(
        export_bundle, request, svc, page.account, page.book.id, case
    )
    return response
