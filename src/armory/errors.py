"""The one error hierarchy of Armory.

Every error carries a message written for a person: what is wrong and what to do next. Entry
points print it as one line (CLI) or return it with a status (HTTP); nothing shows a traceback.
"""

from __future__ import annotations


class ArmoryError(Exception):
    """Base of every error Armory raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInput(ArmoryError):
    """Input that cannot be understood: malformed JSON, a bad field, a value out of range."""


class NotFound(ArmoryError):
    """A book, entry, person or file that does not exist."""


class Conflict(ArmoryError):
    """The request contradicts existing state (a book that already exists, an id reused)."""


class VerificationFailed(ArmoryError):
    """A proof, signature, checkpoint, bundle or ledger did not verify.

    `index` names the first entry that does not match, when one can be named.
    """

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


class StorageError(ArmoryError):
    """The database or data directory cannot be used as it is."""


class Unauthorized(ArmoryError):
    """No valid sign-in: a wrong password, a locked account, a missing or expired token."""


class Forbidden(ArmoryError):
    """Signed in, but this person may not do this here."""


class TooManyAttempts(ArmoryError):
    """Too many sign-in attempts from one place in a short time; try again later."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
