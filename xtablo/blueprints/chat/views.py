"""Chat: each tablo's conversation, on its Chat tab.

/tablos/<id>/messages                              GET, POST   the Chat tab: the latest 50 messages (?before=<message
                                                               id>: the 50 before that one); POST sends a message
/tablos/<id>/messages/<message_id>/edit            GET, POST   its author changes a message
/tablos/<id>/messages/<message_id>/delete          POST        its author, or an owner, deletes it (softly: "Message deleted")
/tablos/<id>/messages/stream                       GET         Server-Sent Events: every change from the `Last-Event-ID`
                                                               header (or ?last_event_id=) on, then live (see stream.py)
/tablos/<id>/messages/read                         POST        the reader has seen the messages up to `up_to` (app.js
                                                               posts it when the stream brought some while the tab is seen)

Every member may read and write, viewers included. A message sent with htmx is answered with its
fragment (`chat/_message.html`, which the page includes too) and a fresh form; without
JavaScript, with a redirect back to the tab. Opening the tab (its latest messages) marks them
read, and so does seeing one arrive on it (`read`). The stream sends the same fragment for every change (MessageChange is its log): the tab
opens it from the last change it was drawn with, so nothing committed in between is missed.
"""

from uuid import uuid4

from flask import Response, abort, flash, make_response, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from sqlalchemy import func, select

from xtablo import realtime, timezones
from xtablo.access import get_message_or_404, get_tablo_or_404
from xtablo.blueprints.chat import bp
from xtablo.blueprints.chat import stream as chat_stream
from xtablo.blueprints.chat.forms import EditMessageForm, MessageForm
from xtablo.blueprints.chat.text import message_html
from xtablo.database import write_connection
from xtablo.extensions import db
from xtablo.models import ClientKeyTaken, MessageDeleted, Role, Tablo, TabloMember, TabloMessage
from xtablo.models.message import MessageChange, clean_body
from xtablo.models._types import utcnow
from xtablo.realtime import sse
from xtablo.web import dates
from xtablo.web.htmx import after_settle, is_htmx, refused, retarget, see_other
from xtablo.web.ids import parse_id


@bp.before_request
@login_required
def require_login():
    """Every page of this blueprint is for signed-in people."""


@bp.errorhandler(MessageDeleted)
def deleted_already(error):
    db.session.rollback()
    flash(_("That message is deleted: it can no longer be changed."), "error")
    return see_other(url_for("chat.index", tablo_id=request.view_args["tablo_id"]))


@bp.route("/tablos/<id:tablo_id>/messages", methods=["GET", "POST"])
def index(tablo_id: int):
    tablo = get_tablo_or_404(tablo_id)  # viewers write in the chat too
    if request.method == "GET":
        return show(tablo)
    form = MessageForm()
    if form.validate_on_submit():
        try:
            message, created = TabloMessage.create(tablo, author=current_user, body=form.body.data, client_key=form.key())
        except ClientKeyTaken:
            form.client_key.errors.append(_("This form is damaged: reload the page and send the message again."))
        else:
            if not created and message.body != form.body.data:
                # The same form sent again with another text: a correction after a send that
                # seemed to fail, though the first version was stored. Neither is lost: the
                # box keeps this text, with a new key, so that Send sends it too. When the box
                # gave back the stored text with more after it (app.js puts back a failed send's
                # text, then what was typed since, one per line), it keeps only the more.
                db.session.rollback()
                return refuse_message(tablo, keep_what_was_not_stored(form, message))
            db.session.commit()
            if is_htmx():
                html = render_template("chat/_sent.html", tablo=tablo, message=message, form=MessageForm.blank(),
                                       **fragment_context(tablo))
                return after_settle(make_response(html, 201 if created else 200), focus="#message-body")
            return see_other(url_for("chat.index", tablo_id=tablo.id, _anchor=f"message-{message.id}"))
    elif set(form.errors) == {"body"} and form.client_key.data and form.body.data:
        # Refused, though the same form was stored before: a lost answer's text given back with
        # more after it, now too long as a whole. Its first lines are that message.
        stored = TabloMessage.sent_with(tablo, author=current_user, client_key=form.client_key.data)
        if stored is not None and not_yet_stored(form.body.data, stored.body) != form.body.data:
            return refuse_message(tablo, keep_what_was_not_stored(form, stored))
    return refuse_message(tablo, form)


def keep_what_was_not_stored(form: MessageForm, stored: TabloMessage) -> MessageForm:
    """The form again after a resend of a stored message with another text: the box keeps what
    was not stored, judged afresh (it may still be too long), under a new key, so that Send sends
    it as a message of its own."""
    form.body.data = not_yet_stored(form.body.data, stored.body)
    form.body.validate(form)
    form.body.errors.insert(0, _("Your first version of this message was sent (it is above). "
                                 "This text was not: press Send to send it as well."))
    form.client_key.data = uuid4().hex
    return form


def not_yet_stored(text: str, stored: str) -> str:
    """`text` without its first lines when they are the `stored` message (as stored: spaces
    around it taken off), else all of it."""
    lines = text.split("\n")
    for count in range(1, len(lines)):
        if clean_body("\n".join(lines[:count])) == stored:
            return clean_body("\n".join(lines[count:])) or text
    return text


def refuse_message(tablo: Tablo, form: MessageForm):
    """The message form again, with what is wrong: its fields for htmx, else the whole tab."""
    if is_htmx():
        response = make_response(render_template("chat/_message_fields.html", tablo=tablo, form=form), 422)
        return refused(retarget(response, "#message-fields"), form, focus="#message-body")
    return show(tablo, form=form, status=422)


@bp.route("/tablos/<id:tablo_id>/messages/<id:message_id>/edit", methods=["GET", "POST"])
def edit(tablo_id: int, message_id: int):
    tablo = get_tablo_or_404(tablo_id)
    message = get_message_or_404(tablo, message_id, to="edit")
    if message.is_deleted:
        raise MessageDeleted(message_id)
    form = EditMessageForm(body=message.body)
    if form.validate_on_submit():
        message.edit(form.body.data)
        db.session.commit()
        return see_other(url_for("chat.index", tablo_id=tablo.id, _anchor=f"message-{message_id}"))
    return render_template("chat/edit.html", tablo=tablo, message=message, form=form), 422 if form.errors else 200


@bp.post("/tablos/<id:tablo_id>/messages/<id:message_id>/delete")
def delete(tablo_id: int, message_id: int):
    tablo = get_tablo_or_404(tablo_id)
    message = get_message_or_404(tablo, message_id, to="delete")
    message.delete()
    db.session.commit()
    if is_htmx():
        html = render_template("chat/_message.html", tablo=tablo, message=message, **fragment_context(tablo))
        return after_settle(make_response(html), announce=_("Message deleted."), focus="#message-body")
    flash(_("Message deleted."), "info")
    return see_other(url_for("chat.index", tablo_id=tablo.id, _anchor=f"message-{message_id}"))


@bp.get("/tablos/<id:tablo_id>/messages/stream")
def stream(tablo_id: int):
    """The tablo's changes as Server-Sent Events. Subscribed first, then the replay read from
    the database (a change committed in between comes both ways; the stream sends it once), then
    the transaction ends and the connection goes back to the pool before the first byte: an open
    stream holds neither, nor the request's context (the body copies what it needs)."""
    tablo = get_tablo_or_404(tablo_id)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    if request.method == "HEAD":  # its body would never be read: no place in the hub for it
        return Response(mimetype="text/event-stream", headers=headers)
    raw = request.headers.get("Last-Event-ID", request.args.get("last_event_id"))
    last_id = sse.parse_event_id(raw)
    variant = chat_stream.variant_of(get_locale(), current_user)
    live = realtime.current()
    try:
        subscriber = live.subscribe(tablo.id, user_id=current_user.id, session_id=current_user.current_session.id,
                                   variant=variant)
    except realtime.TooManyStreams:
        return Response(_("Too many chat tabs are open in this browser: close some, then reload this one."), 429,
                        mimetype="text/plain", headers={"Retry-After": "60"})
    try:
        changes = [] if last_id is None else MessageChange.since(tablo, last_id, limit=chat_stream.REPLAY_PAGE + 1)
        replay, whole = chat_stream.replay(changes[:chat_stream.REPLAY_PAGE], variant)
    except BaseException:
        live.unsubscribe(subscriber)
        raise
    db.session.remove()
    body = live.stream(subscriber, replay, more=not whole or len(changes) > chat_stream.REPLAY_PAGE,
                       connection=request.environ.get("gunicorn.socket"))
    return Response(body, mimetype="text/event-stream", headers=headers)


@bp.post("/tablos/<id:tablo_id>/messages/read")
def read(tablo_id: int):
    """Messages the stream added while the reader had the tab in view are read: the mark moves
    up to `up_to`, if it is a message of this tablo (the highest such id at or below it), never
    back. 204: the page stays as it is."""
    tablo = get_tablo_or_404(tablo_id)
    seen = parse_id(request.form.get("up_to"))
    if seen is None:
        abort(400)  # only app.js posts it: a damaged one is a 400 page, nothing is written
    up_to = db.session.scalar(select(func.max(TabloMessage.id))
                              .where(TabloMessage.tablo_id == tablo.id, TabloMessage.id <= seen))
    if up_to is not None:  # a post's transaction is a write already (xtablo/database.py)
        TabloMessage.mark_read(db.session.connection(), tablo_id=tablo.id, user_id=current_user.id, up_to=up_to)
        db.session.commit()
    return "", 204


def latest_change_id(tablo: Tablo) -> int:
    """Where the tab's stream starts: the last change the page was drawn with."""
    return db.session.scalar(select(func.max(MessageChange.id)).where(MessageChange.tablo_id == tablo.id)) or 0


def show(tablo: Tablo, form: MessageForm | None = None, status: int = 200):
    """The Chat tab, or for htmx a page of older messages (`?before=`). A constant number of
    queries whatever the number of messages: the page of messages with their authors, the
    members' names (for mentions), and the "read" mark when there was something unread."""
    raw = request.args.get("before")
    before, problem = None, None
    if raw is not None:
        before = parse_id(raw)
        if before is None:
            problem, status = _("That link to older messages is damaged: here are the latest messages."), 400
    # Read before the messages: a change committed between the two reads is then replayed by the
    # stream (and replaces its message if the page has it already), never missed.
    stream_from = latest_change_id(tablo) if before is None else None
    messages, has_older = TabloMessage.page(tablo, before=before)
    context = fragment_context(tablo) | {"tablo": tablo, "messages": messages, "has_older": has_older}
    if before is not None and is_htmx():
        response = make_response(render_template("chat/_older.html", **context))
        announce = ngettext("%(num)d older message loaded.", "%(num)d older messages loaded.", len(messages))
        # The focus goes to the message just above the one the reader was at (the last one
        # loaded): the reader keeps their place, and reads on upward from there.
        focus = f"#message-{messages[-1].id}" if messages else "#message-body"
        return after_settle(response, announce=announce, focus=focus)
    if request.method == "GET" and before is None and messages and tablo.unread_messages:
        mark_read(tablo, messages[-1].id)
    return make_response(render_template("chat/index.html", **context, before=before, problem=problem,
                                         form=form or MessageForm.blank(), stream_from=stream_from), status)


def mark_read(tablo: Tablo, up_to: int) -> None:
    """The member has seen the tablo's messages up to `up_to`: a short write of its own, since a
    page view reads in a deferred transaction (xtablo/database.py). Only when something was
    unread, so that reading an unchanged chat writes nothing."""
    with write_connection(db.engine) as connection:
        TabloMessage.mark_read(connection, tablo_id=tablo.id, user_id=current_user.id, up_to=up_to)
    tablo.unread_messages = 0


def fragment_context(tablo: Tablo) -> dict:
    """What `chat/_message.html` needs besides the message: the members' names (mentions), the
    reader (whose controls are shown; see the template) and the clock (`now`: app.js says the
    times again as they age, from the server's clock rather than the browser's)."""
    zone, now = timezones.zone(current_user.time_zone), utcnow()
    return {
        "member_names": TabloMember.names_of(tablo),
        "reader": {"id": current_user.id, "owner": tablo.current_role == Role.OWNER},
        "message_html": message_html,
        "now": now,
        "ago": lambda instant: dates.ago(instant, now),
        "exact": lambda instant: dates.exact(instant, zone),
    }
