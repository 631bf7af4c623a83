"""The HTTP API's contract (SPEC §7): statuses, bodies, sign-in, permissions and the ledger reads.

Everything a client receives is checked with Armory's own verifiers, from the outside: the
checkpoint against the node's published key, proofs against the checkpoint's root, the exported
bundle as an investigator would check it.
"""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient

from armory.config import REQUEST_THREADS
from armory.entrypoints.web.app import create_app
from armory.ledger import merkle
from armory.ledger.bundle import verify_bundle
from armory.ledger.checkpoint import open_checkpoint
from armory.ledger.note import VerifierKey
from tests.api.conftest import PASSWORD, REVOLVER, ApiNode


def vkey(api: ApiNode) -> VerifierKey:
    answer = api.client.get("/api/v1/vkey")
    assert answer.status_code == 200
    return VerifierKey.parse(answer.text.strip())


def b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


# Signing in


def _request_threads(client: TestClient) -> int:
    assert client.portal is not None
    return int(
        client.portal.call(lambda: anyio.to_thread.current_default_thread_limiter().total_tokens)
    )


def test_the_endpoints_run_on_as_many_request_threads_as_configured(api: ApiNode) -> None:
    assert _request_threads(api.client) == REQUEST_THREADS
    with TestClient(create_app(api.armory, threads=2)) as other:
        assert _request_threads(other) == 2
        assert other.get("/api/v1/vkey").status_code == 200


def test_sign_in_gives_an_expiring_bearer_token(film: ApiNode) -> None:
    answer = film.login("ana")
    assert answer.status_code == 200
    token = answer.json()
    assert token["token_type"] == "bearer"  # noqa: S105 -- the OAuth2 token type
    assert token["expires_in"] == 12 * 3600
    me = film.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.json() == {
        "id": "ana",
        "name": "Ana",
        "is_admin": False,
        "books": [{"book": "film", "roles": ["armorer"]}],
    }


def test_no_token_wrong_token_and_logged_out_token_are_401(film: ApiNode) -> None:
    missing = film.client.get("/api/v1/books")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    wrong = film.client.get("/api/v1/books", headers={"Authorization": "Bearer nonsense"})
    assert wrong.status_code == 401
    headers = film.headers("lee")
    assert film.client.post("/api/v1/logout", headers=headers).status_code == 204
    assert film.client.get("/api/v1/books", headers=headers).status_code == 401


def test_an_expired_token_is_refused(film: ApiNode) -> None:
    accounts = film.armory.accounts
    now = datetime.now(UTC)
    token = accounts.issue_token("lee", now, 60)
    assert accounts.token_owner(token, now + timedelta(seconds=59)) is not None
    assert accounts.token_owner(token, now + timedelta(seconds=61)) is None


def test_a_token_is_remembered_only_once_looked_up_and_only_until_it_expires_or_is_revoked(
    film: ApiNode,
) -> None:
    accounts = film.armory.accounts
    now = datetime.now(UTC)
    token = accounts.issue_token("lee", now, 60)
    assert accounts.remembered_owner(token, now) is None  # never looked up in this process
    owner = accounts.token_owner(token, now)
    assert owner is not None
    assert accounts.remembered_owner(token, now) == owner
    assert accounts.remembered_owner(token, now + timedelta(seconds=61)) is None  # expired
    assert accounts.remembered_owner("nonsense", now) is None
    accounts.revoke_token(token)
    assert accounts.remembered_owner(token, now) is None


def test_a_request_with_a_remembered_token_is_answered_and_a_revoked_one_refused(
    film: ApiNode,
) -> None:
    headers = film.headers("lee")
    assert film.client.get("/api/v1/books", headers=headers).status_code == 200
    assert film.client.get("/api/v1/books", headers=headers).status_code == 200  # from memory
    token = headers["Authorization"].removeprefix("Bearer ")
    film.armory.accounts.revoke_token(token)
    assert film.client.get("/api/v1/books", headers=headers).status_code == 401


def test_five_wrong_passwords_lock_the_account(film: ApiNode) -> None:
    for _ in range(5):
        assert film.login("lee", "not the password").status_code == 401
    locked = film.login("lee")  # the right password, too late
    assert locked.status_code == 401
    assert "locked" in locked.json()["detail"]
    kinds = [line["kind"] for line in film.get("root", "/security-log").json()]
    assert kinds.count("login_failed") == 4
    assert "login_locked" in kinds
    assert film.login("ana").status_code == 200  # another account is not affected


def test_failed_sign_ins_from_one_place_are_throttled(film: ApiNode) -> None:
    for n in range(10):
        assert film.login(f"nobody{n}", "wrong password").status_code == 401
    throttled = film.login("ana")
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1


def test_the_security_log_never_holds_a_secret(film: ApiNode) -> None:
    film.login("lee", "hunter2-secret")
    lines = film.get("root", "/security-log").json()
    assert lines
    assert all("hunter2" not in str(line) for line in lines)


# Commands


def test_an_accepted_command_is_201_with_its_events_and_a_signed_checkpoint(film: ApiNode) -> None:
    answer = film.send("film", "ana", {**REVOLVER, "firearm": "R2", "serial": "SAA-2"})
    assert answer.status_code == 201
    body = answer.json()
    assert body["events"] == [{"index": body["size"] - 1, "type": "firearm_received"}]
    checkpoint = open_checkpoint(body["checkpoint"], vkey(film), "api.test/film")
    assert checkpoint.size == body["size"] == film.size("film")


def test_a_refusal_is_409_with_its_rule_and_its_own_index(film: ApiNode) -> None:
    answer = film.send(
        "film", "ana", {"type": "hand_over", "firearm": "R1", "to": "lee", "scene": "S1"}
    )
    assert answer.status_code == 409
    body = answer.json()
    assert set(body) == {"rule", "message", "index"}
    assert body["rule"] == "UNKNOWN_ITEM"
    [entry] = film.get("ana", "/books/film/entries", params={"start": body["index"]}).json()
    assert entry["type"] == "command_refused"
    assert entry["data"]["rule"] == "UNKNOWN_ITEM"


def test_a_refusal_that_opens_an_incident_names_it(film: ApiNode) -> None:
    live = {
        "type": "receive_box",
        "box": "L1",
        "label": "found rounds",
        "kind": "live",
        "calibre": ".45 LC",
        "maker": "?",
        "maker_lot": "?",
        "count": 1,
        "from": {"source": "a private person"},
        "location": "safe",
    }
    body = film.send("film", "ana", live).json()
    assert body["rule"] == "LIVE_AMMUNITION_PROHIBITED"
    assert body["incident"].startswith("INC-")
    board = film.get("sue", "/books/film/board").json()
    assert board["frozen"]["incident"] == body["incident"]


def test_a_wrong_witness_pin_is_refused_and_logged_but_never_recorded(film: ApiNode) -> None:
    chambers = [{"n": n, "content": "empty"} for n in range(1, 7)]
    answer = film.send(
        "film",
        "ana",
        {
            "type": "inspect",
            "firearm": "R1",
            "purpose": "intake",
            "chambers": chambers,
            "bore_clear": True,
            "witnesses": [{"person": "dan", "pin": "0000"}],
        },
    )
    assert answer.status_code == 409
    assert answer.json()["rule"] == "PIN_INVALID"
    lines = film.get("root", "/security-log").json()
    assert any(line["kind"] == "pin_failed" and line["account"] == "dan" for line in lines)
    entries = film.get("ana", "/books/film/entries").json()
    assert "0000" not in str(entries)


@pytest.mark.parametrize(
    "body",
    [
        {"type": "no_such_command"},
        {"type": "refuse_to_handle", "firearm": "R1"},
        {"type": "refuse_to_handle", "firearm": "R1", "reason": "x", "extra": 1},
        {"type": "refuse_to_handle", "firearm": 7, "reason": "x"},
        {"type": "refuse_to_handle", "firearm": "R1", "reason": "x" * 100_000},
        {"type": "open_day", "date": "2026-02-30", "sole_duty": True, "counts": {}, "firearms": []},
        [{"type": "refuse_to_handle"}],
        "refuse_to_handle",
    ],
    ids=["unknown type", "missing", "extra", "wrong type", "huge", "bad date", "list", "string"],
)
def test_a_malformed_command_is_422_and_records_nothing(film: ApiNode, body: Any) -> None:
    before = film.size("film")
    answer = film.send("film", "lee", body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"]
    assert film.size("film") == before


def test_a_body_that_is_not_json_is_422(film: ApiNode) -> None:
    headers = {**film.headers("lee"), "Content-Type": "application/json"}
    answer = film.client.post("/api/v1/books/film/commands", content=b"{not json", headers=headers)
    assert answer.status_code == 422


def test_unknown_book_is_404(film: ApiNode) -> None:
    assert film.send("nowhere", "ana", {"type": "pause_day", "reason": "x"}).status_code == 404
    assert film.get("ana", "/books/nowhere/board").status_code == 404


def test_a_stranger_to_the_book_can_neither_read_nor_write_it(film: ApiNode) -> None:
    before = film.size("film")
    assert (
        film.send(
            "film",
            "zed",
            {"type": "report_incident", "kind": "near_miss", "description": "x", "items": []},
        ).status_code
        == 403
    )
    assert film.get("zed", "/books/film/board").status_code == 403
    assert film.get("zed", "/books").json() == []
    assert film.size("film") == before


def test_an_admin_cannot_write_firearm_events(film: ApiNode) -> None:
    answer = film.send("film", "root", {**REVOLVER, "firearm": "R3", "serial": "S3"})
    assert answer.status_code == 403
    assert answer.json()["rule"] == "NOT_PERMITTED"


# Reads


@pytest.mark.parametrize(
    "kind",
    [
        "firearms",
        "boxes",
        "people",
        "locations",
        "scenes",
        "days",
        "incidents",
        "refusals",
        "cases",
    ],
)
def test_every_list_reads(film: ApiNode, kind: str) -> None:
    answer = film.get("ivy", f"/books/film/{kind}")
    assert answer.status_code == 200
    assert isinstance(answer.json(), list)


def test_lists_show_originals_corrections_or_both(film: ApiNode) -> None:
    received = film.get("ana", "/books/film/entries").json()
    index = next(e["index"] for e in received if e["type"] == "firearm_received")
    film.ok(
        "film",
        "ana",
        {
            "type": "correct",
            "entry": index,
            "reason": "serial misread",
            "fields": {"serial": "SAA-7"},
        },
    )
    [original] = film.get("ana", "/books/film/firearms", params={"view": "originals"}).json()
    assert original["serial"] == "SAA-1"
    [correction] = film.get("ana", "/books/film/firearms", params={"view": "corrections"}).json()
    assert correction["fields"] == {"serial": "SAA-7"}
    [both] = film.get("ana", "/books/film/firearms", params={"view": "both"}).json()
    assert both["serial"] == "SAA-1"
    assert both["corrected"]["serial"] == "SAA-7"
    assert film.get("ana", "/books/film/firearms", params={"view": "latest"}).status_code == 422


def test_board_trace_and_books(film: ApiNode) -> None:
    board = film.get("lee", "/books/film/board").json()
    assert [f["firearm"] for f in board["firearms"]] == ["R1"]
    trace = film.get("ivy", "/books/film/trace/R1").json()
    assert trace["item"] == "R1"
    assert trace["steps"][0]["type"] == "firearm_received"
    assert film.get("ivy", "/books/film/trace/R9").status_code == 404
    books = film.get("ivy", "/books").json()
    assert [b["id"] for b in books] == ["film"]


def test_entries_by_range(film: ApiNode) -> None:
    entries = film.get("ivy", "/books/film/entries", params={"start": 1, "end": 3}).json()
    assert [e["index"] for e in entries] == [1, 2]
    assert entries[0]["type"] == "person_enrolled"
    assert film.get("ivy", "/books/film/entries", params={"start": -1}).status_code == 422
    assert film.get("ivy", "/books/film/entries", params={"start": 10_000}).json() == []


def test_checkpoint_and_proofs_verify_with_the_published_key(film: ApiNode) -> None:
    key = vkey(film)
    note = film.get("ivy", "/books/film/checkpoint").text
    checkpoint = open_checkpoint(note, key, "api.test/film")
    entries = film.get("ivy", "/books/film/entries").json()
    for entry in entries:
        proof = film.get(
            "ivy",
            "/books/film/proofs/inclusion",
            params={"index": entry["index"], "size": checkpoint.size},
        ).json()
        assert proof["leaf_hash"] == entry["leaf_hash"]
        merkle.verify_inclusion(
            b64(entry["leaf_hash"]),
            entry["index"],
            checkpoint.size,
            [b64(h) for h in proof["proof"]],
            checkpoint.root_hash,
        )
    old = 3
    proof = film.get(
        "ivy", "/books/film/proofs/consistency", params={"old": old, "new": checkpoint.size}
    ).json()
    assert b64(proof["new_root"]) == checkpoint.root_hash
    merkle.verify_consistency(
        old,
        checkpoint.size,
        b64(proof["old_root"]),
        checkpoint.root_hash,
        [b64(h) for h in proof["proof"]],
    )
    assert (
        film.get(
            "ivy", "/books/film/proofs/inclusion", params={"index": checkpoint.size}
        ).status_code
        == 422
    )
    assert (
        film.get(
            "ivy", "/books/film/proofs/consistency", params={"old": checkpoint.size + 1}
        ).status_code
        == 422
    )


def test_verify_the_live_book(film: ApiNode) -> None:
    report = film.get("sue", "/books/film/verify").json()
    assert report["size"] == film.size("film")


def test_an_investigator_exports_a_bundle_and_the_export_is_recorded(film: ApiNode) -> None:
    film.ok(
        "film", "sue", {"type": "open_case", "case": "C1", "agency": "Sheriff", "officer": "Deputy"}
    )
    answer = film.post("ivy", "/books/film/export", params={"case": "C1"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/zip"
    report = verify_bundle(io.BytesIO(answer.content), vkey(film))
    assert report.size == film.size("film")
    last = film.get("ivy", "/books/film/entries", params={"start": report.size - 1}).json()[0]
    assert (last["type"], last["actor"], last["data"]["case"]) == ("bundle_exported", "ivy", "C1")
    [case] = film.get("ivy", "/books/film/cases").json()
    assert case["exports"] == [report.size - 1]


def test_who_may_export(film: ApiNode) -> None:
    assert film.post("lee", "/books/film/export").status_code == 403
    assert film.post("zed", "/books/film/export").status_code == 403
    assert film.post("ivy", "/books/film/export", params={"case": "nope"}).status_code == 404


# Administration


def test_admin_creates_accounts_and_books(film: ApiNode) -> None:
    new = {"user": "kim", "name": "Kim Lee", "password": PASSWORD, "pin": "4321"}
    assert film.post("root", "/users", json=new).status_code == 201
    assert film.post("root", "/users", json=new).status_code == 409
    assert film.post("root", "/users", json={**new, "user": "kay", "pin": "12"}).status_code == 422
    assert film.post("root", "/users", json={**new, "user": "kay", "admin": 1}).status_code == 422
    assert film.post("ana", "/users", json={**new, "user": "kay"}).status_code == 403
    assert film.login("kim").status_code == 200
    book = {"book": "rental", "kind": "supplier", "name": "Rental house"}
    assert film.post("ana", "/books", json=book).status_code == 403
    assert film.post("root", "/books", json=book).status_code == 201
    assert film.post("root", "/books", json=book).status_code == 409
    assert film.get("ana", "/users").status_code == 403
    assert [u["id"] for u in film.get("root", "/users").json()] == sorted(
        ["root", "ana", "dan", "lee", "sue", "ivy", "zed", "kim"]
    )
    assert film.get("ana", "/security-log").status_code == 403
