"""The fast lane answers the frequent requests exactly as the app does, and leaves it the rest.

One node, two ways in: the app alone (every request through FastAPI's routing), and the same
app behind the lane. The same request is sent both ways and the answers compared; a spy in
front of the app tells whether the lane answered a request or passed it on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from armory.entrypoints.web.app import create_app
from armory.entrypoints.web.lane import Lane
from tests.api.conftest import ApiNode

REFUSE = {"type": "refuse_to_handle", "firearm": "R1", "reason": "not sure it is cold"}


@dataclass
class Spy:
    """The app, counting the HTTP requests that reach it."""

    app: FastAPI
    paths: list[str] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


@dataclass
class Both:
    """The node's app without the lane, and the same app behind the lane."""

    node: ApiNode
    plain: TestClient
    laned: TestClient
    spy: Spy

    def send(
        self, client: TestClient, method: str, path: str, user: str, **kwargs: Any
    ) -> httpx2.Response:
        headers = {**self.node.headers(user), **kwargs.pop("headers", {})}
        return client.request(method, f"/api/v1{path}", headers=headers, **kwargs)

    def through_lane(self, method: str, path: str, user: str, **kwargs: Any) -> httpx2.Response:
        """Sent behind the lane, which must answer it itself."""
        before = len(self.spy.paths)
        answer = self.send(self.laned, method, path, user, **kwargs)
        assert self.spy.paths[before:] == [], f"{method} {path} went on to the app"
        return answer

    def past_lane(self, method: str, path: str, user: str, **kwargs: Any) -> httpx2.Response:
        """Sent behind the lane, which must leave it to the app."""
        before = len(self.spy.paths)
        answer = self.send(self.laned, method, path, user, **kwargs)
        assert len(self.spy.paths) == before + 1, f"{method} {path} did not reach the app"
        return answer


@pytest.fixture
def both(film: ApiNode) -> Iterator[Both]:
    plain_app = create_app(film.armory, lane=False)
    spied = Spy(create_app(film.armory, lane=False))
    reads = ThreadPoolExecutor(2)
    laned_app = Lane(spied, spied.app.state.services, reads)
    try:
        with TestClient(plain_app) as plain, TestClient(laned_app) as laned:
            pair = Both(film, plain, laned, spied)
            for user in ("ana", "lee", "ivy", "zed"):
                # A token's first use goes on to the app, which looks it up; then it is known.
                assert pair.past_lane("GET", "/me", user).status_code == 200
            yield pair
    finally:
        reads.shutdown()


READS = [
    ("ana", "/books/film/board"),
    ("ivy", "/books/film/board"),
    ("ana", "/books/film/firearms"),
    ("ana", "/books/film/firearms?view=originals"),
    ("ana", "/books/film/firearms?view=corrections"),
    ("ana", "/books/film/people?view=both"),
    ("ana", "/books/film/locations"),
    ("ana", "/books/film/days"),
    ("ana", "/books/film/refusals"),
    ("ivy", "/books/film/checkpoint"),
    ("ivy", "/books/film/proofs/inclusion?index=2"),
    ("ivy", "/books/film/proofs/inclusion?index=0&size=3"),
    # Problems the services find: the same status and sentence either way.
    ("ana", "/books/nowhere/board"),
    ("zed", "/books/film/board"),
    ("zed", "/books/film/checkpoint"),
    ("ivy", "/books/film/proofs/inclusion?index=500"),
    ("ivy", "/books/film/proofs/inclusion?index=5&size=3"),
]


@pytest.mark.parametrize(("user", "path"), READS, ids=[f"{u} {p}" for u, p in READS])
def test_a_read_in_the_lane_is_answered_as_the_app_answers_it(
    both: Both, user: str, path: str
) -> None:
    laned = both.through_lane("GET", path, user)
    plain = both.send(both.plain, "GET", path, user)
    assert (laned.status_code, laned.headers["content-type"]) == (
        plain.status_code,
        plain.headers["content-type"],
    )
    assert laned.content == plain.content


def test_a_command_in_the_lane_is_answered_as_the_app_answers_it(both: Both) -> None:
    size = both.node.size("film")
    laned = both.through_lane("POST", "/books/film/commands", "lee", json=REFUSE)
    plain = both.send(both.plain, "POST", "/books/film/commands", "lee", json=REFUSE)
    assert laned.status_code == plain.status_code == 201
    assert laned.json()["events"] == [{"index": size, "type": "refusal_recorded"}]
    assert plain.json()["events"] == [{"index": size + 1, "type": "refusal_recorded"}]
    assert (laned.json()["size"], plain.json()["size"]) == (size + 1, size + 2)


@pytest.mark.parametrize(
    ("user", "book", "command", "status"),
    [
        ("ana", "film", {"type": "hand_over", "firearm": "R1", "to": "lee", "scene": "S1"}, 409),
        ("zed", "film", REFUSE, 403),
        ("ana", "nowhere", REFUSE, 404),
        ("lee", "film", {"type": "no_such_command"}, 422),
        ("lee", "film", {**REFUSE, "extra": 1}, 422),
    ],
    ids=["refused", "not enrolled", "no such book", "unknown type", "extra field"],
)
def test_a_problem_with_a_command_is_answered_in_the_lane_as_the_app_answers_it(
    both: Both, user: str, book: str, command: dict[str, Any], status: int
) -> None:
    path = f"/books/{book}/commands"
    laned = both.through_lane("POST", path, user, json=command)
    plain = both.send(both.plain, "POST", path, user, json=command)
    assert laned.status_code == plain.status_code == status
    got, expected = laned.json(), plain.json()
    if "index" in expected:  # each refusal is an entry of its own: the next one
        assert got.pop("index") + 1 == expected.pop("index")
    assert got == expected


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("POST", "/books/film/commands", {"content": b"{not json"}, 422),
        ("POST", "/books/film/commands", {"json": [REFUSE]}, 422),
        ("POST", "/books/film/commands", {"json": "refuse_to_handle"}, 422),
        ("POST", "/books/film/commands", {"content": b'{"n": 1e999999}'}, 422),
        (
            "POST",
            "/books/film/commands",
            {"content": b"{}", "headers": {"content-type": "text/plain"}},
            422,
        ),
        ("GET", "/books/film/commands", {}, 405),
        ("GET", "/books/film/firearms?view=latest", {}, 422),
        ("GET", "/books/film/firearms?view=both&extra=1", {}, 200),
        ("GET", "/books/film/board?x=1", {}, 200),
        ("GET", "/books/film/proofs/inclusion?index=-1", {}, 422),
        ("GET", "/books/film/proofs/inclusion?size=3&index=1", {}, 200),
        ("GET", "/books/film/proofs/consistency?old=1", {}, 200),
        ("GET", "/books/film/guns", {}, 404),
        ("GET", "/books/-film/board", {}, 422),
        ("HEAD", "/books/film/board", {}, 405),
    ],
)
def test_what_the_lane_cannot_read_at_a_glance_goes_on_to_the_app(
    both: Both, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    sent = {k: v for k, v in kwargs.items() if k != "headers"}  # the parameters are shared
    headers = {"content-type": "application/json", **kwargs.get("headers", {})}
    laned = both.past_lane(method, path, "ana", headers=headers, **sent)
    plain = both.send(both.plain, method, path, "ana", headers=headers, **sent)
    assert laned.status_code == plain.status_code == status, laned.text
    assert laned.content == plain.content


def test_a_token_the_lane_does_not_know_goes_on_to_the_app(both: Both) -> None:
    for headers in ({"authorization": "Bearer not-a-token"}, {"authorization": "Basic x"}, {}):
        before = len(both.spy.paths)
        answer = both.laned.get("/api/v1/books/film/board", headers=headers)
        assert answer.status_code == 401
        assert len(both.spy.paths) == before + 1


@pytest.mark.parametrize(("threads", "readers"), [(1, 1), (2, 1), (4, 2), (8, 4)])
def test_the_lanes_reads_run_on_half_the_request_threads(
    api: ApiNode, threads: int, readers: int
) -> None:
    app = create_app(api.armory, threads=threads)
    [lane] = [m for m in app.user_middleware if cast(object, m.cls) is Lane]
    reads = lane.kwargs["reads"]
    assert isinstance(reads, Executor)
    running = 0
    most = 0
    lock = threading.Lock()

    def read() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1

    with TestClient(app):
        for done in [reads.submit(read) for _ in range(2 * threads + 2)]:
            done.result()
    assert most == readers  # commands come first: reads never take every request thread
