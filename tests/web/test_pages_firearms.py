"""A firearm's pages: the handover and take-back of the demo revolver done through the forms,
and what each person is offered and refused."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import Site

R1 = "/b/demo/firearms/R1"


def inspection(site: Site, contents: str = "empty", witnessed: bool = True) -> dict[str, Any]:
    form: dict[str, Any] = {"purpose": "pre_handover", "bore_clear": "yes"}
    for n in range(1, 7):
        form[f"c{n}-content"] = contents
    if witnessed:
        form |= {
            "witness-person-1": "lee",
            "witness-pin-1": site.pin("lee"),
            "witness-person-2": "dan",
            "witness-pin-2": site.pin("dan"),
        }
    return form


def test_the_armorer_hands_the_revolver_over_and_takes_it_back_through_the_pages(
    site: Site,
) -> None:
    answer = site.post("ana", f"{R1}/check-out", {"from": "safe"})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"{R1}?recorded=")
    assert site.last_entry().type == "checked_out"
    assert "Recorded" in site.browser("ana").get(answer.headers["location"]).text

    answer = site.post("ana", f"{R1}/inspect", inspection(site))
    assert answer.status_code == 303, answer.text
    entry = site.last_entry()
    assert entry.type == "firearm_inspected"
    assert entry.data["witnesses"] == ["lee", "dan"]  # who witnessed, never their PINs

    answer = site.post("ana", f"{R1}/hand-over", {"to": "lee", "scene": "S1"})
    assert answer.status_code == 303, answer.text
    assert site.state().firearms["R1"].custody.holder == "lee"

    answer = site.post("ana", f"{R1}/take-back", {"from": "lee", "rounds_fired": "0"})
    assert answer.status_code == 303, answer.text
    firearm = site.state().firearms["R1"]
    assert firearm.custody.kind == "armorer"
    assert {c.content for c in firearm.contents} == {"unknown"}


def test_a_handover_without_witnesses_is_refused_with_its_rule_and_next_step(site: Site) -> None:
    site.post("ana", f"{R1}/check-out", {"from": "safe"})
    site.post("ana", f"{R1}/inspect", inspection(site, witnessed=False))
    answer = site.post("ana", f"{R1}/hand-over", {"to": "lee", "scene": "S1"})
    assert answer.status_code == 409
    assert "WITNESS_REQUIRED" in answer.text
    assert "performer and the first" in answer.text  # the plain sentence of what to do next
    assert site.last_entry().type == "command_refused"
    assert f"entry #{site.size() - 1}" in answer.text


def test_the_first_ad_is_not_offered_the_handover_and_is_refused_if_they_send_it(
    site: Site,
) -> None:
    page = site.get("dan", R1).text
    assert f"{R1}/hand-over" not in page
    assert f"{R1}/inspect" not in page
    for form in ("hand-over", "inspect", "load", "unload", "take-back"):
        assert site.get("dan", f"{R1}/{form}").status_code == 403
    assert site.get("dan", "/b/demo/firearms/new").status_code == 403
    assert site.get("dan", "/b/demo/boxes/new").status_code == 403
    answer = site.post("dan", f"{R1}/hand-over", {"to": "lee", "scene": "S1"})
    assert answer.status_code == 409
    assert "ARMORER_ONLY" in answer.text
    assert site.last_entry().data["rule"] == "ARMORER_ONLY"


def test_an_investigator_is_offered_nothing_and_writing_is_forbidden(site: Site) -> None:
    page = site.get("ivy", R1).text
    assert "csrf" in page  # the sign-out form only
    assert "/refuse" not in page
    answer = site.post("ivy", f"{R1}/refuse", {"reason": "no"})
    assert answer.status_code == 403
    assert "NOT_PERMITTED" in answer.text


def test_an_inspection_missing_a_chamber_is_malformed_and_records_nothing(site: Site) -> None:
    site.post("ana", f"{R1}/check-out", {"from": "safe"})
    size = site.size()
    form = inspection(site)
    del form["c4-content"]
    answer = site.post("ana", f"{R1}/inspect", form)
    assert answer.status_code == 422
    assert "chamber 4: choose what you found" in answer.text
    assert site.size() == size


def test_a_wrong_witness_pin_is_refused_and_never_shown_back(site: Site) -> None:
    site.post("ana", f"{R1}/check-out", {"from": "safe"})
    form = inspection(site) | {"witness-pin-1": "0000"}
    answer = site.post("ana", f"{R1}/inspect", form)
    assert answer.status_code == 409
    assert "PIN_INVALID" in answer.text
    assert site.pin("dan") not in answer.text.split("<main", 1)[1]


def test_a_live_round_found_in_a_chamber_freezes_the_production_on_every_page(site: Site) -> None:
    site.post("ana", f"{R1}/check-out", {"from": "safe"})
    form = inspection(site) | {"c3-content": "live"}
    answer = site.post("ana", f"{R1}/inspect", form)
    assert answer.status_code == 303
    for path in ("/b/demo", R1, "/b/demo/boxes/D1"):
        assert "PRODUCTION FROZEN" in site.get("cal", path).text


def test_every_performer_may_record_a_refusal_to_handle(site: Site) -> None:
    answer = site.post("lee", f"{R1}/refuse", {"reason": "not today"})
    assert answer.status_code == 303
    assert site.last_entry().type == "refusal_recorded"


def test_the_revolver_is_drawn_as_a_cylinder_with_a_letter_in_every_chamber(site: Site) -> None:
    page = site.get("ana", R1).text
    assert 'class="drawing cylinder"' in page
    assert page.count('class="mark">E<') == 6  # demo R1: inspected on intake, all empty


def test_an_unknown_firearm_is_a_404_page(site: Site) -> None:
    answer = site.get("ana", "/b/demo/firearms/NOPE")
    assert answer.status_code == 404
    assert "there is no firearm" in answer.text.lower()


def test_receiving_a_firearm_through_the_form(site: Site) -> None:
    answer = site.post(
        "ana",
        "/b/demo/firearms/new",
        {
            "firearm": "R9",
            "serial": "S-9",
            "make": "Uberti",
            "model": "1873 revolver",
            "calibre": ".45 Long Colt",
            "kind": "functional",
            "chambers": "6",
            "location": "safe",
            "from_source": "prop house loan, note 17",
        },
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].startswith("/b/demo/firearms/R9?recorded=")
    assert site.state().firearms["R9"].source == {"source": "prop house loan, note 17"}
