"""Étapes: the stages of a tablo ("Études", "Gros œuvre", "Finitions"), an ordered list per tablo,
each grouping some of its tasks. The grouping is orthogonal to the board: a task keeps its status
and position and belongs to at most one étape (`tasks.etape_id`). Deleting an étape leaves its
tasks on the board without one: the database sets `etape_id` to NULL (ON DELETE SET NULL), so
the ORM is told not to load them first (`passive_deletes`).
"""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from xtablo.extensions import db
from xtablo.models._types import UTCDateTime, utcnow

MAX_TITLE_LENGTH = 100


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

    tasks = relationship("Task", back_populates="etape", passive_deletes=True, lazy="raise")

    def __repr__(self) -> str:
        return f"<Etape {self.id} {self.title!r} tablo={self.tablo_id}>"
