"""The private calendar feed (issue 10): /calendar/<token>.ics, turned on, renewed and turned off
from the planning page; every event of every tablo its owner is a member of, and due tasks as
all-day items; parsed back with `icalendar`; cheap to poll (ETag)."""

import re
from datetime import UTC, date, datetime, timedelta

from icalendar import Calendar
from sqlalchemy import select

from tests.test_queries import count_queries  # noqa: F401  (a fixture)
from xtablo import calendar
from xtablo.models import Role, TabloEvent, TabloMember, Task
from xtablo.web.accesslog import REDACTED, redact


def turn_on(client) -> str:
    """Turn the feed on from the planning page; its path, as shown there."""
    response = client.post("/planning/feed")
    assert response.status_code == 303 and response.headers["Location"] == "/planning#feed"
    page = client.get("/planning").text
    return re.search(r'id="feed-url" type="text" readonly value="http://localhost(/calendar/[^"]+\.ics)"', page).group(1)


def parsed(response) -> dict[str, dict]:
    """{summary: the VEVENT's properties} of a feed response."""
    assert response.status_code == 200 and response.content_type == "text/calendar; charset=utf-8"
    items = {}
    for component in Calendar.from_ical(response.data).walk("VEVENT"):
        items[str(component["SUMMARY"])] = component
    return items


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_the_feed_has_every_event_of_my_tablos_and_my_due_tasks_and_nothing_else(client, db, login_as, make_user, make_tablo):
    me = login_as()
    mine = make_tablo(owner=me, title="Chantier")
    shared = make_tablo(owner=make_user(name="Other"), title="Shared")
    TabloMember.add(shared, me, Role.VIEWER, added_by=shared.created_by)
    foreign = make_tablo(owner=make_user(name="Stranger"), title="Foreign")
    TabloEvent.create(mine, by=me, title="Réunion", starts_at=at(2027, 3, 5, 8), ends_at=at(2027, 3, 5, 9, 30), location="Site")
    TabloEvent.create(mine, by=me, title="Holiday", starts_at=at(2027, 12, 24), ends_at=at(2027, 12, 26), all_day=True)
    TabloEvent.create(shared, by=shared.created_by, title="Shared visit", starts_at=at(2027, 4, 1, 7), ends_at=at(2027, 4, 1, 8))
    TabloEvent.create(foreign, by=foreign.created_by, title="Not mine", starts_at=at(2027, 4, 1, 7), ends_at=at(2027, 4, 1, 8))
    Task.create(mine, title="Permis", due_date=date(2027, 2, 1))
    Task.create(mine, title="No date")
    Task.create(foreign, title="Foreign task", due_date=date(2027, 2, 1))
    db.session.commit()

    path = turn_on(client)
    client.post("/logout")
    items = parsed(client.get(path))  # no session: the token is the key
    assert set(items) == {"Réunion", "Holiday", "Shared visit", "Task: Permis"}

    meeting = items["Réunion"]
    assert (meeting.decoded("DTSTART"), meeting.decoded("DTEND")) == (at(2027, 3, 5, 8), at(2027, 3, 5, 9, 30))
    assert str(meeting["LOCATION"]) == "Site" and meeting["SEQUENCE"] == 0
    assert meeting.decoded("LAST-MODIFIED").tzinfo is not None and "DTSTAMP" in meeting
    assert str(meeting["UID"]).endswith("@xtablo")
    # All day: dates, the end exclusive.
    holiday = items["Holiday"]
    assert (holiday.decoded("DTSTART"), holiday.decoded("DTEND")) == (date(2027, 12, 24), date(2027, 12, 26))
    assert "VALUE=DATE" in holiday.to_ical().decode()
    task = items["Task: Permis"]
    assert (task.decoded("DTSTART"), task.decoded("DTEND")) == (date(2027, 2, 1), date(2027, 2, 2))
    assert str(task["URL"]).endswith("/tasks/%d" % db.session.scalar(select(Task.id).where(Task.title == "Permis")))


def test_uids_stay_and_sequence_grows_with_each_edit(client, db, login_as, make_tablo):
    me = login_as()
    tablo = make_tablo(owner=me)
    event = TabloEvent.create(tablo, by=me, title="Réunion", starts_at=at(2027, 3, 5, 8), ends_at=at(2027, 3, 5, 9))
    db.session.commit()
    path = turn_on(client)
    first = parsed(client.get(path))["Réunion"]
    response = client.post(f"/tablos/{tablo.id}/events/{event.id}", data={"title": "Réunion", "start_date": "2027-03-05", "start_time": "10:00"})
    assert response.status_code == 303
    second = parsed(client.get(path))["Réunion"]
    assert second["UID"] == first["UID"]
    assert (first["SEQUENCE"], second["SEQUENCE"]) == (0, 1)
    assert second.decoded("DTSTART") == at(2027, 3, 5, 10)


def test_an_unchanged_feed_answers_304_after_one_query_and_any_change_renews_it(app, backend, client, db, login_as, make_user, make_tablo, count_queries):  # noqa: F811
    me = login_as()
    tablo = make_tablo(owner=me, title="Chantier")
    event = TabloEvent.create(tablo, by=me, title="Réunion", starts_at=at(2027, 3, 5, 8), ends_at=at(2027, 3, 5, 9))
    db.session.commit()
    path = turn_on(client)
    client = app.test_client()  # a calendar app: no cookie, only the address
    first = client.get(path)
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, no-cache"

    with count_queries() as counter:
        again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    # The user, then one query of aggregates (and, on SQLite, the BEGIN of its read transaction).
    assert counter.count == (3 if backend == "sqlite" else 2)

    def changed(change) -> str:
        nonlocal etag
        change()
        db.session.commit()
        response = client.get(path, headers={"If-None-Match": etag})
        assert response.status_code == 200, change
        etag = response.headers["ETag"]
        return response

    changed(lambda: event.update(title="Réunion de chantier", starts_at=event.starts_at, ends_at=event.ends_at,
                                 all_day=False, location="", description=""))
    other = make_tablo(owner=make_user(name="Olga"), title="Olga's")
    TabloEvent.create(other, by=other.created_by, title="Olga's visit", starts_at=at(2027, 5, 1, 8), ends_at=at(2027, 5, 1, 9))
    db.session.commit()
    membership = TabloMember.add(other, me, Role.VIEWER, added_by=other.created_by)
    db.session.commit()
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 200
    etag = client.get(path).headers["ETag"]
    assert "Olga's visit" in parsed(client.get(path))
    # Removed from the tablo: its events leave the feed at once.
    response = changed(lambda: db.session.delete(membership))
    assert "Olga's visit" not in parsed(response)
    changed(lambda: Task.create(tablo, title="Due", due_date=date(2027, 6, 1)))
    changed(lambda: db.session.delete(db.session.get(TabloEvent, event.id)))
    changed(lambda: setattr(db.session.get(type(me), me.id), "locale", "fr"))


def test_the_feed_costs_the_same_for_3_and_60_events(client, db, login_as, make_tablo, count_queries):  # noqa: F811
    me = login_as()
    path = turn_on(client)
    counts = {}
    for number in (3, 60):
        tablo = make_tablo(owner=me, title=f"Tablo {number}")
        for index in range(number):
            TabloEvent.create(tablo, by=me, title=f"E{index}", starts_at=at(2027, 1, 1, 8) + timedelta(days=index),
                              ends_at=at(2027, 1, 1, 9) + timedelta(days=index))
            Task.create(tablo, title=f"T{index}", due_date=date(2027, 1, 1) + timedelta(days=index))
        db.session.commit()
        with count_queries() as counter:
            response = client.get(path)
        assert response.status_code == 200
        counts[number] = counter.count
    assert counts[3] == counts[60] <= 5


def test_a_new_address_kills_the_old_one_and_off_kills_both(client, db, login_as):
    login_as()
    first = turn_on(client)
    assert client.get(first).status_code == 200
    page = client.get(client.post("/planning/feed").headers["Location"]).text
    assert "Your calendar feed has a new address: the old one no longer works." in page
    second = re.search(r'value="http://localhost(/calendar/[^"]+\.ics)"', page).group(1)
    assert second != first
    assert client.get(first).status_code == 404 and client.get(second).status_code == 200
    assert 'href="webcal://localhost' + second + '"' in page
    page = client.get(client.post("/planning/feed/off").headers["Location"]).text
    assert "Your calendar feed is off" in page and "Turn on the calendar feed" in page and "/calendar/" not in page
    assert client.get(second).status_code == 404


def test_wrong_tokens_are_404(client, db, login_as, make_user):
    me = login_as()
    path = turn_on(client)
    other = make_user(name="Other")
    calendar.renew_feed(other)
    db.session.commit()
    token = path.removeprefix("/calendar/").removesuffix(".ics")
    user_id, signature = token.split("-", 1)
    for wrong in (f"{other.id}-{signature}", f"{user_id}-{signature[:-2]}", f"{user_id}-", f"-{signature}", "garbage",
                  f"99999999999-{signature}", f"{user_id}-{signature}x", "١-" + signature):
        assert client.get(f"/calendar/{wrong}.ics").status_code == 404, wrong
    assert me.id == int(user_id)


def test_feed_tokens_are_redacted_from_the_access_log():
    # The whole last segment goes, ".ics" too: the token has no separator the log could trust.
    assert redact("GET /calendar/12-AbCdEf_gh-ij.ics HTTP/1.1") == f"GET /calendar/{REDACTED} HTTP/1.1"
    assert redact("/calendar%2F12-AbCdEf.ics") == f"/calendar%2F{REDACTED}"


def test_a_token_with_non_ascii_characters_is_a_404_not_a_500(client, db, login_as):
    login_as()
    token = turn_on(client).removeprefix("/calendar/").removesuffix(".ics")
    user_id, signature = token.split("-", 1)
    for wrong in (f"{user_id}-é", f"{user_id}-{signature[:-1]}é", f"{user_id}-{signature}\u00a0", f"{user_id}-{'ü' * 2000}"):
        assert client.get(f"/calendar/{wrong}.ics").status_code == 404, wrong


def test_a_weak_etag_sent_back_gets_a_304(app, client, db, login_as):
    """A proxy that compresses the feed (nginx's gzip) hands the app a weak tag, W/"…", which
    the app sends back: If-None-Match compares weakly (RFC 9110), so it still gets a 304."""
    login_as()
    path = turn_on(client)
    etag = client.get(path).headers["ETag"]
    for sent in (f"W/{etag}", f'"other", W/{etag}'):
        response = app.test_client().get(path, headers={"If-None-Match": sent})
        assert response.status_code == 304, sent
    assert app.test_client().get(path, headers={"If-None-Match": 'W/"other"'}).status_code == 200


def test_renaming_the_account_gives_the_feed_a_new_etag(app, client, db, login_as):
    """The feed's name is its owner's ("xtablo: Ada's planning"): an app polling with the old
    tag must get the new name, not a 304."""
    me = login_as()
    me.time_zone = "Europe/Paris"
    db.session.commit()
    path = turn_on(client)
    etag = client.get(path).headers["ETag"]
    assert client.post("/account", data={"name": "Ada", "language": "", "time_zone": "Europe/Paris"}).status_code == 303
    response = app.test_client().get(path, headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert str(Calendar.from_ical(response.data)["X-WR-CALNAME"]) == "xtablo: Ada’s planning"


def test_line_breaks_and_control_characters_neither_break_nor_forge_lines(client, db, login_as, make_tablo):
    """Titles, places and names are typed by people, who may paste line breaks and invisible
    characters (or post them on purpose): the feed and the event's file still open, hold no
    control character RFC 5545 forbids, and no property the app did not write."""
    me = login_as()
    tablo = make_tablo(owner=me, title="Chantier\nNord")
    response = client.post(f"/tablos/{tablo.id}/events", data={
        "title": "Réunion\nde chantier", "start_date": "2027-03-05", "start_time": "09:00",
        "location": "Mairie\rURL:https://evil.example", "description": "Ordre du jour\x01\r\nATTENDEE:mailto:x@evil.example"})
    assert response.status_code == 303
    assert client.post("/account", data={"name": "Ada\nLovelace", "language": "", "time_zone": "UTC"}).status_code == 303
    event = db.session.scalar(select(TabloEvent))
    path = turn_on(client)
    for response, name in ((client.get(f"/tablos/{tablo.id}/events/{event.id}.ics"), "Réunion de chantier"),
                           (client.get(path), "xtablo: Ada Lovelace’s planning")):
        assert response.status_code == 200
        text = response.data.decode()
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text.replace("\r\n", "")), text
        parsed_back = Calendar.from_ical(response.data)
        assert str(parsed_back["X-WR-CALNAME"]) == name
        (item,) = parsed_back.walk("VEVENT")
        assert str(item["SUMMARY"]) == "Réunion\nde chantier"
        assert str(item["LOCATION"]) == "Mairie\nURL:https://evil.example"
        assert str(item["URL"]) == f"http://localhost/tablos/{tablo.id}/events/{event.id}"
        assert "ATTENDEE" not in item and str(item["DESCRIPTION"]).startswith("Ordre du jour\nATTENDEE:")
        assert item["CATEGORIES"].cats == ["Chantier\nNord"]
