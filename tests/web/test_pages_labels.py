"""The printable sheet of QR labels: one per firearm and box, each holding its item's code."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import segno

from armory.entrypoints.web import app as web_app
from tests.web.conftest import Site

LABEL = re.compile(
    r'<section class="label"[^>]*>\s*(<svg\b.*?</svg>)\s*<p class="id"[^>]*>([^<]+)</p>', re.DOTALL
)
QUIET_ZONE = 4
JSQR = Path(web_app.__file__).parent / "static" / "vendor" / "jsqr" / "jsQR.js"


def labels_on(page: str) -> dict[str, str]:
    """Each label's SVG, by the id printed under it."""
    return {item: svg for svg, item in LABEL.findall(page)}


def dark_modules(svg: str) -> tuple[int, set[tuple[int, int]]]:
    """The side of the drawn symbol in modules (quiet zone included) and its dark modules as
    (row, column), read back from the path: `M x y` and `m dx dy` move, `h n` draws n modules
    along the row whose middle is at y."""
    viewbox = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    background = re.search(r'<path fill="#fff" d="([^"]+)"', svg)
    path = re.search(r'<path\b[^>]*\bstroke="#000"[^>]*\sd="([^"]+)"', svg)
    assert viewbox is not None
    assert path is not None
    assert viewbox[1] == viewbox[2]
    assert background is not None  # white under the whole symbol, quiet zone included
    assert background[1] == f"M0 0h{viewbox[1]}v{viewbox[1]}h-{viewbox[1]}z"
    x = y = 0.0
    dark: set[tuple[int, int]] = set()
    for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?:\s(-?[\d.]+))?", path[1]):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            dark.update((int(y), int(x) + n) for n in range(int(float(a))))
            x += float(a)
    return int(viewbox[1]), dark


def expected_modules(payload: str) -> set[tuple[int, int]]:
    """The dark modules of the full QR code of `payload`, placed inside its quiet zone."""
    matrix = segno.make(payload, error="m", micro=False).matrix
    return {
        (row + QUIET_ZONE, column + QUIET_ZONE)
        for row, line in enumerate(matrix)
        for column, value in enumerate(line)
        if value
    }


def test_the_sheet_has_one_qr_label_per_firearm_and_box(site: Site) -> None:
    answer = site.get("ana", "/b/demo/labels")
    assert answer.status_code == 200
    labels = labels_on(answer.text)
    assert sorted(labels) == ["B1", "D1", "D2", "P1", "R1", "X1"]
    assert answer.text.count("<svg") == 6
    assert "Serial PT-1873-0421" in answer.text  # what the firearm is
    assert "45 ACP HALF-LOAD BLANKS" in answer.text  # what the box is
    assert "your browser's Print" in answer.text  # the print hint; no script needed


def test_each_qr_code_holds_its_items_address_module_for_module(site: Site) -> None:
    labels = labels_on(site.get("cal", "/b/demo/labels").text)
    for item, svg in labels.items():
        side, dark = dark_modules(svg)
        expected = expected_modules(f"armory:demo:{item}")
        assert side == len(segno.make(f"armory:demo:{item}", error="m", micro=False).matrix) + 8
        assert dark == expected, item
        # Edges on whole pixels: smoothed seams between the rows defeat jsQR at some scales.
        assert 'shape-rendering="crispEdges"' in svg, item
        # And not merely some code: another item's payload draws other modules.
        assert dark != expected_modules(f"armory:demo:{item}X"), item


@pytest.mark.skipif(
    shutil.which("node") is None, reason="node is not installed, so jsQR cannot run here"
)
def test_the_scanners_own_decoder_reads_each_label_back(site: Site) -> None:
    labels = labels_on(site.get("cal", "/b/demo/labels").text)
    drawn = {}
    for item, svg in labels.items():
        side, dark = dark_modules(svg)
        drawn[item] = {"side": side, "dark": sorted(dark)}
    # The SVG drawn as pixels, four to a module on white, as a camera sees a printed label.
    script = """
const jsQR = require(process.argv[1]);
const labels = JSON.parse(require("fs").readFileSync(0, "utf8"));
const read = {};
for (const [item, label] of Object.entries(labels)) {
  const scale = 4, width = label.side * scale;
  const pixels = new Uint8ClampedArray(width * width * 4).fill(255);
  for (const [row, column] of label.dark) {
    for (let dy = 0; dy < scale; dy++) for (let dx = 0; dx < scale; dx++) {
      const at = ((row * scale + dy) * width + column * scale + dx) * 4;
      pixels[at] = pixels[at + 1] = pixels[at + 2] = 0;
    }
  }
  const code = jsQR(pixels, width, width);
  read[item] = code ? code.data : null;
}
process.stdout.write(JSON.stringify(read));
"""
    node = shutil.which("node")
    assert node is not None
    ran = subprocess.run(
        [node, "-e", script, str(JSQR)],
        input=json.dumps(drawn),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(ran.stdout) == {item: f"armory:demo:{item}" for item in labels}


def test_a_labels_code_opens_its_item_from_the_scan_page(site: Site) -> None:
    for item, where in (("R1", "/b/demo/firearms/R1"), ("B1", "/b/demo/boxes/B1")):
        answer = site.get("cal", f"/b/demo/items?code=armory:demo:{item}")
        assert answer.headers["location"] == where


def test_the_sheet_carries_nothing_the_content_security_policy_blocks(site: Site) -> None:
    page = site.get("ana", "/b/demo/labels").text
    assert not re.search(r"\sstyle=", page)
    assert "<style" not in page
    assert all("src=" in tag for tag in re.findall(r"<script\b[^>]*>", page))
    assert not re.search(r"\son[a-z]+=", page)


def test_one_items_label_alone(site: Site) -> None:
    answer = site.get("ana", "/b/demo/labels?item=R1")
    assert answer.status_code == 200
    assert list(labels_on(answer.text)) == ["R1"]
    assert site.get("ana", "/b/demo/labels?item=Z9").status_code == 404


def test_anyone_who_reads_the_book_can_print_its_labels_and_no_one_else(site: Site) -> None:
    assert site.get("cal", "/b/demo/labels").status_code == 200
    assert site.get("ivy", "/b/rental/labels").status_code == 200
    assert site.get("rita", "/b/demo/labels").status_code == 403
