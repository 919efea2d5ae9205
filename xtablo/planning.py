"""A person's planning: what falls on each day of a range, across every tablo they are a member
of, in their own time zone. The page (xtablo/blueprints/planning/views.py) draws it as an agenda,
a week or a month.

Two kinds of item: the tablos' events (TabloEvent) and their tasks with a due date. Every query
goes through the person's memberships (`Tablo.with_role_of`), so a member removed from a tablo
stops seeing its items at their next page. A range costs three queries whatever it holds: the
person's tablos, the events, the due tasks.

Days are the reader's: a timed event is on every local day it touches (09:00 in Paris is on the
same day for a Parisian and, at 03:00, for a New Yorker; 23:30–00:30 is on two days), an all-day
event and a due date are on their own dates in every zone.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import load_only

from xtablo.extensions import db
from xtablo.models import Tablo, TabloEvent, Task, User
from xtablo.models.event import FIRST_YEAR, LAST_YEAR
from xtablo.models.task import Status
from xtablo.timezones import next_day_start, to_utc_lenient

FIRST_DAY, LAST_DAY = date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 12, 31)


def shifted(day: date, days: int) -> date:
    """`day` moved by `days`, stopping at the calendar's ends rather than overflowing."""
    ordinal = min(max(day.toordinal() + days, date.min.toordinal()), date.max.toordinal())
    return date.fromordinal(ordinal)


@dataclass(frozen=True)
class Item:
    """An event or a due task, as the planning shows it. `first_day` and `last_day` (inclusive)
    are the reader's local days it covers."""

    kind: str  # "event" or "task"
    id: int
    tablo: Tablo
    title: str
    first_day: date
    last_day: date
    all_day: bool  # an all-day event, or a task: no time of day
    starts_at: datetime | None = None  # a timed event's instants (UTC)
    ends_at: datetime | None = None
    location: str = ""
    done: bool = False  # a task in the Done column

    @property
    def is_task(self) -> bool:
        return self.kind == "task"

    def covers_whole(self, day: date, in_zone: ZoneInfo) -> bool:
        """Whether the item fills `day` from its first instant to its last (an all-day one, a
        task, or a timed one under way all day long): the week view draws those on top."""
        if self.all_day:
            return True
        day_end = next_day_start(day, in_zone)
        return day_end is not None and self.starts_at <= to_utc_lenient(day, in_zone) and self.ends_at >= day_end


def tablos_of(user: User) -> list[Tablo]:
    """Every tablo `user` is a member of, by title: the planning's filter offers these."""
    stmt = Tablo.with_role_of(user).order_by(Tablo.title, Tablo.id)
    return [tablo for tablo, _role in db.session.execute(stmt)]


def items_of(user: User, tablos: dict[int, Tablo], *, first_day: date, last_day: date, in_zone: ZoneInfo,
             only: set[int] | None = None) -> list[Item]:
    """The events and due tasks on days first_day..last_day (both included) for `user`, read in
    `in_zone`, of every tablo they are a member of (or of `only` among those); `tablos` maps
    ids to their tablo (from `tablos_of`). Two queries."""
    if last_day < first_day:
        return []
    member_tablos = Tablo.with_role_of(user).with_only_columns(Tablo.id)
    events = TabloEvent.overlapping(
        select(TabloEvent).options(load_only(TabloEvent.tablo_id, TabloEvent.title, TabloEvent.location, TabloEvent.starts_at,
                                             TabloEvent.ends_at, TabloEvent.all_day))
        .where(TabloEvent.tablo_id.in_(member_tablos)),
        first_day=first_day, last_day=last_day, in_zone=in_zone,
    ).order_by(TabloEvent.starts_at, TabloEvent.id)
    tasks = (select(Task.id, Task.tablo_id, Task.title, Task.due_date, Task.status)
             .where(Task.tablo_id.in_(member_tablos), Task.due_date >= first_day, Task.due_date <= last_day)
             .order_by(Task.due_date, Task.title, Task.id))
    if only:
        events, tasks = events.where(TabloEvent.tablo_id.in_(only)), tasks.where(Task.tablo_id.in_(only))
    items = []
    for event in db.session.scalars(events):
        if event.tablo_id not in tablos:  # joined between the two queries: next page
            continue
        if event.all_day:
            first, last = event.start_day, event.end_day
        else:
            first = event.starts_at.astimezone(in_zone).date()
            end = event.ends_at.astimezone(in_zone)
            # An event that ends at midnight is over before that day begins.
            last = max(first, (end - timedelta(microseconds=1)).date() if end > event.starts_at else end.date())
        items.append(Item("event", event.id, tablos[event.tablo_id], event.title, first, last, event.all_day,
                          None if event.all_day else event.starts_at, None if event.all_day else event.ends_at,
                          location=event.location))
    for task_id, tablo_id, title, due, status in db.session.execute(tasks):
        if tablo_id in tablos:
            items.append(Item("task", task_id, tablos[tablo_id], title, due, due, True, done=status == Status.DONE))
    return items


def by_day(items: list[Item], days: list[date]) -> dict[date, list[Item]]:
    """Each of `days` with the items on it: the all-day ones first (events, then due tasks, by
    title), then the timed ones by their start."""
    def order(item: Item):
        if item.all_day:
            return (0, item.is_task, 0.0, item.title.casefold(), item.id)
        return (1, False, item.starts_at.timestamp(), item.title.casefold(), item.id)

    ordered = sorted(items, key=order)
    return {day: [item for item in ordered if item.first_day <= day <= item.last_day] for day in days}
