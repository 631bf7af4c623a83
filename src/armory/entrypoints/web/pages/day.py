"""The day (SPEC §4.2 "The day"): open it with counts and sole duty, pause and resume it, close
it with counts. A count that differs from the ledger is a finding, not a refusal: the command
is recorded and opens a COUNT_MISMATCH incident, which this page then shows."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from armory.domain.state import BookState, Box, Firearm, Incident
from armory.entrypoints.web.pages.core import (
    BookPage,
    Page,
    act,
    field,
    fields,
    form_of,
    number,
    path_quote,
    render,
)
from armory.errors import InvalidInput

router = APIRouter(include_in_schema=False)

TEMPLATE = "pages/day.html"
COUNT_PREFIX = "count-"  # one field per box: `count-<box id>`


def _url(page: BookPage) -> str:
    return f"/b/{path_quote(page.book.id)}/day"


def _default_date(state: BookState) -> str:
    """Today's local date, or the first date after it not yet opened (a date opens once)."""
    candidate = date.today()
    while candidate.isoformat() in state.days:
        candidate += timedelta(days=1)
    return candidate.isoformat()


def _findings(state: BookState, record: Mapping[str, Any]) -> list[Incident]:
    """The COUNT_MISMATCH incidents the opening or the close of a day opened: each is recorded
    right after the day's own entry."""
    wanted = {
        index + 1
        for index in (record.get("opened_index"), record.get("closed_index"))
        if isinstance(index, int)
    }
    return [
        incident
        for incident in state.incidents.values()
        if incident.rule == "COUNT_MISMATCH" and incident.opened_index in wanted
    ]


def _context(page: BookPage, sent: FormData | None = None, sent_to: str = "") -> dict[str, Any]:
    state = page.state
    days = sorted(state.days.values(), key=lambda record: str(record["date"]), reverse=True)
    current = state.days.get(state.day.date) if state.day is not None else None
    present = [x for x in state.firearms.values() if x.custody.kind != "gone"]
    boxes = [x for x in state.boxes.values() if x.custody.kind != "gone"]
    items: list[Firearm | Box] = [*present, *boxes]
    out = [item for item in items if not state.is_in_locked_storage(item.custody)]
    return {
        "day": state.day,
        "days": [{**record, "findings": _findings(state, record)} for record in days],
        "findings": _findings(state, current) if current is not None else [],
        "open_incidents": sorted(
            (i for i in state.incidents.values() if i.open), key=lambda i: i.opened_index
        ),
        "boxes": sorted(boxes, key=lambda x: x.id),
        "firearms": sorted(present, key=lambda x: x.id),
        "out": sorted(out, key=lambda x: x.id),
        "default_date": _default_date(state),
        "sent": sent,
        "sent_to": sent_to,
    }


def _counts(form: FormData, every_box: bool) -> dict[str, int]:
    """The count typed for each box; a box left blank is skipped at the opening, and is a
    problem at the close, which counts every box."""
    counts: dict[str, int] = {}
    for name in form:
        if not name.startswith(COUNT_PREFIX):
            continue
        box = name.removeprefix(COUNT_PREFIX)
        if field(form, name) == "":
            if every_box:
                raise InvalidInput(f"count every box to close the day: box {box} has no count")
            continue
        counts[box] = number(form, name, f"the count of box {box}")
    return counts


@router.get("/b/{book}/day", response_class=HTMLResponse)
def day_page(request: Request, page: Page) -> HTMLResponse:
    return render(request, TEMPLATE, _context(page), page=page)


async def _send(
    request: Request,
    page: BookPage,
    form: FormData,
    sent_to: str,
    build: Callable[[FormData], dict[str, Any]],
) -> Response:
    """Build the command from the form (422 with the form again when it is malformed) and
    send it."""
    context = _context(page, form, sent_to)
    try:
        command = build(form)
    except InvalidInput as problem:
        return render(request, TEMPLATE, {**context, "problem": problem.message}, 422, page=page)
    return await act(request, page, command, _url(page), TEMPLATE, context)


def _open_command(form: FormData) -> dict[str, Any]:
    return {
        "type": "open_day",
        "date": field(form, "date"),
        # Only a ticked box declares sole duty: the rules refuse the day without it.
        "sole_duty": field(form, "sole_duty") == "yes",
        "counts": _counts(form, every_box=False),
        "firearms": fields(form, "firearms"),
    }


def _pause_command(form: FormData) -> dict[str, Any]:
    return {"type": "pause_day", "reason": field(form, "reason")}


def _resume_command(_: FormData) -> dict[str, Any]:
    return {"type": "resume_day"}


def _close_command(form: FormData) -> dict[str, Any]:
    return {"type": "close_day", "counts": _counts(form, every_box=True)}


@router.post("/b/{book}/day/open")
async def open_day(request: Request, page: Page) -> Response:
    form = await form_of(request, page.viewer)
    return await _send(request, page, form, "open", _open_command)


@router.post("/b/{book}/day/pause")
async def pause_day(request: Request, page: Page) -> Response:
    form = await form_of(request, page.viewer)
    return await _send(request, page, form, "pause", _pause_command)


@router.post("/b/{book}/day/resume")
async def resume_day(request: Request, page: Page) -> Response:
    form = await form_of(request, page.viewer)
    return await _send(request, page, form, "resume", _resume_command)


@router.post("/b/{book}/day/close")
async def close_day(request: Request, page: Page) -> Response:
    form = await form_of(request, page.viewer)
    return await _send(request, page, form, "close", _close_command)
