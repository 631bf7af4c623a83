"""C2SP signed notes with Ed25519 keys (https://c2sp.org/signed-note).

A signed note is UTF-8 text ending in a newline, a blank line, then one line per signature:
"— <key name> <base64(4-byte key ID || signature)>". Key and note formats are those of
golang.org/x/mod/sumdb/note, so keys and notes interoperate with Go tooling byte for byte.

Errors: text that is not a well-formed note (bad UTF-8, control characters, no signature
block, a malformed signature line, non-canonical base64) raises InvalidInput; a well-formed
note whose signature by a known key is wrong, or that no known key signed, raises
VerificationFailed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import nacl.bindings
import nacl.exceptions
import nacl.signing

from armory.errors import InvalidInput, VerificationFailed

# C2SP signed-note §Signatures: the signature type byte for Ed25519.
ED25519_TYPE = 0x01

# Notes with more signatures than this are refused unread, as Go's note.Open does, so a
# hostile note cannot make a verifier spend unbounded time.
MAX_SIGNATURES = 100

_SIGNATURE_PREFIX = "\u2014 "  # EM DASH then a space (C2SP signed-note §Format).
_PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"
_HEX_KEY_ID = re.compile(r"[0-9a-f]{8}")
# C2SP signed-note §Format: the text may contain no ASCII control character but newline.
_FORBIDDEN_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


def is_valid_key_name(name: str) -> bool:
    """True for a C2SP key name: non-empty, no Unicode spaces, no "+", no control characters."""
    return (
        isinstance(name, str)
        and bool(name)
        and "+" not in name
        and not any(character.isspace() for character in name)
        and _FORBIDDEN_CONTROL.search(name) is None
        and _is_unicode(name)
    )


def _check_key_name(name: str) -> None:
    if not is_valid_key_name(name):
        raise InvalidInput(
            f"the key name {name!r:.64} is not valid; use a non-empty name without spaces or '+'"
        )


def key_id(name: str, public_key: bytes) -> int:
    """The 32-bit key ID: the first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key)."""
    # C2SP signed-note §Signatures: the ID commits to the name, the type byte and the key.
    digest = hashlib.sha256(
        name.encode("utf-8") + b"\n" + bytes([ED25519_TYPE]) + public_key
    ).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True)
class VerifierKey:
    """A named Ed25519 public key that can check note signatures; fields are validated."""

    name: str
    key_id: int
    public_key: bytes

    def __post_init__(self) -> None:
        _check_key_name(self.name)
        if type(self.public_key) is not bytes or len(self.public_key) != 32:
            raise InvalidInput(
                "an Ed25519 public key must be exactly 32 bytes; check where the key came from"
            )
        if type(self.key_id) is not int or self.key_id != key_id(self.name, self.public_key):
            raise InvalidInput(
                f"the key ID {self.key_id!r:.16} does not match the name and public key of "
                f"{self.name!r:.64}; check the verifier key text"
            )

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> VerifierKey:
        """The verifier for `public_key` under `name`, with its key ID computed."""
        _check_key_name(name)
        return cls(name, key_id(name, public_key), public_key)

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Parse "<name>+<8 lowercase hex key ID>+<base64(0x01 || public key)>" strictly."""
        name, _, rest = text.partition("+")
        hex_id, _, encoded = rest.partition("+")
        if not _HEX_KEY_ID.fullmatch(hex_id) or not is_valid_key_name(name):
            raise InvalidInput(
                "the verifier key is not of the form <name>+<8 lowercase hex digits>+<base64>; "
                "copy the whole key text again"
            )
        raw = _strict_b64decode(encoded, "the verifier key")
        if len(raw) != 33 or raw[0] != ED25519_TYPE:
            raise InvalidInput(
                "the verifier key is not an Ed25519 key (type byte 0x01 then 32 bytes); "
                "use an Ed25519 verifier key"
            )
        if int(hex_id, 16) != key_id(name, raw[1:]):
            raise InvalidInput(
                f"the key ID {hex_id} does not match the name and public key of {name!r:.64}; "
                "copy the whole key text again"
            )
        return cls(name, int(hex_id, 16), raw[1:])

    def to_text(self) -> str:
        """The vkey text that `parse` reads."""
        encoded = base64.b64encode(bytes([ED25519_TYPE]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when `signature` is this key's Ed25519 signature of `message`."""
        try:
            nacl.signing.VerifyKey(self.public_key).verify(message, signature)
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            # PyNaCl reports a bad signature, a wrong length and a malformed key this way.
            return False
        return True


@dataclass(frozen=True)
class SignerKey:
    """A named Ed25519 private key (its 32-byte seed); the seed never appears in repr."""

    name: str
    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_key_name(self.name)
        if type(self.seed) is not bytes or len(self.seed) != 32:
            raise InvalidInput(
                "an Ed25519 seed must be exactly 32 bytes; check where the key came from"
            )

    @classmethod
    def generate(cls, name: str) -> SignerKey:
        """A new random key named `name`."""
        _check_key_name(name)
        return cls(name, bytes(nacl.signing.SigningKey.generate()))

    @classmethod
    def parse(cls, text: str) -> SignerKey:
        """Parse the Go sumdb/note form "PRIVATE+KEY+<name>+<hex ID>+<base64(0x01 || seed)>"."""
        if not text.startswith(_PRIVATE_KEY_PREFIX):
            raise InvalidInput(
                "the signer key does not start with PRIVATE+KEY+; "
                "give the private key text, not the verifier key"
            )
        name, _, rest = text[len(_PRIVATE_KEY_PREFIX) :].partition("+")
        hex_id, _, encoded = rest.partition("+")
        if not _HEX_KEY_ID.fullmatch(hex_id) or not is_valid_key_name(name):
            raise InvalidInput(
                "the signer key is not of the form PRIVATE+KEY+<name>+<8 lowercase hex digits>"
                "+<base64>; copy the whole key text again"
            )
        raw = _strict_b64decode(encoded, "the signer key")
        if len(raw) != 33 or raw[0] != ED25519_TYPE:
            raise InvalidInput(
                "the signer key is not an Ed25519 key (type byte 0x01 then a 32-byte seed); "
                "use an Ed25519 signer key"
            )
        signer = cls(name, raw[1:])
        if int(hex_id, 16) != signer.key_id:
            raise InvalidInput(
                f"the key ID {hex_id} does not match the name and key of {name!r:.64}; "
                "copy the whole key text again"
            )
        return signer

    def to_text(self) -> str:
        """The private key text that `parse` reads; it is a secret."""
        encoded = base64.b64encode(bytes([ED25519_TYPE]) + self.seed).decode("ascii")
        return f"{_PRIVATE_KEY_PREFIX}{self.name}+{self.key_id:08x}+{encoded}"

    @cached_property
    def _signing_key(self) -> nacl.signing.SigningKey:
        # Deriving the key pair from the seed costs as much as a signature: do it once.
        return nacl.signing.SigningKey(self.seed)

    @cached_property
    def _secret(self) -> bytes:
        # libsodium's 64-byte secret key (seed and public key), for signing without a wrapper
        # object per signature: a server signs a checkpoint after every append.
        _public, secret = nacl.bindings.crypto_sign_seed_keypair(self.seed)
        return bytes(secret)

    @cached_property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key."""
        return bytes(self._signing_key.verify_key)

    @cached_property
    def key_id(self) -> int:
        """The 32-bit key ID shared with the matching verifier key."""
        return key_id(self.name, self.public_key)

    def verifier(self) -> VerifierKey:
        """The verifier key that checks this key's signatures."""
        return VerifierKey.from_public_key(self.name, self.public_key)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of `message`."""
        signed: bytes = nacl.bindings.crypto_sign(message, self._secret)
        return signed[: nacl.bindings.crypto_sign_BYTES]


@dataclass(frozen=True)
class Note:
    """An opened note: its text and the known keys whose signatures verified, in note order."""

    text: str
    verified_by: tuple[VerifierKey, ...]


def sign_note(text: str, signer: SignerKey) -> str:
    """Sign `text` (non-empty, ending in a newline) and return the signed note."""
    _check_text(text)
    signer_id = signer.key_id
    signature = signer.sign(text.encode("utf-8"))
    encoded = base64.b64encode(signer_id.to_bytes(4, "big") + signature).decode("ascii")
    return f"{text}\n{_SIGNATURE_PREFIX}{signer.name} {encoded}\n"


def open_note(note: str, known: Sequence[VerifierKey]) -> Note:
    """Parse `note` and check its signatures against `known` (C2SP signed-note).

    Signatures by keys not in `known` are ignored; every signature by a known key (same name
    and key ID) must verify, and at least one must be present.
    """
    if not _is_unicode(note) or _FORBIDDEN_CONTROL.search(note):
        raise InvalidInput(
            "the note contains a control character or invalid Unicode; send the note unchanged"
        )
    # The signature block follows the last blank line; the text keeps its final newline.
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n") or split + 2 == len(note):
        raise InvalidInput(
            "the note has no signature block after a blank line; send the whole signed note"
        )
    text = note[: split + 1]
    lines = note[split + 2 : -1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise InvalidInput(
            f"the note has more than {MAX_SIGNATURES} signatures; refusing to read it"
        )
    message = text.encode("utf-8")
    verified: list[VerifierKey] = []
    for line in lines:
        name, signer_id, signature = _parse_signature_line(line)
        for candidate in known:
            if candidate.name != name or candidate.key_id != signer_id:
                continue
            if not candidate.verify(message, signature):
                raise VerificationFailed(
                    f"the note's signature by {name!r:.64} does not verify; the note was altered "
                    "or signed with another key"
                )
            if candidate not in verified:
                verified.append(candidate)
    if not verified:
        raise VerificationFailed(
            "the note is not signed by a trusted key; check that you have the right verifier key"
        )
    return Note(text, tuple(verified))


def open_note_bytes(data: bytes, known: Sequence[VerifierKey]) -> Note:
    """`open_note` for raw bytes, which must be strict UTF-8."""
    try:
        note = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(
            f"the note is not valid UTF-8 (bad byte at offset {error.start}); "
            "send the note unchanged"
        ) from error
    return open_note(note, known)


def _parse_signature_line(line: str) -> tuple[str, int, bytes]:
    """Split "— <name> <base64>" into name, key ID and signature; InvalidInput if malformed."""
    if not line.startswith(_SIGNATURE_PREFIX):
        raise InvalidInput(
            "a line of the note's signature block does not start with an em dash and a space; "
            "send the note unchanged"
        )
    name, _, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
    if not is_valid_key_name(name):
        raise InvalidInput(
            f"the note has a signature with the invalid key name {name!r:.64}; "
            "send the note unchanged"
        )
    raw = _strict_b64decode(encoded, "a note signature")
    # Four bytes of key ID and at least one of signature, as Go's note.Open requires.
    if len(raw) < 5:
        raise InvalidInput(
            f"the note's signature by {name!r:.64} is too short to hold a key ID and a signature; "
            "send the note unchanged"
        )
    return name, int.from_bytes(raw[:4], "big"), raw[4:]


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise InvalidInput("the note text must end with a newline; add one before signing")
    if not _is_unicode(text) or _FORBIDDEN_CONTROL.search(text):
        raise InvalidInput(
            "the note text contains a control character other than newline or invalid "
            "Unicode; remove it before signing"
        )


def _strict_b64decode(encoded: str, what: str) -> bytes:
    """Standard padded base64 in its one canonical spelling; InvalidInput for anything else."""
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidInput(f"{what} is not valid base64; copy it again unchanged") from error
    # b64decode accepts non-zero padding bits; re-encoding catches that second spelling.
    if not encoded or base64.b64encode(raw).decode("ascii") != encoded:
        raise InvalidInput(f"{what} is not canonical base64; copy it again unchanged")
    return raw


def _is_unicode(text: str) -> bool:
    """False when `text` holds a lone surrogate, which has no UTF-8 form."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
