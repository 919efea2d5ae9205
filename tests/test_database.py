"""The schema, the SQLite connection rules, and PostgreSQL under gevent."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from tests.conftest import PG_ADMIN_URL
from xtablo.extensions import db as _db
from xtablo.models import Session

ROOT = Path(__file__).resolve().parent.parent


def test_migrations_match_the_models(app):
    """`flask db upgrade` built this database; autogenerate must find nothing left to do."""
    with app.app_context(), _db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        diff = compare_metadata(context, _db.metadata)
    assert diff == []


def test_sqlite_connections_enforce_foreign_keys_and_use_wal(app, backend, db, make_user):
    with app.app_context(), _db.engine.connect() as conn:
        if backend == "sqlite":
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 1000
    # Deleting a user takes their sessions along: the foreign key is enforced, not decorative.
    user = make_user()
    db.session.add(Session(token_hash="x" * 64, user=user))
    db.session.commit()
    db.session.delete(user)
    db.session.commit()
    assert db.session.scalar(_db.select(_db.func.count()).select_from(Session)) == 0


GEVENT_SCRIPT = textwrap.dedent(
    """
    import sys
    if sys.argv[2] == "patched":
        from gevent import monkey; monkey.patch_all()
    import time, gevent
    from sqlalchemy import create_engine, text

    engine = create_engine(sys.argv[1])
    ticks = []

    def slow_query():
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_sleep(1)"))

    def ticker():
        for _ in range(20):
            ticks.append(time.monotonic())
            gevent.sleep(0.05)

    start = time.monotonic()
    gevent.joinall([gevent.spawn(slow_query), gevent.spawn(ticker)], timeout=10)
    during = [t for t in ticks if t - start < 0.9]
    print(len(during), round(time.monotonic() - start, 2))
    """
)


def ticks_during_a_slow_query(database_url: str, patched: bool) -> tuple[int, float]:
    """Run GEVENT_SCRIPT: the ticks another greenlet made while a query slept 1 s, and the time."""
    result = subprocess.run([sys.executable, "-c", GEVENT_SCRIPT, database_url, "patched" if patched else "unpatched"],
                            capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    ticks, elapsed = result.stdout.split()
    return int(ticks), float(elapsed)


def test_a_slow_postgresql_query_does_not_stall_other_greenlets():
    """In a gevent worker, psycopg waits for PostgreSQL through gevent: while one greenlet
    waits a second on a query, another keeps running (~18 ticks). Without gevent's patches the
    same query stalls it (1 tick), which shows the measure tells the two apart.

    PostgreSQL only, and once: it needs no table (so not the `backend` parameter), and SQLite
    calls block the loop by nature (database.py keeps them short instead)."""
    url = PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    ticks, elapsed = ticks_during_a_slow_query(url, patched=True)
    assert ticks >= 10 and elapsed < 2
    ticks, elapsed = ticks_during_a_slow_query(url, patched=False)
    assert ticks <= 2


def test_sharing_migration_keeps_every_task_and_makes_creators_owners(app, db, backend):
    """0002 rebuilds `tablos` on SQLite: with foreign keys enforced during the copy, ON DELETE
    CASCADE would empty `tasks`. Downgrade to 0001, write a tablo the old way, upgrade again."""
    from flask_migrate import downgrade, upgrade

    with app.app_context():
        downgrade(revision="0001")
        with _db.engine.begin() as conn:
            conn.execute(text("INSERT INTO users (id, email, name, created_at, updated_at) VALUES (1, 'old@example.com', 'Old', :t, :t)"), {"t": "2026-01-01 00:00:00"})
            conn.execute(text("INSERT INTO tablos (id, owner_id, title, description, color, created_at, updated_at) VALUES (1, 1, 'Old', '', 'blue', :t, :t)"), {"t": "2026-01-01 00:00:00"})
            for i in range(3):
                conn.execute(text("INSERT INTO tasks (tablo_id, title, description, status, position, created_at, updated_at) VALUES (1, :title, '', 'todo', :i, :t, :t)"), {"title": f"T{i}", "i": i, "t": "2026-01-01 00:00:00"})
        upgrade()
        with _db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM tasks")).scalar() == 3
            assert conn.execute(text("SELECT user_id, role FROM tablo_members")).all() == [(1, "owner")]
            assert conn.execute(text("SELECT created_by_id FROM tablos")).scalar() == 1
            if backend == "sqlite":
                assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_a_post_takes_the_write_lock_once_and_reads_its_answer_without_it(app, backend, client, login_as, make_tablo):
    """An htmx post commits its verb, then draws the board it answers with: that read begins
    deferred, so SQLite's single write lock is held only for the verb."""
    if backend != "sqlite":
        pytest.skip("about SQLite's write lock (PostgreSQL has no BEGIN IMMEDIATE)")
    from sqlalchemy import event

    tablo = make_tablo(owner=login_as(), tasks=3)
    begins = []
    with app.app_context():
        engine = _db.engine
    listener = lambda conn, cursor, statement, *args: begins.append(statement) if statement.startswith("BEGIN") else None  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        response = client.post(f"/tablos/{tablo.id}/tasks", data={"title": "New", "status": "todo"}, headers={"HX-Request": "true"})
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert response.status_code == 200 and "New" in response.text
    assert begins.count("BEGIN IMMEDIATE") == 1, begins
    assert begins[-1] == "BEGIN"  # the board drawn after the commit
