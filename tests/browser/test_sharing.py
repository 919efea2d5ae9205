"""Sharing a tablo, in a real browser: the owner invites a second person by email, that person
signs up with the address, verifies it through the mailed link (issue 8: until then the
invitation waits) and finds the tablo in "My tablos" (issue 3)."""

import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import EXPECT_TIMEOUT, LiveServer
from tests.browser.test_board_flow import sign_up, verify_email

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def test_owner_invites_by_email_and_the_invitee_finds_the_tablo_after_signing_up(page: Page, browser: Browser, live_server: LiveServer) -> None:
    run = uuid.uuid4().hex[:8]
    invitee_email = f"bea-{run}@example.com"
    title = f"Shared plan {run}"

    sign_up(page, "Ann", f"ann-{run}@example.com")
    page.get_by_role("link", name="New tablo").click()
    page.get_by_label("Title").fill(title)
    page.get_by_role("button", name="Create tablo").click()
    expect(page.get_by_role("heading", name=title)).to_be_visible()

    page.get_by_role("link", name="Members").click()
    page.get_by_label("Email").fill(invitee_email)
    page.get_by_label("Role", exact=True).select_option("editor")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_text("has no account yet")).to_be_visible()
    expect(page.locator("[id^=invitation-]")).to_contain_text(invitee_email)

    # The invitee, in a browser of their own.
    other = browser.new_context(base_url=live_server.url, locale="en-US")
    other.set_default_timeout(EXPECT_TIMEOUT)
    try:
        invitee = other.new_page()
        sign_up(invitee, "Bea", invitee_email.upper())
        expect(invitee.get_by_text("If someone invited you, their tablos appear here once your email is verified.")).to_be_visible()
        expect(invitee.locator(".tablo-card", has_text=title)).to_have_count(0)
        verify_email(invitee, live_server, invitee_email)
        card = invitee.locator(".tablo-card", has_text=title)
        expect(card).to_be_visible()
        expect(card).to_contain_text("Editor")
        card.get_by_role("link", name=title).click()
        expect(invitee.get_by_role("heading", name=title)).to_be_visible()
        expect(invitee.get_by_text("Add a task")).to_be_visible()
    finally:
        other.close()

    # The owner now sees Bea among the members, no longer as a pending invitation.
    page.reload()
    expect(page.locator(".member-list").first).to_contain_text("Bea")
    expect(page.locator("[id^=invitation-]")).to_have_count(0)
