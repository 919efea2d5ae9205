"""The hub: one per worker process, it hands each publication to the streams of its tablo.

Greenlet-based (gevent): a stream is a greenlet waiting on its subscriber's queue; publishing
never waits. Each queue is bounded (QUEUE_SIZE events): a subscriber whose queue is full, a
client too slow to read what it is sent, is closed rather than allowed to slow the others or
grow the worker's memory. Its browser reconnects with `Last-Event-ID` and the database replays
what it missed (xtablo/blueprints/chat/stream.py).

What a publication carries is rendered, and encoded to the bytes written on the wire, once per
*variant* of reader (language and time zone: the fragment's words and clock), whatever the
number of subscribers: one tablo's readers share one or two variants, so a message is rendered
and encoded once or twice, not once per stream.
"""

from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from gevent.queue import Empty, Full, Queue

from xtablo.realtime import sse

QUEUE_SIZE = 64
# Streams one session may hold on a worker: a person keeps a few chat tabs open, a browser opens
# six connections to a site over HTTP/1.1 (more over HTTP/2, through a proxy); past that it is a
# script, and the next stream is refused (TooManyStreams, a 429) rather than one of the person's
# tabs closed (which would reconnect, and close another, for ever).
MAX_PER_SESSION = 50
CLOSE = object()  # what a closed subscriber's stream reads last


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
    _wire: dict = field(default_factory=dict)

    def wire_for(self, variant: Hashable) -> bytes:
        """The event as written on the wire for this variant, rendered the first time it is asked."""
        if variant not in self._wire:
            self._wire[variant] = sse.event(self.id, self.name, self.render(variant)).encode()
        return self._wire[variant]


@dataclass(eq=False)
class Subscriber:
    """One open stream: who it is for (to re-check access) and its bounded queue of events."""

    tablo_id: int
    user_id: int
    session_id: int
    variant: Hashable
    queue_size: int = QUEUE_SIZE
    closed_because: str | None = None
    # Ends the connection at once, for a stream closed while its greenlet is stuck writing to a
    # client that does not read (set by Realtime.stream).
    abort: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        # One more slot than events, kept for CLOSE: closing never finds the queue full.
        self.queue: Queue = Queue(self.queue_size + 1)

    def offer(self, event_id: int, wire: bytes) -> bool:
        """Queue an event without waiting; a full queue closes the subscriber (False)."""
        if self.closed_because is not None:
            return False
        if self.queue.qsize() >= self.queue_size:
            self.close("slow")
            return False
        self.queue.put_nowait((event_id, wire))
        return True

    def close(self, reason: str) -> None:
        """End the stream: what is queued is dropped (the browser resumes from the database)."""
        if self.closed_because is not None:
            return
        self.closed_because = reason
        if reason == "slow" and self.abort is not None:
            self.abort()
        while True:
            try:
                self.queue.get_nowait()
            except Empty:
                break
        try:
            self.queue.put_nowait(CLOSE)
        except Full:  # cannot happen: the queue was just emptied
            pass

    def next(self, timeout: float):
        """The next (event id, its bytes on the wire), CLOSE, or None when nothing came within `timeout`."""
        try:
            return self.queue.get(timeout=timeout)
        except Empty:
            return None


class Hub:
    def __init__(self, queue_size: int = QUEUE_SIZE, per_session: int = MAX_PER_SESSION) -> None:
        self.queue_size, self.per_session = queue_size, per_session
        self.by_tablo: dict[int, set[Subscriber]] = defaultdict(set)
        self.by_session: dict[int, list[Subscriber]] = defaultdict(list)

    def subscribe(self, tablo_id: int, *, user_id: int, session_id: int, variant: Hashable) -> Subscriber:
        if len(self.by_session.get(session_id, ())) >= self.per_session:
            raise TooManyStreams(session_id)
        subscriber = Subscriber(tablo_id, user_id, session_id, variant, self.queue_size)
        self.by_tablo[tablo_id].add(subscriber)
        self.by_session[session_id].append(subscriber)
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
        ones are closed and leave the hub."""
        reached = 0
        for subscriber in list(self.by_tablo.get(publication.tablo_id, ())):
            if subscriber.offer(publication.id, publication.wire_for(subscriber.variant)):
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
