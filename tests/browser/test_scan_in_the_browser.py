"""Scanning a printed label with the phone's camera, in real Chromium with a fake camera.

The label is the one the labels sheet prints: the test photographs the sheet's label of the
revolver R1 (a screenshot of it, as Chromium renders it for print) and plays that picture as
the camera. The scan page decodes it with the vendored jsQR and opens the revolver's page; the
typed code is the fallback when there is no camera.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserType, Page, expect

from tests.browser.camera import camera_args, write_picture_video
from tests.browser.conftest import PHONE, Server, Shot, sign_in

pytestmark = pytest.mark.timeout(180)
SCAN_TIMEOUT = 15_000  # ms: the page tries a frame several times a second


@pytest.fixture
def label_picture(page: Page, shot: Shot) -> bytes:
    """The printed label of R1, photographed: the labels sheet's label, as a PNG."""
    sign_in(page, "ana")
    page.goto("/b/demo/labels?item=R1")
    label = page.locator("section.label").first
    expect(label).to_contain_text("R1")
    shot(page, "label-of-R1", full_page=False)
    picture: bytes = label.locator("svg").screenshot()
    return picture


@pytest.fixture
def camera_browser(
    browser_type: BrowserType,
    browser_type_launch_args: dict[str, Any],
    label_picture: bytes,
    tmp_path: Path,
) -> Iterator[Browser]:
    """A Chromium whose camera shows the printed label of R1."""
    video = write_picture_video(tmp_path / "label.y4m", label_picture)
    args = [*browser_type_launch_args["args"], *camera_args(video)]
    browser = browser_type.launch(**{**browser_type_launch_args, "args": args})
    yield browser
    browser.close()


def test_scanning_the_printed_label_with_the_camera_opens_the_revolver(
    camera_browser: Browser, server: Server, shot: Shot
) -> None:
    context = camera_browser.new_context(**PHONE, base_url=server.url)
    context.grant_permissions(["camera"], origin=server.url)
    page = context.new_page()
    sign_in(page, "ana")
    page.goto("/b/demo/scan")
    shot(page, "scan")
    expect(page).to_have_url(f"{server.url}/b/demo/firearms/R1", timeout=SCAN_TIMEOUT)
    expect(page.get_by_role("heading", level=1)).to_contain_text("R1")
    shot(page, "scanned-R1")
    context.close()


def test_without_a_camera_the_code_can_be_typed(page: Page) -> None:
    sign_in(page, "ana")
    page.goto("/b/demo/scan")
    page.get_by_label("Code on the label").fill("D1")
    page.get_by_label("Code on the label").press("Enter")
    expect(page).to_have_url(re.compile(r"/b/demo/boxes/D1$"))
