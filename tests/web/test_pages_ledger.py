"""The ledger page: the signed checkpoint, verification on demand, and the evidence bundle."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import zipfile

import sqlalchemy as sa

from armory.adapters.sql.tables import INDEX_BITS
from armory.ledger.bundle import verify_bundle
from tests.web.conftest import Site

EXPORT_FORM = 'action="/b/demo/ledger/export"'


def pre(page: str, name: str) -> str:
    found = re.search(rf'<pre id="{name}">(.*?)</pre>', page, re.DOTALL)
    assert found is not None
    return html.unescape(found[1])


def test_the_ledger_page_shows_the_signed_checkpoint_the_key_and_the_last_entries(
    site: Site,
) -> None:
    answer = site.get("cal", "/b/demo/ledger")
    assert answer.status_code == 200
    checkpoint = site.armory.ledger.checkpoint("demo")
    assert pre(answer.text, "checkpoint") == checkpoint.note
    assert pre(answer.text, "vkey") == site.armory.ledger.verifier.to_text()
    assert f"<dd>{checkpoint.size}</dd>" in answer.text
    assert base64.b64encode(checkpoint.root).decode() in answer.text
    rows = re.findall(
        r"<tr><td>(\d+)</td><td>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td>", answer.text
    )
    assert [int(index) for index, _by, _what in rows] == list(
        range(checkpoint.size - 1, checkpoint.size - 21, -1)
    )
    last = site.last_entry()
    assert rows[0][1:] == (
        html.escape(site.state().people[last.actor].name),
        last.type.replace("_", " "),
    )
    assert "armory verify" in answer.text
    assert "tools/verify_bundle.py" in answer.text


def test_verifying_the_book_from_the_page_says_how_much_was_checked(site: Site) -> None:
    size = site.size()
    answer = site.post("cal", "/b/demo/ledger/verify", {})
    assert answer.status_code == 200
    report = site.armory.ledger.verify_book("demo")
    assert f"Verified: {size} entries, {report.checkpoints_checked} checkpoints checked" in (
        answer.text
    )
    assert site.size() == size  # verifying records nothing


def test_a_book_edited_in_the_database_names_its_first_bad_entry(site: Site) -> None:
    [entry] = [e for e in site.armory.ledger.entries("demo", 0, 12) if e.actor == "ana"][:1]
    with site.armory.engine.begin() as connection:
        # An attacker with the database: the append-only guard switched off, one actor changed.
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("DROP TRIGGER entries_no_update")
        else:
            connection.exec_driver_sql("ALTER TABLE entries DISABLE TRIGGER USER")
        number = connection.execute(sa.text("SELECT no FROM books WHERE id = 'demo'")).scalar_one()
        pos = (int(number) << INDEX_BITS) | entry.index
        body = bytes(
            connection.execute(
                sa.text("SELECT body FROM entries WHERE pos = :pos"), {"pos": pos}
            ).scalar_one()
        )
        edited = body.replace(b'"actor":"ana"', b'"actor":"ben"')
        assert edited != body
        connection.execute(
            sa.text("UPDATE entries SET body = :body WHERE pos = :pos"),
            {"body": edited, "pos": pos},
        )
    answer = site.post("sue", "/b/demo/ledger/verify", {})
    assert answer.status_code == 409
    notice = re.search(r'<section class="notice refused"[^>]*>(.*?)</section>', answer.text, re.S)
    assert notice is not None
    assert f"the first bad entry is #{entry.index}" in notice[1]
    assert "Verified:" not in answer.text


def test_an_armorer_exports_a_bundle_that_verifies_and_names_her_in_the_ledger(
    site: Site,
) -> None:
    size = site.size()
    assert EXPORT_FORM in site.get("ana", "/b/demo/ledger").text
    answer = site.post("ana", "/b/demo/ledger/export", {"case": ""})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/zip"
    assert answer.headers["content-disposition"] == f'attachment; filename="demo-{size + 1}.zip"'
    report = verify_bundle(io.BytesIO(answer.content), trusted=site.armory.ledger.verifier)
    assert report.book == "demo"
    assert report.size == size + 1
    assert not report.key_from_bundle
    # The export was recorded first, so the bundle holds its own record as its last entry.
    exported = site.last_entry()
    assert site.size() == size + 1
    assert exported.type == "bundle_exported"
    assert exported.actor == "ana"
    assert exported.data["case"] is None
    with zipfile.ZipFile(io.BytesIO(answer.content)) as bundle:
        lines = bundle.read("entries.jsonl").decode().splitlines()
    assert json.loads(lines[-1])["type"] == "bundle_exported"


def test_an_investigators_export_for_a_case_is_recorded_against_the_case(site: Site) -> None:
    opened = site.armory.commands.execute(
        "demo",
        "sue",
        {"type": "open_case", "case": "C-7", "agency": "County Sheriff", "officer": "Det. Ray"},
    )
    assert opened.ok, opened
    page = site.get("ivy", "/b/demo/ledger").text
    assert '<label for="export-case">' in page
    assert '<option value="C-7">' in page
    answer = site.post("ivy", "/b/demo/ledger/export", {"case": "C-7"})
    assert answer.status_code == 200
    exported = site.last_entry()
    assert (exported.type, exported.actor, exported.data["case"]) == (
        "bundle_exported",
        "ivy",
        "C-7",
    )
    assert site.state().cases["C-7"].exports == (exported.index,)


def test_an_export_for_a_case_the_book_does_not_have_records_nothing(site: Site) -> None:
    size = site.size()
    answer = site.post("ivy", "/b/demo/ledger/export", {"case": "NO-SUCH"})
    assert answer.status_code == 404
    assert site.size() == size


def test_crew_is_not_offered_the_export_and_cannot_post_it(site: Site) -> None:
    page = site.get("cal", "/b/demo/ledger").text
    assert EXPORT_FORM not in page
    assert "export-case" not in page
    size = site.size()
    answer = site.post("cal", "/b/demo/ledger/export", {"case": ""})
    assert answer.status_code == 403
    assert "application/zip" not in answer.headers["content-type"]
    assert site.size() == size


def test_ledger_forms_without_the_sessions_csrf_token_are_refused(site: Site) -> None:
    client = site.browser("ana")
    size = site.size()
    for action in ("verify", "export"):
        answer = client.post(f"/b/demo/ledger/{action}", data={"case": ""})
        assert answer.status_code == 403, action
        answer = client.post(f"/b/demo/ledger/{action}", data={"csrf": "0" * 40})
        assert answer.status_code == 403, action
    assert site.size() == size
