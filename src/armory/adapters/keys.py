"""FileKeyStore: the node's Ed25519 signing key in the data directory, for its owner only."""

from __future__ import annotations

import os
from pathlib import Path

from armory.errors import InvalidInput, StorageError
from armory.ledger.note import SignerKey

KEY_FILE = "node.key"


class FileKeyStore:
    """Keeps the node key as a note private key (`PRIVATE+KEY+name+id+key`), file mode 0600."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / KEY_FILE

    def exists(self) -> bool:
        return self.path.exists()

    def create(self, node_name: str) -> SignerKey:
        """Make the node key once; an existing key is kept (init is idempotent)."""
        if self.path.exists():
            return self.load()
        key = SignerKey.generate(node_name)
        # O_EXCL and mode 0600 at creation: the key is never readable by others, not even briefly.
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(key.to_text() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return key

    def load(self) -> SignerKey:
        try:
            mode = self.path.stat().st_mode & 0o777
            text = self.path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            raise StorageError(f"no node key at {self.path}: run `armory init` first") from None
        except (OSError, UnicodeDecodeError) as problem:
            raise StorageError(f"cannot read the node key {self.path}: {problem}") from None
        if mode & 0o077:
            raise StorageError(
                f"the node key {self.path} is readable by others (mode {mode:o}): "
                f"run `chmod 600 {self.path}`"
            )
        try:
            return SignerKey.parse(text)
        except InvalidInput as problem:
            raise StorageError(f"the node key {self.path} is damaged: {problem}") from None
