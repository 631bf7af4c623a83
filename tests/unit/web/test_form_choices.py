"""The pages' choices are the domain's own: a form never offers a value the commands do not
take, nor leaves one out."""

from __future__ import annotations

from typing import get_args

from armory.domain.commands import IncidentKind, Topic
from armory.entrypoints.web.pages import incidents, scenes


def test_the_meeting_form_lists_every_topic_of_hold_safety_meeting() -> None:
    assert tuple(scenes.TOPICS) == get_args(Topic)


def test_the_incident_form_lists_every_kind_of_report_incident() -> None:
    assert set(incidents.KINDS) == set(get_args(IncidentKind))
