"""The fake camera's video: a Y4M file Chromium can play, showing exactly segno's QR code.

Read back from the bytes alone (the header, the frame markers and the luma plane), without the
module that wrote it, so a mistake there cannot hide itself here.
"""

from __future__ import annotations

from pathlib import Path

import segno

from tests.browser.camera import write_qr_video

TEXT = "armory:demo/R1"


def read_y4m(path: Path) -> tuple[dict[str, str], list[bytes]]:
    """The header's fields by their letter, and each frame's planes as one byte string."""
    data = path.read_bytes()
    header, _newline, rest = data.partition(b"\n")
    magic, *tokens = header.decode("ascii").split(" ")
    assert magic == "YUV4MPEG2"
    fields = {token[0]: token[1:] for token in tokens}
    width, height = int(fields["W"]), int(fields["H"])
    frame_size = width * height + 2 * (width // 2) * (height // 2)
    frames = []
    while rest:
        marker, _newline, rest = rest.partition(b"\n")
        assert marker == b"FRAME"
        assert len(rest) >= frame_size, "the last frame is cut short"
        frames.append(rest[:frame_size])
        rest = rest[frame_size:]
    return fields, frames


def test_the_video_is_640_by_480_in_4_2_0_at_10_frames_a_second(tmp_path: Path) -> None:
    fields, frames = read_y4m(write_qr_video(tmp_path / "qr.y4m", TEXT))
    assert fields["W"] == "640"
    assert fields["H"] == "480"
    assert fields["F"] == "10:1"
    assert fields["C"] in {"420jpeg", "420"}
    assert len(frames) == 30
    assert all(len(frame) == 640 * 480 * 3 // 2 for frame in frames)
    assert len(set(frames)) == 1, "every frame is the same picture"
    chroma = frames[0][640 * 480 :]
    assert set(chroma) == {128}, "black and white only: no colour in the chroma planes"


def test_the_first_frame_shows_segnos_qr_code_module_for_module(tmp_path: Path) -> None:
    _fields, frames = read_y4m(write_qr_video(tmp_path / "qr.y4m", TEXT))
    luma = frames[0][: 640 * 480]
    expected = segno.make(TEXT, error="m", micro=False).matrix
    size = len(expected)

    # The symbol's corners are finder patterns, all dark: the dark pixels' bounding box is the
    # symbol, and its width over the number of modules is the module's size in pixels.
    dark = [(i % 640, i // 640) for i, value in enumerate(luma) if value < 128]
    left, top = min(x for x, _y in dark), min(y for _x, y in dark)
    right, bottom = max(x for x, _y in dark) + 1, max(y for _x, y in dark) + 1
    assert right - left == bottom - top, "the modules are square"
    module = (right - left) // size
    assert module * size == right - left, "every module is a whole number of pixels"

    quiet = 4 * module
    margins = {"left": left, "top": top, "right": 640 - right, "bottom": 480 - bottom}
    assert all(margin >= quiet for margin in margins.values()), f"quiet zone too thin: {margins}"
    assert (right - left) + 2 * quiet >= 0.8 * 480, "the code fills most of the frame"

    seen = tuple(
        bytearray(
            int(
                luma[
                    (top + row * module + module // 2) * 640 + left + column * module + module // 2
                ]
                < 128
            )
            for column in range(size)
        )
        for row in range(size)
    )
    assert seen == expected


def test_a_short_text_is_a_full_qr_code_never_a_micro_one(tmp_path: Path) -> None:
    # segno.make picks a Micro QR code for a short text by default; scanners such as jsQR do not
    # read those, so a board label like "R1" must still come out as a 21-module version 1 code.
    _fields, frames = read_y4m(write_qr_video(tmp_path / "qr.y4m", "R1", frames=1))
    assert len(frames) == 1
    luma = frames[0][: 640 * 480]
    dark = [i for i, value in enumerate(luma) if value < 128]
    top_row = dark[0] // 640
    row = luma[top_row * 640 : (top_row + 1) * 640]
    left = dark[0] % 640
    # The top-left finder pattern's first row is 7 dark modules, then a light one.
    finder = len(row[left:]) - len(row[left:].lstrip(bytes(range(128))))
    module = finder // 7
    width = max(i % 640 for i in dark) - left + 1
    assert finder == 7 * module
    assert width == 21 * module
