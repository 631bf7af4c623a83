"""Argon2id at a cost a test suite can pay thousands of times over (the production parameters are
SqlAccounts' own defaults, which the API's lockout and PIN tests do not depend on)."""

from __future__ import annotations

from argon2 import PasswordHasher

CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
