"""Étapes (issue 9) in a real browser: the stages of a tablo, each grouping some of its tasks.

The issue's scenario end to end: two étapes made on the Étapes tab, tasks filed under them from
the board's "Add a task" form and from a task's page, an étape's progress that follows a card
dragged to Done, the board filtered by étape (in the address, across a reload, "Without étape"
too), a card dragged on a filtered board that lands by the card it was dropped next to, and an
étape deleted whose tasks stay on the board. Then reordering étapes with the keyboard and with
the mouse, the same flows without JavaScript, and what a viewer sees. The steps are in
etape_steps.py; the étape pages' axe, focus, phone-width and French checks sit with the others
(test_accessibility.py, test_focus.py, test_layout.py, test_french.py).
"""

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.etape_steps import (
    ETAPE_MOVE_URL, add_etape, add_task, drag_etape, etape, etape_id, expect_badge, expect_etape_tasks, expect_etapes,
    expect_progress, filter_board, open_tab,
)
from tests.browser.test_accessibility import a_board_shared_with_a_viewer, other_person
from tests.browser.test_board_flow import column_list, create_tablo, drag, expect_column, sign_up, tab_to

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

NO_JAVASCRIPT = pytest.param({"java_script_enabled": False}, id="no-javascript")


# -- Tests -------------------------------------------------------------------------------------


def test_plan_with_etapes_follow_progress_filter_drag_on_a_filtered_board_and_delete(page: Page) -> None:
    sign_up(page, "Élise")
    create_tablo(page, "Maison")
    board_url = page.url

    open_tab(page, "Étapes")
    expect(page.get_by_text("No étape yet.")).to_be_visible()
    add_etape(page, "Études", "Plans, permis, devis")
    add_etape(page, "Gros œuvre")
    expect_etapes(page, ["Études", "Gros œuvre"])
    expect(etape(page, "Études")).to_contain_text("Plans, permis, devis")
    expect_progress(page, "Études", 0, 0)
    etudes, gros_oeuvre = etape_id(page, "Études"), etape_id(page, "Gros œuvre")

    # Tasks filed from the board's "Add a task" form...
    open_tab(page, "Tasks")
    add_task(page, "Nettoyage", column="In progress")
    add_task(page, "Fondations")
    add_task(page, "Plans", "Études")
    add_task(page, "Permis", "Études")
    expect_column(page, "To do", ["Fondations", "Plans", "Permis"])
    expect_badge(page, "Plans", "Études")
    expect_badge(page, "Permis", "Études")
    expect_badge(page, "Fondations", None)

    # ... and from a task's page.
    page.get_by_role("link", name="Fondations", exact=True).click()
    expect(page.get_by_label("Étape", exact=True)).to_have_value("")
    page.get_by_label("Étape", exact=True).select_option(label="Gros œuvre")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Task saved.")).to_be_visible()
    expect_badge(page, "Fondations", "Gros œuvre")

    open_tab(page, "Étapes")
    expect_progress(page, "Études", 0, 2)
    expect_progress(page, "Gros œuvre", 0, 1)
    expect_etape_tasks(page, "Études", ["Plans", "Permis"])
    expect_etape_tasks(page, "Gros œuvre", ["Fondations"])
    expect(page.locator(".ungrouped")).to_contain_text("1 task has no étape.")
    expect(page.locator(".ungrouped").get_by_role("link", name="Show it on the board")).to_be_visible()

    # A card dragged to Done on the board counts as done on the tab.
    open_tab(page, "Tasks")
    drag(page, "Permis", to=column_list(page, "Done"))
    expect_column(page, "Done", ["Permis"])
    open_tab(page, "Étapes")
    expect_progress(page, "Études", 1, 2)
    expect_progress(page, "Gros œuvre", 0, 1)

    # The board filtered by an étape: in the address, only its cards, kept by a reload.
    open_tab(page, "Tasks")
    filter_board(page, "Études")
    expect(page).to_have_url(f"{board_url}?etape={etudes}")
    expect_column(page, "To do", ["Plans"])
    expect_column(page, "In progress", [])
    expect_column(page, "Done", ["Permis"])
    # A task added here goes to the étape shown.
    page.locator("details.new-task").get_by_text("Add a task").click()
    expect(page.locator("details.new-task").get_by_label("Étape", exact=True)).to_have_value(etudes)
    page.reload()
    expect(page.get_by_label("Filter by étape")).to_have_value(etudes)
    expect_column(page, "To do", ["Plans"])
    expect_column(page, "Done", ["Permis"])

    filter_board(page, "Without étape")
    expect(page).to_have_url(f"{board_url}?etape=none")
    expect_column(page, "To do", [])
    expect_column(page, "In progress", ["Nettoyage"])
    expect_column(page, "Done", [])

    filter_board(page, "Gros œuvre")
    expect(page).to_have_url(f"{board_url}?etape={gros_oeuvre}")
    expect_column(page, "To do", ["Fondations"])
    expect_column(page, "In progress", [])

    # Dropped above "Plans" on the filtered board: first among the cards shown, but in the
    # column it lands by "Plans", below "Fondations" (hidden here), not at the top.
    filter_board(page, "Études")
    expect(page).to_have_url(f"{board_url}?etape={etudes}")
    drag(page, "Permis", to=column_list(page, "To do"), above="Plans")
    expect_column(page, "To do", ["Permis", "Plans"])
    expect_column(page, "Done", [])
    expect(page).to_have_url(f"{board_url}?etape={etudes}")  # still filtered
    page.get_by_role("link", name="Show all tasks").click()
    expect(page).to_have_url(board_url)
    expect_column(page, "To do", ["Fondations", "Permis", "Plans"])
    page.reload()
    expect_column(page, "To do", ["Fondations", "Permis", "Plans"])
    expect_column(page, "Done", [])

    open_tab(page, "Étapes")
    expect_progress(page, "Études", 0, 2)  # back out of Done

    # Deleting an étape says how many tasks it ungroups; they stay on the board, without badge.
    etape(page, "Études").get_by_role("link", name="Delete… Études").click()
    expect(page.get_by_role("heading", name="Delete the étape “Études”?")).to_be_visible()
    expect(page.get_by_text("Its 2 tasks will be ungrouped: they stay on the board, in their columns, without étape.")).to_be_visible()
    page.get_by_role("button", name="Delete étape").click()
    expect(page.get_by_text("Étape “Études” deleted; its 2 tasks stay on the board, without étape.")).to_be_visible()
    expect_etapes(page, ["Gros œuvre"])
    expect(page.locator(".ungrouped")).to_contain_text("3 tasks have no étape.")
    open_tab(page, "Tasks")
    expect_column(page, "To do", ["Fondations", "Permis", "Plans"])
    for title in ("Permis", "Plans"):
        expect_badge(page, title, None)
    expect_badge(page, "Fondations", "Gros œuvre")
    expect(page.get_by_label("Filter by étape").locator("option")).to_have_text(["All tasks", "Gros œuvre", "Without étape"])


def test_reorder_etapes_with_the_keyboard_and_by_drag_and_drop(page: Page) -> None:
    sign_up(page, "Kim")
    create_tablo(page, "Reorder")
    open_tab(page, "Étapes")
    for title in ("Design", "Building", "Finishing"):
        add_etape(page, title)
    expect_etapes(page, ["Design", "Building", "Finishing"])

    # From the top of a fresh page: Tab to Design's "Move down", Enter, twice.
    page.goto(page.url)
    move_down = etape(page, "Design").get_by_role("button", name="Move down Design")
    tab_to(page, move_down)
    with page.expect_response(lambda r: r.request.method == "POST" and ETAPE_MOVE_URL.search(r.url)):
        page.keyboard.press("Enter")
    expect_etapes(page, ["Building", "Design", "Finishing"])
    expect(move_down).to_be_focused()  # the button of the étape it moved, in its new place
    expect(page.locator("#announcer")).to_have_text("Étape “Design” moved to position 2.")
    page.keyboard.press("Enter")
    expect_etapes(page, ["Building", "Finishing", "Design"])
    expect(move_down).to_be_focused()
    expect(move_down).to_have_attribute("aria-disabled", "true")  # the last: it stays, and says it cannot
    page.reload()
    expect_etapes(page, ["Building", "Finishing", "Design"])

    # With the mouse: the last étape dragged to the top.
    drag_etape(page, "Design", above="Building")
    expect_etapes(page, ["Design", "Building", "Finishing"])
    page.reload()
    expect_etapes(page, ["Design", "Building", "Finishing"])


def test_move_down_on_the_last_etape_keeps_the_focus_on_it(page: Page) -> None:
    sign_up(page, "Lou")
    create_tablo(page, "Ends")
    open_tab(page, "Étapes")
    add_etape(page, "First")
    add_etape(page, "Last")
    page.goto(page.url)
    move_down = etape(page, "Last").get_by_role("button", name="Move down Last")
    expect(move_down).to_have_attribute("aria-disabled", "true")
    tab_to(page, move_down)
    page.keyboard.press("Enter")
    expect(page.locator("#announcer")).to_have_text("“Last” is already the last étape.")
    expect_etapes(page, ["First", "Last"])
    expect(move_down).to_be_focused(timeout=1_000)  # the announcement came after the focus


@pytest.mark.parametrize("context_options", [NO_JAVASCRIPT])
def test_etapes_without_javascript(page: Page) -> None:
    sign_up(page, "Noé")
    create_tablo(page, "Sans script")
    board_url = page.url
    open_tab(page, "Étapes")
    add_etape(page, "Design")
    add_etape(page, "Building")
    expect_etapes(page, ["Design", "Building"])
    design = etape_id(page, "Design")

    open_tab(page, "Tasks")
    add_task(page, "Sketch", "Design")
    add_task(page, "Walls")
    expect_badge(page, "Sketch", "Design")
    expect_badge(page, "Walls", None)

    # Filed from the Étapes tab: "Add a task to this étape" offers the tasks without étape.
    open_tab(page, "Étapes")
    building = etape(page, "Building")
    building.get_by_label("Add a task to this étape").select_option(label="Walls (To do)")
    building.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_text("“Walls” added to étape “Building”.")).to_be_visible()
    expect_etape_tasks(page, "Building", ["Walls"])
    expect_progress(page, "Building", 0, 1)
    expect(page.locator(".file-task")).to_have_count(0)  # no task left to file

    etape(page, "Building").get_by_role("button", name="Move up Building").click()
    expect(page).to_have_url(re.compile(rf"/etapes#etape-{etape_id(page, 'Building')}$"))
    expect_etapes(page, ["Building", "Design"])

    # Taken out of its étape again.
    etape(page, "Building").get_by_role("button", name="Remove “Walls” from this étape").click()
    expect(page.get_by_text("“Walls” no longer has an étape.")).to_be_visible()
    expect_etape_tasks(page, "Building", [])
    expect(etape(page, "Building")).to_contain_text("No task in this étape yet.")

    open_tab(page, "Tasks")
    filter_board(page, "Design")
    expect(page).to_have_url(f"{board_url}?etape={design}")
    expect_column(page, "To do", ["Sketch"])
    filter_board(page, "Without étape")
    expect(page).to_have_url(f"{board_url}?etape=none")
    expect_column(page, "To do", ["Walls"])


def test_a_viewer_reads_etapes_and_changes_nothing(page: Page, browser: Browser, live_server: LiveServer) -> None:
    viewer_context = other_person(browser, live_server, {})
    try:
        viewer = viewer_context.new_page()
        board_url = a_board_shared_with_a_viewer(page, viewer, live_server)
        page.goto(board_url)
        open_tab(page, "Étapes")
        add_etape(page, "Design")
        add_etape(page, "Building")
        etape(page, "Design").get_by_label("Add a task to this étape").select_option(label="Write the brief (To do)")
        etape(page, "Design").get_by_role("button", name="Add", exact=True).click()
        expect_etape_tasks(page, "Design", ["Write the brief"])

        viewer.goto(board_url)
        open_tab(viewer, "Étapes")
        expect_etapes(viewer, ["Design", "Building"])
        expect_etape_tasks(viewer, "Design", ["Write the brief"])
        expect_progress(viewer, "Design", 0, 1)
        expect(viewer.get_by_text("You can look at these étapes; an owner can make you an editor.")).to_be_visible()
        expect(viewer.locator("#etapes-tab form")).to_have_count(0)
        expect(viewer.locator("#etapes-tab button")).to_have_count(0)
        expect(viewer.get_by_text("Add an étape")).to_have_count(0)
        expect(viewer.locator("#etapes-tab").get_by_role("link", name=re.compile(r"^(Edit|Delete…) "))).to_have_count(0)
        # Not draggable: no SortableJS, no grab cursor, and a drag posts nothing.
        expect(viewer.locator(".etape-list")).not_to_have_attribute("data-move-url", re.compile(".*"))
        assert viewer.evaluate("() => typeof Sortable") == "undefined"
        assert etape(viewer, "Design").evaluate("(item) => getComputedStyle(item).cursor") == "auto"
        expect(viewer.locator(".drag-handle")).to_have_count(0)
        posts = []
        viewer.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
        grab = etape(viewer, "Building").locator("h2").bounding_box()
        top = etape(viewer, "Design").bounding_box()
        viewer.mouse.move(grab["x"] + 5, grab["y"] + 5)
        viewer.mouse.down()
        viewer.mouse.move(top["x"] + 5, top["y"] + 5, steps=10)
        viewer.mouse.up()
        viewer.reload()
        expect_etapes(viewer, ["Design", "Building"])
        assert posts == []

        # The board: a viewer may filter it, and sees each card's étape.
        etape(viewer, "Design").get_by_role("link", name="Show on the board Design").click()
        expect(viewer).to_have_url(re.compile(r"\?etape=\d+$"))
        expect_column(viewer, "To do", ["Write the brief"])
        expect_column(viewer, "Done", [])
        expect_badge(viewer, "Write the brief", "Design")
        # The étape's own pages are the editors'.
        edit_url = board_url + f"/etapes/{etape_id(page, 'Design')}"
        for url in (edit_url, edit_url + "/delete"):
            response = viewer.goto(url)
            assert response.status == 403, url
            expect(viewer.get_by_text("Viewers can look but not change anything here: ask an owner to make you an editor.")).to_be_visible()
    finally:
        viewer_context.close()
