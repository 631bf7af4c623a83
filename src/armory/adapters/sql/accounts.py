"""SqlAccounts: accounts with Argon2id password and PIN hashes, and the PIN lockout."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from armory.adapters.sql.schema import read_rows
from armory.adapters.sql.tables import accounts, security_log, tokens
from armory.errors import Conflict, InvalidInput
from armory.services.ports import Account, LoginResult, PinResult, SecurityEvent

MAX_PIN_FAILURES = 5
LOCK_SECONDS = 15 * 60
PIN_CACHE_SECONDS = 10 * 60
MAX_PASSWORD_FAILURES = 5
TOKEN_CACHE_SECONDS = 5.0  # a revoked token stops working in other processes within this


def default_pin_hasher() -> PasswordHasher:
    """Argon2id for PINs. A PIN is checked on set at every witnessed step: OWASP's minimum
    (19 MiB, two passes), a fraction of the password hash's cost; the lockout after five
    failures is what protects a short PIN."""
    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


class SqlAccounts:
    """Accounts in the database. A PIN is checked against its Argon2id hash; five wrong PINs
    lock it for 15 minutes (SPEC §4). A PIN that verified is remembered for ten minutes as a
    keyed hash in memory, so a witness signing the next inspection does not wait for Argon2
    again; a wrong PIN always goes to the hash and always counts. A file of commands has its
    PINs' hashes verified side by side first (`precheck_pins`)."""

    def __init__(
        self,
        engine: Engine,
        hasher: PasswordHasher | None = None,
        pin_hasher: PasswordHasher | None = None,
        query: Callable[[str, Sequence[Any]], list[Any]] | None = None,
    ) -> None:
        """`hasher` hashes passwords, and PINs too unless `pin_hasher` is given; by default
        each has its production parameters. `query` runs the reads every command makes (an
        account, PIN rows), in the driver's placeholder style: the ledger store's, whose SQLite
        connections cost less to take than the pool's; by default the pool's."""
        self.engine = engine
        self._query = query or self._pooled_query
        self.hasher = hasher or PasswordHasher()
        self.pin_hasher = pin_hasher or hasher or default_pin_hasher()
        self._cache_key = os.urandom(32)
        self._verified: dict[str, tuple[bytes, float]] = {}
        # PINs whose hash `precheck_pins` verified (against which hash, until when), for
        # `check_pin` to take in turn; and those whose hash is under way.
        self._prechecked: dict[tuple[str, bytes], tuple[str, float]] = {}
        self._hashing: dict[tuple[str, bytes], Future[None]] = {}
        self._hashers: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[Account, float, float]] = {}
        # Accounts found, for TOKEN_CACHE_SECONDS: asked for once per command, never deleted.
        self._accounts: dict[str, tuple[Account, float]] = {}
        self._decoy: str | None = None  # made on first need: every CLI process opens accounts
        mark = self._mark = "?" if engine.dialect.name == "sqlite" else "%s"
        self._get_sql = f"SELECT id, name, is_admin FROM accounts WHERE id = {mark}"  # noqa: S608 -- a placeholder only
        self._pin_sql_for: dict[int, str] = {}  # the PIN rows' statement, by how many people

    def remembered(self, person: str) -> Account | None:
        with self._lock:
            cached = self._accounts.get(person)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        return None

    def get(self, person: str) -> Account | None:
        remembered = self.remembered(person)
        if remembered is not None:
            return remembered
        # Asked once per command: the driver's own statement, not SQLAlchemy's compiled one.
        rows = self._query(self._get_sql, (person,))
        if not rows:
            return None
        row = rows[0]
        account = Account(row[0], row[1], bool(row[2]))
        with self._lock:
            if len(self._accounts) > 10_000:  # bounded: a flood of names cannot grow it
                self._accounts.clear()
            self._accounts[person] = (account, time.monotonic() + TOKEN_CACHE_SECONDS)
        return account

    def add(self, account: Account, password: str, pin: str) -> None:
        _check_secret("password", password, 8)
        if not (pin.isdigit() and 4 <= len(pin) <= 12):
            raise InvalidInput("a PIN is 4 to 12 digits")
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    insert(accounts).values(
                        id=account.id,
                        name=account.name,
                        password_hash=self.hasher.hash(password),
                        pin_hash=self.pin_hasher.hash(pin),
                        is_admin=account.is_admin,
                        pin_failures=0,
                        pin_locked_until=None,
                        created_at=now,
                        password_failures=0,
                        password_locked_until=None,
                    )
                )
        except IntegrityError:
            raise Conflict(f"account {account.id!r} already exists") from None

    def check_pin(self, person: str, pin: str, now: datetime) -> str:
        return self.check_pins([(person, pin)], now)[0]

    def check_pins(self, pairs: Sequence[tuple[str, str]], now: datetime) -> list[str]:
        """Each (person, PIN) pair's PinResult, in turn. The PIN rows of everyone named come in
        one statement; after a check that wrote to them (a wrong PIN, or the first right one
        after wrong ones), the next pair reads its row again."""
        moment = now.timestamp()
        results: list[str] = []
        rows: dict[str, tuple[str, int, float | None]] | None = None
        for index, (person, pin) in enumerate(pairs):
            if rows is None:
                rows = self._pin_rows([someone for someone, _pin in pairs[index:]])
            result, wrote = self._check_pin(person, pin, rows.get(person), moment)
            results.append(result)
            if wrote:
                rows = None
        return results

    def _pin_rows(self, people: Sequence[str]) -> dict[str, tuple[str, int, float | None]]:
        """The PIN hash, failures and lock of each of `people` that has an account."""
        wanted = sorted(set(people))
        sql = self._pin_sql_for.get(len(wanted))
        if sql is None:
            marks = ", ".join([self._mark] * len(wanted))
            sql = self._pin_sql_for[len(wanted)] = (
                "SELECT id, pin_hash, pin_failures, pin_locked_until FROM accounts "  # noqa: S608 -- placeholders only
                f"WHERE id IN ({marks})"
            )
        found = self._query(sql, wanted)
        return {row[0]: (row[1], row[2], row[3]) for row in found}

    def _pooled_query(self, sql: str, params: Sequence[Any]) -> list[Any]:
        raw = self.engine.raw_connection()
        try:
            return read_rows(raw, sql, params)
        finally:
            raw.close()

    def _check_pin(
        self, person: str, pin: str, row: tuple[str, int, float | None] | None, moment: float
    ) -> tuple[str, bool]:
        """One PIN against its account's row: the result, and whether the row was written."""
        if row is None:
            return PinResult.UNKNOWN, False
        pin_hash, pin_failures, pin_locked_until = row
        if pin_locked_until is not None and pin_locked_until > moment:
            return PinResult.LOCKED, False
        tag = self._tag(person, pin)
        if self._is_cached(person, tag):
            return PinResult.OK, False
        if not self._take_prechecked(person, tag, pin_hash) and not self._matches(pin_hash, pin):
            self._count_failure(person, moment)
            return PinResult.WRONG, True
        with self._lock:
            self._verified[person] = (tag, time.monotonic() + PIN_CACHE_SECONDS)
        if pin_failures:
            with self.engine.begin() as connection:
                connection.execute(
                    update(accounts)
                    .where(accounts.c.id == person)
                    .values(pin_failures=0, pin_locked_until=None)
                )
            return PinResult.OK, True
        return PinResult.OK, False

    def precheck_pins(self, pairs: Iterable[tuple[str, str]], *, wait: bool = True) -> None:
        """Verify the hashes of several PINs at once, one per core, ahead of `check_pin`.

        Argon2id takes tens of milliseconds and releases Python's lock, so a file of commands
        whose witnesses are new to this process checks them side by side rather than one after
        the other. Nothing is decided here: `check_pin` still takes each PIN in order, counts
        the wrong ones and applies the lockout; a PIN found right here only spares it the hash.

        With `wait` False the hashes are started and this returns at once (a caller reading
        ahead, while it runs the commands before these); a later precheck or check of the same
        PIN waits for its hash rather than doing it again.
        """
        wanted: dict[tuple[str, bytes], str] = {}
        running: list[Future[None]] = []
        for person, pin in pairs:
            key = (person, self._tag(person, pin))
            if key in wanted or self._is_cached(*key):
                continue
            with self._lock:
                hashing = self._hashing.get(key)
                found = self._prechecked.get(key)
            ready = found is not None and found[1] > time.monotonic()
            if hashing is not None:
                running.append(hashing)
            elif not ready:
                wanted[key] = pin
        if len(wanted) >= (1 if running or not wait else 2):  # one hash alone gains nothing
            running.extend(self._start_hashing(wanted))
        if wait:
            futures_wait(running)

    def _start_hashing(self, wanted: dict[tuple[str, bytes], str]) -> list[Future[None]]:
        rows = self._pin_rows([person for person, _tag in wanted])
        started: list[Future[None]] = []
        with self._lock:
            if self._hashers is None:
                self._hashers = ThreadPoolExecutor(
                    os.cpu_count() or 1, thread_name_prefix="armory-pin"
                )
            for key, pin in wanted.items():
                row = rows.get(key[0])
                if row is None or key in self._hashing:
                    continue  # no such account (check_pin says so), or begun meanwhile
                future = self._hashers.submit(self._precheck_one, key, row[0], pin)
                self._hashing[key] = future
                started.append(future)
        return started

    def _precheck_one(self, key: tuple[str, bytes], pin_hash: str, pin: str) -> None:
        ok = False
        try:
            ok = self._matches(pin_hash, pin)
        finally:
            with self._lock:
                self._hashing.pop(key, None)
                if ok:
                    if len(self._prechecked) > 10_000:  # bounded, like the other caches
                        self._prechecked.clear()
                    self._prechecked[key] = (pin_hash, time.monotonic() + PIN_CACHE_SECONDS)

    def close(self) -> None:
        """Wait for the PIN hashes under way and stop their threads."""
        with self._lock:
            hashers, self._hashers = self._hashers, None
        if hashers is not None:
            hashers.shutdown(wait=True)

    def _tag(self, person: str, pin: str) -> bytes:
        """The keyed hash a verified PIN is remembered by: never the PIN itself."""
        return hmac.new(self._cache_key, f"{person}\0{pin}".encode(), hashlib.sha256).digest()

    def _is_cached(self, person: str, tag: bytes) -> bool:
        with self._lock:
            cached = self._verified.get(person)
        return (
            cached is not None
            and cached[1] > time.monotonic()
            and hmac.compare_digest(cached[0], tag)
        )

    def _take_prechecked(self, person: str, tag: bytes, pin_hash: str) -> bool:
        """Whether `precheck_pins` verified this PIN against this very hash, lately; a hash
        of it still under way is waited for."""
        with self._lock:
            hashing = self._hashing.get((person, tag))
        if hashing is not None:
            futures_wait([hashing])
        with self._lock:
            found = self._prechecked.pop((person, tag), None)
        return found is not None and found[0] == pin_hash and found[1] > time.monotonic()

    def _matches(self, pin_hash: str, pin: str) -> bool:
        try:
            self.pin_hasher.verify(pin_hash, pin)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return True

    def _count_failure(self, person: str, moment: float) -> None:
        with self._lock:
            self._verified.pop(person, None)
        with self.engine.begin() as connection:
            failures = (
                connection.execute(
                    select(accounts.c.pin_failures).where(accounts.c.id == person)
                ).scalar_one()
                + 1
            )
            locked = moment + LOCK_SECONDS if failures >= MAX_PIN_FAILURES else None
            connection.execute(
                update(accounts)
                .where(accounts.c.id == person)
                .values(pin_failures=0 if locked else failures, pin_locked_until=locked)
            )

    def all(self) -> list[Account]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(accounts.c.id, accounts.c.name, accounts.c.is_admin).order_by(accounts.c.id)
            ).all()
        return [Account(row[0], row[1], bool(row[2])) for row in rows]

    # Signing in

    def check_password(self, person: str, password: str, now: datetime) -> str:
        moment = now.timestamp()
        with self.engine.connect() as connection:
            row = connection.execute(
                select(
                    accounts.c.password_hash,
                    accounts.c.password_failures,
                    accounts.c.password_locked_until,
                ).where(accounts.c.id == person)
            ).first()
        if row is None:
            # A hash is checked all the same, so that answering takes as long as for an account
            # that exists: the time a sign-in takes does not tell which names are accounts.
            if self._decoy is None:
                self._decoy = self.hasher.hash(os.urandom(16).hex())
            _verify(self.hasher, self._decoy, password)
            return LoginResult.UNKNOWN
        password_hash, failures, locked_until = row
        if locked_until is not None and locked_until > moment:
            return LoginResult.LOCKED
        if not _verify(self.hasher, password_hash, password):
            failures += 1
            locked = moment + LOCK_SECONDS if failures >= MAX_PASSWORD_FAILURES else None
            with self.engine.begin() as connection:
                connection.execute(
                    update(accounts)
                    .where(accounts.c.id == person)
                    .values(
                        password_failures=0 if locked else failures,
                        password_locked_until=locked,
                    )
                )
            return LoginResult.LOCKED if locked else LoginResult.WRONG
        if failures or locked_until is not None:
            with self.engine.begin() as connection:
                connection.execute(
                    update(accounts)
                    .where(accounts.c.id == person)
                    .values(password_failures=0, password_locked_until=None)
                )
        return LoginResult.OK

    def issue_token(self, person: str, now: datetime, lifetime: float) -> str:
        token = secrets.token_urlsafe(32)
        with self.engine.begin() as connection:
            # Expired tokens of this account are dropped as new ones are made.
            connection.execute(
                delete(tokens).where(
                    (tokens.c.account == person) & (tokens.c.expires_at <= now.timestamp())
                )
            )
            connection.execute(
                insert(tokens).values(
                    digest=_digest(token),
                    account=person,
                    expires_at=now.timestamp() + lifetime,
                    created_at=now.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                )
            )
        return token

    def _remembered(self, digest: str) -> tuple[Account, float] | None:
        """A token's account and expiry as looked up less than TOKEN_CACHE_SECONDS ago."""
        with self._lock:
            cached = self._tokens.get(digest)
        if cached is not None and cached[2] > time.monotonic():
            return cached[0], cached[1]
        return None

    def remembered_owner(self, token: str, now: datetime) -> Account | None:
        found = self._remembered(_digest(token))
        return found[0] if found is not None and found[1] > now.timestamp() else None

    def token_owner(self, token: str, now: datetime) -> Account | None:
        digest = _digest(token)
        moment = now.timestamp()
        found = self._remembered(digest)
        if found is not None:
            account, expires_at = found
            return account if expires_at > moment else None
        with self.engine.connect() as connection:
            row = connection.execute(
                select(accounts.c.id, accounts.c.name, accounts.c.is_admin, tokens.c.expires_at)
                .join(accounts, accounts.c.id == tokens.c.account)
                .where(tokens.c.digest == digest)
            ).first()
        if row is None or row[3] <= moment:
            with self._lock:
                self._tokens.pop(digest, None)
            return None
        account = Account(row[0], row[1], bool(row[2]))
        with self._lock:
            if len(self._tokens) > 10_000:
                self._tokens.clear()
            self._tokens[digest] = (account, row[3], time.monotonic() + TOKEN_CACHE_SECONDS)
        return account

    def revoke_token(self, token: str) -> None:
        digest = _digest(token)
        with self._lock:
            self._tokens.pop(digest, None)
        with self.engine.begin() as connection:
            connection.execute(delete(tokens).where(tokens.c.digest == digest))


class SqlSecurityLog:
    """The security log in its own table: failed logins, wrong PINs, refused requests."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, event: SecurityEvent) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                insert(security_log).values(
                    at=event.at,
                    kind=event.kind,
                    account=event.account,
                    book=event.book,
                    source=event.source,
                    detail=event.detail[:1000],
                )
            )

    def recent(self, limit: int) -> list[SecurityEvent]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(
                    security_log.c.at,
                    security_log.c.kind,
                    security_log.c.detail,
                    security_log.c.account,
                    security_log.c.book,
                    security_log.c.source,
                )
                .order_by(security_log.c.id.desc())
                .limit(limit)
            ).all()
        return [SecurityEvent(*row) for row in rows]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _verify(hasher: PasswordHasher, stored: str, secret: str) -> bool:
    try:
        return hasher.verify(stored, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _check_secret(what: str, value: str, minimum: int) -> None:
    if len(value) < minimum:
        raise InvalidInput(f"a {what} needs at least {minimum} characters")
