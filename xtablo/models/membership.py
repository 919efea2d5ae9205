"""Who may open a tablo, and as what: members, pending email invitations, invitation links.

Removing a member also records the removal: they cannot come back through an invitation link
made before it (a newer link, or an owner adding them again, lets them back in). Leaving of
one's own accord records nothing.
"""

import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from xtablo.extensions import db
from xtablo.models._types import UTCDateTime, utcnow
from xtablo.models.session import hash_token
from xtablo.models.tablo import Tablo
from xtablo.models.user import User


class Role(StrEnum):
    VIEWER = "viewer"
    EDITOR = "editor"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return ROLE_ORDER.index(self)

    def allows(self, needed: "Role | str") -> bool:
        return self.rank >= Role(needed).rank

    @property
    def label(self) -> str:
        return str(ROLE_LABELS[self])


ROLE_ORDER = [Role.VIEWER, Role.EDITOR, Role.OWNER]
ROLE_LABELS = {Role.VIEWER: _l("Viewer"), Role.EDITOR: _l("Editor"), Role.OWNER: _l("Owner")}
ROLE_CHECK = "role IN ('viewer', 'editor', 'owner')"


class MembershipError(ValueError):
    """A change the rules forbid (the message is shown to the user)."""


class TabloMember(db.Model):
    __tablename__ = "tablo_members"
    __table_args__ = (UniqueConstraint("tablo_id", "user_id"), CheckConstraint(ROLE_CHECK, name="role"))

    id: Mapped[int] = mapped_column(primary_key=True)
    tablo_id: Mapped[int] = mapped_column(ForeignKey("tablos.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The newest chat message this member has seen (TabloMessage.unread_count, mark_read).
    last_read_message_id: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    tablo: Mapped[Tablo] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])

    @property
    def role_label(self) -> str:
        return Role(self.role).label

    @classmethod
    def of_tablo(cls, tablo: Tablo) -> list["TabloMember"]:
        stmt = select(cls).join(cls.user).where(cls.tablo_id == tablo.id).order_by(User.name, User.id)
        return list(db.session.scalars(stmt.options(db.contains_eager(cls.user))))

    @classmethod
    def names_of(cls, tablo: Tablo) -> list[str]:
        """The names of the tablo's members (the chat marks their @mentions)."""
        # In one order: the compiled pattern of the names is remembered per list (chat/text.py).
        return list(db.session.scalars(select(User.name).join(cls.user).where(cls.tablo_id == tablo.id).order_by(User.name, User.id)))

    @classmethod
    def add(cls, tablo: Tablo, user: User, role: str, *, added_by: User | None) -> "TabloMember":
        """Make `user` a member. When an owner (`added_by`) does it, a past removal is forgiven:
        the old invitation links work for them again."""
        if db.session.scalar(select(cls.id).where(cls.tablo_id == tablo.id, cls.user_id == user.id)) is not None:
            raise MembershipError(_l("%(name)s is already a member.", name=user.name))
        member = cls(tablo=tablo, user=user, role=Role(role), added_by_id=added_by.id if added_by else None)
        db.session.add(member)
        if added_by is not None:
            TabloRemoval.forget(tablo, user)
        db.session.flush()
        return member

    def _owners_left_without_me(self) -> int:
        return db.session.scalar(
            select(func.count()).select_from(TabloMember)
            .where(TabloMember.tablo_id == self.tablo_id, TabloMember.role == Role.OWNER, TabloMember.id != self.id)
        )

    def change_role(self, role: str) -> None:
        self.tablo.lock()
        if self.role == Role.OWNER and role != Role.OWNER and not self._owners_left_without_me():
            raise MembershipError(_l("A tablo needs at least one owner: make someone else owner first."))
        self.role = Role(role)
        db.session.flush()

    @property
    def is_last_owner(self) -> bool:
        return self.role == Role.OWNER and not self._owners_left_without_me()

    def remove(self, *, removed_by: User) -> None:
        """Remove this member, or leave when `removed_by` is the member. The tablo always keeps
        an owner; a removal (not a departure) is recorded, so that the invitation links made
        before it no longer let this person back in."""
        self.tablo.lock()
        if self.is_last_owner:
            raise MembershipError(_l("A tablo needs at least one owner: make someone else owner first."))
        if removed_by.id != self.user_id:
            TabloRemoval.record(self.tablo, self.user, removed_by=removed_by)
        db.session.delete(self)
        db.session.flush()


class TabloRemoval(db.Model):
    """The last time an owner removed `user` from `tablo` (one row per person and tablo)."""

    __tablename__ = "tablo_removals"
    __table_args__ = (UniqueConstraint("tablo_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tablo_id: Mapped[int] = mapped_column(ForeignKey("tablos.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    removed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @classmethod
    def _of(cls, tablo: Tablo, user: User):
        return select(cls).where(cls.tablo_id == tablo.id, cls.user_id == user.id)

    @classmethod
    def record(cls, tablo: Tablo, user: User, *, removed_by: User) -> None:
        # The caller holds the tablo's lock: no other removal of this member runs meanwhile.
        removal = db.session.scalar(cls._of(tablo, user))
        if removal is None:
            removal = cls(tablo_id=tablo.id, user_id=user.id)
            db.session.add(removal)
        removal.removed_by_id = removed_by.id
        removal.removed_at = utcnow()

    @classmethod
    def forget(cls, tablo: Tablo, user: User) -> None:
        removal = db.session.scalar(cls._of(tablo, user))
        if removal is not None:
            db.session.delete(removal)

    @classmethod
    def since(cls, tablo: Tablo, user: User, moment: datetime) -> "TabloRemoval | None":
        """`user`'s removal from `tablo` if it happened at or after `moment`."""
        return db.session.scalar(cls._of(tablo, user).where(cls.removed_at >= moment))


class TabloInvitation(db.Model):
    """An email invited before it had an account; it becomes a membership at sign-in."""

    __tablename__ = "tablo_invitations"
    __table_args__ = (UniqueConstraint("tablo_id", "email"), CheckConstraint(ROLE_CHECK, name="role"))

    id: Mapped[int] = mapped_column(primary_key=True)
    tablo_id: Mapped[int] = mapped_column(ForeignKey("tablos.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254), index=True)
    role: Mapped[str] = mapped_column(String(16))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    tablo: Mapped[Tablo] = relationship()

    @property
    def role_label(self) -> str:
        return Role(self.role).label

    @classmethod
    def of_tablo(cls, tablo: Tablo) -> list["TabloInvitation"]:
        return list(db.session.scalars(select(cls).where(cls.tablo_id == tablo.id).order_by(cls.email)))

    @classmethod
    def invite(cls, tablo: Tablo, email: str, role: str, *, invited_by: User) -> "TabloInvitation":
        if db.session.scalar(select(cls.id).where(cls.tablo_id == tablo.id, cls.email == email)) is not None:
            raise MembershipError(_l("%(email)s is already invited.", email=email))
        invitation = cls(tablo=tablo, email=email, role=Role(role), invited_by_id=invited_by.id)
        db.session.add(invitation)
        db.session.flush()
        return invitation

    @classmethod
    def claim_all(cls, user: User) -> int:
        """Turn every invitation of `user`'s email into a membership (at sign-up or sign-in)."""
        invitations = list(db.session.scalars(select(cls).where(cls.email == user.email)))
        member_of = set(db.session.scalars(select(TabloMember.tablo_id).where(TabloMember.user_id == user.id)))
        for invitation in invitations:
            if invitation.tablo_id not in member_of:
                db.session.add(TabloMember(tablo_id=invitation.tablo_id, user=user, role=invitation.role,
                                           added_by_id=invitation.invited_by_id))
            db.session.delete(invitation)
        db.session.flush()
        return len(invitations)


class TabloInviteLink(db.Model):
    """A shareable link that makes whoever opens it (signed in) a member with `role`."""

    __tablename__ = "tablo_invite_links"
    __table_args__ = (CheckConstraint(ROLE_CHECK, name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tablo_id: Mapped[int] = mapped_column(ForeignKey("tablos.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    tablo: Mapped[Tablo] = relationship()

    @property
    def role_label(self) -> str:
        return Role(self.role).label

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > utcnow()

    @classmethod
    def create(cls, tablo: Tablo, role: str, *, lifetime: timedelta, created_by: User) -> tuple["TabloInviteLink", str]:
        token = secrets.token_urlsafe(24)
        link = cls(tablo=tablo, token_hash=hash_token(token), role=Role(role), created_by_id=created_by.id,
                   expires_at=utcnow() + lifetime)
        db.session.add(link)
        db.session.flush()
        return link, token

    @classmethod
    def of_tablo(cls, tablo: Tablo) -> list["TabloInviteLink"]:
        now = utcnow()
        stmt = select(cls).where(cls.tablo_id == tablo.id, cls.revoked_at.is_(None), cls.expires_at > now)
        return list(db.session.scalars(stmt.order_by(cls.created_at.desc())))

    @classmethod
    def by_token(cls, token: str) -> "TabloInviteLink | None":
        if len(token) >= 100:  # not one of ours: no need to hash what anyone may send
            return None
        return db.session.scalar(select(cls).where(cls.token_hash == hash_token(token)))

    def revoke(self) -> None:
        self.revoked_at = utcnow()

    def refusal_for(self, user: User):
        """Why `user` may not join through this link, or None: an owner removed them after
        the link was made."""
        if TabloRemoval.since(self.tablo, user, self.created_at) is None:
            return None
        return _l("An owner removed you from “%(title)s” after this link was made, so it no longer works for you. "
                  "Ask an owner for a new link, or to add you again.", title=self.tablo.title)

    def accept(self, user: User) -> TabloMember | None:
        """Make `user` a member; None if they already were (their role is kept). Refused
        (MembershipError) to someone removed since the link was made."""
        refusal = self.refusal_for(user)
        if refusal:
            raise MembershipError(refusal)
        try:
            return TabloMember.add(self.tablo, user, self.role, added_by=None)
        except MembershipError:
            return None
