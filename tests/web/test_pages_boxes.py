"""A box's page: verifying round by round, custody, and live rounds refused at the door."""

from __future__ import annotations

from tests.web.conftest import Site

D2 = "/b/demo/boxes/D2"


def test_the_armorer_verifies_a_box_round_by_round(site: Site) -> None:
    count = site.state().boxes["D2"].count
    answer = site.post(
        "ana", f"{D2}/verify", {"count": str(count), "method": "rattle", "every_round": "yes"}
    )
    assert answer.status_code == 303, answer.text
    assert site.last_entry().type == "box_verified"
    assert "Verified today" in site.get("ana", D2).text


def test_a_count_that_differs_opens_an_incident_and_freezes_the_production(site: Site) -> None:
    count = site.state().boxes["D2"].count
    answer = site.post(
        "ana", f"{D2}/verify", {"count": str(count - 1), "method": "rattle", "every_round": "yes"}
    )
    assert answer.status_code == 303
    assert site.state().frozen_by is not None
    assert "PRODUCTION FROZEN" in site.get("dan", "/b/demo").text


def test_a_count_that_is_not_a_number_is_malformed_and_records_nothing(site: Site) -> None:
    size = site.size()
    answer = site.post("ana", f"{D2}/verify", {"count": "fifty", "method": "rattle"})
    assert answer.status_code == 422
    assert "the count must be a whole number" in answer.text
    assert site.size() == size


def test_crew_sees_a_box_but_is_offered_none_of_the_armorers_steps(site: Site) -> None:
    page = site.get("cal", D2).text
    assert "D2" in page
    assert f"{D2}/verify" not in page
    assert f"{D2}/dispose" not in page


def test_a_box_of_live_rounds_is_refused_and_stops_the_production(site: Site) -> None:
    answer = site.post(
        "ana",
        "/b/demo/boxes/new",
        {
            "box": "L1",
            "label": ".45 LC",
            "kind": "live",
            "calibre": ".45 Long Colt",
            "maker": "?",
            "maker_lot": "?",
            "count": "20",
            "location": "safe",
            "from_source": "found in a car",
        },
    )
    assert answer.status_code == 409
    assert "LIVE_AMMUNITION_PROHIBITED" in answer.text
    assert "L1" not in site.state().boxes
    assert site.state().frozen_by is not None
