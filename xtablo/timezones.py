"""Time zones: every time is entered and shown in the reader's own (`User.time_zone`, an IANA
name such as "Europe/Paris"), and stored in UTC.

Turning a local date and time into an instant can fail twice a year in zones with daylight saving
time: on the spring-forward night, 02:30 does not exist in Paris (NonexistentTime); on the autumn
night, 02:30 happens twice (AmbiguousTime). Both are refused with a sentence rather than guessed.
"""

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DEFAULT = "UTC"
# The regions of the IANA database that name places people live in; the rest are aliases kept
# for compatibility ("US/Eastern", "Etc/GMT+5" with its inverted sign) that would only confuse.
REGIONS = ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")


class LocalTimeError(ValueError):
    """A local time that names no single instant in its zone."""


class NonexistentTime(LocalTimeError):
    """Skipped by the clocks (spring forward)."""


class AmbiguousTime(LocalTimeError):
    """Happens twice (the clocks go back)."""


@cache
def names() -> tuple[str, ...]:
    """The zones a person picks from, "UTC" first, then by name."""
    zones = sorted(name for name in available_timezones() if name.split("/", 1)[0] in REGIONS and "/" in name)
    return (DEFAULT, *zones)


@cache
def _known() -> frozenset[str]:
    return frozenset(names())


def is_zone(name: str | None) -> bool:
    return isinstance(name, str) and name in _known()


def zone(name: str | None) -> ZoneInfo:
    """The zone named `name`, or UTC for None or a name this system does not know."""
    try:
        return ZoneInfo(name) if is_zone(name) else ZoneInfo(DEFAULT)
    except ZoneInfoNotFoundError:
        return ZoneInfo(DEFAULT)


def to_utc(day: date, at: time, in_zone: ZoneInfo) -> datetime:
    """The instant at which clocks in `in_zone` show `day` `at`; LocalTimeError when there is
    none (NonexistentTime) or two (AmbiguousTime)."""
    wall = datetime.combine(day, at)
    first, second = wall.replace(tzinfo=in_zone, fold=0), wall.replace(tzinfo=in_zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        if first.astimezone(UTC).astimezone(in_zone).replace(tzinfo=None) != wall:
            raise NonexistentTime(wall)
        raise AmbiguousTime(wall)
    return first.astimezone(UTC)


def to_utc_lenient(day: date, in_zone: ZoneInfo) -> datetime:
    """The instant a day starts in `in_zone`, for ranges: where midnight does not exist (a few
    zones spring forward at 00:00), the first instant of the day."""
    return datetime.combine(day, time(), tzinfo=in_zone).astimezone(UTC)


def next_day_start(day: date, in_zone: ZoneInfo) -> datetime | None:
    """The instant the day after `day` starts in `in_zone` (the end of `day`, for ranges); None
    after 31 December 9999, which no day follows."""
    return None if day == date.max else to_utc_lenient(day + timedelta(days=1), in_zone)
