"""The day page: open, pause, resume and close the day with counts, on the demo production
(its day is open today, every firearm and box is in the locked safe)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from tests.web.conftest import Site

DAY = "/b/demo/day"
COUNTS = {"count-D1": "50", "count-D2": "50", "count-B1": "50"}


def _close_the_day(site: Site) -> None:
    outcome = site.armory.commands.execute(
        "demo", "ana", {"type": "close_day", "counts": {"D1": 50, "D2": 50, "B1": 50}}
    )
    assert outcome.ok


def _tomorrow(site: Site) -> str:
    return (date.fromisoformat(site.state().day.date) + timedelta(days=1)).isoformat()


def test_the_day_page_shows_the_open_day_and_the_days_so_far(site: Site) -> None:
    today = site.state().day.date
    yesterday = (date.fromisoformat(today) - timedelta(days=1)).isoformat()
    answer = site.get("ana", DAY)
    assert answer.status_code == 200
    assert f"Day {today}:" in answer.text
    assert "Open</span>" in answer.text
    assert "Opened by</dt><dd>Ana Ortiz" in answer.text
    assert f'<th scope="row">{yesterday}</th>' in answer.text
    assert "B1: 50 · D1: 50 · D2: 50" in answer.text


def test_the_armorer_is_offered_pause_and_close_while_the_day_is_open(site: Site) -> None:
    answer = site.get("ana", DAY)
    assert 'action="/b/demo/day/pause"' in answer.text
    assert 'action="/b/demo/day/close"' in answer.text
    assert 'action="/b/demo/day/open"' not in answer.text


def test_crew_sees_the_day_but_no_form_to_change_it(site: Site) -> None:
    answer = site.get("cal", DAY)
    assert answer.status_code == 200
    assert '<form method="post" action="/b/demo/day' not in answer.text
    _close_the_day(site)
    answer = site.get("cal", DAY)
    assert "Closed</span>" in answer.text
    assert 'action="/b/demo/day/open"' not in answer.text
    assert 'action="/b/demo/day/open"' in site.get("ana", DAY).text


def test_closing_the_day_records_every_count(site: Site) -> None:
    answer = site.post("ana", f"{DAY}/close", COUNTS)
    assert answer.status_code == 303
    entry = site.last_entry()
    assert entry.type == "day_closed"
    assert entry.data["counts"] == {"D1": 50, "D2": 50, "B1": 50}
    assert answer.headers["location"] == f"{DAY}?recorded={entry.index}"
    assert "Closed</span>" in site.get("ana", answer.headers["location"]).text


def test_the_open_form_offers_a_date_not_yet_opened_and_the_ledger_counts(site: Site) -> None:
    _close_the_day(site)
    answer = site.get("ana", DAY)
    assert f'name="date" required value="{_tomorrow(site)}"' in answer.text
    assert re.search(r'name="count-D1"[^>]*value="50"', answer.text)
    assert re.search(r'name="sole_duty" value="yes"\s*>', answer.text)  # never ticked for them


def test_opening_the_day_records_sole_duty_counts_and_firearms(site: Site) -> None:
    _close_the_day(site)
    tomorrow = _tomorrow(site)
    answer = site.post(
        "ana",
        f"{DAY}/open",
        {"date": tomorrow, "sole_duty": "yes", **COUNTS, "firearms": ["R1", "P1"]},
    )
    assert answer.status_code == 303
    entry = site.last_entry()
    assert entry.type == "day_opened"
    assert entry.data == {
        "date": tomorrow,
        "sole_duty": True,
        "counts": {"D1": 50, "D2": 50, "B1": 50},
        "firearms": ["R1", "P1"],
    }
    assert site.state().day.open


def test_opening_without_declaring_sole_duty_is_refused(site: Site) -> None:
    _close_the_day(site)
    answer = site.post("ana", f"{DAY}/open", {"date": _tomorrow(site), **COUNTS})
    assert answer.status_code == 409
    assert "SOLE_DUTY_REQUIRED" in answer.text
    assert site.last_entry().type == "command_refused"
    assert 'value="50"' in answer.text  # the form is there again, as it was sent


def test_a_count_that_differs_is_recorded_and_opens_a_critical_incident(site: Site) -> None:
    answer = site.post("ana", f"{DAY}/close", {**COUNTS, "count-D1": "49"})
    assert answer.status_code == 303
    entry = site.last_entry()
    assert entry.type == "incident_opened"
    assert entry.data["rule"] == "COUNT_MISMATCH"
    assert entry.data["critical"] is True
    page = site.get("ana", answer.headers["location"]).text
    assert "PRODUCTION FROZEN" in page
    assert "A count differed from the ledger" in page
    assert "D1: counted 49, ledger 50" in page
    assert f'/incidents/{entry.data["incident"]}"' in page
    assert "<strong>critical</strong>" in page


def test_pausing_while_a_firearm_is_out_is_refused_with_items_out(site: Site) -> None:
    outcome = site.armory.commands.execute(
        "demo", "ana", {"type": "check_out", "item": "R1", "from": "safe"}
    )
    assert outcome.ok
    page = site.get("ana", DAY).text
    assert "Not in locked storage" in page
    answer = site.post("ana", f"{DAY}/pause", {"reason": "lunch"})
    assert answer.status_code == 409
    assert "ITEMS_OUT" in answer.text
    assert "R1" in answer.text
    assert site.last_entry().type == "command_refused"
    assert 'value="lunch"' in answer.text
    assert not site.state().day.paused


def test_pausing_and_resuming_the_day_are_recorded(site: Site) -> None:
    answer = site.post("ana", f"{DAY}/pause", {"reason": "lunch"})
    assert answer.status_code == 303
    entry = site.last_entry()
    assert (entry.type, entry.data) == ("day_paused", {"reason": "lunch"})
    page = site.get("ana", DAY).text
    assert "Paused</span>" in page
    assert 'action="/b/demo/day/resume"' in page
    assert 'action="/b/demo/day/pause"' not in page
    answer = site.post("ana", f"{DAY}/resume", {})
    assert answer.status_code == 303
    assert site.last_entry().type == "day_resumed"
    assert not site.state().day.paused


def test_a_count_that_is_not_a_number_is_malformed_and_records_nothing(site: Site) -> None:
    size = site.size()
    answer = site.post("ana", f"{DAY}/close", {**COUNTS, "count-D2": "fifty"})
    assert answer.status_code == 422
    assert "the count of box D2 must be a whole number" in answer.text
    assert 'value="fifty"' in answer.text
    assert site.size() == size


def test_closing_without_counting_every_box_records_nothing(site: Site) -> None:
    size = site.size()
    answer = site.post("ana", f"{DAY}/close", {**COUNTS, "count-B1": ""})
    assert answer.status_code == 422
    assert "B1" in answer.text
    assert site.size() == size


def test_crew_posting_the_close_form_is_refused_as_armorer_only(site: Site) -> None:
    answer = site.post("cal", f"{DAY}/close", COUNTS)
    assert answer.status_code == 409
    assert "ARMORER_ONLY" in answer.text
    assert 'action="/b/demo/day/close"' not in answer.text
    assert site.state().day.open


def test_a_day_form_without_the_csrf_token_records_nothing(site: Site) -> None:
    size = site.size()
    answer = site.browser("ana").post(f"{DAY}/pause", data={"reason": "lunch"})
    assert answer.status_code == 403
    assert site.size() == size
