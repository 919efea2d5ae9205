"""Scoped loaders: the one place that decides who may open what.

Views never look a tablo or a task up by id alone; they go through these functions, which scope
the query through the current user's memberships. Someone who is not a member gets 404, so the
tablo's existence is not revealed; a member whose role is too low gets 403 with a clear message.

Roles, from least to most: viewer (reads everything, posts in chat), editor (also creates, edits,
moves and deletes content), owner (also the tablo's settings, its members, deleting it).
"""

from functools import cache

from flask import abort, g, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import bindparam, select
from sqlalchemy.orm import contains_eager

from xtablo.extensions import db
from xtablo.models import Etape, Role, Session, Tablo, TabloEvent, TabloMember, TabloMessage, Task, User
from xtablo.models.session import hash_token
from xtablo.web.ids import parse_id

REFUSALS = {
    Role.EDITOR: lambda: _("Viewers can look but not change anything here: ask an owner to make you an editor."),
    Role.OWNER: lambda: _("Only the tablo's owners can do that."),
}


def get_tablo_or_404(tablo_id: int, role: str = Role.VIEWER) -> Tablo:
    """The tablo `tablo_id` if the current user is a member with at least `role`.

    Not a member: 404. A member with a lower role: 403. The member's role is kept on
    `tablo.current_role` for the templates, and their number of unread chat messages (read by
    the same query) on `tablo.unread_messages`, for the Chat tab's label.
    """
    read = g.pop("xtablo_membership", None)
    if read is not None and read[:2] == (current_user.id, tablo_id):
        row = read[2]  # read along with the session, in this request (session_by_token)
    else:
        row = db.session.execute(_tablo_with_role(), {"user_id": current_user.id, "tablo_id": tablo_id}).first()
    if row is None:
        abort(404)
    tablo, member_role, unread = row
    if not Role(member_role).allows(role):
        abort(403, description=REFUSALS[Role(role)]())
    tablo.current_role = Role(member_role)
    tablo.unread_messages = unread
    return tablo


def session_by_token(token: str) -> Session | None:
    """The session of a browser's token, with its user, for xtablo/sessions.py's loader.

    On a tablo's pages (the URL names a `tablo_id`) the same query reads the user's membership
    of that tablo too, and `get_tablo_or_404` decides from what it read instead of asking again:
    one query instead of two on every such page. What was read serves this request only, and
    once: the first `get_tablo_or_404` for that tablo and user.
    """
    tablo_id = (request.view_args or {}).get("tablo_id")
    if not isinstance(tablo_id, int):
        return Session.by_token(token)
    row = db.session.execute(_session_with_role(), {"token_hash": hash_token(token), "tablo_id": tablo_id}).first()
    if row is not None:
        tablo, member_role, unread, found = row
        # (user, tablo, what get_tablo_or_404 would have read: (tablo, role, unread), or None)
        g.xtablo_membership = (found.user_id, tablo_id, (tablo, member_role, unread))
        return found
    found = Session.by_token(token)  # not signed in, or signed in but not a member
    if found is not None:
        g.xtablo_membership = (found.user_id, tablo_id, None)
    return found


# The statements below are built once and run with their parameters: building one took more CPU
# than SQLite takes to run it (bench/RESULTS.md).

@cache
def _tablo_with_role():
    return (Tablo.with_role_of(bindparam("user_id")).where(Tablo.id == bindparam("tablo_id"))
            .add_columns(TabloMessage.unread_count(TabloMember.__table__)))


@cache
def _session_with_role():
    """(tablo, role, unread messages, session with its user) for a token and a tablo the user is
    a member of."""
    return (
        Tablo.with_role_of(User).where(Tablo.id == bindparam("tablo_id"))
        .add_columns(TabloMessage.unread_count(TabloMember.__table__), Session)
        .join_from(Session, User, Session.user)
        .options(contains_eager(Session.user))
        .where(Session.token_hash == bindparam("token_hash"))
    )


@cache
def _of_tablo(model):
    return select(model).where(model.id == bindparam("row_id"), model.tablo_id == bindparam("tablo_id"))


def get_of_tablo_or_404(model, tablo: Tablo, row_id: int):
    """The `model` row `row_id` of `tablo` (already authorized): a task, a member, an invitation
    or a link. A row of another tablo is a 404, exactly like a missing one."""
    row = db.session.scalar(_of_tablo(model), {"row_id": row_id, "tablo_id": tablo.id})
    if row is None:
        abort(404)
    return row


def get_task_or_404(tablo: Tablo, task_id: int) -> Task:
    return get_of_tablo_or_404(Task, tablo, task_id)


def get_member_or_404(tablo: Tablo, member_id: int) -> TabloMember:
    return get_of_tablo_or_404(TabloMember, tablo, member_id)


def find_of_tablo(model, tablo: Tablo, raw_id):
    """The `model` row of `tablo` whose id a form sent as text, or None (not a number, another
    tablo's, deleted): for forms that answer a wrong choice with a sentence rather than a 404."""
    row_id = parse_id(raw_id)
    if row_id is None:
        return None
    return db.session.scalar(select(model).where(model.id == row_id, model.tablo_id == tablo.id))


def get_etape_or_404(tablo: Tablo, etape_id: int) -> Etape:
    return get_of_tablo_or_404(Etape, tablo, etape_id)


def get_event_or_404(tablo: Tablo, event_id: int) -> TabloEvent:
    return get_of_tablo_or_404(TabloEvent, tablo, event_id)


MESSAGE_REFUSALS = {
    "edit": lambda: _("Only its author can edit a message."),
    "delete": lambda: _("Only its author or an owner of the tablo can delete a message."),
}


def may_change_message(tablo: Tablo, message: TabloMessage, change: str) -> bool:
    """Whether the current user may `change` ("edit" or "delete") `message` of `tablo` (already
    authorized): its author may do both, whatever their role; an owner may also delete."""
    mine = message.author_user_id is not None and message.author_user_id == current_user.id
    return mine or (change == "delete" and tablo.current_role == Role.OWNER)


def get_message_or_404(tablo: Tablo, message_id: int, to: str | None = None) -> TabloMessage:
    """The chat message `message_id` of `tablo` (already authorized); with `to` ("edit" or
    "delete"), a 403 with a sentence when the current user may not."""
    message = get_of_tablo_or_404(TabloMessage, tablo, message_id)
    if to is not None and not may_change_message(tablo, message, to):
        abort(403, description=MESSAGE_REFUSALS[to]())
    return message
