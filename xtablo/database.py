"""How xtablo talks to SQLite, so that several gunicorn workers can write to one file.

Every SQLite connection enforces foreign keys (later features rely on ON DELETE SET NULL), uses
WAL so readers never block the writer, and waits up to BUSY_TIMEOUT_MS for a lock. A transaction
that will write begins IMMEDIATE: it takes the write lock up front, where the busy timeout
applies, instead of upgrading a read lock later, where SQLite fails at once with "database is
locked". Requests with a safe method (GET, HEAD, OPTIONS) begin deferred so pages read
concurrently; everything else (forms, the CLI, migrations) begins IMMEDIATE. Code that must
write during a safe request opens its own short transaction with `write_connection()`.

SQLite calls block the gevent worker's event loop, so transactions stay short: one per request,
no network I/O while one is open.
"""

import sqlite3
from contextlib import contextmanager

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

BUSY_TIMEOUT_MS = 5000
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, _record) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy's "begin" event below issue BEGIN instead of the sqlite3 module.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin_sqlite(conn: Connection) -> None:
    if conn.dialect.name != "sqlite":
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE" if _will_write(conn) else "BEGIN")


def _will_write(conn: Connection) -> bool:
    explicit = conn.get_execution_options().get("xtablo_write")
    if explicit is not None:
        return explicit
    return not (has_request_context() and request.method in SAFE_METHODS)


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
