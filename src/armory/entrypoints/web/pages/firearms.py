"""A firearm's page and the steps the armorer takes with it: receive, check out, inspect chamber
by chamber with witnesses, load, unload, hand over, take back, store, return; and anyone's
refusal to handle it. Each form is one command of SPEC §4.2; the rules decide."""

from __future__ import annotations

from datetime import date
from typing import Any, get_args

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from armory.domain.commands import Content, FirearmKind, Method, Purpose
from armory.domain.state import Firearm
from armory.entrypoints.web.pages.core import (
    BookPage,
    Page,
    Svc,
    act,
    field,
    form_of,
    number,
    path_quote,
    pins,
    render,
    source_of,
)
from armory.errors import InvalidInput, NotFound

router = APIRouter(include_in_schema=False)

CONTENTS = get_args(Content)
METHODS = get_args(Method)
PURPOSES = get_args(Purpose)
KINDS = get_args(FirearmKind)
TIMELINE_STEPS = 60


def _firearm(page: BookPage, firearm: str) -> Firearm:
    found = page.state.firearms.get(firearm)
    if found is None:
        raise NotFound(f"there is no firearm {firearm!r} in book {page.book.id}")
    return found


def _url(page: BookPage, firearm: str, tail: str = "") -> str:
    return f"/b/{path_quote(page.book.id)}/firearms/{path_quote(firearm)}{tail}"


def _today(page: BookPage) -> str:
    return page.state.today or date.today().isoformat()


def _context(svc: Svc, page: BookPage, firearm: Firearm) -> dict[str, Any]:
    trace = svc.tracer.trace(page.book.id, firearm.id)
    today = _today(page)
    return {
        "firearm": firearm,
        "steps": trace["steps"][-TIMELINE_STEPS:],
        "earlier": max(0, len(trace["steps"]) - TIMELINE_STEPS),
        "gaps": trace["gaps"],
        "locations": sorted(page.state.locations.values(), key=lambda x: (not x.locked, x.name)),
        "scenes_today": [s for s in page.state.scenes.values() if s.date == today],
        "boxes": _boxes_for(page, firearm),
    }


def _boxes_for(page: BookPage, firearm: Firearm) -> list[Any]:
    """Boxes of the firearm's calibre: the only ones it can be loaded from (CALIBRE_MISMATCH)."""
    return sorted(
        (b for b in page.state.boxes.values() if b.calibre == firearm.calibre),
        key=lambda b: b.id,
    )


@router.get("/b/{book}/firearms/new", response_class=HTMLResponse)
def receive_form(request: Request, page: Page) -> HTMLResponse:
    page.offer("receive_firearm")
    return render(request, "pages/firearm_new.html", _receive_context(page, {}), page=page)


def _receive_context(page: BookPage, values: dict[str, str]) -> dict[str, Any]:
    return {"values": values, "kinds": KINDS, "locations": list(page.state.locations.values())}


@router.post("/b/{book}/firearms/new")
async def receive(request: Request, page: Page) -> Response:
    form = await form_of(request, page.viewer)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    context = _receive_context(page, values)
    try:
        command: dict[str, Any] = {
            "type": "receive_firearm",
            "firearm": field(form, "firearm"),
            "serial": field(form, "serial"),
            "make": field(form, "make"),
            "model": field(form, "model"),
            "calibre": field(form, "calibre"),
            "kind": field(form, "kind"),
            "chambers": number(form, "chambers", "chambers"),
            "location": field(form, "location"),
            "from": source_of(form),
        }
    except InvalidInput as problem:
        return render(
            request,
            "pages/firearm_new.html",
            {**context, "problem": problem.message},
            422,
            page=page,
        )
    if field(form, "label"):
        command["label"] = field(form, "label")
    return await act(
        request, page, command, _url(page, command["firearm"]), "pages/firearm_new.html", context
    )


@router.get("/b/{book}/firearms/{firearm}", response_class=HTMLResponse)
def firearm_page(request: Request, svc: Svc, page: Page, firearm: str) -> HTMLResponse:
    found = _firearm(page, firearm)
    return render(request, "pages/firearm.html", _context(svc, page, found), page=page)


async def _simple(
    request: Request, svc: Svc, page: BookPage, firearm: str, command: dict[str, Any]
) -> Response:
    """A one-button step from the firearm's page: refused, the page again with the rule."""
    found = _firearm(page, firearm)
    return await act(
        request,
        page,
        command,
        _url(page, firearm),
        "pages/firearm.html",
        _context(svc, page, found),
    )


@router.post("/b/{book}/firearms/{firearm}/check-out")
async def check_out(request: Request, svc: Svc, page: Page, firearm: str) -> Response:
    form = await form_of(request, page.viewer)
    command = {"type": "check_out", "item": firearm, "from": field(form, "from")}
    return await _simple(request, svc, page, firearm, command)


@router.post("/b/{book}/firearms/{firearm}/store")
async def store(request: Request, svc: Svc, page: Page, firearm: str) -> Response:
    form = await form_of(request, page.viewer)
    command = {"type": "store", "item": firearm, "location": field(form, "location")}
    return await _simple(request, svc, page, firearm, command)


@router.post("/b/{book}/firearms/{firearm}/refuse")
async def refuse(request: Request, svc: Svc, page: Page, firearm: str) -> Response:
    form = await form_of(request, page.viewer)
    command = {"type": "refuse_to_handle", "firearm": firearm, "reason": field(form, "reason")}
    return await _simple(request, svc, page, firearm, command)


@router.post("/b/{book}/firearms/{firearm}/return")
async def return_to_supplier(request: Request, svc: Svc, page: Page, firearm: str) -> Response:
    form = await form_of(request, page.viewer)
    command = {"type": "return_to_supplier", "item": firearm, "to": field(form, "to")}
    return await _simple(request, svc, page, firearm, command)


# The inspection: every chamber, what is in it and how it was checked, and the witnesses' PINs.


def _inspect_context(page: BookPage, firearm: Firearm, values: dict[str, str]) -> dict[str, Any]:
    witnesses = sorted(
        (p for p in page.state.people.values() if p.roles - {"investigator"}),
        key=lambda p: (not p.has("performer", "first_ad"), p.name),
    )
    purpose = values.get("purpose") or ("intake" if not firearm.intake_done else "pre_handover")
    return {
        "firearm": firearm,
        "values": values,
        "purpose": purpose,
        "purposes": PURPOSES,
        "contents": CONTENTS,
        "methods": METHODS,
        "boxes": _boxes_for(page, firearm),
        "witnesses": witnesses,
    }


@router.get("/b/{book}/firearms/{firearm}/inspect", response_class=HTMLResponse)
def inspect_form(request: Request, page: Page, firearm: str) -> HTMLResponse:
    page.offer("inspect")
    found = _firearm(page, firearm)
    return render(request, "pages/inspect.html", _inspect_context(page, found, {}), page=page)


def _chambers(form: FormData, firearm: Firearm) -> list[dict[str, Any]]:
    chambers = []
    for n in range(1, firearm.chambers + 1):
        content = field(form, f"c{n}-content")
        if not content:
            raise InvalidInput(f"chamber {n}: choose what you found in it")
        finding: dict[str, Any] = {"n": n, "content": content}
        if field(form, f"c{n}-box"):
            finding["box"] = field(form, f"c{n}-box")
        if field(form, f"c{n}-method"):
            finding["method"] = field(form, f"c{n}-method")
        chambers.append(finding)
    return chambers


@router.post("/b/{book}/firearms/{firearm}/inspect")
async def inspect(request: Request, page: Page, firearm: str) -> Response:
    form = await form_of(request, page.viewer)
    found = _firearm(page, firearm)
    values = {k: v for k, v in form.items() if isinstance(v, str) and "pin" not in k}
    context = _inspect_context(page, found, values)
    try:
        command = {
            "type": "inspect",
            "firearm": firearm,
            "purpose": field(form, "purpose"),
            "chambers": _chambers(form, found),
            "bore_clear": field(form, "bore_clear") == "yes",
            "witnesses": pins(form, "witness", page),
        }
    except InvalidInput as problem:
        return render(
            request, "pages/inspect.html", {**context, "problem": problem.message}, 422, page=page
        )
    return await act(request, page, command, _url(page, firearm), "pages/inspect.html", context)


# Loading and unloading: which round goes into, or comes out of, which chamber.


def _load_context(page: BookPage, firearm: Firearm, values: dict[str, str]) -> dict[str, Any]:
    today = _today(page)
    return {
        "firearm": firearm,
        "values": values,
        "boxes": _boxes_for(page, firearm),
        "all_boxes": sorted(page.state.boxes.values(), key=lambda b: b.id),
        "scenes": [s for s in page.state.scenes.values() if s.date == today]
        or list(page.state.scenes.values()),
        "cases": sorted(page.state.cases),
    }


@router.get("/b/{book}/firearms/{firearm}/load", response_class=HTMLResponse)
def load_form(request: Request, page: Page, firearm: str) -> HTMLResponse:
    page.offer("load")
    found = _firearm(page, firearm)
    return render(request, "pages/load.html", _load_context(page, found, {}), page=page)


@router.post("/b/{book}/firearms/{firearm}/load")
async def load(request: Request, page: Page, firearm: str) -> Response:
    form = await form_of(request, page.viewer)
    found = _firearm(page, firearm)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    context = _load_context(page, found, values)
    rounds = [
        {"chamber": n, "box": field(form, f"c{n}-box")}
        for n in range(1, found.chambers + 1)
        if field(form, f"c{n}-box")
    ]
    if not rounds:
        return render(
            request,
            "pages/load.html",
            {**context, "problem": "choose a box for at least one chamber"},
            422,
            page=page,
        )
    command = {"type": "load", "firearm": firearm, "scene": field(form, "scene"), "rounds": rounds}
    return await act(request, page, command, _url(page, firearm), "pages/load.html", context)


@router.get("/b/{book}/firearms/{firearm}/unload", response_class=HTMLResponse)
def unload_form(request: Request, page: Page, firearm: str) -> HTMLResponse:
    page.offer("unload")
    found = _firearm(page, firearm)
    return render(request, "pages/unload.html", _load_context(page, found, {}), page=page)


@router.post("/b/{book}/firearms/{firearm}/unload")
async def unload(request: Request, page: Page, firearm: str) -> Response:
    form = await form_of(request, page.viewer)
    found = _firearm(page, firearm)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    context = _load_context(page, found, values)
    rounds = [
        {"chamber": n, "to": field(form, f"c{n}-to")}
        for n in range(1, found.chambers + 1)
        if field(form, f"c{n}-to")
    ]
    if not rounds:
        return render(
            request,
            "pages/unload.html",
            {**context, "problem": "choose where at least one round goes"},
            422,
            page=page,
        )
    command: dict[str, Any] = {"type": "unload", "firearm": firearm, "rounds": rounds}
    if field(form, "evidence_case"):
        command["evidence_case"] = field(form, "evidence_case")
    return await act(request, page, command, _url(page, firearm), "pages/unload.html", context)


# Handing over and taking back: only the armorer's hands, only to a performer.


def _handover_context(page: BookPage, firearm: Firearm, values: dict[str, str]) -> dict[str, Any]:
    today = _today(page)
    return {
        "firearm": firearm,
        "values": values,
        "performers": page.people_with("performer"),
        "scenes": [s for s in page.state.scenes.values() if s.date == today]
        or list(page.state.scenes.values()),
    }


@router.get("/b/{book}/firearms/{firearm}/hand-over", response_class=HTMLResponse)
def hand_over_form(request: Request, page: Page, firearm: str) -> HTMLResponse:
    page.offer("hand_over")
    found = _firearm(page, firearm)
    return render(request, "pages/hand_over.html", _handover_context(page, found, {}), page=page)


@router.post("/b/{book}/firearms/{firearm}/hand-over")
async def hand_over(request: Request, page: Page, firearm: str) -> Response:
    form = await form_of(request, page.viewer)
    found = _firearm(page, firearm)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    command = {
        "type": "hand_over",
        "firearm": firearm,
        "to": field(form, "to"),
        "scene": field(form, "scene"),
    }
    context = _handover_context(page, found, values)
    return await act(request, page, command, _url(page, firearm), "pages/hand_over.html", context)


@router.get("/b/{book}/firearms/{firearm}/take-back", response_class=HTMLResponse)
def take_back_form(request: Request, page: Page, firearm: str) -> HTMLResponse:
    page.offer("take_back")
    found = _firearm(page, firearm)
    return render(request, "pages/take_back.html", _handover_context(page, found, {}), page=page)


@router.post("/b/{book}/firearms/{firearm}/take-back")
async def take_back(request: Request, page: Page, firearm: str) -> Response:
    form = await form_of(request, page.viewer)
    found = _firearm(page, firearm)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    context = _handover_context(page, found, values)
    try:
        command: dict[str, Any] = {
            "type": "take_back",
            "firearm": firearm,
            "from": field(form, "from"),
            "rounds_fired": number(form, "rounds_fired", "rounds fired"),
        }
        if field(form, "misfires"):
            command["misfires"] = number(form, "misfires", "misfires")
    except InvalidInput as problem:
        return render(
            request, "pages/take_back.html", {**context, "problem": problem.message}, 422, page=page
        )
    return await act(request, page, command, _url(page, firearm), "pages/take_back.html", context)
