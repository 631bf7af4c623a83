"""The `armory` command (SPEC §7): parse, call one service method, print."""

from __future__ import annotations

import base64
import getpass
import json
import logging
import os
import sys
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import orjson
import typer
from typer.exceptions import TyperException

from armory.config import (
    DATA_DIR_ENV,
    DATABASE_URL_ENV,
    MAX_REQUEST_THREADS,
    MAX_SERVER_PROCESSES,
    REQUEST_THREADS,
    REQUEST_THREADS_ENV,
    Settings,
)
from armory.errors import ArmoryError, InvalidInput, NotFound, VerificationFailed
from armory.ledger.entry import Draft, check_book_id
from armory.ledger.note import VerifierKey
from armory.services.ports import Account

if TYPE_CHECKING:
    from armory import bootstrap
    from armory.services.commands import ReadCommands

# The database stack (SQLAlchemy, Alembic, psycopg) is imported by the commands that open the
# node, not at start: `armory verify BUNDLE` and `--help` need none of it.

app = typer.Typer(
    name="armory",
    help="Armory: the system of record and safety interlock for prop firearms and ammunition.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
book_app = typer.Typer(help="Create and list books.", no_args_is_help=True)
user_app = typer.Typer(help="Accounts on this node.", no_args_is_help=True)
proof_app = typer.Typer(help="Merkle proofs from a book (RFC 9162).", no_args_is_help=True)
app.add_typer(book_app, name="book")
app.add_typer(user_app, name="user")
app.add_typer(proof_app, name="proof")

PROGRESS_FROM = 1000  # lines: a file this long shows a progress bar on stderr
DO_BATCH = 500  # commands per transaction in `armory do`: answered once durable, together
READ_AHEAD = 4  # groups of a file read ahead of the one decided, their new PINs hashing meanwhile

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Data directory (default: $ARMORY_DATA_DIR).", show_default=False
    ),
]


def _settings(data_dir: Path | None) -> Settings:
    return Settings.load(data_dir=data_dir)


def _open(data_dir: Path | None) -> bootstrap.Armory:
    from armory import bootstrap  # noqa: PLC0415 -- the database stack loads only when needed

    return bootstrap.open_armory(_settings(data_dir))


def _init(data_dir: Path | None, node_name: str | None) -> bootstrap.Armory:
    from armory import bootstrap  # noqa: PLC0415 -- the database stack loads only when needed

    return bootstrap.init(_settings(data_dir), node_name)


def _operator() -> str:
    """Who is at the keyboard, for entries the local operator makes without `--as`."""
    try:
        return f"local:{getpass.getuser()}"
    except (KeyError, OSError):
        return "local:operator"


@app.command()
def init(
    data_dir: DataDir = None,
    node_name: Annotated[
        str | None, typer.Option(help="This node's name, used in checkpoint origins.")
    ] = None,
) -> None:
    """Create the data directory, database and node key (safe to run again)."""
    armory = _init(data_dir, node_name)
    try:
        typer.echo(f"Armory node {armory.ledger.node_name} ready in {armory.settings.data_dir}")
        typer.echo(f"verifier key: {armory.ledger.verifier.to_text()}")
    finally:
        armory.close()


@app.command()
def key(data_dir: DataDir = None) -> None:
    """Print this node's verifier key (note vkey format), to hand to investigators."""
    armory = _open(data_dir)
    try:
        typer.echo(armory.ledger.verifier.to_text())
    finally:
        armory.close()


@book_app.command("create")
def book_create(
    book: Annotated[str, typer.Argument(help="Book id, e.g. demo.")],
    kind: Annotated[str, typer.Option(help="production or supplier.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    data_dir: DataDir = None,
) -> None:
    """Create a book: the append-only ledger of one production or rental house."""
    armory = _open(data_dir)
    try:
        result = armory.ledger.create_book(book, kind, name, _operator())
        typer.echo(f"book {book} created ({kind}); checkpoint size {result.checkpoint.size}")
    finally:
        armory.close()


@book_app.command("list")
def book_list(data_dir: DataDir = None) -> None:
    """List the books with their size and root."""
    armory = _open(data_dir)
    try:
        for record in armory.ledger.books():
            checkpoint = armory.ledger.checkpoint(record.id)
            typer.echo(
                f"{record.id}\t{record.kind}\t{checkpoint.size}\t{checkpoint.root.hex()}\t"
                f"{record.name}"
            )
    finally:
        armory.close()


def _drafts(lines: Iterator[str], actor: str) -> Iterator[Draft]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value: Any = json.loads(line)
        except ValueError as problem:
            raise InvalidInput(f"line {number} is not JSON: {problem}") from None
        if not isinstance(value, dict) or not isinstance(value.get("type"), str):
            raise InvalidInput(f'line {number} needs a "type" string and a "data" object')
        data = value.get("data", {})
        if not isinstance(data, dict) or set(value) - {"type", "data"}:
            raise InvalidInput(f'line {number} may hold only "type" and a "data" object')
        yield Draft.of(actor, value["type"], data)


def _lines(source: str) -> Iterator[str]:
    if source == "-":
        yield from sys.stdin
        return
    try:
        with Path(source).open(encoding="utf-8") as handle:
            yield from handle
    except FileNotFoundError:
        raise NotFound(f"no file {source}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{source} is not UTF-8 text") from None


@app.command()
def append(
    book: Annotated[str, typer.Argument(help="Book id.")],
    source: Annotated[
        str, typer.Argument(help="JSON-lines file of {type, data}, or - for stdin.")
    ] = "-",
    actor: Annotated[
        str | None, typer.Option("--as", help="Actor recorded on the entries.")
    ] = None,
    each: Annotated[
        bool, typer.Option("--each", help="One durable transaction per line, printing each index.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Append plain entries (for imports, tests and benchmarks; commands come with `armory do`)."""
    armory = _open(data_dir)
    try:
        drafts = _drafts(_lines(source), actor or _operator())
        if each:
            for draft in drafts:
                appended = armory.ledger.append(book, [draft])
                typer.echo(str(appended.entries[0][0]))
            return
        result = armory.ledger.append_many(book, drafts)
        typer.echo(
            json.dumps(
                {
                    "appended": result.count,
                    "size": result.checkpoint.size,
                    "root": result.checkpoint.root.hex(),
                }
            )
        )
    finally:
        armory.close()


@user_app.command("add")
def user_add(
    user: Annotated[str, typer.Argument(help="Account id, e.g. ana.")],
    name: Annotated[str, typer.Option(help="Full name.")],
    password: Annotated[str, typer.Option(help="Password (at least 8 characters).")],
    pin: Annotated[str, typer.Option(help="PIN for witnessing and approving (4-12 digits).")],
    admin: Annotated[bool, typer.Option("--admin", help="May create books and accounts.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Create an account; enroll it in a book with the enroll_person command."""
    check_book_id(user)
    armory = _open(data_dir)
    try:
        armory.accounts.add(Account(user, name, admin), password, pin)
        typer.echo(f"account {user} created{' (admin)' if admin else ''}")
    finally:
        armory.close()


@app.command("do")
def do(
    book: Annotated[str, typer.Argument(help="Book id.")],
    person: Annotated[str, typer.Option("--as", help="The person acting.")],
    source: Annotated[
        str, typer.Argument(help="JSON-lines file of commands, or - for stdin.")
    ] = "-",
    data_dir: DataDir = None,
) -> None:
    """Apply commands, one JSON object per line, printing one JSON answer per line."""
    armory = _open(data_dir)
    malformed = 0
    try:
        if armory.accounts.get(person) is None:
            raise NotFound(f"no account {person!r}: `armory user add` creates one")
        armory.ledger.book(book)
        total = _count_lines(source)
        with _progress(total) as advance:
            for group in _read_groups(armory, _lines(source), ahead=source != "-"):
                answers = _run_group(armory, book, person, group)
                malformed += sum("error" in answer for answer in answers)
                # A group's answers in one write: they are known together, once it committed.
                typer.echo("\n".join(orjson.dumps(answer).decode() for answer in answers))
                advance(len(answers))
    finally:
        armory.close()
    if malformed:
        raise typer.Exit(code=1)


def _chunks(lines: Iterator[str], size: int) -> Iterator[list[tuple[int, str]]]:
    """Numbered non-empty lines, in groups of `size` (one group commit each)."""
    chunk: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            chunk.append((number, line))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass(frozen=True)
class _Group:
    """Numbered lines, committed together: the answers of those that are not JSON, and the
    commands of the others, read."""

    numbers: list[int]  # every line's, in order
    answers: dict[int, dict[str, Any]]
    commands: ReadCommands
    command_numbers: list[int]


def _read_groups(armory: bootstrap.Armory, lines: Iterator[str], ahead: bool) -> Iterator[_Group]:
    """The lines in groups of DO_BATCH. From a file, groups are read READ_AHEAD ahead of the
    one decided, so that the new PINs they carry are hashed meanwhile; a line that cannot be
    read stops the groups only after every group before it has run. From stdin, a group runs
    as soon as it is read: its writer may be waiting for the answers."""
    groups = (_read_group(armory, chunk, ahead) for chunk in _chunks(lines, DO_BATCH))
    if not ahead:
        yield from groups
        return
    waiting: deque[_Group] = deque()
    try:
        for group in groups:
            waiting.append(group)
            if len(waiting) > READ_AHEAD:
                yield waiting.popleft()
    except (InvalidInput, NotFound):
        while waiting:  # the file cannot be read further: what came before it still runs
            yield waiting.popleft()
        raise
    while waiting:
        yield waiting.popleft()


def _read_group(armory: bootstrap.Armory, chunk: list[tuple[int, str]], ahead: bool) -> _Group:
    answers: dict[int, dict[str, Any]] = {}
    commands: list[object] = []
    numbers: list[int] = []
    for number, line in chunk:
        try:
            commands.append(orjson.loads(line))  # strict JSON: NaN and Infinity are refused
            numbers.append(number)
        except orjson.JSONDecodeError as problem:
            answers[number] = {"ok": False, "error": f"line {number} is not JSON: {problem}"}
    read = armory.commands.read(commands, ahead=ahead)
    return _Group([number for number, _ in chunk], answers, read, numbers)


def _run_group(
    armory: bootstrap.Armory, book: str, person: str, group: _Group
) -> list[dict[str, Any]]:
    """Answers for a group of lines, committed together; each answer in its line's place."""
    answers = dict(group.answers)
    if group.command_numbers:
        results = armory.commands.execute_read(book, person, group.commands)
        for number, result in zip(group.command_numbers, results, strict=True):
            if isinstance(result, Exception):
                answers[number] = {"ok": False, "error": f"line {number}: {result.message}"}
            else:
                answers[number] = result.to_json()
    return [answers[number] for number in group.numbers]


def _count_lines(source: str) -> int | None:
    if source == "-":
        return None
    try:
        with Path(source).open("rb") as handle:
            return sum(1 for _ in handle)
    except OSError:
        return None


@contextmanager
def _progress(total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr for long files; nothing for short ones or for stdin. It is
    advanced by the number of lines answered."""
    if total is None or total < PROGRESS_FROM:
        yield lambda _lines: None
        return
    from rich.console import Console  # noqa: PLC0415 -- loaded to draw: saves ~30 ms a start
    from rich.progress import Progress  # noqa: PLC0415 -- same reason

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("commands", total=total)
        yield lambda lines: progress.advance(task, lines)


@app.command()
def board(
    book: str, as_json: Annotated[bool, typer.Option("--json")] = False, data_dir: DataDir = None
) -> None:
    """Every firearm now, every box and its count, open incidents, and the day."""
    armory = _open(data_dir)
    try:
        from armory.services import views  # noqa: PLC0415 -- loaded when needed

        view = views.board(armory.commands.state(book), book)
    finally:
        armory.close()
    if as_json:
        typer.echo(json.dumps(view, ensure_ascii=False, indent=2))
        return
    _print_board(view)


def _print_board(view: dict[str, Any]) -> None:
    from rich.console import Console  # noqa: PLC0415 -- loaded to draw, as in _progress
    from rich.table import Table  # noqa: PLC0415 -- same reason

    console = Console()
    if view["frozen"]:
        console.print(
            f"[bold white on red] FROZEN by incident {view['frozen']['incident']} "
            f"({view['frozen']['kind']}) [/]"
        )
    day = view["day"]
    console.print(
        f"Book {view['book']} · {view['size']} entries · day: "
        + (
            f"{day['date']} {'paused' if day['paused'] else 'open'}"
            if day and day["open"]
            else "closed"
        )
    )
    firearms = Table("firearm", "where", "chambers", "last inspection", title="Firearms")
    for f in view["firearms"]:
        custody = f"{f['custody']['kind']} {f['custody']['holder']}"
        chambers = " ".join(c["content"][0].upper() for c in f["chambers"])
        last = f["last_inspection"]
        inspected = (
            "-"
            if last is None
            else (
                f"#{last['index']} {last['purpose']} by {last['by']}"
                + (f", witnessed by {', '.join(last['witnesses'])}" if last["witnesses"] else "")
                + ("" if last["current"] else " (stale)")
            )
        )
        firearms.add_row(f"{f['firearm']} {f['description']}", custody, chambers, inspected)
    console.print(firearms)
    boxes = Table("box", "kind", "count", "where", "verified", title="Boxes")
    for b in view["boxes"]:
        kind = b["kind"] + (f" ({b['load']})" if b["load"] else "")
        custody = f"{b['custody']['kind']} {b['custody']['holder']}"
        boxes.add_row(
            f"{b['box']} {b['label']}", kind, str(b["count"]), custody, b["verified_on"] or "-"
        )
    console.print(boxes)
    for incident in view["open_incidents"]:
        console.print(
            f"[red]open incident {incident['id']}: {incident['kind']} "
            f"- {incident['description']}[/]"
        )


@app.command("list")
def list_items(
    book: str,
    kind: Annotated[
        str,
        typer.Argument(
            help="firearms, boxes, people, locations, scenes, days, incidents, refusals or cases."
        ),
    ],
    view: Annotated[str, typer.Option(help="originals, corrections or both.")] = "both",
    data_dir: DataDir = None,
) -> None:
    """One list of a book, as JSON; corrections shown beside the originals, or alone."""
    armory = _open(data_dir)
    try:
        from armory.services import views  # noqa: PLC0415 -- loaded when needed

        rows = views.listing(armory.commands.state(book), kind, view, book)
    finally:
        armory.close()
    typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))


@app.command()
def backup(
    output: Annotated[Path, typer.Argument(help="Where to write the copy of the database.")],
    data_dir: DataDir = None,
) -> None:
    """A consistent copy of the SQLite database, taken while Armory runs."""
    armory = _open(data_dir)
    try:
        armory.store.backup(output)
    finally:
        armory.close()
    typer.echo(f"wrote {output}")


@app.command()
def trace(
    book: str,
    item: str,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    data_dir: DataDir = None,
) -> None:
    """The whole life of a firearm or box across books, with gaps flagged."""
    armory = _open(data_dir)
    try:
        from armory.services import views  # noqa: PLC0415 -- loaded when needed

        view = views.Tracer(armory.ledger, armory.commands).trace(book, item)
    finally:
        armory.close()
    if as_json:
        typer.echo(json.dumps(view, ensure_ascii=False, indent=2))
        return
    from rich.console import Console  # noqa: PLC0415 -- loaded to draw, as in _progress

    console = Console()
    console.print(f"Trace of {view['kind']} {item} from book {book}")
    for step in view["steps"]:
        rule = f" [red]{step['data'].get('rule')}[/]" if step["type"] == "command_refused" else ""
        console.print(
            f"{step['time']}  {step['book']}#{step['index']:<6} {step['type']}{rule}"
            f"  by {step['actor']}"
        )
    for gap in view["gaps"]:
        console.print(
            f"[bold red]GAP[/] {gap['book']}#{gap['index']} {gap['gap']}: {gap['detail']}"
        )


@app.command()
def rebuild(book: str, data_dir: DataDir = None) -> None:
    """Recompute every projection of a book from its ledger."""
    armory = _open(data_dir)
    try:
        state, same = armory.commands.rebuild(book)
    finally:
        armory.close()
    verdict = (
        "identical to the stored projections"
        if same
        else "the stored projections differed and were replaced"
    )
    typer.echo(f"rebuilt book {book} from {state.size} entries: {verdict}")


@app.command()
def checkpoint(book: str, data_dir: DataDir = None) -> None:
    """Print the book's signed checkpoint (a C2SP signed note)."""
    armory = _open(data_dir)
    try:
        typer.echo(armory.ledger.checkpoint(book).note, nl=False)
    finally:
        armory.close()


@proof_app.command("inclusion")
def proof_inclusion(
    book: str,
    index: int,
    size: Annotated[int | None, typer.Option(help="Tree size (default: now).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Print the inclusion proof of one entry, base64 hashes one per line."""
    armory = _open(data_dir)
    try:
        for digest in armory.ledger.inclusion_proof(book, index, size):
            typer.echo(base64.b64encode(digest).decode())
    finally:
        armory.close()


@proof_app.command("consistency")
def proof_consistency(
    book: str,
    old: int,
    new: Annotated[int | None, typer.Option(help="Newer tree size (default: now).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Print the consistency proof between two sizes, base64 hashes one per line."""
    armory = _open(data_dir)
    try:
        for digest in armory.ledger.consistency_proof(book, old, new):
            typer.echo(base64.b64encode(digest).decode())
    finally:
        armory.close()


@app.command()
def export(
    book: str,
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the .zip.")],
    case: Annotated[str | None, typer.Option(help="The case this export is for.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Write the evidence bundle of a book; the export itself is recorded in the book."""
    armory = _open(data_dir)
    partial = output.with_name(output.name + ".partial")
    try:
        with partial.open("wb") as handle:
            result = armory.ledger.export(book, handle, _operator(), case)
        partial.replace(output)
        typer.echo(f"wrote {output}: {result.checkpoint.size} entries of book {book}")
    finally:
        partial.unlink(missing_ok=True)
        armory.close()


def _read_key(value: str) -> VerifierKey:
    path = Path(value)
    text = path.read_text(encoding="utf-8").strip() if path.is_file() else value.strip()
    return VerifierKey.parse(text)


@app.command()
def verify(
    bundle: Annotated[Path | None, typer.Argument(help="Evidence bundle (.zip).")] = None,
    key: Annotated[
        str | None, typer.Option(help="Trusted verifier key, or a file with it.")
    ] = None,
    old: Annotated[
        Path | None, typer.Option("--checkpoint", help="A checkpoint you already hold.")
    ] = None,
    book: Annotated[str | None, typer.Option(help="Verify this book in the live database.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Verify an evidence bundle, or a book in the database; exit 0 only when everything holds."""
    if (bundle is None) == (book is None):
        raise InvalidInput("give a bundle file or --book BOOK (one of them)")
    if book is not None:
        armory = _open(data_dir)
        try:
            report = armory.ledger.verify_book(book)
        finally:
            armory.close()
        typer.echo(
            f"OK: book {book}: {report.size} entries, root {report.root.hex()}, "
            f"{report.checkpoints_checked} kept checkpoints match"
        )
        return
    assert bundle is not None
    from armory.ledger.bundle import verify_bundle  # noqa: PLC0415 -- loaded when needed

    trusted = _read_key(key) if key else None
    old_note = _read_text(old) if old else None
    try:
        with bundle.open("rb") as handle:
            bundle_report = verify_bundle(handle, trusted, old_note)
    except FileNotFoundError:
        raise NotFound(f"no bundle at {bundle}") from None
    if bundle_report.key_from_bundle:
        typer.echo(
            "warning: checked with the key inside the bundle; compare it with a copy of the "
            "production's key you obtained yourself, or pass --key",
            err=True,
        )
    typer.echo(
        f"OK: {bundle_report.size} entries of book {bundle_report.book}, root "
        f"{bundle_report.root.hex()}, signed by {bundle_report.signer}"
    )
    if bundle_report.consistent_with is not None:
        typer.echo(f"OK: consistent with your checkpoint of size {bundle_report.consistent_with}")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"no file {path}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text") from None


@app.command()
def demo(data_dir: DataDir = None) -> None:
    """Set up a production in the middle of a shoot, with its rental house (safe to run again)."""
    armory = _init(data_dir, None)
    try:
        from armory.services.demo import load_demo  # noqa: PLC0415 -- loaded when needed

        # The production's open day is today where the node runs, by the node's own clock.
        today = armory.ledger.clock().astimezone().date()
        result = load_demo(armory.ledger, armory.accounts, armory.commands, today)
    finally:
        armory.close()
    books = " and ".join(f"{b.id} ({b.kind}, {b.size} entries)" for b in result.books)
    if result.created:
        typer.echo(f"Demo ready in {armory.settings.data_dir}: books {books}")
    else:
        typer.echo(f"Demo already in {armory.settings.data_dir}: books {books}; nothing changed")
    if result.accounts_kept:
        typer.echo(
            f"Accounts that already existed were kept, with their own password and PIN: "
            f"{', '.join(result.accounts_kept)}"
        )
    header = ("user", "password", "PIN", "roles", "books", "who")
    rows = [
        (
            login.user,
            login.password,
            login.pin,
            "admin (server)" if login.admin else ", ".join(login.roles),
            "every book" if login.admin else ", ".join(login.books),
            login.name + (f": {login.note}" if login.note else ""),
        )
        for login in result.logins
    ]
    widths = [max(len(row[n]) for row in (header, *rows)) for n in range(len(header) - 1)]
    typer.echo("\nDemo logins (the PIN confirms a witness or an approval):")
    for row in (header, *rows):
        cells = zip(row[:-1], widths, strict=True)
        typer.echo("".join(cell.ljust(width + 2) for cell, width in cells) + row[-1])
    typer.echo(
        "\nThe day is open; scene S1 is planned and briefed; R1 is in the safe; box D1 of"
        "\ndummies was verified today. Try a handover: sign in as ana, open R1 on the board,"
        "\ncheck it out, inspect it (pre handover, with lee and dan typing their PINs as"
        "\nwitnesses), hand it over to lee for S1, then take it back."
        "\n`armory serve` starts the web app; open its address on a phone-size window."
    )


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on; 0.0.0.0 for phones on the set's network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    tls_cert: Annotated[
        Path | None,
        typer.Option(help="PEM certificate: serve HTTPS (phones' cameras need it off localhost)."),
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert.")] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            help=f"Request threads of each process; more only take turns under its Python lock. "
            f"By default {REQUEST_THREADS} in all, shared out among the processes.",
            show_default=False,
        ),
    ] = None,
    processes: Annotated[
        int,
        typer.Option(
            help="Server processes, each with its own request threads: one per core serves "
            "the most commands (docs/benchmarks.md)."
        ),
    ] = 1,
    data_dir: DataDir = None,
) -> None:
    """Run the web app (the pages and the API) on this node's data."""
    import uvicorn  # noqa: PLC0415 -- the server stack is loaded only by the command that serves

    from armory.entrypoints.web.app import (  # noqa: PLC0415 -- same reason
        create_app,
        settle_heap,
    )

    if not 1 <= processes <= MAX_SERVER_PROCESSES:
        raise InvalidInput(f"--processes must be between 1 and {MAX_SERVER_PROCESSES}")
    if threads is None:
        threads = max(1, REQUEST_THREADS // processes)
    if not 1 <= threads <= MAX_REQUEST_THREADS:
        raise InvalidInput(f"--threads must be between 1 and {MAX_REQUEST_THREADS}")
    if (tls_cert is None) != (tls_key is None):
        raise InvalidInput("give both --tls-cert and --tls-key, or neither")
    for path in (tls_cert, tls_key):
        if path is not None and not path.is_file():
            raise InvalidInput(f"no such file: {path}")
    armory = _open(data_dir)  # a node that cannot be opened is reported before anything starts
    scheme = "https" if tls_cert else "http"
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 -- named, not bound
    options: dict[str, Any] = {
        "log_level": "warning",
        "ssl_certfile": str(tls_cert) if tls_cert else None,
        "ssl_keyfile": str(tls_key) if tls_key else None,
    }
    if processes > 1:
        # Each process opens the node itself (web.app.server_process_app), from what the
        # environment it inherits names, and listens on a socket of its own (web.processes).
        settings = armory.settings
        armory.close()
        os.environ[DATA_DIR_ENV] = str(settings.data_dir)
        os.environ[DATABASE_URL_ENV] = settings.database_url
        os.environ[REQUEST_THREADS_ENV] = str(threads)
        from armory.entrypoints.web import processes as server  # noqa: PLC0415 -- same reason

        server.serve(
            processes,
            host,
            port,
            options,
            ready=lambda: typer.echo(
                f"Armory is serving on {scheme}://{shown}:{port}/ in {processes} processes "
                "(Ctrl-C stops it)"
            ),
        )
        return
    app = create_app(armory, threads=threads)
    settle_heap()
    typer.echo(f"Armory is serving on {scheme}://{shown}:{port}/ (Ctrl-C stops it)")
    try:
        uvicorn.run(app, host=host, port=port, **options)
    finally:
        armory.close()


def _fail(message: str, stream: TextIO = sys.stderr) -> None:
    print(f"armory: {message}", file=stream)


def run() -> None:
    """Entry point: every error is one line and a non-zero exit, never a traceback."""
    # Library log records (a connection pool complaining about a server that went away) must
    # not reach the terminal as tracebacks: the error that matters is reported below.
    for library in ("sqlalchemy", "psycopg"):
        logging.getLogger(library).addHandler(logging.NullHandler())
        logging.getLogger(library).propagate = False
    try:
        code = app(standalone_mode=False)
    except VerificationFailed as failure:
        where = f" (first bad entry: {failure.index})" if failure.index is not None else ""
        print(f"FAIL: {failure.message}{where}", file=sys.stderr)
        sys.exit(1)
    except ArmoryError as error:
        _fail(error.message)
        sys.exit(1)
    except typer.Abort:
        _fail("interrupted")
        sys.exit(130)
    except TyperException as error:
        # Usage errors (an unknown command, a missing option): the parser's own message.
        show = getattr(error, "show", None)
        if callable(show):
            show()
        else:
            _fail(str(error))
        sys.exit(int(getattr(error, "exit_code", 2)))
    except KeyboardInterrupt:
        _fail("interrupted")
        sys.exit(130)
    except Exception as error:  # noqa: BLE001 -- the last line of defence: one line, not a traceback
        if os.environ.get("ARMORY_DEBUG"):
            traceback.print_exc()
        if type(error).__module__.split(".")[0] in ("sqlalchemy", "psycopg", "sqlite3"):
            # A database that went away in the middle: every answer printed was committed.
            original = getattr(error, "orig", None) or error
            detail = (str(original).strip().splitlines() or [type(original).__name__])[0]
            _fail(f"the database failed: {detail}; what was acknowledged is committed")
            sys.exit(1)
        first_line = (str(error).splitlines() or [""])[0]
        _fail(
            f"unexpected error: {type(error).__name__}: {first_line} "
            "(set ARMORY_DEBUG=1 for details)"
        )
        sys.exit(70)
    sys.exit(code if isinstance(code, int) else 0)
