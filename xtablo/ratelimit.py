"""A `limits` storage kept in xtablo's own database.

The sign-in counters (xtablo/blueprints/auth/throttle.py) need a store that every gunicorn
worker shares. With REDIS_URL set they use Redis; without it (the default single-box install,
SQLite) they use this table, so failed sign-ins are counted across workers and restarts without
any extra service. Fixed windows only: that is all the sign-in limits need.

Each call is its own short transaction (IMMEDIATE on SQLite, see database.py), apart from the
request's, so a refused sign-in is still counted when the request's transaction rolls back.
"""

import hashlib
import time

from sqlalchemy import Float, String, case, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column
from limits.storage import Storage

from xtablo.database import read_connection, write_connection
from xtablo.extensions import db


class RateLimitCounter(db.Model):
    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
    # Unix time, as `limits` counts it.
    expires_at: Mapped[float] = mapped_column(Float, index=True)


_table = RateLimitCounter.__table__
KEY_MAX = 255


def _fit(key: str) -> str:
    """The key as stored: a key too long for the column keeps its start and ends in a hash of
    the whole, so that any key (an email of 254 characters, an IPv6 address) is counted."""
    if len(key) <= KEY_MAX:
        return key
    return f"{key[:KEY_MAX - 65]}#{hashlib.sha256(key.encode()).hexdigest()}"


class DatabaseStorage(Storage):
    STORAGE_SCHEME = ["xtablo-sql"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        engine = db.engine
        insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        expired = _table.c.expires_at <= now
        stmt = insert(_table).values(key=_fit(key), count=amount, expires_at=now + expiry)
        stmt = stmt.on_conflict_do_update(
            index_elements=[_table.c.key],
            set_={
                "count": case((expired, amount), else_=_table.c.count + amount),
                "expires_at": case((expired, now + expiry), else_=_table.c.expires_at),
            },
        ).returning(_table.c.count)
        with write_connection(engine) as conn:
            return conn.execute(stmt).scalar_one()

    def _row(self, key: str):
        with read_connection(db.engine) as conn:
            return conn.execute(
                select(_table.c.count, _table.c.expires_at).where(_table.c.key == _fit(key), _table.c.expires_at > time.time())
            ).first()

    def get(self, key: str) -> int:
        row = self._row(key)
        return row.count if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row.expires_at if row else time.time()

    def check(self) -> bool:
        try:
            with read_connection(db.engine) as conn:
                conn.execute(select(1))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with write_connection(db.engine) as conn:
            return conn.execute(delete(_table)).rowcount

    def clear(self, key: str) -> None:
        with write_connection(db.engine) as conn:
            conn.execute(delete(_table).where(_table.c.key == _fit(key)))

    def prune(self) -> int:
        with write_connection(db.engine) as conn:
            return conn.execute(delete(_table).where(_table.c.expires_at <= time.time())).rowcount
