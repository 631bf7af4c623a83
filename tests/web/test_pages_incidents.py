"""The incident pages: the list, anyone's report of a live round or an incident, one incident,
and its resolution by an armorer and a safety supervisor with their PINs, on the demo
production (one near miss, already resolved)."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import Site

INCIDENTS = "/b/demo/incidents"


def _opened(site: Site, outcome: Any) -> str:
    """The id of the incident the command opened: its last entry."""
    assert outcome.ok
    index = outcome.events[-1]["index"]
    ids: list[str] = [i.id for i in site.state().incidents.values() if i.opened_index == index]
    [found] = ids
    return found


def _open_incident(site: Site, kind: str = "unsafe_act") -> str:
    outcome = site.armory.commands.execute(
        "demo",
        "cal",
        {
            "type": "report_incident",
            "kind": kind,
            "description": "a stand in the line",
            "items": [],
        },
    )
    return _opened(site, outcome)


def _live_round(site: Site) -> str:
    outcome = site.armory.commands.execute(
        "demo",
        "cal",
        {"type": "report_live_round", "where": {"box": "D2"}, "description": "a primer"},
    )
    return _opened(site, outcome)


def _approvals(site: Site, *people: str, **pins: str) -> dict[str, Any]:
    form: dict[str, Any] = {"resolution": "talked it through; the line is re-taped"}
    for n, person in enumerate(people, start=1):
        form[f"approver-person-{n}"] = person
        form[f"approver-pin-{n}"] = pins.get(person, site.pin(person))
    return form


def test_the_incident_list_shows_the_resolved_near_miss(site: Site) -> None:
    answer = site.get("ana", INCIDENTS)
    assert answer.status_code == 200
    [incident] = site.state().incidents.values()
    assert f'href="{INCIDENTS}/{incident.id}"' in answer.text
    assert "Near miss" in answer.text
    assert "Resolved</span>" in answer.text


def test_open_incidents_come_first_and_critical_ones_say_so_in_words(site: Site) -> None:
    live = _live_round(site)
    text = site.get("lee", INCIDENTS).text
    assert text.index(f"{INCIDENTS}/{live}") < text.index("Near miss")
    card = text[text.index(f"{INCIDENTS}/{live}") : text.index("Near miss")]
    assert "Open</span>" in card
    assert "critical</span>" in card


def test_everyone_but_an_investigator_is_offered_the_report_forms(site: Site) -> None:
    for person in ("cal", "lee", "ana"):
        text = site.get(person, INCIDENTS).text
        assert f'action="{INCIDENTS}/live-round"' in text
        assert f'action="{INCIDENTS}/report"' in text
    answer = site.get("ivy", INCIDENTS)
    assert answer.status_code == 200
    assert '<form method="post" action="/b/demo/incidents' not in answer.text


def test_crew_reporting_a_live_round_freezes_the_production(site: Site) -> None:
    answer = site.post(
        "cal", f"{INCIDENTS}/live-round", {"where": "box:D2", "description": "one with a primer"}
    )
    assert answer.status_code == 303
    entry = site.last_entry()
    assert entry.type == "incident_opened"
    assert entry.data["kind"] == "live_round"
    assert entry.data["critical"] is True
    reported = site.armory.ledger.entries("demo", entry.index - 1, entry.index)
    [report] = list(reported)
    assert report.type == "live_round_reported"
    where = report.data["where"]
    assert isinstance(where, dict)
    assert where["box"] == "D2"
    assert report.data["description"] == "one with a primer"
    page = site.get("cal", answer.headers["location"]).text
    assert "PRODUCTION FROZEN" in page
    assert "just recorded" in page


def test_reporting_an_incident_records_its_kind_and_items(site: Site) -> None:
    answer = site.post(
        "lee",
        f"{INCIDENTS}/report",
        {"kind": "misfire", "description": "click, no bang", "items": ["P1", "B1"]},
    )
    assert answer.status_code == 303
    entry = site.last_entry()
    assert entry.type == "incident_opened"
    assert (entry.data["kind"], entry.data["critical"]) == ("misfire", False)
    assert entry.data["items"] == ["P1", "B1"]
    assert site.state().frozen_by is None


def test_a_live_round_report_that_names_no_place_records_nothing(site: Site) -> None:
    size = site.size()
    answer = site.post("cal", f"{INCIDENTS}/live-round", {"where": "", "description": "found"})
    assert answer.status_code == 422
    assert "say where the round is" in answer.text
    assert ">found</textarea>" in answer.text
    assert site.size() == size


def test_an_investigator_posting_a_report_is_refused_as_not_permitted(site: Site) -> None:
    answer = site.post("ivy", f"{INCIDENTS}/report", {"kind": "near_miss", "description": "x"})
    assert answer.status_code == 403
    assert "NOT_PERMITTED" in answer.text
    assert all(not i.open for i in site.state().incidents.values())


def test_an_incident_page_shows_what_happened_and_how_it_was_resolved(site: Site) -> None:
    [incident] = site.state().incidents.values()
    answer = site.get("ivy", f"{INCIDENTS}/{incident.id}")
    assert answer.status_code == 200
    assert "Resolved by</dt><dd>Ana Ortiz and Sue Park" in answer.text
    assert "re-taped" in answer.text
    assert "by Cal Dunn" in answer.text
    assert site.get("ivy", f"{INCIDENTS}/INC-999").status_code == 404


def test_only_an_armorer_or_safety_supervisor_is_offered_the_resolution(site: Site) -> None:
    incident = _open_incident(site)
    resolve = f'action="{INCIDENTS}/{incident}/resolve"'
    assert resolve in site.get("ana", f"{INCIDENTS}/{incident}").text
    assert resolve in site.get("sue", f"{INCIDENTS}/{incident}").text
    for person in ("cal", "ben", "dan", "ivy"):
        assert resolve not in site.get(person, f"{INCIDENTS}/{incident}").text


def test_the_resolution_asks_two_people_for_their_own_pins(site: Site) -> None:
    incident = _open_incident(site)
    text = site.get("ana", f"{INCIDENTS}/{incident}").text
    assert 'name="approver-pin-1" type="password"' in text
    assert 'name="approver-pin-2" type="password"' in text
    assert '<option value="ana" selected>' in text


def test_resolving_with_an_armorer_and_a_safety_supervisor_is_recorded_without_pins(
    site: Site,
) -> None:
    incident = _open_incident(site)
    answer = site.post("sue", f"{INCIDENTS}/{incident}/resolve", _approvals(site, "ana", "sue"))
    assert answer.status_code == 303
    entry = site.last_entry()
    assert entry.type == "incident_resolved"
    assert entry.data["incident"] == incident
    assert entry.data["approvers"] == ["ana", "sue"]
    assert "pin" not in str(entry.data)
    assert not site.state().incidents[incident].open
    assert f'action="{INCIDENTS}/{incident}/resolve"' not in (
        site.get("ana", answer.headers["location"]).text
    )


def test_resolving_with_one_approver_is_refused_by_the_two_person_rule(site: Site) -> None:
    incident = _open_incident(site)
    answer = site.post("ana", f"{INCIDENTS}/{incident}/resolve", _approvals(site, "ana"))
    assert answer.status_code == 409
    assert "TWO_PERSON_RULE" in answer.text
    assert site.last_entry().type == "command_refused"
    assert site.state().incidents[incident].open


def test_resolving_with_a_wrong_pin_is_refused_with_pin_invalid(site: Site) -> None:
    incident = _open_incident(site)
    answer = site.post(
        "ana", f"{INCIDENTS}/{incident}/resolve", _approvals(site, "ana", "sue", sue="0000")
    )
    assert answer.status_code == 409
    assert "PIN_INVALID" in answer.text
    assert "talked it through" in answer.text  # the resolution is kept; the PINs are not
    assert 'value="0000"' not in answer.text
    assert site.state().incidents[incident].open


def test_a_live_round_page_lists_what_the_inventory_still_needs(site: Site) -> None:
    incident = _live_round(site)
    text = site.get("ana", f"{INCIDENTS}/{incident}").text
    assert "INVENTORY_REQUIRED" in text
    for box in ("B1", "D1", "D2"):
        assert f'Verify <a href="/b/demo/boxes/{box}">box {box}</a>' in text
    for firearm in ("P1", "R1"):
        assert f'Inspect <a href="/b/demo/firearms/{firearm}">firearm {firearm}</a>' in text
    assert "firearm X1</a>" not in text  # a non-firing replica has no chambers to inspect
    outcome = site.armory.commands.execute(
        "demo",
        "ana",
        {"type": "verify_box", "box": "D1", "count": 50, "method": "rattle", "every_round": True},
    )
    assert outcome.ok
    assert "box D1</a>" not in site.get("ana", f"{INCIDENTS}/{incident}").text


def test_resolving_a_live_round_before_the_inventory_is_refused(site: Site) -> None:
    incident = _live_round(site)
    answer = site.post("ana", f"{INCIDENTS}/{incident}/resolve", _approvals(site, "ana", "sue"))
    assert answer.status_code == 409
    assert "INVENTORY_REQUIRED" in answer.text
    assert site.state().frozen_by is not None


def test_a_resolution_with_a_name_but_no_pin_records_nothing(site: Site) -> None:
    incident = _open_incident(site)
    size = site.size()
    form = _approvals(site, "ana", "sue", sue="")
    answer = site.post("ana", f"{INCIDENTS}/{incident}/resolve", form)
    assert answer.status_code == 422
    assert "Sue Park must type their own PIN" in answer.text
    assert site.size() == size


def test_an_incident_form_without_the_csrf_token_records_nothing(site: Site) -> None:
    incident = _open_incident(site)
    size = site.size()
    client = site.browser("ana")
    answer = client.post(f"{INCIDENTS}/{incident}/resolve", data=_approvals(site, "ana", "sue"))
    assert answer.status_code == 403
    answer = client.post(f"{INCIDENTS}/live-round", data={"where": "box:D1", "description": "x"})
    assert answer.status_code == 403
    assert site.size() == size
