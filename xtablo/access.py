"""Scoped loaders: the one place that decides who may open what.

Views never look a tablo or a task up by id alone; they go through these functions, which scope
the query through the current user's memberships. Someone who is not a member gets 404, so the
tablo's existence is not revealed; a member whose role is too low gets 403 with a clear message.

Roles, from least to most: viewer (reads everything, posts in chat), editor (also creates, edits,
moves and deletes content), owner (also the tablo's settings, its members, deleting it).
"""

from flask import abort
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from xtablo.extensions import db
from xtablo.models import Etape, Role, Tablo, TabloEvent, TabloMember, Task

REFUSALS = {
    Role.EDITOR: lambda: _("Viewers can look but not change anything here: ask an owner to make you an editor."),
    Role.OWNER: lambda: _("Only the tablo's owners can do that."),
}


def get_tablo_or_404(tablo_id: int, role: str = Role.VIEWER) -> Tablo:
    """The tablo `tablo_id` if the current user is a member with at least `role`.

    Not a member: 404. A member with a lower role: 403. The member's role is kept on
    `tablo.current_role` for the templates.
    """
    row = db.session.execute(Tablo.with_role_of(current_user).where(Tablo.id == tablo_id)).first()
    if row is None:
        abort(404)
    tablo, member_role = row
    if not Role(member_role).allows(role):
        abort(403, description=REFUSALS[Role(role)]())
    tablo.current_role = Role(member_role)
    return tablo


def get_of_tablo_or_404(model, tablo: Tablo, row_id: int):
    """The `model` row `row_id` of `tablo` (already authorized): a task, a member, an invitation
    or a link. A row of another tablo is a 404, exactly like a missing one."""
    row = db.session.scalar(select(model).where(model.id == row_id, model.tablo_id == tablo.id))
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
    if not isinstance(raw_id, str) or not (raw_id.isascii() and raw_id.isdigit()) or not 0 < int(raw_id) < 2**31:
        return None
    return db.session.scalar(select(model).where(model.id == int(raw_id), model.tablo_id == tablo.id))


def get_etape_or_404(tablo: Tablo, etape_id: int) -> Etape:
    return get_of_tablo_or_404(Etape, tablo, etape_id)


def get_event_or_404(tablo: Tablo, event_id: int) -> TabloEvent:
    return get_of_tablo_or_404(TabloEvent, tablo, event_id)
