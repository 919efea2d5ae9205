"""Invitation links in a real browser against the real server (issue 6).

A person who opens an invitation link while signed out and creates an account lands on the join
page, then in the tablo; and the token of the link never reaches gunicorn's access log, where the
database keeps only its hash.
"""

import re
import time
import urllib.request
import uuid

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import EXPECT_TIMEOUT, LiveServer
from tests.browser.test_board_flow import PASSWORD, create_tablo, new_email, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

JOIN_URL = re.compile(r"https?://[^\s]+/join/([\w-]+)")


def make_invitation_link(page: Page, title: str) -> str:
    """As a new owner: create the tablo `title` and an invitation link to it; return the link."""
    sign_up(page, "Ann")
    create_tablo(page, title)
    page.get_by_role("link", name="Members").click()
    page.get_by_role("button", name="Create a link").click()
    flash = page.locator(".flash-link")
    expect(flash).to_contain_text("/join/")
    return JOIN_URL.search(flash.inner_text()).group(0)


def new_browser(browser: Browser, live_server: LiveServer) -> BrowserContext:
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    context.set_default_timeout(EXPECT_TIMEOUT)
    return context


def test_a_signed_out_newcomer_signs_up_from_the_link_and_joins(page: Page, browser: Browser, live_server: LiveServer) -> None:
    title = f"Plan {uuid.uuid4().hex[:8]}"
    link = make_invitation_link(page, title)

    other = new_browser(browser, live_server)
    try:
        bea = other.new_page()
        bea.goto(link)
        expect(bea).to_have_url(re.compile(r"/login\?next="))
        expect(bea.get_by_text(f"You were invited to the tablo “{title}”")).to_be_visible()
        bea.get_by_role("link", name="Create an account").click()
        expect(bea).to_have_url(re.compile(r"/signup\?next="))
        expect(bea.get_by_text(f"You were invited to the tablo “{title}”: create your account to join it.")).to_be_visible()
        bea.get_by_label("Your name").fill("Bea")
        bea.get_by_label("Email").fill(new_email("Bea"))
        bea.get_by_label("Password", exact=True).fill(PASSWORD)
        bea.get_by_label("Repeat the password").fill(PASSWORD)
        bea.get_by_role("button", name="Sign up").click()

        expect(bea).to_have_url(re.compile(r"/join/[\w-]+$"))
        expect(bea.get_by_role("heading", name=f"Join “{title}”")).to_be_visible()
        bea.get_by_role("button", name="Join the tablo").click()
        expect(bea).to_have_url(re.compile(r"/tablos/\d+$"))
        expect(bea.get_by_role("heading", name=title, level=1)).to_be_visible()
        expect(bea.get_by_text(f"Welcome to “{title}”.")).to_be_visible()
    finally:
        other.close()


def access_log_lines(live_server: LiveServer, *, containing: list[str], timeout: float = EXPECT_TIMEOUT / 1000) -> str:
    """The access log once it holds every line of `containing` (gunicorn writes a line after
    answering, so it may lag behind the browser a little)."""
    deadline = time.monotonic() + timeout
    while True:
        log = live_server.access_log.read_text(errors="replace")
        if all(text in log for text in containing) or time.monotonic() > deadline:
            return log
        time.sleep(0.05)


def test_the_access_log_never_shows_an_invitation_token(page: Page, browser: Browser, live_server: LiveServer) -> None:
    link = make_invitation_link(page, f"Secret plan {uuid.uuid4().hex[:8]}")
    token = JOIN_URL.search(link).group(1)

    other = new_browser(browser, live_server)
    try:
        # Signed out: /join/<token> redirects to /login?next=%2Fjoin%2F<token>, whose page then
        # loads its stylesheet with that address as Referer.
        visitor = other.new_page()
        visitor.goto(link)
        expect(visitor).to_have_url(re.compile(r"/login\?next=%2Fjoin%2F"))
    finally:
        other.close()
    # The same, spelled by another client: lower-case escapes, the address in a Referer.
    request = urllib.request.Request(f"{live_server.url}/login?next=%2fjoin%2f{token}", headers={"Referer": link})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
    # And by hand-crafted spellings that reach the same page: an escaped letter of "join".
    with urllib.request.urlopen(f"{live_server.url}/jo%69n/{token}", timeout=5) as response:
        assert response.status == 200  # the sign-in page it redirects to

    expected = [
        '"GET /join/[redacted] HTTP/1.1" 302',
        '"GET /login?next=%2Fjoin%2F[redacted] HTTP/1.1" 200',
        '"GET /login?next=%2fjoin%2f[redacted] HTTP/1.1" 200',
        '"GET /join/[redacted] HTTP/1.1" 302',  # from /jo%69n/, logged decoded
        f'"{live_server.url}/login?next=%2Fjoin%2F[redacted]"',  # a Referer
        f'"{live_server.url}/join/[redacted]"',  # the other Referer
    ]
    log = access_log_lines(live_server, containing=expected)
    for line in expected:
        assert line in log
    assert token not in log
