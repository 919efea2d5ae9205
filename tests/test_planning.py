"""/planning: one agenda across every tablo a person is a member of, in their time zone.

Each test reads the page as its reader would: which titles sit on which day, at what time, with
which links to go elsewhere. Days are read from the page's day blocks (`id="day-YYYY-MM-DD"`),
which the agenda, the week and the month all draw.
"""

import html
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import page_title
from tests.test_queries import count_queries  # noqa: F401  (the fixture)
from xtablo.models import Role, TabloEvent, TabloMember, Task
from xtablo.models._types import utcnow
from xtablo.timezones import zone

FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9"}


# -- Reading the page --------------------------------------------------------------------------


def day_blocks(page: str) -> dict[str, str]:
    """{"2027-03-01": the HTML of that day}, in the page's order."""
    parts = re.split(r'<li class="[^"]*" id="day-(\d{4}-\d{2}-\d{2})">|<li id="day-(\d{4}-\d{2}-\d{2})">', page)
    blocks = {}
    for n in range(1, len(parts), 3):
        blocks[parts[n] or parts[n + 1]] = parts[n + 2]
    return blocks


def planned(page: str) -> dict[str, list[str]]:
    """{day: the titles drawn on it, in order}, for the days that have some."""
    found = {day: [html.unescape(t) for t in re.findall(r'class="plan-title" href="[^"]*">([^<]*)</a>', block)]
             for day, block in day_blocks(page).items()}
    return {day: titles for day, titles in found.items() if titles}


def times(page: str, day: str) -> dict[str, str]:
    """{title: the time it shows} on `day`."""
    pairs = re.findall(r'<span class="plan-time">([^<]*)</span>.*?class="plan-title" href="[^"]*">([^<]*)</a>', day_blocks(page)[day], re.S)
    # Babel writes "9:00\u202fAM": a narrow no-break space, read here as a space.
    return {html.unescape(title): html.unescape(when).replace("\u202f", " ") for when, title in pairs}


def links(page: str, region: str) -> dict[str, str]:
    """{link text: its URL} in the navigation labelled `region`."""
    nav = re.search(rf'<nav class="[^"]*" aria-label="{region}">(.*?)</nav>', page, re.S).group(1)
    return {re.sub(r"<[^>]+>|[←→]", "", text).strip(): html.unescape(url) for url, text in re.findall(r'<a [^>]*href="([^"]*)"[^>]*>(.*?)</a>', nav, re.S)}


def problems(page: str) -> list[str]:
    box = re.search(r'<div class="flash flash-error planning-problems" role="alert">(.*?)</div>', page, re.S)
    return [html.unescape(p) for p in re.findall(r"<p>(.*?)</p>", box.group(1))] if box else []


def heading(page: str) -> str:
    # Babel's intervals use thin spaces around their dash: read here as spaces.
    return html.unescape(re.search(r'<h2 id="planning-heading">(.*?)</h2>', page).group(1)).replace("\u2009", " ")


def view_of(page: str) -> str:
    return re.search(r'<section class="planning-(\w+)"', page).group(1)


# -- Making the world --------------------------------------------------------------------------


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def event(tablo, title, starts_at, ends_at=None, *, all_day=False, by=None):
    """An event; an all-day one from the day of `starts_at` to that of `ends_at` (or the same), inclusive."""
    if all_day:
        ends_at = ends_at or starts_at
        starts_at, ends_at = at(starts_at.year, starts_at.month, starts_at.day), at(ends_at.year, ends_at.month, ends_at.day) + timedelta(days=1)
    made = TabloEvent.create(tablo, by=by or tablo.created_by, title=title, starts_at=starts_at,
                             ends_at=ends_at or starts_at + timedelta(hours=1), all_day=all_day)
    return made


@pytest.fixture
def in_zone(db):
    def set_zone(user, name):
        user.time_zone = name
        db.session.commit()
        return user

    return set_zone


@pytest.fixture
def shared_world(db, login_as, make_user, make_tablo):
    """Me, owner of "Mine" and viewer of "Theirs"; "Elsewhere" is a stranger's. Each has an
    event on 5 January 2031 and a task due that day; "Mine" also has a task with no due date."""
    me = login_as(make_user(name="Me"))
    mine = make_tablo(owner=me, title="Mine", color="green")
    theirs = make_tablo(owner=make_user(name="Them"), title="Theirs", color="purple")
    elsewhere = make_tablo(owner=make_user(name="Stranger"), title="Elsewhere", color="red")
    membership = TabloMember.add(theirs, me, Role.VIEWER, added_by=theirs.created_by)
    for tablo, hour in ((mine, 9), (theirs, 11), (elsewhere, 13)):
        event(tablo, f"Meeting of {tablo.title}", at(2031, 1, 5, hour))
        Task.create(tablo, title=f"Due in {tablo.title}", due_date=date(2031, 1, 5))
    Task.create(mine, title="Someday")
    db.session.commit()
    return me, mine, theirs, elsewhere, membership


# -- What it shows -----------------------------------------------------------------------------


def test_the_planning_gathers_every_member_tablo_and_nothing_else(client, shared_world):
    page = client.get("/planning?date=2031-01-05").text
    assert page_title(page) == "Planning"
    assert planned(page) == {"2031-01-05": ["Due in Mine", "Due in Theirs", "Meeting of Mine", "Meeting of Theirs"]}
    assert "Elsewhere" not in page and "Someday" not in page


def test_a_removed_member_loses_the_tablo_s_items_at_once(client, db, shared_world):
    me, mine, theirs, _elsewhere, membership = shared_world
    assert "Meeting of Theirs" in planned(client.get("/planning?view=week&date=2031-01-05").text)["2031-01-05"]
    db.session.get(TabloMember, membership.id).remove(removed_by=theirs.created_by)
    db.session.commit()
    for view in ("agenda", "week", "month"):
        page = client.get(f"/planning?view={view}&date=2031-01-05").text
        assert planned(page) == {"2031-01-05": ["Due in Mine", "Meeting of Mine"]}, view
        assert 'id="filter-tablo-%d"' % theirs.id not in page


def test_tasks_are_marked_as_tasks_and_lead_to_their_page(client, db, shared_world):
    _me, mine, _theirs, _elsewhere, _m = shared_world
    done = Task.create(mine, title="Already sent", due_date=date(2031, 1, 6), status="done")
    db.session.commit()
    task = db.session.scalar(select(Task).where(Task.title == "Due in Mine"))
    page = client.get("/planning?date=2031-01-05").text
    item = re.search(r'<li class="plan-item color-green is-task">.*?</li>', day_blocks(page)["2031-01-05"], re.S).group(0)
    assert '<span class="badge">Task</span>' in item and f'href="/tablos/{mine.id}/tasks/{task.id}">Due in Mine</a>' in item
    assert times(page, "2031-01-05")["Due in Mine"] == "Deadline"
    done_item = re.search(r'<li class="plan-item color-green is-task is-done">.*?</li>', day_blocks(page)["2031-01-06"], re.S).group(0)
    assert f'/tasks/{done.id}">Already sent</a>' in done_item and '<span class="badge">Done</span>' in done_item
    meeting = db.session.scalar(select(TabloEvent).where(TabloEvent.title == "Meeting of Mine"))
    assert f'href="/tablos/{mine.id}/events/{meeting.id}">Meeting of Mine</a>' in page


def test_each_item_and_the_filter_wear_their_tablo_s_colour(client, shared_world):
    _me, mine, theirs, _elsewhere, _m = shared_world
    page = client.get("/planning?date=2031-01-05").text
    block = day_blocks(page)["2031-01-05"]
    assert re.search(r'<li class="plan-item color-purple">\s*<span class="plan-time">[^<]*</span>\s*<div class="plan-what">\s*'
                     r'<a class="plan-title" href="[^"]*">Meeting of Theirs</a>', block)
    assert f'<label class="swatch swatch-green" for="filter-tablo-{mine.id}">' in page
    assert f'<label class="swatch swatch-purple" for="filter-tablo-{theirs.id}">' in page


def test_the_default_is_the_agenda_from_the_reader_s_today(client, db, login_as, make_user, make_tablo, in_zone):
    """Auckland is 11 to 13 hours ahead of UTC: its "today" is often UTC's tomorrow."""
    me = in_zone(login_as(), "Pacific/Auckland")
    tablo = make_tablo(owner=me)
    today = utcnow().astimezone(zone("Pacific/Auckland")).date()
    event(tablo, "Yesterday's", at(*(today - timedelta(days=1)).timetuple()[:3]), all_day=True)
    event(tablo, "Today's", at(*today.timetuple()[:3]), all_day=True)
    event(tablo, "In a month", at(*(today + timedelta(days=30)).timetuple()[:3]), all_day=True)
    db.session.commit()
    page = client.get("/planning").text
    assert view_of(page) == "agenda"
    assert planned(page) == {today.isoformat(): ["Today's"]}
    assert f'aria-current="date">{day_name_en(today)} <span class="badge">Today</span>' in page


def day_name_en(day: date) -> str:
    return f"{day:%A, %B} {day.day}, {day.year}"


# -- The three views and their links -----------------------------------------------------------


def test_the_agenda_lists_30_days_by_day_with_earlier_and_later(client, db, login_as, make_tablo):
    tablo = make_tablo(owner=login_as())
    for day in (date(2027, 2, 28), date(2027, 3, 1), date(2027, 3, 15), date(2027, 3, 30), date(2027, 3, 31)):
        event(tablo, f"On {day.isoformat()}", at(day.year, day.month, day.day, 10))
    db.session.commit()
    page = client.get("/planning?view=agenda&date=2027-03-01").text
    assert planned(page) == {d: [f"On {d}"] for d in ("2027-03-01", "2027-03-15", "2027-03-30")}
    assert heading(page) == "Mar 1 – 30, 2027"
    nav = links(page, "Dates")
    assert nav == {"Earlier": "/planning?view=agenda&date=2027-01-30", "Today": "/planning?view=agenda",
                   "Later": "/planning?view=agenda&date=2027-03-31"}
    assert '<a href="/planning?view=agenda&amp;date=2027-03-31">Later' in page  # under the list too
    later = client.get(nav["Later"]).text
    assert planned(later) == {"2027-03-31": ["On 2027-03-31"]}


def test_the_week_has_7_days_starting_on_sunday_in_english_and_monday_in_french(client, db, login_as, make_tablo):
    tablo = make_tablo(owner=login_as())
    event(tablo, "Wednesday meeting", at(2027, 3, 3, 14))
    db.session.commit()
    english = client.get("/planning?view=week&date=2027-03-03").text
    assert list(day_blocks(english)) == [(date(2027, 2, 28) + timedelta(days=n)).isoformat() for n in range(7)]
    assert heading(english) == "Feb 28 – Mar 6, 2027"
    assert links(english, "Dates") == {"Previous week": "/planning?view=week&date=2027-02-21", "Today": "/planning?view=week",
                                       "Next week": "/planning?view=week&date=2027-03-07"}
    assert planned(english) == {"2027-03-03": ["Wednesday meeting"]}
    french = client.get("/planning?view=week&date=2027-03-03", headers=FRENCH).text
    assert list(day_blocks(french)) == [(date(2027, 3, 1) + timedelta(days=n)).isoformat() for n in range(7)]
    assert heading(french) == "1–7 mars 2027"
    assert links(french, "Dates") == {"Semaine précédente": "/planning?view=week&date=2027-02-22", "Aujourd’hui": "/planning?view=week",
                                      "Semaine suivante": "/planning?view=week&date=2027-03-08"}
    assert "lun. 1 mars" in french and "Mon, Mar 1" in english.split('id="day-2027-03-01"')[1]


def test_the_month_is_a_grid_of_whole_weeks_with_more_behind_a_link(client, db, login_as, make_tablo):
    tablo = make_tablo(owner=login_as())
    for n in range(5):
        event(tablo, f"Busy {n}", at(2027, 3, 10, 8 + n))
    event(tablo, "Spills over", at(2027, 4, 2, 9))
    db.session.commit()
    page = client.get("/planning?view=month&date=2027-03-17").text
    days = list(day_blocks(page))
    # March 2027 starts on a Monday and ends on a Wednesday: Sunday 28 February to Saturday 3 April.
    assert days == [(date(2027, 2, 28) + timedelta(days=n)).isoformat() for n in range(35)]
    assert heading(page) == "March 2027"
    assert planned(page) == {"2027-03-10": ["Busy 0", "Busy 1", "Busy 2"], "2027-04-02": ["Spills over"]}
    assert re.search(r'<a class="more" href="/planning\?view=agenda&amp;date=2027-03-10">\+2 more<span class="visually-hidden">, '
                     r'Wednesday, March 10, 2027</span></a>', page)
    assert links(page, "Dates") == {"Previous month": "/planning?view=month&date=2027-02-01", "Today": "/planning?view=month",
                                    "Next month": "/planning?view=month&date=2027-04-01"}
    assert links(page, "Planning views") == {"Agenda": "/planning?view=agenda&date=2027-03-17", "Week": "/planning?view=week&date=2027-03-17",
                                             "Month": "/planning?view=month&date=2027-03-17"}
    assert '<a class="button small" href="/planning?view=month&amp;date=2027-03-17" aria-current="page">Month</a>' in page
    french = client.get("/planning?view=month&date=2027-03-17", headers=FRENCH).text
    assert heading(french) == "Mars 2027" and list(day_blocks(french))[0] == "2027-03-01"
    december = client.get("/planning?view=month&date=2027-12-25").text
    assert links(december, "Dates")["Next month"] == "/planning?view=month&date=2028-01-01"


def test_the_header_leads_to_the_planning(client, login_as):
    login_as()
    page = client.get("/tablos").text
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', page, re.S).group(1)
    assert re.search(r'<a href="/tablos">My tablos</a>\s*<a href="/planning"\s*>Planning</a>', nav)
    assert '<a href="/planning" aria-current="page">Planning</a>' in client.get("/planning").text


@pytest.mark.parametrize("view", ["agenda", "week", "month"])
def test_every_view_reads_in_french(client, db, login_as, make_tablo, view):
    from tests.test_translations import english_sentences, visible_text

    me = login_as()
    tablo = make_tablo(owner=me, title="Cuisine")
    event(tablo, "Réunion", at(2027, 3, 10, 8), at(2027, 3, 12, 9))
    event(tablo, "Férié", date(2027, 3, 11), all_day=True)
    for n in range(4):
        Task.create(tablo, title=f"Tâche {n}", due_date=date(2027, 3, 11), status="done" if n else "todo")
    db.session.commit()
    response = client.get(f"/planning?view={view}&date=2027-03-10&tablo={tablo.id}&tablo=x", headers=FRENCH)
    page = response.text
    assert response.status_code == 400
    assert '<html lang="fr">' in page
    assert problems(page) == ["Un tablo du filtre est illisible\u00a0: il a été écarté."]
    assert [p.pattern for p in english_sentences() if p.search(visible_text(page))] == []
    assert ("jeu. 11 mars" if view == "week" else "jeudi 11 mars 2027") in page
    if view != "month":
        assert times(page, "2027-03-10")["Réunion"] == "à partir de 08:00"  # in UTC, the zone of someone who chose none
        assert times(page, "2027-03-11")["Réunion"] == "Toute la journée"
        assert times(page, "2027-03-12")["Réunion"] == "jusqu’à 09:00"
    else:
        assert "+3 autres<" in page  # Réunion, Férié, Tâche 0 shown; Tâche 1 to 3 behind the link


# -- Time zones --------------------------------------------------------------------------------


@pytest.fixture
def paris_meetings(db, make_user, make_tablo, in_zone):
    """Two meetings typed at 09:00 by someone in Paris: the Friday before the clocks go
    forward (28 March 2027) and the Monday after, so 08:00 and 07:00 UTC."""
    owner = in_zone(make_user(name="Parisienne"), "Europe/Paris")
    tablo = make_tablo(owner=owner, title="Chantier")
    event(tablo, "Before", at(2027, 3, 26, 8))
    event(tablo, "After", at(2027, 3, 29, 7))
    db.session.commit()
    return owner, tablo


@pytest.mark.parametrize("where, before, after", [
    ("Europe/Paris", "9:00 AM – 10:00 AM", "9:00 AM – 10:00 AM"),
    ("America/New_York", "4:00 AM – 5:00 AM", "3:00 AM – 4:00 AM"),
])
def test_an_event_typed_at_9_in_paris_shows_in_each_reader_s_zone(client, db, login_as, make_user, paris_meetings, in_zone, where, before, after):
    owner, tablo = paris_meetings
    reader = make_user()
    TabloMember.add(tablo, reader, Role.VIEWER, added_by=owner)
    login_as(in_zone(reader, where))
    days = planned(client.get("/planning?view=week&date=2027-03-26").text) | planned(client.get("/planning?view=week&date=2027-03-29").text)
    assert days == {"2027-03-26": ["Before"], "2027-03-29": ["After"]}
    agenda = client.get("/planning?date=2027-03-25").text
    assert (times(agenda, "2027-03-26")["Before"], times(agenda, "2027-03-29")["After"]) == (before, after)


def test_the_parisian_sees_09_00_in_french_on_both_sides_of_the_change(client, login_as, paris_meetings):
    owner, _tablo = paris_meetings
    login_as(owner)
    agenda = client.get("/planning?date=2027-03-25", headers=FRENCH).text
    assert times(agenda, "2027-03-26")["Before"] == "09:00 – 10:00"
    assert times(agenda, "2027-03-29")["After"] == "09:00 – 10:00"


@pytest.mark.parametrize("where", ["Pacific/Auckland", "UTC", "America/Los_Angeles"])
def test_an_all_day_event_is_on_its_dates_in_every_zone(client, db, login_as, make_tablo, in_zone, where):
    me = in_zone(login_as(), where)
    tablo = make_tablo(owner=me)
    event(tablo, "Christmas", date(2027, 12, 24), date(2027, 12, 25), all_day=True)
    db.session.commit()
    for view in ("agenda&date=2027-12-20", "week&date=2027-12-24", "month&date=2027-12-01"):
        page = client.get(f"/planning?view={view}").text
        assert planned(page) == {"2027-12-24": ["Christmas"], "2027-12-25": ["Christmas"]}, view
        assert times(page, "2027-12-24")["Christmas"] == "All day"


def test_an_event_across_midnight_is_on_both_days_and_a_long_one_on_each(client, db, login_as, make_tablo, in_zone):
    me = in_zone(login_as(), "Europe/Paris")
    tablo = make_tablo(owner=me)
    event(tablo, "Late show", at(2027, 6, 10, 21, 30), at(2027, 6, 10, 22, 30))  # 23:30–00:30 in Paris (UTC+2)
    event(tablo, "Until midnight", at(2027, 6, 12, 20), at(2027, 6, 12, 22))  # 22:00–00:00: one day only
    event(tablo, "Trip", at(2027, 6, 14, 6), at(2027, 6, 16, 16))  # Monday 08:00 to Wednesday 18:00
    db.session.commit()
    page = client.get("/planning?view=week&date=2027-06-10").text  # Sunday 6 to Saturday 12 June
    assert planned(page) == {"2027-06-10": ["Late show"], "2027-06-11": ["Late show"], "2027-06-12": ["Until midnight"]}
    assert times(page, "2027-06-10")["Late show"] == "from 11:30 PM"
    assert times(page, "2027-06-11")["Late show"] == "until 12:30 AM"
    assert times(page, "2027-06-12")["Until midnight"] == "10:00 PM – 12:00 AM"
    trip = client.get("/planning?view=week&date=2027-06-14").text
    assert planned(trip) == {"2027-06-14": ["Trip"], "2027-06-15": ["Trip"], "2027-06-16": ["Trip"]}
    assert [times(trip, d)["Trip"] for d in ("2027-06-14", "2027-06-15", "2027-06-16")] == ["from 8:00 AM", "All day", "until 6:00 PM"]
    # In the week, what fills the day sits on top, before the day's timed events.
    event(tablo, "Lunch", at(2027, 6, 15, 10))
    db.session.commit()
    tuesday = day_blocks(client.get("/planning?view=week&date=2027-06-14").text)["2027-06-15"]
    assert re.search(r'<ul class="plan-items whole-day" aria-label="All day">.*?>Trip</a>.*?</ul>\s*<ul class="plan-items">.*?>Lunch</a>', tuesday, re.S)


# -- The filter --------------------------------------------------------------------------------


def test_the_filter_shows_only_the_tablos_ticked(client, shared_world):
    _me, mine, theirs, _elsewhere, _m = shared_world
    page = client.get(f"/planning?date=2031-01-05&tablo={theirs.id}").text
    assert planned(page) == {"2031-01-05": ["Due in Theirs", "Meeting of Theirs"]}
    assert f'id="filter-tablo-{theirs.id}" name="tablo" value="{theirs.id}" checked>' in page
    assert f'id="filter-tablo-{mine.id}" name="tablo" value="{mine.id}" >' in page
    # The links keep the filter.
    assert links(page, "Planning views")["Month"] == f"/planning?view=month&date=2031-01-05&tablo={theirs.id}"
    both = client.get(f"/planning?date=2031-01-05&tablo={theirs.id}&tablo={mine.id}").text
    assert planned(both) == {"2031-01-05": ["Due in Mine", "Due in Theirs", "Meeting of Mine", "Meeting of Theirs"]}
    assert "(2 tablos of 2)" in both
    assert links(both, "Dates")["Later"] == f"/planning?view=agenda&date=2031-02-04&tablo={theirs.id}&tablo={mine.id}"


# -- Bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("query, message, view", [
    ("view=unknown", "There is no such view of the planning: here is the agenda.", "agenda"),
    ("view=month&date=garbage", "That date could not be read (it is written like 2027-03-01): here is today.", "month"),
    ("view=week&date=2027-02-30", "That date could not be read (it is written like 2027-03-01): here is today.", "week"),
    ("date=1899-12-31", "Choose a date between 1900 and 9999: here is today.", "agenda"),
    ("view=month&date=10000-01-01", "Choose a date between 1900 and 9999: here is today.", "month"),
    ("date=" + "9" * 5000 + "-01-01", "That date could not be read (it is written like 2027-03-01): here is today.", "agenda"),
    ("tablo=abc", "A tablo in the filter could not be read: it was left out.", "agenda"),
    ("tablo=99999999999", "A tablo in the filter could not be read: it was left out.", "agenda"),
])
def test_bad_input_is_said_and_the_default_shown(client, db, login_as, make_tablo, query, message, view):
    tablo = make_tablo(owner=login_as(), title="Mine")
    today = utcnow().date()
    event(tablo, "Today", at(today.year, today.month, today.day), at(today.year, today.month, today.day), all_day=True)
    db.session.commit()
    response = client.get(f"/planning?{query}")
    assert response.status_code == 400
    assert problems(response.text) == [message]
    assert view_of(response.text) == view
    assert planned(response.text) == {today.isoformat(): ["Today"]}


def test_a_tablo_that_is_not_mine_is_left_out_of_the_filter_with_a_404(client, shared_world):
    _me, mine, _theirs, elsewhere, _m = shared_world
    for other in (elsewhere.id, elsewhere.id + 1000):
        response = client.get(f"/planning?date=2031-01-05&tablo={other}")
        assert response.status_code == 404
        assert problems(response.text) == ["A tablo in the filter is not one of yours, or no longer exists: it was left out."]
        assert planned(response.text) == {"2031-01-05": ["Due in Mine", "Due in Theirs", "Meeting of Mine", "Meeting of Theirs"]}
    response = client.get(f"/planning?date=2031-01-05&tablo={elsewhere.id}&tablo={mine.id}&view=nope")
    assert response.status_code == 400  # the worse of the two
    assert len(problems(response.text)) == 2
    assert planned(response.text) == {"2031-01-05": ["Due in Mine", "Meeting of Mine"]}


@pytest.mark.parametrize("query, previous", [("date=1900-01-15", "1900-01-01"), ("view=week&date=1900-01-09", "1900-01-01"),
                                             ("view=month&date=1900-02-11", "1900-01-01"), ("view=week&date=1900-01-14", "1900-01-07")])
def test_previous_stops_at_1900_on_a_day_the_page_accepts(client, login_as, query, previous):
    login_as()
    nav = links(client.get(f"/planning?{query}").text, "Dates")
    target = next(url for name, url in nav.items() if name.startswith(("Previous", "Earlier")))
    assert target.endswith(f"date={previous}")
    assert client.get(target).status_code == 200


@pytest.mark.parametrize("query", ["view=month&date=9999-12-31", "view=week&date=9999-12-31", "date=9999-12-31",
                                   "view=month&date=1900-01-01", "view=week&date=1900-01-01", "date=1900-01-01"])
def test_the_calendar_s_ends_answer_without_a_way_past_them(client, login_as, query):
    login_as()
    response = client.get(f"/planning?{query}")
    assert response.status_code == 200 and problems(response.text) == []
    nav = links(response.text, "Dates")
    if "1900" in query:
        assert not any(name.startswith(("Previous", "Earlier")) for name in nav), nav
    else:
        assert not any(name.startswith(("Next", "Later")) for name in nav), nav


@pytest.mark.parametrize("view", ["agenda", "week", "month"])
def test_the_last_day_of_9999_is_on_the_planning_in_every_view(client, db, login_as, make_tablo, in_zone, view):
    """The calendar ends on 31 December 9999, included: that day is drawn, with what is on it."""
    me = in_zone(login_as(), "Pacific/Kiritimati")
    tablo = make_tablo(owner=me, title="Mine")
    event(tablo, "Last meeting", at(9999, 12, 31, 8))  # 22:00 in Kiritimati
    event(tablo, "Last holiday", at(9999, 12, 30), all_day=True)  # the last day an all-day event can be on
    Task.create(tablo, title="Last task", due_date=date(9999, 12, 31))
    db.session.commit()
    response = client.get(f"/planning?view={view}&date=9999-12-{30 if view == 'agenda' else 31}")
    assert response.status_code == 200
    assert "9999-12-31" in day_blocks(response.text)
    assert planned(response.text)["9999-12-30"] == ["Last holiday"]
    assert planned(response.text)["9999-12-31"] == ["Last task", "Last meeting"]
    assert times(response.text, "9999-12-31")["Last meeting"] == "10:00 PM – 11:00 PM"


def test_someone_in_no_tablo_is_told_where_items_come_from(client, login_as):
    login_as()
    page = client.get("/planning").text
    assert "You are not a member of any tablo yet: their events and due tasks will appear here." in page
    assert "Nothing planned on these days." in page


# -- Cost --------------------------------------------------------------------------------------


def test_the_planning_costs_the_same_for_1_and_20_tablos_full_of_items(client, db, login_as, make_user, make_tablo, count_queries):  # noqa: F811
    me = login_as()
    first = make_tablo(owner=me, title="Tablo 0")
    event(first, "Event 0", at(2031, 1, 6, 9))
    db.session.commit()
    counts = {}
    for view in ("agenda", "week", "month"):
        with count_queries() as counter:
            page = client.get(f"/planning?view={view}&date=2031-01-06").text
        assert planned(page) == {"2031-01-06": ["Event 0"]}
        counts[view] = counter.count
    for n in range(1, 20):
        tablo = make_tablo(owner=me if n % 2 else make_user(), title=f"Tablo {n}")
        if n % 2 == 0:
            TabloMember.add(tablo, me, Role.EDITOR, added_by=None)
        for k in range(5):
            event(tablo, f"Event {n}.{k}", at(2031, 1, 6 + k % 3, 8 + k), all_day=False)
            Task.create(tablo, title=f"Task {n}.{k}", due_date=date(2031, 1, 6 + k))
    db.session.commit()
    for view in ("agenda", "week", "month"):
        with count_queries() as counter:
            page = client.get(f"/planning?view={view}&date=2031-01-06&tablo={first.id}&tablo={tablo.id}").text
        assert len(planned(page)["2031-01-06"]) >= 2
        assert counter.count == counts[view], view
        with count_queries() as counter:
            page = client.get(f"/planning?view={view}&date=2031-01-06").text
        assert len(planned(page)["2031-01-06"]) == (1 + 19 * 3 if view != "month" else 3)
        assert counter.count == counts[view] <= 5, view
