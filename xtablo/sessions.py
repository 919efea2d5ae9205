"""Server-side sessions: the `sessions` table decides who is signed in.

`start_session(user)` is the only way in (password sign-in and, later, Google and Apple call it).
The browser's signed cookie carries a random token; the table keeps its hash. Flask-Login loads
the user through that row on every request, so deleting the row signs the browser out at its
next request. A session ends after SESSION_IDLE_TIMEOUT without requests or SESSION_LIFETIME
after sign-in, whichever comes first.
"""

from datetime import timedelta

from flask import current_app, request, session
from flask_login import login_user, logout_user
from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from xtablo.database import request_writes, write_connection
from xtablo.extensions import db, login_manager
from xtablo.models import Session, TabloInvitation, User
from xtablo.models._types import utcnow

# last_seen_at is refreshed at most this often: the idle timeout is counted in days, and a write
# per page view would serialize SQLite writers for nothing.
TOUCH_EVERY = timedelta(minutes=5)


def start_session(user: User) -> Session:
    """Sign `user` in on this browser with a new session row and a fresh cookie (no fixation).

    Invitations waiting for the user's email become memberships here, whichever way they
    signed in (sign-up, password, later Google or Apple).
    """
    TabloInvitation.claim_all(user)
    session.clear()
    row, token = Session.open(
        user,
        user_agent=request.user_agent.string or "",
        ip_address=request.remote_addr or "",
    )
    user.current_session, user.current_session_token = row, token
    session.permanent = True
    login_user(user)
    return row


def end_session() -> None:
    """Sign this browser out: its row is deleted, its cookie emptied."""
    from flask_login import current_user

    if current_user.is_authenticated and current_user.current_session is not None:
        db.session.delete(current_user.current_session)
    logout_user()
    session.clear()


@login_manager.user_loader
def load_user(token: str) -> User | None:
    row = Session.by_token(token)
    if row is None:
        return None
    now = utcnow()
    config = current_app.config
    if row.is_expired(idle_timeout=config["SESSION_IDLE_TIMEOUT"], lifetime=config["SESSION_LIFETIME"], now=now):
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        _touch(row, now)
    user = row.user
    user.current_session, user.current_session_token = row, token
    return user


def _touch(row: Session, now) -> None:
    if not request_writes():
        # A page view reads in a deferred transaction; the refresh gets its own short one.
        with write_connection(db.engine) as conn:
            conn.execute(update(Session).where(Session.id == row.id).values(last_seen_at=now))
        set_committed_value(row, "last_seen_at", now)
    else:
        # A form post already holds the write lock: the refresh rides along with its commit (or
        # is dropped with it when the post ends its transaction before slow work: no matter).
        row.last_seen_at = now
