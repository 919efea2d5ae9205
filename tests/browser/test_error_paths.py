"""What a person sees when a form refuses what was typed (issue 6, "What a person saw" 1).

"Add a task" with an empty or too long title once came back as its own HTML shown as text, with
and without JavaScript, while the status codes and substrings that the other tests checked were
right. These tests look at the page as a person does: the form is still a form (a Task textbox
that takes typing, no markup shown as text), the message sits under the field it is about (the
field's aria-describedby target, visible, below it), what was typed in the other fields is still
there, and correcting the title then adds the card.
"""

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.test_board_flow import card, column_list, create_tablo, expect_column, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

WITH_AND_WITHOUT_JAVASCRIPT = pytest.mark.parametrize(
    "context_options", [{}, {"java_script_enabled": False}], ids=["javascript", "no-javascript"]
)
MARKUP_AS_TEXT = ("<input", "<div class=", "<select", "<label", "&lt;")
TOO_LONG = "A title that goes on" + " and on" * 26  # 202 characters, the limit is 200


def expect_no_markup_shown(page: Page) -> None:
    text = page.locator("main").inner_text()
    for markup in MARKUP_AS_TEXT:
        assert markup not in text, f"{markup!r} is shown as text on the page:\n{text}"


def expect_address_reopens(page: Page, heading: str) -> None:
    """The address bar after a refused post opens the same page again (a reload, a bookmark, a
    new tab), not a 405 from a POST-only address."""
    other = page.context.new_page()
    try:
        response = other.goto(page.url)
        assert response is not None and response.status == 200
        expect(other.get_by_role("heading", name=heading, level=1)).to_be_visible()
    finally:
        other.close()


def expect_error_under(field: Locator, message: str) -> None:
    """`field` is marked invalid and described by a visible `message` drawn just below it."""
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_attribute("aria-describedby", re.compile(r"\S"))
    error = field.page.locator(f"#{field.get_attribute('aria-describedby').split()[0]}")  # then any hint
    expect(error).to_have_text(message)
    expect(error).to_be_visible()
    field_box, error_box = field.bounding_box(), error.bounding_box()
    assert field_box and error_box
    assert error_box["y"] >= field_box["y"] + field_box["height"], "the message is not under its field"


@WITH_AND_WITHOUT_JAVASCRIPT
@pytest.mark.parametrize(
    ("title", "message"),
    [("", "Give it a title."), (TOO_LONG, "Keep the title under 200 characters.")],
    ids=["empty-title", "title-too-long"],
)
def test_add_a_task_with_a_bad_title_keeps_the_form_and_says_why_under_the_field(page: Page, title: str, message: str) -> None:
    sign_up(page, "Ada")
    create_tablo(page, "Errors")
    board_url = page.url
    new_task = page.locator("details.new-task")
    new_task.get_by_text("Add a task").click()
    task = new_task.get_by_label("Task", exact=True)
    # The field says maxlength="200", which a browser enforces on typing: a longer title comes
    # from a browser that does not (or from a paste through the developer tools).
    task.evaluate("(input) => input.removeAttribute('maxlength')")
    task.fill(title)
    new_task.get_by_label("Column").select_option(label="In progress")
    new_task.get_by_label("Due date (optional)").fill("2031-05-04")
    new_task.get_by_label("Notes (optional)").fill("Bring the slides")
    with page.expect_response(lambda r: r.request.method == "POST") as response:
        new_task.get_by_role("button", name="Add task").click()
    assert response.value.status == 422

    expect(page.get_by_role("heading", name="Errors", level=1)).to_be_visible()
    expect_no_markup_shown(page)
    task = new_task.get_by_label("Task", exact=True)  # the same form, drawn again
    expect(task).to_be_visible()
    expect(task).to_be_editable()
    expect(task).to_have_value(title)
    expect_error_under(task, message)
    expect(new_task.get_by_label("Column")).to_have_value("in_progress")
    expect(new_task.get_by_label("Due date (optional)")).to_have_value("2031-05-04")
    expect(new_task.get_by_label("Notes (optional)")).to_have_value("Bring the slides")
    expect_column(page, "In progress", [])
    expect_address_reopens(page, "Errors")

    task.fill("Rehearse the talk")
    new_task.get_by_role("button", name="Add task").click()
    expect_column(page, "In progress", ["Rehearse the talk"])
    expect(card(page, "Rehearse the talk").locator("time")).to_have_attribute("datetime", "2031-05-04")
    expect(card(page, "Rehearse the talk")).to_contain_text("Notes")
    expect(page.get_by_text(message, exact=True).filter(visible=True)).to_have_count(0)
    expect_no_markup_shown(page)
    assert page.url.split("#")[0] == board_url


@pytest.mark.parametrize("context_options", [{"java_script_enabled": False}], ids=["no-javascript"])
def test_move_to_with_a_bad_position_keeps_the_form_and_says_why_under_the_field(page: Page) -> None:
    sign_up(page, "Grace")
    create_tablo(page, "Moves")
    new_task = page.locator("details.new-task")
    for title in ("Alpha", "Beta"):
        new_task.get_by_text("Add a task").click()
        new_task.get_by_label("Task", exact=True).fill(title)
        new_task.get_by_role("button", name="Add task").click()
        expect(column_list(page, "To do").get_by_role("link", name=title, exact=True)).to_be_visible()
    card(page, "Beta").get_by_role("link", name="Move… Beta").click()

    move = page.locator("#move")
    move.get_by_label("Column").select_option(label="Done")
    move.get_by_label("Position (1 is the top)").fill("0")
    with page.expect_response(lambda r: r.request.method == "POST") as response:
        move.get_by_role("button", name="Move", exact=True).click()
    assert response.value.status == 422

    expect(page.get_by_role("heading", name="Beta", level=1)).to_be_visible()
    expect_no_markup_shown(page)
    position = move.get_by_label("Position (1 is the top)")
    expect(position).to_be_editable()
    expect(position).to_have_value("0")
    expect_error_under(position, "The position is a number from 1 up.")
    expect(move.get_by_label("Column")).to_have_value("done")
    expect_address_reopens(page, "Beta")

    position.fill("1")
    move.get_by_role("button", name="Move", exact=True).click()
    expect(page).to_have_url(re.compile(r"/tablos/\d+#task-\d+$"))
    expect_column(page, "Done", ["Beta"])
    expect_column(page, "To do", ["Alpha"])
