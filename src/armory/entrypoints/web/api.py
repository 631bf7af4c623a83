"""The HTTP API under /api/v1 (SPEC §7): thin handlers over the services.

Each handler authenticates the bearer token, asks the access service whether the person may reach
the book, calls one service and shapes the answer. The statuses are those of SPEC §7: 201 with the
events, 409 with the rule code for a refusal, 422 for a malformed command, 401 and 403; every
route declares each status it can return, so the OpenAPI document is the whole contract.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Body, Depends, Form, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel, ConfigDict, Field

from armory.domain.state import BookState
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
from armory.services.commands import CommandService, Outcome
from armory.services.committer import GroupCommitter
from armory.services.ledger import LedgerService
from armory.services.ports import Account
from armory.services.views import LISTS, Tracer, board, listing

# A book or account id (as armory.ledger.entry.check_book_id says), for path and body checks.
BOOK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
BUNDLE_CHUNK = 1 << 20
MAX_ENTRIES_PAGE = 1000

# The path parameters: ids are what a book's commands may use (SPEC §4.2: client-chosen
# strings); anything else is refused before a handler runs.
BookId = Annotated[
    str, Path(pattern=BOOK_ID_PATTERN, max_length=64, description="The book's id, e.g. `demo`.")
]
ItemId = Annotated[
    str,
    Path(pattern=r"^[^\s/][^/]{0,127}$", max_length=128, description="A firearm or box id."),
]


class Problem(BaseModel):
    """An error: one sentence saying what is wrong and what to do."""

    detail: str


class RefusalBody(BaseModel):
    """A command refused by a rule of SPEC §4.1; the refusal itself is entry `index`."""

    rule: str
    message: str
    index: int
    incident: str | None = None


class EventRef(BaseModel):
    index: int
    type: str


class Accepted(BaseModel):
    """A command accepted: its events with their indices, and the book's new checkpoint."""

    events: list[EventRef]
    size: int
    checkpoint: str


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 -- the OAuth2 token type, not a secret
    expires_in: int


class Enrolment(BaseModel):
    book: str
    roles: list[str]


class Profile(BaseModel):
    id: str
    name: str
    is_admin: bool
    books: list[Enrolment]


class BookInfo(BaseModel):
    id: str
    kind: str
    name: str
    size: int
    root: str
    checkpoint: str


class NewBook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    book: str = Field(pattern=BOOK_ID_PATTERN, max_length=64)
    kind: Literal["production", "supplier"]
    name: str = Field(min_length=1, max_length=200)


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    user: str = Field(pattern=BOOK_ID_PATTERN, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=8, max_length=1000)
    pin: str = Field(pattern=r"^[0-9]{4,12}$")
    admin: bool = False


class UserInfo(BaseModel):
    id: str
    name: str
    is_admin: bool


class SecurityLine(BaseModel):
    at: str
    kind: str
    detail: str
    account: str | None
    book: str | None
    source: str | None


class EntryOut(BaseModel):
    index: int
    time: str
    actor: str
    type: str
    data: dict[str, Any]
    leaf_hash: str = Field(description="base64 of the RFC 9162 leaf hash of the entry's bytes")


class InclusionProof(BaseModel):
    index: int
    size: int
    leaf_hash: str
    root: str
    proof: list[str] = Field(description="base64 hashes, RFC 9162 §2.1.3 order")


class ConsistencyProof(BaseModel):
    old: int
    new: int
    old_root: str
    new_root: str
    proof: list[str] = Field(description="base64 hashes, RFC 9162 §2.1.4 order")


class Verified(BaseModel):
    book: str
    size: int
    root: str
    checkpoints_checked: int


@dataclass(frozen=True)
class Services:
    """What the routes use, assembled once per app (app.state.services)."""

    ledger: LedgerService
    commands: CommandService
    access: AccessService
    tracer: Tracer
    committer: GroupCommitter
    # The views as sent, by book and view: each is made and written once per size of the book.
    written: dict[tuple[str, str], tuple[int, bytes]] = field(default_factory=dict)

    def view_json(self, book: str, view: str, make: Callable[[BookState], Any]) -> bytes:
        """A view of the book's current state as the API sends it (the board, a list), made
        and written once per size of the book: everyone on set reads the same few. A size names
        one state (the ledger's first entries), so a kept answer is never stale."""
        state = self.commands.state(book)
        key = (book, view)
        kept = self.written.get(key)
        if kept is not None and kept[0] == state.size:
            return kept[1]
        text = orjson.dumps(make(state))
        self.written[key] = (state.size, text)
        return text


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


def status_of(problem: ArmoryError) -> int:
    """The HTTP status that says what kind of problem it is."""
    return next((s for kind, s in STATUS.items() if isinstance(problem, kind)), 500)


def problem_answer(problem: ArmoryError) -> Response:
    """The API's answer to a problem: its one sentence as `detail`, with its status."""
    status = status_of(problem)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(problem, TooManyAttempts):
        headers["Retry-After"] = str(problem.retry_after)
    body: dict[str, Any] = {"detail": problem.message}
    if isinstance(problem, VerificationFailed) and problem.index is not None:
        body["index"] = problem.index
    return JSONResponse(body, status_code=status, headers=headers)


def json_answer(content: bytes, status: int = 200) -> Response:
    """A JSON answer already written: a route that returns one skips FastAPI's check and
    rewriting of its result against the declared model, which the most frequent routes (the
    board, the lists, a command's answer) paid on every request. The declared model still
    documents it (OpenAPI), and the API tests check the answers against it."""
    return Response(content, status_code=status, media_type="application/json")


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    described = {
        400: "The request could not be read",
        401: "Not signed in, or the token has expired",
        403: "Signed in, but not allowed here",
        404: "No such book, entry, item or case",
        409: "Refused: it contradicts what is recorded",
        422: "Malformed: a field is missing, extra or of the wrong type",
        429: "Too many attempts; wait and try again",
    }
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        # The content is named, so that routes answering text or a zip still declare that
        # their errors are JSON.
        out[code] = {
            "model": Problem,
            "description": described[code],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return out


router = APIRouter(prefix="/api/v1")


def source(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def services(request: Request) -> Services:
    # Async, though it awaits nothing: FastAPI runs a plain function dependency on its thread
    # pool, a hop out of the event loop and back for every request.
    found: Services = request.app.state.services
    return found


Svc = Annotated[Services, Depends(services)]
bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/token", auto_error=False)


async def signed_in(
    request: Request, svc: Svc, token: Annotated[str | None, Depends(bearer)]
) -> Account:
    # Most requests carry a token checked seconds ago, answered from memory on the event
    # loop; the others ask the database on a request thread, never blocking the loop.
    account = svc.access.remembered(token)
    if account is not None:
        return account
    return await run_in_threadpool(svc.access.authenticate, token, source(request))


Me = Annotated[Account, Depends(signed_in)]

# Signing in


@router.post(
    "/token",
    response_model=Token,
    responses=_responses(400, 401, 422, 429),
    summary="Sign in (OAuth2 password flow)",
    tags=["accounts"],
)
def login(
    request: Request,
    svc: Svc,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1000)],
) -> Token:
    session = svc.access.login(username, password, source(request))
    return Token(access_token=session.token, expires_in=session.expires_in)


@router.post("/logout", status_code=204, responses=_responses(401), tags=["accounts"])
def logout(svc: Svc, account: Me, token: Annotated[str | None, Depends(bearer)]) -> Response:
    if token:
        svc.access.logout(token)
    return Response(status_code=204)


@router.get("/me", response_model=Profile, responses=_responses(401), tags=["accounts"])
def who_am_i(svc: Svc, account: Me) -> Profile:
    books = []
    for record in svc.ledger.books():
        roles = svc.access.roles(account, record.id)
        if roles:
            books.append(Enrolment(book=record.id, roles=sorted(roles)))
    return Profile(id=account.id, name=account.name, is_admin=account.is_admin, books=books)


# Administration


@router.get("/users", response_model=list[UserInfo], responses=_responses(401, 403), tags=["admin"])
def list_users(request: Request, svc: Svc, account: Me) -> list[UserInfo]:
    svc.access.require_admin(account, source(request), "list accounts")
    return [UserInfo(id=a.id, name=a.name, is_admin=a.is_admin) for a in svc.access.logins.all()]


@router.post(
    "/users",
    status_code=201,
    response_model=UserInfo,
    responses=_responses(401, 403, 409, 422),
    tags=["admin"],
)
def create_user(request: Request, svc: Svc, account: Me, new: NewUser) -> UserInfo:
    svc.access.require_admin(account, source(request), "create accounts")
    svc.access.add_account(new.user, new.name, new.password, new.pin, new.admin)
    return UserInfo(id=new.user, name=new.name, is_admin=new.admin)


@router.get(
    "/security-log",
    response_model=list[SecurityLine],
    responses=_responses(401, 403, 422),
    tags=["admin"],
)
def security_log(
    request: Request, svc: Svc, account: Me, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[SecurityLine]:
    svc.access.require_admin(account, source(request), "read the security log")
    return [SecurityLine(**vars(e)) for e in svc.access.security.recent(limit)]


# Books


def book_info(svc: Services, book: str) -> BookInfo:
    record = svc.ledger.book(book)
    checkpoint = svc.ledger.checkpoint(book)
    return BookInfo(
        id=record.id,
        kind=record.kind,
        name=record.name,
        size=checkpoint.size,
        root=base64.b64encode(checkpoint.root).decode(),
        checkpoint=checkpoint.note,
    )


@router.get("/books", response_model=list[BookInfo], responses=_responses(401), tags=["books"])
def list_books(svc: Svc, account: Me) -> list[BookInfo]:
    return [
        book_info(svc, record.id)
        for record in svc.ledger.books()
        if account.is_admin or svc.access.roles(account, record.id)
    ]


@router.post(
    "/books",
    status_code=201,
    response_model=BookInfo,
    responses=_responses(401, 403, 409, 422),
    tags=["admin"],
)
def create_book(request: Request, svc: Svc, account: Me, new: NewBook) -> BookInfo:
    svc.access.require_admin(account, source(request), "create books")
    svc.ledger.create_book(new.book, new.kind, new.name, account.id)
    return book_info(svc, new.book)


@router.get(
    "/books/{book}",
    response_model=BookInfo,
    responses=_responses(401, 403, 404, 422),
    tags=["books"],
)
def get_book(request: Request, svc: Svc, account: Me, book: BookId) -> BookInfo:
    reader(request, svc, account, book)
    return book_info(svc, book)


def reader(request: Request, svc: Services, account: Account, book: str) -> frozenset[str]:
    return may_read(svc, account, book, source(request))


def may_read(svc: Services, account: Account, book: str, client: str) -> frozenset[str]:
    """The reader's roles in the book; NotFound or Forbidden (logged) if they may not read it."""
    svc.ledger.book(book)  # 404 before 403: a book's existence is not a secret from its users
    return svc.access.require_reader(account, book, client)


# Commands


@router.post(
    "/books/{book}/commands",
    status_code=201,
    response_model=Accepted,
    responses={
        **_responses(401, 403, 404, 422),
        409: {"model": RefusalBody, "description": "Refused by a rule (SPEC §4.1)"},
    },
    tags=["commands"],
    summary="Send one command (SPEC §4.2) as the signed-in person",
)
async def send_command(
    request: Request,
    svc: Svc,
    account: Me,
    book: BookId,
    command: Annotated[
        dict[str, Any],
        Body(
            description="One command of SPEC §4.2: `type` and its fields",
            examples=[{"type": "refuse_to_handle", "firearm": "R1", "reason": "unsure"}],
        ),
    ],
) -> Any:
    return await command_answer(svc, account, book, command, source(request))


async def command_answer(
    svc: Services, account: Account, book: str, command: dict[str, Any], client: str
) -> Response:
    """The answer to one command: 201 once its events are durable, 409 or 403 for a refusal
    (recorded at its index); ArmoryError for a command that cannot be taken at all."""
    svc.ledger.book(book)
    svc.access.require_writer(account, book, client)
    # Queued for the book's writer (group commit); the answer comes once it is durable. A
    # command with PINs to check (Argon2id) or entries to read is made ready on a request
    # thread; most are ready at once, here.
    prepared = svc.commands.prepare_now(book, account.id, command)
    if prepared is None:
        prepared = await run_in_threadpool(svc.commands.prepare, book, account.id, command)
    result = await asyncio.wrap_future(svc.committer.submit(book, prepared))
    if not isinstance(result, Outcome):
        raise result
    outcome = result
    if outcome.ok:
        accepted = {
            "events": [{"index": e["index"], "type": e["type"]} for e in outcome.events],
            "size": outcome.size,
            "checkpoint": outcome.checkpoint,
        }
        return json_answer(orjson.dumps(accepted), 201)
    body = RefusalBody(
        rule=outcome.rule or "",
        message=outcome.message or "",
        index=outcome.index if outcome.index is not None else -1,
        incident=outcome.incident,
    ).model_dump(exclude_none=True)
    if outcome.rule == "NOT_PERMITTED":
        # The person may not send this at all: an authorisation failure, recorded in the
        # book (the attempt is evidence) and in the security log.
        svc.access.log("forbidden", outcome.message or "", account.id, book, client)
        return JSONResponse(body, status_code=403)
    return JSONResponse(body, status_code=409)


# Reads


@router.get(
    "/books/{book}/board",
    response_model=dict[str, Any],
    responses=_responses(401, 403, 404, 422),
    tags=["reads"],
    summary="Every firearm and box now, the open incidents, the day",
)
def get_board(request: Request, svc: Svc, account: Me, book: BookId) -> Response:
    return board_answer(svc, account, book, source(request))


def board_answer(svc: Services, account: Account, book: str, client: str) -> Response:
    may_read(svc, account, book, client)
    return json_answer(svc.view_json(book, "board", lambda state: board(state, book)))


def list_answer(
    svc: Services, account: Account, book: str, kind: str, view: str, client: str
) -> Response:
    may_read(svc, account, book, client)
    made = svc.view_json(book, f"{kind}?{view}", lambda state: listing(state, kind, view, book))
    return json_answer(made)


def list_route(kind: str) -> Callable[..., Response]:
    def handler(
        request: Request,
        svc: Svc,
        account: Me,
        book: BookId,
        view: Annotated[
            Literal["originals", "corrections", "both"],
            Query(description="Originals only, corrections only, or both"),
        ] = "both",
    ) -> Response:
        return list_answer(svc, account, book, kind, view, source(request))

    handler.__name__ = f"list_{kind}"
    return handler


for kind in (*LISTS, "days", "refusals"):
    router.add_api_route(
        f"/books/{{book}}/{kind}",
        list_route(kind),
        methods=["GET"],
        response_model=list[dict[str, Any]],
        responses=_responses(401, 403, 404, 422),
        tags=["reads"],
        summary=f"The book's {kind}",
    )


@router.get(
    "/books/{book}/trace/{item}",
    responses=_responses(401, 403, 404, 422),
    tags=["reads"],
    summary="A firearm's or box's history across books, with its gaps",
)
def trace(request: Request, svc: Svc, account: Me, book: BookId, item: ItemId) -> dict[str, Any]:
    reader(request, svc, account, book)
    return svc.tracer.trace(book, item)


@router.get(
    "/books/{book}/entries",
    response_model=list[EntryOut],
    responses=_responses(401, 403, 404, 422),
    tags=["ledger"],
    summary=f"Entries start <= index < end, at most {MAX_ENTRIES_PAGE} at a time",
)
def entries(
    request: Request,
    svc: Svc,
    account: Me,
    book: BookId,
    start: Annotated[int, Query(ge=0)] = 0,
    end: Annotated[int | None, Query(ge=0)] = None,
) -> list[EntryOut]:
    reader(request, svc, account, book)
    size = svc.ledger.store.size(book)
    stop = min(size, end if end is not None else size, start + MAX_ENTRIES_PAGE)
    return [
        EntryOut(
            index=e.index,
            time=e.time,
            actor=e.actor,
            type=e.type,
            data=dict(e.data),
            leaf_hash=_b64(hashlib.sha256(b"\x00" + e.raw).digest()),
        )
        for e in svc.ledger.entries(book, min(start, stop), stop)
    ]


@router.get(
    "/books/{book}/checkpoint",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {}}, "description": "The signed checkpoint note"},
        **_responses(401, 403, 404, 422),
    },
    tags=["ledger"],
)
def checkpoint(request: Request, svc: Svc, account: Me, book: BookId) -> PlainTextResponse:
    return checkpoint_answer(svc, account, book, source(request))


def checkpoint_answer(svc: Services, account: Account, book: str, client: str) -> PlainTextResponse:
    may_read(svc, account, book, client)
    return PlainTextResponse(svc.ledger.checkpoint(book).note)


@router.get(
    "/books/{book}/proofs/inclusion",
    response_model=InclusionProof,
    responses=_responses(401, 403, 404, 422),
    tags=["ledger"],
)
def inclusion(
    request: Request,
    svc: Svc,
    account: Me,
    book: BookId,
    index: Annotated[int, Query(ge=0)],
    size: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    return inclusion_answer(svc, account, book, index, size, source(request))


def inclusion_answer(
    svc: Services, account: Account, book: str, index: int, size: int | None, client: str
) -> Response:
    may_read(svc, account, book, client)
    at = size if size is not None else svc.ledger.store.size(book)
    proof = svc.ledger.inclusion_proof(book, index, at)
    [entry] = list(svc.ledger.entries(book, index, index + 1))
    answer = {
        "index": index,
        "size": at,
        "leaf_hash": _b64(hashlib.sha256(b"\x00" + entry.raw).digest()),
        "root": _b64(svc.ledger.root(book, at)),
        "proof": [_b64(h) for h in proof],
    }
    return json_answer(orjson.dumps(answer))


@router.get(
    "/books/{book}/proofs/consistency",
    response_model=ConsistencyProof,
    responses=_responses(401, 403, 404, 422),
    tags=["ledger"],
)
def consistency(
    request: Request,
    svc: Svc,
    account: Me,
    book: BookId,
    old: Annotated[int, Query(ge=1)],
    new: Annotated[int | None, Query(ge=1)] = None,
) -> ConsistencyProof:
    reader(request, svc, account, book)
    at = new if new is not None else svc.ledger.store.size(book)
    proof = svc.ledger.consistency_proof(book, old, at)
    return ConsistencyProof(
        old=old,
        new=at,
        old_root=_b64(svc.ledger.root(book, old)),
        new_root=_b64(svc.ledger.root(book, at)),
        proof=[_b64(h) for h in proof],
    )


@router.get(
    "/books/{book}/verify",
    response_model=Verified,
    responses={
        **_responses(401, 403, 404, 422),
        409: {"model": Problem, "description": "The book does not verify"},
    },
    tags=["ledger"],
    summary="Recompute the book's tree and check every stored hash and checkpoint",
)
def verify(request: Request, svc: Svc, account: Me, book: BookId) -> Verified:
    reader(request, svc, account, book)
    report = svc.ledger.verify_book(book)
    return Verified(
        book=report.book,
        size=report.size,
        root=_b64(report.root),
        checkpoints_checked=report.checkpoints_checked,
    )


@router.post(
    "/books/{book}/export",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/zip": {}}, "description": "The evidence bundle"},
        **_responses(401, 403, 404, 422),
    },
    tags=["ledger"],
    summary="Export the evidence bundle; the export is recorded in the book first",
)
def export(
    request: Request,
    svc: Svc,
    account: Me,
    book: BookId,
    case: Annotated[
        str | None, Query(max_length=128, description="The case this export is for")
    ] = None,
) -> StreamingResponse:
    svc.ledger.book(book)
    svc.access.require_exporter(account, book, case, source(request))
    spool = tempfile.TemporaryFile()  # noqa: SIM115 -- closed by the stream below
    try:
        result = svc.ledger.export(book, spool, account.id, case)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)

    def chunks() -> Iterator[bytes]:
        with spool:
            while block := spool.read(BUNDLE_CHUNK):
                yield block

    size = result.checkpoint.size
    return StreamingResponse(
        chunks(),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{book}-{size}.zip"',
            "X-Armory-Size": str(size),
        },
    )


@router.get(
    "/vkey",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}, "description": "The verifier key"}},
    tags=["ledger"],
)
def vkey(svc: Svc) -> PlainTextResponse:
    return PlainTextResponse(svc.ledger.verifier.to_text() + "\n")


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()
