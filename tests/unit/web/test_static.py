"""The browser libraries the pages load are the pinned, unchanged copies the vendor table names,
and every script and stylesheet a template asks for is served by the app itself."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

WEB = Path(__file__).resolve().parents[3] / "src" / "armory" / "entrypoints" / "web"
VENDOR = WEB / "static" / "vendor"
ROW = re.compile(r"^\| `(?P<file>[^`]+)` \|.*\| `(?P<sha>[0-9a-f]{64})` \|$")


def pinned() -> dict[str, str]:
    rows = (ROW.match(line) for line in (VENDOR / "README.md").read_text().splitlines())
    return {row["file"]: row["sha"] for row in rows if row}


def test_the_vendor_table_names_htmx_and_jsqr() -> None:
    assert set(pinned()) == {"htmx/htmx.min.js", "jsqr/jsQR.js"}


def test_each_vendored_library_matches_its_pinned_sha256() -> None:
    for name, sha in pinned().items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == sha, name


def test_each_vendored_library_keeps_its_licence_beside_it() -> None:
    for name in pinned():
        assert (VENDOR / name).parent.joinpath("LICENSE").is_file(), name


def test_htmx_is_the_2_0_line_the_pages_are_written_for() -> None:
    assert 'version:"2.0.' in (VENDOR / "htmx" / "htmx.min.js").read_text()


def test_templates_load_scripts_and_styles_only_from_the_apps_static_files() -> None:
    for template in (WEB / "templates").rglob("*.html"):
        text = template.read_text()
        for url in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', text):
            assert url.startswith("/static/") or url.startswith("data:"), (template.name, url)
            if url.startswith("/static/"):
                assert (WEB / url.removeprefix("/")).is_file(), (template.name, url)
        assert "<script>" not in text, template.name
        assert "<style" not in text, template.name
        assert ' style="' not in text, template.name
