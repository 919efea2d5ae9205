"""/planning: the signed-in person's agenda across every tablo they are a member of.

/planning    GET    ?view=agenda|week|month   the agenda (the default: 30 days, listed by day), a
                                              week in 7 columns, or a month grid
                    &date=YYYY-MM-DD          a day the view shows (default: today, in the reader's
                                              time zone); the week and the month are those around it
                    &tablo=<id>&tablo=<id>…   only these tablos (repeat the parameter for several;
                                              none: every tablo)

Everything is in the URL, so a view is a bookmark and the page works without JavaScript: the
view switcher, "Today", previous / next and the filter (a GET form) are links and forms that
only change the query string. A value the page cannot use (an unknown view, a date that does not
parse or falls outside 1900–9999, a tablo id that is not a number, or names a tablo the person
is not a member of) is said in a sentence at the top, and the page shows that parameter's default
(the agenda, today, the other tablos): status 400, or 404 when only a tablo is unknown, as a
tablo's own page would answer.

Events are shown in the reader's time zone, with the week starting on their language's first
day of the week (Sunday in English, Monday in French). The data: xtablo/planning.py.
"""

import re
from dataclasses import dataclass, field
from datetime import date

from babel import Locale
from babel.core import get_global
from babel.dates import format_date, format_interval, format_skeleton, get_day_names
from flask import render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from xtablo import timezones
from xtablo.blueprints.planning import bp
from xtablo.models._types import utcnow
from xtablo.planning import FIRST_DAY, LAST_DAY, Item, by_day, items_of, shifted, tablos_of
from xtablo.web.dates import clock
from xtablo.web.ids import parse_id

VIEWS = ("agenda", "week", "month")
AGENDA_DAYS = 30
MONTH_ITEMS = 3  # items drawn in a day of the month grid; the rest are behind "+N more"
DATE = re.compile(r"([0-9]{1,8})-([0-9]{2})-([0-9]{2})")


@dataclass
class Query:
    """What the URL asks for, once read; `problems` says what could not be used, and why."""

    view: str = "agenda"
    day: date | None = None  # None: today
    only: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    status: int = 200

    def refuse(self, message: str, status: int = 400) -> None:
        self.problems.append(message)
        self.status = 400 if 400 in (self.status, status) else status


def read_query(args, member_ids: set[int]) -> Query:
    query = Query()
    view = args.get("view") or "agenda"
    if view in VIEWS:
        query.view = view
    else:
        query.refuse(_("There is no such view of the planning: here is the agenda."))
    if raw := args.get("date"):
        match = DATE.fullmatch(raw)
        try:
            year = int(match.group(1)) if match else None
            if year is not None and not FIRST_DAY.year <= year <= LAST_DAY.year:
                query.refuse(_("Choose a date between %(first)d and %(last)d: here is today.", first=FIRST_DAY.year, last=LAST_DAY.year))
            elif year is not None:
                query.day = date(year, int(match.group(2)), int(match.group(3)))
            else:
                query.refuse(_("That date could not be read (it is written like 2027-03-01): here is today."))
        except ValueError:  # 2027-02-30
            query.refuse(_("That date could not be read (it is written like 2027-03-01): here is today."))
    unreadable = unknown = False
    for raw in args.getlist("tablo"):
        tablo_id = parse_id(raw)
        if tablo_id is None:
            unreadable = unreadable or raw != ""
        elif tablo_id not in member_ids:
            unknown = True
        elif tablo_id not in query.only:
            query.only.append(tablo_id)
    if unreadable:
        query.refuse(_("A tablo in the filter could not be read: it was left out."))
    if unknown:
        query.refuse(_("A tablo in the filter is not one of yours, or no longer exists: it was left out."), 404)
    return query


def first_week_day() -> int:
    """The reader's first day of the week (0 Monday … 6 Sunday), from their language's usual
    country: "en" alone says nothing, and is read as American English, as xtablo writes it."""
    locale = Locale.parse(str(get_locale()))
    if locale.territory is None and (likely := get_global("likely_subtags").get(locale.language)):
        locale = Locale.parse(likely)
    return locale.first_week_day


def week_of(day: date, first_weekday: int) -> date:
    return shifted(day, -((day.weekday() - first_weekday) % 7))


def month_after(first: date) -> date | None:
    if first.month < 12:
        return first.replace(month=first.month + 1)
    return first.replace(year=first.year + 1, month=1) if first.year < LAST_DAY.year else None


@dataclass
class Span:
    """The days a view shows (`first` to `last`, both included: the calendar's last day,
    31 December 9999, has no day after it), its heading, and where previous and next lead
    (None: past 1900 or 9999)."""

    first: date
    last: date
    heading: str
    previous: date | None
    next: date | None

    @property
    def end(self) -> date:
        """The day after the span, for counting its days (the last one itself at 9999's end)."""
        return shifted(self.last, 1)

    @property
    def days(self) -> list[date]:
        return [date.fromordinal(n) for n in range(self.first.toordinal(), self.last.toordinal() + 1)]


def span_of(view: str, day: date, first_weekday: int) -> Span:
    """The days `view` shows around `day`. Previous and next lead to a day of the span before
    and after, within 1900–9999: the first week of 1900 starts in 1899 on Sundays, so "previous"
    names 1 January 1900 rather than a day the page would refuse."""
    locale = get_locale()
    if view == "month":
        month = day.replace(day=1)
        following = month_after(month)
        first = week_of(month, first_weekday)
        last = shifted(week_of(shifted(following, -1) if following else LAST_DAY, first_weekday), 6)
        heading = format_skeleton("yMMMM", month, locale=locale)
        heading = heading[:1].upper() + heading[1:]  # "mars 2027" is a heading: "Mars 2027"
        before, after = shifted(month, -1).replace(day=1), following
    else:
        length = 7 if view == "week" else AGENDA_DAYS
        first = week_of(day, first_weekday) if view == "week" else day
        last = shifted(first, length - 1)
        heading = format_interval(first, last, "yMMMd", locale=locale)
        before, after = shifted(first, -length), shifted(last, 1)
    previous = max(before, FIRST_DAY) if first > FIRST_DAY else None
    following = after if after and last < LAST_DAY else None
    return Span(first, last, heading, previous, following)


def day_name(day: date, skeleton: str | None = None) -> str:
    """A day as the reader's language says it in full ("Wednesday, March 10, 2027", "mercredi
    10 mars 2027"), or by a babel skeleton ("MMMEd": "Wed, Mar 10")."""
    if skeleton:
        return format_skeleton(skeleton, day, locale=get_locale())
    return format_date(day, "full", locale=get_locale())


@bp.get("/planning")
@login_required
def index():
    zone = timezones.zone(current_user.time_zone)
    today = utcnow().astimezone(zone).date()
    tablos = tablos_of(current_user)
    by_id = {tablo.id: tablo for tablo in tablos}
    query = read_query(request.args, set(by_id))
    day = query.day or today
    first_weekday = first_week_day()
    span = span_of(query.view, day, first_weekday)
    items = items_of(current_user, by_id, first_day=span.first, last_day=span.last, in_zone=zone, only=set(query.only))
    days = by_day(items, span.days)

    def link(**changes) -> str:
        """This page's URL with some parameters changed (`date=None`: today)."""
        params = {"view": query.view, "date": query.day, "tablo": query.only} | changes
        if isinstance(params["date"], date):
            params["date"] = params["date"].isoformat()
        return url_for("planning.index", **params)

    def time_on(item: Item, on: date) -> str:
        """When the item happens on day `on`, in the reader's zone: "9:00 AM – 10:00 AM", "from
        11:30 PM", "until 12:30 AM", or "All day"; a task is due that day."""
        if item.is_task:
            return _("Deadline")
        if item.covers_whole(on, zone):
            return _("All day")
        start, end = item.starts_at.astimezone(zone), item.ends_at.astimezone(zone)
        if start.date() == on and item.last_day == on:
            if start == end:
                return clock(start, zone)
            return _("%(start)s – %(end)s", start=clock(start, zone), end=clock(end, zone))
        if start.date() == on:
            return _("from %(time)s", time=clock(start, zone))
        return _("until %(time)s", time=clock(end, zone))

    def split(items: list[Item], on: date) -> tuple[list[Item], list[Item]]:
        """The week view's two lists for a day: what fills it (on top), and the timed rest."""
        whole = [item for item in items if item.covers_whole(on, zone)]
        return whole, [item for item in items if item not in whole]

    weekdays = [(first_weekday + n) % 7 for n in range(7)]
    # The feed's forms post to addresses that carry this view, day and filter, to come back to them.
    here = {"view": query.view, "date": query.day.isoformat() if query.day else None, "tablo": query.only}
    return render_template(
        "planning/index.html", query=query, view=query.view, span=span, days=days, today=today, tablos=tablos,
        link=link, time_on=time_on, split=split, zone=zone, month=day.month, month_items=MONTH_ITEMS,
        weekday_names=[(get_day_names("abbreviated", locale=get_locale())[n], get_day_names("wide", locale=get_locale())[n]) for n in weekdays],
        day_name=day_name, here=here,
    ), query.status
