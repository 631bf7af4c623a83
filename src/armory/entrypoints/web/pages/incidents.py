"""Incidents (SPEC §4.2 "Incidents"): the list, anyone's report of a live round or of an
incident, one incident with where it stands, and its resolution by two people (an armorer and a
safety supervisor, each typing their own PIN), after a full inventory for a live round."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from armory.domain.state import BookState, Incident
from armory.entrypoints.web.pages.core import (
    BookPage,
    Page,
    Svc,
    act,
    field,
    fields,
    form_of,
    path_quote,
    pins,
    render,
)
from armory.errors import InvalidInput, NotFound

router = APIRouter(include_in_schema=False)

LIST = "pages/incidents.html"
ONE = "pages/incident.html"
PLACES = ("box", "firearm", "location", "person")
# SPEC §4.2 report_incident, with whether each kind freezes the production (SPEC §4.1).
KINDS = {
    "discharge": "Discharge (freezes the production)",
    "injury": "Injury (freezes the production)",
    "missing_item": "Missing item (freezes the production)",
    "misfire": "Misfire",
    "unsafe_act": "Unsafe act",
    "near_miss": "Near miss",
}


def _url(page: BookPage, incident: str = "") -> str:
    base = f"/b/{path_quote(page.book.id)}/incidents"
    return f"{base}/{path_quote(incident)}" if incident else base


def _incident(page: BookPage, incident: str) -> Incident:
    found = page.state.incidents.get(incident)
    if found is None:
        raise NotFound(f"there is no incident {incident!r} in book {page.book.id}")
    return found


def _list_context(
    page: BookPage, sent: FormData | None = None, sent_to: str = ""
) -> dict[str, Any]:
    state = page.state
    incidents = sorted(state.incidents.values(), key=lambda i: (not i.open, -i.opened_index))
    return {
        "incidents": incidents,
        "places": {
            "box": sorted(state.boxes.values(), key=lambda x: x.id),
            "firearm": sorted(state.firearms.values(), key=lambda x: x.id),
            "location": sorted(state.locations.values(), key=lambda x: x.id),
            "person": sorted(state.people.values(), key=lambda x: x.name),
        },
        "items": [
            *sorted(state.firearms.values(), key=lambda x: x.id),
            *sorted(state.boxes.values(), key=lambda x: x.id),
        ],
        "kinds": KINDS,
        "sent": sent,
        "sent_to": sent_to,
    }


@router.get("/b/{book}/incidents", response_class=HTMLResponse)
def incidents_page(request: Request, page: Page) -> HTMLResponse:
    return render(request, LIST, _list_context(page), page=page)


@router.post("/b/{book}/incidents/live-round")
async def report_live_round(request: Request, page: Page) -> Response:
    form = await form_of(request, page.viewer)
    context = _list_context(page, form, "live_round")
    place, _, item = field(form, "where").partition(":")
    if place not in PLACES or not item:
        problem = "say where the round is: a box, a firearm, a location or a person"
        return render(request, LIST, {**context, "problem": problem}, 422, page=page)
    command = {
        "type": "report_live_round",
        "where": {place: item},
        "description": field(form, "description"),
    }
    return await act(request, page, command, _url(page), LIST, context)


@router.post("/b/{book}/incidents/report")
async def report_incident(request: Request, page: Page) -> Response:
    form = await form_of(request, page.viewer)
    command = {
        "type": "report_incident",
        "kind": field(form, "kind"),
        "description": field(form, "description"),
        "items": fields(form, "items"),
    }
    context = _list_context(page, form, "incident")
    return await act(request, page, command, _url(page), LIST, context)


def _not_inventoried(state: BookState, incident: Incident) -> dict[str, list[str]]:
    """What a live-round incident still needs before it may be resolved (INVENTORY_REQUIRED):
    every box holding rounds counted round by round, and every real or blank-firing gun
    inspected, since the report; the same test the rule makes."""
    if not incident.is_live_round or not incident.open:
        return {"boxes": [], "firearms": []}
    since = incident.opened_index
    return {
        "boxes": sorted(
            b.id
            for b in state.boxes.values()
            if b.custody.kind != "gone"
            and b.count > 0
            and (b.counted_index is None or b.counted_index < since)
        ),
        "firearms": sorted(
            f.id
            for f in state.firearms.values()
            if f.custody.kind != "gone"
            and f.is_loadable
            and (f.inspection is None or f.inspection.index < since)
        ),
    }


def _entry(svc: Svc, page: BookPage, index: int | None) -> dict[str, Any] | None:
    """When and by whom an entry was recorded, for the incident's opening and resolution."""
    if index is None:
        return None
    for entry in svc.ledger.entries(page.book.id, index, index + 1):
        return {"index": entry.index, "time": entry.time, "actor": entry.actor}
    return None


def _one_context(
    svc: Svc, page: BookPage, incident: Incident, sent: FormData | None = None
) -> dict[str, Any]:
    state = page.state
    return {
        "incident": incident,
        "opened": _entry(svc, page, incident.opened_index),
        "resolved": _entry(svc, page, incident.resolved_index),
        "pending": _not_inventoried(state, incident),
        "cases": [c for c in state.cases.values() if c.incident == incident.id],
        "approvers": page.people_with("armorer", "safety"),
        "sent": sent,
    }


@router.get("/b/{book}/incidents/{incident}", response_class=HTMLResponse)
def incident_page(request: Request, svc: Svc, page: Page, incident: str) -> HTMLResponse:
    found = _incident(page, incident)
    return render(request, ONE, _one_context(svc, page, found), page=page)


@router.post("/b/{book}/incidents/{incident}/resolve")
async def resolve_incident(request: Request, svc: Svc, page: Page, incident: str) -> Response:
    form = await form_of(request, page.viewer)
    found = _incident(page, incident)
    context = _one_context(svc, page, found, form)
    try:
        approvals = pins(form, "approver", page)
    except InvalidInput as problem:
        return render(request, ONE, {**context, "problem": problem.message}, 422, page=page)
    command = {
        "type": "resolve_incident",
        "incident": found.id,
        "resolution": field(form, "resolution"),
        "approvals": approvals,
    }
    return await act(request, page, command, _url(page, found.id), ONE, context)
