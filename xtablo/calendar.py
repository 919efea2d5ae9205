"""iCalendar (RFC 5545) for calendar apps: each event's "Add to calendar" file and each person's
private feed (the `icalendar` package writes the text).

- An event is a VEVENT whose UID is its `uid` (random, stable for ever), so an app that polls
  the feed updates it rather than adding a copy; SEQUENCE grows with each edit, LAST-MODIFIED is
  its `updated_at` and DTSTAMP the moment the file was made, as the RFC asks.
- A timed event has UTC times (DTSTART:20270305T080000Z): every app shows them in its own zone.
- An all-day event has dates (DTSTART;VALUE=DATE) and an exclusive DTEND, as stored.
- A task with a due date is an all-day VEVENT on that day, its summary marked as a task, with a
  UID made from its id and creation instant (ids of deleted tasks may come back on SQLite).
"""

from datetime import datetime, timedelta

from flask import url_for
from flask_babel import gettext as _
from icalendar import Calendar, Event

from xtablo.models._types import utcnow

CONTENT_TYPE = "text/calendar; charset=utf-8"
PRODID = "-//xtablo//xtablo//EN"


def _calendar(name: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    return calendar


def _event(event, tablo, stamp: datetime) -> Event:
    item = Event()
    item.add("uid", f"{event.uid}@xtablo")
    item.add("dtstamp", stamp)
    item.add("last-modified", event.updated_at)
    item.add("created", event.created_at)
    item.add("sequence", event.sequence)
    item.add("summary", event.title)
    if event.all_day:
        item.add("dtstart", event.starts_at.date())
        item.add("dtend", event.ends_at.date())
    else:
        item.add("dtstart", event.starts_at)
        item.add("dtend", event.ends_at)
    if event.location:
        item.add("location", event.location)
    description = "\n\n".join(part for part in (event.description, _("Tablo: %(title)s", title=tablo.title)) if part)
    item.add("description", description)
    item.add("categories", [tablo.title])
    item.add("url", url_for("events.event", tablo_id=tablo.id, event_id=event.id, _external=True))
    return item


def _task(task, tablo, stamp: datetime) -> Event:
    item = Event()
    item.add("uid", f"task-{task.id}-{int(task.created_at.timestamp())}@xtablo")
    item.add("dtstamp", stamp)
    item.add("last-modified", task.updated_at)
    item.add("summary", _("Task: %(title)s", title=task.title))
    item.add("dtstart", task.due_date)
    item.add("dtend", task.due_date + timedelta(days=1))
    item.add("transp", "TRANSPARENT")  # a due date takes no time in the day
    item.add("categories", [tablo.title])
    item.add("url", url_for("tablos.task", tablo_id=tablo.id, task_id=task.id, _external=True))
    return item


def of_events(events, tasks=(), *, name: str) -> bytes:
    """A calendar of (event, tablo) and (task, tablo) pairs."""
    calendar, stamp = _calendar(name), utcnow()
    for event, tablo in events:
        calendar.add_component(_event(event, tablo, stamp))
    for task, tablo in tasks:
        calendar.add_component(_task(task, tablo, stamp))
    return calendar.to_ical()
