"""A tablo's Events tab in a real browser, as a newcomer meets it: adding an event (with the mouse
and with the keyboard alone), changing it, downloading it, deleting it, finding it among the past
ones; what the form says, and where, when what was typed cannot be an event; a phone's width.

The browser runs in Paris time (`timezone_id`): the account it signs up takes that zone from the
page's script, and the form says so before the first time field.
"""

import re
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_skeleton
from icalendar import Calendar
from playwright.sync_api import Locator, Page, expect

from tests.browser.etape_steps import open_tab
from tests.browser.test_board_flow import create_tablo, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

ZONE = "Europe/Paris"
PARIS = {"timezone_id": ZONE}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
WIDE_PAGE = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
AM = "\u202fAM"  # what babel puts between a time and its AM / PM in English
PM = "\u202fPM"


def today() -> date:
    return datetime.now(ZoneInfo(ZONE)).date()


def day_name(day: date) -> str:
    """How the Events tab names a day: "Wed, Dec 2" (followed by the year when it is not this one's)."""
    return format_skeleton("MMMEd", day, locale="en")


def event_card(page: Page, title: str) -> Locator:
    return page.locator("li.event").filter(has=page.locator("h2").get_by_role("link", name=title, exact=True))


def new_tablo_s_events(page: Page) -> None:
    """A new person in Paris time, on the Events tab of a tablo of their own, with the form open."""
    sign_up(page, "Elise")
    create_tablo(page, f"Renovation {uuid.uuid4().hex[:6]}")
    open_tab(page, "Events")
    page.get_by_text("Add an event").click()


def fill_event(page: Page, title: str, start_day: date | str, start_time: str = "", end_day: date | str = "",
               end_time: str = "", all_day: bool = False, location: str = "", description: str = "") -> None:
    page.get_by_label("Title").fill(title)
    page.get_by_label("All day").set_checked(all_day)
    page.get_by_label("Starts on").fill(str(start_day))
    if not all_day:
        page.get_by_label("Start time").fill(start_time)
        page.get_by_label("End time (optional)").fill(end_time)
    page.get_by_label("Ends on (optional)").fill(str(end_day))
    page.get_by_label("Location (optional)").fill(location)
    page.get_by_label("Description (optional)").fill(description)


@pytest.mark.parametrize("context_options", [PARIS])
def test_an_event_is_added_changed_downloaded_and_deleted_through_the_events_tab(page: Page) -> None:
    new_tablo_s_events(page)
    expect(page.get_by_text("Times are in your time zone, Europe/Paris.")).to_be_visible()
    # "All day" sits beside its box, on one line, as a checkbox's label does.
    box, label = page.get_by_label("All day").bounding_box(), page.locator("label[for=all_day]").bounding_box()
    assert label["x"] > box["x"] + box["width"] and abs((label["y"] + label["height"] / 2) - (box["y"] + box["height"] / 2)) < 4

    meeting_day = today() + timedelta(days=6)
    fill_event(page, "Site meeting", meeting_day, "09:00", end_time="10:30", location="12 rue de la Paix, Paris",
               description="Bring the plans.\nAnd the permit.")
    page.get_by_role("button", name="Add event").click()
    expect(page.get_by_text("Event “Site meeting” added.")).to_be_visible()
    meeting = event_card(page, "Site meeting")
    expect(meeting).to_contain_text(f"{day_name(meeting_day)}")
    expect(meeting).to_contain_text(f"9:00{AM} – 10:30{AM}")
    expect(meeting.locator(".where")).to_have_text("Location: 12 rue de la Paix, Paris")
    expect(meeting).to_contain_text("Bring the plans.\nAnd the permit.")
    expect(meeting).to_contain_text("Added by Elise")
    expect(page).to_have_url(re.compile(r"/events#event-\d+$"))  # the page lands on it

    # An all-day event over several days, listed after the meeting (upcoming first, in order).
    page.get_by_text("Add an event").click()
    fill_event(page, "Holiday closure", meeting_day + timedelta(days=2), end_day=meeting_day + timedelta(days=4), all_day=True)
    expect(page.get_by_label("Start time")).to_be_hidden()  # "All day" hides the times
    page.get_by_role("button", name="Add event").click()
    expect(page.get_by_text("Event “Holiday closure” added.")).to_be_visible()
    closure = event_card(page, "Holiday closure")
    expect(closure).to_contain_text(f"{day_name(meeting_day + timedelta(days=2))}")
    expect(closure).to_contain_text(f"{day_name(meeting_day + timedelta(days=4))}")
    expect(closure.locator(".badge")).to_have_text("All day")
    expect(page.locator("li.event h2 a")).to_have_text(["Site meeting", "Holiday closure"])

    # "Add to calendar": a file a calendar app reads, with the event at 09:00 Paris time.
    with page.expect_download() as download:
        meeting.get_by_role("link", name="Add to calendar Site meeting").click()
    vevent = Calendar.from_ical(Path(download.value.path()).read_bytes()).walk("VEVENT")[0]
    assert str(vevent["SUMMARY"]) == "Site meeting"
    assert vevent.decoded("DTSTART").astimezone(ZoneInfo(ZONE)).time().isoformat() == "09:00:00"
    assert str(vevent["LOCATION"]) == "12 rue de la Paix, Paris"

    # Edit: the form shows what was typed; a new time, kept.
    meeting.get_by_role("link", name="Edit Site meeting").click()
    expect(page.get_by_label("Title")).to_have_value("Site meeting")
    expect(page.get_by_label("Start time")).to_have_value("09:00")
    expect(page.get_by_label("End time (optional)")).to_have_value("10:30")
    page.get_by_label("Title").fill("Site meeting with the architect")
    page.get_by_label("Start time").fill("14:00")
    page.get_by_label("End time (optional)").fill("15:00")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Event saved.")).to_be_visible()
    meeting = event_card(page, "Site meeting with the architect")
    expect(meeting).to_contain_text(f"2:00{PM} – 3:00{PM}")
    expect(event_card(page, "Site meeting")).to_have_count(0)

    # Delete: a page that asks, then the event is gone.
    meeting.get_by_role("link", name="Delete… Site meeting with the architect").click()
    expect(page.get_by_role("heading", name="Delete the event “Site meeting with the architect”?")).to_be_visible()
    page.get_by_role("button", name="Delete event").click()
    expect(page.get_by_text("Event “Site meeting with the architect” deleted.")).to_be_visible()
    expect(page.locator("li.event h2 a")).to_have_text(["Holiday closure"])

    # An event that is over goes to "Past events", where the page takes the person who adds one.
    page.get_by_text("Add an event").click()
    fill_event(page, "Kickoff", today() - timedelta(days=3), "10:00")
    page.get_by_role("button", name="Add event").click()
    expect(page.get_by_role("heading", name="Past events")).to_be_visible()
    expect(event_card(page, "Kickoff")).to_contain_text(f"10:00{AM} – 11:00{AM}")
    page.get_by_role("link", name="Show what is coming up").click()
    expect(event_card(page, "Kickoff")).to_have_count(0)
    expect(event_card(page, "Holiday closure")).to_be_visible()


def change_to_text(page: Page, label: str) -> None:
    """Make a date or time field a plain text box, as a browser without date pickers draws it,
    so that anything can be typed in it."""
    page.get_by_label(label).evaluate("(input) => { input.type = 'text'; }")


# (what is typed, the field whose message it is, the message)
BAD_EVENTS = {
    "end before start": (dict(start_time="10:00", end_time="09:00"), "End time (optional)", "The event ends before it starts."),
    "missing title": (dict(title="", start_time="10:00"), "Title", "Give it a title."),
    "no start time": (dict(start_time=""), "Start time", "Give a start time, or tick “All day”."),
    "ten years": (dict(all_day=True, end_day="2037-06-01"), "Ends on (optional)", "An event lasts a year at most: check the end date."),
    "year 1800": (dict(start_day="1800-06-01", start_time="10:00"), "Starts on", "Choose a date between 1900 and 9999."),
    "spring forward": (dict(start_day="2027-03-28", start_time="02:30"), "Start time",
                       f"There is no 2:30{AM} on March 28, 2027 in Europe/Paris: the clocks go forward that night. Choose another time."),
    "autumn": (dict(start_day="2027-10-31", start_time="02:30"), "Start time",
               f"2:30{AM} happens twice on October 31, 2027 in Europe/Paris, as the clocks go back that night. Choose a time outside that hour."),
}


@pytest.mark.parametrize("context_options", [PARIS])
def test_what_cannot_be_an_event_is_said_under_its_field_and_nothing_is_added(page: Page) -> None:
    new_tablo_s_events(page)
    for case, (typed, label, message) in BAD_EVENTS.items():
        values = dict(title=f"Case {case}", start_day="2027-06-01", location="Lyon", description="Keep me") | typed
        fill_event(page, **values)
        page.get_by_role("button", name="Add event").click()
        field = page.get_by_label(label, exact=True)
        error = page.locator(f"#{field.get_attribute('id')}-error")
        expect(error, case).to_have_text(message)
        expect(field, case).to_have_attribute("aria-invalid", "true")
        expect(field, case).to_have_attribute("aria-describedby", re.compile(rf"^{error.get_attribute('id')}( |$)"))  # then its hint
        expect(field, case).to_be_focused()  # the page starts at what to fix
        field_box, error_box = field.bounding_box(), error.bounding_box()
        assert 0 <= error_box["y"] - (field_box["y"] + field_box["height"]) < 30, f"{case}: the message is not under its field"
        expect(page.locator(".error"), case).to_have_count(1)
        # What was typed is still there, and the form still open; nothing was added.
        expect(page.get_by_label("Title"), case).to_have_value(values["title"])
        expect(page.get_by_label("Location (optional)"), case).to_have_value("Lyon")
        expect(page.get_by_label("Description (optional)"), case).to_have_value("Keep me")
        expect(page.get_by_text("Nothing planned yet."), case).to_be_visible()

    # Dates that do not parse, typed where a browser draws a text box rather than a picker.
    change_to_text(page, "Starts on")
    fill_event(page, "Garbage", "31/02/2027", "10:00")
    page.get_by_role("button", name="Add event").click()
    expect(page.locator("#start_date-error")).to_be_visible()
    expect(page.get_by_label("Starts on")).to_be_focused()
    expect(page.get_by_label("Title")).to_have_value("Garbage")
    change_to_text(page, "Start time")
    fill_event(page, "Garbage", "2027-06-01", "25:99")
    page.get_by_role("button", name="Add event").click()
    expect(page.locator("#start_time-error")).to_be_visible()
    expect(page.get_by_text("Nothing planned yet.")).to_be_visible()


def tab_to(page: Page, target: Locator, most: int = 40) -> None:
    """Press Tab until `target` has the focus: chromium's date and time fields take one Tab per
    part (month, day, year; hours, minutes, AM/PM) before letting it go."""
    for _ in range(most):
        if target.evaluate("(element) => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    expect(target).to_be_focused()


@pytest.mark.parametrize("context_options", [PARIS])
def test_an_event_is_added_with_the_keyboard_alone(page: Page) -> None:
    new_tablo_s_events(page)
    page.reload()  # the form closed again: open it with the keyboard
    page.keyboard.press("Tab")
    tab_to(page, page.locator("details.new-event summary"))
    page.keyboard.press("Enter")
    expect(page.get_by_label("Title")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Title")).to_be_focused()
    page.keyboard.type("Standup")
    page.keyboard.press("Tab")
    expect(page.get_by_label("All day")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Change your time zone")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Starts on")).to_be_focused()
    day = today() + timedelta(days=3)
    page.keyboard.type(day.strftime("%m%d%Y"))  # an American date field: month, day, year
    tab_to(page, page.get_by_label("Start time"), most=4)
    page.keyboard.type("0815AM")
    tab_to(page, page.get_by_label("Location (optional)"), most=12)
    page.keyboard.type("Meeting room")
    page.keyboard.press("Enter")  # submits the form
    expect(page.get_by_text("Event “Standup” added.")).to_be_visible()
    expect(event_card(page, "Standup")).to_contain_text(f"{day_name(day)} · 8:15{AM} – 9:15{AM}")
    expect(event_card(page, "Standup").locator(".where")).to_have_text("Location: Meeting room")


@pytest.mark.parametrize("context_options", [PARIS | PHONE])
def test_a_phone_gets_the_events_tab_without_sideways_scrolling(page: Page) -> None:
    new_tablo_s_events(page)
    word = "Gebäudeinstandsetzungsarbeiten" * 3  # one long word
    fill_event(page, word, today() + timedelta(days=2), "09:00", location=word, description=word)
    page.get_by_role("button", name="Add event").click()
    expect(page.get_by_text(f"Event “{word}” added.")).to_be_visible()
    assert page.evaluate(WIDE_PAGE) <= 0, "the Events tab is wider than a phone"
    viewport = page.viewport_size["width"]
    card = event_card(page, word).bounding_box()
    assert card["x"] >= 0 and card["x"] + card["width"] <= viewport

    # The form with an error: each day beside its time, inside the screen, the message under its field.
    page.get_by_text("Add an event").click()
    fill_event(page, "Spring", "2027-03-28", "02:30")
    page.get_by_role("button", name="Add event").click()
    expect(page.locator("#start_time-error")).to_be_visible()
    assert page.evaluate(WIDE_PAGE) <= 0, "the form with an error is wider than a phone"
    day, time = page.get_by_label("Starts on").bounding_box(), page.get_by_label("Start time").bounding_box()
    assert abs(day["y"] - time["y"]) < 2 and day["x"] + day["width"] < time["x"], "the start day and time are not side by side"
    assert time["x"] + time["width"] <= viewport
    end_day, end_time = page.get_by_label("Ends on (optional)").bounding_box(), page.get_by_label("End time (optional)").bounding_box()
    assert abs(end_day["y"] - end_time["y"]) < 2, "the end day and time are not side by side"


@pytest.mark.parametrize("context_options", [PARIS])
def test_a_form_sent_twice_while_the_server_answers_is_posted_once(page: Page) -> None:
    """Enter pressed again (or a second click) while a slow server has not answered yet: the
    browser would post the form a second time, and the server would add the event twice. It is
    posted once. The next form posts as usual."""
    new_tablo_s_events(page)
    fill_event(page, "Only once", today() + timedelta(days=3), "09:00")
    posted, held = [], []
    page.on("request", lambda request: posted.append(request.url) if request.method == "POST" else None)
    page.route("**/events", lambda route: held.append(route) if route.request.method == "POST" else route.continue_())
    page.get_by_label("Title").focus()
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)  # the server is slow to answer
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)  # a second post would be on its way by now
    assert len(posted) == 1, posted
    held[0].continue_()
    expect(page.get_by_text("Event “Only once” added.")).to_be_visible()
    page.unroute("**/events")
    expect(event_card(page, "Only once")).to_have_count(1)

    page.get_by_text("Add an event").click()
    fill_event(page, "And another", today() + timedelta(days=4), "10:00")
    page.get_by_role("button", name="Add event").click()
    expect(page.get_by_text("Event “And another” added.")).to_be_visible()
