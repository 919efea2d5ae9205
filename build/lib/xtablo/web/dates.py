"""Dates as a reader says them, in their language: "today", "tomorrow", "Dec 5" / "5 déc."."""

from datetime import date

from babel.dates import format_skeleton
from flask_babel import get_locale
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
