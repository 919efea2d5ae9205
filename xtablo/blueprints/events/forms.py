"""The event form: days and times typed in the reader's own time zone, turned into UTC instants
(`EventForm.instants`) with every way that can go wrong said under its field."""

from datetime import date, datetime, time, timedelta

from babel.dates import format_time
from flask_babel import format_date, get_locale
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, StringField, TimeField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from xtablo import timezones
from xtablo.blueprints.tablos.forms import description_field, title_field
from xtablo.forms import Form
from xtablo.models.event import FIRST_YEAR, LAST_INSTANT, LAST_YEAR, MAX_DURATION, MAX_LOCATION_LENGTH, MAX_TITLE_LENGTH, day_start

DEFAULT_LENGTH = timedelta(hours=1)  # a timed event without an end time
YEARS_MESSAGE = _l("Choose a date between %(first)d and %(last)d.", first=FIRST_YEAR, last=LAST_YEAR)


class Checkbox(BooleanField):
    """A box that is ticked (the value its input sends, "y") or not: any other value is an error,
    not a tick."""

    def pre_validate(self, form):
        if self.raw_data not in ([], ["y"]):
            raise ValidationError(_l("This box is either ticked or not."))


class EventForm(Form):
    title = title_field(_l("Title"), max_length=MAX_TITLE_LENGTH)
    all_day = Checkbox(_l("All day"))
    start_date = DateField(_l("Starts on"), validators=[InputRequired(message=_l("Give the day it starts."))])
    start_time = TimeField(_l("Start time"), validators=[Optional()])
    end_date = DateField(_l("Ends on (optional)"), validators=[Optional()])
    end_time = TimeField(_l("End time (optional)"), validators=[Optional()])
    location = StringField(_l("Location (optional)"), validators=[Optional(), Length(max=MAX_LOCATION_LENGTH)],
                           render_kw={"maxlength": MAX_LOCATION_LENGTH})
    description = description_field(_l("Description (optional)"))

    @classmethod
    def of(cls, event, in_zone, **kwargs) -> "EventForm":
        """The form filled with `event` as its reader sees it."""
        if event.all_day:
            values = dict(start_date=event.start_day, end_date=event.end_day)
        else:
            start, end = event.starts_at.astimezone(in_zone), event.ends_at.astimezone(in_zone)
            values = dict(start_date=start.date(), start_time=start.time().replace(tzinfo=None),
                          end_date=end.date(), end_time=end.time().replace(tzinfo=None))
        return cls(title=event.title, all_day=event.all_day, location=event.location, description=event.description,
                   **values, **kwargs)

    def instants(self, in_zone) -> tuple[datetime, datetime] | None:
        """(starts_at, ends_at) in UTC from what was typed, read in `in_zone`; None after putting
        the reason under its field (a missing start time, an end before the start, a time the
        clocks skip or repeat that night, an absurd range).

        Without an end time, a timed event lasts an hour, or, when it ends on another day, until
        its start time on that day."""
        start_day, end_day = self.start_date.data, self.end_date.data or self.start_date.data
        for field in (self.start_date, self.end_date):
            if field.data and not FIRST_YEAR <= field.data.year <= LAST_YEAR:
                field.errors.append(YEARS_MESSAGE)
                return None
        try:
            if self.all_day.data:
                if end_day < start_day:
                    self.end_date.errors.append(_l("The event ends before it starts."))
                    return None
                starts_at, ends_at = day_start(start_day), day_start(end_day) + timedelta(days=1)
            else:
                if self.start_time.data is None:
                    self.start_time.errors.append(_l("Give a start time, or tick “All day”."))
                    return None
                starts_at = self._instant(self.start_time, start_day, self.start_time.data, in_zone)
                if starts_at is None:
                    return None
                if self.end_time.data is not None:
                    ends_at = self._instant(self.end_time, end_day, self.end_time.data, in_zone)
                elif end_day == start_day:
                    ends_at = starts_at + DEFAULT_LENGTH
                else:
                    ends_at = self._instant(self.end_date, end_day, self.start_time.data, in_zone)
                if ends_at is None:
                    return None
                if ends_at > LAST_INSTANT:  # an instant some member's zone places in the year 10000
                    (self.start_date if starts_at > LAST_INSTANT else self.end_date).errors.append(YEARS_MESSAGE)
                    return None
        except OverflowError:  # an hour past 31 December 9999
            self.end_date.errors.append(YEARS_MESSAGE)
            return None
        if ends_at < starts_at:
            (self.end_time if self.end_time.data and not self.all_day.data else self.end_date).errors.append(
                _l("The event ends before it starts."))
            return None
        if ends_at - starts_at > MAX_DURATION:
            self.end_date.errors.append(_l("An event lasts a year at most: check the end date."))
            return None
        return starts_at, ends_at

    @staticmethod
    def _instant(field, day: date, at: time, in_zone) -> datetime | None:
        try:
            return timezones.to_utc(day, at, in_zone)
        except timezones.NonexistentTime:
            field.errors.append(_l(
                "There is no %(time)s on %(day)s in %(zone)s: the clocks go forward that night. Choose another time.",
                time=format_time(at, "short", locale=get_locale()), day=format_date(day, "long"), zone=in_zone.key))
        except timezones.AmbiguousTime:
            field.errors.append(_l(
                "%(time)s happens twice on %(day)s in %(zone)s, as the clocks go back that night. Choose a time outside that hour.",
                time=format_time(at, "short", locale=get_locale()), day=format_date(day, "long"), zone=in_zone.key))
        except OverflowError:
            field.errors.append(YEARS_MESSAGE)
        return None
