"""The demo's handover in real Chromium on a phone: the armorer checks the revolver out,
inspects it chamber by chamber while the performer and the first AD type their PINs on the same
screen, hands it over, and takes it back; then an inspection done with the keyboard alone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LOGINS, ConsoleErrors, Shot, sign_in

pytestmark = pytest.mark.timeout(180)
R1 = "/b/demo/firearms/R1"


def choose(page: Page, chamber: int, content: str) -> None:
    page.get_by_role("radiogroup", name=f"What is in chamber {chamber}").get_by_label(
        content, exact=True
    ).check()


def witness(page: Page, row: int, user: str) -> None:
    page.get_by_label(f"Person {row}", exact=True).select_option(user)
    page.get_by_label(f"PIN of person {row}", exact=True).fill(LOGINS[user].pin)


def test_the_armorer_hands_the_revolver_over_and_takes_it_back_on_a_phone(
    page: Page, shot: Shot, console_errors: ConsoleErrors
) -> None:
    sign_in(page, "ana")
    page.goto(R1)
    expect(page.get_by_text("in Armory safe, truck 2")).to_be_visible()
    shot(page, "revolver-in-the-safe")

    page.get_by_role("button", name=re.compile("^Check out of")).click()
    expect(page.get_by_role("status")).to_contain_text("checked_out")
    expect(page.get_by_text("Held by the armorer Ana Ortiz")).to_be_visible()

    # Handing over before the witnessed inspection: refused, with the rule and what to do.
    console_errors.allow_status(409)
    page.get_by_role("link", name="Hand over").click()
    page.get_by_label("To the performer").select_option("lee")
    page.get_by_role("button", name="Hand over").click()
    refusal = page.get_by_role("alert").filter(has_text="Refused")
    expect(refusal).to_contain_text("INSPECTION_REQUIRED")
    expect(refusal).to_contain_text("Inspect every chamber again")
    shot(page, "refused-inspection-required", full_page=False)

    page.goto(f"{R1}/inspect")
    page.get_by_label("Purpose").select_option("pre_handover")
    drawing = page.locator("#inspect-drawing")
    for chamber in range(1, 7):
        choose(page, chamber, "empty")
        expect(drawing.locator(f'.chamber[data-chamber="{chamber}"] .mark')).to_have_text("E")
    page.get_by_label("The bore is clear").check()
    witness(page, 1, "lee")
    witness(page, 2, "dan")
    shot(page, "inspection-witnessed", full_page=False)
    page.get_by_role("button", name="Record the inspection").click()
    expect(page.get_by_role("status")).to_contain_text("firearm_inspected")
    expect(page.get_by_text("Inspected · clear")).to_be_visible()

    page.get_by_role("link", name="Hand over").click()
    expect(page.get_by_text("Inspected before handover")).to_be_visible()
    page.get_by_label("To the performer").select_option("lee")
    page.get_by_label("For scene").select_option("S1")
    page.get_by_role("button", name="Hand over").click()
    expect(page.get_by_role("status")).to_contain_text("firearm_handed_over")
    expect(page.get_by_text("Held by the performer Lee Baird")).to_be_visible()
    shot(page, "handed-over", full_page=False)

    page.get_by_role("link", name="Take back from Lee Baird").click()
    page.get_by_label("Rounds fired").fill("0")
    page.get_by_role("button", name="Take back").click()
    expect(page.get_by_role("status")).to_contain_text("firearm_taken_back")
    expect(page.get_by_text("Needs inspection")).to_be_visible()
    # Every step is on the revolver's history, the refusal included.
    history = page.locator("ol.timeline")
    for step in (
        "checked out",
        "Refused INSPECTION_REQUIRED",
        "firearm inspected",
        "firearm handed over",
        "firearm taken back",
    ):
        expect(history).to_contain_text(step)

    # Back in the safe, so the other tests find the demo as it was.
    page.get_by_label("Store in").select_option("safe")
    page.get_by_role("button", name="Store", exact=True).click()
    expect(page.get_by_text("in Armory safe, truck 2")).to_be_visible()


def focused(page: Page) -> str:
    """The focused control as `name=value` (or its id), to steer the keyboard by."""
    found: str = page.evaluate(
        "() => { const e = document.activeElement;"
        " return e ? (e.name ? e.name + '=' + e.value : e.id || e.tagName) : ''; }"
    )
    return found


def tab_to(page: Page, wanted: str, limit: int = 60) -> None:
    for _ in range(limit):
        if focused(page).startswith(wanted):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {wanted}; focus is on {focused(page)}")


def test_an_inspection_is_done_with_the_keyboard_alone(page: Page, shot: Shot) -> None:
    sign_in(page, "ana")
    page.goto("/b/demo/firearms/P1/inspect")
    expect(page.locator("#inspect-drawing.magazine")).to_be_visible()
    page.keyboard.press("Tab")
    tab_to(page, "purpose=")
    page.keyboard.press("ArrowDown")  # from the default to the next purpose: daily
    for chamber in range(1, 9):
        tab_to(page, f"c{chamber}-content=")
        # The first radio of the group has focus; Space chooses it (empty), ArrowRight the next.
        page.keyboard.press("Space")
        if chamber == 1:
            page.keyboard.press("ArrowRight")  # arrows move through the choices...
            expect(page.locator("#inspect-drawing .mark").first).to_have_text("D")
            page.keyboard.press("ArrowLeft")  # ...and back to empty
        tab_to(page, f"c{chamber}-box=")
        tab_to(page, f"c{chamber}-method=")
    marks = page.locator("#inspect-drawing .mark")
    expect(marks).to_have_text(["E"] * 8)
    tab_to(page, "bore_clear=")
    page.keyboard.press("Space")
    shot(page, "keyboard-inspection")
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.type") == "submit":
            break
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("firearm_inspected")
    expect(page.get_by_text("Inspected · clear")).to_be_visible()
