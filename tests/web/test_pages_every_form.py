"""Every form of the pages, found from the app's own routes: none is accepted without the
session's CSRF token, and none records anything when refused that way."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

from armory.entrypoints.web.pages import AREAS
from tests.web.conftest import Site

# Example values for the path parameters of the pages' routes, taken from the demo.
EXAMPLES = {"book": "demo", "firearm": "R1", "box": "D1", "scene": "S1", "incident": "INC-31"}


def page_forms() -> list[str]:
    """The path of every POST route of the pages but sign-in (which has its own nonce), with
    the demo's ids filled in."""
    paths = []
    for area in AREAS:
        for route in area.router.routes:
            posts = isinstance(route, APIRoute) and "POST" in (route.methods or ())
            if posts and route.path != "/login":
                paths.append(re.sub(r"\{(\w+)\}", lambda m: EXAMPLES[m[1]], route.path))
    return sorted(paths)


def test_the_pages_have_the_forms_of_every_screen() -> None:
    forms = page_forms()
    for expected in (
        "/b/demo/firearms/R1/inspect",
        "/b/demo/firearms/R1/hand-over",
        "/b/demo/firearms/R1/take-back",
        "/b/demo/boxes/D1/verify",
        "/b/demo/day/open",
        "/b/demo/scenes/S1/meeting",
        "/b/demo/incidents/INC-31/resolve",
        "/b/demo/ledger/export",
        "/logout",
    ):
        assert expected in forms
    assert len(forms) >= 25


def test_no_form_is_accepted_without_the_sessions_csrf_token(site: Site) -> None:
    client = site.browser("ana")
    size = site.size()
    for path in page_forms():
        for token in (None, "0" * 40):
            data = {} if token is None else {"csrf": token}
            answer = client.post(path, data=data)
            assert answer.status_code == 403, f"{path}: {answer.status_code}"
            assert "reload the page" in answer.text
    assert site.size() == size
    assert client.get("/b/demo").status_code == 200  # still signed in
