"""A box's page and the steps the armorer takes with it: receive, verify round by round, check
out, store, move rounds between boxes, dispose. Each form is one command of SPEC §4.2."""

from __future__ import annotations

from typing import Any, get_args

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from armory.domain.commands import BoxKind, Load, Method
from armory.domain.state import Box
from armory.entrypoints.web.pages.core import (
    BookPage,
    Page,
    Svc,
    act,
    field,
    form_of,
    number,
    path_quote,
    render,
    source_of,
)
from armory.errors import InvalidInput, NotFound

router = APIRouter(include_in_schema=False)

METHODS = get_args(Method)
LOADS = get_args(Load)
# A production never receives live rounds (SPEC §3); the form still lets the armorer say what
# arrived, so that a box of live rounds is refused and opens its incident, on the record.
KINDS = get_args(BoxKind)
TIMELINE_STEPS = 60


def _box(page: BookPage, box: str) -> Box:
    found = page.state.boxes.get(box)
    if found is None:
        raise NotFound(f"there is no box {box!r} in book {page.book.id}")
    return found


def _url(page: BookPage, box: str) -> str:
    return f"/b/{path_quote(page.book.id)}/boxes/{path_quote(box)}"


def _context(svc: Svc, page: BookPage, box: Box) -> dict[str, Any]:
    trace = svc.tracer.trace(page.book.id, box.id)
    return {
        "box": box,
        "steps": trace["steps"][-TIMELINE_STEPS:],
        "earlier": max(0, len(trace["steps"]) - TIMELINE_STEPS),
        "gaps": trace["gaps"],
        "methods": METHODS,
        "locations": sorted(page.state.locations.values(), key=lambda x: (not x.locked, x.name)),
        "targets": sorted(
            (
                b
                for b in page.state.boxes.values()
                if b.id != box.id
                and (b.kind, b.load, b.calibre) == (box.kind, box.load, box.calibre)
            ),
            key=lambda b: b.id,
        ),
        "verified_today": box.verified_on is not None and box.verified_on == page.state.today,
    }


@router.get("/b/{book}/boxes/new", response_class=HTMLResponse)
def receive_form(request: Request, page: Page) -> HTMLResponse:
    page.offer("receive_box")
    return render(request, "pages/box_new.html", _receive_context(page, {}), page=page)


def _receive_context(page: BookPage, values: dict[str, str]) -> dict[str, Any]:
    return {
        "values": values,
        "kinds": KINDS,
        "loads": LOADS,
        "locations": list(page.state.locations.values()),
    }


@router.post("/b/{book}/boxes/new")
async def receive(request: Request, page: Page) -> Response:
    form = await form_of(request, page.viewer)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    context = _receive_context(page, values)
    try:
        command: dict[str, Any] = {
            "type": "receive_box",
            "box": field(form, "box"),
            "label": field(form, "label"),
            "kind": field(form, "kind"),
            "calibre": field(form, "calibre"),
            "maker": field(form, "maker"),
            "maker_lot": field(form, "maker_lot"),
            "count": number(form, "count", "the count"),
            "location": field(form, "location"),
            "from": source_of(form),
        }
    except InvalidInput as problem:
        return render(
            request, "pages/box_new.html", {**context, "problem": problem.message}, 422, page=page
        )
    if field(form, "load"):
        command["load"] = field(form, "load")
    return await act(
        request, page, command, _url(page, command["box"]), "pages/box_new.html", context
    )


@router.get("/b/{book}/boxes/{box}", response_class=HTMLResponse)
def box_page(request: Request, svc: Svc, page: Page, box: str) -> HTMLResponse:
    return render(request, "pages/box.html", _context(svc, page, _box(page, box)), page=page)


async def _step(request: Request, svc: Svc, page: BookPage, box: str, build: Any) -> Response:
    """A step from the box's page; refused or malformed, the page again saying why."""
    form = await form_of(request, page.viewer)
    found = _box(page, box)
    context = {**_context(svc, page, found), "values": dict(form.items())}
    try:
        command: dict[str, Any] = build(form)
    except InvalidInput as problem:
        return render(
            request, "pages/box.html", {**context, "problem": problem.message}, 422, page=page
        )
    return await act(request, page, command, _url(page, box), "pages/box.html", context)


@router.post("/b/{book}/boxes/{box}/verify")
async def verify(request: Request, svc: Svc, page: Page, box: str) -> Response:
    return await _step(
        request,
        svc,
        page,
        box,
        lambda form: {
            "type": "verify_box",
            "box": box,
            "count": number(form, "count", "the count"),
            "method": field(form, "method"),
            "every_round": field(form, "every_round") == "yes",
        },
    )


@router.post("/b/{book}/boxes/{box}/check-out")
async def check_out(request: Request, svc: Svc, page: Page, box: str) -> Response:
    return await _step(
        request,
        svc,
        page,
        box,
        lambda form: {"type": "check_out", "item": box, "from": field(form, "from")},
    )


@router.post("/b/{book}/boxes/{box}/store")
async def store(request: Request, svc: Svc, page: Page, box: str) -> Response:
    return await _step(
        request,
        svc,
        page,
        box,
        lambda form: {"type": "store", "item": box, "location": field(form, "location")},
    )


@router.post("/b/{book}/boxes/{box}/move")
async def move(request: Request, svc: Svc, page: Page, box: str) -> Response:
    return await _step(
        request,
        svc,
        page,
        box,
        lambda form: {
            "type": "move_rounds",
            "from": box,
            "to": field(form, "to"),
            "count": number(form, "move_count", "the number of rounds"),
        },
    )


@router.post("/b/{book}/boxes/{box}/dispose")
async def dispose(request: Request, svc: Svc, page: Page, box: str) -> Response:
    return await _step(
        request,
        svc,
        page,
        box,
        lambda form: {
            "type": "dispose",
            "box": box,
            "count": number(form, "dispose_count", "the number of rounds"),
            "reason": field(form, "reason"),
        },
    )
