"""`armory backup`: a consistent copy of the SQLite database that verifies on its own."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import ArmoryForks, ArmoryNode


def test_a_backup_is_a_database_that_verifies_by_itself(
    sqlite_url: str, tmp_path: Path, armory_forks: ArmoryForks
) -> None:
    node = ArmoryNode(tmp_path / "data", sqlite_url, armory_forks)
    node("init")
    node("book", "create", "demo", "--kind", "production", "--name", "Demo")
    lines = "\n".join(json.dumps({"type": "note", "data": {"n": n}}) for n in range(20))
    node("append", "demo", "--as", "ana", input=lines + "\n")
    copy = tmp_path / "copy.db"
    assert node("backup", str(copy)).stdout.strip() == f"wrote {copy}"
    restored = ArmoryNode(tmp_path / "data", f"sqlite:///{copy}", armory_forks)
    assert "21 entries" in restored("verify", "--book", "demo").stdout


def test_a_backup_never_overwrites_a_file(
    sqlite_url: str, tmp_path: Path, armory_forks: ArmoryForks
) -> None:
    node = ArmoryNode(tmp_path / "data", sqlite_url, armory_forks)
    node("init")
    existing = tmp_path / "existing.db"
    existing.write_bytes(b"precious")
    failed = node("backup", str(existing), check=False)
    assert failed.returncode == 1
    assert "already exists" in failed.stderr
    assert existing.read_bytes() == b"precious"
