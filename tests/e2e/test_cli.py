"""The `armory` command as a user runs it: the README session, its errors, concurrent appenders."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from armory.entrypoints.cli.main import DO_BATCH
from armory.ledger import merkle
from armory.ledger.note import SignerKey
from tests.e2e.conftest import (
    NODE_NAME,
    ArmoryForks,
    ArmoryNode,
    armory_command,
    assert_clean_stderr,
    base_environment,
    one_line,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
STANDALONE_VERIFIER = REPO_ROOT / "tools" / "verify_bundle.py"

RECEIVED = {"type": "note", "data": {"text": "45 LC dummies received"}}
INSPECTED = {"type": "note", "data": {"text": "revolver R-1 inspected"}}
FILE_LINES = [
    {"type": "check_out", "data": {"item": "R-1", "to": "performer P-3"}},
    {"type": "check_in", "data": {"item": "R-1", "from": "performer P-3"}},
    {"type": "note", "data": {"text": "R-1 cleaned", "rounds": 0}},
]


def jsonl(values: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(value) + "\n" for value in values)


def leaf(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def bundle_entries(path: Path) -> list[bytes]:
    with zipfile.ZipFile(path) as zf:
        return zf.read("entries.jsonl").splitlines()


def test_the_readme_session_works_end_to_end(fresh_node: ArmoryNode, tmp_path: Path) -> None:
    node = fresh_node
    init = node("init", "--node-name", NODE_NAME)
    assert f"Armory node {NODE_NAME} ready in {node.data_dir}" in init.stdout
    init_key = init.stdout.split("verifier key: ", 1)[1].strip()

    created = node("book", "create", "demo", "--kind", "production", "--name", "Demo")
    assert created.stdout.strip() == "book demo created (production); checkpoint size 1"

    from_stdin = node("append", "demo", "--as", "ana", input=jsonl([RECEIVED, INSPECTED]))
    first = json.loads(from_stdin.stdout)
    assert (first["appended"], first["size"]) == (2, 3)

    import_file = tmp_path / "import.jsonl"
    # A blank line in an import is skipped, not an error.
    import_file.write_text(jsonl(FILE_LINES[:1]) + "\n" + jsonl(FILE_LINES[1:]), encoding="utf-8")
    from_file = node("append", "demo", str(import_file), "--as", "ben")
    second = json.loads(from_file.stdout)
    assert (second["appended"], second["size"]) == (3, 6)

    note = node("checkpoint", "demo").stdout
    body, signature = note.split("\n\n")
    origin, size, root_b64 = body.split("\n")
    assert (origin, size) == (f"{NODE_NAME}/demo", "6")
    root = base64.b64decode(root_b64)
    assert root.hex() == second["root"]
    assert signature.startswith(f"\u2014 {NODE_NAME} ")

    inclusion = [
        base64.b64decode(line) for line in node("proof", "inclusion", "demo", "2").stdout.split()
    ]
    consistency = [
        base64.b64decode(line) for line in node("proof", "consistency", "demo", "1").stdout.split()
    ]

    bundle = tmp_path / "demo.zip"
    exported = node("export", "demo", "-o", str(bundle), "--case", "CASE-1")
    assert exported.stdout.strip() == f"wrote {bundle}: 7 entries of book demo"
    assert not bundle.with_name("demo.zip.partial").exists()
    with zipfile.ZipFile(bundle) as zf:
        assert {"checkpoint", "log.vkey", "entries.jsonl", "leaves", "README.txt"} <= set(
            zf.namelist()
        )
        bundled_key = zf.read("log.vkey").decode().strip()
    entries = bundle_entries(bundle)
    decoded = [json.loads(entry) for entry in entries]
    assert [entry["index"] for entry in decoded] == list(range(7))
    assert [entry["actor"] for entry in decoded[1:6]] == ["ana"] * 2 + ["ben"] * 3
    sent = [RECEIVED, INSPECTED, *FILE_LINES]
    assert [{"type": e["type"], "data": e["data"]} for e in decoded[1:6]] == sent
    assert decoded[6]["type"] == "bundle_exported"
    assert decoded[6]["data"] == {"case": "CASE-1", "format": "armory-bundle-1"}

    # The proofs printed before the export hold for the entries the bundle carries.
    leaves = [leaf(entry) for entry in entries]
    merkle.verify_inclusion(leaves[2], 2, 6, inclusion, root)
    merkle.verify_consistency(1, 6, merkle.root_of(leaves[:1]), root, consistency)
    assert merkle.root_of(leaves[:6]) == root

    vkey = tmp_path / "node.vkey"
    vkey.write_text(node("key").stdout, encoding="utf-8")
    assert vkey.read_text().strip() == init_key == bundled_key

    pinned = node("verify", str(bundle), "--key", str(vkey))
    assert pinned.stdout.startswith("OK: 7 entries of book demo, root ")
    assert pinned.stdout.strip().endswith(f"signed by {NODE_NAME}")
    assert pinned.stderr == ""

    unpinned = node("verify", str(bundle))
    assert unpinned.stdout.startswith("OK: 7 entries of book demo")
    assert "warning: checked with the key inside the bundle" in unpinned.stderr

    stranger = SignerKey(name=NODE_NAME, seed=bytes(range(32))).verifier().to_text()
    wrong_key = node("verify", str(bundle), "--key", stranger, check=False)
    assert wrong_key.returncode == 1
    assert wrong_key.stdout == ""
    assert one_line(wrong_key.stderr).startswith("FAIL: the bundle's log.vkey is not the key")

    live = node("verify", "--book", "demo").stdout.strip()
    assert live.startswith("OK: book demo: 7 entries, root ")
    live_root = live.split("root ", 1)[1].split(",", 1)[0]
    assert live.endswith("kept checkpoints match")

    listed = node("book", "list").stdout.splitlines()
    assert listed == [f"demo\tproduction\t7\t{live_root}\tDemo"]

    standalone = subprocess.run(
        [sys.executable, str(STANDALONE_VERIFIER), str(bundle), "--key", str(vkey)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert standalone.returncode == 0, standalone.stderr
    assert standalone.stdout.startswith(f"OK: 7 entries of book demo, root {live_root}")


def test_errors_are_one_line_and_change_nothing(armory: ArmoryNode, tmp_path: Path) -> None:
    unknown = armory("append", "nope", "--as", "ana", input=jsonl([RECEIVED]), check=False)
    assert unknown.returncode == 1
    assert one_line(unknown.stderr) == (
        "armory: book 'nope' does not exist: `armory book create` makes one"
    )

    armory("book", "create", "demo", "--kind", "production", "--name", "Demo")
    duplicate = armory("book", "create", "demo", "--kind", "supplier", "--name", "X", check=False)
    assert duplicate.returncode == 1
    assert one_line(duplicate.stderr) == "armory: book 'demo' already exists"

    malformed = jsonl([RECEIVED]) + '{"type": "note", "data": \n' + jsonl([INSPECTED])
    refused = armory("append", "demo", "--as", "ana", input=malformed, check=False)
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert one_line(refused.stderr).startswith("armory: line 2 is not JSON")

    not_an_entry = armory("append", "demo", "--as", "ana", input='["note"]\n', check=False)
    assert not_an_entry.returncode == 1
    assert (
        one_line(not_an_entry.stderr) == 'armory: line 1 needs a "type" string and a "data" object'
    )

    missing_book = armory("verify", "--book", "nope", check=False)
    assert missing_book.returncode == 1
    assert one_line(missing_book.stderr).startswith("armory: book 'nope' does not exist")

    missing_file = armory(
        "append", "demo", str(tmp_path / "absent.jsonl"), "--as", "x", check=False
    )
    assert missing_file.returncode == 1
    assert one_line(missing_file.stderr) == f"armory: no file {tmp_path / 'absent.jsonl'}"

    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes('{"type": "note", "data": {"text": "caf\u00e9"}}\n'.encode("latin-1"))
    not_utf8 = armory("append", "demo", str(latin1), "--as", "ana", check=False)
    assert not_utf8.returncode == 1
    assert one_line(not_utf8.stderr) == f"armory: {latin1} is not UTF-8 text"

    threads = armory("serve", "--threads", "0", check=False)
    assert threads.returncode == 1
    assert one_line(threads.stderr) == "armory: --threads must be between 1 and 64"
    processes = armory("serve", "--processes", "0", check=False)
    assert processes.returncode == 1
    assert one_line(processes.stderr) == "armory: --processes must be between 1 and 16"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = armory("serve", "--processes", "2", "--port", str(port), check=False)
    assert busy.returncode == 1
    assert one_line(busy.stderr) == (
        f"armory: cannot listen on 127.0.0.1:{port}: Address already in use; choose another --port"
    )

    # No refused import appended anything: the book still holds only its creation, and
    # the kind of the refused duplicate did not replace the original's.
    assert armory("book", "list").stdout.split("\t")[:3] == ["demo", "production", "1"]
    checked = armory("verify", "--book", "demo")
    assert checked.stdout.startswith("OK: book demo: 1 entries")


def run_plain(forks: ArmoryForks, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`armory ARGS` with no database configured, for what needs none."""
    env = base_environment()
    env["ARMORY_DATA_DIR"] = str(tmp_path / "unused")
    result = forks.run(args, env)
    assert_clean_stderr(args, result.stderr)
    return result


def test_help_lists_the_commands_and_usage_errors_need_no_database(
    armory_forks: ArmoryForks, tmp_path: Path
) -> None:
    # The installed script itself, from a directory of its own.
    helped = subprocess.run(
        [*armory_command(), "--help"],
        cwd=tmp_path,
        env=base_environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert helped.returncode == 0, helped.stderr
    assert helped.stderr == ""
    for command in ("init", "book", "key", "append", "checkpoint", "proof", "export", "verify"):
        assert f" {command} " in helped.stdout, f"--help does not list {command}"

    neither = run_plain(armory_forks, tmp_path, "verify")
    assert neither.returncode == 1
    assert one_line(neither.stderr) == "armory: give a bundle file or --book BOOK (one of them)"

    both = run_plain(armory_forks, tmp_path, "verify", "x.zip", "--book", "demo")
    assert both.returncode == 1
    assert one_line(both.stderr) == "armory: give a bundle file or --book BOOK (one of them)"

    absent = run_plain(armory_forks, tmp_path, "verify", "absent.zip")
    assert absent.returncode == 1
    assert one_line(absent.stderr) == "armory: no bundle at absent.zip"

    not_a_zip = tmp_path / "notes.zip"
    not_a_zip.write_text("these are not the droids\n", encoding="utf-8")
    garbage = run_plain(armory_forks, tmp_path, "verify", str(not_a_zip))
    assert garbage.returncode == 1
    assert one_line(garbage.stderr).startswith("FAIL: ")
    assert "zip" in garbage.stderr
    assert not (tmp_path / "unused").exists(), "a command that needs no data created some"


def test_a_usage_error_is_reported_as_one_and_exits_2(
    armory_forks: ArmoryForks, tmp_path: Path
) -> None:
    unknown = run_plain(armory_forks, tmp_path, "frobnicate")
    missing_option = run_plain(armory_forks, tmp_path, "book", "create", "demo", "--name", "Demo")
    for result, problem in ((unknown, "No such command"), (missing_option, "Missing option")):
        assert problem in result.stderr
        assert "unexpected error" not in result.stderr
        assert result.returncode == 2


def read_book(database_url: str, book: str) -> list[tuple[int, bytes]]:
    """Every (index, body) of a book, read straight from the database."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT idx, body FROM entry_rows WHERE book = :book ORDER BY idx"),
                {"book": book},
            ).all()
    finally:
        engine.dispose()
    return [(int(row.idx), bytes(row.body)) for row in rows]


def test_two_processes_appending_to_one_book_lose_and_duplicate_nothing(
    armory: ArmoryNode,
) -> None:
    armory("book", "create", "demo", "--kind", "production", "--name", "Demo")
    per_writer = 100
    actors = ["w1", "w2"]
    feeds = {
        actor: [
            jsonl([{"type": "note", "data": {"by": actor, "seq": n}}]) for n in range(per_writer)
        ]
        for actor in actors
    }
    processes = {
        actor: armory.popen("append", "demo", "-", "--each", "--as", actor) for actor in actors
    }
    printed: dict[str, list[int]] = {actor: [] for actor in actors}
    # Both processes are up and have appended once before either gets the rest of its lines.
    for actor, process in processes.items():
        assert process.stdin is not None
        process.stdin.write(feeds[actor][0])
        process.stdin.flush()
    for actor, process in processes.items():
        assert process.stdout is not None
        printed[actor].append(int(process.stdout.readline()))

    def finish(actor: str) -> tuple[str, str]:
        return processes[actor].communicate("".join(feeds[actor][1:]), timeout=300)

    with ThreadPoolExecutor(2) as pool:
        outputs = dict(zip(actors, pool.map(finish, actors), strict=True))
    for actor, (stdout, stderr) in outputs.items():
        assert processes[actor].returncode == 0, stderr
        assert stderr == ""
        printed[actor] += [int(line) for line in stdout.split()]
        assert len(printed[actor]) == per_writer
        assert printed[actor] == sorted(printed[actor]), f"{actor}'s indices went backwards"
    assert sorted(printed["w1"] + printed["w2"]) == list(range(1, 2 * per_writer + 1))

    rows = read_book(armory.database_url, "demo")
    assert [index for index, _body in rows] == list(range(2 * per_writer + 1))
    for actor, indices in printed.items():
        for seq, index in enumerate(indices):
            entry = json.loads(rows[index][1])
            assert (entry["index"], entry["actor"]) == (index, actor)
            assert entry["data"] == {"by": actor, "seq": seq}

    verified = armory("verify", "--book", "demo")
    assert verified.stdout.startswith(f"OK: book demo: {2 * per_writer + 1} entries")
    interleaved = sum(
        1 for a, b in pairwise(rows[1:]) if json.loads(a[1])["actor"] != json.loads(b[1])["actor"]
    )
    print(f"the two writers' entries alternate {interleaved} times in the book")


def test_do_answers_every_line_and_exits_1_when_one_was_malformed(armory: ArmoryNode) -> None:
    armory("user", "add", "root", "--name", "Root", "--password", "long enough", "--pin", "9999",
           "--admin")  # fmt: skip
    armory("book", "create", "film", "--kind", "production", "--name", "Film")
    enrol = '{"type": "enroll_person", "person": "%s", "name": "%s", "roles": ["armorer"]}\n'
    lines = [
        enrol % ("kim", "Kim"),
        '{"type": "enroll_person", "person": "sam", "name": NaN, "roles": ["armorer"]}\n',
        '{"type": "enroll_person", "person": "lee"\n',
        '{"type": "no_such_command"}\n',
        enrol % ("ana", "Ana"),
    ]
    done = armory("do", "film", "--as", "root", "-", input="".join(lines), check=False)
    assert done.returncode == 1, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [answer["ok"] for answer in answers] == [True, False, False, False, True]
    assert answers[1]["error"].startswith("line 2 is not JSON")
    assert answers[2]["error"].startswith("line 3 is not JSON")
    assert answers[3]["error"].startswith("line 4")
    assert answers[4]["events"][0]["index"] == answers[0]["events"][0]["index"] + 1
    # The book holds its creation and the two enrolments: nothing of the malformed lines.
    assert "book film: 3 entries" in armory("verify", "--book", "film").stdout


def test_do_reads_a_long_file_ahead_and_answers_as_it_would_one_group_at_a_time(
    armory: ArmoryNode, tmp_path: Path
) -> None:
    """Groups of a file are read ahead of the one decided (their new PINs hashed meanwhile):
    PINs first met far into the file are still checked in order, and a file that cannot be
    read to its end still runs and answers every whole group read before the failure."""
    for user, pin in (("root", "9999"), ("ana", "1111"), ("dan", "2222"), ("eva", "5555")):
        armory("user", "add", user, "--name", user.title(), "--password", "long enough",
               "--pin", pin, *(["--admin"] if user == "root" else []))  # fmt: skip
    armory("book", "create", "film", "--kind", "production", "--name", "Film")
    crew = tmp_path / "crew.jsonl"
    crew.write_text(
        "".join(
            json.dumps({"type": "enroll_person", "person": p, "name": p.title(), "roles": [r]})
            + "\n"
            for p, r in (("ana", "armorer"), ("dan", "first_ad"), ("eva", "first_ad"))
        ),
        encoding="utf-8",
    )
    armory("do", "film", "--as", "root", str(crew))

    approvals = {1600: ("eva", "5555"), 2100: ("eva", "5550"), 2101: ("eva", "5555")}
    scenes = []
    for line in range(1, 2701):
        person, pin = approvals.get(line, ("dan", "2222"))
        scene: dict[str, Any] = {
            "type": "plan_scene", "scene": f"S{line}", "date": "2024-06-10", "title": "Take",
            "firearms": [], "performers": [], "blanks": None, "muzzle_toward_person": False,
            "approved_by": {"person": person, "pin": pin},
        }  # fmt: skip
        scenes.append(json.dumps(scene) + "\n")
    shoot = tmp_path / "shoot.jsonl"
    # Line 2,701 is not UTF-8: reading stops in the sixth group of 500 lines.
    shoot.write_bytes("".join(scenes).encode() + '{"title": "caf\u00e9"}\n'.encode("latin-1"))
    done = armory("do", "film", "--as", "ana", str(shoot), check=False)

    assert done.returncode == 1
    assert one_line(done.stderr) == f"armory: {shoot} is not UTF-8 text"
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(answers) == 2500  # five whole groups
    refused = {n: a for n, a in enumerate(answers, start=1) if not a["ok"]}
    assert list(refused) == [2100]
    assert refused[2100]["rule"] == "PIN_INVALID"
    for number, answer in enumerate(answers, start=1):
        index = 3 + number  # the book's creation and the three enrolments come first
        if number in refused:
            assert answer["index"] == index
        else:
            assert answer["events"] == [{"index": index, "type": "scene_planned"}]
    verified = armory("verify", "--book", "film")
    assert verified.stdout.startswith("OK: book film: 2504 entries")


def test_do_from_stdin_answers_each_whole_group_before_more_is_written(
    armory: ArmoryNode,
) -> None:
    """A file is read ahead of the group decided; stdin is not: whoever writes it may be
    waiting for a group's answers before writing more."""
    armory("user", "add", "root", "--name", "Root", "--password", "long enough", "--pin", "9999",
           "--admin")  # fmt: skip
    armory("book", "create", "film", "--kind", "production", "--name", "Film")
    enrol = '{"type": "enroll_person", "person": "p%d", "name": "P", "roles": ["performer"]}\n'
    process = armory.popen("do", "film", "--as", "root", "-")
    assert process.stdin is not None
    assert process.stdout is not None
    stdout = process.stdout
    reader = ThreadPoolExecutor(1)
    try:
        process.stdin.write("".join(enrol % n for n in range(DO_BATCH)))
        process.stdin.flush()
        first = reader.submit(lambda: [stdout.readline() for _ in range(DO_BATCH)])
        answers = first.result(timeout=60)  # with stdin still open
        assert [json.loads(line)["ok"] for line in answers] == [True] * DO_BATCH
        rest, errors = process.communicate(enrol % DO_BATCH, timeout=60)
    finally:
        process.kill()  # a process still waiting for input ends, and the reader with it
        process.wait()
        reader.shutdown()
    assert process.returncode == 0, errors
    assert json.loads(rest)["events"] == [{"index": DO_BATCH + 1, "type": "person_enrolled"}]
