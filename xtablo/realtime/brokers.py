"""How a worker learns, at once, that another worker (of this host or another) committed a change.

A broker only rings: its message carries a tablo's id, never a change's content. The worker
that hears it reads what changed from the database (`DatabaseFeed.poll`, one query whatever the
number of streams), which stays the source of truth: a ring lost or never sent only delays
delivery until the feed's next periodic poll (`Broker.interval`), it never loses a change.

- `DatabaseBroker`, the default with SQLite: no broker at all, the change log *is* the channel.
  Each worker checks the log's highest id every DOORBELL_INTERVAL on a connection of its own
  (the standard library's sqlite3, in autocommit: each check is its own short read, no snapshot
  is kept), a few microseconds each, and polls when it grew. With PostgreSQL it can be chosen
  too (REALTIME_BROKER=database, e.g. behind a pooler in transaction mode, where LISTEN does not
  work): the feed then polls every POSTGRES_POLL_INTERVAL.
- `PostgresBroker`: LISTEN/NOTIFY, the default with PostgreSQL. Each worker keeps one connection
  of its own, outside the pool, LISTENing; a commit that changed a tablo's messages sends
  `NOTIFY <channel>, '<tablo id>'` right after (NOTIFY's payload is capped at 8 kB; an id is a
  few bytes).
- `RedisBroker`: Redis pub/sub, the default when REDIS_URL is set (whatever the database).

Announcing happens after the commit (never inside a write transaction): a crash between the two
leaves a change that the periodic poll delivers. A broker that fails to announce is left alone for
RETRY_AFTER seconds (the feeds' polls deliver meanwhile), so that a broker outage does not make
every message wait for a timeout. A listener that loses its connection reconnects with a growing
pause (at most MAX_BACKOFF) and rings once reconnected, to read what came meanwhile.
"""

import logging
import sqlite3
import time
from collections.abc import Callable, Iterable

from sqlalchemy import func, select
from sqlalchemy.engine import Engine, make_url

log = logging.getLogger(__name__)

DOORBELL_INTERVAL = 0.01  # seconds between two checks of the SQLite change log
POSTGRES_POLL_INTERVAL = 0.25  # seconds between two polls with REALTIME_BROKER=database on PostgreSQL
SAFETY_INTERVAL = 1.0  # seconds between two polls that no ring asked for (a lost ring, an outage)
LISTEN_TIMEOUT = 30.0  # seconds a listener waits before it checks its connection is still alive
RETRY_AFTER = 1.0  # seconds without announcing after an announcement failed (each try may wait for a timeout)
MAX_BACKOFF = 5.0  # longest pause before a listener tries to reconnect

BROKERS = ("database", "postgresql", "redis")

Ring = Callable[[int | None], None]  # a tablo's id, or None for "something changed, read it all"


class Broker:
    """What every broker does. `interval`: how often the feed polls the change log by itself."""

    name = ""
    interval = SAFETY_INTERVAL

    def announce(self, tablo_ids: Iterable[int]) -> None:
        """Tell every worker that these tablos' messages changed (called after the commit)."""

    def listen(self, ring: Ring, ready: Callable[[], None]) -> None:
        """Wait for announcements and `ring` for each, until the connection fails (an exception);
        `ready` once listening. The feed runs it in a greenlet of its own and restarts it."""
        raise NotImplementedError

    def back(self) -> None:
        """The listener is connected again: announcing may resume at once."""

    @property
    def listens(self) -> bool:
        return True


class _Announcer:
    """Announcing with a pause after a failure: a broker that is down is not asked again for
    RETRY_AFTER seconds (each message would otherwise wait for its timeout)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.down_until = 0.0

    def __call__(self, send: Callable[[], None]) -> None:
        if time.monotonic() < self.down_until:
            return
        try:
            send()
        except Exception as error:  # a delay, not a loss: the feeds' polls deliver
            self.down_until = time.monotonic() + RETRY_AFTER
            log.warning("realtime: %s could not announce a change (%s); the feeds will find it by polling, "
                        "and announcing is paused for %.0f s", self.name, error, RETRY_AFTER)


class DatabaseBroker(Broker):
    """No broker: each worker follows the change log itself (see the module's docstring)."""

    name = "database"

    def __init__(self, engine: Engine, table: str) -> None:
        self.engine, self.table = engine, table
        self.sqlite_path = engine.url.database if engine.dialect.name == "sqlite" else None
        self.interval = SAFETY_INTERVAL if self.sqlite_path else POSTGRES_POLL_INTERVAL

    @property
    def listens(self) -> bool:
        return bool(self.sqlite_path) and self.sqlite_path != ":memory:"

    def listen(self, ring: Ring, ready: Callable[[], None]) -> None:
        import gevent  # noqa: PLC0415 (the hub's sleep; only ever called in a gevent worker)

        connection = sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True, timeout=0.05,
                                     isolation_level=None, check_same_thread=False)
        try:
            query = f"SELECT max(id) FROM {self.table}"  # noqa: S608 (a table name of ours)
            last = connection.execute(query).fetchone()[0] or 0
            ready()
            while True:
                gevent.sleep(DOORBELL_INTERVAL)
                latest = connection.execute(query).fetchone()[0] or 0
                if latest != last:
                    last = latest
                    ring(None)
        finally:
            connection.close()


class PostgresBroker(Broker):
    """PostgreSQL's LISTEN/NOTIFY (see the module's docstring)."""

    name = "postgresql"

    def __init__(self, engine: Engine, channel: str, *, connect_timeout: float) -> None:
        self.engine, self.channel, self.connect_timeout = engine, channel, connect_timeout
        self._announce = _Announcer(self.name)

    def announce(self, tablo_ids: Iterable[int]) -> None:
        def send() -> None:
            # Its own short transaction: pg_notify is sent when it commits, at once.
            with self.engine.begin() as connection:
                for tablo_id in sorted(set(tablo_ids)):
                    connection.execute(select(func.pg_notify(self.channel, str(tablo_id))))

        self._announce(send)

    def back(self) -> None:
        self._announce.down_until = 0.0

    def listen(self, ring: Ring, ready: Callable[[], None]) -> None:
        import psycopg  # noqa: PLC0415 (only needed with PostgreSQL)
        from psycopg import sql  # noqa: PLC0415

        url = make_url(self.engine.url).set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=max(1, round(self.connect_timeout)),
                             application_name="xtablo realtime") as connection:
            connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            ready()
            while True:
                for notify in connection.notifies(timeout=LISTEN_TIMEOUT):
                    ring(_tablo_id(notify.payload))
                connection.execute("SELECT 1")  # quiet for a while: is the connection still there?


class RedisBroker(Broker):
    """Redis pub/sub (see the module's docstring)."""

    name = "redis"

    def __init__(self, url: str, channel: str, *, timeout: float) -> None:
        self.url, self.channel, self.timeout = url, channel, timeout
        self._announce = _Announcer(self.name)
        self._client = None

    def client(self):
        import redis  # noqa: PLC0415

        if self._client is None:
            self._client = redis.Redis.from_url(self.url, socket_timeout=self.timeout,
                                                socket_connect_timeout=self.timeout)
        return self._client

    def announce(self, tablo_ids: Iterable[int]) -> None:
        def send() -> None:
            for tablo_id in sorted(set(tablo_ids)):
                self.client().publish(self.channel, str(tablo_id))

        self._announce(send)

    def back(self) -> None:
        self._announce.down_until = 0.0

    def listen(self, ring: Ring, ready: Callable[[], None]) -> None:
        import redis  # noqa: PLC0415

        client = redis.Redis.from_url(self.url, socket_connect_timeout=self.timeout,
                                      socket_timeout=LISTEN_TIMEOUT + 5, health_check_interval=LISTEN_TIMEOUT)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self.channel)
            ready()
            while True:
                message = pubsub.get_message(timeout=LISTEN_TIMEOUT)
                if message is not None and message["type"] == "message":
                    ring(_tablo_id(message["data"]))
        finally:
            pubsub.close()
            client.close()


def _tablo_id(payload) -> int | None:
    """A tablo's id from a ring; None (read it all) when it is not one."""
    if isinstance(payload, bytes):
        payload = payload.decode("ascii", "replace")
    return int(payload) if payload.isascii() and payload.isdigit() and len(payload) < 11 else None


def from_config(config, engine: Engine, table: str) -> Broker:
    """The broker REALTIME_BROKER names; by default Redis when REDIS_URL is set, else PostgreSQL's
    LISTEN/NOTIFY when the database is PostgreSQL, else the change log alone (SQLite)."""
    name = config.get("REALTIME_BROKER") or (
        "redis" if config.get("REDIS_URL") else "postgresql" if engine.dialect.name == "postgresql" else "database")
    if name == "redis":
        if not config.get("REDIS_URL"):
            raise ValueError("REALTIME_BROKER=redis needs REDIS_URL")
        broker = RedisBroker(config["REDIS_URL"], config["REALTIME_CHANNEL"], timeout=config["REDIS_TIMEOUT"])
    elif name == "postgresql":
        if engine.dialect.name != "postgresql":
            raise ValueError("REALTIME_BROKER=postgresql needs a PostgreSQL DATABASE_URL")
        broker = PostgresBroker(engine, config["REALTIME_CHANNEL"], connect_timeout=config["DATABASE_CONNECT_TIMEOUT"])
    elif name == "database":
        broker = DatabaseBroker(engine, table)
    else:
        raise ValueError(f"REALTIME_BROKER must be one of {', '.join(BROKERS)} (or empty), not {name!r}")
    if config.get("REALTIME_POLL_INTERVAL"):
        broker.interval = config["REALTIME_POLL_INTERVAL"]
    return broker
