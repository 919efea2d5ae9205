import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from xtablo.extensions import db
from xtablo.models._types import UTCDateTime, utcnow
from xtablo.models.user import User


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Session(db.Model):
    """A signed-in browser. The row is the authority: delete it and that browser is signed out."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Only the hash of the random token is stored; the token itself lives in the browser's cookie.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    ip_address: Mapped[str] = mapped_column(String(45), default="")

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
        return db.session.scalar(select(cls).where(cls.token_hash == hash_token(token)))

    @classmethod
    def of_user(cls, user: User) -> list["Session"]:
        return list(db.session.scalars(select(cls).where(cls.user_id == user.id).order_by(cls.last_seen_at.desc())))

    @classmethod
    def revoke_all(cls, user: User, *, except_session: "Session | None" = None) -> int:
        stmt = delete(cls).where(cls.user_id == user.id)
        if except_session is not None:
            stmt = stmt.where(cls.id != except_session.id)
        return db.session.execute(stmt).rowcount

    @classmethod
    def prune(cls, *, idle_timeout: timedelta, lifetime: timedelta, now: datetime | None = None) -> int:
        now = now or utcnow()
        stmt = delete(cls).where((cls.last_seen_at < now - idle_timeout) | (cls.created_at < now - lifetime))
        return db.session.execute(stmt).rowcount

    def is_expired(self, *, idle_timeout: timedelta, lifetime: timedelta, now: datetime) -> bool:
        return self.last_seen_at < now - idle_timeout or self.created_at < now - lifetime
