"""The hub: one per worker process, it hands each publication to the streams of its tablo.

Greenlet-based (gevent): a stream is a greenlet waiting on its subscriber's queue; publishing
never waits. Each queue is bounded (QUEUE_SIZE events): a subscriber whose queue is full, a
client too slow to read what it is sent, is closed rather than allowed to slow the others or
grow the worker's memory. Its browser reconnects with `Last-Event-ID` and the database replays
what it missed (xtablo/blueprints/chat/stream.py).

A waiting stream allocates nothing. gevent's `Queue.get(timeout=...)` makes a Waiter, a Timeout,
its libev timer and bound methods for every wait; with thousands of streams each publish left
tens of thousands of such objects alive (they wait for the next event), the garbage collector
found them all in its young generations, and every few messages ran a full collection of the
worker's heap: 150-180 ms at 5,000 streams, in the middle of a fanout (bench/RESULTS.md). A
subscriber's queue is a plain deque; its greenlet parks itself on the event loop, and a
callback of the loop wakes the streams a publish reached, 5 ms at a time (`Wakeups`); the
queued item, (event id, bytes), is one object per variant, shared by the streams. One greenlet
per hub (`Hub._beat`) counts quiet time and queues a heartbeat (BEAT) to the streams that had
nothing for HEARTBEAT seconds.

What a publication carries is rendered, and encoded to the bytes written on the wire, once per
*variant* of reader (language and time zone: the fragment's words and clock), whatever the
number of subscribers: one tablo's readers share one or two variants, so a message is rendered
and encoded once or twice, not once per stream.
"""

import logging
from collections import defaultdict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from sys import getswitchinterval
from time import perf_counter

import gevent
from gevent import get_hub, getcurrent

from xtablo.realtime import sse

log = logging.getLogger(__name__)

QUEUE_SIZE = 64
HEARTBEAT = 15.0  # seconds without an event before a stream writes a comment (keeps proxies from closing it)
BEAT_EVERY = 1.0  # seconds between two counts of the streams' quiet time, at most
WAKE_BATCH = 50  # streams woken between two looks at the clock (Wakeups.run)
OTHER_THREAD_POLL = 0.1  # seconds between two looks at its queue, for a stream of another thread
# Streams one session may hold on a worker: a person keeps a few chat tabs open, a browser opens
# six connections to a site over HTTP/1.1 (more over HTTP/2, through a proxy); past that it is a
# script, and the next stream is refused (TooManyStreams, a 429) rather than one of the person's
# tabs closed (which would reconnect, and close another, for ever).
MAX_PER_SESSION = 50
CLOSE = object()  # what a closed subscriber's stream reads last
BEAT = object()  # what a stream reads when nothing came for its heartbeat


class TooManyStreams(Exception):
    """The session holds MAX_PER_SESSION streams on this worker already."""


@dataclass(eq=False)
class Publication:
    """A change of a tablo: its event id, its SSE event name, and how to render its data for a
    variant of reader (called at most once per variant)."""

    tablo_id: int
    id: int
    name: str
    render: Callable[[Hashable], str]
    _items: dict = field(default_factory=dict)

    def item_for(self, variant: Hashable) -> tuple[int, bytes] | None:
        """(event id, the event as written on the wire) for this variant, rendered the first time
        it is asked, then the same object for every stream of the variant; None if its rendering
        failed (logged once)."""
        if variant not in self._items:
            try:
                self._items[variant] = (self.id, sse.event(self.id, self.name, self.render(variant)).encode())
            except Exception:
                log.exception("realtime: change %s of tablo %s could not be rendered", self.id, self.tablo_id)
                self._items[variant] = None
        return self._items[variant]


class Wakeups:
    """The streams to wake, all woken by one callback of the event loop of the thread that
    publishes (a gevent worker has one thread; its streams are greenlets of it)."""

    def __init__(self) -> None:
        self.hub = get_hub()  # the publishing thread's: streams of other threads poll (Subscriber.next)
        self.ready: list[Subscriber] = []
        self.scheduled = False
        self._later = None  # a timer of the loop, for the rest of a long turn (made once)

    def add(self, subscriber: "Subscriber") -> None:
        self.ready.append(subscriber)
        if not self.scheduled:
            self.scheduled = True
            self.hub.loop.run_callback(self.run)

    def run(self) -> None:
        """In the event loop: each parked greenlet goes on until it waits again. A turn lasts
        one switch interval at most (gevent's, 5 ms): the rest waits for a timer, which the loop
        runs after it has looked at its sockets, so a fanout to thousands of streams does not
        keep the worker's other connections (requests, database replies) waiting for its end."""
        ready, self.ready, self.scheduled = self.ready, [], False
        until = perf_counter() + getswitchinterval()
        for done, subscriber in enumerate(ready, 1):
            try:
                _wake(subscriber)
            except Exception:  # a bare greenlet that died of it: the others are still woken
                log.exception("realtime: a stream's greenlet failed")
            if done % WAKE_BATCH == 0 and perf_counter() > until and done < len(ready):
                self.ready[:0] = ready[done:]  # ahead of those added meanwhile
                if not self.scheduled:
                    self.scheduled = True
                    if self._later is None:
                        self._later = self.hub.loop.timer(0)
                    self._later.start(self.run)
                return


def _wake(subscriber: "Subscriber") -> None:
    """In the event loop: the subscriber's greenlet goes on, if it still waits."""
    subscriber.waking = False
    parked, subscriber.parked = subscriber.parked, None
    if parked is not None:
        parked.switch()


@dataclass(eq=False)
class Subscriber:
    """One open stream: who it is for (to re-check access) and its bounded queue of events."""

    tablo_id: int
    user_id: int
    session_id: int
    variant: Hashable
    queue_size: int = QUEUE_SIZE
    heartbeat: float = HEARTBEAT
    closed_because: str | None = None
    # Ends the connection at once, for a stream closed while its greenlet is stuck writing to a
    # client that does not read (set by Realtime.stream).
    abort: Callable[[], None] | None = None

    wakeups: Wakeups = field(default_factory=Wakeups)

    def __post_init__(self) -> None:
        self.items: deque = deque()  # (event id, bytes), BEAT or CLOSE
        self.quiet = 0.0  # seconds since the last item, as Hub.beat counts them
        self.parked = None  # the greenlet waiting in next(), if one does
        self.waking = False  # its wake-up is scheduled

    def offer(self, item) -> bool:
        """Queue an item, (event id, bytes) or BEAT, without waiting; a full queue closes the
        subscriber (False)."""
        if self.closed_because is not None:
            return False
        if len(self.items) >= self.queue_size:
            self.close("slow")
            return False
        self._put(item)
        return True

    def _put(self, item) -> None:
        self.items.append(item)
        self.quiet = 0.0
        if self.parked is not None and not self.waking:
            self.waking = True
            self.wakeups.add(self)

    def close(self, reason: str) -> None:
        """End the stream: what is queued is dropped (the browser resumes from the database)."""
        if self.closed_because is not None:
            return
        self.closed_because = reason
        if reason == "slow" and self.abort is not None:
            self.abort()
        self.items.clear()
        self._put(CLOSE)  # past the bound: closing never finds the queue full

    def next(self, *, wait: bool = True):
        """The next (event id, bytes), BEAT or CLOSE; waits for one (or None at once, without `wait`)."""
        while not self.items:
            if not wait:
                return None
            if get_hub() is not self.wakeups.hub:
                # A stream served by a thread of its own (`flask run`): a greenlet cannot be
                # woken from another thread, and nothing else keeps this thread's loop waiting.
                gevent.sleep(OTHER_THREAD_POLL)
                continue
            self.parked = getcurrent()
            try:
                get_hub().switch()  # until Wakeups.run (or an exception thrown into the greenlet)
            finally:
                self.parked = None
        return self.items.popleft()


class Hub:
    def __init__(self, queue_size: int = QUEUE_SIZE, per_session: int = MAX_PER_SESSION) -> None:
        self.queue_size, self.per_session = queue_size, per_session
        self.by_tablo: dict[int, set[Subscriber]] = defaultdict(set)
        self.by_session: dict[int, list[Subscriber]] = defaultdict(list)
        self.beat_every = BEAT_EVERY
        self.wakeups = Wakeups()
        self._beating = None  # the greenlet of _beat, while there are streams

    def subscribe(self, tablo_id: int, *, user_id: int, session_id: int, variant: Hashable,
                  heartbeat: float = HEARTBEAT) -> Subscriber:
        if len(self.by_session.get(session_id, ())) >= self.per_session:
            raise TooManyStreams(session_id)
        subscriber = Subscriber(tablo_id, user_id, session_id, variant, self.queue_size, heartbeat, wakeups=self.wakeups)
        self.by_tablo[tablo_id].add(subscriber)
        self.by_session[session_id].append(subscriber)
        self.beat_every = min(self.beat_every, heartbeat / 2)
        if self._beating is None or self._beating.dead:
            self._beating = gevent.spawn(self._beat)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subscribers = self.by_tablo.get(subscriber.tablo_id)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self.by_tablo[subscriber.tablo_id]
        of_session = self.by_session.get(subscriber.session_id)
        if of_session is not None and subscriber in of_session:
            of_session.remove(subscriber)
            if not of_session:
                del self.by_session[subscriber.session_id]

    def tablo_ids(self) -> set[int]:
        """The tablos someone on this worker listens to."""
        return set(self.by_tablo)

    def subscribers(self, tablo_ids=None) -> list[Subscriber]:
        """Every stream of the worker, or those of `tablo_ids`."""
        groups = self.by_tablo.values() if tablo_ids is None else (self.by_tablo.get(t, ()) for t in tablo_ids)
        return [subscriber for subscribers in groups for subscriber in subscribers]

    def publish(self, publication: Publication) -> int:
        """Hand the publication to every stream of its tablo; the number it reached. The slow
        ones are closed and leave the hub, and so do those it could not be rendered for (a bug):
        they resume from the database, and the other streams, and the publications after this
        one, lose nothing."""
        reached = 0
        for subscriber in list(self.by_tablo.get(publication.tablo_id, ())):
            item = publication.item_for(subscriber.variant)
            if item is None:
                self.close(subscriber, "error")
            elif subscriber.offer(item):
                reached += 1
            else:
                self.unsubscribe(subscriber)
        return reached

    def close(self, subscriber: Subscriber, reason: str) -> None:
        subscriber.close(reason)
        self.unsubscribe(subscriber)

    def close_all(self, reason: str = "shutdown") -> None:
        for subscriber in self.subscribers():
            self.close(subscriber, reason)

    def beat(self, seconds: float) -> None:
        """`seconds` went by: a heartbeat (BEAT) to each stream quiet for its heartbeat."""
        for subscriber in self.subscribers():
            subscriber.quiet += seconds
            if subscriber.quiet >= subscriber.heartbeat and not subscriber.offer(BEAT):
                self.unsubscribe(subscriber)

    def _beat(self) -> None:
        """Counts the streams' quiet time while there are streams (subscribe starts it again)."""
        while self.by_tablo:
            gevent.sleep(self.beat_every)
            self.beat(self.beat_every)
