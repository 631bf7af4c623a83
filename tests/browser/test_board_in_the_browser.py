"""The sign-in page and the board, in real Chromium on a phone, against a real server.

What only a browser shows: the redirects and forms as a person meets them, the board that
redraws itself when another device changes the book, that nothing needs a sideways scroll on a
390 px screen, and that every control can be named by a screen reader and reached by keyboard.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import LOGINS, ConsoleErrors, Server, Shot, sign_in

PHONE_WIDTH = 390
# The board asks every 3 s; a change shows on the next ask, or the one after if the command
# lands while an answer is on its way. Ten seconds leaves room for a slow machine.
LIVE_UPDATE_TIMEOUT = 10_000  # ms
# Far above the few seconds a test takes (the first also waits for the server and the browser
# to start), so a hang fails the test instead of holding up the suite.
pytestmark = pytest.mark.timeout(120)
# Everything a person can act on: links, buttons and form fields (not the hidden ones).
CONTROLS = (
    "a[href], button, select, textarea, summary, [tabindex]:not([tabindex='-1']), "
    "input:not([type='hidden'])"
)


def printed_password(server: Server, user: str) -> str:
    """The password `armory demo` printed for `user`, as a person trying the demo reads it."""
    for line in server.demo_output.splitlines():
        cells = line.split()
        if cells and cells[0] == user:
            return cells[1]
    raise AssertionError(f"armory demo printed no login for {user}:\n{server.demo_output}")


def card(page: Page, item: str) -> Locator:
    """The board's card of a firearm or a box, found by its heading ("R1 · Pietta ...")."""
    return page.get_by_role("region", name=re.compile(rf"^{re.escape(item)} · "))


def assert_every_control_is_named(page: Page) -> None:
    controls = page.locator(CONTROLS)
    assert controls.count() > 0
    for n in range(controls.count()):
        expect(controls.nth(n)).to_have_accessible_name(re.compile(r"\S"))


def test_the_armorer_signs_in_on_a_phone_and_lands_on_the_board(
    page: Page, server: Server, shot: Shot
) -> None:
    page.goto("/b/demo")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shot(page, "login")

    sign_in(page, "ana", printed_password(server, "ana"))

    expect(page).to_have_url(f"{server.url}/b/demo")
    expect(page.get_by_role("heading", name="Board", exact=True)).to_be_visible()
    for item in ("R1", "P1", "D1", "D2", "B1"):
        expect(card(page, item)).to_be_visible()
    expect(card(page, "R1")).to_contain_text("in Armory safe, truck 2")
    expect(page.get_by_role("heading", name=re.compile(r"^Boxes \(3\)$"))).to_be_visible()
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= PHONE_WIDTH, f"the board scrolls sideways: {scroll_width} px wide"
    shot(page, "board", full_page=False)


def test_the_board_shows_a_change_made_elsewhere_without_being_reloaded(
    page: Page, server: Server, shot: Shot
) -> None:
    page.goto("/b/demo")
    sign_in(page, "ana")
    d2 = card(page, "D2")
    expect(d2).to_contain_text("in Armory safe, truck 2")
    # A reload would start a new document and lose this mark.
    page.evaluate("window.stillTheSamePage = true")

    server.do("demo", "ana", [{"type": "check_out", "item": "D2", "from": "safe"}])
    expect(d2).to_contain_text("held by the armorer Ana Ortiz", timeout=LIVE_UPDATE_TIMEOUT)
    shot(page, "box-D2-checked-out")

    # Put back, so the session's other tests find the demo as it was made.
    server.do("demo", "ana", [{"type": "store", "item": "D2", "location": "safe"}])
    expect(d2).to_contain_text("in Armory safe, truck 2", timeout=LIVE_UPDATE_TIMEOUT)
    assert page.evaluate("window.stillTheSamePage") is True, "the board was reloaded"


def test_a_person_who_is_not_signed_in_is_sent_to_the_sign_in_page(page: Page) -> None:
    page.goto("/b/demo")
    expect(page).to_have_url(re.compile(r"/login\?next=/b/demo$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


@pytest.fixture(scope="module")
def wes(server: Server) -> str:
    """An account of its own for wrong passwords: five lock an account, and the demo armorer
    must stay usable for the other tests."""
    server.add_user("wes", "Wes Wrong", "wes-right-password", "4321")
    return "wes"


def test_a_wrong_password_is_refused_on_the_sign_in_page(
    page: Page, wes: str, console_errors: ConsoleErrors, shot: Shot
) -> None:
    # The refusal is a 401 answer to the form, which Chromium logs as a failed load.
    console_errors.allow_status(401)
    page.goto("/login")
    page.get_by_label("User name").fill(wes)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_label("Password").press("Enter")  # Enter in a field submits the form

    expect(page.get_by_role("alert")).to_contain_text("wrong user name or password")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_label("User name")).to_be_visible()
    shot(page, "wrong-password")
    # Nothing was signed in: the board still sends this browser to sign in.
    page.goto("/b/demo")
    expect(page).to_have_url(re.compile(r"/login\?next=/b/demo$"))


def test_every_control_on_the_sign_in_page_and_the_board_has_an_accessible_name(
    page: Page,
) -> None:
    page.goto("/login")
    assert_every_control_is_named(page)
    expect(page.get_by_label("User name")).to_have_attribute("autocomplete", "username")
    expect(page.get_by_label("Password")).to_have_attribute("type", "password")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()

    sign_in(page, "ana")
    page.goto("/b/demo")
    assert_every_control_is_named(page)
    expect(page.get_by_role("navigation", name="Book")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile(r"^R1 · "))).to_be_visible()


def test_the_sign_in_form_works_from_the_keyboard_alone(page: Page) -> None:
    page.goto("/login?next=/b/demo")
    # The page puts the focus in the user name; Tab from there goes round the page and back
    # to its first control, the skip link. From the top, then, a keyboard reaches each one.
    skip = page.get_by_role("link", name="Skip to content")
    for _press in range(10):
        if skip.evaluate("link => link === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="ARMORY")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("User name")).to_be_focused()
    page.keyboard.type("ana")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(LOGINS["ana"].password)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/b/demo$"))
    expect(page.get_by_role("heading", name="Board", exact=True)).to_be_visible()
    # On the board, the first Tab offers to skip the header and the tabs.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
