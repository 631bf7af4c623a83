"""A fake camera for Chromium: a Y4M video that shows one QR code, to test scanning without one.

Chromium plays the file as its camera when started with `--use-fake-ui-for-media-stream
--use-fake-device-for-media-stream --use-file-for-fake-video-capture=/abs/path/file.y4m`
(`camera_args`). Every frame is the same picture, so whichever frame a scanner grabs, it sees
the code whole and still.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import segno

WIDTH = 640
HEIGHT = 480
FPS = 10
FRAMES = 30
QUIET_ZONE = 4  # modules of white around the code, as ISO/IEC 18004 asks of a printed code
FILL = 0.9  # the share of the frame's shorter side the code and its quiet zone take up
# Video-range luma (BT.601), which is how Chromium reads a Y4M frame into a picture: 16 is
# black, 235 white. Chroma at 128 carries no colour.
BLACK = 16
WHITE = 235
NEUTRAL_CHROMA = 128
HEADER = f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n".encode("ascii")
FRAME_HEADER = b"FRAME\n"
LUMA_SIZE = WIDTH * HEIGHT
CHROMA_SIZE = (WIDTH // 2) * (HEIGHT // 2)
FRAME_SIZE = LUMA_SIZE + 2 * CHROMA_SIZE


@dataclass(frozen=True)
class Placement:
    """Where the code's modules are drawn in the frame: the top-left pixel of module (0, 0)
    (the quiet zone excluded) and the side of one module in pixels."""

    left: int
    top: int
    module: int
    size: int  # modules per side, without the quiet zone


def qr_matrix(text: str) -> tuple[bytearray, ...]:
    """The modules of the QR code for `text` (1 is dark), without the quiet zone.

    Always a full QR code, never a Micro QR code (which segno picks for short texts): the
    scanners a set uses, jsQR included, read only the full symbol.
    """
    matrix: tuple[bytearray, ...] = segno.make(text, error="m", micro=False).matrix
    return matrix


def placement(size: int) -> Placement:
    """The largest whole-pixel module that fits the code and its quiet zone in FILL of the
    frame's shorter side, centred."""
    module = int(min(WIDTH, HEIGHT) * FILL) // (size + 2 * QUIET_ZONE)
    if module < 1:
        raise ValueError(f"a code of {size} modules does not fit a {WIDTH}x{HEIGHT} frame")
    side = size * module
    return Placement((WIDTH - side) // 2, (HEIGHT - side) // 2, module, size)


def luma_plane(matrix: tuple[bytearray, ...]) -> bytes:
    """The luma plane of one frame: white, with the code's dark modules drawn black."""
    where = placement(len(matrix))
    plane = bytearray([WHITE]) * LUMA_SIZE
    black_run = bytes([BLACK]) * where.module
    for row_number, row in enumerate(matrix):
        for dy in range(where.module):
            y = where.top + row_number * where.module + dy
            for column, dark in enumerate(row):
                if dark:
                    x = where.left + column * where.module
                    start = y * WIDTH + x
                    plane[start : start + where.module] = black_run
    return bytes(plane)


def write_qr_video(path: Path, text: str, frames: int = FRAMES) -> Path:
    """Write a Y4M video of `frames` identical frames showing the QR code of `text`; return
    the absolute path, which is what Chromium's --use-file-for-fake-video-capture needs."""
    chroma = bytes([NEUTRAL_CHROMA]) * CHROMA_SIZE
    frame = FRAME_HEADER + luma_plane(qr_matrix(text)) + chroma + chroma
    path = path.absolute()
    with path.open("wb") as video:
        video.write(HEADER)
        for _frame in range(frames):
            video.write(frame)
    return path


def camera_args(video: Path) -> list[str]:
    """Chromium's arguments to use `video` as the camera, granting access without asking."""
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video.absolute()}",
    ]


def png_luma(png: bytes) -> tuple[int, int, bytes]:
    """(width, height, luma) of an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium's
    screenshots are): a picture of a printed label, as a camera's sensor would see it."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    chunks: dict[bytes, list[bytes]] = {}
    at = 8
    while at < len(png):
        length = int.from_bytes(png[at : at + 4], "big")
        chunk = png[at + 4 : at + 8]
        chunks.setdefault(chunk, []).append(png[at + 8 : at + 8 + length])
        at += 12 + length
    header = chunks[b"IHDR"][0]
    width, height = int.from_bytes(header[0:4], "big"), int.from_bytes(header[4:8], "big")
    depth, colour, interlace = header[8], header[9], header[12]
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}")
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks[b"IDAT"]))
    stride = width * channels
    previous = bytearray(stride)
    luma = bytearray()
    for row in range(height):
        start = row * (stride + 1)
        method, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(method, line, previous, channels)
        for x in range(0, stride, channels):
            r, g, b = line[x], line[x + 1], line[x + 2]
            luma.append((299 * r + 587 * g + 114 * b) // 1000)
        previous = line
    return width, height, bytes(luma)


def _unfilter(kind: int, line: bytearray, previous: bytearray, bpp: int) -> None:
    """Undo one scanline's PNG filter in place (PNG specification, section 9)."""
    for x in range(len(line)):
        left = line[x - bpp] if x >= bpp else 0
        up = previous[x]
        corner = previous[x - bpp] if x >= bpp else 0
        if kind == 1:
            line[x] = (line[x] + left) & 0xFF
        elif kind == 2:
            line[x] = (line[x] + up) & 0xFF
        elif kind == 3:
            line[x] = (line[x] + (left + up) // 2) & 0xFF
        elif kind == 4:
            guess = left + up - corner
            pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
            nearest = left if pa <= pb and pa <= pc else up if pb <= pc else corner
            line[x] = (line[x] + nearest) & 0xFF


def write_picture_video(path: Path, png: bytes, frames: int = FRAMES) -> Path:
    """Write a Y4M video that shows the PNG picture (scaled to fit, centred on white), the way
    a phone's camera held over a printed label sees it; return the absolute path."""
    width, height, luma = png_luma(png)
    scale = min(WIDTH * FILL / width, HEIGHT * FILL / height)
    shown_w, shown_h = int(width * scale), int(height * scale)
    left, top = (WIDTH - shown_w) // 2, (HEIGHT - shown_h) // 2
    plane = bytearray([WHITE]) * LUMA_SIZE
    for y in range(shown_h):
        source_row = int(y / scale) * width
        base = (top + y) * WIDTH + left
        for x in range(shown_w):
            level = luma[source_row + int(x / scale)]
            plane[base + x] = BLACK + level * (WHITE - BLACK) // 255
    chroma = bytes([NEUTRAL_CHROMA]) * CHROMA_SIZE
    frame = FRAME_HEADER + bytes(plane) + chroma + chroma
    path = path.absolute()
    with path.open("wb") as video:
        video.write(HEADER)
        for _frame in range(frames):
            video.write(frame)
    return path
