"""Each tablo's Events tab (issue 10): events typed and shown in the reader's own time zone, stored
in UTC; all-day events on the same dates for everyone; every way a date can be wrong said under
its field, nothing written."""

import html
import re
from datetime import UTC, datetime

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from tests.conftest import field_errors
from tests.test_queries import count_queries  # noqa: F401  (a fixture)
from xtablo.models import Role, TabloEvent, TabloMember

PARIS, NEW_YORK = "Europe/Paris", "America/New_York"


@pytest.fixture
def tablo(db, login_as, make_tablo):
    me = login_as()
    me.time_zone = PARIS
    db.session.commit()
    return make_tablo(owner=me, title="Chantier")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def add(client, tablo, **data):
    return client.post(f"/tablos/{tablo.id}/events", data={"title": "Réunion"} | data)


def stored(db, title="Réunion") -> TabloEvent:
    db.session.rollback()
    return db.session.scalar(select(TabloEvent).where(TabloEvent.title == title))


def shown_when(page: str) -> list[str]:
    return [html.unescape(w) for w in re.findall(r'<p class="when">([^<]+)</p>', page)]


def events_count(db) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(TabloEvent.id)))


@pytest.mark.parametrize("day, utc_hour", [("2027-03-05", 8), ("2027-07-05", 7)])  # winter (UTC+1), summer (UTC+2)
def test_09_00_in_paris_is_stored_in_utc_and_shown_at_09_00_either_side_of_dst(client, db, tablo, day, utc_hour):
    response = add(client, tablo, start_date=day, start_time="09:00", end_time="10:30", location="Mairie")
    assert response.status_code == 303
    event = stored(db)
    year, month, mday = map(int, day.split("-"))
    assert (event.starts_at, event.ends_at) == (at(year, month, mday, utc_hour), at(year, month, mday, utc_hour + 1, 30))
    page = client.get(response.headers["Location"]).text
    assert "Event “Réunion” added." in html.unescape(page)
    assert re.search(r"· 9:00\u202fAM – 10:30\u202fAM$", shown_when(page)[0])
    assert "Mairie" in page and "Added by User" in page


def test_a_reader_in_new_york_sees_the_same_instant_in_their_own_time(client, db, tablo, make_user, auth):
    add(client, tablo, start_date="2027-03-05", start_time="09:00")  # 08:00 UTC
    reader = make_user(name="Nora")
    reader.time_zone = NEW_YORK
    TabloMember.add(tablo, reader, Role.VIEWER, added_by=tablo.created_by)
    db.session.commit()
    auth.logout()
    auth.login(reader)
    page = client.get(f"/tablos/{tablo.id}/events").text
    assert re.search(r"Fri, Mar 5, 2027 · 3:00\u202fAM – 4:00\u202fAM$", shown_when(page)[0])
    # In French, as a French reader writes it.
    client.post("/language", data={"lang": "fr", "next": "/"})
    page = client.get(f"/tablos/{tablo.id}/events").text
    assert shown_when(page)[0] == "ven. 5 mars 2027 · 03:00 – 04:00"


def test_an_all_day_event_is_on_the_same_dates_in_every_zone(client, db, tablo, make_user, auth):
    response = add(client, tablo, title="Congés", all_day="y", start_date="2027-12-24", end_date="2027-12-26", start_time="09:00")
    assert response.status_code == 303
    event = stored(db, "Congés")
    assert (event.all_day, event.starts_at, event.ends_at) == (True, at(2027, 12, 24), at(2027, 12, 27))
    for zone in (PARIS, NEW_YORK, "Pacific/Kiritimati", "Pacific/Pago_Pago"):
        reader = make_user(name=zone)
        reader.time_zone = zone
        TabloMember.add(tablo, reader, Role.VIEWER, added_by=tablo.created_by)
        db.session.commit()
        auth.logout()
        auth.login(reader)
        assert shown_when(client.get(f"/tablos/{tablo.id}/events").text) == ["Fri, Dec 24, 2027 – Sun, Dec 26, 2027"], zone


def test_an_event_crossing_midnight_shows_both_days(client, db, tablo):
    add(client, tablo, title="Coulage", start_date="2027-03-05", start_time="22:00", end_date="2027-03-06", end_time="02:00")
    page = client.get(f"/tablos/{tablo.id}/events").text
    assert re.search(r"^Fri, Mar 5, 2027, 10:00\u202fPM – Sat, Mar 6, 2027, 2:00\u202fAM$", shown_when(page)[0])


@pytest.mark.parametrize("data, field, message", [
    ({"title": ""}, "title", "Give it a title."),
    ({"start_date": ""}, "start_date", "Give the day it starts."),
    ({"start_date": "2027-02-30"}, "start_date", "Not a valid date value."),
    ({"start_date": "tomorrow"}, "start_date", "Not a valid date value."),
    ({"start_time": ""}, "start_time", "Give a start time, or tick “All day”."),
    ({"start_time": "25:00"}, "start_time", "Not a valid time value."),
    ({"end_time": "08:00"}, "end_time", "The event ends before it starts."),
    ({"end_date": "2027-03-04"}, "end_date", "The event ends before it starts."),
    ({"all_day": "y", "end_date": "2027-03-04"}, "end_date", "The event ends before it starts."),
    ({"end_date": "2037-03-05"}, "end_date", "An event lasts a year at most: check the end date."),
    ({"start_date": "1899-12-31"}, "start_date", "Choose a date between 1900 and 9999."),
    ({"start_date": "0001-01-01", "all_day": "y"}, "start_date", "Choose a date between 1900 and 9999."),
    ({"start_date": "10000-01-01"}, "start_date", "Not a valid date value."),
    ({"location": "x" * 201}, "location", "Field cannot be longer than 200 characters."),
    ({"all_day": "maybe"}, "all_day", "This box is either ticked or not."),
    # Europe/Paris springs forward at 02:00 on 28 March 2027, and falls back at 03:00 on 31 October.
    ({"start_date": "2027-03-28", "start_time": "02:30"}, "start_time",
     "There is no 2:30\u202fAM on March 28, 2027 in Europe/Paris: the clocks go forward that night. Choose another time."),
    ({"start_date": "2027-10-31", "start_time": "02:30"}, "start_time",
     "2:30\u202fAM happens twice on October 31, 2027 in Europe/Paris, as the clocks go back that night. Choose a time outside that hour."),
    ({"start_date": "2027-10-30", "start_time": "23:00", "end_date": "2027-10-31", "end_time": "02:15"}, "end_time",
     "2:15\u202fAM happens twice on October 31, 2027 in Europe/Paris, as the clocks go back that night. Choose a time outside that hour."),
])
def test_bad_events_are_refused_under_their_field_and_nothing_is_written(client, db, tablo, data, field, message):
    response = add(client, tablo, **({"start_date": "2027-03-05", "start_time": "09:00"} | data))
    assert response.status_code == 422
    errors = field_errors(response.text)
    assert errors == {field: message}
    assert '<details class="new-event card" open>' in response.text
    assert events_count(db) == 0


def test_the_last_hours_of_9999_are_refused_not_a_500(client, db, tablo):
    me = tablo.created_by
    me.time_zone = NEW_YORK  # 22:00 on 31 December 9999 in New York is in the year 10000 in UTC
    db.session.commit()
    for data in ({"start_time": "22:00"}, {"start_time": "18:30"}, {"all_day": "y"}):  # its start, its end, the day after
        response = add(client, tablo, start_date="9999-12-31", **data)
        assert response.status_code == 422
        assert "Choose a date between 1900 and 9999." in field_errors(response.text).values()
    assert events_count(db) == 0


def test_the_end_of_9999_is_refused_where_a_member_ahead_of_utc_could_not_see_it(client, db, tablo, make_user, auth):
    """20:00 on 31 December 9999 in London is already the year 10000 in Kiritimati (UTC+14):
    such an event is refused when typed, so that no member's page fails on it; 09:00 UTC on
    the last day is the latest instant every zone can show."""
    me = tablo.created_by
    me.time_zone = "Europe/London"
    db.session.commit()
    for data in ({"start_time": "20:00", "end_time": "21:00"}, {"start_time": "08:00", "end_time": "11:00"}):
        response = add(client, tablo, start_date="9999-12-31", **data)
        assert response.status_code == 422
        assert "Choose a date between 1900 and 9999." in field_errors(response.text).values(), data
    assert events_count(db) == 0
    assert add(client, tablo, start_date="9999-12-31", start_time="08:00", end_time="09:00").status_code == 303
    reader = make_user(name="Kiri")
    reader.time_zone = "Pacific/Kiritimati"
    TabloMember.add(tablo, reader, Role.VIEWER, added_by=me)
    db.session.commit()
    auth.logout()
    auth.login(reader)
    event = stored(db)
    assert shown_when(client.get(f"/tablos/{tablo.id}/events").text) == ["Fri, Dec 31, 9999 · 10:00\u202fPM – 11:00\u202fPM"]
    assert client.get(f"/tablos/{tablo.id}/events/{event.id}").status_code == 200
    for view in ("agenda", "week", "month"):
        response = client.get(f"/planning?view={view}&date=9999-12-31")
        assert response.status_code == 200 and "Réunion" in response.text, view


def test_the_night_the_clocks_change_works_outside_the_hour_in_question(client, db, tablo):
    assert add(client, tablo, start_date="2027-03-28", start_time="03:00").status_code == 303
    assert stored(db).starts_at == at(2027, 3, 28, 1)
    assert add(client, tablo, title="Après", start_date="2027-10-31", start_time="03:00").status_code == 303
    assert stored(db, "Après").starts_at == at(2027, 10, 31, 2)


def test_new_york_has_its_own_dst_nights(client, db, tablo):
    me = tablo.created_by
    me.time_zone = NEW_YORK
    db.session.commit()
    # America/New_York springs forward on 14 March 2027 and falls back on 7 November.
    errors = field_errors(add(client, tablo, start_date="2027-03-14", start_time="02:30").text)
    assert errors["start_time"].startswith("There is no 2:30\u202fAM on March 14, 2027 in America/New_York")
    errors = field_errors(add(client, tablo, start_date="2027-11-07", start_time="01:30").text)
    assert errors["start_time"].startswith("1:30\u202fAM happens twice on November 7, 2027 in America/New_York")
    assert add(client, tablo, start_date="2027-03-28", start_time="02:30").status_code == 303  # Paris's night, not New York's
    assert stored(db).starts_at == at(2027, 3, 28, 6, 30)


def test_upcoming_first_then_past_on_request(client, db, tablo):
    me = tablo.created_by
    TabloEvent.create(tablo, by=me, title="Later", starts_at=at(2999, 2, 1, 8), ends_at=at(2999, 2, 1, 9))
    TabloEvent.create(tablo, by=me, title="Soon", starts_at=at(2999, 1, 1, 8), ends_at=at(2999, 1, 1, 9))
    TabloEvent.create(tablo, by=me, title="Long ago", starts_at=at(2001, 1, 1, 8), ends_at=at(2001, 1, 1, 9))
    TabloEvent.create(tablo, by=me, title="Last year", starts_at=at(2025, 1, 1, 8), ends_at=at(2025, 1, 1, 9))
    db.session.commit()
    titles = lambda page: re.findall(r'<h2><a href="/tablos/\d+/events/\d+">([^<]+)</a>', page)  # noqa: E731
    page = client.get(f"/tablos/{tablo.id}/events").text
    assert titles(page) == ["Soon", "Later"] and "Show past events" in page
    page = client.get(f"/tablos/{tablo.id}/events?past=1").text
    assert titles(page) == ["Last year", "Long ago"] and "Show what is coming up" in page


def test_edit_grows_the_sequence_and_delete_asks_first(client, db, tablo):
    add(client, tablo, start_date="2027-03-05", start_time="09:00")
    event = stored(db)
    page = client.get(f"/tablos/{tablo.id}/events/{event.id}").text
    assert 'id="start_time" name="start_time" type="time" value="09:00"' in page  # as typed, in Paris
    response = client.post(f"/tablos/{tablo.id}/events/{event.id}", data={"title": "Réunion", "start_date": "2027-03-05",
                                                                          "start_time": "14:00", "location": "Site"})
    assert response.status_code == 303 and "Event saved." in client.get(response.headers["Location"]).text
    event = stored(db)
    assert (event.starts_at, event.location, event.sequence) == (at(2027, 3, 5, 13), "Site", 1)
    page = client.get(f"/tablos/{tablo.id}/events/{event.id}/delete").text
    assert "Delete the event “Réunion”?" in html.unescape(page) and events_count(db) == 1
    response = client.post(f"/tablos/{tablo.id}/events/{event.id}/delete")
    assert "Event “Réunion” deleted." in html.unescape(client.get(response.headers["Location"]).text)
    assert events_count(db) == 0


def test_a_refused_edit_keeps_what_was_typed_and_changes_nothing(client, db, tablo):
    add(client, tablo, start_date="2027-03-05", start_time="09:00")
    event = stored(db)
    response = client.post(f"/tablos/{tablo.id}/events/{event.id}", data={"title": "New", "start_date": "2027-03-28", "start_time": "02:30"})
    assert response.status_code == 422
    assert 'value="New"' in response.text and list(field_errors(response.text)) == ["start_time"]
    assert (stored(db).title, stored(db).sequence) == ("Réunion", 0)


def test_add_to_calendar_is_the_event_as_icalendar(client, db, tablo):
    add(client, tablo, start_date="2027-03-05", start_time="09:00", location="Mairie")
    event = stored(db)
    response = client.get(f"/tablos/{tablo.id}/events/{event.id}.ics")
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    # The title names the file; its accent travels in the UTF-8 form, with an ASCII fallback.
    assert response.headers["Content-Disposition"] == "attachment; filename=Reunion.ics; filename*=UTF-8''R%C3%A9union.ics"
    (item,) = Calendar.from_ical(response.data).walk("VEVENT")
    assert (str(item["SUMMARY"]), item.decoded("DTSTART"), str(item["LOCATION"])) == ("Réunion", at(2027, 3, 5, 8), "Mairie")
    assert str(item["UID"]) == f"{event.uid}@xtablo"


def test_viewers_read_events_and_cannot_change_them(client, db, tablo, make_user, auth):
    add(client, tablo, start_date="2027-03-05", start_time="09:00")
    viewer = make_user(name="Vera")
    TabloMember.add(tablo, viewer, Role.VIEWER, added_by=tablo.created_by)
    db.session.commit()
    auth.logout()
    auth.login(viewer)
    event = stored(db)
    page = client.get(f"/tablos/{tablo.id}/events").text
    assert "Add an event" not in page and f"/events/{event.id}/delete" not in page and "Réunion" in page
    assert 'name="title"' not in client.get(f"/tablos/{tablo.id}/events/{event.id}").text
    assert add(client, tablo, start_date="2027-03-05", start_time="10:00").status_code == 403
    assert events_count(db) == 1


def test_the_events_tab_costs_the_same_for_2_and_40_events(client, db, tablo, count_queries):  # noqa: F811
    counts = {}
    for number in (2, 40):
        for index in range(number):
            TabloEvent.create(tablo, by=tablo.created_by, title=f"E{number}-{index}", starts_at=at(2999, 1, 1 + index % 28, 8),
                              ends_at=at(2999, 1, 1 + index % 28, 9))
        db.session.commit()
        with count_queries() as counter:
            page = client.get(f"/tablos/{tablo.id}/events").text
        assert page.count('<li class="event card"') == {2: 2, 40: 42}[number]  # every event so far is to come
        counts[number] = counter.count
    assert counts[2] == counts[40]


def test_a_deleted_creator_leaves_the_event(client, db, tablo, make_user):
    editor = make_user(name="Eddie")
    TabloMember.add(tablo, editor, Role.EDITOR, added_by=tablo.created_by)
    TabloEvent.create(tablo, by=editor, title="Réunion", starts_at=at(2999, 1, 1, 8), ends_at=at(2999, 1, 1, 9))
    db.session.commit()
    db.session.delete(editor)
    db.session.commit()
    assert "Added by a former member" in client.get(f"/tablos/{tablo.id}/events").text


def test_the_time_zone_is_chosen_on_the_account_page(client, db, tablo):
    page = client.get("/account").text
    assert re.search(r'<label for="time_zone">Time zone</label>\s*<select aria-describedby="time_zone-hint" id="time_zone" name="time_zone">', page)
    assert '<option selected value="Europe/Paris">' in page
    response = client.post("/account", data={"name": "Me", "language": "", "time_zone": "Asia/Tokyo"})
    assert response.status_code == 303
    db.session.rollback()
    assert tablo.created_by.time_zone == "Asia/Tokyo"
    for wrong in ("Mars/Olympus_Mons", "", "x" * 100, "US/Eastern"):
        response = client.post("/account", data={"name": "Me", "language": "", "time_zone": wrong})
        assert response.status_code == 422 and field_errors(response.text) == {"time_zone": "Choose a time zone from the list."}, wrong
    db.session.rollback()
    assert tablo.created_by.time_zone == "Asia/Tokyo"


def test_the_first_sign_in_takes_the_browser_s_time_zone_and_never_overrides_a_choice(client, db, make_user, auth):
    """The page's script leaves the browser's zone in the `xtablo_tz` cookie; signing in (any
    way: every way goes through start_session) gives it to an account that has none."""
    newcomer = make_user(name="Nina")
    client.set_cookie("xtablo_tz", "America/New_York")
    auth.login(newcomer)
    db.session.rollback()
    assert db.session.get(type(newcomer), newcomer.id).time_zone == "America/New_York"
    auth.logout()
    client.set_cookie("xtablo_tz", "Asia/Tokyo")  # travelling: the account keeps what it has
    auth.login(newcomer)
    db.session.rollback()
    assert db.session.get(type(newcomer), newcomer.id).time_zone == "America/New_York"
    other = make_user(name="Otto")
    auth.logout()
    client.set_cookie("xtablo_tz", "Mars/Olympus_Mons")  # nonsense is ignored: UTC until chosen
    auth.login(other)
    db.session.rollback()
    assert db.session.get(type(other), other.id).time_zone is None
    assert "Times are in your time zone, UTC." in client.get(f"/tablos/{make_tablo_for(db, other)}/events").text


def make_tablo_for(db, user) -> int:
    from xtablo.models import Tablo

    tablo = Tablo.create(owner=user, title="Mine")
    db.session.commit()
    return tablo.id


@pytest.mark.parametrize(("title", "name"), [
    ("Site visit", "Site visit.ics"),
    ("../../etc/passwd", "etc-passwd.ics"),
    ('a:b*c?"d<e>f|g\\h', "a-b-c-d-e-f-g-h.ics"),
    ("Line\nbreak\tand\x7fcontrols", "Line-break-and-controls.ics"),
    ("...", "event.ics"),
])
def test_the_downloaded_file_is_named_after_the_event_whatever_its_title(client, db, tablo, title, name):
    add(client, tablo, title=title, start_date="2027-03-05", start_time="09:00")
    response = client.get(f"/tablos/{tablo.id}/events/{stored(db, title).id}.ics")
    assert response.status_code == 200
    assert f"filename={name}" in response.headers["Content-Disposition"] or f'filename="{name}"' in response.headers["Content-Disposition"]
