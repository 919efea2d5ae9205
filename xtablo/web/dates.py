"""Dates and times as a reader says them, in their language and time zone: "today", "tomorrow",
"Dec 5" / "5 déc.", "Fri, Mar 5 · 9:00 AM – 10:30 AM"."""

from datetime import date, datetime

from babel.dates import format_datetime, format_skeleton, format_time
from flask_babel import format_timedelta, get_locale
from flask_babel import gettext as _


def short_date(day: date, today: date) -> str:
    """A due date: relative when it is next to today, else day and month (and the year when it
    is not this year's), ordered and abbreviated as the reader's language does."""
    delta = (day - today).days
    if delta == 0:
        return _("today")
    if delta == 1:
        return _("tomorrow")
    if delta == -1:
        return _("yesterday")
    return format_skeleton("MMMd" if day.year == today.year else "yMMMd", day, locale=get_locale())


def long_day(day: date, today: date | None = None) -> str:
    """A day with its weekday: "Fri, Mar 5" (with the year when it is not this year's)."""
    this_year = today is not None and day.year == today.year
    return format_skeleton("MMMEd" if this_year else "yMMMEd", day, locale=get_locale())


def clock(instant: datetime, in_zone) -> str:
    """A time of day as the reader's language writes it ("9:00 AM", "09:00"), in their zone."""
    return format_time(instant, "short", tzinfo=in_zone, locale=get_locale())


def when(event, in_zone, today: date | None = None) -> str:
    """An event's days and times, in the reader's zone and language: "Fri, Mar 5 · 9:00 AM –
    10:30 AM", "Fri, Mar 5, 9:00 PM – Sat, Mar 6, 1:00 AM", "Fri, Mar 5 – Sun, Mar 7" (all
    day: its dates as they are, in every zone)."""
    if event.all_day:
        first, last = event.start_day, event.end_day
        if first == last:
            return long_day(first, today)
        return _("%(start)s – %(end)s", start=long_day(first, today), end=long_day(last, today))
    start, end = event.starts_at.astimezone(in_zone), event.ends_at.astimezone(in_zone)
    if start.date() == end.date():
        return _("%(day)s · %(start)s – %(end)s", day=long_day(start.date(), today), start=clock(start, in_zone), end=clock(end, in_zone))
    return _("%(start)s – %(end)s", start=f"{long_day(start.date(), today)}, {clock(start, in_zone)}",
             end=f"{long_day(end.date(), today)}, {clock(end, in_zone)}")


def ago(instant: datetime, now: datetime) -> str:
    """How long ago, in words: "just now", "3 minutes ago", "il y a 2 jours"."""
    delta = now - instant
    if delta.total_seconds() < 45:
        return _("just now")
    return format_timedelta(-delta, add_direction=True)


def exact(instant: datetime, in_zone) -> str:
    """A date and time in full, in the reader's zone: "Mar 5, 2031, 9:00:00 AM"."""
    return format_datetime(instant, "medium", tzinfo=in_zone, locale=get_locale())
