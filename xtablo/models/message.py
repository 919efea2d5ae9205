"""The chat of a tablo: its messages, the log of their changes, and what each member has read.

- `TabloMessage`: plain text written by a member (any role, viewers included). Its author edits
  it; its author or an owner deletes it, softly: the body is emptied and `deleted_at` set, so the
  conversation keeps its place and says "Message deleted". An account that is deleted leaves its
  messages, without author (`author_user_id` ON DELETE SET NULL, as `tablo_events.created_by_user_id`).
- `client_key`: a key the sending form carries (made when the form is drawn), unique per author.
  A message sent again with the same key (a retry after a network error, a double click, a form
  posted twice without JavaScript) stores nothing new and answers with the message already
  stored. Two posts of one key at once leave one row: a unique constraint decides (`create`).
- The body is stored as typed, but for its line breaks, all made LF (`clean_body`): a form posted
  without JavaScript sends CRLF, htmx sends LF, and a lone CR is a line break for a browser. Then
  a message reads the same however it was sent, saving an unchanged edit changes nothing, and no
  CR ever reaches a text/event-stream, where it would end a line.
- `MessageChange`: every creation, edit and deletion, in order, written in the same transaction as
  the change itself by a flush listener (`log_message_changes`), so no verb can forget it; once
  the transaction commits, `changes_committed` is sent with the tablos' ids (the real-time part
  announces them to every worker: xtablo/realtime/).
- Unread counts: `tablo_members.last_read_message_id` (see `unread_count`).
- Ids in commit order, per tablo: readers resume by id (the unread mark, a stream's
  Last-Event-ID), so once an id is seen no lower id of the tablo may commit later. SQLite's
  writers are serialized already; on PostgreSQL, where a sequence gives ids at insert time, the
  writers of one tablo's chat take turns (`take_turns_in_the_chat`).
"""

from datetime import datetime
from enum import StrEnum

from blinker import Namespace
from flask import current_app, has_app_context
from sqlalchemy import (CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, event, func, insert, or_,
                        select, update)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column, relationship
from sqlalchemy.orm.attributes import get_history

from xtablo.extensions import db
from xtablo.models._types import UTCDateTime, utcnow

MAX_BODY_LENGTH = 4000
MAX_CLIENT_KEY_LENGTH = 64
PAGE_SIZE = 50
# Unread counts stop at this many ("99+"): counting further would read every message of a long
# chat that a member never opened, on every page of the tablo.
UNREAD_CAP = 100
# Sent by the app after each commit that changed messages, with `tablo_ids` (a set).
changes_committed = Namespace().signal("xtablo.message-changes-committed")
CHANGED = "xtablo_changed_tablos"  # where a session keeps them until it commits
COMMITTED = "xtablo_committed_tablos"  # then until its transaction has ended
# The namespace of the chat's advisory locks on PostgreSQL ("chat"), the tablo id being the key.
CHAT_LOCK = 0x63686174


def clean_body(body: str) -> str:
    """The text to store: line breaks made LF, spaces and blank lines around it taken off."""
    return body.replace("\r\n", "\n").replace("\r", "\n").strip()


class MessageDeleted(LookupError):
    """The message is deleted: it can no longer be edited, nor deleted again."""


class ClientKeyTaken(ValueError):
    """The author already used this client key for a message of another tablo."""


class ChangeKind(StrEnum):
    CREATED = "created"
    EDITED = "edited"
    DELETED = "deleted"


class TabloMessage(db.Model):
    __tablename__ = "tablo_messages"
    __table_args__ = (
        UniqueConstraint("author_user_id", "client_key"),
        Index("ix_tablo_messages_tablo_id_id", "tablo_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tablo_id: Mapped[int] = mapped_column(ForeignKey("tablos.id", ondelete="CASCADE"))
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text, default="")
    client_key: Mapped[str] = mapped_column(String(MAX_CLIENT_KEY_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    author = relationship("User")

    def __repr__(self) -> str:
        return f"<TabloMessage {self.id} tablo={self.tablo_id} by={self.author_user_id}>"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    # -- Verbs: they flush, the view commits -------------------------------------------------

    @classmethod
    def create(cls, tablo, *, author, body: str, client_key: str) -> tuple["TabloMessage", bool]:
        """Post `body` as `author`; (the message, whether it is new). A key the author already
        used answers with that message and writes nothing; ClientKeyTaken if it was another
        tablo's. The insert runs in a SAVEPOINT: when a concurrent post of the same key commits
        first, the unique constraint refuses this one, the savepoint alone is rolled back, and the
        message the other post stored is read and answered."""
        existing = cls._by_key(author, client_key)
        if existing is None:
            message = cls(tablo_id=tablo.id, author_user_id=author.id, body=clean_body(body), client_key=client_key)
            try:
                with db.session.begin_nested():
                    db.session.add(message)
            except IntegrityError:
                existing = cls._by_key(author, client_key)
                if existing is None:  # another constraint: not a resend
                    raise
            else:
                return message, True
        if existing.tablo_id != tablo.id:
            raise ClientKeyTaken(client_key)
        return existing, False

    @classmethod
    def sent_with(cls, tablo, *, author, client_key: str) -> "TabloMessage | None":
        """The message `author` already stored in `tablo` with this key, if any."""
        existing = cls._by_key(author, client_key)
        return existing if existing is not None and existing.tablo_id == tablo.id else None

    @classmethod
    def _by_key(cls, author, client_key: str) -> "TabloMessage | None":
        stmt = select(cls).where(cls.author_user_id == author.id, cls.client_key == client_key)
        return db.session.scalar(stmt.execution_options(populate_existing=True))

    def lock(self) -> None:
        """Re-read this message under a row lock (PostgreSQL; SQLite's writers are serialized
        already): an edit and a deletion at once apply one after the other. MessageDeleted if
        it is deleted by then."""
        fresh = select(TabloMessage).where(TabloMessage.id == self.id).with_for_update().execution_options(populate_existing=True)
        db.session.scalar(fresh)
        if self.is_deleted:
            raise MessageDeleted(self.id)

    def edit(self, body: str) -> None:
        self.lock()
        body = clean_body(body)
        if body == self.body:
            return
        self.body = body
        self.edited_at = utcnow()
        db.session.flush()

    def delete(self) -> None:
        """Soft delete: the text goes, the message keeps its place as "Message deleted"."""
        self.lock()
        self.body = ""
        self.deleted_at = utcnow()
        db.session.flush()

    # -- Reading ---------------------------------------------------------------------------------

    @classmethod
    def page(cls, tablo, *, before: int | None = None, size: int = PAGE_SIZE) -> tuple[list["TabloMessage"], bool]:
        """The `size` latest messages of the tablo (older than message `before`, when given),
        oldest first, with their authors; and whether there are older ones. One query."""
        stmt = select(cls).where(cls.tablo_id == tablo.id).options(joinedload(cls.author))
        if before is not None:
            stmt = stmt.where(cls.id < before)
        messages = list(db.session.scalars(stmt.order_by(cls.id.desc()).limit(size + 1)))
        return messages[:size][::-1], len(messages) > size

    @classmethod
    def unread_count(cls, member_table):
        """The number of messages a member has not read (up to UNREAD_CAP), as a column of a
        statement that selects from `tablo_members`: those of others, not deleted, newer than
        the member's `last_read_message_id`.

        Why a column of `tablo_members` rather than a table of its own: there is exactly one
        "last read" per membership, the scoped loader and "My tablos" already read that row (the
        count costs no join and no query), and it goes with the membership when a member is
        removed or leaves, or the tablo is deleted. It is only a mark, not a reference: no
        foreign key, a message id is compared, never loaded."""
        unread = (
            select(cls.id)
            .where(cls.tablo_id == member_table.c.tablo_id, cls.id > func.coalesce(member_table.c.last_read_message_id, 0),
                   cls.deleted_at.is_(None),
                   or_(cls.author_user_id.is_(None), cls.author_user_id != member_table.c.user_id))
            .limit(UNREAD_CAP)
            .correlate(member_table)
            .subquery()
        )
        return select(func.count()).select_from(unread).scalar_subquery()

    @classmethod
    def mark_read(cls, connection, *, tablo_id: int, user_id: int, up_to: int) -> None:
        """Move the member's "last read" mark up to message `up_to` (never back: two tabs that
        read at once keep the later mark). `updated_at` is the membership's (its role), left alone."""
        from xtablo.models.membership import TabloMember

        members = TabloMember.__table__
        connection.execute(
            update(members)
            .where(members.c.tablo_id == tablo_id, members.c.user_id == user_id,
                   or_(members.c.last_read_message_id.is_(None), members.c.last_read_message_id < up_to))
            .values(last_read_message_id=up_to, updated_at=members.c.updated_at)
        )


class MessageChange(db.Model):
    """The log of every change to the messages of each tablo, in order: a message created, edited
    or deleted. Written in the same transaction as the change (`log_message_changes`), so a
    committed change always has its entry and an entry never outlives a rolled-back change.

    It is what the chat's real-time half reads: the id is the SSE event id, so a client that
    reconnects with `Last-Event-ID` is replayed `since(tablo, last_id)`, every change it missed,
    once and in order, from the database; and it is the cross-worker feed, which every worker's
    hub can follow (a broker's notification need only carry the id). Ids are never reused
    (AUTOINCREMENT on SQLite, a sequence on PostgreSQL), so an old Last-Event-ID never skips a
    newer change.
    """

    __tablename__ = "tablo_message_changes"
    __table_args__ = (
        CheckConstraint("kind IN ('created', 'edited', 'deleted')", name="kind"),
        Index("ix_tablo_message_changes_tablo_id_id", "tablo_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tablo_id: Mapped[int] = mapped_column(ForeignKey("tablos.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(ForeignKey("tablo_messages.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<MessageChange {self.id} {self.kind} message={self.message_id}>"

    @classmethod
    def since(cls, tablo, last_id: int = 0, limit: int | None = None) -> list["MessageChange"]:
        """The tablo's changes after change `last_id`, oldest first."""
        stmt = select(cls).where(cls.tablo_id == tablo.id, cls.id > last_id).order_by(cls.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        return list(db.session.scalars(stmt))


@event.listens_for(Session, "before_flush")
def take_turns_in_the_chat(session: Session, flush_context, instances) -> None:
    """On PostgreSQL, before a flush writes a tablo's messages: wait for the other writers of that
    tablo's chat to end (a lock held to the end of the transaction), so that the ids this flush
    takes, the messages' and the MessageChanges', are higher than every id committed before and
    lower than every one committed after. Without it a message inserted first but committed last
    would have a lower id than one already read: past the reader's unread mark, and skipped by a
    stream resuming after the later change. One tablo's writers only; reading waits for nothing."""
    tablo_ids = {obj.tablo_id for obj in (*session.new, *session.dirty)
                 if isinstance(obj, TabloMessage) and (obj in session.new or session.is_modified(obj))}
    if not tablo_ids:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return
    for tablo_id in sorted(tablo_ids):  # always in the same order: no deadlock
        connection.execute(select(func.pg_advisory_xact_lock(CHAT_LOCK, tablo_id)))


@event.listens_for(Session, "after_flush")
def log_message_changes(session: Session, flush_context) -> None:
    """One MessageChange per message this flush created, edited or deleted, in the flush's own
    transaction. A deletion is told by `deleted_at` being set, an edit by a changed body."""
    rows = []
    for obj in session.new:
        if isinstance(obj, TabloMessage):
            rows.append({"tablo_id": obj.tablo_id, "message_id": obj.id, "kind": ChangeKind.CREATED})
    for obj in session.dirty:
        if not isinstance(obj, TabloMessage) or not session.is_modified(obj):
            continue
        if get_history(obj, "deleted_at").added and obj.deleted_at is not None:
            rows.append({"tablo_id": obj.tablo_id, "message_id": obj.id, "kind": ChangeKind.DELETED})
        elif get_history(obj, "body").has_changes():
            rows.append({"tablo_id": obj.tablo_id, "message_id": obj.id, "kind": ChangeKind.EDITED})
    if rows:
        now = utcnow()
        session.connection().execute(insert(MessageChange.__table__), [row | {"created_at": now} for row in rows])
        session.info.setdefault(CHANGED, set()).update(row["tablo_id"] for row in rows)


@event.listens_for(Session, "after_transaction_create")
def forget_message_changes(session: Session, transaction) -> None:
    """A new transaction (not a savepoint) starts with nothing to announce: what a rolled-back
    one changed is forgotten."""
    if transaction.parent is None:
        session.info.pop(CHANGED, None)


@event.listens_for(Session, "after_commit")
def note_committed_message_changes(session: Session) -> None:
    """The commit went through: what it changed is announced once the transaction has ended
    (`announce_message_changes`). A savepoint's release (`TabloMessage.create`) fires this too,
    but nothing is committed yet: the outer transaction's commit counts."""
    if session.in_nested_transaction():
        return
    tablo_ids = session.info.pop(CHANGED, None)
    if tablo_ids:
        session.info[COMMITTED] = tablo_ids


@event.listens_for(Session, "after_transaction_end")
def announce_message_changes(session: Session, transaction) -> None:
    """After the commit, and after the session has given its connection back to the pool (never
    inside the transaction): tell the app which tablos' chats changed. The real-time part reads
    the change at once on another pooled connection (xtablo/realtime/feed.py, `deliver`); holding
    this one meanwhile, a burst of posts could take every connection of the pool and wait for one
    more."""
    if transaction.parent is not None:
        return
    tablo_ids = session.info.pop(COMMITTED, None)
    if tablo_ids and has_app_context():
        changes_committed.send(current_app._get_current_object(), tablo_ids=tablo_ids)
