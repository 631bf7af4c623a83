"""The scene pages: the list, one scene, the plan the first AD approves with their PIN, the
safety-meeting sign-in and the cold/hot declaration, on the demo production (scene S1 planned
today with R1 and the performer lee, who attended its meeting)."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import Site

SCENES = "/b/demo/scenes"
TOPICS = ["action", "deviations", "abort", "emergency", "chain_of_command", "protective_equipment"]


def _plan(site: Site, **changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "scene": "S2",
        "date": site.state().day.date,
        "title": "Street, sc. 7: the chase",
        "firearms": ["P1"],
        "performers": ["lee"],
        "blanks": "half",
        "min_distance_ft": "25",
        "approver-person-1": "dan",
        "approver-pin-1": site.pin("dan"),
    }
    form.update(changes)
    return form


def test_the_scene_list_shows_todays_scene_and_offers_planning_to_the_armorer(
    site: Site,
) -> None:
    answer = site.get("ana", SCENES)
    assert answer.status_code == 200
    assert 'href="/b/demo/scenes/S1"' in answer.text
    assert "Today</span>" in answer.text
    assert "safety meeting held today" in answer.text
    assert 'href="/b/demo/scenes/new"' in answer.text


def test_the_first_ad_is_not_offered_planning_and_cannot_open_the_plan_form(
    site: Site,
) -> None:
    assert 'href="/b/demo/scenes/new"' not in site.get("dan", SCENES).text
    answer = site.get("dan", f"{SCENES}/new")
    assert answer.status_code == 403
    assert 'action="/b/demo/scenes"' not in answer.text


def test_a_scene_page_shows_its_plan_performers_and_meetings(site: Site) -> None:
    answer = site.get("ana", f"{SCENES}/S1")
    assert answer.status_code == 200
    text = answer.text
    assert "Saloon, sc. 42" in text
    assert 'href="/b/demo/firearms/R1"' in text
    assert "Lee Baird" in text
    assert "At today's safety meeting" in text
    assert "Approved by</dt><dd>Dan Hale (first AD)" in text
    assert "Attended:</strong> Ana Ortiz, Ben Okafor, Cal Dunn, Dan Hale, Lee Baird, Sue Park" in (
        text
    )
    assert "Last declaration</dt>\n  <dd>None yet" in text


def test_an_unknown_scene_is_not_found(site: Site) -> None:
    assert site.get("ana", f"{SCENES}/S9").status_code == 404


def test_the_plan_form_asks_for_the_first_ads_pin_on_the_same_screen(site: Site) -> None:
    answer = site.get("ana", f"{SCENES}/new")
    assert answer.status_code == 200
    assert 'name="approver-pin-1" type="password"' in answer.text
    assert 'value="dan"' in answer.text
    assert "approver-person-2" not in answer.text


def test_planning_a_scene_records_the_plan_and_who_approved_it_without_the_pin(
    site: Site,
) -> None:
    answer = site.post("ana", SCENES, _plan(site))
    assert answer.status_code == 303
    entry = site.last_entry()
    assert answer.headers["location"] == f"{SCENES}/S2?recorded={entry.index}"
    assert entry.type == "scene_planned"
    assert entry.data["approved_by"] == "dan"
    assert entry.data["blanks"] == "half"
    assert entry.data["min_distance_ft"] == 25
    assert entry.data["muzzle_toward_person"] is False
    assert (entry.data["firearms"], entry.data["performers"]) == (["P1"], ["lee"])
    assert site.pin("dan") not in str(entry.data)
    assert "half-load blanks" in site.get("ana", f"{SCENES}/S2").text


def test_planning_with_a_wrong_pin_is_refused_with_pin_invalid(site: Site) -> None:
    answer = site.post("ana", SCENES, _plan(site, **{"approver-pin-1": "0000"}))
    assert answer.status_code == 409
    assert "PIN_INVALID" in answer.text
    assert 'value="Street, sc. 7: the chase"' in answer.text  # the plan is kept
    assert "S2" not in site.state().scenes


def test_blanks_planned_too_close_are_refused_with_blank_distance(site: Site) -> None:
    answer = site.post("ana", SCENES, _plan(site, min_distance_ft="10"))
    assert answer.status_code == 409
    assert "BLANK_DISTANCE" in answer.text
    assert site.last_entry().type == "command_refused"


def test_a_plan_with_a_distance_that_is_not_a_number_records_nothing(site: Site) -> None:
    size = site.size()
    answer = site.post("ana", SCENES, _plan(site, min_distance_ft="twenty"))
    assert answer.status_code == 422
    assert "the minimum distance must be a whole number" in answer.text
    assert site.size() == size


def test_a_plan_without_the_first_ads_pin_records_nothing(site: Site) -> None:
    size = site.size()
    answer = site.post("ana", SCENES, _plan(site, **{"approver-pin-1": ""}))
    assert answer.status_code == 422
    assert "Dan Hale must type their own PIN" in answer.text
    assert site.size() == size


def test_only_the_first_ad_is_offered_the_safety_meeting_sign_in(site: Site) -> None:
    meeting = 'action="/b/demo/scenes/S1/meeting"'
    assert meeting in site.get("dan", f"{SCENES}/S1").text
    assert meeting not in site.get("ana", f"{SCENES}/S1").text
    assert meeting not in site.get("lee", f"{SCENES}/S1").text


def test_the_meeting_sign_in_ticks_every_topic_and_no_attendee(site: Site) -> None:
    text = site.get("dan", f"{SCENES}/S1").text
    for topic in TOPICS:
        assert f'name="topics" value="{topic}" checked' in text
    assert 'name="attendees" value="lee" >' in text


def test_holding_a_safety_meeting_records_attendees_and_topics(site: Site) -> None:
    answer = site.post(
        "dan",
        f"{SCENES}/S1/meeting",
        {"attendees": ["ana", "dan", "max"], "topics": TOPICS},
    )
    assert answer.status_code == 303
    entry = site.last_entry()
    assert entry.type == "safety_meeting_held"
    assert entry.data["scene"] == "S1"
    assert entry.data["attendees"] == ["ana", "dan", "max"]
    assert entry.data["topics"] == TOPICS
    assert site.state().scenes["S1"].attended_today("max", site.state().today)


def test_a_meeting_without_an_armorer_is_refused(site: Site) -> None:
    answer = site.post("dan", f"{SCENES}/S1/meeting", {"attendees": ["dan"], "topics": TOPICS})
    assert answer.status_code == 409
    assert "ARMORER_ONLY" in answer.text
    assert 'name="attendees" value="dan" checked' in answer.text


def test_a_performer_is_not_offered_the_declaration(site: Site) -> None:
    declare = 'action="/b/demo/scenes/S1/declare"'
    assert declare in site.get("ana", f"{SCENES}/S1").text
    assert declare not in site.get("lee", f"{SCENES}/S1").text
    assert declare not in site.get("dan", f"{SCENES}/S1").text


def test_declaring_cold_records_the_firearms_and_who_announced_it(site: Site) -> None:
    answer = site.post(
        "ana",
        f"{SCENES}/S1/declare",
        {"status": "cold", "firearms": ["R1"], "announced_by": "dan"},
    )
    assert answer.status_code == 303
    entry = site.last_entry()
    assert entry.type == "declared"
    assert entry.data == {
        "scene": "S1",
        "status": "cold",
        "firearms": ["R1"],
        "announced_by": "dan",
    }
    assert "Cold</span>" in site.get("lee", f"{SCENES}/S1").text


def test_declaring_cold_a_firearm_not_inspected_since_it_left_the_safe_is_refused(
    site: Site,
) -> None:
    outcome = site.armory.commands.execute(
        "demo", "ana", {"type": "check_out", "item": "R1", "from": "safe"}
    )
    assert outcome.ok
    answer = site.post(
        "ana", f"{SCENES}/S1/declare", {"status": "cold", "firearms": ["R1"], "announced_by": ""}
    )
    assert answer.status_code == 409
    assert "COLD_REQUIRES_CLEAR" in answer.text
    assert site.state().scenes["S1"].status is None


def test_a_performer_posting_a_declaration_is_refused(site: Site) -> None:
    answer = site.post("lee", f"{SCENES}/S1/declare", {"status": "hot", "firearms": ["R1"]})
    assert answer.status_code == 409
    assert "ARMORER_ONLY" in answer.text
    assert site.state().scenes["S1"].status is None


def test_a_scene_form_without_the_csrf_token_records_nothing(site: Site) -> None:
    size = site.size()
    client = site.browser("ana")
    answer = client.post(f"{SCENES}/S1/declare", data={"status": "hot", "firearms": "R1"})
    assert answer.status_code == 403
    answer = client.post(SCENES, data=_plan(site))
    assert answer.status_code == 403
    assert site.size() == size
