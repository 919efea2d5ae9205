"""What feeds a worker's hub: the seam where brokers plug in, and the feed that reads the log.

Whatever the broker (xtablo/realtime/brokers.py), the hub is fed the same way: the feed reads
the changes committed since it last looked from the database (`poll`, one query whatever the
number of streams, in a short transaction of its own whose connection goes back to the pool at
once) and hands them to the hub (`Hub.publish(Publication)`). What a change looks like comes
from a `ChangeSource` (the chat's: xtablo/blueprints/chat/stream.py), never from the broker. The
broker only says *when* to look: it rings (`ring`, with the tablo's id) and the feed polls at
once, if someone here listens to that tablo; without a ring it polls every `Broker.interval`
anyway, which turns a lost ring or a broker outage into a delay, never a loss.

A request that commits a change polls its own worker's feed itself, before it builds its answer
(`deliver`): that worker's streams then get the change without waiting for the feed's greenlet
to be scheduled between the request's own queries and rendering (bench/RESULTS.md: a third of
the time before the first delivery on PostgreSQL). Polls take turns (`polling`), so changes are
published in the order of the log; a poll that fails while reading leaves the cursor where it
was, and the next one publishes what it had read.

One greenlet per worker polls; another listens to the broker (and reconnects when it fails).
The polling greenlet also re-checks access every ACCESS_CHECK_INTERVAL: one query for all the
worker's streams (`ChangeSource.refused`), and the streams of a removed member, a revoked or
expired session or a deleted tablo are closed. It checks the worker is alive every
ALIVE_CHECK_INTERVAL: a worker told to stop closes its streams then (gunicorn.conf.py).
"""

import logging
import time
from collections.abc import Callable, Iterable
from typing import Protocol

import gevent
from gevent import monkey
from gevent.event import Event
from gevent.lock import Semaphore

from xtablo.realtime.brokers import MAX_BACKOFF, Broker
from xtablo.realtime.hub import Hub, Publication, Subscriber

log = logging.getLogger(__name__)

ALIVE_CHECK_INTERVAL = 0.25  # seconds between two looks at the worker's "alive" flag
ACCESS_CHECK_INTERVAL = 2.0  # seconds between two checks of every stream's access
BATCH = 1000  # changes read at most per poll (more wait for the next one, a quarter second later)
# Ids skipped in the log are waited for this long. On PostgreSQL a sequence hands ids out in the
# order transactions ask, not the order they commit: id 11 can be seen before id 10 commits.
# A rolled-back transaction leaves its id unused for ever, hence the limit.
GAP_WAIT = 30.0
MAX_GAPS = 1000
DELIVER_QUIET = 10.0  # seconds without logging another failed `deliver`


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

    def copy(self) -> "ChangeCursor":
        cursor = ChangeCursor(self.last_id)
        cursor.missing = dict(self.missing)
        return cursor

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
    """Each worker's reader of the change log, woken by its broker (see the module's docstring)."""

    def __init__(self, app, hub: Hub, source: ChangeSource, broker: Broker, *,
                 access_every: float = ACCESS_CHECK_INTERVAL, alive: Callable[[], bool] = lambda: True,
                 has_free_connection: Callable[[], bool] = lambda: True) -> None:
        self.app, self.hub, self.source, self.broker = app, hub, source, broker
        self.has_free_connection = has_free_connection
        self.access_every, self.alive = access_every, alive
        self.cursor: ChangeCursor | None = None
        self.greenlets: list = []
        self.rung = Event()
        # One poll at a time (the feed's greenlet, a committing request's `deliver`): two reading
        # at once could publish change 11 before change 10.
        self.polling = Semaphore()
        self.quiet_until = 0.0  # `deliver` logs no failure before then
        self.listening = False  # the broker's listener is connected (tests and the log wait for it)

    def start(self) -> None:
        """Follow the log from its current end: every change committed after this returns is
        published (what came before is the replay's, read by each stream from the database)."""
        if self.cursor is None:
            with self.app.app_context():
                self.cursor = ChangeCursor(self.source.latest_id())
        if not self.greenlets or any(greenlet.dead for greenlet in self.greenlets):
            self.stop()
            self.greenlets = [gevent.spawn(self._run)]
            if self.broker.listens and monkey.is_module_patched("socket"):
                # A gevent worker's: the listener's socket waits cooperatively. Elsewhere (the
                # test client, `flask run`) it would block its thread: the feed polls instead.
                self.greenlets.append(gevent.spawn(self._listen))

    def stop(self) -> None:
        for greenlet in self.greenlets:
            greenlet.kill(block=False)
        self.greenlets = []
        self.listening = False

    def ring(self, tablo_id: int | None = None) -> None:
        """Something changed (in that tablo): poll now, if anyone here listens to it."""
        if tablo_id is None or tablo_id in self.hub.by_tablo:
            self.rung.set()

    @property
    def delivers_inline(self) -> bool:
        """Whether a committing request may poll in its own greenlet: in a gevent worker whose
        feed runs (elsewhere the request is a thread of its own, and the feed is only rung)."""
        return bool(self.greenlets) and monkey.is_module_patched("socket")

    def deliver(self, tablo_ids) -> None:
        """A request of this worker committed changes to these tablos (and gave its connection
        back): poll now, in its greenlet, before it goes on to build its answer, so that its own
        worker's streams do not wait for the feed's greenlet, then for the request's rendering, at
        every query of the poll. Only if someone here listens to one of them, and never waiting:
        when a poll is under way already, or the pool has no connection free, the feed is rung
        instead (it polls again as soon as it can), so a burst of posts does not queue up here."""
        if not any(tablo_id in self.hub.by_tablo for tablo_id in tablo_ids):
            return
        if not self.has_free_connection() or not self.polling.acquire(blocking=False):
            self.rung.set()
            return
        try:
            self._poll()
        except Exception as error:  # the answer to the request stands (it is committed); the feed retries
            if time.monotonic() >= self.quiet_until:  # once per outage, not once per post
                self.quiet_until = time.monotonic() + DELIVER_QUIET
                log.warning("realtime: a request could not deliver its change (%s); the feed will try again", error)
            self.rung.set()
        finally:
            self.polling.release()

    def _run(self) -> None:
        next_poll = next_check = time.monotonic()
        while True:
            self.rung.wait(timeout=ALIVE_CHECK_INTERVAL)
            if not self.alive():
                # The worker is shutting down: streams end now, not at graceful_timeout; the
                # browsers reconnect (to another worker) with Last-Event-ID.
                self.hub.close_all()
                return
            try:
                if self.rung.is_set() or time.monotonic() >= next_poll:
                    self.rung.clear()
                    self.poll()
                    next_poll = time.monotonic() + self.broker.interval
                if time.monotonic() >= next_check:
                    self.check_access()
                    next_check = time.monotonic() + self.access_every
            except Exception:  # a database outage delays delivery; the next poll resumes
                log.exception("realtime: the change feed could not read the database")
                gevent.sleep(min(5.0, self.broker.interval * 10))

    def _listen(self) -> None:
        """The broker's listener, reconnected after each failure (a pause growing to MAX_BACKOFF)."""
        pause = 0.5

        def ready() -> None:
            nonlocal pause
            pause, self.listening = 0.5, True
            self.broker.back()
            self.rung.set()  # what was committed while it was away

        while True:
            try:
                self.broker.listen(self.ring, ready)
            except Exception as error:
                log.warning("realtime: lost the %s broker (%s); the feed polls every %.2g s until it is back",
                            self.broker.name, error, self.broker.interval)
            self.listening = False
            gevent.sleep(pause)
            pause = min(MAX_BACKOFF, pause * 2)

    def poll(self) -> int:
        """Read the changes committed since the last poll and publish those of tablos someone
        here listens to; the number published."""
        with self.polling:
            return self._poll()

    def _poll(self) -> int:
        # One context, so one database session: the log, the readers' access and the messages
        # are read on one connection, in one short read that ends before anything is sent. A
        # context of its own even inside a request (`deliver`), whose session has just committed;
        # a request context for the fragments' URLs and words.
        with self.app.app_context(), self.app.test_request_context("/"):
            changes = self.source.after(self.cursor.last_id, sorted(self.cursor.missing), BATCH)
            if not changes:
                return 0
            before = self.cursor.copy()
            fresh = set(self.cursor.advance((change.id for change in changes), time.monotonic()))
            listened = self.hub.tablo_ids()
            wanted = [change for change in changes if change.id in fresh and change.tablo_id in listened]
            if not wanted:
                return 0
            try:
                # Access is checked again before anything is sent, not only every
                # ACCESS_CHECK_INTERVAL: a message written right after a member's removal (or
                # sign-out) must not reach them.
                self._close_refused(self.hub.subscribers({change.tablo_id for change in wanted}))
                publications = self.source.publications(wanted)
            except BaseException:
                self.cursor = before  # read again by the next poll, not lost
                raise
            for publication in publications:
                self.hub.publish(publication)
            return len(publications)

    def check_access(self, tablo_ids=None) -> int:
        """Close the streams (of `tablo_ids`, or all) whose reader may no longer read them; how many."""
        subscribers = self.hub.subscribers(tablo_ids)
        if not subscribers:
            return 0
        with self.app.app_context():
            return self._close_refused(subscribers)

    def _close_refused(self, subscribers) -> int:
        if not subscribers:
            return 0
        refused = self.source.refused(subscribers)
        for subscriber in refused:
            self.hub.close(subscriber, "access")
        return len(refused)

