"""What people type never breaks the layout: one long word in a title wraps inside its card."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.etape_steps import add_etape, etape, expect_progress, open_tab
from tests.browser.etape_steps import add_task as add_task_in
from tests.browser.test_board_flow import add_task, card, column_list, create_tablo, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

WIDE_PAGE = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.mark.parametrize("context_options", [{"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
                                             {"viewport": {"width": 1280, "height": 900}}], ids=["phone", "desktop"])
def test_a_title_of_one_long_word_wraps_inside_its_card(page: Page) -> None:
    word = "Supercalifragilistic" * 10  # 200 characters, no space
    sign_up(page, "Wren")
    create_tablo(page, word)
    add_task(page, word)
    card = page.locator(".task").filter(has_text=word[:40])
    expect(card).to_be_visible()
    assert page.evaluate(WIDE_PAGE) <= 0  # nothing wider than the screen
    column = page.locator("#column-todo").bounding_box()
    box = card.bounding_box()
    assert box["x"] + box["width"] <= column["x"] + column["width"] + 1


@pytest.mark.parametrize("context_options", [{"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
                                             {"viewport": {"width": 1280, "height": 900}}], ids=["phone", "desktop"])
def test_etapes_of_one_long_word_fit_the_etapes_tab_and_the_filtered_board(page: Page) -> None:
    """Issue 9: an étape's title (up to 100 characters) is also an option of three selects (the
    board's filter, "Add a task"'s Étape, a task's page) and a badge on each of its cards."""
    word = "Gebäudeinstandsetzung" * 4  # 84 characters, no space
    sign_up(page, "Wren")
    create_tablo(page, "Long étapes")
    open_tab(page, "Étapes")
    add_etape(page, word, description=word * 3)
    add_etape(page, "Short")
    open_tab(page, "Tasks")
    add_task_in(page, word, etape_title=word)
    add_task_in(page, "Unfiled " + word)
    open_tab(page, "Étapes")
    expect_progress(page, word, 0, 1)
    expect(etape(page, word).get_by_label("Add a task to this étape")).to_be_visible()
    assert page.evaluate(WIDE_PAGE) <= 0, "the Étapes tab is wider than the screen"
    tab = page.locator("#etapes-tab").bounding_box()
    for item in page.locator("li.etape").all():
        box = item.bounding_box()
        assert box["x"] + box["width"] <= tab["x"] + tab["width"] + 1

    etape(page, word).get_by_role("link", name=f"Show on the board {word}").click()
    expect(page).to_have_url(re.compile(r"\?etape=\d+$"))
    page.get_by_text("Add a task").click()  # its Étape select offers the long title too
    expect(page.locator("details.new-task").get_by_label("Étape", exact=True)).to_be_visible()
    expect(column_list(page, "To do").locator(".task")).to_have_count(1)
    assert page.evaluate(WIDE_PAGE) <= 0, "the filtered board is wider than the screen"
    column = page.locator("#column-todo").bounding_box()
    box = card(page, word).bounding_box()
    assert box["x"] + box["width"] <= column["x"] + column["width"] + 1

    page.get_by_role("link", name=word, exact=True).click()  # the task's page, with its Étape select
    expect(page.get_by_label("Étape", exact=True)).to_be_visible()
    assert page.evaluate(WIDE_PAGE) <= 0, "the task's page is wider than the screen"
