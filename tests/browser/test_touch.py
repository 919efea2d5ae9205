"""The board on a phone: real touch input, sent through the DevTools protocol as a touchscreen
sends it (`Input.dispatchTouchEvent`), in a phone-sized context with touch and a mobile viewport.

A finger that swipes over a card scrolls the page, as everywhere else on the web, and moves no
card; a finger that rests on a card a moment, then moves, drags it, and the server saves the move
(issue 6, "What a person saw", item 2).
"""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import CDPSession, Page, Request, expect

from tests.browser.test_board_flow import (
    MOVE_URL, add_task, card, column_list, create_tablo, expect_column, sign_up, wait_for_board_ready,
)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

# A phone as SortableJS sees it: it reads the user agent to leave native drag and drop to
# desktops, as it does on a real Android phone.
PHONE = {
    "user_agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/140.0.0.0 Mobile Safari/537.36",
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
TASKS = [f"Errand {n}" for n in range(1, 9)]  # enough cards for the page to scroll on a phone


@pytest.fixture
def context_options() -> dict:
    return PHONE


@pytest.fixture
def touch(page: Page) -> Iterator[CDPSession]:
    session = page.context.new_cdp_session(page)
    yield session
    session.detach()


@pytest.fixture
def move_posts(page: Page) -> list[str]:
    """Every move the page posts, whether or not the server answers it."""
    posts: list[str] = []

    def record(request: Request) -> None:
        if request.method == "POST" and MOVE_URL.search(request.url):
            posts.append(request.url)

    page.on("request", record)
    return posts


def finger(session: CDPSession, kind: str, x: float | None = None, y: float | None = None) -> None:
    """One touch event of a single finger, at (x, y) in CSS pixels of the viewport."""
    points = [] if kind == "touchEnd" else [{"x": x, "y": y, "radiusX": 8, "radiusY": 8, "force": 1}]
    session.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})


def slide(page: Page, session: CDPSession, start: tuple[float, float], end: tuple[float, float],
          steps: int, pause_ms: int = 16) -> None:
    """Move the finger in a straight line, one event per frame or so."""
    (x0, y0), (x1, y1) = start, end
    for step in range(1, steps + 1):
        finger(session, "touchMove", x0 + (x1 - x0) * step / steps, y0 + (y1 - y0) * step / steps)
        page.wait_for_timeout(pause_ms)


def centre(page: Page, title: str) -> tuple[float, float]:
    box = card(page, title).get_by_role("link", name=title, exact=True).bounding_box()
    assert box, f"{title!r} is not on the page"
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def a_board_of_errands(page: Page) -> None:
    sign_up(page, "Pat")
    create_tablo(page, "Errands")
    for title in TASKS:
        add_task(page, title)
    page.reload()  # a fresh page, scrolled to the top, as a person opens it
    expect_column(page, "To do", TASKS)
    wait_for_board_ready(page)
    # Chromium restores the scroll position on reload (the last add left the focus, and the
    # view, on the "Task" field below the header, which wraps to two lines on a phone since the
    # header has a Planning link): back to the top, where a person opening the board starts.
    page.evaluate("() => window.scrollTo(0, 0)")


def test_a_swipe_that_starts_on_a_card_scrolls_the_page_and_moves_nothing(page: Page, touch: CDPSession, move_posts: list[str]) -> None:
    a_board_of_errands(page)
    assert page.evaluate("() => document.documentElement.scrollHeight > window.innerHeight"), "the page must be able to scroll"
    assert page.evaluate("() => window.scrollY") == 0

    # A thumb lands on the fourth card and flicks upwards, as one reads down a page.
    x, y = centre(page, "Errand 4")
    finger(touch, "touchStart", x, y)
    slide(page, touch, (x, y), (x, y - 300), steps=12)
    finger(touch, "touchEnd")
    page.wait_for_timeout(300)  # a drop would post within this time

    assert page.evaluate("() => window.scrollY") > 150, "the page did not scroll"
    expect(page.locator(".task.sortable-chosen, .task.sortable-ghost")).to_have_count(0)
    assert move_posts == []
    page.reload()
    expect_column(page, "To do", TASKS)
    expect_column(page, "In progress", [])


def test_a_long_press_then_a_move_drags_the_card_and_the_server_saves_it(page: Page, touch: CDPSession) -> None:
    sign_up(page, "Sam")
    create_tablo(page, "Chores")
    for title in ("Sweep", "Dust", "Mop"):
        add_task(page, title)
    page.reload()
    wait_for_board_ready(page)
    target = column_list(page, "In progress")
    target.scroll_into_view_if_needed()
    x, y = centre(page, "Dust")
    box = target.bounding_box()
    assert box and box["y"] + box["height"] < PHONE["viewport"]["height"], "the target column is on screen"
    end = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)

    with page.expect_response(lambda r: r.request.method == "POST" and MOVE_URL.search(r.url)) as response:
        finger(touch, "touchStart", x, y)
        # The finger rests (a resting finger trembles a pixel or two) until SortableJS has taken
        # the card...
        slide(page, touch, (x, y), (x + 2, y - 1), steps=2)
        expect(card(page, "Dust")).to_have_class(re.compile(r"\bsortable-chosen\b"))
        # ...then slides down into the empty "In progress" list, and lifts once the card is in it.
        slide(page, touch, (x, y), end, steps=15, pause_ms=40)
        expect(target.locator(".task-title")).to_have_text(["Dust"])
        finger(touch, "touchEnd")
    assert response.value.status == 200, response.value.text()
    wait_for_board_ready(page)
    expect(page).to_have_url(re.compile(r"/tablos/\d+$"))  # the lifted finger followed no link

    expect_column(page, "In progress", ["Dust"])
    expect_column(page, "To do", ["Sweep", "Mop"])
    page.reload()
    expect_column(page, "In progress", ["Dust"])
    expect_column(page, "To do", ["Sweep", "Mop"])
