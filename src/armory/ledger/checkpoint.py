"""C2SP transparency log checkpoints (https://c2sp.org/tlog-checkpoint).

A checkpoint is the body of a signed note: the log's origin, the tree size in decimal, the
base64 Merkle root hash, then optional extension lines. Parsing is strict so that one
checkpoint has exactly one text form, and a signed text can be compared byte for byte.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from armory.errors import InvalidInput, VerificationFailed
from armory.ledger.note import SignerKey, VerifierKey, open_note, sign_note

# C2SP tlog-checkpoint §Note text: tree sizes are below 2**63 so every implementation can hold
# them in a signed 64-bit integer.
MAX_TREE_SIZE = 2**63 - 1
HASH_SIZE = 32  # SHA-256 Merkle trees (RFC 6962 §2.1).

# ASCII digits only: int() and \d would also accept other scripts' digits and underscores.
_TREE_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")
# No ASCII control character may appear in a note (C2SP signed-note §Format).
_CONTROL = re.compile(r"[\x00-\x1f]")
# Any character str.isspace() calls a space: in str patterns `\s` is that same test, in C.
_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class Checkpoint:
    """A log's signed-for state: origin, tree size, root hash and extension lines (validated)."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_origin(self.origin)
        if type(self.size) is not int or not 0 <= self.size <= MAX_TREE_SIZE:
            raise InvalidInput(
                "the checkpoint tree size is not an integer from 0 to 2**63 - 1; give a valid size"
            )
        if type(self.root_hash) is not bytes or len(self.root_hash) != HASH_SIZE:
            raise InvalidInput(
                f"the checkpoint root hash must be {HASH_SIZE} bytes; give a SHA-256 tree root"
            )
        if type(self.extensions) is not tuple:
            raise InvalidInput(
                "the checkpoint extensions must be a tuple of lines; pass tuple(lines)"
            )
        for line in self.extensions:
            _check_extension(line)

    def to_text(self) -> str:
        """The note body: origin, size, base64 root and extension lines, each ending in "\\n"."""
        root = base64.b64encode(self.root_hash).decode("ascii")
        extensions = "".join(f"{line}\n" for line in self.extensions)
        return f"{self.origin}\n{self.size}\n{root}\n{extensions}"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint body strictly; InvalidInput for anything but the one valid form."""
        if not text.endswith("\n"):
            raise InvalidInput(
                "the checkpoint does not end with a newline; send the whole checkpoint"
            )
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise InvalidInput(
                "the checkpoint needs an origin, a tree size and a root hash line; "
                "send the whole checkpoint"
            )
        origin, size_text, root_text, *extensions = lines
        if not _TREE_SIZE.fullmatch(size_text):
            raise InvalidInput(
                f"the checkpoint tree size {size_text[:30]!r} is not a decimal number without "
                "leading zeros below 2**63; send a valid checkpoint"
            )
        size = int(size_text)
        if size > MAX_TREE_SIZE:
            raise InvalidInput("the checkpoint tree size is 2**63 or more; send a valid checkpoint")
        root_hash = _decode_root(root_text)
        return cls(origin, size, root_hash, tuple(extensions))

    @classmethod
    def parse_bytes(cls, data: bytes) -> Checkpoint:
        """`parse` for raw bytes, which must be strict UTF-8."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidInput(
                f"the checkpoint is not valid UTF-8 (bad byte at offset {error.start}); "
                "send it unchanged"
            ) from error
        return cls.parse(text)


def sign_checkpoint(checkpoint: Checkpoint, signer: SignerKey) -> str:
    """The checkpoint as the text of a note signed by `signer` (C2SP tlog-checkpoint)."""
    return sign_note(checkpoint.to_text(), signer)


def open_checkpoint(note: str, key: VerifierKey, origin: str | None = None) -> Checkpoint:
    """Verify `note` with `key` and parse its body; if `origin` is given, it must match.

    InvalidInput for a malformed note or body; VerificationFailed for a bad or missing
    signature by `key` or another log's origin.
    """
    body = open_note(note, [key]).text
    checkpoint = Checkpoint.parse(body)
    if origin is not None and checkpoint.origin != origin:
        raise VerificationFailed(
            f"the checkpoint is for the log {checkpoint.origin!r:.64}, not {origin!r:.64}; "
            "fetch the checkpoint of the right log"
        )
    return checkpoint


def _check_origin(origin: str) -> None:
    # C2SP tlog-checkpoint §Note text: the origin is non-empty and, like a key name, holds no
    # Unicode spaces (a schema-less URL is recommended).
    if (
        not isinstance(origin, str)
        or not origin
        or _SPACE.search(origin)
        or _CONTROL.search(origin)
        or not _is_unicode(origin)
    ):
        raise InvalidInput(
            f"the checkpoint origin {origin!r:.64} is not valid; use a non-empty name without "
            "spaces such as example.com/log"
        )


def _check_extension(line: str) -> None:
    # An empty line would end the note body early (C2SP signed-note §Format), so extension
    # lines must be non-empty; control characters are never allowed in a note.
    if not isinstance(line, str) or not line or _CONTROL.search(line) or not _is_unicode(line):
        raise InvalidInput(
            f"the checkpoint extension line {line!r:.64} is not valid; extension lines must be "
            "non-empty text without control characters"
        )


def _decode_root(text: str) -> bytes:
    try:
        root = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidInput(
            "the checkpoint root hash is not valid base64; send a valid checkpoint"
        ) from error
    # Re-encoding rejects the second spelling that non-zero padding bits allow.
    if len(root) != HASH_SIZE or base64.b64encode(root).decode("ascii") != text:
        raise InvalidInput(
            f"the checkpoint root hash is not the canonical base64 of {HASH_SIZE} bytes; "
            "send a valid checkpoint"
        )
    return root


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
