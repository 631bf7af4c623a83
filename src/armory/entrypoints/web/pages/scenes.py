"""Scenes (SPEC §4.2 "Scenes and meetings"): the list, one scene with its meetings, the plan the
armorer makes and the first AD approves with their PIN, the safety-meeting sign-in the first AD
holds, and the armorer's cold or hot declaration."""

from __future__ import annotations

from datetime import date
from typing import Any, get_args

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from armory.domain.commands import Load
from armory.domain.state import BookState, Scene
from armory.entrypoints.web.pages.core import (
    BookPage,
    Page,
    act,
    field,
    fields,
    form_of,
    number,
    path_quote,
    pins,
    render,
)
from armory.errors import InvalidInput, NotFound

router = APIRouter(include_in_schema=False)

LIST = "pages/scenes.html"
ONE = "pages/scene.html"
BLANKS = get_args(Load)
# SPEC §4.2 hold_safety_meeting, in the order a first AD briefs them, with what each covers.
TOPICS = {
    "action": "The action: what happens, and where every muzzle points",
    "deviations": "No change to the plan without the armorer",
    "abort": "How anyone stops the scene",
    "emergency": "What to do in an emergency, and where the medic is",
    "chain_of_command": "Who calls cold and hot, and who answers to whom",
    "protective_equipment": "Eye and ear protection",
}


def _url(page: BookPage, scene: str = "") -> str:
    base = f"/b/{path_quote(page.book.id)}/scenes"
    return f"{base}/{path_quote(scene)}" if scene else base


def _today(state: BookState) -> str:
    return state.today or date.today().isoformat()


def _scene(page: BookPage, scene: str) -> Scene:
    found = page.state.scenes.get(scene)
    if found is None:
        raise NotFound(f"there is no scene {scene!r} in book {page.book.id}")
    return found


@router.get("/b/{book}/scenes", response_class=HTMLResponse)
def scenes_page(request: Request, page: Page) -> HTMLResponse:
    today = _today(page.state)
    scenes = sorted(page.state.scenes.values(), key=lambda s: (s.date, s.id), reverse=True)
    # Today's scenes first, then the rest, latest date first.
    ordered = [s for s in scenes if s.date == today] + [s for s in scenes if s.date != today]
    return render(request, LIST, {"scenes": ordered, "today": today}, page=page)


def _plan_context(page: BookPage, sent: FormData | None = None) -> dict[str, Any]:
    state = page.state
    return {
        "planning": True,
        "today": _today(state),
        "firearms": sorted(
            (f for f in state.firearms.values() if f.custody.kind != "gone"), key=lambda f: f.id
        ),
        "performers": page.people_with("performer"),
        "first_ads": page.people_with("first_ad"),
        "blanks": BLANKS,
        "sent": sent,
    }


@router.get("/b/{book}/scenes/new", response_class=HTMLResponse)
def plan_form(request: Request, page: Page) -> HTMLResponse:
    page.offer(
        "plan_scene", "only an armorer plans a scene; the first AD approves it with their PIN"
    )
    return render(request, LIST, _plan_context(page), page=page)


def _plan_command(form: FormData, page: BookPage) -> dict[str, Any]:
    """The plan_scene command of the form; InvalidInput when it cannot be built."""
    approvals = pins(form, "approver", page)
    if len(approvals) != 1:
        raise InvalidInput(
            "the first AD approves the plan: pick their name, then they type their PIN"
        )
    blanks = field(form, "blanks")
    command: dict[str, Any] = {
        "type": "plan_scene",
        "scene": field(form, "scene"),
        "date": field(form, "date"),
        "title": field(form, "title"),
        "firearms": fields(form, "firearms"),
        "performers": fields(form, "performers"),
        "blanks": None if blanks in ("", "none") else blanks,
        "muzzle_toward_person": field(form, "muzzle_toward_person") == "yes",
        "approved_by": approvals[0],
    }
    if field(form, "min_distance_ft"):
        command["min_distance_ft"] = number(form, "min_distance_ft", "the minimum distance")
    return command


@router.post("/b/{book}/scenes")
async def plan_scene(request: Request, page: Page) -> Response:
    form = await form_of(request, page.viewer)
    context = _plan_context(page, form)
    try:
        command = _plan_command(form, page)
    except InvalidInput as problem:
        return render(request, LIST, {**context, "problem": problem.message}, 422, page=page)
    return await act(request, page, command, _url(page, command["scene"]), LIST, context)


def _scene_context(
    page: BookPage, scene: Scene, sent: FormData | None = None, sent_to: str = ""
) -> dict[str, Any]:
    state = page.state
    today = _today(state)
    return {
        "scene": scene,
        "today": today,
        "firearms": [state.firearms.get(f) for f in scene.firearms],
        "performers": [
            {
                "id": p,
                "name": page.name_of(p),
                "trained": p in state.people and state.people[p].has_current_training(today),
                "attended": scene.attended_today(p, today),
            }
            for p in scene.performers
        ],
        "people": sorted(state.people.values(), key=lambda p: p.name),
        "first_ads": page.people_with("first_ad"),
        "topics": TOPICS,
        "sent": sent,
        "sent_to": sent_to,
    }


@router.get("/b/{book}/scenes/{scene}", response_class=HTMLResponse)
def scene_page(request: Request, page: Page, scene: str) -> HTMLResponse:
    found = _scene(page, scene)
    return render(request, ONE, _scene_context(page, found), page=page)


@router.post("/b/{book}/scenes/{scene}/meeting")
async def hold_meeting(request: Request, page: Page, scene: str) -> Response:
    form = await form_of(request, page.viewer)
    found = _scene(page, scene)
    command = {
        "type": "hold_safety_meeting",
        "scene": found.id,
        "attendees": fields(form, "attendees"),
        "topics": fields(form, "topics"),
    }
    context = _scene_context(page, found, form, "meeting")
    return await act(request, page, command, _url(page, found.id), ONE, context)


@router.post("/b/{book}/scenes/{scene}/declare")
async def declare(request: Request, page: Page, scene: str) -> Response:
    form = await form_of(request, page.viewer)
    found = _scene(page, scene)
    command: dict[str, Any] = {
        "type": "declare",
        "scene": found.id,
        "status": field(form, "status"),
        "firearms": fields(form, "firearms"),
    }
    if field(form, "announced_by"):
        command["announced_by"] = field(form, "announced_by")
    context = _scene_context(page, found, form, "declare")
    return await act(request, page, command, _url(page, found.id), ONE, context)
