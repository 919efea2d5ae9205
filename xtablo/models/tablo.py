from datetime import datetime
from uuid import uuid4

from sqlalchemy import BindParameter, ForeignKey, String, Text, event, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from xtablo.extensions import db
from xtablo.models._types import UTCDateTime, utcnow
from xtablo.models.user import User

# Colours are named from a small palette rather than free hex values: the board paints them with
# CSS classes, so the Content-Security-Policy can forbid inline styles.
COLORS = ("slate", "blue", "green", "yellow", "orange", "red", "purple", "pink")
# The colour offered to a new tablo: the first of these that the person's tablos use least, so
# that tablos side by side (the planning, My tablos) tell apart without anyone choosing.
FRESH_COLORS = ("blue", "green", "orange", "purple", "red", "pink", "yellow", "slate")


class Tablo(db.Model):
    __tablename__ = "tablos"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Who made it; access is decided by tablo_members, where the creator is the first owner.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    color: Mapped[str] = mapped_column(String(16), default="blue")
    # A new random value in the same transaction as any change to what the board's cards show
    # (renew_board_versions, below), so a cached rendering of the board (xtablo/web/fragments.py)
    # is keyed by what it shows. Random rather than a counter: SQLite may hand a deleted tablo's
    # id to a new one, which must not meet the old board's cached cards.
    board_version: Mapped[str] = mapped_column(String(32), default=lambda: uuid4().hex, server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    created_by: Mapped[User | None] = relationship()
    tasks = relationship("Task", back_populates="tablo", cascade="all, delete-orphan", passive_deletes=True, lazy="raise")

    def __repr__(self) -> str:
        return f"<Tablo {self.id} {self.title!r}>"

    # Set by the scoped loader (xtablo/access.py): the current user's role on this tablo, and
    # how many chat messages they have not read (up to TabloMessage's UNREAD_CAP).
    current_role = None
    unread_messages = 0

    @classmethod
    def create(cls, *, owner: User, title: str, description: str = "", color: str = "blue") -> "Tablo":
        """A new tablo whose creator is its first owner."""
        from xtablo.models.membership import Role, TabloMember

        tablo = cls(created_by=owner, title=title.strip(), description=description.strip(), color=color)
        db.session.add(tablo)
        db.session.flush()
        db.session.add(TabloMember(tablo=tablo, user=owner, role=Role.OWNER, added_by_id=owner.id))
        db.session.flush()
        return tablo

    @classmethod
    def fresh_color_for(cls, user: User) -> str:
        """The colour a new tablo of `user` starts with (FRESH_COLORS)."""
        from xtablo.models.membership import TabloMember

        used = dict(db.session.execute(
            select(cls.color, func.count()).join(TabloMember, TabloMember.tablo_id == cls.id)
            .where(TabloMember.user_id == user.id).group_by(cls.color)
        ).all())
        return min(FRESH_COLORS, key=lambda color: used.get(color, 0))

    @classmethod
    def with_role_of(cls, user: "User | BindParameter[int]"):
        """Select (tablo, role) for every tablo `user` is a member of: the one place that
        decides who may open a tablo. `user` may also be a bind parameter standing for a user's
        id, for a statement built once and run on every request (xtablo/access.py)."""
        from xtablo.models.membership import TabloMember

        user_id = user if isinstance(user, BindParameter) else user.id
        return (
            select(cls, TabloMember.role)
            .join(TabloMember, TabloMember.tablo_id == cls.id)
            .where(TabloMember.user_id == user_id)
        )

    @classmethod
    def list_for(cls, user: User) -> list[tuple["Tablo", str, int]]:
        """My tablos: each with my role, its number of tasks and my number of unread chat
        messages (set as `unread_messages`), in one query."""
        from xtablo.models.membership import TabloMember
        from xtablo.models.message import TabloMessage
        from xtablo.models.task import Task

        task_count = select(func.count(Task.id)).where(Task.tablo_id == cls.id).correlate(cls).scalar_subquery()
        unread = TabloMessage.unread_count(TabloMember.__table__)
        stmt = cls.with_role_of(user).add_columns(task_count, unread).order_by(cls.updated_at.desc(), cls.id.desc())
        listed = []
        for tablo, role, count, unread_messages in db.session.execute(stmt):
            tablo.unread_messages = unread_messages
            listed.append((tablo, role, count))
        return listed

    def lock(self) -> None:
        """Serialize writers of this tablo's board (row lock on PostgreSQL; SQLite's
        IMMEDIATE transactions already serialize writers)."""
        db.session.execute(select(Tablo.id).where(Tablo.id == self.id).with_for_update())

    def update(self, *, title: str, description: str, color: str) -> None:
        self.title = title.strip()
        self.description = description.strip()
        self.color = color

    def delete(self) -> None:
        db.session.delete(self)


@event.listens_for(Session, "after_flush")
def renew_board_versions(session: Session, flush_context) -> None:
    """Renew the board version of every tablo whose cards this flush changed: a task added,
    edited, moved, filed or deleted, an étape renamed or deleted (whose tasks the database then
    ungroups itself, past the ORM). Models say they are drawn on cards with `drawn_on_cards`.

    One UPDATE in the flush's own transaction, so the version can never be renewed without the
    change, nor the change committed without the version; verbs need not remember it. Writes
    made past the ORM (`update(Task)`) must also change a row through the ORM in the same flush,
    as every verb does.
    """
    changed = {
        obj.tablo_id
        for obj in (*session.new, *session.dirty, *session.deleted)
        if getattr(obj, "drawn_on_cards", False) and (obj not in session.dirty or session.is_modified(obj))
    }
    if not changed:
        return
    version = uuid4().hex
    table = Tablo.__table__
    session.connection().execute(update(table).where(table.c.id.in_(changed)).values(board_version=version))
    for tablo_id in changed:
        tablo = session.identity_map.get(identity_key(Tablo, tablo_id))
        if tablo is not None:
            set_committed_value(tablo, "board_version", version)
