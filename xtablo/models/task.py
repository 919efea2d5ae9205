from datetime import date, datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, func, select, update
from sqlalchemy.orm import Mapped, mapped_column, relationship

from xtablo.extensions import db
from xtablo.models._types import UTCDateTime, utcnow
from xtablo.models.tablo import Tablo


class Status(StrEnum):
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    DONE = "done"

    @property
    def label(self) -> str:
        return str(STATUS_LABELS[self])


STATUS_LABELS = {Status.TODO: _l("To do"), Status.IN_PROGRESS: _l("In progress"), Status.DONE: _l("Done")}


NO_ETAPE = "none"  # the board's filter for the tasks without étape (`?etape=none`)
BoardFilter = int | str | None  # an étape id, NO_ETAPE, or None for the whole board


class TaskDeleted(LookupError):
    """The task was deleted by another request between loading it and changing it."""


class Task(db.Model):
    """A card on a tablo's board: its column is `status`, its place in the column `position`."""

    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint("status IN ('todo', 'in_progress', 'done')", name="status"),
        CheckConstraint("position >= 0", name="position"),
        Index("ix_tasks_board_order", "tablo_id", "status", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tablo_id: Mapped[int] = mapped_column(ForeignKey("tablos.id", ondelete="CASCADE"))
    # The étape (stage) it belongs to, if any; deleting the étape keeps the task (SET NULL).
    etape_id: Mapped[int | None] = mapped_column(ForeignKey("etapes.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    due_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=Status.TODO)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    tablo: Mapped[Tablo] = relationship(back_populates="tasks")
    etape = relationship("Etape", back_populates="tasks")

    def __repr__(self) -> str:
        return f"<Task {self.id} {self.status}:{self.position} {self.title!r}>"

    @property
    def status_label(self) -> str:
        return Status(self.status).label

    # What a card shows (xtablo/templates/tablos/_tasks.html): a change to a task or an étape
    # renews its tablo's board version by itself (Tablo's flush listener).
    drawn_on_cards = True

    @classmethod
    def board(cls, tablo: Tablo, etape: "BoardFilter" = None) -> dict[Status, list]:
        """The tablo's cards by column, in order, in one query; only those of `etape` (an étape
        id, or NO_ETAPE for the tasks without one) when given.

        Rows of the columns a card shows, not Task objects: a board holds hundreds of cards and
        building ORM objects for them was most of the page's cost.
        """
        from xtablo.models.etape import Etape

        columns: dict[Status, list] = {status: [] for status in Status}
        stmt = (
            select(cls.id, cls.title, cls.status, cls.position, cls.due_date, (cls.description != "").label("has_notes"),
                   Etape.title.label("etape_title"))
            .outerjoin(Etape, Etape.id == cls.etape_id)
            .where(cls.tablo_id == tablo.id)
            .order_by(cls.status, cls.position, cls.id)
        )
        if etape == NO_ETAPE:
            stmt = stmt.where(cls.etape_id.is_(None))
        elif etape is not None:
            stmt = stmt.where(cls.etape_id == etape)
        for card in db.session.execute(stmt):
            columns[Status(card.status)].append(card)
        return columns

    @classmethod
    def create(cls, tablo: Tablo, *, title: str, description: str = "", due_date: date | None = None,
               status: str = Status.TODO, etape_id: int | None = None) -> "Task":
        """Add a task at the bottom of its column, under étape `etape_id` if given."""
        tablo.lock()
        check_etape(tablo.id, etape_id)
        last = db.session.scalar(
            select(func.max(cls.position)).where(cls.tablo_id == tablo.id, cls.status == status)
        )
        task = cls(tablo=tablo, title=title.strip(), description=description.strip(), due_date=due_date,
                   status=status, position=0 if last is None else last + 1, etape_id=etape_id)
        db.session.add(task)
        db.session.flush()
        return task

    def lock(self) -> None:
        """Lock the board, then re-read this task under the lock; TaskDeleted if it is gone.

        Every verb that changes a task starts here: two people editing, moving or deleting
        cards at once are applied one after the other, each on what the other left.
        """
        self.tablo.lock()
        fresh = select(Task).where(Task.id == self.id).execution_options(populate_existing=True)
        if db.session.scalar(fresh) is None:
            raise TaskDeleted(self.id)

    def update(self, *, title: str, description: str, due_date: date | None, etape_id: int | None) -> None:
        self.lock()
        check_etape(self.tablo_id, etape_id)
        self.title = title.strip()
        self.description = description.strip()
        self.due_date = due_date
        self.etape_id = etape_id
        db.session.flush()

    def file_under(self, etape_id: int | None) -> None:
        """Group the task under étape `etape_id` of its tablo, or under none."""
        self.lock()
        check_etape(self.tablo_id, etape_id)
        self.etape_id = etape_id
        db.session.flush()

    def move(self, status: str, index: int, *, before: int | None = None, after: int | None = None) -> None:
        """Put the task at `index` (0 = top) of column `status`; indexes past the end mean the end.

        `before` / `after` name the card it was dropped above / below: on a board filtered by
        étape the index counts only the cards shown, while positions number the whole column, so
        the neighbour decides where it lands (the index only if that card has left the column).

        Both columns are re-read under the lock and renumbered 0..n-1, so no card is lost or
        doubled, and a column never has a gap.
        """
        self.lock()
        stmt = (
            select(Task)
            .where(Task.tablo_id == self.tablo_id, Task.status.in_({self.status, status}))
            .order_by(Task.position, Task.id)
            .execution_options(populate_existing=True)
        )
        tasks = list(db.session.scalars(stmt))
        source = [t for t in tasks if t.status == self.status and t is not self]
        target = source if status == self.status else [t for t in tasks if t.status == status]
        ids = [t.id for t in target]
        if before in ids:
            index = ids.index(before)
        elif after in ids:
            index = ids.index(after) + 1
        target.insert(min(index, len(target)), self)
        self.status = status
        for column in (source, target):
            for position, task in enumerate(column):
                if task.position != position:
                    task.position = position
        db.session.flush()

    def delete(self) -> None:
        """Delete the task and close the gap it leaves in its column."""
        self.lock()
        db.session.delete(self)
        db.session.flush()
        db.session.execute(
            update(Task)
            .where(Task.tablo_id == self.tablo_id, Task.status == self.status, Task.position > self.position)
            .values(position=Task.position - 1)
            .execution_options(synchronize_session=False)
        )


def check_etape(tablo_id: int, etape_id: int | None) -> None:
    """Under the board's lock: `etape_id` is an étape of tablo `tablo_id` (EtapeDeleted if not,
    so a task is never filed under another tablo's étape, nor under one deleted meanwhile)."""
    from xtablo.models.etape import Etape, EtapeDeleted

    if etape_id is None:
        return
    if db.session.scalar(select(Etape.id).where(Etape.id == etape_id, Etape.tablo_id == tablo_id)) is None:
        raise EtapeDeleted(etape_id)
