"""The pages served in-process by the real app over the demo production, on each backend.

`Site` is a person's browser without the browser: it keeps the session cookie, reads the CSRF
token a page carries and posts forms the way the pages do. The Playwright tests in
tests/browser drive real Chromium against a real server; these check the pages' contracts
(statuses, permissions, CSRF, what is recorded) quickly and on both databases.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from armory import bootstrap
from armory.config import Settings
from armory.entrypoints.web.app import create_app
from armory.services.demo import DEMO_LOGINS, load_demo
from tests.hashers import CHEAP_HASHER

LOGINS = {login.user: login for login in DEMO_LOGINS}
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


@dataclass
class Site:
    armory: bootstrap.Armory
    app: Any
    clients: dict[str, TestClient] = field(default_factory=dict)

    def browser(self, user: str) -> TestClient:
        """A client signed in as the demo person `user` (through the sign-in form)."""
        if user not in self.clients:
            client = TestClient(self.app, follow_redirects=False)
            page = client.get("/login")
            nonce = re.search(r'name="nonce" value="([^"]+)"', page.text)
            assert nonce is not None
            answer = client.post(
                "/login",
                data={"username": user, "password": LOGINS[user].password, "nonce": nonce[1]},
            )
            assert answer.status_code == 303, answer.text
            self.clients[user] = client
        return self.clients[user]

    def get(self, user: str, path: str) -> httpx2.Response:
        return self.browser(user).get(path)

    def post(self, user: str, path: str, data: dict[str, Any]) -> httpx2.Response:
        """Post a form as `user`, with the CSRF token of the page the form is on."""
        client = self.browser(user)
        found = CSRF.search(client.get("/").text)
        assert found is not None
        return client.post(path, data={"csrf": found[1], **data})

    def pin(self, user: str) -> str:
        return LOGINS[user].pin

    def state(self, book: str = "demo") -> Any:
        return self.armory.commands.state(book)

    def size(self, book: str = "demo") -> int:
        return self.armory.ledger.store.size(book)

    def last_entry(self, book: str = "demo") -> Any:
        size = self.size(book)
        [entry] = list(self.armory.ledger.entries(book, size - 1, size))
        return entry


def open_site(data_dir: Path, database_url: str) -> Iterator[Site]:
    armory = bootstrap.init(Settings(data_dir, database_url), "pages.test")
    armory.accounts.hasher = armory.accounts.pin_hasher = CHEAP_HASHER
    try:
        load_demo(armory.ledger, armory.accounts, armory.commands, date.today())
        app = create_app(armory)
        with TestClient(app):  # runs the app's lifespan (its committer) around the tests
            site = Site(armory, app)
            yield site
            for client in site.clients.values():
                client.close()
    finally:
        armory.close()


@pytest.fixture
def site(tmp_path: Path, database_url: str) -> Iterator[Site]:
    """The demo on a fresh node, on SQLite and then PostgreSQL."""
    yield from open_site(tmp_path / "node", database_url)
