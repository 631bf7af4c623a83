"""Every page a person can reach, in real Chromium: no console error, nothing wider than a
phone, on a tablet and a laptop too; and the ledger page's verify and evidence export, with the
exported bundle checked offline by `armory verify`."""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LAPTOP, TABLET, NewScreen, Server, Shot, sign_in

pytestmark = pytest.mark.timeout(300)
PHONE_WIDTH = 390
MAX_PAGES = 80  # the demo has about 40 pages; the bound keeps a link loop from running away
# The controls of a page that have no name a screen reader could say: a field without a label
# (or aria-label), a button or link without text (or a named image inside it).
UNNAMED_CONTROLS = """() => [...document.querySelectorAll(
    'a[href], button, select, textarea, input:not([type=hidden])')].filter(c => {
      if (c.getAttribute('aria-label') || c.getAttribute('aria-labelledby')) return false;
      if (c.labels && c.labels.length) return false;
      if (c.matches('a, button') && c.textContent.trim()) return false;
      if (c.querySelector('[aria-label], svg title, img[alt]')) return false;
      return true;
    }).map(c => c.outerHTML.slice(0, 120))"""


def reachable_pages(page: Page, start: str) -> list[str]:
    """Every page of the book reachable by links from `start` (GET only, same server)."""
    seen = {start}
    queue = deque([start])
    order: list[str] = []
    while queue and len(order) < MAX_PAGES:
        path = queue.popleft()
        page.goto(path)
        order.append(path)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        viewport = page.viewport_size
        assert viewport is not None
        assert width <= viewport["width"], f"{path} is {width} px wide"
        assert page.evaluate(UNNAMED_CONTROLS) == [], f"{path} has controls without a name"
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
            parts = urlsplit(href)
            if parts.netloc != urlsplit(page.url).netloc or not parts.path.startswith(start):
                continue
            link = parts.path + (f"?{parts.query}" if parts.query else "")
            if "recorded=" in link or link in seen:
                continue
            seen.add(link)
            queue.append(link)
    return order


@pytest.mark.parametrize("user", ["ana", "dan", "lee", "sue", "cal", "ivy"])
def test_every_page_of_the_demo_opens_cleanly_on_a_phone(page: Page, user: str) -> None:
    sign_in(page, user)
    visited = reachable_pages(page, "/b/demo")
    for tab in ("/b/demo/scan", "/b/demo/incidents", "/b/demo/ledger", "/b/demo/labels"):
        assert tab in visited
    assert any(path.startswith("/b/demo/firearms/") for path in visited)
    assert any(path.startswith("/b/demo/trace/") for path in visited)


@pytest.mark.parametrize("screen", [TABLET, LAPTOP], ids=["tablet", "laptop"])
def test_the_board_and_a_firearm_fit_a_tablet_and_a_laptop(
    new_screen: NewScreen, screen: dict[str, object], shot: Shot
) -> None:
    page = new_screen(screen).new_page()
    sign_in(page, "ana")
    for path in ("/b/demo", "/b/demo/firearms/R1", "/b/demo/firearms/R1/inspect"):
        page.goto(path)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        viewport = page.viewport_size
        assert viewport is not None
        assert width <= viewport["width"]
    page.goto("/b/demo")
    shot(page, "board")


def test_the_armorer_verifies_the_book_and_exports_evidence_an_investigator_can_check(
    page: Page, server: Server, shot: Shot, tmp_path: Path
) -> None:
    sign_in(page, "ana")
    page.goto("/b/demo/ledger")
    checkpoint = page.locator("#checkpoint").text_content() or ""
    origin, size = checkpoint.splitlines()[:2]
    assert origin.endswith("/demo")
    assert size.isdigit()
    assert "\n\u2014 " in checkpoint  # the signature line of the signed note
    page.get_by_role("button", name="Verify the whole book now").click()
    expect(page.get_by_text(re.compile(r"Verified: \d+ entries"))).to_be_visible()
    shot(page, "ledger-verified", full_page=False)

    with page.expect_download() as download:
        page.get_by_role("button", name="Export the bundle (.zip)").click()
    bundle = tmp_path / download.value.suggested_filename
    download.value.save_as(bundle)
    assert re.fullmatch(r"demo-\d+\.zip", bundle.name)

    key = server.armory("key").stdout.strip()
    checked = server.armory("verify", str(bundle), "--key", key)
    assert checked.stdout.startswith("OK")
    # The export is itself an entry of the book, naming who took the evidence out.
    page.goto("/b/demo/ledger")
    expect(page.get_by_text(re.compile("bundle.exported", re.I)).first).to_be_visible()
