"""What people type never breaks the layout: one long word in a title wraps inside its card."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_board_flow import add_task, create_tablo, sign_up

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
