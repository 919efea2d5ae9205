"""Events of a tablo: its Events tab, each event's page, and its "Add to calendar" file.

/tablos/<id>/events                        GET, POST   the Events tab: what is to come (?past=1: what is over);
                                                       POST adds an event
/tablos/<id>/events/<event_id>             GET, POST   an event's page; editors change it there
/tablos/<id>/events/<event_id>/delete      GET, POST   confirm, then delete
/tablos/<id>/events/<event_id>.ics         GET         the event as an iCalendar file, for any calendar app

Editors and owners add, change and delete events; viewers read them. Days and times are typed
and shown in the reader's own time zone (xtablo/timezones.py, set on the account page).
"""

import re
from io import BytesIO

from flask import flash, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from xtablo import calendar, timezones
from xtablo.access import get_event_or_404, get_tablo_or_404
from xtablo.blueprints.events import bp
from xtablo.blueprints.events.forms import EventForm
from xtablo.blueprints.tablos.forms import ConfirmForm
from xtablo.extensions import db
from xtablo.models import Role, TabloEvent
from xtablo.models._types import utcnow
from xtablo.web import dates
from xtablo.web.htmx import see_other


@bp.before_request
@login_required
def require_login():
    """Every page of this blueprint is for signed-in people."""


def reader_zone():
    return timezones.zone(current_user.time_zone)


@bp.route("/tablos/<id:tablo_id>/events", methods=["GET", "POST"])
def index(tablo_id: int):
    tablo = get_tablo_or_404(tablo_id, role=Role.EDITOR if request.method == "POST" else Role.VIEWER)
    form = EventForm()
    if form.validate_on_submit() and (instants := form.instants(reader_zone())):
        event = TabloEvent.create(tablo, by=current_user, title=form.title.data, starts_at=instants[0], ends_at=instants[1],
                                  all_day=form.all_day.data, location=form.location.data or "", description=form.description.data or "")
        anchor = f"event-{event.id}"
        flash(_("Event “%(title)s” added.", title=event.title), "info")
        past = event.ends_at <= utcnow()
        db.session.commit()
        return see_other(url_for("events.index", tablo_id=tablo.id, past=1 if past else None, _anchor=anchor))
    past = request.args.get("past") == "1"
    events = TabloEvent.of_tablo(tablo, now=utcnow(), past=past)
    status = 422 if form.errors else 200
    return render_template("events/index.html", tablo=tablo, form=form, events=events, past=past, when=when,
                           zone_name=reader_zone().key), status


@bp.route("/tablos/<id:tablo_id>/events/<id:event_id>", methods=["GET", "POST"])
def event(tablo_id: int, event_id: int):
    tablo = get_tablo_or_404(tablo_id, role=Role.EDITOR if request.method == "POST" else Role.VIEWER)
    event = get_event_or_404(tablo, event_id)
    form = EventForm() if request.method == "POST" else EventForm.of(event, reader_zone())
    if form.validate_on_submit() and (instants := form.instants(reader_zone())):
        event.update(title=form.title.data, starts_at=instants[0], ends_at=instants[1], all_day=form.all_day.data,
                     location=form.location.data or "", description=form.description.data or "")
        db.session.commit()
        flash(_("Event saved."), "info")
        return see_other(url_for("events.index", tablo_id=tablo.id, _anchor=f"event-{event_id}"))
    return render_template("events/event.html", tablo=tablo, event=event, form=form, when=when,
                           zone_name=reader_zone().key), 422 if form.errors else 200


@bp.route("/tablos/<id:tablo_id>/events/<id:event_id>/delete", methods=["GET", "POST"])
def delete(tablo_id: int, event_id: int):
    tablo = get_tablo_or_404(tablo_id, role=Role.EDITOR)
    event = get_event_or_404(tablo, event_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        title = event.title
        event.delete()
        db.session.commit()
        flash(_("Event “%(title)s” deleted.", title=title), "info")
        return see_other(url_for("events.index", tablo_id=tablo.id))
    return render_template("events/delete.html", tablo=tablo, event=event, form=form, when=when)


@bp.get("/tablos/<id:tablo_id>/events/<id:event_id>.ics")
def ics(tablo_id: int, event_id: int):
    """The event alone, to open in a calendar app ("Add to calendar")."""
    tablo = get_tablo_or_404(tablo_id)
    event = get_event_or_404(tablo, event_id)
    data = calendar.of_events([(event, tablo)], name=event.title)
    return send_file(BytesIO(data), mimetype="text/calendar",  # Werkzeug adds "; charset=utf-8"
                     as_attachment=True, download_name=f"{file_name(event.title)}.ics", max_age=0)


def file_name(title: str) -> str:
    """The event's title as a file name: what no file system takes, or a terminal would show
    badly, becomes a dash. Werkzeug writes it for every browser (an ASCII `filename` and a
    UTF-8 `filename*`)."""
    name = re.sub(r"[\x00-\x1f\x7f/\\:*?\"<>|]+", "-", title).strip(" .-")[:80].strip()
    return name or "event"


def when(event: TabloEvent) -> str:
    return dates.when(event, reader_zone(), today=utcnow().astimezone(reader_zone()).date())
