"""The demo data directory: a rental house and a production with a few entries to look at."""

from __future__ import annotations

from armory.ledger.entry import Draft
from armory.services.ledger import LedgerService

DEMO_BOOKS = (
    ("demo", "production", "Demo production"),
    ("rental", "supplier", "Demo rental house"),
)

_SAMPLE = (
    ("rental", "note", {"text": "Stock count at opening: 12 firearms, 40 boxes of dummies"}),
    ("demo", "note", {"text": "Shooting day 1 planned; armorer on sole duty"}),
)


def load_demo(ledger: LedgerService, actor: str) -> list[str]:
    """Create the demo books if they are not there yet; the ids of the books created."""
    created: list[str] = []
    existing = {book.id for book in ledger.books()}
    for book, kind, name in DEMO_BOOKS:
        if book in existing:
            continue
        ledger.create_book(book, kind, name, actor)
        created.append(book)
    for book, kind, data in _SAMPLE:
        if book in created:
            ledger.append(book, [Draft.of(actor, kind, data)])
    return created
