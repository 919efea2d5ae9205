"""A Google or Apple account linked to a user: `user_identities`.

The provider's subject (`sub`, stable for the life of that account at the provider) is what
signs a person in; the email beside it is what the provider said last time, kept to show on the
account page and to tell whether the provider vouched for it. A user has at most one identity
per provider (the link views check it under the user's row lock); one provider account belongs
to at most one user (the unique constraint decides, even between two racing callbacks).
"""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from xtablo.extensions import db
from xtablo.models._types import UTCDateTime, utcnow


class UserIdentity(db.Model):
    __tablename__ = "user_identities"
    __table_args__ = (UniqueConstraint("provider", "provider_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(254))
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    user = relationship("User", back_populates="identities")

    def __repr__(self) -> str:
        return f"<UserIdentity {self.provider} {self.provider_subject} user={self.user_id}>"

    @classmethod
    def find(cls, provider: str, subject: str) -> "UserIdentity | None":
        return db.session.scalar(select(cls).where(cls.provider == provider, cls.provider_subject == subject))

    def refresh(self, email: str | None, email_verified: bool) -> None:
        """Keep what the provider said last (the person may have changed their address there)."""
        if (self.email, self.email_verified) != (email, email_verified):
            self.email, self.email_verified = email, email_verified

    @classmethod
    def of_user(cls, user) -> list["UserIdentity"]:
        return list(db.session.scalars(select(cls).where(cls.user_id == user.id).order_by(cls.provider, cls.id)))
