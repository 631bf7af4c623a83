"""What every page shares: the signed-in person from the session cookie, CSRF, the book being
worked in, what the person may be offered, rendering, and sending one command from a form.

The pages are a second entry point over the same services as the API: the same tokens (kept in an
HttpOnly, SameSite=Strict cookie instead of a header), the same access checks, the same group
committer. A form is a command: the handler builds the command of SPEC §4.2 from the fields and
sends it; the rules decide, never the page. The page only leaves out what the person may not do.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from armory.domain.state import ARMORER_ROLES, BookState
from armory.entrypoints.web.api import Services, services, source
from armory.errors import ArmoryError, Forbidden, InvalidInput, NotFound, Unauthorized
from armory.services.commands import Outcome
from armory.services.ports import Account, BookRecord

SESSION_COOKIE = "armory_session"
LOGIN_COOKIE = "armory_login"
CSRF_FIELD = "csrf"

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")

# SPEC §2 and §4.2: who may send each command, as the pages offer it. The domain checks it again
# on every command; this table only keeps a person from being shown a button that will refuse.
ARMORER_STEP = "armorer-step"
EVERYONE = frozenset(
    {"armorer", "assistant_armorer", "first_ad", "performer", "safety", "crew", "supplier_agent"}
)
OFFERS: Mapping[str, str | frozenset[str]] = {
    "enroll_person": ARMORER_ROLES,
    "record_training": ARMORER_ROLES | {"safety"},
    "hold_safety_meeting": frozenset({"first_ad"}),
    "refuse_to_handle": EVERYONE,
    "report_live_round": EVERYONE,
    "report_incident": EVERYONE,
    "resolve_incident": frozenset({"armorer", "safety"}),
    "open_case": frozenset({"safety", "investigator"}),
    "hold_as_evidence": frozenset({"safety"}),
    "release_evidence": frozenset({"safety"}),
}
# Everything else that changes firearms or rounds is an armorer's step.
SUPPLIER_STEPS = frozenset(
    {
        "register_location",
        "receive_firearm",
        "receive_box",
        "inspect",
        "check_out",
        "store",
        "issue",
        "receive_return",
    }
)


ARMORERS_ONLY = "only the armorer or an assistant armorer does this: call the armorer"


class SignInFirst(ArmoryError):
    """A page was asked for without a valid session: the answer is the sign-in page."""


@dataclass(frozen=True)
class Viewer:
    """The person signed in to this browser, and the CSRF token of their session."""

    account: Account
    csrf: str


@dataclass(frozen=True)
class BookPage:
    """One person working in one book: what the page needs to render and to decide what to
    offer."""

    viewer: Viewer
    book: BookRecord
    state: BookState
    roles: frozenset[str]

    @property
    def account(self) -> Account:
        return self.viewer.account

    def may(self, command: str) -> bool:
        """Whether to offer `command` to this person (the domain decides in the end)."""
        if self.book.kind == "supplier":
            if command in SUPPLIER_STEPS:
                return bool(self.roles & (ARMORER_ROLES | {"supplier_agent"}))
            if command in ("issue", "receive_return"):
                return "supplier_agent" in self.roles
        rule = OFFERS.get(command, ARMORER_STEP)
        if isinstance(rule, str):
            return bool(self.roles & ARMORER_ROLES)
        return bool(self.roles & rule)

    def offer(self, command: str, why: str = ARMORERS_ONLY) -> None:
        """Forbidden unless the page may offer `command`: a step's form is shown only to whoever
        may take it (and the rules refuse it anyway)."""
        if not self.may(command):
            raise Forbidden(why)

    @property
    def is_armorer(self) -> bool:
        return self.may("inspect")

    def people_with(self, *roles: str) -> list[Any]:
        return sorted(
            (p for p in self.state.people.values() if p.has(*roles)), key=lambda p: p.name
        )

    def name_of(self, person: str) -> str:
        found = self.state.people.get(person)
        return found.name if found is not None else person

    def names(self, people: Iterable[str]) -> str:
        return " and ".join(self.name_of(p) for p in people)


def csrf_for(token: str) -> str:
    """The CSRF token of a session: derived from its secret token, so a page from another site
    (which can neither read the HttpOnly cookie nor invert the hash) cannot forge it."""
    return hashlib.sha256(b"armory-csrf\0" + token.encode()).hexdigest()[:40]


def set_session(response: Response, request: Request, token: str, lifetime: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=lifetime,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def login_nonce(request: Request) -> tuple[str, bool]:
    """The login form's CSRF nonce (double-submit cookie): the one this browser holds, or a
    new one (and True: it must be set)."""
    held = request.cookies.get(LOGIN_COOKIE)
    if held and len(held) == 43:
        return held, False
    return secrets.token_urlsafe(32), True


def viewer(request: Request, svc: Annotated[Services, Depends(services)]) -> Viewer:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInFirst("sign in first")
    try:
        account = svc.access.authenticate(token, source(request))
    except Unauthorized as problem:
        raise SignInFirst(problem.message) from problem
    return Viewer(account, csrf_for(token))


Svc = Annotated[Services, Depends(services)]
Me = Annotated[Viewer, Depends(viewer)]


def book_page(request: Request, svc: Svc, me: Me, book: str) -> BookPage:
    record = svc.ledger.book(book)
    roles = svc.access.require_reader(me.account, book, source(request))
    return BookPage(me, record, svc.commands.state(book), roles)


Page = Annotated[BookPage, Depends(book_page)]


async def form_of(request: Request, me: Viewer) -> FormData:
    """The posted form, once its CSRF token is checked against the session's."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, me.csrf):
        raise Forbidden(
            "this form has expired or came from elsewhere: reload the page and try again"
        )
    return form


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    status: int = 200,
    page: BookPage | None = None,
    me: Viewer | None = None,
) -> HTMLResponse:
    viewer_ = page.viewer if page is not None else me
    full: dict[str, Any] = {
        "page": page,
        "me": viewer_,
        "csrf": viewer_.csrf if viewer_ is not None else "",
        "recorded": _recorded(request, page),
        **context,
    }
    return TEMPLATES.TemplateResponse(request, template, full, status_code=status)


def _recorded(request: Request, page: BookPage | None) -> dict[str, Any] | None:
    """The entries a redirect after a command points at (`?recorded=N` or `N-M`), to confirm
    them: the first index and every event type, so an incident the command opened shows too."""
    raw = request.query_params.get("recorded", "")
    first, _, last = raw.partition("-")
    if page is None or not first.isdigit() or not (last or first).isdigit():
        return None
    start, end = int(first), int(last or first) + 1
    if not 0 < end - start <= 50:
        return None
    svc: Services = request.app.state.services
    try:
        entries = list(svc.ledger.entries(page.book.id, start, end))
    except ArmoryError:
        return None
    if not entries:
        return None
    return {
        "index": start,
        "last": end - 1,
        "type": ", ".join(entry.type for entry in entries),
    }


def redirect(url: str, recorded: tuple[int, int] | None = None) -> RedirectResponse:
    if recorded is not None:
        first, last = recorded
        mark = str(first) if first == last else f"{first}-{last}"
        url += ("&" if "?" in url else "?") + f"recorded={mark}"
    return RedirectResponse(url, status_code=303)


async def send(request: Request, page: BookPage, command: dict[str, Any]) -> Outcome:
    """Send one command as the signed-in person, through the book's writer; InvalidInput or
    NotFound when it is malformed (nothing recorded)."""
    svc: Services = request.app.state.services
    svc.access.require_writer(page.account, page.book.id, source(request))
    prepared = await run_in_threadpool(svc.commands.prepare, page.book.id, page.account.id, command)
    result = await asyncio.wrap_future(svc.committer.submit(page.book.id, prepared))
    if not isinstance(result, Outcome):
        raise result
    if not result.ok and result.rule == "NOT_PERMITTED":
        svc.access.log(
            "forbidden", result.message or "", page.account.id, page.book.id, source(request)
        )
    return result


async def act(
    request: Request,
    page: BookPage,
    command: dict[str, Any],
    done: str,
    template: str,
    context: Mapping[str, Any],
) -> Response:
    """Send a command built from a form. Accepted: back to `done`, which confirms the entry.
    Refused: the same form again with the rule code and what to do next (409). Malformed: the
    same form with the problem named (422); nothing was recorded."""
    try:
        outcome = await send(request, page, command)
    except (InvalidInput, NotFound) as problem:
        return render(
            request,
            template,
            {**context, "problem": problem.message},
            422,
            page=_fresh(request, page),
        )
    if outcome.ok:
        indices = [event["index"] for event in outcome.events]
        return redirect(done, (min(indices), max(indices)) if indices else None)
    refusal = {
        "rule": outcome.rule,
        "message": outcome.message,
        "index": outcome.index,
        "incident": outcome.incident,
    }
    status = 403 if outcome.rule == "NOT_PERMITTED" else 409
    return render(
        request, template, {**context, "refusal": refusal}, status, page=_fresh(request, page)
    )


def _fresh(request: Request, page: BookPage) -> BookPage:
    """The page's book as it is after a command (a refusal is an entry too)."""
    svc: Services = request.app.state.services
    return BookPage(page.viewer, page.book, svc.commands.state(page.book.id), page.roles)


def field(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name, default)
    return value.strip() if isinstance(value, str) else default


def fields(form: FormData, name: str) -> list[str]:
    return [v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()]


def number(form: FormData, name: str, label: str) -> int:
    raw = field(form, name)
    if not raw.lstrip("-").isdigit():
        raise InvalidInput(f"{label} must be a whole number")
    return int(raw)


def source_of(form: FormData) -> dict[str, Any]:
    """Where a received firearm or box came from: the supplier book's issue entry when one is
    named (`from_book`, `from_index`), otherwise the words typed (`from_source`)."""
    if field(form, "from_book"):
        return {
            "book": field(form, "from_book"),
            "index": number(form, "from_index", "the issue entry"),
        }
    return {"source": field(form, "from_source")}


def pins(form: FormData, prefix: str, page: BookPage) -> list[dict[str, str]]:
    """Witnesses or approvers from the rows `PREFIX-person-N` / `PREFIX-pin-N`: each a person
    with the PIN they typed themselves; blank rows are skipped. A row with only one of the two
    is malformed (InvalidInput): a PIN never sent must not count as a wrong one."""
    found = []
    for n in range(1, 5):
        person = field(form, f"{prefix}-person-{n}")
        pin = field(form, f"{prefix}-pin-{n}")
        if person and not pin:
            raise InvalidInput(f"{page.name_of(person)} must type their own PIN")
        if pin and not person:
            raise InvalidInput("a PIN was typed without a name: pick who is confirming")
        if person:
            found.append({"person": person, "pin": pin})
    return found


def path_quote(item: str) -> str:
    return quote(item, safe="")


TEMPLATES.env.filters["q"] = path_quote


REVOLVER_WORDS = ("revolver", "single action", "double action", "cylinder")


def firearm_is_revolver(firearm: Any) -> bool:
    """Drawn as a cylinder: the spec has no field for the action, so the words of the make and
    model decide; anything else is drawn as a chamber above a magazine."""
    words = f"{firearm.make} {firearm.model}".lower()
    return any(word in words for word in REVOLVER_WORDS)


TEMPLATES.env.globals.update(firearm_is_revolver=firearm_is_revolver, sin=math.sin, cos=math.cos)
