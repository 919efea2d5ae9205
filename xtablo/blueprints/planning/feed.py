"""The private calendar feed: a secret address a calendar app subscribes to.

/planning/feed              POST   turn the feed on, or give it a new address (the old one then 404s)
/planning/feed/off          POST   turn it off (its address 404s)

Both lead back to the planning as it was (`?view=…&date=…&tablo=…`, which the forms' addresses
carry), at the feed's box: turning the feed on from the month does not drop the reader on the agenda.
/calendar/<feed_token>.ics  GET    the feed itself: no session, the token is the key (xtablo/calendar.py)

The feed answers with an ETag; a calendar app that sends it back (If-None-Match) gets a 304
after one query of aggregates, whatever the number of events. Its tokens are redacted from the
access log (xtablo/web/accesslog.py).
"""

from flask import abort, flash, make_response, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from xtablo import calendar
from xtablo.blueprints.planning import bp
from xtablo.blueprints.planning.views import DATE, VIEWS
from xtablo.blueprints.tablos.forms import ConfirmForm
from xtablo.extensions import db
from xtablo.i18n import in_language_of
from xtablo.web.htmx import see_other
from xtablo.web.security import external_url


@bp.route("/planning/feed", methods=["GET", "POST"])
@login_required
def renew_feed():
    if request.method == "POST" and ConfirmForm().validate_on_submit():
        was_on = current_user.feed_salt is not None
        calendar.renew_feed(current_user)
        db.session.commit()
        flash(_("Your calendar feed has a new address: the old one no longer works.") if was_on
              else _("Your calendar feed is on: add its address to your calendar app."), "info")
    return see_other(planning_as_it_was())


@bp.route("/planning/feed/off", methods=["GET", "POST"])
@login_required
def turn_off_feed():
    if request.method == "POST" and ConfirmForm().validate_on_submit():
        calendar.turn_off_feed(current_user)
        db.session.commit()
        flash(_("Your calendar feed is off: its address no longer works."), "info")
    return see_other(planning_as_it_was())


def planning_as_it_was() -> str:
    """The planning the form was posted from, at the feed's box; a parameter that could not be
    the planning's is left out rather than shown back as a problem."""
    view, day = request.args.get("view"), request.args.get("date") or ""
    return url_for("planning.index", view=view if view in VIEWS else None, date=day if DATE.fullmatch(day) else None,
                   tablo=[raw for raw in request.args.getlist("tablo") if raw.isascii() and raw.isdigit()], _anchor="feed")


@bp.get("/calendar/<feed_token>.ics")
def feed(feed_token: str):
    user = calendar.user_of_feed(feed_token)
    if user is None:
        abort(404)
    version = calendar.feed_version(user)
    # Compared weakly (RFC 9110): a proxy that compresses the feed hands the app W/"…".
    if request.if_none_match.contains_weak(version):
        response = make_response("", 304)
    else:
        with in_language_of(user.locale):
            response = make_response(calendar.feed_of(user))
        response.headers["Content-Type"] = calendar.CONTENT_TYPE
    response.set_etag(version)
    # Private to its owner; kept by the app, which asks again with the ETag.
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.app_template_global()
def calendar_feed_urls() -> tuple[str, str] | None:
    """The signed-in person's feed address, and the same as a webcal: link that opens their
    calendar app; None while the feed is off."""
    token = calendar.feed_token(current_user)
    if token is None:
        return None
    url = external_url("planning.feed", feed_token=token)
    return url, "webcal:" + url.split(":", 1)[1]
