"""Where the public test vectors live, and a clear skip where they are absent.

The vectors are read at test time from the project's shared folder (`../shared/vectors` beside
the checkout, or `ARMORY_VECTORS_DIR`); they are never copied into this repository.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
MISSING = (
    "public test vectors not found: put them at ../shared/vectors beside the checkout "
    "or set ARMORY_VECTORS_DIR"
)


def vectors_dir() -> Path | None:
    """The vectors folder, or None when this machine has none."""
    configured = os.environ.get("ARMORY_VECTORS_DIR")
    candidate = Path(configured) if configured else REPO_ROOT.parent / "shared" / "vectors"
    return candidate if candidate.is_dir() else None


def require_vectors(*parts: str) -> Path:
    """The path to a vectors subfolder or file; skips the test, saying why, when it is absent."""
    base = vectors_dir()
    if base is None:
        pytest.skip(MISSING)
    path = base.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"public test vectors not found at {path}")
    return path
