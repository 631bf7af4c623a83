"""The second process of a big bundle's verification (see `bundle._shapes_elsewhere`).

Run as `python -m armory.ledger.shape_check PATH AT SIZE BOOK`: checks the shape of every line
of the entries.jsonl that takes SIZE bytes from byte AT of the bundle at PATH, and prints, as
one JSON object, the CRC-32 of the bytes it read and the first line at fault (null if none).
"""

from __future__ import annotations

import sys

import orjson

from armory.ledger.bundle import shapes_in_file


def main(argv: list[str]) -> int:
    path, at, size, book = argv
    crc, fault = shapes_in_file(path, int(at), int(size), book)
    sys.stdout.buffer.write(orjson.dumps({"crc": crc, "fault": list(fault) if fault else None}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
