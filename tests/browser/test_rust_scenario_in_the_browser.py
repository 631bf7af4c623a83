"""SPEC §10 scenario 1, "Rust, replayed", through the browser: the armorer, the first AD, the
safety supervisor and the performer in turn, each on their own phone, against a real server.

Only the set-up a production does once, before the shoot, goes through the command line: the
book, the crew's enrolments, the safe and the performer's training record. Everything the
scenario tells happens on the pages: the box of "dummies" received, the day opened, the scene
planned and briefed, the first AD reaching for the revolver, the unverified box, the live round,
the frozen production, the two-person resolution after a full inventory, and the handover.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import LOGINS, PHONE, ConsoleErrors, NewScreen, Server, Shot, sign_in

pytestmark = pytest.mark.timeout(300)
BOOK = "rust"
B = f"/b/{BOOK}"


def set_up_the_production(server: Server) -> None:
    today = date.today()
    server.create_book(BOOK, "production", "Rust (replayed)")
    server.do(
        BOOK,
        "admin",
        [
            {"type": "enroll_person", "person": "ana", "name": "Ana Ortiz", "roles": ["armorer"]},
            {"type": "enroll_person", "person": "dan", "name": "Dan Hale", "roles": ["first_ad"]},
            {"type": "enroll_person", "person": "lee", "name": "Lee Baird", "roles": ["performer"]},
            {"type": "enroll_person", "person": "sue", "name": "Sue Park", "roles": ["safety"]},
        ],
    )
    server.do(
        BOOK,
        "ana",
        [
            {
                "type": "register_location",
                "location": "safe",
                "name": "Armory safe, truck 2",
                "kind": "safe",
                "locked": True,
                "keyholders": ["ana"],
            },
            {
                "type": "record_training",
                "person": "lee",
                "course": "Firearms safety for performers",
                "completed_on": (today - timedelta(days=30)).isoformat(),
                "expires_on": (today + timedelta(days=335)).isoformat(),
            },
        ],
    )


def phone(new_screen: NewScreen, user: str) -> Page:
    context: BrowserContext = new_screen(PHONE)
    page = context.new_page()
    sign_in(page, user)
    return page


def fill(page: Page, fields: dict[str, str]) -> None:
    for label, value in fields.items():
        page.get_by_label(label, exact=True).fill(value)


def approve(page: Page, row: int, user: str) -> None:
    page.get_by_label(f"Person {row}", exact=True).select_option(user)
    page.get_by_label(f"PIN of person {row}", exact=True).fill(LOGINS[user].pin)


def every_chamber(page: Page, content: str, **extra: Any) -> None:
    for n in range(1, 7):
        page.get_by_role("radiogroup", name=f"What is in chamber {n}").get_by_label(
            content, exact=True
        ).check()
        if "box" in extra:
            page.get_by_label("Round from box").nth(n - 1).select_option(extra["box"])
            page.get_by_label("Checked by").nth(n - 1).select_option(extra["method"])


def refused(page: Page, rule: str) -> None:
    alert = page.get_by_role("alert").filter(has_text="Refused")
    expect(alert).to_contain_text(rule)
    expect(alert).to_contain_text("recorded as entry #")


def recorded(page: Page, event: str) -> None:
    expect(page.get_by_role("status")).to_contain_text(event)


def load_six_dummies(page: Page) -> None:
    page.goto(f"{B}/firearms/R1/load")
    page.get_by_label("For scene").select_option("S1")
    for n in range(1, 7):
        page.get_by_label(re.compile(rf"^Chamber {n} ")).select_option("B1")
    page.get_by_role("button", name="Load").click()


def send_anyway(page: Page, url: str, form: dict[str, str]) -> tuple[int, str]:
    """POST `form` from the signed-in page with its CSRF token, as a crafted request would."""
    answer: list[Any] = page.evaluate(
        """async ([url, form]) => {
             const csrf = document.querySelector('input[name=csrf]').value;
             const body = new URLSearchParams({csrf, ...form});
             const r = await fetch(url, {method: 'POST', body});
             return [r.status, await r.text()];
           }""",
        [url, form],
    )
    return int(answer[0]), str(answer[1])


def hand_over_to_lee(page: Page) -> None:
    page.goto(f"{B}/firearms/R1/hand-over")
    page.get_by_label("To the performer").select_option("lee")
    page.get_by_label("For scene").select_option("S1")
    page.get_by_role("button", name="Hand over").click()


def test_rust_replayed_through_the_browser(
    server: Server, new_screen: NewScreen, shot: Shot, console_errors: ConsoleErrors
) -> None:
    set_up_the_production(server)
    console_errors.allow_status(409)  # every refusal page answers 409, as the API does
    ana = phone(new_screen, "ana")

    # The armorer receives the revolver and the box labelled as dummies, opens the day, plans
    # the scene with the first AD's PIN, inspects the revolver on intake and checks both out.
    ana.goto(f"{B}/firearms/new")
    fill(
        ana,
        {
            "Id (printed on its label)": "R1",
            "Serial number": "SAA-1873-0421",
            "Make": "Pietta",
            "Model": "1873 Single Action Army revolver",
            "Calibre": ".45 Long Colt",
            "In words (delivery note, person)": "rental house, paper delivery note only",
        },
    )
    ana.get_by_label("Chambers (every place a round can be)").fill("6")
    ana.get_by_role("button", name="Receive").click()
    recorded(ana, "firearm_received")

    ana.goto(f"{B}/boxes/new")
    fill(
        ana,
        {
            "Id (printed on its label)": "B1",
            "What the box says": "45 LONG COLT DUMMIES",
            "Calibre": ".45 Long Colt",
            "Maker": "Starline",
            "Maker's lot": "SL-45-2109",
            "Rounds": "50",
            "In words (delivery note, person)": "a private person",
        },
    )
    ana.get_by_label("Kind").select_option("dummy")
    ana.get_by_role("button", name="Receive").click()
    recorded(ana, "box_received")

    ana.goto(f"{B}/day")
    ana.get_by_label("I have no other duties today").check()
    ana.get_by_role("button", name="Open the day").click()
    recorded(ana, "day_opened")

    ana.goto(f"{B}/scenes/new")
    fill(ana, {"Scene id": "S1", "Title": "Church interior, cross-draw rehearsal"})
    ana.get_by_label(re.compile("^R1 · ")).check()
    ana.get_by_label(re.compile(r"^Lee Baird \(lee\)")).check()
    ana.get_by_label("No blanks").check()
    ana.get_by_label("A muzzle points toward a person in this scene").check()
    approve(ana, 1, "dan")
    ana.get_by_role("button", name="Plan the scene").click()
    recorded(ana, "scene_planned")

    ana.goto(f"{B}/firearms/R1/inspect")
    ana.get_by_label("Purpose").select_option("intake")
    every_chamber(ana, "empty")
    ana.get_by_label("The bore is clear").check()
    ana.get_by_role("button", name="Record the inspection").click()
    recorded(ana, "firearm_inspected")
    ana.get_by_role("button", name=re.compile("^Check out of")).click()
    recorded(ana, "checked_out")
    ana.goto(f"{B}/boxes/B1")
    ana.get_by_role("button", name=re.compile("^Check out of")).click()
    recorded(ana, "checked_out")

    # The first AD holds the safety meeting, then reaches for the revolver: ARMORER_ONLY.
    dan = phone(new_screen, "dan")
    dan.goto(f"{B}/scenes/S1")
    for person in ("Ana Ortiz", "Dan Hale", "Lee Baird"):
        dan.get_by_label(re.compile(f"^{person} ")).check()
    dan.get_by_role("button", name="Record the safety meeting").click()
    recorded(dan, "safety_meeting_held")
    expect(dan.get_by_role("button", name="Declare COLD")).to_have_count(0)
    dan.goto(f"{B}/firearms/R1")
    expect(dan.get_by_role("link", name="Hand over")).to_have_count(0)
    # The pages never offer the first AD a handover or a "cold gun"; sent anyway (a crafted
    # request from their signed-in phone), each is refused on the server and recorded.
    for action, form in (
        ("firearms/R1/hand-over", {"to": "lee", "scene": "S1"}),
        ("scenes/S1/declare", {"status": "cold", "firearms": "R1", "announced_by": "dan"}),
    ):
        status, text = send_anyway(dan, f"{B}/{action}", form)
        assert status == 409
        assert "ARMORER_ONLY" in text

    # The armorer loads from the box nobody verified: DUMMIES_NOT_VERIFIED. Checking it round
    # by round, a live round: reported, the production freezes, loading and handing over stop.
    load_six_dummies(ana)
    refused(ana, "DUMMIES_NOT_VERIFIED")
    ana.goto(f"{B}/incidents")
    ana.get_by_label("Where it is").select_option("box:B1")
    ana.get_by_label("What was found").fill(
        "Checking B1 round by round: one round rattles silent and shows a primer: live."
    )
    ana.get_by_role("button", name="Report the live round").click()
    expect(ana.locator("#frozen-banner")).to_contain_text("PRODUCTION FROZEN")
    shot(ana, "production-frozen", full_page=False)
    load_six_dummies(ana)
    refused(ana, "PRODUCTION_FROZEN")
    hand_over_to_lee(ana)
    refused(ana, "PRODUCTION_FROZEN")
    expect(ana.locator("#frozen-banner")).to_be_visible()

    # The safety supervisor tries to resolve it alone, then with the armorer before the
    # inventory: TWO_PERSON_RULE, then INVENTORY_REQUIRED.
    sue = phone(new_screen, "sue")
    sue.goto(f"{B}/incidents")
    sue.get_by_role("link", name=re.compile("^INC-")).first.click()
    incident_url = sue.url
    sue.get_by_label("What was found and done").fill("The live round is out of the box.")
    approve(sue, 1, "sue")
    sue.get_by_role("button", name="Resolve the incident").click()
    refused(sue, "TWO_PERSON_RULE")
    sue.get_by_label("What was found and done").fill("The live round is out of the box.")
    approve(sue, 1, "ana")
    approve(sue, 2, "sue")
    sue.get_by_role("button", name="Resolve the incident").click()
    refused(sue, "INVENTORY_REQUIRED")
    shot(sue, "inventory-required", full_page=False)

    # The full inventory: the box verified, the revolver inspected; then the two resolve it.
    ana.goto(f"{B}/boxes/B1")
    ana.get_by_label("Rounds counted").fill("50")
    ana.get_by_label("I checked every round, one by one").check()
    ana.get_by_role("button", name="Record the verification").click()
    recorded(ana, "box_verified")
    ana.goto(f"{B}/firearms/R1/inspect")
    ana.get_by_label("Purpose").select_option("daily")
    every_chamber(ana, "empty")
    ana.get_by_label("The bore is clear").check()
    ana.get_by_role("button", name="Record the inspection").click()
    recorded(ana, "firearm_inspected")
    ana.goto(incident_url)
    ana.get_by_label("What was found and done").fill(
        "Every box verified round by round and every firearm inspected since the report; "
        "the live round is held apart as evidence."
    )
    approve(ana, 1, "ana")
    approve(ana, 2, "sue")
    ana.get_by_role("button", name="Resolve the incident").click()
    recorded(ana, "incident_resolved")
    expect(ana.locator("#frozen-banner")).to_have_count(0)

    # Loaded with verified dummies, inspected chamber by chamber before the performer and the
    # first AD (their PINs on the armorer's phone), declared cold by the armorer, handed over.
    load_six_dummies(ana)
    recorded(ana, "firearm_loaded")
    ana.goto(f"{B}/firearms/R1/inspect")
    ana.get_by_label("Purpose").select_option("pre_handover")
    every_chamber(ana, "dummy", box="B1", method="rattle")
    ana.get_by_label("The bore is clear").check()
    approve(ana, 1, "lee")
    approve(ana, 2, "dan")
    ana.get_by_role("button", name="Record the inspection").click()
    recorded(ana, "firearm_inspected")
    ana.goto(f"{B}/scenes/S1")
    ana.get_by_label("Announced on set by (first AD)").select_option("dan")
    ana.get_by_role("button", name="Declare COLD").click()
    recorded(ana, "declared")
    hand_over_to_lee(ana)
    recorded(ana, "firearm_handed_over")
    shot(ana, "handed-over-after-the-inventory")

    # The performer sees the revolver in their hands, and its history with every refusal.
    lee = phone(new_screen, "lee")
    lee.goto(B)
    expect(lee.get_by_text("held by the performer Lee Baird")).to_be_visible()
    lee.goto(f"{B}/trace/R1")
    for rule in ("ARMORER_ONLY", "DUMMIES_NOT_VERIFIED", "PRODUCTION_FROZEN"):
        expect(lee.get_by_text(rule).first).to_be_visible()
    shot(lee, "trace-of-the-revolver", full_page=False)
    lee.goto(f"{B}/trace/B1")
    expect(lee.get_by_text("DUMMIES_NOT_VERIFIED").first).to_be_visible()
    expect(lee.get_by_text(re.compile("live round reported", re.IGNORECASE)).first).to_be_visible()
