"""Who may do what on this server: signing in, tokens, the roles of a person in a book, and the
security log (SPEC §2 and §7). The rules of the protocol stay in the domain; this decides only
whether a request reaches them."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from armory.errors import Forbidden, NotFound, TooManyAttempts, Unauthorized
from armory.ledger.entry import format_time
from armory.services.commands import CommandService
from armory.services.ports import Account, LoginResult, Logins, SecurityEvent, SecurityLog

TOKEN_LIFETIME = 12 * 3600  # one shooting day: a token signed in at call time lasts until wrap
LOGIN_WINDOW = 60.0
LOGINS_PER_WINDOW = 10  # failed sign-ins from one address per minute

# Roles that may take an evidence bundle out of a book (SPEC §2): the armorer for the
# production, the safety supervisor for the insurer, the investigator they granted.
EXPORT_ROLES = frozenset({"armorer", "assistant_armorer", "safety", "investigator"})


@dataclass(frozen=True)
class Session:
    token: str
    account: Account
    expires_in: int


class LoginThrottle:
    """At most LOGINS_PER_WINDOW failed sign-ins per source address in a sliding window; past
    that, every attempt from there is turned away until the window has moved on."""

    def __init__(
        self,
        limit: int = LOGINS_PER_WINDOW,
        window: float = LOGIN_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, source: str) -> None:
        """TooManyAttempts when `source` has failed too often lately."""
        now = self.clock()
        with self._lock:
            seen = self._failures.get(source)
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            if seen is not None and len(seen) >= self.limit:
                retry = max(1, int(seen[0] + self.window - now) + 1)
                raise TooManyAttempts(
                    f"too many failed sign-ins from {source}; wait {retry} s and try again",
                    retry,
                )

    def failed(self, source: str) -> None:
        with self._lock:
            if len(self._failures) > 50_000:  # a flood of addresses cannot grow this forever
                self._failures.clear()
            self._failures.setdefault(source, deque()).append(self.clock())


class AccessService:
    """Signing in and the permission checks made before a request reaches a book."""

    def __init__(
        self,
        logins: Logins,
        security: SecurityLog,
        commands: CommandService,
        clock: Callable[[], datetime],
        throttle: LoginThrottle | None = None,
        token_lifetime: int = TOKEN_LIFETIME,
    ) -> None:
        self.logins = logins
        self.security = security
        self.commands = commands
        self.clock = clock
        self.throttle = throttle or LoginThrottle()
        self.token_lifetime = token_lifetime

    def log(
        self,
        kind: str,
        detail: str,
        account: str | None = None,
        book: str | None = None,
        source: str | None = None,
    ) -> None:
        self.security.record(
            SecurityEvent(format_time(self.clock()), kind, detail, account, book, source)
        )

    # Signing in

    def login(self, user: str, password: str, source: str) -> Session:
        try:
            self.throttle.check(source)
        except TooManyAttempts as problem:
            self.log("login_throttled", problem.message, user[:64], source=source)
            raise
        result = self.logins.check_password(user, password, self.clock())
        if result == LoginResult.OK:
            account = self.logins.get(user)
            if account is not None:
                token = self.logins.issue_token(user, self.clock(), self.token_lifetime)
                return Session(token, account, self.token_lifetime)
        self.throttle.failed(source)
        if result == LoginResult.LOCKED:
            self.log("login_locked", "sign-in refused: account locked", user[:64], source=source)
            raise Unauthorized(
                "this account is locked after five wrong passwords; try again in 15 minutes"
            )
        self.log("login_failed", f"sign-in refused ({result})", user[:64], source=source)
        raise Unauthorized("wrong user name or password")

    def remembered(self, token: str | None) -> Account | None:
        """The account of a token checked in the last few seconds, known without asking the
        database (so without blocking); None when `authenticate` has to decide."""
        return self.logins.remembered_owner(token, self.clock()) if token else None

    def authenticate(self, token: str | None, source: str) -> Account:
        if not token:
            raise Unauthorized("sign in first: POST /api/v1/token, then send the bearer token")
        account = self.logins.token_owner(token, self.clock())
        if account is None:
            self.log("token_refused", "unknown or expired token", source=source)
            raise Unauthorized("the token is unknown or has expired; sign in again")
        return account

    def logout(self, token: str) -> None:
        self.logins.revoke_token(token)

    def add_account(self, user: str, name: str, password: str, pin: str, admin: bool) -> Account:
        account = Account(user, name, admin)
        self.logins.add(account, password, pin)
        return account

    # Permissions

    def roles(self, account: Account, book: str) -> frozenset[str]:
        return frozenset(self.commands.recent_state(book).roles_of(account.id))

    def require_reader(self, account: Account, book: str, source: str) -> frozenset[str]:
        """Anyone enrolled in the book (and the admin who runs the server) reads it; an
        investigator reads only the books they were granted."""
        roles = self.roles(account, book)
        if not (roles or account.is_admin):
            self.forbid(account, book, source, f"{account.id} is not enrolled in book {book}")
        return roles

    def require_writer(self, account: Account, book: str, source: str) -> None:
        """A person not enrolled in a book cannot write into it at all (nothing is recorded);
        the admin may, for enrolments. What each role may send is the domain's to decide."""
        self.require_reader(account, book, source)

    def require_exporter(self, account: Account, book: str, case: str | None, source: str) -> None:
        roles = self.require_reader(account, book, source)
        if not (roles & EXPORT_ROLES or account.is_admin):
            self.forbid(
                account,
                book,
                source,
                "only an armorer, a safety supervisor or an investigator exports evidence",
            )
        if case is not None and case not in self.commands.state(book).cases:
            raise NotFound(f"no case {case!r} in book {book}: open_case opens one")

    def require_admin(self, account: Account, source: str, what: str) -> None:
        if not account.is_admin:
            self.forbid(account, None, source, f"only an admin may {what}")

    def forbid(self, account: Account, book: str | None, source: str, why: str) -> NoReturn:
        self.log("forbidden", why, account.id, book, source)
        raise Forbidden(why)
