"""The planning in a real browser: events added through two tablos' Events tabs meet on one month
grid; the previous / next links and the view switcher move through it; a phone gets it without
sideways scrolling; axe-core finds nothing on the three views in either theme; the calendar feed
is turned on, copied, renewed and turned off without leaving the view it was opened on.

The browser runs in Paris time (`timezone_id`), so the account it signs up takes that zone and
the test knows which day is "today" for it.
"""

import re
import urllib.error
import urllib.request
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.etape_steps import open_tab
from tests.browser.test_accessibility import SCHEMES, Axe
from tests.browser.test_board_flow import create_tablo, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

ZONE = "Europe/Paris"
PARIS = {"timezone_id": ZONE}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
WIDE_PAGE = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def today() -> date:
    return datetime.now(ZoneInfo(ZONE)).date()


def add_event(page: Page, title: str, day: date, start: str) -> None:
    """Through the tablo's Events tab: "Add an event", a title, a day and a start time."""
    open_tab(page, "Events")
    page.get_by_text("Add an event").click()
    page.get_by_label("Title").fill(title)
    page.get_by_label("Starts on").fill(day.isoformat())
    page.get_by_label("Start time").fill(start)
    page.get_by_role("button", name="Add event").click()
    expect(page.get_by_text(f"Event “{title}” added.")).to_be_visible()


def two_tablos_with_an_event_each(page: Page) -> tuple[str, str, date, date]:
    """A new person in Paris time with two tablos, "Site …" and "Office …", each with an event
    this month (the first and the last week's days, so both sit on this month's grid)."""
    run = uuid.uuid4().hex[:6]
    sign_up(page, "Pia")
    first, last = today().replace(day=3), today().replace(day=26)
    create_tablo(page, f"Site {run}")
    add_event(page, f"Pour the slab {run}", first, "09:00")
    page.goto("/tablos")
    create_tablo(page, f"Office {run}")
    add_event(page, f"Sign the lease {run}", last, "14:30")
    return f"Pour the slab {run}", f"Sign the lease {run}", first, last


def day_cell(page: Page, day: date) -> Locator:
    return page.locator(f"#day-{day.isoformat()}")


def open_planning(page: Page, view: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Planning").click()
    page.get_by_role("navigation", name="Planning views").get_by_role("link", name=view, exact=True).click()
    expect(page.get_by_role("navigation", name="Planning views").get_by_role("link", name=view, exact=True)).to_have_attribute(
        "aria-current", "page")


@pytest.mark.parametrize("context_options", [PARIS])
def test_events_of_two_tablos_meet_on_the_month_grid(page: Page) -> None:
    slab, lease, first, last = two_tablos_with_an_event_each(page)
    open_planning(page, "Month")
    this_month = format_date(today(), "LLLL y", locale="en")
    expect(page.get_by_role("heading", name=this_month, level=2)).to_be_visible()
    expect(day_cell(page, first).get_by_role("link", name=slab)).to_be_visible()
    expect(day_cell(page, first)).to_contain_text("9:00\u202fAM")
    expect(day_cell(page, last).get_by_role("link", name=lease)).to_be_visible()
    expect(day_cell(page, last)).to_contain_text("2:30\u202fPM")
    # Each wears its tablo's colour, on the item and in the filter.
    site_colour = day_cell(page, first).locator(".plan-item").evaluate("(item) => getComputedStyle(item).borderLeftColor")
    assert site_colour == "rgb(47, 91, 234)"  # --blue, a new tablo's colour

    dates = page.get_by_role("navigation", name="Dates")
    dates.get_by_role("link", name="Next month").click()
    next_month = format_date(today().replace(day=28) + timedelta(days=4), "LLLL y", locale="en")
    expect(page.get_by_role("heading", name=next_month, level=2)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/planning\?view=month&date=\d{4}-\d{2}-01$"))
    expect(page.get_by_role("link", name=slab)).to_have_count(0)
    dates.get_by_role("link", name="Previous month").click()
    expect(page.get_by_role("heading", name=this_month, level=2)).to_be_visible()
    expect(day_cell(page, first).get_by_role("link", name=slab)).to_be_visible()
    dates.get_by_role("link", name="Previous month").click()
    expect(page.get_by_role("link", name=lease)).to_have_count(0)
    dates.get_by_role("link", name="Today").click()
    expect(page.get_by_role("heading", name=this_month, level=2)).to_be_visible()

    # The filter (a form: keyboard and no JavaScript alike) keeps one tablo.
    page.get_by_text("Filter by tablo").click()
    page.get_by_role("checkbox", name=re.compile(r"^Office ")).check()
    page.get_by_role("button", name="Show", exact=True).click()
    expect(day_cell(page, last).get_by_role("link", name=lease)).to_be_visible()
    expect(page.get_by_role("link", name=slab)).to_have_count(0)

    # A day's number leads to that day in the agenda.
    page.get_by_role("link", name="Show every tablo").click()
    day_cell(page, first).locator(".day-link").click()
    expect(page.get_by_role("navigation", name="Planning views").get_by_role("link", name="Agenda")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("heading", level=3).first).to_contain_text(format_date(first, "full", locale="en"))


@pytest.mark.parametrize("context_options", [PARIS | PHONE])
def test_a_phone_reads_every_view_without_sideways_scrolling(page: Page) -> None:
    slab, lease, first, last = two_tablos_with_an_event_each(page)
    for view in ("Agenda", "Week", "Month"):
        open_planning(page, view)
        page.goto(page.url.split("?")[0] + f"?view={view.lower()}&date={first.isoformat()}")
        expect(page.get_by_role("link", name=slab).first).to_be_visible()
        assert page.evaluate(WIDE_PAGE) <= 0, f"the {view} view is wider than a phone"
    # The month becomes a list of the days that have something, each named in full.
    expect(page.locator(".month-names")).to_be_hidden()
    expect(day_cell(page, first)).to_contain_text(format_date(first, "full", locale="en"))
    expect(day_cell(page, first.replace(day=4))).to_be_hidden()
    grid = page.locator(".month-grid").bounding_box()
    cell = day_cell(page, first).bounding_box()
    assert cell["width"] > grid["width"] - 2  # one column


@pytest.mark.parametrize("context_options", [pytest.param(p.values[0] | PARIS, id=p.id) for p in SCHEMES])
def test_the_three_views_have_no_axe_violations(page: Page, context_options: dict) -> None:
    slab, _lease, first, _last = two_tablos_with_an_event_each(page)
    axe = Axe()
    for view in ("Agenda", "Week", "Month"):
        open_planning(page, view)
        page.goto(page.url.split("?")[0] + f"?view={view.lower()}&date={first.isoformat()}")
        expect(page.get_by_role("link", name=slab).first).to_be_visible()
        axe.check(page, view)
    page.get_by_text("Filter by tablo").click()  # open, with its checkboxes
    axe.check(page, "month, filter open")
    page.goto("/planning?view=nope&date=garbage")  # the sentences of refused input
    expect(page.get_by_role("alert")).to_contain_text("here is the agenda")
    axe.check(page, "agenda, with refused input")
    assert axe.violations == {}, f"axe found in the {context_options['color_scheme']} theme:\n{axe.report()}"


@pytest.mark.parametrize("context_options", [PARIS])
def test_the_calendar_feed_is_turned_on_copied_renewed_and_off_from_the_month_it_was_opened_on(
        page: Page, context: BrowserContext, live_server: LiveServer) -> None:
    """The feed's buttons bring the person back to the view, day and filter they were on, at the
    feed's box; its address is readable whole, copied with one click (which says so), and a new
    address makes the old one answer 404."""
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    slab, lease, first, _last = two_tablos_with_an_event_each(page)
    open_planning(page, "Month")
    page.get_by_text("Filter by tablo").click()
    page.get_by_role("checkbox", name=re.compile(r"^Site ")).check()
    page.get_by_role("button", name="Show", exact=True).click()
    month_url = page.url
    page.get_by_role("button", name="Turn on the calendar feed").click()
    expect(page.get_by_text("Your calendar feed is on: add its address to your calendar app.")).to_be_visible()
    expect(page).to_have_url(month_url + "#feed")
    expect(day_cell(page, first).get_by_role("link", name=slab)).to_be_visible()

    address = page.get_by_label("Your feed’s address")
    url = address.input_value()
    assert re.fullmatch(rf"{re.escape(live_server.url)}/calendar/\d+-[\w-]+\.ics", url)
    box = address.bounding_box()
    text_width = address.evaluate("(input) => input.scrollWidth")
    assert text_width <= box["width"] + 1, "the feed's address is cut off in its box"
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#feed-copied")).to_have_text("Address copied.")
    assert page.evaluate("navigator.clipboard.readText()") == url
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200 and b"BEGIN:VCALENDAR" in response.read()

    page.get_by_role("button", name="Give it a new address").click()
    expect(page.get_by_text("Your calendar feed has a new address: the old one no longer works.")).to_be_visible()
    expect(page).to_have_url(month_url + "#feed")
    assert page.get_by_label("Your feed’s address").input_value() != url
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=5)
    refused.value.close()  # the error holds the answer's socket: left open, it would warn later
    assert refused.value.code == 404

    page.get_by_role("button", name="Turn the feed off").click()
    expect(page.get_by_text("Your calendar feed is off: its address no longer works.")).to_be_visible()
    expect(page).to_have_url(month_url + "#feed")
    expect(page.get_by_role("button", name="Turn on the calendar feed")).to_be_visible()
    expect(page.get_by_label("Your feed’s address")).to_have_count(0)
