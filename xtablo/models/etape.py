"""Étapes: the stages of a tablo ("Études", "Gros œuvre", "Finitions"), an ordered list per tablo,
each grouping some of its tasks. The grouping is orthogonal to the board: a task keeps its status
and position and belongs to at most one étape (`tasks.etape_id`). Deleting an étape leaves its
tasks on the board without one: the database sets `etape_id` to NULL (ON DELETE SET NULL), so
the ORM is told not to load them first (`passive_deletes`).

Every verb that changes the list locks the tablo's board first (`Tablo.lock`), like the verbs of
its tasks: two people reordering at once are applied one after the other, each on what the
other left, and positions stay 0..n-1.
"""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, case, func, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from xtablo.extensions import db
from xtablo.models._types import UTCDateTime, utcnow

MAX_TITLE_LENGTH = 100


class EtapeDeleted(LookupError):
    """The étape was deleted by another request between loading it and using it."""


class Etape(db.Model):
    __tablename__ = "etapes"
    __table_args__ = (
        CheckConstraint("position >= 0", name="position"),
        Index("ix_etapes_tablo_order", "tablo_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tablo_id: Mapped[int] = mapped_column(ForeignKey("tablos.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(MAX_TITLE_LENGTH))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    tablo = relationship("Tablo")
    tasks = relationship("Task", back_populates="etape", passive_deletes=True, lazy="raise")

    def __repr__(self) -> str:
        return f"<Etape {self.id} {self.title!r} tablo={self.tablo_id}>"

    # Cards show their étape's title: renaming or deleting one renews the board's version.
    drawn_on_cards = True

    # Set by Etape.with_progress: how many of its tasks there are, and how many are done.
    total = done = 0

    @classmethod
    def of(cls, tablo) -> list["Etape"]:
        """The tablo's étapes in order (the choices of the "Étape" selects and of the filter)."""
        return list(db.session.scalars(select(cls).where(cls.tablo_id == tablo.id).order_by(cls.position, cls.id)))

    @classmethod
    def with_progress(cls, tablo) -> list["Etape"]:
        """The tablo's étapes in order, each with `total` and `done` counts, in one query."""
        from xtablo.models.task import Status, Task

        stmt = (
            select(cls, func.count(Task.id), func.count(case((Task.status == Status.DONE, 1))))
            .outerjoin(Task, Task.etape_id == cls.id)
            .where(cls.tablo_id == tablo.id)
            .group_by(cls.id)
            .order_by(cls.position, cls.id)
        )
        etapes = []
        for etape, total, done in db.session.execute(stmt):
            etape.total, etape.done = total, done
            etapes.append(etape)
        return etapes

    @classmethod
    def create(cls, tablo, *, title: str, description: str = "") -> "Etape":
        """Add an étape at the end of the list."""
        tablo.lock()
        last = db.session.scalar(select(func.max(cls.position)).where(cls.tablo_id == tablo.id))
        etape = cls(tablo_id=tablo.id, title=title.strip(), description=description.strip(),
                    position=0 if last is None else last + 1)
        db.session.add(etape)
        db.session.flush()
        return etape

    def lock(self) -> None:
        """Lock the tablo's board, then re-read this étape under the lock; EtapeDeleted if gone."""
        self.tablo.lock()
        fresh = select(Etape).where(Etape.id == self.id).execution_options(populate_existing=True)
        if db.session.scalar(fresh) is None:
            raise EtapeDeleted(self.id)

    def update(self, *, title: str, description: str) -> None:
        self.lock()
        self.title = title.strip()
        self.description = description.strip()
        db.session.flush()

    def move(self, index: int) -> None:
        """Put the étape at `index` (0 = first); indexes past the end mean the end. The list is
        re-read under the lock and renumbered 0..n-1."""
        self.lock()
        stmt = (
            select(Etape).where(Etape.tablo_id == self.tablo_id).order_by(Etape.position, Etape.id)
            .execution_options(populate_existing=True)
        )
        others = [etape for etape in db.session.scalars(stmt) if etape is not self]
        others.insert(min(index, len(others)), self)
        renumber(others)
        db.session.flush()

    def delete(self) -> int:
        """Delete the étape and close the gap it leaves; its tasks stay, without étape. Returns
        how many tasks it had."""
        self.lock()
        count = self.task_count()
        db.session.delete(self)
        db.session.flush()
        stmt = select(Etape).where(Etape.tablo_id == self.tablo_id).order_by(Etape.position, Etape.id)
        renumber(db.session.scalars(stmt))
        db.session.flush()
        return count

    def task_count(self) -> int:
        from xtablo.models.task import Task

        return db.session.scalar(select(func.count(Task.id)).where(Task.etape_id == self.id))


def renumber(etapes) -> None:
    """Positions 0..n-1 in the given order, writing only those that change."""
    for position, etape in enumerate(etapes):
        if etape.position != position:
            etape.position = position
