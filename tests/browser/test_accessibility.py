"""axe-core checks the main pages in a real browser, in the light theme and in the dark one.

axe-core (vendored under tests/browser/vendor/, see its README) runs its default rules, WCAG 2.x
A and AA and its best practices, on each page as a person reaches it: signed out, as the owner of
a tablo with cards, as a viewer of it. The colour-contrast rule measures what chromium draws, so
the dark run checks the dark theme (`color_scheme="dark"`). The script is injected through
Playwright, with the page's Content-Security-Policy bypassed for this module only: the app's CSP
rightly refuses a script it does not serve. The étape pages (issue 9) have a test of their own.
"""

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import EXPECT_TIMEOUT, LiveServer
from tests.browser.etape_steps import add_etape, etape, expect_progress, filter_board, open_tab
from tests.browser.test_board_flow import (
    PASSWORD, add_task, card, column_list, create_tablo, expect_column, sign_up, verify_email, wait_for_board_ready,
)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
RUN_AXE = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return {
    checked: [...results.passes, ...results.violations].map((rule) => rule.id),
    violations: results.violations.map((violation) => ({
      id: violation.id,
      help: violation.help,
      targets: violation.nodes.map((node) => `${node.target.join(" ")} ${node.html.slice(0, 100)}`),
    })),
  };
}"""
SCHEMES = [
    pytest.param({"bypass_csp": True, "color_scheme": "light"}, id="light"),
    pytest.param({"bypass_csp": True, "color_scheme": "dark"}, id="dark"),
]


class Axe:
    """Runs axe on pages and keeps what it found on each, by page name."""

    def __init__(self) -> None:
        self.violations: dict[str, list[str]] = {}

    def check(self, page: Page, name: str) -> None:
        page.wait_for_load_state()
        page.add_script_tag(path=AXE)
        results = page.evaluate(RUN_AXE)
        assert "color-contrast" in results["checked"], f"axe did not measure the colours of {name}"
        if results["violations"]:
            self.violations[name] = [f"{v['id']} ({v['help']}):\n    " + "\n    ".join(v["targets"])
                                     for v in results["violations"]]

    def report(self) -> str:
        return "\n".join(f"{page}:\n  " + "\n  ".join(lines) for page, lines in self.violations.items())


def other_person(browser: Browser, live_server: LiveServer, options: dict) -> BrowserContext:
    context = browser.new_context(base_url=live_server.url, locale="en-US", **options)
    context.set_default_timeout(EXPECT_TIMEOUT)
    context.set_default_navigation_timeout(EXPECT_TIMEOUT)
    return context


def a_board_shared_with_a_viewer(page: Page, viewer_page: Page, live_server: LiveServer) -> str:
    """The owner (on `page`) plans a tablo with cards in two columns and invites a viewer by
    email, who signs up (on `viewer_page`) and verifies the address, and so joins it. Returns the
    board's URL. (The owner never verifies: the owner's pages show the banner that asks to.)"""
    run = uuid.uuid4().hex[:8]
    viewer_email = f"vic-{run}@example.com"
    sign_up(page, "Olga", f"olga-{run}@example.com")
    create_tablo(page, f"Launch {run}")
    for title in ("Write the brief", "Book the venue"):
        add_task(page, title)
    add_task(page, "Print the badges", column="Done")
    board_url = page.url
    page.get_by_role("link", name="Members").click()
    page.get_by_label("Email").fill(viewer_email)
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("[id^=invitation-]")).to_contain_text(viewer_email)
    sign_up(viewer_page, "Vic", viewer_email)
    verify_email(viewer_page, live_server, viewer_email)
    return board_url


@pytest.mark.parametrize("context_options", SCHEMES)
def test_the_main_pages_have_no_axe_violations(page: Page, browser: Browser, live_server: LiveServer, context_options: dict) -> None:
    axe = Axe()
    page.goto("/login")
    axe.check(page, "sign-in")
    page.goto("/signup")
    page.get_by_role("button", name="Sign up").click()  # empty: every field shows its error
    expect(page.locator(".error").first).to_be_visible()
    axe.check(page, "sign-up, with errors")
    page.goto("/signup")
    axe.check(page, "sign-up")

    viewer_context = other_person(browser, live_server, context_options)
    try:
        viewer = viewer_context.new_page()
        board_url = a_board_shared_with_a_viewer(page, viewer, live_server)

        # The owner's pages.
        page.goto("/tablos")
        axe.check(page, "my tablos")
        page.goto(board_url)
        page.get_by_text("Add a task").click()  # the form open, as when adding cards
        wait_for_board_ready(page)
        axe.check(page, "board, as its owner")
        card(page, "Book the venue").get_by_role("link", name="Book the venue", exact=True).click()
        expect(page.get_by_role("heading", name="Move to…")).to_be_visible()
        axe.check(page, "task page, as its owner")
        page.goto(board_url)
        page.get_by_role("link", name="Members").click()
        page.get_by_role("button", name="Create a link").click()  # the new link shows in a flash
        expect(page.locator("#flashes .flash")).to_be_visible()
        axe.check(page, "members, as the owner, with a new link")
        page.goto("/account/sessions")
        axe.check(page, "sessions")
        page.goto("/account")
        axe.check(page, "account")
        page.get_by_label("New email").fill("not an email")
        page.get_by_role("button", name="Change email").click()
        expect(page.locator(".error").first).to_be_visible()
        axe.check(page, "account, with an error")
        page.goto("/account/password")
        axe.check(page, "password")
        page.get_by_label("Current password").fill(PASSWORD + " not")
        page.get_by_role("button", name="Change password").click()
        expect(page.locator(".error").first).to_be_visible()
        axe.check(page, "password, with an error")

        # The viewer's.
        viewer.goto(board_url)
        expect_column(viewer, "To do", ["Write the brief", "Book the venue"])
        axe.check(viewer, "board, as a viewer")
        column_list(viewer, "Done").get_by_role("link", name="Print the badges", exact=True).click()
        expect(viewer.get_by_role("heading", name="Print the badges")).to_be_visible()
        axe.check(viewer, "task page, as a viewer")
        viewer.goto(board_url)
        viewer.get_by_role("link", name="Members").click()
        axe.check(viewer, "members, as a viewer")
    finally:
        viewer_context.close()

    assert axe.violations == {}, f"axe found in the {context_options['color_scheme']} theme:\n{axe.report()}"


def test_only_an_editor_s_cards_look_draggable(page: Page, browser: Browser, live_server: LiveServer) -> None:
    viewer_context = other_person(browser, live_server, {})
    try:
        viewer = viewer_context.new_page()
        board_url = a_board_shared_with_a_viewer(page, viewer, live_server)
        page.goto(board_url)
        viewer.goto(board_url)
        cursor = "(element) => getComputedStyle(element).cursor"
        assert card(page, "Write the brief").evaluate(cursor) == "grab"
        assert card(viewer, "Write the brief").evaluate(cursor) == "auto"
    finally:
        viewer_context.close()


@pytest.mark.parametrize("context_options", SCHEMES)
def test_the_etape_pages_have_no_axe_violations(page: Page, browser: Browser, live_server: LiveServer, context_options: dict) -> None:
    """Issue 9's pages with étapes, tasks in them and progress under way, as the owner and as a viewer."""
    axe = Axe()
    viewer_context = other_person(browser, live_server, context_options)
    try:
        viewer = viewer_context.new_page()
        board_url = a_board_shared_with_a_viewer(page, viewer, live_server)
        page.goto(board_url)
        open_tab(page, "Étapes")
        add_etape(page, "Design", "Sketches, plans and the permit")
        add_etape(page, "Building")
        for task, column in [("Write the brief", "To do"), ("Print the badges", "Done")]:
            etape(page, "Design").get_by_label("Add a task to this étape").select_option(label=f"{task} ({column})")
            etape(page, "Design").get_by_role("button", name="Add", exact=True).click()
            expect(etape(page, "Design").get_by_role("link", name=task, exact=True)).to_be_visible()
        expect_progress(page, "Design", 1, 2)
        page.get_by_text("Add an étape").click()
        page.get_by_role("button", name="Add étape").click()  # no title
        expect(page.locator("#title-error")).to_be_visible()
        axe.check(page, "étapes, as the owner, with an error in the form")
        page.reload()
        axe.check(page, "étapes, as the owner")
        etape(page, "Design").get_by_role("link", name="Edit Design").click()
        axe.check(page, "edit étape")
        page.go_back()
        etape(page, "Design").get_by_role("link", name="Delete… Design").click()
        axe.check(page, "delete étape")
        page.go_back()
        etape(page, "Design").get_by_role("link", name="Show on the board Design").click()
        expect(page).to_have_url(re.compile(r"\?etape=\d+$"))
        page.get_by_text("Add a task").click()
        wait_for_board_ready(page)
        axe.check(page, "board filtered by an étape, as the owner")
        filter_board(page, "Without étape")
        expect(page).to_have_url(re.compile(r"\?etape=none$"))
        expect_column(page, "To do", ["Book the venue"])
        wait_for_board_ready(page)
        axe.check(page, "board without étape, as the owner")

        viewer.goto(board_url)
        open_tab(viewer, "Étapes")
        expect_progress(viewer, "Design", 1, 2)
        axe.check(viewer, "étapes, as a viewer")
        open_tab(viewer, "Tasks")
        filter_board(viewer, "Design")
        expect_column(viewer, "Done", ["Print the badges"])
        axe.check(viewer, "board filtered by an étape, as a viewer")
    finally:
        viewer_context.close()

    assert axe.violations == {}, f"axe found in the {context_options['color_scheme']} theme:\n{axe.report()}"


@pytest.mark.parametrize("context_options", SCHEMES)
def test_the_events_pages_and_the_planning_have_no_axe_violations(page: Page, browser: Browser, live_server: LiveServer,
                                                                   context_options: dict) -> None:
    """Issue 10's pages: the Events tab (empty, with its form open, with an error in it, with
    events), an event's page and its delete page, as the owner and as a viewer; the planning's
    three views with the feed on."""
    axe = Axe()
    viewer_context = other_person(browser, live_server, context_options)
    try:
        viewer = viewer_context.new_page()
        board_url = a_board_shared_with_a_viewer(page, viewer, live_server)
        page.goto(board_url)
        open_tab(page, "Events")
        axe.check(page, "events, empty, as the owner")
        page.get_by_text("Add an event").click()
        axe.check(page, "events, the form open")
        page.get_by_role("button", name="Add event").click()  # nothing typed
        expect(page.locator("#title-error")).to_be_visible()
        axe.check(page, "events, with errors in the form")
        page.get_by_label("Title").fill("Site visit")
        page.get_by_label("Starts on").fill("2030-05-14")
        page.get_by_label("Start time").fill("09:00")
        page.get_by_label("Location (optional)").fill("12 rue de la Paix")
        page.get_by_label("Description (optional)").fill("Bring the plans.")
        page.get_by_role("button", name="Add event").click()
        expect(page.get_by_text("Event “Site visit” added.")).to_be_visible()
        page.get_by_text("Add an event").click()
        page.get_by_label("Title").fill("Closed")
        page.get_by_label("All day").check()
        page.get_by_label("Starts on").fill("2030-05-20")
        page.get_by_label("Ends on (optional)").fill("2030-05-22")
        page.get_by_role("button", name="Add event").click()
        expect(page.get_by_text("Event “Closed” added.")).to_be_visible()
        axe.check(page, "events, as the owner")
        page.get_by_role("link", name="Show past events").click()
        axe.check(page, "past events")
        page.go_back()
        page.get_by_role("link", name="Edit Site visit").click()
        axe.check(page, "an event's page, as the owner")
        page.get_by_label("End time (optional)").fill("08:00")
        page.get_by_role("button", name="Save").click()
        expect(page.locator("#end_time-error")).to_be_visible()
        axe.check(page, "an event's page, with an error")
        page.get_by_role("link", name="Delete this event…").click()
        axe.check(page, "delete an event")

        for view in ("agenda", "week", "month"):
            page.goto(f"/planning?view={view}&date=2030-05-14")
            if view == "agenda":
                page.get_by_role("button", name="Turn on the calendar feed").click()
                expect(page.get_by_label("Your feed’s address")).to_be_visible()
            expect(page.get_by_role("link", name="Site visit", exact=True).first).to_be_visible()
            axe.check(page, f"planning, {view}, with the feed on")

        viewer.goto(board_url)
        open_tab(viewer, "Events")
        expect(viewer.get_by_role("link", name="Site visit", exact=True)).to_be_visible()
        axe.check(viewer, "events, as a viewer")
        viewer.get_by_role("link", name="Site visit", exact=True).click()
        axe.check(viewer, "an event's page, as a viewer")
    finally:
        viewer_context.close()

    assert axe.violations == {}, f"axe found in the {context_options['color_scheme']} theme:\n{axe.report()}"


def test_a_field_is_described_by_its_hint_and_then_by_its_error(page: Page) -> None:
    """A screen reader says a field's hint with the field, and once the form has refused what was
    typed, the error first, then the hint: both are the field's accessible description."""
    page.goto("/signup")
    password = page.get_by_label("Password", exact=True)
    expect(password).to_have_accessible_description("At least 8 characters.")
    page.get_by_label("Your name").fill("Ada")
    page.get_by_label("Email").fill(f"ada-{uuid.uuid4().hex[:8]}@example.com")
    password.fill("short")
    page.get_by_label("Repeat the password").fill("short")
    page.get_by_role("button", name="Sign up").click()
    password = page.get_by_label("Password", exact=True)
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_accessible_description("Use at least 8 characters. At least 8 characters.")
    expect(page.get_by_label("Email")).to_have_accessible_description("")
