"""Real time: each worker's hub of Server-Sent Events streams, and what feeds it.

The database is the source of truth; the hub only delivers faster. A stream authorizes,
subscribes to the hub, reads what it replays from the database (a change committed in between
comes both ways and is sent once), and gives its connection back before the first byte
(xtablo/blueprints/chat/views.py, `stream`): an open stream holds no database connection, no
transaction and no request context, only a greenlet and a bounded queue in memory.

- `hub.py`: the per-process hub, keyed by tablo id, one bounded queue per stream.
- `feed.py`: what feeds it: each worker reads the change log from the database when its broker
  rings, or every so often when none does.
- `brokers.py`: how workers ring each other: the change log itself (SQLite), PostgreSQL's
  LISTEN/NOTIFY, Redis pub/sub; chosen from the configuration (REALTIME_BROKER, see `from_config`).
- `sse.py`: the wire format.

The hub and its feed start with the worker (gunicorn's post_worker_init: `Realtime.start`; in
other servers, with the first stream), and end with it: `gunicorn.conf.py` hands the worker's "alive" flag to `keep_alive_while`,
and the feed closes every stream as soon as it drops, so a restart does not wait for
graceful_timeout; the browsers reconnect with Last-Event-ID. Nothing outside this package
imports gevent.
"""

import os
import socket
from collections.abc import Callable, Hashable, Iterator

import gevent
from flask import Flask, current_app

from xtablo.realtime import brokers, sse
from xtablo.realtime.brokers import Broker
from xtablo.realtime.feed import ChangeSource, DatabaseFeed
from xtablo.realtime.hub import BEAT, CLOSE, HEARTBEAT, Hub, Publication, Subscriber, TooManyStreams

__all__ = ["Publication", "Realtime", "Subscriber", "TooManyStreams", "current", "init_app"]

RETRY = 2000  # milliseconds a browser waits before it reconnects
HEARTBEAT_COMMENT = sse.comment("heartbeat").encode()
# Seconds one write to a client may wait for it to read (its socket's buffers, megabytes on
# loopback, full): longer, and the stream ends; a real reader that was only slow resumes by
# Last-Event-ID. Without it a client that never reads keeps a greenlet, a socket and the
# kernel's buffers (about 1.5 MB) for as long as it likes.
SEND_TIMEOUT = 10.0
# The kernel's send buffer of a stream's socket (Linux doubles it): enough for many events, and
# a client that stops reading is found out (its writes wait, then time out) after this much, not
# after the megabytes a buffer may grow to, which the host's memory would hold meanwhile.
SEND_BUFFER = 64 * 1024


class Realtime:
    def __init__(self, app: Flask, source: ChangeSource, broker: Broker, *,
                 has_free_connection: Callable[[], bool] = lambda: True) -> None:
        self.app, self.source, self.broker = app, source, broker
        self.has_free_connection = has_free_connection  # whether the app's pool has one (see DatabaseFeed.deliver)
        self.heartbeat = HEARTBEAT
        self._pid: int | None = None
        self._hub: Hub | None = None
        self.feed: DatabaseFeed | None = None
        self._alive: Callable[[], bool] = lambda: True

    @property
    def hub(self) -> Hub:
        """This process's hub (a forked worker gets its own, never its parent's)."""
        if self._pid != os.getpid():
            self._pid, self._hub = os.getpid(), Hub(per_session=self.app.config["REALTIME_STREAMS_PER_SESSION"])
            self.feed = DatabaseFeed(self.app, self._hub, self.source, self.broker, alive=lambda: self._alive(),
                                     has_free_connection=self.has_free_connection)
        return self._hub

    def start(self) -> None:
        """Start following the change log now (gunicorn's post_worker_init), not with the first
        stream: a stream's request already holds a pooled connection, and a hundred streams
        opened at once after a restart, each asking the pool for a second one to find where the
        log ends, would wait for each other until the pool's timeout."""
        self.hub  # noqa: B018 (this process's hub and feed)
        self.feed.start()

    def keep_alive_while(self, alive: Callable[[], bool]) -> None:
        """Close every stream, and stop following the database, once `alive()` is false."""
        self._alive = alive

    def subscribe(self, tablo_id: int, *, user_id: int, session_id: int, variant: Hashable) -> Subscriber:
        """A stream's place in the hub, from now on. The feed starts here if it had not: every
        change committed after this returns reaches the subscriber (or closes it, when slow)."""
        hub = self.hub
        self.feed.start()
        return hub.subscribe(tablo_id, user_id=user_id, session_id=session_id, variant=variant, heartbeat=self.heartbeat)

    def announce(self, _sender=None, *, tablo_ids) -> None:
        """These tablos' messages changed and the change is committed: this worker's streams are
        fed by the committing request itself (`DatabaseFeed.deliver`), the other workers' when
        the broker has told them."""
        feed = self.feed if self._pid == os.getpid() else None
        if feed is not None and feed.delivers_inline:
            # The broker is told from a greenlet of its own: the other workers read while this one does.
            gevent.spawn(self.broker.announce, tablo_ids)
            feed.deliver(tablo_ids)
            return
        if feed is not None:
            for tablo_id in tablo_ids:
                feed.ring(tablo_id)
        self.broker.announce(tablo_ids)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Give up a place taken by `subscribe` (its stream will not be sent after all)."""
        self.hub.unsubscribe(subscriber)

    def stream(self, subscriber: Subscriber, replay: list[tuple[int, str, str]], *, more: bool = False,
               connection=None) -> Iterator[bytes]:
        """The body of an SSE response: the retry hint and the replay, then the hub's events as
        they come, a heartbeat comment when none came for HEARTBEAT seconds, until the
        subscriber is closed (access lost, too slow, the worker stopping) or the client leaves.
        With `more`, the replay was only its first page: the stream ends after it, and the
        browser reconnects at once for the next page (its Last-Event-ID). `connection`, the
        client's socket (gunicorn's), gets SEND_TIMEOUT, and is shut at once when the hub closes
        the stream for being too slow: its greenlet may be stuck writing."""
        hub = self.hub
        if connection is not None:
            connection.settimeout(SEND_TIMEOUT)
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            subscriber.abort = lambda: _shut(connection)

        # The first chunk is built here: the stream then keeps only the replayed ids (a change
        # committed meanwhile is also queued, and sent once), not the replay's text for its life.
        first = [(sse.retry(RETRY) + "".join(sse.event(*event) for event in replay)).encode()]
        replayed = {event[0] for event in replay}

        def generate() -> Iterator[bytes]:
            try:
                yield first.pop()
                if more:
                    return
                while True:
                    item = subscriber.next()
                    if item is CLOSE:
                        return
                    if item is BEAT:
                        yield HEARTBEAT_COMMENT
                    elif item[0] not in replayed:
                        yield item[1]  # bytes encoded once for every stream (Publication.item_for)
            finally:
                hub.unsubscribe(subscriber)

        return generate()

    def shutdown(self) -> None:
        """End every stream of this worker now (gunicorn's worker_int)."""
        if self._hub is not None and self._pid == os.getpid():
            self._hub.close_all()
            self.feed.stop()


def _shut(connection) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:  # already gone
        pass


def init_app(app: Flask, source: ChangeSource, changes_committed) -> Realtime:
    """The app's real time: `source` says what changes look like, and `changes_committed` (a
    blinker signal sent with `tablo_ids` after each commit that changed some) is announced."""
    from xtablo.database import has_free_connection  # noqa: PLC0415
    from xtablo.extensions import db  # noqa: PLC0415

    with app.app_context():
        engine = db.engine
        broker = brokers.from_config(app.config, engine, source.table.name)
    realtime = app.extensions["xtablo_realtime"] = Realtime(app, source, broker,
                                                            has_free_connection=lambda: has_free_connection(engine))
    changes_committed.connect(realtime.announce, sender=app)
    return realtime


def current() -> Realtime:
    return current_app.extensions["xtablo_realtime"]
