"""Scanning a label or typing its code opens the item; the trace of an item across books."""

from __future__ import annotations

import re

import httpx2

from tests.web.conftest import Site

SCRIPT_TAG = re.compile(r"<script\b[^>]*>", re.IGNORECASE)


def location(answer: httpx2.Response) -> str:
    return answer.headers.get("location", "")


def test_the_scan_page_shows_the_camera_and_a_typed_form_and_loads_jsqr_from_the_server(
    site: Site,
) -> None:
    answer = site.get("lee", "/b/demo/scan")
    assert answer.status_code == 200
    page = answer.text
    assert re.search(r"<video\b[^>]*\bid=\"camera\"", page)
    assert '<script src="/static/vendor/jsqr/jsQR.js" defer></script>' in page
    assert '<script src="/static/js/scan.js" defer></script>' in page
    # The typed fallback: a plain GET form with a labelled field, which needs no script.
    assert re.search(r'<form id="code-form"[^>]*method="get" action="/b/demo/items"', page)
    assert '<label for="code">' in page
    assert re.search(r'<input id="code" name="code"', page)
    # Nothing the Content-Security-Policy would block: every script comes from a file.
    assert all("src=" in tag for tag in SCRIPT_TAG.findall(page))
    assert "<style" not in page
    assert not re.search(r"\sstyle=", page)
    assert not re.search(r"\son[a-z]+=", page)
    for asset in ("/static/vendor/jsqr/jsQR.js", "/static/js/scan.js", "/static/css/scan.css"):
        assert site.get("lee", asset).status_code == 200, asset


def test_the_scan_script_asks_for_the_rear_camera_and_opens_what_it_reads(site: Site) -> None:
    script = site.get("lee", "/static/js/scan.js").text
    assert 'facingMode: "environment"' in script
    assert "jsQR(image.data, image.width, image.height" in script
    assert 'form.action + "?code=" + encodeURIComponent(text)' in script


def test_a_scanned_label_opens_its_firearm_or_its_box(site: Site) -> None:
    answer = site.get("lee", "/b/demo/items?code=armory:demo:R1")
    assert answer.status_code == 303
    assert location(answer) == "/b/demo/firearms/R1"
    answer = site.get("lee", "/b/demo/items?code=armory:demo:D1")
    assert answer.status_code == 303
    assert location(answer) == "/b/demo/boxes/D1"


def test_codes_typed_by_hand_open_the_item_by_id_label_or_serial(site: Site) -> None:
    typed = {
        "P1": "/b/demo/firearms/P1",
        "  r1 ": "/b/demo/firearms/R1",
        "45 ACP HALF-LOAD BLANKS": "/b/demo/boxes/B1",
        "45 long  colt dummies": "/b/demo/boxes/D1",
        "PT-1873-0421": "/b/demo/firearms/R1",
        "armory:demo/X1": "/b/demo/firearms/X1",
    }
    for code, where in typed.items():
        answer = site.get("cal", f"/b/demo/items?code={code}")
        assert answer.status_code == 303, code
        assert location(answer) == where, code


def test_an_empty_code_goes_back_to_the_scan_page(site: Site) -> None:
    answer = site.get("cal", "/b/demo/items?code=+")
    assert answer.status_code == 303
    assert location(answer) == "/b/demo/scan"


def test_an_unknown_code_shows_the_scan_page_again_with_a_clear_message(site: Site) -> None:
    answer = site.get("cal", "/b/demo/items?code=Z9%3Cb%3E")
    assert answer.status_code == 404
    assert "Nothing here has the code “Z9&lt;b&gt;”" in answer.text
    assert 'value="Z9&lt;b&gt;"' in answer.text  # kept in the field, to correct it
    assert 'id="code-form"' in answer.text
    # The camera waits to be started again rather than reading the same label in a loop.
    assert 'data-autostart="no"' in answer.text


def test_a_label_of_another_book_says_whose_it_is_and_what_it_is_here(site: Site) -> None:
    answer = site.get("ana", "/b/demo/items?code=armory:rental:RH-0421")
    assert answer.status_code == 404
    page = answer.text
    assert "This label is not from this book" in page
    assert "<strong>RH-0421</strong> in book <code>rental</code>, not of Demo production" in page
    assert 'href="/b/demo/firearms/R1"' in page  # the same revolver, as this book knows it
    # ana may not read the rental house's book: neither its name nor a way in.
    assert "Demo rental house" not in page
    assert "/b/rental/items" not in page

    answer = site.get("ivy", "/b/demo/items?code=armory:rental:RH-0421")
    assert answer.status_code == 404
    assert "in book <strong>Demo rental house</strong> (<code>rental</code>)" in answer.text
    assert 'href="/b/rental/items?code=RH-0421"' in answer.text

    answer = site.get("rita", "/b/rental/items?code=armory:rental:RH-0421")
    assert answer.status_code == 303
    assert location(answer) == "/b/rental/firearms/RH-0421"


def test_a_label_naming_a_book_this_server_does_not_have_says_so(site: Site) -> None:
    answer = site.get("ana", "/b/demo/items?code=armory:elsewhere:R1")
    assert answer.status_code == 404
    assert "which is not on this server" in answer.text
    assert 'href="/b/demo/firearms/R1"' not in answer.text


def test_a_printed_text_two_boxes_share_offers_both(site: Site) -> None:
    outcome = site.armory.commands.execute(
        "demo",
        "ana",
        {
            "type": "receive_box",
            "box": "D3",
            "label": "45 ACP DUMMIES",
            "kind": "dummy",
            "calibre": ".45 ACP",
            "maker": "Castle Dummy Co.",
            "maker_lot": "CDC-45ACP-2402",
            "count": 20,
            "from": {"source": "bought from Castle Dummy Co."},
            "location": "safe",
        },
    )
    assert outcome.ok, outcome
    answer = site.get("ana", "/b/demo/items?code=45 ACP DUMMIES")
    assert answer.status_code == 200
    assert "2 items have the code" in answer.text
    assert 'href="/b/demo/boxes/D2"' in answer.text
    assert 'href="/b/demo/boxes/D3"' in answer.text


def test_only_people_of_the_book_can_look_codes_up_in_it(site: Site) -> None:
    assert site.get("rita", "/b/demo/items?code=R1").status_code == 403
    assert site.get("rita", "/b/demo/scan").status_code == 403


# The trace


def timeline(page: str) -> str:
    found = re.search(r'<ol class="timeline">(.*?)</ol>', page, re.DOTALL)
    assert found is not None
    return found[1]


def test_the_trace_of_r1_follows_it_from_the_rental_house_into_the_production(
    site: Site,
) -> None:
    answer = site.get("lee", "/b/demo/trace/R1")
    assert answer.status_code == 200
    steps = site.app.state.services.tracer.trace("demo", "R1")["steps"]
    assert {step["book"] for step in steps} == {"rental", "demo"}
    history = timeline(answer.text)
    assert history.count("<li ") == len(steps)
    for step in steps:
        assert f'id="entry-{step["book"]}-{step["index"]}"' in history
    # Oldest first: bought by the rental house, issued, then received by the production.
    bought = history.index('id="entry-rental-4"')
    issued = history.index(f'id="entry-rental-{steps[2]["index"]}"')
    received = history.index('id="entry-demo-11"')
    assert bought < issued < received
    assert "in book Demo rental house (<code>rental</code>), entry #4" in history
    assert "from book rental, entry #" in history
    assert "all 6 chambers empty" in history
    assert "No gaps found" in answer.text


def test_a_refused_attempt_is_marked_in_words_in_the_trace(site: Site) -> None:
    outcome = site.armory.commands.execute(
        "demo", "lee", {"type": "check_out", "item": "R1", "from": "safe"}
    )
    assert not outcome.ok
    history = timeline(site.get("ana", "/b/demo/trace/R1").text)
    refused = re.search(
        rf'<li id="entry-demo-{outcome.index}" class="refused">(.*?)</li>', history, re.DOTALL
    )
    assert refused is not None
    assert "✖ Refused: check out" in refused[1]
    assert outcome.rule is not None
    assert outcome.rule in refused[1]
    assert "Lee Baird (lee)" in refused[1]


def test_a_gap_is_listed_first_in_a_warning_and_marked_in_the_timeline(site: Site) -> None:
    # The rental house issues a pistol the production never records receiving.
    outcome = site.armory.commands.execute(
        "rental",
        "rita",
        {
            "type": "issue",
            "item": "RH-0307",
            "to": "demo",
            "inspection": {"chambers": [{"n": 1, "content": "empty"}], "bore_clear": True},
        },
    )
    assert outcome.ok, outcome
    issued = outcome.events[0]["index"]
    page = site.get("rita", "/b/rental/trace/RH-0307").text
    warning = re.search(r'<section class="notice warn"[^>]*>(.*?)</section>', page, re.DOTALL)
    assert warning is not None
    assert "1 gap in this history" in warning[1]
    assert "Custody with no record" in warning[1]
    assert f'href="#entry-rental-{issued}"' in warning[1]
    assert page.index("notice warn") < page.index('<ol class="timeline">')
    assert f'<li id="entry-rental-{issued}" class="gap">' in timeline(page)


def test_an_item_the_book_does_not_have_has_no_trace(site: Site) -> None:
    answer = site.get("ana", "/b/demo/trace/Z9")
    assert answer.status_code == 404
    assert "no firearm or box" in answer.text.lower()
