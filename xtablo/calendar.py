"""iCalendar (RFC 5545) for calendar apps: each event's "Add to calendar" file and each person's
private feed (the `icalendar` package writes the text).

- An event is a VEVENT whose UID is its `uid` (random, stable for ever), so an app that polls
  the feed updates it rather than adding a copy; SEQUENCE grows with each edit, LAST-MODIFIED is
  its `updated_at` and DTSTAMP the moment the file was made, as the RFC asks.
- A timed event has UTC times (DTSTART:20270305T080000Z): every app shows them in its own zone.
- An all-day event has dates (DTSTART;VALUE=DATE) and an exclusive DTEND, as stored.
- A task with a due date is an all-day VEVENT on that day, its summary marked as a task, with a
  UID made from its id and creation instant (ids of deleted tasks may come back on SQLite).

The feed holds every event of the person's tablos, past ones too (a calendar app keeps history),
and is written in the language chosen on their account.
"""

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from flask import current_app, url_for
from flask_babel import gettext as _
from icalendar import Calendar, Event, vText

from xtablo.models._types import utcnow

CONTENT_TYPE = "text/calendar; charset=utf-8"
PRODID = "-//xtablo//xtablo//EN"
LINE_BREAK = re.compile(r"\r\n?|\n")
# What RFC 5545 forbids in TEXT (every control character but the tab; a line break is written
# escaped, as "\n"): pasted or posted in a title, it would make apps reject the whole feed.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _text(value: str, *, one_line: bool = False) -> str:
    """Text people typed, as iCalendar may carry it: each line break one newline (a lone
    carriage return too, which some apps would read as the end of the property), which
    icalendar writes escaped, or a space in a one-line value; no other control character."""
    value = LINE_BREAK.sub(" " if one_line else "\n", value)
    return CONTROL.sub("", value)


def _calendar(name: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    # An X- property is written as it is unless it says it is text: escaped, on one line.
    calendar.add("x-wr-calname", vText(_text(name, one_line=True)))
    return calendar


def _event(event, tablo, stamp: datetime) -> Event:
    item = Event()
    item.add("uid", f"{event.uid}@xtablo")
    item.add("dtstamp", stamp)
    item.add("last-modified", event.updated_at)
    item.add("created", event.created_at)
    item.add("sequence", event.sequence)
    item.add("summary", _text(event.title))
    if event.all_day:
        item.add("dtstart", event.starts_at.date())
        item.add("dtend", event.ends_at.date())
    else:
        item.add("dtstart", event.starts_at)
        item.add("dtend", event.ends_at)
    if event.location:
        item.add("location", _text(event.location))
    description = "\n\n".join(part for part in (event.description, _("Tablo: %(title)s", title=tablo.title)) if part)
    item.add("description", _text(description))
    item.add("categories", [_text(tablo.title)])
    item.add("url", url_for("events.event", tablo_id=tablo.id, event_id=event.id, _external=True))
    return item


def _task(task, tablo, stamp: datetime) -> Event:
    item = Event()
    item.add("uid", f"task-{task.id}-{int(task.created_at.timestamp())}@xtablo")
    item.add("dtstamp", stamp)
    item.add("last-modified", task.updated_at)
    item.add("summary", _text(_("Task: %(title)s", title=task.title)))
    item.add("dtstart", task.due_date)
    item.add("dtend", task.due_date + timedelta(days=1))
    item.add("transp", "TRANSPARENT")  # a due date takes no time in the day
    item.add("categories", [_text(tablo.title)])
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


# -- The private feed: /calendar/<token>.ics ---------------------------------------------------
#
# The token is `<user id>-<signature>`, the signature an HMAC of the user's id and `feed_salt`
# under SECRET_KEY: nothing secret is stored, the address can be shown again whenever its owner
# opens the planning, and a new salt (regenerate, or turning the feed off) makes every older
# address answer 404. Changing SECRET_KEY does the same for everyone's.


def _signature(user_id: int, salt: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"calendar-feed:{user_id}:{salt}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


def feed_token(user) -> str | None:
    """The token of `user`'s feed address, or None while the feed is off."""
    return None if user.feed_salt is None else f"{user.id}-{_signature(user.id, user.feed_salt)}"


def renew_feed(user) -> None:
    """Turn the feed on, or give it a new address (the old one answers 404 from now on)."""
    user.feed_salt = secrets.token_hex(16)


def turn_off_feed(user) -> None:
    user.feed_salt = None


def user_of_feed(token: str):
    """The user whose feed `token` opens, or None (malformed, forged, regenerated, turned off)."""
    from xtablo.extensions import db
    from xtablo.models import User
    from xtablo.web.ids import parse_id

    user_id, _, signature = token.partition("-")
    if parse_id(user_id) is None or not signature:
        return None
    user = db.session.get(User, parse_id(user_id))
    if user is None or user.feed_salt is None:
        return None
    # Compared as bytes: compare_digest refuses str with non-ASCII characters (a 500, not a 404).
    expected = _signature(user.id, user.feed_salt)
    return user if hmac.compare_digest(signature.encode(), expected.encode()) else None


def feed_version(user) -> str:
    """A tag that changes whenever anything the feed shows does: the user's tablos (joined, left,
    renamed), their events (added, edited, deleted) and due tasks, the feed's name (the user's)
    and language. One
    query of aggregates, so a calendar app polling an unchanged feed costs almost nothing."""
    from sqlalchemy import func, select

    from xtablo.extensions import db
    from xtablo.models import Tablo, TabloEvent, TabloMember, Task

    tablos = select(TabloMember.tablo_id).where(TabloMember.user_id == user.id).scalar_subquery()

    def aggregates(model, *where):
        return [select(func.count(model.id)).where(*where).scalar_subquery(),
                select(func.max(model.updated_at)).where(*where).scalar_subquery(),
                select(func.max(model.id)).where(*where).scalar_subquery()]

    row = db.session.execute(select(
        *aggregates(TabloMember, TabloMember.user_id == user.id),
        select(func.sum(TabloMember.tablo_id)).where(TabloMember.user_id == user.id).scalar_subquery(),
        *aggregates(Tablo, Tablo.id.in_(tablos)),
        *aggregates(TabloEvent, TabloEvent.tablo_id.in_(tablos)),
        *aggregates(Task, Task.tablo_id.in_(tablos), Task.due_date.is_not(None)),
    )).one()
    seed = repr((tuple(row), user.feed_salt, user.name, user.locale, user.time_zone, FEED_FORMAT))
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


FEED_FORMAT = 1  # bump when the feed's text changes shape, so apps fetch it again


def feed_of(user) -> bytes:
    """Every event of every tablo `user` is a member of, and every task with a due date, in two
    queries whatever their number."""
    from sqlalchemy import select

    from xtablo.extensions import db
    from xtablo.models import Tablo, TabloEvent, TabloMember, Task

    member = (TabloMember.tablo_id == Tablo.id) & (TabloMember.user_id == user.id)
    events = db.session.execute(
        select(TabloEvent, Tablo).join(Tablo, TabloEvent.tablo_id == Tablo.id).join(TabloMember, member)
        .order_by(TabloEvent.starts_at, TabloEvent.id)
    ).all()
    tasks = db.session.execute(
        select(Task, Tablo).join(Tablo, Task.tablo_id == Tablo.id).join(TabloMember, member)
        .where(Task.due_date.is_not(None)).order_by(Task.due_date, Task.id)
    ).all()
    return of_events(events, tasks, name=_("xtablo: %(name)s’s planning", name=user.name))
