"""Fixtures for the browser tests: a live gunicorn server, Debian's chromium, a page per test.

The server is the real thing (`gunicorn -c gunicorn.conf.py wsgi:app`, gevent workers), started
once per backend on a fresh database of its own (`database_env(..., "live", ...)`) after the
Alembic migrations; the tests drive it through chromium with Playwright's sync API. One browser
serves the whole session; every test gets a new context (its own cookies), so tests do not share
a sign-in. Every test here is marked `browser` and `xdist_group("browser")`, so that one xdist
worker runs them all (each worker that runs some starts its own server and browser anyway).
"""

import os
import re
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error, Page, expect, sync_playwright

from tests.conftest import database_env, drop_pg_database

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_TIMEOUT = 30  # seconds for the server to answer /healthz
SHUTDOWN_TIMEOUT = 15  # seconds for a graceful stop (gunicorn's graceful_timeout is 10) before a kill
EXPECT_TIMEOUT = 5_000  # ms, for every `expect` and every action
# Settings of the app and of gunicorn that the developer's shell must not leak into the server.
APP_ENV_PREFIXES = ("XTABLO_", "REALTIME_", "SIGN_IN_LIMIT_", "SIGN_UP_LIMIT_", "SESSION_", "GUNICORN_", "FLASK_", "GOOGLE_", "APPLE_")
APP_ENV_NAMES = {
    "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "PORT", "HOST", "WEB_CONCURRENCY", "WORKER_CONNECTIONS",
    "ACCESS_LOG", "PROXY_FIX_HOPS", "FORWARDED_ALLOW_IPS", "RATELIMIT_KEY_PREFIX",
}

expect.set_options(timeout=EXPECT_TIMEOUT)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class LiveServer:
    url: str
    backend: str
    log: Path
    access_log: Path
    database_url: str = ""  # for tests that check what the server wrote


def mailed_link(server: LiveServer, to: str, path: str) -> str:
    """The last link to `path`<token> mailed to `to`, as its reader would click it: the live
    server has no SMTP_URL, so it writes each mail whole to its log."""
    mail = re.compile(rf"To: {re.escape(to)}\nSubject: [^\n]*\n\n(?:(?!Mail not sent).)*?(https?://\S+?{re.escape(path)}[\w.-]+)", re.S)
    deadline = time.monotonic() + EXPECT_TIMEOUT / 1000
    while not (found := mail.findall(server.log.read_text(errors="replace"))):
        if time.monotonic() > deadline:
            raise AssertionError(f"no mail to {to} with a link to {path} in the server's log:\n{tail(server.log)}")
        time.sleep(0.05)
    return found[-1]


@contextmanager
def running_server(backend: str, tmp_dir: Path, database: dict[str, str], settings: dict[str, str]) -> Iterator[LiveServer]:
    """gunicorn with gevent workers (WEB_CONCURRENCY=2 unless `settings` say otherwise) on the
    migrated `database` (tests/conftest.py's `database_env`), on 127.0.0.1 only, until the block
    ends. The shell's own settings of the app do not leak in."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in APP_ENV_NAMES and not k.startswith(APP_ENV_PREFIXES)}
    env |= database
    env |= {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "SECRET_KEY": secrets.token_hex(20),  # 40 characters
        "ACCESS_LOG": str(tmp_dir / "access.log"),  # gunicorn's error log (stderr) is kept in `log`
        "PYTHONUNBUFFERED": "1",
        "SIGN_UP_LIMIT_PER_IP": "1000 per hour",  # every browser test signs someone up
    } | settings
    upgrade = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert upgrade.returncode == 0, f"flask db upgrade failed:\n{upgrade.stdout}{upgrade.stderr}"

    url = f"http://127.0.0.1:{port}"
    log = tmp_dir / "gunicorn.log"
    with open(log, "wb") as stderr:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not healthy(url):
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited with {process.returncode}:\n{tail(log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not answer {url}/healthz within {STARTUP_TIMEOUT} s:\n{tail(log)}")
            time.sleep(0.1)
        yield LiveServer(url=url, backend=backend, log=log, access_log=tmp_dir / "access.log",
                         database_url=database["DATABASE_URL"])
    finally:
        stop(process)


@pytest.fixture(scope="session")
def live_server(backend, worker_id, testrun_uid, tmp_path_factory, provider_env) -> Iterator[LiveServer]:
    """The browser tests' server: gunicorn with gevent workers on a fresh database of `backend`,
    signing in with the test process's Google and Apple providers (tests/conftest.py)."""
    tmp_dir = tmp_path_factory.mktemp(f"live-{backend}")
    database = database_env(backend, "live", worker_id, tmp_dir, testrun_uid[:8])
    try:
        with running_server(backend, tmp_dir, database | provider_env, {}) as server:
            yield server
    finally:
        if backend == "postgresql":
            drop_pg_database(database["DATABASE_URL"])


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless chromium for the whole session (both backends)."""
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def context_options() -> dict:
    """Extra `new_context` options; a test overrides them with
    `@pytest.mark.parametrize("context_options", [{"java_script_enabled": False}])`."""
    return {}


@pytest.fixture
def context(browser: Browser, live_server: LiveServer, context_options: dict) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) whose relative URLs go to the live server."""
    options = {"base_url": live_server.url, "locale": "en-US", "viewport": {"width": 1280, "height": 900}}
    context = browser.new_context(**options | context_options)
    context.set_default_timeout(EXPECT_TIMEOUT)
    context.set_default_navigation_timeout(EXPECT_TIMEOUT)
    try:
        yield context
    finally:
        context.close()


@dataclass
class PageLog:
    """What a page complained about: console errors, uncaught exceptions, CSP violations."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "assert"):
            location = message.location.get("url", "")
            self.console_errors.append(f"{message.text} ({location})")

    def on_page_error(self, error: Error) -> None:
        self.page_errors.append(f"{error.name}: {error.message}")

    def on_csp_violation(self, source, report: dict) -> None:
        self.csp_violations.append(f"{report['directive']} blocked {report['blocked']} in {report['page']}")


# Runs in every document before the page's own scripts, outside the page's CSP (Playwright
# injects it through the DevTools protocol), and reports each violation to the test.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__xtabloCspViolation({directive: event.effectiveDirective, blocked: event.blockedURI,
                                page: event.documentURI});
});
"""


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture
def page(context: BrowserContext, page_log: PageLog) -> Iterator[Page]:
    """A tab in the test's context, its complaints recorded in `page_log`; a test fails if a
    script on it threw."""
    page = context.new_page()
    page.expose_binding("__xtabloCspViolation", page_log.on_csp_violation)
    page.add_init_script(CSP_LISTENER)
    page.on("console", page_log.on_console)
    page.on("pageerror", page_log.on_page_error)
    yield page
    assert page_log.page_errors == [], "uncaught JavaScript errors"
