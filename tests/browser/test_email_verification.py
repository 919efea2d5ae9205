"""Verifying the email in a real browser (issue 8): sign up, the banner asks for the link, the
link from the mail (read from the live server's log, where a server without SMTP_URL writes its
mail) opens a page whose button verifies, and the banner is gone. The access log never shows the
link's token."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, mailed_link
from tests.browser.test_board_flow import sign_up

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def test_sign_up_then_verify_through_the_mailed_link(page: Page, live_server: LiveServer) -> None:
    email = sign_up(page, "Ada")
    banner = page.locator("#verify-banner")
    expect(banner).to_contain_text(f"Verify your email: we sent a link to {email}.")

    banner.get_by_role("button", name="Send the link again").click()
    expect(page).to_have_url(re.compile(r"/tablos$"))
    expect(page.get_by_text(f"We sent a new link to {email}.")).to_be_visible()

    link = mailed_link(live_server, email, "/email/verify/")
    page.goto(link)
    expect(page.get_by_role("heading", name="Verify your email")).to_be_visible()
    expect(banner).to_have_count(0)  # the page's own button is the one to press
    page.goto("/tablos")
    expect(banner).to_be_visible()  # opening the link verified nothing
    page.goto(link)
    page.get_by_role("button", name="Verify my email").click()

    expect(page).to_have_url(re.compile(r"/tablos$"))
    expect(page.get_by_text(f"Your email {email} is verified.")).to_be_visible()
    expect(banner).to_have_count(0)
    page.reload()
    expect(page.get_by_role("heading", name="My tablos")).to_be_visible()
    expect(banner).to_have_count(0)
    expect(page.get_by_text("If someone invited you")).to_have_count(0)

    token = link.rsplit("/", 1)[1]
    access_log = live_server.access_log.read_text()
    assert token not in access_log
    assert '"POST /email/verify/[redacted] HTTP/1.1" 303' in access_log
