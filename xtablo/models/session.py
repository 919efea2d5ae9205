import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache

from sqlalchemy import CheckConstraint, ForeignKey, String, bindparam, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column, relationship

from xtablo.extensions import db
from xtablo.models._types import UTCDateTime, utcnow
from xtablo.models.user import User


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class EndReason(StrEnum):
    """Why a session was ended by someone else than its browser (see xtablo/sessions.py)."""

    PASSWORD_CHANGED = "password_changed"
    REVOKED = "revoked"


class Session(db.Model):
    """A signed-in browser. The row is the authority: end or delete it and that browser is signed out.

    A row with `ended_at` set is a tombstone: the browser is signed out, and the row stays (until
    `prune`) only to tell that browser why when it comes back.
    """

    __tablename__ = "sessions"
    __table_args__ = (CheckConstraint("end_reason IN ('password_changed', 'revoked')", name="end_reason"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Only the hash of the random token is stored; the token itself lives in the browser's cookie.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    ip_address: Mapped[str] = mapped_column(String(45), default="")
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(32))

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)

    @classmethod
    def open(cls, user: User, *, user_agent: str, ip_address: str) -> tuple["Session", str]:
        token = secrets.token_urlsafe(32)
        row = cls(token_hash=hash_token(token), user=user, user_agent=user_agent[:255], ip_address=ip_address[:45])
        db.session.add(row)
        db.session.flush()
        return row, token

    @classmethod
    def by_token(cls, token: str) -> "Session | None":
        """The row of a browser's token, with its user (one query, on every signed-in request)."""
        return db.session.scalar(_by_token_hash(), {"token_hash": hash_token(token)})

    @classmethod
    def of_user(cls, user: User) -> list["Session"]:
        """The user's signed-in browsers, most recently seen first (tombstones left out)."""
        stmt = select(cls).where(cls.user_id == user.id, cls.ended_at.is_(None)).order_by(cls.last_seen_at.desc(), cls.id.desc())
        return list(db.session.scalars(stmt))

    @property
    def is_ended(self) -> bool:
        return self.ended_at is not None

    def revoke(self, reason: EndReason) -> None:
        """Sign this browser out from elsewhere; the row stays as a tombstone that says why."""
        if self.ended_at is None:
            self.ended_at, self.end_reason = utcnow(), reason

    @classmethod
    def revoke_all(cls, user: User, *, reason: EndReason, except_session: "Session | None" = None) -> int:
        """Sign out every browser of `user` (but `except_session`); returns how many were signed in."""
        stmt = (
            update(cls)
            .where(cls.user_id == user.id, cls.ended_at.is_(None))
            .values(ended_at=utcnow(), end_reason=reason)
        )
        if except_session is not None:
            stmt = stmt.where(cls.id != except_session.id)
        return db.session.execute(stmt).rowcount

    @classmethod
    def prune(cls, *, idle_timeout: timedelta, lifetime: timedelta, now: datetime | None = None) -> int:
        """Delete the sessions that are over by time, tombstones included: once a session would
        have expired anyway, its browser has nothing left to be told."""
        now = now or utcnow()
        stmt = delete(cls).where((cls.last_seen_at < now - idle_timeout) | (cls.created_at < now - lifetime))
        return db.session.execute(stmt).rowcount

    def is_expired(self, *, idle_timeout: timedelta, lifetime: timedelta, now: datetime) -> bool:
        return self.last_seen_at < now - idle_timeout or self.created_at < now - lifetime


@cache
def _by_token_hash():
    # Built once and run with the hash as its parameter: building the statement took more CPU
    # than SQLite takes to run it (bench/RESULTS.md).
    return select(Session).where(Session.token_hash == bindparam("token_hash"))
