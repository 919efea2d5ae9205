"""How xtablo talks to its database: SQLite's rules for several workers, and when to write.

PostgreSQL's connect and statement timeouts are set in config.py (`engine_options`).

SQLite. Every connection waits up to DATABASE_STATEMENT_TIMEOUT for a lock (from the moment it
opens, so that even its own set-up waits rather than failing with "database is locked"), enforces
foreign keys (later features rely on ON DELETE SET NULL) and uses WAL so readers never block the writer.
A transaction that will write begins IMMEDIATE: it takes the write lock up front, where the busy
timeout applies, instead of upgrading a read lock later, where SQLite fails at once.

Which transactions write:
- in a request with an unsafe method (POST...), the transactions up to its first commit: the
  verb's. Reads after that commit (the htmx partial a post answers with) begin deferred again;
- in a safe request (GET...), none, unless the view is marked with `@writes` (a GET that must
  write, such as an OAuth callback). A short write of its own inside a read request uses
  `write_connection()`;
- outside requests (the CLI, migrations, tests' own set-up), all of them.

A write transaction holds SQLite's single write lock, so nothing slow happens inside one: a view
ends its transaction (`end_transaction()`) before a network call (Redis, SMTP, an OAuth provider)
or an argon2 hash, and opens a new one afterwards.
"""

import sqlite3
from contextlib import contextmanager
from functools import wraps

from flask import g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.pool import QueuePool

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, _record) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy's "begin" event below issue BEGIN instead of the sqlite3 module.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # The busy timeout comes with the connection (DATABASE_STATEMENT_TIMEOUT, sqlite3's
    # `timeout`), so it already applies here: switching to WAL takes a lock, and without it a
    # connection opened while another one writes would fail at once.
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin_sqlite(conn: Connection) -> None:
    if conn.dialect.name != "sqlite":
        return
    explicit = conn.get_execution_options().get("xtablo_write")
    will_write = request_writes() if explicit is None else explicit
    conn.exec_driver_sql("BEGIN IMMEDIATE" if will_write else "BEGIN")


@event.listens_for(OrmSession, "after_commit")
def _reads_after_commit(_session) -> None:
    if has_request_context():
        g.xtablo_committed = True


def request_writes() -> bool:
    """Whether the request's next transaction begins as a write (see the module docstring)."""
    if not has_request_context():
        return True
    if g.get("xtablo_committed"):
        return False
    return request.method not in SAFE_METHODS or g.get("xtablo_writes", False)


def writes(view):
    """Mark a view whose safe-method requests write (their first transaction begins IMMEDIATE)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        g.xtablo_writes = True
        return view(*args, **kwargs)

    return wrapper


def end_transaction() -> None:
    """End the request's transaction, keeping nothing of it: call before a network call or slow
    work, never with changes of the request's own still to commit."""
    from xtablo.extensions import db

    db.session.rollback()


@contextmanager
def read_connection(engine: Engine):
    """A connection whose transactions only read: deferred on SQLite, whatever the request."""
    with engine.connect() as conn:
        conn.execution_options(xtablo_write=False)
        yield conn


@contextmanager
def write_connection(engine: Engine):
    """A short transaction of its own that begins IMMEDIATE on SQLite, committed on exit."""
    with engine.connect() as conn:
        conn.execution_options(xtablo_write=True)
        with conn.begin():
            yield conn


def has_free_connection(engine: Engine) -> bool:
    """Whether the engine's pool can hand out a connection without waiting. A request that holds
    one and waits for a second can deadlock with others doing the same (a burst of them takes
    every connection, then each waits for another until the pool's timeout): what only
    improves a request (`sessions._touch`) is skipped instead when none is free."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return True
    return pool.checkedin() > 0 or pool.overflow() < getattr(pool, "_max_overflow", 0)
