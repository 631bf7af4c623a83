"""Real Chromium against a real `armory serve`: the harness of the browser tests.

One server for the whole session, on a data directory made by `armory demo` through the real
command line (so the demo accounts have their real password hashes), on 127.0.0.1 and a free
port. `Server.do` and `Server.armory` run further `armory` commands on the same data directory
while it serves, the way a second device on set would change the book.

The browser is Debian's Chromium at /usr/bin/chromium, driven by pytest-playwright; without it
the browser tests skip and say why, unless ARMORY_REQUIRE_BROWSER=1 (as `make test` sets) makes
its absence a failure. The default page is a phone (an armorer's hand on set); a test that wants
a tablet or a laptop opens its own context with `new_screen`.

Every page a test opens is watched: a console error or an uncaught exception fails the test,
listing each one. A test that provokes an error status on purpose names the status it expects
with `console_errors.allow_status`, since Chromium logs every 4xx answer as a console error.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx2
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error, Page, expect

from armory.services.demo import DEMO_LOGINS
from tests.e2e.conftest import armory_command, assert_clean_stderr, base_environment

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_BROWSER = "ARMORY_REQUIRE_BROWSER"
SCREENSHOTS = "ARMORY_SCREENSHOTS"

# Chromium as a quiet, headless test browser: no sandbox (CI runs as root in a container), no
# GPU, and none of the background traffic (updates, sync, QUIC probes) a machine on a set
# without internet would wait on.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Screens: a phone first, as the armorer holds it; a tablet on the cart; a laptop in the office.
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
TABLET: dict[str, Any] = {
    "viewport": {"width": 820, "height": 1180},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
LAPTOP: dict[str, Any] = {
    "viewport": {"width": 1366, "height": 768},
    "device_scale_factor": 1,
    "is_mobile": False,
    "has_touch": False,
}

LOGINS = {login.user: login for login in DEMO_LOGINS}
START_TIMEOUT = 60.0  # seconds for `armory serve` to answer: far above the second it takes
STOP_TIMEOUT = 10.0  # seconds to wait after SIGTERM before SIGKILL
COMMAND_TIMEOUT = 120.0  # seconds for one `armory` command, so a hang fails instead of blocking


# --- The server -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    """A running `armory serve` on the demo, and the `armory` command on its data directory."""

    url: str
    data_dir: Path
    demo_output: str = ""  # what `armory demo` printed: the demo logins among it

    def env(self) -> dict[str, str]:
        env = base_environment()
        env["ARMORY_DATA_DIR"] = str(self.data_dir)
        return env

    def armory(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run `armory ARGS` on the server's data directory; with `check`, a non-zero exit
        fails the test with what it printed."""
        result = subprocess.run(
            [*armory_command(), *args],
            input=input,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        assert_clean_stderr(args, result.stderr)
        if check and result.returncode != 0:
            pytest.fail(
                f"armory {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}{result.stderr}",
                pytrace=False,
            )
        return result

    def do(
        self,
        book: str,
        person: str,
        commands: str | Iterable[Mapping[str, Any]],
        check: bool = True,
    ) -> list[dict[str, Any]]:
        """Send commands to `book` as `person` with `armory do BOOK --as PERSON -`: JSON lines
        (a string) or command objects. Their answers, one per command; with `check`, any answer
        that is not ok (a refusal or a malformed line) fails the test."""
        lines = (
            commands
            if isinstance(commands, str)
            else "".join(json.dumps(command) + "\n" for command in commands)
        )
        result = self.armory("do", book, "--as", person, "-", input=lines, check=check)
        answers = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
        if check:
            refused = [answer for answer in answers if not answer.get("ok")]
            assert not refused, f"armory do {book} --as {person} was answered {refused}"
        return answers

    def add_user(self, user: str, name: str, password: str, pin: str, admin: bool = False) -> None:
        """Create an account on the node (`armory user add`)."""
        extra = ["--admin"] if admin else []
        self.armory(
            "user", "add", user, "--name", name, "--password", password, "--pin", pin, *extra
        )

    def create_book(self, book: str, kind: str, name: str) -> None:
        """Create a book on the node (`armory book create`)."""
        self.armory("book", "create", book, "--kind", kind, "--name", name)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def wait_until_serving(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Poll GET /login until the server answers it; fail with its log if it dies or hangs."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"armory serve exited {process.returncode}:\n{log.read_text()}", pytrace=False
            )
        try:
            if httpx2.get(f"{url}/login", timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"armory serve did not answer in {START_TIMEOUT} s:\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`armory demo` in a fresh data directory, then `armory serve` on it, for the session."""
    root = tmp_path_factory.mktemp("browser-server")
    port = free_port()
    made = Server(f"http://127.0.0.1:{port}", root / "data")
    node = Server(made.url, made.data_dir, made.armory("demo").stdout)
    log = root / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*armory_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=node.env(),
        )
    try:
        wait_until_serving(process, node.url, log)
        yield node
    finally:
        stop(process)


# --- The browser ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Launch Debian's Chromium instead of a browser Playwright would download (it cannot
    download one here: sets and CI have no internet)."""
    if not CHROMIUM.is_file():
        reason = (
            f"{CHROMIUM} is not installed, so the browser tests cannot run "
            "(apt-get install chromium fonts-liberation)"
        )
        if os.environ.get(REQUIRE_BROWSER) == "1":
            pytest.fail(f"{reason} ({REQUIRE_BROWSER}=1 is set)", pytrace=False)
        pytest.skip(reason)
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS],
    }


@pytest.fixture(scope="session")
def base_url(server: Server) -> str:
    """Pages are opened by their path on the test server (`page.goto("/login")`)."""
    return server.url


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """Every page starts on a phone."""
    return {
        **browser_context_args,
        **PHONE,
        "locale": "en-GB",
        "timezone_id": "UTC",
        "color_scheme": "light",
        "reduced_motion": "reduce",
    }


class NewScreen(Protocol):
    def __call__(self, screen: Mapping[str, Any], **overrides: Any) -> BrowserContext: ...


@pytest.fixture
def new_screen(browser: Browser, browser_context_args: dict[str, Any]) -> Iterator[NewScreen]:
    """Open a context of another screen (TABLET, LAPTOP), closed after the test:
    `new_screen(LAPTOP).new_page()`."""
    opened: list[BrowserContext] = []

    def open_context(screen: Mapping[str, Any], **overrides: Any) -> BrowserContext:
        context = browser.new_context(**{**browser_context_args, **screen, **overrides})
        opened.append(context)
        return context

    yield open_context
    for context in opened:
        context.close()


# --- No console errors ------------------------------------------------------------------------


@dataclass
class ConsoleErrors:
    """The console errors and uncaught exceptions of every page a test opened."""

    seen: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow_status(self, status: int) -> None:
        """Let pass Chromium's "Failed to load resource: ... status of STATUS" error, for a
        test that asks for a page it expects to be answered with that status."""
        self.allowed.append(
            re.compile(
                rf"^Failed to load resource: the server responded with a status of {status}\b"
            )
        )

    def watch(self, context: BrowserContext) -> None:
        for page in context.pages:
            self.watch_page(page)
        context.on("page", self.watch_page)

    def watch_page(self, page: Page) -> None:
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda error: self._error(page, error))

    def _console(self, page: Page, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if any(pattern.search(message.text) for pattern in self.allowed):
            return
        where = message.location.get("url") or page.url
        self.seen.append(f"console error on {where}: {message.text}")

    def _error(self, page: Page, error: Error) -> None:
        self.seen.append(f"uncaught {error.name} on {page.url}: {error.message}")


@pytest.fixture(autouse=True)
def console_errors(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ConsoleErrors]:
    """Watch every page of every context the test opens; fail the test if any page logged a
    console error or threw an uncaught exception."""
    errors = ConsoleErrors()
    if "browser" not in request.fixturenames:  # a test that opens no browser
        yield errors
        return
    browser: Browser = request.getfixturevalue("browser")
    opened: list[BrowserContext] = []
    new_context = browser.new_context
    new_page = browser.new_page

    # Every way a test gets a page goes through one of these two (pytest-playwright's `context`
    # and `page`, `new_screen`, or the browser itself), so wrapping them sees each page from
    # its first moment, before it has loaded anything.
    def watched_context(*args: Any, **kwargs: Any) -> BrowserContext:
        context = new_context(*args, **kwargs)
        errors.watch(context)
        opened.append(context)
        return context

    def watched_page(*args: Any, **kwargs: Any) -> Page:
        page = new_page(*args, **kwargs)
        errors.watch_page(page)
        opened.append(page.context)
        return page

    monkeypatch.setattr(browser, "new_context", watched_context)
    monkeypatch.setattr(browser, "new_page", watched_page)
    yield errors
    # Closed here if the test left them open, so that nothing a page logs later is missed.
    for context in opened:
        if context in browser.contexts:
            context.close()
    if errors.seen:
        pytest.fail(
            f"{len(errors.seen)} console error(s) or uncaught exception(s):\n"
            + "\n".join(errors.seen),
            pytrace=False,
        )


# --- Signing in and screenshots ---------------------------------------------------------------


def sign_in(page: Page, user: str, password: str | None = None) -> None:
    """Sign in through the login form as `user`, with the demo password unless another is
    given. Starts from the login page the browser is on (keeping where it was sent from), or
    opens it; returns once the browser has left it."""
    if not re.search(r"/login(\?|$)", page.url):
        page.goto("/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password if password is not None else LOGINS[user].password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login(\?|$)"))


def screenshot_dir() -> Path:
    configured = os.environ.get(SCREENSHOTS)
    return Path(configured) if configured else REPO / "build" / "screenshots"


def file_name_of_test(item: pytest.Item) -> str:
    """The test's name for a file: the function's name, with any parameters other than the
    browser (there is one browser, so it adds nothing), made safe for every file system."""
    base, _bracket, params = item.name.partition("[")
    callspec = getattr(item, "callspec", None)
    browser = callspec.params.get("browser_name") if callspec is not None else None
    kept = [part for part in params.rstrip("]").split("-") if part and part != browser]
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join([base, *kept]))


class Shot(Protocol):
    def __call__(self, page: Page, name: str, full_page: bool = True) -> Path: ...


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shot:
    """`shot(page, name)` saves a full-page PNG (or, with full_page=False, what the screen
    shows) as `<test-name>--<NN>-<name>.png` in
    $ARMORY_SCREENSHOTS (default build/screenshots), numbered in the order taken."""
    directory = screenshot_dir()
    prefix = file_name_of_test(request.node)
    taken = 0

    def take(page: Page, name: str, full_page: bool = True) -> Path:
        nonlocal taken
        taken += 1
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")
        path = directory / f"{prefix}--{taken:02d}-{slug}.png"
        directory.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=path, full_page=full_page, animations="disabled")
        return path

    return take
