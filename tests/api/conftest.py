"""An Armory node served in-process through its real ASGI app, on each storage backend.

`ApiNode` signs people in with the OAuth2 password flow and sends requests with their bearer
tokens, exactly as a client on the network does; only the socket is left out (the two-server and
load tests use real uvicorn processes).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from armory import bootstrap
from armory.config import Settings
from armory.entrypoints.web.app import create_app
from armory.services.ports import Account
from tests.hashers import CHEAP_HASHER

PASSWORD = "correct horse battery"  # noqa: S105 -- the test accounts' shared password


def pin_of(user: str) -> str:
    """Each test person's PIN: four digits derived from the name, so tests can name it."""
    return f"{sum(user.encode()) % 9000 + 1000}"


@dataclass
class ApiNode:
    armory: bootstrap.Armory
    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)  # what a test's set-up wants to recall

    def add_user(self, user: str, admin: bool = False) -> None:
        self.armory.accounts.add(Account(user, user.title(), admin), PASSWORD, pin_of(user))

    def login(self, user: str, password: str = PASSWORD) -> httpx2.Response:
        return self.client.post("/api/v1/token", data={"username": user, "password": password})

    def headers(self, user: str) -> dict[str, str]:
        if user not in self.tokens:
            answer = self.login(user)
            assert answer.status_code == 200, answer.text
            self.tokens[user] = answer.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def get(self, user: str, path: str, **kwargs: Any) -> httpx2.Response:
        return self.client.get(f"/api/v1{path}", headers=self.headers(user), **kwargs)

    def post(self, user: str, path: str, **kwargs: Any) -> httpx2.Response:
        return self.client.post(f"/api/v1{path}", headers=self.headers(user), **kwargs)

    def send(self, book: str, user: str, command: dict[str, Any]) -> httpx2.Response:
        return self.post(user, f"/books/{book}/commands", json=command)

    def ok(self, book: str, user: str, command: dict[str, Any]) -> dict[str, Any]:
        answer = self.send(book, user, command)
        assert answer.status_code == 201, f"{command['type']}: {answer.status_code} {answer.text}"
        result: dict[str, Any] = answer.json()
        return result

    def size(self, book: str) -> int:
        return self.armory.ledger.store.size(book)


def open_api_node(data_dir: Path, database_url: str) -> Iterator[ApiNode]:
    armory = bootstrap.init(Settings(data_dir, database_url), "api.test")
    # Argon2id still, at a cost a test suite can pay hundreds of times over; the production
    # parameters are SqlAccounts' own defaults.
    armory.accounts.hasher = armory.accounts.pin_hasher = CHEAP_HASHER
    try:
        with TestClient(create_app(armory)) as client:
            node = ApiNode(armory, client)
            node.add_user("root", admin=True)
            yield node
    finally:
        armory.close()


@pytest.fixture
def api(tmp_path: Path, database_url: str) -> Iterator[ApiNode]:
    """A fresh node with one admin account, `root`, on SQLite and then PostgreSQL."""
    yield from open_api_node(tmp_path / "node", database_url)


SAFE = {
    "type": "register_location",
    "location": "safe",
    "name": "Armory safe",
    "kind": "safe",
    "locked": True,
    "keyholders": ["ana"],
}
REVOLVER = {
    "type": "receive_firearm",
    "firearm": "R1",
    "serial": "SAA-1",
    "make": "Pietta",
    "model": "1873",
    "calibre": ".45 LC",
    "kind": "functional",
    "chambers": 6,
    "from": {"source": "owned by the armorer"},
    "location": "safe",
}


@pytest.fixture
def film(api: ApiNode) -> ApiNode:
    """Book `film` with an armorer (ana), a first AD (dan), a performer (lee), a safety
    supervisor (sue), an investigator (ivy) and a person enrolled nowhere (zed)."""
    crew = {"ana": "armorer", "dan": "first_ad", "lee": "performer", "sue": "safety"}
    for user in (*crew, "ivy", "zed"):
        api.add_user(user)
    assert (
        api.post(
            "root", "/books", json={"book": "film", "kind": "production", "name": "Film"}
        ).status_code
        == 201
    )
    for user, role in [*crew.items(), ("ivy", "investigator")]:
        api.ok(
            "film", "root", {"type": "enroll_person", "person": user, "name": user, "roles": [role]}
        )
    api.ok("film", "ana", SAFE)
    api.ok("film", "ana", REVOLVER)
    return api
