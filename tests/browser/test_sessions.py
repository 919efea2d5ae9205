"""Sessions in a real browser: a browser signed out by a password change made elsewhere, in the
middle of its work, lands on the sign-in page told why, and comes back to its board (issue 6)."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import EXPECT_TIMEOUT, LiveServer
from tests.browser.test_board_flow import PASSWORD, create_tablo, sign_in, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

NEW_PASSWORD = "a brand new secret"
WHY = "Your password was changed, so this browser was signed out. Sign in with the new password."


def test_a_browser_signed_out_by_a_password_change_is_told_why_after_an_htmx_post(page: Page, browser: Browser, live_server: LiveServer) -> None:
    email = sign_up(page, "Ada")
    create_tablo(page, "Launch")
    board_url = page.url

    # The same person, in another browser, changes the password.
    other = browser.new_context(base_url=live_server.url, locale="en-US")
    other.set_default_timeout(EXPECT_TIMEOUT)
    try:
        elsewhere = other.new_page()
        elsewhere.goto("/login")
        sign_in(elsewhere, email)
        elsewhere.goto("/account/password")
        elsewhere.get_by_label("Current password").fill(PASSWORD)
        elsewhere.get_by_label("New password").fill(NEW_PASSWORD)
        elsewhere.get_by_label("Repeat the password").fill(NEW_PASSWORD)
        elsewhere.get_by_role("button", name="Change password").click()
        expect(elsewhere.get_by_text("Password changed. Every other browser is signed out.")).to_be_visible()
        expect(elsewhere.locator(".session-list li")).to_have_count(1)
    finally:
        other.close()

    # The first browser, still on its board, adds a task: htmx posts it and is refused.
    form = page.locator("details.new-task")
    form.get_by_text("Add a task").click()
    form.get_by_label("Task", exact=True).fill("Written after the change")
    form.get_by_role("button", name="Add task").click()

    expect(page).to_have_url(re.compile(r"/login\?next=%2Ftablos%2F\d+$"))
    expect(page.get_by_text(WHY)).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(board_url) + "$"))
    expect(page.get_by_text(WHY)).to_have_count(0)
    expect(page.get_by_role("link", name="Written after the change")).to_have_count(0)
