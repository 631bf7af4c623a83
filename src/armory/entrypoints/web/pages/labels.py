"""Printable QR labels for the book's firearms and boxes (SPEC §3: each has a label)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import segno
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from armory.domain.state import BookState, Box, Firearm
from armory.entrypoints.web.pages.core import Page, render
from armory.entrypoints.web.pages.scan import label_payload
from armory.errors import NotFound

router = APIRouter(include_in_schema=False)

# Medium error correction, which segno raises further whenever that keeps the same symbol size:
# a label on a prop gets scuffed and oiled. Never a Micro QR code (segno's choice for short
# texts), which the scanners a set uses, jsQR included, cannot read.
QR_ERROR = "m"


@dataclass(frozen=True)
class Label:
    """One printed label: the code, the id in big type, and what the item is."""

    id: str
    kind: str  # "firearm" or "box"
    payload: str
    qr: Markup
    lines: tuple[str, ...]


def qr_svg(payload: str, title: str) -> Markup:
    """The QR code of `payload` as inline SVG. segno draws it as two paths with presentation
    attributes and no `style` attribute, so the pages' `style-src 'self'` lets it through; the
    size comes from the page's CSS (viewBox only), with the four-module quiet zone inside."""
    code = segno.make(payload, error=QR_ERROR, micro=False)
    # A white quiet zone of its own, so the code reads on whatever it is printed or shown on.
    svg = code.svg_inline(scale=1, omitsize=True, title=title, svgclass="qr", light="#fff")
    # Module edges on whole device pixels: smoothed edges leave grey seams between the rows
    # (each row is one stroke), which put off a scanner when the print or screen is scaled.
    svg = svg.replace("<svg ", '<svg shape-rendering="crispEdges" ', 1)
    # Trusted markup: segno escapes the title it writes, and the rest is its own numbers.
    return Markup(svg)  # noqa: S704


def _firearm_lines(firearm: Firearm) -> tuple[str, ...]:
    lines = [f"{firearm.make} {firearm.model}", f"Serial {firearm.serial}"]
    lines.append(f"{firearm.calibre} · {firearm.kind.replace('_', ' ')}")
    if firearm.label and firearm.label != firearm.id:
        lines.append(f"Label {firearm.label}")
    return tuple(lines)


def _box_lines(box: Box) -> tuple[str, ...]:
    load = f" ({box.load})" if box.load else ""
    return (box.label, f"{box.kind}{load} · {box.calibre}", f"{box.maker}, lot {box.maker_lot}")


def labels_of(book: str, state: BookState, item: str | None = None) -> list[Label]:
    """The labels of every firearm, then every box, by id; only `item`'s when it is given."""
    found: list[Label] = []
    for firearm in sorted(state.firearms.values(), key=lambda f: f.id):
        if item is None or firearm.id == item:
            payload = label_payload(book, firearm.id)
            svg = qr_svg(payload, f"QR code of firearm {firearm.id}")
            found.append(Label(firearm.id, "firearm", payload, svg, _firearm_lines(firearm)))
    for box in sorted(state.boxes.values(), key=lambda b: b.id):
        if item is None or box.id == item:
            payload = label_payload(book, box.id)
            svg = qr_svg(payload, f"QR code of box {box.id}")
            found.append(Label(box.id, "box", payload, svg, _box_lines(box)))
    if item is not None and not found:
        raise NotFound(f"there is no firearm or box {item!r} in book {book}")
    return found


@router.get("/b/{book}/labels", response_class=HTMLResponse)
def labels(
    request: Request,
    page: Page,
    item: Annotated[str | None, Query(max_length=128)] = None,
) -> HTMLResponse:
    """A sheet of labels to print: everyone who can read the book may print them."""
    sheet = labels_of(page.book.id, page.state, item)
    return render(request, "pages/labels.html", {"labels": sheet, "item": item}, page=page)
