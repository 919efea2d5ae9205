"""Steps on étapes (issue 9) shared by the browser tests: the Étapes tab, the "Étape" selects of
the board and of a task's page, the board's filter by étape, and dragging an étape. English labels
(the French test says its own)."""

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.test_board_flow import card, column_list

ETAPE_MOVE_URL = re.compile(r"/tablos/\d+/etapes/\d+/move$")


def open_tab(page: Page, name: str) -> None:
    """One of the tablo's tabs: "Tasks", "Étapes", "Members"."""
    page.get_by_role("navigation", name="Tablo sections").get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("navigation", name="Tablo sections").get_by_role("link", name=name, exact=True)).to_have_attribute(
        "aria-current", "page")


def etape(page: Page, title: str) -> Locator:
    """An étape of the Étapes tab, by its title."""
    return page.locator("li.etape").filter(has=page.get_by_role("heading", name=title, exact=True, level=2))


def etape_id(page: Page, title: str) -> str:
    return etape(page, title).get_attribute("id").removeprefix("etape-")


def expect_etapes(page: Page, titles: list[str]) -> None:
    """The Étapes tab lists exactly these étapes, in this order."""
    expect(page.locator(".etape-list > li.etape h2")).to_have_text(titles)


def add_etape(page: Page, title: str, description: str = "") -> None:
    """Through "Add an étape" on the Étapes tab (htmx posts it, or the browser without JavaScript)."""
    form = page.locator("details.new-etape")
    if not form.get_by_label("Title").is_visible():
        form.get_by_text("Add an étape").click()
    form.get_by_label("Title").fill(title)
    if description:
        form.get_by_label("Description (optional)").fill(description)
    form.get_by_role("button", name="Add étape").click()
    expect(etape(page, title)).to_be_visible()


def add_task(page: Page, title: str, etape_title: str | None = None, column: str = "To do") -> None:
    """The board's "Add a task", with its "Étape" select (which keeps the last choice: say it every time)."""
    form = page.locator("details.new-task")
    if not form.get_by_label("Task", exact=True).is_visible():
        form.get_by_text("Add a task").click()
    form.get_by_label("Task", exact=True).fill(title)
    form.get_by_label("Column").select_option(label=column)
    form.get_by_label("Étape", exact=True).select_option(label=etape_title or "No étape")
    form.get_by_role("button", name="Add task").click()
    expect(column_list(page, column).get_by_role("link", name=title, exact=True)).to_be_visible()


def expect_badge(page: Page, title: str, etape_title: str | None) -> None:
    """The card shows its étape (read as "Étape: <title>"), or no étape badge at all."""
    mark = card(page, title).locator(".etape-mark")
    if etape_title is None:
        expect(mark).to_have_count(0)
    else:
        expect(mark).to_have_text(f"Étape: {etape_title}")


def expect_progress(page: Page, title: str, done: int, total: int) -> None:
    """The étape's "done / total" sentence and its bar agree."""
    item = etape(page, title)
    expect(item.locator(".progress-text")).to_have_text(f"{done} / {total} done")
    bar = item.locator("progress")
    expect(bar).to_have_attribute("value", str(done))
    expect(bar).to_have_attribute("max", str(total or 1))
    assert bar.evaluate("(bar) => bar.position") == pytest.approx(done / (total or 1))


def expect_etape_tasks(page: Page, title: str, tasks: list[str]) -> None:
    expect(etape(page, title).locator(".etape-tasks > li > a")).to_have_text(tasks)


def filter_board(page: Page, label: str) -> None:
    """Choose in "Filter by étape": htmx swaps the board (with JavaScript) and puts the filter in the address.
    Not while the last swap settles: htmx wires the new board's filter only then, and a choice
    made before it (no person is that quick) would be lost."""
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")
    page.get_by_label("Filter by étape").select_option(label=label)
    if page.evaluate("() => typeof htmx === 'undefined'"):
        page.get_by_role("button", name="Filter", exact=True).click()


def wait_for_etapes_ready(page: Page) -> None:
    """htmx has settled the last swap of the tab and app.js has made the étapes draggable."""
    page.wait_for_function(
        """() => typeof Sortable !== "undefined"
                && !document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling")
                && Sortable.get(document.querySelector(".etape-list"))"""
    )


# Like the board's DRAG_STATE (test_board_flow.py): "dropped-ok" once the dragged étape sits just
# above `above` and is under the pointer, "wait" while SortableJS animates, "nudge" to make it act.
ETAPE_DRAG_STATE = """([draggedId, aboveId, x, y]) => {
  const dragged = document.getElementById(draggedId);
  if ([...document.querySelectorAll(".etape")].some((item) => item.animated)) return "wait";
  if (dragged.nextElementSibling?.id !== aboveId) return "nudge";
  return document.elementFromPoint(x, y)?.closest(".etape") === dragged ? "dropped-ok" : "wait";
}"""


def drag_etape(page: Page, title: str, above: str) -> None:
    """Drag an étape by its grip with the mouse to just above the étape `above`; then wait for
    the tab the server answers with, swapped in by htmx."""
    wait_for_etapes_ready(page)
    dragged, target = etape(page, title), etape(page, above)
    dragged_id, target_id = dragged.get_attribute("id"), target.get_attribute("id")
    grab = dragged.locator(".drag-handle").bounding_box()
    box = target.bounding_box()
    x, y = grab["x"] + grab["width"] / 2, grab["y"] + grab["height"] / 2
    end_x, end_y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 4
    with page.expect_response(lambda r: r.request.method == "POST" and ETAPE_MOVE_URL.search(r.url)) as response:
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 10, y + 10, steps=2)  # starts a native drag
        expect(dragged).to_have_class(re.compile(r"\bsortable-ghost\b"))  # SortableJS took it
        page.mouse.move(end_x, end_y, steps=10)
        for attempt in range(100):
            state = page.evaluate(ETAPE_DRAG_STATE, [dragged_id, target_id, end_x, end_y])
            if state == "dropped-ok":
                break
            if state == "nudge":
                page.mouse.move(end_x, end_y + (1 if attempt % 2 else -1))
            page.wait_for_timeout(40)
        else:
            pytest.fail(f"SortableJS did not put the étape {title!r} above {above!r}: {state}")
        page.mouse.up()
    assert response.value.status == 200, response.value.text()
    wait_for_etapes_ready(page)
