"""Signing in to the pages: sessions in HttpOnly SameSite cookies, CSRF on every form."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.web.conftest import LOGINS, Site


def test_a_page_without_a_session_sends_the_person_to_sign_in(site: Site) -> None:
    client = TestClient(site.app, follow_redirects=False)
    answer = client.get("/b/demo")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/b/demo"


def test_signing_in_sets_an_httponly_strict_session_cookie(site: Site) -> None:
    client = TestClient(site.app, follow_redirects=False)
    nonce = re.search(r'name="nonce" value="([^"]+)"', client.get("/login").text)
    assert nonce is not None
    answer = client.post(
        "/login",
        data={
            "username": "ana",
            "password": LOGINS["ana"].password,
            "nonce": nonce[1],
            "next": "/b/demo",
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/b/demo"
    cookie = answer.headers["set-cookie"].lower()
    assert "armory_session=" in cookie
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert client.get("/b/demo").status_code == 200


def test_a_wrong_password_is_refused_on_the_page(site: Site) -> None:
    client = TestClient(site.app, follow_redirects=False)
    nonce = re.search(r'name="nonce" value="([^"]+)"', client.get("/login").text)
    assert nonce is not None
    answer = client.post("/login", data={"username": "ana", "password": "nope", "nonce": nonce[1]})
    assert answer.status_code == 401
    assert "wrong user name or password" in answer.text
    assert "armory_session" not in answer.headers.get("set-cookie", "")


def test_a_sign_in_form_from_elsewhere_is_refused(site: Site) -> None:
    client = TestClient(site.app, follow_redirects=False)
    answer = client.post(
        "/login", data={"username": "ana", "password": LOGINS["ana"].password, "nonce": "x" * 43}
    )
    assert answer.status_code == 403
    assert "armory_session" not in answer.headers.get("set-cookie", "")


def test_a_sign_in_link_never_leads_off_the_server(site: Site) -> None:
    client = TestClient(site.app, follow_redirects=False)
    nonce = re.search(r'name="nonce" value="([^"]+)"', client.get("/login").text)
    assert nonce is not None
    answer = client.post(
        "/login",
        data={
            "username": "ana",
            "password": LOGINS["ana"].password,
            "nonce": nonce[1],
            "next": "//evil.example/",
        },
    )
    assert answer.headers["location"] == "/"


def test_a_form_without_the_sessions_csrf_token_changes_nothing(site: Site) -> None:
    client = site.browser("ana")
    size = site.size()
    answer = client.post("/logout", data={"csrf": "0" * 40})
    assert answer.status_code == 403
    assert client.get("/b/demo").status_code == 200  # still signed in
    assert site.size() == size


def test_signing_out_ends_the_session(site: Site) -> None:
    answer = site.post("ana", "/logout", {})
    assert answer.status_code == 303
    client = site.browser("ana")
    client.cookies.clear()
    assert client.get("/b/demo").status_code == 303


def test_every_page_forbids_other_sites_scripts(site: Site) -> None:
    answer = site.get("ana", "/b/demo")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert answer.headers["cache-control"] == "no-store"


def test_a_person_sees_only_the_books_they_are_enrolled_in(site: Site) -> None:
    assert "/b/rental" not in site.get("ana", "/").text
    assert "/b/rental" in site.get("rita", "/").text
    assert site.get("rita", "/b/demo").status_code == 403
