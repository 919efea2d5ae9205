"""What feeds a worker's hub: the seam where brokers plug in, and the database feed.

A broker tells the hub of every change committed by any worker of any host; whichever it is,
the hub is fed the same way (`Hub.publish(Publication)`), and what a change looks like comes
from a `ChangeSource` (the chat's: xtablo/blueprints/chat/stream.py), never from the broker.

- `DatabaseFeed` (this increment, and the default for every database): one greenlet per worker
  polls the change log for ids above the last one it saw, every POLL_INTERVAL, with one query
  whatever the number of streams, in a short transaction of its own whose connection goes back
  to the pool at once. It is the embedded SQLite's only way across processes, and works with
  PostgreSQL too.
- Later, PostgreSQL LISTEN/NOTIFY and Redis pub/sub: a greenlet that waits on the channel and,
  on a notification (which carries ids, not HTML), runs the same `poll()`; the periodic poll stays
  as the safety net that turns a broker outage into a delay rather than a loss.

The same greenlet re-checks access every ACCESS_CHECK_INTERVAL: one query for all the worker's
streams (`ChangeSource.refused`), and the streams of a removed member, a revoked or expired
session or a deleted tablo are closed.
"""

import logging
import time
from collections.abc import Callable, Iterable
from typing import Protocol

import gevent

from xtablo.realtime.hub import Hub, Publication, Subscriber

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.25  # seconds between two reads of the change log
ACCESS_CHECK_INTERVAL = 2.0  # seconds between two checks of every stream's access
BATCH = 1000  # changes read at most per poll (more wait for the next one, a quarter second later)
# Ids skipped in the log are waited for this long. On PostgreSQL a sequence hands ids out in the
# order transactions ask, not the order they commit: id 11 can be seen before id 10 commits.
# A rolled-back transaction leaves its id unused for ever, hence the limit.
GAP_WAIT = 30.0
MAX_GAPS = 1000


class ChangeSource(Protocol):
    """What the feed reads and what it publishes (xtablo/blueprints/chat/stream.py)."""

    def latest_id(self) -> int: ...

    def after(self, last_id: int, missing: Iterable[int], limit: int) -> list: ...

    def publications(self, changes: list) -> list[Publication]: ...

    def refused(self, subscribers: list[Subscriber]) -> list[Subscriber]: ...


class ChangeCursor:
    """Where the feed is in the log: the highest id seen, and the lower ids not seen yet."""

    def __init__(self, last_id: int = 0) -> None:
        self.last_id = last_id
        self.missing: dict[int, float] = {}  # id -> when it was found missing

    def advance(self, ids: Iterable[int], now: float) -> list[int]:
        """Take note of the ids just read; those not seen before (to publish), in order."""
        fresh = []
        for change_id in sorted(ids):
            if change_id in self.missing:
                del self.missing[change_id]
                fresh.append(change_id)
            elif change_id > self.last_id:
                for skipped in range(max(self.last_id + 1, change_id - MAX_GAPS), change_id):
                    self.missing[skipped] = now
                self.last_id = change_id
                fresh.append(change_id)
        for change_id, since in list(self.missing.items()):
            if now - since > GAP_WAIT:
                del self.missing[change_id]
        while len(self.missing) > MAX_GAPS:
            del self.missing[min(self.missing)]
        return fresh


class DatabaseFeed:
    """The default broker: each worker follows the change log in the database."""

    def __init__(self, app, hub: Hub, source: ChangeSource, *, interval: float = POLL_INTERVAL,
                 access_every: float = ACCESS_CHECK_INTERVAL, alive: Callable[[], bool] = lambda: True) -> None:
        self.app, self.hub, self.source = app, hub, source
        self.interval, self.access_every, self.alive = interval, access_every, alive
        self.cursor: ChangeCursor | None = None
        self.greenlet = None

    def start(self) -> None:
        """Follow the log from its current end: every change committed after this returns is
        published (what came before is the replay's, read by each stream from the database)."""
        if self.cursor is None:
            with self.app.app_context():
                self.cursor = ChangeCursor(self.source.latest_id())
        if self.greenlet is None or self.greenlet.dead:
            self.greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self.greenlet is not None:
            self.greenlet.kill(block=False)
            self.greenlet = None

    def _run(self) -> None:
        next_check = time.monotonic() + self.access_every
        while True:
            gevent.sleep(self.interval)
            if not self.alive():
                # The worker is shutting down: streams end now, not at graceful_timeout; the
                # browsers reconnect (to another worker) with Last-Event-ID.
                self.hub.close_all()
                return
            try:
                self.poll()
                if time.monotonic() >= next_check:
                    self.check_access()
                    next_check = time.monotonic() + self.access_every
            except Exception:  # a database outage delays delivery; the next poll resumes
                log.exception("realtime: the change feed could not read the database")
                gevent.sleep(min(5.0, self.interval * 10))

    def poll(self) -> int:
        """Read the changes committed since the last poll and publish those of tablos someone
        here listens to; the number published."""
        with self.app.test_request_context("/"):  # the fragments' URLs and words
            changes = self.source.after(self.cursor.last_id, sorted(self.cursor.missing), BATCH)
            fresh = set(self.cursor.advance((change.id for change in changes), time.monotonic()))
            listened = self.hub.tablo_ids()
            wanted = [change for change in changes if change.id in fresh and change.tablo_id in listened]
            publications = self.source.publications(wanted) if wanted else []
            for publication in publications:
                self.hub.publish(publication)
            return len(publications)

    def check_access(self) -> int:
        """Close the streams whose reader may no longer read them; how many."""
        subscribers = self.hub.subscribers()
        if not subscribers:
            return 0
        with self.app.app_context():
            refused = self.source.refused(subscribers)
        for subscriber in refused:
            self.hub.close(subscriber, "access")
        return len(refused)
