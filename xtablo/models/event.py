"""Events of a tablo: a meeting, a delivery, a site visit. Each member's planning shows the events
of every tablo they are a member of, and so does their calendar feed.

Two kinds of event, told apart by `all_day`:
- A timed event starts and ends at instants: `starts_at` and `ends_at` are UTC datetimes
  (UTCDateTime). They are entered and shown in each reader's own time zone (`User.time_zone`), so
  the same meeting is at 09:00 for its creator in Paris and at 03:00 for a member in New York.
- An all-day event covers whole days, the same days for every reader wherever they are (a
  holiday is on 24 December in Paris and in New York): `starts_at` is its first day and `ends_at`
  the day after its last, both at 00:00 UTC and read as dates, never converted (`start_day`,
  `end_day`). The end is exclusive like iCalendar's DTEND;VALUE=DATE: a one-day event on 24
  December ends on 25 December.

For calendar apps (RFC 5545): `uid` names the event for ever (random, so it never collides
across tablos or installations), and `sequence` grows with each edit so a subscribed app takes
the new version.
"""

from datetime import UTC, date, datetime, time, timedelta
from uuid import uuid4

from sqlalchemy import CheckConstraint, ForeignKey, Index, Select, String, Text, and_, or_, select, true
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship

from xtablo.extensions import db
from xtablo.models._types import UTCDateTime, utcnow

MAX_TITLE_LENGTH = 200
MAX_LOCATION_LENGTH = 200
# The longest event there can be, and the years it may fall in: beyond, it is a typing mistake.
MAX_DURATION = timedelta(days=366)
FIRST_YEAR, LAST_YEAR = 1900, 9999
# The last instant a timed event may reach: the end of 9999 in the zone farthest ahead of UTC
# (Pacific/Kiritimati, UTC+14). Later, a member there could not be shown it (the year 10000).
LAST_INSTANT = datetime.max.replace(tzinfo=UTC) - timedelta(hours=14)


def day_start(day: date) -> datetime:
    """An all-day event's day as stored: 00:00 UTC."""
    return datetime.combine(day, time(), tzinfo=UTC)


class TabloEvent(db.Model):
    __tablename__ = "tablo_events"
    __table_args__ = (
        CheckConstraint("ends_at >= starts_at", name="ends_after_start"),
        Index("ix_tablo_events_tablo_start", "tablo_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tablo_id: Mapped[int] = mapped_column(ForeignKey("tablos.id", ondelete="CASCADE"))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(MAX_TITLE_LENGTH))
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(MAX_LOCATION_LENGTH), default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    all_day: Mapped[bool] = mapped_column(default=False)
    uid: Mapped[str] = mapped_column(String(64), unique=True, default=lambda: uuid4().hex)
    sequence: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    tablo = relationship("Tablo")
    created_by = relationship("User")

    def __repr__(self) -> str:
        return f"<TabloEvent {self.id} {self.title!r} {self.starts_at.isoformat()}>"

    @property
    def start_day(self) -> date:
        """An all-day event's first day."""
        return self.starts_at.date()

    @property
    def end_day(self) -> date:
        """An all-day event's last day (inclusive, as people say it)."""
        return (self.ends_at - timedelta(days=1)).date()

    # -- Verbs: they flush, the view commits -------------------------------------------------

    @classmethod
    def create(cls, tablo, *, by, title: str, starts_at: datetime, ends_at: datetime, all_day: bool = False,
               location: str = "", description: str = "") -> "TabloEvent":
        event = cls(tablo_id=tablo.id, created_by_user_id=by.id, title=title.strip(), location=location.strip(),
                    description=description.strip(), starts_at=starts_at, ends_at=ends_at, all_day=all_day)
        db.session.add(event)
        db.session.flush()
        return event

    def update(self, *, title: str, starts_at: datetime, ends_at: datetime, all_day: bool, location: str,
               description: str) -> None:
        """Change the event; calendar apps see a new version (`sequence`)."""
        self.title, self.location, self.description = title.strip(), location.strip(), description.strip()
        self.starts_at, self.ends_at, self.all_day = starts_at, ends_at, all_day
        # Counted by the database, so two edits at once both count.
        self.sequence = TabloEvent.sequence + 1
        db.session.flush()

    def delete(self) -> None:
        db.session.delete(self)
        db.session.flush()

    # -- Reading ---------------------------------------------------------------------------------

    @classmethod
    def of_tablo(cls, tablo, *, now: datetime, past: bool = False) -> list["TabloEvent"]:
        """The tablo's events still to come or under way, soonest first; or, with `past`, those
        that are over, latest first. An all-day event is over once its last day is, in UTC."""
        over = cls.ends_at <= now
        stmt = select(cls).where(cls.tablo_id == tablo.id).options(joinedload(cls.created_by))
        if past:
            stmt = stmt.where(over).order_by(cls.starts_at.desc(), cls.id.desc())
        else:
            stmt = stmt.where(~over).order_by(cls.starts_at, cls.id)
        return list(db.session.scalars(stmt))

    @classmethod
    def overlapping(cls, stmt, *, first_day: date, last_day: date, in_zone) -> "Select":
        """`stmt` narrowed to the events that fall on days first_day..last_day (both included)
        for a reader in `in_zone`: timed events by their instants, all-day events by their dates."""
        from xtablo.timezones import next_day_start, to_utc_lenient

        start, end = to_utc_lenient(first_day, in_zone), next_day_start(last_day, in_zone)
        timed = and_(~cls.all_day, true() if end is None else cls.starts_at < end,
                     or_(cls.ends_at > start, cls.starts_at >= start))
        whole_days = and_(cls.all_day, cls.starts_at <= day_start(last_day), cls.ends_at > day_start(first_day))
        return stmt.where(or_(timed, whole_days))
