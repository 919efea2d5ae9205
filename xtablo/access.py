"""Scoped loaders: the one place that decides who may open what.

Views never look a tablo or a task up by id alone; they go through these functions, which scope
the query through the current user. Someone who may not see a tablo gets 404, so its existence
is not revealed. The sharing feature widens `Tablo.visible_to` and the role check here, and every
route follows.
"""

from flask import abort
from flask_login import current_user
from sqlalchemy import select

from xtablo.extensions import db
from xtablo.models import Tablo, Task


def get_tablo_or_404(tablo_id: int, role: str = "viewer") -> Tablo:
    """The tablo `tablo_id` if the current user may act on it as `role`, else 404.

    For now only the owner can see a tablo, so every role resolves to ownership.
    """
    tablo = db.session.scalar(Tablo.visible_to(current_user).where(Tablo.id == tablo_id))
    if tablo is None:
        abort(404)
    return tablo


def get_task_or_404(tablo: Tablo, task_id: int) -> Task:
    """A task of `tablo` (already authorized); a task of another tablo is a 404."""
    task = db.session.scalar(select(Task).where(Task.id == task_id, Task.tablo_id == tablo.id))
    if task is None:
        abort(404)
    return task
