"""After htmx swaps the board, the keyboard focus stays where the person works and the result is
announced in the live region (issue 6, "What a person saw" 9).

The swap replaces the element that had the focus, which then fell to <body>: a keyboard user had
to Tab from the top of the page again, and a screen reader said nothing. The server now says in
HX-Trigger-After-Settle where the focus goes and what to announce; app.js does both. Once the
browser is on the board these tests add tasks with the keyboard only.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.etape_steps import etape, expect_etape_tasks, expect_etapes, open_tab
from tests.browser.test_board_flow import add_task, card, column_list, create_tablo, drag, expect_column, sign_up, tab_to

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def test_the_focus_stays_in_the_task_field_and_results_are_announced(page: Page) -> None:
    sign_up(page, "Ada")
    create_tablo(page, "Focus")
    page.goto(page.url)  # from the top of a fresh page, as a keyboard user arrives
    announcer = page.locator("#announcer")
    expect(announcer).to_have_attribute("role", "status")
    task = page.locator("details.new-task").get_by_label("Task", exact=True)

    tab_to(page, page.locator("details.new-task summary"))
    page.keyboard.press("Enter")  # opens "Add a task"
    page.keyboard.press("Tab")
    expect(task).to_be_focused()
    page.keyboard.type("Write the brief")
    page.keyboard.press("Enter")
    expect(column_list(page, "To do").get_by_role("link", name="Write the brief", exact=True)).to_be_visible()
    expect(announcer).to_have_text("“Write the brief” added to To do.")
    expect(task).to_be_focused()  # ready for the next one
    expect(task).to_have_value("")
    assert page.evaluate("() => document.activeElement.id") == "title"

    page.keyboard.press("Enter")  # an empty title
    expect(announcer).to_have_text("Give it a title.")
    expect(task).to_have_attribute("aria-invalid", "true")
    expect(task).to_be_focused()

    page.keyboard.type("Book the venue")
    page.keyboard.press("Enter")
    expect(announcer).to_have_text("“Book the venue” added to To do.")
    expect(task).to_be_focused()
    expect(task).not_to_have_attribute("aria-invalid", "true")
    expect_column(page, "To do", ["Write the brief", "Book the venue"])

    # A card dragged with the mouse: the focus lands on that card, in its new place.
    drag(page, "Book the venue", to=column_list(page, "Done"))
    expect_column(page, "Done", ["Book the venue"])
    expect(announcer).to_have_text("“Book the venue” moved to Done, position 1.")
    expect(card(page, "Book the venue").get_by_role("link", name="Book the venue", exact=True)).to_be_focused()


def test_on_the_etapes_tab_and_the_filter_the_focus_stays_where_one_works(page: Page) -> None:
    """Issue 9: adding an étape, filing a task under one, taking it out again and filtering the
    board, each with the keyboard only; every htmx swap leaves the focus on the next thing to do."""
    sign_up(page, "Eve")
    create_tablo(page, "Focus étapes")
    add_task(page, "Sketch")
    add_task(page, "Pour the slab")
    open_tab(page, "Étapes")
    page.goto(page.url)
    announcer = page.locator("#announcer")
    title = page.locator("details.new-etape").get_by_label("Title")

    tab_to(page, page.locator("details.new-etape summary"))
    page.keyboard.press("Enter")  # opens "Add an étape"
    page.keyboard.press("Tab")
    expect(title).to_be_focused()
    page.keyboard.type("Design")
    page.keyboard.press("Enter")
    expect(etape(page, "Design")).to_be_visible()
    expect(announcer).to_have_text("Étape “Design” added.")
    expect(title).to_be_focused()  # ready for the next one
    expect(title).to_have_value("")
    page.keyboard.press("Enter")  # an empty title
    expect(announcer).to_have_text("Give it a title.")
    expect(title).to_have_attribute("aria-invalid", "true")
    expect(title).to_be_focused()
    page.keyboard.type("Building")
    page.keyboard.press("Enter")
    expect(announcer).to_have_text("Étape “Building” added.")
    expect_etapes(page, ["Design", "Building"])

    # "Add a task to this étape": the focus comes back to its select, for the next task.
    select = etape(page, "Design").get_by_label("Add a task to this étape")
    select.focus()
    expect(select).to_have_value(re.compile(r"\d+"))
    page.keyboard.press("Tab")
    expect(etape(page, "Design").get_by_role("button", name="Add", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(announcer).to_have_text("“Sketch” added to étape “Design”.")
    expect_etape_tasks(page, "Design", ["Sketch"])
    expect(select).to_be_focused()

    # Taken out again: the focus goes to the étape's heading (the button it pressed is gone).
    remove = etape(page, "Design").get_by_role("button", name="Remove “Sketch” from this étape")
    remove.focus()
    page.keyboard.press("Enter")
    expect(announcer).to_have_text("“Sketch” no longer has an étape.")
    expect_etape_tasks(page, "Design", [])
    expect(etape(page, "Design").get_by_role("heading", name="Design")).to_be_focused()

    # The board's filter, with the keyboard: the board changes under it, the focus stays on it.
    open_tab(page, "Tasks")
    page.goto(page.url)
    filter_select = page.get_by_label("Filter by étape")
    tab_to(page, filter_select)
    page.keyboard.press("ArrowDown")  # from "All tasks" to "Design"
    expect(page).to_have_url(re.compile(r"\?etape=\d+$"))
    expect(filter_select).to_have_value(re.compile(r"^\d+$"))
    expect_column(page, "To do", [])
    expect(filter_select).to_be_focused()
