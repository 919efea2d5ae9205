"""What the chat's stream sends: each change of the log (`MessageChange`) as an SSE event whose
data is the message's fragment, `chat/_message.html`, the one the page includes.

- `message-created`: the Chat tab adds it at the end of the list, or replaces the message with
  the same id when it is already there (the author's own, answered to their post).
- `message-changed` (an edit, a deletion): replaces the message with the same id when the page
  shows it; ignored otherwise (an older message the page has not loaded).

A fragment is rendered for everyone (xtablo/static/js/app.js reveals the controls a reader may
use), once per variant of reader: language and time zone (its words and clock). Its hidden
CSRF field is left empty: only a page with JavaScript receives streamed fragments, and htmx
sends the token in a header (`hx-headers` on the page's body).

`ChatChanges` is the feed's `ChangeSource` (xtablo/realtime/feed.py): the log's reads and the
access check of the worker's streams. Each reads through the context's database session, so a
poll of the feed (the new changes, the readers' access, the messages) is one short read on one
pooled connection; `load` ends it.
"""

from collections import defaultdict
from types import SimpleNamespace

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from xtablo import timezones
from xtablo.blueprints.chat.text import message_html
from xtablo.extensions import db
from xtablo.models import Session, TabloMember, TabloMessage, User
from xtablo.models._types import utcnow
from xtablo.models.message import ChangeKind, MessageChange
from xtablo.realtime import Publication
from xtablo.web import dates

EVENT_NAMES = {ChangeKind.CREATED: "message-created", ChangeKind.EDITED: "message-changed",
               ChangeKind.DELETED: "message-changed"}
REPLAY_PAGE = 500  # changes replayed by one connection; the browser comes back at once for more
# Characters of fragments one connection replays at most (the last message drawn may pass it):
# drawing is CPU on the worker's event loop, so a replay of long messages comes in more, shorter
# connections, and other requests are served in between.
REPLAY_BUDGET = 200_000
ACCESS_CHUNK = 500  # sessions checked by one query


def variant_of(locale, user) -> tuple[str, str]:
    """What makes two readers' fragments differ: the language and the time zone."""
    return str(locale), user.time_zone or "UTC"


def render_message(message: TabloMessage, member_names: list[str], variant: tuple[str, str]) -> str:
    """The message's fragment for every reader of `variant`, without their controls revealed."""
    locale, zone_name = variant
    zone, now = timezones.zone(zone_name), utcnow()
    with force_locale(locale):
        return render_template(
            "chat/_message.html", tablo=SimpleNamespace(id=message.tablo_id), message=message,
            member_names=member_names, reader=None, message_html=message_html, csrf_token=lambda: "",
            ago=lambda instant: dates.ago(instant, now), exact=lambda instant: dates.exact(instant, zone),
        )


def load(changes) -> tuple[dict[int, TabloMessage], dict[int, list[str]]]:
    """The changes' messages with their authors, and their tablos' member names (mentions): two
    queries, then the connection goes back to the pool (what was loaded stays readable)."""
    message_ids = {change.message_id for change in changes}
    tablo_ids = {change.tablo_id for change in changes}
    messages = db.session.scalars(select(TabloMessage).where(TabloMessage.id.in_(message_ids))
                                  .options(joinedload(TabloMessage.author)))
    by_id = {message.id: message for message in messages}
    names = defaultdict(list)
    for tablo_id, name in db.session.execute(select(TabloMember.tablo_id, User.name).join(TabloMember.user)
                                             .where(TabloMember.tablo_id.in_(tablo_ids))):
        names[tablo_id].append(name)
    db.session.close()
    return by_id, names


def replay(changes: list[MessageChange], variant) -> tuple[list[tuple[int, str, str]], bool]:
    """(event id, event name, data) of each change, in order, for one stream, and whether that
    is all of them: the replay stops once REPLAY_BUDGET characters are drawn (the browser comes
    back for the rest). Every change of a message shows it as it is now, so each message is
    rendered once."""
    if not changes:
        return [], True
    rows = [SimpleNamespace(id=c.id, tablo_id=c.tablo_id, message_id=c.message_id, kind=c.kind) for c in changes]
    messages, names = load(rows)
    rendered: dict[int, str] = {}
    events, drawn = [], 0
    for change in rows:
        if drawn >= REPLAY_BUDGET:
            return events, False
        message = messages.get(change.message_id)
        if message is None:
            continue
        if message.id not in rendered:
            rendered[message.id] = render_message(message, names[message.tablo_id], variant)
            drawn += len(rendered[message.id])
        events.append((change.id, EVENT_NAMES[change.kind], rendered[message.id]))
    return events, True


def reading():
    """The context's session's connection, its transaction a read (deferred on SQLite, even in a
    context without a request, whose first transaction would otherwise begin as a write)."""
    if db.session().in_transaction():
        return db.session.connection()
    return db.session.connection(execution_options={"xtablo_write": False})


class ChatChanges:
    """The chat's change log, as the real-time feed reads it (in a context of its own, whose
    session ends with it)."""

    table = MessageChange.__table__

    def latest_id(self) -> int:
        return reading().scalar(select(func.max(self.table.c.id))) or 0

    def after(self, last_id: int, missing, limit: int) -> list:
        """Changes above `last_id`, and those of the `missing` ids that have come since: one query."""
        c = self.table.c
        where = c.id > last_id
        if missing:
            where = or_(where, c.id.in_(list(missing)))
        return list(reading().execute(select(c.id, c.tablo_id, c.message_id, c.kind).where(where).order_by(c.id).limit(limit)))

    def publications(self, changes) -> list[Publication]:
        messages, names = load(changes)
        publications = []
        for change in changes:
            message = messages.get(change.message_id)
            if message is None:  # gone with its tablo since
                continue
            rendered = {}

            def render(variant, message=message, rendered=rendered):
                # Shared by the changes of one message in this batch: they all show it as it is now.
                if variant not in rendered:
                    rendered[variant] = render_message(message, names[message.tablo_id], variant)
                return rendered[variant]

            publications.append(Publication(change.tablo_id, change.id, EVENT_NAMES[change.kind], render))
        return publications

    def refused(self, subscribers) -> list:
        """The streams whose reader may no longer read their tablo: the session ended (signed
        out, revoked), expired or deleted, or the membership gone (removed, left, tablo
        deleted). One query per ACCESS_CHUNK sessions, whatever the number of streams."""
        sessions, members = Session.__table__, TabloMember.__table__
        config, now = current_app.config, utcnow()
        session_ids = sorted({subscriber.session_id for subscriber in subscribers})
        tablo_ids = sorted({subscriber.tablo_id for subscriber in subscribers})
        allowed = set()
        connection = reading()
        for start in range(0, len(session_ids), ACCESS_CHUNK):
            stmt = (
                select(sessions.c.id, members.c.tablo_id)
                .join(members, members.c.user_id == sessions.c.user_id)
                .where(sessions.c.id.in_(session_ids[start:start + ACCESS_CHUNK]), sessions.c.ended_at.is_(None),
                       sessions.c.last_seen_at >= now - config["SESSION_IDLE_TIMEOUT"],
                       sessions.c.created_at >= now - config["SESSION_LIFETIME"],
                       members.c.tablo_id.in_(tablo_ids))
            )
            allowed.update(tuple(row) for row in connection.execute(stmt))
        return [subscriber for subscriber in subscribers if (subscriber.session_id, subscriber.tablo_id) not in allowed]
